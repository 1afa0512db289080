//! APIs (resource servers): `GET`/`PATCH /api/v2/resource-servers/{id}` (the OAS: "ID or
//! audience of the resource server"), `POST /api/v2/resource-servers`. 404 body as recorded
//! (`"The resource server does not exist"`, `inexistent_resource_server`); 409 text from the OAS
//! ("A resource server with the same identifier already exists"; `errorCode` not seen, synthetic).
//! New APIs sign with RS256 unless asked otherwise (dashboard and OAS default). A PATCH replaces
//! `scopes` whole and cannot change `identifier`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::settings::{ResourceServer, error};
use super::{Shared, lock};

const ALGS: [&str; 3] = ["RS256", "HS256", "PS256"];

pub fn api_json(a: &ResourceServer) -> Value {
    let scopes: Vec<Value> = a
        .scopes
        .iter()
        .map(|(value, description)| match description {
            Some(d) => json!({"value": value, "description": d}),
            None => json!({"value": value}),
        })
        .collect();
    json!({
        "id": a.id, "name": a.name, "identifier": a.identifier, "is_system": false,
        "signing_alg": a.signing_alg, "scopes": scopes, "allow_offline_access": false,
        "skip_consent_for_verifiable_first_party_clients": true, "token_lifetime": 86400,
        "token_lifetime_for_web": 7200, "token_dialect": "access_token"
    })
}

fn not_found() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "The resource server does not exist",
        "inexistent_resource_server",
    )
}

fn parse_scopes(v: &Value) -> Option<Vec<(String, Option<String>)>> {
    v.as_array()?
        .iter()
        .map(|s| {
            let value = s["value"].as_str()?.to_owned();
            Some((value, s["description"].as_str().map(str::to_owned)))
        })
        .collect()
}

pub(super) async fn get_api(State(state): State<Shared>, Path(id): Path<String>) -> Response {
    match lock(&state).tenant.api(&id) {
        Some(api) => axum::Json(api_json(api)).into_response(),
        None => not_found(),
    }
}

pub(super) async fn create_api(
    State(state): State<Shared>,
    axum::Json(req): axum::Json<Value>,
) -> Response {
    let Some(identifier) = req["identifier"].as_str().filter(|i| !i.is_empty()) else {
        return error(
            StatusCode::BAD_REQUEST,
            "Payload validation error: 'Missing required property: identifier'",
            "invalid_body",
        );
    };
    let alg = req["signing_alg"].as_str().unwrap_or("RS256");
    if !ALGS.contains(&alg) {
        return error(
            StatusCode::BAD_REQUEST,
            "Payload validation error: 'signing_alg'",
            "invalid_body",
        );
    }
    let scopes = match req.get("scopes") {
        None => Vec::new(),
        Some(v) => match parse_scopes(v) {
            Some(s) => s,
            None => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "Payload validation error: 'scopes'",
                    "invalid_body",
                );
            }
        },
    };
    let mut s = lock(&state);
    if s.tenant.api(identifier).is_some() {
        return error(
            StatusCode::CONFLICT,
            "A resource server with the same identifier already exists",
            "conflict",
        );
    }
    let api = ResourceServer {
        id: s.tenant.next(""),
        name: req["name"].as_str().unwrap_or(identifier).to_owned(),
        identifier: identifier.to_owned(),
        signing_alg: alg.to_owned(),
        scopes,
    };
    let body = api_json(&api);
    s.tenant.resource_servers.push(api);
    (StatusCode::CREATED, axum::Json(body)).into_response()
}

pub(super) async fn patch_api(
    State(state): State<Shared>,
    Path(id): Path<String>,
    axum::Json(req): axum::Json<Value>,
) -> Response {
    if req.get("identifier").is_some() {
        return error(
            StatusCode::BAD_REQUEST,
            "Payload validation error: 'Additional properties not allowed: identifier'",
            "invalid_body",
        );
    }
    let alg = req.get("signing_alg").map(|a| a.as_str().unwrap_or(""));
    if let Some(alg) = alg
        && !ALGS.contains(&alg)
    {
        return error(
            StatusCode::BAD_REQUEST,
            "Payload validation error: 'signing_alg'",
            "invalid_body",
        );
    }
    let scopes = match req.get("scopes") {
        None => None,
        Some(v) => match parse_scopes(v) {
            Some(s) => Some(s),
            None => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "Payload validation error: 'scopes'",
                    "invalid_body",
                );
            }
        },
    };
    let mut s = lock(&state);
    let Some(api) = s
        .tenant
        .resource_servers
        .iter_mut()
        .find(|a| a.id == id || a.identifier == id)
    else {
        return not_found();
    };
    if let Some(alg) = alg {
        api.signing_alg = alg.to_owned();
    }
    if let Some(scopes) = scopes {
        api.scopes = scopes;
    }
    if let Some(name) = req["name"].as_str() {
        api.name = name.to_owned();
    }
    axum::Json(api_json(api)).into_response()
}
