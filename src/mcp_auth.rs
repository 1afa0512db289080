//! [`McpAuth`]: the whole protected resource in one layer — [`PrmRoute`] outside,
//! [`BearerAuthLayer`] next, [`ScopeGuardLayer`] inside, all three sharing one [`Challenge`].
//!
//! That order is the only correct one: the metadata must stay public, the guard reads the
//! [`AccessToken`](crate::AccessToken) the bearer layer inserts, and every refusal must point at
//! the metadata (`resource_metadata`). Mounted one by one, the layers can be swapped (every
//! request then answers 500 `SERVER_MISCONFIGURED`) or given different challenges; through
//! `McpAuth` neither can happen.
//!
//! It is one `tower::Layer`, so the same value mounts on an axum `Router` (`.layer(auth)`), in a
//! `tower::ServiceBuilder` (`.layer(auth)`) and on a tonic server (`Server::builder().layer(auth)`).
//!
//! ```
//! use axum::{Router, body::Body, routing::post};
//! use http::{Request, StatusCode};
//! use tower::ServiceExt;
//! use tower_mcp_auth::{McpAuth, ProtectedResourceMetadata, ScopePolicy, dev::DevIssuer};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let resource = "https://api.example.com/mcp";
//! let dev = DevIssuer::generate()?; // a real server builds a JwksVerifier for its issuer
//! let policy = ScopePolicy::builder().tool("search", ["search.read"]).build()?;
//! let metadata = ProtectedResourceMetadata::new(resource).authorization_server(dev.issuer());
//! let auth = McpAuth::new(dev.verifier(resource).await?, policy, metadata)?;
//!
//! let app: Router = Router::new()
//!     .route("/mcp", post(|body: String| async move { body }))
//!     .layer(auth);
//!
//! // No token: 401 pointing at the metadata, which is public.
//! let answer = app.clone().oneshot(Request::post("/mcp").body(Body::empty())?).await?;
//! assert_eq!(answer.status(), StatusCode::UNAUTHORIZED);
//! assert!(answer.headers()["www-authenticate"].to_str()?.contains(
//!     r#"resource_metadata="https://api.example.com/.well-known/oauth-protected-resource/mcp""#
//! ));
//! let metadata = Request::get("/.well-known/oauth-protected-resource/mcp").body(Body::empty())?;
//! assert_eq!(app.clone().oneshot(metadata).await?.status(), StatusCode::OK);
//!
//! // A token with the tool's scope: the call reaches the handler.
//! let token = dev.token(resource).scope("search.read").sign()?;
//! let call = Request::post("/mcp")
//!     .header("authorization", format!("Bearer {token}"))
//!     .header("content-type", "application/json")
//!     .body(Body::from(r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"search"}}"#))?;
//! assert_eq!(app.oneshot(call).await?.status(), StatusCode::OK);
//! # Ok(()) }
//! ```
//!
//! Routes that must stay public besides the metadata (a health check) go on the `Router`
//! *after* `.layer(auth)`: axum wraps only the routes added before a layer.

use std::sync::Arc;
use std::time::Duration;

use tower_layer::Layer;

use crate::bearer::{BearerAuth, BearerAuthLayer};
use crate::challenge::{Challenge, InvalidRealm};
use crate::prm::{PrmError, PrmRoute, ProtectedResourceMetadata};
use crate::scope::{ScopeGuard, ScopeGuardLayer, ScopePolicy};
use crate::token::TokenVerifier;

/// The bearer layer, the scope guard and the protected resource metadata, mounted in the only
/// correct order with one challenge. See the [module docs](self) for an example.
///
/// The service it makes is `PrmRoute<BearerAuth<ScopeGuard<S>, V>>`: the metadata URLs are
/// answered (publicly) first, every other request needs a valid token, then the policy's scopes.
#[must_use = "a layer does nothing until it wraps a service"]
pub struct McpAuth<V> {
    prm: PrmRoute,
    challenge: Challenge,
    bearer: BearerAuthLayer<V>,
    guard: ScopeGuardLayer,
}

impl<V> Clone for McpAuth<V> {
    fn clone(&self) -> Self {
        Self {
            prm: self.prm.clone(),
            challenge: self.challenge.clone(),
            bearer: self.bearer.clone(),
            guard: self.guard.clone(),
        }
    }
}

