//! A forbidden `tools/call`, dressed up in every way a server behind the guard might read and
//! the guard might not (security review findings 3 and 10), and the layers in front of a real
//! MCP server upstream: `BearerAuthLayer` + `ScopeGuardLayer` (whose policy marks `/mcp` as
//! JSON-RPC) before the upstream itself, in process, or before a small reverse proxy to it.
//!
//! The policy: `admin_report` needs `tools.write`, `open_report` needs `tools.read`; the token
//! [`READER`] has only `tools.read`.

use std::collections::HashMap;

use axum::Router;
use axum::body::Body;
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Request, Response, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceBuilder;
use tower_mcp_auth::body::LayerBody;
use tower_mcp_auth::challenge::{AuthError, ErrorCode};
use tower_mcp_auth::token::TokenVerifier;
use tower_mcp_auth::{AccessToken, BearerAuthLayer, ScopeGuardLayer, ScopePolicy};

/// Only `tools.read`: may call `open_report`, not `admin_report`.
pub const READER: &str = "reader.only.token";
/// Another user (`sub` `user-2`) with the same scope.
pub const OTHER_READER: &str = "other.reader.token";

/// Maps the two test tokens to their claims; refuses any other.
pub struct Tokens(HashMap<&'static str, Value>);

impl Tokens {
    pub fn new() -> Self {
        let claims = |sub: &str| {
            json!({"iss": "https://issuer.test/", "sub": sub, "aud": "https://api.test",
                   "exp": 4_102_444_800u64, "scope": "tools.read"})
        };
        Self(HashMap::from([
            (READER, claims("user-1")),
            (OTHER_READER, claims("user-2")),
        ]))
    }
}

impl TokenVerifier for Tokens {
    async fn verify(&self, token: &str) -> Result<AccessToken, AuthError> {
        match self.0.get(token) {
            Some(claims) => AccessToken::from_claims(claims.clone()),
            None => Err(AuthError::new(
                ErrorCode::InvalidSignature,
                "unknown test token",
            )),
        }
    }
}

pub fn policy() -> ScopePolicy {
    ScopePolicy::builder()
        .tool("admin_report", ["tools.write"])
        .tool("open_report", ["tools.read"])
        .json_rpc_route("/mcp")
        .build()
        .expect("valid policy")
}

/// The layers around `service`, mounted at `/mcp`.
pub fn protect<S, B>(service: S) -> Router
where
    S: tower::Service<
            Request<LayerBody<Body>>,
            Response = Response<B>,
            Error = std::convert::Infallible,
        > + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let protected = ServiceBuilder::new()
        .layer(BearerAuthLayer::new(Tokens::new()))
        .layer(ScopeGuardLayer::new(policy()))
        .service(service);
    Router::new().route_service("/mcp", protected)
}

/// A reverse proxy to `upstream` (`http://127.0.0.1:port/mcp`) behind the layers: the request
/// goes on with its method, body and end-to-end headers, without the client's credentials.
pub fn proxy_to(upstream: String) -> Router {
    let client = reqwest::Client::new();
    let service = tower::service_fn(move |request: Request<LayerBody<Body>>| {
        let (client, upstream) = (client.clone(), upstream.clone());
        async move {
            let (parts, body) = request.into_parts();
            let body = body
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            let mut headers = HeaderMap::new();
            for (name, value) in &parts.headers {
                let hop = [
                    "host",
                    "connection",
                    "transfer-encoding",
                    "content-length",
                    "authorization",
                ];
                if !hop.contains(&name.as_str()) {
                    headers.append(name.clone(), value.clone());
                }
            }
            let answer = client
                .request(parts.method, &upstream)
                .headers(headers)
                .body(body)
                .send()
                .await;
            let response = match answer {
                Ok(answer) => {
                    let mut response = Response::builder().status(answer.status());
                    for (name, value) in answer.headers() {
                        if name != "transfer-encoding" && name != "content-length" {
                            response = response.header(name, value);
                        }
                    }
                    let bytes = answer.bytes().await.unwrap_or_default();
                    response.body(Body::from(bytes)).expect("valid response")
                }
                Err(_) => Response::builder()
                    .status(StatusCode::BAD_GATEWAY)
                    .body(Body::empty())
                    .expect("valid response"),
            };
            Ok::<_, std::convert::Infallible>(response)
        }
    });
    protect(service)
}

/// Serves `app` on a loopback port; returns `http://127.0.0.1:port`.
pub async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

/// A `tools/call` of `tool` with `arguments` as raw JSON text.
pub fn call(tool: &str, arguments: &str) -> String {
    format!(
        r#"{{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{{"name":"{tool}","arguments":{arguments}}}}}"#
    )
}

/// One way of dressing up the forbidden call.
pub struct Dressing {
    pub name: &'static str,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub body: Bytes,
    /// What the guard answers.
    pub status: StatusCode,
}

