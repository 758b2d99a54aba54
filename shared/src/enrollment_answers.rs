//! What the LMS's enrollment-side answers mean, as pure functions (no I/O): the course
//! modes list, one enrollment read back, why an enroll POST was refused, and the
//! username a client-credentials JWT was issued for. Unit-tested here; the REST client
//! only makes the calls. Error texts never quote a body (it may carry an email).

use serde_json::Value;

use crate::openedx_parse::ParseError;

/// `GET /api/course_modes/v1/courses/{course_id}/`
/// (`common/djangoapps/course_modes/rest_api/v1/views.py` `CourseModesView`, every mode
/// row of the course, expired ones included): the mode slugs in the LMS's order. An
/// unknown course is an empty list, like a course without mode rows.
pub fn parse_course_modes(body: &[u8]) -> Result<Vec<String>, ParseError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|_| ParseError("course modes answer is not JSON".into()))?;
    let rows = v
        .as_array()
        .ok_or_else(|| ParseError("course modes answer is not a list".into()))?;
    Ok(rows
        .iter()
        .filter_map(|row| row.get("mode_slug").and_then(Value::as_str))
        .filter(|slug| !slug.is_empty())
        .map(str::to_owned)
        .collect())
}

/// One enrollment as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrollmentState {
    pub mode: String,
    pub is_active: bool,
}

/// `GET /api/enrollment/v1/enrollment/{username},{course_id}` (`EnrollmentView.get`):
/// an enrollment object, or an empty 200 body (also `null`/`{}`) when there is none.
pub fn parse_enrollment_lookup(body: &[u8]) -> Result<Option<EnrollmentState>, ParseError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let v: Value = serde_json::from_slice(body)
        .map_err(|_| ParseError("enrollment answer is not JSON".into()))?;
    match &v {
        Value::Null => Ok(None),
        Value::Object(map) if map.is_empty() => Ok(None),
        Value::Object(map) => Ok(Some(EnrollmentState {
            mode: map
                .get("mode")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            is_active: map
                .get("is_active")
                .and_then(Value::as_bool)
                .ok_or_else(|| ParseError("enrollment without a boolean is_active".into()))?,
        })),
        _ => Err(ParseError("enrollment answer is not an object".into())),
    }
}

/// Why `POST /api/enrollment/v1/enrollment` answered 400 (`EnrollmentListView.post`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnrollRefusal {
    /// "The [mode] course mode is expired or otherwise unavailable for course run [id]."
    /// (`CourseModeNotFoundError`): nothing was written. `offered` are the slugs of the
    /// answer's `course_details.course_modes`.
    ModeUnavailable { offered: Vec<String> },
    /// "An error occurred while creating the new course enrollment for user … in
    /// course …" (`CourseEnrollmentError`): the course is full, closed, invitation-only
    /// for this caller, or the learner is already enrolled in a full course
    /// (`CourseEnrollment.enroll` checks capacity before "already enrolled").
    Generic,
    /// Any other 400 (`message` as the LMS gave it, for the log).
    Other,
}

