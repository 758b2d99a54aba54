//! The unit of work: one course, the Richie targets still owed, and the published
//! state the first attempt saw (the event snapshot, when there is one). Pure, no I/O.
//!
//! Every entry point (HTTP, SQS, resync, direct invocation) turns what it received into
//! jobs; `plan::decide` turns what happened to a job into what is still owed.
//!
//! Queue message (one per target, so a retry goes only to the targets that failed and
//! carries the first attempt's snapshot, never older data):
//!
//! ```json
//! {"course_id": "course-v1:ORG+CODE+RUN", "target": "main",
//!  "snapshot": {"start": "2030-01-01 00:00:00+00:00", "end": null,
//!               "enrollment_start": null, "enrollment_end": null, "hidden": false}}
//! ```
//!
//! `target` absent means every configured target; `snapshot` absent means the LMS's
//! values. So the bodies of earlier releases (`{"course_id": "…"}`), which may still
//! sit in the queue or its dead-letter queue during a deploy, are jobs too. Any other
//! body the event parser accepts (an openedx-webhooks event replayed into the queue) is
//! a job for every target from the LMS's values: it was never authenticated.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::event::{parse_course_event, EventError, Inbound, SyncRequest};
use crate::payload::CatalogSnapshot;

/// Which targets a job still owes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owed {
    /// Every configured target (whose `orgs` filter accepts the course).
    All,
    /// These target names only.
    Only(BTreeSet<String>),
}

impl Owed {
    pub fn includes(&self, target: &str) -> bool {
        match self {
            Owed::All => true,
            Owed::Only(names) => names.contains(target),
        }
    }
}

/// One course to deliver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub course_id: String,
    pub targets: Owed,
    /// The published state a (signed) event carried; `None`: the LMS's values.
    pub snapshot: Option<CatalogSnapshot>,
}

/// The queue message of a job for one target (or all when `target` is `None`).
#[derive(Debug, Serialize, Deserialize)]
struct Message {
    course_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    target: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    snapshot: Option<CatalogSnapshot>,
}

impl Job {
    /// Every target, the LMS's values.
    pub fn course(course_id: impl Into<String>) -> Self {
        Job {
            course_id: course_id.into(),
            targets: Owed::All,
            snapshot: None,
        }
    }

    /// The job of a parsed event (already reduced to what its authentication allows).
    pub fn from_request(request: SyncRequest) -> Self {
        Job {
            course_id: request.course_id,
            targets: Owed::All,
            snapshot: request.snapshot,
        }
    }

    /// The same job owing only `targets`.
    pub fn owing(&self, targets: BTreeSet<String>) -> Self {
        Job {
            course_id: self.course_id.clone(),
            targets: Owed::Only(targets),
            snapshot: self.snapshot.clone(),
        }
    }

    /// One queue body per owed target; `Owed::All` becomes one body per name in
    /// `all_targets` (the configured targets), or one target-less body when none is
    /// known (the targets document itself was unavailable).
    pub fn queue_bodies(&self, all_targets: &[&str]) -> Vec<String> {
        let names: Vec<Option<String>> = match &self.targets {
            Owed::Only(names) => names.iter().cloned().map(Some).collect(),
            Owed::All if all_targets.is_empty() => vec![None],
            Owed::All => all_targets.iter().map(|n| Some((*n).to_owned())).collect(),
        };
        names
            .into_iter()
            .map(|target| {
                let message = Message {
                    course_id: self.course_id.clone(),
                    target,
                    snapshot: self.snapshot.clone(),
                };
                // A struct of strings, options and bools: serialising cannot fail.
                serde_json::to_string(&message).unwrap_or_default()
            })
            .collect()
    }

