//! The error model: every failure a client can see is an [`AuthError`] with a stable
//! machine-readable [`ErrorCode`].
//!
//! This module says *what* went wrong (code, status, RFC 6750 `error`, description, the scopes an
//! operation needs); [`challenge`](crate::challenge) says *how* it is answered (the
//! `WWW-Authenticate` header, the JSON body, the gRPC form).
//!
//! ```
//! use tower_mcp_auth::error::{AuthError, ErrorCode};
//!
//! let error = AuthError::missing_token();
//! assert_eq!(error.code(), ErrorCode::MissingToken);
//! assert_eq!(error.code().status(), 401);
//! assert_eq!(error.to_json()["error"], "unauthorized");
//! ```

use std::borrow::Cow;
use std::fmt;

use bytes::Bytes;
use http::StatusCode;

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
    /// Every code, in declaration order (for documentation and tooling: the README's error table
    /// is checked against it).
    pub const ALL: &'static [ErrorCode] = &[
        Self::MissingToken,
        Self::MalformedAuthorizationHeader,
        Self::MultipleCredentials,
        Self::TokenInQuery,
        Self::TokenTooLarge,
        Self::EncryptedJwe,
        Self::NotJws,
        Self::MalformedToken,
        Self::AlgorithmNotAllowed,
        Self::UnknownKeyId,
        Self::InvalidSignature,
        Self::TokenExpired,
        Self::TokenNotYetValid,
        Self::InvalidIssuer,
        Self::InvalidAudience,
        Self::MissingClaim,
        Self::KeysUnavailable,
        Self::InsufficientScope,
        Self::McpHeaderMismatch,
        Self::OperationNotAllowed,
        Self::BodyTooLarge,
        Self::BodyUnreadable,
        Self::Misconfigured,
        Self::JsonRpcParseError,
        Self::TrailingData,
        Self::UnsupportedContentEncoding,
        Self::UnsupportedContentType,
        Self::MalformedContentType,
        Self::ConnectionNamesCheckedHeader,
        Self::BodyReadTimeout,
        Self::SessionNotFound,
        Self::InvalidTokenType,
        Self::TokenInactive,
        Self::IntrospectionUnavailable,
    ];

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
/// [`AuthError::insufficient_scope`]) and render it with a [`Challenge`](crate::Challenge).
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

    /// The JSON body as it is serialized; [`json_body`](Self::json_body) and
    /// [`to_json`](Self::to_json) both come from it, so they cannot disagree.
    fn body(&self) -> JsonBody<'_> {
        let scope_error = self.code == ErrorCode::InsufficientScope;
        let token_required = self.is_token_required();
        JsonBody {
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
        }
    }

    /// A [`token_required`](Self::token_required) refusal (no token, for a named operation).
    pub(crate) fn is_token_required(&self) -> bool {
        self.code == ErrorCode::MissingToken && self.operation.is_some()
    }

    /// The JSON body's bytes, written directly (no intermediate `Value`).
    pub(crate) fn json_body(&self) -> Bytes {
        if self.code.is_json_rpc_parse_error() {
            // Rare and small: the `Value` route is fine here.
            return Bytes::from(self.to_json().to_string());
        }
        // Serializing strings and string lists cannot fail; an empty body is the fallback a
        // library that never panics on input needs regardless.
        serde_json::to_vec(&self.body())
            .map(Bytes::from)
            .unwrap_or_default()
    }

    /// The JSON body: `{"error", "code", "error_description"}`, plus `scope`,
    /// `missing_scopes` and `operation` for `insufficient_scope`, and `scope` (when it names
    /// any) and `operation` for a [`token_required`](Self::token_required) refusal.
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
        serde_json::to_value(self.body()).unwrap_or_default()
    }
}

/// The JSON body of every HTTP refusal.
#[derive(serde::Serialize)]
struct JsonBody<'a> {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Fails to compile when a variant is added and not given a place here; the test below then
    /// fails until it is in [`ErrorCode::ALL`] at that place.
    fn position(code: ErrorCode) -> usize {
        use ErrorCode::*;
        match code {
            MissingToken => 0,
            MalformedAuthorizationHeader => 1,
            MultipleCredentials => 2,
            TokenInQuery => 3,
            TokenTooLarge => 4,
            EncryptedJwe => 5,
            NotJws => 6,
            MalformedToken => 7,
            AlgorithmNotAllowed => 8,
            UnknownKeyId => 9,
            InvalidSignature => 10,
            TokenExpired => 11,
            TokenNotYetValid => 12,
            InvalidIssuer => 13,
            InvalidAudience => 14,
            MissingClaim => 15,
            KeysUnavailable => 16,
            InsufficientScope => 17,
            McpHeaderMismatch => 18,
            OperationNotAllowed => 19,
            BodyTooLarge => 20,
            BodyUnreadable => 21,
            Misconfigured => 22,
            JsonRpcParseError => 23,
            TrailingData => 24,
            UnsupportedContentEncoding => 25,
            UnsupportedContentType => 26,
            MalformedContentType => 27,
            ConnectionNamesCheckedHeader => 28,
            BodyReadTimeout => 29,
            SessionNotFound => 30,
            InvalidTokenType => 31,
            TokenInactive => 32,
            IntrospectionUnavailable => 33,
        }
    }

    #[test]
    fn all_lists_every_code_once_in_order() {
        for (index, code) in ErrorCode::ALL.iter().enumerate() {
            assert_eq!(position(*code), index, "{code}");
        }
        assert_eq!(ErrorCode::ALL.len(), 34);
    }

    /// The README's "Errors clients see" table: one row per code (or group of codes), with the
    /// status and body `error` each code is answered with, and every code in exactly one row.
    #[test]
    fn readme_error_table_matches_error_code() {
        let readme = include_str!("../README.md");
        let section = readme
            .split("## Errors clients see")
            .nth(1)
            .and_then(|rest| rest.split("\n## ").next())
            .expect("README has an \"Errors clients see\" section");
        let mut seen = Vec::new();
        for row in section.lines().filter(|l| l.starts_with("| ")) {
            let cells: Vec<&str> = row.split('|').map(str::trim).collect();
            let (status, error, codes) = (cells[1], cells[2], cells[3]);
            if status == "status" || status.starts_with("---") {
                continue;
            }
            for name in codes.split(", ") {
                let name = name.trim_matches('`');
                let code = ErrorCode::ALL
                    .iter()
                    .find(|c| c.as_str() == name)
                    .unwrap_or_else(|| panic!("README names an unknown code {name}"));
                assert_eq!(status, code.status().as_str(), "status of {name}");
                assert_eq!(error, format!("`{}`", code.body_error()), "error of {name}");
                assert!(!seen.contains(code), "{name} is in two rows");
                seen.push(*code);
            }
        }
        for code in ErrorCode::ALL {
            assert!(seen.contains(code), "the README's error table lacks {code}");
        }
    }

    #[test]
    fn json_body_is_to_json_serialized() {
        for err in [
            AuthError::missing_token(),
            AuthError::new(ErrorCode::InvalidSignature, "bad \"sig\" \u{e9}"),
            AuthError::new(ErrorCode::JsonRpcParseError, "not JSON"),
            AuthError::token_required("tools/call search", vec!["search.read".into()]),
            AuthError::token_required("tools/call search", Vec::new()),
            AuthError::insufficient_scope(
                "tools/call docs.create",
                vec!["docs.read".into(), "docs.write".into()],
                vec!["docs.write".into()],
            ),
        ] {
            let parsed: serde_json::Value = serde_json::from_slice(&err.json_body()).unwrap();
            assert_eq!(parsed, err.to_json());
        }
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