pub fn classify_enroll_refusal(body: &[u8]) -> EnrollRefusal {
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return EnrollRefusal::Other;
    };
    let message = v.get("message").and_then(Value::as_str).unwrap_or_default();
    if message.contains("course mode is expired or otherwise unavailable") {
        let offered = v
            .pointer("/course_details/course_modes")
            .and_then(Value::as_array)
            .map(|modes| {
                modes
                    .iter()
                    .filter_map(|m| m.get("slug").and_then(Value::as_str))
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        EnrollRefusal::ModeUnavailable { offered }
    } else if message.starts_with("An error occurred while creating the new course enrollment") {
        EnrollRefusal::Generic
    } else {
        EnrollRefusal::Other
    }
}

/// Is a 403 of the enroll POST the embargo's (`embargo/api.py` `check_course_access`,
/// message "…blocked…" with `user_message_url`), rather than a permission refusal?
pub fn is_embargo_refusal(body: &[u8]) -> bool {
    serde_json::from_slice::<Value>(body)
        .ok()
        .is_some_and(|v| v.get("user_message_url").is_some())
}

/// Is a course API 404 (`/api/courses/v1/courses/…?username=`) about the user rather than
/// the course? `get_effective_user` looks the username up with `User.objects.get`, and
/// `DeveloperErrorViewMixin` turns the `DoesNotExist` into 404 `{"developer_message":
/// "User matching query does not exist."}` (verified on the real LMS) — which must not
/// read as "unknown course": a mistyped `OPENEDX_SERVICE_USERNAME` would make every
/// course "not exist".
pub fn course_api_unknown_user(body: &[u8]) -> bool {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| {
            v.get("developer_message")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .is_some_and(|m| m.contains("User matching query does not exist"))
}

/// The message for that case.
pub const UNKNOWN_SERVICE_USER: &str =
    "the LMS has no user with the service username (OPENEDX_SERVICE_USERNAME, or the token's preferred_username)";

/// The `preferred_username` claim of a JWT access token, without verifying it (it came
/// straight from the LMS's token endpoint): the user the client-credentials grant acts
/// as, i.e. the DOT application's owner (`oauth_dispatch/jwt.py`). `None` for anything
/// that is not a three-part JWT with that claim.
pub fn jwt_username(token: &str) -> Option<String> {
    jwt_claims(token)?
        .get("preferred_username")
        .and_then(Value::as_str)
        .filter(|u| !u.is_empty())
        .map(str::to_owned)
}

/// The claims (payload) of a three-part JWT, read without verifying its signature
/// (the LMS just issued it to us); `None` for anything else.
pub fn jwt_claims(token: &str) -> Option<Value> {
    let mut parts = token.split('.');
    let (_header, payload, _signature) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    serde_json::from_slice(&base64url_decode(payload)?).ok()
}

/// Unpadded (or padded) base64url, as JWTs use it.
fn base64url_decode(text: &str) -> Option<Vec<u8>> {
    let text = text.trim_end_matches('=');
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for byte in text.bytes() {
        let value = match byte {
            b'A'..=b'Z' => byte - b'A',
            b'a'..=b'z' => byte - b'a' + 26,
            b'0'..=b'9' => byte - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(value);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// What `POST /api/bulk_enroll/v1/bulk_enroll` did for one course
/// (`lms/djangoapps/bulk_enroll/views.py` `BulkEnrollView` → `instructor/views/api.py`
/// `_process_student_enrollment` → `instructor/enrollment.py` `enroll_email`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BulkCourseResult {
    /// `after.enrollment`: the account is actively enrolled.
    Enrolled,
    /// `after.allowed` with `after.auto_enroll`: no (active) account; an allowance
    /// that enrolls at registration.
    Allowed,
    /// Anything else: `error: true` (an exception in the LMS), `invalidIdentifier`, an
    /// allowance without auto-enroll, or no result for our identifier.
    Failed(&'static str),
}

/// The per-course results of a bulk enrollment of one identifier, in `course_ids`
/// order. The view answers 200 even when items fail, so every item is checked.
pub fn parse_bulk_enroll(
    body: &[u8],
    course_ids: &[&str],
) -> Result<Vec<BulkCourseResult>, ParseError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|_| ParseError("bulk enrollment answer is not JSON".into()))?;
    let courses = v
        .get("courses")
        .and_then(Value::as_object)
        .ok_or_else(|| ParseError("bulk enrollment answer without a courses object".into()))?;
    Ok(course_ids
        .iter()
        .map(|id| {
            let Some(result) = courses
                .get(*id)
                .and_then(|c| c.get("results"))
                .and_then(Value::as_array)
                .and_then(|r| r.first())
            else {
                return BulkCourseResult::Failed("no result for the course");
            };
            if result.get("error").and_then(Value::as_bool) == Some(true) {
                return BulkCourseResult::Failed("the LMS reported an error");
            }
            if result.get("invalidIdentifier").and_then(Value::as_bool) == Some(true) {
                return BulkCourseResult::Failed("the LMS refused the email");
            }
            let after = |field: &str| {
                result
                    .pointer(&format!("/after/{field}"))
                    .and_then(Value::as_bool)
                    == Some(true)
            };
            match (after("enrollment"), after("allowed"), after("auto_enroll")) {
                (true, _, _) => BulkCourseResult::Enrolled,
                (false, true, true) => BulkCourseResult::Allowed,
                (false, true, false) => BulkCourseResult::Failed("allowance without auto_enroll"),
                (false, false, _) => BulkCourseResult::Failed("neither enrolled nor allowed"),
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn course_modes_in_order() {
        let body = br#"[{"course_id":"c","mode_slug":"verified"},{"mode_slug":"honor"},{"x":1}]"#;
        assert_eq!(parse_course_modes(body).unwrap(), vec!["verified", "honor"]);
        assert_eq!(parse_course_modes(b"[]").unwrap(), Vec::<String>::new());
        assert!(parse_course_modes(b"{}").is_err());
    }

    #[test]
    fn enrollment_lookup_empty_is_none() {
        assert_eq!(parse_enrollment_lookup(b"").unwrap(), None);
        assert_eq!(parse_enrollment_lookup(b"null").unwrap(), None);
        assert_eq!(
            parse_enrollment_lookup(br#"{"mode":"verified","is_active":true}"#).unwrap(),
            Some(EnrollmentState {
                mode: "verified".into(),
                is_active: true
            })
        );
        assert!(parse_enrollment_lookup(br#"{"mode":"audit"}"#).is_err());
    }

    #[test]
    fn enroll_refusals_as_the_real_lms_words_them() {
        // Bodies as openedx-platform master (2025-11) answered them on the conformance tier.
        let mode = br#"{"message":"The [None] course mode is expired or otherwise unavailable for course run [course-v1:X+V+1].","course_details":{"course_id":"course-v1:X+V+1","course_modes":[{"slug":"verified","name":"Verified"}]}}"#;
        assert_eq!(
            classify_enroll_refusal(mode),
            EnrollRefusal::ModeUnavailable {
                offered: vec!["verified".into()]
            }
        );
        let full = br#"{"message":"An error occurred while creating the new course enrollment for user 'bob' in course 'course-v1:X+F+1'"}"#;
        assert_eq!(classify_enroll_refusal(full), EnrollRefusal::Generic);
        assert_eq!(classify_enroll_refusal(b"<html>"), EnrollRefusal::Other);
        assert!(is_embargo_refusal(
            br#"{"message":"Users from this location cannot access the course","user_message_url":"/embargo/blocked-message/enrollment/default/"}"#
        ));
        assert!(!is_embargo_refusal(
            br#"{"detail":"You do not have permission"}"#
        ));
    }

    #[test]
    fn bulk_results_are_checked_per_course() {
        // Shapes as the real LMS answered (openedx-platform master 2025-11).
        let body = br#"{"auto_enroll":true,"action":"enroll","courses":{
            "c1":{"results":[{"identifier":"a@x","before":{"user":true,"enrollment":false},"after":{"user":true,"enrollment":true,"allowed":false,"auto_enroll":false}}]},
            "c2":{"results":[{"identifier":"a@x","before":{"user":false},"after":{"user":false,"enrollment":false,"allowed":true,"auto_enroll":true}}]},
            "c3":{"results":[{"identifier":"a@x","error":true}]},
            "c4":{"results":[{"identifier":"a@x","after":{"enrollment":false,"allowed":true,"auto_enroll":false}}]}}}"#;
        assert_eq!(
            parse_bulk_enroll(body, &["c1", "c2", "c3", "c4", "c5"]).unwrap(),
            vec![
                BulkCourseResult::Enrolled,
                BulkCourseResult::Allowed,
                BulkCourseResult::Failed("the LMS reported an error"),
                BulkCourseResult::Failed("allowance without auto_enroll"),
                BulkCourseResult::Failed("no result for the course"),
            ]
        );
        assert!(parse_bulk_enroll(b"[]", &["c1"]).is_err());
    }

    #[test]
    fn an_unknown_username_is_not_an_unknown_course() {
        assert!(course_api_unknown_user(
            br#"{"developer_message":"User matching query does not exist."}"#
        ));
        assert!(!course_api_unknown_user(
            br#"{"developer_message":"Course not found."}"#
        ));
        assert!(!course_api_unknown_user(b"<html>"));
    }

    #[test]
    fn username_from_a_jwt_payload() {
        // {"preferred_username":"svc","administrator":true}
        let payload = "eyJwcmVmZXJyZWRfdXNlcm5hbWUiOiJzdmMiLCJhZG1pbmlzdHJhdG9yIjp0cnVlfQ";
        assert_eq!(jwt_username(&format!("h.{payload}.s")), Some("svc".into()));
        assert_eq!(jwt_username("opaque-bearer-token"), None);
        assert_eq!(jwt_username("a.b.c.d"), None);
        assert_eq!(jwt_username("h.!!!.s"), None);
    }
}
