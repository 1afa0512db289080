//! [`ToolsListFilterLayer`]: a `tools/list` result shows the caller only the tools it may call
//! (FastMCP hides unauthorized components the same way; SEP-1881 "Scope-Filtered Tool
//! Discovery").
//!
//! Place it directly inside [`ScopeGuardLayer`](crate::ScopeGuardLayer): the guard has read the
//! JSON-RPC body already and hands on its bytes, so this layer sees the `tools/list` request
//! without reading anything itself. Only the response to a single `tools/list` request is
//! touched, JSON or SSE ([`ToolsListBody`]); every other response, and every other SSE event of
//! that response, passes through as it arrives. A page it cannot parse is passed unchanged with
//! a warning: a list is not an authorization decision, the call is.
//!
//! ```
//! use tower::ServiceBuilder;
//! use tower_mcp_auth::scope::ToolsListFilterLayer;
//! use tower_mcp_auth::{BearerAuthLayer, ScopeGuardLayer, ScopePolicy};
//! # use tower_mcp_auth::{AccessToken, challenge::AuthError, token::TokenVerifier};
//! # struct MyVerifier;
//! # impl TokenVerifier for MyVerifier {
//! #     async fn verify(&self, _: &str) -> Result<AccessToken, AuthError> { Err(AuthError::missing_token()) }
//! # }
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let policy = std::sync::Arc::new(ScopePolicy::builder().tool("search", ["docs:read"]).build()?);
//! let layers = ServiceBuilder::new()
//!     .layer(BearerAuthLayer::new(MyVerifier))
//!     .layer(ScopeGuardLayer::new(policy.clone()))
//!     .layer(ToolsListFilterLayer::new(policy));
//! # let _ = layers; Ok(()) }
//! ```

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use http::{Method, Request, Response, header};
use pin_project_lite::pin_project;
use serde_json::Value;
use tower_layer::Layer;
use tower_service::Service;

use crate::body::LayerBody;
use crate::scope::ScopePolicy;
use crate::scope::jsonrpc::{self, JsonRpcBody};
use crate::scope::tools_list_body::{Framing, ToolsListBody, Visibility};
use crate::token::AccessToken;

/// Applies [`ToolsListFilter`]: trims `tools/list` results to the tools the caller may call
/// under `policy` (all protected ones are hidden from a caller without a token).
#[derive(Debug, Clone)]
pub struct ToolsListFilterLayer {
    policy: Arc<ScopePolicy>,
}

impl ToolsListFilterLayer {
    /// A filter for `policy` (the one the guard enforces).
    pub fn new(policy: impl Into<Arc<ScopePolicy>>) -> Self {
        Self {
            policy: policy.into(),
        }
    }
}

impl<S> Layer<S> for ToolsListFilterLayer {
    type Service = ToolsListFilter<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ToolsListFilter {
            inner,
            policy: Arc::clone(&self.policy),
        }
    }
}

/// Middleware that trims `tools/list` results. See [`ToolsListFilterLayer`].
#[derive(Debug, Clone)]
pub struct ToolsListFilter<S> {
    inner: S,
    policy: Arc<ScopePolicy>,
}

impl<S, B, ResBody> Service<Request<LayerBody<B>>> for ToolsListFilter<S>
where
    S: Service<Request<LayerBody<B>>, Response = Response<ResBody>>,
{
    type Response = Response<ToolsListBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<LayerBody<B>>) -> Self::Future {
        let visibility = tools_list_id(&req).map(|id| Visibility {
            policy: Arc::clone(&self.policy),
            token: req.extensions().get::<AccessToken>().cloned(),
            id,
        });
        ResponseFuture {
            future: self.inner.call(req),
            visibility,
        }
    }
}

/// The `id` of a single `tools/list` request whose bytes the guard holds.
fn tools_list_id<B>(req: &Request<LayerBody<B>>) -> Option<Value> {
    if req.method() != Method::POST {
        return None;
    }
    let bytes = req.body().full_bytes()?;
    let JsonRpcBody::Single(call) = jsonrpc::inspect(bytes) else {
        return None;
    };
    if call.method.as_deref() != Some("tools/list") {
        return None;
    }
    #[derive(serde::Deserialize)]
    struct IdOnly {
        id: Value,
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let id = serde_json::Deserializer::from_slice(bytes)
        .into_iter::<IdOnly>()
        .next()?
        .ok()?
        .id;
    (id.is_string() || id.is_number()).then_some(id)
}

pin_project! {
    /// Response future of [`ToolsListFilter`].
    pub struct ResponseFuture<F> {
        #[pin]
        future: F,
        visibility: Option<Visibility>,
    }
}

impl<F, ResBody, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
{
    type Output = Result<Response<ToolsListBody<ResBody>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let response = ready!(this.future.poll(cx))?;
        let Some(visibility) = this.visibility.take() else {
            return Poll::Ready(Ok(response.map(ToolsListBody::pass)));
        };
        let (mut parts, body) = response.into_parts();
        let framing = if parts.headers.contains_key(header::CONTENT_ENCODING) {
            tracing::warn!("tools/list response is content-encoded; passed unfiltered");
            None
        } else {
            let media = parts
                .headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .and_then(|ct| ct.split(';').next())
                .map(|media| media.trim().to_ascii_lowercase());
            match media.as_deref() {
                Some("application/json") => Some(Framing::Json),
                Some("text/event-stream") => Some(Framing::Sse),
                _ => None,
            }
        };
        let Some(framing) = framing else {
            return Poll::Ready(Ok(Response::from_parts(parts, ToolsListBody::pass(body))));
        };
        // The trimmed body has another length.
        parts.headers.remove(header::CONTENT_LENGTH);
        let body = ToolsListBody::filter(body, framing, visibility);
        Poll::Ready(Ok(Response::from_parts(parts, body)))
    }
}
