//! The gateway's token verifier: JWTs with the issuers' keys, and opaque tokens by RFC 7662
//! introspection when `OAUTH_INTROSPECTION=true`.

use std::time::Duration;

use tower_mcp_auth::AuthError;
use tower_mcp_auth::token::{
    AccessToken, FirstOf, IntrospectionVerifier, JwksVerifier, TokenShape, TokenVerifier,
};

/// Either verifier set-up, as one type for the bearer layer.
#[derive(Clone, Debug)]
pub enum GatewayVerifier {
    /// JWTs only: opaque tokens and JWEs get the library's explanations.
    Jwt(JwksVerifier),
    /// JWTs with the keys, every other shape by introspection.
    WithIntrospection(FirstOf<JwksVerifier, IntrospectionVerifier>),
}

impl GatewayVerifier {
    pub fn new(jwt: JwksVerifier, introspection: Option<IntrospectionVerifier>) -> Self {
        match introspection {
            Some(introspection) => Self::WithIntrospection(FirstOf::new(jwt, introspection)),
            None => Self::Jwt(jwt),
        }
    }
}

impl TokenVerifier for GatewayVerifier {
    async fn verify(&self, token: &str) -> Result<AccessToken, AuthError> {
        match self {
            Self::Jwt(verifier) => verifier.verify(token).await,
            Self::WithIntrospection(verifier) => verifier.verify(token).await,
        }
    }

    fn accepts(&self, shape: TokenShape) -> bool {
        match self {
            Self::Jwt(verifier) => verifier.accepts(shape),
            Self::WithIntrospection(verifier) => verifier.accepts(shape),
        }
    }

    fn leeway(&self) -> Duration {
        match self {
            Self::Jwt(verifier) => verifier.leeway(),
            Self::WithIntrospection(verifier) => verifier.leeway(),
        }
    }
}
