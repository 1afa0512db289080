//! [`JwksVerifier`]: JWT access tokens verified locally with their issuer's published keys.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;

use crate::challenge::{AuthError, ErrorCode};
use crate::token::algorithm::Algorithm;
use crate::token::audience::Audiences;
use crate::token::cache::now_secs;
use crate::token::classify::not_jws;
use crate::token::jwk::SignatureCheck;
use crate::token::key_store::{KeyChoice, KeyLookupError, KeyStore};
use crate::token::provenance::Provenance;
use crate::token::{
    AccessToken, HashedToken, JwksStatus, ScopeClaims, TokenTypePolicy, TokenVerifier,
};

/// Verifies JWT access tokens (RFC 9068 or Auth0's shape) with keys from their issuer's JWKS.
///
/// - **Issuers**: one or several (an Auth0 tenant's canonical and custom domains, a migration),
///   each with its own discovery, JWKS, refresh and health entry. The token's `iss` picks the
///   issuer, compared exactly with the spelling of its discovery document, before any key is
///   used; a token is verified only with the keys of the issuer it names.
/// - **Audiences**: `aud` (string or array) must contain one of the accepted audiences. Scheme
///   and host case and the `/` of an origin-only URL are tolerated (`https://host` =
///   `https://host/`), nothing else.
/// - **Algorithms**: an explicit list of [`Algorithm`]s, RS256 by default; `none` and HMAC
///   cannot be named. A key verifies only tokens of its own kind, and of its JWK `alg` if it
///   names one; every key is parsed once per algorithm, so no request rebuilds one.
/// - **`typ`**: optionally checked ([`TokenTypePolicy`]; off by default).
/// - **`kid`**: required, except that a JWKS holding exactly one signing key may verify tokens
///   without one (on by default, see
///   [`allow_token_without_kid`](crate::token::JwksVerifierBuilder::allow_token_without_kid)).
/// - `exp` is required; `nbf`/`iat` are honoured; the leeway is 30 s unless set.
/// - Keys are held parsed in memory: an unknown `kid` refreshes the JWKS at most once per
///   cooldown (30 s), shared by concurrent requests; a failing JWKS endpoint leaves the last good
///   keys in use; a key withdrawn from the JWKS ends the tokens it signed at the next refresh,
///   cached ones included.
///
/// Cheap to clone.
///
/// ```no_run
/// use tower_mcp_auth::token::JwksVerifier;
///
/// # async fn run() -> Result<(), tower_mcp_auth::token::VerifierConfigError> {
/// // Discovers the JWKS from https://tenant.us.auth0.com/.well-known/openid-configuration.
/// let verifier = JwksVerifier::builder()
///     .issuer("https://tenant.us.auth0.com")
///     .audience("https://api.example.com")
///     .issuer("https://login.example.com") // the tenant's custom domain
///     .leeway(std::time::Duration::from_secs(10))
///     .build()
///     .await?;
/// assert_eq!(verifier.issuer(), "https://tenant.us.auth0.com/"); // Auth0's spelling
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct JwksVerifier {
    pub(crate) shared: Arc<Shared>,
}

pub(crate) struct Shared {
    pub(crate) issuers: Box<[IssuerKeys]>,
    pub(crate) audiences: Audiences,
    pub(crate) algorithms: Box<[Algorithm]>,
    pub(crate) token_type: TokenTypePolicy,
    pub(crate) scope_claims: ScopeClaims,
    pub(crate) allow_without_kid: bool,
    pub(crate) leeway: Duration,
}

/// One accepted issuer and its keys.
pub(crate) struct IssuerKeys {
    pub(crate) issuer: String,
    pub(crate) keys: Arc<KeyStore>,
}

/// The key-set state of one accepted issuer, for health endpoints.
#[derive(Debug, Clone, serde::Serialize, PartialEq, Eq)]
#[non_exhaustive]
pub struct IssuerStatus {
    /// The issuer, spelled as its metadata spells it.
    pub issuer: String,
    /// Its JWKS.
    pub jwks: JwksStatus,
}

impl std::fmt::Debug for JwksVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwksVerifier")
            .field("issuers", &self.issuers())
            .field("audiences", &self.audiences())
            .field("algorithms", &self.shared.algorithms)
            .field("token_type", &self.shared.token_type)
            .finish_non_exhaustive()
    }
}

