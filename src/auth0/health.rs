//! Shared health state of the Auth0 integration: when the log webhook last saw an event and how
//! the last Management API call went.
//!
//! [`Auth0Health`] is a cheap-clone handle: the [`ManagementClient`](super::ManagementClient) and
//! the [`Auth0LogWebhookService`](super::Auth0LogWebhookService) write to it, a health endpoint
//! (e.g. the gateway's `/health/auth0`) reads a serialisable [`Auth0HealthSnapshot`].
//!
//! ```
//! use tower_mcp_auth::auth0::Auth0Health;
//!
//! let health = Auth0Health::new();
//! health.record_event();
//! let snapshot = health.snapshot();
//! assert!(snapshot.last_event_at.is_some());
//! assert!(snapshot.last_management_call.is_none());
//! ```

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

/// A cheap-clone handle on the Auth0 integration's health; every clone shares the same state.
#[derive(Clone, Default)]
pub struct Auth0Health {
    // A std mutex: every critical section is a few field copies, never held across an await.
    state: Arc<Mutex<Auth0HealthSnapshot>>,
}

impl std::fmt::Debug for Auth0Health {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth0Health")
            .field("snapshot", &self.snapshot())
            .finish()
    }
}

/// A point-in-time copy of the health state, ready to serialise as JSON.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Auth0HealthSnapshot {
    /// When the log webhook last accepted a batch (unix seconds), if ever.
    pub last_event_at: Option<u64>,
    /// The outcome of the last Management API call, if any was made.
    pub last_management_call: Option<ManagementCallRecord>,
    /// When a Management API call last succeeded (unix seconds), if ever.
    pub last_management_success_at: Option<u64>,
    /// Clients whose promotion Auth0 refused in a way no redelivery can fix (a 400 on a field,
    /// a 404), since start; their batches were acknowledged.
    pub refused_clients: u64,
    /// The last of them.
    pub last_refusal: Option<ClientProblem>,
    /// Third-party clients that cannot log in because the login connection is not
    /// domain-level, since start: the tenant needs the fix, not a redelivery.
    pub login_blocked_clients: u64,
    /// The last of them.
    pub last_login_blocked: Option<ClientProblem>,
}

/// One client the webhook could not make work, and why (no token or secret, ever).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ClientProblem {
    /// When (unix seconds).
    pub at: u64,
    /// The client.
    pub client_id: String,
    /// What is wrong and, where there is one, the fix.
    pub reason: String,
}

/// The outcome of one Management API call, as the health endpoint shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ManagementCallRecord {
    /// When the call finished (unix seconds).
    pub at: u64,
    /// Which call it was, e.g. `get_client`.
    pub operation: &'static str,
    /// Whether it succeeded (after retries).
    pub ok: bool,
    /// The last HTTP status Auth0 answered, if any answer came.
    pub status: Option<u16>,
    /// Auth0's `errorCode` or a short error class; never a token or a secret.
    pub error: Option<String>,
}

impl Auth0Health {
    /// A fresh health state: no event seen, no call made.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records that the log webhook accepted a batch now.
    pub fn record_event(&self) {
        let now = unix_now();
        self.update(|s| s.last_event_at = Some(now));
    }

    /// Records the outcome of a Management API call.
    pub fn record_management_call(
        &self,
        operation: &'static str,
        status: Option<u16>,
        error: Option<String>,
    ) {
        let at = unix_now();
        let ok = error.is_none();
        self.update(|s| {
            if ok {
                s.last_management_success_at = Some(at);
            }
            s.last_management_call = Some(ManagementCallRecord {
                at,
                operation,
                ok,
                status,
                error,
            });
        });
    }

    /// Records a client whose promotion Auth0 refused for good.
    pub fn record_refusal(&self, client_id: &str, reason: impl Into<String>) {
        let problem = problem(client_id, reason.into());
        self.update(|s| {
            s.refused_clients += 1;
            s.last_refusal = Some(problem);
        });
    }

    /// Records a third-party client that cannot log in until the tenant is fixed.
    pub fn record_login_blocked(&self, client_id: &str, reason: impl Into<String>) {
        let problem = problem(client_id, reason.into());
        self.update(|s| {
            s.login_blocked_clients += 1;
            s.last_login_blocked = Some(problem);
        });
    }

    /// A copy of the current state.
    pub fn snapshot(&self) -> Auth0HealthSnapshot {
        // A poisoned lock only means a panic elsewhere mid-update of plain fields: still readable.
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn update(&self, f: impl FnOnce(&mut Auth0HealthSnapshot)) {
        f(&mut self.state.lock().unwrap_or_else(PoisonError::into_inner));
    }
}

fn problem(client_id: &str, reason: String) -> ClientProblem {
    ClientProblem {
        at: unix_now(),
        client_id: client_id.to_owned(),
        reason,
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_call_keeps_the_last_success_time() {
        let health = Auth0Health::new();
        health.record_management_call("get_client", Some(200), None);
        health.record_management_call("patch_client", Some(500), Some("server_error".into()));
        let snap = health.snapshot();
        let last = snap.last_management_call.expect("a call was recorded");
        assert!(!last.ok);
        assert_eq!(last.status, Some(500));
        assert_eq!(last.operation, "patch_client");
        assert!(snap.last_management_success_at.is_some());
    }

    #[test]
    fn clones_share_one_state_and_snapshot_serialises() {
        let health = Auth0Health::new();
        health.clone().record_event();
        let json = serde_json::to_value(health.snapshot()).expect("serialisable");
        assert!(json["last_event_at"].is_u64());
        assert!(json["last_management_call"].is_null());
    }
}
