//! One authenticated Management API call: the token from the [`TokenSource`], one
//! [`Transport`] attempt after another per the retry policy, the one token refresh on 401, and
//! the health and metrics record.
//!
//! [`TokenSource`]: super::token::TokenSource
//! [`Transport`]: super::transport::Transport

use std::time::Instant;

use bytes::Bytes;
use http::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use url::Url;

use super::client::ManagementClient;
use super::error::ManagementError;
use super::transport::{Attempt, attempt_once};

impl ManagementClient {
    pub(super) async fn json<T: DeserializeOwned, B: Serialize + ?Sized>(
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
    pub(super) async fn send<B: Serialize + ?Sized>(
        &self,
        operation: &'static str,
        method: Method,
        url: Url,
        body: Option<&B>,
    ) -> Result<Bytes, ManagementError> {
        self.send_with_status(operation, method, url, body)
            .await
            .map(|(_, bytes)| bytes)
    }

    /// [`send`](Self::send), keeping the success status (201 vs 200 tells create from update).
    pub(super) async fn send_with_status<B: Serialize + ?Sized>(
        &self,
        operation: &'static str,
        method: Method,
        url: Url,
        body: Option<&B>,
    ) -> Result<(StatusCode, Bytes), ManagementError> {
        let body =
            body.map(serde_json::to_vec)
                .transpose()
                .map_err(|e| ManagementError::Decode {
                    operation,
                    detail: e.to_string(),
                })?;
        let result = self.send_retrying(operation, method, url, body).await;
        crate::metrics::management_call(operation, &result);
        if let Some(health) = &self.inner.health {
            match &result {
                Ok((status, _)) => {
                    health.record_management_call(operation, Some(status.as_u16()), None)
                }
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
    ) -> Result<(StatusCode, Bytes), ManagementError> {
        let started = Instant::now();
        let mut attempt = 0;
        let mut refreshed = false;
        loop {
            attempt += 1;
            let token = self.inner.tokens.token(&self.inner.transport).await?;
            let mut request = self
                .inner
                .transport
                .request(method.clone(), url.clone())
                .bearer_auth(token.expose());
            if let Some(body) = &body {
                request = request
                    .header(http::header::CONTENT_TYPE, "application/json")
                    .body(body.clone());
            }
            let outcome = attempt_once(operation, request, |s| s == StatusCode::UNAUTHORIZED).await;
            let (err, hint) = match outcome {
                Attempt::Done(status, bytes) => return Ok((status, bytes)),
                Attempt::Fail(err) => return Err(err),
                Attempt::Unauthorized(err) if refreshed => return Err(err),
                Attempt::Unauthorized(_) => {
                    // The token expired or was revoked early: drop it and retry once, fresh.
                    tracing::debug!(operation, "Management API answered 401; refreshing token");
                    self.inner.tokens.drop_token(&token).await;
                    refreshed = true;
                    attempt -= 1;
                    continue;
                }
                Attempt::Retry(err, hint) => (err, hint),
            };
            match self
                .inner
                .transport
                .retry()
                .next_delay(attempt, started.elapsed(), hint)
            {
                Some(delay) => {
                    crate::metrics::management_retry(operation);
                    tracing::warn!(operation, attempt, delay_ms = delay.as_millis() as u64, error = %err, "retrying Management API call");
                    tokio::time::sleep(delay).await;
                }
                None => return Err(err),
            }
        }
    }
}
