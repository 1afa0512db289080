//! Reading what a JSON-RPC body asks for: the method and the tool, prompt or resource(s) it
//! names.
//!
//! One pass of a strict reader ([`json_read`](super::json_read)) over the bytes, borrowing
//! strings where they need no unescaping, and skipping everything else (`arguments` are never
//! built into values). The guard authorizes exactly what a server could execute, or refuses:
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

use crate::scope::json_read::{Malformed, Reader};
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
    // RFC 8259 §8.1: JSON is UTF-8. Checked once for the whole body, so invalid bytes inside
    // strings the reading skips are refused too (and the reading then needs no UTF-8 checks).
    let text = std::str::from_utf8(body).map_err(|_| Unreadable::Malformed)?;
    let mut reader = Reader::new(text);
    let parsed = match reader.peek() {
        None => return Err(Unreadable::Empty),
        Some(b'{') => call(&mut reader).map(JsonRpcBody::Single),
        Some(b'[') => {
            let mut calls = Vec::new();
            reader
                .array(|reader| call(reader).map(|call| calls.push(call)))
                .map(|()| JsonRpcBody::Batch(calls))
        }
        Some(_) => reader.skip().map(|()| JsonRpcBody::NotJsonRpc),
    }
    .map_err(|Malformed| Unreadable::Malformed)?;
    if !reader.at_end() {
        return Err(Unreadable::Trailing);
    }
    Ok(parsed)
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

