//! Enrollment API v1 (`lms/urls.py` `api/enrollment/v1/` →
//! `openedx/core/djangoapps/enrollments/urls.py`): course detail, enroll,
//! enrollment lookup, the staff enrollments list and the legacy
//! `enrollment_allowed/` view.

use axum::http::Method;
use axum::response::Response;
use serde_json::{json, Map, Value};

use super::auth::{has_api_key, require_user};
use super::http::{
    django_404, django_500, empty, error, is_deprecated_course_key, is_valid_course_key, json,
    match_course_key_pattern, method_not_allowed, py_str, replace_query_param, truthy, Kind, Req,
    Style, PERMISSION_DENIED,
};
use super::server::Shared;
use super::state::{Allowance, CourseInfo, Enrollment, LmsState, User};
use super::throttle::ThrottleClass;
use super::time::UtcTime;

/// `throttle_classes = (EnrollmentUserThrottle,)` on a view decorated with
/// `@can_disable_rate_limit` (`EnrollmentView`, `EnrollmentCourseDetailView`,
/// `EnrollmentListView`, `CourseEnrollmentsApiListView`).
const THROTTLE: ThrottleClass = ThrottleClass::Enrollment { can_disable: true };

// ---------------------------------------------------------------------------
// serializers

fn opt_time(t: Option<UtcTime>) -> Value {
    t.map(|t| Value::String(t.iso())).unwrap_or(Value::Null)
}

/// `enrollments/serializers.py` `CourseSerializer` (with `ModeSerializer`
/// rows from `CourseMode.modes_for_course(include_expired=..., only_selectable=False)`).
pub(crate) fn course_details_json(course_id: &str, c: &CourseInfo, include_expired: bool) -> Value {
    let modes: Vec<Value> = c
        .effective_modes(include_expired, UtcTime::now())
        .into_iter()
        .map(|m| {
            json!({
                "slug": m.slug,
                "name": m.name,
                "min_price": m.min_price,
                "suggested_prices": "",
                "currency": m.currency,
                "expiration_datetime": opt_time(m.expiration_datetime),
                "description": m.description,
                "sku": m.sku,
                "bulk_sku": m.bulk_sku,
            })
        })
        .collect();
    json!({
        "course_id": course_id,
        "course_name": c.name,
        "enrollment_start": opt_time(c.enrollment_start),
        "enrollment_end": opt_time(c.enrollment_end),
        "course_start": opt_time(c.start),
        "course_end": opt_time(c.end),
        "invite_only": c.invitation_only,
        "course_modes": modes,
        "pacing_type": if c.self_paced { "Self Paced" } else { "Instructor Paced" },
    })
}

/// `enrollments/serializers.py` `CourseEnrollmentSerializer`:
/// `created`, `mode`, `is_active`, `course_details`, `user` (username).
pub(crate) fn enrollment_json(
    state: &LmsState,
    username: &str,
    course_id: &str,
    e: &Enrollment,
) -> Value {
    let details = match state.course(course_id) {
        Some(c) => course_details_json(course_id, c, false),
        None => Value::Null,
    };
    json!({
        "created": e.created.iso(),
        "mode": e.mode,
        "is_active": e.is_active,
        "course_details": details,
        "user": username,
    })
}

/// `CourseEnrollmentsApiListSerializer`: `created, mode, is_active, user, course_id`.
pub(crate) fn enrollment_row_json(username: &str, course_id: &str, e: &Enrollment) -> Value {
    json!({
        "created": e.created.iso(),
        "mode": e.mode,
        "is_active": e.is_active,
        "user": username,
        "course_id": course_id,
    })
}

/// `CourseEnrollmentAllowedSerializer` (ModelSerializer, `exclude = ["id"]`):
/// model field order `email, course_id, auto_enroll, user, created`.
pub(crate) fn allowance_json(a: &Allowance) -> Value {
    json!({
        "email": a.email,
        "course_id": a.course_id,
        "auto_enroll": a.auto_enroll,
        "user": a.user_id,
        "created": a.created.iso(),
    })
}

