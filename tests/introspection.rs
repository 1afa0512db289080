//! Opaque tokens checked by RFC 7662 introspection against a loopback endpoint: active,
//! inactive, expired, revoked, endpoint down or slow (503, the server cannot decide), and 100
//! concurrent requests with one token causing one introspection.

mod support;
use support::closed_port::ClosedPort;
use support::{introspection_server, issuer_server, protected_app};

use std::time::Duration;

use introspection_server::{CLIENT_ID, CLIENT_SECRET, IntrospectionServer, Mode};
use issuer_server::{AUDIENCE, IssuerServer, now};
use protected_app::ProtectedApp;
use serde_json::json;
use tower_mcp_auth::token::{
    FirstOf, IntrospectionVerifier, IntrospectionVerifierBuilder, TokenVerifier,
};
use tower_mcp_auth::{BearerAuthLayer, ClientSecret};

const OPAQUE: &str = "opaque-2YotnFZFEjr1zCsicMWpAA";

fn builder(server: &IntrospectionServer) -> IntrospectionVerifierBuilder {
    IntrospectionVerifier::builder()
        .issuer(server.issuer.clone())
        .audience(AUDIENCE)
        .client_credentials(CLIENT_ID, ClientSecret::new(CLIENT_SECRET))
}

async fn verifier(server: &IntrospectionServer) -> IntrospectionVerifier {
    builder(server).build().await.unwrap()
}

fn active_claims() -> serde_json::Value {
    json!({"sub": "user-7", "aud": AUDIENCE, "client_id": "chatgpt", "scope": "read write",
           "exp": now() + 600, "iat": now()})
}

#[tokio::test]
async fn an_active_token_reaches_the_service_with_the_answers_claims() {
    let server = IntrospectionServer::start().await;
    server.issue(OPAQUE, active_claims());
    let verifier = verifier(&server).await;
    assert_eq!(verifier.endpoint(), server.endpoint, "discovered");
    let app = ProtectedApp::start(verifier).await;
    let body = app.accepted(OPAQUE).await;
    assert_eq!(
        body,
        json!({"sub": "user-7", "iss": server.issuer, "aud": [AUDIENCE], "scopes": ["read", "write"]})
    );
}

#[tokio::test]
async fn an_unknown_or_revoked_token_is_inactive() {
    let server = IntrospectionServer::start().await;
    let app = ProtectedApp::start(verifier(&server).await).await;
    let body = app.refused("never-issued", 401, "TOKEN_INACTIVE").await;
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("not active")
    );

    server.issue(OPAQUE, active_claims());
    let revoked = IntrospectionVerifier::builder()
        .issuer(server.issuer.clone())
        .audience(AUDIENCE)
        .client_credentials(CLIENT_ID, ClientSecret::new(CLIENT_SECRET))
        .cache_ttl(Duration::ZERO)
        .build()
        .await
        .unwrap();
    assert!(revoked.verify(OPAQUE).await.is_ok());
    server.revoke(OPAQUE);
    let error = revoked.verify(OPAQUE).await.unwrap_err();
    assert_eq!(error.code().as_str(), "TOKEN_INACTIVE");
}

#[tokio::test]
async fn an_expired_token_is_inactive_and_a_stale_active_answer_is_expired() {
    let server = IntrospectionServer::start().await;
    let mut expired = active_claims();
    expired["exp"] = json!(now() - 60);
    server.issue(OPAQUE, expired);
    let app = ProtectedApp::start(verifier(&server).await).await;
    app.refused(OPAQUE, 401, "TOKEN_INACTIVE").await;

    // An endpoint whose clock is an hour behind calls a token active past its `exp`: our own
    // time check still refuses it.
    let lagging = IntrospectionServer::start().await;
    lagging.set_clock_behind(3600);
    let mut claims = active_claims();
    claims["exp"] = json!(now() - 1800);
    lagging.issue("lagging", claims);
    let app = ProtectedApp::start(verifier(&lagging).await).await;
    app.refused("lagging", 401, "TOKEN_EXPIRED").await;
}

#[tokio::test]
async fn a_token_for_another_audience_is_refused() {
    let server = IntrospectionServer::start().await;
    let mut claims = active_claims();
    claims["aud"] = json!("https://other.example/api");
    server.issue(OPAQUE, claims);
    let mut no_aud = active_claims();
    no_aud.as_object_mut().unwrap().remove("aud");
    server.issue("no-aud", no_aud);
    let app = ProtectedApp::start(verifier(&server).await).await;
    app.refused(OPAQUE, 401, "INVALID_AUDIENCE").await;
    app.refused("no-aud", 401, "INVALID_AUDIENCE").await;
}

#[tokio::test]
async fn a_failing_endpoint_is_503_cannot_decide_not_401() {
    let server = IntrospectionServer::start().await;
    server.issue(OPAQUE, active_claims());
    server.set_mode(Mode::Fail);
    let app = ProtectedApp::start(verifier(&server).await).await;
    let body = app.refused(OPAQUE, 503, "INTROSPECTION_UNAVAILABLE").await;
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("try again later")
    );
}

