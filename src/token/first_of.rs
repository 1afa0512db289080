//! [`FirstOf`]: two verifiers, each token sent to the first that reads its shape.

use std::time::Duration;

use crate::challenge::AuthError;
use crate::token::{AccessToken, HashedToken, TokenShape, TokenVerifier, classify};

/// Sends each token to the first of two verifiers that [accepts](TokenVerifier::accepts) its
/// shape: typically a [`JwksVerifier`](crate::token::JwksVerifier) for JWTs and an
/// [`IntrospectionVerifier`](crate::token::IntrospectionVerifier) for opaque tokens.
///
/// A token refused by the verifier its shape chose is refused: it is never offered to the
/// other one. A JWT with a bad signature is not sent to the introspection endpoint (which would
/// hand a forged token to a third party and double the cost of every forgery), and the answer
/// stays the precise one (`INVALID_SIGNATURE`, not `TOKEN_INACTIVE`).
///
/// ```no_run
/// use tower_mcp_auth::{BearerAuthLayer, ClientSecret};
/// use tower_mcp_auth::token::{FirstOf, IntrospectionVerifier, JwksVerifier};
///
/// # async fn run() -> Result<(), tower_mcp_auth::token::VerifierConfigError> {
/// let jwt = JwksVerifier::builder()
///     .issuer("https://idp.example/")
///     .audience("https://api.example/mcp")
///     .build()
///     .await?;
/// let opaque = IntrospectionVerifier::builder()
///     .issuer("https://idp.example/")
///     .audience("https://api.example/mcp")
///     .client_credentials("resource-server", ClientSecret::new("secret"))
///     .build()
///     .await?;
/// let layer = BearerAuthLayer::new(FirstOf::new(jwt, opaque));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct FirstOf<A, B> {
    first: A,
    second: B,
}

impl<A, B> FirstOf<A, B> {
    /// `first` gets every token whose shape it accepts; `second` the others.
    pub fn new(first: A, second: B) -> Self {
        Self { first, second }
    }

    /// The first verifier.
    pub fn first(&self) -> &A {
        &self.first
    }

    /// The second verifier.
    pub fn second(&self) -> &B {
        &self.second
    }
}

impl<A: TokenVerifier, B: TokenVerifier> TokenVerifier for FirstOf<A, B> {
    async fn verify(&self, token: &str) -> Result<AccessToken, AuthError> {
        let shape = classify(token);
        if self.first.accepts(shape) {
            self.first.verify(token).await
        } else {
            self.second.verify(token).await
        }
    }

    async fn verify_hashed(&self, token: &HashedToken<'_>) -> Result<AccessToken, AuthError> {
        if self.first.accepts(classify(token.as_str())) {
            self.first.verify_hashed(token).await
        } else {
            self.second.verify_hashed(token).await
        }
    }

    fn accepts(&self, shape: TokenShape) -> bool {
        self.first.accepts(shape) || self.second.accepts(shape)
    }

    fn leeway(&self) -> Duration {
        self.first.leeway().max(self.second.leeway())
    }
}
