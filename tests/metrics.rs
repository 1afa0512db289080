//! The metrics, read back from an installed recorder after a known sequence of requests, JWKS
//! fetches and webhook batches (feature `metrics`). One test: the recorder is process-global.
#![cfg(all(feature = "metrics", feature = "auth0"))]

mod support;
use support::{fake_auth0, issuer_server};

use std::collections::BTreeMap;
use std::time::Duration;

use axum::Router;
use axum::routing::post;
use bytes::Bytes;
use fake_auth0::{
    CHATGPT_CALLBACK, FakeAuth0, FaultKind, dcr_entry as entry_for, login_entry, strict_dcr_client,
    tpc_id,
};
use http::{Method, Request, StatusCode, header};
use http_body_util::{BodyExt, Full};
use issuer_server::{AUDIENCE, IssuerServer, JwksMode, now};
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use serde_json::{Value, json};
use tower::ServiceExt;
use tower_mcp_auth::auth0::{Auth0LogWebhookService, DcrPromoter, NameFilter};
use tower_mcp_auth::metrics::*;
use tower_mcp_auth::token::JwksVerifier;
use tower_mcp_auth::{BearerAuthLayer, ScopeGuardLayer, ScopePolicy};

/// A strict DCR client with ChatGPT's callback, as a 2026 tenant registers it.
fn dcr_client(seed: &str, name: &str) -> Value {
    strict_dcr_client(&tpc_id(seed), name, &[CHATGPT_CALLBACK])
}

fn dcr_entry(log_id: &str, seed: &str) -> Value {
    entry_for(log_id, &tpc_id(seed))
}

const SECRET: &str = "log-webhook-shared-secret";
const TOOLS_CALL: &str =
    r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"search","arguments":{}}}"#;

/// Every series of the snapshot: (name, sorted labels) → value.
type Series = BTreeMap<(String, Vec<(String, String)>), DebugValue>;

fn series(snapshotter: &Snapshotter) -> Series {
    snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(key, _, _, value)| {
            let key = key.key();
            let mut labels: Vec<(String, String)> = key
                .labels()
                .map(|l| (l.key().to_owned(), l.value().to_owned()))
                .collect();
            labels.sort();
            ((key.name().to_owned(), labels), value)
        })
        .collect()
}

fn counter(all: &Series, name: &str, labels: &[(&str, &str)]) -> u64 {
    let mut labels: Vec<(String, String)> = labels
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    labels.sort();
    match all.get(&(name.to_owned(), labels)) {
        Some(DebugValue::Counter(n)) => *n,
        None => 0,
        Some(other) => panic!("{name} is not a counter: {other:?}"),
    }
}

fn gauge(all: &Series, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let labels = labels
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    match all.get(&(name.to_owned(), labels))? {
        DebugValue::Gauge(g) => Some(g.into_inner()),
        other => panic!("{name} is not a gauge: {other:?}"),
    }
}

fn histogram_count(all: &Series, name: &str, labels: &[(&str, &str)]) -> usize {
    let labels = labels
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    match all.get(&(name.to_owned(), labels)) {
        Some(DebugValue::Histogram(values)) => values.len(),
        None => 0,
        Some(other) => panic!("{name} is not a histogram: {other:?}"),
    }
}

