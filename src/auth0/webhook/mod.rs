//! [`Auth0LogWebhookService`]: the endpoint an Auth0 custom-webhook log stream POSTs to; it
//! promotes every client ChatGPT registered (by DCR, or an admin by CIMD), and acknowledges
//! only what it has done or what no redelivery can change.
//!
//! The request's way through it:
//!
//! 1. `POST` only (else 405);
//! 2. the shared secret, from `Authorization: Bearer <secret>` or `X-Webhook-Secret: <secret>`,
//!    compared in constant time: none → 401, wrong → 403. Nothing of the body is read before;
//! 3. the body, bounded (default 5 MiB → 413); not JSON / JSON Lines → 400, nothing promoted;
//! 4. each entry: malformed → logged and skipped; `log_id` completed recently → skipped without
//!    any Management API call; not a DCR ([`match_dcr`](super::log_event::match_dcr)) → ignored;
//! 5. each distinct client of the batch is promoted once by the [`DcrPromoter`], a bounded number
//!    at a time;
//! 6. 200 with a [`WebhookSummary`] when nothing failed in a way a redelivery can fix; 503 with
//!    the same summary when a promotion hit a 429, a 5xx, a timeout, the Management token or a
//!    missing Management API scope, so the stream delivers the batch again (safe: promotion is
//!    idempotent, and entries already completed are remembered). A refusal that would come back
//!    on every redelivery (a 400 on a field, a 404) is logged, counted under `refused` and in
//!    the health state, and acknowledged; so is a client that cannot log in until the tenant is
//!    fixed (`login_blocked`).
//!
//! A DCR entry that names no client id is logged and counted, not promoted. The original
//! gateway's fallback ("the newest client named like ChatGPT created in the last five minutes")
//! is deliberately absent: the Management API's client objects carry no creation time to find
//! "the newest" by, so it could only guess, and a wrong guess promotes someone else's client.
//!
//! ```no_run
//! use axum::Router;
//! use tower_mcp_auth::ClientSecret;
//! use tower_mcp_auth::auth0::{Auth0LogWebhookService, DcrPromoter, ManagementClient};
//!
//! # fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let mgmt = ManagementClient::builder("dev-xxxxxx.us.auth0.com")
//!     .client_credentials("M2M_ID", ClientSecret::new("M2M_SECRET"))
//!     .build()?;
//! let promoter = DcrPromoter::builder(mgmt, "https://api.example.com", ["tools:read"])
//!     .connections(["google-oauth2"])
//!     .build();
//! let webhook = Auth0LogWebhookService::builder("LOG_WEBHOOK_SECRET", promoter).build()?;
//! let app: Router = Router::new().route_service("/auth0-log-webhook", webhook);
//! # Ok(()) }
//! ```

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body::Body;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use serde::Serialize;
use tower_service::Service;

use super::health::Auth0Health;
use super::log_event::parse_payload;
use super::promoter::DcrPromoter;
use super::promotion_budget::PromotionBudget;
use super::recent_log_ids::RecentLogIds;
use super::secret::WebhookSecret;
#[cfg(doc)]
use super::summary::WebhookSummary;

/// The default bound on a batch's body: 5 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 5 * 1024 * 1024;
/// The default number of promotions run at once.
pub const DEFAULT_CONCURRENCY: usize = 4;
/// The default number of completed `log_id`s remembered.
pub const DEFAULT_REMEMBERED_LOG_IDS: usize = 10_000;
/// The default promotion budget: 60 clients at once, refilled at 60 a minute.
pub const DEFAULT_PROMOTIONS_PER_MINUTE: u32 = 60;
/// The default bound on the bytes of the remembered `log_id`s: 1 MiB.
pub const DEFAULT_REMEMBERED_LOG_ID_BYTES: usize = 1024 * 1024;

mod batch;

/// The webhook's tower `Service`. Cheap to clone; clones share the memory of completed entries.
#[derive(Clone)]
pub struct Auth0LogWebhookService {
    shared: Arc<Shared>,
}

struct Shared {
    secret: WebhookSecret,
    promoter: DcrPromoter,
    max_body: usize,
    concurrency: usize,
    completed: Mutex<RecentLogIds>,
    budget: Mutex<PromotionBudget>,
    health: Auth0Health,
}

impl std::fmt::Debug for Auth0LogWebhookService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth0LogWebhookService")
            .field("secret", &"[redacted]")
            .field("max_body", &self.shared.max_body)
            .field("concurrency", &self.shared.concurrency)
            .finish_non_exhaustive()
    }
}

/// The webhook secret is empty: every request would be refused or, worse, accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the log webhook secret must not be empty")]
pub struct EmptySecret;

/// Configures an [`Auth0LogWebhookService`].
pub struct Auth0LogWebhookServiceBuilder {
    secret: String,
    promoter: DcrPromoter,
    max_body: usize,
    concurrency: usize,
    remembered: usize,
    remembered_bytes: usize,
    promotions_per_minute: u32,
    health: Auth0Health,
}

impl std::fmt::Debug for Auth0LogWebhookServiceBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth0LogWebhookServiceBuilder")
            .field("secret", &"[redacted]")
            .finish_non_exhaustive()
    }
}

impl Auth0LogWebhookServiceBuilder {
    /// The bound on a batch's body (default [`DEFAULT_MAX_BODY_BYTES`]); larger → 413.
    pub fn max_body_bytes(mut self, limit: usize) -> Self {
        self.max_body = limit;
        self
    }

    /// How many clients are promoted at once (default [`DEFAULT_CONCURRENCY`], at least 1).
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    /// How many completed `log_id`s are remembered (default [`DEFAULT_REMEMBERED_LOG_IDS`]).
    pub fn remember_log_ids(mut self, n: usize) -> Self {
        self.remembered = n;
        self
    }