impl JwksVerifier {
    /// The first issuer, spelled as its metadata spells it (the exact `iss` accepted).
    pub fn issuer(&self) -> &str {
        &self.shared.issuers[0].issuer
    }

    /// Every accepted issuer, the first one first.
    pub fn issuers(&self) -> Vec<&str> {
        self.shared
            .issuers
            .iter()
            .map(|i| i.issuer.as_str())
            .collect()
    }

    /// The first audience: the one a resource's metadata advertises.
    pub fn audience(&self) -> &str {
        &self.shared.audiences.as_slice()[0]
    }

    /// Every accepted audience; a token must contain one of them.
    pub fn audiences(&self) -> &[String] {
        self.shared.audiences.as_slice()
    }

    /// The accepted algorithms.
    pub fn algorithms(&self) -> &[Algorithm] {
        &self.shared.algorithms
    }

    /// Where the first issuer's keys come from; empty when they were given with
    /// [`jwks_document`](crate::token::JwksVerifierBuilder::jwks_document).
    pub fn jwks_uri(&self) -> &str {
        self.shared.issuers[0]
            .keys
            .url()
            .map_or("", url::Url::as_str)
    }

    /// The first issuer's JWKS state, for health endpoints; see
    /// [`issuer_statuses`](Self::issuer_statuses) for every issuer.
    pub fn jwks_status(&self) -> JwksStatus {
        self.shared.issuers[0].keys.status()
    }

    /// The JWKS state of every issuer.
    pub fn issuer_statuses(&self) -> Vec<IssuerStatus> {
        self.shared
            .issuers
            .iter()
            .map(|i| IssuerStatus {
                issuer: i.issuer.clone(),
                jwks: i.keys.status(),
            })
            .collect()
    }

    /// Fetches every issuer's JWKS now, keeping the old keys of any that fails; returns the
    /// number of keys held, or every failure.
    pub async fn refresh_keys(&self) -> Result<usize, JwksRefreshError> {
        let mut total = 0;
        let mut failures = Vec::new();
        for issuer in self.shared.issuers.iter() {
            match issuer.keys.refresh_now().await {
                Ok(count) => total += count,
                Err(reason) => failures.push(JwksRefreshFailure {
                    issuer: issuer.issuer.clone(),
                    reason,
                }),
            }
        }
        if failures.is_empty() {
            Ok(total)
        } else {
            Err(JwksRefreshError { failures })
        }
    }

