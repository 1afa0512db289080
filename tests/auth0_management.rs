//! ManagementClient and DcrPromoter against the stateful fake Auth0 on loopback.
#![cfg(feature = "auth0")]

mod support;
use support::fake_auth0;

use std::time::{Duration, Instant};

use axum::http::Method;
use fake_auth0::{
    FakeAuth0, FaultKind, MGMT_CLIENT_ID, MGMT_CLIENT_SECRET, TENANT,
    legacy_dcr_client as dcr_client, quick_retries,
};
use serde_json::json;
use tower_mcp_auth::ClientSecret;
use tower_mcp_auth::auth0::{
    Auth0Health, DcrPromoter, DcrSignal, ManagementClient, ManagementError, NameFilter,
    PromotionOutcome, PromotionTarget, SkipReason,
};

const DCR: DcrSignal = DcrSignal::SapiDescription;

const AUDIENCE: &str = "https://inner.app/api";
const SCOPES: [&str; 3] = [
    "inner.dreams:read",
    "inner.dreams:write",
    "inner.events:read",
];

fn mgmt(fake: &FakeAuth0) -> ManagementClient {
    fake.management_client(Duration::from_millis(300))
        .build()
        .expect("valid config")
}

async fn tenant() -> FakeAuth0 {
    let fake = FakeAuth0::start().await;
    fake.add_connection("con_google", "google-oauth2");
    fake.add_api(AUDIENCE, &SCOPES);
    fake
}

/// The seeds' promotion of legacy clients, first-party included (the opt-in).
fn promoter(fake: &FakeAuth0) -> DcrPromoter {
    DcrPromoter::builder(mgmt(fake), AUDIENCE, SCOPES)
        .connections(["google-oauth2"])
        .promote_first_party(true)
        .build()
}

#[tokio::test]
async fn concurrent_callers_share_one_token_request() {
    let fake = tenant().await;
    for i in 0..10 {
        fake.add_client(dcr_client(&format!("c{i}"), "ChatGPT"));
    }
    let client = mgmt(&fake);
    let calls = (0..10).map(|i| {
        let client = client.clone();
        async move { client.get_client(&format!("c{i}")).await }
    });
    let results = futures_util::future::join_all(calls).await;
    assert!(results.iter().all(Result::is_ok));
    assert_eq!(fake.token_requests(), 1);
    client
        .get_client("c0")
        .await
        .expect("cached token still works");
    assert_eq!(fake.token_requests(), 1);
}

#[tokio::test]
async fn expired_token_is_dropped_and_the_call_retried_once_with_a_fresh_one() {
    let fake = tenant().await;
    fake.add_client(dcr_client("c1", "ChatGPT"));
    let client = mgmt(&fake);
    client.get_client("c1").await.expect("first call");
    fake.expire_tokens();
    let got = client.get_client("c1").await.expect("refreshed");
    assert_eq!(got.client_id, "c1");
    assert_eq!(fake.token_requests(), 2);
    let statuses: Vec<u16> = fake.api_calls().iter().map(|c| c.status).collect();
    assert_eq!(statuses, [200, 401, 200]);
}

#[tokio::test]
async fn rate_limited_call_waits_until_x_ratelimit_reset_then_succeeds() {
    let fake = tenant().await;
    fake.add_client(dcr_client("c1", "ChatGPT"));
    // Reset two epoch seconds ahead: at least one whole second to wait, whatever the rounding.
    fake.inject(
        Some(Method::GET),
        "/api/v2/clients/",
        1,
        FaultKind::RateLimited { reset_in_secs: 2 },
    );
    let started = Instant::now();
    let got = mgmt(&fake)
        .get_client("c1")
        .await
        .expect("succeeds after the 429");
    assert_eq!(got.name, "ChatGPT");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "X-RateLimit-Reset honoured"
    );
    let statuses: Vec<u16> = fake.api_calls().iter().map(|c| c.status).collect();
    assert_eq!(statuses, [429, 200]);
}

