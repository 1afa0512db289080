//! When and how long to wait before retrying a Management API call.
//!
//! 429 and 5xx answers and timeouts are retried with exponential backoff and full jitter; a
//! server hint (`Retry-After` seconds, or `x-ratelimit-reset` epoch seconds) is a floor on the
//! wait, never shortened. Attempts and total time are both bounded: a hint that would overrun the
//! time budget ends the retries at once instead of sleeping past it.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::HeaderMap;

/// Bounds and pacing of retries for one Management API call.
///
/// ```
/// use std::time::Duration;
/// use tower_mcp_auth::auth0::RetryPolicy;
///
/// let policy = RetryPolicy::default()
///     .max_attempts(3)
///     .base_delay(Duration::from_millis(1))
///     .max_delay(Duration::from_millis(10))
///     .max_elapsed(Duration::from_secs(1));
/// assert!(policy.backoff(5) <= Duration::from_millis(10));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    max_attempts: u32,
    base_delay: Duration,
    max_delay: Duration,
    max_elapsed: Duration,
}

impl Default for RetryPolicy {
    /// 5 attempts, 200 ms base delay doubling up to 5 s, 30 s in total.
    fn default() -> Self {
        Self {
            max_attempts: 5,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(5),
            max_elapsed: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// At most this many attempts per call, the first included (at least 1).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// The backoff before the second attempt; it doubles for each further one.
    pub fn base_delay(mut self, delay: Duration) -> Self {
        self.base_delay = delay;
        self
    }

    /// The cap on one computed backoff (a server hint may ask for longer).
    pub fn max_delay(mut self, delay: Duration) -> Self {
        self.max_delay = delay;
        self
    }

    /// The total time a call may spend, retries and waits included.
    pub fn max_elapsed(mut self, budget: Duration) -> Self {
        self.max_elapsed = budget;
        self
    }

    /// The configured attempt bound.
    pub fn attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The configured total time budget.
    pub fn elapsed_budget(&self) -> Duration {
        self.max_elapsed
    }

    /// The jittered backoff after failed attempt number `attempt` (1-based): a uniform random
    /// duration in `[0, min(max_delay, base_delay * 2^(attempt-1))]` ("full jitter", so many
    /// callers failing together do not retry together).
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exp = attempt.saturating_sub(1).min(31);
        let ceiling = self
            .base_delay
            .saturating_mul(1u32 << exp)
            .min(self.max_delay);
        let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(fastrand::u64(0..=nanos))
    }

    /// The wait before the next attempt, or `None` when the call must give up: attempts are used
    /// up, or the wait would overrun the time budget. `hint` is the server's own wait, a floor.
    pub(crate) fn next_delay(
        &self,
        attempt: u32,
        elapsed: Duration,
        hint: Option<Duration>,
    ) -> Option<Duration> {
        if attempt >= self.max_attempts {
            return None;
        }
        let delay = self.backoff(attempt).max(hint.unwrap_or_default());
        (elapsed.saturating_add(delay) < self.max_elapsed).then_some(delay)
    }
}

/// The wait a 429/5xx answer asks for: `Retry-After` (delta seconds) first, else
/// `x-ratelimit-reset` (epoch seconds, Auth0's rate-limit header) minus now.
pub(crate) fn server_hint(headers: &HeaderMap) -> Option<Duration> {
    let number =
        |name: &str| -> Option<u64> { headers.get(name)?.to_str().ok()?.trim().parse().ok() };
    if let Some(secs) = number("retry-after") {
        return Some(Duration::from_secs(secs));
    }
    let reset = number("x-ratelimit-reset")?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH).ok()?.as_secs();
    Some(Duration::from_secs(reset.saturating_sub(now)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn policy() -> RetryPolicy {
        RetryPolicy::default()
            .max_attempts(4)
            .base_delay(Duration::from_millis(10))
            .max_delay(Duration::from_millis(40))
            .max_elapsed(Duration::from_secs(2))
    }

    #[test]
    fn backoff_grows_but_never_passes_the_cap() {
        let p = policy();
        for _ in 0..100 {
            assert!(p.backoff(1) <= Duration::from_millis(10));
            assert!(p.backoff(2) <= Duration::from_millis(20));
            assert!(p.backoff(30) <= Duration::from_millis(40));
        }
    }

    #[test]
    fn gives_up_after_the_last_attempt() {
        let p = policy();
        assert!(p.next_delay(3, Duration::ZERO, None).is_some());
        assert_eq!(p.next_delay(4, Duration::ZERO, None), None);
    }

    #[test]
    fn server_hint_is_a_floor_and_respects_the_budget() {
        let p = policy();
        let hint = Some(Duration::from_secs(1));
        assert_eq!(
            p.next_delay(1, Duration::ZERO, hint),
            Some(Duration::from_secs(1))
        );
        assert_eq!(p.next_delay(1, Duration::from_millis(1500), hint), None);
    }

    #[test]
    fn retry_after_wins_over_ratelimit_reset() {
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", HeaderValue::from_static("3"));
        headers.insert("x-ratelimit-reset", HeaderValue::from_static("0"));
        assert_eq!(server_hint(&headers), Some(Duration::from_secs(3)));
    }

    #[test]
    fn ratelimit_reset_is_epoch_seconds() {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let mut headers = HeaderMap::new();
        let value = HeaderValue::from_str(&(now + 2).to_string()).expect("digits");
        headers.insert("x-ratelimit-reset", value);
        let hint = server_hint(&headers).expect("a hint");
        assert!(hint <= Duration::from_secs(2) && hint >= Duration::from_secs(1));
        assert_eq!(server_hint(&HeaderMap::new()), None);
    }
}
