//! Test signers for every accepted algorithm (RS*, PS*, ES256/384, EdDSA), each with its JWK,
//! so tests can publish keys on a loopback issuer and mint tokens the way real issuers do.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize, PublicKeyComponents};
use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

enum Key {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
}

/// A private key of one algorithm, its public JWK and token minting.
pub struct TestKey {
    pub alg: &'static str,
    pub kid: Option<String>,
    key: Key,
    jwk: Value,
}

impl TestKey {
    /// A fresh key for `alg` (`RS256` … `EdDSA`), published under `kid` (or none).
    pub fn generate(alg: &'static str, kid: Option<&str>) -> Self {
        let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
        let (key, mut jwk) = match alg {
            "RS256" | "RS384" | "RS512" | "PS256" | "PS384" | "PS512" => {
                let pair = RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
                let public = PublicKeyComponents::<Vec<u8>>::from(pair.public_key());
                let jwk = json!({"kty": "RSA", "n": b64(&public.n), "e": b64(&public.e)});
                (Key::Rsa(pair), jwk)
            }
            "ES256" | "ES384" => {
                let (signing, crv, len) = if alg == "ES256" {
                    (&signature::ECDSA_P256_SHA256_FIXED_SIGNING, "P-256", 32)
                } else {
                    (&signature::ECDSA_P384_SHA384_FIXED_SIGNING, "P-384", 48)
                };
                let pair = EcdsaKeyPair::generate(signing).unwrap();
                let point = pair.public_key().as_ref().to_vec();
                let jwk = json!({"kty": "EC", "crv": crv,
                    "x": b64(&point[1..1 + len]), "y": b64(&point[1 + len..])});
                (Key::Ec(pair), jwk)
            }
            "EdDSA" => {
                let pair = Ed25519KeyPair::generate().unwrap();
                let jwk =
                    json!({"kty": "OKP", "crv": "Ed25519", "x": b64(pair.public_key().as_ref())});
                (Key::Ed(pair), jwk)
            }
            other => panic!("no test signer for {other}"),
        };
        jwk["use"] = "sig".into();
        jwk["alg"] = alg.into();
        if let Some(kid) = kid {
            jwk["kid"] = kid.into();
        }
        Self {
            alg,
            kid: kid.map(str::to_owned),
            key,
            jwk,
        }
    }

    /// The public JWK (with `use`, `alg` and, if any, `kid`).
    pub fn jwk(&self) -> Value {
        self.jwk.clone()
    }

    /// `{"keys": [jwk]}`.
    pub fn jwks(&self) -> Value {
        json!({"keys": [self.jwk()]})
    }

    /// The header real issuers send: `alg`, `typ`, and `kid` when the key has one.
    pub fn header(&self, typ: &str) -> Value {
        let mut header = json!({"alg": self.alg, "typ": typ});
        if let Some(kid) = &self.kid {
            header["kid"] = kid.as_str().into();
        }
        header
    }

    /// Signs `claims` with header `{"alg", "typ": "at+jwt", "kid"}`.
    pub fn sign(&self, claims: &Value) -> String {
        self.sign_with_header(&self.header("at+jwt"), claims)
    }

    /// Signs `claims` under an arbitrary header (with this key's algorithm).
    pub fn sign_with_header(&self, header: &Value, claims: &Value) -> String {
        self.sign_with_header_text(&header.to_string(), claims)
    }

    /// Signs `claims` under a header given as JSON text, byte for byte (escapes, repeated
    /// members: whatever a test needs the verifier to read).
    pub fn sign_with_header_text(&self, header: &str, claims: &Value) -> String {
        let message = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let rng = SystemRandom::new();
        let signature = match &self.key {
            Key::Rsa(pair) => {
                let padding: &'static dyn signature::RsaEncoding = match self.alg {
                    "RS256" => &signature::RSA_PKCS1_SHA256,
                    "RS384" => &signature::RSA_PKCS1_SHA384,
                    "RS512" => &signature::RSA_PKCS1_SHA512,
                    "PS256" => &signature::RSA_PSS_SHA256,
                    "PS384" => &signature::RSA_PSS_SHA384,
                    _ => &signature::RSA_PSS_SHA512,
                };
                let mut out = vec![0u8; pair.public_modulus_len()];
                pair.sign(padding, &rng, message.as_bytes(), &mut out)
                    .unwrap();
                out
            }
            Key::Ec(pair) => pair
                .sign(&rng, message.as_bytes())
                .unwrap()
                .as_ref()
                .to_vec(),
            Key::Ed(pair) => pair.sign(message.as_bytes()).as_ref().to_vec(),
        };
        format!("{message}.{}", URL_SAFE_NO_PAD.encode(signature))
    }
}
