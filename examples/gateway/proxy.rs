//! The streaming reverse proxy: `POST /tools/{tool}` to `FUNCTIONS_BASE/{tool}`, and `/mcp` as a
//! whole to `MCP_UPSTREAM`.
//!
//! Answers stream (an SSE answer reaches the client event by event); a request body streams too
//! unless it is signed: one of known length up to 1 MiB is buffered so its SHA-256 can be
//! signed (see `hmac.rs`). What crosses:
//! - the request headers of [`FORWARDED_HEADERS`] only, an allow-list: content negotiation,
//!   the body's framing and the MCP headers. Everything else stays at the gateway: credentials
//!   (`Authorization`, `Cookie`: MCP forbids token passthrough), `Host`, hop-by-hop headers,
//!   identity look-alikes (`X-Gateway-*`, `X_Gateway_Sub`), and the headers some stacks let
//!   rewrite the request (`X-Forwarded-*`, `Forwarded`, `X-Original-URL`,
//!   `X-HTTP-Method-Override`). A header the client names in `Connection` does not make an
//!   allowed header disappear: the guard has already decided on it (security review finding 10);
//! - plus the signed identity headers (see `hmac.rs`).
//!
//! Failures are answered in JSON: no answer within `BACKEND_TIMEOUT_MS` → 504
//! `BACKEND_TIMEOUT`; connection refused or reset → 502 `BACKEND_UNREACHABLE`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::{Body, HttpBody};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Request, Response, StatusCode, header};
use axum::response::IntoResponse;
use serde_json::json;
use tower_mcp_auth::AccessToken;
use url::Url;

use crate::hmac::{self, Identity, Signer};

/// Sends requests to the backend on behalf of verified callers.
#[derive(Clone, Debug)]
pub struct Proxy {
    client: reqwest::Client,
    signer: Signer,
    timeout: Duration,
}

/// Hop-by-hop headers (RFC 9110 §7.6.1) plus the old `Keep-Alive` and `Proxy-Connection`.
const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