/// One message, or (an element of a batch that is not an object) no call.
fn call<'a>(reader: &mut Reader<'a>) -> Result<Call<'a>, Malformed> {
    let mut call = Call::default();
    if reader.peek() != Some(b'{') {
        // A batch element that is not an object is no call (the server answers it).
        reader.other()?;
        return Ok(call);
    }
    let (mut seen_method, mut seen_params) = (false, false);
    reader.object(|reader, key| {
        match key.as_ref() {
            "method" => {
                let value = reader.maybe_string()?;
                set_once(
                    &mut call.method,
                    &mut seen_method,
                    &mut call.ambiguous,
                    value,
                );
            }
            "params" => {
                call.ambiguous |= std::mem::replace(&mut seen_params, true);
                let params = Params::read(reader)?;
                call.name = params.name;
                call.uri = params.uri;
                call.ref_name = params.ref_name;
                call.ref_uri = params.ref_uri;
                call.subscriptions = params.subscriptions;
                call.ambiguous |= params.ambiguous;
            }
            _ => reader.skip()?,
        }
        Ok(())
    })?;
    Ok(call)
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

    /// The hand-written reading against the `serde_json` one it replaced, on valid bodies built
    /// from the pieces that matter (the keys, escapes, lone surrogates, numbers beyond `f64`,
    /// long strings, control bytes, deep nesting), and on the same bodies cut, extended or with
    /// one byte changed.
    mod differential {
        use proptest::prelude::*;

        use super::super::inspect;
        use crate::scope::jsonrpc_oracle;

        fn key() -> impl Strategy<Value = String> {
            prop::sample::select(vec![
                r#""method""#,
                r#""params""#,
                r#""name""#,
                r#""uri""#,
                r#""ref""#,
                r#""notifications""#,
                r#""resourceSubscriptions""#,
                r#""arguments""#,
                r#""na\u006de""#,
                r#""\ud800""#,
                r#""\ud83d\ude00""#,
                r#""a\"b""#,
                r#""""#,
                r#""id""#,
            ])
            .prop_map(str::to_owned)
        }

        fn scalar() -> impl Strategy<Value = String> {
            prop_oneof![
                prop::sample::select(vec![
                    r#""tools/call""#,
                    r#""search""#,
                    r#""file:///x""#,
                    r#""se\u0061rch""#,
                    r#""\ud800""#,
                    r#""\udc00""#,
                    r#""\ud83d\ude00""#,
                    r#""\ud800\u0041""#,
                    "\"tab\\there\"",
                    r#""\/\b\f\n\r\\""#,
                    "1e400",
                    "-1e400",
                    "1e-400",
                    "0e999",
                    "-0",
                    "7",
                    "-12.5e+3",
                    "123456789012345678901234567890",
                    "1.7976931348623157e308",
                    "true",
                    "false",
                    "null",
                ])
                .prop_map(str::to_owned),
                // Long strings, so the vectorized scan runs, sometimes with an escape or a
                // control byte at a random place.
                (
                    0usize..200,
                    0usize..200,
                    prop::sample::select(vec!["", "\\n", "\\u00e9", "\u{1}", "\u{7f}", "é"])
                )
                    .prop_map(|(before, after, middle)| {
                        format!("\"{}{middle}{}\"", "x".repeat(before), "y".repeat(after))
                    }),
            ]
        }

        fn value() -> impl Strategy<Value = String> {
            scalar().prop_recursive(5, 48, 6, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..5)
                        .prop_map(|elements| format!("[{}]", elements.join(","))),
                    prop::collection::vec((key(), inner), 0..5).prop_map(|members| {
                        let members: Vec<String> = members
                            .into_iter()
                            .map(|(k, v)| format!("{k}:{v}"))
                            .collect();
                        format!("{{{}}}", members.join(" , "))
                    }),
                ]
            })
        }

        /// A name the guard reads: mostly a plain or escaped string, sometimes any value.
        fn name() -> impl Strategy<Value = String> {
            prop_oneof![
                3 => prop::sample::select(vec![
                    r#""tools/call""#,
                    r#""search""#,
                    r#""se\u0061rch""#,
                    r#""file:///x""#,
                ])
                .prop_map(str::to_owned),
                1 => value(),
            ]
        }

        /// A message whose `params` often has the members the guard reads.
        fn message() -> impl Strategy<Value = String> {
            (
                name(),
                name(),
                name(),
                name(),
                value(),
                prop::sample::select(vec!["name", "uri", "ref", "method", "other"]),
            )
                .prop_map(|(method, name, uri, reference, rest, twice)| {
                    format!(
                        r#"{{"jsonrpc":"2.0","method":{method},"params":{{"name":{name},"uri":{uri},"ref":{{"name":{reference}}},"notifications":{{"resourceSubscriptions":[{uri},{name}]}},"arguments":{rest},"{twice}":{name}}}}}"#
                    )
                })
        }

        fn body() -> impl Strategy<Value = Vec<u8>> {
            let text = prop_oneof![
                message(),
                prop::collection::vec(message(), 0..3).prop_map(|m| format!("[{}]", m.join(","))),
                value(),
            ];
            (text, 0usize..6, any::<prop::sample::Index>(), any::<u8>()).prop_map(
                |(text, edit, at, byte)| {
                    let mut bytes = text.into_bytes();
                    let at = at.index(bytes.len() + 1);
                    match edit {
                        0..=2 => {}
                        3 => bytes.truncate(at),
                        4 => bytes.insert(at, byte),
                        _ => {
                            if let Some(b) = bytes.get_mut(at) {
                                *b = byte;
                            }
                        }
                    }
                    bytes
                },
            )
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(4096))]

            #[test]
            fn reads_every_body_as_serde_json_did(body in body()) {
                prop_assert_eq!(inspect(&body), jsonrpc_oracle::inspect(&body), "{}", String::from_utf8_lossy(&body));
            }
        }

        #[test]
        fn reads_deep_and_odd_bodies_as_serde_json_did() {
            let deep = format!(
                r#"{{"method":"tools/call","params":{{"name":"a","arguments":{}0{}}}}}"#,
                "[".repeat(5000),
                "]".repeat(5000)
            );
            for body in [
                deep.as_str(),
                "\u{feff}{}",
                "[]",
                "[[]]",
                "[1e400]",
                r#"{"method":{"\ud800":1}}"#,
                r#"{"method":[{"\ud800":1}]}"#,
                r#"{"params":{"ref":{"name":{"a":{"\ud800":1}}}}}"#,
                r#"{"x":{"\ud800":1}}"#,
                r#"{"method":"a"} "#,
                "{\"method\":\"a\"}\u{c}",
                "nul",
                "\"\\ud800\"",
                "[\"\\ud800\"]",
                "{\"method\":\"a\",}",
                "[1,]",
                "{\"a\" 1}",
                "{\"a\":}",
                "",
                " ",
            ] {
                assert_eq!(
                    inspect(body.as_bytes()),
                    jsonrpc_oracle::inspect(body.as_bytes()),
                    "{body}"
                );
            }
        }
    }
}
