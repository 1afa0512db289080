//! The webhook on each client population of a 2026 tenant, judged by what a user cares about:
//! after the webhook ran, can ChatGPT's client log a user in (the fake's decision, Auth0's
//! documented rule), and does a second delivery write nothing? Plus the clients it must never
//! touch: foreign callbacks, admin-created apps.
#![cfg(feature = "auth0")]

mod support;
use support::{fake_auth0, log_capture, log_webhook};

use std::time::Duration;

use axum::http::Method;
use fake_auth0::{
    CHATGPT_CALLBACK, CHATGPT_CIMD_URL, CHATGPT_CONNECTOR_CALLBACK, FakeAuth0, LoginRefusal,
    Population, chatgpt_client, cimd_register_entry, client, create_client_entry, dcr_entry,
    tpc_id,
};
use http::StatusCode;
use log_capture::LogCapture;
use log_webhook::{CONNECTION, deliver, webhook};
use serde_json::{Value, json};
use tower_mcp_auth::auth0::{Auth0Health, Auth0LogWebhookService, DcrPromoterBuilder};

const AUDIENCE: &str = "https://gateway.example.com/mcp";
const SCOPES: [&str; 2] = ["docs.read", "docs.write"];

fn logs() -> &'static LogCapture {
    LogCapture::global()
}

fn log_lines_for(client_id: &str) -> Vec<String> {
    logs()
        .text()
        .lines()
        .filter(|l| l.contains(client_id))
        .map(str::to_owned)
        .collect()
}

/// A tenant with the API and the login connection (domain-level or not).
async fn tenant(domain_level: bool) -> FakeAuth0 {
    logs();
    log_webhook::tenant(AUDIENCE, &SCOPES, domain_level).await
}

fn promoter(fake: &FakeAuth0) -> DcrPromoterBuilder {
    log_webhook::promoter(fake, Duration::from_millis(500), AUDIENCE, &SCOPES)
}

