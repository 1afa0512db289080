//! [`BearerAuthLayer`]: only requests with a valid bearer access token reach the inner service.
//!
//! The request's way through it, top-down:
//!
//! 1. read the one credential: `Authorization: Bearer <token>`
//!    ([`bearer_token`](crate::token::bearer_token)); none → 401 with the plain challenge;
//! 2. look the token up in the verified-token cache (its recent slot, compared whole, then by
//!    the SHA-256 of its signing input, its signature compared whole); on a hit whose source
//!    still vouches for it (its signing key is still in the issuer's JWKS, its introspection
//!    answer still fresh) re-check `exp`/`nbf` and go on to step 5;
//! 3. otherwise check its characters (malformed → 400 `invalid_request`) and refuse the shapes
//!    the verifier does not [accept](TokenVerifier::accepts) before any crypto (by default all
//!    but compact JWS, see [`require_jws`](crate::token::require_jws)): JWE →
//!    `ACCESS_TOKEN_IS_ENCRYPTED_JWE`, opaque → `ACCESS_TOKEN_NOT_JWS`;
//! 4. verify it with the [`TokenVerifier`] (signature, `iss`, `aud`, `exp`, …);
//! 5. insert the [`AccessToken`] into the request's extensions and call the inner service.
//!
//! Every refusal is answered by the layer's [`Challenge`] (RFC 6750 `WWW-Authenticate` with the
//! RFC 9728 `resource_metadata` URL, JSON body with a stable `code`).
//!
//! ```no_run
//! use axum::{Extension, Router, routing::get};
//! use tower_mcp_auth::{AccessToken, BearerAuthLayer, token::JwksVerifier};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let verifier = JwksVerifier::builder()
//!     .issuer("https://tenant.example.com/")
//!     .audience("https://api.example.com")
//!     .build()
//!     .await?;
//! let app: Router = Router::new()
//!     .route("/me", get(|Extension(token): Extension<AccessToken>| async move {
//!         token.subject().to_owned()
//!     }))
//!     .layer(BearerAuthLayer::new(verifier).resource_metadata(
//!         "https://api.example.com/.well-known/oauth-protected-resource",
//!     ));
//! # Ok(()) }
//! ```

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use http::{Request, Response};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use crate::body::{LayerBody, POLLED_AFTER_COMPLETION};
use crate::challenge::{AuthError, Challenge, ErrorCode, MetadataWarning};
use crate::metrics::Decider;
use crate::refusals::Refusals;
use crate::token::cache::{Lookup, TokenCache, now_secs};
use crate::token::classify::{checked_shape, shape_refused};
use crate::token::credential::bearer_credential;
use crate::token::hashed_token::{self, HashedToken};
use crate::token::{AccessToken, TokenVerifier};

/// The default bound on a bearer token's length: 16 KiB.
pub const DEFAULT_MAX_TOKEN_LEN: usize = 16 * 1024;
/// The default number of verified tokens kept in the cache.
pub const DEFAULT_TOKEN_CACHE_CAPACITY: usize = 10_000;

/// Applies [`BearerAuth`] to a service: requires a valid bearer access token.
///
/// Cheap to clone; every service it makes shares one verifier and one token cache.
///
/// Behind it, put [`ScopeGuardLayer`](crate::ScopeGuardLayer) (it reads the token this layer
/// inserts); [`McpAuth`](crate::McpAuth) mounts both in that order with one challenge, and is
/// what most servers want. See the [module docs](self) for an example.
#[must_use = "a layer does nothing until it wraps a service"]
pub struct BearerAuthLayer<V> {
    verifier: Arc<V>,
    refusals: Arc<Refusals>,
    cache: Option<Arc<TokenCache>>,
    max_token_len: usize,
    metadata_warning: MetadataWarning,
    optional: bool,
}

impl<V> Clone for BearerAuthLayer<V> {
    fn clone(&self) -> Self {
        Self {
            verifier: Arc::clone(&self.verifier),
            refusals: Arc::clone(&self.refusals),
            cache: self.cache.clone(),
            max_token_len: self.max_token_len,
            metadata_warning: self.metadata_warning.clone(),
            optional: self.optional,
        }
    }
}

