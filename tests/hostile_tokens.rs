//! Tokens and issuers that try to choose their own key: keys embedded or pointed to by the JOSE
//! header (`jwk`, `jku`, `x5u`) are never used nor fetched, a `kid` is only ever a lookup key
//! (never a path or URL, cut short in answers), and an oversized JWKS document is refused while
//! the last good keys stay in use.

mod support;
use support::issuer_server;

use issuer_server::{AUDIENCE, IssuerServer, JwksMode};
use serde_json::json;
use tower_mcp_auth::ErrorCode;
use tower_mcp_auth::token::{JwksVerifier, TokenVerifier};

async fn verifier(issuer: &IssuerServer) -> JwksVerifier {
    JwksVerifier::builder()
        .issuer(issuer.issuer.clone())
        .audience(AUDIENCE)
        .refresh_cooldown(std::time::Duration::ZERO)
        .build()
        .await
        .unwrap()
}

#[tokio::test]
async fn keys_named_by_the_token_header_are_never_fetched_nor_used() {
    let issuer = IssuerServer::start().await;
    let attacker = IssuerServer::start().await;
    let verifier = verifier(&issuer).await;
    let hits_before = issuer.jwks_hits();

    // Signed with the attacker's key, which the header embeds and points to, under the real kid.
    let header = json!({
        "alg": "RS256",
        "kid": issuer.signer.kid(),
        "jwk": attacker.signer.jwk(),
        "jku": attacker.jwks_uri(),
        "x5u": attacker.jwks_uri(),
    });
    let token = attacker
        .signer
        .sign_with_header(&header, &issuer.claims("read"))
        .unwrap();

    let error = verifier.verify(&token).await.unwrap_err();

    assert_eq!(error.code(), ErrorCode::InvalidSignature);
    assert_eq!(attacker.jwks_hits(), 0, "the header's jku/x5u was fetched");
    assert_eq!(
        issuer.jwks_hits(),
        hits_before,
        "a known kid needs no fetch"
    );
}

#[tokio::test]
async fn kid_is_only_a_lookup_key_and_is_cut_short_in_answers() {
    let issuer = IssuerServer::start().await;
    let verifier = verifier(&issuer).await;
    let long = format!("{}{}", "k".repeat(64), "TAIL-NEVER-ECHOED");
    for kid in [
        "../../../../etc/passwd".to_owned(),
        issuer.jwks_uri(),
        "' OR '1'='1".to_owned(),
        "\u{0}\r\nX-Injected: yes".to_owned(),
        long,
    ] {
        let header = json!({"alg": "RS256", "kid": kid});
        let token = issuer
            .signer
            .sign_with_header(&header, &issuer.claims("read"))
            .unwrap();

        let error = verifier.verify(&token).await.unwrap_err();

        assert_eq!(error.code(), ErrorCode::UnknownKeyId, "{kid:?}");
        assert!(!error.description().contains("TAIL-NEVER-ECHOED"));
        assert!(error.description().len() < 120, "{}", error.description());
    }
}

#[tokio::test]
async fn oversized_jwks_is_refused_and_the_last_good_keys_stay() {
    let issuer = IssuerServer::start().await;
    let verifier = verifier(&issuer).await;
    let padding = "x".repeat(1024 * 1024);
    issuer.set_mode(JwksMode::Body(
        json!({"keys": [], "padding": padding}).to_string(),
    ));

    assert!(verifier.refresh_keys().await.is_err());

    let status = verifier.jwks_status();
    assert!(
        status
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("larger than 1 MiB")),
        "{status:?}"
    );
    assert_eq!(status.key_count, 1);
    verifier.verify(&issuer.token("read")).await.unwrap();
}
