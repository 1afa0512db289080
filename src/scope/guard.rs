//! [`ScopeGuardLayer`]: each request, and each MCP call in it, reaches the inner service only if
//! the token has the scopes the [`ScopePolicy`] asks for.
//!
//! The request's way through it, top-down:
//!
//! 1. take the [`AccessToken`] that [`BearerAuthLayer`](crate::BearerAuthLayer) put in the
//!    extensions; none → 500 `SERVER_MISCONFIGURED` (the layers are in the wrong order);
//! 2. check the route scopes from the method and path (no body read); gRPC requests stop here;
//! 3. for a JSON `POST`, read the body (bounded, 1 MiB by default → 413), find the JSON-RPC
//!    message(s) in it, refuse `Mcp-Method`/`Mcp-Name` headers that disagree with it (400,
//!    MCP SEP-2243), and check each call: `tools/call` by `params.name`, `resources/read` by
//!    `params.uri`, `prompts/get` by `params.name`, any method by its name; a batch passes only
//!    if every call does;
//! 4. hand the request on with the very bytes read ([`LayerBody`]).
//!
//! A refusal is a 403 `insufficient_scope` whose `scope` attribute lists the scopes this
//! operation requires (MCP SEP-2350: not merged with the token's; the client unions them), and
//! whose JSON body names the operation and the missing scopes.
//!
//! ```
//! use axum::{Router, routing::post};
//! use tower::ServiceBuilder;
//! use tower_mcp_auth::{BearerAuthLayer, Challenge, ScopeGuardLayer, ScopePolicy};
//! # use tower_mcp_auth::{AccessToken, challenge::AuthError, token::TokenVerifier};
//! # struct MyVerifier;
//! # impl TokenVerifier for MyVerifier {
//! #     async fn verify(&self, _: &str) -> Result<AccessToken, AuthError> { Err(AuthError::missing_token()) }
//! # }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let policy = ScopePolicy::builder()
//!     .tool("search", ["search.read"])
//!     .tool("docs.create", ["docs.write"])
//!     .build()?;
//! let challenge = Challenge::new()
//!     .resource_metadata("https://api.example.com/.well-known/oauth-protected-resource/mcp")
//!     .scope_hint(policy.scope_hint());
//! let app: Router = Router::new()
//!     .route("/mcp", post(|body: String| async move { body }))
//!     // The bearer layer runs first and inserts the token the guard reads.
//!     .layer(
//!         ServiceBuilder::new()
//!             .layer(BearerAuthLayer::new(MyVerifier).challenge(challenge.clone()))
//!             .layer(ScopeGuardLayer::new(policy).challenge(challenge)),
//!     );
//! # Ok(()) }
//! ```

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response, header};
use http_body::Body;
use http_body_util::combinators::Collect;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use crate::body::LayerBody;
use crate::body::POLLED_AFTER_COMPLETION;
use crate::challenge::{AuthError, Challenge, ErrorCode, MetadataWarning, is_grpc};
use crate::scope::ScopePolicy;
use crate::scope::authorize::authorize_body;
use crate::token::AccessToken;

/// The default bound on a JSON-RPC request body the guard reads: 1 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;

/// Applies [`ScopeGuard`] to a service: enforces a [`ScopePolicy`]. Place it inside (after)
/// [`BearerAuthLayer`](crate::BearerAuthLayer); [`McpAuth`](crate::McpAuth) mounts both in that
/// order with one challenge, and is what most servers want (see the crate's "Layer order").
///
/// See the [module docs](crate::scope) for an example.
///
/// The inner service receives `Request<LayerBody<B>>`: any service generic over the body
/// (axum `Router`, tonic, rmcp, hyper `service_fn` over `impl Body`) accepts it.
#[derive(Debug, Clone)]
#[must_use = "a layer does nothing until it wraps a service"]
pub struct ScopeGuardLayer {
    policy: Arc<ScopePolicy>,
    challenge: Arc<Challenge>,
    max_body_bytes: usize,
    metadata_warning: MetadataWarning,
}

impl ScopeGuardLayer {
    /// A guard enforcing `policy`, reading at most 1 MiB of body, with an empty challenge (set
    /// [`challenge`](Self::challenge) or [`resource_metadata`](Self::resource_metadata)).
    pub fn new(policy: impl Into<Arc<ScopePolicy>>) -> Self {
        Self {
            policy: policy.into(),
            challenge: Arc::new(Challenge::new()),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            metadata_warning: MetadataWarning::default(),
        }
    }