// ---------------------------------------------------------------------------
// routing

pub(crate) fn route(shared: &Shared, req: &Req, rest: &str) -> Response {
    match rest {
        // path("enrollment", EnrollmentListView)
        "enrollment" => enrollment_list_view(shared, req),
        // re_path(r"^enrollments/?$", CourseEnrollmentsApiListView)
        "enrollments" | "enrollments/" => enrollments_admin_list(shared, req),
        // path("enrollment_allowed/", EnrollmentAllowedView)
        "enrollment_allowed/" => enrollment_allowed_view(shared, req),
        _ => {
            if let Some(id) = rest.strip_prefix("course/") {
                // re_path(rf"^course/{COURSE_ID_PATTERN}$", EnrollmentCourseDetailView)
                if match_course_key_pattern(id) == Some(id) {
                    return course_detail(shared, req, id);
                }
            } else if let Some(spec) = rest.strip_prefix("enrollment/") {
                // re_path(r"^enrollment/{username},{course_key}$") and r"^enrollment/{course_key}$"
                return enrollment_view(shared, req, spec);
            }
            django_404()
        }
    }
}

// ---------------------------------------------------------------------------
// course detail

/// `GET /api/enrollment/v1/course/{course_id}[?include_expired=1]`:
/// `enrollments/views.py` `EnrollmentCourseDetailView.get`
/// (`authentication_classes = []`: a JWT is ignored, every caller is
/// anonymous; no permissions) → `api.get_course_enrollment_details` →
/// `data.get_course_enrollment_info` (`CourseOverview.get_from_id`).
/// Unknown course → 400 `{"message": "No course found for course ID '<id>'"}`.
/// A path that matches `COURSE_ID_PATTERN` but is not a parseable key raises
/// `InvalidKeyError` (uncaught) → 500.
///
/// Throttled by `EnrollmentUserThrottle` scope `user` **per client IP**
/// (40/minute): the 41st call within a minute → 429 `{"detail": "Request was
/// throttled. Expected available in 60 seconds."}` + `Retry-After: 60`
/// (verified on the real LMS).
fn course_detail(shared: &Shared, req: &Req, course_id: &str) -> Response {
    if let Err(t) = shared.throttle(req, THROTTLE, None, has_api_key(shared, req)) {
        return t.respond(Style::Drf, &req.path);
    }
    if req.method != Method::GET {
        return method_not_allowed(&req.method);
    }
    if !is_valid_course_key(course_id) {
        return django_500();
    }
    let include_expired = req.q("include_expired").is_some_and(|v| !v.is_empty());
    let state = shared.state();
    match state.course(course_id) {
        Some(c) => json(200, course_details_json(course_id, c, include_expired)),
        None => json(
            400,
            json!({ "message": format!("No course found for course ID '{course_id}'") }),
        ),
    }
}

// ---------------------------------------------------------------------------
// enrollment lookup

fn is_username(s: &str) -> bool {
    // settings.USERNAME_PATTERN: (?P<username>[\w.@+-]+)
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_alphanumeric() || "_.@+-".contains(c))
}

