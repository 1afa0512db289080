//! Bearer tokens through classification and the whole JWT verification: JOSE header decoding,
//! algorithm and key choice, signature, claims decoding and the claim checks, against an
//! in-memory key set (`JwksVerifierBuilder::jwks_document`: no network).
//!
//! The first byte picks the mode:
//! - 0: the rest is the token, as sent;
//! - 1: `header \0 claims`, both raw bytes, base64url-encoded and validly signed with the ES256
//!   key (header decoding, then claims decoding past a good signature);
//! - 2: raw claims under a valid ES256 header, validly signed;
//! - 3: raw claims under a valid RS256 header, validly signed (the RS256 fast path).
//!
//! Checks: no panic; classification agrees with the verifier (only a JWS shape can verify); an
//! accepted token has the configured issuer and audience and is not expired; every refusal is a
//! client error (the key set is in memory, so never `KEYS_UNAVAILABLE`).
#![no_main]

use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize, PublicKeyComponents};
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _, RSA_PKCS1_SHA256,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use libfuzzer_sys::fuzz_target;
use serde_json::json;
use tower_mcp_auth::ErrorCode;
use tower_mcp_auth::token::{
    Algorithm, JwksVerifier, TokenShape, TokenVerifier, classify, require_jws,
};

const ISSUER: &str = "https://issuer.example/";
const AUDIENCE: &str = "https://api.example/mcp";
const LEEWAY_SECS: u64 = 30;

struct Fixture {
    runtime: tokio::runtime::Runtime,
    verifier: JwksVerifier,
    rsa: RsaKeyPair,
    ec: EcdsaKeyPair,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let rsa = RsaKeyPair::generate(KeySize::Rsa2048).expect("RSA key");
        let rsa_public = PublicKeyComponents::<Vec<u8>>::from(rsa.public_key());
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .expect("EC key");
        let ec = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref())
            .expect("EC key");
        // An uncompressed P-256 point: 0x04 ‖ x ‖ y.
        let point = ec.public_key().as_ref();
        let jwks = json!({"keys": [
            {"kty": "RSA", "kid": "rsa", "alg": "RS256", "use": "sig",
             "n": URL_SAFE_NO_PAD.encode(&rsa_public.n), "e": URL_SAFE_NO_PAD.encode(&rsa_public.e)},
            {"kty": "EC", "kid": "ec", "crv": "P-256", "alg": "ES256", "use": "sig",
             "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..65])},
        ]});
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let verifier = runtime
            .block_on(
                JwksVerifier::builder().issuer(ISSUER).audience(AUDIENCE)
                    .algorithms([Algorithm::RS256, Algorithm::ES256])
                    .jwks_document(jwks.to_string())
                    .build(),
            )
            .expect("verifier");
        Fixture { runtime, verifier, rsa, ec }
    })
}

fn signed(fixture: &Fixture, header: &[u8], claims: &[u8], rs256: bool) -> String {
    let message = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(claims)
    );
    let signature = if rs256 {
        let mut signature = vec![0u8; fixture.rsa.public_modulus_len()];
        fixture
            .rsa
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                message.as_bytes(),
                &mut signature,
            )
            .expect("RSA signature");
        signature
    } else {
        fixture
            .ec
            .sign(&SystemRandom::new(), message.as_bytes())
            .expect("EC signature")
            .as_ref()
            .to_vec()
    };
    format!("{message}.{}", URL_SAFE_NO_PAD.encode(signature))
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let fixture = fixture();
    let token = match mode % 4 {
        0 => match std::str::from_utf8(rest) {
            Ok(token) => token.to_owned(),
            Err(_) => return,
        },
        1 => {
            let (header, claims) = match rest.iter().position(|b| *b == 0) {
                Some(at) => (&rest[..at], &rest[at + 1..]),
                None => (rest, &b"{}"[..]),
            };
            signed(fixture, header, claims, false)
        }
        2 => signed(fixture, br#"{"alg":"ES256","kid":"ec"}"#, rest, false),
        _ => signed(
            fixture,
            br#"{"alg":"RS256","kid":"rsa","typ":"at+jwt"}"#,
            rest,
            true,
        ),
    };

    let shape = classify(&token);
    assert_eq!(require_jws(&token).is_ok(), shape == TokenShape::Jws);
    match fixture.runtime.block_on(fixture.verifier.verify(&token)) {
        Ok(access) => {
            assert_eq!(
                shape,
                TokenShape::Jws,
                "a token that is no JWS verified: {token}"
            );
            assert_eq!(access.issuer(), ISSUER);
            assert!(access.audiences().iter().any(|a| a == AUDIENCE));
            // `exp` may be any non-negative JSON number: a huge float saturates to u64::MAX
            // (fuzz-found: `"exp":15847311E75`), so never add to it without saturating.
            assert!(access.expires_at().saturating_add(LEEWAY_SECS) >= now());
            assert!(
                access
                    .not_before()
                    .is_none_or(|nbf| nbf <= now().saturating_add(LEEWAY_SECS))
            );
        }
        Err(error) => {
            assert!(error.code().status().is_client_error(), "{error:?}");
            assert_ne!(error.code(), ErrorCode::KeysUnavailable, "{error:?}");
        }
    }
});
