//! Prometheus-style metrics for every authorization decision, through the [`metrics`] facade.
//!
//! The layers, the JWKS key store, the Auth0 webhook and the Management API client record into
//! whatever recorder the application installs (`metrics-exporter-prometheus`, an OpenTelemetry
//! bridge, …). Without a recorder the calls do nothing but find none; with the cargo feature
//! `metrics` off (it is on by default) they are compiled out.
//!
//! | name | type | labels | meaning |
//! | --- | --- | --- | --- |
//! | `tower_mcp_auth_requests_total` | counter | `layer` (`bearer`, `scope_guard`), `outcome` (`allowed` or the refusal's [code](crate::ErrorCode), e.g. `INVALID_AUDIENCE`) | decisions of the layers |
//! | `tower_mcp_auth_token_cache_requests_total` | counter | `result` (`hit`, `miss`) | verified-token cache look-ups of the bearer layer |
//! | `tower_mcp_auth_token_verification_seconds` | histogram | `result` (`valid`, `invalid`) | time to verify a token on a cache miss (signature, claims, a key refresh if one was waited for) |
//! | `tower_mcp_auth_jwks_fetches_total` | counter | `jwks_uri`, `result` (`success`, `failure`) | JWKS fetch attempts |
//! | `tower_mcp_auth_jwks_keys` | gauge | `jwks_uri` | signing keys held now (failures keep the last good keys) |
//! | `tower_mcp_auth_jwks_last_success_timestamp_seconds` | gauge | `jwks_uri` | Unix time of the last successful fetch: seconds since it are `time() - this` |
//! | `tower_mcp_auth_webhook_deliveries_total` | counter | `status` (`200`, `400`, `401`, `403`, `405`, `413`, `503`, `other`) | log-stream batches answered, by HTTP status (`503`: a promotion failed, the stream will redeliver) |
//! | `tower_mcp_auth_webhook_entries_total` | counter | `kind` (`received`, `malformed`, `already_processed`, `ignored`, `dcr_without_client_id`) | log entries of accepted batches |
//! | `tower_mcp_auth_webhook_clients_total` | counter | `outcome` (`promoted`, `already_promoted`, `skipped`, `login_blocked`, `refused`, `deferred`, `failed`), `reason` (`none`; for `skipped`: `not_found`, `name_not_matched`, `hand_made_first_party`, `not_registered`, `callbacks_not_allowed`, `unknown_security_mode`) | DCR clients handled by the webhook (`failed`: a redelivery will retry it; `refused`: Auth0 refused for good; `deferred`: over the promotion budget) |
//! | `tower_mcp_auth_management_requests_total` | counter | `operation` (`get_client`, `patch_client`, `find_connection`, `client_connections`, `enable_clients`, `list_client_grants`, `create_client_grant`, `patch_client_grant`, …), `status` (`2xx`, `3xx`, `4xx`, `429`, `5xx`, `timeout`, `transport`, `error`) | Management API calls, after retries |
//! | `tower_mcp_auth_management_retries_total` | counter | `operation` | Management API attempts retried (429, 5xx, timeouts) |
//!
//! Labels never carry a token, a subject, a client id, a tool name or anything else a client
//! chooses: every value is fixed by the code or by the configuration (`jwks_uri`), so the number
//! of series is bounded. Who did what is in the audit event ([`crate::audit`]), not in metrics.
//!
//! The histogram needs buckets for a Prometheus exporter (without them
//! `metrics-exporter-prometheus` renders a summary):
//!
//! ```
//! use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};
//! use tower_mcp_auth::metrics::{TOKEN_VERIFICATION_SECONDS, VERIFICATION_SECONDS_BUCKETS};
//!
//! let builder = PrometheusBuilder::new()
//!     .set_buckets_for_metric(
//!         Matcher::Full(TOKEN_VERIFICATION_SECONDS.to_owned()),
//!         VERIFICATION_SECONDS_BUCKETS,
//!     )
//!     .expect("buckets are not empty");
//! let handle = builder.install_recorder().expect("no other recorder");
//! tower_mcp_auth::metrics::describe(); // `# HELP` lines for every metric
//! // Serve `handle.render()` at `GET /metrics`, and call `handle.run_upkeep()` now and then.
//! # let _ = handle.render();
//! ```

#[cfg(feature = "metrics")]
use crate::challenge::ErrorCode;

