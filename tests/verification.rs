//! What real deployments issue, verified against real loopback issuers: several issuers and
//! audiences, RS/PS/ES/EdDSA algorithms each only when allowed, the optional RFC 9068 `typ`,
//! single-key JWKS without `kid`, and keys withdrawn under cached tokens.

mod support;
use support::{issuer_server, protected_app, signers};

use issuer_server::{AUDIENCE, IssuerServer, now};
use protected_app::ProtectedApp;
use serde_json::{Value, json};
use signers::TestKey;
use tower_mcp_auth::token::{Algorithm, JwksVerifier, TokenTypePolicy, TokenVerifier};

fn claims_for(issuer: &IssuerServer, aud: Value) -> Value {
    let now = now();
    json!({"iss": issuer.issuer, "sub": "user-1", "aud": aud, "iat": now, "exp": now + 600,
           "scope": "read"})
}

// ---------------------------------------------------------------------------------------------
// Several issuers

#[tokio::test]
async fn tokens_from_each_of_two_issuers_are_accepted_and_each_names_its_issuer() {
    let canonical = IssuerServer::start().await;
    let custom_domain = IssuerServer::start().await;
    let verifier = JwksVerifier::builder()
        .issuer(canonical.issuer.clone())
        .audience(AUDIENCE)
        .issuer(custom_domain.issuer.clone())
        .build()
        .await
        .unwrap();
    assert_eq!(
        verifier.issuers(),
        [canonical.issuer.as_str(), custom_domain.issuer.as_str()]
    );
    let statuses = verifier.issuer_statuses();
    assert_eq!(statuses.len(), 2);
    assert!(statuses.iter().all(|s| s.jwks.key_count == 1));
    let app = ProtectedApp::start(verifier).await;
    for issuer in [&canonical, &custom_domain] {
        let body = app.accepted(&issuer.token("read")).await;
        assert_eq!(body["iss"], issuer.issuer);
    }
}

#[tokio::test]
async fn a_token_naming_one_issuer_but_signed_by_the_others_key_is_refused() {
    let first = IssuerServer::start().await;
    let second = IssuerServer::start().await;
    let verifier = JwksVerifier::builder()
        .issuer(first.issuer.clone())
        .audience(AUDIENCE)
        .issuer(second.issuer.clone())
        .refresh_cooldown(std::time::Duration::from_secs(3600))
        .build()
        .await
        .unwrap();
    let app = ProtectedApp::start(verifier).await;
    // `iss` says the first issuer; the key (and its kid) is the second's.
    let forged = second.sign(&first.claims("read"));
    let body = app.refused(&forged, 401, "UNKNOWN_KEY_ID").await;
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("No key")
    );
    // Even under the first issuer's kid, the second's key does not verify.
    let same_kid = tower_mcp_auth::dev::DevIssuer::generate()
        .unwrap()
        .with_kid(first.signer.kid())
        .sign(&first.claims("read"))
        .unwrap();
    app.refused(&same_kid, 401, "INVALID_SIGNATURE").await;
}

#[tokio::test]
async fn an_issuer_that_is_none_of_several_is_refused_naming_them() {
    let first = IssuerServer::start().await;
    let second = IssuerServer::start().await;
    let stranger = IssuerServer::start().await;
    let verifier = JwksVerifier::builder()
        .issuer(first.issuer.clone())
        .audience(AUDIENCE)
        .issuer(second.issuer.clone())
        .build()
        .await
        .unwrap();
    let app = ProtectedApp::start(verifier).await;
    let body = app
        .refused(&stranger.token("read"), 401, "INVALID_ISSUER")
        .await;
    let description = body["error_description"].as_str().unwrap();
    assert!(
        description.contains("none of the 2 accepted issuers"),
        "{description}"
    );
    assert!(description.contains(&first.issuer) && description.contains(&second.issuer));
}

#[tokio::test]
async fn the_same_issuer_twice_is_a_configuration_error() {
    let issuer = IssuerServer::start().await;
    let error = JwksVerifier::builder()
        .issuer(issuer.issuer.clone())
        .audience(AUDIENCE)
        .issuer(issuer.issuer.trim_end_matches('/'))
        .build()
        .await
        .unwrap_err();
    assert!(error.to_string().contains("configured twice"), "{error}");
}

// ---------------------------------------------------------------------------------------------
// Audiences: several, and their spelling

#[tokio::test]
async fn any_of_several_audiences_is_accepted_and_others_are_not() {
    let issuer = IssuerServer::start().await;
    let verifier = JwksVerifier::builder()
        .issuer(issuer.issuer.clone())
        .audience("https://new.example/mcp")
        .audience("https://old.example/mcp")
        .build()
        .await
        .unwrap();
    assert_eq!(verifier.audience(), "https://new.example/mcp");
    let app = ProtectedApp::start(verifier).await;
    for aud in ["https://new.example/mcp", "https://old.example/mcp"] {
        app.accepted(&issuer.sign(&claims_for(&issuer, json!(aud))))
            .await;
    }
    let body = app
        .refused(
            &issuer.sign(&claims_for(&issuer, json!("https://other.example/mcp"))),
            401,
            "INVALID_AUDIENCE",
        )
        .await;
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("none of")
    );
}

