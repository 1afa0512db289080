//! A self-contained RS256 token issuer for development and tests.
//!
//! [`DevIssuer`] generates an RSA key, publishes it as a JWKS, describes itself with an OpenID
//! configuration document and mints signed access tokens. The example gateway's dev mode serves
//! it so the whole production path (discovery, JWKS, verification) runs with no Auth0 tenant;
//! tests and benchmarks use it to mint real tokens.
//!
//! Never use it as a production issuer: keys live in memory and nothing authenticates the
//! subject it signs for.
//!
//! ```
//! use tower_mcp_auth::dev::DevIssuer;
//!
//! let issuer = DevIssuer::generate().unwrap();
//! let token = issuer.sign(&serde_json::json!({"sub": "dev", "exp": 4_102_444_800u64})).unwrap();
//! assert_eq!(token.split('.').count(), 3);
//! assert_eq!(issuer.jwks()["keys"][0]["kid"], issuer.kid());
//! ```

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair, KeySize, PublicKeyComponents};
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

/// Why the dev issuer could not do its job (key generation or signing failed in the crypto
/// library; never expected in practice).
#[derive(Debug, thiserror::Error)]
#[error("dev issuer: {0}")]
pub struct DevIssuerError(&'static str);

/// An in-memory RS256 issuer: one RSA-2048 key, its JWKS, and token minting.
pub struct DevIssuer {
    key: KeyPair,
    kid: String,
    modulus: String,
    exponent: String,
}

impl std::fmt::Debug for DevIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevIssuer")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl DevIssuer {
    /// Generates a fresh RSA-2048 key with a random `kid`.
    pub fn generate() -> Result<Self, DevIssuerError> {
        let key = KeyPair::generate(KeySize::Rsa2048)
            .map_err(|_| DevIssuerError("RSA key generation failed"))?;
        let components = PublicKeyComponents::<Vec<u8>>::from(key.public_key());
        let mut kid_bytes = [0u8; 12];
        aws_lc_rs::rand::fill(&mut kid_bytes).map_err(|_| DevIssuerError("no randomness"))?;
        Ok(Self {
            kid: format!("dev-{}", URL_SAFE_NO_PAD.encode(kid_bytes)),
            modulus: URL_SAFE_NO_PAD.encode(&components.n),
            exponent: URL_SAFE_NO_PAD.encode(&components.e),
            key,
        })
    }

    /// The same key under another `kid`.
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = kid.into();
        self
    }

    /// The key id tokens carry in their header.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as a JWK (`kty` RSA, `use` sig, `alg` RS256).
    pub fn jwk(&self) -> Value {
        json!({
            "kty": "RSA",
            "use": "sig",
            "alg": "RS256",
            "kid": self.kid,
            "n": self.modulus,
            "e": self.exponent,
        })
    }

    /// The JWKS document: `{"keys": [jwk]}`.
    pub fn jwks(&self) -> Value {
        json!({ "keys": [self.jwk()] })
    }

    /// An OpenID configuration document for an issuer at `issuer` whose JWKS is at `jwks_uri`.
    pub fn openid_configuration(issuer: &str, jwks_uri: &str) -> Value {
        json!({
            "issuer": issuer,
            "jwks_uri": jwks_uri,
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
        })
    }

    /// Signs `claims` as an RS256 JWT with header `{"alg":"RS256","typ":"at+jwt","kid":…}`.
    pub fn sign(&self, claims: &Value) -> Result<String, DevIssuerError> {
        self.sign_with_header(
            &json!({"alg": "RS256", "typ": "at+jwt", "kid": self.kid}),
            claims,
        )
    }

    /// Signs `claims` with RS256 under an arbitrary `header` (tests use it to forge headers: a
    /// wrong `kid`, a lying `alg`).
    pub fn sign_with_header(
        &self,
        header: &Value,
        claims: &Value,
    ) -> Result<String, DevIssuerError> {
        let message = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut signature = vec![0u8; self.key.public_modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                message.as_bytes(),
                &mut signature,
            )
            .map_err(|_| DevIssuerError("RSA signing failed"))?;
        Ok(format!("{message}.{}", URL_SAFE_NO_PAD.encode(signature)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_verifies_with_the_published_key() {
        let issuer = DevIssuer::generate().unwrap();
        let token = issuer.sign(&json!({"sub": "x"})).unwrap();
        let (message, signature) = token.rsplit_once('.').unwrap();
        let key = jsonwebtoken::DecodingKey::from_rsa_components(&issuer.modulus, &issuer.exponent)
            .unwrap();
        assert!(
            jsonwebtoken::crypto::verify(
                signature,
                message.as_bytes(),
                &key,
                jsonwebtoken::Algorithm::RS256
            )
            .unwrap()
        );
    }
}
