//! How long to wait before trying again a transaction that DynamoDB
//! cancelled for a conflict with another transaction in flight.
//!
//! The SDK does not retry these (`TransactionCanceledException` is not a
//! transient error to it): the store does. Exponential backoff with full
//! jitter (AWS Architecture Blog, "Exponential Backoff And Jitter"): the
//! n-th wait is drawn uniformly from zero to `first * 2^(n-1)`, capped, so
//! that writers who collided once spread out instead of colliding again in
//! step; and retries go on for as long as the budget lasts, never giving up
//! with time to spare.

use std::time::Duration;

use tokio::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConflictBackoff {
    /// The longest first wait.
    pub first: Duration,
    /// No wait is longer.
    pub cap: Duration,
    /// Time from the first attempt after which a conflict is answered 503.
    /// The functions time out at 10 s; a create may already have spent a
    /// KMS call, and the last attempt may take an SDK operation timeout
    /// (5 s by default): 3 s of retrying leaves room for both.
    pub budget: Duration,
}

impl Default for ConflictBackoff {
    /// A transaction holds its items for tens of milliseconds: the first
    /// retry comes soon, and after six the waits stop growing at 640 ms.
    fn default() -> Self {
        Self {
            first: Duration::from_millis(10),
            cap: Duration::from_millis(640),
            budget: Duration::from_secs(3),
        }
    }
}

impl ConflictBackoff {
    /// The longest wait after the `retry`-th conflict (from 1).
    fn ceiling(&self, retry: u32) -> Duration {
        let doublings = retry.saturating_sub(1).min(20);
        self.first.saturating_mul(1 << doublings).min(self.cap)
    }

    /// The wait after the `retry`-th conflict, `fraction` of the way (0..1)
    /// to its ceiling, and no later than the budget's end; `None` once the
    /// budget is spent.
    pub(super) fn wait(&self, retry: u32, fraction: f64, deadline: Instant) -> Option<Duration> {
        let left = deadline.checked_duration_since(Instant::now())?;
        if left.is_zero() {
            return None;
        }
        Some(
            self.ceiling(retry)
                .mul_f64(fraction.clamp(0.0, 1.0))
                .min(left),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceilings_double_from_the_first_up_to_the_cap() {
        let backoff = ConflictBackoff::default();
        let ceilings: Vec<u128> = (1..=9).map(|n| backoff.ceiling(n).as_millis()).collect();
        assert_eq!(ceilings, [10, 20, 40, 80, 160, 320, 640, 640, 640]);
        assert_eq!(backoff.ceiling(u32::MAX), backoff.cap, "no overflow");
    }

    #[tokio::test(start_paused = true)]
    async fn waits_are_drawn_below_the_ceiling_and_end_with_the_budget() {
        let backoff = ConflictBackoff::default();
        let deadline = Instant::now() + backoff.budget;
        assert_eq!(
            backoff.wait(3, 0.0, deadline),
            Some(Duration::ZERO),
            "full jitter: may not wait at all"
        );
        assert_eq!(
            backoff.wait(3, 0.5, deadline),
            Some(Duration::from_millis(20))
        );
        assert_eq!(
            backoff.wait(3, 1.0, deadline),
            Some(Duration::from_millis(40))
        );
        tokio::time::advance(backoff.budget - Duration::from_millis(5)).await;
        assert_eq!(
            backoff.wait(9, 1.0, deadline),
            Some(Duration::from_millis(5)),
            "the last wait ends with the budget, for one more attempt"
        );
        tokio::time::advance(Duration::from_millis(5)).await;
        assert_eq!(backoff.wait(1, 0.5, deadline), None);
    }
}
