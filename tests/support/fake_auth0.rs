//! A stateful fake of Auth0's token endpoint and the Management API calls the DCR promotion
//! uses, on 127.0.0.1. Shapes follow Auth0's Management API reference: clients, connections with
//! the per-client enabled-clients endpoints, client grants (409 on a duplicate), error bodies
//! `{statusCode, error, message, errorCode}`, rate-limit headers on 429.
//!
//! It records every call, can inject 429 (with `Retry-After`), 500, slow answers, unexpected
//! bodies, and a grant created by a "concurrent writer" just before our POST; and it can expire
//! its tokens.
#![allow(dead_code)]

// The tenant-wide pieces (settings, APIs, CIMD, discovery, DCR, the can-log-in decision).
#[path = "fake_auth0_tenant/mod.rs"]
pub mod tenant;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use serde_json::{Value, json};

/// The Management M2M app's credentials the fake accepts.
pub const MGMT_CLIENT_ID: &str = "mgmt-m2m-client";
/// Its secret.
pub const MGMT_CLIENT_SECRET: &str = "mgmt-m2m-secret-do-not-log";
/// The tenant domain the tests configure (only the audience uses it).
pub const TENANT: &str = "tenant.fake.auth0.com";

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
    /// 429 with `Retry-After` and Auth0's rate-limit headers.
    RateLimited { retry_after_secs: u64 },
    /// 500 with an Auth0 error body.
    ServerError,
    /// Waits this long, then answers normally.
    Slow(Duration),
    /// Answers this status and raw body (as `application/json`) instead of the real answer: a
    /// Management API that changed shape, or a proxy's error page.
    Body { status: u16, body: &'static str },
}

#[derive(Debug, Clone)]
struct Fault {
    method: Option<Method>,
    path_prefix: String,
    remaining: usize,
    kind: FaultKind,
}

/// A client grant as Auth0 keys it: a `client_id` (empty for a default grant) or a
/// `default_for`, and a `subject_type` (`client` when the request names none: terraform
/// `TestAccClientGrant_DefaultFor.yaml` answers `"subject_type":"client"` to a request without it).
#[derive(Debug, Clone)]
pub struct Grant {
    pub id: String,
    pub client_id: String,
    pub audience: String,
    pub scope: Vec<String>,
    pub default_for: Option<String>,
    pub subject_type: String,
}

#[derive(Debug, Clone)]
pub struct Connection {
    pub id: String,
    pub name: String,
    pub strategy: String,
    pub enabled: BTreeSet<String>,
    /// Domain-level: usable by every third-party application (`configure-third-party-applications.mdx`).
    pub is_domain_connection: bool,
}

#[derive(Debug, Default)]
pub struct FakeState {
    pub clients: BTreeMap<String, Value>,
    pub connections: Vec<Connection>,
    pub grants: Vec<Grant>,
    /// Issued tokens still valid, with their scopes.
    valid_tokens: BTreeMap<String, BTreeSet<String>>,
    /// The scopes the M2M app holds; tokens issued from now on carry these.
    pub mgmt_scopes: BTreeSet<String>,
    /// Tenant settings, APIs, CIMD documents.
    pub tenant: tenant::TenantState,
    token_seq: u64,
    pub token_requests: usize,
    pub token_lifetime_secs: u64,
    pub calls: Vec<Call>,
    faults: VecDeque<Fault>,
    race_grant_scopes: Option<Vec<String>>,
    grant_seq: u64,
    expire_after_api_calls: Option<usize>,
    in_flight: usize,
    /// The most Management API requests that were being answered at the same time.
    pub max_in_flight: usize,
}

/// A running fake tenant.
#[derive(Clone)]
pub struct FakeAuth0 {
    pub base_url: String,
    state: Arc<Mutex<FakeState>>,
}

type Shared = Arc<Mutex<FakeState>>;

fn lock(state: &Shared) -> MutexGuard<'_, FakeState> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

