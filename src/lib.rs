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
//! - [`McpAuth`]: all three in one layer, in the only correct order, with one shared challenge —
//!   what most servers want.
//!
//! ## Quick start (axum)
//!
//! ```no_run
//! use axum::{Router, routing::post};
//! use tower_mcp_auth::token::JwksVerifier;
//! use tower_mcp_auth::{AccessToken, McpAuth, ProtectedResourceMetadata, ScopePolicy};
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
//!     let metadata = ProtectedResourceMetadata::new(resource).authorization_server(issuer);
//!     let verifier = JwksVerifier::builder().issuer(issuer).audience(resource).build().await?;
//!
//!     let app = Router::new()
//!         .route("/mcp", post(|token: AccessToken, body: String| async move {
//!             format!("{} called {body}", token.subject()) // your MCP server goes here
//!         }))
//!         // Metadata (public) → bearer token → scopes; /.well-known/oauth-protected-resource[/mcp]
//!         .layer(McpAuth::new(verifier, policy, metadata)?);
//!
//!     let listener = tokio::net::TcpListener::bind("0.0.0.0:8080").await?;
//!     axum::serve(listener, app).await?;
//!     Ok(())
//! }
//! ```
//!
//! Handlers take `token: AccessToken` with the `axum` feature (on by default); without it,
//! `Extension<AccessToken>` works the same. In an rmcp tool, enable the `rmcp` feature and take
//! `token: AccessToken` as a parameter.
//!
//! ## Layer order
//!
//! [`McpAuth`] fixes it; this is what it does, for those who mount the layers one by one.
//! Outermost first: [`PrmRoute`] (so the metadata stays public), then [`BearerAuthLayer`]
//! (which inserts the [`AccessToken`]), then [`ScopeGuardLayer`] (which reads it), each layer
//! given the same [`PrmRoute::challenge`]. An axum `Router::layer` wraps what came before it,
//! so it is written inside-out; a `tower::ServiceBuilder` is written outside-in:
//!
//! ```text
//! Router::new().route(..)                    ServiceBuilder::new()
//!     .layer(ScopeGuardLayer::new(..))           .layer(BearerAuthLayer::new(..))
//!     .layer(BearerAuthLayer::new(..))           .layer(ScopeGuardLayer::new(..))
//!     .fallback_service(prm)                     .service(app)
//! ```
//!
//! Swapped, the guard sees no token and answers 500 `SERVER_MISCONFIGURED`, saying which layer
//! goes inside which; a layer without `resource_metadata` warns once when it is mounted.
//!
//! ## Features
//!
//! - `auth0` (default): the [`auth0`] module.
//! - `axum` (default): [`AccessToken`] is an axum extractor (it adds only `axum-core`, which
//!   every axum server already builds).
//! - `metrics` (default): the layers, the key store, the webhook and the Management API client
//!   record through the `metrics` facade (the [`metrics`] module lists what);
//!   nothing is recorded until the application installs a recorder, and without the feature
//!   the calls are compiled out.
//! - `rmcp`: [`AccessToken`] is an rmcp tool and prompt parameter.
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

/// The JSON crate of the public API ([`AccessToken::claims`], [`AuthError::to_json`], the dev
/// issuer's claims), re-exported so callers use the same version.
pub use serde_json;

mod anonymous;
pub mod audit;
#[cfg(feature = "auth0")]
pub mod auth0;
pub mod bearer;
pub mod body;
pub mod challenge;
mod client_secret;
pub mod dev;
pub mod error;
#[cfg(feature = "axum")]
pub mod extract;
pub mod health;
pub mod mcp_auth;
pub mod metrics;
pub mod prm;
mod refusals;
#[cfg(feature = "rmcp")]
pub mod rmcp;
pub mod scope;
pub mod token;

pub use anonymous::Anonymous;
#[cfg(feature = "auth0")]
pub use auth0::{
    Auth0Health, Auth0LogWebhookService, DcrPromoter, ManagementClient, ManagementError,
    RetryPolicy,
};
pub use bearer::BearerAuthLayer;
pub use challenge::{Challenge, InvalidRealm};
pub use client_secret::ClientSecret;
pub use error::{AuthError, ErrorCode};
pub use mcp_auth::McpAuth;
pub use prm::{PrmRoute, ProtectedResourceMetadata};
pub use scope::{ScopeGuardLayer, ScopePolicy};
pub use token::AccessToken;

// The README's code blocks are compiled as doc tests, so the quick start cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
