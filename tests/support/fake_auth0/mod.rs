//! A stateful fake of the Auth0 a tenant created in 2026 is: the Management API token
//! endpoint and the Management API calls the DCR webhook (and, later, the tenant set-up) make,
//! on 127.0.0.1. It models Auth0 as its current documentation and recorded traffic show,
//! refusals included, with each behaviour's source named where it is built
//! (`../shared/research/auth0-2026.md` §3 lists them):
//!
//! - [`populations`]: strict DCR, permissive DCR, legacy DCR and CIMD clients;
//! - [`clients`]: PATCH refusals on third-party clients;
//! - [`connections`]: `is_domain_connection`, the per-client endpoints;
//! - [`grants`]: `subject_type`, `default_for`, Auth0's uniqueness key, closed bodies;
//! - [`gate`] and [`scopes`]: the Management token's scopes per endpoint, Auth0's 401/403/429;
//! - [`login`]: *can this client log a user in for this audience?* — what tests assert;
//! - [`logs`]: sample log-stream entries.
//!
//! State ([`state`]) and decisions are kept apart from the routes so new endpoints are one
//! more module. It records every call and can inject 429, 500, slow answers, odd bodies, a
//! concurrent grant writer, and expire its tokens.
// Refusals are whole `Response`s: a fake answers, it does not propagate errors.
#![allow(clippy::result_large_err)]

pub mod clients;
pub mod connections;
pub mod errors;
pub mod gate;
pub mod grants;
pub mod login;
pub mod logs;
pub mod populations;
pub mod scopes;
pub mod state;
pub mod tenant;
pub mod token;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::http::Method;
use axum::middleware;
use axum::routing::{get, patch, post};
use serde_json::Value;

pub use login::LoginRefusal;
pub use logs::{
    assert_valid_sapi, cimd_register_entry, create_client_entry, dcr_entry,
    dcr_entry_with_callbacks, login_entry,
};
pub use populations::{
    CHATGPT_CALLBACK, CHATGPT_CIMD_URL, CHATGPT_CONNECTOR_CALLBACK, Population, chatgpt_client,
    cimd_client, client, legacy_dcr_client, permissive_dcr_client, strict_dcr_client, tpc_id,
};
pub use state::{Call, Connection, FakeState, FaultKind, Grant, Knobs, ThirdPartyEnable};

/// The Management M2M app's credentials the fake accepts.
pub const MGMT_CLIENT_ID: &str = "mgmt-m2m-client";
/// Its secret.
pub const MGMT_CLIENT_SECRET: &str = "mgmt-m2m-secret-do-not-log";
/// The tenant domain the tests configure (only the audience uses it).
pub const TENANT: &str = "tenant.fake.auth0.com";

/// A running fake tenant.
#[derive(Clone)]
pub struct FakeAuth0 {
    pub base_url: String,
    state: Shared,
}

type Shared = Arc<Mutex<FakeState>>;

fn lock(state: &Shared) -> MutexGuard<'_, FakeState> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

/// The retry policy the tests use against the fake: 4 attempts, 2–10 ms apart, 5 s at most.
pub fn quick_retries() -> tower_mcp_auth::auth0::RetryPolicy {
    tower_mcp_auth::auth0::RetryPolicy::default()
        .max_attempts(4)
        .base_delay(Duration::from_millis(2))
        .max_delay(Duration::from_millis(10))
        .max_elapsed(Duration::from_secs(5))
}

