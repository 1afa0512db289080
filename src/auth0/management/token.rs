//! The Management API token: `client_credentials`, cached until shortly before expiry, fetched
//! by one caller at a time (single flight), dropped on a 401. Built on the [`Transport`]; the
//! client builds on it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use http::Method;
use tokio::sync::Mutex;
use url::Url;

use super::error::ManagementError;
use super::transport::{Attempt, Transport, attempt_once};
use super::types::TokenResponse;
use crate::ClientSecret;

/// A Management API access token: compared by identity, never printed.
#[derive(Clone)]
pub(super) struct BearerToken(Arc<str>);

impl BearerToken {
    /// The token, for the `Authorization` header.
    pub(super) fn expose(&self) -> &str {
        &self.0
    }
}

/// Where and as whom tokens are asked for, and the one cached token.
pub(super) struct TokenSource {
    pub(super) token_url: Url,
    pub(super) audience: String,
    pub(super) client_id: String,
    client_secret: ClientSecret,
    refresh_margin: Duration,
    slot: Mutex<Option<CachedToken>>,
}

struct CachedToken {
    token: BearerToken,
    refresh_at: Instant,
    /// What the token answer (or the token's own `scope` claim) says was granted.
    scopes: Option<Arc<[String]>>,
}

impl TokenSource {
    pub(super) fn new(
        token_url: Url,
        audience: String,
        client_id: String,
        client_secret: ClientSecret,
        refresh_margin: Duration,
    ) -> Self {
        Self {
            token_url,
            audience,
            client_id,
            client_secret,
            refresh_margin,
            slot: Mutex::new(None),
        }
    }

    /// The cached token, or a fresh one. Holding the async mutex across the fetch is what makes
    /// it single flight: concurrent callers wait for this fetch instead of starting their own.
    pub(super) async fn token(
        &self,
        transport: &Transport,
    ) -> Result<BearerToken, ManagementError> {
        let mut slot = self.slot.lock().await;
        if let Some(cached) = slot.as_ref()
            && Instant::now() < cached.refresh_at
        {
            return Ok(cached.token.clone());
        }
        let (token, lifetime, scopes) = self.fetch_token(transport).await?;
        let margin = self.refresh_margin.min(lifetime / 2);
        *slot = Some(CachedToken {
            token: token.clone(),
            refresh_at: Instant::now() + lifetime.saturating_sub(margin),
            scopes,
        });
        Ok(token)
    }

    /// The scopes the current token was granted (see
    /// [`ManagementClient::granted_scopes`](super::ManagementClient::granted_scopes)).
    pub(super) async fn granted_scopes(
        &self,
        transport: &Transport,
    ) -> Result<Option<Vec<String>>, ManagementError> {
        self.token(transport).await?;
        let slot = self.slot.lock().await;
        Ok(slot
            .as_ref()
            .and_then(|cached| cached.scopes.as_ref())
            .map(|scopes| scopes.to_vec()))
    }

    /// Forgets `token` unless another caller already replaced it.
    pub(super) async fn drop_token(&self, token: &BearerToken) {
        let mut slot = self.slot.lock().await;
        if slot
            .as_ref()
            .is_some_and(|cached| Arc::ptr_eq(&cached.token.0, &token.0))
        {
            *slot = None;
        }
    }

    async fn fetch_token(
        &self,
        transport: &Transport,
    ) -> Result<(BearerToken, Duration, Option<Arc<[String]>>), ManagementError> {
        let body = serde_json::json!({
            "grant_type": "client_credentials",
            "client_id": self.client_id,
            "client_secret": self.client_secret.expose(),
            "audience": self.audience,
        });
        let started = Instant::now();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let request = transport
                .request(Method::POST, self.token_url.clone())
                .json(&body);
            let (err, hint) = match attempt_once("token", request, |_| false).await {
                Attempt::Done(_, bytes) => {
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
                    let scopes = parsed
                        .scope
                        .clone()
                        .or_else(|| scope_claim(&parsed.access_token))
                        .map(|scope| scope.split_whitespace().map(str::to_owned).collect());
                    return Ok((BearerToken(parsed.access_token.into()), lifetime, scopes));
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
            match transport
                .retry()
                .next_delay(attempt, started.elapsed(), hint)
            {
                Some(delay) => tokio::time::sleep(delay).await,
                None => return Err(err),
            }
        }
    }
}

/// The `scope` claim of a JWT, read without verifying it.
fn scope_claim(token: &str) -> Option<String> {
    use base64::Engine;
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    claims["scope"].as_str().map(str::to_owned)
}
