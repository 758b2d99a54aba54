//! Enrollment: `POST /api/enrollment/v1/enrollment` (`openedx/core/djangoapps/enrollments/
//! views.py` `EnrollmentListView.post` → `api.add_enrollment` / `api.update_enrollment` →
//! `data.create_course_enrollment` → `CourseEnrollment.enroll(check_access=True)`), and
//! one enrollment read back: `GET /api/enrollment/v1/enrollment/{username},{course_id}`
//! (`EnrollmentView.get`; empty 200 when there is none). Both count in the service
//! user's 120/min enrollment bucket.
//!
//! What the real LMS does (openedx-platform master 2025-11, global staff caller,
//! `is_active: true`, `force_enrollment: true`):
//! * no `mode`: a new enrollment gets the course default (`audit`, else `honor`); an
//!   existing active one is answered unchanged (its mode is kept); an inactive one is
//!   reactivated with its mode;
//! * a `mode` different from an existing active enrollment's **changes** it
//!   (`update_enrollment`): so an explicit mode is only sent after reading the
//!   enrollment back;
//! * a course offering neither `audit` nor `honor`, without `mode`: 400 "The [None]
//!   course mode is expired or otherwise unavailable …" (nothing written);
//! * a full course: 400 "An error occurred while creating the new course enrollment …"
//!   — also for a learner who is already enrolled (`enroll` checks capacity before
//!   "already enrolled"; `force_enrollment` only skips the enrollment window).

use serde_json::json;

use super::transport::{encode_path, invalid, Call};
use super::{EnrollmentOutcome, LmsError, ModeChoice, OpenEdxClient};
use crate::enrollment_answers::{
    classify_enroll_refusal, is_embargo_refusal, parse_enrollment_lookup, EnrollRefusal,
    EnrollmentState,
};
use crate::openedx_parse::parse_enrollment_active;

impl OpenEdxClient {
    pub(super) async fn enroll(
        &self,
        username: &str,
        course_id: &str,
        mode: &ModeChoice,
        change_existing: bool,
    ) -> Result<EnrollmentOutcome, LmsError> {
        if let ModeChoice::Explicit(wanted) = mode {
            if let Some(existing) = self.enrollment(username, course_id).await? {
                if existing.is_active && (!change_existing || existing.mode == *wanted) {
                    return Ok(EnrollmentOutcome::Active);
                }
            }
        }
        const CALL: Call = Call::new("enroll");
        let url = self.transport.url("/api/enrollment/v1/enrollment");
        let mut body = json!({
            "user": username,
            "course_details": {"course_id": course_id},
            // Reactivates an inactive enrollment (staff callers go through
            // api.update_enrollment when is_active differs).
            "is_active": true,
        });
        if let ModeChoice::Explicit(wanted) = mode {
            body["mode"] = json!(wanted);
        }
        if self.transport.config().force_enrollment {
            body["force_enrollment"] = json!(true);
        }
        let reply = self
            .transport
            .send(CALL, |http| http.post(&url).json(&body))
            .await?;
        match reply.code() {
            200 | 201 => {
                match parse_enrollment_active(&reply.body).map_err(invalid(CALL.operation))? {
                    true => Ok(EnrollmentOutcome::Active),
                    false => Err(LmsError::Rejected {
                        operation: CALL.operation,
                        status: reply.code(),
                        message: "enrollment is still inactive".into(),
                    }),
                }
            }
            400 => match classify_enroll_refusal(&reply.body) {
                // Full course, or a refusal we cannot tell apart from it: success if
                // the learner is in fact enrolled (a replay), else a refusal.
                EnrollRefusal::Generic => match self.enrollment(username, course_id).await? {
                    Some(EnrollmentState {
                        is_active: true, ..
                    }) => Ok(EnrollmentOutcome::Active),
                    _ => Err(LmsError::EnrollmentRefused {
                        operation: CALL.operation,
                    }),
                },
                EnrollRefusal::ModeUnavailable { .. } | EnrollRefusal::Other => {
                    Err(LmsError::Rejected {
                        operation: CALL.operation,
                        status: 400,
                        message: reply.message(),
                    })
                }
            },
            403 if is_embargo_refusal(&reply.body) => Err(LmsError::Embargoed {
                operation: CALL.operation,
            }),
            // 404 with an empty body is how the view refuses non-staff callers
            // acting for another user.
            status @ (403 | 404) => Err(LmsError::Forbidden {
                operation: CALL.operation,
                status,
            }),
            406 => Err(LmsError::Rejected {
                operation: CALL.operation,
                status: 406,
                message: reply.message(),
            }),
            status => Err(LmsError::UnexpectedStatus {
                operation: CALL.operation,
                status,
            }),
        }
    }

    /// The enrollment of `username` in `course_id`, if any.
    pub(super) async fn enrollment(
        &self,
        username: &str,
        course_id: &str,
    ) -> Result<Option<EnrollmentState>, LmsError> {
        const CALL: Call = Call::new("read_enrollment");
        let url = self.transport.url(&format!(
            "/api/enrollment/v1/enrollment/{},{}",
            encode_path(username),
            encode_path(course_id)
        ));
        let reply = self.transport.send(CALL, |http| http.get(&url)).await?;
        match reply.code() {
            200 => parse_enrollment_lookup(&reply.body).map_err(invalid(CALL.operation)),
            _ => Err(reply.unexpected(CALL.operation)),
        }
    }
}