    /// Uses `challenge` for every refusal (share it with the bearer layer). It replaces the whole
    /// challenge, including a [`resource_metadata`](Self::resource_metadata) URL set before.
    pub fn challenge(mut self, challenge: Challenge) -> Self {
        self.challenge = Arc::new(challenge);
        self
    }

    /// Sets the RFC 9728 `resource_metadata` URL of the challenges.
    pub fn resource_metadata(mut self, url: impl Into<String>) -> Self {
        self.challenge = Arc::new((*self.challenge).clone().resource_metadata(url));
        self
    }

    /// Refuses (413) JSON-RPC bodies longer than `bytes`.
    pub fn max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body_bytes = bytes;
        self
    }

    /// The policy enforced.
    pub fn policy(&self) -> &ScopePolicy {
        &self.policy
    }

    fn refuse(&self, error: &AuthError, headers: &HeaderMap) -> Refusal {
        match error.code() {
            ErrorCode::Misconfigured => tracing::error!(
                code = %error.code(),
                description = error.description(),
                "scope guard refused the request: the layers are in the wrong order"
            ),
            _ => tracing::debug!(
                code = %error.code(),
                operation = error.operation(),
                missing_scopes = ?error.missing_scopes(),
                description = error.description(),
                "scope guard refused the request"
            ),
        }
        self.challenge.response(error, headers)
    }
}

impl<S> Layer<S> for ScopeGuardLayer {
    type Service = ScopeGuard<S>;

    fn layer(&self, inner: S) -> Self::Service {
        self.metadata_warning
            .check("ScopeGuardLayer", &self.challenge);
        ScopeGuard {
            inner,
            layer: self.clone(),
        }
    }
}

/// Middleware that enforces a [`ScopePolicy`]. See [`ScopeGuardLayer`].
#[derive(Debug, Clone)]
pub struct ScopeGuard<S> {
    inner: S,
    layer: ScopeGuardLayer,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// An answer written by the layer, before the inner body type is known.
type Refusal = Response<LayerBody<Infallible>>;

impl<S, B, ResBody> Service<Request<B>> for ScopeGuard<S>
where
    S: Service<Request<LayerBody<B>>, Response = Response<ResBody>> + Clone,
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    type Response = Response<LayerBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S, B>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let layer = &self.layer;
        let Some(token) = req.extensions().get::<AccessToken>() else {
            return ResponseFuture::refused(layer.refuse(&no_access_token(), req.headers()));
        };
        let path = req.uri().path();
        if let Err(error) = layer
            .policy
            .route_requirement(req.method(), path)
            .check(token, || format!("{} {path}", req.method()))
        {
            return ResponseFuture::refused(layer.refuse(&error, req.headers()));
        }
        if !carries_json_rpc(&req) {
            return ResponseFuture::inner(self.inner.call(req.map(LayerBody::inner)));
        }
        // A declared length over the bound is refused before reading anything.
        if req.body().size_hint().lower() > layer.max_body_bytes as u64 {
            return ResponseFuture::refused(layer.refuse(&too_large(layer), req.headers()));
        }
        let (parts, body) = req.into_parts();
        // The ready service handles this request; the clone waits for the next `poll_ready`.
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        ResponseFuture {
            state: State::Reading {
                collect: Limited::new(body, layer.max_body_bytes).collect(),
                pending: Some(Pending {
                    inner,
                    parts,
                    layer: layer.clone(),
                }),
            },
        }
    }
}

/// A `POST` whose body may be JSON: `application/json`, `*/*+json`, or no content type (some
/// clients omit it and servers parse anyway). gRPC bodies are never read.
fn carries_json_rpc<B>(req: &Request<B>) -> bool {
    if req.method() != Method::POST || is_grpc(req.headers()) {
        return false;
    }
    match req.headers().get(header::CONTENT_TYPE) {
        None => true,
        Some(value) => value.to_str().is_ok_and(|ct| {
            let media = ct.split(';').next().unwrap_or_default().trim();
            media.eq_ignore_ascii_case("application/json")
                || media
                    .get(media.len().saturating_sub(5)..)
                    .is_some_and(|suffix| suffix.eq_ignore_ascii_case("+json"))
        }),
    }
}

