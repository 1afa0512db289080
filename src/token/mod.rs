//! Reading and verifying bearer access tokens.
//!
//! - [`bearer_token`] finds the credential in a request;
//! - [`classify`] / [`require_jws`] tell a JWS from a JWE or an opaque token;
//! - [`TokenVerifier`] turns a token into an [`AccessToken`]; [`JwksVerifier`] is the ready one;
//! - the bearer layer keeps verified tokens in a private cache, so repeated ones skip the
//!   signature check (its size: [`BearerAuthLayer::token_cache_capacity`](crate::BearerAuthLayer::token_cache_capacity)).

mod access_token;
pub(crate) mod cache;
pub(crate) mod classify;
pub(crate) mod credential;
mod discovery;
mod jwks;
mod key_store;
mod registered_claims;
mod verifier;

pub use access_token::AccessToken;
pub use classify::{TokenShape, classify, require_jws};
pub use credential::bearer_token;
pub use jwks::{JwksVerifier, JwksVerifierBuilder, VerifierConfigError};
pub use key_store::JwksStatus;
pub use verifier::TokenVerifier;