/// Decisions of the layers: `layer`, `outcome` (`allowed` or the refusal code).
pub const REQUESTS_TOTAL: &str = "tower_mcp_auth_requests_total";
/// Verified-token cache look-ups: `result` (`hit`, `miss`).
pub const TOKEN_CACHE_REQUESTS_TOTAL: &str = "tower_mcp_auth_token_cache_requests_total";
/// Token verification time on cache misses: `result` (`valid`, `invalid`).
pub const TOKEN_VERIFICATION_SECONDS: &str = "tower_mcp_auth_token_verification_seconds";
/// JWKS fetch attempts: `jwks_uri`, `result` (`success`, `failure`).
pub const JWKS_FETCHES_TOTAL: &str = "tower_mcp_auth_jwks_fetches_total";
/// Signing keys held: `jwks_uri`.
pub const JWKS_KEYS: &str = "tower_mcp_auth_jwks_keys";
/// Unix time of the last successful JWKS fetch: `jwks_uri`.
pub const JWKS_LAST_SUCCESS_TIMESTAMP_SECONDS: &str =
    "tower_mcp_auth_jwks_last_success_timestamp_seconds";
/// Log-stream batches answered: `status`.
pub const WEBHOOK_DELIVERIES_TOTAL: &str = "tower_mcp_auth_webhook_deliveries_total";
/// Log entries of accepted batches: `kind`.
pub const WEBHOOK_ENTRIES_TOTAL: &str = "tower_mcp_auth_webhook_entries_total";
/// DCR clients handled by the webhook: `outcome`, `reason`.
pub const WEBHOOK_CLIENTS_TOTAL: &str = "tower_mcp_auth_webhook_clients_total";
/// Management API calls after retries: `operation`, `status`.
pub const MANAGEMENT_REQUESTS_TOTAL: &str = "tower_mcp_auth_management_requests_total";
/// Management API attempts retried: `operation`.
pub const MANAGEMENT_RETRIES_TOTAL: &str = "tower_mcp_auth_management_retries_total";

/// Histogram buckets for [`TOKEN_VERIFICATION_SECONDS`], in seconds: an RS256 verification takes
/// 20–50 µs; the upper buckets catch requests that waited for a JWKS refresh.
pub const VERIFICATION_SECONDS_BUCKETS: &[f64] = &[
    0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.005, 0.025, 0.1, 0.5, 2.5,
];

/// Which layer made a decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decider {
    Bearer,
    ScopeGuard,
}

impl Decider {
    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            Self::Bearer => "bearer",
            Self::ScopeGuard => "scope_guard",
        }
    }
}

/// Registers the description of every metric above with the installed recorder (call it once,
/// after installing one: exporters print the descriptions as `# HELP`).
pub fn describe() {
    #[cfg(feature = "metrics")]
    record::describe();
}

#[cfg(feature = "metrics")]
pub(crate) use record::*;
#[cfg(not(feature = "metrics"))]
pub(crate) use silent::*;

#[cfg(feature = "metrics")]
mod record;

/// The same functions as `record`, doing nothing: the feature is off.
#[cfg(not(feature = "metrics"))]
#[allow(clippy::missing_const_for_fn)]
mod silent {
    use std::time::SystemTime;

    use super::Decider;
    use crate::challenge::ErrorCode;

    pub(crate) fn decision(_: Decider, _: Option<ErrorCode>) {}
    pub(crate) fn token_cache(_: bool) {}
    pub(crate) fn bearer_cache_hit_allowed() {}
    pub(crate) struct VerifyTimer;
    impl VerifyTimer {
        pub(crate) fn start() -> Self {
            Self
        }
        pub(crate) fn stop(self, _: bool) {}
    }
    pub(crate) fn jwks_fetch(_: &str, _: bool, _: usize, _: Option<SystemTime>) {}
    #[cfg(feature = "auth0")]
    pub(crate) use super::auth0_silent::*;
}

#[cfg(all(not(feature = "metrics"), feature = "auth0"))]
mod auth0_silent {
    use crate::auth0::ManagementError;
    use crate::auth0::promotion::PromotionOutcome;
    use crate::auth0::summary::WebhookSummary;

    pub(crate) fn webhook_delivery(_: http::StatusCode) {}
    pub(crate) fn webhook_batch(_: &WebhookSummary) {}
    pub(crate) fn webhook_client(_: &Result<PromotionOutcome, ManagementError>) {}
    pub(crate) fn management_call<T>(
        _: &'static str,
        _: &Result<(http::StatusCode, T), ManagementError>,
    ) {
    }
    pub(crate) fn management_retry(_: &'static str) {}
}
