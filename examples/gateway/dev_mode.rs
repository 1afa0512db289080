//! Dev mode: what stands in for Auth0 and the backend when no `OAUTH_ISSUER` is set.
//!
//! - An embedded issuer ([`DevIssuer`], a fresh RSA key) serves its OpenID configuration and
//!   JWKS under `/dev-issuer/` on the gateway's own port; the gateway's `JwksVerifier` discovers
//!   it exactly as it discovers Auth0.
//! - A demo backend under `/dev-backend/{tool}` answers two tools and, like a real backend,
//!   believes only requests whose `X-Gateway-Signature` verifies.
//! - A demo token is minted and printed with ready-to-paste `curl` commands.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, Request, Response, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use serde_json::{Value, json};
use tower_mcp_auth::dev::DevIssuer;

use crate::hmac::{self, Identity, Signer};
use crate::proxy::{self, unix_now};

/// The tool the demo token may call.
pub const ALLOWED_TOOL: &str = "whoami";
/// The tool that needs a scope the demo token lacks (the step-up example).
pub const STEP_UP_TOOL: &str = "admin_report";
/// The public demo tool (callable without a token; `PUBLIC_TOOLS` unset in dev mode).
pub const PUBLIC_TOOL: &str = crate::config::DEV_PUBLIC_TOOL;
/// The demo policy, in `TOOL_SCOPES` form, used when neither scope variable is set.
pub const DEMO_TOOL_SCOPES: &str = "whoami=demo:read;admin_report=demo:admin";
/// The scopes of the demo token.
pub const DEMO_TOKEN_SCOPE: &str = "demo:read";
/// How long the printed token works.
const DEMO_TOKEN_TTL_SECS: u64 = 12 * 3600;
/// How old a signed identity the demo backend accepts (the README's advice to backends).
const MAX_SIGNATURE_AGE_SECS: u64 = 300;

/// The embedded issuer and where it lives.
pub struct DevAuthority {
    pub issuer: Arc<DevIssuer>,
    /// `http://127.0.0.1:PORT/dev-issuer/`
    pub issuer_url: String,
}

impl DevAuthority {
    pub fn new(addr: SocketAddr) -> Result<Self, tower_mcp_auth::dev::DevIssuerError> {
        Ok(Self {
            issuer: Arc::new(DevIssuer::generate()?),
            issuer_url: format!("http://{addr}/dev-issuer/"),
        })
    }

    /// The issuer's discovery document and JWKS.
    pub fn routes(&self) -> Router {
        let discovery = DevIssuer::openid_configuration(
            &self.issuer_url,
            &format!("{}jwks.json", self.issuer_url),
        );
        let jwks = self.issuer.jwks();
        Router::new()
            .route(
                "/dev-issuer/.well-known/openid-configuration",
                get(move || async move { axum::Json(discovery) }),
            )
            .route(
                "/dev-issuer/jwks.json",
                get(move || async move { axum::Json(jwks) }),
            )
    }

    /// A demo access token for `audience` with `scope`.
    pub fn mint(
        &self,
        audience: &str,
        scope: &str,
    ) -> Result<String, tower_mcp_auth::dev::DevIssuerError> {
        let now = unix_now();
        self.issuer.sign(&json!({
            "iss": self.issuer_url,
            "sub": "dev|demo-user",
            "aud": [audience],
            "azp": "dev-demo-client",
            "iat": now,
            "exp": now + DEMO_TOKEN_TTL_SECS,
            "scope": scope,
        }))
    }
}

/// The demo backend: `POST /dev-backend/{tool}`.
pub fn demo_backend(signer: Signer) -> Router {
    Router::new()
        .route("/dev-backend/{tool}", post(demo_tool))
        .with_state(signer)
}

