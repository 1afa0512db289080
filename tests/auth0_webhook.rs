//! Auth0LogWebhookService end to end against the stateful fake Auth0 on loopback: the secret,
//! the payload formats, the bounds, concurrency and redelivery, on a 2026 tenant (strict DCR
//! clients, a domain-level connection, the API). Per-population behaviour is in
//! `auth0_populations.rs`.
#![cfg(feature = "auth0")]

mod support;
use log_webhook::SECRET;
use support::{fake_auth0, log_webhook};

use std::time::Duration;

use axum::http::Method;
use bytes::Bytes;
use fake_auth0::{
    CHATGPT_CALLBACK, FakeAuth0, FaultKind, TENANT, dcr_entry as entry_for, login_entry,
    strict_dcr_client, tpc_id,
};
use http::{Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};
use serde_json::{Value, json};
use tower::ServiceExt;
use tower_mcp_auth::ClientSecret;
use tower_mcp_auth::auth0::{
    Auth0Health, Auth0LogWebhookService, DcrPromoter, ManagementClient, NameFilter, WebhookSummary,
};

/// The `tpc_` id of the strict client the tests call `seed`.
fn id(seed: &str) -> String {
    tpc_id(seed)
}

/// A strict DCR client with ChatGPT's callback.
fn dcr_client(seed: &str, name: &str) -> Value {
    strict_dcr_client(&id(seed), name, &[CHATGPT_CALLBACK])
}

fn dcr_entry(log_id: &str, seed: &str) -> Value {
    entry_for(log_id, &id(seed))
}

const AUDIENCE: &str = "https://inner.app/api";
const SCOPES: [&str; 3] = [
    "inner.dreams:read",
    "inner.dreams:write",
    "inner.events:read",
];

struct Setup {
    fake: FakeAuth0,
    webhook: Auth0LogWebhookService,
    health: Auth0Health,
}

async fn setup() -> Setup {
    setup_with(4).await
}

async fn setup_with(concurrency: usize) -> Setup {
    // The 2026 tenant set-up: the API, and the login connection at domain level.
    let fake = log_webhook::tenant(AUDIENCE, &SCOPES, true).await;
    let health = Auth0Health::new();
    let promoter = log_webhook::promoter_reporting_to(
        &health,
        &fake,
        Duration::from_millis(500),
        AUDIENCE,
        &SCOPES,
    )
    .build();
    let webhook = Auth0LogWebhookService::builder(SECRET, promoter)
        .concurrency(concurrency)
        .max_body_bytes(64 * 1024)
        .health(health.clone())
        .build()
        .expect("non-empty secret");
    Setup {
        fake,
        webhook,
        health,
    }
}

fn post() -> http::request::Builder {
    Request::builder()
        .method(Method::POST)
        .uri("/auth0-log-webhook")
}

async fn send(
    webhook: &Auth0LogWebhookService,
    request: Request<Full<Bytes>>,
) -> (StatusCode, http::HeaderMap, Value) {
    let response: Response<Full<Bytes>> =
        webhook.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("full body")
        .to_bytes();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, headers, body)
}

