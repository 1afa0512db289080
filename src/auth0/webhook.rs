//! [`Auth0LogWebhookService`]: the endpoint an Auth0 custom-webhook log stream POSTs to; it
//! promotes every client ChatGPT registered by DCR, and acknowledges only what it has done.
//!
//! The request's way through it:
//!
//! 1. `POST` only (else 405);
//! 2. the shared secret, from `Authorization: Bearer <secret>` or `X-Webhook-Secret: <secret>`,
//!    compared in constant time: none → 401, wrong → 403. Nothing of the body is read before;
//! 3. the body, bounded (default 5 MiB → 413); not JSON / JSON Lines → 400, nothing promoted;
//! 4. each entry: malformed → logged and skipped; `log_id` completed recently → skipped without
//!    any Management API call; not a DCR ([`match_dcr`]) → ignored;
//! 5. each distinct client of the batch is promoted once by the [`DcrPromoter`], a bounded number
//!    at a time;
//! 6. 200 with a [`WebhookSummary`] when nothing failed; 503 with the same summary when any
//!    promotion failed after retries, so the stream delivers the batch again (safe: promotion is
//!    idempotent, and entries already completed are remembered).
//!
//! A DCR entry that names no client id is logged and counted, not promoted. The original
//! gateway's fallback ("the newest client named like ChatGPT created in the last five minutes")
//! is deliberately absent: the Management API's client objects carry no creation time to find
//! "the newest" by, so it could only guess, and a wrong guess promotes someone else's client.
//!
//! ```no_run
//! use axum::Router;
//! use tower_mcp_auth::auth0::{Auth0LogWebhookService, DcrPromoter, ManagementClient};
//!
//! # fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let mgmt = ManagementClient::builder("dev-xxxxxx.us.auth0.com", "M2M_ID", "M2M_SECRET").build()?;
//! let promoter = DcrPromoter::builder(mgmt, "https://api.example.com", ["tools:read"])
//!     .connections(["google-oauth2"])
//!     .build();
//! let webhook = Auth0LogWebhookService::builder("LOG_WEBHOOK_SECRET", promoter).build()?;
//! let app: Router = Router::new().route_service("/auth0-log-webhook", webhook);
//! # Ok(()) }
//! ```

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::StreamExt;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body::Body;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use serde::Serialize;
use tower_service::Service;

use super::health::Auth0Health;
use super::log_event::{LogEntry, MalformedEntry, match_dcr, parse_payload};
use super::promoter::DcrPromoter;
use super::promotion::PromotionOutcome;
use super::recent_log_ids::RecentLogIds;
use super::secret::WebhookSecret;
use super::summary::WebhookSummary;

/// The default bound on a batch's body: 5 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 5 * 1024 * 1024;
/// The default number of promotions run at once.
pub const DEFAULT_CONCURRENCY: usize = 4;
/// The default number of completed `log_id`s remembered.
pub const DEFAULT_REMEMBERED_LOG_IDS: usize = 10_000;

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
                completed: Mutex::new(RecentLogIds::new(self.remembered)),
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
        let status = if summary.failed.count == 0 {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        };
        json_response(status, &summary)
    }

    async fn process(&self, entries: Vec<Result<LogEntry, MalformedEntry>>) -> WebhookSummary {
        let mut summary = WebhookSummary::default();
        summary.entries.received = entries.len();
        tracing::info!(entries = entries.len(), "received log batch");
        let mut done: Vec<String> = Vec::new();
        // Distinct clients of the batch, in first-seen order, with the log_ids that named them.
        let mut order: Vec<String> = Vec::new();
        let mut by_client: HashMap<String, Vec<String>> = HashMap::new();
        for entry in entries {
            let entry = match entry {
                Ok(entry) => entry,
                Err(bad) => {
                    tracing::warn!(
                        index = bad.index,
                        reason = bad.reason,
                        "skipping malformed log entry"
                    );
                    summary.entries.malformed += 1;
                    continue;
                }
            };
            if entry
                .log_id
                .as_deref()
                .is_some_and(|id| self.is_completed(id))
            {
                summary.entries.already_processed += 1;
                continue;
            }
            let Some(event) = match_dcr(&entry.data) else {
                summary.entries.ignored += 1;
                done.extend(entry.log_id);
                continue;
            };
            let Some((client_id, source)) = event.client else {
                tracing::warn!(log_id = ?entry.log_id, signal = ?event.signal,
                    "DCR log entry names no client id; skipped (no created-at lookup exists to find it)");
                summary.entries.dcr_without_client_id += 1;
                done.extend(entry.log_id);
                continue;
            };
            tracing::debug!(client_id = %client_id, signal = ?event.signal, source = ?source, "DCR event");
            let log_ids = by_client.entry(client_id.clone()).or_insert_with(|| {
                order.push(client_id);
                Vec::new()
            });
            log_ids.extend(entry.log_id);
        }

        let promoter = &self.promoter;
        let mut results = futures_util::stream::iter(order.into_iter().map(|client_id| {
            let log_ids = by_client.remove(&client_id).unwrap_or_default();
            async move {
                let outcome = promoter.promote(&client_id).await;
                (client_id, log_ids, outcome)
            }
        }))
        .buffer_unordered(self.concurrency);
        while let Some((client_id, log_ids, outcome)) = results.next().await {
            crate::metrics::webhook_client(&outcome);
            match outcome {
                Ok(PromotionOutcome::Promoted(_)) => summary.promoted.push(client_id),
                Ok(PromotionOutcome::AlreadyPromoted) => summary.already_promoted.push(client_id),
                Ok(PromotionOutcome::Skipped(_)) => summary.skipped.push(client_id),
                Err(e) => {
                    tracing::error!(client_id = %client_id, error = %e, "promotion failed; the batch will be redelivered");
                    summary.failed.push(client_id);
                    // Not completed: a redelivery must do this work again.
                    continue;
                }
            }
            done.extend(log_ids);
        }
        self.complete(done);
        crate::metrics::webhook_entries(&summary.entries);
        summary
    }

    fn is_completed(&self, log_id: &str) -> bool {
        self.completed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(log_id)
    }

    fn complete(&self, log_ids: Vec<String>) {
        let mut completed = self
            .completed
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for id in log_ids {
            completed.insert(id);
        }
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
