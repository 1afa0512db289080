//! The fake's tenant-level state and `GET`/`PATCH /api/v2/tenants/settings`, shaped after the
//! Management API reference (OAS `TenantSettings`, auth0/docs-v2 `management-api-oas.json`
//! 2026-06-25) and a real GET (terraform `TestAccTenant_DynamicClientRegistrationSecurityMode.yaml`:
//! `"resource_parameter_profile":"audience"`). A blank tenant as Auth0 creates one in 2026: DCR
//! off (`dynamic-client-registration.mdx`: "By default, dynamic application registration is
//! disabled for all tenants"), the `audience` profile, no RFC 9207 `iss`, no CIMD, and no
//! `dynamic_client_registration_security_mode` in the GET (a third party's 2026-08 probe saw it
//! omitted on a strict tenant).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use tower_mcp_auth::dev::DevIssuer;

use super::{Shared, lock};

/// An API (resource server) as the set-up and the doctor read it.
#[derive(Debug, Clone)]
pub struct ResourceServer {
    pub id: String,
    pub name: String,
    pub identifier: String,
    pub signing_alg: String,
    /// `(value, description)`.
    pub scopes: Vec<(String, Option<String>)>,
}

/// Everything tenant-wide the set-up touches that the client/connection/grant fake does not
/// hold.
#[derive(Debug)]
pub struct TenantState {
    /// The tenant settings object, as `GET /tenants/settings` answers it.
    pub settings: Value,
    pub resource_servers: Vec<ResourceServer>,
    /// What each CIMD URL serves (the fake never leaves loopback): documents as captured.
    pub documents: BTreeMap<String, Value>,
    /// Signs nothing the set-up needs; publishes the JWKS the discovery document names.
    pub signer: Arc<DevIssuer>,
    /// Leave `scope` out of the token answer (Auth0 sends it for `client_credentials`; this
    /// models a proxy or an opaque token that does not), so a caller learns of a missing scope
    /// only from a 403.
    pub token_omits_scope: bool,
    pub(super) seq: u64,
}

impl Default for TenantState {
    fn default() -> Self {
        Self {
            settings: json!({
                "friendly_name": "Fake tenant",
                "picture_url": "",
                "support_email": "",
                "flags": {
                    "enable_dynamic_client_registration": false,
                    "enable_client_connections": true,
                    "disable_impersonation": true,
                    "allow_changing_enable_sso": false
                },
                "resource_parameter_profile": "audience",
                "sandbox_version": "22"
            }),
            resource_servers: Vec::new(),
            documents: super::cimd::captured_documents(),
            signer: Arc::new(DevIssuer::generate().expect("key generation")),
            token_omits_scope: false,
            seq: 0,
        }
    }
}

impl TenantState {
    pub(super) fn next(&mut self, prefix: &str) -> String {
        self.seq += 1;
        format!("{prefix}{:016x}", self.seq)
    }

    /// A boolean setting (absent = false).
    pub fn flag(&self, path: &[&str]) -> bool {
        let mut v = &self.settings;
        for p in path {
            v = &v[*p];
        }
        v.as_bool().unwrap_or(false)
    }

    pub fn api(&self, id_or_identifier: &str) -> Option<&ResourceServer> {
        self.resource_servers
            .iter()
            .find(|a| a.id == id_or_identifier || a.identifier == id_or_identifier)
    }
}

/// The Management API envelope `{statusCode, error, message, errorCode}`.
pub fn error(status: StatusCode, message: &str, error_code: &str) -> Response {
    let body = json!({
        "statusCode": status.as_u16(),
        "error": status.canonical_reason().unwrap_or("Error"),
        "message": message,
        "errorCode": error_code,
    });
    (status, axum::Json(body)).into_response()
}

pub(super) async fn get_settings(State(state): State<Shared>) -> Response {
    axum::Json(lock(&state).tenant.settings.clone()).into_response()
}

/// Top-level fields the fake accepts in a PATCH (the ones the OAS `UpdateTenantSettingsRequestContent`
/// lists that a set-up could send); anything else is a 400, as the body is closed.
const PATCHABLE: [&str; 8] = [
    "flags",
    "friendly_name",
    "resource_parameter_profile",
    "authorization_response_iss_parameter_supported",
    "client_id_metadata_document_supported",
    "dynamic_client_registration_security_mode",
    "default_audience",
    "support_email",
];
/// Flags a PATCH may not carry: a third party found Auth0 "rejecting read-only flags echoed
/// from the GET response" (body not shown; synthetic here).
const READ_ONLY_FLAGS: [&str; 2] = ["disable_impersonation", "allow_changing_enable_sso"];

/// `PATCH /api/v2/tenants/settings`: top-level fields replaced, `flags` merged (the DCR guide
/// patches `{"flags": {"enable_dynamic_client_registration": true}}` alone), enums checked;
/// answers the whole settings object.
pub(super) async fn patch_settings(
    State(state): State<Shared>,
    axum::Json(patch): axum::Json<Value>,
) -> Response {
    let Some(fields) = patch.as_object() else {
        return error(
            StatusCode::BAD_REQUEST,
            "Payload validation error: 'Expected type object'",
            "invalid_body",
        );
    };
    if let Some(bad) = fields.keys().find(|k| !PATCHABLE.contains(&k.as_str())) {
        return error(
            StatusCode::BAD_REQUEST,
            &format!("Payload validation error: 'Additional properties not allowed: {bad}'"),
            "invalid_body",
        );
    }
    if let Some(profile) = fields.get("resource_parameter_profile")
        && !matches!(profile.as_str(), Some("audience" | "compatibility"))
    {
        return error(
            StatusCode::BAD_REQUEST,
            "Payload validation error: 'resource_parameter_profile must be one of audience, compatibility'",
            "invalid_body",
        );
    }
    if let Some(mode) = fields.get("dynamic_client_registration_security_mode")
        && !matches!(mode.as_str(), Some("strict" | "permissive"))
    {
        return error(
            StatusCode::BAD_REQUEST,
            "Payload validation error: 'dynamic_client_registration_security_mode must be one of strict, permissive'",
            "invalid_body",
        );
    }
    let flags = fields.get("flags").and_then(Value::as_object);
    if let Some(flag) = flags.and_then(|f| f.keys().find(|k| READ_ONLY_FLAGS.contains(&k.as_str())))
    {
        return error(
            StatusCode::BAD_REQUEST,
            &format!("The flag {flag} cannot be changed"),
            "invalid_body",
        );
    }
    let mut s = lock(&state);
    let settings = s.tenant.settings.as_object_mut().expect("settings object");
    for (key, value) in fields {
        if key == "flags" {
            let current = settings
                .entry("flags")
                .or_insert_with(|| Value::Object(Map::new()));
            if let (Some(current), Some(new)) = (current.as_object_mut(), value.as_object()) {
                for (k, v) in new {
                    current.insert(k.clone(), v.clone());
                }
            }
        } else {
            settings.insert(key.clone(), value.clone());
        }
    }
    axum::Json(s.tenant.settings.clone()).into_response()
}
