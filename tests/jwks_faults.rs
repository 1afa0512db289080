//! The JWKS endpoint misbehaving: hanging, answering garbage, empty key sets, keys of the wrong
//! type or without `kid`. Requests with known keys must not notice; requests that need a refresh
//! get a clear answer within the fetch timeout.

mod support;
use support::issuer_server;

use std::sync::Arc;
use std::time::{Duration, Instant};

use issuer_server::{AUDIENCE, IssuerServer, JwksMode};
use serde_json::json;
use tower_mcp_auth::ErrorCode;
use tower_mcp_auth::dev::DevIssuer;
use tower_mcp_auth::token::{JwksVerifier, TokenVerifier};

const FETCH_TIMEOUT: Duration = Duration::from_millis(800);

async fn verifier(issuer: &IssuerServer, cooldown: Duration) -> JwksVerifier {
    JwksVerifier::builder()
        .issuer(issuer.issuer.clone())
        .audience(AUDIENCE)
        .refresh_cooldown(cooldown)
        .fetch_timeout(FETCH_TIMEOUT)
        .build()
        .await
        .unwrap()
}

fn stranger_token(issuer: &IssuerServer, kid: &str) -> String {
    DevIssuer::generate()
        .unwrap()
        .with_kid(kid)
        .sign(&issuer.claims("a"))
        .unwrap()
}

#[tokio::test]
async fn hanging_jwks_does_not_slow_requests_with_known_keys() {
    let issuer = IssuerServer::start().await;
    let verifier = Arc::new(verifier(&issuer, Duration::ZERO).await);
    issuer.set_mode(JwksMode::Hang);

    // Requests needing a refresh wait on the hanging endpoint…
    let mut refreshing = Vec::new();
    for i in 0..20 {
        let verifier = verifier.clone();
        let token = stranger_token(&issuer, &format!("unknown-{i}"));
        refreshing.push(tokio::spawn(async move {
            let started = Instant::now();
            let result = verifier.verify(&token).await;
            (result.map(|_| ()).unwrap_err().code(), started.elapsed())
        }));
    }
    tokio::time::sleep(Duration::from_millis(50)).await;

    // …while requests with known keys are answered from memory, without waiting: all of them
    // complete while the shared fetch is still hanging (no refresh task has finished yet).
    assert_eq!(issuer.jwks_hits(), 2, "one shared fetch is in flight");
    let known = issuer.token("a");
    for _ in 0..50 {
        verifier.verify(&known).await.unwrap();
    }
    assert!(
        refreshing.iter().all(|task| !task.is_finished()),
        "known-key requests finished before the hanging fetch did"
    );

    // Every refresh-needing request ends with JWKS_UNAVAILABLE; none waits much past the fetch
    // timeout, because the waiters share the one fetch instead of queueing fetches.
    for task in refreshing {
        let (code, elapsed) = task.await.unwrap();
        assert_eq!(code, ErrorCode::KeysUnavailable);
        assert!(elapsed < 4 * FETCH_TIMEOUT, "waited {elapsed:?}");
    }
    let status = verifier.jwks_status();
    assert_eq!(status.key_count, 1, "the last good key is kept");
    assert!(status.last_error.unwrap().contains("no answer"));
}

#[tokio::test]
async fn garbage_empty_and_odd_key_sets_keep_the_last_good_keys() {
    let issuer = IssuerServer::start().await;
    let verifier = verifier(&issuer, Duration::ZERO).await;
    let known = issuer.token("a");
    let cases = [
        ("html", "<html>oops</html>".to_owned()),
        ("empty set", json!({"keys": []}).to_string()),
        ("not a set", json!({"keys": "none"}).to_string()),
        (
            "symmetric key",
            json!({"keys": [{"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"}]}).to_string(),
        ),
        // A single key without `kid` is a usable key set now (tests/verification.rs); among
        // several keys it cannot be chosen, and a set of only such keys is unusable.
        (
            "keys without kid",
            json!({"keys": [
                {"kty": "RSA", "n": issuer.signer.jwk()["n"], "e": "AQAB"},
                {"kty": "RSA", "n": issuer.signer.jwk()["n"], "e": "AQAB"},
            ]})
            .to_string(),
        ),
        (
            "encryption key",
            json!({"keys": [{"kty": "RSA", "use": "enc", "kid": "e", "n": issuer.signer.jwk()["n"], "e": "AQAB"}]})
                .to_string(),
        ),
    ];
    for (name, body) in cases {
        issuer.set_mode(JwksMode::Body(body));
        let unknown = stranger_token(&issuer, &format!("new-{name}"));
        let error = verifier.verify(&unknown).await.map(|_| ()).unwrap_err();
        assert_eq!(error.code(), ErrorCode::KeysUnavailable, "{name}");
        verifier
            .verify(&known)
            .await
            .unwrap_or_else(|e| panic!("{name}: known key lost: {e}"));
        assert_eq!(verifier.jwks_status().key_count, 1, "{name}");
    }
}

