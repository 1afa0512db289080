//! [`ManagementClient`]: the Auth0 Management API calls the DCR promotion needs.
//!
//! - **Token**: `client_credentials` at `https://MGMT_DOMAIN/oauth/token` for the audience
//!   `https://MGMT_DOMAIN/api/v2/`, cached until shortly before `expires_in`. Callers that find no
//!   valid token queue on one async mutex, so exactly one of them fetches and the others reuse its
//!   token (single flight). A 401 from the API drops the cached token and retries once.
//! - **Retries**: 429, 5xx and timeouts, per [`RetryPolicy`]; other 4xx come back at once as
//!   [`ManagementError::Api`] with Auth0's `errorCode` and `message`.
//! - **Secrets**: the client secret and tokens appear in no `Debug` output, log line or error.
//!
//! ```no_run
//! use tower_mcp_auth::ClientSecret;
//! use tower_mcp_auth::auth0::ManagementClient;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let mgmt = ManagementClient::builder("dev-xxxxxx.us.auth0.com")
//!     .client_credentials("M2M_CLIENT_ID", ClientSecret::new("M2M_SECRET"))
//!     .build()?;
//! let client = mgmt.get_client("some_client_id").await?;
//! println!("{} is {:?}", client.name, client.app_type);
//! # Ok(()) }
//! ```

use std::sync::Arc;
use std::time::Duration;

use url::{Host, Url};

use super::error::{ManagementConfigError, ManagementError};
use super::retry::RetryPolicy;
use super::token::TokenSource;
use super::transport::Transport;
use crate::ClientSecret;
use crate::auth0::health::Auth0Health;

/// The default timeout of one HTTP request to Auth0.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long before `expires_in` a cached token is replaced.
pub const DEFAULT_TOKEN_REFRESH_MARGIN: Duration = Duration::from_secs(60);

/// A typed, retrying Auth0 Management API client. Cheap to clone; clones share the token cache.
#[derive(Clone)]
pub struct ManagementClient {
    pub(super) inner: Arc<Inner>,
}

/// Transport ← token source ← client: each part uses only the ones before it.
pub(super) struct Inner {
    pub(super) transport: Transport,
    pub(super) tokens: TokenSource,
    pub(super) api_base: Url,
    pub(super) health: Option<Auth0Health>,
}

impl std::fmt::Debug for ManagementClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // By hand: the secret and the cached token must never be printed.
        f.debug_struct("ManagementClient")
            .field("api_base", &self.inner.api_base.as_str())
            .field("audience", &self.inner.tokens.audience)
            .field("client_id", &self.inner.tokens.client_id)
            .field("client_secret", &"[redacted]")
            .field("retry", self.inner.transport.retry())
            .finish_non_exhaustive()
    }
}

/// Configures a [`ManagementClient`]; see [`ManagementClient::builder`].
pub struct ManagementClientBuilder {
    domain: String,
    credentials: Option<(String, ClientSecret)>,
    base_url: Option<String>,
    audience: Option<String>,
    request_timeout: Duration,
    retry: RetryPolicy,
    refresh_margin: Duration,
    health: Option<Auth0Health>,
}

impl std::fmt::Debug for ManagementClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ManagementClientBuilder")
            .field("domain", &self.domain)
            .field("client_id", &self.credentials.as_ref().map(|(id, _)| id))
            .field("client_secret", &"[redacted]")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl ManagementClientBuilder {
    /// The Machine-to-Machine app the client authenticates as (`client_credentials` grant);
    /// required. The secret is its own type, so the two cannot be swapped and still compile.
    pub fn client_credentials(
        mut self,
        client_id: impl Into<String>,
        client_secret: ClientSecret,
    ) -> Self {
        self.credentials = Some((client_id.into(), client_secret));
        self
    }

    /// Where the token endpoint and the API live, instead of `https://MGMT_DOMAIN`: for a
    /// custom domain or a test server. Plain `http` is accepted only for loopback hosts.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// The token audience, instead of `https://MGMT_DOMAIN/api/v2/`.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        self
    }

    /// The timeout of each HTTP request (default [`DEFAULT_REQUEST_TIMEOUT`]).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// The retry policy for 429, 5xx and timeouts.
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// How long before expiry the cached token is replaced (default 60 s; at most half the
    /// token's lifetime).
    pub fn token_refresh_margin(mut self, margin: Duration) -> Self {
        self.refresh_margin = margin;
        self
    }

    /// Records every call's outcome in this health state.
    pub fn health(mut self, health: Auth0Health) -> Self {
        self.health = Some(health);
        self
    }

    /// Checks the URLs and builds the client. No request is sent yet.
    pub fn build(self) -> Result<ManagementClient, ManagementError> {
        let domain = self
            .domain
            .trim()
            .trim_start_matches("https://")
            .trim_end_matches('/')
            .to_owned();
        if domain.is_empty() {
            return Err(ManagementConfigError::EmptyDomain.into());
        }
        let Some((client_id, client_secret)) = self.credentials else {
            return Err(ManagementConfigError::MissingClientCredentials.into());
        };
        let base = self.base_url.unwrap_or_else(|| format!("https://{domain}"));
        let base = Url::parse(&base).map_err(|e| ManagementConfigError::InvalidBaseUrl {
            url: base.clone(),
            reason: e.to_string(),
        })?;
        check_scheme(&base)?;
        let token_url = with_segments(&base, &["oauth", "token"])?;
        let mut api_base = with_segments(&base, &["api", "v2"])?;
        api_base.set_query(None);
        let audience = self
            .audience
            .unwrap_or_else(|| format!("https://{domain}/api/v2/"));
        let http = reqwest::Client::builder()
            .timeout(self.request_timeout)
            // A redirect would carry the bearer token elsewhere: Auth0 never redirects the API.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| ManagementConfigError::HttpClient {
                reason: e.to_string(),
            })?;
        Ok(ManagementClient {
            inner: Arc::new(Inner {
                transport: Transport::new(http, self.retry),
                tokens: TokenSource::new(
                    token_url,
                    audience,
                    client_id,
                    client_secret,
                    self.refresh_margin,
                ),
                api_base,
                health: self.health,
            }),
        })
    }
}

