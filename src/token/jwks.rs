//! [`JwksVerifier`]: JWT access tokens verified locally with the issuer's published keys.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, AlgorithmFamily};
use serde::Deserialize;

use crate::challenge::{AuthError, ErrorCode};
use crate::token::cache::now_secs;
use crate::token::classify::not_jws;
use crate::token::discovery::{discover, reconcile_issuer, require_secure_url};
use crate::token::key_store::{KeyLookupError, KeyStore, parse_key_set};
use crate::token::{AccessToken, JwksStatus, TokenVerifier};

/// Why a [`JwksVerifier`] could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VerifierConfigError {
    /// A configured URL does not parse.
    #[error("{what} `{url}` is not a valid URL: {source}")]
    InvalidUrl {
        /// Which setting.
        what: &'static str,
        /// The value given.
        url: String,
        /// The parse error.
        source: url::ParseError,
    },
    /// A URL is `http://` on a host that is not loopback.
    #[error("{what} `{url}` must use https:// (http:// is accepted only for loopback hosts)")]
    InsecureUrl {
        /// Which setting.
        what: &'static str,
        /// The value given.
        url: String,
    },
    /// Neither discovery document could be read.
    #[error("could not read the metadata of issuer `{issuer}`: {reasons}")]
    Discovery {
        /// The configured issuer.
        issuer: String,
        /// What went wrong at each URL tried.
        reasons: String,
    },
    /// The discovery document names another issuer.
    #[error(
        "the configured issuer `{configured}` differs from the one its discovery document names, `{discovered}`"
    )]
    IssuerMismatch {
        /// The configured issuer.
        configured: String,
        /// The metadata's `issuer`.
        discovered: String,
    },
    /// An algorithm that must never verify access tokens was allowed.
    #[error("algorithm {0:?} is not allowed for access tokens (only asymmetric signatures are)")]
    ForbiddenAlgorithm(Algorithm),
    /// The JWKS document given with
    /// [`jwks_document`](JwksVerifierBuilder::jwks_document) is unreadable or holds no usable
    /// signing key.
    #[error("the JWKS document is not usable: {0}")]
    InvalidJwks(String),
    /// The audience is empty.
    #[error("the audience must not be empty")]
    EmptyAudience,
    /// The HTTP client could not be built.
    #[error("could not build the HTTP client: {0}")]
    HttpClient(String),
}

/// Verifies JWT access tokens (RFC 9068 or Auth0's shape) with keys from the issuer's JWKS.
///
/// - Algorithms are an explicit list, RS256 by default; `none` and HMAC are always refused, and a
///   key verifies only tokens of its own family (and of its JWK `alg`, if it names one).
/// - `iss` must equal the issuer exactly as its discovery document spells it; `aud` (string or
///   array) must contain the audience; `exp` is required; `nbf`/`iat` are honoured; the leeway is
///   30 s unless set.
/// - Keys are held parsed in memory; see the key store's guarantees in the crate docs: an unknown
///   `kid` refreshes the JWKS at most once per cooldown (30 s), shared by concurrent requests, and
///   a failing JWKS endpoint leaves the last good keys in use.
///
/// Cheap to clone.
///
/// ```no_run
/// use tower_mcp_auth::token::JwksVerifier;
///
/// # async fn run() -> Result<(), tower_mcp_auth::token::VerifierConfigError> {
/// // Discovers the JWKS from https://tenant.us.auth0.com/.well-known/openid-configuration.
/// let verifier = JwksVerifier::builder("https://tenant.us.auth0.com", "https://api.example.com")
///     .leeway(std::time::Duration::from_secs(10))
///     .build()
///     .await?;
/// assert_eq!(verifier.issuer(), "https://tenant.us.auth0.com/"); // Auth0's spelling
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct JwksVerifier {
    shared: Arc<Shared>,
}

struct Shared {
    issuer: String,
    audience: String,
    algorithms: Vec<Algorithm>,
    leeway: Duration,
    keys: Arc<KeyStore>,
}

impl std::fmt::Debug for JwksVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwksVerifier")
            .field("issuer", &self.shared.issuer)
            .field("audience", &self.shared.audience)
            .field("algorithms", &self.shared.algorithms)
            .field("jwks_uri", &self.jwks_uri())
            .finish()
    }
}

/// Builds a [`JwksVerifier`]; start with [`JwksVerifier::builder`].
#[derive(Debug, Clone)]
pub struct JwksVerifierBuilder {
    issuer: String,
    audience: String,
    jwks_uri: Option<String>,
    jwks_document: Option<Vec<u8>>,
    algorithms: Vec<Algorithm>,
    leeway: Duration,
    refresh_cooldown: Duration,
    refresh_interval: Duration,
    fetch_timeout: Duration,
    client: Option<reqwest::Client>,
}