#[tokio::test]
async fn persistent_server_errors_give_up_after_the_attempt_bound() {
    let fake = tenant().await;
    fake.add_client(dcr_client("c1", "ChatGPT"));
    fake.inject(None, "/api/v2/", 100, FaultKind::ServerError);
    let err = mgmt(&fake).get_client("c1").await.expect_err("500 forever");
    assert_eq!(
        err,
        ManagementError::Api {
            operation: "get_client",
            status: 500,
            error_code: Some("internal_error".into()),
            message: "Internal error".into(),
        }
    );
    assert_eq!(fake.api_calls().len(), 4);
}

#[tokio::test]
async fn slow_answer_times_out_and_is_retried() {
    let fake = tenant().await;
    fake.add_client(dcr_client("c1", "ChatGPT"));
    fake.inject(
        None,
        "/api/v2/clients/",
        1,
        FaultKind::Slow(Duration::from_secs(2)),
    );
    let got = mgmt(&fake)
        .get_client("c1")
        .await
        .expect("second attempt answers");
    assert_eq!(got.client_id, "c1");
}

#[tokio::test]
async fn other_client_errors_are_typed_and_not_retried() {
    let fake = tenant().await;
    let err = mgmt(&fake).get_client("missing").await.expect_err("404");
    assert!(err.is_not_found());
    assert_eq!(err.short_code(), "inexistent_client");
    assert_eq!(fake.api_calls().len(), 1);
}

#[tokio::test]
async fn refused_credentials_never_show_the_secret_or_a_token() {
    let fake = tenant().await;
    let client = ManagementClient::builder(TENANT)
        .client_credentials(MGMT_CLIENT_ID, ClientSecret::new("wrong-secret-value"))
        .base_url(&fake.base_url)
        .retry_policy(quick_retries())
        .build()
        .expect("valid config");
    let err = client
        .get_client("c1")
        .await
        .expect_err("401 at the token endpoint");
    assert!(matches!(err, ManagementError::Token { status: 401, .. }));
    let shown = format!("{err} {err:?} {client:?}");
    assert!(!shown.contains("wrong-secret-value"));
    assert!(!shown.contains("fake-mgmt-token"));
}

#[tokio::test]
async fn promotion_sets_client_fields_enables_connection_and_grants_all_scopes() {
    let fake = tenant().await;
    fake.add_client(dcr_client("dcr1", "ChatGPT connector"));
    let outcome = promoter(&fake)
        .promote("dcr1", DCR)
        .await
        .expect("promoted");
    let PromotionOutcome::Promoted(changes) = outcome else {
        panic!("expected Promoted, got {outcome:?}");
    };
    assert!(changes.client_patched && changes.grant_created);
    assert_eq!(changes.connections_enabled, ["google-oauth2"]);

    let client = fake.client("dcr1");
    assert_eq!(client["app_type"], "regular_web");
    assert_eq!(
        client["grant_types"],
        json!(["authorization_code", "refresh_token"])
    );
    assert_eq!(client["token_endpoint_auth_method"], "none");
    assert_eq!(client["is_first_party"], true);
    assert_eq!(
        client["client_metadata"],
        json!({"tower_mcp_auth": "dcr-promoted"})
    );
    assert!(fake.enabled_clients("con_google").contains("dcr1"));
    let grants = fake.grants_for("dcr1");
    assert_eq!(grants.len(), 1);
    assert_eq!(grants[0].audience, AUDIENCE);
    assert_eq!(grants[0].scope, SCOPES);
}

#[tokio::test]
async fn second_promotion_sends_no_write() {
    let fake = tenant().await;
    fake.add_client(dcr_client("dcr1", "ChatGPT"));
    let promoter = promoter(&fake);
    promoter.promote("dcr1", DCR).await.expect("first run");
    fake.clear_calls();
    let outcome = promoter.promote("dcr1", DCR).await.expect("second run");
    assert_eq!(outcome, PromotionOutcome::AlreadyPromoted);
    assert!(
        fake.api_writes().is_empty(),
        "writes: {:?}",
        fake.api_writes()
    );
}

