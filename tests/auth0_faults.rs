//! The Auth0 webhook against a failing Management API (slow, flapping 500/429, unexpected JSON)
//! and a flood of forged deliveries. A failed promotion answers 5xx so the log stream redelivers,
//! a half-done promotion is logged with what was done, a redelivery finishes the work, and a
//! request without the right secret costs no body read and no Management API call. The clients
//! are legacy (no security mode) with the first-party opt-in: the path with the most writes.
#![cfg(feature = "auth0")]

mod support;
use log_webhook::SECRET;
use support::{fake_auth0, log_capture, log_webhook};

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::http::Method;
use bytes::Bytes;
use fake_auth0::{FakeAuth0, FaultKind, dcr_entry, legacy_dcr_client as dcr_client};
use http::{Request, StatusCode, header};
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use log_capture::LogCapture;
use serde_json::{Value, json};
use tower::ServiceExt;
use tower_mcp_auth::auth0::{Auth0Health, Auth0LogWebhookService, WebhookSummary};

const AUDIENCE: &str = "https://inner.app/api";
const SCOPES: [&str; 2] = ["inner.dreams:read", "inner.events:read"];
const REQUEST_TIMEOUT: Duration = Duration::from_millis(300);

fn logs() -> &'static LogCapture {
    LogCapture::global()
}

/// The captured lines that mention `client_id`.
fn log_lines_for(client_id: &str) -> Vec<String> {
    logs()
        .text()
        .lines()
        .filter(|l| {
            l.contains(&format!("client_id=\"{client_id}\""))
                || l.contains(&format!("client_id={client_id} "))
        })
        .map(str::to_owned)
        .collect()
}

struct Setup {
    fake: FakeAuth0,
    webhook: Auth0LogWebhookService,
    health: Auth0Health,
}