impl JwksVerifier {
    /// Starts building a verifier for tokens from `issuer` meant for `audience` (the API
    /// identifier, e.g. Auth0's API "Identifier").
    pub fn builder(issuer: impl Into<String>, audience: impl Into<String>) -> JwksVerifierBuilder {
        JwksVerifierBuilder {
            issuer: issuer.into(),
            audience: audience.into(),
            jwks_uri: None,
            jwks_document: None,
            algorithms: vec![Algorithm::RS256],
            leeway: Duration::from_secs(30),
            refresh_cooldown: Duration::from_secs(30),
            refresh_interval: Duration::from_secs(3600),
            fetch_timeout: Duration::from_secs(5),
            client: None,
        }
    }

    /// The issuer, spelled as its metadata spells it (the exact `iss` accepted).
    pub fn issuer(&self) -> &str {
        &self.shared.issuer
    }

    /// The audience every token must contain.
    pub fn audience(&self) -> &str {
        &self.shared.audience
    }

    /// Where the keys come from; empty when they were given with
    /// [`jwks_document`](JwksVerifierBuilder::jwks_document).
    pub fn jwks_uri(&self) -> &str {
        self.shared.keys.url().map_or("", url::Url::as_str)
    }

    /// The JWKS state, for health endpoints.
    pub fn jwks_status(&self) -> JwksStatus {
        self.shared.keys.status()
    }

    /// Fetches the JWKS now, keeping the old keys if that fails; returns the number of keys.
    pub async fn refresh_keys(&self) -> Result<usize, String> {
        self.shared.keys.refresh_now().await
    }

    fn parse<'t>(&self, token: &'t str) -> Result<Parsed<'t>, AuthError> {
        let mut parts = token.split('.');
        let (Some(header_b64), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(AuthError::new(
                ErrorCode::NotJws,
                "The access token is not a compact JWS",
            ));
        };
        // Three dot-separated parts whose first is no JOSE header: an opaque token that happens
        // to contain two dots, not a malformed JWS.
        let header: JoseHeader = decode_part(header_b64, "header").map_err(|_| not_jws())?;
        if header.crit.is_some() {
            // RFC 7515 §4.1.11: extensions we do not understand must make the token invalid.
            return Err(AuthError::new(
                ErrorCode::MalformedToken,
                "The token header has a `crit` extension this server does not support",
            ));
        }
        let alg = self.allowed_algorithm(&header.alg)?;
        let kid = header.kid.ok_or_else(|| {
            AuthError::new(
                ErrorCode::UnknownKeyId,
                "The token header has no `kid`; the signing key cannot be chosen",
            )
        })?;
        Ok(Parsed {
            alg,
            kid,
            // The signed bytes: `header.payload`.
            message: &token[..header_b64.len() + 1 + payload.len()],
            payload,
            signature,
        })
    }

    fn allowed_algorithm(&self, alg: &str) -> Result<Algorithm, AuthError> {
        let refused = |why: String| AuthError::new(ErrorCode::AlgorithmNotAllowed, why);
        if alg.eq_ignore_ascii_case("none") {
            return Err(refused(
                "Unsigned tokens (alg `none`) are never accepted".to_owned(),
            ));
        }
        let parsed: Algorithm = alg
            .parse()
            .map_err(|_| refused(format!("Unknown signature algorithm `{}`", short(alg))))?;
        if !self.shared.algorithms.contains(&parsed) {
            return Err(refused(format!(
                "Algorithm {parsed:?} is not accepted; allowed: {:?}",
                self.shared.algorithms
            )));
        }
        Ok(parsed)
    }

    fn check_signature(
        &self,
        parsed: &Parsed<'_>,
        key: &crate::token::key_store::VerifyKey,
    ) -> Result<(), AuthError> {
        // The key, not the token, decides the family: an RSA key never verifies an HMAC or EC
        // signature, whatever the header claims (RFC 8725 §3.1).
        if key.key.family() != parsed.alg.family() || key.alg.is_some_and(|a| a != parsed.alg) {
            return Err(AuthError::new(
                ErrorCode::AlgorithmNotAllowed,
                format!(
                    "Key `{}` does not sign with {:?}",
                    short(&parsed.kid),
                    parsed.alg
                ),
            ));
        }
        let verified = match (&key.rs256, parsed.alg) {
            (Some(rs256), Algorithm::RS256) => verify_rs256(rs256, parsed),
            _ => jsonwebtoken::crypto::verify(
                parsed.signature,
                parsed.message.as_bytes(),
                &key.key,
                parsed.alg,
            )
            .unwrap_or(false),
        };
        if verified {
            Ok(())
        } else {
            Err(AuthError::new(
                ErrorCode::InvalidSignature,
                "The access token's signature does not verify",
            ))
        }
    }

    fn check_claims(&self, payload: &str) -> Result<AccessToken, AuthError> {
        let bytes = URL_SAFE_NO_PAD.decode(payload).map_err(|_| {
            AuthError::new(
                ErrorCode::MalformedToken,
                "The token claims is not base64url",
            )
        })?;
        // Invalid UTF-8 is no JSON: `from_json` gives it the answer of any other bad JSON.
        let json = String::from_utf8(bytes).unwrap_or_default();
        let token = AccessToken::from_json(json)?;
        if token.issuer() != self.shared.issuer {
            return Err(AuthError::new(
                ErrorCode::InvalidIssuer,
                format!(
                    "The token was issued by `{}`, not by `{}`",
                    short(token.issuer()),
                    self.shared.issuer
                ),
            ));
        }
        if !token.audiences().iter().any(|a| *a == self.shared.audience) {
            return Err(AuthError::new(
                ErrorCode::InvalidAudience,
                format!(
                    "The token is not meant for this API: its audience does not include `{}`",
                    self.shared.audience
                ),
            ));
        }
        token.check_time(now_secs(), self.shared.leeway.as_secs())?;
        Ok(token)
    }
}