    fn parse<'t>(&self, token: &'t str) -> Result<Parsed<'t>, AuthError> {
        // The dots with a vectorised search: the payload and signature are most of a kilobyte.
        let mut dots = memchr::memchr_iter(b'.', token.as_bytes());
        let (Some(first), Some(second), None) = (dots.next(), dots.next(), dots.next()) else {
            return Err(AuthError::new(
                ErrorCode::NotJws,
                "The access token is not a compact JWS",
            ));
        };
        let (header_b64, payload, signature) = (
            &token[..first],
            &token[first + 1..second],
            &token[second + 1..],
        );
        // Three dot-separated parts whose first is no JOSE header: an opaque token that happens
        // to contain two dots, not a malformed JWS.
        // Decoded on the stack (a JOSE header is some 100 bytes; one carrying a certificate
        // chain goes to the heap), and read in place: no string of it is copied unless escaped.
        let mut stack = [0u8; 512];
        let heap;
        let decoded = match URL_SAFE_NO_PAD.decode_slice(header_b64, &mut stack) {
            Ok(len) => &stack[..len],
            Err(base64::DecodeSliceError::OutputSliceTooSmall) => {
                heap = URL_SAFE_NO_PAD.decode(header_b64).map_err(|_| not_jws())?;
                &heap[..]
            }
            Err(base64::DecodeSliceError::DecodeError(_)) => return Err(not_jws()),
        };
        let header: JoseHeader<'_> = serde_json::from_slice(decoded).map_err(|_| not_jws())?;
        if header.crit.is_some() {
            // RFC 7515 §4.1.11: extensions we do not understand must make the token invalid.
            return Err(AuthError::new(
                ErrorCode::MalformedToken,
                "The token header has a `crit` extension this server does not support",
            ));
        }
        let alg = self.allowed_algorithm(&header.alg.0)?;
        self.shared
            .token_type
            .check(header.typ.as_ref().map(|typ| &*typ.0))?;
        Ok(Parsed {
            alg,
            kid: header.kid.map(|kid| kid.0.into_owned()),
            // The signed bytes: `header.payload`.
            message: &token[..header_b64.len() + 1 + payload.len()],
            payload,
            signature,
        })
    }

    fn allowed_algorithm(&self, alg: &str) -> Result<Algorithm, AuthError> {
        let refused = |why: String| AuthError::new(ErrorCode::AlgorithmNotAllowed, why);
        let parsed: Algorithm = alg
            .parse()
            .map_err(|error| refused(format!("The token's algorithm is not accepted: {error}")))?;
        if !self.shared.algorithms.contains(&parsed) {
            let allowed: Vec<&str> = self.shared.algorithms.iter().map(|a| a.as_str()).collect();
            return Err(refused(format!(
                "Algorithm {parsed} is not accepted; allowed: {}",
                allowed.join(", ")
            )));
        }
        Ok(parsed)
    }

    /// The issuer the token names, among the accepted ones.
    fn issuer_of(&self, token: &AccessToken) -> Result<&IssuerKeys, AuthError> {
        let issuers = &self.shared.issuers;
        if let Some(found) = issuers.iter().find(|i| i.issuer == token.issuer()) {
            return Ok(found);
        }
        let description = if issuers.len() == 1 {
            format!(
                "The token was issued by `{}`, not by `{}`",
                short(token.issuer()),
                issuers[0].issuer
            )
        } else {
            format!(
                "The token was issued by `{}`, which is none of the {} accepted issuers ({})",
                short(token.issuer()),
                issuers.len(),
                self.issuers().join(", ")
            )
        };
        Err(AuthError::new(ErrorCode::InvalidIssuer, description))
    }

    fn check_claims(&self, token: &AccessToken) -> Result<(), AuthError> {
        if !self.shared.audiences.accepts(token.audiences()) {
            let audiences = self.audiences();
            return Err(AuthError::new(
                ErrorCode::InvalidAudience,
                if audiences.len() == 1 {
                    format!(
                        "The token is not meant for this API: its audience does not include `{}`",
                        audiences[0]
                    )
                } else {
                    format!(
                        "The token is not meant for this API: its audience includes none of {}",
                        audiences.join(", ")
                    )
                },
            ));
        }
        token.check_time(now_secs(), self.shared.leeway.as_secs())
    }
}

impl TokenVerifier for JwksVerifier {
    async fn verify(&self, token: &str) -> Result<AccessToken, AuthError> {
        self.verify_token(token, None).await
    }

    async fn verify_hashed(&self, token: &HashedToken<'_>) -> Result<AccessToken, AuthError> {
        self.verify_token(token.as_str(), Some(token)).await
    }

    fn leeway(&self) -> Duration {
        self.shared.leeway
    }
}

impl JwksVerifier {
    /// Verifies `token`, with the digest of its signing input when `hashed` has it.
    async fn verify_token(
        &self,
        token: &str,
        hashed: Option<&HashedToken<'_>>,
    ) -> Result<AccessToken, AuthError> {
        let parsed = self.parse(token)?;
        // With one issuer the signature is checked before the claims are even read, as before;
        // with several, `iss` must pick the keys first.
        let (issuer, claims) = match &*self.shared.issuers {
            [only] => (only, None),
            _ => {
                let claims = decode_claims(parsed.payload, self.shared.scope_claims)?;
                (self.issuer_of(&claims)?, Some(claims))
            }
        };
        let choice = match (&parsed.kid, self.shared.allow_without_kid) {
            (Some(kid), _) => KeyChoice::Kid(kid),
            (None, true) => KeyChoice::Sole,
            (None, false) => return Err(kid_required()),
        };
        let key = issuer.keys.key(choice).await.map_err(|error| match error {
            KeyLookupError::Unknown => AuthError::new(
                ErrorCode::UnknownKeyId,
                match &parsed.kid {
                    Some(kid) => format!("No key `{}` in the issuer's JWKS", short(kid)),
                    None => {
                        "The token header has no `kid` and the issuer's JWKS has no key".to_owned()
                    }
                },
            ),
            KeyLookupError::KidRequired => kid_required(),
            KeyLookupError::Unavailable(_) => AuthError::new(
                ErrorCode::KeysUnavailable,
                "The issuer's signing keys cannot be fetched right now; try again later",
            ),
        })?;
        let message_sha256 = hashed.and_then(|hashed| hashed.sha256_of(parsed.message));
        match key.check(
            parsed.alg,
            parsed.message.as_bytes(),
            message_sha256,
            parsed.signature,
        ) {
            SignatureCheck::Valid => {}
            SignatureCheck::Invalid => {
                return Err(AuthError::new(
                    ErrorCode::InvalidSignature,
                    "The access token's signature does not verify",
                ));
            }
            // The key, not the token, decides the algorithm: an RSA key never verifies an EC
            // signature, whatever the header claims (RFC 8725 §3.1).
            SignatureCheck::WrongAlgorithm => {
                return Err(AuthError::new(
                    ErrorCode::AlgorithmNotAllowed,
                    format!(
                        "Key `{}` does not sign with {}",
                        short(key.kid.as_deref().unwrap_or("(no kid)")),
                        parsed.alg
                    ),
                ));
            }
        }
        let token = match claims {
            Some(claims) => claims,
            None => {
                let claims = decode_claims(parsed.payload, self.shared.scope_claims)?;
                self.issuer_of(&claims)?;
                claims
            }
        };
        self.check_claims(&token)?;
        token.set_provenance(Provenance::signed(&issuer.keys, key, parsed.kid.is_some()));
        Ok(token)
    }
}

