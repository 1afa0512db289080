//! A verifier built from a fixed JWKS document (`JwksVerifierBuilder::jwks_document`): verifies
//! with the document's keys, never touches the network, and refuses unusable documents at build
//! time.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use tower_mcp_auth::ErrorCode;
use tower_mcp_auth::dev::DevIssuer;
use tower_mcp_auth::token::{JwksVerifier, TokenVerifier, VerifierConfigError};

const ISSUER: &str = "https://issuer.example/";
const AUDIENCE: &str = "https://api.example/mcp";

fn claims() -> Value {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    json!({"iss": ISSUER, "sub": "user-1", "aud": AUDIENCE, "exp": now + 300, "scope": "read"})
}

async fn verifier(signer: &DevIssuer) -> JwksVerifier {
    JwksVerifier::builder()
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .jwks_document(signer.jwks().to_string())
        .build()
        .await
        .unwrap()
}

#[tokio::test]
async fn document_keys_verify_tokens_without_any_fetch() {
    let signer = DevIssuer::generate().unwrap();
    let verifier = verifier(&signer).await;

    let token = verifier
        .verify(&signer.sign(&claims()).unwrap())
        .await
        .unwrap();

    assert_eq!(token.subject(), "user-1");
    assert_eq!(verifier.jwks_uri(), "");
    let status = verifier.jwks_status();
    assert_eq!((status.key_count, status.fetch_count), (1, 0));
    assert_eq!(status.last_error, None);
}

#[tokio::test]
async fn unknown_kid_is_refused_without_a_refresh() {
    let signer = DevIssuer::generate().unwrap();
    let verifier = verifier(&signer).await;
    let stranger = DevIssuer::generate().unwrap().with_kid("someone-else");

    for _ in 0..3 {
        let error = verifier
            .verify(&stranger.sign(&claims()).unwrap())
            .await
            .unwrap_err();
        assert_eq!(error.code(), ErrorCode::UnknownKeyId);
    }
    assert_eq!(verifier.jwks_status().fetch_count, 0);
}

#[tokio::test]
async fn unusable_documents_are_refused_at_build_time() {
    for document in [
        "<html>".to_owned(),
        json!({"keys": []}).to_string(),
        json!({"keys": [{"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"}]}).to_string(),
    ] {
        let error = JwksVerifier::builder()
            .issuer(ISSUER)
            .audience(AUDIENCE)
            .jwks_document(document.clone())
            .build()
            .await
            .unwrap_err();
        assert!(
            matches!(error, VerifierConfigError::InvalidJwks(_)),
            "{document}: {error:?}"
        );
    }
}

/// Fuzz-found (`token_verify`): `exp` may be any non-negative JSON number; a float too large for
/// `u64` saturates to `u64::MAX` ("never expires"), and no time check overflows on it.
#[tokio::test]
async fn float_exp_beyond_u64_saturates_and_no_time_check_overflows() {
    let signer = DevIssuer::generate().unwrap();
    let verifier = verifier(&signer).await;
    let mut claims = claims();
    claims["exp"] = json!(1.584_731_1e85);
    claims["nbf"] = json!(1);

    let token = verifier
        .verify(&signer.sign(&claims).unwrap())
        .await
        .unwrap();

    assert_eq!(token.expires_at(), u64::MAX);
    assert_eq!(
        token.check_time(u64::MAX, u64::MAX).map_err(|e| e.code()),
        Ok(())
    );
    for exp in [json!(-1), json!(-0.5), json!("4102444800"), json!(null)] {
        claims["exp"] = exp.clone();
        let error = verifier
            .verify(&signer.sign(&claims).unwrap())
            .await
            .unwrap_err();
        assert_eq!(error.code(), ErrorCode::MissingClaim, "{exp}");
        assert_eq!(
            error.description(),
            "The access token has no valid `exp` claim"
        );
    }
}
