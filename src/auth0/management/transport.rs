//! One Management API call on the wire: bearer token, attempt, classification of the answer,
//! retries per the [`RetryPolicy`](super::RetryPolicy), the one token refresh on 401, and the
//! health record.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use url::Url;

use super::client::ManagementClient;
use super::error::ManagementError;
use super::retry::server_hint;
use super::types::ErrorBody;

/// What one attempt came to.
pub(super) enum Attempt {
    Done(StatusCode, Bytes),
    Unauthorized(ManagementError),
    Retry(ManagementError, Option<Duration>),
    Fail(ManagementError),
}

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
                Attempt::Done(status, bytes) => return Ok((status, bytes)),
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
                    crate::metrics::management_retry(operation);
                    tracing::warn!(operation, attempt, delay_ms = delay.as_millis() as u64, error = %err, "retrying Management API call");
                    tokio::time::sleep(delay).await;
                }
                None => return Err(err),
            }
        }
    }
}

/// Sends one request and classifies the answer.
pub(super) async fn attempt_once(
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
        return Attempt::Done(status, bytes);
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
