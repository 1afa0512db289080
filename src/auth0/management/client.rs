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
//! use tower_mcp_auth::auth0::ManagementClient;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let mgmt = ManagementClient::builder("dev-xxxxxx.us.auth0.com", "M2M_CLIENT_ID", "M2M_SECRET")
//!     .build()?;
//! let client = mgmt.get_client("some_client_id").await?;
//! println!("{} is {:?}", client.name, client.app_type);
//! # Ok(()) }
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::Mutex;
use url::{Host, Url};

use super::error::ManagementError;
use super::retry::{RetryPolicy, server_hint};
use super::types::{
    Client, ClientConnectionsPage, ClientGrant, ClientGrantPatch, ClientPatch, Connection,
    EnabledClientStatus, ErrorBody, ListOf, NewClientGrant, TokenResponse,
};
use crate::auth0::health::Auth0Health;

/// The default timeout of one HTTP request to Auth0.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long before `expires_in` a cached token is replaced.
pub const DEFAULT_TOKEN_REFRESH_MARGIN: Duration = Duration::from_secs(60);
/// Auth0 accepts at most this many clients per `PATCH /connections/{id}/clients`.
const ENABLE_CLIENTS_CHUNK: usize = 50;
/// Page size when listing a client's enabled connections.
const CONNECTIONS_PAGE: &str = "50";
/// Bound on pages read when listing a client's enabled connections (5 000 connections).
const MAX_CONNECTION_PAGES: usize = 100;

/// A typed, retrying Auth0 Management API client. Cheap to clone; clones share the token cache.
#[derive(Clone)]
pub struct ManagementClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    token_url: Url,
    api_base: Url,
    audience: String,
    client_id: String,
    client_secret: String,
    retry: RetryPolicy,
    refresh_margin: Duration,
    token: Mutex<Option<CachedToken>>,
    health: Option<Auth0Health>,
}

/// A Management API access token: compared by identity, never printed.
#[derive(Clone)]
struct BearerToken(Arc<str>);

struct CachedToken {
    token: BearerToken,
    refresh_at: Instant,
}

impl std::fmt::Debug for ManagementClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // By hand: the secret and the cached token must never be printed.
        f.debug_struct("ManagementClient")
            .field("api_base", &self.inner.api_base.as_str())
            .field("audience", &self.inner.audience)
            .field("client_id", &self.inner.client_id)
            .field("client_secret", &"[redacted]")
            .field("retry", &self.inner.retry)
            .finish_non_exhaustive()
    }
}

