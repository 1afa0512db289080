//! Connections: `GET /api/v2/connections?name=`, `PATCH /api/v2/connections/{id}`
//! (`is_domain_connection`), the per-client `PATCH /api/v2/connections/{id}/clients` and
//! `GET /api/v2/clients/{id}/connections`.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::errors::{bad_request, client_not_found, connection_not_found};
use super::populations::is_third_party;
use super::state::{Connection, ThirdPartyEnable};
use super::{Shared, lock};

pub(super) fn connection_json(c: &Connection) -> Value {
    json!({"id": c.id, "name": c.name, "strategy": c.strategy, "realms": [c.name],
           "is_domain_connection": c.is_domain_connection, "options": {}})
}

/// A bare array (OAS `get_connections` without paging parameters).
pub(super) async fn list_connections(
    State(state): State<Shared>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let s = lock(&state);
    let list: Vec<Value> = s
        .connections
        .iter()
        .filter(|c| q.get("name").is_none_or(|n| *n == c.name))
        .filter(|c| q.get("strategy").is_none_or(|n| *n == c.strategy))
        .map(connection_json)
        .collect();
    axum::Json(list).into_response()
}

pub(super) async fn get_connection(
    State(state): State<Shared>,
    Path(id): Path<String>,
) -> Response {
    match lock(&state).connection_by_id(&id) {
        Some(c) => axum::Json(connection_json(c)).into_response(),
        None => connection_not_found(),
    }
}

/// `PATCH /api/v2/connections/{id}`: the fake takes `is_domain_connection` (and `display_name`);
/// 200 with the whole connection (`promote-connections-to-domain-level.mdx`). "If you use the
/// `options` parameter, the entire `options` object is overridden" — the fake keeps no options,
/// so it refuses them rather than pretend.
pub(super) async fn patch_connection(
    State(state): State<Shared>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let Ok(Value::Object(fields)) = serde_json::from_slice::<Value>(&body) else {
        return bad_request(
            "Payload validation error: 'Expected type object'",
            "invalid_body",
        );
    };
    if fields.is_empty()
        || fields
            .keys()
            .any(|k| k != "is_domain_connection" && k != "display_name")
    {
        return bad_request(
            "Payload validation error: 'Additional properties not allowed'",
            "invalid_body",
        );
    }
    let mut s = lock(&state);
    let Some(conn) = s.connections.iter_mut().find(|c| c.id == id) else {
        return connection_not_found();
    };
    if let Some(flag) = fields.get("is_domain_connection") {
        let Some(flag) = flag.as_bool() else {
            return bad_request(
                "Payload validation error: 'Expected type boolean' on property is_domain_connection",
                "invalid_body",
            );
        };
        conn.is_domain_connection = flag;
    }
    axum::Json(connection_json(conn)).into_response()
}

/// `GET /api/v2/clients/{id}/connections`: checkpoint pagination, `next` is the last id seen.
pub(super) async fn client_connections(
    State(state): State<Shared>,
    Path(id): Path<String>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let s = lock(&state);
    let Some(client) = s.clients.get(&id) else {
        return client_not_found();
    };
    let with_domain = is_third_party(client) && s.knobs.list_domain_connections_for_third_party;
    let take: usize = q.get("take").and_then(|t| t.parse().ok()).unwrap_or(50);
    let from = q.get("from").cloned();
    let mut rest: Vec<&Connection> = s
        .connections
        .iter()
        .filter(|c| c.enabled.contains(&id) || (with_domain && c.is_domain_connection))
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

/// `PATCH /api/v2/connections/{id}/clients`: 1–50 items `{client_id, status}` ("the limit per
/// PATCH request is 50 clients"), 204 with no body. For a third-party client, per the knob:
/// accepted but not persisted (the 2017 precedent, `auth0/docs#4498`), or refused.
pub(super) async fn patch_connection_clients(
    State(state): State<Shared>,
    Path(id): Path<String>,
    axum::Json(items): axum::Json<Value>,
) -> Response {
    let Some(items) = items.as_array().filter(|a| (1..=50).contains(&a.len())) else {
        return bad_request("Payload validation error: 1 to 50 items", "invalid_body");
    };
    let mut s = lock(&state);
    let knob = s.knobs.third_party_enable;
    let third_party: Vec<String> = s
        .clients
        .iter()
        .filter(|(_, c)| is_third_party(c))
        .map(|(id, _)| id.clone())
        .collect();
    let Some(conn) = s.connections.iter_mut().find(|c| c.id == id) else {
        return connection_not_found();
    };
    let mut changes = Vec::new();
    for item in items {
        let (Some(client_id), Some(status)) =
            (item["client_id"].as_str(), item["status"].as_bool())
        else {
            return bad_request("Payload validation error", "invalid_body");
        };
        if third_party.iter().any(|t| t == client_id) {
            match knob {
                ThirdPartyEnable::IgnoredButAccepted => continue,
                ThirdPartyEnable::Refused => {
                    return bad_request(
                        "Third-party applications can only use domain-level connections",
                        "operation_not_supported",
                    );
                }
            }
        }
        changes.push((client_id.to_owned(), status));
    }
    for (client_id, status) in changes {
        if status {
            conn.enabled.insert(client_id);
        } else {
            conn.enabled.remove(&client_id);
        }
    }
    StatusCode::NO_CONTENT.into_response()
}
