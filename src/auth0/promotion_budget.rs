//! A token bucket on promotions: every DCR registration anyone makes through a tenant's open
//! `/oidc/register` reaches the webhook, and each costs Management API calls out of the
//! tenant-wide rate limit (Auth0's Free plan: 2 requests a second for the whole API). Beyond the
//! budget a client is not attempted: the batch is answered 503 and the log stream delivers it
//! again later, when the bucket has refilled.

use std::time::{Duration, Instant};

/// `burst` promotions at once, refilled at `burst` per minute; `burst == 0` means no limit.
pub(crate) struct PromotionBudget {
    burst: f64,
    tokens: f64,
    refilled_at: Instant,
}

impl PromotionBudget {
    pub(crate) fn per_minute(burst: u32) -> Self {
        Self {
            burst: f64::from(burst),
            tokens: f64::from(burst),
            refilled_at: Instant::now(),
        }
    }

    /// Takes one promotion from the budget, if there is one left.
    pub(crate) fn take(&mut self) -> bool {
        if self.burst == 0.0 {
            return true;
        }
        let now = Instant::now();
        let elapsed = now.duration_since(self.refilled_at);
        self.refilled_at = now;
        let per_sec = self.burst / Duration::from_secs(60).as_secs_f64();
        self.tokens = (self.tokens + elapsed.as_secs_f64() * per_sec).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_burst_is_spent_then_refused_and_zero_is_unlimited() {
        let mut budget = PromotionBudget::per_minute(3);
        assert!((0..3).all(|_| budget.take()));
        // Refill is 3 a minute: the next one is not back for ~20 s.
        assert!(!budget.take());
        let mut unlimited = PromotionBudget::per_minute(0);
        assert!((0..10_000).all(|_| unlimited.take()));
    }
}
