//! The request's deadline, as seen by every LMS call made on its behalf.
//!
//! The webhook sets it once per request (from the Lambda context's deadline minus a
//! margin, or a configured budget locally) around the whole handling future; the
//! transport reads it before each attempt, each backoff, each `Retry-After` sleep and
//! each token fetch, so no retry crosses it and the caller always gets an answer it
//! can still send. A task-local rather than a parameter: the calls run as futures
//! joined inside the request's task (never spawned), and the LMS port stays free of
//! transport concerns. Outside any scope there is no deadline.

use std::future::Future;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

tokio::task_local! {
    static DEADLINE: Instant;
}

/// Run `work` with `deadline` (or the enclosing one, if that is earlier).
pub async fn with_deadline<F: Future>(deadline: Instant, work: F) -> F::Output {
    let effective = current().map_or(deadline, |outer| outer.min(deadline));
    DEADLINE.scope(effective, work).await
}

/// The deadline of the enclosing scope, if any.
pub fn current() -> Option<Instant> {
    DEADLINE.try_with(|d| *d).ok()
}

/// Time left before the deadline (`None`: no deadline).
pub fn remaining() -> Option<Duration> {
    current().map(|d| d.saturating_duration_since(Instant::now()))
}

/// Would waiting `wait` (and then making a call of at least `min_call`) cross it?
pub fn allows(wait: Duration, min_call: Duration) -> bool {
    remaining().is_none_or(|left| wait + min_call < left)
}

/// A Lambda context's deadline (milliseconds since the Unix epoch) as an `Instant`,
/// `margin` earlier. `None` when it is not at least a second ahead: Lambda starts a
/// handler with the function's whole timeout ahead, so a runtime that reports a
/// deadline already (nearly) past is not telling the time (cargo-lambda's emulator).
pub fn from_unix_ms(deadline_ms: u64, margin: Duration) -> Option<Instant> {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .ok()?
        .as_millis() as u64;
    if deadline_ms < now_ms.saturating_add(1_000) {
        return None;
    }
    let left = Duration::from_millis(deadline_ms - now_ms);
    Some(Instant::now() + left.saturating_sub(margin))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lambda_deadline_in_the_past_is_not_believed() {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        assert_eq!(from_unix_ms(now_ms - 5, Duration::ZERO), None);
        assert_eq!(from_unix_ms(now_ms + 500, Duration::ZERO), None);
        let at = from_unix_ms(now_ms + 60_000, Duration::from_secs(2)).unwrap();
        let left = at.saturating_duration_since(Instant::now());
        assert!(
            left > Duration::from_secs(56) && left <= Duration::from_secs(58),
            "{left:?}"
        );
    }

    #[tokio::test]
    async fn nested_scopes_keep_the_earlier_deadline() {
        assert!(current().is_none());
        assert!(allows(Duration::from_secs(3600), Duration::ZERO));
        let soon = Instant::now() + Duration::from_millis(200);
        with_deadline(soon, async {
            assert_eq!(current(), Some(soon));
            with_deadline(soon + Duration::from_secs(60), async {
                assert_eq!(current(), Some(soon));
                assert!(!allows(Duration::from_secs(1), Duration::ZERO));
                assert!(allows(Duration::ZERO, Duration::from_millis(10)));
            })
            .await;
        })
        .await;
    }
}