fn check_scheme(url: &Url) -> Result<(), ManagementError> {
    let loopback = match url.host() {
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    match url.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        other => Err(ManagementConfigError::InsecureBaseUrl {
            scheme: other.to_owned(),
        }
        .into()),
    }
}

pub(super) fn with_segments(base: &Url, segments: &[&str]) -> Result<Url, ManagementError> {
    let mut url = base.clone();
    url.path_segments_mut()
        .map_err(|()| ManagementConfigError::BaseUrlWithoutPath {
            url: base.to_string(),
        })?
        .pop_if_empty()
        .extend(segments);
    Ok(url)
}

impl ManagementClient {
    /// Starts configuring a client for the tenant's Management API (`MGMT_DOMAIN`, e.g.
    /// `dev-xxxxxx.us.auth0.com`); name the Machine-to-Machine app with
    /// [`client_credentials`](ManagementClientBuilder::client_credentials).
    pub fn builder(domain: impl Into<String>) -> ManagementClientBuilder {
        ManagementClientBuilder {
            domain: domain.into(),
            credentials: None,
            base_url: None,
            audience: None,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            retry: RetryPolicy::default(),
            refresh_margin: DEFAULT_TOKEN_REFRESH_MARGIN,
            health: None,
        }
    }

    /// The Management API scopes the M2M app's current token was granted, so a caller can name
    /// what is missing before it writes anything: the token answer's `scope`, else the `scope`
    /// claim of the token itself (read without verification — it only names scopes early; the
    /// API still enforces them). `None` when neither says. Fetches a token if none is cached.
    pub async fn granted_scopes(&self) -> Result<Option<Vec<String>>, ManagementError> {
        self.inner
            .tokens
            .granted_scopes(&self.inner.transport)
            .await
    }

    pub(super) fn url(
        &self,
        segments: &[&str],
        query: &[(&str, &str)],
    ) -> Result<Url, ManagementError> {
        let mut url = with_segments(&self.inner.api_base, segments)?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        Ok(url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_redacts_the_secret() {
        let client = ManagementClient::builder("tenant.example.com")
            .client_credentials("m2m", ClientSecret::new("super-secret-value"))
            .build()
            .expect("valid");
        let debug = format!("{client:?}");
        assert!(!debug.contains("super-secret-value"));
        assert!(debug.contains("[redacted]"));
        let builder = ManagementClient::builder("tenant.example.com")
            .client_credentials("m2m", ClientSecret::new("super-secret-value"));
        assert!(!format!("{builder:?}").contains("super-secret-value"));
    }

    #[test]
    fn a_client_without_credentials_is_refused_naming_the_setting() {
        let built = ManagementClient::builder("tenant.example.com").build();
        assert_eq!(
            built.unwrap_err(),
            ManagementError::Config(ManagementConfigError::MissingClientCredentials)
        );
        let empty = ManagementClient::builder(" https:// ")
            .client_credentials("id", ClientSecret::new("s"))
            .build();
        assert_eq!(
            empty.unwrap_err(),
            ManagementError::Config(ManagementConfigError::EmptyDomain)
        );
    }

    #[test]
    fn plain_http_is_refused_except_for_loopback() {
        let remote = ManagementClient::builder("t.example.com")
            .client_credentials("id", ClientSecret::new("s"))
            .base_url("http://t.example.com")
            .build();
        assert!(matches!(remote, Err(ManagementError::Config(_))));
        for ok in [
            "http://127.0.0.1:9",
            "http://localhost:9",
            "http://[::1]:9",
            "https://x.example",
        ] {
            assert!(
                ManagementClient::builder("t.example.com")
                    .client_credentials("id", ClientSecret::new("s"))
                    .base_url(ok)
                    .build()
                    .is_ok(),
                "{ok}"
            );
        }
    }

    #[test]
    fn production_urls_derive_from_the_domain() {
        let client = ManagementClient::builder("dev-x.us.auth0.com")
            .client_credentials("id", ClientSecret::new("s"))
            .build()
            .expect("valid");
        assert_eq!(
            client.inner.tokens.token_url.as_str(),
            "https://dev-x.us.auth0.com/oauth/token"
        );
        assert_eq!(
            client.inner.tokens.audience,
            "https://dev-x.us.auth0.com/api/v2/"
        );
        let url = client
            .url(&["connections", "con 1", "clients"], &[("take", "50")])
            .expect("url");
        assert_eq!(
            url.as_str(),
            "https://dev-x.us.auth0.com/api/v2/connections/con%201/clients?take=50"
        );
    }
}
