//! The `params` of a JSON-RPC message, as far as authorization cares: `name` and `uri` (tools,
//! prompts, resources, skills), `ref.name` / `ref.uri` (`completion/complete`), and
//! `notifications.resourceSubscriptions` (`subscriptions/listen`, MCP 2026-07-28). Anything
//! else is skipped unbuilt; a value of another shape than expected names nothing (the server
//! refuses such params).

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::scope::jsonrpc::{Key, MaybeStr, set_once};

/// The visitor methods for JSON scalars and arrays: each yields `Default::default()`.
macro_rules! other_shapes_name_nothing {
    () => {
        fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
            IgnoredAny.visit_seq(seq).map(|_| Default::default())
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(Default::default())
        }
        fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
            Ok(Default::default())
        }
        fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
            Ok(Default::default())
        }
        fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
            Ok(Default::default())
        }
        fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
            Ok(Default::default())
        }
        fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
            Ok(Default::default())
        }
    };
}

/// `params` of one message.
#[derive(Default)]
pub(super) struct Params<'a> {
    pub(super) name: Option<Cow<'a, str>>,
    pub(super) uri: Option<Cow<'a, str>>,
    pub(super) ref_name: Option<Cow<'a, str>>,
    pub(super) ref_uri: Option<Cow<'a, str>>,
    pub(super) subscriptions: Vec<Cow<'a, str>>,
    pub(super) ambiguous: bool,
}

impl<'de> Deserialize<'de> for Params<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ParamsVisitor;
        impl<'de> Visitor<'de> for ParamsVisitor {
            type Value = Params<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("JSON-RPC params")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut params = Params::default();
                let (mut seen_name, mut seen_uri) = (false, false);
                let (mut seen_ref, mut seen_notifications) = (false, false);
                while let Some(key) = map.next_key::<Key>()? {
                    match key {
                        Key::Name => {
                            let value = map.next_value::<MaybeStr>()?.0;
                            let ambiguous = &mut params.ambiguous;
                            set_once(&mut params.name, &mut seen_name, ambiguous, value);
                        }
                        Key::Uri => {
                            let value = map.next_value::<MaybeStr>()?.0;
                            let ambiguous = &mut params.ambiguous;
                            set_once(&mut params.uri, &mut seen_uri, ambiguous, value);
                        }
                        Key::Ref => {
                            params.ambiguous |= std::mem::replace(&mut seen_ref, true);
                            let reference = map.next_value::<Reference>()?;
                            params.ref_name = reference.name;
                            params.ref_uri = reference.uri;
                            params.ambiguous |= reference.ambiguous;
                        }
                        Key::Notifications => {
                            params.ambiguous |= std::mem::replace(&mut seen_notifications, true);
                            let filter = map.next_value::<Filter>()?;
                            params.subscriptions = filter.subscriptions;
                            params.ambiguous |= filter.ambiguous;
                        }
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(params)
            }
            other_shapes_name_nothing!();
        }
        deserializer.deserialize_any(ParamsVisitor)
    }
}

/// `params.ref` of `completion/complete`: `{"type": "ref/prompt", "name"}` or
/// `{"type": "ref/resource", "uri"}`. Both members are kept whatever `type` says: the guard
/// checks every name the server might resolve.
#[derive(Default)]
struct Reference<'a> {
    name: Option<Cow<'a, str>>,
    uri: Option<Cow<'a, str>>,
    ambiguous: bool,
}

impl<'de> Deserialize<'de> for Reference<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ReferenceVisitor;
        impl<'de> Visitor<'de> for ReferenceVisitor {
            type Value = Reference<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a completion reference")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut reference = Reference::default();
                let (mut seen_name, mut seen_uri) = (false, false);
                while let Some(key) = map.next_key::<Key>()? {
                    match key {
                        Key::Name => {
                            let value = map.next_value::<MaybeStr>()?.0;
                            let ambiguous = &mut reference.ambiguous;
                            set_once(&mut reference.name, &mut seen_name, ambiguous, value);
                        }
                        Key::Uri => {
                            let value = map.next_value::<MaybeStr>()?.0;
                            let ambiguous = &mut reference.ambiguous;
                            set_once(&mut reference.uri, &mut seen_uri, ambiguous, value);
                        }
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(reference)
            }
            other_shapes_name_nothing!();
        }
        deserializer.deserialize_any(ReferenceVisitor)
    }
}

/// `params.notifications` of `subscriptions/listen`: the resource URIs of
/// `resourceSubscriptions` (string elements; others name nothing).
#[derive(Default)]
struct Filter<'a> {
    subscriptions: Vec<Cow<'a, str>>,
    ambiguous: bool,
}

impl<'de> Deserialize<'de> for Filter<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FilterVisitor;
        impl<'de> Visitor<'de> for FilterVisitor {
            type Value = Filter<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a subscription filter")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut filter = Filter::default();
                let mut seen = false;
                while let Some(key) = map.next_key::<Key>()? {
                    match key {
                        Key::ResourceSubscriptions => {
                            filter.ambiguous |= std::mem::replace(&mut seen, true);
                            filter.subscriptions = map.next_value::<UriList>()?.0;
                        }
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(filter)
            }
            other_shapes_name_nothing!();
        }
        deserializer.deserialize_any(FilterVisitor)
    }
}

/// The strings of a JSON array; nothing from any other value.
#[derive(Default)]
struct UriList<'a>(Vec<Cow<'a, str>>);

impl<'de> Deserialize<'de> for UriList<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ListVisitor;
        impl<'de> Visitor<'de> for ListVisitor {
            type Value = UriList<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of resource URIs")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut uris = Vec::new();
                while let Some(element) = seq.next_element::<MaybeStr>()? {
                    uris.extend(element.0);
                }
                Ok(UriList(uris))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                IgnoredAny.visit_map(map).map(|_| UriList::default())
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(UriList::default())
            }
            fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
                Ok(UriList::default())
            }
            fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
                Ok(UriList::default())
            }
            fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
                Ok(UriList::default())
            }
            fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
                Ok(UriList::default())
            }
            fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
                Ok(UriList::default())
            }
        }
        deserializer.deserialize_any(ListVisitor)
    }
}