async fn setup() -> Setup {
    logs();
    let fake = log_webhook::tenant(AUDIENCE, &SCOPES, false).await;
    let health = Auth0Health::new();
    let promoter =
        log_webhook::promoter_reporting_to(&health, &fake, REQUEST_TIMEOUT, AUDIENCE, &SCOPES)
            .promote_first_party(true)
            .build();
    let webhook = Auth0LogWebhookService::builder(SECRET, promoter)
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

async fn deliver(
    webhook: &Auth0LogWebhookService,
    entries: &[Value],
) -> (StatusCode, WebhookSummary) {
    log_webhook::deliver(webhook, entries).await
}

fn assert_fully_promoted(fake: &FakeAuth0, client_id: &str) {
    let client = fake.client(client_id);
    assert_eq!(client["app_type"], "regular_web");
    assert_eq!(client["is_first_party"], true);
    assert_eq!(
        fake.can_log_in(client_id, AUDIENCE, "google-oauth2", &SCOPES),
        Ok(())
    );
    let grants = fake.user_grants_for(client_id);
    assert_eq!(grants.len(), 1);
    assert_eq!(grants[0].audience, AUDIENCE);
    assert_eq!(grants[0].scope, SCOPES);
}

/// The ERROR and the partial-promotion WARN lines of a failed promotion of `client_id`.
fn assert_failure_logged(client_id: &str, partial: bool) {
    let lines = log_lines_for(client_id);
    assert!(
        lines.iter().any(|l| l.contains("ERROR")
            && l.contains("promotion failed; the batch will be redelivered")),
        "no failure line for {client_id}:\n{}",
        lines.join("\n")
    );
    let partial_line = lines
        .iter()
        .find(|l| l.contains("client partially promoted"));
    assert_eq!(partial_line.is_some(), partial, "{}", lines.join("\n"));
    if let Some(line) = partial_line {
        assert!(
            line.contains("WARN") && line.contains("client_patched: true"),
            "{line}"
        );
    }
}

fn flap(fake: &FakeAuth0, method: Option<Method>, path: &str, times: usize) {
    for i in 0..times {
        let kind = if i % 2 == 0 {
            FaultKind::ServerError
        } else {
            FaultKind::RateLimited { reset_in_secs: 0 }
        };
        fake.inject(method.clone(), path, 1, kind);
    }
}

#[tokio::test]
async fn flapping_management_api_within_the_retry_bound_promotes_in_one_delivery() {
    let s = setup().await;
    s.fake.add_client(dcr_client("flap-ok", "ChatGPT"));
    // 500, 429, 500 on every kind of call, then the API recovers.
    flap(&s.fake, None, "/api/v2/", 3);

    let (status, summary) = deliver(&s.webhook, &[dcr_entry("FO1", "flap-ok")]).await;

    assert_eq!(status, StatusCode::OK);
    assert_eq!(summary.promoted.client_ids, ["flap-ok"]);
    let statuses: Vec<u16> = s
        .fake
        .api_calls()
        .iter()
        .take(4)
        .map(|c| c.status)
        .collect();
    assert_eq!(statuses, [500, 429, 500, 200]);
    assert_fully_promoted(&s.fake, "flap-ok");
}

#[tokio::test]
async fn flapping_grant_calls_leave_a_logged_partial_promotion_that_a_redelivery_finishes() {
    let s = setup().await;
    s.fake.add_client(dcr_client("flap-grant", "ChatGPT"));
    // The client PATCH and the connection succeed; every grant call flaps past the retry bound.
    flap(&s.fake, None, "/api/v2/client-grants", 4);
    let batch = [dcr_entry("FG1", "flap-grant")];

    let (status, summary) = deliver(&s.webhook, &batch).await;

    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(summary.failed.client_ids, ["flap-grant"]);
    assert!(s.fake.grants_for("flap-grant").is_empty());
    assert_eq!(
        s.fake.client("flap-grant")["is_first_party"],
        true,
        "the PATCH went through"
    );
    assert_failure_logged("flap-grant", true);
    let last = s.health.snapshot().last_management_call.expect("recorded");
    assert!(last.at > 0);

    let (status, summary) = deliver(&s.webhook, &batch).await;

    assert_eq!(status, StatusCode::OK);
    assert_eq!(summary.promoted.client_ids, ["flap-grant"]);
    assert_fully_promoted(&s.fake, "flap-grant");
}

#[tokio::test]
async fn slow_management_api_times_out_within_the_bound_and_a_redelivery_finishes() {
    let s = setup().await;
    s.fake.add_client(dcr_client("slow-conn", "ChatGPT"));
    // Every attempt to enable the connection outlives the request timeout.
    s.fake.inject(
        Some(Method::PATCH),
        "/api/v2/connections/",
        4,
        FaultKind::Slow(REQUEST_TIMEOUT * 3),
    );
    let batch = [dcr_entry("SC1", "slow-conn")];

    let started = Instant::now();
    let (status, summary) = deliver(&s.webhook, &batch).await;
    let took = started.elapsed();

    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(summary.failed.client_ids, ["slow-conn"]);
    // Four attempts of 300 ms plus short back-offs, far under the 5 s bound on retries.
    assert!(took < Duration::from_secs(3), "took {took:?}");
    assert!(!s.fake.enabled_clients("con_google").contains("slow-conn"));
    assert_failure_logged("slow-conn", true);

    let (status, summary) = deliver(&s.webhook, &batch).await;

    assert_eq!(status, StatusCode::OK);
    assert_eq!(summary.promoted.client_ids, ["slow-conn"]);
    assert_fully_promoted(&s.fake, "slow-conn");
}

#[tokio::test]
async fn unexpected_json_for_the_client_is_a_503_with_no_write_and_a_redelivery_finishes() {
    let s = setup().await;
    let bodies = [
        "<html><body>502 Bad Gateway</body></html>",
        "[]",
        "{}",
        r#"{"unexpected": true}"#,
        r#"{"client_id": 5, "name": ["not", "a", "string"]}"#,
        r#"{"client_id": "someone-else", "name": "ChatGPT"}"#,
        "",
    ];
    for (i, body) in bodies.into_iter().enumerate() {
        let client_id = format!("odd-json-{i}");
        s.fake.add_client(dcr_client(&client_id, "ChatGPT"));
        s.fake.inject(
            Some(Method::GET),
            &format!("/api/v2/clients/{client_id}"),
            1,
            FaultKind::Body { status: 200, body },
        );
        s.fake.clear_calls();
        let batch = [dcr_entry(&format!("OJ{i}"), &client_id)];

        let (status, summary) = deliver(&s.webhook, &batch).await;

        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert_eq!(summary.failed.client_ids, [client_id.as_str()]);
        assert!(s.fake.api_writes().is_empty(), "{body}: nothing written");
        assert_failure_logged(&client_id, false);

        let (status, summary) = deliver(&s.webhook, &batch).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(summary.promoted.client_ids, [client_id.as_str()]);
        assert_fully_promoted(&s.fake, &client_id);
    }
}

#[tokio::test]
async fn unexpected_json_mid_promotion_is_logged_as_partial_and_a_redelivery_finishes() {
    let s = setup().await;
    s.fake.add_client(dcr_client("odd-conns", "ChatGPT"));
    s.fake.inject(
        Some(Method::GET),
        "/api/v2/clients/odd-conns/connections",
        1,
        FaultKind::Body {
            status: 200,
            body: r#"{"connections": "all of them"}"#,
        },
    );
    let batch = [dcr_entry("OC1", "odd-conns")];

    let (status, summary) = deliver(&s.webhook, &batch).await;

    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(summary.failed.client_ids, ["odd-conns"]);
    assert_failure_logged("odd-conns", true);

    let (status, summary) = deliver(&s.webhook, &batch).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(summary.promoted.client_ids, ["odd-conns"]);
    assert_fully_promoted(&s.fake, "odd-conns");
}

/// A request body that must never be read: it counts polls, declares a huge length and fails.
struct Tripwire {
    polls: Arc<AtomicUsize>,
}

impl Body for Tripwire {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        self.polls.fetch_add(1, Ordering::SeqCst);
        Poll::Ready(Some(Err(std::io::Error::other("the body was read"))))
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(1 << 40)
    }
}

