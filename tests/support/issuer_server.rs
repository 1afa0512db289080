//! A real issuer on loopback for tests: OpenID configuration and JWKS over HTTP, with a hit
//! counter and switches to rotate keys, fail, hang or serve garbage.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use tower_mcp_auth::dev::DevIssuer;
use tower_mcp_auth::token::JwksVerifier;

/// What the JWKS endpoint answers.
#[derive(Clone, Debug)]
pub enum JwksMode {
    /// The current key set.
    Serve,
    /// HTTP 500.
    Fail,
    /// Never answers (until the client gives up).
    Hang,
    /// This body, as JSON, with 200.
    Body(String),
}

struct Inner {
    keys: Mutex<Value>,
    mode: Mutex<JwksMode>,
    jwks_hits: AtomicUsize,
    discovery_hits: AtomicUsize,
    issuer: Mutex<String>,
}

/// A running test issuer.
#[derive(Clone)]
pub struct IssuerServer {
    pub addr: SocketAddr,
    /// The issuer identifier as the metadata spells it (`http://127.0.0.1:port/`).
    pub issuer: String,
    pub signer: Arc<DevIssuer>,
    inner: Arc<Inner>,
}

pub const AUDIENCE: &str = "https://api.test/mcp";

impl IssuerServer {
    /// Starts an issuer whose metadata spells the issuer with a trailing slash (as Auth0 does).
    pub async fn start() -> Self {
        Self::start_with_issuer_suffix("/").await
    }

    /// Starts an issuer whose `issuer` is `http://127.0.0.1:port` + `suffix`.
    pub async fn start_with_issuer_suffix(suffix: &str) -> Self {
        let signer = Arc::new(DevIssuer::generate().expect("key generation"));
        let inner = Arc::new(Inner {
            keys: Mutex::new(signer.jwks()),
            mode: Mutex::new(JwksMode::Serve),
            jwks_hits: AtomicUsize::new(0),
            discovery_hits: AtomicUsize::new(0),
            issuer: Mutex::new(String::new()),
        });
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/.well-known/jwks.json", get(jwks))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let issuer = format!("http://{addr}{suffix}");
        *inner.issuer.lock().unwrap() = issuer.clone();
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self {
            addr,
            issuer,
            signer,
            inner,
        }
    }

    pub fn jwks_uri(&self) -> String {
        format!("http://{}/.well-known/jwks.json", self.addr)
    }

    pub fn jwks_hits(&self) -> usize {
        self.inner.jwks_hits.load(Ordering::SeqCst)
    }

    pub fn set_mode(&self, mode: JwksMode) {
        *self.inner.mode.lock().unwrap() = mode;
    }

    /// Replaces the published key set.
    pub fn publish(&self, jwks: Value) {
        *self.inner.keys.lock().unwrap() = jwks;
    }

    /// Claims of a valid token for [`AUDIENCE`], expiring in an hour.
    pub fn claims(&self, scope: &str) -> Value {
        let now = now();
        json!({
            "iss": self.issuer,
            "sub": "auth0|user-1",
            "aud": [AUDIENCE, format!("{}userinfo", self.issuer)],
            "iat": now,
            "exp": now + 3600,
            "azp": "chatgpt-client",
            "scope": scope,
        })
    }

    /// A valid signed token with these scopes.
    pub fn token(&self, scope: &str) -> String {
        self.signer.sign(&self.claims(scope)).unwrap()
    }

    /// Signs arbitrary claims with the published key.
    pub fn sign(&self, claims: &Value) -> String {
        self.signer.sign(claims).unwrap()
    }

    /// A verifier trusting this issuer for [`AUDIENCE`], its keys fetched from the JWKS URI.
    pub async fn verifier(&self) -> JwksVerifier {
        JwksVerifier::builder()
            .issuer(self.issuer.clone())
            .audience(AUDIENCE)
            .build()
            .await
            .expect("the issuer's discovery and JWKS answer")
    }
}

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

async fn discovery(State(inner): State<Arc<Inner>>) -> Response {
    inner.discovery_hits.fetch_add(1, Ordering::SeqCst);
    let issuer = inner.issuer.lock().unwrap().clone();
    let base = issuer.trim_end_matches('/').to_owned();
    let mut metadata =
        DevIssuer::openid_configuration(&issuer, &format!("{base}/.well-known/jwks.json"));
    // The endpoints an OAuth client (rmcp's discovery) requires in authorization server
    // metadata; nothing serves them, discovery only reads them.
    metadata["authorization_endpoint"] = format!("{base}/authorize").into();
    metadata["token_endpoint"] = format!("{base}/oauth/token").into();
    // OAuth 2.1 / MCP: clients refuse an authorization server that does not advertise S256.
    metadata["code_challenge_methods_supported"] = serde_json::json!(["S256"]);
    axum::Json(metadata).into_response()
}

async fn jwks(State(inner): State<Arc<Inner>>) -> Response {
    inner.jwks_hits.fetch_add(1, Ordering::SeqCst);
    let mode = inner.mode.lock().unwrap().clone();
    match mode {
        JwksMode::Serve => axum::Json(inner.keys.lock().unwrap().clone()).into_response(),
        JwksMode::Fail => (StatusCode::INTERNAL_SERVER_ERROR, "down").into_response(),
        JwksMode::Hang => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            StatusCode::GATEWAY_TIMEOUT.into_response()
        }
        JwksMode::Body(body) => (
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response(),
    }
}
