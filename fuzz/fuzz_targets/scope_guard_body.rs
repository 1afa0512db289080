//! JSON-RPC request bodies through the scope guard (`ScopeGuardLayer` over an echo service),
//! with a token that holds `read` but not `admin`.
//!
//! Checks, against a strict reference reading of the same bytes with `serde_json::Value`:
//! - no panic, and every answer is 200 (passed on), 400, 403 or 413;
//! - whatever a strict JSON-RPC server would read as a call to something that needs `admin`
//!   (the `secret` tool, prompt or resource, the `admin/reset` method; alone or in a batch) is
//!   never passed on, whatever the duplicated keys, escapes, byte order mark or trailing bytes;
//! - a body passed on reaches the service byte for byte, and is no JSON value at all (the
//!   fixture's `/mcp` is not marked JSON-RPC) or exactly one strict JSON value: the guard
//!   refuses `NaN`, trailing values and every other body it cannot judge.
#![no_main]

use std::sync::OnceLock;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};
use tower::{Layer, ServiceExt, service_fn};
use tower_mcp_auth::scope::GuardedBody;
use tower_mcp_auth::{AccessToken, ScopeGuardLayer, ScopePolicy};

const MAX_BODY: usize = 64 * 1024;

struct Fixture {
    runtime: tokio::runtime::Runtime,
    layer: ScopeGuardLayer,
    token: AccessToken,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let policy = ScopePolicy::builder()
            .tool("secret", ["admin"])
            .tool("open", ["read"])
            .prompt("secret", ["admin"])
            .resource("file:///secret", ["admin"])
            .method("admin/reset", ["admin"])
            .build()
            .expect("policy");
        let token = AccessToken::from_claims(json!({
            "iss": "https://issuer.example/", "sub": "fuzz", "aud": "https://api.example",
            "exp": 4_102_444_800u64, "scope": "read"
        }))
        .expect("token");
        Fixture {
            runtime: tokio::runtime::Builder::new_current_thread()
                .build()
                .expect("runtime"),
            layer: ScopeGuardLayer::new(policy).max_body_bytes(MAX_BODY),
            token,
        }
    })
}

/// Whether one message, read strictly (the last of duplicated keys wins, as in `Value`), needs
/// `admin`.
fn needs_admin(message: &Value) -> bool {
    let param = |name: &str| {
        message
            .pointer(&format!("/params/{name}"))
            .and_then(Value::as_str)
    };
    match message.get("method").and_then(Value::as_str) {
        Some("tools/call") | Some("prompts/get") => param("name") == Some("secret"),
        Some("resources/read") => param("uri") == Some("file:///secret"),
        Some("admin/reset") => true,
        _ => false,
    }
}

/// What a strict server could execute: the first JSON value of the body (with or without a
/// byte order mark), a message or a batch of messages.
fn strict_needs_admin(body: &[u8]) -> bool {
    let without_bom = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    [body, without_bom].iter().any(|bytes| {
        let first = serde_json::Deserializer::from_slice(bytes)
            .into_iter::<Value>()
            .next();
        match first {
            Some(Ok(Value::Array(batch))) => batch.iter().any(needs_admin),
            Some(Ok(message)) => needs_admin(&message),
            _ => false,
        }
    })
}

async fn echo(
    request: Request<GuardedBody<Full<Bytes>>>,
) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
    let bytes = request
        .into_body()
        .collect()
        .await
        .map(|collected| collected.to_bytes())
        .unwrap_or_default();
    Ok(Response::new(Full::new(bytes)))
}

fuzz_target!(|data: &[u8]| {
    let fixture = fixture();
    let mut request = Request::builder()
        .method(Method::POST)
        .uri("/mcp")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::copy_from_slice(data)))
        .expect("request");
    request.extensions_mut().insert(fixture.token.clone());
    let service = fixture.layer.layer(service_fn(echo));

    let (status, body) = fixture.runtime.block_on(async {
        let response = service.oneshot(request).await.expect("infallible");
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .map(|collected| collected.to_bytes())
            .unwrap_or_default();
        (status, body)
    });

    assert!(
        matches!(
            status,
            StatusCode::OK
                | StatusCode::BAD_REQUEST
                | StatusCode::FORBIDDEN
                | StatusCode::PAYLOAD_TOO_LARGE
        ),
        "{status}"
    );
    if status == StatusCode::OK {
        assert_eq!(
            &body[..],
            data,
            "the service got other bytes than were checked"
        );
        let without_bom = data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(data);
        let blank = without_bom
            .iter()
            .all(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'));
        assert!(
            blank || serde_json::from_slice::<Value>(without_bom).is_ok(),
            "a body that is not one strict JSON value was passed on"
        );
        assert!(
            !strict_needs_admin(data),
            "an admin call passed the guard: {:?}",
            String::from_utf8_lossy(data)
        );
    }
});