fn auth0_error(status: StatusCode, message: &str, error_code: &str) -> Response {
    let body = json!({
        "statusCode": status.as_u16(),
        "error": status.canonical_reason().unwrap_or("Error"),
        "message": message,
        "errorCode": error_code,
    });
    (status, axum::Json(body)).into_response()
}

/// A client as `POST /oidc/register` leaves it: third-party, confidential, no marker.
pub fn dcr_client(client_id: &str, name: &str) -> Value {
    json!({
        "client_id": client_id,
        "tenant": "tenant",
        "name": name,
        "description": "",
        "app_type": "regular_web",
        "is_first_party": false,
        "is_token_endpoint_ip_header_trusted": false,
        "oidc_conformant": true,
        "token_endpoint_auth_method": "client_secret_post",
        "grant_types": ["authorization_code", "implicit"],
        "callbacks": ["https://chatgpt.com/connector_platform_oauth_redirect"],
        "jwt_configuration": {"alg": "RS256", "lifetime_in_seconds": 36000},
        "client_metadata": {},
        "custom_login_page_on": true
    })
}

/// The retry policy the tests use against the fake: 4 attempts, 2–10 ms apart, 5 s at most.
pub fn quick_retries() -> tower_mcp_auth::auth0::RetryPolicy {
    tower_mcp_auth::auth0::RetryPolicy::default()
        .max_attempts(4)
        .base_delay(Duration::from_millis(2))
        .max_delay(Duration::from_millis(10))
        .max_elapsed(Duration::from_secs(5))
}

impl FakeAuth0 {
    /// A Management API client builder aimed at this fake, with [`quick_retries`] and the given
    /// per-request timeout.
    pub fn management_client(
        &self,
        request_timeout: Duration,
    ) -> tower_mcp_auth::auth0::ManagementClientBuilder {
        tower_mcp_auth::auth0::ManagementClient::builder(TENANT, MGMT_CLIENT_ID, MGMT_CLIENT_SECRET)
            .base_url(&self.base_url)
            .request_timeout(request_timeout)
            .retry_policy(quick_retries())
    }

    /// Starts the fake on 127.0.0.1 with an OS-chosen port.
    pub async fn start() -> Self {
        let state: Shared = Arc::new(Mutex::new(FakeState {
            token_lifetime_secs: 86_400,
            mgmt_scopes: DEFAULT_MGMT_SCOPES
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
            ..FakeState::default()
        }));
        let app = Router::new()
            .route("/oauth/token", post(token))
            .route("/api/v2/clients/{id}", get(get_client).patch(patch_client))
            .route("/api/v2/clients/{id}/connections", get(client_connections))
            .route("/api/v2/connections", get(list_connections))
            .route(
                "/api/v2/connections/{id}/clients",
                patch(patch_connection_clients),
            )
            .route("/api/v2/client-grants", get(list_grants).post(create_grant))
            .route("/api/v2/client-grants/{id}", patch(patch_grant))
            .route("/api/v2/connections/{id}", patch(patch_connection))
            .route("/api/v2/clients", get(list_clients))
            .merge(tenant::routes())
            .layer(middleware::from_fn_with_state(state.clone(), gate))
            .with_state(state.clone());
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

    pub fn state(&self) -> MutexGuard<'_, FakeState> {
        lock(&self.state)
    }

    pub fn add_client(&self, client: Value) {
        let id = client["client_id"].as_str().expect("client_id").to_owned();
        self.state().clients.insert(id, client);
    }

    pub fn add_connection(&self, id: &str, name: &str) {
        self.state().connections.push(Connection {
            id: id.into(),
            name: name.into(),
            strategy: name.into(),
            enabled: BTreeSet::new(),
            is_domain_connection: false,
        });
    }

    /// Sets a connection's domain-level flag directly (the dashboard's *Promote Connection to
    /// Domain Level*).
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

    /// The scopes the M2M app holds on the Management API (tokens issued from now on).
    pub fn set_mgmt_scopes(&self, scopes: &[&str]) {
        self.state().mgmt_scopes = scopes.iter().map(|s| (*s).to_owned()).collect();
    }