async fn deliver(
    webhook: &Auth0LogWebhookService,
    body: impl Into<Bytes>,
) -> (StatusCode, WebhookSummary) {
    let body: Bytes = body.into();
    let request = post()
        .header(header::AUTHORIZATION, format!("Bearer {SECRET}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Full::new(body))
        .expect("request");
    let (status, _, json) = send(webhook, request).await;
    let summary =
        serde_json::from_value(json.clone()).unwrap_or_else(|e| panic!("summary {json}: {e}"));
    (status, summary)
}

fn array(entries: &[Value]) -> Vec<u8> {
    serde_json::to_vec(&Value::Array(entries.to_vec())).expect("json")
}

/// A user of ChatGPT can now log in through the client, with every scope; the client was
/// never patched and has exactly one grant, a user grant.
fn assert_fully_promoted(fake: &FakeAuth0, seed: &str) {
    let client_id = id(seed);
    assert_eq!(
        fake.can_log_in(&client_id, AUDIENCE, "google-oauth2", &SCOPES),
        Ok(()),
        "{seed} can log in"
    );
    assert_eq!(fake.client(&client_id)["is_first_party"], false);
    let grants = fake.grants_for(&client_id);
    assert_eq!(grants.len(), 1, "one grant for {seed}");
    assert_eq!(grants[0].subject_type, "user");
    assert_eq!(grants[0].audience, AUDIENCE);
}

#[tokio::test]
async fn dcr_event_promotes_enables_and_grants_end_to_end() {
    let s = setup().await;
    s.fake.add_client(dcr_client("dcr1", "ChatGPT"));
    let (status, summary) = deliver(&s.webhook, array(&[dcr_entry("L1", "dcr1")])).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(summary.promoted.client_ids, [id("dcr1")]);
    assert_eq!(
        (
            summary.already_promoted.count,
            summary.skipped.count,
            summary.failed.count
        ),
        (0, 0, 0)
    );
    assert_fully_promoted(&s.fake, "dcr1");
    let snapshot = s.health.snapshot();
    assert!(snapshot.last_event_at.is_some());
    assert!(snapshot.last_management_call.expect("calls made").ok);
}

#[tokio::test]
async fn redelivered_batch_does_no_management_api_work() {
    let s = setup().await;
    s.fake.add_client(dcr_client("dcr1", "ChatGPT"));
    let body = array(&[dcr_entry("L1", "dcr1"), login_entry("L2")]);
    assert_eq!(deliver(&s.webhook, body.clone()).await.0, StatusCode::OK);
    s.fake.clear_calls();
    let (status, summary) = deliver(&s.webhook, body).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(summary.entries.already_processed, 2);
    assert_eq!(summary.promoted.count + summary.already_promoted.count, 0);
    assert!(s.fake.calls().is_empty(), "calls: {:?}", s.fake.calls());
}

#[tokio::test]
async fn second_event_for_a_promoted_client_sends_no_write() {
    let s = setup().await;
    s.fake.add_client(dcr_client("dcr1", "ChatGPT"));
    deliver(&s.webhook, array(&[dcr_entry("L1", "dcr1")])).await;
    s.fake.clear_calls();
    let (status, summary) = deliver(&s.webhook, array(&[dcr_entry("L9", "dcr1")])).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(summary.already_promoted.client_ids, [id("dcr1")]);
    assert!(
        s.fake.api_writes().is_empty(),
        "writes: {:?}",
        s.fake.api_writes()
    );
}

#[tokio::test]
async fn grant_409_with_missing_scopes_patches_them_in_and_keeps_extras() {
    let s = setup().await;
    s.fake.add_client(dcr_client("dcr1", "ChatGPT"));
    s.fake
        .race_next_grant_create(&["inner.dreams:read", "ops:extra"]);
    let (status, summary) = deliver(&s.webhook, array(&[dcr_entry("L1", "dcr1")])).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(summary.promoted.client_ids, [id("dcr1")]);
    let grants = s.fake.grants_for(&id("dcr1"));
    assert_eq!(grants.len(), 1);
    assert_eq!(
        grants[0].scope,
        [
            "inner.dreams:read",
            "ops:extra",
            "inner.dreams:write",
            "inner.events:read"
        ]
    );
    let statuses: Vec<(Method, u16)> = s
        .fake
        .api_writes()
        .into_iter()
        .filter(|c| c.path.starts_with("/api/v2/client-grants"))
        .map(|c| (c.method, c.status))
        .collect();
    assert_eq!(statuses, [(Method::POST, 409), (Method::PATCH, 200)]);
}

#[tokio::test]
async fn rate_limited_call_is_retried_and_the_batch_succeeds() {
    let s = setup().await;
    s.fake.add_client(dcr_client("dcr1", "ChatGPT"));
    s.fake.inject(
        Some(Method::POST),
        "/api/v2/client-grants",
        1,
        FaultKind::RateLimited { reset_in_secs: 0 },
    );
    let (status, summary) = deliver(&s.webhook, array(&[dcr_entry("L1", "dcr1")])).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(summary.promoted.client_ids, [id("dcr1")]);
    let creates: Vec<u16> = s
        .fake
        .api_writes()
        .into_iter()
        .filter(|c| c.path == "/api/v2/client-grants")
        .map(|c| c.status)
        .collect();
    assert_eq!(creates, [429, 201]);
    assert_fully_promoted(&s.fake, "dcr1");
}

#[tokio::test]
async fn persistent_server_error_answers_503_and_a_redelivery_completes() {
    let s = setup().await;
    s.fake.add_client(dcr_client("dcr1", "ChatGPT"));
    s.fake.add_client(dcr_client("dcr2", "ChatGPT"));
    // Four attempts of dcr1's grant listing fail: its promotion fails after retries.
    s.fake.inject(
        Some(Method::GET),
        &format!("/api/v2/client-grants?client_id={}", id("dcr1")),
        4,
        FaultKind::ServerError,
    );
    let body = array(&[dcr_entry("L1", "dcr1"), dcr_entry("L2", "dcr2")]);
    let (status, summary) = deliver(&s.webhook, body.clone()).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(summary.failed.client_ids, [id("dcr1")]);
    assert_eq!(summary.promoted.client_ids, [id("dcr2")]);
    let last = s.health.snapshot().last_management_call.expect("recorded");
    assert!(last.at > 0);

    let (status, summary) = deliver(&s.webhook, body).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(summary.promoted.client_ids, [id("dcr1")]);
    assert_eq!(
        summary.entries.already_processed, 1,
        "dcr2's entry was completed the first time"
    );
    assert_fully_promoted(&s.fake, "dcr1");
    assert_fully_promoted(&s.fake, "dcr2");
}

#[tokio::test]
async fn twenty_concurrent_dcr_events_all_end_with_a_working_login() {
    let s = setup_with(8).await;
    let ids: Vec<String> = (0..20).map(|i| format!("dcr{i:02}")).collect();
    for id in &ids {
        s.fake.add_client(dcr_client(id, "ChatGPT"));
    }
    // Ten in one batch (promoted concurrently), ten more as concurrent deliveries.
    let batch: Vec<Value> = ids[..10]
        .iter()
        .enumerate()
        .map(|(i, id)| dcr_entry(&format!("B{i}"), id))
        .collect();
    let mut deliveries = vec![deliver(&s.webhook, array(&batch))];
    for (i, id) in ids[10..].iter().enumerate() {
        deliveries.push(deliver(
            &s.webhook,
            array(&[dcr_entry(&format!("S{i}"), id)]),
        ));
    }
    let results = futures_util::future::join_all(deliveries).await;
    assert!(results.iter().all(|(status, _)| *status == StatusCode::OK));
    let promoted: usize = results.iter().map(|(_, s)| s.promoted.count).sum();
    assert_eq!(promoted, 20);
    for seed in &ids {
        assert_fully_promoted(&s.fake, seed);
    }
    assert!(
        s.fake.enabled_clients("con_google").is_empty(),
        "no per-client connection for third-party clients"
    );
    assert_eq!(
        s.fake.token_requests(),
        1,
        "one token for all concurrent callers"
    );
}

#[tokio::test]
async fn missing_secret_is_401_and_nothing_is_read() {
    let s = setup().await;
    let request = post()
        .body(Full::new(Bytes::from(array(&[dcr_entry("L1", "dcr1")]))))
        .expect("request");
    let (status, headers, body) = send(&s.webhook, request).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        headers[header::WWW_AUTHENTICATE],
        "Bearer realm=\"auth0-log-webhook\""
    );
    assert_eq!(body, json!({"error": "missing_webhook_secret"}));
    assert!(s.fake.calls().is_empty());
    assert_eq!(s.health.snapshot().last_event_at, None);
}

#[tokio::test]
async fn wrong_secret_is_403_in_either_header() {
    let s = setup().await;
    for (name, value) in [
        (
            header::AUTHORIZATION.as_str(),
            "Bearer not-the-secret".to_owned(),
        ),
        ("x-webhook-secret", "not-the-secret".to_owned()),
        (header::AUTHORIZATION.as_str(), format!("Basic {SECRET}")),
    ] {
        let request = post()
            .header(name, value)
            .body(Full::new(Bytes::from_static(b"not even json")))
            .expect("request");
        let (status, _, body) = send(&s.webhook, request).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{name}");
        assert_eq!(body, json!({"error": "invalid_webhook_secret"}));
    }
    assert!(s.fake.calls().is_empty());
}

#[tokio::test]
async fn x_webhook_secret_header_is_accepted() {
    let s = setup().await;
    s.fake.add_client(dcr_client("dcr1", "ChatGPT"));
    let request = post()
        .header("x-webhook-secret", SECRET)
        .body(Full::new(Bytes::from(array(&[dcr_entry("L1", "dcr1")]))))
        .expect("request");
    let (status, _, body) = send(&s.webhook, request).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["promoted"],
        json!({"count": 1, "client_ids": [id("dcr1")]})
    );
}

