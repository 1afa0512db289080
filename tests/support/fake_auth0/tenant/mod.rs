//! The tenant-wide pieces of the fake Auth0 that the set-up (`gateway setup`, `TenantSetup`)
//! and `gateway doctor` touch: tenant settings, APIs, CIMD registration and preview, the
//! published discovery document and open DCR. (The can-log-in decision is [`super::login`].) The fake mounts
//! [`routes`] under its gate, so the calls are recorded, faults apply and the token's scopes
//! are checked ([`required_scope`]).

pub mod cimd;
pub mod discovery;
pub mod resource_servers;
pub mod settings;

use std::collections::BTreeSet;

use axum::Router;
use axum::http::{HeaderMap, Method, header};
use axum::routing::{get, post};

pub use super::login::LoginRefusal;
pub use settings::{ResourceServer, TenantState};

use super::{FakeAuth0, FakeState, Grant, Shared, lock};

/// Every Management API scope the fake knows: what a fully authorized set-up M2M app holds.
pub const ALL_MGMT_SCOPES: [&str; 13] = [
    "read:clients",
    "create:clients",
    "update:clients",
    "read:connections",
    "update:connections",
    "read:client_grants",
    "create:client_grants",
    "update:client_grants",
    "read:tenant_settings",
    "update:tenant_settings",
    "read:resource_servers",
    "create:resource_servers",
    "update:resource_servers",
];

/// The routes; the fake layers its gate over them.
pub fn routes() -> Router<Shared> {
    Router::new()
        .route(
            "/api/v2/tenants/settings",
            get(settings::get_settings).patch(settings::patch_settings),
        )
        .route(
            "/api/v2/resource-servers",
            post(resource_servers::create_api),
        )
        .route(
            "/api/v2/resource-servers/{id}",
            get(resource_servers::get_api).patch(resource_servers::patch_api),
        )
        .route("/api/v2/clients/cimd/register", post(cimd::register))
        .route("/api/v2/clients/cimd/preview", post(cimd::preview))
        .route(
            "/.well-known/openid-configuration",
            get(discovery::openid_configuration),
        )
        .route("/.well-known/jwks.json", get(discovery::jwks))
        .route("/oidc/register", post(discovery::register))
}

/// The scope `method path` needs among this module's endpoints (OAS `security`; register's
/// create/update split is checked in its handler), `None` for others.
pub fn required_scope(method: &Method, path: &str) -> Option<&'static str> {
    let rest = path.strip_prefix("/api/v2/")?;
    let segments: Vec<&str> = rest.split('/').collect();
    match (method.as_str(), segments.as_slice()) {
        ("GET", ["tenants", "settings"]) => Some("read:tenant_settings"),
        ("PATCH", ["tenants", "settings"]) => Some("update:tenant_settings"),
        ("GET", ["resource-servers", ..]) => Some("read:resource_servers"),
        ("POST", ["resource-servers"]) => Some("create:resource_servers"),
        ("PATCH", ["resource-servers", _]) => Some("update:resource_servers"),
        ("POST", ["clients", "cimd", "preview"]) => Some("read:clients"),
        ("GET", ["clients"]) => Some("read:clients"),
        _ => None,
    }
}

/// The scopes of the bearer token on this request (empty if unknown).
pub fn held_scopes(s: &FakeState, headers: &HeaderMap) -> BTreeSet<String> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .and_then(|t| s.valid_tokens.get(t))
        .cloned()
        .unwrap_or_default()
}

impl FakeAuth0 {
    /// The tenant settings as `GET /tenants/settings` answers them.
    pub fn settings(&self) -> serde_json::Value {
        self.state().tenant.settings.clone()
    }

    /// Merges `fields` into the tenant settings directly (the dashboard).
    pub fn set_settings(&self, fields: serde_json::Value) {
        let mut s = self.state();
        let settings = s.tenant.settings.as_object_mut().expect("object");
        for (k, v) in fields.as_object().expect("object") {
            if k == "flags" {
                let flags = settings["flags"].as_object_mut().expect("flags");
                for (fk, fv) in v.as_object().expect("flags object") {
                    flags.insert(fk.clone(), fv.clone());
                }
            } else {
                settings.insert(k.clone(), v.clone());
            }
        }
    }

    /// An API with `identifier`, `signing_alg` and `scopes` (the dashboard's Create API).
    pub fn add_resource_server(&self, identifier: &str, signing_alg: &str, scopes: &[&str]) {
        let mut s = self.state();
        let id = s.tenant.next("");
        s.tenant.resource_servers.push(ResourceServer {
            id,
            name: identifier.into(),
            identifier: identifier.into(),
            signing_alg: signing_alg.into(),
            scopes: scopes.iter().map(|v| ((*v).to_owned(), None)).collect(),
        });
    }

    /// The API with this identifier, if any.
    pub fn api(&self, identifier: &str) -> Option<ResourceServer> {
        self.state().tenant.api(identifier).cloned()
    }

    /// Every client registered for a CIMD URL.
    pub fn cimd_clients(&self) -> Vec<serde_json::Value> {
        self.state()
            .clients
            .values()
            .filter(|c| c["external_metadata_type"] == "cimd")
            .cloned()
            .collect()
    }

    /// The issuer the fake's discovery names.
    pub fn issuer(&self) -> String {
        discovery::issuer(&self.base_url)
    }

    /// The default permissions for third-party apps (`default_for` grants).
    pub fn default_grants(&self) -> Vec<Grant> {
        self.state()
            .grants
            .iter()
            .filter(|g| g.default_for.is_some())
            .cloned()
            .collect()
    }
}