fn dressing(
    name: &'static str,
    headers: &[(&'static str, &[u8])],
    body: impl Into<Bytes>,
    status: StatusCode,
) -> Dressing {
    Dressing {
        name,
        headers: headers
            .iter()
            .map(|(n, v)| {
                (
                    HeaderName::from_static(n),
                    HeaderValue::from_bytes(v).expect("header value"),
                )
            })
            .collect(),
        body: body.into(),
        status,
    }
}

const JSON: (&str, &[u8]) = ("content-type", b"application/json");

/// Every dressing of `tools/call admin_report`, and the guard's answer to each.
pub fn dressings() -> Vec<Dressing> {
    let forbidden = call("admin_report", r#"{"n":1}"#);
    let allowed = call("open_report", r#"{"n":1}"#);
    let utf16 =
        |text: &str| -> Vec<u8> { text.encode_utf16().flat_map(u16::to_le_bytes).collect() };
    let (bad, unsupported, forbidden_status) = (
        StatusCode::BAD_REQUEST,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        StatusCode::FORBIDDEN,
    );
    vec![
        dressing("plain", &[JSON], forbidden.clone(), forbidden_status),
        dressing("NaN", &[JSON], call("admin_report", r#"{"n":NaN}"#), bad),
        dressing(
            "Infinity",
            &[JSON],
            call("admin_report", r#"{"n":Infinity}"#),
            bad,
        ),
        dressing(
            "-Infinity",
            &[JSON],
            call("admin_report", r#"{"n":-Infinity}"#),
            bad,
        ),
        dressing(
            "1e400 (valid JSON, judged)",
            &[JSON],
            call("admin_report", r#"{"n":1e400}"#),
            forbidden_status,
        ),
        dressing(
            "gzip",
            &[JSON, ("content-encoding", b"gzip")],
            gzip(forbidden.as_bytes()),
            unsupported,
        ),
        dressing(
            "identity, gzip",
            &[JSON, ("content-encoding", b"identity, gzip")],
            gzip(forbidden.as_bytes()),
            unsupported,
        ),
        dressing(
            "UTF-16LE declared",
            &[("content-type", b"application/json; charset=utf-16le")],
            utf16(&forbidden),
            unsupported,
        ),
        dressing("UTF-16LE undeclared", &[JSON], utf16(&forbidden), bad),
        dressing(
            "trailing second value",
            &[JSON],
            format!("{allowed}\n{forbidden}"),
            bad,
        ),
        dressing("trailing garbage", &[JSON], format!("{forbidden} x"), bad),
        dressing(
            "text/plain",
            &[("content-type", b"text/plain")],
            forbidden.clone(),
            unsupported,
        ),
        dressing(
            "form",
            &[("content-type", b"application/x-www-form-urlencoded")],
            forbidden.clone(),
            unsupported,
        ),
        dressing(
            "two media types",
            &[("content-type", b"text/plain, application/json")],
            forbidden.clone(),
            bad,
        ),
        dressing(
            "non-ASCII content type",
            &[("content-type", b"application/json;\xe9")],
            forbidden.clone(),
            bad,
        ),
        dressing(
            "two content types",
            &[JSON, ("content-type", b"text/plain")],
            forbidden.clone(),
            bad,
        ),
        dressing(
            "no content type (judged)",
            &[],
            forbidden.clone(),
            forbidden_status,
        ),
        dressing(
            "Connection strips Content-Type",
            &[
                ("content-type", b"text/plain"),
                ("connection", b"content-type"),
            ],
            forbidden.clone(),
            bad,
        ),
        dressing(
            "Connection strips Mcp-Method",
            &[
                JSON,
                ("mcp-method", b"tools/list"),
                ("connection", b"mcp-method"),
            ],
            forbidden.clone(),
            bad,
        ),
        dressing(
            "duplicated name",
            &[JSON],
            r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"open_report","name":"admin_report","arguments":{}}}"#,
            bad,
        ),
        dressing(
            "escaped name",
            &[JSON],
            r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"admin\u005freport","arguments":{}}}"#,
            forbidden_status,
        ),
        dressing(
            "batch",
            &[JSON],
            format!("[{allowed},{forbidden}]"),
            forbidden_status,
        ),
        dressing(
            "byte order mark",
            &[JSON],
            format!("\u{feff}{forbidden}"),
            forbidden_status,
        ),
    ]
}

/// The request the test client sends for `dressing` to `url`.
pub async fn send(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    dressing: &Dressing,
    extra: &HeaderMap,
) -> (StatusCode, String) {
    let mut request = client
        .post(url)
        .bearer_auth(token)
        .header("accept", "application/json, text/event-stream")
        .headers(extra.clone());
    for (name, value) in &dressing.headers {
        request = request.header(name, value);
    }
    let response = request
        .body(dressing.body.clone())
        .send()
        .await
        .expect("request sent");
    let status = response.status();
    (status, response.text().await.unwrap_or_default())
}

/// The call [`READER`] may make: `open_report` as plain JSON.
pub fn allowed() -> Dressing {
    dressing(
        "allowed",
        &[JSON],
        call("open_report", r#"{"n":1}"#),
        StatusCode::OK,
    )
}

/// Sends every dressing of the forbidden call to `url` as [`READER`]: each gets the guard's
/// answer for it and none runs the tool (`admin_runs` stays where it was). Then the way
/// through works: the allowed call answers 200 with the open report.
pub async fn assert_no_dressing_runs_the_tool(
    client: &reqwest::Client,
    url: &str,
    extra: &HeaderMap,
    admin_runs: impl Fn() -> usize,
) {
    let before = admin_runs();
    for dressing in dressings() {
        let (status, body) = send(client, url, READER, &dressing, extra).await;
        assert_eq!(status, dressing.status, "{}: {body}", dressing.name);
        assert_eq!(admin_runs(), before, "{} ran the tool", dressing.name);
    }
    let (status, body) = send(client, url, READER, &allowed(), extra).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("open report"), "{body}");
}

/// `data` as a gzip member (RFC 1952) holding one stored deflate block (RFC 1951 §3.2.4): what
/// `Content-Encoding: gzip` decoders inflate, written without a compression library.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    assert!(data.len() <= usize::from(u16::MAX), "one stored block");
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    let len = data.len() as u16;
    out.push(1); // BFINAL, BTYPE = stored
    out.extend(len.to_le_bytes());
    out.extend((!len).to_le_bytes());
    out.extend(data);
    out.extend(crc32(data).to_le_bytes());
    out.extend((data.len() as u32).to_le_bytes());
    out
}

/// CRC-32 (IEEE, reflected), the gzip trailer's checksum (RFC 1952 §8).
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}