    /// The default permissions for third-party apps: a `default_for: "third_party_clients"`
    /// user grant.
    pub fn add_default_user_grant(&self, audience: &str, scope: &[&str]) -> String {
        let mut s = self.state();
        s.grant_seq += 1;
        let id = format!("cgr_{}", s.grant_seq);
        s.grants.push(Grant {
            id: id.clone(),
            client_id: String::new(),
            audience: audience.into(),
            scope: scope.iter().map(|x| (*x).to_owned()).collect(),
            default_for: Some("third_party_clients".into()),
            subject_type: "user".into(),
        });
        id
    }

    /// The default `user` grants for third-party apps.
    pub fn default_grants(&self) -> Vec<Grant> {
        self.state()
            .grants
            .iter()
            .filter(|g| g.default_for.is_some())
            .cloned()
            .collect()
    }

    pub fn add_grant(&self, client_id: &str, audience: &str, scope: &[&str]) -> String {
        let mut s = self.state();
        s.grant_seq += 1;
        let id = format!("cgr_{}", s.grant_seq);
        s.grants.push(Grant {
            id: id.clone(),
            client_id: client_id.into(),
            audience: audience.into(),
            scope: scope.iter().map(|x| (*x).to_owned()).collect(),
            default_for: None,
            subject_type: "client".into(),
        });
        id
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

    pub fn grants_for(&self, client_id: &str) -> Vec<Grant> {
        self.state()
            .grants
            .iter()
            .filter(|g| g.client_id == client_id)
            .cloned()
            .collect()
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
        self.state().faults.push_back(Fault {
            method,
            path_prefix: path_prefix.into(),
            remaining: times,
            kind,
        });
    }

    /// The next `POST /client-grants` finds that a concurrent writer just created the grant
    /// with `scopes`, so it answers 409.
    pub fn race_next_grant_create(&self, scopes: &[&str]) {
        self.state().race_grant_scopes = Some(scopes.iter().map(|s| (*s).to_owned()).collect());
    }
}

/// Records the call, applies faults, checks the bearer token, then runs the handler.
async fn gate(State(state): State<Shared>, req: Request, next: Next) -> Response {
    let api = req.uri().path().starts_with("/api/v2/");
    if api {
        let mut s = lock(&state);
        s.in_flight += 1;
        s.max_in_flight = s.max_in_flight.max(s.in_flight);
    }
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20)
        .await
        .unwrap_or_default();
    let method = parts.method.clone();
    let path = parts.uri.path().to_owned();
    let query = parts.uri.query().unwrap_or_default().to_owned();
    let fault = {
        let mut s = lock(&state);
        let hit = s.faults.iter_mut().find(|f| {
            f.remaining > 0
                && f.method.as_ref().is_none_or(|m| *m == method)
                && path.starts_with(&f.path_prefix)
        });
        hit.map(|f| {
            f.remaining -= 1;
            f.kind.clone()
        })
    };
    let response = match fault {
        Some(FaultKind::RateLimited { retry_after_secs }) => {
            let mut r = auth0_error(
                StatusCode::TOO_MANY_REQUESTS,
                "Global limit has been reached",
                "too_many_requests",
            );
            let h = r.headers_mut();
            h.insert("retry-after", retry_after_secs.into());
            h.insert("x-ratelimit-limit", 50u32.into());
            h.insert("x-ratelimit-remaining", 0u32.into());
            h.insert("x-ratelimit-reset", 0u32.into());
            r
        }
        Some(FaultKind::ServerError) => auth0_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal error",
            "internal_error",
        ),
        Some(FaultKind::Body { status, body }) => (
            StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
            [(header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response(),
        other => {
            if let Some(FaultKind::Slow(d)) = other {
                tokio::time::sleep(d).await;
            }
            let held = authorized(&state, &parts.headers);
            let needed = required_scope(&method, &path);
            if path.starts_with("/api/v2/") && held.is_none() {
                auth0_error(
                    StatusCode::UNAUTHORIZED,
                    "Expired token received for JSON Web Token validation",
                    "invalid_token",
                )
            } else if let Some(scope) =
                needed.filter(|s| !held.as_ref().is_some_and(|h| h.contains(*s)))
            {
                // Format of a real answer (auth0/auth0-deploy-cli#178).
                auth0_error(
                    StatusCode::FORBIDDEN,
                    &format!("Insufficient scope, expected any of: {scope}"),
                    "insufficient_scope",
                )
            } else {
                let req = Request::from_parts(parts, Body::from(bytes.clone()));
                next.run(req).await
            }
        }
    };
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let mut s = lock(&state);
    if api {
        s.in_flight -= 1;
        match s.expire_after_api_calls {
            Some(0) | Some(1) => {
                s.expire_after_api_calls = None;
                s.valid_tokens.clear();
            }
            Some(n) => s.expire_after_api_calls = Some(n - 1),
            None => {}
        }
    }
    s.calls.push(Call {
        method,
        path,
        query,
        body,
        status: response.status().as_u16(),
    });
    response
}

/// The scopes of the request's bearer token, if it is one the fake issued and still valid.
fn authorized(state: &Shared, headers: &HeaderMap) -> Option<BTreeSet<String>> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())?
        .strip_prefix("Bearer ")?;
    lock(state).valid_tokens.get(token).cloned()
}