/// `GET /api/enrollment/v1/enrollment/{username},{course_id}` and
/// `/enrollment/{course_id}`: `EnrollmentView.get`. Another user's
/// enrollment needs staff or the API key (else 404 empty); no enrollment →
/// 200 with an **empty body** (`Response(None)`; verified on the real LMS).
/// `EnrollmentUserThrottle` (staff 120/minute, shared history with the other
/// enrollment views and the course list).
fn enrollment_view(shared: &Shared, req: &Req, spec: &str) -> Response {
    let (username, course_id) = match spec.split_once(',') {
        Some((u, c)) if is_username(u) && match_course_key_pattern(c) == Some(c) => (Some(u), c),
        _ if match_course_key_pattern(spec) == Some(spec) => (None, spec),
        _ => return django_404(),
    };
    let caller = match require_user(shared, req, Style::Drf, true) {
        Ok(c) => c,
        Err(r) => return r,
    };
    if let Err(t) = shared.throttle(req, THROTTLE, caller.as_ref(), has_api_key(shared, req)) {
        return t.respond(Style::Drf, &req.path);
    }
    if req.method != Method::GET {
        return method_not_allowed(&req.method);
    }
    let caller_name = caller
        .as_ref()
        .map(|u| u.username.clone())
        .unwrap_or_default();
    let username = username
        .map(str::to_owned)
        .unwrap_or_else(|| caller_name.clone());
    if username != caller_name
        && !has_api_key(shared, req)
        && !caller.as_ref().is_some_and(|u| u.is_staff)
    {
        return empty(404);
    }
    let state = shared.state();
    match state.enrollment(&username, course_id) {
        Some(e) => json(200, enrollment_json(&state, &username, course_id, &e)),
        None => super::http::with_body(200, None, axum::body::Body::empty()),
    }
}

// ---------------------------------------------------------------------------
// enroll (shared by v1 and v2)

/// Why `create_or_update` failed; v1 and v2 render these differently.
pub(crate) enum EnrollError {
    /// Request data is not a dict / `course_details` not a dict / id not a string: uncaught → 500.
    Server,
    MissingCourseId,
    InvalidCourseKey(String),
    /// Another user's enrollment without staff/API key (v1: 404 empty body).
    Hidden,
    UnknownEmail(String),
    ModeForbidden(String),
    UnknownUser(String),
    InvalidIsActive(String),
    InvalidForce(String),
    ModeMismatch {
        active: String,
        requested: String,
    },
    ModeUnavailable {
        mode: String,
        course_id: String,
        course_details: Value,
    },
    CourseNotFound(String),
    Generic {
        username: String,
        course_id: String,
    },
}

impl EnrollError {
    pub(crate) fn message(&self) -> String {
        match self {
            EnrollError::Server | EnrollError::Hidden => String::new(),
            EnrollError::MissingCourseId => "Course ID must be specified to create a new enrollment.".to_owned(),
            EnrollError::InvalidCourseKey(c) | EnrollError::CourseNotFound(c) => {
                format!("No course '{c}' found for enrollment")
            }
            EnrollError::UnknownEmail(e) => format!("The user with the email address {e} does not exist."),
            EnrollError::ModeForbidden(m) => format!("User does not have permission to create enrollment with mode [{m}]."),
            EnrollError::UnknownUser(u) => format!("The user {u} does not exist."),
            EnrollError::InvalidIsActive(v) => format!("'{v}' is an invalid enrollment activation status."),
            EnrollError::InvalidForce(v) => format!("'{v}' is an invalid force enrollment status."),
            EnrollError::ModeMismatch { active, requested } => {
                format!("Enrollment mode mismatch: active mode={active}, requested mode={requested}. Won't deactivate.")
            }
            EnrollError::ModeUnavailable { mode, course_id, .. } => {
                format!("The [{mode}] course mode is expired or otherwise unavailable for course run [{course_id}].")
            }
            EnrollError::Generic { username, course_id } => format!(
                "An error occurred while creating the new course enrollment for user '{username}' in course '{course_id}'"
            ),
        }
    }
}