#[tokio::test]
async fn existing_grant_gets_missing_scopes_added_and_keeps_extras() {
    let fake = tenant().await;
    fake.add_client(dcr_client("dcr1", "ChatGPT"));
    fake.add_grant(
        "dcr1",
        AUDIENCE,
        &["inner.dreams:read", "admin:extra"],
        "user",
    );
    let outcome = promoter(&fake)
        .promote("dcr1", DCR)
        .await
        .expect("promoted");
    let PromotionOutcome::Promoted(changes) = outcome else {
        panic!("expected Promoted, got {outcome:?}");
    };
    assert!(!changes.grant_created);
    assert_eq!(
        changes.scopes_added,
        ["inner.dreams:write", "inner.events:read"]
    );
    let grants = fake.grants_for("dcr1");
    assert_eq!(grants.len(), 1);
    assert_eq!(
        grants[0].scope,
        [
            "inner.dreams:read",
            "admin:extra",
            "inner.dreams:write",
            "inner.events:read"
        ]
    );
}

#[tokio::test]
async fn grant_conflict_409_is_resolved_by_patching_in_missing_scopes() {
    let fake = tenant().await;
    fake.add_client(dcr_client("dcr1", "ChatGPT"));
    fake.race_next_grant_create(&["inner.events:read", "someone:else"]);
    promoter(&fake)
        .promote("dcr1", DCR)
        .await
        .expect("promoted despite the 409");
    let grant_calls: Vec<(Method, u16)> = fake
        .api_calls()
        .into_iter()
        .filter(|c| c.path.starts_with("/api/v2/client-grants") && c.method != Method::GET)
        .map(|c| (c.method, c.status))
        .collect();
    assert_eq!(grant_calls, [(Method::POST, 409), (Method::PATCH, 200)]);
    let grants = fake.grants_for("dcr1");
    assert_eq!(grants.len(), 1);
    assert_eq!(
        grants[0].scope,
        [
            "inner.events:read",
            "someone:else",
            "inner.dreams:read",
            "inner.dreams:write"
        ]
    );
}

#[tokio::test]
async fn client_whose_name_does_not_match_is_skipped_untouched() {
    let fake = tenant().await;
    fake.add_client(dcr_client("other", "Some other DCR app"));
    let promoter = DcrPromoter::builder(mgmt(&fake), AUDIENCE, SCOPES)
        .name_filter(NameFilter::contains("chatgpt"))
        .build();
    let outcome = promoter.promote("other", DCR).await.expect("skipped");
    assert_eq!(
        outcome,
        PromotionOutcome::Skipped(SkipReason::NameNotMatched {
            name: "Some other DCR app".into()
        })
    );
    assert!(fake.api_writes().is_empty());
}

#[tokio::test]
async fn hand_made_first_party_app_is_never_changed() {
    let fake = tenant().await;
    let mut app = dcr_client("handmade", "ChatGPT internal tool");
    app["is_first_party"] = json!(true);
    fake.add_client(app.clone());
    let outcome = promoter(&fake)
        .promote("handmade", DCR)
        .await
        .expect("skipped");
    assert_eq!(
        outcome,
        PromotionOutcome::Skipped(SkipReason::HandMadeFirstParty)
    );
    assert!(fake.api_writes().is_empty());
    assert_eq!(fake.client("handmade"), app);
}

#[tokio::test]
async fn legacy_client_stays_third_party_by_default_and_target_fields_are_configurable() {
    let fake = tenant().await;
    fake.add_client(dcr_client("dcr1", "ChatGPT"));
    let promoter = DcrPromoter::builder(mgmt(&fake), AUDIENCE, SCOPES)
        .target(PromotionTarget {
            app_type: Some("spa".into()),
            ..PromotionTarget::default()
        })
        .build();
    promoter.promote("dcr1", DCR).await.expect("promoted");
    assert_eq!(fake.client("dcr1")["is_first_party"], false);
    assert_eq!(fake.client("dcr1")["app_type"], "spa");
    assert_eq!(fake.client("dcr1")["token_endpoint_auth_method"], "none");
    let patch = fake
        .api_writes()
        .into_iter()
        .find(|c| c.path == "/api/v2/clients/dcr1")
        .expect("patched");
    assert!(patch.body.get("is_first_party").is_none(), "{}", patch.body);
    fake.clear_calls();
    assert_eq!(
        promoter.promote("dcr1", DCR).await.expect("again"),
        PromotionOutcome::AlreadyPromoted
    );
    assert!(fake.api_writes().is_empty());
}

