//! [`AuthHealth`]: can this server verify tokens, and how is the Auth0 side doing?
//!
//! One value gathers what an operator's health endpoint shows: the JWKS (reachable, how many keys,
//! last fetch and error) and, with the `auth0` feature, the last Management API call and the last
//! log-stream delivery. [`HealthReport::is_healthy`] is true when every issuer's JWKS was fetched
//! successfully the last time it was tried and holds keys.
//!
//! While the JWKS endpoint is down, tokens still verify with the last good keys
//! (`verifying_with_cached_keys`), so do not make this a liveness or readiness probe: it would take
//! every replica out at once for an outage that does not stop them working.
//!
//! ```no_run
//! use axum::{Json, Router, http::StatusCode, routing::get};
//! use tower_mcp_auth::{health::AuthHealth, token::JwksVerifier};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let verifier = JwksVerifier::builder()
//!     .issuer("https://tenant.example.com/")
//!     .audience("https://api.example.com")
//!     .build()
//!     .await?;
//! let health = AuthHealth::new(verifier);
//! health.spawn_jwks_probe(std::time::Duration::from_secs(60));
//! let app: Router = Router::new().route("/health/auth0", get(move || async move {
//!     let report = health.report();
//!     let status = if report.is_healthy() { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
//!     (status, Json(report))
//! }));
//! # Ok(()) }
//! ```

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

#[cfg(feature = "auth0")]
use crate::auth0::{Auth0Health, ClientProblem, ManagementCallRecord};
use crate::token::{JwksStatus, JwksVerifier};

/// The health sources of one protected server. Cheap to clone.
#[derive(Debug, Clone)]
pub struct AuthHealth {
    verifier: JwksVerifier,
    #[cfg(feature = "auth0")]
    auth0: Option<Auth0Health>,
}

/// A point-in-time health report, serialisable as the health endpoint's JSON body.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[non_exhaustive]
pub struct HealthReport {
    /// `"ok"` or `"unavailable"`.
    pub status: &'static str,
    /// The issuer whose tokens are accepted.
    pub issuer: String,
    /// The audience every token must contain.
    pub audience: String,
    /// The first issuer's key set.
    pub jwks: JwksHealth,
    /// Every accepted issuer and its key set (the first one is also `issuer` / `jwks`); the
    /// report is healthy only when each is.
    pub issuers: Vec<IssuerHealth>,
    /// The last Management API call (`None` without the webhook).
    #[cfg(feature = "auth0")]
    pub management_api: Option<ManagementApiHealth>,
    /// The log-stream webhook.
    #[cfg(feature = "auth0")]
    pub webhook: WebhookHealth,
}

/// The JWKS part of a [`HealthReport`]. Times are seconds since the Unix epoch.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[non_exhaustive]
pub struct JwksHealth {
    /// Where the keys come from.
    pub uri: String,
    /// The last fetch succeeded.
    pub reachable: bool,
    /// How many signing keys are held.
    pub key_count: usize,
    /// The endpoint is failing but keys from an earlier fetch still verify tokens.
    pub verifying_with_cached_keys: bool,
    /// When the last fetch attempt ended.
    pub last_fetch_at: Option<u64>,
    /// When keys were last fetched successfully.
    pub last_success_at: Option<u64>,
    /// Why the last fetch failed.
    pub last_error: Option<String>,
    /// Fetches since start.
    pub fetch_count: u64,
}

/// One accepted issuer in a [`HealthReport`].
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[non_exhaustive]
pub struct IssuerHealth {
    /// The issuer, as its metadata spells it.
    pub issuer: String,
    /// Its key set.
    pub jwks: JwksHealth,
}

impl JwksHealth {
    fn from_status(jwks: JwksStatus) -> Self {
        let reachable = jwks.last_success_at.is_some() && jwks.last_error.is_none();
        Self {
            uri: jwks.jwks_uri,
            reachable,
            key_count: jwks.key_count,
            verifying_with_cached_keys: !reachable && jwks.key_count > 0,
            last_fetch_at: jwks.last_fetch_at.map(unix),
            last_success_at: jwks.last_success_at.map(unix),
            last_error: jwks.last_error,
            fetch_count: jwks.fetch_count,
        }
    }

    fn is_healthy(&self) -> bool {
        self.reachable && self.key_count > 0
    }
}

