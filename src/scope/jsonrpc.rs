//! Reading what a JSON-RPC body asks for: the method and the tool, prompt or resource it names.
//!
//! One pass of `serde_json` over the bytes, borrowing strings where they need no unescaping, and
//! skipping everything else (`arguments` are never built into values). The parse is deliberately
//! as tolerant as the most lenient server behind the guard could be, because whatever a server
//! would execute must have been authorized:
//! - a value after the first one (`{…} garbage`) is ignored: some decoders stop after one value;
//! - a non-object element of a batch is no call, the other elements still count;
//! - a duplicated `method`, `params`, `name` or `uri` key makes the message ambiguous (servers
//!   disagree on which one wins), and the guard refuses it.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// One JSON-RPC message of a body, as far as authorization cares.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Call<'a> {
    /// `method`, when it is a string (requests and notifications have one, responses none).
    pub(crate) method: Option<Cow<'a, str>>,
    /// `params.name`, when it is a string.
    pub(crate) name: Option<Cow<'a, str>>,
    /// `params.uri`, when it is a string.
    pub(crate) uri: Option<Cow<'a, str>>,
    /// A key that matters appears twice.
    pub(crate) ambiguous: bool,
}

/// What a request body is.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum JsonRpcBody<'a> {
    /// Not a JSON object or array: the inner service answers it.
    NotJsonRpc,
    /// One message.
    Single(Call<'a>),
    /// A batch (JSON-RPC 2.0 array; MCP 2025-03-26).
    Batch(Vec<Call<'a>>),
}

impl JsonRpcBody<'_> {
    /// The messages of the body (none for a non-JSON-RPC body).
    pub(crate) fn calls(&self) -> &[Call<'_>] {
        match self {
            Self::NotJsonRpc => &[],
            Self::Single(call) => std::slice::from_ref(call),
            Self::Batch(calls) => calls,
        }
    }
}

/// Reads the JSON-RPC message or batch in `body`.
pub(crate) fn inspect(body: &[u8]) -> JsonRpcBody<'_> {
    // A UTF-8 byte order mark is skipped by some servers' decoders: skip it too.
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let Some(first) = body.iter().find(|b| !b.is_ascii_whitespace()) else {
        return JsonRpcBody::NotJsonRpc;
    };
    let mut de = serde_json::Deserializer::from_slice(body);
    // No `de.end()`: trailing bytes do not hide the first value from the check.
    match first {
        b'{' => Call::deserialize(&mut de).map_or(JsonRpcBody::NotJsonRpc, JsonRpcBody::Single),
        b'[' => {
            Vec::<Call>::deserialize(&mut de).map_or(JsonRpcBody::NotJsonRpc, JsonRpcBody::Batch)
        }
        _ => JsonRpcBody::NotJsonRpc,
    }
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

/// `params`: `name` and `uri` of an object; nothing from any other value.
#[derive(Default)]
struct Params<'a> {
    name: Option<Cow<'a, str>>,
    uri: Option<Cow<'a, str>>,
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
                while let Some(key) = map.next_key::<Key>()? {
                    match key {
                        Key::Name => {
                            let value = map.next_value::<MaybeStr>()?.0;
                            set_once(
                                &mut params.name,
                                &mut seen_name,
                                &mut params.ambiguous,
                                value,
                            );
                        }
                        Key::Uri => {
                            let value = map.next_value::<MaybeStr>()?.0;
                            set_once(&mut params.uri, &mut seen_uri, &mut params.ambiguous, value);
                        }
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(params)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                IgnoredAny.visit_seq(seq).map(|_| Params::default())
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(Params::default())
            }
            fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
                Ok(Params::default())
            }
            fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
                Ok(Params::default())
            }
            fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
                Ok(Params::default())
            }
            fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
                Ok(Params::default())
            }
            fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
                Ok(Params::default())
            }
        }
        deserializer.deserialize_any(ParamsVisitor)
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn single(body: &str) -> Call<'_> {
        match inspect(body.as_bytes()) {
            JsonRpcBody::Single(call) => call,
            other => panic!("expected one message, got {other:?}"),
        }
    }

    #[test]
    fn tools_call_name_is_borrowed_from_the_body() {
        let call = single(
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"arguments":{"name":"x"},"name":"search"}}"#,
        );
        assert_eq!(call.method.as_deref(), Some("tools/call"));
        assert!(matches!(call.name, Some(Cow::Borrowed("search"))));
        assert!(!call.ambiguous);
    }

    #[test]
    fn escaped_keys_and_values_are_unescaped() {
        let call = single(r#"{"met\u0068od":"tools/call","params":{"n\u0061me":"se\u0061rch"}}"#);
        assert_eq!(call.method.as_deref(), Some("tools/call"));
        assert_eq!(call.name.as_deref(), Some("search"));
    }

    #[test]
    fn duplicated_keys_make_the_message_ambiguous() {
        assert!(single(r#"{"method":"tools/call","params":{"name":"a","name":"b"}}"#).ambiguous);
        assert!(single(r#"{"method":"tools/list","method":"tools/call"}"#).ambiguous);
        assert!(single(r#"{"method":"x","params":{},"params":{"name":"b"}}"#).ambiguous);
    }

    #[test]
    fn batch_keeps_every_object_and_skips_other_elements() {
        let body = br#"[{"method":"tools/call","params":{"name":"a"}}, 5, {"method":"resources/read","params":{"uri":"file:///x"}}]"#;
        let JsonRpcBody::Batch(calls) = inspect(body) else {
            panic!("expected a batch");
        };
        assert_eq!(calls.len(), 3);
        assert_eq!(calls[0].name.as_deref(), Some("a"));
        assert_eq!(calls[1], Call::default());
        assert_eq!(calls[2].uri.as_deref(), Some("file:///x"));
    }

    #[test]
    fn trailing_bytes_do_not_hide_the_first_message() {
        let call = single(r#"{"method":"tools/call","params":{"name":"a"}} {"method":"x"}"#);
        assert_eq!(call.name.as_deref(), Some("a"));
    }

    #[test]
    fn non_json_rpc_bodies_are_recognised() {
        assert_eq!(inspect(b"hello"), JsonRpcBody::NotJsonRpc);
        assert_eq!(inspect(b""), JsonRpcBody::NotJsonRpc);
        assert_eq!(inspect(b"{\"method\": "), JsonRpcBody::NotJsonRpc);
        assert_eq!(inspect(b"42"), JsonRpcBody::NotJsonRpc);
    }

    #[test]
    fn params_of_any_shape_are_tolerated() {
        let call = single(r#"{"method":"tools/call","params":[1,2],"id":{"a":1}}"#);
        assert_eq!(call.method.as_deref(), Some("tools/call"));
        assert_eq!(call.name, None);
        let call = single(r#"{"method":7,"params":{"name":{"x":1},"uri":null}}"#);
        assert_eq!((call.method, call.name, call.uri), (None, None, None));
    }

    #[test]
    fn byte_order_mark_is_skipped() {
        let call = single("\u{feff}{\"method\":\"tools/list\"}");
        assert_eq!(call.method.as_deref(), Some("tools/list"));
    }
}
