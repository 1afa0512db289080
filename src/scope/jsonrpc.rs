//! Reading what a JSON-RPC body asks for: the method and the tool, prompt or resource(s) it
//! names.
//!
//! One pass of `serde_json` over the bytes, borrowing strings where they need no unescaping, and
//! skipping everything else (`arguments` are never built into values). The guard authorizes
//! exactly what a server could execute, or refuses:
//! - the body must be one RFC 8259 JSON value, with nothing but whitespace after it: what is
//!   not (`NaN`, `Infinity`, comments, a second value, …) is refused, because some servers read
//!   such bodies (Python's JSON readers accept `NaN`; JSON-Lines readers run a second value) and
//!   the guard cannot know which reading the server behind it makes;
//! - numbers in the values it skips (`arguments`, `id`, `_meta`) are only scanned, never
//!   converted, so valid JSON with numbers beyond `f64` there (`1e400`) is read like any other
//!   (where a name is expected, such a number names nothing the server would accept either,
//!   and the body is refused);
//! - a non-object element of a batch is no call, the other elements still count;
//! - a duplicated `method`, `params`, `name`, `uri`, `ref`, `notifications` or
//!   `resourceSubscriptions` key makes the message ambiguous (servers disagree on which one
//!   wins), and the guard refuses it.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::scope::jsonrpc_params::Params;

/// One JSON-RPC message of a body, as far as authorization cares.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Call<'a> {
    /// `method`, when it is a string (requests and notifications have one, responses none).
    pub(crate) method: Option<Cow<'a, str>>,
    /// `params.name`, when it is a string.
    pub(crate) name: Option<Cow<'a, str>>,
    /// `params.uri`, when it is a string.
    pub(crate) uri: Option<Cow<'a, str>>,
    /// `params.ref.name` (`completion/complete` of a prompt's argument).
    pub(crate) ref_name: Option<Cow<'a, str>>,
    /// `params.ref.uri` (`completion/complete` of a resource template's argument).
    pub(crate) ref_uri: Option<Cow<'a, str>>,
    /// `params.notifications.resourceSubscriptions` (`subscriptions/listen`, MCP 2026-07-28).
    pub(crate) subscriptions: Vec<Cow<'a, str>>,
    /// A key that matters appears twice.
    pub(crate) ambiguous: bool,
}

/// What a request body is.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum JsonRpcBody<'a> {
    /// A JSON value that is neither an object nor an array: no call; the server answers it.
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

/// Why a body is not one JSON value the guard can judge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unreadable {
    /// No JSON value at all (empty, or only whitespace).
    Empty,
    /// Not RFC 8259 JSON (including `NaN`, `Infinity`, comments, invalid UTF-8).
    Malformed,
    /// A first value, then more than whitespace.
    Trailing,
}

