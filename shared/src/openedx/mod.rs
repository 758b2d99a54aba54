//! The Open edX LMS, as the rest of the code sees it.
//!
//! [`EnrollmentLms`] and [`CatalogLms`] are the ports; [`rest::OpenEdxClient`] is the
//! adapter that speaks edx-platform's REST APIs. Tests swap in the LMS emulator
//! (over HTTP) or in-memory fakes of the traits.

mod accounts;
mod allowances;
mod bulk;
pub mod catalog;
pub mod config;
mod courses;
pub mod deadline;
mod enrollments;
pub mod rest;
pub mod retry;
pub mod transport;

use std::future::Future;

pub use bulk::BulkApplied;
pub use config::{AllowanceApi, OpenEdxConfig};
pub use rest::OpenEdxClient;
// Defined with their parsers, in the pure (non-adapter) half of the crate.
pub use crate::enrollment_mode::{ModeChoice, ModePolicy};
pub use crate::openedx_parse::{CourseRun, LmsUser};

/// What ensuring an enrollment allowance did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AllowanceOutcome {
    Created,
    AlreadyPresent,
    /// It existed with `auto_enroll=false` and was switched on, as the plugin does.
    AutoEnrollEnabled,
}

/// What ensuring an enrollment did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnrollmentOutcome {
    /// The LMS answered with an active enrollment (new, existing or reactivated).
    Active,
}

/// One page of course ids from the course list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoursePage {
    pub course_ids: Vec<String>,
    pub next_page: Option<u32>,
    pub total: Option<u64>,
}

/// Why an LMS call did not give an answer we can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LmsError {
    /// 429/5xx that persisted through every retry.
    #[error("{operation}: LMS unavailable (HTTP {status}) after {attempts} attempt(s)")]
    Unavailable {
        operation: &'static str,
        status: u16,
        attempts: u32,
    },
    #[error("{operation}: LMS did not answer in time after {attempts} attempt(s)")]
    Timeout {
        operation: &'static str,
        attempts: u32,
    },
    #[error("{operation}: cannot reach the LMS after {attempts} attempt(s): {detail}")]
    Connection {
        operation: &'static str,
        attempts: u32,
        detail: String,
    },
    /// The token endpoint refused our client credentials, or a fresh token was
    /// refused: a configuration problem, not a transient one.
    #[error("{operation}: LMS refused our credentials (HTTP {status})")]
    Unauthorized {
        operation: &'static str,
        status: u16,
    },
    /// The service user lacks permission (not staff, restricted application).
    #[error("{operation}: service user is not allowed (HTTP {status}); it must be global staff")]
    Forbidden {
        operation: &'static str,
        status: u16,
    },
    /// The LMS rejected a well-formed request (e.g. enrollment closed).
    #[error("{operation}: LMS rejected the request (HTTP {status}): {message}")]
    Rejected {
        operation: &'static str,
        status: u16,
        message: String,
    },
    #[error("{operation}: unexpected LMS answer (HTTP {status})")]
    UnexpectedStatus {
        operation: &'static str,
        status: u16,
    },
    #[error("{operation}: LMS answer could not be parsed: {detail}")]
    InvalidResponse {
        operation: &'static str,
        detail: String,
    },
    #[error("LMS client credentials unavailable: {0}")]
    Credentials(String),
    /// 429 that the request's deadline does not leave time to wait out.
    #[error("{operation}: LMS throttled the service user (Retry-After {retry_after_secs:?} s)")]
    Throttled {
        operation: &'static str,
        retry_after_secs: Option<u64>,
    },
    /// Too little time left before the request's deadline to make (or retry) the call.
    #[error("{operation}: no time left before the request's deadline")]
    DeadlineExceeded { operation: &'static str },
    /// The LMS refused to create the enrollment and the learner is not enrolled: the
    /// course is full (the REST API cannot enroll past capacity, the plugin could).
    #[error("{operation}: LMS refused the enrollment (course full, or closed to this caller)")]
    EnrollmentRefused { operation: &'static str },
    /// The embargo refused the learner's country for this course.
    #[error("{operation}: the course is embargoed for this learner")]
    Embargoed { operation: &'static str },
}

impl LmsError {
    /// A short stable label for metrics and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            LmsError::Unavailable { .. } => "unavailable",
            LmsError::Timeout { .. } => "timeout",
            LmsError::Connection { .. } => "connection",
            LmsError::Unauthorized { .. } => "unauthorized",
            LmsError::Forbidden { .. } => "forbidden",
            LmsError::Rejected { .. } => "rejected",
            LmsError::UnexpectedStatus { .. } => "unexpected_status",
            LmsError::InvalidResponse { .. } => "invalid_response",
            LmsError::Credentials(_) => "credentials",
            LmsError::Throttled { .. } => "throttled",
            LmsError::DeadlineExceeded { .. } => "deadline",
            LmsError::EnrollmentRefused { .. } => "enrollment_refused",
            LmsError::Embargoed { .. } => "embargoed",
        }
    }

    /// Will the same request fail the same way until someone changes the LMS's
    /// configuration or data? (Operators alarm on these separately from outages.)
    pub fn is_permanent(&self) -> bool {
        matches!(
            self,
            LmsError::Unauthorized { .. }
                | LmsError::Forbidden { .. }
                | LmsError::EnrollmentRefused { .. }
                | LmsError::Embargoed { .. }
                | LmsError::Rejected { .. }
                | LmsError::Credentials(_)
        )
    }
}

