//! Enrollment API v2 (`/api/enrollment/v2/`, edx-platform master only):
//! `openedx/core/djangoapps/enrollments/v2/urls.py` + `v2/views.py`
//! (FC-0118, ADR 0028 `EnrollmentViewSet` registered with a DRF
//! `DefaultRouter`; ADR 0029 error envelope via `StandardizedErrorMixin`;
//! ADR 0031 `v2/view_services.py` `EnrollmentOperationsService`).
//!
//! Every error here is the ADR 0029 envelope
//! `{"type", "title", "status", "detail", "instance"[, "errors"]}`.

use axum::http::Method;
use axum::response::Response;
use serde_json::{json, Map, Value};

use super::auth::{has_api_key, require_user};
use super::enrollment::{
    allowance_json, course_details_json, create_or_update, enrollment_json, enrollment_row_json,
    EnrollError,
};
use super::http::{
    add_header, django_404, empty, error, is_deprecated_course_key, is_valid_course_key, json,
    match_course_key_pattern, paginate, py_repr_str, with_body, Kind, Req, Style,
    PERMISSION_DENIED,
};
use super::server::Shared;
use super::state::User;
use super::throttle::ThrottleClass;

const ST: Style = Style::Envelope;

/// Every v2 view declares `throttle_classes = (EnrollmentUserThrottle,)`
/// (`v2/views.py`); only `EnrollmentViewSet` is `@can_disable_rate_limit`.
/// The 429 is the envelope (`rate-limited`, "Too Many Requests") with
/// `Retry-After` (read only, not run: the real LMS snapshot has no v2).
fn throttle(
    shared: &Shared,
    req: &Req,
    viewset: bool,
    caller: Option<&User>,
) -> Result<(), Response> {
    let class = ThrottleClass::Enrollment {
        can_disable: viewset,
    };
    shared
        .throttle(req, class, caller, has_api_key(shared, req))
        .map_err(|t| t.respond(ST, &req.path))
}

pub(crate) fn route(shared: &Shared, req: &Req, rest: &str) -> Response {
    match rest {
        "enrollment/" => viewset_root(shared, req),
        "enrollment/enrollment_allowed/" => allowed(shared, req),
        "enrollments/" | "enrollments" => admin_list(shared, req),
        _ => {
            if let Some(spec) = rest.strip_prefix("courses/") {
                // path("courses/<course_key:course_id>/") — the converter rejects deprecated keys.
                if let Some(id) = spec.strip_suffix('/') {
                    if is_valid_course_key(id) && !is_deprecated_course_key(id) && !id.contains('/')
                    {
                        return course_detail(shared, req, id);
                    }
                }
                return django_404();
            }
            if let Some(id) = rest.strip_prefix("course/") {
                // legacy re_path(rf"^course/{COURSE_ID_PATTERN}$")
                if match_course_key_pattern(id) == Some(id) {
                    return course_detail(shared, req, id);
                }
                return django_404();
            }
            if let Some(spec) = rest
                .strip_prefix("enrollments/")
                .and_then(|s| s.strip_suffix('/'))
            {
                // path("enrollments/<str:username>,<course_key:course_id>/")
                if let Some((u, c)) = spec.split_once(',') {
                    if !u.is_empty()
                        && !u.contains('/')
                        && is_valid_course_key(c)
                        && !is_deprecated_course_key(c)
                    {
                        return retrieve(shared, req, Some(u), c);
                    }
                }
                return django_404();
            }
            if let Some(spec) = rest.strip_prefix("enrollment/") {
                // legacy "^enrollment/{username},{course_key}$" and "^enrollment/{course_key}$"
                if let Some((u, c)) = spec.split_once(',') {
                    if match_course_key_pattern(c) == Some(c) {
                        return retrieve(shared, req, Some(u), c);
                    }
                }
                if match_course_key_pattern(spec) == Some(spec) {
                    return retrieve(shared, req, None, spec);
                }
            }
            django_404()
        }
    }
}

fn not_allowed(req: &Req) -> Response {
    error(
        ST,
        Kind::Other,
        405,
        &format!("Method \"{}\" not allowed.", req.method),
        &req.path,
        None,
    )
}

/// 401 for an anonymous caller (no API key accepted).
fn staff_caller(shared: &Shared, req: &Req) -> Result<User, Response> {
    match require_user(shared, req, ST, false)? {
        Some(u) if u.is_staff => Ok(u),
        Some(_) => Err(error(
            ST,
            Kind::PermissionDenied,
            403,
            PERMISSION_DENIED,
            &req.path,
            None,
        )),
        None => Err(error(
            ST,
            Kind::NotAuthenticated,
            401,
            super::http::NOT_AUTHENTICATED,
            &req.path,
            None,
        )),
    }
}

