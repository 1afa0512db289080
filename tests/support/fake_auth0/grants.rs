//! Client grants as Auth0 keys them (`../shared/research/auth0-2026.md` §Q3): `subject_type`
//! defaults to `client` when omitted (recorded: terraform `TestAccClientGrant_DefaultFor.yaml`
//! answers `"subject_type":"client"` to a request without it), exactly one of `client_id` /
//! `default_for` (`ClientGrantDefaultForEnum`: "Mutually exclusive with `client_id`"), the
//! request body closed (`additionalProperties: false`), the audience an existing API (404),
//! one grant per (client | default_for, audience, subject_type) (409), list filters and the
//! three list shapes, and a PATCH limited to five fields.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::errors::{auth0_error, auth0_error_without_code, bad_request};
use super::state::{FakeState, Grant};
use super::{Shared, lock};

/// Fields `CreateClientGrantRequestContent` allows.
const CREATE_FIELDS: [&str; 9] = [
    "client_id",
    "default_for",
    "audience",
    "scope",
    "subject_type",
    "authorization_details_types",
    "allow_all_scopes",
    "organization_usage",
    "allow_any_organization",
];
/// Fields `UpdateClientGrantRequestContent` allows (`minProperties: 1`); `subject_type` and
/// `default_for` are immutable.
const PATCH_FIELDS: [&str; 5] = [
    "scope",
    "organization_usage",
    "allow_any_organization",
    "authorization_details_types",
    "allow_all_scopes",
];

/// The 201/200 body: fields present only when set (the recorded default-for answer has no
/// `client_id`).
pub(super) fn grant_json(g: &Grant) -> Value {
    let mut v = json!({"id": g.id, "audience": g.audience, "scope": g.scope,
                       "subject_type": g.subject_type});
    if let Some(c) = &g.client_id {
        v["client_id"] = json!(c);
    }
    if let Some(d) = &g.default_for {
        v["default_for"] = json!(d);
    }
    v
}

/// `GET /api/v2/client-grants` with the filters `audience`, `client_id`, `subject_type`,
/// `default_for`; a bare array, or `{total,start,limit,client_grants}` with `include_totals`,
/// or `{next?, client_grants}` with `from`/`take` (checkpoint).
pub(super) async fn list_grants(
    State(state): State<Shared>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let s = lock(&state);
    let matches =
        |field: Option<&str>, key: &str| q.get(key).is_none_or(|want| field == Some(want));
    let list: Vec<Value> = s
        .grants
        .iter()
        .filter(|g| matches(g.client_id.as_deref(), "client_id"))
        .filter(|g| matches(Some(&g.audience), "audience"))
        .filter(|g| matches(Some(&g.subject_type), "subject_type"))
        .filter(|g| matches(g.default_for.as_deref(), "default_for"))
        .map(grant_json)
        .collect();
    if q.get("include_totals").is_some_and(|v| v == "true") {
        let per_page: usize = q.get("per_page").and_then(|v| v.parse().ok()).unwrap_or(50);
        let page: usize = q.get("page").and_then(|v| v.parse().ok()).unwrap_or(0);
        let items: Vec<Value> = list
            .iter()
            .skip(page * per_page)
            .take(per_page)
            .cloned()
            .collect();
        return axum::Json(json!({"total": list.len(), "start": page * per_page,
                                 "limit": per_page, "client_grants": items}))
        .into_response();
    }
    if let Some(take) = q.get("take").and_then(|v| v.parse::<usize>().ok()) {
        let from = q.get("from");
        let rest: Vec<Value> = list
            .into_iter()
            .filter(|g| from.is_none_or(|f| g["id"].as_str().is_some_and(|id| id > f.as_str())))
            .collect();
        let mut body =
            json!({"client_grants": rest.iter().take(take).cloned().collect::<Vec<_>>()});
        if rest.len() > take {
            body["next"] = rest[take - 1]["id"].clone();
        }
        return axum::Json(body).into_response();
    }
    axum::Json(list).into_response()
}

fn strings(v: &Value) -> Option<Vec<String>> {
    v.as_array()?
        .iter()
        .map(|s| {
            s.as_str()
                .filter(|s| (1..=280).contains(&s.len()))
                .map(str::to_owned)
        })
        .collect()
}

