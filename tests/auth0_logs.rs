//! What the Auth0 webhook writes to the logs: the operator-facing lines with their fields, and
//! never a secret or a token. Its own test binary, because it installs the global subscriber.
#![cfg(feature = "auth0")]

mod support;
use support::{fake_auth0, log_capture};

use std::time::Duration;

use axum::http::Method;
use bytes::Bytes;
use fake_auth0::{
    FakeAuth0, FaultKind, MGMT_CLIENT_ID, MGMT_CLIENT_SECRET, TENANT, dcr_entry,
    legacy_dcr_client as dcr_client,
};
use http::{Request, StatusCode, header};
use http_body_util::Full;
use log_capture::LogCapture;
use tower::ServiceExt;
use tower_mcp_auth::ClientSecret;
use tower_mcp_auth::auth0::{Auth0LogWebhookService, DcrPromoter, ManagementClient, RetryPolicy};

const SECRET: &str = "log-webhook-shared-secret";
const AUDIENCE: &str = "https://inner.app/api";

fn webhook(fake: &FakeAuth0) -> Auth0LogWebhookService {
    let mgmt = ManagementClient::builder(TENANT)
        .client_credentials(MGMT_CLIENT_ID, ClientSecret::new(MGMT_CLIENT_SECRET))
        .base_url(&fake.base_url)
        .retry_policy(RetryPolicy::default().base_delay(Duration::from_millis(1)))
        .build()
        .expect("valid config");
    let promoter = DcrPromoter::builder(mgmt, AUDIENCE, ["inner.dreams:read", "inner.events:read"])
        .connections(["google-oauth2"])
        .promote_first_party(true)
        .build();
    Auth0LogWebhookService::builder(SECRET, promoter)
        .build()
        .expect("non-empty secret")
}

async fn post(webhook: &Auth0LogWebhookService, authorization: &str, body: Vec<u8>) -> StatusCode {
    let request = Request::builder()
        .method(Method::POST)
        .uri("/auth0-log-webhook")
        .header(header::AUTHORIZATION, authorization)
        .body(Full::new(Bytes::from(body)))
        .expect("request");
    webhook
        .clone()
        .oneshot(request)
        .await
        .expect("infallible")
        .status()
}

#[tokio::test]
async fn logs_name_client_audience_and_scopes_but_never_a_secret_or_token() {
    let capture = LogCapture::default();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter("tower_mcp_auth=trace")
        .with_writer(capture.clone())
        .with_ansi(false)
        .finish();
    // Global, and alone in this test binary: a thread-local subscriber misses events whose
    // callsite interest another test thread cached first.
    tracing::subscriber::set_global_default(subscriber).expect("first subscriber");

    let fake = FakeAuth0::start().await;
    fake.add_connection("con_google", "google-oauth2");
    fake.add_api(AUDIENCE, &["inner.dreams:read", "inner.events:read"]);
    let webhook = webhook(&fake);
    fake.add_client(dcr_client("dcr1", "ChatGPT"));
    fake.expire_tokens_after_api_calls(2);
    fake.inject(
        Some(Method::POST),
        "/api/v2/client-grants",
        1,
        FaultKind::ServerError,
    );
    let batch = serde_json::to_vec(&[dcr_entry("L1", "dcr1")]).expect("json");
    assert_eq!(
        post(&webhook, &format!("Bearer {SECRET}"), batch).await,
        StatusCode::OK
    );
    let refused = post(&webhook, "Bearer wrong-secret-attempt", Vec::new()).await;
    assert_eq!(refused, StatusCode::FORBIDDEN);

    let logs = String::from_utf8(capture.0.lock().expect("log buffer").clone()).expect("utf8");
    for line in [
        "promoting client",
        "created client grant",
        "client promoted",
    ] {
        let found = logs
            .lines()
            .find(|l| l.contains(line))
            .unwrap_or_else(|| panic!("no `{line}` in:\n{logs}"));
        assert!(
            found.contains("client_id=\"dcr1\"") || found.contains("client_id=dcr1"),
            "{found}"
        );
    }
    let granted = logs
        .lines()
        .find(|l| l.contains("client promoted"))
        .expect("line");
    assert!(
        granted.contains(AUDIENCE)
            && granted.contains("scopes=")
            && granted.contains("inner.events:read"),
        "{granted}"
    );
    for secret in [
        MGMT_CLIENT_SECRET,
        SECRET,
        "wrong-secret-attempt",
        "fake-mgmt-token",
    ] {
        assert!(
            !logs.contains(secret),
            "`{secret}` leaked into the logs:\n{logs}"
        );
    }
}