impl<V> std::fmt::Debug for McpAuth<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("McpAuth")
            .field("metadata_url", &self.prm.metadata_url())
            .field("bearer", &self.bearer)
            .field("guard", &self.guard)
            .finish_non_exhaustive()
    }
}

impl<V: TokenVerifier> McpAuth<V> {
    /// Protects a resource described by `metadata`: tokens are checked by `verifier`, scopes by
    /// `policy`, and the metadata (with `scopes_supported` from the policy where unset) is served
    /// at its well-known URLs, which every refusal names.
    ///
    /// Fails if `metadata.resource` cannot have metadata (not an absolute http(s) URL).
    pub fn new(
        verifier: V,
        policy: impl Into<Arc<ScopePolicy>>,
        metadata: ProtectedResourceMetadata,
    ) -> Result<Self, PrmError> {
        let policy = policy.into();
        let prm = PrmRoute::new(metadata, &policy)?;
        let challenge = prm.challenge();
        Ok(Self {
            bearer: BearerAuthLayer::new(verifier).challenge(challenge.clone()),
            guard: ScopeGuardLayer::new(policy).challenge(challenge.clone()),
            challenge,
            prm,
        })
    }

    /// Sets the `realm` attribute of every challenge; a realm containing `"` or `\` is refused
    /// (see [`Challenge::realm`]).
    pub fn realm(mut self, realm: impl Into<String>) -> Result<Self, InvalidRealm> {
        self.challenge = self.challenge.realm(realm)?;
        self.bearer = self.bearer.challenge(self.challenge.clone());
        self.guard = self.guard.challenge(self.challenge.clone());
        Ok(self)
    }

    /// Refuses bearer tokens longer than `bytes` before parsing them (default 16 KiB).
    pub fn max_token_len(mut self, bytes: usize) -> Self {
        self.bearer = self.bearer.max_token_len(bytes);
        self
    }

    /// Keeps at most `capacity` verified tokens (default 10 000).
    pub fn token_cache_capacity(mut self, capacity: usize) -> Self {
        self.bearer = self.bearer.token_cache_capacity(capacity);
        self
    }

    /// Verifies every request's token again (no cache).
    pub fn without_token_cache(mut self) -> Self {
        self.bearer = self.bearer.without_token_cache();
        self
    }

    /// Refuses (413) JSON-RPC bodies longer than `bytes` (default 1 MiB).
    pub fn max_body_bytes(mut self, bytes: usize) -> Self {
        self.guard = self.guard.max_body_bytes(bytes);
        self
    }
}

impl<V> McpAuth<V> {
    /// Lets clients and caches keep the metadata for `max_age` (default one hour).
    pub fn metadata_max_age(mut self, max_age: Duration) -> Self {
        self.prm = self.prm.cache_max_age(max_age);
        self
    }

    /// Also serves `/.well-known/oauth-authorization-server` for `issuer`; see
    /// [`PrmRoute::mirror_authorization_server`].
    pub fn mirror_authorization_server(mut self, issuer: &str) -> Result<Self, PrmError> {
        self.prm = self.prm.mirror_authorization_server(issuer)?;
        Ok(self)
    }

    /// The challenge every refusal carries (its `resource_metadata` is the metadata's URL).
    pub fn challenge(&self) -> &Challenge {
        &self.challenge
    }

    /// The metadata route, e.g. for its [`metadata_url`](PrmRoute::metadata_url).
    pub fn metadata_route(&self) -> &PrmRoute {
        &self.prm
    }

    /// The bearer layer, configured and sharing the challenge.
    pub fn bearer_layer(&self) -> &BearerAuthLayer<V> {
        &self.bearer
    }

    /// The scope guard layer, configured and sharing the challenge.
    pub fn scope_guard_layer(&self) -> &ScopeGuardLayer {
        &self.guard
    }
}

impl<S, V> Layer<S> for McpAuth<V> {
    type Service = PrmRoute<BearerAuth<ScopeGuard<S>, V>>;

    fn layer(&self, inner: S) -> Self::Service {
        let protected = self.bearer.layer(self.guard.layer(inner));
        self.prm.clone().with_fallback(protected)
    }
}
