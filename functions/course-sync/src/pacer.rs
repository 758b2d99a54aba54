//! Pacing of a resync's course-list requests: at most `per_window` in any `window`
//! (a sliding window, like the DRF throttle it keeps under).
//!
//! The LMS's course list allows a staff user 40 calls in any 60 s
//! (`CourseListUserThrottle`, DRF's `SimpleRateThrottle`: a history of timestamps, not
//! a fixed interval). Spacing the calls evenly would waste the burst the throttle
//! grants: a 50-page resync would take 100 s at 30 a minute, where keeping to "30 in
//! any minute" takes one minute plus the pages' own work. The window is also what a
//! continuation waits before it starts (its queue delay), so two invocations of one
//! resync never add up to more than `per_window` in a minute.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// DRF's window for a `/minute` rate.
pub const WINDOW: Duration = Duration::from_secs(60);

#[derive(Debug)]
pub struct ListPacer {
    per_window: usize,
    window: Duration,
    calls: VecDeque<Instant>,
}

impl ListPacer {
    /// `per_window == 0`: no pacing.
    pub fn new(per_window: usize, window: Duration) -> Self {
        ListPacer {
            per_window,
            window,
            calls: VecDeque::new(),
        }
    }

    /// When the next call may be made, seen at `now` (`now` itself when it may go).
    pub fn next_allowed(&mut self, now: Instant) -> Instant {
        if self.per_window == 0 {
            return now;
        }
        while self
            .calls
            .front()
            .is_some_and(|at| now.saturating_duration_since(*at) >= self.window)
        {
            self.calls.pop_front();
        }
        if self.calls.len() < self.per_window {
            return now;
        }
        // Full: the oldest call in the window must leave it first.
        let oldest = self.calls[self.calls.len() - self.per_window];
        (oldest + self.window).max(now)
    }

    /// Record a call made at `at`.
    pub fn record(&mut self, at: Instant) {
        if self.per_window > 0 {
            self.calls.push_back(at);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bursts_up_to_the_rate_then_waits_for_the_oldest_call_to_leave_the_window() {
        let t0 = Instant::now();
        let mut pacer = ListPacer::new(3, WINDOW);
        for i in 0..3 {
            let at = t0 + Duration::from_secs(i);
            assert_eq!(pacer.next_allowed(at), at, "call {i} is within the burst");
            pacer.record(at);
        }
        let now = t0 + Duration::from_secs(5);
        assert_eq!(
            pacer.next_allowed(now),
            t0 + WINDOW,
            "4th waits for the 1st"
        );
        pacer.record(t0 + WINDOW);
        assert_eq!(
            pacer.next_allowed(t0 + WINDOW),
            t0 + WINDOW + Duration::from_secs(1),
            "5th waits for the 2nd"
        );
        // Never more than 3 in any window of 60 s.
        pacer.record(t0 + WINDOW + Duration::from_secs(1));
        let later = t0 + Duration::from_secs(200);
        assert_eq!(pacer.next_allowed(later), later, "an idle window is empty");
    }

    #[test]
    fn zero_means_unpaced() {
        let t0 = Instant::now();
        let mut pacer = ListPacer::new(0, WINDOW);
        for _ in 0..100 {
            pacer.record(t0);
        }
        assert_eq!(pacer.next_allowed(t0), t0);
    }
}
