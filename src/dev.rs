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
//! Two lines give a verifier that trusts it (no HTTP: its JWKS is pinned with
//! [`JwksVerifierBuilder::jwks_document`](crate::token::JwksVerifierBuilder::jwks_document)) and
//! a token for it:
//!
//! ```
//! use std::time::Duration;
//! use tower_mcp_auth::dev::DevIssuer;
//! use tower_mcp_auth::token::TokenVerifier;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dev = DevIssuer::generate()?;
//! let verifier = dev.verifier("https://api.example.com/mcp").await?;
//!
//! let token = dev
//!     .token("https://api.example.com/mcp")
//!     .subject("alice")
//!     .scope("docs:read docs:write")
//!     .ttl(Duration::from_secs(600))
//!     .claim("https://example.com/tenant", "acme")
//!     .sign()?;
//!
//! let verified = verifier.verify(&token).await?;
//! assert_eq!(verified.subject(), "alice");
//! assert_eq!(verified.scopes(), ["docs:read", "docs:write"]);
//! assert_eq!(verified.claim("https://example.com/tenant").unwrap(), "acme");
//! # Ok(()) }
//! ```
//!
//! [`DevIssuer::sign`] signs any claims you write yourself, e.g. to forge a broken token in a test.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair, KeySize, PublicKeyComponents};
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::token::{JwksVerifier, VerifierConfigError};

/// The issuer a [`DevIssuer`] names unless told otherwise ([`DevIssuer::with_issuer`]): the
/// `.invalid` top-level domain can never resolve, so nothing mistakes it for a real issuer.
pub const DEFAULT_DEV_ISSUER: &str = "https://dev-issuer.invalid/";

/// How long a [`DevToken`] is valid unless told otherwise: one hour.
pub const DEFAULT_DEV_TOKEN_TTL: Duration = Duration::from_secs(3600);

/// Why the dev issuer could not do its job (key generation or signing failed in the crypto
/// library; never expected in practice).
#[derive(Debug, thiserror::Error)]
#[error("dev issuer: {0}")]
pub struct DevIssuerError(&'static str);

/// An in-memory RS256 issuer: one RSA-2048 key, its JWKS, and token minting.
pub struct DevIssuer {
    key: KeyPair,
    issuer: String,
    kid: String,
    modulus: String,
    exponent: String,
}

impl std::fmt::Debug for DevIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevIssuer")
            .field("issuer", &self.issuer)
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
            issuer: DEFAULT_DEV_ISSUER.to_owned(),
            kid: format!("dev-{}", URL_SAFE_NO_PAD.encode(kid_bytes)),
            modulus: URL_SAFE_NO_PAD.encode(&components.n),
            exponent: URL_SAFE_NO_PAD.encode(&components.e),
            key,
        })
    }

    /// The same key, naming itself `issuer` in the tokens it mints and the verifiers it builds
    /// (default [`DEFAULT_DEV_ISSUER`]). Give the URL it is served at when it serves discovery
    /// over HTTP, as the example gateway's dev mode does.
    #[must_use]
    pub fn with_issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = issuer.into();
        self
    }

    /// The issuer identifier (`iss`) of the tokens it mints.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// A verifier that trusts this issuer's key for tokens whose `aud` is `audience`. No HTTP:
    /// the key is pinned with
    /// [`jwks_document`](crate::token::JwksVerifierBuilder::jwks_document).
    pub async fn verifier(
        &self,
        audience: impl Into<String>,
    ) -> Result<JwksVerifier, VerifierConfigError> {
        JwksVerifier::builder()
            .issuer(self.issuer.clone())
            .audience(audience)
            .jwks_document(self.jwks().to_string())
            .build()
            .await
    }

    /// Starts a token for `audience`: subject `dev-user`, client `dev-client`, no scope, valid
    /// for [`DEFAULT_DEV_TOKEN_TTL`]. Finish it with [`DevToken::sign`].
    pub fn token(&self, audience: impl Into<String>) -> DevToken<'_> {
        DevToken {
            issuer: self,
            audience: audience.into(),
            subject: "dev-user".to_owned(),
            client_id: Some("dev-client".to_owned()),
            scope: None,
            ttl: DEFAULT_DEV_TOKEN_TTL,
            extra: Map::new(),
        }
    }

    /// The same key under another `kid`.
    #[must_use]
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

/// A token being minted by a [`DevIssuer`]; see [`DevIssuer::token`].
#[derive(Debug)]
#[must_use = "a token is minted only by `sign()`"]
pub struct DevToken<'a> {
    issuer: &'a DevIssuer,
    audience: String,
    subject: String,
    client_id: Option<String>,
    scope: Option<String>,
    ttl: Duration,
    extra: Map<String, Value>,
}

impl DevToken<'_> {
    /// The `sub` claim (default `dev-user`).
    pub fn subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = subject.into();
        self
    }

    /// The `scope` claim: space-separated scopes, as OAuth writes them.
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        let scope = scope.into();
        self.scope = (!scope.trim().is_empty()).then_some(scope);
        self
    }

    /// The `client_id` claim (default `dev-client`); `None` leaves it out.
    pub fn client_id(mut self, client_id: Option<&str>) -> Self {
        self.client_id = client_id.map(str::to_owned);
        self
    }

    /// How long from now until `exp` (default one hour). `iat` is now.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// Any other claim, e.g. an Auth0 namespaced one. It replaces a claim set above of the same
    /// name.
    pub fn claim(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.extra.insert(name.into(), value.into());
        self
    }

    /// The claims [`sign`](Self::sign) signs.
    pub fn claims(&self) -> Value {
        // A clock before 1970 is not a case a development helper needs to model: it mints at 0.
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let mut claims = Map::new();
        claims.insert("iss".into(), self.issuer.issuer.clone().into());
        claims.insert("aud".into(), self.audience.clone().into());
        claims.insert("sub".into(), self.subject.clone().into());
        if let Some(client_id) = &self.client_id {
            claims.insert("client_id".into(), client_id.clone().into());
        }
        if let Some(scope) = &self.scope {
            claims.insert("scope".into(), scope.clone().into());
        }
        claims.insert("iat".into(), now.into());
        claims.insert("exp".into(), now.saturating_add(self.ttl.as_secs()).into());
        claims.extend(self.extra.clone());
        Value::Object(claims)
    }

    /// Signs the token (RS256, `typ` `at+jwt`, the issuer's `kid`).
    pub fn sign(self) -> Result<String, DevIssuerError> {
        self.issuer.sign(&self.claims())
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
