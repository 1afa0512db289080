//! [`IntrospectionVerifierBuilder`]: the settings of an [`IntrospectionVerifier`].

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::{IntrospectionVerifier, Shared};
use crate::ClientSecret;
use crate::token::VerifierConfigError;
use crate::token::audience::Audiences;
use crate::token::discovery::{discover, reconcile_issuer, require_secure_url};

/// The longest an inactive answer may be cached.
const MAX_INACTIVE_TTL: Duration = Duration::from_secs(10);

/// Builds an [`IntrospectionVerifier`]; start with [`IntrospectionVerifier::builder`].
#[derive(Clone)]
pub struct IntrospectionVerifierBuilder {
    issuer: Option<String>,
    audiences: Vec<String>,
    endpoint: Option<String>,
    credentials: Option<(String, ClientSecret)>,
    ttl: Duration,
    inactive_ttl: Duration,
    timeout: Duration,
    max_response_bytes: usize,
    cache_capacity: usize,
    leeway: Duration,
    client: Option<reqwest::Client>,
}

impl std::fmt::Debug for IntrospectionVerifierBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntrospectionVerifierBuilder")
            .field("issuer", &self.issuer)
            .field("audiences", &self.audiences)
            .field("endpoint", &self.endpoint)
            .field("client_id", &self.credentials.as_ref().map(|(id, _)| id))
            .finish_non_exhaustive()
    }
}

impl IntrospectionVerifier {
    /// Starts building a verifier; name the issuer to ask and the audience tokens must be
    /// meant for with [`issuer`](IntrospectionVerifierBuilder::issuer) and
    /// [`audience`](IntrospectionVerifierBuilder::audience) (by name: both are strings, and a
    /// swap by position would compile).
    pub fn builder() -> IntrospectionVerifierBuilder {
        IntrospectionVerifierBuilder {
            issuer: None,
            audiences: Vec::new(),
            endpoint: None,
            credentials: None,
            ttl: Duration::from_secs(60),
            inactive_ttl: Duration::from_secs(5),
            timeout: Duration::from_secs(3),
            max_response_bytes: 64 * 1024,
            cache_capacity: 10_000,
            leeway: Duration::from_secs(30),
            client: None,
        }
    }
}

