//! [`ScopeGuardLayer`]: each request, and each MCP call in it, reaches the inner service only if
//! the token has the scopes the [`ScopePolicy`] asks for.
//!
//! The request's way through it, top-down:
//!
//! 1. take the [`AccessToken`] that [`BearerAuthLayer`](crate::BearerAuthLayer) put in the
//!    extensions; none → 500 `SERVER_MISCONFIGURED` (the layers are in the wrong order);
//! 2. check the route scopes from the method and path (no body read); gRPC requests stop here;
//! 3. a request naming an `Mcp-Session-Id` must carry a token of the user the session was
//!    issued to (404 otherwise; see [`SessionBinding`](crate::scope::SessionBinding));
//! 4. for a `POST` whose body it must read (JSON, or any body on a route the policy marks as
//!    JSON-RPC), refuse what it could not read as the server would (415 for encoded bodies and,
//!    on JSON-RPC routes, non-JSON content types; 400 for a non-ASCII `Content-Type`), then read
//!    the body (bounded, 1 MiB by default → 413; within 10 s by default → 408), refuse anything
//!    but one RFC 8259 JSON value (400, JSON-RPC parse error), find the JSON-RPC message(s) in
//!    it, refuse `Mcp-Method`/`Mcp-Name` headers that disagree with it (400, MCP SEP-2243), and
//!    check each call by what it names: `tools/call` by `params.name`, the resource methods by
//!    `params.uri` (normalised), `prompts/get` by `params.name`, `completion/complete` by its
//!    `ref`, `subscriptions/listen` by its resource URIs, any method by its name; a batch passes
//!    only if every call does;
//! 5. hand the request on with the very bytes read ([`LayerBody`]), and bind a session id the
//!    answer issues to the token's user.
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
//!     .json_rpc_route("/mcp")
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
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body::Body;
use http_body_util::LengthLimitError;
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use crate::Anonymous;
use crate::audit::Head;
use crate::body::{LayerBody, POLLED_AFTER_COMPLETION};
use crate::challenge::{AuthError, Challenge, ErrorCode, MetadataWarning};
use crate::metrics::Decider;
use crate::scope::ScopePolicy;
use crate::scope::authorize::authorize_body;
use crate::scope::body_read::{self, BodyPlan, DEFAULT_BODY_READ_TIMEOUT, ReadWhole};
use crate::scope::jsonrpc::JsonRpcBody;
use crate::scope::sessions::{Observation, SessionBinding, SessionStore};
use crate::scope::tool_result::{ChallengeMode, tool_result_refusal};
use crate::scope::tools_list::ToolsListRequest;
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
    body_read_timeout: Option<Duration>,
    sessions: Option<Arc<SessionStore>>,
    metadata_warning: MetadataWarning,
    mode: ChallengeMode,
    /// Set by [`ScopeGuardLayer::challenge_all_policy_scopes`]: what every 401 asks for.
    all_scopes: Option<Arc<[String]>>,
}

impl ScopeGuardLayer {
    /// A guard enforcing `policy`, reading at most 1 MiB of body within 10 s, binding MCP
    /// sessions to their users ([`SessionBinding::new`]), with an empty challenge (set
    /// [`challenge`](Self::challenge) or [`resource_metadata`](Self::resource_metadata)).
    pub fn new(policy: impl Into<Arc<ScopePolicy>>) -> Self {
        Self {
            policy: policy.into(),
            challenge: Arc::new(Challenge::new()),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            body_read_timeout: Some(DEFAULT_BODY_READ_TIMEOUT),
            sessions: Some(Arc::new(SessionStore::new(SessionBinding::new()))),
            metadata_warning: MetadataWarning::default(),
            mode: ChallengeMode::Http,
            all_scopes: None,
        }
    }

