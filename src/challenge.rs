//! Authentication and authorization failures, and how they are answered.
//!
//! Every failure a client can see is an [`AuthError`]: a stable machine-readable [`ErrorCode`], a
//! human description, and for `insufficient_scope` the scopes the operation needs. A [`Challenge`]
//! (the realm, the RFC 9728 `resource_metadata` URL and an optional scope hint, shared by every
//! layer of one protected resource) renders it as an HTTP answer:
//!
//! - RFC 6750 §3 `WWW-Authenticate: Bearer …` header, every attribute a correctly escaped
//!   quoted-string;
//! - a JSON body `{"error": "...", "code": "...", "error_description": "..."}`;
//! - for gRPC requests (`content-type: application/grpc*`), HTTP 200 with `grpc-status` and
//!   `grpc-message`, as gRPC clients expect, and the same `WWW-Authenticate` header.
//!
//! ```
//! use tower_mcp_auth::challenge::{AuthError, Challenge};
//!
//! let challenge = Challenge::new()
//!     .resource_metadata("https://api.example.com/.well-known/oauth-protected-resource/mcp");
//! let header = challenge.www_authenticate(&AuthError::missing_token());
//! assert_eq!(
//!     header.to_str().unwrap(),
//!     r#"Bearer resource_metadata="https://api.example.com/.well-known/oauth-protected-resource/mcp""#
//! );
//! ```
//!
//! The error model itself ([`AuthError`], [`ErrorCode`]) lives in [`error`](crate::error); it is
//! re-exported here, where it has always been named from.

use std::borrow::Cow;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Response, StatusCode, header};

use crate::body::LayerBody;
pub use crate::error::{AuthError, ErrorCode};

/// A `realm` that [`Challenge::realm`] refuses: it contains `"` or `\`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "realm `{realm}` contains `\"` or `\\`, which some MCP clients' challenge parsers cannot read"
)]
pub struct InvalidRealm {
    /// The realm as given.
    pub realm: String,
}

/// What every challenge of one protected resource says besides the error: the RFC 9728
/// `resource_metadata` URL, an optional `realm`, and an optional `scope` hint for 401s (MCP
/// 2025-11-25: it guides the scopes a client asks for).
///
/// One `Challenge` is shared by [`BearerAuthLayer`](crate::bearer::BearerAuthLayer) and
/// [`ScopeGuardLayer`](crate::scope::ScopeGuardLayer), so both point clients to the same metadata.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[must_use = "a challenge does nothing until a layer is given it"]
pub struct Challenge {
    realm: Option<String>,
    resource_metadata: Option<String>,
    scope_hint: Option<String>,
}

impl Challenge {
    /// A challenge with no attributes yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the `realm` attribute; a realm containing `"` or `\` is refused: escaped, it is
    /// valid HTTP, but VS Code's challenge parser toggles on every `"` and would lose every
    /// later attribute, `resource_metadata` included.
    ///
    /// ```
    /// use tower_mcp_auth::Challenge;
    ///
    /// assert!(Challenge::new().realm("mcp").is_ok());
    /// assert!(Challenge::new().realm(r#"my "mcp""#).is_err());
    /// ```
    pub fn realm(mut self, realm: impl Into<String>) -> Result<Self, InvalidRealm> {
        let realm = realm.into();
        if realm.contains(['"', '\\']) {
            return Err(InvalidRealm { realm });
        }
        self.realm = Some(realm);
        Ok(self)
    }

    /// Sets the RFC 9728 §5.1 `resource_metadata` URL.
    pub fn resource_metadata(mut self, url: impl Into<String>) -> Self {
        self.resource_metadata = Some(url.into());
        self
    }