impl IntrospectionVerifierBuilder {
    /// The issuer whose introspection endpoint is asked (discovered from its metadata unless
    /// [`endpoint`](Self::endpoint) is given); required. Called again, replaces it.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// The audience tokens must be meant for; required. Called again, accepts tokens for
    /// another audience too (the first stays the primary one).
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audiences.push(audience.into());
        self
    }

    /// Uses this endpoint instead of the issuer's discovered `introspection_endpoint`; the
    /// issuer is then used exactly as given.
    pub fn endpoint(mut self, url: impl Into<String>) -> Self {
        self.endpoint = Some(url.into());
        self
    }

    /// Authenticates to the endpoint as this client with `client_secret_basic` (RFC 6749
    /// §2.3.1); most issuers require it (RFC 7662 §2.1). The secret is never logged.
    pub fn client_credentials(
        mut self,
        client_id: impl Into<String>,
        client_secret: ClientSecret,
    ) -> Self {
        self.credentials = Some((client_id.into(), client_secret));
        self
    }

    /// How long an active answer is reused, never past the token's `exp` (default 60 s). The
    /// longer, the later a revoked token is noticed.
    pub fn cache_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// How long an inactive answer is reused (default 5 s, at most 10 s).
    pub fn inactive_ttl(mut self, ttl: Duration) -> Self {
        self.inactive_ttl = ttl.min(MAX_INACTIVE_TTL);
        self
    }

    /// The most one introspection may take, answer body included (default 3 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The largest answer read (default 64 KiB).
    pub fn max_response_bytes(mut self, bytes: usize) -> Self {
        self.max_response_bytes = bytes;
        self
    }

    /// How many answers are cached at most (default 10 000).
    pub fn cache_capacity(mut self, capacity: usize) -> Self {
        self.cache_capacity = capacity;
        self
    }

    /// Clock skew tolerated on `exp`, `nbf` and `iat` (default 30 s).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// Uses this HTTP client for discovery and introspection.
    ///
    /// `reqwest::Client` is in the public API on purpose, as on
    /// [`JwksVerifierBuilder::http_client`](crate::token::JwksVerifierBuilder::http_client): it
    /// carries a deployment's proxy, root certificates and connection pool.
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.client = Some(client);
        self
    }

    /// Validates the settings and, unless the endpoint was given, reads the issuer's metadata.
    pub async fn build(self) -> Result<IntrospectionVerifier, VerifierConfigError> {
        let Some(configured_issuer) = self.issuer else {
            return Err(VerifierConfigError::MissingIssuer);
        };
        if self.audiences.is_empty() {
            return Err(VerifierConfigError::MissingAudience);
        }
        if self.audiences.iter().any(|a| a.trim().is_empty()) {
            return Err(VerifierConfigError::EmptyAudience);
        }
        let issuer_url = require_secure_url("issuer", &configured_issuer)?;
        let client = match self.client {
            Some(client) => client,
            None => reqwest::Client::builder()
                .connect_timeout(self.timeout)
                .build()
                .map_err(|e| VerifierConfigError::HttpClient(e.into()))?,
        };
        let (issuer, endpoint) = match self.endpoint {
            Some(endpoint) => (
                configured_issuer,
                require_secure_url("introspection endpoint", &endpoint)?,
            ),
            None => {
                let metadata = discover(&client, &issuer_url, self.timeout).await?;
                let issuer = reconcile_issuer(&configured_issuer, &metadata.issuer)?;
                let Some(endpoint) = metadata.introspection_endpoint else {
                    return Err(VerifierConfigError::MissingEndpoint {
                        issuer,
                        field: "introspection_endpoint",
                    });
                };
                (
                    issuer,
                    require_secure_url("introspection endpoint", &endpoint)?,
                )
            }
        };
        let authorization = self
            .credentials
            .map(|(id, secret)| basic_authorization(&id, secret.expose()))
            .transpose()?;
        Ok(IntrospectionVerifier {
            shared: Arc::new(Shared {
                endpoint,
                client,
                authorization,
                issuer,
                audiences: Audiences::new(self.audiences),
                ttl: self.ttl,
                inactive_ttl: self.inactive_ttl,
                timeout: self.timeout,
                max_response_bytes: self.max_response_bytes,
                leeway: self.leeway,
                answers: quick_cache::sync::Cache::new(self.cache_capacity.max(1)),
            }),
        })
    }
}

/// `Basic base64(urlencode(id) ":" urlencode(secret))`, as RFC 6749 §2.3.1 spells it.
fn basic_authorization(id: &str, secret: &str) -> Result<http::HeaderValue, VerifierConfigError> {
    let encode = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let credentials = STANDARD.encode(format!("{}:{}", encode(id), encode(secret)));
    let mut value = http::HeaderValue::try_from(format!("Basic {credentials}"))
        .map_err(|_| VerifierConfigError::UnusableClientCredentials)?;
    value.set_sensitive(true);
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_form_encoded_before_base64() {
        let value = basic_authorization("rs client", "s3cr:t/+").unwrap();
        let encoded = value.to_str().unwrap().strip_prefix("Basic ").unwrap();
        let decoded = String::from_utf8(STANDARD.decode(encoded).unwrap()).unwrap();
        assert_eq!(decoded, "rs+client:s3cr%3At%2F%2B");
        assert!(value.is_sensitive());
    }

    #[tokio::test]
    async fn a_verifier_without_an_issuer_or_an_audience_is_refused() {
        let no_issuer = IntrospectionVerifier::builder()
            .audience("https://api.example/mcp")
            .build()
            .await;
        assert!(matches!(no_issuer, Err(VerifierConfigError::MissingIssuer)));
        let no_audience = IntrospectionVerifier::builder()
            .issuer("https://idp.example/")
            .build()
            .await;
        assert!(matches!(
            no_audience,
            Err(VerifierConfigError::MissingAudience)
        ));
    }

    #[test]
    fn the_builder_debug_shows_the_client_id_but_never_the_secret() {
        let builder = IntrospectionVerifier::builder()
            .issuer("https://idp.example/")
            .client_credentials("rs-client", ClientSecret::new("s3cr3t-value"));
        let debug = format!("{builder:?}");
        assert!(debug.contains("rs-client"), "{debug}");
        assert!(!debug.contains("s3cr3t-value"), "{debug}");
    }
}