/// Delivers `entry`, checks the login works, then a second event for the same client (a new
/// log id: not remembered) writes nothing.
async fn login_works_and_a_second_delivery_writes_nothing(
    fake: &FakeAuth0,
    webhook: &Auth0LogWebhookService,
    client_id: &str,
    first: Value,
    second: Value,
    refused_before: LoginRefusal,
) {
    assert_eq!(
        fake.can_log_in(client_id, AUDIENCE, CONNECTION, &SCOPES),
        Err(refused_before),
        "cannot log in before the webhook ran"
    );
    let (status, summary) = deliver(webhook, &[first]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(summary.promoted.client_ids, [client_id]);
    assert_eq!(
        fake.can_log_in(client_id, AUDIENCE, CONNECTION, &SCOPES),
        Ok(())
    );
    fake.clear_calls();
    let (status, summary) = deliver(webhook, &[second]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(summary.already_promoted.client_ids, [client_id]);
    assert!(
        fake.api_writes().is_empty(),
        "writes: {:?}",
        fake.api_writes()
    );
}

fn client_patches(fake: &FakeAuth0, client_id: &str) -> Vec<Value> {
    fake.calls()
        .into_iter()
        .filter(|c| c.method == Method::PATCH && c.path == format!("/api/v2/clients/{client_id}"))
        .map(|c| c.body)
        .collect()
}

#[tokio::test]
async fn strict_dcr_client_logs_in_after_the_webhook_through_a_user_grant_and_is_never_patched() {
    let fake = tenant(true).await;
    let id = tpc_id("strict");
    fake.add_client(chatgpt_client(Population::StrictDcr, &id));
    let before = fake.client(&id);
    // The first-party opt-in changes nothing for a strict client: Auth0 refuses it.
    let webhook = webhook(
        promoter(&fake).promote_first_party(true),
        &Auth0Health::new(),
    );

    login_works_and_a_second_delivery_writes_nothing(
        &fake,
        &webhook,
        &id,
        dcr_entry("S1", &id),
        dcr_entry("S2", &id),
        LoginRefusal::NoUserGrant,
    )
    .await;

    assert_eq!(fake.client(&id), before, "the client is unchanged");
    assert!(client_patches(&fake, &id).is_empty());
    let grants = fake.grants_for(&id);
    assert_eq!(grants.len(), 1);
    assert_eq!(
        (grants[0].subject_type.as_str(), grants[0].scope.clone()),
        ("user", SCOPES.map(String::from).to_vec())
    );
    assert!(
        fake.enabled_clients("con_google").is_empty(),
        "no per-client connection"
    );
}

#[tokio::test]
async fn permissive_dcr_client_is_treated_as_strict_by_default() {
    let fake = tenant(true).await;
    let id = "PermissiveClientId0001".to_owned();
    fake.add_client(client(
        Population::PermissiveDcr,
        &id,
        "ChatGPT",
        &[CHATGPT_CONNECTOR_CALLBACK],
    ));
    let before = fake.client(&id);
    let webhook = webhook(promoter(&fake), &Auth0Health::new());

    login_works_and_a_second_delivery_writes_nothing(
        &fake,
        &webhook,
        &id,
        dcr_entry("P1", &id),
        dcr_entry("P2", &id),
        LoginRefusal::NoUserGrant,
    )
    .await;

    assert_eq!(fake.client(&id), before);
    assert_eq!(fake.user_grants_for(&id).len(), 1);
}

#[tokio::test]
async fn cimd_client_registered_by_an_admin_logs_in_after_the_webhook() {
    let fake = tenant(true).await;
    let id = tpc_id("cimd");
    fake.add_client(chatgpt_client(Population::Cimd, &id));
    let before = fake.client(&id);
    let webhook = webhook(promoter(&fake), &Auth0Health::new());

    login_works_and_a_second_delivery_writes_nothing(
        &fake,
        &webhook,
        &id,
        cimd_register_entry("C1", &id, CHATGPT_CIMD_URL),
        cimd_register_entry("C2", &id, CHATGPT_CIMD_URL),
        LoginRefusal::NoUserGrant,
    )
    .await;

    assert_eq!(fake.client(&id), before);
    assert!(client_patches(&fake, &id).is_empty());
}

#[tokio::test]
async fn legacy_client_stays_third_party_without_the_opt_in_and_logs_in_through_the_domain_connection()
 {
    let fake = tenant(true).await;
    let id = "LegacyClientId00000001".to_owned();
    fake.add_client(chatgpt_client(Population::LegacyDcr, &id));
    let webhook = webhook(promoter(&fake), &Auth0Health::new());

    login_works_and_a_second_delivery_writes_nothing(
        &fake,
        &webhook,
        &id,
        dcr_entry("G1", &id),
        dcr_entry("G2", &id),
        LoginRefusal::NoUserGrant,
    )
    .await;

    let legacy = fake.client(&id);
    assert_eq!(legacy["is_first_party"], false);
    assert_eq!(
        legacy["grant_types"],
        json!(["authorization_code", "refresh_token"])
    );
    assert_eq!(
        legacy["client_metadata"],
        json!({"tower_mcp_auth": "dcr-promoted"})
    );
    for patch in client_patches(&fake, &id) {
        assert!(patch.get("is_first_party").is_none(), "{patch}");
    }
}

#[tokio::test]
async fn legacy_client_becomes_first_party_only_with_the_opt_in_and_then_needs_no_domain_connection()
 {
    let fake = tenant(false).await;
    let id = "LegacyClientId00000002".to_owned();
    fake.add_client(chatgpt_client(Population::LegacyDcr, &id));
    let webhook = webhook(
        promoter(&fake).promote_first_party(true),
        &Auth0Health::new(),
    );

    login_works_and_a_second_delivery_writes_nothing(
        &fake,
        &webhook,
        &id,
        dcr_entry("F1", &id),
        dcr_entry("F2", &id),
        LoginRefusal::ConnectionNotDomainLevel,
    )
    .await;
    let promoted = fake.client(&id);
    assert_eq!(promoted["is_first_party"], true);
    assert_eq!(promoted["token_endpoint_auth_method"], "none");
    assert!(fake.enabled_clients("con_google").contains(&id));
    assert_eq!(fake.user_grants_for(&id).len(), 1);
}

#[tokio::test]
async fn strict_client_covered_by_the_default_third_party_grant_gets_no_write() {
    let fake = tenant(true).await;
    fake.add_default_user_grant(AUDIENCE, &SCOPES);
    let id = tpc_id("covered");
    fake.add_client(chatgpt_client(Population::StrictDcr, &id));
    assert_eq!(fake.can_log_in(&id, AUDIENCE, CONNECTION, &SCOPES), Ok(()));
    let webhook = webhook(promoter(&fake), &Auth0Health::new());

    let (status, summary) = deliver(&webhook, &[dcr_entry("D1", &id)]).await;

    assert_eq!(status, StatusCode::OK);
    assert_eq!(summary.already_promoted.client_ids, [id.as_str()]);
    assert!(fake.api_writes().is_empty(), "{:?}", fake.api_writes());
    assert!(fake.grants_for(&id).is_empty());
}

#[tokio::test]
async fn strict_client_on_a_connection_that_is_not_domain_level_is_reported_and_acknowledged() {
    let fake = tenant(false).await;
    let id = tpc_id("blocked");
    fake.add_client(chatgpt_client(Population::StrictDcr, &id));
    let health = Auth0Health::new();
    let webhook = webhook(promoter(&fake), &health);

    let (status, summary) = deliver(&webhook, &[dcr_entry("B1", &id)]).await;

    assert_eq!(status, StatusCode::OK, "a redelivery cannot fix the tenant");
    assert_eq!(summary.login_blocked.client_ids, [id.as_str()]);
    assert_eq!(
        fake.can_log_in(&id, AUDIENCE, CONNECTION, &SCOPES),
        Err(LoginRefusal::ConnectionNotDomainLevel)
    );
    // The grant is in place: promoting the connection is all that is left.
    assert_eq!(fake.user_grants_for(&id).len(), 1);
    let snapshot = health.snapshot();
    assert_eq!(snapshot.login_blocked_clients, 1);
    let problem = snapshot.last_login_blocked.expect("recorded");
    assert_eq!(problem.client_id, id);
    assert!(
        problem.reason.contains("google-oauth2"),
        "{}",
        problem.reason
    );
    let warn = log_lines_for(&id)
        .into_iter()
        .find(|l| l.contains("WARN") && l.contains("not domain-level"))
        .expect("a WARN line with the fix");
    assert!(warn.contains("is_domain_connection"), "{warn}");

    fake.set_domain_connection("con_google", true);
    assert_eq!(fake.can_log_in(&id, AUDIENCE, CONNECTION, &SCOPES), Ok(()));
}

#[tokio::test]
async fn chatgpt_named_clients_with_one_foreign_callback_get_no_write_and_are_logged() {
    for population in [Population::StrictDcr, Population::LegacyDcr] {
        let fake = tenant(true).await;
        let id = tpc_id(&format!("{population:?}-attacker"));
        let callbacks = [CHATGPT_CALLBACK, "https://attacker.example/cb"];
        fake.add_client(client(population, &id, "ChatGPT", &callbacks));
        let before = fake.client(&id);
        let webhook = webhook(
            promoter(&fake).promote_first_party(true),
            &Auth0Health::new(),
        );

        let (status, summary) = deliver(&webhook, &[dcr_entry("A1", &id)]).await;

        assert_eq!(status, StatusCode::OK, "{population:?}");
        assert_eq!(summary.skipped.client_ids, [id.as_str()]);
        assert!(
            fake.api_writes().is_empty(),
            "{population:?}: {:?}",
            fake.api_writes()
        );
        assert_eq!(fake.client(&id), before);
        let line = log_lines_for(&id)
            .into_iter()
            .find(|l| l.contains("possible attack"))
            .unwrap_or_else(|| panic!("{population:?}: no attack line"));
        assert!(
            line.contains("WARN")
                && line.contains("https://attacker.example/cb")
                && line.contains("ChatGPT"),
            "{line}"
        );
    }
}

#[tokio::test]
async fn admin_created_third_party_clients_are_never_promoted_from_a_create_client_event() {
    let fake = tenant(true).await;
    // An admin's strict app and a legacy-tenant app, both named and called back like ChatGPT.
    let strict = tpc_id("admin-strict");
    let mut admin_strict = chatgpt_client(Population::StrictDcr, &strict);
    admin_strict["external_metadata_type"] = Value::Null;
    admin_strict["external_metadata_created_by"] = Value::Null;
    fake.add_client(admin_strict);
    let legacy = "AdminLegacyClient00001".to_owned();
    fake.add_client(chatgpt_client(Population::LegacyDcr, &legacy));
    let webhook = webhook(
        promoter(&fake).promote_first_party(true),
        &Auth0Health::new(),
    );

    let (status, summary) = deliver(
        &webhook,
        &[
            create_client_entry("M1", &strict),
            create_client_entry("M2", &legacy),
        ],
    )
    .await;

    assert_eq!(status, StatusCode::OK);
    assert_eq!(summary.skipped.count, 2);
    assert!(fake.api_writes().is_empty(), "{:?}", fake.api_writes());
    assert_eq!(fake.client(&legacy)["is_first_party"], false);
}