impl<V> std::fmt::Debug for BearerAuthLayer<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BearerAuthLayer")
            .field("challenge", self.refusals.challenge())
            .field("cache", &self.cache.as_ref().map(|c| c.len()))
            .field("max_token_len", &self.max_token_len)
            .field("optional", &self.optional)
            .finish_non_exhaustive()
    }
}

impl<V: TokenVerifier> BearerAuthLayer<V> {
    /// A layer verifying tokens with `verifier`, with a 10 000-token cache, a 16 KiB token bound
    /// and an empty challenge (set [`resource_metadata`](Self::resource_metadata)).
    pub fn new(verifier: V) -> Self {
        Self {
            verifier: Arc::new(verifier),
            refusals: Arc::new(Refusals::new(Challenge::new())),
            cache: Some(Arc::new(TokenCache::new(DEFAULT_TOKEN_CACHE_CAPACITY))),
            max_token_len: DEFAULT_MAX_TOKEN_LEN,
            metadata_warning: MetadataWarning::default(),
            optional: false,
        }
    }

    /// Uses `challenge` for every refusal (share it with the scope guard). It replaces the whole
    /// challenge, including a [`resource_metadata`](Self::resource_metadata) URL set before.
    pub fn challenge(mut self, challenge: Challenge) -> Self {
        self.refusals = Arc::new(Refusals::new(challenge));
        self
    }

    /// Sets the RFC 9728 `resource_metadata` URL of the challenges.
    pub fn resource_metadata(mut self, url: impl Into<String>) -> Self {
        let challenge = self.refusals.challenge().clone().resource_metadata(url);
        self.refusals = Arc::new(Refusals::new(challenge));
        self
    }

    /// Refuses tokens longer than `bytes` before parsing them.
    pub fn max_token_len(mut self, bytes: usize) -> Self {
        self.max_token_len = bytes;
        self
    }

    /// Keeps at most `capacity` verified tokens (10 000 by default).
    ///
    /// A cached token costs its claims and its signature: about 1.4 KiB for an Auth0 RS256
    /// access token, so the default cache full of them takes about 14 MiB. A token with more
    /// than 684 bytes after its last dot is cached by the hash of all of it and costs its claims
    /// only.
    pub fn token_cache_capacity(mut self, capacity: usize) -> Self {
        self.cache = Some(Arc::new(TokenCache::new(capacity)));
        self
    }

    /// Optional bearer: a request with no credentials at all goes on without an
    /// [`AccessToken`], marked [`Anonymous`](crate::Anonymous), and the
    /// [`ScopeGuardLayer`](crate::ScopeGuardLayer) decides (it lets only the policy's public
    /// operations through). A request *with* a credential is verified as always: a malformed,
    /// expired or otherwise invalid one is refused (401/400), so clients re-authorize on it.
    pub fn optional(mut self) -> Self {
        self.optional = true;
        self
    }

    /// Verifies every request's token again (no cache).
    pub fn without_token_cache(mut self) -> Self {
        self.cache = None;
        self
    }

    /// The verifier.
    pub fn verifier(&self) -> &V {
        &self.verifier
    }
}

impl<S, V> Layer<S> for BearerAuthLayer<V> {
    type Service = BearerAuth<S, V>;

    fn layer(&self, inner: S) -> Self::Service {
        self.metadata_warning
            .check("BearerAuthLayer", self.refusals.challenge());
        BearerAuth {
            inner,
            layer: Arc::new(self.clone()),
        }
    }
}

/// Middleware that verifies the bearer token of every request. See [`BearerAuthLayer`].
pub struct BearerAuth<S, V> {
    inner: S,
    // One reference count for the whole configuration: servers clone the service per request.
    layer: Arc<BearerAuthLayer<V>>,
}

impl<S: Clone, V> Clone for BearerAuth<S, V> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            layer: Arc::clone(&self.layer),
        }
    }
}

