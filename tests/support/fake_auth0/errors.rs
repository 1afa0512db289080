//! Auth0's error answers, as real traffic shows them where it does.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// The Management API envelope `{statusCode, error, message, errorCode}` (every recorded 4xx,
/// e.g. the 404 `inexistent_client` in terraform recordings).
pub fn auth0_error(status: StatusCode, message: &str, error_code: &str) -> Response {
    let body = json!({
        "statusCode": status.as_u16(),
        "error": status.canonical_reason().unwrap_or("Error"),
        "message": message,
        "errorCode": error_code,
    });
    (status, axum::Json(body)).into_response()
}

/// The same envelope without `errorCode`: the 409 on a duplicate grant has none anywhere it was
/// seen (terraform-provider-auth0 issue #255).
pub fn auth0_error_without_code(status: StatusCode, message: &str) -> Response {
    let body = json!({
        "statusCode": status.as_u16(),
        "error": status.canonical_reason().unwrap_or("Error"),
        "message": message,
    });
    (status, axum::Json(body)).into_response()
}

/// 401 for an expired or unknown Management token, as recorded: no `errorCode`, an
/// `attributes.error` copy of the message.
pub fn expired_token() -> Response {
    let message = "Expired token received for JSON Web Token validation";
    let body = json!({
        "statusCode": 401,
        "error": "Unauthorized",
        "message": message,
        "attributes": {"error": message},
    });
    (StatusCode::UNAUTHORIZED, axum::Json(body)).into_response()
}

/// 403 when the token lacks the endpoint's scope (format of a real answer quoted in
/// auth0/auth0-deploy-cli#178).
pub fn insufficient_scope(expected: &[&str]) -> Response {
    auth0_error(
        StatusCode::FORBIDDEN,
        &format!(
            "Insufficient scope, expected any of: {}",
            expected.join(",")
        ),
        "insufficient_scope",
    )
}

/// 400 with a synthetic message: the status of a refused PATCH is not documented (OAS lists
/// 400 "The message will vary depending on the cause"); the codes `invalid_body` and
/// `operation_not_supported` are the ones real 400s carry elsewhere (terraform recordings).
pub fn bad_request(message: &str, error_code: &str) -> Response {
    auth0_error(StatusCode::BAD_REQUEST, message, error_code)
}

pub fn client_not_found() -> Response {
    auth0_error(
        StatusCode::NOT_FOUND,
        "The client does not exist",
        "inexistent_client",
    )
}

pub fn connection_not_found() -> Response {
    auth0_error(
        StatusCode::NOT_FOUND,
        "The connection does not exist",
        "inexistent_connection",
    )
}
