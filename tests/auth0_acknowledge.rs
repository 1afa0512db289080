//! Acknowledgement by outcome class: a refusal no redelivery can fix is answered 200 (logged,
//! counted, in the health state) and not redone; what a redelivery can fix (5xx, a missing
//! Management API scope) is answered 503 and the redelivery completes.
#![cfg(feature = "auth0")]

mod support;
use support::{fake_auth0, log_capture, log_webhook};

use std::time::Duration;

use axum::http::Method;
use fake_auth0::{FakeAuth0, FaultKind, Population, chatgpt_client, dcr_entry, tpc_id};
use http::StatusCode;
use log_capture::LogCapture;
use log_webhook::{CONNECTION, deliver, webhook};
use tower_mcp_auth::auth0::{Auth0Health, DcrPromoterBuilder};

const AUDIENCE: &str = "https://gateway.example.com/mcp";
const SCOPES: [&str; 2] = ["docs.read", "docs.write"];

fn logs() -> String {
    LogCapture::global().text()
}

async fn tenant() -> FakeAuth0 {
    logs();
    log_webhook::tenant(AUDIENCE, &SCOPES, true).await
}

fn promoter(fake: &FakeAuth0) -> DcrPromoterBuilder {
    log_webhook::promoter(fake, Duration::from_millis(500), AUDIENCE, &SCOPES)
}

#[tokio::test]
async fn a_400_refusal_is_answered_200_counted_and_not_redone() {
    let fake = tenant().await;
    // A permissive client given the seeds' first-party promotion: Auth0 refuses the ownership
    // change with a 400 (the docs: ownership is immutable), every time.
    let id = "PermissiveClientId0009".to_owned();
    fake.add_client(chatgpt_client(Population::PermissiveDcr, &id));
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
    fake.add_client(chatgpt_client(Population::StrictDcr, &id));
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
    fake.add_client(chatgpt_client(Population::StrictDcr, &id));
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
    fake.add_client(chatgpt_client(Population::PermissiveDcr, &refused));
    let fine = "LegacyClientId00000010".to_owned();
    fake.add_client(chatgpt_client(Population::LegacyDcr, &fine));
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
