//! Acknowledgement by outcome class: a refusal no redelivery can fix is answered 200 (logged,
//! counted, in the health state) and not redone; what a redelivery can fix (5xx, a missing
//! Management API scope) is answered 503 and the redelivery completes.
#![cfg(feature = "auth0")]

mod support;
use support::{fake_auth0, log_capture};

use std::sync::OnceLock;
use std::time::Duration;

use axum::http::Method;
use bytes::Bytes;
use fake_auth0::{CHATGPT_CALLBACK, FakeAuth0, FaultKind, Population, client, dcr_entry, tpc_id};
use http::{Request, StatusCode, header};
use http_body_util::{BodyExt, Full};
use log_capture::LogCapture;
use serde_json::Value;
use tower::ServiceExt;
use tower_mcp_auth::auth0::{
    Auth0Health, Auth0LogWebhookService, DcrPromoter, DcrPromoterBuilder, WebhookSummary,
};

const SECRET: &str = "log-webhook-shared-secret";
const AUDIENCE: &str = "https://gateway.example.com/mcp";
const SCOPES: [&str; 2] = ["docs.read", "docs.write"];
const CONNECTION: &str = "google-oauth2";

fn logs() -> String {
    static CAPTURE: OnceLock<LogCapture> = OnceLock::new();
    let capture = CAPTURE.get_or_init(|| {
        let capture = LogCapture::default();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter("tower_mcp_auth=debug")
            .with_writer(capture.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("first subscriber");
        capture
    });
    String::from_utf8_lossy(&capture.0.lock().expect("log buffer")).into_owned()
}

async fn tenant() -> FakeAuth0 {
    logs();
    let fake = FakeAuth0::start().await;
    fake.add_connection("con_google", CONNECTION);
    fake.set_domain_connection("con_google", true);
    fake.add_api(AUDIENCE, &SCOPES);
    fake
}

fn promoter(fake: &FakeAuth0) -> DcrPromoterBuilder {
    let mgmt = fake
        .management_client(Duration::from_millis(500))
        .build()
        .expect("valid config");
    DcrPromoter::builder(mgmt, AUDIENCE, SCOPES).connections([CONNECTION])
}

fn webhook(promoter: DcrPromoterBuilder, health: &Auth0Health) -> Auth0LogWebhookService {
    Auth0LogWebhookService::builder(SECRET, promoter.build())
        .health(health.clone())
        .build()
        .expect("non-empty secret")
}

async fn deliver(
    webhook: &Auth0LogWebhookService,
    entries: &[Value],
) -> (StatusCode, WebhookSummary) {
    let request = Request::builder()
        .method(Method::POST)
        .uri("/auth0-log-webhook")
        .header(header::AUTHORIZATION, format!("Bearer {SECRET}"))
        .body(Full::new(Bytes::from(
            serde_json::to_vec(entries).expect("json"),
        )))
        .expect("request");
    let response = webhook.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    (status, serde_json::from_slice(&bytes).expect("summary"))
}

#[tokio::test]
async fn a_400_refusal_is_answered_200_counted_and_not_redone() {
    let fake = tenant().await;
    // A permissive client given the seeds' first-party promotion: Auth0 refuses the ownership
    // change with a 400 (the docs: ownership is immutable), every time.
    let id = "PermissiveClientId0009".to_owned();
    fake.add_client(client(
        Population::PermissiveDcr,
        &id,
        "ChatGPT",
        &[CHATGPT_CALLBACK],
    ));
    let health = Auth0Health::new();
    let webhook = webhook(
        promoter(&fake)
            .promote_permissive(true)
            .promote_first_party(true),
        &health,
    );
    let batch = [dcr_entry("R1", &id)];

    let (status, summary) = deliver(&webhook, &batch).await;

    assert_eq!(status, StatusCode::OK);
    assert_eq!(summary.refused.client_ids, [id.as_str()]);
    assert_eq!(summary.failed.count, 0);
    let patch = fake
        .api_writes()
        .into_iter()
        .find(|c| c.method == Method::PATCH)
        .expect("the PATCH was tried");
    assert_eq!(patch.status, 400);
    assert_eq!(fake.client(&id)["is_first_party"], false);
    let snapshot = health.snapshot();
    assert_eq!(snapshot.refused_clients, 1);
    let refusal = snapshot.last_refusal.expect("recorded");
    assert_eq!(refusal.client_id, id);
    assert!(refusal.reason.contains("400"), "{}", refusal.reason);
    assert!(
        logs().lines().any(|l| l.contains("WARN")
            && l.contains(&id)
            && l.contains("a redelivery cannot change that")),
        "no refusal line"
    );

    // Auth0 redelivers the same batch (say, a stream retry): nothing is redone.
    fake.clear_calls();
    let (status, summary) = deliver(&webhook, &batch).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(summary.entries.already_processed, 1);
    assert!(fake.calls().is_empty());
}

#[tokio::test]
async fn a_500_is_answered_503_and_the_redelivery_completes() {
    let fake = tenant().await;
    let id = tpc_id("five-hundred");
    fake.add_client(client(
        Population::StrictDcr,
        &id,
        "ChatGPT",
        &[CHATGPT_CALLBACK],
    ));
    fake.inject(
        Some(Method::POST),
        "/api/v2/client-grants",
        4,
        FaultKind::ServerError,
    );
    let webhook = webhook(promoter(&fake), &Auth0Health::new());
    let batch = [dcr_entry("F1", &id)];

    let (status, summary) = deliver(&webhook, &batch).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(summary.failed.client_ids, [id.as_str()]);
    assert!(fake.grants_for(&id).is_empty());

    let (status, summary) = deliver(&webhook, &batch).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(summary.promoted.client_ids, [id.as_str()]);
    assert_eq!(fake.can_log_in(&id, AUDIENCE, CONNECTION, &SCOPES), Ok(()));
}

#[tokio::test]
async fn a_missing_management_scope_is_503_with_the_scope_logged_and_granting_it_completes() {
    let fake = tenant().await;
    fake.set_mgmt_scopes(&["read:clients", "read:connections", "read:client_grants"]);
    let id = tpc_id("scope");
    fake.add_client(client(
        Population::StrictDcr,
        &id,
        "ChatGPT",
        &[CHATGPT_CALLBACK],
    ));
    let webhook = webhook(promoter(&fake), &Auth0Health::new());
    let batch = [dcr_entry("Q1", &id)];

    let (status, summary) = deliver(&webhook, &batch).await;

    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(summary.failed.client_ids, [id.as_str()]);
    let create = fake
        .api_writes()
        .into_iter()
        .find(|c| c.path == "/api/v2/client-grants")
        .expect("tried");
    assert_eq!(create.status, 403);
    let line = logs()
        .lines()
        .find(|l| l.contains(&id) && l.contains("lacks a scope"))
        .map(str::to_owned)
        .expect("a line naming the scope");
    assert!(
        line.contains("missing_scope=\"create:client_grants\"")
            || line.contains("missing_scope=create:client_grants"),
        "{line}"
    );

    // The operator grants the scope; the next token carries it; the redelivery completes.
    fake.set_mgmt_scopes(&[
        "read:clients",
        "read:connections",
        "read:client_grants",
        "create:client_grants",
        "update:client_grants",
    ]);
    fake.expire_tokens();
    let (status, summary) = deliver(&webhook, &batch).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(summary.promoted.client_ids, [id.as_str()]);
    assert_eq!(fake.can_log_in(&id, AUDIENCE, CONNECTION, &SCOPES), Ok(()));
}

#[tokio::test]
async fn one_refused_client_does_not_hold_back_the_others() {
    let fake = tenant().await;
    let refused = "PermissiveClientId0010".to_owned();
    fake.add_client(client(
        Population::PermissiveDcr,
        &refused,
        "ChatGPT",
        &[CHATGPT_CALLBACK],
    ));
    let fine = "LegacyClientId00000010".to_owned();
    fake.add_client(client(
        Population::LegacyDcr,
        &fine,
        "ChatGPT",
        &[CHATGPT_CALLBACK],
    ));
    let webhook = webhook(
        promoter(&fake)
            .promote_permissive(true)
            .promote_first_party(true),
        &Auth0Health::new(),
    );

    let (status, summary) = deliver(
        &webhook,
        &[dcr_entry("O1", &refused), dcr_entry("O2", &fine)],
    )
    .await;

    assert_eq!(status, StatusCode::OK);
    assert_eq!(summary.refused.client_ids, [refused.as_str()]);
    assert_eq!(summary.promoted.client_ids, [fine.as_str()]);
    assert_eq!(
        fake.can_log_in(&fine, AUDIENCE, CONNECTION, &SCOPES),
        Ok(())
    );
}