#[tokio::test]
async fn json_lines_and_single_object_payloads_are_accepted() {
    let s = setup().await;
    s.fake.add_client(dcr_client("dcr1", "ChatGPT"));
    s.fake.add_client(dcr_client("dcr2", "ChatGPT"));
    s.fake.add_client(dcr_client("dcr3", "ChatGPT"));
    let lines = format!("{}\n{}\n", dcr_entry("L1", "dcr1"), dcr_entry("L2", "dcr2"));
    let (status, summary) = deliver(&s.webhook, lines).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(summary.promoted.count, 2);
    let object = serde_json::to_vec(&dcr_entry("L3", "dcr3")).expect("json");
    let (status, summary) = deliver(&s.webhook, object).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(summary.promoted.client_ids, [id("dcr3")]);
    for seed in ["dcr1", "dcr2", "dcr3"] {
        assert_fully_promoted(&s.fake, seed);
    }
}

#[tokio::test]
async fn malformed_entries_are_skipped_and_good_ones_promoted() {
    let s = setup().await;
    s.fake.add_client(dcr_client("dcr1", "ChatGPT"));
    let lines = format!(
        "{{\"log_id\": \"broken\"\n{}\n[1,2]\n{{\"log_id\":\"L9\"}}\n",
        dcr_entry("L1", "dcr1")
    );
    let (status, summary) = deliver(&s.webhook, lines).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(summary.entries.received, 4);
    assert_eq!(summary.entries.malformed, 3);
    assert_eq!(summary.promoted.client_ids, [id("dcr1")]);
}