    /// Read a queue body: a job message (this release's or an earlier one's
    /// `{"course_id"}`), or any event body, which is a job for every target from the
    /// LMS's values. `Ok(None)`: a well-formed event of another type.
    pub fn from_queue_body(body: &[u8]) -> Result<Option<Job>, EventError> {
        let value: Value =
            serde_json::from_slice(body).map_err(|e| EventError::NotJson(e.to_string()))?;
        let is_message = value.as_object().is_some_and(|map| {
            map.contains_key("course_id")
                && map
                    .keys()
                    .all(|k| matches!(k.as_str(), "course_id" | "target" | "snapshot"))
        });
        if is_message {
            // The course id is checked like an event's (trimmed, a plausible key).
            let Inbound::Course(request) = crate::event::parse_course_value(&value)? else {
                return Err(EventError::Unrecognized);
            };
            let message: Message =
                serde_json::from_value(value).map_err(|_| EventError::InvalidField {
                    field: "snapshot",
                    reason: "target must be a string and snapshot an object of dates",
                })?;
            let targets = match message.target {
                Some(name) if name.trim().is_empty() => {
                    return Err(EventError::InvalidField {
                        field: "target",
                        reason: "must not be empty",
                    })
                }
                Some(name) => Owed::Only(BTreeSet::from([name])),
                None => Owed::All,
            };
            return Ok(Some(Job {
                course_id: request.course_id,
                targets,
                snapshot: message.snapshot,
            }));
        }
        match parse_course_event(body)? {
            Inbound::Course(request) | Inbound::Enrollment(request) => {
                Ok(Some(Job::course(request.course_id)))
            }
            Inbound::Ignored { .. } => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot() -> CatalogSnapshot {
        CatalogSnapshot {
            start: Some("2030-01-01 00:00:00+00:00".into()),
            end: None,
            enrollment_start: None,
            enrollment_end: Some("2030-02-01T00:00:00Z".into()),
            hidden: Some(true),
        }
    }

    #[test]
    fn a_job_is_queued_once_per_owed_target_with_its_snapshot() {
        let job = Job {
            course_id: "course-v1:a+b+c".into(),
            targets: Owed::Only(BTreeSet::from(["b".to_owned(), "a".to_owned()])),
            snapshot: Some(snapshot()),
        };
        let bodies = job.queue_bodies(&["a", "b", "c"]);
        assert_eq!(bodies.len(), 2);
        let first: Value = serde_json::from_str(&bodies[0]).unwrap();
        assert_eq!(first["target"], "a");
        assert_eq!(first["snapshot"]["start"], "2030-01-01 00:00:00+00:00");
        assert_eq!(first["snapshot"]["end"], Value::Null);
        for (body, name) in bodies.iter().zip(["a", "b"]) {
            let back = Job::from_queue_body(body.as_bytes()).unwrap().unwrap();
            assert_eq!(back, job.owing(BTreeSet::from([name.to_owned()])));
        }
    }

    #[test]
    fn owing_every_target_expands_to_the_configured_names() {
        let job = Job::course("a/b/c");
        let bodies = job.queue_bodies(&["x", "y"]);
        assert_eq!(
            bodies,
            [
                r#"{"course_id":"a/b/c","target":"x"}"#,
                r#"{"course_id":"a/b/c","target":"y"}"#
            ]
        );
        assert_eq!(job.queue_bodies(&[]), [r#"{"course_id":"a/b/c"}"#]);
    }

    #[test]
    fn earlier_releases_bodies_and_events_are_jobs_for_every_target() {
        assert_eq!(
            Job::from_queue_body(br#"{"course_id": " course-v1:a+b+c "}"#).unwrap(),
            Some(Job::course("course-v1:a+b+c"))
        );
        // A replayed event: never authenticated, so its snapshot is not believed.
        let event = include_bytes!("../../../events/course-sync/openedx-webhooks-body.json");
        assert_eq!(
            Job::from_queue_body(event).unwrap(),
            Some(Job::course("course-v1:edX+DemoX+Demo_Course"))
        );
        assert_eq!(
            Job::from_queue_body(br#"{"course_key": "a/b/c", "x": 1}"#).unwrap(),
            Some(Job::course("a/b/c"))
        );
        assert_eq!(
            Job::from_queue_body(br#"{"x": {}, "event_metadata": {"event_type": "other"}}"#)
                .unwrap(),
            None
        );
    }

    #[test]
    fn malformed_messages_are_errors() {
        for body in [
            &br#"{"course_id": "a/b/c", "target": 5}"#[..],
            br#"{"course_id": "a/b/c", "target": " "}"#,
            br#"{"course_id": "a/b/c", "snapshot": {"start": 1}}"#,
            br#"{"course_id": "a b", "target": "x"}"#,
            br#"{"course_id": 1}"#,
            b"not json",
            b"{}",
        ] {
            assert!(Job::from_queue_body(body).is_err(), "{body:?}");
        }
    }
}