impl Proxy {
    pub fn new(signer: Signer, timeout: Duration) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            // Redirects would resend the request elsewhere with our identity headers.
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self {
            client,
            signer,
            timeout,
        })
    }

    /// Forwards `request` to `target` (its query string is appended) as `token`'s holder.
    pub async fn forward(
        &self,
        request: Request<Body>,
        mut target: Url,
        // None: a public operation called without a token; the backend sees an empty subject.
        token: Option<&AccessToken>,
    ) -> Response<Body> {
        let (parts, body) = request.into_parts();
        target.set_query(parts.uri.query());
        let mut headers = forwarded_headers(&parts.headers);
        // A body of known length up to MAX_SIGNED_BODY is signed by its digest (those the scope
        // guard read are already in memory); a longer or chunked one streams unsigned.
        let hint = body.size_hint();
        let (body, body_sha256) = match hint.exact() {
            Some(length) if length <= hmac::MAX_SIGNED_BODY => {
                match axum::body::to_bytes(body, hmac::MAX_SIGNED_BODY as usize).await {
                    Ok(bytes) => {
                        let digest = hmac::body_sha256(&bytes);
                        (Body::from(bytes), digest)
                    }
                    Err(_) => {
                        return error(
                            StatusCode::BAD_REQUEST,
                            "BODY_UNREADABLE",
                            "The request body could not be read completely",
                        );
                    }
                }
            }
            _ => (body, hmac::UNSIGNED_BODY.to_owned()),
        };
        let scopes = token.map(|t| t.scopes().join(" ")).unwrap_or_default();
        let identity = Identity {
            method: parts.method.as_str(),
            path: target.path(),
            query: target.query().unwrap_or(""),
            sub: token.map_or("", AccessToken::subject),
            scopes: &scopes,
            timestamp: unix_now(),
            body_sha256: &body_sha256,
        };
        let signature = self.signer.sign(&identity);
        let (Ok(sub), Ok(scope_value)) = (
            HeaderValue::from_str(identity.sub),
            HeaderValue::from_str(identity.scopes),
        ) else {
            return error(
                StatusCode::BAD_REQUEST,
                "IDENTITY_NOT_FORWARDABLE",
                "The token's subject or scopes cannot be carried in an HTTP header",
            );
        };
        headers.insert(hmac::SUB, sub);
        headers.insert(hmac::SCOPES, scope_value);
        headers.insert(hmac::TIMESTAMP, HeaderValue::from(identity.timestamp));
        if let Ok(digest) = HeaderValue::from_str(identity.body_sha256) {
            headers.insert(hmac::BODY_SHA256, digest);
        }
        if let Ok(signature) = HeaderValue::from_str(&signature) {
            headers.insert(hmac::SIGNATURE, signature);
        }

        let send = self
            .client
            .request(parts.method.clone(), target.clone())
            .headers(headers)
            .body(reqwest::Body::wrap_stream(body.into_data_stream()))
            .send();
        // The timeout covers the time to the answer's head; the body then streams for as long
        // as the backend sends it (an SSE stream may last minutes).
        let answer = match tokio::time::timeout(self.timeout, send).await {
            Err(_) => {
                tracing::warn!(backend = %redacted(&target), timeout_ms = self.timeout.as_millis() as u64, "backend timed out");
                return error(
                    StatusCode::GATEWAY_TIMEOUT,
                    "BACKEND_TIMEOUT",
                    &format!(
                        "The backend did not answer within {} ms",
                        self.timeout.as_millis()
                    ),
                );
            }
            Ok(Err(failure)) => {
                // reqwest's `Display` ends with the full URL: userinfo and the client's query.
                let failure = failure.without_url();
                tracing::warn!(backend = %redacted(&target), error = %failure, "backend unreachable");
                let (code, what) = if failure.is_timeout() {
                    return error(
                        StatusCode::GATEWAY_TIMEOUT,
                        "BACKEND_TIMEOUT",
                        "The backend did not accept the connection in time",
                    );
                } else if failure.is_connect() {
                    (
                        "BACKEND_UNREACHABLE",
                        "The backend refused or dropped the connection",
                    )
                } else {
                    ("BACKEND_ERROR", "The backend's answer could not be read")
                };
                return error(StatusCode::BAD_GATEWAY, code, what);
            }
            Ok(Ok(answer)) => answer,
        };
        tracing::debug!(backend = %redacted(&target), status = answer.status().as_u16(), "proxied");
        let answer: Response<reqwest::Body> = answer.into();
        let (mut parts, body) = answer.into_parts();
        strip_hop_by_hop(&mut parts.headers);
        Response::from_parts(parts, Body::new(body))
    }
}

/// The request headers the backend receives from the client (all others are dropped).
pub const FORWARDED_HEADERS: [&str; 17] = [
    "accept",
    "accept-encoding",
    "accept-language",
    "cache-control",
    "content-encoding",
    "content-language",
    "content-length",
    "content-type",
    "last-event-id",
    "mcp-method",
    "mcp-name",
    "mcp-protocol-version",
    "mcp-session-id",
    "traceparent",
    "tracestate",
    "user-agent",
    "x-request-id",
];

/// The client's headers as the backend may see them: those of [`FORWARDED_HEADERS`], whatever
/// `Connection` says.
pub fn forwarded_headers(incoming: &HeaderMap) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for name in FORWARDED_HEADERS {
        for value in incoming.get_all(name) {
            headers.append(HeaderName::from_static(name), value.clone());
        }
    }
    headers
}

fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
}

/// A JSON error answer of the gateway itself (not an auth failure).
pub fn error(status: StatusCode, code: &str, description: &str) -> Response<Body> {
    let body = json!({
        "error": status.canonical_reason().unwrap_or("error").to_lowercase().replace(' ', "_"),
        "code": code,
        "error_description": description,
    });
    (status, axum::Json(body)).into_response()
}

