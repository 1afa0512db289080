//! [`JwksVerifierBuilder`]: the settings of a [`JwksVerifier`], checked whole at build time.

use std::sync::Arc;
use std::time::Duration;

use crate::token::algorithm::Algorithm;
use crate::token::audience::Audiences;
use crate::token::discovery::{discover, reconcile_issuer, require_secure_url};
use crate::token::jwks::{IssuerKeys, Shared};
use crate::token::key_store::KeyStore;
use crate::token::{JwksVerifier, ScopeClaims, TokenTypePolicy};

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
        source: Box<dyn std::error::Error + Send + Sync>,
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
    /// The same issuer was given twice (after its metadata's spelling was applied).
    #[error("the issuer `{0}` is configured twice")]
    DuplicateIssuer(String),
    /// No algorithm is accepted.
    #[error("at least one signature algorithm must be accepted")]
    NoAlgorithm,
    /// The JWKS document given with
    /// [`jwks_document`](JwksVerifierBuilder::jwks_document) is unreadable or holds no usable
    /// signing key.
    #[error("the JWKS document is not usable: {0}")]
    InvalidJwks(String),
    /// An audience is empty.
    #[error("the audience must not be empty")]
    EmptyAudience,
    /// The issuer's metadata names no endpoint the verifier needs (e.g. no
    /// `introspection_endpoint`).
    #[error("the metadata of issuer `{issuer}` has no `{field}`")]
    MissingEndpoint {
        /// The issuer.
        issuer: String,
        /// The metadata field.
        field: &'static str,
    },
    /// The HTTP client could not be built.
    #[error("could not build the HTTP client: {0}")]
    HttpClient(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The introspection client credentials cannot be sent in an `Authorization` header.
    #[error("the client credentials cannot be sent in an Authorization header")]
    UnusableClientCredentials,
    /// [`issuer`](JwksVerifierBuilder::issuer) was never called.
    #[error("no issuer is configured: call `.issuer(..)` on the builder")]
    MissingIssuer,
    /// [`audience`](JwksVerifierBuilder::audience) was never called.
    #[error("no audience is configured: call `.audience(..)` on the builder")]
    MissingAudience,
    /// A per-issuer setting ([`jwks_uri`](JwksVerifierBuilder::jwks_uri) or
    /// [`jwks_document`](JwksVerifierBuilder::jwks_document)) came before any issuer, so it
    /// applies to none.
    #[error("`{setting}` was set before any `.issuer(..)`: it applies to the issuer added last")]
    SettingBeforeIssuer {
        /// The builder method.
        setting: &'static str,
    },
}

/// Where one issuer's keys come from.
#[derive(Debug, Clone)]
struct IssuerSource {
    issuer: String,
    jwks_uri: Option<String>,
    jwks_document: Option<Vec<u8>>,
}

/// Builds a [`JwksVerifier`]; start with [`JwksVerifier::builder`].
#[derive(Debug, Clone)]
pub struct JwksVerifierBuilder {
    issuers: Vec<IssuerSource>,
    audiences: Vec<String>,
    algorithms: Vec<Algorithm>,
    token_type: TokenTypePolicy,
    scope_claims: ScopeClaims,
    allow_without_kid: bool,
    leeway: Duration,
    refresh_cooldown: Duration,
    refresh_interval: Duration,
    fetch_timeout: Duration,
    client: Option<reqwest::Client>,
    /// The first per-issuer setting given before any issuer (refused at build time).
    setting_before_issuer: Option<&'static str>,
}

impl JwksVerifier {
    /// Starts building a verifier. Name the issuer and the audience (the API identifier, e.g.
    /// Auth0's API "Identifier", or the MCP server's URL) with [`issuer`](JwksVerifierBuilder::issuer)
    /// and [`audience`](JwksVerifierBuilder::audience): two strings of the same type, so they
    /// are set by name rather than by position, where a swap would compile.
    ///
    /// ```no_run
    /// use tower_mcp_auth::token::JwksVerifier;
    ///
    /// # async fn run() -> Result<(), tower_mcp_auth::token::VerifierConfigError> {
    /// let verifier = JwksVerifier::builder()
    ///     .issuer("https://tenant.us.auth0.com/")
    ///     .audience("https://mcp.example.com/mcp")
    ///     .build()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn builder() -> JwksVerifierBuilder {
        JwksVerifierBuilder {
            issuers: Vec::new(),
            audiences: Vec::new(),
            algorithms: vec![Algorithm::RS256],
            token_type: TokenTypePolicy::Any,
            scope_claims: ScopeClaims::default(),
            allow_without_kid: true,
            leeway: Duration::from_secs(30),
            refresh_cooldown: Duration::from_secs(30),
            refresh_interval: Duration::from_secs(3600),
            fetch_timeout: Duration::from_secs(5),
            client: None,
            setting_before_issuer: None,
        }
    }
}