#[tokio::test]
async fn an_endpoint_that_is_down_is_503() {
    let server = IntrospectionServer::start().await;
    let closed = ClosedPort::new();
    let verifier = builder(&server)
        .endpoint(closed.url("/introspect"))
        .build()
        .await
        .unwrap();
    let app = ProtectedApp::start(verifier).await;
    app.refused(OPAQUE, 503, "INTROSPECTION_UNAVAILABLE").await;
}

#[tokio::test]
async fn a_slow_endpoint_is_bounded_and_answered_503() {
    let server = IntrospectionServer::start().await;
    server.issue(OPAQUE, active_claims());
    server.set_mode(Mode::Hang);
    let verifier = builder(&server)
        .timeout(Duration::from_millis(200))
        .build()
        .await
        .unwrap();
    let app = ProtectedApp::start(verifier).await;
    app.refused(OPAQUE, 503, "INTROSPECTION_UNAVAILABLE").await;
}

#[tokio::test]
async fn wrong_client_credentials_are_503_and_never_a_pass() {
    let server = IntrospectionServer::start().await;
    server.issue(OPAQUE, active_claims());
    let verifier = IntrospectionVerifier::builder()
        .issuer(server.issuer.clone())
        .audience(AUDIENCE)
        .client_credentials(CLIENT_ID, ClientSecret::new("wrong-secret"))
        .build()
        .await
        .unwrap();
    assert!(!format!("{verifier:?}").contains("wrong-secret"));
    let app = ProtectedApp::start(verifier).await;
    app.refused(OPAQUE, 503, "INTROSPECTION_UNAVAILABLE").await;
}

#[tokio::test]
async fn an_oversized_answer_is_refused_as_unavailable() {
    let server = IntrospectionServer::start().await;
    let mut claims = active_claims();
    claims["padding"] = json!("x".repeat(100_000));
    server.issue(OPAQUE, claims);
    let app = ProtectedApp::start(verifier(&server).await).await;
    app.refused(OPAQUE, 503, "INTROSPECTION_UNAVAILABLE").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_concurrent_requests_with_one_token_cause_one_introspection() {
    let server = IntrospectionServer::start().await;
    server.issue(OPAQUE, active_claims());
    server.set_mode(Mode::Gated);
    // No bearer-layer cache: the single flight of the verifier itself is what is proven.
    let layer = BearerAuthLayer::new(verifier(&server).await).without_token_cache();
    let app = std::sync::Arc::new(ProtectedApp::start_layer(layer).await);
    let calls: Vec<_> = (0..100)
        .map(|_| {
            let app = app.clone();
            tokio::spawn(async move { app.call(OPAQUE).await.status().as_u16() })
        })
        .collect();
    while server.hits() == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server.open_gate();
    for call in calls {
        assert_eq!(call.await.unwrap(), 200);
    }
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn inactive_answers_are_cached_briefly_and_active_ones_until_the_ttl() {
    let server = IntrospectionServer::start().await;
    let verifier = verifier(&server).await;
    assert_eq!(
        verifier
            .verify("unknown")
            .await
            .unwrap_err()
            .code()
            .as_str(),
        "TOKEN_INACTIVE"
    );
    assert_eq!(
        verifier
            .verify("unknown")
            .await
            .unwrap_err()
            .code()
            .as_str(),
        "TOKEN_INACTIVE"
    );
    assert_eq!(server.hits(), 1, "the inactive answer was reused");
    server.issue(OPAQUE, active_claims());
    for _ in 0..3 {
        assert!(verifier.verify(OPAQUE).await.is_ok());
    }
    assert_eq!(server.hits(), 2);
    assert_eq!(verifier.cached_answers(), 2);
}

#[tokio::test]
async fn first_of_sends_jwts_to_the_keys_and_opaque_tokens_to_introspection() {
    let issuer = IssuerServer::start().await;
    let server = IntrospectionServer::start().await;
    server.issue(OPAQUE, active_claims());
    let jwt = issuer.verifier().await;
    let app = ProtectedApp::start(FirstOf::new(jwt, verifier(&server).await)).await;
    assert_eq!(
        app.accepted(&issuer.token("read")).await["iss"],
        issuer.issuer
    );
    assert_eq!(app.accepted(OPAQUE).await["iss"], server.issuer);
    // A JWT with a bad signature is refused as such and never sent to the endpoint.
    let token = issuer.token("read");
    let (message, signature) = token.rsplit_once('.').unwrap();
    let flipped = if signature.starts_with('A') { 'B' } else { 'A' };
    let forged = format!("{message}.{flipped}{}", &signature[1..]);
    let hits = server.hits();
    let body = app.refused(&forged, 401, "INVALID_SIGNATURE").await;
    assert_eq!(
        body["error_description"],
        "The access token's signature does not verify"
    );
    assert_eq!(server.hits(), hits);
}

#[tokio::test]
async fn without_introspection_opaque_tokens_keep_their_diagnostics() {
    let issuer = IssuerServer::start().await;
    let jwt = issuer.verifier().await;
    let app = ProtectedApp::start(jwt).await;
    let body = app.refused(OPAQUE, 401, "ACCESS_TOKEN_NOT_JWS").await;
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("audience")
    );
    app.refused("a.b.c.d.e", 401, "ACCESS_TOKEN_IS_ENCRYPTED_JWE")
        .await;
}
