//! Property tests for the request and webhook bodies: the JSON-RPC inspection of the scope guard
//! (driven through `ScopeGuardLayer`, since the inspection is private) and the Auth0 log-stream
//! payload parser in its three formats. The fuzz targets `scope_guard_body` and
//! `webhook_payload` check the same properties on arbitrary bytes.

use std::convert::Infallible;
use std::sync::OnceLock;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};
use proptest::prelude::*;
use serde_json::{Map, Value, json};
use tower::{Layer, ServiceExt, service_fn};
use tower_mcp_auth::auth0::log_event::{DcrSignal, match_dcr, parse_payload};
use tower_mcp_auth::scope::GuardedBody;
use tower_mcp_auth::{AccessToken, ScopeGuardLayer, ScopePolicy};

// ---------------------------------------------------------------------------------------------
// JSON-RPC bodies through the scope guard.

struct Guard {
    runtime: tokio::runtime::Runtime,
    layer: ScopeGuardLayer,
    token: AccessToken,
}

/// A guard whose policy puts the `secret` tool, prompt and resource and the `admin/reset`
/// method behind `admin`, and a token with only `read`.
fn guard() -> &'static Guard {
    static GUARD: OnceLock<Guard> = OnceLock::new();
    GUARD.get_or_init(|| Guard {
        runtime: tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap(),
        layer: ScopeGuardLayer::new(
            ScopePolicy::builder()
                .tool("secret", ["admin"])
                .tool("open", ["read"])
                .prompt("secret", ["admin"])
                .resource("file:///secret", ["admin"])
                .method("admin/reset", ["admin"])
                .build()
                .unwrap(),
        ),
        token: AccessToken::from_claims(json!({
            "iss": "https://issuer.test/", "sub": "u", "aud": "https://api.test",
            "exp": 4_102_444_800u64, "scope": "read"
        }))
        .unwrap(),
    })
}

async fn echo(
    request: Request<GuardedBody<Full<Bytes>>>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let body = request.into_body().collect().await.unwrap().to_bytes();
    Ok(Response::new(Full::new(body)))
}

/// The guard's status for `body`, and the bytes the service received when it was passed on.
fn through_guard(body: &[u8]) -> (StatusCode, Option<Bytes>) {
    let guard = guard();
    let mut request = Request::builder()
        .method(Method::POST)
        .uri("/mcp")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::copy_from_slice(body)))
        .unwrap();
    request.extensions_mut().insert(guard.token.clone());
    guard.runtime.block_on(async {
        let response = guard
            .layer
            .layer(service_fn(echo))
            .oneshot(request)
            .await
            .unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, (status == StatusCode::OK).then_some(bytes))
    })
}

/// One generated JSON-RPC message: what it asks for, and how it is spelled.
#[derive(Debug, Clone)]
struct Message {
    method: &'static str,
    target: &'static str,
    /// A decoy `name`/`uri` inside `arguments`, which must not count.
    decoy: bool,
    /// Keys and values written with `\u` escapes.
    escaped: bool,
    /// The `params` target written twice (first a harmless value).
    duplicated: bool,
}

impl Message {
    fn needs_admin(&self) -> bool {
        match self.method {
            "tools/call" | "prompts/get" => self.target == "secret",
            "resources/read" => self.target == "file:///secret",
            "admin/reset" => true,
            _ => false,
        }
    }

    fn target_key(&self) -> &'static str {
        if self.method == "resources/read" {
            "uri"
        } else {
            "name"
        }
    }

    fn render(&self) -> String {
        let text = |s: &str| {
            if self.escaped {
                let escaped: String = s.chars().map(|c| format!("\\u{:04x}", c as u32)).collect();
                format!("\"{escaped}\"")
            } else {
                format!("\"{s}\"")
            }
        };
        let key = self.target_key();
        let mut params = Vec::new();
        if self.decoy {
            params.push(format!(
                "\"arguments\":{{\"{key}\":\"secret\",\"uri\":\"file:///secret\"}}"
            ));
        }
        if self.duplicated {
            params.push(format!("{}:\"open\"", text(key)));
        }
        params.push(format!("{}:{}", text(key), text(self.target)));
        format!(
            "{{\"jsonrpc\":\"2.0\",\"id\":7,{}:{},\"params\":{{{}}}}}",
            text("method"),
            text(self.method),
            params.join(",")
        )
    }
}

