//! Property tests for JSON-RPC request bodies through the scope guard (driven through
//! `ScopeGuardLayer`, since the inspection is private). The fuzz target `scope_guard_body`
//! checks the same properties on arbitrary bytes.

use std::convert::Infallible;
use std::sync::OnceLock;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};
use proptest::prelude::*;
use serde_json::{Value, json};
use tower::{Layer, ServiceExt, service_fn};
use tower_mcp_auth::scope::GuardedBody;
use tower_mcp_auth::{AccessToken, ScopeGuardLayer, ScopePolicy};

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

    /// The guard's decision equals the policy's answer for what the body asks: anything after
    /// the first JSON value or an ambiguous message is a 400, a call needing `admin` a 403,
    /// anything else reaches the service byte for byte; escapes, decoys in `arguments`, a byte
    /// order mark and whitespace change nothing.
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

        let expected = if !trailing.is_empty() || counted.iter().any(|m| m.duplicated) {
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
            // What passes is exactly one strict JSON value (after an optional byte order mark).
            let without_bom = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&body);
            prop_assert!(serde_json::from_slice::<Value>(without_bom).is_ok(), "{}", String::from_utf8_lossy(&body));
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