impl<S: std::fmt::Debug, V> std::fmt::Debug for BearerAuth<S, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BearerAuth")
            .field("inner", &self.inner)
            .field("layer", &self.layer)
            .finish()
    }
}

/// An answer written by the layer, before the inner body type is known.
type Refusal = Response<LayerBody<Infallible>>;

type VerifyFuture = Pin<Box<dyn Future<Output = Result<AccessToken, AuthError>> + Send>>;

impl<S, V, ReqBody, ResBody> Service<Request<ReqBody>> for BearerAuth<S, V>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
    V: TokenVerifier,
{
    type Response = Response<LayerBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S, ReqBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        let layer = &self.layer;
        let credential = match bearer_credential(req.headers(), req.uri(), layer.max_token_len) {
            Ok(credential) => credential,
            // Only a request with no `Authorization` header at all is anonymous: another scheme
            // (`Basic …`) is a credential this layer cannot verify, refused as without the option.
            Err(error)
                if layer.optional
                    && error.code() == ErrorCode::MissingToken
                    && !req.headers().contains_key(http::header::AUTHORIZATION) =>
            {
                req.extensions_mut().insert(crate::Anonymous);
                return ResponseFuture::inner(self.inner.call(req));
            }
            Err(error) => return ResponseFuture::refused(layer.refuse(&error, &req)),
        };

        // A cached token passed every check below when it was verified, and a hit proves the
        // bytes are the same (see `TokenCache`): it skips them and goes straight to the time
        // claims. The token's recent slot first: no hash at all.
        if let Some(cache) = &layer.cache
            && let Some(cached) = cache.recent(credential)
            && cached.still_trusted()
        {
            return self.cached(cached, req, Hit::Recent);
        }

        // Its characters and shape before the main cache's SHA-256: a malformed or opaque token
        // is refused without hashing it.
        let token = match checked_shape(credential).and_then(|(token, shape)| {
            if layer.verifier.accepts(shape) {
                Ok(token)
            } else {
                Err(shape_refused(shape))
            }
        }) {
            Ok(token) => token,
            Err(error) => {
                if layer.cache.is_some() {
                    // Not in the cache: counted as the miss it is.
                    crate::metrics::token_cache(false);
                }
                return ResponseFuture::refused(layer.refuse(&error, &req));
            }
        };

        let mut cache_key = None;
        let mut signing_input = None;
        if let Some(cache) = &layer.cache {
            // The key is the signing input's SHA-256: kept for the signature check of a miss.
            let (key, signed) = hashed_token::hash(credential);
            signing_input = signed;
            match cache.lookup(credential, key) {
                // What vouched for the token must still do: a key withdrawn from the issuer's
                // JWKS, or an introspection answer past its time, makes the hit a miss
                // (verified afresh).
                Lookup::Hit(cached) if cached.still_trusted() => {
                    return self.cached(cached, req, Hit::Main);
                }
                Lookup::Hit(_) => {
                    cache.remove(credential);
                    cache_key = Some(key);
                }
                Lookup::Miss(key) => cache_key = Some(key),
            }
        }
        let verifier = Arc::clone(&layer.verifier);
        let token = token.to_owned();
        let cache = layer.cache.clone().zip(cache_key);
        let verify: VerifyFuture = Box::pin(async move {
            let timer = crate::metrics::VerifyTimer::start();
            let verified = match signing_input {
                Some(signed) => {
                    verifier
                        .verify_hashed(&HashedToken::new(&token, signed))
                        .await
                }
                None => verifier.verify(&token).await,
            };
            timer.stop(verified.is_ok());
            if let (Ok(access), Some((cache, key))) = (&verified, cache) {
                cache.insert(key, token.as_bytes(), access.clone());
            }
            verified
        });
        // The ready service handles this request; the clone waits for the next `poll_ready`.
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        ResponseFuture {
            state: State::Verifying {
                verify,
                pending: Some(Pending {
                    inner,
                    request: req,
                    refusals: Arc::clone(&layer.refusals),
                }),
            },
        }
    }
}