    /// Sets the scopes named in the `scope` attribute of 401 challenges (space separated).
    pub fn scope_hint<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let joined = scopes
            .into_iter()
            .map(|s| s.as_ref().to_owned())
            .collect::<Vec<_>>()
            .join(" ");
        self.scope_hint = (!joined.is_empty()).then_some(joined);
        self
    }

    /// The `resource_metadata` URL, if set.
    pub fn resource_metadata_url(&self) -> Option<&str> {
        self.resource_metadata.as_deref()
    }

    /// Renders the `WWW-Authenticate` header value for `error` (RFC 6750 §3).
    pub fn www_authenticate(&self, error: &AuthError) -> HeaderValue {
        self.www_authenticate_with_error(error, error.code().rfc6750_error())
    }

    /// [`www_authenticate`](Self::www_authenticate) with `rfc_error` as the `error` attribute
    /// (a tool-result challenge names one even for a missing token).
    pub(crate) fn www_authenticate_with_error(
        &self,
        error: &AuthError,
        rfc_error: Option<&str>,
    ) -> HeaderValue {
        let mut out = String::from("Bearer");
        let mut push = |name: &str, value: &str| {
            out.push_str(if out.len() == "Bearer".len() {
                " "
            } else {
                ", "
            });
            out.push_str(name);
            out.push_str("=\"");
            push_quoted(&mut out, value);
            out.push('"');
        };
        if let Some(realm) = &self.realm {
            push("realm", realm);
        }
        if let Some(url) = &self.resource_metadata {
            push("resource_metadata", url);
        }
        // `error` and `scope` come before `error_description`: the TS, Python and rmcp
        // parsers take the first `scope=` / `error=` anywhere in the header, and a description
        // can contain either (a resource URI with a query string).
        if let Some(rfc_error) = rfc_error {
            push("error", rfc_error);
        }
        if error.code() == ErrorCode::InsufficientScope
            || (error.is_token_required() && !error.required_scopes().is_empty())
        {
            push("scope", &rfc6750_text(&error.required_scopes().join(" ")));
        } else if error.code().status() == StatusCode::UNAUTHORIZED
            && let Some(hint) = &self.scope_hint
        {
            push("scope", &rfc6750_text(hint));
        }
        if rfc_error.is_some() {
            push("error_description", &rfc6750_text(error.description()));
        }
        // Every byte pushed is visible ASCII or space, so this cannot fail; the fallback keeps
        // the no-panic promise regardless.
        HeaderValue::from_str(&out).unwrap_or_else(|_| HeaderValue::from_static("Bearer"))
    }

    /// Builds the whole answer for `error`: status, `WWW-Authenticate` (for 400/401/403) and JSON
    /// body, or the gRPC form when `request_headers` says the request is gRPC.
    pub fn response<B>(
        &self,
        error: &AuthError,
        request_headers: &HeaderMap,
    ) -> Response<LayerBody<B>> {
        if !is_grpc(request_headers) {
            return self.render_http(error).into_response();
        }
        let mut response = Response::new(LayerBody::empty());
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/grpc"),
        );
        headers.insert(
            "grpc-status",
            HeaderValue::from(u16::from(error.code().grpc_status())),
        );
        if let Ok(message) = HeaderValue::from_str(&grpc_percent_encode(&format!(
            "{}: {}",
            error.code().as_str(),
            error.description()
        ))) {
            headers.insert("grpc-message", message);
        }
        if carries_challenge(error) {
            headers.insert(header::WWW_AUTHENTICATE, self.www_authenticate(error));
        }
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }

    /// The HTTP (non-gRPC) answer for `error`, as parts that can be kept and reused.
    pub(crate) fn render_http(&self, error: &AuthError) -> RenderedRefusal {
        RenderedRefusal::new(
            error.code().status(),
            carries_challenge(error).then(|| self.www_authenticate(error)),
            error.json_body(),
        )
    }
}

/// Warns once per layer (clones share the flag) when a layer is put in service with a challenge
/// that has no `resource_metadata`: its 401s would not tell MCP clients where the issuer is.
#[derive(Debug, Clone, Default)]
pub(crate) struct MetadataWarning(std::sync::Arc<std::sync::atomic::AtomicBool>);

impl MetadataWarning {
    pub(crate) fn check(&self, layer: &'static str, challenge: &Challenge) {
        use std::sync::atomic::Ordering;
        if challenge.resource_metadata.is_none() && !self.0.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                layer,
                "{layer} has no resource_metadata URL: its refusals will not tell MCP clients \
                 where to find the authorization server. Use McpAuth, or give the layer \
                 .challenge(prm.challenge())"
            );
        }
    }
}

/// Every RFC 6750 failure carries the challenge; a refusal no token can fix does not.
fn carries_challenge(error: &AuthError) -> bool {
    error.code().rfc6750_error().is_some() || error.code() == ErrorCode::MissingToken
}

/// An HTTP refusal rendered once: building the answer from it copies no text.
#[derive(Debug, Clone)]
pub(crate) struct RenderedRefusal {
    status: StatusCode,
    // Built whole once: an answer clones the map (reference-counted values, no hashing)
    // instead of inserting each header into an empty one. `Content-Length` is in it too, so
    // the server (axum's `set_content_length`, hyper) has nothing to add.
    headers: HeaderMap,
    body: Bytes,
}

impl RenderedRefusal {
    fn new(status: StatusCode, www_authenticate: Option<HeaderValue>, body: Bytes) -> Self {
        let mut headers = HeaderMap::with_capacity(4);
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Some(value) = www_authenticate {
            headers.insert(header::WWW_AUTHENTICATE, value);
        }
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
        Self {
            status,
            headers,
            body,
        }
    }

