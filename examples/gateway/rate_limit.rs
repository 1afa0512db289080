//! Rate limits per user, per client and per (user, tool), applied after the token is verified and
//! the scope guard has authorized the request, before anything reaches the backend.
//!
//! - `governor`'s GCRA keyed limiters (one `DashMap` per limit): a burst of `N`, then one
//!   request per `period / N`.
//! - Keys are a 128-bit digest of `iss` + `sub` (or `iss` + the token's client id), so every key
//!   costs the same few dozen bytes whatever the subject's length. Keys idle for a whole period
//!   are evicted every [`EVICTION_INTERVAL`], so memory follows the callers active in the last
//!   period, not every caller ever seen.
//! - A refusal is 429 with `Retry-After` (whole seconds, at least 1) and
//!   `{"error":"rate_limited","code":"RATE_LIMITED","limit":"user|client|tool",…}`.
//! - Each replica keeps its own counters: with R replicas behind a load balancer a caller gets
//!   up to R × the limit. For a global limit put a shared limiter in front (the load balancer's
//!   or API gateway's own, or a Redis-backed one).

pub mod settings;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use aws_lc_rs::digest;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use governor::clock::{Clock, DefaultClock};
use governor::state::keyed::DashMapStateStore;
use governor::{RateLimiter, middleware::NoOpMiddleware};
use serde_json::{Value, json};
use tower_mcp_auth::AccessToken;

use settings::RateLimitSettings;

/// How often idle keys are dropped.
pub const EVICTION_INTERVAL: Duration = Duration::from_secs(30);
/// The largest `/mcp` body read to find its tool names; the scope guard has already read and
/// bounded it (1 MiB), so this only restates that bound.
const MAX_BODY: usize = 1024 * 1024;

/// Refusals by limit (`user`, `client`, `tool`).
pub const RATE_LIMITED_TOTAL: &str = "gateway_rate_limited_total";
/// Keys held by the limiters after the last eviction.
pub const RATE_LIMIT_KEYS: &str = "gateway_rate_limit_keys";

type Key = [u8; 16];
type Keyed<C> = RateLimiter<Key, DashMapStateStore<Key>, C, NoOpMiddleware<<C as Clock>::Instant>>;

/// The limiters of one gateway process.
pub struct RateLimits<C: Clock = DefaultClock> {
    per_user: Option<Keyed<C>>,
    per_client: Option<Keyed<C>>,
    per_tool: HashMap<String, Keyed<C>>,
    clock: C,
}

/// Which limit refused, and when the caller may try again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limited {
    pub limit: &'static str,
    pub retry_after: Duration,
}

impl RateLimits<DefaultClock> {
    /// The limiters for `settings`; `None` when no limit is configured.
    pub fn new(settings: &RateLimitSettings) -> Option<Self> {
        Self::with_clock(settings, DefaultClock::default())
    }
}

impl<C: Clock + Clone> RateLimits<C> {
    pub fn with_clock(settings: &RateLimitSettings, clock: C) -> Option<Self> {
        if settings.is_empty() {
            return None;
        }
        let limiter =
            |rate: settings::Rate| RateLimiter::dashmap_with_clock(rate.quota(), clock.clone());
        Some(Self {
            per_user: settings.per_user.map(limiter),
            per_client: settings.per_client.map(limiter),
            per_tool: settings
                .per_tool
                .iter()
                .map(|(tool, rate)| (tool.clone(), limiter(*rate)))
                .collect(),
            clock,
        })
    }

    /// Whether the tool limits need the names of the tools a request calls.
    pub fn limits_tools(&self) -> bool {
        !self.per_tool.is_empty()
    }

    /// Counts one request of `token`'s holder calling `tools` against every limit that applies.
    /// A request refused by one limit still counts against the limits checked before it.
    pub fn check(&self, token: &AccessToken, tools: &[String]) -> Result<(), Limited> {
        let user = digest_key(&[
            b"user",
            token.issuer().as_bytes(),
            token.subject().as_bytes(),
        ]);
        self.check_one(self.per_user.as_ref(), &user, "user")?;
        if let Some(client) = token.client_id() {
            let client = digest_key(&[b"client", token.issuer().as_bytes(), client.as_bytes()]);
            self.check_one(self.per_client.as_ref(), &client, "client")?;
        }
        for tool in tools {
            self.check_one(self.per_tool.get(tool), &user, "tool")?;
        }
        Ok(())
    }

    fn check_one(
        &self,
        limiter: Option<&Keyed<C>>,
        key: &Key,
        limit: &'static str,
    ) -> Result<(), Limited> {
        let Some(limiter) = limiter else {
            return Ok(());
        };
        limiter.check_key(key).map_err(|not_until| Limited {
            limit,
            retry_after: not_until.wait_time_from(self.clock.now()),
        })
    }

