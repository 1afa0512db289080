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
use axum::body::Body;
use axum::routing::get;
use http::{Method, Request, StatusCode};
use tower::ServiceExt;
use tower_mcp_auth::dev::DevIssuer;
use tower_mcp_auth::token::JwksVerifier;

// The load run's app, layers, body and tokens, so both benches measure the same thing; the
// load run's process roles and request bytes are left unused here.
#[allow(dead_code)]
#[path = "load/server.rs"]
mod server;
#[allow(dead_code)]
#[path = "load/tokens.rs"]
mod tokens;

use server::{AUDIENCE, MALFORMED_TOKEN, app, bare_401, bearer, layers, policy};
use tokens::{BODY as SMALL, body_1k, claims};
use tower_mcp_auth::ScopeGuardLayer;

/// Distinct tokens for the miss path (minting costs ~1 ms each).
const POOL: usize = 2048;

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
    let jwk = signer.jwk();
    let signature_key =
        server::parsed_key_of(jwk["n"].as_str().unwrap(), jwk["e"].as_str().unwrap());
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
    let pool_size = if [
        "distinct_protected",
        "distinct_bearer",
        "distinct_floor",
        "distinct_claims_floor",
        "distinct_checked_claims_floor",
        "main_cache_hit",
    ]
    .into_iter()
    .any(wanted)
    {
        POOL
    } else {
        1
    };
    let pool: Vec<String> = (0..pool_size)
        .map(|i| signer.sign(&claims(&issuer, i)).unwrap())
        .collect();
    // `None` is the default 10 000-token cache.
    let protected = |cache: Option<usize>| layers(app(), verifier.clone(), cache, true);
    let repeated = vec![pool[0].clone()];
    let opaque = vec![MALFORMED_TOKEN.to_owned()];
    // The bare 401: the protected app's answer to the opaque token, served as static bytes.
    let bare_401 = runtime.block_on(bare_401(protected(None)));
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
            protected(None),
            Method::GET,
            "/data",
            String::new(),
            &repeated,
            200,
        ),
        // The same two layers mounted by two `Router::layer` calls (the last is the outermost).
        (
            "get_layered_twice",
            app()
                .layer(ScopeGuardLayer::new(policy()))
                .layer(bearer(verifier.clone(), None)),
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
            protected(None),
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
            protected(None),
            Method::POST,
            "/mcp/parse",
            body_1k(),
            &repeated,
            200,
        ),
        // The floor of the path above: a strict parse of the body and nothing else.
        (
            "call1k_floor",
            server::strict_parse_only(app()),
            Method::POST,
            "/mcp/parse",
            body_1k(),
            &repeated,
            200,
        ),
        // The least a per-tool guard behind a bearer check does (a static token compare, a
        // strict parse of `method` and `params.name`, one tool table): the load run's
        // `ToolGuardFloor`.
        (
            "call1k_tool_guard_floor",
            server::tool_guard_floor(app(), &repeated[0]),
            Method::POST,
            "/mcp/parse",
            body_1k(),
            &repeated,
            200,
        ),
        // The same with the checks the crate's guard must make (`FloorChecks`).
        (
            "call1k_checked_tool_guard_floor",
            server::checked_tool_guard_floor(app(), &repeated[0]),
            Method::POST,
            "/mcp/parse",
            body_1k(),
            &repeated,
            200,
        ),
        (
            "get_tool_guard_floor",
            server::tool_guard_floor(app(), &repeated[0]),
            Method::GET,
            "/data",
            String::new(),
            &repeated,
            200,
        ),
        (
            "get_checked_tool_guard_floor",
            server::checked_tool_guard_floor(app(), &repeated[0]),
            Method::GET,
            "/data",
            String::new(),
            &repeated,
            200,
        ),
        // The same checks split into two layers as the crate's are: the load run's
        // `SplitCheckedFloor`.
        (
            "get_split_checked_floor",
            server::split_checked_floor(app(), &repeated[0]),
            Method::GET,
            "/data",
            String::new(),
            &repeated,
            200,
        ),
        (
            "distinct_protected",
            protected(Some(server::SMALL_CACHE)),
            Method::POST,
            "/mcp",
            SMALL.to_owned(),
            &pool,
            200,
        ),
        (
            "distinct_bearer",
            layers(app(), verifier.clone(), Some(server::SMALL_CACHE), false),
            Method::POST,
            "/mcp",
            SMALL.to_owned(),
            &pool,
            200,
        ),
        // The floor of the two paths above: the RS256 check of the signature and nothing else.
        (
            "distinct_floor",
            server::signature_only(app(), signature_key.clone()),
            Method::POST,
            "/mcp",
            SMALL.to_owned(),
            &pool,
            200,
        ),
        // The floor with the claims read: the signature check, the header and the claims
        // decoded and parsed.
        (
            "distinct_claims_floor",
            server::claims_floor(app(), signature_key.clone()),
            Method::POST,
            "/mcp",
            SMALL.to_owned(),
            &pool,
            200,
        ),
        // The floor with the claims checked (`CheckedClaims`).
        (
            "distinct_checked_claims_floor",
            server::checked_claims_floor(
                app(),
                server::CheckedClaims::new(signature_key.clone(), &pool[0], issuer.clone()),
            ),
            Method::POST,
            "/mcp",
            SMALL.to_owned(),
            &pool,
            200,
        ),
        // Tokens verified before (the warm-up sends each once) and too many for the 512 recent
        // slots: a request finds its slot taken by another token and hits the main cache.
        (
            "main_cache_hit",
            layers(app(), verifier.clone(), None, false),
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
            protected(None),
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
        // Warm the cache (and the allocator) outside the measured function: with the first
        // token, or for the main-cache path with every token.
        let warmed = if path.name == "main_cache_hit" {
            path.tokens.len()
        } else {
            1
        };
        for token in &path.tokens[..warmed] {
            let warm = Request::builder()
                .method(path.method.clone())
                .uri(path.uri)
                .header("authorization", format!("Bearer {token}"))
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
        }
        if path.name == "call1k_checked_tool_guard_floor" {
            checked_floor_refuses(&runtime, &path.router, &path.tokens[0], &path.body);
        }
        if path.name == "get_split_checked_floor" {
            split_floor_refuses(&runtime, &path.router, &path.tokens[0]);
        }
        if path.name == "distinct_checked_claims_floor" {
            checked_claims_floor_refuses(&runtime, &path.router, &signer, &issuer);
        }
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

/// The checked floor makes the checks it claims: each request below differs from the measured
/// one in one header or the body, and is refused as the crate's guard refuses it.
fn checked_floor_refuses(
    runtime: &tokio::runtime::Runtime,
    router: &Router,
    token: &str,
    body: &str,
) {
    let duplicated = body.replacen(
        r#""method":"tools/call""#,
        r#""method":"tools/call","method":"tools/list""#,
        1,
    );
    assert_ne!(duplicated, body, "the body names its method");
    // Headers added to the measured request's, the body, the answer.
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, StatusCode);
    let cases: [Case<'_>; 10] = [
        (
            &[
                ("content-type", "application/json"),
                ("content-type", "application/json"),
            ],
            body,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            &[("content-type", "text/plain")],
            body,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            &[("content-type", "application/json; charset=utf-16")],
            body,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            &[("content-encoding", "gzip")],
            body,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            &[("connection", "keep-alive, mcp-name")],
            body,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            &[("connection", "mcp-protocol-version")],
            body,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            &[("mcp-method", "tools/list")],
            body,
            StatusCode::BAD_REQUEST,
        ),
        (
            &[("mcp-name", "docs.create")],
            body,
            StatusCode::BAD_REQUEST,
        ),
        (
            &[("mcp-session-id", "unknown")],
            body,
            StatusCode::NOT_FOUND,
        ),
        (&[], &duplicated, StatusCode::BAD_REQUEST),
    ];
    for (headers, body, status) in cases {
        let mut request =
            Request::post("/mcp/parse").header("authorization", format!("Bearer {token}"));
        if !headers.iter().any(|(name, _)| *name == "content-type") {
            request = request.header("content-type", "application/json");
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request.body(Body::from(body.to_owned())).unwrap();
        let answer = runtime.block_on(router.clone().oneshot(request)).unwrap();
        assert_eq!(answer.status(), status, "{headers:?}");
    }
}

/// The split floor makes the checked floor's `GET` checks: each request below differs from the
/// measured one in its token or one header, and is refused as the crate's layers refuse it.
fn split_floor_refuses(runtime: &tokio::runtime::Runtime, router: &Router, token: &str) {
    // The token with its last character changed: same length, another signature.
    let mut forged = token.to_owned();
    let last = forged.pop().unwrap();
    forged.push(if last == 'A' { 'B' } else { 'A' });
    let bearer = |token: &str| format!("Bearer {token}");
    let cases: [(Vec<(&str, String)>, StatusCode); 5] = [
        (vec![], StatusCode::UNAUTHORIZED),
        (
            vec![("authorization", bearer(&forged))],
            StatusCode::UNAUTHORIZED,
        ),
        (
            vec![("authorization", format!("Basic {token}"))],
            StatusCode::UNAUTHORIZED,
        ),
        (
            vec![
                ("authorization", bearer(token)),
                ("mcp-session-id", "unknown".to_owned()),
            ],
            StatusCode::NOT_FOUND,
        ),
        (vec![("authorization", bearer(token))], StatusCode::OK),
    ];
    for (headers, status) in cases {
        let mut request = Request::get("/data");
        for (name, value) in &headers {
            request = request.header(*name, value.as_str());
        }
        let request = request.body(Body::empty()).unwrap();
        let answer = runtime.block_on(router.clone().oneshot(request)).unwrap();
        assert_eq!(answer.status(), status, "{headers:?}");
    }
}

/// The floor with the claims checked checks them: a token signed by the same key but wrong in
/// one claim is refused, the same token with that claim right is admitted.
fn checked_claims_floor_refuses(
    runtime: &tokio::runtime::Runtime,
    router: &Router,
    signer: &DevIssuer,
    issuer: &str,
) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let cases: [(&str, serde_json::Value, StatusCode); 6] = [
        ("iss", serde_json::json!(issuer), StatusCode::OK),
        (
            "iss",
            serde_json::json!("https://other.example/"),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "aud",
            serde_json::json!(["https://other.example/api"]),
            StatusCode::UNAUTHORIZED,
        ),
        ("aud", serde_json::json!(server::AUDIENCE), StatusCode::OK),
        ("exp", serde_json::json!(now - 60), StatusCode::UNAUTHORIZED),
        (
            "nbf",
            serde_json::json!(now + 600),
            StatusCode::UNAUTHORIZED,
        ),
    ];
    for (claim, value, status) in cases {
        let mut claims = claims(issuer, 0);
        claims[claim] = value;
        let request = Request::post("/mcp")
            .header(
                "authorization",
                format!("Bearer {}", signer.sign(&claims).unwrap()),
            )
            .header("content-type", "application/json")
            .body(Body::from(SMALL))
            .unwrap();
        let answer = runtime.block_on(router.clone().oneshot(request)).unwrap();
        assert_eq!(answer.status(), status, "{claim}");
    }
    let kid = signer.jwk()["kid"].clone();
    let headers = [
        (
            serde_json::json!({"alg": "RS256", "kid": kid}),
            StatusCode::OK,
        ),
        (
            serde_json::json!({"alg": "RS256", "kid": "another"}),
            StatusCode::UNAUTHORIZED,
        ),
        (
            serde_json::json!({"alg": "RS256"}),
            StatusCode::UNAUTHORIZED,
        ),
        (
            serde_json::json!({"alg": "RS512", "kid": kid}),
            StatusCode::UNAUTHORIZED,
        ),
        (
            serde_json::json!({"alg": "RS256", "kid": kid, "crit": ["exp"]}),
            StatusCode::UNAUTHORIZED,
        ),
    ];
    for (header, status) in headers {
        let token = signer
            .sign_with_header(&header, &claims(issuer, 0))
            .unwrap();
        let request = Request::post("/mcp")
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .body(Body::from(SMALL))
            .unwrap();
        let answer = runtime.block_on(router.clone().oneshot(request)).unwrap();
        assert_eq!(answer.status(), status, "{header}");
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
    let evict_kib: usize = std::env::var("PATHS_EVICT_KIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut evict = vec![0u8; evict_kib * 1024];
    let kernel_bytes: usize = std::env::var("PATHS_KERNEL_BYTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut kernel = (kernel_bytes > 0).then(|| {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let a = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (b, _) = listener.accept().unwrap();
        a.set_nodelay(true).unwrap();
        b.set_nodelay(true).unwrap();
        (a, b, vec![7u8; kernel_bytes])
    });
    runtime.block_on(async {
        for request in requests {
            for line in evict.chunks_mut(64) {
                line[0] = line[0].wrapping_add(1);
            }
            black_box(&mut evict);
            if let Some((a, b, buf)) = kernel.as_mut() {
                use std::io::{Read, Write};
                a.write_all(buf).unwrap();
                b.read_exact(buf).unwrap();
                b.write_all(buf).unwrap();
                a.read_exact(buf).unwrap();
            }
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
