//! What the layers answer by themselves, against a service that answers a fixed JSON body
//! (`fixed_json_answer`, the baseline):
//!
//! - `prm_answer`: `PrmRoute` serving `GET /.well-known/oauth-protected-resource/mcp`;
//! - `challenge_invalid_token`: `Challenge::response` rendering a 401 `invalid_token` (header +
//!   JSON body), the answer every refused token gets;
//! - `challenge_insufficient_scope`: the 403 with `scope`, `missing_scopes` and `operation`.
//!
//! Run: `cargo bench --bench answers`.

use std::convert::Infallible;
use std::hint::black_box;

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use futures_util::FutureExt;
use http::{HeaderMap, Request, Response, header};
use http_body_util::Full;
use tower_mcp_auth::challenge::{AuthError, ErrorCode};
use tower_mcp_auth::{PrmRoute, ProtectedResourceMetadata, ScopePolicy};
use tower_service::Service;

const RESOURCE: &str = "https://api.example.com/mcp";

fn bench(c: &mut Criterion) {
    let policy = ScopePolicy::builder()
        .default_scopes(["mcp"])
        .tool("search", ["search.read"])
        .tool("docs.create", ["docs.write", "docs.read"])
        .build()
        .expect("valid policy");
    let mut metadata = ProtectedResourceMetadata::new(RESOURCE);
    metadata.authorization_servers = Some(vec!["https://tenant.example.com/".into()]);
    let mut prm = PrmRoute::new(metadata, &policy).expect("valid metadata");
    let challenge = prm.challenge();
    let document = prm.document().clone();
    let mut fixed = tower::service_fn(move |_req: Request<Full<Bytes>>| {
        let document = document.clone();
        async move {
            let mut response = Response::new(Full::new(document));
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                http::HeaderValue::from_static("application/json"),
            );
            Ok::<_, Infallible>(response)
        }
    });
    let request = || {
        Request::get("/.well-known/oauth-protected-resource/mcp")
            .body(Full::<Bytes>::default())
            .expect("valid request")
    };
    let headers = HeaderMap::new();
    let invalid = AuthError::new(
        ErrorCode::InvalidSignature,
        "The access token's signature does not verify",
    );
    let scope = AuthError::insufficient_scope(
        "tools/call docs.create",
        vec!["docs.read".into(), "docs.write".into()],
        vec!["docs.write".into()],
    );

    let mut group = c.benchmark_group("answers");
    group.bench_function("fixed_json_answer", |b| {
        b.iter(|| {
            fixed
                .call(black_box(request()))
                .now_or_never()
                .expect("ready")
                .expect("infallible")
        })
    });
    group.bench_function("prm_answer", |b| {
        b.iter(|| {
            let response = prm
                .call(black_box(request()))
                .now_or_never()
                .expect("ready")
                .expect("infallible");
            assert_eq!(response.status(), 200);
            response
        })
    });
    group.bench_function("challenge_invalid_token", |b| {
        b.iter(|| challenge.response::<Full<Bytes>>(black_box(&invalid), &headers))
    });
    group.bench_function("challenge_insufficient_scope", |b| {
        b.iter(|| challenge.response::<Full<Bytes>>(black_box(&scope), &headers))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
