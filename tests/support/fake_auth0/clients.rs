//! `GET` / `PATCH /api/v2/clients/{id}` with the 2026 refusals on third-party clients, and
//! `GET /api/v2/clients?external_client_id=`.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

use super::errors::{bad_request, client_not_found};
use super::populations::is_strict;
use super::{Shared, lock};

pub(super) async fn get_client(State(state): State<Shared>, Path(id): Path<String>) -> Response {
    match lock(&state).clients.get(&id) {
        Some(c) => axum::Json(c.clone()).into_response(),
        None => client_not_found(),
    }
}

/// `GET /api/v2/clients`, with the `external_client_id` filter the CIMD docs use (bare array).
pub(super) async fn list_clients(
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

pub(super) async fn patch_client(
    State(state): State<Shared>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let mut s = lock(&state);
    let permissive_refuses = s.knobs.permissive_refuses_ownership_change;
    let Some(client) = s.clients.get_mut(&id) else {
        return client_not_found();
    };
    let Ok(Value::Object(fields)) = serde_json::from_slice::<Value>(&body) else {
        return bad_request(
            "Payload validation error: 'Expected type object'",
            "invalid_body",
        );
    };
    if let Err(refusal) = check_patch(client, &fields, permissive_refuses) {
        // All or nothing: a refused PATCH applies none of its fields.
        return refusal;
    }
    let Some(target) = client.as_object_mut() else {
        return bad_request("Payload validation error", "invalid_body");
    };
    for (k, v) in fields {
        target.insert(k, v);
    }
    axum::Json(client.clone()).into_response()
}

/// The refusals of `security-controls.mdx` ("Restricted client configuration") and
/// `troubleshooting.mdx` ("Cannot change `is_first_party` or security mode"): a *changed*
/// `is_first_party` / `third_party_security_mode` is refused, the unchanged values are accepted
/// (recorded 200, `TestAccClient_ThirdPartySecurityMode.yaml`); on strict and CIMD clients also
/// grant types other than `authorization_code` / `refresh_token`, app types outside the four,
/// a non-RS256 `jwt_configuration.alg`, and the parameters terraform `fad3759c` found rejected
/// for third-party clients (`sso`, `require_pushed_authorization_requests`,
/// `jwt_configuration.scopes`). `client_metadata` holds at most 10 keys (Auth0's documented
/// limit) on every client.
fn check_patch(
    client: &Value,
    fields: &Map<String, Value>,
    permissive_refuses_ownership_change: bool,
) -> Result<(), Response> {
    let changed = |name: &str| fields.get(name).is_some_and(|v| *v != client[name]);
    let strict = is_strict(client);
    let permissive = client["third_party_security_mode"] == "permissive";
    if (strict || (permissive && permissive_refuses_ownership_change))
        && (changed("is_first_party") || changed("third_party_security_mode"))
    {
        return Err(bad_request(
            "Third-party applications cannot be converted to first-party applications, and the security mode cannot be changed after creation",
            "operation_not_supported",
        ));
    }
    if let Some(Value::Object(metadata)) = fields.get("client_metadata")
        && metadata.len() > 10
    {
        return Err(bad_request(
            "Payload validation error: 'Too many properties' on property client_metadata",
            "invalid_body",
        ));
    }
    if !strict {
        return Ok(());
    }
    if let Some(grants) = fields.get("grant_types") {
        let allowed = ["authorization_code", "refresh_token"];
        let ok = grants.as_array().is_some_and(|a| {
            a.iter()
                .all(|g| g.as_str().is_some_and(|g| allowed.contains(&g)))
        });
        if !ok {
            return Err(bad_request(
                "Third-party applications with enhanced security support only the authorization_code and refresh_token grant types",
                "invalid_body",
            ));
        }
    }
    if let Some(app_type) = fields.get("app_type") {
        let allowed = ["regular_web", "spa", "native", "non_interactive"];
        if !app_type.as_str().is_some_and(|t| allowed.contains(&t)) {
            return Err(bad_request(
                "Invalid app_type for a third-party application",
                "invalid_body",
            ));
        }
    }
    let jwt = fields.get("jwt_configuration");
    if jwt.is_some_and(|j| j.get("alg").is_some_and(|a| a != "RS256") || j.get("scopes").is_some())
        || fields.contains_key("sso")
        || fields.contains_key("require_pushed_authorization_requests")
    {
        return Err(bad_request(
            "This property cannot be set on a third-party application",
            "invalid_body",
        ));
    }
    Ok(())
}
