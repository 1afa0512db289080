//! Driving `Auth0LogWebhookService` against the fake Auth0: the tenant a 2026 set-up leaves
//! (the login connection and the API), the promoter and webhook built on its Management API,
//! and a delivery made the way an Auth0 log stream makes it (a JSON array of log events, POSTed
//! with the shared secret as a bearer token).

use std::time::Duration;

use axum::http::Method;
use bytes::Bytes;
use http::{Request, StatusCode, header};
use http_body_util::{BodyExt, Full};
use serde_json::Value;
use tower::ServiceExt;
use tower_mcp_auth::auth0::{
    Auth0Health, Auth0LogWebhookService, DcrPromoter, DcrPromoterBuilder, ManagementClientBuilder,
    WebhookSummary,
};

use super::fake_auth0::FakeAuth0;

/// The log stream's shared secret (its `Authorization: Bearer` value).
pub const SECRET: &str = "log-webhook-shared-secret";
/// The login connection's name; its id in the fake is [`CONNECTION_ID`].
pub const CONNECTION: &str = "google-oauth2";
/// The login connection's id in the fake.
pub const CONNECTION_ID: &str = "con_google";

/// A tenant with the login connection (domain-level or not) and the API `audience` with
/// `scopes`.
pub async fn tenant(audience: &str, scopes: &[&str], domain_level: bool) -> FakeAuth0 {
    let fake = FakeAuth0::start().await;
    fake.add_connection(CONNECTION_ID, CONNECTION);
    fake.set_domain_connection(CONNECTION_ID, domain_level);
    fake.add_api(audience, scopes);
    fake
}

/// A promoter for `audience` and `scopes` enabling [`CONNECTION`], on a Management API client
/// of the fake with `request_timeout`.
pub fn promoter(
    fake: &FakeAuth0,
    request_timeout: Duration,
    audience: &str,
    scopes: &[&str],
) -> DcrPromoterBuilder {
    promoter_on(fake.management_client(request_timeout), audience, scopes)
}

/// [`promoter`], its Management API client reporting to `health` too.
pub fn promoter_reporting_to(
    health: &Auth0Health,
    fake: &FakeAuth0,
    request_timeout: Duration,
    audience: &str,
    scopes: &[&str],
) -> DcrPromoterBuilder {
    let client = fake
        .management_client(request_timeout)
        .health(health.clone());
    promoter_on(client, audience, scopes)
}

fn promoter_on(
    client: ManagementClientBuilder,
    audience: &str,
    scopes: &[&str],
) -> DcrPromoterBuilder {
    let mgmt = client.build().expect("valid config");
    DcrPromoter::builder(mgmt, audience, scopes.iter().copied()).connections([CONNECTION])
}

/// The webhook with [`SECRET`] reporting to `health`.
pub fn webhook(promoter: DcrPromoterBuilder, health: &Auth0Health) -> Auth0LogWebhookService {
    Auth0LogWebhookService::builder(SECRET, promoter.build())
        .health(health.clone())
        .build()
        .expect("non-empty secret")
}

/// Delivers `entries` as one batch; the status and the summary the webhook answers.
pub async fn deliver(
    webhook: &Auth0LogWebhookService,
    entries: &[Value],
) -> (StatusCode, WebhookSummary) {
    let request = Request::builder()
        .method(Method::POST)
        .uri("/auth0-log-webhook")
        .header(header::AUTHORIZATION, format!("Bearer {SECRET}"))
        .header(header::CONTENT_TYPE, "application/json")
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
