//! [`PrmRoute`]: serves the protected resource metadata at its well-known URLs.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::Empty;
use pin_project_lite::pin_project;
use tower_service::Service;

use crate::body::{LayerBody, POLLED_AFTER_COMPLETION};
use crate::challenge::Challenge;
use crate::prm::as_mirror::{AUTHORIZATION_SERVER_PATH, AuthorizationServerMirror};
use crate::prm::metadata::{PrmError, ProtectedResourceMetadata, WELL_KNOWN_PATH, resource_parts};
use crate::scope::ScopePolicy;

/// How long clients and caches may keep the metadata by default: one hour.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(3600);

const ALLOW: &str = "GET, HEAD, OPTIONS";

/// Serves [`ProtectedResourceMetadata`] (RFC 9728) and hands every other request to an inner
/// service (by default [`NotFound`]).
///
/// It answers `GET` and `HEAD` at `/.well-known/oauth-protected-resource` and, for a resource
/// with a path, at the path-inserted form (`https://host/mcp` →
/// `/.well-known/oauth-protected-resource/mcp`), with `Content-Type: application/json`,
/// `Cache-Control: public, max-age=…` and `Access-Control-Allow-Origin: *` (browser-based MCP
/// clients read it cross-origin); CORS preflight `OPTIONS` gets 204; any other method 405.
///
/// `scopes_supported` defaults to the policy's [`all_scopes`](ScopePolicy::all_scopes) and
/// `bearer_methods_supported` to `["header"]`. [`challenge`](Self::challenge) gives the
/// [`Challenge`] for the bearer and scope layers, whose `resource_metadata` is this route's URL.
///
/// Mount it on an axum `Router` as the fallback, **after** the auth layers so that it stays
/// public:
///
/// ```
/// use axum::{Router, routing::post};
/// use tower_mcp_auth::{PrmRoute, ProtectedResourceMetadata, ScopeGuardLayer, ScopePolicy};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let policy = ScopePolicy::builder().tool("search", ["search.read"]).build()?;
/// let mut metadata = ProtectedResourceMetadata::new("https://api.example.com/mcp");
/// metadata.authorization_servers = Some(vec!["https://tenant.example.com/".into()]);
/// let prm = PrmRoute::new(metadata, &policy)?;
///
/// let app: Router = Router::new()
///     .route("/mcp", post(|body: String| async move { body }))
///     .layer(ScopeGuardLayer::new(policy).challenge(prm.challenge())) // + BearerAuthLayer
///     .fallback_service(prm);
/// # Ok(()) }
/// ```
///
/// Around any other service (hyper, tonic): `PrmRoute::new(metadata, &policy)?.with_fallback(service)`.
#[derive(Debug)]
#[must_use = "a route does nothing until it is mounted"]
pub struct PrmRoute<S = NotFound> {
    shared: Arc<Shared>,
    inner: S,
}

impl<S: Clone> Clone for PrmRoute<S> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
            inner: self.inner.clone(),
        }
    }
}

#[derive(Debug, Clone)]
struct Shared {
    paths: Vec<String>,
    metadata_url: String,
    document: Bytes,
    cache_control: HeaderValue,
    scope_hint: Vec<String>,
    authorization_server: Option<Arc<AuthorizationServerMirror>>,
}

