//! JSON summaries of what happened — the bodies of HTTP answers and the results of
//! direct and scheduled invocations — and the short labels used in metrics. Target
//! names and Richie's messages only: no secret, no token.

use serde_json::{json, Map, Value};

use crate::plan::Plan;
use crate::sync::{CourseOutcome, TargetOutcome};

/// A short machine-friendly status of one course (`Course.<label>` metrics, `status`).
pub fn label(outcome: &CourseOutcome, plan: &Plan) -> &'static str {
    match outcome {
        CourseOutcome::NotFound => "not_found",
        CourseOutcome::Invalid(_) => "invalid",
        CourseOutcome::LmsFailed(_) => "lms_failed",
        CourseOutcome::Delivered(_) => match plan {
            Plan::Done => "synced",
            Plan::Rejected => "rejected",
            Plan::Retry(_) => "failed",
        },
    }
}

/// `{"status": …, "targets": {name: "synced" | "skipped" | {"rejected": m} | {"failed": kind}}}`
/// (or `reason` instead of `targets` when nothing was delivered).
pub fn course(outcome: &CourseOutcome, plan: &Plan) -> Value {
    let status = label(outcome, plan);
    match outcome {
        CourseOutcome::Delivered(targets) => {
            let map: Map<String, Value> = targets
                .iter()
                .map(|(name, o)| {
                    let v = match o {
                        TargetOutcome::Synced => json!("synced"),
                        TargetOutcome::Skipped => json!("skipped"),
                        TargetOutcome::Rejected(m) => json!({"rejected": m}),
                        TargetOutcome::Failed(e) => json!({"failed": e.kind()}),
                    };
                    (name.clone(), v)
                })
                .collect();
            json!({"status": status, "targets": map})
        }
        CourseOutcome::Invalid(reason) => json!({"status": status, "reason": reason}),
        CourseOutcome::LmsFailed(e) => json!({"status": status, "reason": e.kind()}),
        CourseOutcome::NotFound => json!({"status": status}),
    }
}

/// One permanent refusal in a resync summary.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Refusal {
    pub course_id: String,
    /// The target that refused, `*` when the run was refused before any target.
    pub target: String,
    pub message: String,
}

impl Refusal {
    /// Every refusal an outcome holds.
    pub fn all_of(course_id: &str, outcome: &CourseOutcome) -> Vec<Refusal> {
        let refusal = |target: &str, message: &str| Refusal {
            course_id: course_id.to_owned(),
            target: target.to_owned(),
            message: message.to_owned(),
        };
        match outcome {
            CourseOutcome::Invalid(reason) => vec![refusal("*", reason)],
            CourseOutcome::NotFound => vec![refusal("*", "the LMS does not know this course")],
            CourseOutcome::LmsFailed(_) => Vec::new(),
            CourseOutcome::Delivered(targets) => targets
                .iter()
                .filter_map(|(name, o)| match o {
                    TargetOutcome::Rejected(message) => Some(refusal(name, message)),
                    _ => None,
                })
                .collect(),
        }
    }

    pub fn to_json(&self) -> Value {
        json!({"course_id": self.course_id, "target": self.target, "message": self.message})
    }
}
