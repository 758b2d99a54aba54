//! The whole retry and permanence policy, in one function: what happened to a job →
//! what is still owed. Used by every entry point (HTTP, SQS, resync, direct calls);
//! none of them decides on its own whether something is retried.
//!
//! | outcome | plan |
//! | --- | --- |
//! | every owed target synced (or skipped by its `orgs` filter) | `Done` |
//! | the LMS does not know the course; the run cannot be a Richie payload (CCX key, bad date) | `Rejected` |
//! | Richie refused the run (DRF 400) at a target, no other target failed | `Rejected` |
//! | any target failed (5xx, 429, timeout, connection, 401/403, wrong URL, a proxy's non-DRF 400, a per-link answer without our link) | `Retry` the same job owing **only the failed targets**, with the same snapshot |
//! | reading the LMS failed (or refused our credentials) | `Retry` the job as it was (every owed target) |
//!
//! A retried job never carries older data than its first attempt: the snapshot travels
//! with it, and where there was none the LMS is read again at retry time. A target
//! that rejected the run is not retried even when another one failed.

use std::collections::BTreeSet;

use crate::job::Job;
use crate::sync::{CourseOutcome, TargetOutcome};

/// What to do next with a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Nothing is owed any more.
    Done,
    /// Refused for good (reported and logged); never retried.
    Rejected,
    /// Still owed: retry this job (only the targets that failed).
    Retry(Job),
}

impl Plan {
    pub fn is_retry(&self) -> bool {
        matches!(self, Plan::Retry(_))
    }
}

/// The decision.
pub fn decide(job: &Job, outcome: &CourseOutcome) -> Plan {
    match outcome {
        CourseOutcome::NotFound | CourseOutcome::Invalid(_) => Plan::Rejected,
        CourseOutcome::LmsFailed(_) => Plan::Retry(job.clone()),
        CourseOutcome::Delivered(targets) => {
            let failed: BTreeSet<String> = targets
                .iter()
                .filter(|(_, o)| matches!(o, TargetOutcome::Failed(_)))
                .map(|(name, _)| name.clone())
                .collect();
            if !failed.is_empty() {
                Plan::Retry(job.owing(failed))
            } else if targets
                .iter()
                .any(|(_, o)| matches!(o, TargetOutcome::Rejected(_)))
            {
                Plan::Rejected
            } else {
                Plan::Done
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::Owed;
    use crate::payload::CatalogSnapshot;
    use edx_hooks_shared::openedx::LmsError;
    use edx_hooks_shared::richie::RichieError;

    fn job() -> Job {
        Job {
            course_id: "course-v1:a+b+c".into(),
            targets: Owed::All,
            snapshot: Some(CatalogSnapshot {
                start: Some("2030-01-01 00:00:00+00:00".into()),
                ..CatalogSnapshot::default()
            }),
        }
    }

    fn delivered(results: &[(&str, TargetOutcome)]) -> CourseOutcome {
        CourseOutcome::Delivered(
            results
                .iter()
                .map(|(n, o)| ((*n).to_owned(), o.clone()))
                .collect(),
        )
    }

    fn down() -> TargetOutcome {
        TargetOutcome::Failed(RichieError::Unavailable {
            status: 503,
            attempts: 2,
        })
    }

    #[test]
    fn done_when_every_owed_target_synced_or_skipped() {
        let outcome = delivered(&[("a", TargetOutcome::Synced), ("b", TargetOutcome::Skipped)]);
        assert_eq!(decide(&job(), &outcome), Plan::Done);
        assert_eq!(decide(&job(), &delivered(&[])), Plan::Done);
    }

    #[test]
    fn a_retry_owes_only_the_failed_targets_and_keeps_the_snapshot() {
        let outcome = delivered(&[
            ("a", TargetOutcome::Synced),
            ("b", down()),
            ("c", TargetOutcome::Rejected("Unknown course".into())),
            (
                "d",
                TargetOutcome::Failed(RichieError::Unauthorized {
                    status: 401,
                    message: "Invalid authentication.".into(),
                }),
            ),
        ]);
        let Plan::Retry(retry) = decide(&job(), &outcome) else {
            panic!()
        };
        assert_eq!(
            retry.targets,
            Owed::Only(BTreeSet::from(["b".to_owned(), "d".to_owned()]))
        );
        assert_eq!(
            retry.snapshot,
            job().snapshot,
            "never older data than the first attempt"
        );
        assert_eq!(retry.course_id, job().course_id);
    }

    #[test]
    fn permanent_refusals_are_rejected() {
        assert_eq!(decide(&job(), &CourseOutcome::NotFound), Plan::Rejected);
        assert_eq!(
            decide(&job(), &CourseOutcome::Invalid("ccx".into())),
            Plan::Rejected
        );
        let outcome = delivered(&[
            ("a", TargetOutcome::Synced),
            ("b", TargetOutcome::Rejected("start: bad".into())),
        ]);
        assert_eq!(decide(&job(), &outcome), Plan::Rejected);
    }

    #[test]
    fn an_lms_failure_retries_the_job_as_it_was() {
        let narrowed = job().owing(BTreeSet::from(["b".to_owned()]));
        let failed = CourseOutcome::LmsFailed(LmsError::Timeout {
            operation: "course_detail",
            attempts: 3,
        });
        assert_eq!(decide(&narrowed, &failed), Plan::Retry(narrowed.clone()));
        assert!(decide(&job(), &failed).is_retry());
    }
}
