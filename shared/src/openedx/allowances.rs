//! Enrollment allowances (an unknown email enrolls at registration):
//! `POST/GET/DELETE /api/enrollment/v1/enrollment_allowed/` (`enrollments/views.py`
//! `EnrollmentAllowedView`, Quince+, still routed on master), or the v2 view-set action
//! `/api/enrollment/v2/enrollment/enrollment_allowed/` (master, ADR 0028). Both count in
//! the service user's 120/min enrollment bucket. Neither checks the course.

use std::sync::atomic::Ordering;

use serde_json::json;

use super::transport::{invalid, Call};
use super::{AllowanceApi, AllowanceOutcome, LmsError, OpenEdxClient};
use crate::openedx_parse::parse_allowance_auto_enroll;

/// `EnrollmentAllowedView` (Quince → master).
pub const LEGACY_ALLOWANCE_PATH: &str = "/api/enrollment/v1/enrollment_allowed/";
/// The `EnrollmentViewSet` action on master (API v2).
pub const VIEWSET_ALLOWANCE_PATH: &str = "/api/enrollment/v2/enrollment/enrollment_allowed/";

const READ_ALLOWANCE: Call = Call::new("read_allowance");

pub(super) const MODE_UNRESOLVED: u8 = 0;
pub(super) const MODE_LEGACY: u8 = 1;
pub(super) const MODE_VIEWSET: u8 = 2;