/// `GET|POST /api/enrollment/v2/enrollment/`: `EnrollmentViewSet.list` /
/// `.create` (`permission_classes = (ApiKeyHeaderPermissionIsAuthenticated,)`,
/// auth `(JwtAuthentication, EnrollmentCrossDomainSessionAuth)`).
/// `create` runs the same flow as v1 but raises DRF exceptions: unknown user
/// or e-mail → **404** (v1: 406), missing/bad course → 400, another user
/// without staff → 404 `"Not found."`, paid mode → 403, closed/full → 400.
/// `list` returns the `DefaultPagination` 7-field envelope (ADR 0032).
fn viewset_root(shared: &Shared, req: &Req) -> Response {
    let caller = match require_user(shared, req, ST, true) {
        Ok(c) => c,
        Err(r) => return r,
    };
    if let Err(r) = throttle(shared, req, true, caller.as_ref()) {
        return r;
    }
    let api_key = has_api_key(shared, req);
    match req.method {
        Method::POST => {
            let data = match req.data() {
                Ok(d) => d,
                Err(r) => return r,
            };
            match create_or_update(shared, &data, caller.as_ref(), api_key) {
                Ok(v) => json(200, v),
                Err(e) => render_v2_enroll_error(req, e),
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
            let visible =
                username == caller_name || api_key || caller.as_ref().is_some_and(|u| u.is_staff);
            let mut rows: Vec<Value> = if visible {
                state
                    .enrollments
                    .iter()
                    .filter(|((u, c), _)| *u == username && state.course(c).is_some())
                    .map(|((u, c), e)| enrollment_json(&state, u, c, e))
                    .collect()
            } else {
                Vec::new()
            };
            if req.q("view") == Some("minimal") {
                for r in rows.iter_mut() {
                    if let Value::Object(o) = r {
                        let cid = o
                            .get("course_details")
                            .and_then(|d| d.get("course_id"))
                            .cloned()
                            .unwrap_or(Value::Null);
                        o.remove("course_details");
                        o.insert("course_id".to_owned(), cid);
                    }
                }
            }
            page_response(req, rows, 10)
        }
        _ => not_allowed(req),
    }
}

fn page_response(req: &Req, rows: Vec<Value>, default_size: usize) -> Response {
    match paginate(req, rows.len(), default_size, Some(100)) {
        Ok(p) => json(
            200,
            json!({
                "next": p.next,
                "previous": p.previous,
                "count": p.count,
                "num_pages": p.num_pages,
                "current_page": p.number,
                "start": (p.number - 1) * p.page_size,
                "results": rows[p.start..p.end],
            }),
        ),
        Err(()) => error(ST, Kind::NotFound, 404, "Invalid page.", &req.path, None),
    }
}

fn render_v2_enroll_error(req: &Req, e: EnrollError) -> Response {
    let msg = e.message();
    let p = req.path.as_str();
    match e {
        EnrollError::Server => internal(req),
        EnrollError::Hidden => error(ST, Kind::NotFound, 404, "Not found.", p, None),
        EnrollError::UnknownEmail(_) | EnrollError::UnknownUser(_) => {
            error(ST, Kind::NotFound, 404, &msg, p, None)
        }
        EnrollError::ModeForbidden(_) => error(ST, Kind::PermissionDenied, 403, &msg, p, None),
        _ => error(ST, Kind::Validation, 400, &msg, p, None),
    }
}

/// Uncaught exception under `standardized_error_exception_handler`.
fn internal(req: &Req) -> Response {
    json(
        500,
        json!({
            "type": "https://docs.openedx.org/errors/internal",
            "title": "Internal Server Error",
            "status": 500,
            "detail": "An unexpected error occurred. Please try again later.",
            "instance": req.path,
        }),
    )
}

/// `GET /api/enrollment/v2/courses/{course_key}/` (and legacy
/// `/course/{course_key}`): `CourseEnrollmentDetailView` (no auth). Unknown
/// course → **404** `"No course found for course ID '<id>'"` (v1 answers 400);
/// unparseable key on the legacy route → 400 with the same text.
fn course_detail(shared: &Shared, req: &Req, course_id: &str) -> Response {
    // authentication_classes = (): anonymous, keyed by client IP.
    if let Err(r) = throttle(shared, req, false, None) {
        return r;
    }
    if req.method != Method::GET {
        return not_allowed(req);
    }
    let msg = format!("No course found for course ID '{course_id}'");
    if !is_valid_course_key(course_id) {
        return error(ST, Kind::Validation, 400, &msg, &req.path, None);
    }
    let include_expired = req.q("include_expired").is_some_and(|v| !v.is_empty());
    match shared.state().course(course_id) {
        Some(c) => json(200, course_details_json(course_id, c, include_expired)),
        None => error(ST, Kind::NotFound, 404, &msg, &req.path, None),
    }
}

/// `EnrollmentRetrieveView.get`: another user's enrollment without staff /
/// API key → 404 `"Not found."`; no enrollment → 200 empty body.
fn retrieve(shared: &Shared, req: &Req, username: Option<&str>, course_id: &str) -> Response {
    let caller = match require_user(shared, req, ST, true) {
        Ok(c) => c,
        Err(r) => return r,
    };
    if let Err(r) = throttle(shared, req, false, caller.as_ref()) {
        return r;
    }
    if req.method != Method::GET {
        return not_allowed(req);
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
        return error(ST, Kind::NotFound, 404, "Not found.", &req.path, None);
    }
    if !is_valid_course_key(course_id) {
        return error(
            ST,
            Kind::Validation,
            400,
            &format!("No course '{course_id}' found for enrollment"),
            &req.path,
            None,
        );
    }
    let state = shared.state();
    match state.enrollment(&username, course_id) {
        Some(e) => json(200, enrollment_json(&state, &username, course_id, &e)),
        None => with_body(200, None, axum::body::Body::empty()),
    }
}

/// `GET /api/enrollment/v2/enrollments/` (legacy `/enrollments`):
/// `EnrollmentsAdminListView` (`IsAdminUser`; `EnrollmentsAdminListPagination`
/// = `DefaultPagination`, page_size 100, max 100) → `{"next", "previous",
/// "count", "num_pages", "current_page", "start", "results"}` with rows
/// `{created, mode, is_active, user, course_id}`. **`count` gives the
/// enrollment count** (all rows, inactive included; filter client-side on
/// `is_active` or count pages). Filters `course_key` (alias `course_id`),
/// `course_keys` (alias `course_ids`), `username`, `email` (comma lists),
/// `ordering` in `created,-created,id,-id`; a legacy alias adds the ADR 0033
/// `Deprecation` header.
fn admin_list(shared: &Shared, req: &Req) -> Response {
    let caller = match staff_caller(shared, req) {
        Ok(u) => u,
        Err(r) => return r,
    };
    if let Err(r) = throttle(shared, req, false, Some(&caller)) {
        return r;
    }
    if req.method != Method::GET {
        return not_allowed(req);
    }
    let course_key = req
        .q("course_key")
        .or(req.q("course_id"))
        .filter(|s| !s.is_empty());
    let list = |k: &str, alias: &str| -> Vec<String> {
        req.q(k)
            .or(req.q(alias))
            .map(|v| {
                v.split(',')
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    };
    let course_keys = list("course_keys", "course_ids");
    for k in course_key
        .iter()
        .map(|s| s.to_string())
        .chain(course_keys.iter().cloned())
    {
        if !is_valid_course_key(&k) {
            let field = if Some(k.as_str()) == course_key {
                "course_key"
            } else {
                "course_keys"
            };
            let msg = format!("'{k}' is not a valid course key.");
            let errors = json!({ field: [msg] });
            let detail = format!("{{{}: [{}]}}", py_repr_str(field), py_repr_str(&msg));
            return error(ST, Kind::Validation, 400, &detail, &req.path, Some(errors));
        }
    }
    let usernames = list("username", "username");
    let emails = list("email", "email");
    let state = shared.state();
    let m = state.email_matching();
    let mut rows: Vec<(u64, &String, &String, &super::state::Enrollment)> = state
        .enrollments
        .iter()
        .filter(|((_, c), _)| course_key.is_none_or(|want| c == want))
        .filter(|((_, c), _)| course_keys.is_empty() || course_keys.contains(c))
        .filter(|((u, _), _)| usernames.is_empty() || usernames.contains(u))
        .filter(|((u, _), _)| {
            emails.is_empty()
                || state
                    .user(u)
                    .is_some_and(|x| emails.iter().any(|e| m.eq(e, &x.email)))
        })
        .map(|((u, c), e)| (state.user(u).map(|x| x.id).unwrap_or(0), u, c, e))
        .collect();
    match req.q("ordering") {
        Some("created") => rows.sort_by_key(|r| (r.3.created, r.3.id)),
        Some("-created") => rows.sort_by_key(|r| std::cmp::Reverse((r.3.created, r.3.id))),
        Some("id") => rows.sort_by_key(|r| r.3.id),
        Some("-id") => rows.sort_by_key(|r| std::cmp::Reverse(r.3.id)),
        _ => rows.sort_by(|a, b| (a.0, a.2).cmp(&(b.0, b.2))), // Meta.ordering ('user', 'course')
    }
    let rows: Vec<Value> = rows
        .into_iter()
        .map(|(_, u, c, e)| enrollment_row_json(u, c, e))
        .collect();
    let resp = page_response(req, rows, 100);
    let mut used = Vec::new();
    if req.q("course_id").is_some() {
        used.push("Parameter 'course_id' is deprecated. Use 'course_key' instead.");
    }
    if req.q("course_ids").is_some() {
        used.push("Parameter 'course_ids' is deprecated. Use 'course_keys' instead.");
    }
    if used.is_empty() {
        resp
    } else {
        let header = format!(
            "{} Support will be removed in release '<release_name>'.",
            used.join(" ")
        );
        add_header(resp, "deprecation", &header)
    }
}

// ---------------------------------------------------------------------------
// enrollment_allowed action

/// A DRF field error: message + code (for the Python `repr` in `detail`).
type FieldErrors = Vec<(String, Vec<(String, &'static str)>)>;

fn char_field(v: Option<&Value>) -> Result<String, (String, &'static str)> {
    let s = match v {
        None => return Err(("This field is required.".to_owned(), "required")),
        Some(Value::Null) => return Err(("This field may not be null.".to_owned(), "null")),
        Some(Value::Bool(_)) | Some(Value::Array(_)) | Some(Value::Object(_)) => {
            return Err(("Not a valid string.".to_owned(), "invalid"))
        }
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::String(s)) => s.trim().to_owned(),
    };
    if s.is_empty() {
        return Err(("This field may not be blank.".to_owned(), "blank"));
    }
    if s.chars().count() > 255 {
        return Err((
            "Ensure this field has no more than 255 characters.".to_owned(),
            "max_length",
        ));
    }
    Ok(s)
}

fn bool_field(v: Option<&Value>) -> Result<bool, (String, &'static str)> {
    const T: &[&str] = &[
        "t", "T", "y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON", "1",
    ];
    const F: &[&str] = &[
        "f", "F", "n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF", "0",
    ];
    match v {
        None => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(Value::Null) => Err(("This field may not be null.".to_owned(), "null")),
        Some(Value::Number(n)) if n.as_i64() == Some(1) || n.as_f64() == Some(1.0) => Ok(true),
        Some(Value::Number(n)) if n.as_i64() == Some(0) || n.as_f64() == Some(0.0) => Ok(false),
        Some(Value::String(s)) if T.contains(&s.as_str()) => Ok(true),
        Some(Value::String(s)) if F.contains(&s.as_str()) => Ok(false),
        Some(_) => Err(("Must be a valid boolean.".to_owned(), "invalid")),
    }
}

fn validation_response(req: &Req, errors: FieldErrors) -> Response {
    // detail = str(serializer.errors): a Python dict of ErrorDetail lists.
    let detail = format!(
        "{{{}}}",
        errors
            .iter()
            .map(|(f, errs)| format!(
                "{}: [{}]",
                py_repr_str(f),
                errs.iter()
                    .map(|(m, c)| format!(
                        "ErrorDetail(string={}, code={})",
                        py_repr_str(m),
                        py_repr_str(c)
                    ))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut map = Map::new();
    for (f, errs) in &errors {
        map.insert(
            f.clone(),
            Value::Array(errs.iter().map(|(m, _)| Value::String(m.clone())).collect()),
        );
    }
    error(
        ST,
        Kind::Validation,
        400,
        &detail,
        &req.path,
        Some(Value::Object(map)),
    )
}

/// `GET|POST|DELETE /api/enrollment/v2/enrollment/enrollment_allowed/`:
/// `EnrollmentViewSet.allowed` (`@action(detail=False, methods=["get",
/// "post", "delete"], url_path="enrollment_allowed",
/// permission_classes=[IsAdminUser], pagination_class=None)`).
///
/// * GET `?email=` (default: caller's e-mail) → 200 plain JSON array.
/// * POST/DELETE validate the body with `CourseEnrollmentAllowedSerializer`
///   (ModelSerializer on `CourseEnrollmentAllowed`: `email` and `course_id`
///   required `CharField(max_length=255)`, `auto_enroll` optional boolean,
///   `user` optional pk) → 400 envelope whose `errors` holds the field errors.
///   Because the model has `unique_together = (email, course_id)`, DRF adds a
///   `UniqueTogetherValidator`: an existing row fails validation with
///   `non_field_errors: ["The fields email, course_id must make a unique
///   set."]` — so a duplicate POST is **400** (the 409 `Conflict` path only
///   fires on a race) and a DELETE of an **existing** row is also 400 (only
///   absent rows reach the delete, which then answers 404). Set
///   `EmulatorConfig::v2_allowed_unique_validator = false` to emulate the
///   intended behaviour instead (409 duplicate, 204 delete).
/// * POST success → 201 row; DELETE of an absent row → 404
///   `"An enrollment allowed with email <e> and course <c> doesn't exists."`.
fn allowed(shared: &Shared, req: &Req) -> Response {
    let caller = match staff_caller(shared, req) {
        Ok(u) => u,
        Err(r) => return r,
    };
    if let Err(r) = throttle(shared, req, true, Some(&caller)) {
        return r;
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
                let t = if data.is_array() { "list" } else { "str" };
                return validation_response(
                    req,
                    vec![(
                        "non_field_errors".to_owned(),
                        vec![(
                            format!("Invalid data. Expected a dictionary, but got {t}."),
                            "invalid",
                        )],
                    )],
                );
            };
            let mut errors: FieldErrors = Vec::new();
            let email = char_field(data.get("email"))
                .map_err(|e| errors.push(("email".to_owned(), vec![e])))
                .ok();
            let course_id = char_field(data.get("course_id"))
                .map_err(|e| errors.push(("course_id".to_owned(), vec![e])))
                .ok();
            let auto_enroll = bool_field(data.get("auto_enroll"))
                .map_err(|e| errors.push(("auto_enroll".to_owned(), vec![e])))
                .ok();
            let state_ro = shared.state();
            let user_id = match data.get("user") {
                None | Some(Value::Null) => None,
                Some(Value::Number(n))
                    if n.as_u64()
                        .is_some_and(|id| state_ro.user_by_id(id).is_some()) =>
                {
                    n.as_u64()
                }
                Some(Value::Number(n)) => {
                    errors.push((
                        "user".to_owned(),
                        vec![(
                            format!("Invalid pk \"{n}\" - object does not exist."),
                            "does_not_exist",
                        )],
                    ));
                    None
                }
                Some(other) => {
                    let t = match other {
                        Value::String(_) => "str",
                        Value::Bool(_) => "bool",
                        Value::Array(_) => "list",
                        _ => "dict",
                    };
                    errors.push((
                        "user".to_owned(),
                        vec![(
                            format!("Incorrect type. Expected pk value, received {t}."),
                            "incorrect_type",
                        )],
                    ));
                    None
                }
            };
            drop(state_ro);
            if !errors.is_empty() {
                return validation_response(req, errors);
            }
            let (Some(email), Some(course_id)) = (email, course_id) else {
                return internal(req);
            };
            if !is_valid_course_key(&course_id) {
                // CourseKeyField.get_prep_value raises InvalidKeyError (uncaught).
                return internal(req);
            }
            let mut state = shared.state();
            let exists = state.allowance(&email, &course_id).is_some();
            if exists && shared.config.v2_allowed_unique_validator {
                return validation_response(
                    req,
                    vec![(
                        "non_field_errors".to_owned(),
                        vec![(
                            "The fields email, course_id must make a unique set.".to_owned(),
                            "unique",
                        )],
                    )],
                );
            }
            if req.method == Method::POST {
                match state.add_allowance(&email, &course_id, auto_enroll.unwrap_or(false)) {
                    Some(mut row) => {
                        row.user_id = user_id;
                        if let Some(r) = state.allowances.iter_mut().find(|a| a.id == row.id) {
                            r.user_id = user_id;
                        }
                        json(201, allowance_json(&row))
                    }
                    None => error(
                        ST,
                        Kind::Conflict,
                        409,
                        &format!("An enrollment allowed with email {email} and course {course_id} already exists."),
                        &req.path,
                        None,
                    ),
                }
            } else if state.remove_allowance(&email, &course_id) {
                empty(204)
            } else {
                error(
                    ST,
                    Kind::NotFound,
                    404,
                    &format!("An enrollment allowed with email {email} and course {course_id} doesn't exists."),
                    &req.path,
                    None,
                )
            }
        }
        _ => not_allowed(req),
    }
}