    /// Drops every key whose state is back to fresh (idle for a whole period); returns the keys
    /// still held.
    pub fn evict_idle(&self) -> usize {
        self.limiters()
            .map(|limiter| {
                limiter.retain_recent();
                limiter.shrink_to_fit();
                limiter.len()
            })
            .sum()
    }

    /// Keys held now, over all limiters.
    #[cfg(test)]
    pub fn keys(&self) -> usize {
        self.limiters().map(RateLimiter::len).sum()
    }

    fn limiters(&self) -> impl Iterator<Item = &Keyed<C>> {
        self.per_user
            .iter()
            .chain(&self.per_client)
            .chain(self.per_tool.values())
    }
}

fn digest_key(parts: &[&[u8]]) -> Key {
    let mut context = digest::Context::new(&digest::SHA256);
    for part in parts {
        // Length-prefixed, so ("ab", "c") and ("a", "bc") never share a key.
        context.update(&(part.len() as u64).to_be_bytes());
        context.update(part);
    }
    let mut key = [0u8; 16];
    key.copy_from_slice(&context.finish().as_ref()[..16]);
    key
}

/// Evicts idle keys every [`EVICTION_INTERVAL`] for as long as the process runs.
pub fn spawn_eviction(limits: Arc<RateLimits>) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(EVICTION_INTERVAL);
        loop {
            every.tick().await;
            let held = limits.evict_idle();
            metrics::gauge!(RATE_LIMIT_KEYS).set(held as f64);
        }
    });
}

/// The axum middleware (`middleware::from_fn_with_state`), inside the scope guard.
pub async fn enforce(
    State(limits): State<Arc<RateLimits>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(token) = request.extensions().get::<AccessToken>().cloned() else {
        // No token behind the scope guard: the guard let an anonymous request through to a
        // public operation (optional bearer). There is no caller to count; it is not limited.
        return next.run(request).await;
    };
    let (request, tools) = match tools_called(request, limits.limits_tools()).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    match limits.check(&token, &tools) {
        Ok(()) => next.run(request).await,
        Err(limited) => {
            metrics::counter!(RATE_LIMITED_TOTAL, "limit" => limited.limit).increment(1);
            tracing::info!(
                limit = limited.limit,
                subject = token.subject(),
                retry_after_ms = limited.retry_after.as_millis() as u64,
                "rate limited"
            );
            refusal(limited)
        }
    }
}

/// The tools a request calls: `/tools/{tool}`, or the `tools/call` names of a JSON-RPC `POST
/// /mcp` body (which the scope guard has already read whole, so reading it again is a copy-free
/// move of the same bytes).
async fn tools_called(request: Request, needed: bool) -> Result<(Request, Vec<String>), Response> {
    if !needed || request.method() != Method::POST {
        return Ok((request, Vec::new()));
    }
    if let Some(tool) = request.uri().path().strip_prefix("/tools/") {
        let tool = tool.to_owned();
        return Ok((request, vec![tool]));
    }
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_BODY).await.map_err(|_| {
        crate::proxy::error(
            StatusCode::BAD_REQUEST,
            "REQUEST_BODY_UNREADABLE",
            "The request body could not be read",
        )
    })?;
    let tools = tool_names(&bytes);
    Ok((Request::from_parts(parts, Body::from(bytes)), tools))
}

fn tool_names(body: &[u8]) -> Vec<String> {
    let Ok(value) = serde_json::from_slice::<Value>(body) else {
        return Vec::new();
    };
    let messages = match value {
        Value::Array(messages) => messages,
        message => vec![message],
    };
    messages
        .iter()
        .filter(|m| m["method"] == "tools/call")
        .filter_map(|m| m["params"]["name"].as_str().map(str::to_owned))
        .collect()
}

fn refusal(limited: Limited) -> Response {
    // Whole seconds, rounded up, at least 1: `Retry-After: 0` would invite an instant retry.
    let secs = limited.retry_after.as_secs_f64().ceil().max(1.0) as u64;
    let body = json!({
        "error": "rate_limited",
        "code": "RATE_LIMITED",
        "error_description": format!("Too many requests for this {}; retry after {secs} s", limited.limit),
        "limit": limited.limit,
        "retry_after_secs": secs,
    });
    let mut response = Response::new(Body::from(body.to_string()));
    *response.status_mut() = StatusCode::TOO_MANY_REQUESTS;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
    response
}

#[cfg(test)]
mod tests;
