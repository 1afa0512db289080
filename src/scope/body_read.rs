//! Which request bodies the guard reads, and what it refuses before reading: it must judge
//! exactly what the server behind it could execute, so a body it must read but could not read
//! as the server would is refused, never passed unchecked.
//!
//! A `POST` body is read when its content type is JSON (`application/json`, `*/*+json`, or no
//! content type: servers parse those anyway), and always on a route the policy marks as JSON-RPC
//! ([`ScopePolicyBuilder::json_rpc_route`](crate::scope::ScopePolicyBuilder::json_rpc_route)).
//! Before reading:
//! - a `Content-Type` that is not visible ASCII, given twice, or naming two media types → 400
//!   (Python's server decodes header bytes as Latin-1, and reads `text/plain, application/json`
//!   as JSON);
//! - on a JSON-RPC route, a content type that is not JSON → 415; a JSON charset other than
//!   UTF-8 (Express decodes UTF-16 bodies) → 415;
//! - a `Content-Encoding` other than `identity`, or a transfer coding other than `chunked`
//!   (Express inflates gzip and deflate; in-process decompression layers do too) → 415;
//! - a `Connection` header naming one of the headers the guard decides on → 400: a proxy
//!   behind the guard would strip that header after the decision.
//!
//! Elsewhere, non-JSON bodies (uploads, forms) pass untouched and unread.

use std::time::Duration;

use http::{HeaderMap, Method, Request, header};

use crate::challenge::{AuthError, ErrorCode};
use crate::scope::ScopePolicy;

/// The default time the guard waits for a body it reads to arrive whole: 10 s (then 408).
pub const DEFAULT_BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// The headers the guard's decision depends on, which `Connection` must not name.
const CHECKED_HEADERS: &[&str] = &[
    "content-type",
    "content-encoding",
    "content-length",
    "transfer-encoding",
    "mcp-method",
    "mcp-name",
    "mcp-session-id",
    "mcp-protocol-version",
    "authorization",
];

/// What the guard does with a request's body.
#[derive(Debug)]
pub(crate) enum BodyPlan {
    /// Not read: handed on untouched.
    Pass,
    /// Read and judged; `json_rpc_route` as the policy says.
    Read { json_rpc_route: bool },
    /// Refused before reading.
    Refuse(AuthError),
}

/// Decides from the method, path and headers.
pub(crate) fn plan<B>(req: &Request<B>, policy: &ScopePolicy) -> BodyPlan {
    if req.method() != Method::POST {
        return BodyPlan::Pass;
    }
    let headers = req.headers();
    let json_rpc_route = policy.is_json_rpc_route(req.uri().path());
    if let Err(error) = check_connection(headers) {
        return BodyPlan::Refuse(error);
    }
    match content_type_is_json(headers) {
        Err(error) => return BodyPlan::Refuse(error),
        Ok(true) => {}
        Ok(false) if json_rpc_route => {
            return BodyPlan::Refuse(AuthError::new(
                ErrorCode::UnsupportedContentType,
                "This is a JSON-RPC endpoint: the body must be application/json (UTF-8)",
            ));
        }
        Ok(false) => return BodyPlan::Pass,
    }
    if let Err(error) = check_codings(headers) {
        return BodyPlan::Refuse(error);
    }
    BodyPlan::Read { json_rpc_route }
}

/// `Ok(true)` for a JSON body in UTF-8 (or no content type), `Ok(false)` for another content
/// type (gRPC included), an error for a header the guard cannot read or JSON in another charset.
fn content_type_is_json(headers: &HeaderMap) -> Result<bool, AuthError> {
    let mut values = headers.get_all(header::CONTENT_TYPE).iter();
    let value = match (values.next(), values.next()) {
        (None, _) => return Ok(true),
        (Some(_), Some(_)) => {
            return Err(malformed("The Content-Type header appears more than once"));
        }
        (Some(value), None) => value,
    };
    let text = value
        .to_str()
        .map_err(|_| malformed("The Content-Type header is not visible ASCII"))?;
    if text
        .get(..16)
        .is_some_and(|p| p.eq_ignore_ascii_case("application/grpc"))
    {
        return Ok(false);
    }
    let mut parts = text.split(';');
    let media = parts.next().unwrap_or_default().trim();
    // One media type only: Python's SDK reads `text/plain, application/json` as JSON.
    if media.contains(',') {
        return Err(malformed(
            "The Content-Type header names more than one media type",
        ));
    }
    let json = media.eq_ignore_ascii_case("application/json")
        || media
            .get(media.len().saturating_sub(5)..)
            .is_some_and(|suffix| suffix.eq_ignore_ascii_case("+json"));
    if !json {
        return Ok(false);
    }
    let mut charsets = parts.filter_map(|parameter| {
        let (name, value) = parameter.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| value.trim().trim_matches('"'))
    });
    let utf8 = |charset: &str| {
        charset.eq_ignore_ascii_case("utf-8") || charset.eq_ignore_ascii_case("utf8")
    };
    match (charsets.next(), charsets.next()) {
        (None, _) => Ok(true),
        (Some(charset), None) if utf8(charset) => Ok(true),
        _ => Err(AuthError::new(
            ErrorCode::UnsupportedContentType,
            "JSON bodies must be UTF-8: the Content-Type names another charset, or two",
        )),
    }
}

