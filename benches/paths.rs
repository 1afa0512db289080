//! The issue-17 hot paths in process, for instruction counts: each path runs `PATHS_N` requests
//! (default 20 000) through the load run's app (axum `Router::oneshot`, no hyper, no kernel),
//! inside [`measured`], so a profiler can count that function alone and divide by `PATHS_N`:
//!
//! ```sh
//! cargo bench --bench paths --no-run   # prints the binary's path
//! PATHS_ONLY=get_protected valgrind --tool=callgrind --collect-atstart=no \
//!     --toggle-collect='*paths*measured*' target/release/deps/paths-<hash> --bench
//! ```
//!
//! Without a profiler it prints ns per request of each path (a quick look, not a measurement:
//! the load run is that).

use std::hint::black_box;
use std::time::Instant;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::routing::{get, post};
use http::{Method, Request, StatusCode};
use serde_json::json;
use tower::ServiceExt;
use tower_mcp_auth::dev::DevIssuer;
use tower_mcp_auth::token::JwksVerifier;
use tower_mcp_auth::{BearerAuthLayer, ScopeGuardLayer, ScopePolicy};

const AUDIENCE: &str = "https://api.bench/mcp";
const SMALL: &str = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"search","arguments":{"query":"tower middleware","limit":10}}}"#;
const ANSWER: &str =
    r#"{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"ok"}]}}"#;
/// Distinct tokens for the miss path (minting costs ~1 ms each).
const POOL: usize = 256;

fn app() -> Router {
    let answer = || async { ([("content-type", "application/json")], ANSWER) };
    Router::new()
        .route("/mcp", post(move |_body: Bytes| answer()))
        .route("/data", get(answer))
        .route(
            "/mcp/parse",
            post(move |body: Bytes| async move {
                let call: serde_json::Value = serde_json::from_slice(&body).unwrap();
                assert_eq!(call["params"]["name"], "search");
                answer().await
            }),
        )
}

fn body_1k() -> String {
    let frame = |query: &str| {
        json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": "search",
            "arguments": {"query": query, "limit": 10,
                "filters": {"lang": "en", "tags": ["tower", "mcp", "auth"]}},
            "_meta": {"progressToken": "p-7"}}})
        .to_string()
    };
    let query: String = "how do tower layers compose with axum routers "
        .chars()
        .cycle()
        .take(1024 - frame("").len())
        .collect();
    frame(&query)
}

fn claims(issuer: &str, i: usize) -> serde_json::Value {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    json!({
        "https://example.com/uid": format!("u-{i:06}"),
        "https://example.com/roles": ["member"],
        "iss": issuer,
        "sub": format!("google-oauth2|1088765432109876{i:05}"),
        "aud": [AUDIENCE, format!("{issuer}userinfo")],
        "iat": now,
        "exp": now + 3600,
        "scope": "openid profile email offline_access search.read docs.read docs.write calendar.read",
        "azp": "AbCdEfGhIjKlMnOpQrStUvWxYz012345",
        "permissions": ["search.read", "docs.read", "docs.write", "calendar.read", "calendar.write"],
        "jti": format!("2f1c7a9e-5b4d-4e8f-9a0b-{i:012}"),
    })
}

struct Path {
    name: &'static str,
    router: Router,
    method: Method,
    uri: &'static str,
    body: String,
    tokens: Vec<String>,
    status: StatusCode,
}