    /// Refuses (408) a body the guard reads that is still arriving after `timeout` (default
    /// 10 s), so a slow client cannot hold a buffer for long; `None` waits as long as the
    /// connection lasts. The timer needs a Tokio runtime with time enabled (every axum, hyper
    /// and tonic server has one); without one the guard waits without a timer.
    pub fn body_read_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.body_read_timeout = timeout;
        self
    }

    /// Binds MCP sessions to their users as `binding` says (the default is
    /// [`SessionBinding::new`]): a request naming an `Mcp-Session-Id` issued to another user,
    /// or unknown to this guard, is refused 404.
    pub fn session_binding(mut self, binding: SessionBinding) -> Self {
        self.sessions = Some(Arc::new(SessionStore::new(binding)));
        self
    }

    /// Turns session binding off: for servers without `Mcp-Session-Id` sessions (stateless MCP
    /// 2026-07-28, REST APIs), or when several guards (replicas) serve the same sessions and
    /// none sees every session being issued.
    pub fn without_session_binding(mut self) -> Self {
        self.sessions = None;
        self
    }

    /// How a refused protected `tools/call` is answered: HTTP 401/403 ([`ChallengeMode::Http`],
    /// the default) or a JSON-RPC tool result with the challenge in
    /// `_meta["mcp/www_authenticate"]` ([`ChallengeMode::ToolResult`], for ChatGPT).
    pub fn challenge_mode(mut self, mode: ChallengeMode) -> Self {
        self.mode = mode;
        self
    }

    /// Every 401 this guard writes (a protected call without a token) asks for every scope of
    /// the policy ([`ScopePolicy::all_scopes_hint`]) instead of that operation's: for clients
    /// whose step-up on a later 403 is unreliable (Claude: anthropics/claude-code#73712,
    /// anthropics/claude-ai-mcp#931), so the first login gets every scope. Give the bearer
    /// layer the same hint: `Challenge::scope_hint(policy.all_scopes_hint())`.
    pub fn challenge_all_policy_scopes(mut self) -> Self {
        self.all_scopes = Some(self.policy.all_scopes_hint().into());
        self
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

    /// Like [`refuse`](Self::refuse) for a refusal of the JSON-RPC `body`: in tool-result mode a
    /// refused `tools/call` becomes a tool result.
    fn refuse_body(&self, error: &AuthError, request: &impl Head, body: &[u8]) -> Refusal {
        if self.mode == ChallengeMode::ToolResult
            && let Some(result) =
                tool_result_refusal(&self.challenge, error, request.headers(), body)
        {
            tracing::debug!(
                code = %error.code(),
                operation = error.operation(),
                "scope guard refused the call with a tool result"
            );
            crate::audit::refused(Decider::ScopeGuard, request, error);
            return result;
        }
        self.refuse(error, request)
    }

    fn refuse(&self, error: &AuthError, request: &impl Head) -> Refusal {
        crate::audit::refused(Decider::ScopeGuard, request, error);
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
        self.challenge.response(error, request.headers())
    }
}

impl<S> Layer<S> for ScopeGuardLayer {
    type Service = ScopeGuard<S>;

    fn layer(&self, inner: S) -> Self::Service {
        self.metadata_warning
            .check("ScopeGuardLayer", &self.challenge);
        ScopeGuard {
            inner,
            layer: Arc::new(self.clone()),
        }
    }
}

/// Middleware that enforces a [`ScopePolicy`]. See [`ScopeGuardLayer`].
#[derive(Debug, Clone)]
pub struct ScopeGuard<S> {
    inner: S,
    // One reference count for the whole configuration: servers clone the service per request,
    // and every body read holds it until the body is judged.
    layer: Arc<ScopeGuardLayer>,
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
        let token = req.extensions().get::<AccessToken>();
        if token.is_none() && req.extensions().get::<Anonymous>().is_none() {
            return ResponseFuture::refused(layer.refuse(&no_access_token(), &req));
        }
        let path = req.uri().path();
        if layer
            .policy
            .public_operations()
            .is_public_route(req.method(), path)
        {
            return ResponseFuture::inner(self.inner.call(req.map(LayerBody::inner)), None);
        }
        // What the body is decides whether the default scopes are checked here or per call; a
        // body the guard will refuse counts as no JSON-RPC, so the route's scopes (and a token)
        // are asked for first and an anonymous caller learns nothing from the body's refusal.
        let plan = body_read::plan(&req, &layer.policy);
        let json_rpc = matches!(plan, BodyPlan::Read { .. });
        // With public operations, the default scopes are checked per JSON-RPC call (public
        // calls need none) instead of here.
        let requirement = layer.policy.route_rules_requirement(
            req.method(),
            path,
            !(json_rpc && layer.policy.has_public_operations()),
        );
        // A caller without a token passes this step only towards a public call in the body.
        let deferred = token.is_none() && json_rpc && requirement.is_empty();
        if !deferred
            && let Err(error) =
                requirement.check_principal(token, layer.all_scopes.as_deref(), || {
                    format!("{} {path}", req.method())
                })
        {
            return ResponseFuture::refused(layer.refuse(&error, &req));
        }
        let observation = match &layer.sessions {
            Some(store) => match store.check(req.method(), req.headers(), token) {
                Ok(observation) => observation,
                Err(error) => return ResponseFuture::refused(layer.refuse(&error, &req)),
            },
            None => None,
        };
        let json_rpc_route = match plan {
            BodyPlan::Pass => {
                crate::audit::allowed(Decider::ScopeGuard, &req, None);
                let future = self.inner.call(req.map(LayerBody::inner));
                return ResponseFuture::inner(future, observation);
            }
            BodyPlan::Refuse(error) => {
                return ResponseFuture::refused(layer.refuse(&error, &req));
            }
            BodyPlan::Read { json_rpc_route } => json_rpc_route,
        };
        // A declared length over the bound is refused before reading anything.
        if req.body().size_hint().lower() > layer.max_body_bytes as u64 {
            return ResponseFuture::refused(layer.refuse(&too_large(layer), &req));
        }
        let (parts, body) = req.into_parts();
        // The ready service handles this request; the clone waits for the next `poll_ready`.
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        ResponseFuture {
            state: State::Reading {
                collect: ReadWhole::new(body, layer.max_body_bytes),
                deadline: None,
                pending: Some(Pending {
                    inner,
                    parts,
                    layer: Arc::clone(layer),
                    json_rpc_route,
                }),
            },
            observation,
        }
    }
}