/// The guard runs without a token only when it is outside the bearer layer (or there is none):
/// a deployment bug, so the answer says exactly what to change.
fn no_access_token() -> AuthError {
    AuthError::new(
        ErrorCode::Misconfigured,
        "ScopeGuardLayer saw a request without an AccessToken: BearerAuthLayer must run before \
         it. Mount both with McpAuth, which orders them; or, on an axum Router, call \
         .layer(ScopeGuardLayer) first and .layer(BearerAuthLayer) after it; in a tower \
         ServiceBuilder, add .layer(BearerAuthLayer) before .layer(ScopeGuardLayer)",
    )
}

fn too_large(layer: &ScopeGuardLayer) -> AuthError {
    AuthError::new(
        ErrorCode::BodyTooLarge,
        format!(
            "The JSON-RPC request body is larger than {} bytes",
            layer.max_body_bytes
        ),
    )
}

/// What the reading state needs to go on once the body is read.
struct Pending<S> {
    inner: S,
    parts: http::request::Parts,
    layer: ScopeGuardLayer,
}

pin_project! {
    /// Response future of [`ScopeGuard`].
    pub struct ResponseFuture<S, B>
    where
        S: Service<Request<LayerBody<B>>>,
        B: Body,
        B::Error: Into<BoxError>,
    {
        #[pin]
        state: State<S, B>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S, B>
    where
        S: Service<Request<LayerBody<B>>>,
        B: Body,
        B::Error: Into<BoxError>,
    {
        // The request was refused; the answer is ready.
        Refused { response: Option<Refusal> },
        // Reading the JSON-RPC body, bounded.
        Reading { #[pin] collect: Collect<Limited<B>>, pending: Option<Pending<S>> },
        // Waiting for the inner service.
        Inner { #[pin] future: S::Future },
        // The answer was handed out; polling again is the caller's bug.
        Done,
    }
}

impl<S, B> ResponseFuture<S, B>
where
    S: Service<Request<LayerBody<B>>>,
    B: Body,
    B::Error: Into<BoxError>,
{
    fn refused(response: Refusal) -> Self {
        Self {
            state: State::Refused {
                response: Some(response),
            },
        }
    }

    fn inner(future: S::Future) -> Self {
        Self {
            state: State::Inner { future },
        }
    }
}

impl<S, B, ResBody> Future for ResponseFuture<S, B>
where
    S: Service<Request<LayerBody<B>>, Response = Response<ResBody>>,
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    type Output = Result<Response<LayerBody<ResBody>>, S::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            let answer = match this.state.as_mut().project() {
                StateProj::Refused { response } => {
                    let response = response.take().expect(POLLED_AFTER_COMPLETION);
                    Ok(response.map(LayerBody::cast))
                }
                StateProj::Reading { collect, pending } => {
                    let read = ready!(collect.poll(cx));
                    let Pending {
                        mut inner,
                        parts,
                        layer,
                    } = pending.take().expect(POLLED_AFTER_COMPLETION);
                    let verdict = match read {
                        Ok(collected) => {
                            let bytes = collected.to_bytes();
                            match parts.extensions.get::<AccessToken>() {
                                Some(token) => {
                                    authorize_body(&layer.policy, &parts.headers, token, &bytes)
                                        .map(|()| bytes)
                                }
                                None => Err(no_access_token()),
                            }
                        }
                        Err(error) if error.downcast_ref::<LengthLimitError>().is_some() => {
                            Err(too_large(&layer))
                        }
                        Err(_) => Err(AuthError::new(
                            ErrorCode::BodyUnreadable,
                            "The request body could not be read",
                        )),
                    };
                    match verdict {
                        Ok(bytes) => {
                            let request = Request::from_parts(parts, LayerBody::full(bytes));
                            let future = inner.call(request);
                            this.state.set(State::Inner { future });
                            continue;
                        }
                        Err(error) => Ok(layer.refuse(&error, &parts.headers).map(LayerBody::cast)),
                    }
                }
                StateProj::Inner { future } => {
                    ready!(future.poll(cx)).map(|response| response.map(LayerBody::inner))
                }
                StateProj::Done => panic!("{POLLED_AFTER_COMPLETION}"),
            };
            this.state.set(State::Done);
            return Poll::Ready(answer);
        }
    }
}
