//! `POST /oauth/token` for the Management API: `client_credentials` in JSON, the M2M app's
//! credentials, the audience `https://TENANT/api/v2/`. The token carries the scopes the M2M app
//! is granted (all of them unless the request names fewer).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{MGMT_CLIENT_ID, MGMT_CLIENT_SECRET, Shared, TENANT, lock};

pub(super) async fn token(State(state): State<Shared>, body: Bytes) -> Response {
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
    let mut scopes = s.mgmt_scopes.clone();
    if let Some(asked) = req["scope"].as_str() {
        scopes.retain(|held| asked.split(' ').any(|a| a == held));
    }
    s.token_seq += 1;
    let token = format!("fake-mgmt-token-{}", s.token_seq);
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
