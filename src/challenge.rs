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

use std::borrow::Cow;
use std::fmt;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Response, StatusCode, header};

use crate::body::ResponseBody;

/// A stable, machine-readable name for each failure; the `code` field of every error body.
///
/// The string forms ([`ErrorCode::as_str`]) are part of the public API and never change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// No bearer credentials in the request (401, challenge without `error`).
    MissingToken,
    /// The `Authorization` header is not a well-formed `Bearer <token>` (400 `invalid_request`).
    MalformedAuthorizationHeader,
    /// More than one credential: two `Authorization` headers (400 `invalid_request`).
    MultipleCredentials,
    /// A token in the query string, which OAuth 2.1 forbids (400 `invalid_request`).
    TokenInQuery,
    /// The token is longer than the configured bound (401 `invalid_token`).
    TokenTooLarge,
    /// A 5-part compact JWE: an encrypted token the resource server cannot read (401).
    EncryptedJwe,
    /// Not a 3-part compact JWS: an opaque or otherwise unreadable token (401).
    NotJws,
    /// A 3-part token whose header or claims are not valid base64url JSON (401).
    MalformedToken,
    /// The token's `alg` is not in the allowed list (`none` and HMAC never are) (401).
    AlgorithmNotAllowed,
    /// No key in the issuer's JWKS has the token's `kid`, even after a refresh (401).
    UnknownKeyId,
    /// The signature does not verify with the issuer's key (401).
    InvalidSignature,
    /// `exp` has passed (401).
    TokenExpired,
    /// `nbf` (or `iat`) is in the future (401).
    TokenNotYetValid,
    /// `iss` is not the configured issuer (401).
    InvalidIssuer,
    /// `aud` does not contain the configured audience (401).
    InvalidAudience,
    /// A required claim (`exp`, `iss`, `aud`, `sub`) is missing or has the wrong type (401).
    MissingClaim,
    /// The token needs a key that could not be fetched: the JWKS endpoint is failing (503).
    KeysUnavailable,
    /// The token lacks a scope the operation needs (403 `insufficient_scope`).
    InsufficientScope,
    /// MCP `Mcp-Method` / `Mcp-Name` headers disagree with the JSON-RPC body (400).
    McpHeaderMismatch,
    /// The scope policy refuses the operation whatever the token's scopes, e.g. a tool it does
    /// not name under `deny_unknown_tools` (403, no `WWW-Authenticate` error: no scope helps).
    OperationNotAllowed,
    /// The request body is larger than the layer will read (413).
    BodyTooLarge,
    /// The request body could not be read (400).
    BodyUnreadable,
    /// The layers are assembled wrongly, e.g. a scope guard without a bearer layer (500).
    Misconfigured,

    // The scope guard fails closed on what it cannot read, and sessions belong to their user.
    /// The body the guard must read is not JSON (RFC 8259): answered 400 with a JSON-RPC
    /// parse-error body (`-32700`). `NaN`, `Infinity`, comments and other extensions are refused.
    JsonRpcParseError,
    /// Something follows the first JSON value of the body (400, JSON-RPC parse-error body).
    TrailingData,
    /// The body is compressed or otherwise encoded (`Content-Encoding` other than `identity`),
    /// so the guard cannot read what the server would (415).
    UnsupportedContentEncoding,
    /// A body that is not JSON (or JSON in a charset other than UTF-8) on a route the policy
    /// marks as JSON-RPC (415).
    UnsupportedContentType,
    /// The `Content-Type` header is not visible ASCII, or appears more than once (400).
    MalformedContentType,
    /// The `Connection` header names a header the guard decides on (`Content-Type`,
    /// `Mcp-Method`, …), which a proxy would then strip after the decision (400).
    ConnectionNamesCheckedHeader,
    /// The body was still arriving when the guard's read timeout ran out (408).
    BodyReadTimeout,
    /// The `Mcp-Session-Id` is unknown, expired, or belongs to another user (404: MCP clients
    /// start a new session).
    SessionNotFound,
    // Verification beyond one issuer's JWTs (issue 15).
    /// The token header's `typ` is not one the verifier accepts, e.g. an ID token where RFC 9068
    /// `at+jwt` is required (401).
    InvalidTokenType,
    /// The introspection endpoint says the token is not active: revoked, expired or unknown
    /// (RFC 7662 `active: false`) (401).
    TokenInactive,
    /// The token cannot be checked: the introspection endpoint is failing or too slow (503).
    IntrospectionUnavailable,
}

