//! CIMD: `POST /api/v2/clients/cimd/register` and `/preview`. Sources: the Management API OAS
//! (`external_client_id` only, `maxLength` 120; register is an upsert — 201 + `create:clients`,
//! 200 + `update:clients`; preview needs `read:clients`), the answer recorded by terraform
//! (`TestAccClientCIMD.yaml`: `{client_id, mapped_fields, validation:{valid, violations,
//! warnings}}`, the warning "Ignoring unsupported properties: client_uri. …"), the CIMD client
//! as recorded (`external_metadata_type: "cimd"`, `external_metadata_created_by: "admin"`, no
//! `third_party_security_mode`), `register-applications-with-cimd.mdx` (URL rules: https, a
//! path, ≤ 120 bytes, no query/fragment/credentials/localhost; the document's `client_id` must
//! equal the URL; no shared secrets; `jwks_uri` on the document's origin; unsupported grant types
//! dropped with a warning) and terraform's "Requires the `client_id_metadata_document_supported`
//! tenant setting". The status and body of a refused registration are not documented: 400 in
//! the usual envelope, synthetic messages.
//!
//! The fake cannot fetch the Internet: [`captured_documents`] are what the two URLs served when
//! third parties captured them; any other URL "cannot be fetched" unless a test adds a document.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::super::populations::tpc_id;
use super::settings::error;
use super::{Shared, lock};

/// ChatGPT's stable CIMD URL (developers.openai.com, "Authentication").
pub const CHATGPT_CIMD_URL: &str = "https://chatgpt.com/oauth/client.json";
/// Claude's CIMD URL (claude.com, connectors "Authentication").
pub const CLAUDE_CIMD_URL: &str = "https://claude.ai/oauth/mcp-oauth-client-metadata";

/// The documents as served: ChatGPT's captured 2026-09-08, Claude's 2026-09-29
/// (`../shared/research/auth0-2026.md` Q4, third-party captures).
pub fn captured_documents() -> BTreeMap<String, Value> {
    BTreeMap::from([
        (
            CHATGPT_CIMD_URL.to_owned(),
            json!({"client_id": CHATGPT_CIMD_URL, "client_uri": "https://chatgpt.com/",
                "redirect_uris": ["https://chatgpt.com/connector_platform_oauth_redirect"],
                "token_endpoint_auth_method": "private_key_jwt",
                "token_endpoint_auth_methods_supported": ["none", "private_key_jwt"],
                "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"],
                "client_name": "ChatGPT",
                "logo_uri": "https://persistent.oaistatic.com/sonic/misc/openai-logo.png",
                "token_endpoint_auth_signing_alg": "RS256",
                "jwks_uri": "https://chatgpt.com/oauth/jwks.json"}),
        ),
        (
            CLAUDE_CIMD_URL.to_owned(),
            json!({"client_id": CLAUDE_CIMD_URL, "client_name": "Claude",
                "client_uri": "https://claude.ai",
                "redirect_uris": ["https://claude.ai/api/mcp/auth_callback"],
                "grant_types": ["authorization_code", "refresh_token",
                                "urn:ietf:params:oauth:grant-type:jwt-bearer"],
                "response_types": ["code"], "token_endpoint_auth_method": "none"}),
        ),
    ])
}

/// Document properties Auth0 maps or checks; others are ignored with a warning.
const KNOWN: [&str; 10] = [
    "client_id",
    "client_name",
    "redirect_uris",
    "logo_uri",
    "description",
    "grant_types",
    "token_endpoint_auth_method",
    "jwks_uri",
    "application_type",
    "response_types",
];

