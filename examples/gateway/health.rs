//! `GET /health/auth0`: can the gateway verify tokens, and is the Auth0 side alive?
//!
//! 200 when the issuer's JWKS was fetched successfully the last time it was tried and holds
//! keys; 503 otherwise. A monitoring endpoint: while the JWKS endpoint is down, tokens still
//! verify with the last good keys (`verifying_with_cached_keys`), so do not use it as a
//! liveness or readiness probe (that would take every replica out at once); use `/healthz`.
//! The JWKS is probed in the background every `JWKS_PROBE_INTERVAL_MS`. With the DCR webhook on,
//! the answer also shows the last Management API call and the last log-stream delivery; they
//! inform, they do not change the status (the webhook's own answers make the stream retry).

use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tower_mcp_auth::auth0::Auth0Health;
use tower_mcp_auth::token::JwksVerifier;

/// What the health endpoint reads.
#[derive(Clone)]
pub struct HealthState {
    pub verifier: JwksVerifier,
    pub mode: &'static str,
    /// The webhook's and Management API client's shared state, when the webhook is on.
    pub auth0: Option<Auth0Health>,
}

pub async fn auth0_health(State(state): State<HealthState>) -> Response {
    let (healthy, body) = report(&state);
    let status = if healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(body)).into_response()
}

fn report(state: &HealthState) -> (bool, Value) {
    let jwks = state.verifier.jwks_status();
    let reachable = jwks.last_success_at.is_some() && jwks.last_error.is_none();
    let healthy = reachable && jwks.key_count > 0;
    let auth0 = state.auth0.as_ref().map(Auth0Health::snapshot);
    let body = json!({
        "status": if healthy { "ok" } else { "unavailable" },
        "mode": state.mode,
        "issuer": state.verifier.issuer(),
        "audience": state.verifier.audience(),
        "jwks": {
            "uri": jwks.jwks_uri,
            "reachable": reachable,
            "key_count": jwks.key_count,
            "verifying_with_cached_keys": !reachable && jwks.key_count > 0,
            "last_fetch_at": jwks.last_fetch_at.map(unix),
            "last_success_at": jwks.last_success_at.map(unix),
            "last_error": jwks.last_error,
            "fetch_count": jwks.fetch_count,
        },
        "management_api": auth0.as_ref().map(|a| json!({
            "last_call": a.last_management_call,
            "last_success_at": a.last_management_success_at,
        })),
        "webhook": {
            "enabled": auth0.is_some(),
            "last_event_at": auth0.as_ref().and_then(|a| a.last_event_at),
        },
    });
    (healthy, body)
}

fn unix(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Probes the JWKS every `interval`, so `/health/auth0` reflects the issuer's state even when
/// no token needs a new key.
pub fn spawn_jwks_probe(verifier: JwksVerifier, interval: std::time::Duration) {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks.tick().await; // the verifier fetched the keys when it was built
        loop {
            ticks.tick().await;
            // Failures are logged by the key store and shown by the health endpoint.
            let _ = verifier.refresh_keys().await;
        }
    });
}
