//! Reading and verifying bearer access tokens.
//!
//! - [`bearer_token`] finds the credential in a request;
//! - [`classify`] / [`require_jws`] tell a JWS from a JWE or an opaque token;
//! - [`TokenVerifier`] turns a token into an [`AccessToken`]; [`JwksVerifier`] verifies JWTs
//!   with the issuers' keys, [`IntrospectionVerifier`] asks the issuer (RFC 7662), and
//!   [`FirstOf`] sends each token to the one that reads its shape;
//! - the bearer layer keeps verified tokens in a private cache, so repeated ones skip the
//!   signature check (its size: [`BearerAuthLayer::token_cache_capacity`](crate::BearerAuthLayer::token_cache_capacity)).

mod access_token;
mod algorithm;
mod audience;
pub(crate) mod cache;
pub(crate) mod classify;
pub(crate) mod credential;
mod discovery;
mod first_of;
pub(crate) mod hashed_token;
mod introspection;
mod jwk;
mod jwks;
mod jwks_builder;
mod key_store;
mod provenance;
mod registered_claims;
pub(crate) mod same_bytes;
mod scope_claims;
mod shared_values;
mod token_type;
mod verifier;

pub use access_token::AccessToken;
pub use algorithm::{Algorithm, UnknownAlgorithm};
pub use classify::{TokenShape, classify, require_jws};
pub use credential::bearer_token;
pub use first_of::FirstOf;
pub use hashed_token::HashedToken;
pub use introspection::{IntrospectionVerifier, IntrospectionVerifierBuilder};
pub use jwks::{IssuerStatus, JwksRefreshError, JwksRefreshFailure, JwksVerifier};
pub use jwks_builder::{JwksVerifierBuilder, VerifierConfigError};
pub use key_store::JwksStatus;
pub use scope_claims::ScopeClaims;
pub use token_type::TokenTypePolicy;
pub use verifier::TokenVerifier;
