//! # tower-mcp-auth
//!
//! Tower middleware that makes any axum, tonic or hyper server — above all an MCP (Model Context
//! Protocol) server — an OAuth 2.1 protected resource, so that ChatGPT connectors and any other MCP
//! client can log users in and call tools with per-tool scopes.
//!
//! - [`BearerAuthLayer`]: RS256 JWT access tokens verified against the issuer's JWKS
//!   ([`token::JwksVerifier`]), with RFC 6750 answers that point clients at the resource metadata
//!   (RFC 9728). On success the request carries an [`AccessToken`].
//! - [`ScopeGuardLayer`]: per-route and per-MCP-tool scopes from one [`ScopePolicy`], with MCP
//!   step-up (`insufficient_scope`) answers.
//! - [`PrmRoute`]: RFC 9728 [`ProtectedResourceMetadata`] at the well-known URLs the challenges
//!   point to, built from the same policy.
//! - [`auth0`] (feature `auth0`, on by default): the Auth0 log-stream webhook that promotes the
//!   clients ChatGPT registers by Dynamic Client Registration.
//!
//! Every layer is a plain `tower::Layer` over `http::Request`/`http::Response`, so it works under
//! axum, tonic and bare hyper alike; every refusal has a stable [`ErrorCode`].
//!
//! ## Quick start (axum)
//!
//! ```no_run
//! use axum::{Extension, Router, routing::post};
//! use tower_mcp_auth::token::JwksVerifier;
//! use tower_mcp_auth::{
//!     AccessToken, BearerAuthLayer, PrmRoute, ProtectedResourceMetadata, ScopeGuardLayer,
//!     ScopePolicy,
//! };
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let issuer = "https://YOUR_TENANT.us.auth0.com/";
//!     let resource = "https://api.example.com/mcp"; // the API identifier (audience)
//!
//!     // One policy: what the guard enforces and what the metadata advertises.
//!     let policy = ScopePolicy::builder()
//!         .tool("search", ["search.read"])
//!         .tool("docs.create", ["docs.write"])
//!         .build()?;
//!     let mut metadata = ProtectedResourceMetadata::new(resource);
//!     metadata.authorization_servers = Some(vec![issuer.to_owned()]);
//!     let prm = PrmRoute::new(metadata, &policy)?;
//!
//!     let verifier = JwksVerifier::builder(issuer, resource).build().await?;
//!     let app = Router::new()
//!         .route("/mcp", post(|Extension(token): Extension<AccessToken>, body: String| async move {
//!             format!("{} called {body}", token.subject()) // your MCP server goes here
//!         }))
//!         .layer(ScopeGuardLayer::new(policy).challenge(prm.challenge()))
//!         .layer(BearerAuthLayer::new(verifier).challenge(prm.challenge()))
//!         .fallback_service(prm); // public: /.well-known/oauth-protected-resource[/mcp]
//!
//!     let listener = tokio::net::TcpListener::bind("0.0.0.0:8080").await?;
//!     axum::serve(listener, app).await?;
//!     Ok(())
//! }
//! ```
//!
//! With the `axum` feature, handlers can take `token: AccessToken` directly.
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_auto_cfg))]

mod anonymous;
pub mod audit;
#[cfg(feature = "auth0")]
pub mod auth0;
pub mod bearer;
pub mod body;
pub mod challenge;
pub mod dev;
#[cfg(feature = "axum")]
pub mod extract;
pub mod health;
pub mod metrics;
pub mod prm;
mod refusals;
pub mod scope;
pub mod token;

pub use anonymous::Anonymous;
#[cfg(feature = "auth0")]
pub use auth0::{
    Auth0Health, Auth0LogWebhookService, DcrPromoter, ManagementClient, ManagementError,
    RetryPolicy,
};
pub use bearer::BearerAuthLayer;
pub use challenge::{AuthError, Challenge, ErrorCode, InvalidRealm};
pub use prm::{PrmRoute, ProtectedResourceMetadata};
pub use scope::{ScopeGuardLayer, ScopePolicy};
pub use token::AccessToken;

// The README's code blocks are compiled as doc tests, so the quick start cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