/// What the enrollment webhook needs from the LMS.
pub trait EnrollmentLms: Send + Sync {
    /// Does a course overview exist for this (syntactically valid) course key?
    fn course_exists(&self, course_id: &str)
        -> impl Future<Output = Result<bool, LmsError>> + Send;
    /// Which of `course_ids` one batched call shows to exist: a hint that saves
    /// the per-course checks, never an authority. Ids it does not return are
    /// checked with [`EnrollmentLms::course_exists`]; a failed batch returns
    /// nothing. The default knows no batch call.
    fn courses_known_to_exist(
        &self,
        course_ids: &[&str],
    ) -> impl Future<Output = Vec<String>> + Send {
        let _ = course_ids;
        async { Vec::new() }
    }
    /// The account registered with this email, if any.
    fn find_user_by_email(
        &self,
        email: &str,
    ) -> impl Future<Output = Result<Option<LmsUser>, LmsError>> + Send;
    /// The mode slugs the course offers (empty: unknown course or no mode rows).
    fn course_modes(
        &self,
        course_id: &str,
    ) -> impl Future<Output = Result<Vec<String>, LmsError>> + Send;
    /// Make sure the user has an active enrollment (idempotent). An existing active
    /// enrollment keeps its mode unless `change_existing` (and the mode differs).
    fn ensure_enrollment(
        &self,
        username: &str,
        course_id: &str,
        mode: &ModeChoice,
        change_existing: bool,
    ) -> impl Future<Output = Result<EnrollmentOutcome, LmsError>> + Send;
    /// Make sure an enrollment allowance with `auto_enroll=true` exists (idempotent).
    fn ensure_allowance(
        &self,
        email: &str,
        course_id: &str,
    ) -> impl Future<Output = Result<AllowanceOutcome, LmsError>> + Send;
    /// Enroll the email's active account in every course, or allow it (auto-enroll)
    /// where there is none, in one call with the plugin's `check_access=False`
    /// semantics (full, closed and invitation-only courses included). Idempotent.
    /// The default knows no such call.
    fn bulk_enroll(
        &self,
        email: &str,
        course_ids: &[&str],
        email_learners: bool,
    ) -> impl Future<Output = Result<BulkApplied, LmsError>> + Send {
        let _ = (email, course_ids, email_learners);
        async {
            Err(LmsError::Rejected {
                operation: "bulk_enroll",
                status: 0,
                message: "this LMS client has no bulk enrollment".into(),
            })
        }
    }
}

/// What the Richie forwarder needs from the LMS.
pub trait CatalogLms: Send + Sync {
    /// The course run, or `None` if the LMS does not know it.
    fn course_run(
        &self,
        course_id: &str,
    ) -> impl Future<Output = Result<Option<CourseRun>, LmsError>> + Send;
    /// One page of the course list (1-based page numbers).
    fn list_courses(
        &self,
        page: u32,
        page_size: u32,
    ) -> impl Future<Output = Result<CoursePage, LmsError>> + Send;
}