/// The scopes the fake's M2M app holds by default: what the DCR webhook calls.
pub const DEFAULT_MGMT_SCOPES: [&str; 7] = [
    "read:clients",
    "update:clients",
    "read:connections",
    "update:connections",
    "read:client_grants",
    "create:client_grants",
    "update:client_grants",
];

/// The scope each endpoint needs (the OAS `security` of each operation,
/// `../shared/research/auth0-2026.md` §Q8).
fn required_scope(method: &Method, path: &str) -> Option<&'static str> {
    if let Some(scope) = tenant::required_scope(method, path) {
        return Some(scope);
    }
    let rest = path.strip_prefix("/api/v2/")?;
    let segments: Vec<&str> = rest.split('/').collect();
    match (method.as_str(), segments.as_slice()) {
        ("GET", ["clients", _]) => Some("read:clients"),
        ("PATCH", ["clients", _]) => Some("update:clients"),
        ("GET", ["connections", ..]) => Some("read:connections"),
        ("PATCH", ["connections", _]) | ("PATCH", ["connections", _, "clients"]) => {
            Some("update:connections")
        }
        ("GET", ["client-grants"]) => Some("read:client_grants"),
        ("POST", ["client-grants"]) => Some("create:client_grants"),
        ("PATCH", ["client-grants", _]) => Some("update:client_grants"),
        _ => None,
    }
}

async fn token(State(state): State<Shared>, body: Bytes) -> Response {
    let Ok(req) = serde_json::from_slice::<Value>(&body) else {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": "invalid_request"})),
        )
            .into_response();
    };
    let mut s = lock(&state);
    s.token_requests += 1;
    let ok = req["grant_type"] == "client_credentials"
        && req["client_id"] == MGMT_CLIENT_ID
        && req["client_secret"] == MGMT_CLIENT_SECRET
        && req["audience"] == format!("https://{TENANT}/api/v2/");
    if !ok {
        let body = json!({"error": "access_denied", "error_description": "Unauthorized"});
        return (StatusCode::UNAUTHORIZED, axum::Json(body)).into_response();
    }
    s.token_seq += 1;
    let token = format!("fake-mgmt-token-{}", s.token_seq);
    let scopes = s.mgmt_scopes.clone();
    let scope = scopes.iter().cloned().collect::<Vec<_>>().join(" ");
    s.valid_tokens.insert(token.clone(), scopes);
    let mut body = json!({
        "access_token": token,
        "scope": scope,
        "expires_in": s.token_lifetime_secs,
        "token_type": "Bearer"
    });
    if s.tenant.token_omits_scope
        && let Some(fields) = body.as_object_mut()
    {
        fields.remove("scope");
    }
    axum::Json(body).into_response()
}

