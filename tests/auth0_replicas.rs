//! Two gateway replicas (two webhook services, each with its own Management API client and
//! memory) behind one load balancer: Auth0 redelivers a batch and the two halves land on
//! different replicas at once, every client in both halves. Each qualifying client must end
//! with exactly one user grant holding the union of what was there and the policy's scopes —
//! nothing lost, nothing doubled — and a `client` grant someone made before stays as it was.
#![cfg(feature = "auth0")]

mod support;
use log_webhook::{CONNECTION, SECRET};
use support::{fake_auth0, log_webhook};

use std::time::Duration;

use fake_auth0::{FakeAuth0, FaultKind, Population, chatgpt_client, dcr_entry, tpc_id};
use http::StatusCode;
use serde_json::Value;
use tower_mcp_auth::auth0::{Auth0LogWebhookService, WebhookSummary};

const AUDIENCE: &str = "https://gateway.example.com/mcp";
const SCOPES: [&str; 3] = ["docs.read", "docs.write", "search.read"];
const CLIENTS: usize = 12;

fn replica(fake: &FakeAuth0) -> Auth0LogWebhookService {
    let promoter = log_webhook::promoter(fake, Duration::from_secs(2), AUDIENCE, &SCOPES);
    Auth0LogWebhookService::builder(SECRET, promoter.build())
        .concurrency(4)
        .build()
        .expect("non-empty secret")
}

async fn deliver(
    webhook: Auth0LogWebhookService,
    entries: Vec<Value>,
) -> (StatusCode, WebhookSummary) {
    log_webhook::deliver(&webhook, &entries).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_splitting_a_redelivered_batch_leave_exactly_one_complete_user_grant_per_client()
 {
    let fake = log_webhook::tenant(AUDIENCE, &SCOPES, true).await;
    let ids: Vec<String> = (0..CLIENTS)
        .map(|i| tpc_id(&format!("replica-{i}")))
        .collect();
    for (i, id) in ids.iter().enumerate() {
        fake.add_client(chatgpt_client(Population::StrictDcr, id));
        match i % 3 {
            // A machine grant the crate of before would have made: must stay as it is.
            0 => {
                fake.add_grant(id, AUDIENCE, &["docs.read"], "client");
            }
            // A user grant with part of the policy and a scope someone else granted.
            1 => {
                fake.add_grant(id, AUDIENCE, &["docs.read", "ops:extra"], "user");
            }
            _ => {}
        }
    }
    // Slow grant listings, so both replicas read before either writes (the race).
    fake.inject(
        None,
        "/api/v2/client-grants",
        4 * CLIENTS,
        FaultKind::Slow(Duration::from_millis(15)),
    );
    let a = replica(&fake);
    let b = replica(&fake);
    let first: Vec<Value> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| dcr_entry(&format!("A{i}"), id))
        .collect();
    let second: Vec<Value> = ids
        .iter()
        .enumerate()
        .rev()
        .map(|(i, id)| dcr_entry(&format!("B{i}"), id))
        .collect();

    let ((status_a, summary_a), (status_b, summary_b)) = tokio::join!(
        deliver(a.clone(), first.clone()),
        deliver(b.clone(), second.clone())
    );

    assert_eq!(
        (status_a, status_b),
        (StatusCode::OK, StatusCode::OK),
        "{summary_a:?} {summary_b:?}"
    );
    for summary in [&summary_a, &summary_b] {
        assert_eq!(
            summary.promoted.count + summary.already_promoted.count,
            CLIENTS,
            "{summary:?}"
        );
    }
    for (i, id) in ids.iter().enumerate() {
        let user = fake.user_grants_for(id);
        assert_eq!(user.len(), 1, "client {i}: {user:?}");
        let scope = &user[0].scope;
        for wanted in SCOPES {
            assert_eq!(
                scope.iter().filter(|s| *s == wanted).count(),
                1,
                "client {i}: {scope:?}"
            );
        }
        if i % 3 == 1 {
            assert!(
                scope.iter().any(|s| s == "ops:extra"),
                "client {i} lost a scope: {scope:?}"
            );
        }
        let machine: Vec<_> = fake
            .grants_for(id)
            .into_iter()
            .filter(|g| g.subject_type == "client")
            .collect();
        if i % 3 == 0 {
            assert_eq!(machine.len(), 1);
            assert_eq!(
                machine[0].scope,
                ["docs.read"],
                "client {i}'s machine grant changed"
            );
        } else {
            assert!(machine.is_empty());
        }
        assert_eq!(
            fake.can_log_in(id, AUDIENCE, CONNECTION, &SCOPES),
            Ok(()),
            "client {i}"
        );
    }

    // The whole batch again on both replicas: everything holds, nothing is written.
    fake.clear_calls();
    let (x, y) = tokio::join!(
        deliver(a, [first.clone(), second.clone()].concat()),
        deliver(b, [first, second].concat())
    );
    assert_eq!((x.0, y.0), (StatusCode::OK, StatusCode::OK));
    assert!(fake.api_writes().is_empty(), "{:?}", fake.api_writes());
}