fn router(state: Shared) -> Router {
    Router::new()
        .route("/oauth/token", post(token::token))
        .route("/api/v2/clients", get(clients::list_clients))
        .route(
            "/api/v2/clients/{id}",
            get(clients::get_client).patch(clients::patch_client),
        )
        .route(
            "/api/v2/clients/{id}/connections",
            get(connections::client_connections),
        )
        .route("/api/v2/connections", get(connections::list_connections))
        .route(
            "/api/v2/connections/{id}",
            get(connections::get_connection).patch(connections::patch_connection),
        )
        .route(
            "/api/v2/connections/{id}/clients",
            patch(connections::patch_connection_clients),
        )
        .route(
            "/api/v2/client-grants",
            get(grants::list_grants).post(grants::create_grant),
        )
        .route("/api/v2/client-grants/{id}", patch(grants::patch_grant))
        .merge(tenant::routes())
        .layer(middleware::from_fn_with_state(state.clone(), gate::gate))
        .with_state(state)
}

impl FakeAuth0 {
    /// Starts a blank tenant on 127.0.0.1 with an OS-chosen port.
    pub async fn start() -> Self {
        let state: Shared = Arc::new(Mutex::new(FakeState::default()));
        let app = router(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        tokio::spawn(async move {
            axum::serve(listener, app).await.expect("fake auth0 serves");
        });
        Self {
            base_url: format!("http://{addr}"),
            state,
        }
    }

    /// A Management API client builder aimed at this fake, with [`quick_retries`] and the given
    /// per-request timeout.
    pub fn management_client(
        &self,
        request_timeout: Duration,
    ) -> tower_mcp_auth::auth0::ManagementClientBuilder {
        tower_mcp_auth::auth0::ManagementClient::builder(TENANT)
            .client_credentials(
                MGMT_CLIENT_ID,
                tower_mcp_auth::ClientSecret::new(MGMT_CLIENT_SECRET),
            )
            .base_url(&self.base_url)
            .request_timeout(request_timeout)
            .retry_policy(quick_retries())
    }

    pub fn state(&self) -> MutexGuard<'_, FakeState> {
        lock(&self.state)
    }

    /// Changes the knobs (behaviours no source settles).
    pub fn knobs(&self, f: impl FnOnce(&mut Knobs)) {
        f(&mut self.state().knobs);
    }

    /// The scopes the M2M app holds on the Management API (tokens issued from now on).
    pub fn set_mgmt_scopes(&self, scopes: &[&str]) {
        self.state().mgmt_scopes = scopes.iter().map(|s| (*s).to_owned()).collect();
    }

    pub fn add_client(&self, client: Value) {
        let id = client["client_id"].as_str().expect("client_id").to_owned();
        self.state().clients.insert(id, client);
    }

    /// A connection enabled for no client, not domain-level (Auth0's default for a new one).
    pub fn add_connection(&self, id: &str, name: &str) {
        self.state().connections.push(Connection {
            id: id.into(),
            name: name.into(),
            strategy: name.into(),
            enabled: BTreeSet::new(),
            is_domain_connection: false,
        });
    }

    /// Sets a connection's domain-level flag directly (what the dashboard's *Promote Connection
    /// to Domain Level* does).
    pub fn set_domain_connection(&self, connection_id: &str, on: bool) {
        if let Some(c) = self
            .state()
            .connections
            .iter_mut()
            .find(|c| c.id == connection_id)
        {
            c.is_domain_connection = on;
        }
    }

    /// An API (resource server) with `identifier` and `scopes`, signing with RS256.
    pub fn add_api(&self, identifier: &str, scopes: &[&str]) {
        self.add_resource_server(identifier, "RS256", scopes);
    }

    fn push_grant(
        &self,
        client_id: Option<&str>,
        default_for: Option<&str>,
        audience: &str,
        scope: &[&str],
        subject_type: &str,
    ) -> String {
        let mut s = self.state();
        let id = s.next_id("cgr_");
        s.grants.push(Grant {
            id: id.clone(),
            client_id: client_id.map(str::to_owned),
            default_for: default_for.map(str::to_owned),
            audience: audience.into(),
            scope: scope.iter().map(|x| (*x).to_owned()).collect(),
            subject_type: subject_type.into(),
        });
        id
    }

