//! `GET /health/auth0`: can the gateway verify tokens, and is the Auth0 side alive?
//!
//! 200 when the issuer's JWKS was fetched successfully the last time it was tried and holds
//! keys; 503 otherwise. A monitoring endpoint: while the JWKS endpoint is down, tokens still
//! verify with the last good keys (`verifying_with_cached_keys`), so do not use it as a
//! liveness or readiness probe (that would take every replica out at once); use `/healthz`.
//! The JWKS is probed in the background every `JWKS_PROBE_INTERVAL_MS`. With the DCR webhook on,
//! the answer also shows the last Management API call and the last log-stream delivery; they
//! inform, they do not change the status (the webhook's own answers make the stream retry).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tower_mcp_auth::health::AuthHealth;

/// What the health endpoint reads.
#[derive(Clone)]
pub struct HealthState {
    /// JWKS, Management API and webhook state (the library's report).
    pub health: AuthHealth,
    pub mode: &'static str,
    /// The whole report, or only the status word.
    pub details: bool,
}

pub async fn auth0_health(State(state): State<HealthState>) -> Response {
    let report = state.health.report();
    let status = if report.is_healthy() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let mut body = serde_json::to_value(&report).unwrap_or_default();
    if !state.details {
        let word = body
            .get("status")
            .cloned()
            .unwrap_or_else(|| "unavailable".into());
        return (status, axum::Json(serde_json::json!({ "status": word }))).into_response();
    }
    // The library's report, plus which mode this gateway runs in.
    body["mode"] = state.mode.into();
    (status, axum::Json(body)).into_response()
}