impl JwksVerifierBuilder {
    /// The issuer whose tokens are accepted (the token's `iss`, e.g.
    /// `https://tenant.us.auth0.com/`); required. Called again, accepts tokens from another
    /// issuer too, with its own discovery, JWKS and refresh: an Auth0 custom domain next to the
    /// canonical one, or the old and new tenant during a move.
    /// [`jwks_uri`](Self::jwks_uri) and [`jwks_document`](Self::jwks_document) called after it
    /// apply to this issuer.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuers.push(IssuerSource {
            issuer: issuer.into(),
            jwks_uri: None,
            jwks_document: None,
        });
        self
    }

    /// The audience tokens must be meant for (the token's `aud`: the API identifier, or the
    /// MCP server's URL as clients send it in RFC 8707 `resource`); required. Called again,
    /// accepts tokens for another audience too (the old and the new resource URL during a move);
    /// the first audience stays the primary one.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audiences.push(audience.into());
        self
    }

    /// Uses this JWKS URL instead of discovering it (for the issuer added last); that issuer is
    /// then used exactly as given.
    pub fn jwks_uri(mut self, url: impl Into<String>) -> Self {
        match self.issuers.last_mut() {
            Some(last) => last.jwks_uri = Some(url.into()),
            None => self.setting_before_issuer = self.setting_before_issuer.or(Some("jwks_uri")),
        }
        self
    }

    /// Uses the keys of this JWKS document (RFC 7517 §5) for good, instead of fetching them (for
    /// the issuer added last): no discovery, no fetch, no refresh, no network at all; the issuer
    /// is used exactly as given.
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
    /// let verifier = JwksVerifier::builder()
    ///     .issuer("https://issuer.example/")
    ///     .audience("https://api.example")
    ///     .jwks_document(issuer.jwks().to_string())
    ///     .build()
    ///     .await?;
    /// assert_eq!(verifier.jwks_status().key_count, 1);
    /// # Ok(()) }
    /// ```
    pub fn jwks_document(mut self, document: impl Into<Vec<u8>>) -> Self {
        match self.issuers.last_mut() {
            Some(last) => last.jwks_document = Some(document.into()),
            None => {
                self.setting_before_issuer = self.setting_before_issuer.or(Some("jwks_document"));
            }
        }
        self
    }

    /// The accepted algorithms (default `[RS256]`); allow only what your issuers sign with.
    ///
    /// ```
    /// use tower_mcp_auth::token::{Algorithm, JwksVerifier};
    ///
    /// let builder = JwksVerifier::builder()
    ///     .issuer("https://idp.example/")
    ///     .audience("https://api.example")
    ///     .algorithms([Algorithm::RS256, Algorithm::PS256, Algorithm::ES256]);
    /// ```
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.algorithms = algorithms.into_iter().collect();
        self.algorithms.dedup();
        self
    }

    /// Which claims count as the token's granted scopes (default `scope` and Auth0's
    /// `permissions` array; see [`ScopeClaims`]).
    ///
    /// ```
    /// use tower_mcp_auth::token::{JwksVerifier, ScopeClaims};
    ///
    /// // A non-Auth0 issuer whose `permissions` claim is not a list of OAuth scopes.
    /// let builder = JwksVerifier::builder()
    ///     .issuer("https://idp.example/")
    ///     .audience("https://api.example/mcp")
    ///     .scope_claims(ScopeClaims::ScopeOnly);
    /// ```
    pub fn scope_claims(mut self, claims: ScopeClaims) -> Self {
        self.scope_claims = claims;
        self
    }

    /// Which `typ` header tokens must carry (default: any, see [`TokenTypePolicy`]).
    pub fn token_type(mut self, policy: TokenTypePolicy) -> Self {
        self.token_type = policy;
        self
    }

    /// Whether a token without `kid` may be verified with the issuer's key when its JWKS holds
    /// exactly one signing key (default `true`; some issuers publish one key and name none).
    /// With several keys a `kid` is always required.
    pub fn allow_token_without_kid(mut self, allow: bool) -> Self {
        self.allow_without_kid = allow;
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

    /// Validates the settings, reads each issuer's metadata (unless its JWKS URL was given) and
    /// fetches its keys once. A failing first JWKS fetch is logged, not fatal: keys are fetched
    /// again when the first token needs them.
    pub async fn build(mut self) -> Result<JwksVerifier, VerifierConfigError> {
        if let Some(setting) = self.setting_before_issuer {
            return Err(VerifierConfigError::SettingBeforeIssuer { setting });
        }
        if self.issuers.is_empty() {
            return Err(VerifierConfigError::MissingIssuer);
        }
        if self.audiences.is_empty() {
            return Err(VerifierConfigError::MissingAudience);
        }
        self.algorithms
            .sort_by_key(|a| Algorithm::ALL.iter().position(|b| b == a));
        self.algorithms.dedup();
        if self.algorithms.is_empty() {
            return Err(VerifierConfigError::NoAlgorithm);
        }
        if self.audiences.iter().any(|a| a.trim().is_empty()) {
            return Err(VerifierConfigError::EmptyAudience);
        }
        let client = match self.client.take() {
            Some(client) => client,
            None => reqwest::Client::builder()
                .connect_timeout(self.fetch_timeout)
                .build()
                .map_err(|e| VerifierConfigError::HttpClient(e.into()))?,
        };
        let mut issuers: Vec<IssuerKeys> = Vec::with_capacity(self.issuers.len());
        for source in std::mem::take(&mut self.issuers) {
            let entry = self.issuer_keys(source, &client).await?;
            if issuers.iter().any(|i| i.issuer == entry.issuer) {
                return Err(VerifierConfigError::DuplicateIssuer(entry.issuer));
            }
            issuers.push(entry);
        }
        Ok(JwksVerifier {
            shared: Arc::new(Shared {
                issuers: issuers.into_boxed_slice(),
                audiences: Audiences::new(self.audiences),
                algorithms: self.algorithms.into_boxed_slice(),
                token_type: self.token_type,
                scope_claims: self.scope_claims,
                allow_without_kid: self.allow_without_kid,
                leeway: self.leeway,
            }),
        })
    }

    async fn issuer_keys(
        &self,
        source: IssuerSource,
        client: &reqwest::Client,
    ) -> Result<IssuerKeys, VerifierConfigError> {
        let issuer_url = require_secure_url("issuer", &source.issuer)?;
        if let Some(document) = source.jwks_document {
            let keys = KeyStore::fixed(&document, &self.algorithms)
                .map_err(VerifierConfigError::InvalidJwks)?;
            return Ok(IssuerKeys {
                issuer: source.issuer,
                keys: Arc::new(keys),
            });
        }
        let (issuer, jwks_uri) = match source.jwks_uri {
            Some(jwks_uri) => (source.issuer, require_secure_url("jwks_uri", &jwks_uri)?),
            None => {
                let metadata = discover(client, &issuer_url, self.fetch_timeout).await?;
                let issuer = reconcile_issuer(&source.issuer, &metadata.issuer)?;
                let Some(jwks_uri) = metadata.jwks_uri else {
                    return Err(VerifierConfigError::MissingEndpoint {
                        issuer,
                        field: "jwks_uri",
                    });
                };
                (issuer, require_secure_url("jwks_uri", &jwks_uri)?)
            }
        };
        let keys = Arc::new(KeyStore::new(
            jwks_uri,
            client.clone(),
            &self.algorithms,
            self.fetch_timeout,
            self.refresh_cooldown,
            self.refresh_interval,
        ));
        if let Err(error) = keys.refresh_now().await {
            tracing::warn!(%issuer, %error,
                "first JWKS fetch failed; keys will be fetched when a token needs them");
        }
        Ok(IssuerKeys { issuer, keys })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const JWKS: &str = r#"{"keys":[]}"#;

    #[tokio::test]
    async fn a_verifier_without_an_issuer_or_an_audience_is_refused_before_any_fetch() {
        let no_issuer = JwksVerifier::builder()
            .audience("https://api.example/mcp")
            .build()
            .await;
        assert!(matches!(no_issuer, Err(VerifierConfigError::MissingIssuer)));
        let no_audience = JwksVerifier::builder()
            .issuer("https://idp.example/")
            .jwks_document(JWKS)
            .build()
            .await;
        assert!(matches!(
            no_audience,
            Err(VerifierConfigError::MissingAudience)
        ));
    }

    #[tokio::test]
    async fn a_jwks_source_given_before_any_issuer_is_refused_not_dropped() {
        for builder in [
            JwksVerifier::builder().jwks_document(JWKS),
            JwksVerifier::builder().jwks_uri("https://idp.example/jwks.json"),
        ] {
            let built = builder
                .issuer("https://idp.example/")
                .audience("https://api.example/mcp")
                .build()
                .await;
            let Err(VerifierConfigError::SettingBeforeIssuer { setting }) = built else {
                panic!("expected SettingBeforeIssuer, got {built:?}");
            };
            assert!(setting == "jwks_document" || setting == "jwks_uri");
        }
    }
}
