//! The guard's reading of a body as it was before [`json_read`](super::json_read): `serde_json`
//! visitors. Kept for tests only, as the oracle of the differential test in `jsonrpc`: the
//! hand-written reader must read every body exactly as this did.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::scope::jsonrpc::{Call, JsonRpcBody, Unreadable};

/// Reads the JSON-RPC message or batch in `body`.
pub(super) fn inspect(body: &[u8]) -> Result<JsonRpcBody<'_>, Unreadable> {
    // A UTF-8 byte order mark is skipped by some servers' decoders (WHATWG `TextDecoder`, so
    // `Request.json()` in the TypeScript SDK): skip it too.
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    // RFC 8259 whitespace only: a form feed is not JSON whitespace.
    let Some(first) = body
        .iter()
        .find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
    else {
        return Err(Unreadable::Empty);
    };
    // RFC 8259 §8.1: JSON is UTF-8. Checked once for the whole body, so invalid bytes inside
    // strings the parse skips are refused too (and the parse then needs no UTF-8 checks).
    let text = std::str::from_utf8(body).map_err(|_| Unreadable::Malformed)?;
    let mut de = serde_json::Deserializer::from_str(text);
    let parsed = match first {
        b'{' => Call::deserialize(&mut de).map(JsonRpcBody::Single),
        b'[' => Vec::<Call>::deserialize(&mut de).map(JsonRpcBody::Batch),
        _ => IgnoredAny::deserialize(&mut de).map(|_| JsonRpcBody::NotJsonRpc),
    }
    .map_err(|_| Unreadable::Malformed)?;
    de.end().map_err(|_| Unreadable::Trailing)?;
    Ok(parsed)
}

/// A JSON string, borrowed when it has no escapes; `None` for any other JSON value.
struct MaybeStr<'a>(Option<Cow<'a, str>>);

impl<'de> Deserialize<'de> for MaybeStr<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct StrVisitor;
        impl<'de> Visitor<'de> for StrVisitor {
            type Value = MaybeStr<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(MaybeStr(Some(Cow::Borrowed(v))))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(MaybeStr(Some(Cow::Owned(v.to_owned()))))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(MaybeStr(Some(Cow::Owned(v))))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
                Ok(MaybeStr(None))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
                Ok(MaybeStr(None))
            }
            fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
                Ok(MaybeStr(None))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
                Ok(MaybeStr(None))
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(MaybeStr(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                IgnoredAny.visit_seq(seq).map(|_| MaybeStr(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                IgnoredAny.visit_map(map).map(|_| MaybeStr(None))
            }
        }
        deserializer.deserialize_any(StrVisitor)
    }
}

/// The keys that matter; compared after unescaping (`"met\u0068od"` is `method`).
enum Key {
    Method,
    Params,
    Name,
    Uri,
    Ref,
    Notifications,
    ResourceSubscriptions,
    Other,
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object key")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key, E> {
                Ok(match v {
                    "method" => Key::Method,
                    "params" => Key::Params,
                    "name" => Key::Name,
                    "uri" => Key::Uri,
                    "ref" => Key::Ref,
                    "notifications" => Key::Notifications,
                    "resourceSubscriptions" => Key::ResourceSubscriptions,
                    _ => Key::Other,
                })
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

/// Stores `value` in `slot`, marking a second occurrence as ambiguous.
fn set_once<T>(slot: &mut Option<T>, seen: &mut bool, ambiguous: &mut bool, value: Option<T>) {
    if *seen {
        *ambiguous = true;
    }
    *seen = true;
    *slot = value;
}

impl<'de> Deserialize<'de> for Call<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct CallVisitor;
        impl<'de> Visitor<'de> for CallVisitor {
            type Value = Call<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON-RPC message")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut call = Call::default();
                let (mut seen_method, mut seen_params) = (false, false);
                while let Some(key) = map.next_key::<Key>()? {
                    match key {
                        Key::Method => {
                            let value = map.next_value::<MaybeStr>()?.0;
                            set_once(
                                &mut call.method,
                                &mut seen_method,
                                &mut call.ambiguous,
                                value,
                            );
                        }
                        Key::Params => {
                            if seen_params {
                                call.ambiguous = true;
                            }
                            seen_params = true;
                            let params = map.next_value::<Params>()?;
                            call.name = params.name;
                            call.uri = params.uri;
                            call.ref_name = params.ref_name;
                            call.ref_uri = params.ref_uri;
                            call.subscriptions = params.subscriptions;
                            call.ambiguous |= params.ambiguous;
                        }
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(call)
            }
            // A batch element that is not an object is no call (the server answers it).
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                IgnoredAny.visit_seq(seq).map(|_| Call::default())
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(Call::default())
            }
            fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
                Ok(Call::default())
            }
            fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
                Ok(Call::default())
            }
            fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
                Ok(Call::default())
            }
            fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
                Ok(Call::default())
            }
            fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
                Ok(Call::default())
            }
        }
        deserializer.deserialize_any(CallVisitor)
    }
}

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
struct Params<'a> {
    name: Option<Cow<'a, str>>,
    uri: Option<Cow<'a, str>>,
    ref_name: Option<Cow<'a, str>>,
    ref_uri: Option<Cow<'a, str>>,
    subscriptions: Vec<Cow<'a, str>>,
    ambiguous: bool,
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