#[tokio::test]
async fn deleted_client_is_skipped_not_failed() {
    let fake = tenant().await;
    let outcome = promoter(&fake).promote("gone", DCR).await.expect("skipped");
    assert_eq!(outcome, PromotionOutcome::Skipped(SkipReason::NotFound));
}

#[tokio::test]
async fn client_connections_are_read_across_every_page() {
    let fake = tenant().await;
    fake.add_client(dcr_client("c1", "ChatGPT"));
    for i in 0..120 {
        let id = format!("con_{i:03}");
        fake.add_connection(&id, &format!("conn-{i:03}"));
        fake.enable_directly(&id, "c1");
    }
    let connections = mgmt(&fake).client_connections("c1").await.expect("listed");
    assert_eq!(connections.len(), 120);
    let pages = fake
        .api_calls()
        .iter()
        .filter(|c| c.path == "/api/v2/clients/c1/connections")
        .count();
    assert_eq!(pages, 3);
}

#[tokio::test]
async fn enabling_a_client_keeps_every_other_enabled_client() {
    let fake = tenant().await;
    fake.enable_directly("con_google", "someone-else");
    fake.add_client(dcr_client("dcr1", "ChatGPT"));
    promoter(&fake)
        .promote("dcr1", DCR)
        .await
        .expect("promoted");
    let enabled: Vec<String> = fake.enabled_clients("con_google").into_iter().collect();
    assert_eq!(enabled, ["dcr1", "someone-else"]);
    let enable_call = fake
        .api_writes()
        .into_iter()
        .find(|c| c.path == "/api/v2/connections/con_google/clients")
        .expect("per-client endpoint used");
    assert_eq!(
        enable_call.body,
        json!([{"client_id": "dcr1", "status": true}])
    );
}

#[tokio::test]
async fn unknown_connection_name_is_a_typed_error() {
    let fake = tenant().await;
    fake.add_client(dcr_client("dcr1", "ChatGPT"));
    let promoter = DcrPromoter::builder(mgmt(&fake), AUDIENCE, SCOPES)
        .connections(["no-such-connection"])
        .build();
    let err = promoter
        .promote("dcr1", DCR)
        .await
        .expect_err("misconfigured");
    assert_eq!(
        err,
        ManagementError::ConnectionNotFound {
            name: "no-such-connection".into()
        }
    );
}

#[tokio::test]
async fn health_records_the_last_call_with_its_status() {
    let fake = tenant().await;
    fake.add_client(dcr_client("c1", "ChatGPT"));
    let health = Auth0Health::new();
    let client = ManagementClient::builder(TENANT)
        .client_credentials(MGMT_CLIENT_ID, ClientSecret::new(MGMT_CLIENT_SECRET))
        .base_url(&fake.base_url)
        .retry_policy(quick_retries())
        .health(health.clone())
        .build()
        .expect("valid config");
    client.get_client("c1").await.expect("found");
    let ok = health.snapshot().last_management_call.expect("recorded");
    assert_eq!(
        (ok.operation, ok.ok, ok.status, ok.error),
        ("get_client", true, Some(200), None)
    );
    client.get_client("missing").await.expect_err("404");
    let snap = health.snapshot();
    let failed = snap.last_management_call.expect("recorded");
    assert_eq!(
        (failed.ok, failed.status, failed.error.as_deref()),
        (false, Some(404), Some("inexistent_client"))
    );
    assert!(snap.last_management_success_at.is_some());
}