/// The Management API part of a [`HealthReport`].
#[cfg(feature = "auth0")]
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[non_exhaustive]
pub struct ManagementApiHealth {
    /// The last call made.
    pub last_call: Option<ManagementCallRecord>,
    /// When a call last succeeded.
    pub last_success_at: Option<u64>,
}

/// The webhook part of a [`HealthReport`].
#[cfg(feature = "auth0")]
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[non_exhaustive]
pub struct WebhookHealth {
    /// The webhook is mounted.
    pub enabled: bool,
    /// When it last received an authenticated delivery.
    pub last_event_at: Option<u64>,
    /// Clients it could not make work (absent while there are none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problems: Option<WebhookProblems>,
}

/// What the webhook could not do, and why: refusals no redelivery fixes, and third-party clients
/// that cannot log in until the tenant is changed.
#[cfg(feature = "auth0")]
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[non_exhaustive]
pub struct WebhookProblems {
    /// Clients whose promotion Auth0 refused for good, since start.
    pub refused_clients: u64,
    /// The last refusal.
    pub last_refusal: Option<ClientProblem>,
    /// Third-party clients whose login connection is not domain-level, since start.
    pub login_blocked_clients: u64,
    /// The last of them, with the fix.
    pub last_login_blocked: Option<ClientProblem>,
}

impl AuthHealth {
    /// Health of token verification with `verifier`.
    pub fn new(verifier: JwksVerifier) -> Self {
        Self {
            verifier,
            #[cfg(feature = "auth0")]
            auth0: None,
        }
    }

    /// Adds the state shared by the webhook and the Management API client.
    #[cfg(feature = "auth0")]
    pub fn with_auth0(mut self, health: Auth0Health) -> Self {
        self.auth0 = Some(health);
        self
    }

    /// The report now.
    pub fn report(&self) -> HealthReport {
        let issuers: Vec<IssuerHealth> = self
            .verifier
            .issuer_statuses()
            .into_iter()
            .map(|status| IssuerHealth {
                issuer: status.issuer,
                jwks: JwksHealth::from_status(status.jwks),
            })
            .collect();
        let healthy = issuers.iter().all(|i| i.jwks.is_healthy());
        #[cfg(feature = "auth0")]
        let auth0 = self.auth0.as_ref().map(Auth0Health::snapshot);
        HealthReport {
            status: if healthy { "ok" } else { "unavailable" },
            issuer: self.verifier.issuer().to_owned(),
            audience: self.verifier.audience().to_owned(),
            jwks: JwksHealth::from_status(self.verifier.jwks_status()),
            issuers,
            #[cfg(feature = "auth0")]
            management_api: auth0.as_ref().map(|a| ManagementApiHealth {
                last_call: a.last_management_call.clone(),
                last_success_at: a.last_management_success_at,
            }),
            #[cfg(feature = "auth0")]
            webhook: WebhookHealth {
                enabled: auth0.is_some(),
                last_event_at: auth0.as_ref().and_then(|a| a.last_event_at),
                problems: auth0
                    .as_ref()
                    .filter(|a| a.refused_clients + a.login_blocked_clients > 0)
                    .map(|a| WebhookProblems {
                        refused_clients: a.refused_clients,
                        last_refusal: a.last_refusal.clone(),
                        login_blocked_clients: a.login_blocked_clients,
                        last_login_blocked: a.last_login_blocked.clone(),
                    }),
            },
        }
    }

    /// Fetches the JWKS every `interval` in the background, so the report reflects the issuer's
    /// state even when no token needs a new key. Failures keep the last good keys (and are
    /// logged by the key store). Needs a Tokio runtime.
    pub fn spawn_jwks_probe(&self, interval: Duration) -> tokio::task::JoinHandle<()> {
        let verifier = self.verifier.clone();
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ticks.tick().await; // the verifier fetched the keys when it was built
            loop {
                ticks.tick().await;
                // The outcome is recorded in the verifier's status, which the report reads.
                let _ = verifier.refresh_keys().await;
            }
        })
    }
}

impl HealthReport {
    /// True when tokens can be verified with freshly fetched keys.
    pub fn is_healthy(&self) -> bool {
        self.status == "ok"
    }
}

fn unix(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}