/// Configures a [`ManagementClient`]; see [`ManagementClient::builder`].
pub struct ManagementClientBuilder {
    domain: String,
    client_id: String,
    client_secret: String,
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
            .field("client_id", &self.client_id)
            .field("client_secret", &"[redacted]")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl ManagementClientBuilder {
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
            return Err(ManagementError::Config(
                "empty Management API domain".into(),
            ));
        }
        let base = self.base_url.unwrap_or_else(|| format!("https://{domain}"));
        let base = Url::parse(&base)
            .map_err(|e| ManagementError::Config(format!("invalid base URL: {e}")))?;
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
            .map_err(|e| ManagementError::Config(format!("HTTP client: {e}")))?;
        Ok(ManagementClient {
            inner: Arc::new(Inner {
                http,
                token_url,
                api_base,
                audience,
                client_id: self.client_id,
                client_secret: self.client_secret,
                retry: self.retry,
                refresh_margin: self.refresh_margin,
                token: Mutex::new(None),
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
        other => Err(ManagementError::Config(format!(
            "the Management API base URL must be https (http only for loopback), got {other}://"
        ))),
    }
}

fn with_segments(base: &Url, segments: &[&str]) -> Result<Url, ManagementError> {
    let mut url = base.clone();
    url.path_segments_mut()
        .map_err(|()| ManagementError::Config("base URL cannot have a path".into()))?
        .pop_if_empty()
        .extend(segments);
    Ok(url)
}

/// What one attempt came to.
enum Attempt {
    Done(Bytes),
    Unauthorized(ManagementError),
    Retry(ManagementError, Option<Duration>),
    Fail(ManagementError),
}

impl ManagementClient {
    /// Starts configuring a client for the tenant's Management API (`MGMT_DOMAIN`, e.g.
    /// `dev-xxxxxx.us.auth0.com`) with a Machine-to-Machine app's credentials.
    pub fn builder(
        domain: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
    ) -> ManagementClientBuilder {
        ManagementClientBuilder {
            domain: domain.into(),
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            base_url: None,
            audience: None,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            retry: RetryPolicy::default(),
            refresh_margin: DEFAULT_TOKEN_REFRESH_MARGIN,
            health: None,
        }
    }

    /// `GET /api/v2/clients/{id}`.
    pub async fn get_client(&self, client_id: &str) -> Result<Client, ManagementError> {
        let url = self.url(&["clients", client_id], &[])?;
        self.json("get_client", Method::GET, url, None::<&()>).await
    }

    /// `PATCH /api/v2/clients/{id}` with only the fields set in `patch`.
    pub async fn patch_client(
        &self,
        client_id: &str,
        patch: &ClientPatch,
    ) -> Result<Client, ManagementError> {
        let url = self.url(&["clients", client_id], &[])?;
        self.json("patch_client", Method::PATCH, url, Some(patch))
            .await
    }

    /// `GET /api/v2/connections?name=…`: the connection with that name, if any.
    pub async fn find_connection(&self, name: &str) -> Result<Option<Connection>, ManagementError> {
        let url = self.url(&["connections"], &[("name", name)])?;
        let list: ListOf<Connection> = self
            .json("find_connection", Method::GET, url, None::<&()>)
            .await?;
        Ok(list.into_vec().into_iter().find(|c| c.name == name))
    }

    /// The connections enabled for a client: `GET /api/v2/clients/{id}/connections`, page by
    /// page (checkpoint pagination, bounded). One page in practice: a client has few connections,
    /// where a connection may have thousands of clients.
    pub async fn client_connections(
        &self,
        client_id: &str,
    ) -> Result<Vec<Connection>, ManagementError> {
        let mut all = Vec::new();
        let mut from: Option<String> = None;
        for _ in 0..MAX_CONNECTION_PAGES {
            let mut query = vec![("take", CONNECTIONS_PAGE)];
            if let Some(cursor) = from.as_deref() {
                query.push(("from", cursor));
            }
            let url = self.url(&["clients", client_id, "connections"], &query)?;
            let page: ClientConnectionsPage = self
                .json("client_connections", Method::GET, url, None::<&()>)
                .await?;
            let empty = page.connections.is_empty();
            all.extend(page.connections);
            match page.next {
                Some(next) if !next.is_empty() && !empty => from = Some(next),
                _ => return Ok(all),
            }
        }
        tracing::warn!(client_id, "client connection listing passed its page bound");
        Ok(all)
    }

    /// `PATCH /api/v2/connections/{id}/clients`: enables the connection for these clients only,
    /// leaving every other client as it is (no read-modify-write of `enabled_clients`).
    pub async fn enable_clients(
        &self,
        connection_id: &str,
        client_ids: &[&str],
    ) -> Result<(), ManagementError> {
        for chunk in client_ids.chunks(ENABLE_CLIENTS_CHUNK) {
            let body: Vec<EnabledClientStatus> = chunk
                .iter()
                .map(|id| EnabledClientStatus {
                    client_id: (*id).to_owned(),
                    status: true,
                })
                .collect();
            let url = self.url(&["connections", connection_id, "clients"], &[])?;
            self.send("enable_clients", Method::PATCH, url, Some(&body))
                .await?;
        }
        Ok(())
    }

    /// `GET /api/v2/client-grants?client_id=…&audience=…`.
    pub async fn list_client_grants(
        &self,
        client_id: &str,
        audience: &str,
    ) -> Result<Vec<ClientGrant>, ManagementError> {
        let url = self.url(
            &["client-grants"],
            &[("client_id", client_id), ("audience", audience)],
        )?;
        let list: ListOf<ClientGrant> = self
            .json("list_client_grants", Method::GET, url, None::<&()>)
            .await?;
        Ok(list
            .into_vec()
            .into_iter()
            .filter(|g| g.client_id == client_id && g.audience == audience)
            .collect())
    }

    /// `POST /api/v2/client-grants`; a grant for the same client and audience → 409
    /// ([`ManagementError::is_conflict`]).
    pub async fn create_client_grant(
        &self,
        grant: &NewClientGrant,
    ) -> Result<ClientGrant, ManagementError> {
        let url = self.url(&["client-grants"], &[])?;
        self.json("create_client_grant", Method::POST, url, Some(grant))
            .await
    }

    /// `PATCH /api/v2/client-grants/{id}` with the complete new scope list.
    pub async fn patch_client_grant(
        &self,
        grant_id: &str,
        scope: Vec<String>,
    ) -> Result<ClientGrant, ManagementError> {
        let url = self.url(&["client-grants", grant_id], &[])?;
        let body = ClientGrantPatch { scope };
        self.json("patch_client_grant", Method::PATCH, url, Some(&body))
            .await
    }

    fn url(&self, segments: &[&str], query: &[(&str, &str)]) -> Result<Url, ManagementError> {
        let mut url = with_segments(&self.inner.api_base, segments)?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        Ok(url)
    }

    async fn json<T: DeserializeOwned, B: Serialize + ?Sized>(
        &self,
        operation: &'static str,
        method: Method,
        url: Url,
        body: Option<&B>,
    ) -> Result<T, ManagementError> {
        let bytes = self.send(operation, method, url, body).await?;
        serde_json::from_slice(&bytes).map_err(|e| ManagementError::Decode {
            operation,
            detail: e.to_string(),
        })
    }

    /// One API call: token, attempt, retries, the 401 refresh, health record.
    async fn send<B: Serialize + ?Sized>(
        &self,
        operation: &'static str,
        method: Method,
        url: Url,
        body: Option<&B>,
    ) -> Result<Bytes, ManagementError> {
        let body =
            body.map(serde_json::to_vec)
                .transpose()
                .map_err(|e| ManagementError::Decode {
                    operation,
                    detail: e.to_string(),
                })?;
        let result = self.send_retrying(operation, method, url, body).await;
        if let Some(health) = &self.inner.health {
            match &result {
                Ok(_) => health.record_management_call(operation, None, None),
                Err(e) => {
                    health.record_management_call(operation, e.status(), Some(e.short_code()))
                }
            }
        }
        result
    }

    async fn send_retrying(
        &self,
        operation: &'static str,
        method: Method,
        url: Url,
        body: Option<Vec<u8>>,
    ) -> Result<Bytes, ManagementError> {
        let started = Instant::now();
        let mut attempt = 0;
        let mut refreshed = false;
        loop {
            attempt += 1;
            let token = self.token().await?;
            let mut request = self
                .inner
                .http
                .request(method.clone(), url.clone())
                .bearer_auth(&*token.0);
            if let Some(body) = &body {
                request = request
                    .header(http::header::CONTENT_TYPE, "application/json")
                    .body(body.clone());
            }
            let outcome = attempt_once(operation, request, |s| s == StatusCode::UNAUTHORIZED).await;
            let (err, hint) = match outcome {
                Attempt::Done(bytes) => return Ok(bytes),
                Attempt::Fail(err) => return Err(err),
                Attempt::Unauthorized(err) if refreshed => return Err(err),
                Attempt::Unauthorized(_) => {
                    // The token expired or was revoked early: drop it and retry once, fresh.
                    tracing::debug!(operation, "Management API answered 401; refreshing token");
                    self.drop_token(&token).await;
                    refreshed = true;
                    attempt -= 1;
                    continue;
                }
                Attempt::Retry(err, hint) => (err, hint),
            };
            match self
                .inner
                .retry
                .next_delay(attempt, started.elapsed(), hint)
            {
                Some(delay) => {
                    tracing::warn!(operation, attempt, delay_ms = delay.as_millis() as u64, error = %err, "retrying Management API call");
                    tokio::time::sleep(delay).await;
                }
                None => return Err(err),
            }
        }
    }

    /// The cached token, or a fresh one. Holding the async mutex across the fetch is what makes
    /// it single flight: concurrent callers wait for this fetch instead of starting their own.
    async fn token(&self) -> Result<BearerToken, ManagementError> {
        let mut slot = self.inner.token.lock().await;
        if let Some(cached) = slot.as_ref()
            && Instant::now() < cached.refresh_at
        {
            return Ok(cached.token.clone());
        }
        let (token, lifetime) = self.fetch_token().await?;
        let margin = self.inner.refresh_margin.min(lifetime / 2);
        *slot = Some(CachedToken {
            token: token.clone(),
            refresh_at: Instant::now() + lifetime.saturating_sub(margin),
        });
        Ok(token)
    }

    /// Forgets `token` unless another caller already replaced it.
    async fn drop_token(&self, token: &BearerToken) {
        let mut slot = self.inner.token.lock().await;
        if slot
            .as_ref()
            .is_some_and(|cached| Arc::ptr_eq(&cached.token.0, &token.0))
        {
            *slot = None;
        }
    }

    async fn fetch_token(&self) -> Result<(BearerToken, Duration), ManagementError> {
        let inner = &self.inner;
        let body = serde_json::json!({
            "grant_type": "client_credentials",
            "client_id": inner.client_id,
            "client_secret": inner.client_secret,
            "audience": inner.audience,
        });
        let started = Instant::now();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let request = inner.http.post(inner.token_url.clone()).json(&body);
            let (err, hint) = match attempt_once("token", request, |_| false).await {
                Attempt::Done(bytes) => {
                    let parsed: TokenResponse =
                        serde_json::from_slice(&bytes).map_err(|e| ManagementError::Decode {
                            operation: "token",
                            detail: e.to_string(),
                        })?;
                    // Auth0 always sends expires_in; without it, assume a short life.
                    let lifetime = Duration::from_secs(parsed.expires_in.unwrap_or(300));
                    tracing::debug!(
                        expires_in = lifetime.as_secs(),
                        "fetched Management API token"
                    );
                    return Ok((BearerToken(parsed.access_token.into()), lifetime));
                }
                Attempt::Fail(ManagementError::Api {
                    status,
                    error_code,
                    message,
                    ..
                })
                | Attempt::Unauthorized(ManagementError::Api {
                    status,
                    error_code,
                    message,
                    ..
                }) => {
                    return Err(ManagementError::Token {
                        status,
                        error_code,
                        message,
                    });
                }
                Attempt::Fail(err) | Attempt::Unauthorized(err) => return Err(err),
                Attempt::Retry(err, hint) => (err, hint),
            };
            match inner.retry.next_delay(attempt, started.elapsed(), hint) {
                Some(delay) => tokio::time::sleep(delay).await,
                None => return Err(err),
            }
        }
    }
}

/// Sends one request and classifies the answer.
async fn attempt_once(
    operation: &'static str,
    request: reqwest::RequestBuilder,
    is_unauthorized: impl Fn(StatusCode) -> bool,
) -> Attempt {
    let response = match request.send().await {
        Ok(r) => r,
        Err(e) => return Attempt::Retry(transport_error(operation, e), None),
    };
    let status = response.status();
    let hint = server_hint(response.headers());
    let bytes = match response.bytes().await {
        Ok(b) => b,
        Err(e) => return Attempt::Retry(transport_error(operation, e), None),
    };
    if status.is_success() {
        return Attempt::Done(bytes);
    }
    let body: ErrorBody = serde_json::from_slice(&bytes).unwrap_or_default();
    let err = ManagementError::Api {
        operation,
        status: status.as_u16(),
        error_code: body.error_code.or(body.error),
        message: body
            .message
            .or(body.error_description)
            .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_owned()),
    };
    if is_unauthorized(status) {
        Attempt::Unauthorized(err)
    } else if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
        Attempt::Retry(err, hint)
    } else {
        Attempt::Fail(err)
    }
}

