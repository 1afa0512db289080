//! The [`TokenVerifier`] trait: how a bearer token becomes an [`AccessToken`].

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::challenge::AuthError;
use crate::token::AccessToken;

/// Verifies a bearer token and returns its claims.
///
/// [`JwksVerifier`](crate::token::JwksVerifier) is the ready implementation (RS256 JWTs against
/// an issuer's JWKS). Implement this trait to verify another way, e.g. by token introspection;
/// the bearer layer handles the header, the shape checks, the cache and the answers.
///
/// ```
/// use tower_mcp_auth::{AccessToken, challenge::{AuthError, ErrorCode}, token::TokenVerifier};
///
/// /// Accepts one fixed token: for tests only.
/// struct Fixed(String);
///
/// impl TokenVerifier for Fixed {
///     async fn verify(&self, token: &str) -> Result<AccessToken, AuthError> {
///         if token != self.0 {
///             return Err(AuthError::new(ErrorCode::InvalidSignature, "unknown token"));
///         }
///         AccessToken::from_claims(serde_json::json!({
///             "iss": "https://issuer.example", "sub": "tester",
///             "aud": "https://api.example", "exp": 4_102_444_800u64, "scope": "read"
///         }))
///     }
/// }
/// ```
pub trait TokenVerifier: Send + Sync + 'static {
    /// Verifies `token` (a compact JWS, already shape-checked by the bearer layer).
    fn verify(&self, token: &str) -> impl Future<Output = Result<AccessToken, AuthError>> + Send;

    /// The clock skew tolerated when the time claims of a cached token are checked again.
    fn leeway(&self) -> Duration {
        Duration::ZERO
    }
}

impl<V: TokenVerifier> TokenVerifier for Arc<V> {
    fn verify(&self, token: &str) -> impl Future<Output = Result<AccessToken, AuthError>> + Send {
        (**self).verify(token)
    }

    fn leeway(&self) -> Duration {
        (**self).leeway()
    }
}