    /// A per-client grant of `subject_type` (`user` or `client`).
    pub fn add_grant(
        &self,
        client_id: &str,
        audience: &str,
        scope: &[&str],
        subject_type: &str,
    ) -> String {
        self.push_grant(Some(client_id), None, audience, scope, subject_type)
    }

    /// The default permissions for third-party apps: a `default_for: "third_party_clients"`
    /// user grant (what `dynamic-client-registration.mdx` says to configure before DCR).
    pub fn add_default_user_grant(&self, audience: &str, scope: &[&str]) -> String {
        self.push_grant(None, Some("third_party_clients"), audience, scope, "user")
    }

    pub fn client(&self, id: &str) -> Value {
        self.state().clients.get(id).cloned().unwrap_or(Value::Null)
    }

    pub fn enabled_clients(&self, connection_id: &str) -> BTreeSet<String> {
        self.state()
            .connections
            .iter()
            .find(|c| c.id == connection_id)
            .map(|c| c.enabled.clone())
            .unwrap_or_default()
    }

    pub fn enable_directly(&self, connection_id: &str, client_id: &str) {
        if let Some(c) = self
            .state()
            .connections
            .iter_mut()
            .find(|c| c.id == connection_id)
        {
            c.enabled.insert(client_id.into());
        }
    }

    /// Every per-client grant of `client_id`, of either subject type.
    pub fn grants_for(&self, client_id: &str) -> Vec<Grant> {
        self.state()
            .grants
            .iter()
            .filter(|g| g.client_id.as_deref() == Some(client_id))
            .cloned()
            .collect()
    }

    /// The per-client `user` grants of `client_id`.
    pub fn user_grants_for(&self, client_id: &str) -> Vec<Grant> {
        self.grants_for(client_id)
            .into_iter()
            .filter(|g| g.subject_type == "user")
            .collect()
    }

    /// Auth0's documented rule: can `client_id` get a user token for `audience` with `scopes`
    /// through `connection`? See [`login`].
    pub fn can_log_in(
        &self,
        client_id: &str,
        audience: &str,
        connection: &str,
        scopes: &[&str],
    ) -> Result<(), LoginRefusal> {
        login::can_log_in(&self.state(), client_id, audience, connection, scopes)
    }

    pub fn calls(&self) -> Vec<Call> {
        self.state().calls.clone()
    }

    pub fn api_writes(&self) -> Vec<Call> {
        self.calls()
            .into_iter()
            .filter(Call::is_api_write)
            .collect()
    }

    pub fn api_calls(&self) -> Vec<Call> {
        self.calls()
            .into_iter()
            .filter(|c| c.path.starts_with("/api/v2/"))
            .collect()
    }

    pub fn clear_calls(&self) {
        self.state().calls.clear();
    }

    pub fn token_requests(&self) -> usize {
        self.state().token_requests
    }

    /// Every token issued so far stops working (as if expired).
    pub fn expire_tokens(&self) {
        self.state().valid_tokens.clear();
    }

    /// Every token issued so far stops working once `n` more Management API calls have been
    /// answered: a token expiring in the middle of a batch.
    pub fn expire_tokens_after_api_calls(&self, n: usize) {
        self.state().expire_after_api_calls = Some(n);
    }

    /// The next `times` requests whose method matches (any if `None`) and whose path starts
    /// with `path_prefix` get `kind`.
    pub fn inject(&self, method: Option<Method>, path_prefix: &str, times: usize, kind: FaultKind) {
        self.state().faults.push_back(state::Fault {
            method,
            path_prefix: path_prefix.into(),
            remaining: times,
            kind,
        });
    }

    /// The next `POST /client-grants` finds that a concurrent writer just created the grant
    /// (same client, audience and subject type) with `scopes`, so it answers 409.
    pub fn race_next_grant_create(&self, scopes: &[&str]) {
        self.state().race_grant_scopes = Some(scopes.iter().map(|s| (*s).to_owned()).collect());
    }
}