fn transport_error(operation: &'static str, e: reqwest::Error) -> ManagementError {
    if e.is_timeout() {
        ManagementError::Timeout { operation }
    } else {
        ManagementError::Transport {
            operation,
            detail: e.without_url().to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_redacts_the_secret() {
        let client = ManagementClient::builder("tenant.example.com", "m2m", "super-secret-value")
            .build()
            .expect("valid");
        let debug = format!("{client:?}");
        assert!(!debug.contains("super-secret-value"));
        assert!(debug.contains("[redacted]"));
        let builder = ManagementClient::builder("tenant.example.com", "m2m", "super-secret-value");
        assert!(!format!("{builder:?}").contains("super-secret-value"));
    }

    #[test]
    fn plain_http_is_refused_except_for_loopback() {
        let remote = ManagementClient::builder("t.example.com", "id", "s")
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
                ManagementClient::builder("t.example.com", "id", "s")
                    .base_url(ok)
                    .build()
                    .is_ok(),
                "{ok}"
            );
        }
    }

    #[test]
    fn production_urls_derive_from_the_domain() {
        let client = ManagementClient::builder("dev-x.us.auth0.com", "id", "s")
            .build()
            .expect("valid");
        assert_eq!(
            client.inner.token_url.as_str(),
            "https://dev-x.us.auth0.com/oauth/token"
        );
        assert_eq!(client.inner.audience, "https://dev-x.us.auth0.com/api/v2/");
        let url = client
            .url(&["connections", "con 1", "clients"], &[("take", "50")])
            .expect("url");
        assert_eq!(
            url.as_str(),
            "https://dev-x.us.auth0.com/api/v2/connections/con%201/clients?take=50"
        );
    }
}
