//! Security review finding 7: a key withdrawn from the issuer's JWKS ends the tokens it signed
//! at the next refresh, including tokens already in the bearer layer's cache. The cache entry
//! remembers which issuer's key set and which key vouched for it.

mod support;
use support::{issuer_server, protected_app, signers};

use issuer_server::{AUDIENCE, IssuerServer};
use protected_app::ProtectedApp;
use serde_json::json;
use signers::TestKey;
use tower_mcp_auth::BearerAuthLayer;
use tower_mcp_auth::dev::DevIssuer;
use tower_mcp_auth::token::JwksVerifier;

#[tokio::test]
async fn a_cached_token_is_refused_once_its_key_is_withdrawn() {
    let issuer = IssuerServer::start().await;
    let verifier = issuer.verifier().await;
    let app = ProtectedApp::start(verifier.clone()).await;
    let token = issuer.token("read");
    app.accepted(&token).await;
    app.accepted(&token).await; // a cache hit

    // The issuer withdraws the key (compromised) and publishes another one.
    let replacement = TestKey::generate("RS256", Some("replacement"));
    issuer.publish(replacement.jwks());
    assert_eq!(verifier.refresh_keys().await, Ok(1));

    let body = app.refused(&token, 401, "UNKNOWN_KEY_ID").await;
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains(issuer.signer.kid())
    );
    // Tokens of the new key are accepted.
    app.accepted(&replacement.sign(&issuer.claims("read")))
        .await;
}

#[tokio::test]
async fn a_cached_token_is_refused_when_its_kid_comes_back_with_other_key_material() {
    let issuer = IssuerServer::start().await;
    let verifier = issuer.verifier().await;
    let app = ProtectedApp::start(verifier.clone()).await;
    let token = issuer.token("read");
    app.accepted(&token).await;

    let impostor = DevIssuer::generate().unwrap().with_kid(issuer.signer.kid());
    issuer.publish(impostor.jwks());
    verifier.refresh_keys().await.unwrap();
    app.refused(&token, 401, "INVALID_SIGNATURE").await;
}

#[tokio::test]
async fn a_cached_token_stays_accepted_while_its_key_is_still_published() {
    let issuer = IssuerServer::start().await;
    let verifier = issuer.verifier().await;
    let app = ProtectedApp::start(verifier.clone()).await;
    let token = issuer.token("read");
    app.accepted(&token).await;
    // A rotation that keeps the old key next to the new one.
    let next = TestKey::generate("RS256", Some("next"));
    issuer.publish(json!({"keys": [issuer.signer.jwk(), next.jwk()]}));
    verifier.refresh_keys().await.unwrap();
    let fetches = issuer.jwks_hits();
    for _ in 0..3 {
        app.accepted(&token).await;
    }
    assert_eq!(issuer.jwks_hits(), fetches, "no fetch per request");
}

#[tokio::test]
async fn with_two_issuers_the_cache_remembers_whose_key_signed_the_token() {
    let first = IssuerServer::start().await;
    let second = IssuerServer::start().await;
    let verifier = JwksVerifier::builder()
        .issuer(first.issuer.clone())
        .audience(AUDIENCE)
        .issuer(second.issuer.clone())
        .build()
        .await
        .unwrap();
    let app = ProtectedApp::start_layer(BearerAuthLayer::new(verifier.clone())).await;
    let from_first = first.token("read");
    let from_second = second.token("read");
    app.accepted(&from_first).await;
    app.accepted(&from_second).await;

    // The second issuer withdraws its key: only its tokens end.
    second.publish(TestKey::generate("RS256", Some("other")).jwks());
    verifier.refresh_keys().await.unwrap();
    app.accepted(&from_first).await;
    app.refused(&from_second, 401, "UNKNOWN_KEY_ID").await;
}
