//! Bulk enrollment, one call for every course of a request:
//! `POST /api/bulk_enroll/v1/bulk_enroll` (`lms/djangoapps/bulk_enroll/views.py`
//! `BulkEnrollView`: routed only with `FEATURES['ENABLE_BULK_ENROLLMENT_VIEW']`, global
//! staff (`IsStaff`), one call in the 120/min enrollment bucket). Per course it runs the
//! instructor dashboard's `enroll_email`: an active account is enrolled with
//! `CourseEnrollment.enroll(check_access=False)` — closed, invitation-only and **full**
//! courses included, an existing enrollment keeps its mode — and any other email gets an
//! allowance whose `auto_enroll` is set to what we send (always `true`). It does not
//! check that the course exists (it enrolls into any well-formed key): callers check
//! existence first.

use serde_json::json;

use super::transport::{invalid, Call};
use super::{LmsError, OpenEdxClient};
use crate::enrollment_answers::{parse_bulk_enroll, BulkCourseResult};
use crate::openedx_parse::route_missing;

/// What one bulk call did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BulkApplied {
    /// Every course: an active enrollment.
    Enrolled,
    /// Every course: an auto-enroll allowance.
    Allowed,
}

impl OpenEdxClient {
    pub(super) async fn bulk(
        &self,
        email: &str,
        course_ids: &[&str],
        email_learners: bool,
    ) -> Result<BulkApplied, LmsError> {
        // Retried like the other writes: enrolling or allowing twice is "already done".
        const CALL: Call = Call::new("bulk_enroll");
        let url = self.transport.url("/api/bulk_enroll/v1/bulk_enroll");
        let body = json!({
            "identifiers": email,
            "courses": course_ids.join(","),
            "action": "enroll",
            "auto_enroll": true,
            "email_students": email_learners,
        });
        let reply = self
            .transport
            .send(CALL, |http| http.post(&url).json(&body))
            .await?;
        match reply.code() {
            200 => {}
            404 if route_missing(404, &reply.body) => {
                return Err(LmsError::Rejected {
                    operation: CALL.operation,
                    status: 404,
                    message: "the LMS does not serve the bulk enrollment view: enable FEATURES['ENABLE_BULK_ENROLLMENT_VIEW'] or set OPENEDX_APPLY_API=rest".into(),
                })
            }
            400 => {
                return Err(LmsError::Rejected {
                    operation: CALL.operation,
                    status: 400,
                    message: "bulk enrollment request refused".into(),
                })
            }
            _ => return Err(reply.unexpected(CALL.operation)),
        }
        let results =
            parse_bulk_enroll(&reply.body, course_ids).map_err(invalid(CALL.operation))?;
        let mut enrolled = 0;
        for (course_id, result) in course_ids.iter().zip(&results) {
            match result {
                BulkCourseResult::Enrolled => enrolled += 1,
                BulkCourseResult::Allowed => {}
                BulkCourseResult::Failed(why) => {
                    return Err(LmsError::Rejected {
                        operation: CALL.operation,
                        status: 200,
                        message: format!("{course_id}: {why}"),
                    })
                }
            }
        }
        // Mixed answers (an account registered between two courses of one call) are
        // an enrollment: every course is applied either way.
        Ok(match enrolled {
            0 => BulkApplied::Allowed,
            _ => BulkApplied::Enrolled,
        })
    }
}
