//! The Management API on the wire: one HTTP attempt and the classification of its answer
//! (done, unauthorized, retryable, final), over the client's HTTP connection pool and retry
//! policy. It knows nothing of tokens or of which call is made: the token source and the
//! client build on it.

use std::time::Duration;

use bytes::Bytes;
use http::{Method, StatusCode};
use url::Url;

use super::error::ManagementError;
use super::retry::{RetryPolicy, server_hint};
use super::types::ErrorBody;

/// The HTTP client (no redirects, per-request timeout) and the retry schedule.
pub(super) struct Transport {
    http: reqwest::Client,
    retry: RetryPolicy,
}

impl Transport {
    pub(super) fn new(http: reqwest::Client, retry: RetryPolicy) -> Self {
        Self { http, retry }
    }

    /// A request to `url`, to be sent with [`attempt_once`].
    pub(super) fn request(&self, method: Method, url: Url) -> reqwest::RequestBuilder {
        self.http.request(method, url)
    }

    /// When (and whether) to try again.
    pub(super) fn retry(&self) -> &RetryPolicy {
        &self.retry
    }
}

/// What one attempt came to.
pub(super) enum Attempt {
    Done(StatusCode, Bytes),
    Unauthorized(ManagementError),
    Retry(ManagementError, Option<Duration>),
    Fail(ManagementError),
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
