//! The scope guard on a 2 KiB `tools/call` body, against two baselines: the same request through
//! the inner service without the guard, and a bare `serde_json::from_slice::<Value>` of the body
//! (what any server behind the guard does once anyway).
//!
//! `cargo bench --bench scope_guard -- --warm-up-time 1 --measurement-time 3`

use std::convert::Infallible;
use std::hint::black_box;

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use futures_util::FutureExt;
use http::{Request, Response};
use http_body_util::Full;
use tower_layer::Layer;
use tower_mcp_auth::{AccessToken, ScopeGuardLayer, ScopePolicy};
use tower_service::Service;

fn body_2k() -> Bytes {
    let filler = "lorem ipsum dolor sit amet ".repeat(72);
    let body = serde_json::json!({
        "jsonrpc": "2.0",
        "id": 42,
        "method": "tools/call",
        "params": {
            "name": "search",
            "arguments": {"query": filler, "limit": 10, "filters": {"lang": "en", "tags": ["a", "b"]}},
            "_meta": {"progressToken": "p-1"}
        }
    })
    .to_string();
    assert!(
        (2000..2300).contains(&body.len()),
        "body is {} bytes",
        body.len()
    );
    Bytes::from(body)
}

fn request(body: &Bytes, token: &AccessToken) -> Request<Full<Bytes>> {
    let mut request = Request::post("/mcp")
        .header("content-type", "application/json")
        .body(Full::new(body.clone()))
        .expect("valid request");
    request.extensions_mut().insert(token.clone());
    request
}

fn bench(c: &mut Criterion) {
    let body = body_2k();
    let token = AccessToken::from_claims(serde_json::json!({
        "iss": "https://issuer.test/", "sub": "u", "aud": "a", "exp": 4_102_444_800u64,
        "scope": "mcp search.read", "permissions": ["docs.read"]
    }))
    .expect("valid claims");
    let policy = ScopePolicy::builder()
        .default_scopes(["mcp"])
        .tool("search", ["search.read"])
        .tool("docs.create", ["docs.write", "docs.read"])
        .build()
        .expect("valid policy");

    let inner = tower::service_fn(|_req: Request<_>| async {
        Ok::<_, Infallible>(Response::new(Full::<Bytes>::default()))
    });
    let mut guarded = ScopeGuardLayer::new(policy).layer(inner);
    let mut bare = tower::service_fn(|_req: Request<Full<Bytes>>| async {
        Ok::<_, Infallible>(Response::new(Full::<Bytes>::default()))
    });

    let mut group = c.benchmark_group("tools_call_2KiB");
    group.bench_function("serde_json_value_parse", |b| {
        b.iter(|| serde_json::from_slice::<serde_json::Value>(black_box(&body)).expect("json"))
    });
    group.bench_function("without_guard", |b| {
        b.iter(|| {
            bare.call(black_box(request(&body, &token)))
                .now_or_never()
                .expect("ready")
        })
    });
    group.bench_function("scope_guard", |b| {
        b.iter(|| {
            let response = guarded
                .call(black_box(request(&body, &token)))
                .now_or_never()
                .expect("ready")
                .expect("infallible");
            assert_eq!(response.status(), 200);
            response
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