impl PrmRoute<NotFound> {
    /// Serves `metadata`, filling `scopes_supported` from `policy` and
    /// `bearer_methods_supported` with `["header"]` where unset.
    pub fn new(
        mut metadata: ProtectedResourceMetadata,
        policy: &ScopePolicy,
    ) -> Result<Self, PrmError> {
        let parts = resource_parts(&metadata.resource)?;
        if metadata.scopes_supported.is_none() && !policy.all_scopes().is_empty() {
            metadata.scopes_supported = Some(policy.all_scopes().to_vec());
        }
        if metadata.bearer_methods_supported.is_none() {
            // OAuth 2.1: the header is the only way this crate accepts a token.
            metadata.bearer_methods_supported = Some(vec!["header".to_owned()]);
        }
        let mut paths = vec![WELL_KNOWN_PATH.to_owned()];
        if !parts.path.is_empty() {
            paths.push(format!("{WELL_KNOWN_PATH}{}", parts.path));
        }
        let document = serde_json::to_vec(&metadata).map_err(|_| PrmError::InvalidResource {
            resource: metadata.resource.clone(),
            reason: "the metadata cannot be serialized",
        })?;
        Ok(Self {
            shared: Arc::new(Shared {
                paths,
                metadata_url: metadata.metadata_url()?,
                document: Bytes::from(document),
                cache_control: max_age_header(DEFAULT_MAX_AGE),
                scope_hint: policy.scope_hint(),
                authorization_server: None,
            }),
            inner: NotFound,
        })
    }
}

impl<S> PrmRoute<S> {
    /// Hands requests for other paths to `inner` instead.
    pub fn with_fallback<T>(self, inner: T) -> PrmRoute<T> {
        PrmRoute {
            shared: self.shared,
            inner,
        }
    }

    /// Lets clients and caches keep the metadata for `max_age` (default one hour).
    pub fn cache_max_age(mut self, max_age: Duration) -> Self {
        self.shared_mut().cache_control = max_age_header(max_age);
        self
    }

    /// Also answers `/.well-known/oauth-authorization-server` with the metadata of `issuer`,
    /// fetched from `<issuer>/.well-known/openid-configuration` on first use and kept (for MCP
    /// 2025-03-26 clients, which look for it on the resource server). Off by default.
    pub fn mirror_authorization_server(mut self, issuer: &str) -> Result<Self, PrmError> {
        self.shared_mut().authorization_server =
            Some(Arc::new(AuthorizationServerMirror::new(issuer)?));
        Ok(self)
    }

    /// The absolute URL of the metadata (RFC 9728 §3.1), as challenges name it.
    pub fn metadata_url(&self) -> &str {
        &self.shared.metadata_url
    }

    /// The paths this route answers, e.g. `["/.well-known/oauth-protected-resource",
    /// "/.well-known/oauth-protected-resource/mcp"]`.
    pub fn paths(&self) -> &[String] {
        &self.shared.paths
    }

    /// The serialized metadata document served.
    pub fn document(&self) -> &Bytes {
        &self.shared.document
    }

    /// The challenge for [`BearerAuthLayer`](crate::BearerAuthLayer) and
    /// [`ScopeGuardLayer`](crate::ScopeGuardLayer): `resource_metadata` is this route's URL and
    /// the 401 scope hint is the policy's [`scope_hint`](ScopePolicy::scope_hint).
    pub fn challenge(&self) -> Challenge {
        Challenge::new()
            .resource_metadata(self.shared.metadata_url.clone())
            .scope_hint(&self.shared.scope_hint)
    }

    // Copy-on-write: builder calls on a route already cloned do not change the clones.
    fn shared_mut(&mut self) -> &mut Shared {
        Arc::make_mut(&mut self.shared)
    }
}

fn max_age_header(max_age: Duration) -> HeaderValue {
    HeaderValue::from_str(&format!("public, max-age={}", max_age.as_secs()))
        .unwrap_or_else(|_| HeaderValue::from_static("public, max-age=3600"))
}

/// A JSON answer with the CORS header every metadata answer carries; no body for `HEAD`.
pub(crate) fn json_response(document: Bytes, head: bool) -> Response<LayerBody<Infallible>> {
    let length = HeaderValue::from(document.len());
    let mut response = Response::new(if head {
        LayerBody::empty()
    } else {
        LayerBody::full(document)
    });
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CONTENT_LENGTH, length);
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    response
}

