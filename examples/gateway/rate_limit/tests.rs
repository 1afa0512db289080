use std::time::Duration;

use axum::body::to_bytes;
use governor::clock::FakeRelativeClock;
use serde_json::json;

use super::settings::parse_rate;
use super::*;

fn token(sub: &str, client: &str) -> AccessToken {
    AccessToken::from_claims(json!({
        "iss": "https://tenant.test/", "sub": sub, "aud": "https://api.test",
        "exp": 4_102_444_800u64, "azp": client,
    }))
    .unwrap()
}

fn limits(settings: RateLimitSettings) -> (RateLimits<FakeRelativeClock>, FakeRelativeClock) {
    let clock = FakeRelativeClock::default();
    (
        RateLimits::with_clock(&settings, clock.clone()).unwrap(),
        clock,
    )
}

fn per_user(rate: &str) -> RateLimitSettings {
    RateLimitSettings {
        per_user: Some(parse_rate(rate).unwrap()),
        ..RateLimitSettings::default()
    }
}

#[test]
fn no_setting_means_no_limiter() {
    assert!(RateLimits::new(&RateLimitSettings::default()).is_none());
}

#[test]
fn a_burst_over_the_user_limit_is_refused_for_that_user_only() {
    let (limits, clock) = limits(per_user("3/min"));
    let alice = token("auth0|alice", "chatgpt");
    let bob = token("auth0|bob", "chatgpt");
    for _ in 0..3 {
        assert_eq!(limits.check(&alice, &[]), Ok(()));
    }
    let refused = limits.check(&alice, &[]).unwrap_err();
    assert_eq!(refused.limit, "user");
    assert_eq!(
        refused.retry_after,
        Duration::from_secs(20),
        "one request per 20 s"
    );
    assert_eq!(
        limits.check(&bob, &[]),
        Ok(()),
        "another user is unaffected"
    );
    clock.advance(Duration::from_secs(20));
    assert_eq!(
        limits.check(&alice, &[]),
        Ok(()),
        "replenished after Retry-After"
    );
}

#[test]
fn the_same_subject_at_another_issuer_is_another_user() {
    let (limits, _) = limits(per_user("1/min"));
    let here = token("auth0|alice", "c");
    let mut claims = here.claims().clone();
    claims.insert("iss".into(), json!("https://other.test/"));
    let there = AccessToken::from_claims(serde_json::Value::Object(claims)).unwrap();
    assert_eq!(limits.check(&here, &[]), Ok(()));
    assert_eq!(limits.check(&there, &[]), Ok(()));
    assert!(limits.check(&here, &[]).is_err());
}

#[test]
fn tool_limits_count_each_users_calls_of_that_tool() {
    let (limits, _) = limits(RateLimitSettings {
        per_tool: vec![("search".into(), parse_rate("2/min").unwrap())],
        ..RateLimitSettings::default()
    });
    let alice = token("auth0|alice", "c");
    let search = ["search".to_owned()];
    let other = ["docs.create".to_owned()];
    assert_eq!(limits.check(&alice, &search), Ok(()));
    assert_eq!(limits.check(&alice, &search), Ok(()));
    assert_eq!(limits.check(&alice, &search).unwrap_err().limit, "tool");
    assert_eq!(
        limits.check(&alice, &other),
        Ok(()),
        "an unlisted tool has no limit"
    );
    assert_eq!(limits.check(&token("auth0|bob", "c"), &search), Ok(()));
}

#[test]
fn client_limits_are_shared_by_every_user_of_the_client() {
    let (limits, _) = limits(RateLimitSettings {
        per_client: Some(parse_rate("2/min").unwrap()),
        ..RateLimitSettings::default()
    });
    assert_eq!(limits.check(&token("a", "runaway"), &[]), Ok(()));
    assert_eq!(limits.check(&token("b", "runaway"), &[]), Ok(()));
    assert_eq!(
        limits.check(&token("c", "runaway"), &[]).unwrap_err().limit,
        "client"
    );
    assert_eq!(limits.check(&token("c", "calm"), &[]), Ok(()));
}

#[test]
fn ten_thousand_distinct_users_do_not_grow_the_limiter_without_bound() {
    let (limits, clock) = limits(per_user("60/min"));
    for round in 0..5 {
        for i in 0..10_000 {
            let user = token(&format!("auth0|user-{round}-{i}"), "c");
            assert_eq!(limits.check(&user, &[]), Ok(()));
        }
        assert_eq!(
            limits.keys(),
            10_000,
            "round {round}: only this round's users are held"
        );
        // A minute later every one of them is back to a fresh state: evicted.
        clock.advance(Duration::from_secs(61));
        assert_eq!(limits.evict_idle(), 0, "round {round}");
    }
}

#[test]
fn a_busy_user_is_kept_while_idle_ones_go() {
    let (limits, clock) = limits(per_user("60/min"));
    let busy = token("auth0|busy", "c");
    for _ in 0..60 {
        limits.check(&busy, &[]).unwrap();
    }
    limits.check(&token("auth0|idle", "c"), &[]).unwrap();
    clock.advance(Duration::from_secs(30));
    assert_eq!(
        limits.evict_idle(),
        1,
        "the busy user's state is not fresh yet"
    );
    assert!(
        limits.check(&busy, &[]).is_ok(),
        "30 s replenished 30 requests"
    );
}

#[test]
fn tool_names_come_from_every_tools_call_of_a_body() {
    let batch = json!([
        {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "search"}},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
        {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "docs.create"}},
    ]);
    assert_eq!(
        tool_names(batch.to_string().as_bytes()),
        ["search", "docs.create"]
    );
    assert_eq!(tool_names(b"not json"), Vec::<String>::new());
}

#[tokio::test]
async fn the_refusal_is_429_with_retry_after_and_a_stable_code() {
    let response = refusal(Limited {
        limit: "user",
        retry_after: Duration::from_millis(1500),
    });
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.headers()[header::RETRY_AFTER], "2");
    assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
    let body = to_bytes(response.into_body(), 4096).await.unwrap();
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        body,
        json!({
            "error": "rate_limited",
            "code": "RATE_LIMITED",
            "error_description": "Too many requests for this user; retry after 2 s",
            "limit": "user",
            "retry_after_secs": 2,
        })
    );
}
