//! What the gateway tests run it against: a recording tool backend that checks the signature
//! as the README tells backends to, an MCP upstream streaming SSE, and the common environments.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_lc_rs::hmac;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use serde_json::{Value, json};

use super::process::GatewayProcess;
use crate::support::closed_port::ClosedPort;
use crate::support::issuer_server::{AUDIENCE, IssuerServer, now};

pub const HMAC_SECRET: &str = "test-hmac-secret-0123456789abcdefghijklmnop";

/// What the backend saw of one request.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

#[derive(Clone, Default)]
pub struct Backend {
    pub seen: Arc<Mutex<Vec<Seen>>>,
}

/// The documented check a backend makes (README.md, "The identity the backend receives"): HMAC-SHA256 over
/// `v2\nMETHOD\nPATH\nQUERY\nSUB\nSCOPES\nTIMESTAMP\nBODY-SHA256`, hex, with a fresh timestamp,
/// and the body's own SHA-256 equal to `X-Gateway-Body-SHA256` unless that is `-`.
pub fn signature_is_valid(
    method: &str,
    path: &str,
    query: &str,
    body: &[u8],
    headers: &HeaderMap,
) -> bool {
    let get = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    let timestamp: u64 = get("x-gateway-timestamp").parse().unwrap_or(0);
    if now().abs_diff(timestamp) > 300 {
        return false;
    }
    let body_sha256 = get("x-gateway-body-sha256");
    let digest: String = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, body)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    if body_sha256 != "-" && body_sha256 != digest {
        return false;
    }
    let canonical = format!(
        "v2\n{method}\n{path}\n{query}\n{}\n{}\n{timestamp}\n{body_sha256}",
        get("x-gateway-sub"),
        get("x-gateway-scopes")
    );
    let key = hmac::Key::new(hmac::HMAC_SHA256, HMAC_SECRET.as_bytes());
    let expected: String = hmac::sign(&key, canonical.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    get("x-gateway-signature") == expected
}

/// [`signature_is_valid`] for a request as a backend received it.
fn is_signed(parts: &http::request::Parts, body: &[u8]) -> bool {
    signature_is_valid(
        parts.method.as_str(),
        parts.uri.path(),
        parts.uri.query().unwrap_or(""),
        body,
        &parts.headers,
    )
}

pub async fn backend_tool(
    State(backend): State<Backend>,
    Path(tool): Path<String>,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20).await.unwrap();
    backend.seen.lock().unwrap().push(Seen {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().unwrap_or("").to_owned(),
        headers: parts.headers.clone(),
        body: body.clone(),
    });
    if tool == "slow" {
        tokio::time::sleep(Duration::from_secs(10)).await;
    }
    let verified = is_signed(&parts, &body);
    (
        StatusCode::CREATED,
        [("x-backend", "yes")],
        axum::Json(json!({"tool": tool, "signature_verified": verified})),
    )
        .into_response()
}

/// An MCP upstream that answers with an SSE stream: one event now, the next only when the test
/// says so, proving the gateway does not buffer.
pub async fn mcp_upstream(
    State(release): State<Arc<tokio::sync::Notify>>,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20).await.unwrap();
    let verified = is_signed(&parts, &body);
    let stream = async_stream(release, verified);
    (
        [("content-type", "text/event-stream")],
        Body::from_stream(stream),
    )
        .into_response()
}

pub fn async_stream(
    release: Arc<tokio::sync::Notify>,
    verified: bool,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> {
    futures_util::stream::unfold(0u8, move |step| {
        let release = release.clone();
        async move {
            match step {
                0 => Some((
                    Ok(Bytes::from(format!(
                        "event: message\ndata: {{\"first\":true,\"signature_verified\":{verified}}}\n\n"
                    ))),
                    1,
                )),
                1 => {
                    release.notified().await;
                    Some((
                        Ok(Bytes::from_static(
                            b"event: message\ndata: {\"second\":true}\n\n",
                        )),
                        2,
                    ))
                }
                _ => None,
            }
        }
    })
}

pub struct Upstreams {
    pub backend: Backend,
    pub functions_base: String,
    pub mcp_url: String,
    pub release: Arc<tokio::sync::Notify>,
}

pub async fn upstreams() -> Upstreams {
    let backend = Backend::default();
    let release = Arc::new(tokio::sync::Notify::new());
    let app = Router::new()
        .route("/fn/{tool}", post(backend_tool))
        .with_state(backend.clone())
        .merge(
            Router::new()
                .route("/upstream/mcp", any(mcp_upstream))
                .with_state(release.clone()),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Upstreams {
        backend,
        functions_base: format!("http://{addr}/fn"),
        mcp_url: format!("http://{addr}/upstream/mcp"),
        release,
    }
}

/// A functions base on a port that refuses connections while the `ClosedPort` is held.
pub fn closed_port_url() -> (ClosedPort, String) {
    let port = ClosedPort::new();
    let url = port.url("/fn");
    (port, url)
}

pub fn production_env<'a>(
    issuer: &'a IssuerServer,
    functions_base: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("OAUTH_ISSUER", issuer.issuer.as_str()),
        ("OAUTH_AUDIENCE", AUDIENCE),
        ("FUNCTIONS_BASE", functions_base),
        ("GATEWAY_HMAC_SECRET", HMAC_SECRET),
        ("BIND_ADDR", "127.0.0.1"),
        // The tests read the whole report; the production default shows only the status word.
        ("HEALTH_DETAILS", "public"),
    ]
}

pub fn start(vars: Vec<(&str, &str)>) -> GatewayProcess {
    GatewayProcess::start(&vars)
}

/// The status code and JSON body (`null` if none) of a raw HTTP/1.1 answer; status 0 if the
/// status line is not one.
pub fn status_and_body(answer: &str) -> (u16, Value) {
    let status = answer.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = answer
        .split_once("\r\n\r\n")
        .and_then(|(_, body)| serde_json::from_str(body).ok())
        .unwrap_or(Value::Null);
    (status, body)
}

pub async fn json_of(response: reqwest::Response) -> Value {
    response.json().await.unwrap()
}

pub async fn health(gateway: &GatewayProcess) -> (u16, Value) {
    let response = reqwest::get(gateway.url("/health/auth0")).await.unwrap();
    let status = response.status().as_u16();
    (status, json_of(response).await)
}

pub async fn health_becomes(gateway: &GatewayProcess, status: u16) -> Value {
    for _ in 0..100 {
        let (now, body) = health(gateway).await;
        if now == status {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("/health/auth0 never answered {status}");
}

pub const TOOL_SCOPES: &str = "search=search.read;docs.create=docs.write,docs.read";

pub fn scoped_env<'a>(issuer: &'a IssuerServer, up: &'a Upstreams) -> Vec<(&'a str, &'a str)> {
    let mut vars = production_env(issuer, &up.functions_base);
    vars.extend([
        ("TOOL_SCOPES", TOOL_SCOPES),
        ("REQUIRED_SCOPES", "mcp:access"),
        ("MCP_UPSTREAM", up.mcp_url.as_str()),
    ]);
    vars
}

/// The log stream's shared secret in the webhook tests.
pub const WEBHOOK_SECRET: &str = "log-webhook-secret-0123456789abcdefghij";