impl TokenVerifier for JwksVerifier {
    async fn verify(&self, token: &str) -> Result<AccessToken, AuthError> {
        let parsed = self.parse(token)?;
        let key = self
            .shared
            .keys
            .key(&parsed.kid)
            .await
            .map_err(|error| match error {
                KeyLookupError::Unknown => AuthError::new(
                    ErrorCode::UnknownKeyId,
                    format!("No key `{}` in the issuer's JWKS", short(&parsed.kid)),
                ),
                KeyLookupError::Unavailable(_) => AuthError::new(
                    ErrorCode::KeysUnavailable,
                    "The issuer's signing keys cannot be fetched right now; try again later",
                ),
            })?;
        self.check_signature(&parsed, &key)?;
        self.check_claims(parsed.payload)
    }

    fn leeway(&self) -> Duration {
        self.shared.leeway
    }
}

impl JwksVerifierBuilder {
    /// Uses this JWKS URL instead of discovering it; the issuer is then used exactly as given.
    pub fn jwks_uri(mut self, url: impl Into<String>) -> Self {
        self.jwks_uri = Some(url.into());
        self
    }

    /// Uses the keys of this JWKS document (RFC 7517 §5) for good, instead of fetching them: no
    /// discovery, no fetch, no refresh, no network at all; the issuer is used exactly as given.
    ///
    /// For issuers whose keys are pinned in configuration (air-gapped deployments), tests and
    /// fuzzing. A token whose `kid` is not in the document is refused as `UNKNOWN_KEY_ID`.
    ///
    /// ```
    /// use tower_mcp_auth::token::JwksVerifier;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let issuer = tower_mcp_auth::dev::DevIssuer::generate()?;
    /// let verifier = JwksVerifier::builder("https://issuer.example/", "https://api.example")
    ///     .jwks_document(issuer.jwks().to_string())
    ///     .build()
    ///     .await?;
    /// assert_eq!(verifier.jwks_status().key_count, 1);
    /// # Ok(()) }
    /// ```
    pub fn jwks_document(mut self, document: impl Into<Vec<u8>>) -> Self {
        self.jwks_document = Some(document.into());
        self
    }