#[tokio::test]
async fn body_that_is_not_json_is_400_and_nothing_promoted() {
    let s = setup().await;
    let request = post()
        .header(header::AUTHORIZATION, format!("Bearer {SECRET}"))
        .body(Full::new(Bytes::from_static(
            b"<html>definitely not json</html>",
        )))
        .expect("request");
    let (status, _, body) = send(&s.webhook, request).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body, json!({"error": "invalid_payload"}));
    assert!(s.fake.calls().is_empty());
}

#[tokio::test]
async fn non_dcr_events_are_ignored_without_any_call() {
    let s = setup().await;
    let mut update = dcr_entry("L3", "dcr1");
    update["data"]["description"] = json!("Update a client");
    update["data"]["details"]["request"]["method"] = json!("patch");
    update["data"]["details"]["request"]["path"] = json!(format!("/api/v2/clients/{}", id("dcr1")));
    let (status, summary) = deliver(
        &s.webhook,
        array(&[login_entry("L1"), login_entry("L2"), update]),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(summary.entries.ignored, 3);
    // Nothing but the entry counts: no client promoted, refused or failed.
    let mut nothing_else = WebhookSummary::default();
    nothing_else.entries = summary.entries.clone();
    assert_eq!(summary, nothing_else);
    assert!(s.fake.calls().is_empty());
}

#[tokio::test]
async fn token_expiring_mid_batch_is_refreshed_and_the_batch_completes() {
    let s = setup_with(1).await;
    for seed in ["dcr1", "dcr2", "dcr3"] {
        s.fake.add_client(dcr_client(seed, "ChatGPT"));
    }
    s.fake.expire_tokens_after_api_calls(5);
    let body = array(&[
        dcr_entry("L1", "dcr1"),
        dcr_entry("L2", "dcr2"),
        dcr_entry("L3", "dcr3"),
    ]);
    let (status, summary) = deliver(&s.webhook, body).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(summary.promoted.count, 3);
    assert_eq!(s.fake.token_requests(), 2);
    assert_eq!(
        s.fake
            .api_calls()
            .iter()
            .filter(|c| c.status == 401)
            .count(),
        1
    );
    for seed in ["dcr1", "dcr2", "dcr3"] {
        assert_fully_promoted(&s.fake, seed);
    }
}

#[tokio::test]
async fn oversized_body_is_413() {
    let s = setup().await;
    let big = vec![b' '; 64 * 1024 + 1];
    let request = post()
        .header(header::AUTHORIZATION, format!("Bearer {SECRET}"))
        .body(Full::new(Bytes::from(big)))
        .expect("request");
    let (status, _, body) = send(&s.webhook, request).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(body, json!({"error": "payload_too_large"}));
}

#[tokio::test]
async fn other_methods_are_405() {
    let s = setup().await;
    let request = Request::builder()
        .method(Method::GET)
        .uri("/auth0-log-webhook")
        .header(header::AUTHORIZATION, format!("Bearer {SECRET}"))
        .body(Full::new(Bytes::new()))
        .expect("request");
    let (status, headers, _) = send(&s.webhook, request).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(headers[header::ALLOW], "POST");
}

#[tokio::test]
async fn duplicate_events_for_one_client_promote_it_once() {
    let s = setup().await;
    s.fake.add_client(dcr_client("dcr1", "ChatGPT"));
    let body = array(&[dcr_entry("L1", "dcr1"), dcr_entry("L2", "dcr1")]);
    let (status, summary) = deliver(&s.webhook, body).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(summary.promoted.client_ids, [id("dcr1")]);
    let gets = s
        .fake
        .api_calls()
        .iter()
        .filter(|c| c.method == Method::GET && c.path == format!("/api/v2/clients/{}", id("dcr1")))
        .count();
    assert_eq!(gets, 1);
}

#[tokio::test]
async fn skipped_clients_and_entries_without_client_id_are_reported_not_failed() {
    let s = setup().await;
    let mut foreign = dcr_client("other", "ChatGPT");
    foreign["callbacks"] = json!(["https://crm.example/cb"]);
    s.fake.add_client(foreign);
    let mut handmade = dcr_client("handmade", "ChatGPT ops console");
    handmade["is_first_party"] = json!(true);
    s.fake.add_client(handmade);
    let mut no_id = dcr_entry("L3", "x");
    no_id["data"]["client_id"] = Value::Null;
    no_id["data"]["details"]["response"]["body"] = json!({});
    let body = array(&[dcr_entry("L1", "other"), dcr_entry("L2", "handmade"), no_id]);
    let (status, summary) = deliver(&s.webhook, body).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(summary.skipped.count, 2);
    assert_eq!(summary.entries.dcr_without_client_id, 1);
    assert!(s.fake.api_writes().is_empty());
}

#[tokio::test]
async fn the_optional_name_filter_narrows_further() {
    let s = setup().await;
    let mgmt = s
        .fake
        .management_client(Duration::from_millis(500))
        .build()
        .expect("valid config");
    let promoter = DcrPromoter::builder(mgmt, AUDIENCE, SCOPES)
        .connections(["google-oauth2"])
        .name_filter(NameFilter::contains("chatgpt"))
        .build();
    let webhook = Auth0LogWebhookService::builder(SECRET, promoter)
        .build()
        .expect("non-empty secret");
    s.fake.add_client(dcr_client("crm", "Some CRM"));
    s.fake.add_client(dcr_client("gpt", "ChatGPT"));
    let body = array(&[dcr_entry("L1", "crm"), dcr_entry("L2", "gpt")]);
    let (status, summary) = deliver(&webhook, body).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(summary.skipped.client_ids, [id("crm")]);
    assert_eq!(summary.promoted.client_ids, [id("gpt")]);
    assert!(s.fake.grants_for(&id("crm")).is_empty());
}

#[test]
fn empty_secret_is_refused() {
    let mgmt = ManagementClient::builder(TENANT)
        .client_credentials("id", ClientSecret::new("s"))
        .build()
        .expect("valid");
    let promoter = DcrPromoter::builder(mgmt, AUDIENCE, SCOPES).build();
    assert!(
        Auth0LogWebhookService::builder("", promoter)
            .build()
            .is_err()
    );
}

#[tokio::test]
async fn promotions_run_at_most_the_configured_number_at_once() {
    let s = setup_with(2).await;
    let entries: Vec<Value> = (0..8)
        .map(|i| {
            let seed = format!("dcr{i}");
            s.fake.add_client(dcr_client(&seed, "ChatGPT"));
            dcr_entry(&format!("L{i}"), &seed)
        })
        .collect();
    s.fake.inject(
        None,
        "/api/v2/",
        16,
        FaultKind::Slow(Duration::from_millis(5)),
    );
    let (status, summary) = deliver(&s.webhook, array(&entries)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(summary.promoted.count, 8);
    let max = s.fake.state().max_in_flight;
    assert!(
        (1..=2).contains(&max),
        "at most 2 concurrent calls, saw {max}"
    );
}

#[tokio::test]
async fn mounted_in_an_axum_router_it_answers_on_its_path() {
    let s = setup().await;
    s.fake.add_client(dcr_client("dcr1", "ChatGPT"));
    let app = axum::Router::new().route_service("/auth0-log-webhook", s.webhook.clone());
    let request = Request::builder()
        .method(Method::POST)
        .uri("/auth0-log-webhook")
        .header("x-webhook-secret", SECRET)
        .body(axum::body::Body::from(array(&[dcr_entry("L1", "dcr1")])))
        .expect("request");
    let response = app.oneshot(request).await.expect("infallible");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
    assert_fully_promoted(&s.fake, "dcr1");
}

#[tokio::test]
async fn promotions_beyond_the_budget_are_deferred_to_a_redelivery_with_no_call() {
    let s = setup().await;
    let mgmt = s
        .fake
        .management_client(Duration::from_millis(500))
        .build()
        .expect("valid config");
    let promoter = DcrPromoter::builder(mgmt, AUDIENCE, SCOPES)
        .connections(["google-oauth2"])
        .build();
    let webhook = Auth0LogWebhookService::builder(SECRET, promoter)
        .max_promotions_per_minute(2)
        .concurrency(1)
        .build()
        .expect("non-empty secret");
    for seed in ["b1", "b2", "b3"] {
        s.fake.add_client(dcr_client(seed, "ChatGPT"));
    }
    let body = array(&[
        dcr_entry("L1", "b1"),
        dcr_entry("L2", "b2"),
        dcr_entry("L3", "b3"),
    ]);

    let (status, summary) = deliver(&webhook, body.clone()).await;

    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(summary.promoted.client_ids, [id("b1"), id("b2")]);
    assert_eq!(summary.deferred.client_ids, [id("b3")]);
    assert!(
        !s.fake.calls().iter().any(|c| c.path.contains(&id("b3"))),
        "a deferred client costs no call"
    );
    let (status, summary) = deliver(&webhook, body).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(summary.entries.already_processed, 2);
    assert_eq!(summary.deferred.client_ids, [id("b3")]);
}