#[tokio::test]
async fn origin_only_audiences_match_with_or_without_the_slash_and_in_any_host_case() {
    let issuer = IssuerServer::start().await;
    for (configured, claimed) in [
        ("https://api.example", "https://api.example/"),
        ("https://api.example/", "https://api.example"),
        ("https://api.example/mcp", "HTTPS://API.EXAMPLE/mcp"),
    ] {
        let verifier = JwksVerifier::builder()
            .issuer(issuer.issuer.clone())
            .audience(configured)
            .build()
            .await
            .unwrap();
        let token = issuer.sign(&claims_for(&issuer, json!([claimed])));
        let verified = verifier.verify(&token).await.unwrap();
        assert_eq!(verified.audiences(), [claimed]);
    }
}

#[tokio::test]
async fn no_other_spelling_of_the_audience_matches() {
    let issuer = IssuerServer::start().await;
    for (configured, claimed) in [
        ("https://api.example/mcp", "https://api.example/mcp/"),
        ("https://api.example/mcp/", "https://api.example/mcp"),
        ("https://api.example/mcp", "https://api.example/MCP"),
        ("https://api.example/mcp", "https://api.example/mcp/admin"),
        ("https://api.example", "https://api.example.evil"),
        ("https://api.example", "http://api.example/"),
    ] {
        let verifier = JwksVerifier::builder()
            .issuer(issuer.issuer.clone())
            .audience(configured)
            .build()
            .await
            .unwrap();
        let token = issuer.sign(&claims_for(&issuer, json!(claimed)));
        let error = verifier.verify(&token).await.unwrap_err();
        assert_eq!(
            error.code().as_str(),
            "INVALID_AUDIENCE",
            "{configured} vs {claimed}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Algorithms

async fn issuer_with(key: &TestKey) -> IssuerServer {
    let issuer = IssuerServer::start().await;
    issuer.publish(key.jwks());
    issuer
}

#[tokio::test]
async fn ps_es_and_eddsa_tokens_verify_when_allowed() {
    for alg in [
        "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA",
    ] {
        let key = TestKey::generate(alg, Some(&format!("{alg}-key")));
        let issuer = issuer_with(&key).await;
        let verifier = JwksVerifier::builder()
            .issuer(issuer.issuer.clone())
            .audience(AUDIENCE)
            .algorithms([alg.parse::<Algorithm>().unwrap()])
            .build()
            .await
            .unwrap();
        let app = ProtectedApp::start(verifier).await;
        let body = app.accepted(&key.sign(&issuer.claims("read"))).await;
        assert_eq!(body["sub"], "auth0|user-1", "{alg}");
        // One changed signature character is refused, even with the token's signing input in
        // the cache (accepted twice: in the main cache and in its recent slot).
        let token = key.sign(&issuer.claims("read"));
        app.accepted(&token).await;
        app.accepted(&token).await;
        let (message, signature) = token.rsplit_once('.').unwrap();
        let flipped = if signature.starts_with('A') { 'B' } else { 'A' };
        let forged = format!("{message}.{flipped}{}", &signature[1..]);
        app.refused(&forged, 401, "INVALID_SIGNATURE").await;
        // One changed payload character, the signature kept, is refused too: the bearer layer
        // hands the verifier the digest of the token's own signing input, never another's.
        let (header, payload) = message.split_once('.').unwrap();
        let middle = payload.len() / 2;
        let changed = if &payload[middle..=middle] == "A" {
            "B"
        } else {
            "A"
        };
        let forged = format!(
            "{header}.{}{changed}{}.{signature}",
            &payload[..middle],
            &payload[middle + 1..]
        );
        app.refused(&forged, 401, "INVALID_SIGNATURE").await;
    }
}

#[tokio::test]
async fn ps_es_and_eddsa_tokens_are_refused_when_not_allowed() {
    for alg in ["PS256", "ES256", "EdDSA"] {
        let key = TestKey::generate(alg, Some("k"));
        let issuer = issuer_with(&key).await;
        // The default: RS256 only.
        let verifier = issuer.verifier().await;
        let app = ProtectedApp::start(verifier).await;
        let body = app
            .refused(
                &key.sign(&issuer.claims("read")),
                401,
                "ALGORITHM_NOT_ALLOWED",
            )
            .await;
        let description = body["error_description"].as_str().unwrap();
        assert_eq!(
            description,
            format!("Algorithm {alg} is not accepted; allowed: RS256")
        );
    }
}

#[tokio::test]
async fn a_key_verifies_only_its_own_algorithm_even_when_others_are_allowed() {
    let ec = TestKey::generate("ES256", Some("ec"));
    let rsa = TestKey::generate("PS256", Some("rsa"));
    let issuer = IssuerServer::start().await;
    issuer.publish(json!({"keys": [ec.jwk(), rsa.jwk()]}));
    let verifier = JwksVerifier::builder()
        .issuer(issuer.issuer.clone())
        .audience(AUDIENCE)
        .algorithms([Algorithm::ES256, Algorithm::PS256, Algorithm::RS256])
        .build()
        .await
        .unwrap();
    let app = ProtectedApp::start(verifier).await;
    app.accepted(&ec.sign(&issuer.claims("read"))).await;
    app.accepted(&rsa.sign(&issuer.claims("read"))).await;
    // The PS256 key's JWK pins PS256: an RS256 signature by the same key is refused.
    let rs256_header = json!({"alg": "RS256", "kid": "rsa", "typ": "at+jwt"});
    let as_rs256 = TestKey::generate("RS256", Some("rsa"))
        .sign_with_header(&rs256_header, &issuer.claims("read"));
    let body = app.refused(&as_rs256, 401, "ALGORITHM_NOT_ALLOWED").await;
    assert_eq!(
        body["error_description"],
        "Key `rsa` does not sign with RS256"
    );
    // A header naming the EC key with an RSA algorithm is refused by the key, not tried.
    let confused = rsa.sign_with_header(
        &json!({"alg": "PS256", "kid": "ec"}),
        &issuer.claims("read"),
    );
    let body = app.refused(&confused, 401, "ALGORITHM_NOT_ALLOWED").await;
    assert_eq!(
        body["error_description"],
        "Key `ec` does not sign with PS256"
    );
}

// ---------------------------------------------------------------------------------------------
// Tokens without `kid`

#[tokio::test]
async fn a_single_key_jwks_without_kid_verifies_tokens_without_kid() {
    let key = TestKey::generate("RS256", None);
    let issuer = issuer_with(&key).await;
    let verifier = issuer.verifier().await;
    assert_eq!(verifier.jwks_status().key_count, 1);
    let app = ProtectedApp::start(verifier).await;
    let token = key.sign(&issuer.claims("read"));
    assert!(
        !String::from_utf8_lossy(
            &base64::Engine::decode(
                &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                token.split('.').next().unwrap()
            )
            .unwrap()
        )
        .contains("kid")
    );
    app.accepted(&token).await;
}

#[tokio::test]
async fn a_token_without_kid_uses_a_sole_named_key_but_not_one_of_several() {
    let issuer = IssuerServer::start().await; // one key, with a kid
    let verifier = issuer.verifier().await;
    let no_kid = issuer
        .signer
        .sign_with_header(&json!({"alg": "RS256"}), &issuer.claims("read"))
        .unwrap();
    assert!(verifier.verify(&no_kid).await.is_ok());

    let second = TestKey::generate("RS256", Some("second"));
    issuer.publish(json!({"keys": [issuer.signer.jwk(), second.jwk()]}));
    verifier.refresh_keys().await.unwrap();
    let error = verifier.verify(&no_kid).await.unwrap_err();
    assert_eq!(error.code().as_str(), "UNKNOWN_KEY_ID");
    assert_eq!(
        error.description(),
        "The token header has no `kid`; the signing key cannot be chosen"
    );
    // With a kid, each of the two keys still works.
    assert!(verifier.verify(&issuer.token("read")).await.is_ok());
    assert!(
        verifier
            .verify(&second.sign(&issuer.claims("read")))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn tokens_without_kid_can_be_refused_altogether() {
    let key = TestKey::generate("RS256", None);
    let issuer = issuer_with(&key).await;
    let verifier = JwksVerifier::builder()
        .issuer(issuer.issuer.clone())
        .audience(AUDIENCE)
        .allow_token_without_kid(false)
        .build()
        .await
        .unwrap();
    let error = verifier
        .verify(&key.sign(&issuer.claims("read")))
        .await
        .unwrap_err();
    assert_eq!(error.code().as_str(), "UNKNOWN_KEY_ID");
}

// ---------------------------------------------------------------------------------------------
// `typ`

#[tokio::test]
async fn typ_is_not_checked_by_default() {
    let issuer = IssuerServer::start().await;
    let verifier = issuer.verifier().await;
    for header in [
        json!({"alg": "RS256", "kid": issuer.signer.kid(), "typ": "JWT"}),
        json!({"alg": "RS256", "kid": issuer.signer.kid()}),
    ] {
        let token = issuer
            .signer
            .sign_with_header(&header, &issuer.claims("read"))
            .unwrap();
        assert!(verifier.verify(&token).await.is_ok(), "{header}");
    }
}

/// The app behind a verifier of `issuer` with the `typ` check `policy`.
async fn app_checking_typ(issuer: &IssuerServer, policy: TokenTypePolicy) -> ProtectedApp {
    let verifier = JwksVerifier::builder()
        .issuer(issuer.issuer.clone())
        .audience(AUDIENCE)
        .token_type(policy)
        .build()
        .await
        .unwrap();
    ProtectedApp::start(verifier).await
}

#[tokio::test]
async fn at_jwt_required_refuses_id_tokens_and_untyped_tokens() {
    let issuer = IssuerServer::start().await;
    let app = app_checking_typ(&issuer, TokenTypePolicy::AccessTokenJwt).await;
    let kid = issuer.signer.kid().to_owned();
    for typ in ["at+jwt", "application/at+jwt", "AT+JWT"] {
        let header = json!({"alg": "RS256", "kid": kid, "typ": typ});
        let token = issuer
            .signer
            .sign_with_header(&header, &issuer.claims("read"))
            .unwrap();
        app.accepted(&token).await;
    }
    let id_token = issuer
        .signer
        .sign_with_header(
            &json!({"alg": "RS256", "kid": kid, "typ": "JWT"}),
            &issuer.claims("read"),
        )
        .unwrap();
    let body = app.refused(&id_token, 401, "INVALID_TOKEN_TYPE").await;
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("`JWT`")
    );
    let untyped = issuer
        .signer
        .sign_with_header(&json!({"alg": "RS256", "kid": kid}), &issuer.claims("read"))
        .unwrap();
    app.refused(&untyped, 401, "INVALID_TOKEN_TYPE").await;
}

#[tokio::test]
async fn a_typ_list_accepts_each_listed_type_only() {
    let issuer = IssuerServer::start().await;
    let verifier = JwksVerifier::builder()
        .issuer(issuer.issuer.clone())
        .audience(AUDIENCE)
        .token_type(TokenTypePolicy::OneOf(vec!["at+jwt".into(), "JWT".into()]))
        .build()
        .await
        .unwrap();
    let kid = issuer.signer.kid().to_owned();
    let with_typ = |typ: &str| {
        issuer
            .signer
            .sign_with_header(
                &json!({"alg": "RS256", "kid": kid, "typ": typ}),
                &issuer.claims("read"),
            )
            .unwrap()
    };
    assert!(verifier.verify(&with_typ("JWT")).await.is_ok());
    assert!(verifier.verify(&with_typ("at+jwt")).await.is_ok());
    let error = verifier.verify(&with_typ("logout+jwt")).await.unwrap_err();
    assert_eq!(error.code().as_str(), "INVALID_TOKEN_TYPE");
}

// ---------------------------------------------------------------------------------------------
// The JOSE header as JSON text

#[tokio::test]
async fn header_members_are_read_as_json_escapes_null_crit_and_repeats_included() {
    let key = TestKey::generate("RS256", Some("key-1"));
    let issuer = issuer_with(&key).await;
    let app = app_checking_typ(&issuer, TokenTypePolicy::AccessTokenJwt).await;
    let claims = issuer.claims("read");
    let sign = |header: &str| key.sign_with_header_text(header, &claims);
    // Escaped `alg`, `kid` and `typ` are the same strings as unescaped ones.
    app.accepted(&sign(
        r#"{"alg":"RS\u0032\u00356","kid":"key\u002d1","typ":"at\u002bjwt"}"#,
    ))
    .await;
    // A header too long for the verifier's stack buffer (a certificate chain in `x5c`).
    let chain = "MIIC".repeat(400);
    app.accepted(&sign(&format!(
        r#"{{"alg":"RS256","kid":"key-1","typ":"at+jwt","x5c":["{chain}"]}}"#
    )))
    .await;
    // `crit: null` names no extension; any `crit` value does.
    app.accepted(&sign(
        r#"{"alg":"RS256","kid":"key-1","typ":"at+jwt","crit":null}"#,
    ))
    .await;
    for crit in [r#"["exp"]"#, "[]", r#"{"a":1}"#] {
        let header = format!(r#"{{"alg":"RS256","kid":"key-1","typ":"at+jwt","crit":{crit}}}"#);
        app.refused(&sign(&header), 401, "ACCESS_TOKEN_MALFORMED")
            .await;
    }
    // A member named twice, or of the wrong type: no JOSE header.
    for header in [
        r#"{"alg":"RS256","alg":"RS256","kid":"key-1","typ":"at+jwt"}"#,
        r#"{"alg":"RS256","kid":1,"typ":"at+jwt"}"#,
        r#"{"alg":"RS256","kid":"key-1","typ":["at+jwt"]}"#,
    ] {
        app.refused(&sign(header), 401, "ACCESS_TOKEN_NOT_JWS")
            .await;
    }
}