/// May `learner` enroll in `course` right now? `has_access(user, 'enroll',
/// course)` = `lms/djangoapps/courseware/access.py` `_can_enroll_courselike`
/// (what `CourseEnrollment.is_enrollment_closed` negates, and half of
/// `see_exists`): a `CourseEnrollmentAllowed` row for the learner's e-mail
/// decides (granted unless another user consumed it); global staff
/// (`is_staff`) may; an invitation-only course denies — and so does every
/// **old-style key**, which `courseware/toggles.py` `course_is_invitation_only`
/// counts as invitation-only (`… or courselike.id.deprecated`); otherwise the
/// window `enrollment_start < now < enrollment_end` decides (unset = open-ended,
/// `xmodule/course_metadata_utils.py` `is_enrollment_open`). `None` =
/// `AnonymousUser` (no allowance lookup, not staff).
pub(crate) fn enrollment_open(
    state: &LmsState,
    learner: Option<&User>,
    course_id: &str,
    c: &CourseInfo,
) -> bool {
    if let Some(learner) = learner {
        if let Some(a) = state.allowance(&learner.email, course_id) {
            return a.user_id.is_none_or(|id| id == learner.id);
        }
        if learner.is_staff {
            return true;
        }
    }
    if c.invitation_only || is_deprecated_course_key(course_id) {
        return false;
    }
    let now = UtcTime::now();
    c.enrollment_start.is_none_or(|s| s < now) && c.enrollment_end.is_none_or(|e| now < e)
}