/// The URL rules; `Err` names the broken one.
fn check_url(raw: &str) -> Result<url::Url, String> {
    if raw.len() > 120 {
        return Err("external_client_id must be at most 120 characters".into());
    }
    let url = url::Url::parse(raw).map_err(|_| "external_client_id must be an absolute URL")?;
    let host = url.host_str().unwrap_or("");
    if url.scheme() != "https"
        || url.query().is_some()
        || url.fragment().is_some()
        || !url.username().is_empty()
        || url.path() == "/"
        || host == "localhost"
        || host.starts_with("127.")
    {
        return Err(
            "external_client_id must be an https URL with a path and without query, fragment, \
             credentials or a local host"
                .into(),
        );
    }
    Ok(url)
}

/// What Auth0 makes of a fetched document: mapped fields and the validation result.
fn map_document(url: &url::Url, doc: &Value) -> (Map<String, Value>, Value) {
    let mut violations = Vec::new();
    let mut warnings = Vec::new();
    let mut mapped = Map::new();
    mapped.insert("external_client_id".into(), json!(url.as_str()));
    if doc["client_id"] != url.as_str() {
        violations.push("client_id must equal the URL the document was fetched from".to_owned());
    }
    if let Some(name) = doc["client_name"].as_str() {
        mapped.insert("name".into(), json!(name));
    }
    match doc["redirect_uris"].as_array() {
        Some(uris) if !uris.is_empty() => {
            mapped.insert("callbacks".into(), json!(uris));
        }
        _ => violations.push("redirect_uris is required".into()),
    }
    if let Some(logo) = doc["logo_uri"].as_str() {
        mapped.insert("logo_uri".into(), json!(logo));
    }
    let grants: Vec<&str> = doc["grant_types"]
        .as_array()
        .map(|g| g.iter().filter_map(Value::as_str).collect())
        .unwrap_or_else(|| vec!["authorization_code"]);
    let (kept, dropped): (Vec<&str>, Vec<&str>) = grants
        .into_iter()
        .partition(|g| matches!(*g, "authorization_code" | "refresh_token"));
    if !dropped.is_empty() {
        warnings.push(format!(
            "Ignoring unsupported grant types: {}",
            dropped.join(", ")
        ));
    }
    mapped.insert("grant_types".into(), json!(kept));
    let method = doc["token_endpoint_auth_method"].as_str().unwrap_or("none");
    match method {
        "none" | "private_key_jwt" => {
            mapped.insert("token_endpoint_auth_method".into(), json!(method));
        }
        other => violations.push(format!(
            "token_endpoint_auth_method {other} is not allowed: CIMD clients use no shared secrets"
        )),
    }
    if let Some(jwks) = doc["jwks_uri"].as_str() {
        let same_origin = url::Url::parse(jwks)
            .map(|j| j.origin() == url.origin())
            .unwrap_or(false);
        if same_origin {
            mapped.insert("jwks_uri".into(), json!(jwks));
        } else {
            violations.push("jwks_uri must be on the same origin as the document".into());
        }
    } else if method == "private_key_jwt" {
        violations.push("private_key_jwt needs a jwks_uri".into());
    }
    let app_type = match doc["application_type"].as_str() {
        Some("web") => "regular_web",
        _ => "native",
    };
    mapped.insert("app_type".into(), json!(app_type));
    let unsupported: Vec<&str> = doc
        .as_object()
        .map(|o| {
            o.keys()
                .map(String::as_str)
                .filter(|k| !KNOWN.contains(k))
                .collect()
        })
        .unwrap_or_default();
    if !unsupported.is_empty() {
        warnings.push(format!(
            "Ignoring unsupported properties: {}. These properties are not validated or mapped \
             to the Auth0 client configuration.",
            unsupported.join(", ")
        ));
    }
    let validation =
        json!({"valid": violations.is_empty(), "violations": violations, "warnings": warnings});
    (mapped, validation)
}

