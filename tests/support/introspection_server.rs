//! A real RFC 7662 introspection endpoint on loopback, with its issuer's metadata and JWKS (as
//! Okta, Keycloak and ZITADEL publish both: JWTs for some clients, opaque tokens for others).
//!
//! Modelled on RFC 7662 itself: `POST` form `token` (+ `token_type_hint`), client authentication
//! required (`client_secret_basic`; a wrong or missing one is 401 `invalid_client`, RFC 6749
//! §5.2), the answer `{"active": true, "scope", "client_id", "sub", "aud", "iss", "exp", "iat",
//! "token_type"}` (§2.2's example), and `{"active": false}` and nothing else for a token that is
//! unknown, revoked or expired (§2.2: "the authorization server SHOULD NOT include any additional
//! information about an inactive token").

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

pub const CLIENT_ID: &str = "mcp-resource-server";
pub const CLIENT_SECRET: &str = "introspection-secret-0123456789";

/// What the endpoint does with a request.
#[derive(Clone, Debug, PartialEq)]
pub enum Mode {
    /// Answers from the known tokens.
    Serve,
    /// HTTP 500.
    Fail,
    /// Answers after an hour (so: never, for the verifier's bounded wait).
    Hang,
    /// Waits until [`IntrospectionServer::open_gate`], then answers.
    Gated,
}

struct Inner {
    issuer: String,
    jwks: Value,
    tokens: Mutex<HashMap<String, Value>>,
    mode: Mutex<Mode>,
    hits: AtomicUsize,
    gate: tokio::sync::Semaphore,
    /// Seconds the endpoint's clock is behind (clock skew between servers is real).
    clock_behind: std::sync::atomic::AtomicU64,
}

#[derive(Clone)]
pub struct IntrospectionServer {
    pub issuer: String,
    pub endpoint: String,
    /// The issuer's JWT signing key (published at its `jwks_uri`).
    pub signer: Arc<tower_mcp_auth::dev::DevIssuer>,
    inner: Arc<Inner>,
}

impl IntrospectionServer {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let issuer = format!("http://{addr}/");
        let signer = Arc::new(tower_mcp_auth::dev::DevIssuer::generate().unwrap());
        let inner = Arc::new(Inner {
            issuer: issuer.clone(),
            jwks: signer.jwks(),
            tokens: Mutex::new(HashMap::new()),
            mode: Mutex::new(Mode::Serve),
            hits: AtomicUsize::new(0),
            gate: tokio::sync::Semaphore::new(0),
            clock_behind: std::sync::atomic::AtomicU64::new(0),
        });
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(metadata))
            .route("/oauth/introspect", post(introspect))
            .route(
                "/.well-known/jwks.json",
                get(
                    |State(inner): State<Arc<Inner>>| async move { axum::Json(inner.jwks.clone()) },
                ),
            )
            .with_state(inner.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self {
            endpoint: format!("http://{addr}/oauth/introspect"),
            issuer,
            signer,
            inner,
        }
    }

    /// Issues an opaque token with these claims (merged over `active`, `iss`, `token_type`).
    pub fn issue(&self, token: &str, claims: Value) {
        self.inner
            .tokens
            .lock()
            .unwrap()
            .insert(token.to_owned(), claims);
    }

    /// Revokes a token: it is inactive from now on.
    pub fn revoke(&self, token: &str) {
        self.inner.tokens.lock().unwrap().remove(token);
    }

    pub fn set_mode(&self, mode: Mode) {
        *self.inner.mode.lock().unwrap() = mode;
    }

    /// Sets the endpoint's clock `secs` behind the real time.
    pub fn set_clock_behind(&self, secs: u64) {
        self.inner.clock_behind.store(secs, Ordering::SeqCst);
    }

    pub fn open_gate(&self) {
        self.inner.gate.add_permits(10_000);
    }

    /// Introspection requests received (authenticated or not).
    pub fn hits(&self) -> usize {
        self.inner.hits.load(Ordering::SeqCst)
    }
}

async fn metadata(State(inner): State<Arc<Inner>>) -> Response {
    let base = inner.issuer.trim_end_matches('/');
    axum::Json(json!({
        "issuer": inner.issuer,
        "authorization_endpoint": format!("{base}/authorize"),
        "token_endpoint": format!("{base}/oauth/token"),
        "introspection_endpoint": format!("{base}/oauth/introspect"),
        "jwks_uri": format!("{base}/.well-known/jwks.json"),
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic"],
        "response_types_supported": ["code"],
    }))
    .into_response()
}

async fn introspect(State(inner): State<Arc<Inner>>, headers: HeaderMap, body: String) -> Response {
    inner.hits.fetch_add(1, Ordering::SeqCst);
    let mode = inner.mode.lock().unwrap().clone();
    match mode {
        Mode::Fail => return (StatusCode::INTERNAL_SERVER_ERROR, "down").into_response(),
        Mode::Hang => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
        Mode::Gated => {
            let _ = inner.gate.acquire().await;
        }
        Mode::Serve => {}
    }
    let expected = format!(
        "Basic {}",
        STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"))
    );
    if headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        != Some(&expected)
    {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Basic realm=\"introspection\"")],
            axum::Json(json!({"error": "invalid_client"})),
        )
            .into_response();
    }
    let form: HashMap<String, String> = url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    let Some(token) = form.get("token") else {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": "invalid_request"})),
        )
            .into_response();
    };
    let known = inner.tokens.lock().unwrap().get(token).cloned();
    let now = issuer_now() - inner.clock_behind.load(Ordering::SeqCst);
    let answer = match known {
        Some(claims) if claims["exp"].as_u64().is_none_or(|exp| exp > now) => {
            let mut answer = json!({"active": true, "iss": inner.issuer, "token_type": "Bearer"});
            for (name, value) in claims.as_object().unwrap() {
                answer[name] = value.clone();
            }
            answer
        }
        _ => json!({"active": false}),
    };
    axum::Json(answer).into_response()
}

fn issuer_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}