/// The body of `EnrollmentListView.post` (v1, `enrollments/views.py`) and
/// `EnrollmentOperationsService.create_or_update_enrollment` (v2,
/// `enrollments/v2/view_services.py`), down to
/// `enrollments/api.py` `add_enrollment` / `update_enrollment`,
/// `enrollments/data.py` `create_course_enrollment` and
/// `student/models/course_enrollment.py` `CourseEnrollment.enroll(check_access=True,
/// can_upgrade=force_enrollment)`. Order of checks as in the source.
/// Returns the enrollment dict (200) — also for an already active enrollment
/// (`CourseEnrollmentExistsError` → 200 with the existing enrollment).
pub(crate) fn create_or_update(
    shared: &Shared,
    data: &Value,
    caller: Option<&User>,
    api_key: bool,
) -> Result<Value, EnrollError> {
    let Value::Object(data) = data else {
        return Err(EnrollError::Server);
    };
    let caller_name = caller.map(|u| u.username.clone()).unwrap_or_default();
    let staff = caller.is_some_and(|u| u.is_staff);

    let username_v = data.get("user");
    let course_id_v = match data.get("course_details") {
        None => None,
        Some(Value::Object(d)) => d.get("course_id"),
        Some(_) => return Err(EnrollError::Server),
    };
    if !truthy(course_id_v) {
        return Err(EnrollError::MissingCourseId);
    }
    let Some(Value::String(course_id)) = course_id_v else {
        return Err(EnrollError::Server);
    };
    if !is_valid_course_key(course_id) {
        return Err(EnrollError::InvalidCourseKey(course_id.clone()));
    }
    let mode_v = data.get("mode").filter(|v| !v.is_null());

    let mut username = username_v.filter(|v| truthy(Some(v))).map(py_str);
    if let Some(u) = &username {
        if *u != caller_name && !api_key && !staff {
            return Err(EnrollError::Hidden);
        }
    }
    let state_guard = shared.state();
    let state = &*state_guard;
    if username.is_none() {
        let email = data.get("email").filter(|v| truthy(Some(v)));
        match email {
            Some(email) => {
                if !api_key && !staff {
                    return Err(EnrollError::Hidden);
                }
                let email = py_str(email);
                match state.user_by_email(&email) {
                    Some(u) => username = Some(u.username.clone()),
                    None => return Err(EnrollError::UnknownEmail(email)),
                }
            }
            None => username = Some(caller_name.clone()),
        }
    }
    let username = username.unwrap_or_default();
    let mode: Option<String> = mode_v.map(py_str);
    if let Some(m) = mode_v {
        let free = matches!(m, Value::String(s) if s == "audit" || s == "honor");
        if !free && !api_key && !staff {
            return Err(EnrollError::ModeForbidden(py_str(m)));
        }
    }
    let Some(learner) = state.user(&username).cloned() else {
        return Err(EnrollError::UnknownUser(username));
    };

    let is_active = match data.get("is_active") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(other) => return Err(EnrollError::InvalidIsActive(py_str(other))),
    };
    let force = match data.get("force_enrollment") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b && staff,
        Some(other) => return Err(EnrollError::InvalidForce(py_str(other))),
    };
    drop(state_guard);
    let mut state = shared.state();

    let existing = state.enrollment(&username, course_id);
    let mode_changed = existing
        .as_ref()
        .is_some_and(|e| mode.as_ref().is_some_and(|m| *m != e.mode));
    let active_changed = existing
        .as_ref()
        .is_some_and(|e| is_active.is_some_and(|a| a != e.is_active));
    let now = UtcTime::now();

    // `api.validate_course_mode(course_id, mode, …)`; the view's message shows
    // `shown` = the request's `mode` (`"None"` when absent), not the mode
    // validated (`views.py` `except CourseModeNotFoundError`: `.format(mode=mode)`).
    let mode_unavailable =
        |state: &LmsState, mode: &str, shown: &str, include_expired: bool| -> Option<EnrollError> {
            let c = state.course(course_id)?;
            if c.effective_modes(include_expired, now)
                .iter()
                .any(|m| m.slug == mode)
            {
                return None;
            }
            Some(EnrollError::ModeUnavailable {
                mode: shown.to_owned(),
                course_id: course_id.clone(),
                course_details: course_details_json(course_id, c, include_expired),
            })
        };

    if (staff || api_key) && (mode_changed || active_changed) {
        // api.update_enrollment
        let existing = existing.unwrap_or(Enrollment {
            id: 0,
            mode: String::new(),
            is_active: false,
            created: now,
        });
        if mode_changed && active_changed && is_active == Some(false) {
            return Err(EnrollError::ModeMismatch {
                active: existing.mode.clone(),
                requested: mode.clone().unwrap_or_default(),
            });
        }
        // api.update_enrollment → validate_course_mode(mode, is_active, include_expired=api_key)
        if let Some(m) = &mode {
            if state.course(course_id).is_none() {
                return Err(EnrollError::CourseNotFound(course_id.clone()));
            }
            if let Some(err) = mode_unavailable(&state, m, m, api_key || is_active == Some(false)) {
                return Err(err);
            }
        }
        let new_mode = mode.clone().unwrap_or(existing.mode.clone());
        let new_active = is_active.unwrap_or(existing.is_active);
        state.set_enrollment(&username, course_id, &new_mode, new_active);
        let e = state
            .enrollment(&username, course_id)
            .ok_or(EnrollError::Server)?;
        return Ok(enrollment_json(&state, &username, course_id, &e));
    }

    // api.add_enrollment
    let Some(course) = state.course(course_id).cloned() else {
        return Err(EnrollError::CourseNotFound(course_id.clone()));
    };
    // `mode=None` → `_default_course_mode`: `audit`, else `honor`, else `audit`
    // again — so a course with neither (only `verified`, only
    // `no-id-professional`) fails validation, reported as `[None]` (verified
    // on the real LMS).
    let shown = mode.clone().unwrap_or_else(|| "None".to_owned());
    let mode = mode.unwrap_or_else(|| course.default_mode(now));
    // validate_course_mode: include_expired = force, else `not is_active` when given.
    if let Some(err) = mode_unavailable(&state, &mode, &shown, force || is_active == Some(false)) {
        return Err(err);
    }
    // CourseEnrollment.enroll(check_access=True, can_upgrade=force)
    let generic = || EnrollError::Generic {
        username: username.clone(),
        course_id: course_id.clone(),
    };
    if !force && !enrollment_open(&state, Some(&learner), course_id, &course) {
        return Err(generic());
    }
    if let Some(max) = course.max_student_enrollments {
        if state.active_enrollment_count(course_id) >= max as usize {
            return Err(generic());
        }
    }
    if let Some(e) = state.enrollment(&username, course_id) {
        if e.is_active {
            // AlreadyEnrolledError → CourseEnrollmentExistsError → 200 with the existing enrollment.
            return Ok(enrollment_json(&state, &username, course_id, &e));
        }
    }
    // get_or_create + update_enrollment(is_active=True, mode=default) then
    // _update_enrollment(is_active=<requested>, mode=<requested or default>).
    state.set_enrollment(&username, course_id, &mode, is_active.unwrap_or(true));
    let e = state
        .enrollment(&username, course_id)
        .ok_or(EnrollError::Server)?;
    Ok(enrollment_json(&state, &username, course_id, &e))
}