fn kid_required() -> AuthError {
    AuthError::new(
        ErrorCode::UnknownKeyId,
        "The token header has no `kid`; the signing key cannot be chosen",
    )
}

/// The parts of a compact JWS the verifier works with.
struct Parsed<'a> {
    alg: Algorithm,
    kid: Option<String>,
    /// `header.payload`, the signed bytes.
    message: &'a str,
    payload: &'a str,
    signature: &'a str,
}

/// The members of a JOSE header the verifier reads (RFC 7515 §4.1); the others are ignored.
#[derive(Deserialize)]
struct JoseHeader<'a> {
    #[serde(borrow)]
    alg: HeaderStr<'a>,
    #[serde(borrow)]
    kid: Option<HeaderStr<'a>>,
    #[serde(borrow)]
    typ: Option<HeaderStr<'a>>,
    /// Only whether it is there counts (`null` is as if absent).
    crit: Option<serde::de::IgnoredAny>,
}

/// A string member of the header: borrowed from the decoded bytes, or its own copy when JSON
/// escapes had to be undone. (serde's `Cow<str>` is always a copy inside an `Option`.)
struct HeaderStr<'a>(std::borrow::Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for HeaderStr<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Text<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for Text<'a> {
            type Value = HeaderStr<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, text: &'de str) -> Result<Self::Value, E> {
                Ok(HeaderStr(std::borrow::Cow::Borrowed(text)))
            }
            fn visit_str<E>(self, text: &str) -> Result<Self::Value, E> {
                Ok(HeaderStr(std::borrow::Cow::Owned(text.to_owned())))
            }
        }
        deserializer.deserialize_str(Text(std::marker::PhantomData))
    }
}

fn decode_claims(payload: &str, scope_claims: ScopeClaims) -> Result<AccessToken, AuthError> {
    let bytes = URL_SAFE_NO_PAD.decode(payload).map_err(|_| {
        AuthError::new(
            ErrorCode::MalformedToken,
            "The token claims is not base64url",
        )
    })?;
    // Invalid UTF-8 is no JSON: `from_json` gives it the answer of any other bad JSON.
    AccessToken::from_json_with(String::from_utf8(bytes).unwrap_or_default(), scope_claims)
}

/// Attacker-chosen strings are cut short before they go into an answer.
pub(crate) fn short(value: &str) -> &str {
    match value.char_indices().nth(64) {
        Some((end, _)) => &value[..end],
        None => value,
    }
}

/// Why [`JwksVerifier::refresh_keys`] failed: one entry per issuer whose JWKS could not be
/// fetched (their old keys are kept).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct JwksRefreshError {
    /// Each failed issuer, in configuration order.
    pub failures: Vec<JwksRefreshFailure>,
}

impl std::fmt::Display for JwksRefreshError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, failure) in self.failures.iter().enumerate() {
            let separator = if i == 0 { "" } else { "; " };
            write!(f, "{separator}{}: {}", failure.issuer, failure.reason)?;
        }
        Ok(())
    }
}

impl std::error::Error for JwksRefreshError {}

/// One issuer whose JWKS could not be fetched.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct JwksRefreshFailure {
    /// The issuer.
    pub issuer: String,
    /// What went wrong (HTTP status, timeout, unusable document), for logs.
    pub reason: String,
}
