//! [`IntrospectionVerifier`]: tokens checked by asking their issuer (RFC 7662), for issuers that
//! hand out opaque access tokens.
//!
//! - One POST per token to the introspection endpoint, with the resource server's client
//!   credentials (`client_secret_basic`, RFC 6749 §2.3.1).
//! - Answers are cached by the token's SHA-256: an active one until the earlier of its `exp` and
//!   the cache TTL (60 s by default), an inactive one for a few seconds (5 s by default, 10 s at
//!   most: a token that becomes active later, e.g. after a clock skew, is not locked out), an
//!   endpoint failure for 1 s (so a failing endpoint is not hammered by every waiting request).
//! - Concurrent requests with the same token share one introspection (single flight).
//! - Every answer is bounded in time (3 s by default) and size (64 KiB); an endpoint that is
//!   down, slow, refuses our credentials or answers garbage yields `INTROSPECTION_UNAVAILABLE`
//!   (503): the server cannot decide, which is neither a pass nor the client's fault.

use std::sync::Arc;
use std::time::{Duration, Instant};

use url::Url;

use crate::challenge::{AuthError, ErrorCode};
use crate::token::audience::Audiences;
use crate::token::cache::{TokenCache, TokenKey};
use crate::token::{AccessToken, TokenShape, TokenVerifier};

mod answer;
mod builder;
mod request;

pub use builder::IntrospectionVerifierBuilder;

/// Verifies tokens with the issuer's RFC 7662 introspection endpoint; accepts every token shape
/// (opaque, JWS, JWE). Cheap to clone.
///
/// An active answer becomes an [`AccessToken`] whose claims are the answer's members (`scope`,
/// `client_id`, `sub`, `aud`, `exp`, and whatever else the issuer sends). It must name one of the
/// accepted audiences in `aud` (MCP servers must check that a token was issued for them); `iss`,
/// when present, must be the issuer; without `sub` the `client_id` is the subject (a
/// client-credentials token); without `exp` the answer is trusted for the cache TTL and that is
/// the token's expiry.
///
/// ```no_run
/// use tower_mcp_auth::ClientSecret;
/// use tower_mcp_auth::token::IntrospectionVerifier;
///
/// # async fn run() -> Result<(), tower_mcp_auth::token::VerifierConfigError> {
/// // The endpoint comes from https://idp.example/.well-known/openid-configuration.
/// let verifier = IntrospectionVerifier::builder()
///     .issuer("https://idp.example/")
///     .audience("https://api.example/mcp")
///     .client_credentials(
///         "mcp-resource-server",
///         ClientSecret::new(std::env::var("CLIENT_SECRET").unwrap_or_default()),
///     )
///     .build()
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct IntrospectionVerifier {
    shared: Arc<Shared>,
}

struct Shared {
    endpoint: Url,
    client: reqwest::Client,
    /// `Authorization: Basic …`, built once; `None` when the endpoint needs no client auth.
    authorization: Option<http::HeaderValue>,
    issuer: String,
    audiences: Audiences,
    ttl: Duration,
    inactive_ttl: Duration,
    timeout: Duration,
    max_response_bytes: usize,
    leeway: Duration,
    answers: quick_cache::sync::Cache<TokenKey, Answer>,
}

/// A cached introspection outcome.
#[derive(Clone)]
struct Answer {
    outcome: Result<AccessToken, AuthError>,
    until: Instant,
}

/// How long an endpoint failure is remembered: long enough that the requests queued behind one
/// failed introspection share its answer, short enough that recovery is noticed at once.
const UNAVAILABLE_TTL: Duration = Duration::from_secs(1);

impl std::fmt::Debug for IntrospectionVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntrospectionVerifier")
            .field("endpoint", &self.shared.endpoint.as_str())
            .field("issuer", &self.shared.issuer)
            .field("audiences", &self.shared.audiences.as_slice())
            .field(
                "client_authentication",
                &self.shared.authorization.is_some(),
            )
            .finish_non_exhaustive()
    }
}

impl IntrospectionVerifier {
    /// The introspection endpoint.
    pub fn endpoint(&self) -> &str {
        self.shared.endpoint.as_str()
    }

    /// The issuer, as its metadata spells it.
    pub fn issuer(&self) -> &str {
        &self.shared.issuer
    }

    /// The accepted audiences.
    pub fn audiences(&self) -> &[String] {
        self.shared.audiences.as_slice()
    }

    /// How many answers are cached now.
    pub fn cached_answers(&self) -> usize {
        self.shared.answers.len()
    }

    async fn answer(&self, token: &str) -> Answer {
        let shared = &self.shared;
        let started = Instant::now();
        let outcome = match request::introspect(shared, token).await {
            Ok(response) => answer::read(shared, response),
            Err(reason) => {
                tracing::warn!(endpoint = %shared.endpoint, %reason, "token introspection failed");
                Err(unavailable())
            }
        };
        let ttl = match &outcome {
            Ok(token) => answer::active_ttl(shared, token),
            Err(error) if error.code() == ErrorCode::IntrospectionUnavailable => UNAVAILABLE_TTL,
            Err(_) => shared.inactive_ttl,
        };
        Answer {
            outcome,
            until: started + ttl,
        }
    }
}

fn unavailable() -> AuthError {
    AuthError::new(
        ErrorCode::IntrospectionUnavailable,
        "The token cannot be checked right now (the issuer's introspection endpoint is not \
         answering); try again later",
    )
}

impl TokenVerifier for IntrospectionVerifier {
    async fn verify(&self, token: &str) -> Result<AccessToken, AuthError> {
        let key = TokenCache::key(token.as_bytes());
        let answers = &self.shared.answers;
        // Bounded: a stale entry is removed once, then this task either finds a fresh one left
        // by another or holds the guard itself.
        for _ in 0..3 {
            match answers.get_value_or_guard_async(&key).await {
                Ok(answer) if Instant::now() < answer.until => return answer.outcome,
                Ok(_) => {
                    answers.remove(&key);
                }
                Err(guard) => {
                    let answer = self.answer(token).await;
                    let outcome = answer.outcome.clone();
                    let _ = guard.insert(answer);
                    return outcome;
                }
            }
        }
        self.answer(token).await.outcome
    }

    fn accepts(&self, _shape: TokenShape) -> bool {
        true
    }

    fn leeway(&self) -> Duration {
        self.shared.leeway
    }
}