/// `/api/enrollment/v1/enrollment`: `EnrollmentListView`
/// (`authentication_classes = (JwtAuthentication, BearerAuthenticationAllowInactiveUser,
/// EnrollmentCrossDomainSessionAuth)`, `permission_classes = (ApiKeyHeaderPermissionIsAuthenticated,)`).
///
/// POST errors (v1 bodies): missing course id → 400 `{"message": "Course ID must be
/// specified to create a new enrollment."}`; bad key or unknown course → 400
/// `{"message": "No course '<id>' found for enrollment"}`; another user without
/// staff/API key → 404 empty; unknown e-mail → 406 `{"message": "The user with the
/// email address <e> does not exist."}`; paid mode without staff → 403; unknown
/// user → 406 `{"message": "The user <u> does not exist."}`; non-bool
/// `is_active` / `force_enrollment` → 400; mode unavailable → 400 with
/// `course_details`; closed / full / invitation-only → 400 `{"message": "An error
/// occurred while creating the new course enrollment for user '<u>' in course '<c>'"}`
/// (`CourseEnrollment.enroll(check_access=True)` checks "full" before "already
/// enrolled": the holder of the last seat replaying its POST gets that 400 too;
/// verified). GET lists the caller's (or `?user=`'s, staff only) active enrollments.
/// Both throttled by `EnrollmentUserThrottle` (after authentication and
/// permissions, before the body is parsed).
fn enrollment_list_view(shared: &Shared, req: &Req) -> Response {
    let caller = match require_user(shared, req, Style::Drf, true) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let api_key = has_api_key(shared, req);
    if let Err(t) = shared.throttle(req, THROTTLE, caller.as_ref(), api_key) {
        return t.respond(Style::Drf, &req.path);
    }
    match req.method {
        Method::POST => {
            let data = match req.data() {
                Ok(d) => d,
                Err(r) => return r,
            };
            match create_or_update(shared, &data, caller.as_ref(), api_key) {
                Ok(v) => json(200, v),
                Err(e) => render_v1_enroll_error(e),
            }
        }
        Method::GET => {
            let caller_name = caller
                .as_ref()
                .map(|u| u.username.clone())
                .unwrap_or_default();
            let username = req
                .q("user")
                .map(str::to_owned)
                .unwrap_or_else(|| caller_name.clone());
            let state = shared.state();
            if username != caller_name && !api_key && !caller.as_ref().is_some_and(|u| u.is_staff) {
                // Only courses where the caller has CourseStaffRole (none emulated).
                return json(200, json!([]));
            }
            let mut rows: Vec<(&(String, String), &Enrollment)> = state
                .enrollments
                .iter()
                .filter(|((u, c), e)| *u == username && e.is_active && state.course(c).is_some())
                .collect();
            rows.sort_by_key(|(_, e)| (e.created, e.id));
            let list: Vec<Value> = rows
                .into_iter()
                .map(|((u, c), e)| enrollment_json(&state, u, c, e))
                .collect();
            json(200, Value::Array(list))
        }
        _ => method_not_allowed(&req.method),
    }
}

fn render_v1_enroll_error(e: EnrollError) -> Response {
    let msg = e.message();
    match e {
        EnrollError::Server => django_500(),
        EnrollError::Hidden => empty(404),
        EnrollError::UnknownEmail(_) | EnrollError::UnknownUser(_) => {
            json(406, json!({ "message": msg }))
        }
        EnrollError::ModeForbidden(_) => json(403, json!({ "message": msg })),
        EnrollError::ModeUnavailable { course_details, .. } => json(
            400,
            json!({ "message": msg, "course_details": course_details }),
        ),
        _ => json(400, json!({ "message": msg })),
    }
}