#[tokio::test]
async fn a_thousand_forged_deliveries_cost_no_body_read_and_no_management_call() {
    let s = setup().await;
    let polls = Arc::new(AtomicUsize::new(0));
    let forged = [
        (
            header::AUTHORIZATION.as_str(),
            "Bearer not-the-secret".to_owned(),
        ),
        (
            header::AUTHORIZATION.as_str(),
            format!("Bearer {}X", &SECRET[..SECRET.len() - 1]),
        ),
        (
            header::AUTHORIZATION.as_str(),
            format!("Bearer {SECRET}{SECRET}"),
        ),
        (header::AUTHORIZATION.as_str(), format!("Basic {SECRET}")),
        ("x-webhook-secret", "log-webhook-shared-secreT".to_owned()),
    ];

    let started = Instant::now();
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    for i in 0..1000 {
        let (name, value) = &forged[i % forged.len()];
        let request = Request::builder()
            .method(Method::POST)
            .uri("/auth0-log-webhook")
            .header(*name, value)
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::CONTENT_LENGTH, 1u64 << 40)
            .body(Tripwire {
                polls: Arc::clone(&polls),
            })
            .expect("request");
        let response = s
            .webhook
            .clone()
            .oneshot(request)
            .await
            .expect("infallible");
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        if status == StatusCode::FORBIDDEN {
            assert_eq!(
                serde_json::from_slice::<Value>(&body).expect("json"),
                json!({"error": "invalid_webhook_secret"})
            );
        }
        *statuses.entry(status.as_u16()).or_default() += 1;
    }
    let took = started.elapsed();

    assert_eq!(statuses, [(403, 1000)].into_iter().collect());
    assert_eq!(
        polls.load(Ordering::SeqCst),
        0,
        "a forged delivery's body was read"
    );
    assert!(s.fake.calls().is_empty(), "a forged delivery reached Auth0");
    assert_eq!(s.health.snapshot().last_event_at, None);
    assert!(
        took < Duration::from_secs(5),
        "1 000 refusals took {took:?}"
    );
}