pub(super) async fn create_grant(State(state): State<Shared>, body: axum::body::Bytes) -> Response {
    let Ok(Value::Object(req)) = serde_json::from_slice::<Value>(&body) else {
        return bad_request(
            "Payload validation error: 'Expected type object'",
            "invalid_body",
        );
    };
    if let Some(extra) = req.keys().find(|k| !CREATE_FIELDS.contains(&k.as_str())) {
        return bad_request(
            &format!("Payload validation error: 'Additional properties not allowed: {extra}'"),
            "invalid_body",
        );
    }
    let grant = match parse_new_grant(&req) {
        Ok(g) => g,
        Err(r) => return r,
    };
    let mut s = lock(&state);
    if !s.api_exists(&grant.audience) {
        // OAS: 404 "Resource server not found"; body as Auth0 answers for a missing resource
        // server elsewhere (recorded).
        return auth0_error(
            StatusCode::NOT_FOUND,
            "The resource server does not exist",
            "inexistent_resource_server",
        );
    }
    if let Some(race) = s.race_grant_scopes.take() {
        // A concurrent writer got there first, with the same key.
        let id = s.next_id("cgr_");
        let mut theirs = grant.clone();
        theirs.id = id;
        theirs.scope = race;
        s.grants.push(theirs);
    }
    create_in(&mut s, grant)
}

fn parse_new_grant(req: &Map<String, Value>) -> Result<Grant, Response> {
    let client_id = req
        .get("client_id")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let default_for = req
        .get("default_for")
        .and_then(Value::as_str)
        .map(str::to_owned);
    if client_id.is_some() == default_for.is_some() {
        return Err(bad_request(
            "Payload validation error: exactly one of client_id and default_for is required",
            "invalid_body",
        ));
    }
    if default_for
        .as_deref()
        .is_some_and(|d| d != "third_party_clients")
    {
        return Err(bad_request(
            "Payload validation error: default_for must be third_party_clients",
            "invalid_body",
        ));
    }
    let Some(audience) = req.get("audience").and_then(Value::as_str) else {
        return Err(bad_request(
            "Payload validation error: 'Missing required property: audience'",
            "invalid_body",
        ));
    };
    let scope = match req.get("scope") {
        None => Vec::new(),
        Some(v) => strings(v).ok_or_else(|| {
            bad_request("Payload validation error on property scope", "invalid_body")
        })?,
    };
    let subject_type = match req.get("subject_type") {
        None => "client".to_owned(),
        Some(Value::String(t)) if t == "user" || t == "client" => t.clone(),
        Some(_) => {
            return Err(bad_request(
                "Payload validation error: subject_type must be user or client",
                "invalid_body",
            ));
        }
    };
    Ok(Grant {
        id: String::new(),
        client_id,
        default_for,
        audience: audience.to_owned(),
        scope,
        subject_type,
    })
}

/// Stores `grant` under a fresh id unless its key is taken (409).
pub(super) fn create_in(s: &mut FakeState, mut grant: Grant) -> Response {
    if s.grant_with_key(
        grant.client_id.as_deref(),
        grant.default_for.as_deref(),
        &grant.audience,
        &grant.subject_type,
    )
    .is_some()
    {
        let who = grant
            .client_id
            .as_deref()
            .or(grant.default_for.as_deref())
            .unwrap_or_default();
        return auth0_error_without_code(
            StatusCode::CONFLICT,
            &format!(
                "A client grant already exists between {who} and {}",
                grant.audience
            ),
        );
    }
    grant.id = s.next_id("cgr_");
    let body = grant_json(&grant);
    s.grants.push(grant);
    (StatusCode::CREATED, axum::Json(body)).into_response()
}

pub(super) async fn patch_grant(
    State(state): State<Shared>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let Ok(Value::Object(req)) = serde_json::from_slice::<Value>(&body) else {
        return bad_request(
            "Payload validation error: 'Expected type object'",
            "invalid_body",
        );
    };
    if req.is_empty() {
        return bad_request(
            "Payload validation error: 'Too few properties defined (0), minimum 1'",
            "invalid_body",
        );
    }
    if let Some(extra) = req.keys().find(|k| !PATCH_FIELDS.contains(&k.as_str())) {
        return bad_request(
            &format!("Payload validation error: 'Additional properties not allowed: {extra}'"),
            "invalid_body",
        );
    }
    let mut s = lock(&state);
    let Some(grant) = s.grants.iter_mut().find(|g| g.id == id) else {
        // Status from the OAS; message and code synthetic.
        return auth0_error(
            StatusCode::NOT_FOUND,
            "The client grant does not exist",
            "inexistent_client_grant",
        );
    };
    if let Some(scope) = req.get("scope") {
        let Some(scope) = strings(scope) else {
            return bad_request("Payload validation error on property scope", "invalid_body");
        };
        grant.scope = scope;
    }
    axum::Json(grant_json(grant)).into_response()
}