async fn get_client(State(state): State<Shared>, Path(id): Path<String>) -> Response {
    match lock(&state).clients.get(&id) {
        Some(c) => axum::Json(c.clone()).into_response(),
        None => auth0_error(
            StatusCode::NOT_FOUND,
            "The client does not exist",
            "inexistent_client",
        ),
    }
}

async fn patch_client(
    State(state): State<Shared>,
    Path(id): Path<String>,
    axum::Json(patch): axum::Json<Value>,
) -> Response {
    let mut s = lock(&state);
    let Some(client) = s.clients.get_mut(&id) else {
        return auth0_error(
            StatusCode::NOT_FOUND,
            "The client does not exist",
            "inexistent_client",
        );
    };
    let (Some(target), Some(fields)) = (client.as_object_mut(), patch.as_object()) else {
        return auth0_error(
            StatusCode::BAD_REQUEST,
            "Payload validation error",
            "invalid_body",
        );
    };
    for (k, v) in fields {
        target.insert(k.clone(), v.clone());
    }
    axum::Json(client.clone()).into_response()
}

async fn list_connections(
    State(state): State<Shared>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let s = lock(&state);
    let list: Vec<Value> = s
        .connections
        .iter()
        .filter(|c| q.get("name").is_none_or(|n| *n == c.name))
        .map(connection_json)
        .collect();
    axum::Json(list).into_response()
}

fn connection_json(c: &Connection) -> Value {
    json!({"id": c.id, "name": c.name, "strategy": c.strategy, "realms": [c.name],
           "is_domain_connection": c.is_domain_connection, "options": {}})
}

/// `PATCH /api/v2/connections/{id}`: `is_domain_connection` (the only field the fake models);
/// answers the whole connection (OAS `patch_connections_by_id`).
async fn patch_connection(
    State(state): State<Shared>,
    Path(id): Path<String>,
    axum::Json(req): axum::Json<Value>,
) -> Response {
    let mut s = lock(&state);
    let Some(conn) = s.connections.iter_mut().find(|c| c.id == id) else {
        return auth0_error(
            StatusCode::NOT_FOUND,
            "The connection does not exist",
            "inexistent_connection",
        );
    };
    if let Some(flag) = req.get("is_domain_connection") {
        let Some(flag) = flag.as_bool() else {
            return auth0_error(
                StatusCode::BAD_REQUEST,
                "Payload validation error",
                "invalid_body",
            );
        };
        conn.is_domain_connection = flag;
    }
    axum::Json(connection_json(conn)).into_response()
}

/// `GET /api/v2/clients`, with the `external_client_id` filter the CIMD docs use (bare array).
async fn list_clients(
    State(state): State<Shared>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let s = lock(&state);
    let list: Vec<Value> = s
        .clients
        .values()
        .filter(|c| {
            q.get("external_client_id")
                .is_none_or(|e| c["external_client_id"] == e.as_str())
        })
        .cloned()
        .collect();
    axum::Json(list).into_response()
}

/// `GET /api/v2/clients/{id}/connections`: checkpoint pagination, `next` is the last id seen.
async fn client_connections(
    State(state): State<Shared>,
    Path(id): Path<String>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let s = lock(&state);
    if !s.clients.contains_key(&id) {
        return auth0_error(
            StatusCode::NOT_FOUND,
            "The client does not exist",
            "inexistent_client",
        );
    }
    let take: usize = q.get("take").and_then(|t| t.parse().ok()).unwrap_or(50);
    let from = q.get("from").cloned();
    let mut rest: Vec<&Connection> = s
        .connections
        .iter()
        .filter(|c| c.enabled.contains(&id))
        .filter(|c| from.as_ref().is_none_or(|f| c.id > *f))
        .collect();
    rest.sort_by(|a, b| a.id.cmp(&b.id));
    let page: Vec<Value> = rest.iter().take(take).map(|c| connection_json(c)).collect();
    let mut body = json!({"connections": page});
    if rest.len() > take {
        body["next"] = json!(rest[take - 1].id);
    }
    axum::Json(body).into_response()
}