impl OpenEdxClient {
    fn allowance_path(&self) -> &'static str {
        match self.allowance_mode.load(Ordering::Relaxed) {
            MODE_VIEWSET => VIEWSET_ALLOWANCE_PATH,
            _ => LEGACY_ALLOWANCE_PATH,
        }
    }

    pub(super) async fn allow(
        &self,
        email: &str,
        course_id: &str,
    ) -> Result<AllowanceOutcome, LmsError> {
        let path = self.allowance_path();
        if let Some(outcome) = self.allowance_on(path, email, course_id).await? {
            if self.allowance_mode.load(Ordering::Relaxed) == MODE_UNRESOLVED {
                self.allowance_mode.store(MODE_LEGACY, Ordering::Relaxed);
            }
            return Ok(outcome);
        }
        // 404: the endpoint is missing on this release.
        if self.transport.config().allowance_api == AllowanceApi::Auto
            && path == LEGACY_ALLOWANCE_PATH
        {
            tracing::info!(
                "legacy enrollment_allowed endpoint not found; switching to the view-set endpoint"
            );
            self.allowance_mode.store(MODE_VIEWSET, Ordering::Relaxed);
            if let Some(outcome) = self
                .allowance_on(VIEWSET_ALLOWANCE_PATH, email, course_id)
                .await?
            {
                return Ok(outcome);
            }
        }
        Err(LmsError::UnexpectedStatus {
            operation: "create_allowance",
            status: 404,
        })
    }

    /// Create the allowance on `path`; `None` when the endpoint does not exist there.
    async fn allowance_on(
        &self,
        path: &'static str,
        email: &str,
        course_id: &str,
    ) -> Result<Option<AllowanceOutcome>, LmsError> {
        const CALL: Call = Call::new("create_allowance");
        let url = self.transport.url(path);
        let body = json!({"email": email, "course_id": course_id, "auto_enroll": true});
        let reply = self
            .transport
            .send(CALL, |http| http.post(&url).json(&body))
            .await?;
        match reply.code() {
            200 | 201 => Ok(Some(AllowanceOutcome::Created)),
            409 => self
                .ensure_auto_enroll(path, email, course_id)
                .await
                .map(Some),
            // The v2 view set validates with DRF's UniqueTogetherValidator first,
            // so a duplicate is a 400 there rather than a 409.
            400 if path == VIEWSET_ALLOWANCE_PATH
                && reply.body_contains("must make a unique set") =>
            {
                self.ensure_auto_enroll(path, email, course_id)
                    .await
                    .map(Some)
            }
            404 => Ok(None),
            403 => Err(LmsError::Forbidden {
                operation: CALL.operation,
                status: 403,
            }),
            400 => Err(LmsError::Rejected {
                operation: CALL.operation,
                status: 400,
                message: reply.message(),
            }),
            status => Err(LmsError::UnexpectedStatus {
                operation: CALL.operation,
                status,
            }),
        }
    }

    /// `auto_enroll` of the learner's allowance for `course_id` (`None`: no such row),
    /// read from the list `GET path?email=` answers.
    async fn read_auto_enroll(
        &self,
        url: &str,
        email: &str,
        course_id: &str,
    ) -> Result<Option<bool>, LmsError> {
        let reply = self
            .transport
            .send(READ_ALLOWANCE, |http| {
                http.get(url).query(&[("email", email)])
            })
            .await?;
        if reply.code() != 200 {
            return Err(reply.unexpected(READ_ALLOWANCE.operation));
        }
        parse_allowance_auto_enroll(&reply.body, course_id)
            .map_err(invalid(READ_ALLOWANCE.operation))
    }

    /// The allowance exists: make sure `auto_enroll` is on, as the plugin does
    /// (`get_or_create` then `auto_enroll = True; save()`). The REST API cannot update
    /// a row, so a row with `auto_enroll=false` is replaced; if the new row cannot be
    /// created, the old one is put back, so the learner is never left without one.
    async fn ensure_auto_enroll(
        &self,
        path: &'static str,
        email: &str,
        course_id: &str,
    ) -> Result<AllowanceOutcome, LmsError> {
        let url = self.transport.url(path);
        match self.read_auto_enroll(&url, email, course_id).await? {
            Some(true) => return Ok(AllowanceOutcome::AlreadyPresent),
            Some(false) => {}
            // The LMS said it exists, and then that it does not: not a success.
            None => {
                return Err(LmsError::InvalidResponse {
                    operation: READ_ALLOWANCE.operation,
                    detail: "the allowance reported as existing is not in the learner's list"
                        .into(),
                })
            }
        }
        const DELETE: Call = Call::new("delete_allowance");
        let key = json!({"email": email, "course_id": course_id});
        let reply = self
            .transport
            .send(DELETE, |http| http.delete(&url).json(&key))
            .await?;
        match reply.code() {
            200 | 204 | 404 => {}
            // v2 refuses to delete an existing row (its serializer's uniqueness check
            // runs first), so the flag cannot be switched through it.
            400 => return Err(LmsError::Rejected {
                operation: DELETE.operation,
                status: 400,
                message:
                    "allowance exists with auto_enroll=false and this endpoint cannot replace it; \
                              use OPENEDX_ALLOWANCE_API=legacy"
                        .into(),
            }),
            _ => return Err(reply.unexpected(DELETE.operation)),
        }
        const CREATE: Call = Call::new("create_allowance");
        let wanted = json!({"email": email, "course_id": course_id, "auto_enroll": true});
        let created = self
            .transport
            .send(CREATE, |http| http.post(&url).json(&wanted))
            .await;
        let error = match created {
            Ok(reply) if matches!(reply.code(), 200 | 201) => {
                return Ok(AllowanceOutcome::AutoEnrollEnabled)
            }
            // Someone re-created it meanwhile: success only if with auto_enroll on.
            Ok(reply) if reply.code() == 409 => {
                if self.read_auto_enroll(&url, email, course_id).await? == Some(true) {
                    return Ok(AllowanceOutcome::AutoEnrollEnabled);
                }
                return Err(LmsError::InvalidResponse {
                    operation: CREATE.operation,
                    detail: "a concurrent allowance without auto_enroll replaced ours".into(),
                });
            }
            Ok(reply) => reply.unexpected(CREATE.operation),
            Err(error) => error,
        };
        // Put the old row back: an allowance without auto_enroll still lets staff
        // enroll the learner; none at all loses the sale.
        let original = json!({"email": email, "course_id": course_id, "auto_enroll": false});
        let restored = self
            .transport
            .send(CREATE.once(), |http| http.post(&url).json(&original))
            .await;
        tracing::error!(
            error = %error,
            restored = restored.as_ref().is_ok_and(|r| matches!(r.code(), 200 | 201 | 409)),
            "could not re-create an allowance with auto_enroll on"
        );
        Err(error)
    }
}
