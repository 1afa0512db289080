//! What every request goes through before its route: the call record, injected faults, the
//! bearer token (401 as recorded), and the token's scopes for the endpoint (403
//! `insufficient_scope`).

use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::errors::{auth0_error, expired_token, insufficient_scope};
use super::scopes;
use super::state::{Call, FaultKind};
use super::{Shared, lock};

pub(super) async fn gate(State(state): State<Shared>, req: Request, next: Next) -> Response {
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
    // A fault's prefix may reach into the query (`/api/v2/client-grants?client_id=x`).
    let target = if query.is_empty() {
        path.clone()
    } else {
        format!("{path}?{query}")
    };
    let fault = {
        let mut s = lock(&state);
        let hit = s.faults.iter_mut().find(|f| {
            f.remaining > 0
                && f.method.as_ref().is_none_or(|m| *m == method)
                && target.starts_with(&f.path_prefix)
        });
        hit.map(|f| {
            f.remaining -= 1;
            f.kind.clone()
        })
    };
    let response = match fault {
        Some(FaultKind::RateLimited { reset_in_secs }) => rate_limited(reset_in_secs),
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
            match api.then(|| check_token(&state, &parts.method, &path, &parts.headers)) {
                Some(Err(refusal)) => refusal,
                _ => {
                    let req = Request::from_parts(parts, Body::from(bytes.clone()));
                    next.run(req).await
                }
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

/// The bearer token must be one the fake issued and still valid, and hold the endpoint's scope.
fn check_token(
    state: &Shared,
    method: &axum::http::Method,
    path: &str,
    headers: &HeaderMap,
) -> Result<(), Response> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let s = lock(state);
    let Some(held) = token.and_then(|t| s.valid_tokens.get(t)) else {
        return Err(expired_token());
    };
    if let Some(required) = scopes::required(method, path)
        && let Some(group) = scopes::first_unmet(&required, held)
    {
        return Err(insufficient_scope(group));
    }
    Ok(())
}

/// 429 with the documented headers: Reset is UTC epoch seconds, and no `Retry-After`.
fn rate_limited(reset_in_secs: u64) -> Response {
    let mut r = auth0_error(
        StatusCode::TOO_MANY_REQUESTS,
        "Global limit has been reached",
        "too_many_requests",
    );
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let h = r.headers_mut();
    h.insert("x-ratelimit-limit", 50u32.into());
    h.insert("x-ratelimit-remaining", 0u32.into());
    h.insert("x-ratelimit-reset", (now + reset_in_secs).into());
    r
}