async fn patch_connection_clients(
    State(state): State<Shared>,
    Path(id): Path<String>,
    axum::Json(items): axum::Json<Value>,
) -> Response {
    let Some(items) = items.as_array().filter(|a| (1..=50).contains(&a.len())) else {
        return auth0_error(
            StatusCode::BAD_REQUEST,
            "Payload validation error: 1 to 50 items",
            "invalid_body",
        );
    };
    let mut s = lock(&state);
    let Some(conn) = s.connections.iter_mut().find(|c| c.id == id) else {
        return auth0_error(
            StatusCode::NOT_FOUND,
            "The connection does not exist",
            "inexistent_connection",
        );
    };
    for item in items {
        let (Some(client_id), Some(status)) =
            (item["client_id"].as_str(), item["status"].as_bool())
        else {
            return auth0_error(
                StatusCode::BAD_REQUEST,
                "Payload validation error",
                "invalid_body",
            );
        };
        if status {
            conn.enabled.insert(client_id.to_owned());
        } else {
            conn.enabled.remove(client_id);
        }
    }
    StatusCode::NO_CONTENT.into_response()
}

/// Fields present only when set (the recorded default-for answer has no `client_id`).
fn grant_json(g: &Grant) -> Value {
    let mut v = json!({"id": g.id, "audience": g.audience, "scope": g.scope,
                       "subject_type": g.subject_type});
    if !g.client_id.is_empty() {
        v["client_id"] = json!(g.client_id);
    }
    if let Some(d) = &g.default_for {
        v["default_for"] = json!(d);
    }
    v
}

async fn list_grants(
    State(state): State<Shared>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let s = lock(&state);
    let list: Vec<Value> = s
        .grants
        .iter()
        .filter(|g| q.get("client_id").is_none_or(|c| *c == g.client_id))
        .filter(|g| q.get("audience").is_none_or(|a| *a == g.audience))
        .filter(|g| q.get("subject_type").is_none_or(|t| *t == g.subject_type))
        .filter(|g| {
            q.get("default_for")
                .is_none_or(|d| g.default_for.as_deref() == Some(d.as_str()))
        })
        .map(grant_json)
        .collect();
    axum::Json(list).into_response()
}

/// `POST /api/v2/client-grants`: exactly one of `client_id` / `default_for` (OAS
/// `ClientGrantDefaultForEnum`: "Mutually exclusive with `client_id`"), `subject_type` defaulting
/// to `client`, one grant per (client | default_for, audience, subject_type) → 409 (message from
/// terraform-provider-auth0 #255). A default grant must name an existing API (404 "Resource
/// server not found", OAS); per-client grants are not checked here (the promoter tests predate
/// APIs in the fake).
async fn create_grant(State(state): State<Shared>, axum::Json(req): axum::Json<Value>) -> Response {
    let mut s = lock(&state);
    let client_id = req["client_id"].as_str().map(str::to_owned);
    let default_for = req["default_for"].as_str().map(str::to_owned);
    let (Some(audience), Some(scope)) = (
        req["audience"].as_str().map(str::to_owned),
        req["scope"].as_array(),
    ) else {
        return auth0_error(
            StatusCode::BAD_REQUEST,
            "Payload validation error",
            "invalid_body",
        );
    };
    if client_id.is_some() == default_for.is_some()
        || default_for
            .as_deref()
            .is_some_and(|d| d != "third_party_clients")
    {
        return auth0_error(
            StatusCode::BAD_REQUEST,
            "Payload validation error: exactly one of client_id and default_for",
            "invalid_body",
        );
    }
    let subject_type = req["subject_type"].as_str().unwrap_or("client").to_owned();
    if subject_type != "client" && subject_type != "user" {
        return auth0_error(
            StatusCode::BAD_REQUEST,
            "Payload validation error: subject_type",
            "invalid_body",
        );
    }
    if default_for.is_some() && s.tenant.api(&audience).is_none() {
        return auth0_error(
            StatusCode::NOT_FOUND,
            "Resource server not found",
            "inexistent_resource_server",
        );
    }
    let client_id = client_id.unwrap_or_default();
    let scope: Vec<String> = scope
        .iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    if let Some(race) = s.race_grant_scopes.take() {
        s.grant_seq += 1;
        let id = format!("cgr_{}", s.grant_seq);
        s.grants.push(Grant {
            id,
            client_id: client_id.clone(),
            audience: audience.clone(),
            scope: race,
            default_for: default_for.clone(),
            subject_type: subject_type.clone(),
        });
    }
    if s.grants.iter().any(|g| {
        g.client_id == client_id
            && g.default_for == default_for
            && g.audience == audience
            && g.subject_type == subject_type
    }) {
        return auth0_error(
            StatusCode::CONFLICT,
            &format!("A client grant already exists between {client_id} and {audience}"),
            "conflict",
        );
    }
    s.grant_seq += 1;
    let grant = Grant {
        id: format!("cgr_{}", s.grant_seq),
        client_id,
        audience,
        scope,
        default_for,
        subject_type,
    };
    let body = grant_json(&grant);
    s.grants.push(grant);
    (StatusCode::CREATED, axum::Json(body)).into_response()
}

