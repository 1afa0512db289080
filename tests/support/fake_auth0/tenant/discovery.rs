//! What the tenant publishes to clients: `/.well-known/openid-configuration` (shaped after real
//! Auth0 tenants' documents — `registration_endpoint` and `code_challenge_methods_supported:
//! ["S256","plain"]` appear on every one recorded, whatever the DCR setting — plus the 2026
//! fields that follow the tenant settings: `client_id_metadata_document_supported` ("to
//! indicate CIMD support in the Auth0 Authorization Server metadata",
//! `register-applications-with-cimd.mdx`) and `authorization_response_iss_parameter_supported`
//! (RFC 9207; that Auth0 publishes it with the *Include Issuer* toggle is an inference), the
//! JWKS, and `POST /oidc/register` — open DCR: a strict `tpc_` client when DCR is on, refused
//! when off (the refusal's body is not documented: synthetic).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::super::populations::{strict_dcr_client, tpc_id};
use super::{Shared, lock};

/// The issuer the fake's discovery names: its base URL with Auth0's trailing slash.
pub fn issuer(base_url: &str) -> String {
    format!("{}/", base_url.trim_end_matches('/'))
}

pub(super) async fn openid_configuration(
    State(state): State<Shared>,
    headers: axum::http::HeaderMap,
) -> Response {
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    let base = format!("http://{host}");
    let s = lock(&state);
    let mut doc = json!({
        "issuer": issuer(&base),
        "authorization_endpoint": format!("{base}/authorize"),
        "token_endpoint": format!("{base}/oauth/token"),
        "userinfo_endpoint": format!("{base}/userinfo"),
        "jwks_uri": format!("{base}/.well-known/jwks.json"),
        "registration_endpoint": format!("{base}/oidc/register"),
        "revocation_endpoint": format!("{base}/oauth/revoke"),
        "scopes_supported": ["openid", "profile", "offline_access", "email"],
        "response_types_supported": ["code", "token", "id_token", "code token",
            "code id_token", "token id_token", "code token id_token"],
        "code_challenge_methods_supported": ["S256", "plain"],
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["HS256", "RS256", "PS256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post",
            "private_key_jwt"],
    });
    if s.tenant.flag(&["client_id_metadata_document_supported"]) {
        doc["client_id_metadata_document_supported"] = json!(true);
    }
    if s.tenant
        .flag(&["authorization_response_iss_parameter_supported"])
    {
        doc["authorization_response_iss_parameter_supported"] = json!(true);
    }
    axum::Json(doc).into_response()
}

pub(super) async fn jwks(State(state): State<Shared>) -> Response {
    axum::Json(lock(&state).tenant.signer.jwks()).into_response()
}

/// `POST /oidc/register` (RFC 7591 body). The Authentication API OAS documents 200.
pub(super) async fn register(
    State(state): State<Shared>,
    axum::Json(req): axum::Json<Value>,
) -> Response {
    let mut s = lock(&state);
    if !s
        .tenant
        .flag(&["flags", "enable_dynamic_client_registration"])
    {
        return (
            StatusCode::FORBIDDEN,
            axum::Json(json!({"error": "access_denied",
                "error_description": "Dynamic client registration is disabled"})),
        )
            .into_response();
    }
    let callbacks: Vec<&str> = req["redirect_uris"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if callbacks.is_empty() {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": "invalid_redirect_uri",
                "error_description": "redirect_uris is required"})),
        )
            .into_response();
    }
    let name = req["client_name"].as_str().unwrap_or("Dynamic client");
    s.tenant.seq += 1;
    let id = tpc_id(&format!("dcr-{}-{name}", s.tenant.seq));
    let client = strict_dcr_client(&id, name, &callbacks);
    s.clients.insert(id.clone(), client);
    axum::Json(json!({
        "client_id": id, "client_name": name, "redirect_uris": callbacks,
        "grant_types": ["authorization_code", "refresh_token"],
        "token_endpoint_auth_method": "none"
    }))
    .into_response()
}
