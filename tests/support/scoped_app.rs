//! A real axum server on loopback behind BearerAuthLayer + ScopeGuardLayer, with PrmRoute as
//! the fallback, and a test TokenVerifier that maps token strings to claim sets.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::routing::{get, post};
use bytes::Bytes;
use http::Method;
use serde_json::{Value, json};
use tower::ServiceBuilder;
use tower_mcp_auth::challenge::{AuthError, ErrorCode};
use tower_mcp_auth::token::TokenVerifier;
use tower_mcp_auth::{
    AccessToken, BearerAuthLayer, PrmRoute, ProtectedResourceMetadata, ScopeGuardLayer, ScopePolicy,
};

/// Accepts the tokens it was given, with their claims; refuses any other.
pub struct MapVerifier(HashMap<String, Value>);

impl TokenVerifier for MapVerifier {
    async fn verify(&self, token: &str) -> Result<AccessToken, AuthError> {
        match self.0.get(token) {
            Some(claims) => AccessToken::from_claims(claims.clone()),
            None => Err(AuthError::new(
                ErrorCode::InvalidSignature,
                "unknown test token",
            )),
        }
    }
}

fn claims(extra: Value) -> Value {
    let mut claims = json!({
        "iss": "https://issuer.test/", "sub": "user-1", "aud": "https://api.test",
        "exp": 4_102_444_800u64
    });
    if let (Some(base), Value::Object(extra)) = (claims.as_object_mut(), extra) {
        base.extend(extra);
    }
    claims
}

/// `mcp search.read`.
pub const SEARCH_TOKEN: &str = "search.only.token";
/// Every scope of [`policy`].
pub const ALL_TOKEN: &str = "all.scopes.token";
/// No `scope` claim; Auth0 RBAC `permissions` = `mcp docs.write docs.read`.
pub const PERMISSIONS_TOKEN: &str = "permissions.array.token";
/// Only `mcp`.
pub const MCP_ONLY_TOKEN: &str = "mcp.only.token";

pub fn verifier() -> MapVerifier {
    MapVerifier(HashMap::from([
        (
            SEARCH_TOKEN.to_owned(),
            claims(json!({"scope": "mcp search.read"})),
        ),
        (
            ALL_TOKEN.to_owned(),
            claims(
                json!({"scope": "mcp search.read docs.write docs.read admin files.private prompts.secret"}),
            ),
        ),
        (
            PERMISSIONS_TOKEN.to_owned(),
            claims(json!({"permissions": ["mcp", "docs.write", "docs.read"]})),
        ),
        (MCP_ONLY_TOKEN.to_owned(), claims(json!({"scope": "mcp"}))),
    ]))
}

/// The policy the tests run against.
pub fn policy() -> ScopePolicy {
    policy_builder().build().expect("valid test policy")
}

pub fn policy_builder() -> tower_mcp_auth::scope::ScopePolicyBuilder {
    ScopePolicy::builder()
        .default_scopes(["mcp"])
        .tool("search", ["search.read"])
        .tool("docs.create", ["docs.write", "docs.read"])
        .resource_prefix("file:///private/", ["files.private"])
        .prompt("secret", ["prompts.secret"])
        .route(Method::GET, "/admin/*", ["admin"])
        .json_rpc_route("/mcp")
}

/// A running server.
pub struct ScopedApp {
    pub base: String,
    pub resource: String,
    pub client: reqwest::Client,
    /// Every body `POST /mcp` and `POST /upload` received, in order.
    pub received: Arc<Mutex<Vec<Bytes>>>,
    pub policy: ScopePolicy,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for ScopedApp {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl ScopedApp {
    pub async fn start(policy: ScopePolicy) -> Self {
        Self::start_with(policy, tower_mcp_auth::scope::DEFAULT_MAX_BODY_BYTES).await
    }

    pub async fn start_with(policy: ScopePolicy, max_body_bytes: usize) -> Self {
        Self::start_configured(policy, |guard| guard.max_body_bytes(max_body_bytes)).await
    }

    /// A server whose guard `configure` adjusts (body bound, read timeout, …).
    pub async fn start_configured(
        policy: ScopePolicy,
        configure: impl FnOnce(ScopeGuardLayer) -> ScopeGuardLayer,
    ) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let resource = format!("{base}/mcp");
        let mut metadata = ProtectedResourceMetadata::new(resource.clone());
        metadata.authorization_servers = Some(vec!["https://issuer.test/".into()]);
        let prm = PrmRoute::new(metadata, &policy).unwrap();

        let received = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&received);
        let uploads = Arc::clone(&received);
        let app: Router = Router::new()
            .route(
                "/mcp",
                post(move |body: Bytes| {
                    let sink = Arc::clone(&sink);
                    async move {
                        sink.lock().unwrap().push(body.clone());
                        body
                    }
                }),
            )
            // Not a JSON-RPC route: an upload endpoint, which records what it receives too.
            .route(
                "/upload",
                post(move |body: Bytes| {
                    let sink = Arc::clone(&uploads);
                    async move {
                        sink.lock().unwrap().push(body.clone());
                        body
                    }
                }),
            )
            .route("/admin/stats", get(|| async { "stats" }))
            .layer(
                ServiceBuilder::new()
                    .layer(BearerAuthLayer::new(verifier()).challenge(prm.challenge()))
                    .layer(configure(
                        ScopeGuardLayer::new(policy.clone()).challenge(prm.challenge()),
                    )),
            )
            .fallback_service(prm);
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self {
            base,
            resource,
            client: reqwest::Client::new(),
            received,
            policy,
            server,
        }
    }

    /// `POST /mcp` with a JSON body and a token.
    pub async fn post_json(
        &self,
        token: &str,
        body: impl Into<reqwest::Body>,
    ) -> reqwest::Response {
        self.client
            .post(format!("{}/mcp", self.base))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap()
    }

    pub fn received(&self) -> Vec<Bytes> {
        self.received.lock().unwrap().clone()
    }
}

/// A `tools/call` message for `tool`.
pub fn tool_call(tool: &str) -> String {
    json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": tool, "arguments": {}}})
        .to_string()
}

/// The value of `attribute` in a `WWW-Authenticate: Bearer …` header.
pub fn challenge_attribute(header: &str, attribute: &str) -> Option<String> {
    let start = header.find(&format!("{attribute}=\""))? + attribute.len() + 2;
    let rest = &header[start..];
    Some(rest[..rest.find('"')?].to_owned())
}