/// A timer of `timeout` on the current Tokio runtime, or `None` when there is no runtime with
/// timers (Tokio panics creating a timer there; that panic is caught, never the caller's).
fn start_timer(timeout: Option<Duration>) -> Option<Pin<Box<tokio::time::Sleep>>> {
    let timeout = timeout?;
    tokio::runtime::Handle::try_current().ok()?;
    let timer = std::panic::catch_unwind(|| Box::pin(tokio::time::sleep(timeout))).ok();
    if timer.is_none() {
        tracing::warn!(
            "ScopeGuardLayer: the Tokio runtime has no timers, so the body read timeout is off"
        );
    }
    timer
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
    layer: Arc<ScopeGuardLayer>,
    json_rpc_route: bool,
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
        // What to learn from the answer about MCP sessions (session binding on).
        observation: Option<Observation>,
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
        // Reading the JSON-RPC body, bounded in size and (once it waits) in time.
        Reading {
            #[pin] collect: ReadWhole<B>,
            deadline: Option<Pin<Box<tokio::time::Sleep>>>,
            pending: Option<Pending<S>>,
        },
        // Waiting for the inner service.
        Inner { #[pin] future: S::Future },
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
            observation: None,
        }
    }

    fn inner(future: S::Future, observation: Option<Observation>) -> Self {
        Self {
            state: State::Inner { future },
            observation,
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
            match this.state.as_mut().project() {
                StateProj::Refused { response } => {
                    let response = response.take().expect(POLLED_AFTER_COMPLETION);
                    return Poll::Ready(Ok(response.map(LayerBody::cast)));
                }
                StateProj::Reading {
                    collect,
                    deadline,
                    pending,
                } => {
                    let Poll::Ready(read) = collect.poll(cx) else {
                        if deadline.is_none() {
                            let timeout = pending.as_ref().and_then(|p| p.layer.body_read_timeout);
                            *deadline = start_timer(timeout);
                        }
                        let expired = deadline
                            .as_mut()
                            .is_some_and(|timer| timer.as_mut().poll(cx).is_ready());
                        if let Some(Pending { parts, layer, .. }) = pending.take_if(|_| expired) {
                            let error = AuthError::new(
                                ErrorCode::BodyReadTimeout,
                                "The request body did not arrive in time",
                            );
                            let response = layer.refuse(&error, &parts);
                            return Poll::Ready(Ok(response.map(LayerBody::cast)));
                        }
                        return Poll::Pending;
                    };
                    let Pending {
                        mut inner,
                        parts,
                        layer,
                        json_rpc_route,
                    } = pending.take().expect(POLLED_AFTER_COMPLETION);
                    let bytes = match read {
                        Ok(bytes) => bytes,
                        Err(error) => {
                            let error = if error.downcast_ref::<LengthLimitError>().is_some() {
                                too_large(&layer)
                            } else {
                                AuthError::new(
                                    ErrorCode::BodyUnreadable,
                                    "The request body could not be read",
                                )
                            };
                            let response = layer.refuse(&error, &parts);
                            return Poll::Ready(Ok(response.map(LayerBody::cast)));
                        }
                    };
                    let verdict = authorize_body(
                        &layer.policy,
                        &parts.headers,
                        parts.extensions.get::<AccessToken>(),
                        layer.all_scopes.as_deref(),
                        &bytes,
                        json_rpc_route,
                    );
                    // The body was read once: only a `tools/list` is looked at again (for its id).
                    let tools_list = match verdict {
                        Ok(JsonRpcBody::Single(call)) => {
                            call.method.as_deref() == Some("tools/list")
                        }
                        Ok(_) => false,
                        Err(error) => {
                            let response = layer.refuse_body(&error, &parts, &bytes);
                            return Poll::Ready(Ok(response.map(LayerBody::cast)));
                        }
                    };
                    crate::audit::allowed_body(Decider::ScopeGuard, &parts, &bytes);
                    let mut parts = parts;
                    if tools_list && let Some(mark) = ToolsListRequest::of(&bytes) {
                        parts.extensions.insert(mark);
                    }
                    let request = Request::from_parts(parts, LayerBody::full(bytes));
                    let future = inner.call(request);
                    this.state.set(State::Inner { future });
                }
                StateProj::Inner { future } => {
                    let response = ready!(future.poll(cx))?;
                    if let Some(observation) = this.observation.take() {
                        observation.learn(response.status(), response.headers());
                    }
                    return Poll::Ready(Ok(response.map(LayerBody::inner)));
                }
            }
        }
    }
}
