//! Token verification cost, with baselines measured in the same run:
//!
//! - `jsonwebtoken_decode`: a bare `jsonwebtoken::decode` with the same key, claims and checks
//!   (what a naive middleware does per request);
//! - `jwks_verifier_fresh_token`: `JwksVerifier::verify` of a different token every iteration
//!   (cycling through a pre-minted pool: minting costs ~1 ms), the cold path (signature +
//!   claims, key from memory);
//! - `plain_service` vs `bearer_cache_miss` / `bearer_cache_hit` / `bearer_rejects_malformed`:
//!   a whole request through the layer. The miss case sends a different token every iteration to
//!   a layer whose cache (16 entries) is far smaller than the pool, so every request is verified
//!   and inserted; the hit case repeats one token; the malformed case sends an opaque token.
//!
//! Run: `cargo bench --bench verify`.

use std::convert::Infallible;
use std::hint::black_box;

use axum::Router;
use axum::routing::get;
use criterion::{Criterion, criterion_group, criterion_main};
use http::{Request, Response};
use serde_json::json;
use tower::{Service, ServiceExt};
use tower_layer::Layer;
use tower_mcp_auth::BearerAuthLayer;
use tower_mcp_auth::dev::DevIssuer;
use tower_mcp_auth::token::{JwksVerifier, TokenVerifier};

const AUDIENCE: &str = "https://api.bench/mcp";

struct Fixture {
    runtime: tokio::runtime::Runtime,
    issuer: String,
    signer: DevIssuer,
    verifier: JwksVerifier,
}

fn fixture() -> Fixture {
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
        let discovery = DevIssuer::openid_configuration(&issuer, &format!("http://{addr}/jwks"));
        let app = Router::new()
            .route(
                "/.well-known/openid-configuration",
                get(move || async move { axum::Json(discovery) }),
            )
            .route("/jwks", get(move || async move { axum::Json(jwks) }));
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let verifier = JwksVerifier::builder()
            .issuer(issuer.clone())
            .audience(AUDIENCE)
            .build()
            .await
            .unwrap();
        (issuer, verifier)
    });
    Fixture {
        runtime,
        issuer,
        signer,
        verifier,
    }
}

/// Distinct tokens: the miss path cycles through them.
const POOL: usize = 256;

/// An Auth0-like access token of about 1 KB; `i` makes it distinct.
fn auth0_like_claims(issuer: &str, i: usize) -> serde_json::Value {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    json!({
        "https://example.com/uid": format!("u-{i:06}"),
        "https://example.com/roles": ["member"],
        "iss": issuer,
        "sub": "google-oauth2|108876543210987654321",
        "aud": [AUDIENCE, format!("{issuer}userinfo")],
        "iat": now,
        "exp": now + 3600,
        "scope": "openid profile email offline_access search.read docs.read docs.write calendar.read",
        "azp": "AbCdEfGhIjKlMnOpQrStUvWxYz012345",
        "permissions": ["search.read", "docs.read", "docs.write", "calendar.read", "calendar.write"],
        "jti": format!("2f1c7a9e-5b4d-4e8f-9a0b-{i:012}"),
    })
}