fn preflight<B>(req: &Request<B>) -> Response<LayerBody<Infallible>> {
    let mut response = Response::new(LayerBody::empty());
    *response.status_mut() = StatusCode::NO_CONTENT;
    let headers = response.headers_mut();
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static(ALLOW),
    );
    // Echo what the browser asks for (e.g. `mcp-protocol-version`): the document is public.
    if let Some(requested) = req.headers().get(header::ACCESS_CONTROL_REQUEST_HEADERS) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, requested.clone());
    }
    headers.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("86400"),
    );
    response
}

fn method_not_allowed() -> Response<LayerBody<Infallible>> {
    let mut response = Response::new(LayerBody::empty());
    *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(ALLOW));
    response
}

type MirrorFuture = Pin<Box<dyn Future<Output = Response<LayerBody<Infallible>>> + Send>>;

impl<S, B, ResBody> Service<Request<B>> for PrmRoute<S>
where
    S: Service<Request<B>, Response = Response<ResBody>>,
{
    type Response = Response<LayerBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let path = req.uri().path();
        let shared = &self.shared;
        let is_metadata = shared.paths.iter().any(|p| p == path);
        let is_mirror = shared.authorization_server.is_some() && path == AUTHORIZATION_SERVER_PATH;
        if !is_metadata && !is_mirror {
            return ResponseFuture::inner(self.inner.call(req));
        }
        let head = req.method() == Method::HEAD;
        let response = match req.method() {
            &Method::GET | &Method::HEAD if is_metadata => {
                let mut response = json_response(shared.document.clone(), head);
                response
                    .headers_mut()
                    .insert(header::CACHE_CONTROL, shared.cache_control.clone());
                response
            }
            &Method::GET | &Method::HEAD => {
                let shared = Arc::clone(shared);
                let fetch: MirrorFuture = Box::pin(async move {
                    match &shared.authorization_server {
                        Some(mirror) => mirror.answer(head).await,
                        None => method_not_allowed(),
                    }
                });
                return ResponseFuture {
                    state: State::Fetching { fetch },
                };
            }
            &Method::OPTIONS => preflight(&req),
            _ => method_not_allowed(),
        };
        ResponseFuture {
            state: State::Ready {
                response: Some(response),
            },
        }
    }
}

pin_project! {
    /// Response future of [`PrmRoute`].
    pub struct ResponseFuture<F> {
        #[pin]
        state: State<F>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F> {
        // The metadata answer is ready.
        Ready { response: Option<Response<LayerBody<Infallible>>> },
        // Fetching (or reading the cached) authorization server metadata.
        Fetching { fetch: MirrorFuture },
        // Another path: waiting for the inner service.
        Inner { #[pin] future: F },
    }
}

impl<F> ResponseFuture<F> {
    fn inner(future: F) -> Self {
        Self {
            state: State::Inner { future },
        }
    }
}

impl<F, ResBody, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
{
    type Output = Result<Response<LayerBody<ResBody>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Ready { response } => {
                let response = response.take().expect(POLLED_AFTER_COMPLETION);
                Poll::Ready(Ok(response.map(LayerBody::cast)))
            }
            StateProj::Fetching { fetch } => {
                let response = ready!(fetch.as_mut().poll(cx));
                Poll::Ready(Ok(response.map(LayerBody::cast)))
            }
            StateProj::Inner { future } => {
                let response = ready!(future.poll(cx))?;
                Poll::Ready(Ok(response.map(LayerBody::inner)))
            }
        }
    }
}

/// The default inner service of [`PrmRoute`]: 404 with an empty body.
#[derive(Debug, Clone, Copy, Default)]
pub struct NotFound;

impl<B> Service<Request<B>> for NotFound {
    type Response = Response<Empty<Bytes>>;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Request<B>) -> Self::Future {
        let mut response = Response::new(Empty::new());
        *response.status_mut() = StatusCode::NOT_FOUND;
        std::future::ready(Ok(response))
    }
}