/// The request body: exactly `{external_client_id}`; `None` otherwise.
fn requested_url(body: &Value) -> Option<String> {
    body.as_object()
        .filter(|o| o.len() == 1)
        .and_then(|o| o.get("external_client_id"))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

fn bad_body() -> Response {
    error(
        StatusCode::BAD_REQUEST,
        "Payload validation error: the body must be {\"external_client_id\": <url>}",
        "invalid_body",
    )
}

fn client_for(url: &str) -> impl Fn(&&Value) -> bool + '_ {
    move |c: &&Value| c["external_client_id"] == url
}

pub(super) async fn preview(
    State(state): State<Shared>,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    let Some(raw) = requested_url(&body) else {
        return bad_body();
    };
    let url = match check_url(&raw) {
        Ok(url) => url,
        Err(message) => return error(StatusCode::BAD_REQUEST, &message, "invalid_body"),
    };
    let s = lock(&state);
    let existing = s
        .clients
        .values()
        .find(client_for(&raw))
        .map(|c| c["client_id"].clone());
    let Some(doc) = s.tenant.documents.get(&raw) else {
        return axum::Json(json!({"errors": [format!("Failed to fetch the document at {raw}")]}))
            .into_response();
    };
    let (mapped, validation) = map_document(&url, doc);
    let mut answer = json!({"mapped_fields": mapped, "validation": validation});
    if let Some(id) = existing {
        answer["client_id"] = id;
    }
    axum::Json(answer).into_response()
}

pub(super) async fn register(
    State(state): State<Shared>,
    headers: HeaderMap,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    let Some(raw) = requested_url(&body) else {
        return bad_body();
    };
    let url = match check_url(&raw) {
        Ok(url) => url,
        Err(message) => return error(StatusCode::BAD_REQUEST, &message, "invalid_body"),
    };
    let mut s = lock(&state);
    if !s.tenant.flag(&["client_id_metadata_document_supported"]) {
        return error(
            StatusCode::BAD_REQUEST,
            "Client ID Metadata Document registration is not enabled for this tenant",
            "operation_not_supported",
        );
    }
    let existing = s
        .clients
        .values()
        .find(client_for(&raw))
        .and_then(|c| c["client_id"].as_str().map(str::to_owned));
    let needed = if existing.is_some() {
        "update:clients"
    } else {
        "create:clients"
    };
    if !super::held_scopes(&s, &headers).contains(needed) {
        return error(
            StatusCode::FORBIDDEN,
            &format!("Insufficient scope, expected any of: {needed}"),
            "insufficient_scope",
        );
    }
    let Some(doc) = s.tenant.documents.get(&raw).cloned() else {
        return error(
            StatusCode::BAD_REQUEST,
            &format!("Failed to fetch the client metadata document at {raw}"),
            "invalid_body",
        );
    };
    let (mapped, validation) = map_document(&url, &doc);
    if validation["valid"] != true {
        return error(
            StatusCode::BAD_REQUEST,
            &format!(
                "Invalid client metadata document: {}",
                validation["violations"]
            ),
            "invalid_body",
        );
    }
    let (status, client_id) = match existing {
        Some(id) => (StatusCode::OK, id),
        None => (StatusCode::CREATED, tpc_id(&raw)),
    };
    let mut client = json!({
        "client_id": client_id, "tenant": "tenant", "is_first_party": false,
        "oidc_conformant": true, "external_client_id": raw,
        "external_metadata_type": "cimd", "external_metadata_created_by": "admin",
        "jwt_configuration": {"alg": "RS256", "lifetime_in_seconds": 3600},
        "refresh_token": {"rotation_type": "rotating", "expiration_type": "expiring"},
        "client_metadata": {}
    });
    for (k, v) in &mapped {
        if k != "external_client_id" {
            client[k] = v.clone();
        }
    }
    s.clients.insert(client_id.clone(), client);
    let answer = json!({"client_id": client_id, "mapped_fields": mapped, "validation": validation});
    (
        status,
        [(header::LOCATION, format!("/api/v2/clients/{client_id}"))],
        axum::Json(answer),
    )
        .into_response()
}