async fn call(app: &Router, token: Option<&str>) -> (StatusCode, Value) {
    let mut request = Request::builder()
        .method(Method::POST)
        .uri("/mcp")
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let response = app
        .clone()
        .oneshot(request.body(axum::body::Body::from(TOOLS_CALL)).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

async fn deliver(webhook: &Auth0LogWebhookService, entries: &[Value]) -> StatusCode {
    let body = serde_json::to_vec(&Value::Array(entries.to_vec())).unwrap();
    let request = Request::builder()
        .method(Method::POST)
        .uri("/auth0-log-webhook")
        .header(header::AUTHORIZATION, format!("Bearer {SECRET}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    webhook.clone().oneshot(request).await.unwrap().status()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_known_sequence_is_counted_exactly() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    recorder
        .install()
        .expect("the only recorder of this test binary");
    describe();

    // -- JWKS: the build fetches once (success), a refresh succeeds, a failing one fails.
    let issuer = IssuerServer::start().await;
    let verifier = issuer.verifier().await;
    verifier.refresh_keys().await.unwrap();
    issuer.set_mode(JwksMode::Fail);
    assert!(verifier.refresh_keys().await.is_err());
    issuer.set_mode(JwksMode::Serve);

    // -- The layers.
    let policy = ScopePolicy::builder()
        .tool("search", ["search.read"])
        .build()
        .unwrap();
    let app = Router::new()
        .route("/mcp", post(|| async { "{}" }))
        .layer(ScopeGuardLayer::new(policy))
        .layer(BearerAuthLayer::new(verifier));
    let good = issuer.token("search.read");
    assert_eq!(call(&app, Some(&good)).await.0, StatusCode::OK); // miss, verified
    assert_eq!(call(&app, Some(&good)).await.0, StatusCode::OK); // cache hit
    assert_eq!(call(&app, Some(&good)).await.0, StatusCode::OK); // recent-slot hit
    // A token that expires in the cache, behind a verifier with no leeway: a miss, a hit that
    // takes the recent slot, then a recent-slot hit refused as expired.
    let strict = JwksVerifier::builder()
        .issuer(issuer.issuer.clone())
        .audience(AUDIENCE)
        .leeway(Duration::ZERO)
        .build()
        .await
        .unwrap();
    let expiring_app = Router::new()
        .route("/mcp", post(|| async { "{}" }))
        .layer(ScopeGuardLayer::new(ScopePolicy::allow_all()))
        .layer(BearerAuthLayer::new(strict));
    let mut claims = issuer.claims("search.read");
    claims["exp"] = json!(now() + 2);
    let expiring = issuer.sign(&claims);
    assert_eq!(call(&expiring_app, Some(&expiring)).await.0, StatusCode::OK);
    assert_eq!(call(&expiring_app, Some(&expiring)).await.0, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(3100)).await;
    let (status, body) = call(&expiring_app, Some(&expiring)).await;
    assert_eq!(
        (status, &body["code"]),
        (StatusCode::UNAUTHORIZED, &json!("TOKEN_EXPIRED"))
    );
    let (status, body) = call(&app, None).await;
    assert_eq!(
        (status, &body["code"]),
        (StatusCode::UNAUTHORIZED, &json!("MISSING_TOKEN"))
    );
    let (status, body) = call(&app, Some("opaque-token")).await;
    assert_eq!(
        (status, &body["code"]),
        (StatusCode::UNAUTHORIZED, &json!("ACCESS_TOKEN_NOT_JWS"))
    );
    let mut claims = issuer.claims("search.read");
    claims["aud"] = json!("https://someone-else.test/");
    let (status, body) = call(&app, Some(&issuer.sign(&claims))).await;
    assert_eq!(
        (status, &body["code"]),
        (StatusCode::UNAUTHORIZED, &json!("INVALID_AUDIENCE"))
    );
    let mut claims = issuer.claims("search.read");
    claims["exp"] = json!(now() - 600);
    let (status, body) = call(&app, Some(&issuer.sign(&claims))).await;
    assert_eq!(
        (status, &body["code"]),
        (StatusCode::UNAUTHORIZED, &json!("TOKEN_EXPIRED"))
    );
    let (status, body) = call(&app, Some(&issuer.token("docs.read"))).await;
    assert_eq!(
        (status, &body["code"]),
        (StatusCode::FORBIDDEN, &json!("insufficient_scope"))
    );

    // -- The webhook: promoted, already promoted, skipped (two reasons), failed, and entries
    //    that are malformed, not DCR, or name no client.
    let fake = FakeAuth0::start().await;
    fake.add_connection("con_google", "google-oauth2");
    fake.set_domain_connection("con_google", true);
    fake.add_api(AUDIENCE, &["search.read"]);
    fake.add_client(dcr_client("dcr-new", "ChatGPT"));
    fake.add_client(strict_dcr_client(
        &tpc_id("dcr-foreign"),
        "ChatGPT",
        &["https://attacker.example/callback"],
    ));
    fake.add_client(dcr_client("dcr-bad", "ChatGPT"));
    fake.add_client(dcr_client("dcr-done", "ChatGPT"));
    fake.add_client(dcr_client("dcr-crm", "Some CRM"));
    fake.add_client(dcr_client("dcr-broken", "ChatGPT"));
    let mgmt = fake
        .management_client(Duration::from_millis(500))
        .build()
        .unwrap();
    let promoter = DcrPromoter::builder(mgmt, AUDIENCE, ["search.read"])
        .connections(["google-oauth2"])
        .name_filter(NameFilter::contains("chatgpt"))
        .build();
    let webhook = Auth0LogWebhookService::builder(SECRET, promoter)
        .build()
        .unwrap();
    assert_eq!(
        deliver(&webhook, &[dcr_entry("L0", "dcr-done")]).await,
        StatusCode::OK
    );
    // Every attempt of dcr-broken's first read fails: its promotion fails after 4 attempts.
    let path = |seed: &str| format!("/api/v2/clients/{}", tpc_id(seed));
    fake.inject(
        Some(Method::GET),
        &path("dcr-broken"),
        4,
        FaultKind::ServerError,
    );
    // A 400 no redelivery can change: acknowledged, counted as refused.
    let invalid = r#"{"statusCode":400,"error":"Bad Request","message":"Payload validation error","errorCode":"invalid_body"}"#;
    fake.inject(
        Some(Method::GET),
        &path("dcr-bad"),
        1,
        FaultKind::Body {
            status: 400,
            body: invalid,
        },
    );
    let mut no_client = dcr_entry("L6", "x");
    no_client["data"]["client_id"] = Value::Null;
    no_client["data"]["details"]["response"]["body"] = json!({});
    let batch = [
        dcr_entry("L1", "dcr-new"),
        dcr_entry("L2", "dcr-done"),
        dcr_entry("L3", "dcr-crm"),
        dcr_entry("L4", "dcr-deleted"),
        dcr_entry("L5", "dcr-broken"),
        dcr_entry("L8", "dcr-foreign"),
        dcr_entry("L9", "dcr-bad"),
        no_client,
        login_entry("L7"),
        json!({"no": "log_id"}),
        dcr_entry("L0", "dcr-done"),
    ];
    assert_eq!(
        deliver(&webhook, &batch).await,
        StatusCode::SERVICE_UNAVAILABLE
    );

    let all = series(&snapshotter);
    let decisions = |layer: &str, outcome: &str| {
        counter(
            &all,
            REQUESTS_TOTAL,
            &[("layer", layer), ("outcome", outcome)],
        )
    };
    assert_eq!(decisions("bearer", "allowed"), 6, "{all:#?}");
    assert_eq!(decisions("bearer", "MISSING_TOKEN"), 1);
    assert_eq!(decisions("bearer", "ACCESS_TOKEN_NOT_JWS"), 1);
    assert_eq!(decisions("bearer", "INVALID_AUDIENCE"), 1);
    assert_eq!(decisions("bearer", "TOKEN_EXPIRED"), 2);
    assert_eq!(decisions("scope_guard", "allowed"), 5);
    assert_eq!(decisions("scope_guard", "insufficient_scope"), 1);

    let cache = |result: &str| counter(&all, TOKEN_CACHE_REQUESTS_TOTAL, &[("result", result)]);
    // Every request with a credential looks the cache up; only the repeated tokens hit, in the
    // main cache or in their recent slot, the expired one included.
    assert_eq!((cache("hit"), cache("miss")), (4, 6));
    let verified =
        |result: &str| histogram_count(&all, TOKEN_VERIFICATION_SECONDS, &[("result", result)]);
    // The opaque token is refused before any verification.
    assert_eq!((verified("valid"), verified("invalid")), (3, 2));

    let uri = issuer.jwks_uri();
    let fetches = |result: &str| {
        counter(
            &all,
            JWKS_FETCHES_TOTAL,
            &[("jwks_uri", &uri), ("result", result)],
        )
    };
    // The build of each verifier fetches once (the second: the expiring token's), and a
    // refresh succeeds.
    assert_eq!((fetches("success"), fetches("failure")), (3, 1));
    assert_eq!(gauge(&all, JWKS_KEYS, &[("jwks_uri", &uri)]), Some(1.0));
    let last = gauge(
        &all,
        JWKS_LAST_SUCCESS_TIMESTAMP_SECONDS,
        &[("jwks_uri", &uri)],
    )
    .expect("a success was recorded");
    assert!(last.abs_diff_le(now() as f64, 120.0), "{last}");

    let delivered = |status: &str| counter(&all, WEBHOOK_DELIVERIES_TOTAL, &[("status", status)]);
    assert_eq!((delivered("200"), delivered("503")), (1, 1));
    let clients = |outcome: &str, reason: &str| {
        counter(
            &all,
            WEBHOOK_CLIENTS_TOTAL,
            &[("outcome", outcome), ("reason", reason)],
        )
    };
    assert_eq!(
        clients("promoted", "none"),
        2,
        "dcr-done in the first batch, dcr-new"
    );
    assert_eq!(clients("already_promoted", "none"), 1);
    assert_eq!(clients("skipped", "name_not_matched"), 1);
    assert_eq!(clients("skipped", "not_found"), 1);
    assert_eq!(clients("failed", "none"), 1);
    let entries = |kind: &str| counter(&all, WEBHOOK_ENTRIES_TOTAL, &[("kind", kind)]);
    assert_eq!(clients("skipped", "callbacks_not_allowed"), 1);
    assert_eq!(clients("refused", "none"), 1);
    assert_eq!(
        clients("deferred", "none"),
        0,
        "within the promotion budget"
    );
    assert_eq!(entries("received"), 12);
    assert_eq!(entries("malformed"), 1);
    assert_eq!(entries("already_processed"), 1);
    assert_eq!(entries("ignored"), 1);
    assert_eq!(entries("dcr_without_client_id"), 1);

    let management = |operation: &str, status: &str| {
        counter(
            &all,
            MANAGEMENT_REQUESTS_TOTAL,
            &[("operation", operation), ("status", status)],
        )
    };
    assert_eq!(
        management("get_client", "5xx"),
        1,
        "dcr-broken, after its retries"
    );
    assert_eq!(
        counter(
            &all,
            MANAGEMENT_RETRIES_TOTAL,
            &[("operation", "get_client")]
        ),
        3,
        "attempts 1-3 of dcr-broken's read were retried"
    );
    assert_eq!(
        management("get_client", "4xx"),
        2,
        "dcr-deleted: 404; dcr-bad: 400"
    );
    assert!(management("get_client", "2xx") >= 4, "{all:#?}");
}

trait Near {
    fn abs_diff_le(self, other: f64, bound: f64) -> bool;
}

impl Near for f64 {
    fn abs_diff_le(self, other: f64, bound: f64) -> bool {
        (self - other).abs() <= bound
    }
}