#[tokio::test]
async fn key_set_with_some_unusable_keys_still_yields_the_good_ones() {
    let issuer = IssuerServer::start().await;
    issuer.publish(json!({"keys": [
        {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
        {"kty": "RSA", "n": issuer.signer.jwk()["n"], "e": "AQAB"},
        issuer.signer.jwk(),
    ]}));
    let verifier = verifier(&issuer, Duration::ZERO).await;
    assert_eq!(verifier.jwks_status().key_count, 1);
    verifier.verify(&issuer.token("a")).await.unwrap();
}

#[tokio::test]
async fn jwks_down_at_start_up_is_fetched_when_the_first_token_needs_it() {
    let issuer = IssuerServer::start().await;
    issuer.set_mode(JwksMode::Fail);
    let verifier = verifier(&issuer, Duration::ZERO).await;
    assert_eq!(verifier.jwks_status().key_count, 0);
    assert!(verifier.jwks_status().last_error.unwrap().contains("500"));
    let error = verifier
        .verify(&issuer.token("a"))
        .await
        .map(|_| ())
        .unwrap_err();
    assert_eq!(error.code(), ErrorCode::KeysUnavailable);
    issuer.set_mode(JwksMode::Serve);
    verifier.verify(&issuer.token("a")).await.unwrap();
}

#[tokio::test]
async fn token_without_kid_is_unknown_key_id_when_the_jwks_has_several_keys() {
    // With a single key a token without `kid` may use it (tests/verification.rs); with several
    // the key cannot be chosen.
    let issuer = IssuerServer::start().await;
    let other = tower_mcp_auth::dev::DevIssuer::generate().unwrap();
    issuer.publish(json!({"keys": [issuer.signer.jwk(), other.jwk()]}));
    let verifier = verifier(&issuer, Duration::ZERO).await;
    let token = issuer
        .signer
        .sign_with_header(&json!({"alg": "RS256"}), &issuer.claims("a"))
        .unwrap();
    let error = verifier.verify(&token).await.map(|_| ()).unwrap_err();
    assert_eq!(error.code(), ErrorCode::UnknownKeyId);
}

#[tokio::test]
async fn health_report_follows_the_jwks_and_keeps_verifying_with_cached_keys() {
    use tower_mcp_auth::health::AuthHealth;
    let issuer = IssuerServer::start().await;
    let verifier = verifier(&issuer, Duration::ZERO).await;
    let health = AuthHealth::new(verifier.clone());
    let report = health.report();
    assert!(report.is_healthy());
    assert_eq!(report.status, "ok");
    assert_eq!(report.issuer, issuer.issuer);
    assert_eq!(report.jwks.key_count, 1);
    assert!(report.jwks.reachable && !report.jwks.verifying_with_cached_keys);

    issuer.set_mode(JwksMode::Fail);
    assert!(verifier.refresh_keys().await.is_err());
    let report = health.report();
    assert!(!report.is_healthy());
    assert_eq!(report.status, "unavailable");
    assert!(report.jwks.verifying_with_cached_keys);
    assert!(report.jwks.last_error.as_deref().unwrap().contains("500"));
    verifier.verify(&issuer.token("a")).await.unwrap();

    issuer.set_mode(JwksMode::Serve);
    assert_eq!(verifier.refresh_keys().await, Ok(1));
    assert!(health.report().is_healthy());
}
