//! `GET /debug-token` (only with `DEBUG_TOKEN_ENDPOINT=1`): what the gateway sees in the
//! caller's own token, once verified. It shows claims, never the token or any secret; it is off
//! by default because claims can be personal data.

use axum::Extension;
use axum::extract::State;
use serde_json::{Value, json};
use tower_mcp_auth::AccessToken;

use crate::policy::GatewayPolicy;
use crate::proxy::unix_now;

/// The verified claims and what the gateway derives from them.
pub async fn debug_token(
    State(policy): State<GatewayPolicy>,
    Extension(token): Extension<AccessToken>,
) -> axum::Json<Value> {
    let claim = |name: &str| token.claim(name).cloned().unwrap_or(Value::Null);
    axum::Json(json!({
        "sub": token.subject(),
        "iss": token.issuer(),
        "aud": token.audiences(),
        "scope": claim("scope"),
        "permissions": claim("permissions"),
        "client_id": token.client_id(),
        "exp": token.expires_at(),
        "expires_in": token.expires_at().saturating_sub(unix_now()),
        "iat": token.issued_at(),
        "derived": {
            "scopes": token.scopes(),
            "tools_allowed": policy.policy.tools_allowed(&token),
            "unknown_tools_allowed": policy.policy.unknown_tools_allowed(&token),
        },
    }))
}