// ---------------------------------------------------------------------------
// staff enrollments list

/// `GET /api/enrollment/v1/enrollments[/]`: `CourseEnrollmentsApiListView`
/// (`DeveloperErrorViewMixin`, `permission_classes = (IsAdminUser,)`,
/// `pagination_class = CourseEnrollmentsApiListPagination` — a DRF
/// `CursorPagination`, `page_size` 100 (max 100), ordering `-created`).
/// Filters: `course_id`, `course_ids` (comma list, substring match as
/// `course__id__icontains`), `username`, `email` (comma lists). Inactive
/// enrollments are included. Body `{"next": url|null, "previous": url|null,
/// "results": [{created, mode, is_active, user, course_id}]}` — **no count**.
/// The cursor is opaque (`cursor=` query parameter). `EnrollmentUserThrottle`
/// (the 429 is `{"developer_message"}` without `Retry-After`).
fn enrollments_admin_list(shared: &Shared, req: &Req) -> Response {
    let st = Style::Developer;
    let caller = match require_user(shared, req, st, false) {
        Ok(Some(u)) => u,
        Ok(None) => {
            return error(
                st,
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
            st,
            Kind::PermissionDenied,
            403,
            PERMISSION_DENIED,
            &req.path,
            None,
        );
    }
    // DeveloperErrorViewMixin: the 429 is {"developer_message"}, no Retry-After.
    if let Err(t) = shared.throttle(req, THROTTLE, Some(&caller), has_api_key(shared, req)) {
        return t.respond(st, &req.path);
    }
    if req.method != Method::GET {
        return json(
            405,
            json!({ "developer_message": format!("Method \"{}\" not allowed.", req.method) }),
        );
    }
    let course_id = req.q("course_id").filter(|s| !s.is_empty());
    if let Some(c) = course_id {
        if !is_valid_course_key(c) {
            return json(
                400,
                json!({ "field_errors": { "course_id": { "developer_message": format!("'{c}' is not a valid course id.") } } }),
            );
        }
    }
    let split = |k: &str| -> Vec<String> {
        req.q(k)
            .map(|v| {
                v.split(',')
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    };
    let course_ids = split("course_ids");
    let usernames = split("username");
    let emails = split("email");
    let state = shared.state();
    let m = state.email_matching();
    let mut rows: Vec<(&String, &String, &Enrollment)> = state
        .enrollments
        .iter()
        .filter(|((_, c), _)| state.course(c).is_some())
        .filter(|((_, c), _)| course_id.is_none_or(|want| c == want))
        .filter(|((_, c), _)| {
            course_ids.is_empty()
                || course_ids
                    .iter()
                    .any(|want| c.to_lowercase().contains(&want.to_lowercase()))
        })
        .filter(|((u, _), _)| usernames.is_empty() || usernames.contains(u))
        .filter(|((u, _), _)| {
            emails.is_empty()
                || state
                    .user(u)
                    .is_some_and(|user| emails.iter().any(|e| m.eq(e, &user.email)))
        })
        .map(|((u, c), e)| (u, c, e))
        .collect();
    rows.sort_by_key(|r| std::cmp::Reverse((r.2.created, r.2.id)));

    let page_size = req
        .q("page_size")
        .and_then(|s| s.parse::<usize>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(100)
        .min(100);
    let offset = req
        .q("cursor")
        .and_then(|c| c.strip_prefix('o'))
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap_or(0);
    let page: Vec<Value> = rows
        .iter()
        .skip(offset)
        .take(page_size)
        .map(|(u, c, e)| enrollment_row_json(u, c, e))
        .collect();
    let link = |o: usize| {
        Value::String(req.absolute_url(&replace_query_param(
            &req.query,
            "cursor",
            Some(format!("o{o}")),
        )))
    };
    let next = if offset + page_size < rows.len() {
        link(offset + page_size)
    } else {
        Value::Null
    };
    let previous = if offset > 0 {
        link(offset.saturating_sub(page_size))
    } else {
        Value::Null
    };
    json(
        200,
        json!({ "next": next, "previous": previous, "results": page }),
    )
}

// ---------------------------------------------------------------------------
// enrollment allowed (legacy view)

/// `/api/enrollment/v1/enrollment_allowed/`: `EnrollmentAllowedView`
/// (`enrollments/views.py`; added in Quince by openedx/edx-platform#33059).
/// `permission_classes = (IsAdminUser,)` → unauthenticated 401, non-staff 403
/// `{"detail": "You do not have permission to perform this action."}`.
/// * GET `?email=` (default: caller's e-mail) → 200 array of allowances.
/// * POST `{email, course_id, auto_enroll?}` → 201 row; missing/empty email or
///   course_id → 400 `{"message": "Please provide a value for 'email' and
///   'course_id' in the request data."}`; duplicate (IntegrityError) → 409
///   `{"message": "An enrollment allowed with email <e> and course <c> already
///   exists."}`. The course is **not** checked for existence (a well-formed
///   key of an unknown course gets 201); a malformed key fails in
///   `CourseKeyField` → 500.
/// * DELETE `{email, course_id}` → 204; absent → 404 `{"message": "An
///   enrollment allowed with email <e> and course <c> doesn't exists."}`.
///
/// `throttle_classes = (EnrollmentUserThrottle,)` but not
/// `@can_disable_rate_limit`: throttled even when `RateLimitConfiguration`
/// is disabled.
fn enrollment_allowed_view(shared: &Shared, req: &Req) -> Response {
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
    // `throttle_classes = (EnrollmentUserThrottle,)`, not @can_disable_rate_limit.
    let class = ThrottleClass::Enrollment { can_disable: false };
    if let Err(t) = shared.throttle(req, class, Some(&caller), has_api_key(shared, req)) {
        return t.respond(Style::Drf, &req.path);
    }
    match req.method {
        Method::GET => {
            let email = req
                .q("email")
                .filter(|e| !e.is_empty())
                .unwrap_or(&caller.email);
            let rows: Vec<Value> = shared
                .state()
                .allowances_for_email(email)
                .iter()
                .map(allowance_json)
                .collect();
            json(200, Value::Array(rows))
        }
        Method::POST | Method::DELETE => {
            let data = match req.data() {
                Ok(d) => d,
                Err(r) => return r,
            };
            let Value::Object(data) = data else {
                return django_500();
            };
            let (email, course_id) = match required(&data) {
                Ok(x) => x,
                Err(r) => return r,
            };
            let (Value::String(email), Value::String(course_id)) = (email, course_id) else {
                return django_500();
            };
            if !is_valid_course_key(course_id) {
                return django_500();
            }
            let mut state = shared.state();
            if req.method == Method::POST {
                let auto_enroll = truthy(data.get("auto_enroll"));
                match state.add_allowance(email, course_id, auto_enroll) {
                    Some(row) => json(201, allowance_json(&row)),
                    None => json(
                        409,
                        json!({ "message": format!("An enrollment allowed with email {email} and course {course_id} already exists.") }),
                    ),
                }
            } else if state.remove_allowance(email, course_id) {
                empty(204)
            } else {
                json(
                    404,
                    json!({ "message": format!("An enrollment allowed with email {email} and course {course_id} doesn't exists.") }),
                )
            }
        }
        _ => method_not_allowed(&req.method),
    }
}

fn required(data: &Map<String, Value>) -> Result<(&Value, &Value), Response> {
    match (data.get("email"), data.get("course_id")) {
        (Some(e), Some(c)) if truthy(Some(e)) && truthy(Some(c)) => Ok((e, c)),
        _ => Err(json(
            400,
            json!({ "message": "Please provide a value for 'email' and 'course_id' in the request data." }),
        )),
    }
}
