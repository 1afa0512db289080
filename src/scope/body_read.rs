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

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, HeaderValue, Method, Request, header};
use http_body::Body;
use http_body_util::Limited;
use pin_project_lite::pin_project;

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
    let json_rpc_route = policy.is_json_rpc_route(req.uri().path());
    let headers = BodyHeaders::of(req.headers());
    if headers.connection_names_checked {
        return BodyPlan::Refuse(AuthError::new(
            ErrorCode::ConnectionNamesCheckedHeader,
            "The Connection header names a header the authorization decision depends on",
        ));
    }
    match content_type_is_json(&headers) {
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
    if headers.encoded {
        return BodyPlan::Refuse(AuthError::new(
            ErrorCode::UnsupportedContentEncoding,
            "The guard reads JSON bodies as sent: send them without Content-Encoding (identity)",
        ));
    }
    BodyPlan::Read { json_rpc_route }
}

/// What the headers say about the body, gathered in one pass over the map: a request has a
/// handful of headers, and each lookup by name would hash the name again.
#[derive(Default)]
struct BodyHeaders<'a> {
    /// The first `Content-Type` value.
    content_type: Option<&'a HeaderValue>,
    /// How many `Content-Type` values there are.
    content_types: usize,
    /// A `Connection` header names a header the guard decides on (a proxy behind the guard
    /// would strip it after the decision).
    connection_names_checked: bool,
    /// A `Content-Encoding` other than `identity`, or a transfer coding other than `chunked`
    /// (which the HTTP server already removed).
    encoded: bool,
}

impl<'a> BodyHeaders<'a> {
    fn of(headers: &'a HeaderMap) -> Self {
        let mut seen = Self::default();
        for (name, value) in headers {
            if name == header::CONTENT_TYPE {
                seen.content_types += 1;
                seen.content_type.get_or_insert(value);
            } else if name == header::CONNECTION {
                seen.connection_names_checked |= names_checked_header(value);
            } else if name == header::CONTENT_ENCODING {
                seen.encoded |= !only_coding(value, "identity");
            } else if name == header::TRANSFER_ENCODING {
                seen.encoded |= !only_coding(value, "chunked");
            }
        }
        seen
    }
}

/// `Ok(true)` for a JSON body in UTF-8 (or no content type), `Ok(false)` for another content
/// type (gRPC included), an error for a header the guard cannot read or JSON in another charset.
fn content_type_is_json(headers: &BodyHeaders<'_>) -> Result<bool, AuthError> {
    let value = match (headers.content_type, headers.content_types) {
        (None, _) => return Ok(true),
        (Some(value), 1) => value,
        (Some(_), _) => {
            return Err(malformed("The Content-Type header appears more than once"));
        }
    };
    // What every MCP client sends, decided without splitting it into parameters.
    if value.as_bytes().eq_ignore_ascii_case(b"application/json") {
        return Ok(true);
    }
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

/// Whether one header value lists only `allowed` codings (or none).
fn only_coding(value: &HeaderValue, allowed: &str) -> bool {
    value.to_str().is_ok_and(|text| {
        text.split(',')
            .map(str::trim)
            .all(|coding| coding.is_empty() || coding.eq_ignore_ascii_case(allowed))
    })
}

/// Whether one `Connection` value names a header the guard decides on.
fn names_checked_header(value: &HeaderValue) -> bool {
    String::from_utf8_lossy(value.as_bytes())
        .split(',')
        .map(str::trim)
        .any(|name| CHECKED_HEADERS.iter().any(|c| c.eq_ignore_ascii_case(name)))
}

fn malformed(description: &'static str) -> AuthError {
    AuthError::new(ErrorCode::MalformedContentType, description)
}

pin_project! {
    /// Reads a whole body into one [`Bytes`], bounded by [`Limited`]. A body that arrives in
    /// one frame (the usual case: the server read it with the head) is that frame's buffer,
    /// handed on as is; a body in several frames is copied once into one buffer. Trailers are
    /// not kept (the guard judges the data).
    pub(crate) struct ReadWhole<B> {
        #[pin]
        body: Limited<B>,
        first: Option<Bytes>,
        joined: Option<BytesMut>,
    }
}

impl<B> ReadWhole<B> {
    pub(crate) fn new(body: B, limit: usize) -> Self {
        Self {
            body: Limited::new(body, limit),
            first: None,
            joined: None,
        }
    }
}

/// A body read error, as [`Limited`] reports it (a `LengthLimitError` past the bound).
pub(crate) type ReadError = Box<dyn std::error::Error + Send + Sync>;

impl<B> Future for ReadWhole<B>
where
    B: Body<Data = Bytes>,
    B::Error: Into<ReadError>,
{
    type Output = Result<Bytes, ReadError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            let Some(frame) = ready!(this.body.as_mut().poll_frame(cx)) else {
                let whole = match (this.joined.take(), this.first.take()) {
                    (Some(joined), _) => joined.freeze(),
                    (None, Some(first)) => first,
                    (None, None) => Bytes::new(),
                };
                return Poll::Ready(Ok(whole));
            };
            let Ok(data) = frame?.into_data() else {
                continue;
            };
            if data.is_empty() {
                continue;
            }
            if let Some(joined) = this.joined.as_mut() {
                joined.extend_from_slice(&data);
            } else if let Some(first) = this.first.take() {
                let mut joined = BytesMut::with_capacity(first.len() + data.len());
                joined.extend_from_slice(&first);
                joined.extend_from_slice(&data);
                *this.joined = Some(joined);
            } else {
                *this.first = Some(data);
            }
        }
    }
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

    /// A body of the given frames (data, then trailers if any).
    struct Frames(std::collections::VecDeque<http_body::Frame<Bytes>>);

    impl Body for Frames {
        type Data = Bytes;
        type Error = std::convert::Infallible;
        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
            Poll::Ready(self.0.pop_front().map(Ok))
        }
    }

    fn read(frames: Vec<http_body::Frame<Bytes>>, limit: usize) -> Result<Bytes, ReadError> {
        use futures_util::FutureExt;
        ReadWhole::new(Frames(frames.into()), limit)
            .now_or_never()
            .expect("ready")
    }

    #[test]
    fn read_whole_hands_one_frame_on_and_joins_several() {
        let one = Bytes::from_static(b"{\"jsonrpc\":\"2.0\"}");
        let read_one = read(vec![http_body::Frame::data(one.clone())], 64).unwrap();
        assert_eq!(read_one, one);
        // The same buffer, not a copy.
        assert_eq!(read_one.as_ptr(), one.as_ptr());
        let mut frames: Vec<_> = ["{\"a\"", "", ":", "1}"]
            .into_iter()
            .map(|part| http_body::Frame::data(Bytes::from_static(part.as_bytes())))
            .collect();
        frames.push(http_body::Frame::trailers(HeaderMap::new()));
        assert_eq!(&read(frames, 64).unwrap()[..], b"{\"a\":1}");
        assert_eq!(&read(vec![], 64).unwrap()[..], b"");
        let error = read(vec![http_body::Frame::data(one)], 4).unwrap_err();
        assert!(
            error
                .downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
        );
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