/// Reads the JSON-RPC message or batch in `body`.
pub(crate) fn inspect(body: &[u8]) -> Result<JsonRpcBody<'_>, Unreadable> {
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
pub(super) struct MaybeStr<'a>(pub(super) Option<Cow<'a, str>>);

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
pub(super) enum Key {
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
pub(super) fn set_once<T>(
    slot: &mut Option<T>,
    seen: &mut bool,
    ambiguous: &mut bool,
    value: Option<T>,
) {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn single(body: &str) -> Call<'_> {
        match inspect(body.as_bytes()) {
            Ok(JsonRpcBody::Single(call)) => call,
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
        assert!(single(r#"{"method":"x","params":{"ref":{"name":"a","name":"b"}}}"#).ambiguous);
        assert!(single(r#"{"method":"x","params":{"ref":{},"ref":{}}}"#).ambiguous);
        assert!(
            single(r#"{"method":"x","params":{"notifications":{"resourceSubscriptions":[],"resourceSubscriptions":["a"]}}}"#)
                .ambiguous
        );
    }

    #[test]
    fn completion_refs_and_resource_subscriptions_are_read() {
        let call = single(
            r#"{"method":"completion/complete","params":{"argument":{"name":"n","value":"v"},"ref":{"type":"ref/prompt","name":"secret"}}}"#,
        );
        assert_eq!(call.ref_name.as_deref(), Some("secret"));
        assert_eq!(call.name, None);
        let call = single(
            r#"{"method":"completion/complete","params":{"ref":{"type":"ref/resource","uri":"file:///{path}"}}}"#,
        );
        assert_eq!(call.ref_uri.as_deref(), Some("file:///{path}"));
        let call = single(
            r#"{"method":"subscriptions/listen","params":{"notifications":{"toolsListChanged":true,"resourceSubscriptions":["file:///a",7,"file:///b"]}}}"#,
        );
        assert_eq!(call.subscriptions, ["file:///a", "file:///b"]);
    }

    #[test]
    fn batch_keeps_every_object_and_skips_other_elements() {
        let body = br#"[{"method":"tools/call","params":{"name":"a"}}, 5, {"method":"resources/read","params":{"uri":"file:///x"}}]"#;
        let Ok(JsonRpcBody::Batch(calls)) = inspect(body) else {
            panic!("expected a batch");
        };
        assert_eq!(calls.len(), 3);
        assert_eq!(calls[0].name.as_deref(), Some("a"));
        assert_eq!(calls[1], Call::default());
        assert_eq!(calls[2].uri.as_deref(), Some("file:///x"));
    }

    #[test]
    fn anything_after_the_first_value_is_trailing_data() {
        for body in [
            r#"{"method":"tools/call","params":{"name":"a"}} {"method":"x"}"#,
            r#"{"method":"tools/call"}}"#,
            "[] x",
            "{}\u{c}",
        ] {
            assert_eq!(
                inspect(body.as_bytes()),
                Err(Unreadable::Trailing),
                "{body}"
            );
        }
        assert!(inspect(b"{\"method\":\"x\"} \r\n\t ").is_ok());
    }

    #[test]
    fn json_extensions_are_malformed_and_big_numbers_are_not() {
        for body in [
            r#"{"method":"tools/call","params":{"name":"a","arguments":{"n":NaN}}}"#,
            r#"{"method":"tools/call","params":{"arguments":{"n":Infinity}}}"#,
            r#"{"method":"tools/call","params":{"arguments":{"n":-Infinity}}}"#,
            r#"{"method":"tools/call",}"#,
            r#"{'method':'tools/call'}"#,
            r#"{method:"tools/call"}"#,
            "{\"method\":\"tools/call\" /* c */}",
            r#"{"n":0x10}"#,
            r#"{"n":+1}"#,
            r#"{"n":.5}"#,
            "{\"method\": tools/call",
            "hello",
        ] {
            assert_eq!(
                inspect(body.as_bytes()),
                Err(Unreadable::Malformed),
                "{body}"
            );
        }
        assert_eq!(
            inspect(b"{\"jsonrpc\":\"\xff2.0\",\"method\":\"x\"}"),
            Err(Unreadable::Malformed),
            "invalid UTF-8 in a skipped string"
        );
        let call = single(
            r#"{"id":1e400,"method":"tools/call","params":{"name":"a","arguments":{"n":-1e999999,"m":123456789012345678901234567890}}}"#,
        );
        assert_eq!(call.name.as_deref(), Some("a"));
    }

    #[test]
    fn bodies_without_a_value_are_empty_and_scalars_are_no_call() {
        assert_eq!(inspect(b""), Err(Unreadable::Empty));
        assert_eq!(inspect(b" \r\n"), Err(Unreadable::Empty));
        assert_eq!(inspect(b"42"), Ok(JsonRpcBody::NotJsonRpc));
        assert_eq!(inspect(b"\"tools/call\""), Ok(JsonRpcBody::NotJsonRpc));
    }

    #[test]
    fn params_of_any_shape_are_tolerated() {
        let call = single(r#"{"method":"tools/call","params":[1,2],"id":{"a":1}}"#);
        assert_eq!(call.method.as_deref(), Some("tools/call"));
        assert_eq!(call.name, None);
        let call = single(r#"{"method":7,"params":{"name":{"x":1},"uri":null,"ref":"x"}}"#);
        assert_eq!((call.method, call.name, call.uri), (None, None, None));
    }

    #[test]
    fn byte_order_mark_is_skipped() {
        let call = single("\u{feff}{\"method\":\"tools/list\"}");
        assert_eq!(call.method.as_deref(), Some("tools/list"));
    }
}
