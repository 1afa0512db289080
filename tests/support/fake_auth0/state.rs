//! The fake tenant's state: clients, connections, grants, APIs, the Management token's scopes, and
//! the knobs that pick between behaviours no source settles. No HTTP here: the routes read and
//! change this, and the tests read it (and ask [`login`](super::login) what a user could do).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

use axum::http::Method;
use serde_json::Value;

/// One recorded request.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: Method,
    pub path: String,
    pub query: String,
    pub body: Value,
    pub status: u16,
}

impl Call {
    /// Whether this call changes state on the Management API.
    pub fn is_api_write(&self) -> bool {
        self.path.starts_with("/api/v2/") && self.method != Method::GET
    }
}

/// What an injected fault does.
#[derive(Debug, Clone)]
pub enum FaultKind {
    /// 429 as the Management API sends it: `X-RateLimit-Limit/-Remaining/-Reset`, Reset in UTC
    /// epoch seconds `reset_in_secs` from now, and no `Retry-After` (auth0/docs-v2
    /// `main/docs/api/authentication.mdx`, rate-limit pages: `Retry-After` is not documented for
    /// the Management API).
    RateLimited { reset_in_secs: u64 },
    /// 500 with an Auth0-shaped error body (message and code synthetic: no source shows one).
    ServerError,
    /// Waits this long, then answers normally.
    Slow(Duration),
    /// Answers this status and raw body (as `application/json`) instead of the real answer: a
    /// Management API that changed shape, or a proxy's error page.
    Body { status: u16, body: &'static str },
}

#[derive(Debug, Clone)]
pub(super) struct Fault {
    pub(super) method: Option<Method>,
    pub(super) path_prefix: String,
    pub(super) remaining: usize,
    pub(super) kind: FaultKind,
}

/// A client grant as Auth0 keys it: exactly one of `client_id` / `default_for`, and a
/// `subject_type` (`user` or `client`, default `client`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub id: String,
    pub client_id: Option<String>,
    pub default_for: Option<String>,
    pub audience: String,
    pub scope: Vec<String>,
    pub subject_type: String,
}

impl Grant {
    /// Auth0's uniqueness key: (client_id | default_for, audience, subject_type) — "An application
    /// can have up to two client grants for a single API" (one per subject type,
    /// `application-access-to-apis-client-grants.mdx`); `default_for` uniqueness is enforced by
    /// the API with a 409 (terraform-provider-auth0 PR #1555).
    pub fn key(&self) -> (Option<&str>, Option<&str>, &str, &str) {
        (
            self.client_id.as_deref(),
            self.default_for.as_deref(),
            &self.audience,
            &self.subject_type,
        )
    }
}

/// A connection, with the per-client enabled list and the domain-level flag.
#[derive(Debug, Clone)]
pub struct Connection {
    pub id: String,
    pub name: String,
    pub strategy: String,
    /// Clients the connection is enabled for (what `PATCH /connections/{id}/clients` changes).
    pub enabled: BTreeSet<String>,
    /// Domain-level: usable by every third-party application of the tenant
    /// (`configure-third-party-applications.mdx`).
    pub is_domain_connection: bool,
}

/// What `PATCH /connections/{id}/clients` does for a third-party client. No source shows it
/// for 2026; the 2017 precedent (`auth0/docs#4498`) is "accepted but not persisted".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThirdPartyEnable {
    /// 204, and the client does not appear in the enabled list (default).
    IgnoredButAccepted,
    /// 400: refused.
    Refused,
}

/// Choices between behaviours the sources leave open. Defaults are the most likely reading.
#[derive(Debug, Clone)]
pub struct Knobs {
    /// Whether a permissive client's `is_first_party` change is refused: the docs say
    /// ownership is immutable for every app (`first-party-and-third-party-applications.mdx`) but
    /// the permissive page says "All client properties can be configured". Default: refused.
    pub permissive_refuses_ownership_change: bool,
    pub third_party_enable: ThirdPartyEnable,
    /// Whether `GET /clients/{id}/connections` lists domain-level connections for a third-party
    /// client (not documented). Default: no.
    pub list_domain_connections_for_third_party: bool,
    /// For permissive and legacy third-party clients, "API access follows the API's configured
    /// access policy" (`permissive-mode.mdx`). `false` models an API whose policy requires a
    /// client grant (what the README tells operators to use); `true` is Auth0's default for new
    /// APIs, "All apps allowed". Strict and CIMD clients always need a grant.
    pub api_allows_all_non_strict_apps: bool,
}

