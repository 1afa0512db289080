//! `McpAuth`, in process (`oneshot`, no server): the one-call mounting answers every request in
//! the right order under an axum `Router` and a `tower::ServiceBuilder`, and every challenge it
//! sends names the metadata; the layers mounted by hand warn when they lack `resource_metadata`.

mod support;
use support::log_capture;

use std::convert::Infallible;

use axum::Router;
use axum::body::Body;
use axum::routing::post;
use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};
use log_capture::LogCapture;
use serde_json::{Value, json};
use tower::{Layer, ServiceBuilder, ServiceExt};
use tower_mcp_auth::dev::DevIssuer;
use tower_mcp_auth::token::JwksVerifier;
use tower_mcp_auth::{
    AccessToken, BearerAuthLayer, McpAuth, ProtectedResourceMetadata, ScopeGuardLayer, ScopePolicy,
};

const RESOURCE: &str = "https://api.example.com/mcp";
const METADATA_URL: &str = "https://api.example.com/.well-known/oauth-protected-resource/mcp";

async fn auth(dev: &DevIssuer) -> McpAuth<JwksVerifier> {
    let policy = ScopePolicy::builder()
        .tool("search", ["search.read"])
        .tool("docs.create", ["docs.write"])
        .deny_unknown_tools()
        .build()
        .unwrap();
    let metadata = ProtectedResourceMetadata::new(RESOURCE).authorization_server(dev.issuer());
    McpAuth::new(dev.verifier(RESOURCE).await.unwrap(), policy, metadata).unwrap()
}

fn tool_call(tool: &str) -> String {
    json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": tool}}).to_string()
}

fn call(token: Option<&str>, body: String) -> Request<Body> {
    let mut request = Request::post("/mcp").header(header::CONTENT_TYPE, "application/json");
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    request.body(Body::from(body)).unwrap()
}

/// The handler: the subject of the token the layers verified.
async fn whoami(token: AccessToken) -> String {
    token.subject().to_owned()
}

async fn app(dev: &DevIssuer) -> Router {
    Router::new()
        .route("/mcp", post(whoami))
        .layer(auth(dev).await)
}

async fn body_of<B: http_body::Body>(response: Response<B>) -> Bytes
where
    B::Error: std::fmt::Debug,
{
    response.into_body().collect().await.unwrap().to_bytes()
}

#[tokio::test]
async fn a_token_with_the_tool_scope_reaches_the_handler_through_the_one_layer() {
    let dev = DevIssuer::generate().unwrap();
    let token = dev
        .token(RESOURCE)
        .subject("alice")
        .scope("search.read")
        .sign()
        .unwrap();
    let response = app(&dev)
        .await
        .oneshot(call(Some(&token), tool_call("search")))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(body_of(response).await, "alice");
}

#[tokio::test]
async fn the_same_layer_works_in_a_service_builder() {
    let dev = DevIssuer::generate().unwrap();
    let token = dev
        .token(RESOURCE)
        .subject("bob")
        .scope("search.read")
        .sign()
        .unwrap();
    let service = ServiceBuilder::new().layer(auth(&dev).await).service_fn(
        |request: Request<_>| async move {
            let subject = request
                .extensions()
                .get::<AccessToken>()
                .map(|t| t.subject().to_owned())
                .unwrap_or_default();
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(subject))))
        },
    );
    let request = Request::post("/mcp")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(tool_call("search"))))
        .unwrap();
    let response = service.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(body_of(response).await, "bob");

    let metadata = Request::get("/.well-known/oauth-protected-resource")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let response = service.oneshot(metadata).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_metadata_is_public_at_both_well_known_urls_and_lists_the_policy_scopes() {
    let dev = DevIssuer::generate().unwrap();
    let app = app(&dev).await;
    for path in [
        "/.well-known/oauth-protected-resource/mcp",
        "/.well-known/oauth-protected-resource",
    ] {
        let request = Request::get(path).body(Body::empty()).unwrap();
        let response = app.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let document: Value = serde_json::from_slice(&body_of(response).await).unwrap();
        assert_eq!(
            document,
            json!({
                "resource": RESOURCE,
                "authorization_servers": [dev.issuer()],
                "scopes_supported": ["docs.write", "search.read"],
                "bearer_methods_supported": ["header"],
            })
        );
    }
}

