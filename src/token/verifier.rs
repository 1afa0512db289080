//! The [`TokenVerifier`] trait: how a bearer token becomes an [`AccessToken`].

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::challenge::AuthError;
use crate::token::{AccessToken, HashedToken, TokenShape};

/// Verifies a bearer token and returns its claims.
///
/// [`JwksVerifier`](crate::token::JwksVerifier) (JWTs against the issuers' JWKS) and
/// [`IntrospectionVerifier`](crate::token::IntrospectionVerifier) (RFC 7662) are the ready
/// implementations, [`FirstOf`](crate::token::FirstOf) combines two. Implement this trait to
/// verify another way; the bearer layer handles the header, the shape checks, the cache and the
/// answers.
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
    /// Verifies `token`, whose shape [`accepts`](Self::accepts) allowed (by default a compact
    /// JWS, already shape-checked by the bearer layer).
    fn verify(&self, token: &str) -> impl Future<Output = Result<AccessToken, AuthError>> + Send;

    /// Verifies `token` as [`verify`](Self::verify) does; what the bearer layer calls. It comes
    /// with the SHA-256 of its signing input, which the layer computed for its cache key:
    /// [`JwksVerifier`](crate::token::JwksVerifier) checks RS256, PS256 and ES256 signatures
    /// against it instead of hashing the token again. The default ignores it.
    fn verify_hashed(
        &self,
        token: &HashedToken<'_>,
    ) -> impl Future<Output = Result<AccessToken, AuthError>> + Send {
        self.verify(token.as_str())
    }

    /// Which token shapes reach [`verify`](Self::verify): compact JWS only by default. The bearer
    /// layer refuses the others before calling it, JWE and opaque tokens with the answers that
    /// explain the usual cause (`ACCESS_TOKEN_IS_ENCRYPTED_JWE`, `ACCESS_TOKEN_NOT_JWS`). A
    /// verifier that reads opaque tokens (introspection) accepts them here.
    fn accepts(&self, shape: TokenShape) -> bool {
        shape == TokenShape::Jws
    }

    /// The clock skew tolerated when the time claims of a cached token are checked again.
    fn leeway(&self) -> Duration {
        Duration::ZERO
    }
}

impl<V: TokenVerifier> TokenVerifier for Arc<V> {
    fn verify(&self, token: &str) -> impl Future<Output = Result<AccessToken, AuthError>> + Send {
        (**self).verify(token)
    }

    fn verify_hashed(
        &self,
        token: &HashedToken<'_>,
    ) -> impl Future<Output = Result<AccessToken, AuthError>> + Send {
        (**self).verify_hashed(token)
    }

    fn accepts(&self, shape: TokenShape) -> bool {
        (**self).accepts(shape)
    }

    fn leeway(&self) -> Duration {
        (**self).leeway()
    }
}
