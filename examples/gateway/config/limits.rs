//! `HEADER_READ_TIMEOUT_MS`, `REQUEST_TIMEOUT_MS`, `MAX_CONCURRENT_REQUESTS` (see `server.rs`)
//! and `HEALTH_DETAILS`.

use std::time::Duration;

use super::values::duration_ms;

/// What one client may hold of the gateway, and what `/health/auth0` shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    pub header_read_timeout: Duration,
    pub request_timeout: Duration,
    pub max_concurrent_requests: usize,
    /// `HEALTH_DETAILS=public`: `/health/auth0` shows JWKS, Management API and webhook details
    /// to anyone; otherwise (the production default) only its status word.
    pub health_details: bool,
}

pub(super) fn limits(
    get: &impl Fn(&str) -> Option<String>,
    production: bool,
    backend_timeout: Duration,
    problems: &mut Vec<String>,
) -> Limits {
    let header_read_timeout = duration_ms(get, "HEADER_READ_TIMEOUT_MS", 10_000, problems);
    let default_request_ms = backend_timeout.as_millis() as u64 + 30_000;
    let request_timeout = duration_ms(get, "REQUEST_TIMEOUT_MS", default_request_ms, problems);
    if request_timeout <= backend_timeout {
        problems.push(format!(
            "REQUEST_TIMEOUT_MS ({} ms) must be longer than BACKEND_TIMEOUT_MS ({} ms), or a slow backend's 504 would never be seen",
            request_timeout.as_millis(),
            backend_timeout.as_millis()
        ));
    }
    let max_concurrent_requests = match get("MAX_CONCURRENT_REQUESTS") {
        None => 1024,
        Some(raw) => match raw.parse::<usize>() {
            Ok(n) if n > 0 => n,
            _ => {
                problems.push(format!(
                    "MAX_CONCURRENT_REQUESTS `{raw}` must be a positive number"
                ));
                1024
            }
        },
    };
    let health_details = match get("HEALTH_DETAILS").as_deref() {
        None => !production,
        Some("public") => true,
        Some("hidden") => false,
        Some(other) => {
            problems.push(format!(
                "HEALTH_DETAILS `{other}` must be `public` or `hidden`"
            ));
            !production
        }
    };
    Limits {
        header_read_timeout,
        request_timeout,
        max_concurrent_requests,
        health_details,
    }
}