/// Every refusal McpAuth can produce: the status, the `code`, and whether it carries a
/// challenge (a refusal no token can fix, 403 `OPERATION_NOT_ALLOWED` or 413, has none).
#[tokio::test]
async fn every_challenge_it_sends_names_the_resource_metadata() {
    let dev = DevIssuer::generate().unwrap();
    let other = DevIssuer::generate().unwrap();
    let app = app(&dev).await;
    let read = dev.token(RESOURCE).scope("search.read").sign().unwrap();
    let expired = dev
        .token(RESOURCE)
        .scope("search.read")
        .claim("exp", 1)
        .sign()
        .unwrap();
    let foreign = other.token(RESOURCE).scope("search.read").sign().unwrap();
    let wrong_audience = dev.token("https://elsewhere.example").sign().unwrap();
    let cases: Vec<(&str, Request<Body>, StatusCode, &str, bool)> = vec![
        (
            "no token",
            call(None, tool_call("search")),
            StatusCode::UNAUTHORIZED,
            "MISSING_TOKEN",
            true,
        ),
        (
            "opaque token",
            call(Some("opaque"), tool_call("search")),
            StatusCode::UNAUTHORIZED,
            "ACCESS_TOKEN_NOT_JWS",
            true,
        ),
        (
            "expired",
            call(Some(&expired), tool_call("search")),
            StatusCode::UNAUTHORIZED,
            "TOKEN_EXPIRED",
            true,
        ),
        (
            "another issuer's key",
            call(Some(&foreign), tool_call("search")),
            StatusCode::UNAUTHORIZED,
            "UNKNOWN_KEY_ID",
            true,
        ),
        (
            "another audience",
            call(Some(&wrong_audience), tool_call("search")),
            StatusCode::UNAUTHORIZED,
            "INVALID_AUDIENCE",
            true,
        ),
        (
            "malformed header",
            Request::post("/mcp")
                .header(header::AUTHORIZATION, "Bearer")
                .body(Body::empty())
                .unwrap(),
            StatusCode::BAD_REQUEST,
            "MALFORMED_AUTHORIZATION_HEADER",
            true,
        ),
        (
            "token in the query",
            Request::post("/mcp?access_token=abc")
                .body(Body::empty())
                .unwrap(),
            StatusCode::BAD_REQUEST,
            "TOKEN_IN_QUERY",
            true,
        ),
        (
            "missing scope",
            call(Some(&read), tool_call("docs.create")),
            StatusCode::FORBIDDEN,
            "insufficient_scope",
            true,
        ),
        (
            "unknown tool",
            call(Some(&read), tool_call("rm_rf")),
            StatusCode::FORBIDDEN,
            "OPERATION_NOT_ALLOWED",
            false,
        ),
    ];
    for (what, request, status, code, challenged) in cases {
        let response = app.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), status, "{what}");
        let challenge = response
            .headers()
            .get(header::WWW_AUTHENTICATE)
            .map(|v| v.to_str().unwrap().to_owned());
        match challenge {
            Some(challenge) => {
                assert!(challenged, "{what}: unexpected challenge {challenge}");
                assert!(
                    challenge.starts_with(&format!(r#"Bearer resource_metadata="{METADATA_URL}""#)),
                    "{what}: {challenge}"
                );
            }
            None => assert!(!challenged, "{what}: no challenge"),
        }
        let body: Value = serde_json::from_slice(&body_of(response).await).unwrap();
        assert_eq!(body["code"], code, "{what}");
    }
}

#[tokio::test]
async fn layers_mounted_without_resource_metadata_warn_once_each() {
    let logs = LogCapture::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(logs.clone())
        .with_ansi(false)
        .finish();
    let _default = tracing::subscriber::set_default(subscriber);

    let dev = DevIssuer::generate().unwrap();
    let bearer = BearerAuthLayer::new(dev.verifier(RESOURCE).await.unwrap());
    let guard = ScopeGuardLayer::new(ScopePolicy::allow_all());
    // axum calls `Layer::layer` once per route: three routes, still one warning per layer.
    let _app: Router = Router::new()
        .route("/a", post(whoami))
        .route("/b", post(whoami))
        .route("/c", post(whoami))
        .layer(guard)
        .layer(bearer);
    // McpAuth always has the metadata URL: no warning.
    let _service = auth(&dev)
        .await
        .layer(tower::service_fn(|_: Request<Body>| async {
            Ok::<_, Infallible>(Response::new(Body::empty()))
        }));

    let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    let warnings: Vec<&str> = logs.lines().filter(|l| l.contains(" WARN ")).collect();
    assert_eq!(warnings.len(), 2, "{logs}");
    for (warning, layer) in warnings.iter().zip(["ScopeGuardLayer", "BearerAuthLayer"]) {
        assert!(
            warning.contains(&format!("{layer} has no resource_metadata URL")),
            "{warning}"
        );
    }
}

/// The order is in the type: whatever `S` is, the service `McpAuth` makes answers the metadata
/// first, then verifies the token, then checks the scopes. There is no way to swap them.
#[test]
fn the_order_is_fixed_by_the_service_type() {
    use tower_mcp_auth::PrmRoute;
    use tower_mcp_auth::bearer::BearerAuth;
    use tower_mcp_auth::scope::ScopeGuard;

    fn mounted<S, V>(auth: &McpAuth<V>, inner: S) -> PrmRoute<BearerAuth<ScopeGuard<S>, V>> {
        auth.layer(inner)
    }
    let _ = mounted::<(), JwksVerifier>;
}