fn bench_verify(c: &mut Criterion) {
    let fx = fixture();
    let pool: Vec<String> = (0..POOL)
        .map(|i| fx.signer.sign(&auth0_like_claims(&fx.issuer, i)).unwrap())
        .collect();
    let token = pool[0].clone();
    println!("token length: {} bytes", token.len());
    let mut next = 0usize;
    let mut fresh = move || {
        next = (next + 1) % POOL;
        next
    };

    let jwk = fx.signer.jwk();
    let key = jsonwebtoken::DecodingKey::from_rsa_components(
        jwk["n"].as_str().unwrap(),
        jwk["e"].as_str().unwrap(),
    )
    .unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_issuer(&[&fx.issuer]);
    validation.set_audience(&[AUDIENCE]);

    let mut group = c.benchmark_group("verify");
    group.bench_function("jsonwebtoken_decode", |b| {
        b.iter(|| {
            jsonwebtoken::decode::<serde_json::Value>(black_box(&token), &key, &validation).unwrap()
        })
    });
    group.bench_function("jwks_verifier_fresh_token", |b| {
        b.iter(|| {
            let token = &pool[fresh()];
            fx.runtime
                .block_on(fx.verifier.verify(black_box(token)))
                .unwrap()
        })
    });

    let inner = tower::service_fn(|_req: Request<String>| async {
        Ok::<_, Infallible>(Response::new(String::new()))
    });
    let request_with = |token: &str| {
        Request::builder()
            .uri("/mcp")
            .header("authorization", format!("Bearer {token}"))
            .body(String::new())
            .unwrap()
    };
    let request = || request_with(&token);
    group.bench_function("plain_service", |b| {
        let mut service = inner;
        b.iter(|| fx.runtime.block_on(call(&mut service, request())).unwrap())
    });
    let miss = BearerAuthLayer::new(fx.verifier.clone()).token_cache_capacity(16);
    group.bench_function("bearer_cache_miss", |b| {
        let mut service = miss.layer(inner);
        b.iter(|| {
            let request = request_with(&pool[fresh()]);
            let response = fx.runtime.block_on(call(&mut service, request)).unwrap();
            assert_eq!(response.status(), 200);
        })
    });
    let hit = BearerAuthLayer::new(fx.verifier.clone());
    group.bench_function("bearer_cache_hit", |b| {
        let mut service = hit.layer(inner);
        b.iter(|| {
            let response = fx.runtime.block_on(call(&mut service, request())).unwrap();
            assert_eq!(response.status(), 200);
        })
    });
    let malformed = BearerAuthLayer::new(fx.verifier.clone());
    group.bench_function("bearer_rejects_malformed", |b| {
        let mut service = malformed.layer(inner);
        b.iter(|| {
            let request = request_with("mF_9B5f-4_1JqM-opaque-reference-token");
            let response = fx.runtime.block_on(call(&mut service, request)).unwrap();
            assert_eq!(response.status(), 401);
        })
    });
    group.finish();
}

/// One request through `service`, as a caller would make it.
async fn call<S, R>(service: &mut S, request: R) -> Result<S::Response, S::Error>
where
    S: Service<R>,
{
    service.ready().await?.call(request).await
}

/// The load run's app, in process: hyper and the kernel left out, so what remains is axum and
/// the layers. `axum_plain` is the baseline.
fn bench_stack(c: &mut Criterion) {
    use axum::body::{Body, Bytes};
    use axum::routing::post;
    use tower_mcp_auth::{ScopeGuardLayer, ScopePolicy};

    const BODY: &str = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"search","arguments":{"query":"tower middleware","limit":10}}}"#;
    const ANSWER: &str =
        r#"{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"ok"}]}}"#;
    let fx = fixture();
    let token = fx.signer.sign(&auth0_like_claims(&fx.issuer, 0)).unwrap();
    let app = Router::new().route(
        "/mcp",
        post(|_body: Bytes| async { ([("content-type", "application/json")], ANSWER) }),
    );
    let policy = ScopePolicy::builder()
        .tool("search", ["search.read"])
        .build()
        .unwrap();
    let protected = app
        .clone()
        .layer(ScopeGuardLayer::new(policy))
        .layer(BearerAuthLayer::new(fx.verifier.clone()));
    let request = |token: &str| {
        Request::post("/mcp")
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .body(Body::from(BODY))
            .unwrap()
    };
    let mut group = c.benchmark_group("stack");
    for (name, router, token, status) in [
        ("axum_plain", &app, token.as_str(), 200),
        (
            "axum_protected_repeated_token",
            &protected,
            token.as_str(),
            200,
        ),
        (
            "axum_protected_malformed_token",
            &protected,
            "mF_9B5f-4_1JqM-opaque",
            401,
        ),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| {
                let response = fx
                    .runtime
                    .block_on(router.clone().oneshot(request(token)))
                    .unwrap();
                assert_eq!(response.status(), status);
                response
            })
        });
    }
    // The same stack recording into the Prometheus recorder (as the gateway with METRICS_ADDR
    // does), to set what the metrics cost against `axum_protected_repeated_token` (no recorder).
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    group.bench_function("axum_protected_repeated_token_prometheus", |b| {
        b.iter(|| {
            let response = metrics::with_local_recorder(&recorder, || {
                fx.runtime
                    .block_on(protected.clone().oneshot(request(&token)))
                    .unwrap()
            });
            assert_eq!(response.status(), 200);
            response
        })
    });
    group.finish();
}

criterion_group!(benches, bench_verify, bench_stack);
criterion_main!(benches);
