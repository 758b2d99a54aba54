//! Bounded retries with exponential backoff and jitter.

use std::time::Duration;

#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Total attempts including the first (1 = no retry).
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// Longest `Retry-After` we are willing to wait inside one invocation; longer
    /// waits fail the call so the caller's own retry machinery (Lambda, SQS,
    /// Lernito) takes over instead of burning the function's time budget.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(2),
            max_retry_after: Duration::from_secs(5),
        }
    }
}

impl RetryPolicy {
    /// Delay before retry number `retry` (1-based): "equal jitter", half fixed and
    /// half random, so retries from many invocations spread out but never fire at once.
    pub fn backoff(&self, retry: u32) -> Duration {
        let exp = self.base_delay.saturating_mul(
            1u32.checked_shl(retry.saturating_sub(1))
                .unwrap_or(u32::MAX),
        );
        let capped = exp.min(self.max_delay);
        let half = capped / 2;
        let jitter_ms = fastrand::u64(0..=half.as_millis() as u64);
        half + Duration::from_millis(jitter_ms)
    }

    /// The delay to honour for a `Retry-After` header (delta-seconds form), or
    /// `None` when the header is absent or asks for more than we may wait.
    pub fn retry_after(&self, header: Option<&str>) -> Option<Option<Duration>> {
        let Some(value) = header else {
            return Some(None);
        };
        match value.trim().parse::<u64>() {
            Ok(secs) => {
                let wait = Duration::from_secs(secs);
                (wait <= self.max_retry_after).then_some(Some(wait))
            }
            // HTTP-date form: we do not parse dates; fall back to our own backoff.
            Err(_) => Some(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_bounded() {
        let p = RetryPolicy::default();
        for retry in 1..40 {
            let d = p.backoff(retry);
            assert!(d <= p.max_delay, "{retry}: {d:?}");
            let floor =
                (p.base_delay.saturating_mul(1 << (retry - 1).min(20))).min(p.max_delay) / 2;
            assert!(d >= floor, "{retry}: {d:?} < {floor:?}");
        }
    }

    #[test]
    fn retry_after_is_honoured_within_the_cap() {
        let p = RetryPolicy::default();
        assert_eq!(p.retry_after(Some("2")), Some(Some(Duration::from_secs(2))));
        assert_eq!(p.retry_after(Some("600")), None);
        assert_eq!(p.retry_after(None), Some(None));
        assert_eq!(
            p.retry_after(Some("Wed, 21 Oct 2015 07:28:00 GMT")),
            Some(None)
        );
    }
}