impl ErrorCode {
    /// The stable string form, e.g. `"ACCESS_TOKEN_IS_ENCRYPTED_JWE"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::MissingToken => "MISSING_TOKEN",
            Self::MalformedAuthorizationHeader => "MALFORMED_AUTHORIZATION_HEADER",
            Self::MultipleCredentials => "MULTIPLE_CREDENTIALS",
            Self::TokenInQuery => "TOKEN_IN_QUERY",
            Self::TokenTooLarge => "ACCESS_TOKEN_TOO_LARGE",
            Self::EncryptedJwe => "ACCESS_TOKEN_IS_ENCRYPTED_JWE",
            Self::NotJws => "ACCESS_TOKEN_NOT_JWS",
            Self::MalformedToken => "ACCESS_TOKEN_MALFORMED",
            Self::AlgorithmNotAllowed => "ALGORITHM_NOT_ALLOWED",
            Self::UnknownKeyId => "UNKNOWN_KEY_ID",
            Self::InvalidSignature => "INVALID_SIGNATURE",
            Self::TokenExpired => "TOKEN_EXPIRED",
            Self::TokenNotYetValid => "TOKEN_NOT_YET_VALID",
            Self::InvalidIssuer => "INVALID_ISSUER",
            Self::InvalidAudience => "INVALID_AUDIENCE",
            Self::MissingClaim => "MISSING_CLAIM",
            Self::KeysUnavailable => "JWKS_UNAVAILABLE",
            Self::InsufficientScope => "insufficient_scope",
            Self::McpHeaderMismatch => "MCP_HEADER_MISMATCH",
            Self::OperationNotAllowed => "OPERATION_NOT_ALLOWED",
            Self::BodyTooLarge => "REQUEST_BODY_TOO_LARGE",
            Self::BodyUnreadable => "REQUEST_BODY_UNREADABLE",
            Self::Misconfigured => "SERVER_MISCONFIGURED",
            Self::JsonRpcParseError => "JSON_RPC_PARSE_ERROR",
            Self::TrailingData => "JSON_RPC_TRAILING_DATA",
            Self::UnsupportedContentEncoding => "UNSUPPORTED_CONTENT_ENCODING",
            Self::UnsupportedContentType => "UNSUPPORTED_CONTENT_TYPE",
            Self::MalformedContentType => "MALFORMED_CONTENT_TYPE",
            Self::ConnectionNamesCheckedHeader => "CONNECTION_NAMES_CHECKED_HEADER",
            Self::BodyReadTimeout => "REQUEST_BODY_TIMEOUT",
            Self::SessionNotFound => "MCP_SESSION_NOT_FOUND",
            Self::InvalidTokenType => "INVALID_TOKEN_TYPE",
            Self::TokenInactive => "TOKEN_INACTIVE",
            Self::IntrospectionUnavailable => "INTROSPECTION_UNAVAILABLE",
        }
    }

    /// The HTTP status this failure is answered with.
    pub const fn status(self) -> StatusCode {
        match self {
            Self::MissingToken
            | Self::TokenTooLarge
            | Self::EncryptedJwe
            | Self::NotJws
            | Self::MalformedToken
            | Self::AlgorithmNotAllowed
            | Self::UnknownKeyId
            | Self::InvalidSignature
            | Self::TokenExpired
            | Self::TokenNotYetValid
            | Self::InvalidIssuer
            | Self::InvalidAudience
            | Self::MissingClaim
            | Self::InvalidTokenType
            | Self::TokenInactive => StatusCode::UNAUTHORIZED,
            Self::MalformedAuthorizationHeader
            | Self::MultipleCredentials
            | Self::TokenInQuery
            | Self::McpHeaderMismatch
            | Self::BodyUnreadable
            | Self::JsonRpcParseError
            | Self::TrailingData
            | Self::MalformedContentType
            | Self::ConnectionNamesCheckedHeader => StatusCode::BAD_REQUEST,
            Self::UnsupportedContentEncoding | Self::UnsupportedContentType => {
                StatusCode::UNSUPPORTED_MEDIA_TYPE
            }
            Self::BodyReadTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::SessionNotFound => StatusCode::NOT_FOUND,
            Self::InsufficientScope | Self::OperationNotAllowed => StatusCode::FORBIDDEN,
            Self::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::KeysUnavailable | Self::IntrospectionUnavailable => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Self::Misconfigured => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The RFC 6750 §3.1 `error` attribute, or `None` where the challenge carries none
    /// (missing credentials) or the failure is not a bearer-token error at all.
    pub const fn rfc6750_error(self) -> Option<&'static str> {
        match self.status() {
            StatusCode::UNAUTHORIZED => match self {
                Self::MissingToken => None,
                _ => Some("invalid_token"),
            },
            StatusCode::BAD_REQUEST => Some("invalid_request"),
            StatusCode::FORBIDDEN => match self {
                Self::OperationNotAllowed => None,
                _ => Some("insufficient_scope"),
            },
            _ => None,
        }
    }

    /// The `error` field of the JSON body: the RFC 6750 code where there is one.
    pub const fn body_error(self) -> &'static str {
        match self.rfc6750_error() {
            Some(error) => error,
            None => match self {
                Self::MissingToken => "unauthorized",
                Self::KeysUnavailable | Self::IntrospectionUnavailable => "temporarily_unavailable",
                Self::BodyTooLarge => "request_too_large",
                Self::OperationNotAllowed => "access_denied",
                Self::UnsupportedContentEncoding | Self::UnsupportedContentType => {
                    "unsupported_media_type"
                }
                Self::BodyReadTimeout => "request_timeout",
                Self::SessionNotFound => "session_not_found",
                _ => "server_error",
            },
        }
    }

    /// True for the refusals answered with a JSON-RPC parse-error body (`-32700`).
    pub const fn is_json_rpc_parse_error(self) -> bool {
        matches!(self, Self::JsonRpcParseError | Self::TrailingData)
    }

    /// The gRPC status code (`grpc-status`) for gRPC requests.
    pub const fn grpc_status(self) -> u8 {
        match self.status() {
            StatusCode::UNAUTHORIZED => 16,          // UNAUTHENTICATED
            StatusCode::FORBIDDEN => 7,              // PERMISSION_DENIED
            StatusCode::BAD_REQUEST => 3,            // INVALID_ARGUMENT
            StatusCode::PAYLOAD_TOO_LARGE => 8,      // RESOURCE_EXHAUSTED
            StatusCode::UNSUPPORTED_MEDIA_TYPE => 3, // INVALID_ARGUMENT
            StatusCode::REQUEST_TIMEOUT => 4,        // DEADLINE_EXCEEDED
            StatusCode::NOT_FOUND => 5,              // NOT_FOUND
            StatusCode::SERVICE_UNAVAILABLE => 14,   // UNAVAILABLE
            _ => 13,                                 // INTERNAL
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failure to authenticate or authorize a request, as the client will see it.
///
/// Build one with the constructors ([`AuthError::new`], [`AuthError::missing_token`],
/// [`AuthError::insufficient_scope`]) and render it with a [`Challenge`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {description}")]
pub struct AuthError {
    code: ErrorCode,
    description: Cow<'static, str>,
    required_scopes: Vec<String>,
    missing_scopes: Vec<String>,
    operation: Option<String>,
}

impl AuthError {
    /// A failure with the given code and description.
    ///
    /// The description is sent to the client: never put a secret or the token in it.
    pub fn new(code: ErrorCode, description: impl Into<Cow<'static, str>>) -> Self {
        Self {
            code,
            description: description.into(),
            required_scopes: Vec::new(),
            missing_scopes: Vec::new(),
            operation: None,
        }
    }

    /// The request carries no bearer token (RFC 6750 §3.1: a challenge without `error`).
    pub fn missing_token() -> Self {
        Self::new(
            ErrorCode::MissingToken,
            "The request has no bearer access token; send Authorization: Bearer <token>",
        )
    }

    /// The request has no token, and `operation` is not public: a 401 whose challenge `scope`
    /// names `scopes` (what the client should ask for: the operation's, or every scope of the
    /// policy), and whose JSON body names the operation.
    pub fn token_required(operation: impl Into<String>, scopes: Vec<String>) -> Self {
        let operation = operation.into();
        let description = if scopes.is_empty() {
            format!("{operation} requires an access token; send Authorization: Bearer <token>")
        } else {
            format!(
                "{operation} requires an access token with the scope(s) {}",
                scopes.join(" ")
            )
        };
        Self {
            code: ErrorCode::MissingToken,
            description: description.into(),
            required_scopes: scopes,
            missing_scopes: Vec::new(),
            operation: Some(operation),
        }
    }

    /// The token lacks scopes: `required` are every scope `operation` needs (they go in the
    /// challenge's `scope` attribute, MCP SEP-2350), `missing` the ones the token lacks.
    pub fn insufficient_scope(
        operation: impl Into<String>,
        required: Vec<String>,
        missing: Vec<String>,
    ) -> Self {
        let operation = operation.into();
        let description = format!(
            "{operation} requires the scope(s) {}; the token lacks {}",
            required.join(" "),
            missing.join(" ")
        );
        Self {
            code: ErrorCode::InsufficientScope,
            description: description.into(),
            required_scopes: required,
            missing_scopes: missing,
            operation: Some(operation),
        }
    }

    /// The stable code.
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// The human-readable description (the `error_description`).
    pub fn description(&self) -> &str {
        &self.description
    }

    /// For `insufficient_scope`: every scope the operation requires.
    pub fn required_scopes(&self) -> &[String] {
        &self.required_scopes
    }

    /// For `insufficient_scope`: the required scopes the token does not have.
    pub fn missing_scopes(&self) -> &[String] {
        &self.missing_scopes
    }

    /// For `insufficient_scope`: what was refused (`tools/call search`, `POST /admin`, …).
    pub fn operation(&self) -> Option<&str> {
        self.operation.as_deref()
    }

    /// [`to_json`](Self::to_json) serialized, written directly (no intermediate `Value`); the
    /// same bytes, keys in the same (sorted) order.
    fn json_body(&self) -> Bytes {
        if self.code.is_json_rpc_parse_error() {
            // Rare and small: the `Value` route is fine here.
            return Bytes::from(self.to_json().to_string());
        }
        #[derive(serde::Serialize)]
        struct Body<'a> {
            code: &'static str,
            error: &'static str,
            error_description: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            missing_scopes: Option<&'a [String]>,
            #[serde(skip_serializing_if = "Option::is_none")]
            operation: Option<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            scope: Option<String>,
        }
        let scope_error = self.code == ErrorCode::InsufficientScope;
        let token_required = self.is_token_required();
        let body = Body {
            code: self.code.as_str(),
            error: self.code.body_error(),
            error_description: &self.description,
            missing_scopes: scope_error.then_some(self.missing_scopes.as_slice()),
            operation: self
                .operation
                .as_deref()
                .filter(|_| scope_error || token_required),
            scope: (scope_error || (token_required && !self.required_scopes.is_empty()))
                .then(|| self.required_scopes.join(" ")),
        };
        // Serializing strings and string lists cannot fail; an empty body keeps the no-panic
        // promise regardless.
        serde_json::to_vec(&body)
            .map(Bytes::from)
            .unwrap_or_default()
    }

    /// The JSON body: `{"error", "code", "error_description"}`, plus `scope`,
    /// `missing_scopes` and `operation` for `insufficient_scope`.
    ///
    /// For [`ErrorCode::JsonRpcParseError`] and [`ErrorCode::TrailingData`] the body is a
    /// JSON-RPC 2.0 parse error (`{"jsonrpc": "2.0", "id": null, "error": {"code": -32700,
    /// "message": "Parse error", "data": {"error", "code", "error_description"}}}`), which MCP
    /// clients read as the server's own answer.
    pub fn to_json(&self) -> serde_json::Value {
        if self.code.is_json_rpc_parse_error() {
            return serde_json::json!({
                "jsonrpc": "2.0",
                "id": null,
                "error": {
                    "code": -32700,
                    "message": "Parse error",
                    "data": {
                        "error": self.code.body_error(),
                        "code": self.code.as_str(),
                        "error_description": self.description,
                    },
                },
            });
        }
        let mut body = serde_json::json!({
            "error": self.code.body_error(),
            "code": self.code.as_str(),
            "error_description": self.description,
        });
        if self.code == ErrorCode::InsufficientScope {
            body["scope"] = self.required_scopes.join(" ").into();
            body["missing_scopes"] = self.missing_scopes.clone().into();
            if let Some(operation) = &self.operation {
                body["operation"] = operation.clone().into();
            }
        } else if self.is_token_required() {
            if !self.required_scopes.is_empty() {
                body["scope"] = self.required_scopes.join(" ").into();
            }
            if let Some(operation) = &self.operation {
                body["operation"] = operation.clone().into();
            }
        }
        body
    }

    /// A [`token_required`](Self::token_required) refusal (no token, for a named operation).
    fn is_token_required(&self) -> bool {
        self.code == ErrorCode::MissingToken && self.operation.is_some()
    }
}

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
        self.www_authenticate_with_error(error, error.code.rfc6750_error())
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
        if error.code == ErrorCode::InsufficientScope
            || (error.is_token_required() && !error.required_scopes.is_empty())
        {
            push("scope", &rfc6750_text(&error.required_scopes.join(" ")));
        } else if error.code.status() == StatusCode::UNAUTHORIZED
            && let Some(hint) = &self.scope_hint
        {
            push("scope", &rfc6750_text(hint));
        }
        if rfc_error.is_some() {
            push("error_description", &rfc6750_text(&error.description));
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
    ) -> Response<ResponseBody<B>> {
        if !is_grpc(request_headers) {
            return self.render_http(error).response();
        }
        let mut response = Response::new(ResponseBody::empty());
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/grpc"),
        );
        headers.insert(
            "grpc-status",
            HeaderValue::from(u16::from(error.code.grpc_status())),
        );
        if let Ok(message) = HeaderValue::from_str(&grpc_percent_encode(&format!(
            "{}: {}",
            error.code.as_str(),
            error.description
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
        RenderedRefusal {
            status: error.code.status(),
            www_authenticate: carries_challenge(error).then(|| self.www_authenticate(error)),
            body: error.json_body(),
        }
    }
}

/// Every RFC 6750 failure carries the challenge; a refusal no token can fix does not.
fn carries_challenge(error: &AuthError) -> bool {
    error.code.rfc6750_error().is_some() || error.code == ErrorCode::MissingToken
}

/// An HTTP refusal rendered once: building the answer from it copies no text.
#[derive(Debug, Clone)]
pub(crate) struct RenderedRefusal {
    status: StatusCode,
    www_authenticate: Option<HeaderValue>,
    body: Bytes,
}

impl RenderedRefusal {
    /// The answer: status, JSON body, `WWW-Authenticate` (if any), `Cache-Control: no-store`.
    pub(crate) fn response<B>(&self) -> Response<ResponseBody<B>> {
        let mut response = Response::new(ResponseBody::full(self.body.clone()));
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Some(value) = &self.www_authenticate {
            headers.insert(header::WWW_AUTHENTICATE, value.clone());
        }
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
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

    #[test]
    fn json_body_is_to_json_serialized() {
        for err in [
            AuthError::missing_token(),
            AuthError::new(ErrorCode::InvalidSignature, "bad \"sig\" \u{e9}"),
            AuthError::new(ErrorCode::JsonRpcParseError, "not JSON"),
            AuthError::insufficient_scope(
                "tools/call docs.create",
                vec!["docs.read".into(), "docs.write".into()],
                vec!["docs.write".into()],
            ),
        ] {
            assert_eq!(err.json_body(), err.to_json().to_string().into_bytes());
        }
    }

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
        let response: Response<ResponseBody<String>> =
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

    #[test]
    fn http_error_body_is_json_with_stable_code() {
        let err = AuthError::new(ErrorCode::EncryptedJwe, "encrypted");
        let json = err.to_json();
        assert_eq!(json["error"], "invalid_token");
        assert_eq!(json["code"], "ACCESS_TOKEN_IS_ENCRYPTED_JWE");
        assert_eq!(json["error_description"], "encrypted");
    }
}