async fn demo_tool(
    State(signer): State<Signer>,
    Path(tool): Path<String>,
    method: Method,
    headers: HeaderMap,
    request: Request<Body>,
) -> Response<Body> {
    let (parts, body) = request.into_parts();
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    let timestamp: u64 = text(hmac::TIMESTAMP).parse().unwrap_or(0);
    // Read the body first: its digest is part of what is signed.
    let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024).await else {
        return proxy::error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "BODY_TOO_LARGE",
            "The demo backend reads at most 64 KiB",
        );
    };
    let body_sha256 = text(hmac::BODY_SHA256);
    let identity = Identity {
        method: method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query().unwrap_or(""),
        sub: text(hmac::SUB),
        scopes: text(hmac::SCOPES),
        timestamp,
        body_sha256,
    };
    let fresh = unix_now().abs_diff(timestamp) <= MAX_SIGNATURE_AGE_SECS;
    // `-` (a streamed body the gateway did not sign) is refused: the demo wants it all signed.
    let body_matches = body_sha256 == hmac::body_sha256(&bytes);
    if !fresh || !body_matches || !signer.verify(&identity, text(hmac::SIGNATURE)) {
        return proxy::error(
            StatusCode::UNAUTHORIZED,
            "GATEWAY_SIGNATURE_INVALID",
            "The demo backend only answers requests signed by the gateway",
        );
    }
    let input: Value = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap_or(Value::Null)
    };
    let result = match tool.as_str() {
        ALLOWED_TOOL => json!({
            "tool": ALLOWED_TOOL,
            "sub": identity.sub,
            "scopes": identity.scopes,
            "input": input,
            "signature": "verified",
        }),
        PUBLIC_TOOL => json!({
            "tool": PUBLIC_TOOL,
            "status": "ok",
            // Empty when called without a token: the gateway signs an anonymous identity.
            "sub": identity.sub,
            "signature": "verified",
        }),
        STEP_UP_TOOL => json!({
            "tool": STEP_UP_TOOL,
            "report": "all systems nominal",
            "sub": identity.sub,
            "signature": "verified",
        }),
        _ => {
            return proxy::error(
                StatusCode::NOT_FOUND,
                "UNKNOWN_TOOL",
                "The demo backend knows the tools whoami, admin_report and status",
            );
        }
    };
    axum::Json(result).into_response()
}

/// The start-up banner with the ready-to-paste commands (stdout, so it is easy to copy);
/// `public_tool` is shown when it is public.
pub fn banner(base: &str, token: &str, public_tool: bool) -> String {
    let allowed = curl(base, ALLOWED_TOOL, token, r#"{"hello":"world"}"#);
    let step_up = curl(base, STEP_UP_TOOL, token, "{}");
    let public = if public_tool {
        format!(
            "\n# 200 without any token: `{PUBLIC_TOOL}` is public (PUBLIC_TOOLS)\n\
             curl -i -X POST '{base}/tools/{PUBLIC_TOOL}' -H 'Content-Type: application/json' -d '{{}}'\n"
        )
    } else {
        String::new()
    };
    format!(
        "\n==================== DEV MODE ====================\n\
         No OAUTH_ISSUER set: embedded issuer, demo backend, loopback only. Not for production.\n\
         Gateway:        {base}\n\
         Issuer:         {base}/dev-issuer/   (JWKS: {base}/dev-issuer/jwks.json)\n\
         Demo token:     scope \"{DEMO_TOKEN_SCOPE}\", valid 12 h\n\
         \n\
         # 200: `{ALLOWED_TOOL}` needs demo:read, which the token has\n\
         {allowed}\n\
         \n\
         # 403 insufficient_scope (step-up): `{STEP_UP_TOOL}` needs demo:admin\n\
         {step_up}\n\
         {public}\
         ==================================================\n"
    )
}

fn curl(base: &str, tool: &str, token: &str, body: &str) -> String {
    format!(
        "curl -i -X POST '{base}/tools/{tool}' -H 'Authorization: Bearer {token}' -H 'Content-Type: application/json' -d '{body}'"
    )
}