fn main() {
    if !std::env::args().any(|arg| arg == "--bench") {
        println!("paths: skipped (run it with `cargo bench --bench paths`)");
        return;
    }
    let n: usize = std::env::var("PATHS_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let only = std::env::var("PATHS_ONLY").ok();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let signer = DevIssuer::generate().unwrap();
    let jwks = signer.jwks();
    let (issuer, verifier) = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let issuer = format!("http://{addr}/");
        let jwks_app = Router::new().route("/jwks", get(move || async move { axum::Json(jwks) }));
        tokio::spawn(async move { axum::serve(listener, jwks_app).await.unwrap() });
        let verifier = JwksVerifier::builder()
            .issuer(issuer.clone())
            .audience(AUDIENCE)
            .jwks_uri(format!("http://{addr}/jwks"))
            .build()
            .await
            .unwrap();
        (issuer, verifier)
    });
    let wanted = |name: &str| only.as_deref().is_none_or(|o| name.contains(o));
    let pool_size = if wanted("distinct") { POOL } else { 1 };
    let pool: Vec<String> = (0..pool_size)
        .map(|i| signer.sign(&claims(&issuer, i)).unwrap())
        .collect();
    let policy = ScopePolicy::builder()
        .tool("search", ["search.read"])
        .route(Method::GET, "/data", ["search.read"])
        .build()
        .unwrap();
    let protected = |cache: usize| {
        app()
            .layer(ScopeGuardLayer::new(policy.clone()))
            .layer(BearerAuthLayer::new(verifier.clone()).token_cache_capacity(cache))
    };
    let repeated = vec![pool[0].clone()];
    let opaque = vec!["mF_9B5f-4_1JqM-opaque-reference-token".to_owned()];
    // The bare 401: the protected app's answer to the opaque token, served as static bytes.
    let refusal = runtime.block_on(async {
        let request = Request::post("/mcp")
            .header("authorization", format!("Bearer {}", opaque[0]))
            .header("content-type", "application/json")
            .body(Body::from(SMALL))
            .unwrap();
        let response = protected(16).oneshot(request).await.unwrap();
        let (parts, body) = response.into_parts();
        let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
        std::sync::Arc::new((parts.headers, body))
    });
    let bare_401 = Router::new().route(
        "/mcp",
        post(move || {
            let refusal = std::sync::Arc::clone(&refusal);
            async move {
                let (headers, body) = &*refusal;
                (StatusCode::UNAUTHORIZED, headers.clone(), body.clone())
            }
        }),
    );
    let paths = [
        (
            "get_plain",
            app(),
            Method::GET,
            "/data",
            String::new(),
            &repeated,
            200,
        ),
        // Two layers that do nothing: what axum's `Router::layer` costs any pair of layers.
        (
            "get_two_noop_layers",
            app()
                .layer(tower::layer::util::Identity::new())
                .layer(tower::layer::util::Identity::new()),
            Method::GET,
            "/data",
            String::new(),
            &repeated,
            200,
        ),
        (
            "get_protected",
            protected(10_000),
            Method::GET,
            "/data",
            String::new(),
            &repeated,
            200,
        ),
        (
            "small_plain",
            app(),
            Method::POST,
            "/mcp",
            SMALL.to_owned(),
            &repeated,
            200,
        ),
        (
            "small_protected",
            protected(10_000),
            Method::POST,
            "/mcp",
            SMALL.to_owned(),
            &repeated,
            200,
        ),
        (
            "call1k_plain",
            app(),
            Method::POST,
            "/mcp/parse",
            body_1k(),
            &repeated,
            200,
        ),
        (
            "call1k_protected",
            protected(10_000),
            Method::POST,
            "/mcp/parse",
            body_1k(),
            &repeated,
            200,
        ),
        (
            "distinct_protected",
            protected(16),
            Method::POST,
            "/mcp",
            SMALL.to_owned(),
            &pool,
            200,
        ),
        (
            "malformed_bare_401",
            bare_401,
            Method::POST,
            "/mcp",
            SMALL.to_owned(),
            &opaque,
            401,
        ),
        (
            "malformed_protected",
            protected(10_000),
            Method::POST,
            "/mcp",
            SMALL.to_owned(),
            &opaque,
            401,
        ),
    ]
    .into_iter()
    .map(|(name, router, method, uri, body, tokens, status)| Path {
        name,
        // As `axum::serve` does for each connection: the handlers become routes once, not on
        // every request.
        router: router.with_state(()),
        method,
        uri,
        body,
        tokens: tokens.clone(),
        status: StatusCode::from_u16(status).unwrap(),
    });
    for path in paths.filter(|p| wanted(p.name)) {
        // Requests are built before the clock, as the load client builds its bytes.
        let requests: Vec<Request<Body>> = (0..n)
            .map(|i| {
                Request::builder()
                    .method(path.method.clone())
                    .uri(path.uri)
                    .header(
                        "authorization",
                        format!("Bearer {}", path.tokens[i % path.tokens.len()]),
                    )
                    .header("content-type", "application/json")
                    .body(Body::from(path.body.clone()))
                    .unwrap()
            })
            .collect();
        // Warm the cache (and the allocator) outside the measured function.
        let warm = Request::builder()
            .method(path.method.clone())
            .uri(path.uri)
            .header("authorization", format!("Bearer {}", path.tokens[0]))
            .header("content-type", "application/json")
            .body(Body::from(path.body.clone()))
            .unwrap();
        assert_eq!(
            runtime
                .block_on(path.router.clone().oneshot(warm))
                .unwrap()
                .status(),
            path.status
        );
        let start = Instant::now();
        measured(&runtime, &path.router, requests, path.status);
        let elapsed = start.elapsed();
        println!(
            "{:<22} {:>8.0} ns/request",
            path.name,
            elapsed.as_nanos() as f64 / n as f64
        );
    }
}

/// The requests of one path, answered and their bodies read; nothing else runs in here.
#[inline(never)]
fn measured(
    runtime: &tokio::runtime::Runtime,
    router: &Router,
    requests: Vec<Request<Body>>,
    status: StatusCode,
) {
    runtime.block_on(async {
        for request in requests {
            let response = router.clone().oneshot(request).await.unwrap();
            assert_eq!(response.status(), status);
            black_box(
                axum::body::to_bytes(response.into_body(), usize::MAX)
                    .await
                    .unwrap(),
            );
        }
    });
}
