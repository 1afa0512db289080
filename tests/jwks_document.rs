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
    JwksVerifier::builder(ISSUER, AUDIENCE)
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
        let error = JwksVerifier::builder(ISSUER, AUDIENCE)
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
