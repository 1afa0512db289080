//! # tower-mcp-auth
//!
//! Tower middleware that makes any axum, tonic or hyper server — above all an MCP (Model Context
//! Protocol) server — an OAuth 2.1 protected resource.
//!
//! - [`BearerAuthLayer`]: RS256 JWT access tokens verified against the issuer's JWKS, with RFC 6750
//!   answers that point clients at the resource metadata (RFC 9728).
//! - [`ScopeGuardLayer`]: per-route and per-MCP-tool scopes from one [`ScopePolicy`], with MCP
//!   step-up (`insufficient_scope`) answers.
//! - [`PrmRoute`]: RFC 9728 [`ProtectedResourceMetadata`] at the well-known URLs the challenges
//!   point to.
//! - [`auth0`] (feature `auth0`): the Auth0 log-stream webhook that promotes ChatGPT's DCR clients.
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_auto_cfg))]

#[cfg(feature = "auth0")]
pub mod auth0;
pub mod bearer;
pub mod body;
pub mod challenge;
pub mod dev;
#[cfg(feature = "axum")]
pub mod extract;
pub mod prm;
mod refusals;
pub mod scope;
pub mod token;

#[cfg(feature = "auth0")]
pub use auth0::{
    Auth0Health, Auth0LogWebhookService, DcrPromoter, ManagementClient, ManagementError,
    RetryPolicy,
};
pub use bearer::BearerAuthLayer;
pub use challenge::{AuthError, Challenge, ErrorCode};
pub use prm::{PrmRoute, ProtectedResourceMetadata};
pub use scope::{ScopeGuardLayer, ScopePolicy};
pub use token::AccessToken;
