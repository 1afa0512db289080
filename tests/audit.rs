//! The audit event: one per decision, on target `tower_mcp_auth::audit`, with pinned fields;
//! absent under an ordinary `info` filter.

mod support;
use support::log_capture;

use axum::Router;
use axum::routing::post;
use http::{Method, Request, StatusCode, header};
use log_capture::LogCapture;
use serde_json::{Value, json};
use tower::ServiceExt;
use tower_mcp_auth::dev::DevIssuer;
use tower_mcp_auth::token::JwksVerifier;
use tower_mcp_auth::{BearerAuthLayer, ScopeGuardLayer, ScopePolicy};

const ISSUER: &str = "https://tenant.example.com/";
const AUDIENCE: &str = "https://api.example.com/mcp";
const TOOLS_CALL: &str =
    r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"search","arguments":{}}}"#;

async fn app(signer: &DevIssuer) -> Router {
    let verifier = JwksVerifier::builder()
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .jwks_document(signer.jwks().to_string())
        .build()
        .await
        .unwrap();
    let policy = ScopePolicy::builder()
        .tool("search", ["search.read"])
        .build()
        .unwrap();
    Router::new()
        .route("/mcp", post(|| async { "{}" }))
        .layer(ScopeGuardLayer::new(policy))
        .layer(BearerAuthLayer::new(verifier))
}

fn token(signer: &DevIssuer, scope: &str) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    signer
        .sign(&json!({
            "iss": ISSUER, "sub": "auth0|alice", "aud": AUDIENCE, "azp": "chatgpt-client",
            "iat": now, "exp": now + 600, "scope": scope
        }))
        .unwrap()
}

async fn call(app: &Router, token: Option<&str>) -> StatusCode {
    let mut request = Request::builder()
        .method(Method::POST)
        .uri("/mcp?session=1")
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let request = request.body(axum::body::Body::from(TOOLS_CALL)).unwrap();
    app.clone().oneshot(request).await.unwrap().status()
}

/// The JSON log lines of the capture, as a JSON subscriber with `filter` writes them.
fn events(capture: &LogCapture) -> Vec<Value> {
    let bytes = capture.0.lock().unwrap().clone();
    String::from_utf8(bytes)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

fn subscriber(filter: &str, capture: &LogCapture) -> impl tracing::Subscriber + Send + Sync {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(capture.clone())
        .finish()
}

fn decision(layer: &str, outcome: &str, code: &str, status: u16) -> Value {
    json!({
        "message": "authorization decision",
        "layer": layer,
        "outcome": outcome,
        "code": code,
        "status": status,
        "subject": "auth0|alice",
        "client_id": "chatgpt-client",
        "issuer": ISSUER,
        "http_method": "POST",
        "path": "/mcp",
        "operation": "",
        "missing_scopes": "",
        "required_scopes": "",
    })
}

#[tokio::test(flavor = "current_thread")]
async fn each_decision_is_one_audit_event_with_every_field() {
    let signer = DevIssuer::generate().unwrap();
    let app = app(&signer).await;
    let capture = LogCapture::default();
    let _guard =
        tracing::subscriber::set_default(subscriber("warn,tower_mcp_auth::audit=trace", &capture));

    assert_eq!(
        call(&app, Some(&token(&signer, "search.read"))).await,
        StatusCode::OK
    );
    assert_eq!(
        call(&app, Some(&token(&signer, "docs.read"))).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(call(&app, None).await, StatusCode::UNAUTHORIZED);

    let events = events(&capture);
    assert!(
        events
            .iter()
            .all(|e| e["target"] == "tower_mcp_auth::audit"),
        "{events:#?}"
    );
    assert!(events.iter().all(|e| e["level"] == "TRACE"), "{events:#?}");
    let fields: Vec<Value> = events.iter().map(|e| e["fields"].clone()).collect();

    let bearer_allowed = decision("bearer", "allowed", "", 0);
    let mut guard_allowed = decision("scope_guard", "allowed", "", 0);
    guard_allowed["operation"] = json!("tools/call search");
    let mut guard_refused = decision("scope_guard", "refused", "insufficient_scope", 403);
    guard_refused["operation"] = json!("tools/call search");
    guard_refused["missing_scopes"] = json!("search.read");
    guard_refused["required_scopes"] = json!("search.read");
    let mut no_token = decision("bearer", "refused", "MISSING_TOKEN", 401);
    for field in ["subject", "client_id", "issuer"] {
        no_token[field] = json!("");
    }
    assert_eq!(
        fields,
        [
            bearer_allowed.clone(),
            guard_allowed,
            bearer_allowed,
            guard_refused,
            no_token
        ],
        "the query string, the token and the body are never in the event"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn an_info_filter_emits_no_audit_event() {
    let signer = DevIssuer::generate().unwrap();
    let app = app(&signer).await;
    let capture = LogCapture::default();
    let _guard = tracing::subscriber::set_default(subscriber("info", &capture));
    assert_eq!(
        call(&app, Some(&token(&signer, "search.read"))).await,
        StatusCode::OK
    );
    assert_eq!(call(&app, None).await, StatusCode::UNAUTHORIZED);
    assert_eq!(events(&capture), Vec::<Value>::new());
}