fn message() -> impl Strategy<Value = Message> {
    (
        prop::sample::select(vec![
            "tools/call",
            "prompts/get",
            "resources/read",
            "admin/reset",
            "tools/list",
        ]),
        prop::sample::select(vec!["secret", "open", "file:///secret", "file:///open"]),
        any::<bool>(),
        any::<bool>(),
        prop::bool::weighted(0.2),
    )
        .prop_map(|(method, target, decoy, escaped, duplicated)| Message {
            method,
            target,
            decoy,
            escaped,
            duplicated,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// The guard's decision equals the policy's answer for what the body asks: an ambiguous
    /// message is a 400, a call needing `admin` a 403, anything else reaches the service byte
    /// for byte; escapes, decoys in `arguments`, a byte order mark, whitespace and trailing
    /// bytes change nothing.
    #[test]
    fn guard_decides_by_what_the_body_asks(
        messages in prop::collection::vec(message(), 1..4),
        batch in any::<bool>(),
        bom in any::<bool>(),
        padding in "[ \t\r\n]{0,3}",
        trailing in prop_oneof![Just(String::new()), Just(" garbage".to_owned()), Just("{\"method\":\"admin/reset\"}".to_owned())],
    ) {
        let rendered: Vec<String> = messages.iter().map(Message::render).collect();
        let json = if batch || messages.len() > 1 {
            format!("[{}]", rendered.join(","))
        } else {
            rendered[0].clone()
        };
        let counted = if batch || messages.len() > 1 { &messages[..] } else { &messages[..1] };
        let body = format!("{}{padding}{json}{padding}{trailing}", if bom { "\u{feff}" } else { "" });

        let (status, received) = through_guard(body.as_bytes());

        let expected = if counted.iter().any(|m| m.duplicated) {
            StatusCode::BAD_REQUEST
        } else if counted.iter().any(Message::needs_admin) {
            StatusCode::FORBIDDEN
        } else {
            StatusCode::OK
        };
        prop_assert_eq!(status, expected, "{}", body);
        if status == StatusCode::OK {
            prop_assert_eq!(received.unwrap(), Bytes::from(body));
        }
    }

    /// Whatever the bytes, a body that a strict JSON reader sees as a call needing `admin` never
    /// reaches the service, and the guard answers only 200, 400, 403 or 413.
    #[test]
    fn mutated_bodies_never_smuggle_an_admin_call(
        messages in prop::collection::vec(message(), 1..3),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 0..4),
    ) {
        let mut body = format!("[{}]", messages.iter().map(Message::render).collect::<Vec<_>>().join(","))
            .into_bytes();
        for (at, byte, kind) in edits {
            let i = at.index(body.len() + 1);
            match kind {
                0 => body.insert(i, byte),
                1 if i < body.len() => { body.remove(i); }
                _ if i < body.len() => body[i] = byte,
                _ => {}
            }
        }
        let (status, _) = through_guard(&body);
        prop_assert!(matches!(status.as_u16(), 200 | 400 | 403 | 413), "{}", status);
        if status == StatusCode::OK {
            let strict = serde_json::Deserializer::from_slice(&body).into_iter::<Value>().next();
            let needs_admin = |m: &Value| {
                let param = |k: &str| m.pointer(&format!("/params/{k}")).and_then(Value::as_str);
                match m.get("method").and_then(Value::as_str) {
                    Some("tools/call" | "prompts/get") => param("name") == Some("secret"),
                    Some("resources/read") => param("uri") == Some("file:///secret"),
                    Some("admin/reset") => true,
                    _ => false,
                }
            };
            let smuggled = match strict {
                Some(Ok(Value::Array(batch))) => batch.iter().any(needs_admin),
                Some(Ok(message)) => needs_admin(&message),
                _ => false,
            };
            prop_assert!(!smuggled, "{}", String::from_utf8_lossy(&body));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Auth0 log-stream payloads.

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// A log entry: usually `{log_id, data: {…}}` (sometimes a DCR event), sometimes malformed.
fn log_entry() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => ("[0-9]{1,6}", json_value()).prop_map(|(id, extra)| {
            json!({"log_id": id, "data": {"type": "s", "extra": extra}})
        }),
        2 => ("[0-9]{1,6}", "[A-Za-z0-9]{1,20}").prop_map(|(id, client)| json!({
            "log_id": id,
            "data": {"type": "sapi", "description": "Dynamic Client Registration",
                     "details": {"response": {"statusCode": 201, "body": {"client_id": client}}}}
        })),
        1 => json_value(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// JSON Lines, JSON Array and (for one entry) JSON Object give the same entries, in order,
    /// with each malformed entry reported on its own at its index.
    #[test]
    fn the_three_payload_formats_agree(entries in prop::collection::vec(log_entry(), 1..6)) {
        let array = parse_payload(Value::Array(entries.clone()).to_string().as_bytes()).unwrap();
        prop_assert_eq!(array.len(), entries.len());
        for (i, (parsed, raw)) in array.iter().zip(&entries).enumerate() {
            let well_formed = raw.get("data").is_some_and(Value::is_object);
            prop_assert_eq!(parsed.is_ok(), well_formed, "entry {}: {}", i, raw);
            if let Err(malformed) = parsed {
                prop_assert_eq!(malformed.index, i);
            }
        }
        if entries.len() >= 2 {
            let lines: Vec<String> = entries.iter().map(Value::to_string).collect();
            let as_lines = parse_payload(format!("{}\n", lines.join("\r\n\n")).as_bytes()).unwrap();
            prop_assert_eq!(&as_lines, &array);
        } else if entries[0].get("data").is_some_and(Value::is_object) {
            let object = parse_payload(entries[0].to_string().as_bytes()).unwrap();
            prop_assert_eq!(&object, &array);
        }
    }

    /// Every generated DCR event is found, with its client id, in any format.
    #[test]
    fn dcr_events_are_found_in_every_batch(entries in prop::collection::vec(log_entry(), 1..6)) {
        let expected: Vec<(DcrSignal, String)> = entries
            .iter()
            .filter_map(|e| e.pointer("/data/details/response/body/client_id")?.as_str())
            .map(|id| (DcrSignal::SapiDescription, id.to_owned()))
            .collect();
        let parsed = parse_payload(Value::Array(entries).to_string().as_bytes()).unwrap();
        let found: Vec<(DcrSignal, String)> = parsed
            .iter()
            .flatten()
            .filter_map(|entry| match_dcr(&entry.data))
            .filter_map(|event| Some((event.signal, event.client?.0)))
            .collect();
        prop_assert_eq!(found, expected);
    }

    /// Arbitrary bytes are parsed or refused, never a panic; what parses as a JSON array gives
    /// one result per element.
    #[test]
    fn arbitrary_payload_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..400)) {
        if let Ok(entries) = parse_payload(&body) {
            for entry in entries.iter().flatten() {
                let _ = match_dcr(&entry.data);
            }
            if let Ok(Value::Array(items)) = serde_json::from_slice::<Value>(&body) {
                prop_assert_eq!(entries.len(), items.len());
            }
        }
    }
}