/// The backend URL without query or credentials, for logs.
pub fn redacted(url: &Url) -> String {
    format!(
        "{}://{}{}",
        url.scheme(),
        url.host_str().unwrap_or(""),
        url.port().map(|p| format!(":{p}")).unwrap_or_default()
    ) + url.path()
}

pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Tool names are letters, digits, `-`, `_` and `.` (at most 128), never `.` or `..`: nothing
/// that could leave `FUNCTIONS_BASE`'s path or need escaping.
pub fn is_tool_name(tool: &str) -> bool {
    !tool.is_empty()
        && tool.len() <= 128
        && tool != "."
        && tool != ".."
        && tool
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// `FUNCTIONS_BASE/{tool}`, or `None` when `tool` is not a tool name.
pub fn tool_url(base: &Url, tool: &str) -> Option<Url> {
    if !is_tool_name(tool) {
        return None;
    }
    let mut url = base.clone();
    let path = format!("{}/{tool}", base.path().trim_end_matches('/'));
    url.set_path(&path);
    url.set_query(None);
    Some(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_cannot_remove_a_header_the_guard_decided_on() {
        let mut incoming = HeaderMap::new();
        incoming.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        incoming.insert("mcp-session-id", HeaderValue::from_static("s-1"));
        incoming.insert(
            header::CONNECTION,
            HeaderValue::from_static("content-type, mcp-session-id"),
        );
        let forwarded = forwarded_headers(&incoming);
        assert_eq!(forwarded[header::CONTENT_TYPE], "text/plain");
        assert_eq!(forwarded["mcp-session-id"], "s-1");
        assert_eq!(forwarded.len(), 2);
    }

    #[test]
    fn only_allowed_headers_are_forwarded() {
        let mut incoming = HeaderMap::new();
        for (name, value) in [
            ("x-forwarded-for", "10.0.0.1"),
            ("x-forwarded-host", "admin.internal"),
            ("x-forwarded-proto", "https"),
            ("forwarded", "for=10.0.0.1"),
            ("x-original-url", "/admin"),
            ("x-rewrite-url", "/admin"),
            ("x-http-method-override", "DELETE"),
            ("x_gateway_sub", "auth0|admin"),
            ("accept", "application/json, text/event-stream"),
        ] {
            incoming.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_static(value),
            );
        }
        let forwarded = forwarded_headers(&incoming);
        let names: Vec<&str> = forwarded.keys().map(|n| n.as_str()).collect();
        assert_eq!(names, ["accept"]);
    }

    #[test]
    fn client_credentials_hop_by_hop_and_spoofed_identity_are_not_forwarded() {
        let mut incoming = HeaderMap::new();
        for (name, value) in [
            ("authorization", "Bearer secret-token"),
            ("cookie", "session=1"),
            ("host", "gateway.example.com"),
            ("connection", "keep-alive, x-custom-hop"),
            ("x-custom-hop", "1"),
            ("transfer-encoding", "chunked"),
            ("x-gateway-sub", "admin"),
            ("X-Gateway-Scopes", "everything"),
            ("content-type", "application/json"),
            ("x-request-id", "abc"),
        ] {
            incoming.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_static(value),
            );
        }
        let forwarded = forwarded_headers(&incoming);
        let mut names: Vec<&str> = forwarded.keys().map(|n| n.as_str()).collect();
        names.sort_unstable();
        assert_eq!(names, ["content-type", "x-request-id"]);
    }

    #[test]
    fn tool_names_cannot_leave_the_base_path() {
        let base = Url::parse("https://fn.example.com/api/").unwrap();
        assert_eq!(
            tool_url(&base, "search.v2").unwrap().as_str(),
            "https://fn.example.com/api/search.v2"
        );
        for bad in ["..", "a/b", "a%2Fb", "", "a b"] {
            assert_eq!(tool_url(&base, bad), None, "{bad}");
        }
    }
}
