//! What can go wrong talking to the Management API. No variant ever holds a token or a secret.

/// A failed Management API call (after any retries).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ManagementError {
    /// Auth0 answered with an error status; `error_code` and `message` are Auth0's own.
    #[error("Auth0 Management API {operation} answered {status} ({}): {message}", error_code.as_deref().unwrap_or("no errorCode"))]
    Api {
        /// Which call failed, e.g. `create_client_grant`.
        operation: &'static str,
        /// The HTTP status.
        status: u16,
        /// Auth0's `errorCode`, when the body had one.
        error_code: Option<String>,
        /// Auth0's `message` (or `error_description` from the token endpoint).
        message: String,
    },
    /// The token endpoint refused the client credentials or failed.
    #[error("Auth0 token endpoint answered {status} ({}): {message}", error_code.as_deref().unwrap_or("no error code"))]
    Token {
        /// The HTTP status.
        status: u16,
        /// The OAuth `error` or Auth0 `errorCode`.
        error_code: Option<String>,
        /// The description Auth0 gave.
        message: String,
    },
    /// No answer within the request timeout.
    #[error("Auth0 Management API {operation} timed out")]
    Timeout {
        /// Which call timed out.
        operation: &'static str,
    },
    /// The request could not be sent or the answer not read (connection refused, TLS, …).
    #[error("Auth0 Management API {operation} transport error: {detail}")]
    Transport {
        /// Which call failed.
        operation: &'static str,
        /// The transport error, without URL.
        detail: String,
    },
    /// The answer was not the JSON the call expects.
    #[error("Auth0 Management API {operation} answered unexpected JSON: {detail}")]
    Decode {
        /// Which call failed.
        operation: &'static str,
        /// The parse error.
        detail: String,
    },
    /// A configured connection name does not exist in the tenant.
    #[error("no Auth0 connection named {name:?}")]
    ConnectionNotFound {
        /// The configured name.
        name: String,
    },
    /// Auth0's answers contradict each other, e.g. a 409 on create but no grant listed after.
    #[error("Auth0 Management API {operation} answered inconsistently: {detail}")]
    Inconsistent {
        /// Which call saw it.
        operation: &'static str,
        /// What did not add up.
        detail: String,
    },
    /// The client is misconfigured (bad base URL, plain http to a non-loopback host, …).
    #[error("Auth0 Management client configuration: {0}")]
    Config(#[from] ManagementConfigError),
}

/// Why a [`ManagementClient`](super::ManagementClient) could not be built.
///
/// Comparable and cloneable like [`ManagementError`], so the causes below are kept as their
/// text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ManagementConfigError {
    /// The Management API domain is empty.
    #[error("the Management API domain is empty")]
    EmptyDomain,
    /// [`client_credentials`](super::ManagementClientBuilder::client_credentials) was never
    /// called.
    #[error(
        "no client credentials: call `.client_credentials(client_id, ClientSecret::new(..))` with the Machine-to-Machine app's"
    )]
    MissingClientCredentials,
    /// The base URL does not parse.
    #[error("the Management API base URL `{url}` is not a valid URL: {reason}")]
    InvalidBaseUrl {
        /// The URL given.
        url: String,
        /// Why it does not parse.
        reason: String,
    },
    /// The base URL is neither `https` nor `http` on a loopback host.
    #[error("the Management API base URL must be https (http only for loopback), got {scheme}://")]
    InsecureBaseUrl {
        /// The URL's scheme.
        scheme: String,
    },
    /// The base URL cannot have path segments (e.g. `mailto:`).
    #[error("the Management API base URL `{url}` cannot have a path")]
    BaseUrlWithoutPath {
        /// The URL given.
        url: String,
    },
    /// The HTTP client could not be built.
    #[error("could not build the HTTP client: {reason}")]
    HttpClient {
        /// The HTTP library's reason.
        reason: String,
    },
}

impl ManagementError {
    /// The HTTP status Auth0 answered, if it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Api { status, .. } | Self::Token { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Whether this is Auth0's 404 (the resource does not exist).
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::Api { status: 404, .. })
    }

    /// Whether this is Auth0's 409 (the resource already exists).
    pub fn is_conflict(&self) -> bool {
        matches!(self, Self::Api { status: 409, .. })
    }

    /// Whether delivering the batch again can succeed where this failed, so the webhook should
    /// answer 503: rate limits (429), Auth0's own failures (5xx), timeouts and transport errors,
    /// an expired or refused Management token (401), a missing Management API scope (403
    /// `insufficient_scope`: the operator grants it and the redelivery succeeds), answers that
    /// are not what Auth0 documents (a proxy page, an inconsistency), and configuration the
    /// operator must fix (an unknown connection name). Every other 4xx — a field Auth0 refuses
    /// (400), a client deleted meanwhile (404) — comes back the same on every redelivery.
    pub fn redelivery_can_fix(&self) -> bool {
        match self {
            Self::Api { status, .. } => {
                matches!(status, 401 | 408 | 429 | 500..) || self.missing_scope().is_some()
            }
            Self::Token { .. }
            | Self::Timeout { .. }
            | Self::Transport { .. }
            | Self::Decode { .. }
            | Self::ConnectionNotFound { .. }
            | Self::Inconsistent { .. }
            | Self::Config(_) => true,
        }
    }

    /// The Management API scope a 403 `insufficient_scope` names (Auth0's message: "Insufficient
    /// scope, expected any of: read:clients"), or `"(not named)"` when the message names none.
    pub fn missing_scope(&self) -> Option<&str> {
        match self {
            Self::Api {
                status: 403,
                error_code: Some(code),
                message,
                ..
            } if code == "insufficient_scope" => Some(
                message
                    .split_once("expected any of:")
                    .map(|(_, scopes)| scopes.trim())
                    .filter(|s| !s.is_empty())
                    .unwrap_or("(not named)"),
            ),
            _ => None,
        }
    }

    /// A short class for health and logs: Auth0's `errorCode`, or the kind of failure.
    pub fn short_code(&self) -> String {
        match self {
            Self::Api {
                error_code: Some(c),
                ..
            }
            | Self::Token {
                error_code: Some(c),
                ..
            } => c.clone(),
            Self::Api { status, .. } | Self::Token { status, .. } => format!("http_{status}"),
            Self::Timeout { .. } => "timeout".into(),
            Self::Transport { .. } => "transport".into(),
            Self::Decode { .. } => "decode".into(),
            Self::ConnectionNotFound { .. } => "connection_not_found".into(),
            Self::Inconsistent { .. } => "inconsistent".into(),
            Self::Config(_) => "config".into(),
        }
    }
}
