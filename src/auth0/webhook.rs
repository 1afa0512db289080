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

use std::collections::{HashMap, HashSet, VecDeque};
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use aws_lc_rs::digest;
use bytes::Bytes;
use futures_util::StreamExt;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, header};
use http_body::Body;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use tower_service::Service;

use super::health::Auth0Health;
use super::log_event::{match_dcr, parse_payload};
use super::promoter::{DcrPromoter, PromotionOutcome};

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
    // Only a digest of the secret is kept: comparing digests is constant time whatever the length.
    secret_digest: [u8; 32],
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
        if self.secret.is_empty() {
            return Err(EmptySecret);
        }
        Ok(Auth0LogWebhookService {
            shared: Arc::new(Shared {
                secret_digest: sha256(self.secret.as_bytes()),
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

/// The count and ids of the clients in one outcome class.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientList {
    /// How many clients.
    pub count: usize,
    /// Their ids, in the order they finished.
    pub client_ids: Vec<String>,
}

impl ClientList {
    fn push(&mut self, id: String) {
        self.count += 1;
        self.client_ids.push(id);
    }
}

/// How the entries of a batch were sorted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryCounts {
    /// Entries in the batch.
    pub received: usize,
    /// Entries that are not `{log_id, data: {…}}`.
    pub malformed: usize,
    /// Entries whose `log_id` was completed before (redelivery): no work done.
    pub already_processed: usize,
    /// Entries that are not DCR events.
    pub ignored: usize,
    /// DCR entries that name no client id: logged, not promoted.
    pub dcr_without_client_id: usize,
}

/// The webhook's answer body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookSummary {
    /// Clients this batch changed.
    pub promoted: ClientList,
    /// Clients that needed no change.
    pub already_promoted: ClientList,
    /// Clients left alone (name filter, hand-made app, deleted).
    pub skipped: ClientList,
    /// Clients whose promotion failed after retries (then the answer is 503).
    pub failed: ClientList,
    /// How the batch's entries were sorted.
    pub entries: EntryCounts,
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
            inner: Box::pin(async move { Ok(shared.handle(request).await) }),
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
        if let Err(status) = self.check_secret(request.headers()) {
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

    /// `Ok` when a presented secret matches; `Err(401)` when none is presented, `Err(403)` when
    /// one is presented but none matches.
    fn check_secret(&self, headers: &HeaderMap) -> Result<(), StatusCode> {
        let bearer = headers.get_all(header::AUTHORIZATION).iter().map(|v| {
            let v = v.as_bytes();
            // The scheme is case-insensitive (RFC 7235); anything else is a wrong credential.
            match v.get(..7) {
                Some(scheme) if scheme.eq_ignore_ascii_case(b"bearer ") => {
                    v.get(7..).unwrap_or_default()
                }
                _ => b"\0not-bearer".as_slice(),
            }
        });
        let custom = headers
            .get_all("x-webhook-secret")
            .iter()
            .map(HeaderValue::as_bytes);
        let mut presented = false;
        let mut matched = subtle::Choice::from(0u8);
        for candidate in bearer.chain(custom) {
            presented = true;
            matched |= sha256(candidate.trim_ascii()).ct_eq(&self.secret_digest);
        }
        match (presented, bool::from(matched)) {
            (_, true) => Ok(()),
            (false, false) => Err(StatusCode::UNAUTHORIZED),
            (true, false) => Err(StatusCode::FORBIDDEN),
        }
    }

    async fn process(
        &self,
        entries: Vec<Result<super::log_event::LogEntry, super::log_event::MalformedEntry>>,
    ) -> WebhookSummary {
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

/// A bounded first-in-first-out memory of completed `log_id`s.
struct RecentLogIds {
    capacity: usize,
    order: VecDeque<String>,
    set: HashSet<String>,
}

impl RecentLogIds {
    fn new(capacity: usize) -> Self {
        Self {
            capacity,
            order: VecDeque::new(),
            set: HashSet::new(),
        }
    }

    fn contains(&self, id: &str) -> bool {
        self.set.contains(id)
    }

    fn insert(&mut self, id: String) {
        if self.capacity == 0 || self.set.contains(&id) {
            return;
        }
        if self.order.len() >= self.capacity
            && let Some(oldest) = self.order.pop_front()
        {
            self.set.remove(&oldest);
        }
        self.set.insert(id.clone());
        self.order.push_back(id);
    }
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest::digest(&digest::SHA256, bytes).as_ref());
    out
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_log_ids_forget_the_oldest_beyond_capacity() {
        let mut recent = RecentLogIds::new(2);
        recent.insert("a".into());
        recent.insert("b".into());
        recent.insert("a".into());
        recent.insert("c".into());
        assert!(!recent.contains("a"));
        assert!(recent.contains("b") && recent.contains("c"));
        let mut off = RecentLogIds::new(0);
        off.insert("a".into());
        assert!(!off.contains("a"));
    }
}