/// Refuses a body that is encoded: `Content-Encoding` other than `identity`, transfer codings
/// other than `chunked` (which the HTTP server already removed).
fn check_codings(headers: &HeaderMap) -> Result<(), AuthError> {
    let only = |name: header::HeaderName, allowed: &str| {
        headers.get_all(name).iter().all(|value| {
            value.to_str().is_ok_and(|text| {
                text.split(',')
                    .map(str::trim)
                    .all(|coding| coding.is_empty() || coding.eq_ignore_ascii_case(allowed))
            })
        })
    };
    if only(header::CONTENT_ENCODING, "identity") && only(header::TRANSFER_ENCODING, "chunked") {
        Ok(())
    } else {
        Err(AuthError::new(
            ErrorCode::UnsupportedContentEncoding,
            "The guard reads JSON bodies as sent: send them without Content-Encoding (identity)",
        ))
    }
}

/// Refuses a `Connection` header that names a header the guard decides on.
fn check_connection(headers: &HeaderMap) -> Result<(), AuthError> {
    let names_checked = headers.get_all(header::CONNECTION).iter().any(|value| {
        String::from_utf8_lossy(value.as_bytes())
            .split(',')
            .map(str::trim)
            .any(|name| CHECKED_HEADERS.iter().any(|c| c.eq_ignore_ascii_case(name)))
    });
    if names_checked {
        Err(AuthError::new(
            ErrorCode::ConnectionNamesCheckedHeader,
            "The Connection header names a header the authorization decision depends on",
        ))
    } else {
        Ok(())
    }
}

fn malformed(description: &'static str) -> AuthError {
    AuthError::new(ErrorCode::MalformedContentType, description)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan_for(path: &str, headers: &[(&str, &[u8])]) -> BodyPlan {
        let policy = ScopePolicy::builder()
            .json_rpc_route("/mcp")
            .build()
            .unwrap();
        let mut req = Request::post(path);
        for (name, value) in headers {
            req = req.header(*name, http::HeaderValue::from_bytes(value).unwrap());
        }
        plan(&req.body(()).unwrap(), &policy)
    }

    fn refusal(plan: BodyPlan) -> ErrorCode {
        match plan {
            BodyPlan::Refuse(error) => error.code(),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn json_bodies_are_read_and_others_pass_off_json_rpc_routes() {
        for ct in [
            &b"application/json"[..],
            b"Application/JSON; charset=\"UTF-8\"",
            b"application/vnd.api+json",
        ] {
            assert!(matches!(
                plan_for("/upload", &[("content-type", ct)]),
                BodyPlan::Read {
                    json_rpc_route: false
                }
            ));
        }
        assert!(matches!(plan_for("/upload", &[]), BodyPlan::Read { .. }));
        for ct in [
            &b"text/plain"[..],
            b"multipart/form-data; boundary=x",
            b"application/grpc",
        ] {
            assert!(matches!(
                plan_for("/upload", &[("content-type", ct)]),
                BodyPlan::Pass
            ));
        }
        // A non-JSON upload may be compressed: the guard does not read it.
        assert!(matches!(
            plan_for(
                "/upload",
                &[
                    ("content-type", b"image/png"),
                    ("content-encoding", b"gzip")
                ]
            ),
            BodyPlan::Pass
        ));
    }

    #[test]
    fn json_rpc_routes_refuse_what_the_guard_cannot_read() {
        type Headers<'a> = &'a [(&'a str, &'a [u8])];
        let cases: &[(Headers, ErrorCode)] = &[
            (
                &[("content-type", b"text/plain")],
                ErrorCode::UnsupportedContentType,
            ),
            (
                &[("content-type", b"application/x-www-form-urlencoded")],
                ErrorCode::UnsupportedContentType,
            ),
            (
                &[("content-type", b"application/json; charset=utf-16le")],
                ErrorCode::UnsupportedContentType,
            ),
            (
                &[(
                    "content-type",
                    b"application/json; charset=utf-8; charset=utf-16",
                )],
                ErrorCode::UnsupportedContentType,
            ),
            (
                &[("content-type", b"application/json\xe9")],
                ErrorCode::MalformedContentType,
            ),
            (
                &[
                    ("content-type", b"application/json"),
                    ("content-type", b"text/plain"),
                ],
                ErrorCode::MalformedContentType,
            ),
            (
                &[("content-encoding", b"gzip")],
                ErrorCode::UnsupportedContentEncoding,
            ),
            (
                &[("content-encoding", b"identity, deflate")],
                ErrorCode::UnsupportedContentEncoding,
            ),
            (
                &[("transfer-encoding", b"gzip, chunked")],
                ErrorCode::UnsupportedContentEncoding,
            ),
            (
                &[("connection", b"keep-alive, Content-Type")],
                ErrorCode::ConnectionNamesCheckedHeader,
            ),
            (
                &[("connection", b"mcp-method")],
                ErrorCode::ConnectionNamesCheckedHeader,
            ),
        ];
        for (headers, code) in cases {
            assert_eq!(refusal(plan_for("/mcp", headers)), *code, "{headers:?}");
        }
        assert!(matches!(
            plan_for(
                "/mcp",
                &[
                    ("content-type", b"application/json"),
                    ("content-encoding", b"identity")
                ]
            ),
            BodyPlan::Read {
                json_rpc_route: true
            }
        ));
        assert!(matches!(
            plan_for("/mcp", &[("connection", b"keep-alive")]),
            BodyPlan::Read {
                json_rpc_route: true
            }
        ));
    }
}
