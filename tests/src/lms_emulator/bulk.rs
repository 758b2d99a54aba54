//! `POST /api/bulk_enroll/v1/bulk_enroll` (`lms/djangoapps/bulk_enroll/views.py`
//! `BulkEnrollView`), routed only when [`super::EmulatorConfig::bulk_enroll_view`] is
//! on (`FEATURES['ENABLE_BULK_ENROLLMENT_VIEW']`, off in production by default: a
//! Django 404 page otherwise).
//!
//! Verified against openedx-platform b95b37e3 on the conformance tier: global staff
//! (`IsStaff`) only; `EnrollmentUserThrottle` (the staff bucket); per course and
//! identifier the instructor dashboard's `enroll_email`: an active account is enrolled
//! with `CourseEnrollment.enroll(check_access=False)` (no window, invitation or
//! capacity check; an active enrollment keeps its mode, a new one gets
//! `_default_course_mode`, even one the course does not offer; any well-formed key is
//! accepted, existing or not); any other email gets an allowance whose `auto_enroll` is
//! set to the request's. 200 with `{"auto_enroll", "email_students", "action",
//! "courses": {id: {"action", "auto_enroll", "results": [{"identifier", "before",
//! "after"}]}}}`; a serializer error is a 400 with the field errors.

use axum::http::Method;
use axum::response::Response;
use serde_json::{json, Map, Value};

use super::auth::{has_api_key, require_user};
use super::http::{
    error, is_valid_course_key, json, method_not_allowed, truthy, Kind, Req, Style,
    PERMISSION_DENIED,
};
use super::server::Shared;
use super::state::{CourseInfo, LmsState};
use super::throttle::ThrottleClass;
use super::time::UtcTime;

/// `EmailEnrollmentState.to_dict()` for `email` in `course_id`.
fn state_of(state: &LmsState, email: &str, course_id: &str) -> Value {
    let user = state.user_by_email(email);
    let enrolled = user
        .and_then(|u| state.enrollment(&u.username, course_id))
        .is_some_and(|e| e.is_active);
    let allowance = state.allowance(email, course_id);
    json!({
        "user": user.is_some(),
        "enrollment": enrolled,
        "allowed": allowance.is_some(),
        "auto_enroll": allowance.is_some_and(|a| a.auto_enroll),
    })
}

/// `StringListField`: a list (its first item) or a string, split on commas.
fn string_list(value: Option<&Value>) -> Vec<String> {
    let text = match value {
        Some(Value::Array(items)) => items.first().and_then(Value::as_str).unwrap_or(""),
        Some(Value::String(s)) => s.as_str(),
        _ => "",
    };
    if text.is_empty() {
        return Vec::new();
    }
    text.split(',').map(str::to_owned).collect()
}

pub(crate) fn bulk_enroll(shared: &Shared, req: &Req) -> Response {
    if req.method != Method::POST {
        return method_not_allowed(&req.method);
    }
    let caller = match require_user(shared, req, Style::Drf, false) {
        Ok(Some(u)) => u,
        Ok(None) => {
            return error(
                Style::Drf,
                Kind::NotAuthenticated,
                401,
                super::http::NOT_AUTHENTICATED,
                &req.path,
                None,
            )
        }
        Err(r) => return r,
    };
    if !caller.is_staff {
        return error(
            Style::Drf,
            Kind::PermissionDenied,
            403,
            PERMISSION_DENIED,
            &req.path,
            None,
        );
    }
    // `@can_disable_rate_limit`, `throttle_classes = (EnrollmentUserThrottle,)`.
    let class = ThrottleClass::Enrollment { can_disable: true };
    if let Err(t) = shared.throttle(req, class, Some(&caller), has_api_key(shared, req)) {
        return t.respond(Style::Drf, &req.path);
    }
    let data = match req.data() {
        Ok(Value::Object(d)) => d,
        Ok(_) => Map::new(),
        Err(r) => return r,
    };
    let mut errors = Map::new();
    let identifiers = data
        .get("identifiers")
        .and_then(Value::as_str)
        .unwrap_or("");
    if identifiers.is_empty() {
        errors.insert("identifiers".into(), json!(["This field is required."]));
    }
    let courses = string_list(data.get("courses"));
    if courses.is_empty() {
        errors.insert("courses".into(), json!(["This field is required."]));
    }
    if let Some(bad) = courses.iter().find(|c| !is_valid_course_key(c)) {
        errors.insert(
            "courses".into(),
            json!([format!("Course key not valid: {bad}")]),
        );
    }
    let action = data.get("action").and_then(Value::as_str).unwrap_or("");
    if action != "enroll" {
        // (Unenroll is not emulated.)
        errors.insert(
            "action".into(),
            json!([format!("\"{action}\" is not a valid choice.")]),
        );
    }
    if !errors.is_empty() {
        return json(400, Value::Object(errors));
    }
    let auto_enroll = truthy(data.get("auto_enroll"));
    let email_students = truthy(data.get("email_students"));
    let emails: Vec<&str> = identifiers
        .split([',', '\n', ' '])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();

    let mut per_course = Map::new();
    let mut state = shared.state();
    for course_id in &courses {
        let mut results = Vec::new();
        for identifier in &emails {
            let email = state
                .user(identifier)
                .map(|u| u.email.clone())
                .unwrap_or_else(|| (*identifier).to_owned());
            if !email.contains('@') {
                results.push(json!({"identifier": identifier, "invalidIdentifier": true}));
                continue;
            }
            let before = state_of(&state, &email, course_id);
            let active_user = state
                .user_by_email(&email)
                .filter(|u| u.is_active)
                .map(|u| u.username.clone());
            match active_user {
                Some(username) => {
                    let existing = state.enrollment(&username, course_id);
                    let mode = match existing {
                        Some(e) if e.is_active => e.mode,
                        _ => state
                            .course(course_id)
                            .map(|c: &CourseInfo| c.default_mode(UtcTime::now()))
                            .unwrap_or_else(|| "audit".to_owned()),
                    };
                    state.set_enrollment(&username, course_id, &mode, true);
                }
                None => {
                    if state
                        .add_allowance(&email, course_id, auto_enroll)
                        .is_none()
                    {
                        let _ = state.remove_allowance(&email, course_id);
                        let _ = state.add_allowance(&email, course_id, auto_enroll);
                    }
                }
            }
            let after = state_of(&state, &email, course_id);
            results.push(json!({"identifier": identifier, "before": before, "after": after}));
        }
        per_course.insert(
            course_id.clone(),
            json!({"action": "enroll", "auto_enroll": auto_enroll, "results": results}),
        );
    }
    json(
        200,
        json!({
            "auto_enroll": auto_enroll,
            "email_students": email_students,
            "action": "enroll",
            "courses": per_course,
        }),
    )
}