async fn patch_grant(
    State(state): State<Shared>,
    Path(id): Path<String>,
    axum::Json(req): axum::Json<Value>,
) -> Response {
    let mut s = lock(&state);
    let Some(grant) = s.grants.iter_mut().find(|g| g.id == id) else {
        return auth0_error(
            StatusCode::NOT_FOUND,
            "The client grant does not exist",
            "inexistent_client_grant",
        );
    };
    if let Some(scope) = req["scope"].as_array() {
        grant.scope = scope
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect();
    }
    axum::Json(grant_json(grant)).into_response()
}

// ---- Sample log-stream entries, shaped like Auth0's (the `sapi` schema's required fields). ----

const SAPI_SCHEMA: &str = include_str!("../fixtures/auth0/sapi.schema.json");

/// A `sapi` entry as Auth0 logs a Dynamic Client Registration (`POST /oidc/register`).
pub fn dcr_entry(log_id: &str, client_id: &str) -> Value {
    let data = json!({
        "date": "2026-11-23T22:10:05.123Z",
        "type": "sapi",
        "description": "Dynamic Client Registration",
        "client_id": client_id,
        "client_name": "ChatGPT",
        "ip": "203.0.113.7",
        "user_agent": "python-httpx/0.27",
        "details": {
            "request": {
                "method": "post",
                "path": "/oidc/register",
                "query": {},
                "body": {
                    "client_name": "ChatGPT",
                    "redirect_uris": ["https://chatgpt.com/connector_platform_oauth_redirect"],
                    "token_endpoint_auth_method": "none"
                },
                "channel": "api",
                "ip": "203.0.113.7"
            },
            "response": {
                "statusCode": 201,
                "body": {"client_id": client_id, "client_name": "ChatGPT"}
            }
        },
        "log_id": log_id,
        "tenant_name": "dev-tenant",
        "$event_schema": {"version": "1.0.0"}
    });
    assert_valid_sapi(&data);
    json!({"log_id": log_id, "data": data})
}

pub fn login_entry(log_id: &str) -> Value {
    json!({"log_id": log_id, "data": {
        "date": "2026-11-23T22:11:00.000Z", "type": "s", "description": "Success Login",
        "client_id": "dcr1", "client_name": "ChatGPT", "ip": "203.0.113.7",
        "user_id": "google-oauth2|123", "details": {"prompts": []}, "log_id": log_id,
        "tenant_name": "dev-tenant"
    }})
}

/// The sample entries hold every field Auth0's `sapi` schema requires.
pub fn assert_valid_sapi(data: &Value) {
    let schema: Value = serde_json::from_str(SAPI_SCHEMA).expect("schema");
    for field in schema["required"].as_array().expect("required") {
        let field = field.as_str().expect("name");
        assert!(data.get(field).is_some(), "sample lacks `{field}`");
    }
    for field in schema["properties"]["details"]["required"]
        .as_array()
        .expect("details")
    {
        assert!(data["details"][field.as_str().expect("name")].is_object());
    }
}
