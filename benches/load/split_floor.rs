//! [`Role::SplitCheckedFloor`](super::Role::SplitCheckedFloor): the checked tool-guard floor's
//! `GET` work split the way the crate's design splits it, and nothing more.
//!
//! The crate has two layers, each usable alone (`BearerAuthLayer` on its own authenticates
//! a REST API; `ScopeGuardLayer` reads the token any authenticator inserts), and the guard
//! hands the inner service a body of its own type, generic over the server's (it must be able
//! to hand on the bytes it read, for axum, hyper, tonic and rmcp alike). So every design with
//! those two layers pays, on top of the one-layer floor's checks:
//! - a second service and future around the inner one;
//! - the verified principal handed from the first layer to the second in the request's
//!   extensions (a handler reads it there too);
//! - a body wrapper each way: the inner layer's request body and both layers' answers, which
//!   axum boxes again because they are not its own `Body`.
//!
//! These two hand-written layers do exactly that and the checked floor's `GET` checks (token
//! compared in constant time, `exp`, session binding, the route's scope), with no cache, no
//! policy, no metrics. `GET` only: a `POST` is refused 405 (the load run sends it none).

use std::future::{Future, Ready, ready};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Bytes;
use futures_util::future::Either;
use http::{Method, Request, Response, StatusCode, header};
use http_body::Frame;
use pin_project_lite::pin_project;

use super::{FloorChecks, ToolGuardFloor, same_bytes};

/// What the first layer hands the second: the token's scopes, shared.
pub struct Principal {
    scopes: Vec<String>,
}

pin_project! {
    /// The layers' body: the inner service's, or one they wrote.
    #[project = FloorBodyProj]
    pub enum FloorBody<B> {
        Inner { #[pin] body: B },
        Full { data: Option<Bytes> },
    }
}

impl<B> FloorBody<B> {
    fn refusal(status: StatusCode) -> Response<Self> {
        let mut response = Response::new(FloorBody::Full { data: None });
        *response.status_mut() = status;
        response
    }
}

impl<B: http_body::Body<Data = Bytes>> http_body::Body for FloorBody<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        match self.project() {
            FloorBodyProj::Inner { body } => body.poll_frame(cx),
            FloorBodyProj::Full { data } => Poll::Ready(data.take().map(|d| Ok(Frame::data(d)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            FloorBody::Inner { body } => body.is_end_stream(),
            FloorBody::Full { data } => data.is_none(),
        }
    }

    fn size_hint(&self) -> http_body::SizeHint {
        match self {
            FloorBody::Inner { body } => body.size_hint(),
            FloorBody::Full { data } => {
                http_body::SizeHint::with_exact(data.as_ref().map_or(0, |d| d.len() as u64))
            }
        }
    }
}

pin_project! {
    /// The inner service's future, its answer's body wrapped.
    pub struct Wrapped<F> { #[pin] inner: F }
}

impl<F, B, E> Future for Wrapped<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<FloorBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project()
            .inner
            .poll(cx)
            .map_ok(|response| response.map(|body| FloorBody::Inner { body }))
    }
}

type Answer<B, E> = Result<Response<FloorBody<B>>, E>;
type LayerFuture<F, B, E> = Either<Ready<Answer<B, E>>, Wrapped<F>>;

/// The first layer's work: the token, its expiry, the principal inserted.
#[derive(Clone)]
pub struct Authenticate<S> {
    inner: S,
    floor: Arc<ToolGuardFloor>,
    principal: Arc<Principal>,
}

impl<S, ReqBody, ResBody> tower::Service<Request<ReqBody>> for Authenticate<S>
where
    S: tower::Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<FloorBody<ResBody>>;
    type Error = S::Error;
    type Future = LayerFuture<S::Future, ResBody, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        let admitted = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.as_bytes().strip_prefix(b"Bearer "))
            .is_some_and(|token| same_bytes(token, &self.floor.token))
            && self.floor.checks.as_ref().is_some_and(FloorChecks::fresh);
        if !admitted {
            return Either::Left(ready(Ok(FloorBody::refusal(StatusCode::UNAUTHORIZED))));
        }
        req.extensions_mut().insert(Arc::clone(&self.principal));
        Either::Right(Wrapped {
            inner: self.inner.call(req),
        })
    }
}

/// The second layer's work: the principal read back, session binding, the route's scope.
#[derive(Clone)]
pub struct Authorize<S> {
    inner: S,
    floor: Arc<ToolGuardFloor>,
}

impl<S, ReqBody, ResBody> tower::Service<Request<ReqBody>> for Authorize<S>
where
    S: tower::Service<Request<FloorBody<ReqBody>>, Response = Response<ResBody>>,
{
    type Response = Response<FloorBody<ResBody>>;
    type Error = S::Error;
    type Future = LayerFuture<S::Future, ResBody, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let refuse = |status| Either::Left(ready(Ok(FloorBody::refusal(status))));
        let Some(principal) = req.extensions().get::<Arc<Principal>>() else {
            return refuse(StatusCode::INTERNAL_SERVER_ERROR);
        };
        if req.method() != Method::GET {
            return refuse(StatusCode::METHOD_NOT_ALLOWED);
        }
        let checks = self.floor.checks.as_ref();
        if !checks.is_some_and(|checks| checks.session_allowed(req.headers())) {
            return refuse(StatusCode::NOT_FOUND);
        }
        let route_scope = self.floor.route_scope;
        if !principal.scopes.iter().any(|held| held == route_scope) {
            return refuse(StatusCode::FORBIDDEN);
        }
        Either::Right(Wrapped {
            inner: self.inner.call(req.map(|body| FloorBody::Inner { body })),
        })
    }
}

/// Both layers, mounted as the crate's docs mount its two: one `Router::layer` call.
#[derive(Clone)]
struct SplitLayers {
    floor: Arc<ToolGuardFloor>,
    principal: Arc<Principal>,
}

impl<S> tower::Layer<S> for SplitLayers {
    type Service = Authenticate<Authorize<S>>;

    fn layer(&self, inner: S) -> Self::Service {
        Authenticate {
            inner: Authorize {
                inner,
                floor: Arc::clone(&self.floor),
            },
            floor: Arc::clone(&self.floor),
            principal: Arc::clone(&self.principal),
        }
    }
}

/// See [`Role::SplitCheckedFloor`](super::Role::SplitCheckedFloor).
pub fn split_checked_floor(app: axum::Router, floor: ToolGuardFloor) -> axum::Router {
    let principal = Arc::new(Principal {
        scopes: floor.scopes.clone(),
    });
    let layers = SplitLayers {
        floor: Arc::new(floor),
        principal,
    };
    app.layer(layers)
}