    /// The answer: status, JSON body, `WWW-Authenticate` (if any), `Cache-Control: no-store`,
    /// `Content-Type` and `Content-Length`.
    pub(crate) fn response<B>(&self) -> Response<LayerBody<B>> {
        answer(self.status, self.headers.clone(), self.body.clone())
    }

    /// [`response`](Self::response) of a refusal rendered for one answer only: moves the map.
    pub(crate) fn into_response<B>(self) -> Response<LayerBody<B>> {
        answer(self.status, self.headers, self.body)
    }
}

fn answer<B>(status: StatusCode, headers: HeaderMap, body: Bytes) -> Response<LayerBody<B>> {
    let mut response = Response::new(LayerBody::full(body));
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    response
}

/// True for gRPC requests (`content-type: application/grpc`, `application/grpc+proto`, …).
pub fn is_grpc(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            ct.get(..16)
                .is_some_and(|p| p.eq_ignore_ascii_case("application/grpc"))
        })
}

/// Appends `value` as the inside of an RFC 9110 quoted-string: `"` and `\` become quoted pairs,
/// anything that is not visible ASCII or space becomes `?`.
fn push_quoted(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            ' ' | '\x21'..='\x7e' => out.push(c),
            _ => out.push('?'),
        }
    }
}

/// RFC 6750 §3 restricts `error_description` and `scope` to %x20-21 / %x23-5B / %x5D-7E: no `"`
/// and no `\` even escaped, so those (which only reach us from request data such as a tool name)
/// are replaced.
fn rfc6750_text(value: &str) -> Cow<'_, str> {
    if value
        .bytes()
        .all(|b| matches!(b, 0x20..=0x21 | 0x23..=0x5b | 0x5d..=0x7e))
    {
        return Cow::Borrowed(value);
    }
    Cow::Owned(
        value
            .chars()
            .map(|c| match c {
                '"' => '\'',
                '\\' => '/',
                ' ' | '\x21'..='\x7e' => c,
                _ => '?',
            })
            .collect(),
    )
}

/// gRPC's `grpc-message` is percent-encoded UTF-8 (gRPC over HTTP/2 spec).
fn grpc_percent_encode(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    for b in message.bytes() {
        if (0x20..=0x7e).contains(&b) && b != b'%' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn challenge() -> Challenge {
        Challenge::new()
            .resource_metadata("https://rs.example/.well-known/oauth-protected-resource")
    }

    #[test]
    fn missing_token_challenge_has_no_error_attribute() {
        let value = challenge().www_authenticate(&AuthError::missing_token());
        assert_eq!(
            value,
            r#"Bearer resource_metadata="https://rs.example/.well-known/oauth-protected-resource""#
        );
    }

    #[test]
    fn invalid_token_challenge_carries_error_description_and_scope_hint() {
        let err = AuthError::new(ErrorCode::TokenExpired, "The access token expired");
        let value = challenge()
            .realm("mcp")
            .unwrap()
            .scope_hint(["a", "b"])
            .www_authenticate(&err);
        assert_eq!(
            value,
            r#"Bearer realm="mcp", resource_metadata="https://rs.example/.well-known/oauth-protected-resource", error="invalid_token", scope="a b", error_description="The access token expired""#
        );
    }

    #[test]
    fn insufficient_scope_lists_only_required_scopes() {
        let err = AuthError::insufficient_scope(
            "tools/call search",
            vec!["search.read".into(), "x".into()],
            vec!["x".into()],
        );
        let value = challenge().scope_hint(["other"]).www_authenticate(&err);
        let value = value.to_str().unwrap();
        assert!(
            value.contains(
                r#"error="insufficient_scope", scope="search.read x", error_description=""#
            ),
            "{value}"
        );
        assert!(!value.contains("other"));
    }

    #[test]
    fn hostile_description_stays_one_valid_quoted_string() {
        let err = AuthError::new(ErrorCode::MalformedToken, "a \"quoted\" \\ back\nslash é");
        let value = challenge().realm("r?e?alm").unwrap().www_authenticate(&err);
        let value = value.to_str().unwrap();
        assert!(value.contains(r#"realm="r?e?alm""#), "{value}");
        assert!(
            value.contains(r#"error_description="a 'quoted' / back?slash ?""#),
            "{value}"
        );
    }

    #[test]
    fn grpc_requests_get_grpc_status_in_headers() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/grpc+proto"),
        );
        let response: Response<LayerBody<String>> =
            challenge().response(&AuthError::missing_token(), &headers);
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["grpc-status"], "16");
        assert!(
            response.headers()["grpc-message"]
                .to_str()
                .unwrap()
                .starts_with("MISSING_TOKEN")
        );
        assert!(response.headers().contains_key(header::WWW_AUTHENTICATE));
    }
}