/// Where a cache hit came from, for counting it: the main cache counts its own look-ups; a
/// recent-slot hit is counted with the decision it leads to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Hit {
    Recent,
    Main,
}

impl<S, V> BearerAuth<S, V>
where
    V: TokenVerifier,
{
    /// A request whose token the cache vouches for (found where `hit` says): the time claims,
    /// then the inner service.
    #[inline]
    fn cached<ReqBody, ResBody>(
        &mut self,
        cached: AccessToken,
        mut req: Request<ReqBody>,
        hit: Hit,
    ) -> ResponseFuture<S, ReqBody>
    where
        S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    {
        let layer = &self.layer;
        let leeway = layer.verifier.leeway().as_secs();
        match cached.check_time(now_secs(), leeway) {
            Ok(()) => {
                req.extensions_mut().insert(cached);
                match hit {
                    Hit::Recent => crate::audit::allowed_recent_hit(&req),
                    Hit::Main => crate::audit::allowed(Decider::Bearer, &req, None),
                }
                ResponseFuture::inner(self.inner.call(req))
            }
            Err(error) => {
                if hit == Hit::Recent {
                    crate::metrics::token_cache(true);
                }
                // Expired: forget it (the credential is read again on this rare path).
                if let (Some(cache), Ok(credential)) = (
                    &layer.cache,
                    bearer_credential(req.headers(), req.uri(), layer.max_token_len),
                ) {
                    cache.remove(credential);
                }
                ResponseFuture::refused(layer.refuse(&error, &req))
            }
        }
    }
}

impl<V> BearerAuthLayer<V> {
    fn refuse<ReqBody>(&self, error: &AuthError, req: &Request<ReqBody>) -> Refusal {
        log_refusal(error);
        crate::audit::refused(Decider::Bearer, req, error);
        self.refusals.response(error, req.headers())
    }
}

fn log_refusal(error: &AuthError) {
    match error.code() {
        // The issuer or the deployment is failing: an operator must act.
        ErrorCode::KeysUnavailable
        | ErrorCode::IntrospectionUnavailable
        | ErrorCode::Misconfigured => {
            tracing::warn!(code = %error.code(), description = error.description(), "bearer token refused")
        }
        _ => {
            tracing::debug!(code = %error.code(), description = error.description(), "bearer token refused")
        }
    }
}

/// What the verifying state needs to go on once the token is verified.
struct Pending<S, ReqBody> {
    inner: S,
    request: Request<ReqBody>,
    refusals: Arc<Refusals>,
}

pin_project! {
    /// Response future of [`BearerAuth`].
    pub struct ResponseFuture<S, ReqBody>
    where
        S: Service<Request<ReqBody>>,
    {
        #[pin]
        state: State<S, ReqBody>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S, ReqBody>
    where
        S: Service<Request<ReqBody>>,
    {
        // The request was refused; the answer is ready.
        Refused { response: Option<Refusal> },
        // Waiting for the verifier (cache miss).
        Verifying { verify: VerifyFuture, pending: Option<Pending<S, ReqBody>> },
        // Waiting for the inner service.
        Inner { #[pin] future: S::Future },
        // The answer was handed out; polling again is the caller's bug.
        Done,
    }
}

impl<S, ReqBody> ResponseFuture<S, ReqBody>
where
    S: Service<Request<ReqBody>>,
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

impl<S, ReqBody, ResBody> Future for ResponseFuture<S, ReqBody>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
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
                StateProj::Verifying { verify, pending } => {
                    let verified = ready!(verify.as_mut().poll(cx));
                    let Pending {
                        mut inner,
                        mut request,
                        refusals,
                    } = pending.take().expect(POLLED_AFTER_COMPLETION);
                    match verified {
                        Ok(token) => {
                            request.extensions_mut().insert(token);
                            crate::audit::allowed(Decider::Bearer, &request, None);
                            let future = inner.call(request);
                            this.state.set(State::Inner { future });
                            continue;
                        }
                        Err(error) => {
                            log_refusal(&error);
                            crate::audit::refused(Decider::Bearer, &request, &error);
                            Ok(refusals.response(&error, request.headers()))
                        }
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