    /// How many bytes of completed `log_id`s are remembered at most (default
    /// [`DEFAULT_REMEMBERED_LOG_ID_BYTES`]); an id longer than Auth0 ever makes one is not
    /// remembered at all.
    pub fn remember_log_id_bytes(mut self, bytes: usize) -> Self {
        self.remembered_bytes = bytes;
        self
    }

    /// At most `n` client promotions at once, refilled at `n` a minute (default
    /// [`DEFAULT_PROMOTIONS_PER_MINUTE`]; 0 = no limit). Anyone can register clients through an
    /// open `/oidc/register`, and each registration costs Management API calls out of the
    /// tenant's shared rate limit; beyond the budget a client waits for a redelivery (503).
    pub fn max_promotions_per_minute(mut self, n: u32) -> Self {
        self.promotions_per_minute = n;
        self
    }

    /// Records accepted batches in this health state (give the same handle to the
    /// [`ManagementClient`](super::ManagementClient) and the health endpoint).
    pub fn health(mut self, health: Auth0Health) -> Self {
        self.health = health;
        self
    }

    /// Builds the service; refuses an empty secret.
    pub fn build(self) -> Result<Auth0LogWebhookService, EmptySecret> {
        let secret = WebhookSecret::new(&self.secret).ok_or(EmptySecret)?;
        Ok(Auth0LogWebhookService {
            shared: Arc::new(Shared {
                secret,
                promoter: self.promoter,
                max_body: self.max_body,
                concurrency: self.concurrency,
                completed: Mutex::new(RecentLogIds::new(self.remembered, self.remembered_bytes)),
                budget: Mutex::new(PromotionBudget::per_minute(self.promotions_per_minute)),
                health: self.health,
            }),
        })
    }
}

impl Auth0LogWebhookService {
    /// Starts configuring the webhook with its shared secret (`LOG_WEBHOOK_SECRET`) and the
    /// promoter it runs for each DCR event.
    pub fn builder(
        secret: impl Into<String>,
        promoter: DcrPromoter,
    ) -> Auth0LogWebhookServiceBuilder {
        Auth0LogWebhookServiceBuilder {
            secret: secret.into(),
            promoter,
            max_body: DEFAULT_MAX_BODY_BYTES,
            concurrency: DEFAULT_CONCURRENCY,
            remembered: DEFAULT_REMEMBERED_LOG_IDS,
            remembered_bytes: DEFAULT_REMEMBERED_LOG_ID_BYTES,
            promotions_per_minute: DEFAULT_PROMOTIONS_PER_MINUTE,
            health: Auth0Health::new(),
        }
    }

    /// The health state this service records into.
    pub fn health(&self) -> &Auth0Health {
        &self.shared.health
    }
}

/// The handling of one request: secret, body, promotions; boxed because it awaits the
/// Management API several times over.
type Handling = Pin<Box<dyn Future<Output = Result<Response<Full<Bytes>>, Infallible>> + Send>>;

/// The response future of [`Auth0LogWebhookService`].
pub struct ResponseFuture {
    inner: Handling,
}

impl std::fmt::Debug for ResponseFuture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ResponseFuture")
    }
}

impl Future for ResponseFuture {
    type Output = Result<Response<Full<Bytes>>, Infallible>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.inner.as_mut().poll(cx)
    }
}

impl<B> Service<Request<B>> for Auth0LogWebhookService
where
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let shared = self.shared.clone();
        ResponseFuture {
            inner: Box::pin(async move {
                let response = shared.handle(request).await;
                crate::metrics::webhook_delivery(response.status());
                Ok(response)
            }),
        }
    }
}

impl Shared {
    async fn handle<B>(&self, request: Request<B>) -> Response<Full<Bytes>>
    where
        B: Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        if request.method() != Method::POST {
            let mut response = error_response(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("POST"));
            return response;
        }
        if let Err(status) = self.secret.check(request.headers()) {
            tracing::warn!(
                status = status.as_u16(),
                "log webhook refused: bad or missing secret"
            );
            let code = if status == StatusCode::UNAUTHORIZED {
                "missing_webhook_secret"
            } else {
                "invalid_webhook_secret"
            };
            let mut response = error_response(status, code);
            if status == StatusCode::UNAUTHORIZED {
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"auth0-log-webhook\""),
                );
            }
            return response;
        }
        let declared = request
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > self.max_body as u64) {
            return error_response(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
        }
        let body = match Limited::new(request.into_body(), self.max_body)
            .collect()
            .await
        {
            Ok(collected) => collected.to_bytes(),
            Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => {
                return error_response(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
            }
            Err(_) => return error_response(StatusCode::BAD_REQUEST, "unreadable_body"),
        };
        self.health.record_event();
        let entries = match parse_payload(&body) {
            Ok(entries) => entries,
            Err(e) => {
                tracing::warn!(error = %e, bytes = body.len(), "log webhook payload refused");
                return error_response(StatusCode::BAD_REQUEST, "invalid_payload");
            }
        };
        let summary = self.process(entries).await;
        // Only what a redelivery can fix is answered 503 (see `acknowledge`).
        let status = if summary.failed.count + summary.deferred.count == 0 {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        };
        json_response(status, &summary)
    }
}

fn error_response(status: StatusCode, code: &'static str) -> Response<Full<Bytes>> {
    json_response(status, &serde_json::json!({ "error": code }))
}

fn json_response<T: Serialize>(status: StatusCode, body: &T) -> Response<Full<Bytes>> {
    let bytes = serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec());
    let mut response = Response::new(Full::new(Bytes::from(bytes)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