    /// The accepted algorithms (default `[RS256]`). HMAC algorithms are refused at build time.
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.algorithms = algorithms.into_iter().collect();
        self
    }

    /// Clock skew tolerated on `exp`, `nbf` and `iat` (default 30 s).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// The least time between two JWKS fetches caused by unknown `kid`s (default 30 s).
    pub fn refresh_cooldown(mut self, cooldown: Duration) -> Self {
        self.refresh_cooldown = cooldown;
        self
    }

    /// How old the keys may get before a background refresh (default 1 h).
    pub fn refresh_interval(mut self, interval: Duration) -> Self {
        self.refresh_interval = interval;
        self
    }

    /// Timeout of each discovery and JWKS request (default 5 s).
    pub fn fetch_timeout(mut self, timeout: Duration) -> Self {
        self.fetch_timeout = timeout;
        self
    }

    /// Uses this HTTP client for discovery and JWKS fetches.
    ///
    /// `reqwest::Client` is in the public API on purpose: it is what carries a deployment's
    /// proxy, root certificates and connection pool, and reqwest is the client the verifier
    /// fetches with, so a wrapper would only hide the same settings. It ties this method (not the
    /// rest of the crate) to reqwest's major version.
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.client = Some(client);
        self
    }

    /// Validates the settings, reads the issuer's metadata (unless the JWKS URL was given) and
    /// fetches the keys once. A failing first JWKS fetch is logged, not fatal: keys are fetched
    /// again when the first token needs them.
    pub async fn build(mut self) -> Result<JwksVerifier, VerifierConfigError> {
        if let Some(alg) = self
            .algorithms
            .iter()
            .find(|a| a.family() == AlgorithmFamily::Hmac)
        {
            return Err(VerifierConfigError::ForbiddenAlgorithm(*alg));
        }
        if self.audience.trim().is_empty() {
            return Err(VerifierConfigError::EmptyAudience);
        }
        let issuer_url = require_secure_url("issuer", &self.issuer)?;
        if let Some(document) = self.jwks_document.take() {
            let keys = parse_key_set(&document).map_err(VerifierConfigError::InvalidJwks)?;
            if keys.is_empty() {
                return Err(VerifierConfigError::InvalidJwks(
                    "the JWKS has no usable signing key".to_owned(),
                ));
            }
            let issuer = self.issuer.clone();
            return Ok(self.finish(issuer, Arc::new(KeyStore::fixed(keys))));
        }
        let client = match self.client.take() {
            Some(client) => client,
            None => reqwest::Client::builder()
                .connect_timeout(self.fetch_timeout)
                .build()
                .map_err(|e| VerifierConfigError::HttpClient(e.to_string()))?,
        };
        let (issuer, jwks_uri) = match self.jwks_uri.take() {
            Some(jwks_uri) => (
                self.issuer.clone(),
                require_secure_url("jwks_uri", &jwks_uri)?,
            ),
            None => {
                let metadata = discover(&client, &issuer_url, self.fetch_timeout).await?;
                let issuer = reconcile_issuer(&self.issuer, &metadata.issuer)?;
                (issuer, require_secure_url("jwks_uri", &metadata.jwks_uri)?)
            }
        };
        let keys = Arc::new(KeyStore::new(
            jwks_uri,
            client,
            self.fetch_timeout,
            self.refresh_cooldown,
            self.refresh_interval,
        ));
        if let Err(error) = keys.refresh_now().await {
            tracing::warn!(%error, "first JWKS fetch failed; keys will be fetched when a token needs them");
        }
        Ok(self.finish(issuer, keys))
    }

    fn finish(self, issuer: String, keys: Arc<KeyStore>) -> JwksVerifier {
        JwksVerifier {
            shared: Arc::new(Shared {
                issuer,
                audience: self.audience,
                algorithms: self.algorithms,
                leeway: self.leeway,
                keys,
            }),
        }
    }
}

/// The parts of a compact JWS the verifier works with.
struct Parsed<'a> {
    alg: Algorithm,
    kid: String,
    /// `header.payload`, the signed bytes.
    message: &'a str,
    payload: &'a str,
    signature: &'a str,
}

#[derive(Deserialize)]
struct JoseHeader {
    alg: String,
    kid: Option<String>,
    crit: Option<serde_json::Value>,
}

fn decode_part<T: serde::de::DeserializeOwned>(part: &str, what: &str) -> Result<T, AuthError> {
    let bytes = URL_SAFE_NO_PAD.decode(part).map_err(|_| {
        AuthError::new(
            ErrorCode::MalformedToken,
            format!("The token {what} is not base64url"),
        )
    })?;
    serde_json::from_slice(&bytes).map_err(|_| {
        AuthError::new(
            ErrorCode::MalformedToken,
            format!("The token {what} is not a JSON object of the expected shape"),
        )
    })
}

/// RS256 with the key parsed once; the signature is decoded on the stack (8192-bit keys at most).
fn verify_rs256(key: &aws_lc_rs::signature::ParsedPublicKey, parsed: &Parsed<'_>) -> bool {
    let mut signature = [0u8; 1024];
    match URL_SAFE_NO_PAD.decode_slice(parsed.signature, &mut signature) {
        Ok(len) => key
            .verify_sig(parsed.message.as_bytes(), &signature[..len])
            .is_ok(),
        Err(_) => false,
    }
}

/// Attacker-chosen strings are cut short before they go into an answer.
fn short(value: &str) -> &str {
    match value.char_indices().nth(64) {
        Some((end, _)) => &value[..end],
        None => value,
    }
}