impl Default for Knobs {
    fn default() -> Self {
        Self {
            permissive_refuses_ownership_change: true,
            third_party_enable: ThirdPartyEnable::IgnoredButAccepted,
            list_domain_connections_for_third_party: false,
            api_allows_all_non_strict_apps: false,
        }
    }
}

/// The scopes the fake's Machine-to-Machine app is granted on the Management API by default:
/// everything the DCR webhook calls.
pub const DEFAULT_MGMT_SCOPES: [&str; 7] = [
    "read:clients",
    "update:clients",
    "read:connections",
    "update:connections",
    "read:client_grants",
    "create:client_grants",
    "update:client_grants",
];

#[derive(Debug)]
pub struct FakeState {
    pub clients: BTreeMap<String, Value>,
    pub connections: Vec<Connection>,
    pub grants: Vec<Grant>,
    /// Tenant settings, APIs (grants may only name an audience that exists), CIMD documents.
    pub tenant: super::tenant::TenantState,
    pub knobs: Knobs,
    /// The scopes the M2M app holds; tokens issued carry these.
    pub mgmt_scopes: BTreeSet<String>,
    /// Issued tokens still valid, with their scopes.
    pub(super) valid_tokens: BTreeMap<String, BTreeSet<String>>,
    pub(super) token_seq: u64,
    pub token_requests: usize,
    pub token_lifetime_secs: u64,
    pub calls: Vec<Call>,
    pub(super) faults: VecDeque<Fault>,
    pub(super) race_grant_scopes: Option<Vec<String>>,
    pub(super) seq: u64,
    pub(super) expire_after_api_calls: Option<usize>,
    pub(super) in_flight: usize,
    /// The most Management API requests that were being answered at the same time.
    pub max_in_flight: usize,
}

impl Default for FakeState {
    fn default() -> Self {
        Self {
            clients: BTreeMap::new(),
            connections: Vec::new(),
            grants: Vec::new(),
            tenant: super::tenant::TenantState::default(),
            knobs: Knobs::default(),
            mgmt_scopes: DEFAULT_MGMT_SCOPES
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
            valid_tokens: BTreeMap::new(),
            token_seq: 0,
            token_requests: 0,
            token_lifetime_secs: 86_400,
            calls: Vec::new(),
            faults: VecDeque::new(),
            race_grant_scopes: None,
            seq: 0,
            expire_after_api_calls: None,
            in_flight: 0,
            max_in_flight: 0,
        }
    }
}

impl FakeState {
    /// A fresh id with Auth0's prefix for the kind (`cgr_`, `con_`, `api_`).
    pub(super) fn next_id(&mut self, prefix: &str) -> String {
        self.seq += 1;
        format!("{prefix}{:016}", self.seq)
    }

    pub fn connection_by_id(&self, id: &str) -> Option<&Connection> {
        self.connections.iter().find(|c| c.id == id)
    }

    pub fn connection_by_name(&self, name: &str) -> Option<&Connection> {
        self.connections.iter().find(|c| c.name == name)
    }

    pub fn api_exists(&self, identifier: &str) -> bool {
        self.tenant.api(identifier).is_some()
    }

    /// The grant with this uniqueness key, if any.
    pub fn grant_with_key(
        &self,
        client_id: Option<&str>,
        default_for: Option<&str>,
        audience: &str,
        subject_type: &str,
    ) -> Option<&Grant> {
        self.grants
            .iter()
            .find(|g| g.key() == (client_id, default_for, audience, subject_type))
    }
}
