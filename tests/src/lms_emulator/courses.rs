//! Course metadata endpoints: the Course API (`/api/courses/v1/courses/`),
//! the courseware API (language), the instructor API v2 (enrollment counts)
//! and two Studio (CMS) endpoints (language, catalog visibility).

use axum::http::Method;
use axum::response::Response;
use serde_json::{json, Map, Value};

use super::auth::{authenticate, require_user, Authn};
use super::enrollment::enrollment_open;
use super::http::{
    detail, django_404, django_500, error, form_encode, is_deprecated_course_key,
    is_valid_course_key, json, key_org_number_run, match_course_key_pattern, replace_query_param,
    Kind, Req, Style, INVALID_TOKEN, NOT_AUTHENTICATED, PERMISSION_DENIED,
};
use super::server::Shared;
use super::state::{CourseInfo, LmsState, User};
use super::throttle::ThrottleClass;
use super::time::{month_ap, UtcTime};

const DEV: Style = Style::Developer;

fn opt_time(t: Option<UtcTime>) -> Value {
    t.map(|t| Value::String(t.iso())).unwrap_or(Value::Null)
}

fn start_display(c: &CourseInfo) -> (Value, &'static str) {
    match c.start {
        Some(t) => {
            let (y, m, d) = t.ymd();
            (
                Value::String(format!("{} {d}, {y}", month_ap(m))),
                "timestamp",
            )
        }
        None => (Value::Null, "empty"),
    }
}

/// `hidden` as `course_api/serializers.py` `CourseSerializer.get_hidden`
/// computes it: `catalog_visibility in ['about', 'none'] or
/// course_overview.id.deprecated` ("Old Mongo should be hidden"; verified on
/// the real LMS for an old-style key with visibility `both`).
pub(crate) fn course_api_hidden(course_id: &str, c: &CourseInfo) -> bool {
    c.hidden() || is_deprecated_course_key(course_id)
}

/// Can `viewer` (`None` = `AnonymousUser`) see that the course exists?
/// `has_access(user, 'see_exists', course)` (`COURSE_ABOUT_VISIBILITY_PERMISSION`
/// and `COURSE_CATALOG_VISIBILITY_PERMISSION` are both `'see_exists'` in
/// `lms/envs/common.py`): `lms/djangoapps/courseware/access.py`
/// `_has_access_course.see_exists` = `can_load() or can_enroll()`.
///
/// * `can_load`: an old-style key is refused outright (`OldMongoAccessError`,
///   before any staff check); then `check_course_open_for_learner` →
///   `access_utils.check_start_date`: with production's
///   `FEATURES['DISABLE_START_DATES'] = False`, only a course whose `start` is
///   unset or past (`now > start`); staff pass every non-deprecated check.
/// * `can_enroll`: [`enrollment_open`] (allowance, global staff, invitation-only
///   incl. every old-style key, window).
///
/// So anonymous callers do not see a course that has not started and whose
/// enrollment is not open yet, nor an old-style course; `catalog_visibility`
/// plays no part (a running `none` course is visible). Global staff see
/// everything (`can_enroll` grants staff; `check_course_access` also falls
/// back to `has_access(user, 'staff', …)`). Not emulated: beta testers'
/// `days_early_for_beta`, `visible_to_staff_only`, prerequisites, audit
/// expiry, course staff roles.
pub(crate) fn can_see_exists(
    state: &LmsState,
    viewer: Option<&User>,
    course_id: &str,
    c: &CourseInfo,
    now: UtcTime,
) -> bool {
    if viewer.is_some_and(|u| u.is_staff) {
        return true;
    }
    let can_load = !is_deprecated_course_key(course_id) && c.start.is_none_or(|s| now > s);
    can_load || enrollment_open(state, viewer, course_id, c)
}

/// `lms/djangoapps/course_api/serializers.py` `CourseSerializer` (list) /
/// `CourseDetailSerializer` (detail adds `overview`); `hidden` see
/// [`course_api_hidden`]. `blocks_url` = `reverse('blocks_in_course')`, which
/// resolves to the **v2** route (`course_api/blocks/urls.py` names both
/// `v1/blocks/` and `v2/blocks/` `blocks_in_course`; the last one wins);
/// `start_display` in Django's `"N j, Y"` ("Nov. 23, 2026"). Both verified.
fn course_api_json(req: &Req, course_id: &str, c: &CourseInfo, detail: bool) -> Value {
    let origin = req.origin();
    let (org, number, run) = key_org_number_run(course_id);
    let asset = format!("/asset-v1:{org}+{number}+{run}+type@asset+block@images_course_image.jpg");
    let (start_display, start_type) = start_display(c);
    let blocks_url = format!(
        "{origin}/api/courses/v2/blocks/?{}",
        form_encode(&[("course_id".to_owned(), course_id.to_owned())])
    );
    let mut v = json!({
        "blocks_url": blocks_url,
        "effort": c.effort,
        "end": opt_time(c.end),
        "enrollment_start": opt_time(c.enrollment_start),
        "enrollment_end": opt_time(c.enrollment_end),
        "id": course_id,
        "media": {
            "banner_image": { "uri": asset, "uri_absolute": format!("{origin}{asset}") },
            "course_image": { "uri": asset },
            "course_video": { "uri": null },
            "image": {
                "raw": format!("{origin}{asset}"),
                "small": format!("{origin}{asset}"),
                "large": format!("{origin}{asset}"),
            },
        },
        "name": c.name,
        "number": number,
        "org": org,
        "short_description": c.short_description,
        "start": opt_time(c.start),
        "start_display": start_display,
        "start_type": start_type,
        "pacing": if c.self_paced { "self" } else { "instructor" },
        "mobile_available": c.mobile_available,
        "hidden": course_api_hidden(course_id, c),
        "invitation_only": c.invitation_only,
        "course_id": course_id,
    });
    if detail {
        v["overview"] = Value::String(c.overview.clone());
    }
    v
}

/// `course_api/api.py` `get_effective_user` + `forms.UsernameValidatorMixin`:
/// `username` absent/empty → anonymous; equal to the caller → caller; another
/// user → only for staff (else 403); unknown → 404 "User matching query does
/// not exist.". `Ok(None)` = anonymous.
fn effective_user(
    state: &LmsState,
    caller: Option<&User>,
    username: Option<&str>,
) -> Result<Option<User>, Response> {
    let Some(name) = username.filter(|u| !u.is_empty()) else {
        return Ok(None);
    };
    if caller.is_some_and(|c| c.username == name) {
        return Ok(caller.cloned());
    }
    if !caller.is_some_and(|c| c.is_staff || c.is_superuser) {
        return Err(error(
            DEV,
            Kind::PermissionDenied,
            403,
            PERMISSION_DENIED,
            "",
            None,
        ));
    }
    match state.user(name) {
        Some(u) => Ok(Some(u.clone())),
        None => Err(error(
            DEV,
            Kind::NotFound,
            404,
            "User matching query does not exist.",
            "",
            None,
        )),
    }
}

/// `/api/courses/v1/courses/…` (`lms/djangoapps/course_api/urls.py`).
pub(crate) fn course_api(shared: &Shared, req: &Req, rest: &str) -> Response {
    // Both views: @view_auth_classes(is_authenticated=False) → JWT accepted,
    // anonymous allowed; DeveloperErrorViewMixin bodies.
    let caller = match authenticate(shared, req) {
        Authn::User(u) => Some(u),
        Authn::Anonymous => None,
        Authn::Invalid => {
            return error(
                DEV,
                Kind::AuthenticationFailed,
                401,
                INVALID_TOKEN,
                &req.path,
                None,
            )
        }
    };
    if rest.is_empty() {
        return course_list(shared, req, caller.as_ref());
    }
    match match_course_key_pattern(rest) {
        Some(key) => course_detail(shared, req, caller.as_ref(), key),
        None => django_404(),
    }
}

/// `GET /api/courses/v1/courses/{course_key}/`: `CourseDetailView`
/// (`course_api/views.py`). re_path `^v1/courses/{COURSE_KEY_PATTERN}` is not
/// anchored, so the trailing slash is optional. Unparseable key → 400
/// `{"field_errors": {"course_key": {"developer_message": "'<k>' is not a valid
/// course key."}}}`; unknown course → 404 `{"developer_message": "Course not
/// found."}` (`get_course_overview_with_access` → `Http404`), and so is a
/// course the effective user may not see ([`can_see_exists`] for
/// `COURSE_ABOUT_VISIBILITY_PERMISSION = 'see_exists'`; the refusal is
/// `courseware_access_exception.py` `CoursewareAccessException`, an `Http404`
/// "Course not found."). The effective user is `?username=`'s user; without
/// it **`AnonymousUser`, even when a valid staff JWT is sent**
/// (`course_api/api.py` `get_effective_user`: `target_username == ''`).
/// `?username=` adds `is_enrolled` (caller = that user, or staff;
/// `CourseDetailSerializer.to_representation`). No throttle
/// (`CourseDetailView` declares none and `DEFAULT_THROTTLE_CLASSES` is unset;
/// verified: 60 calls in a row all 200).
fn course_detail(shared: &Shared, req: &Req, caller: Option<&User>, key: &str) -> Response {
    if req.method != Method::GET {
        return error(
            DEV,
            Kind::Other,
            405,
            &format!("Method \"{}\" not allowed.", req.method),
            "",
            None,
        );
    }
    if !is_valid_course_key(key) {
        return json(
            400,
            json!({ "field_errors": { "course_key": { "developer_message": format!("'{key}' is not a valid course key.") } } }),
        );
    }
    let state = shared.state();
    let target = match effective_user(&state, caller, req.q("username")) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let Some(c) = state.course(key) else {
        return error(DEV, Kind::NotFound, 404, "Course not found.", "", None);
    };
    if !can_see_exists(&state, target.as_ref(), key, c, UtcTime::now()) {
        return error(DEV, Kind::NotFound, 404, "Course not found.", "", None);
    }
    let mut v = course_api_json(req, key, c, true);
    if let Some(t) = target {
        v["is_enrolled"] = Value::Bool(
            state
                .enrollment(&t.username, key)
                .is_some_and(|e| e.is_active),
        );
    }
    json(200, v)
}

/// `GET /api/courses/v1/courses/`: `CourseListView` (`course_api/views.py`)
/// with `CourseListPageNumberPagination` (`LazyPageNumberPagination` on
/// edx-drf-extensions `NamespacedPageNumberPagination`): `{"results": [...],
/// "pagination": {"next", "previous", "count", "num_pages"}}`, `page_size` =
/// `REST_FRAMEWORK['PAGE_SIZE']` = 10, `?page_size=` capped at `max_page_size
/// = 100`. Filters emulated: `org` (case-insensitive), `course_keys` (comma
/// list), `active_only` (end unset or in the future); then `courseware/courses.py`
/// `get_courses` keeps the courses [`can_see_exists`] grants to the effective
/// user (`?username=`'s, else `AnonymousUser` — even with a staff JWT).
/// Order: by course id (`get_visible_courses` … `.order_by('id')`).
///
/// `CourseListUserThrottle` (staff 40/minute, user 20/minute) on the caller's
/// shared history; its 429 is `{"developer_message": "Request was throttled.
/// Expected available in N seconds."}` **without** `Retry-After`
/// (`DeveloperErrorViewMixin`; verified).
///
/// Pagination of the lazily filtered sequence ([`lazy_page`]).
fn course_list(shared: &Shared, req: &Req, caller: Option<&User>) -> Response {
    if let Err(t) = shared.throttle(req, ThrottleClass::CourseList, caller, false) {
        return t.respond(DEV, &req.path);
    }
    if req.method != Method::GET && req.method != Method::POST {
        return error(
            DEV,
            Kind::Other,
            405,
            &format!("Method \"{}\" not allowed.", req.method),
            "",
            None,
        );
    }
    let state = shared.state();
    let viewer = match effective_user(&state, caller, req.q("username")) {
        Ok(viewer) => viewer,
        Err(r) => return r,
    };
    let org = req
        .q("org")
        .filter(|s| !s.is_empty())
        .map(str::to_lowercase);
    let keys: Vec<String> = req
        .q("course_keys")
        .map(|v| {
            v.split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default();
    for k in &keys {
        if !is_valid_course_key(k) {
            return json(
                400,
                json!({ "field_errors": { "course_keys": { "developer_message": format!("'{k}' is not a valid course key.") } } }),
            );
        }
    }
    let active_only = req
        .q("active_only")
        .is_some_and(|v| matches!(v.to_lowercase().as_str(), "true" | "1" | "on"));
    let now = UtcTime::now();
    let queryset: Vec<(&String, &CourseInfo)> = state
        .courses
        .iter()
        .filter(|(id, _)| {
            org.as_ref()
                .is_none_or(|o| key_org_number_run(id).0.to_lowercase() == *o)
        })
        .filter(|(id, _)| keys.is_empty() || keys.contains(id))
        .filter(|(_, c)| !active_only || c.end.is_none_or(|e| e > now))
        .collect();
    let estimate = queryset.len();
    let visible: Vec<(&String, &CourseInfo)> = queryset
        .into_iter()
        .filter(|(id, c)| can_see_exists(&state, viewer.as_ref(), id, c, now))
        .collect();
    let Some(page) = lazy_page(req, estimate, visible.len(), 10, 100) else {
        return error(DEV, Kind::NotFound, 404, "Invalid page.", "", None);
    };
    let results: Vec<Value> = visible[page.start..page.end]
        .iter()
        .map(|(id, c)| course_api_json(req, id, c, false))
        .collect();
    json(
        200,
        json!({
            "results": results,
            "pagination": {
                "next": page.next,
                "previous": page.previous,
                "count": page.count,
                "num_pages": page.num_pages,
            },
        }),
    )
}

/// One page of the course list.
struct LazyPage {
    start: usize,
    end: usize,
    count: usize,
    num_pages: usize,
    next: Value,
    previous: Value,
}

/// `LazyPageNumberPagination` over `get_courses`' `LazySequence`
/// (`openedx/core/lib/api/view_utils.py`) whose length is *estimated* as the
/// queryset count before the access filter (`est_len=courses.count()`), with
/// Django's `Paginator` (`orphans=0`, `allow_empty_first_page`) and DRF's
/// `PageNumberPagination` (`get_page_size`: positive `?page_size=`, else the
/// default, capped at `max`).
///
/// `paginate_queryset` validates `?page=` (an integer ≥ 1, or `last`) against
/// the estimate and slices `[bottom:top]` (`top` capped at the estimate), which
/// reads the sequence up to `top + 1` items; only when that exhausts it does the
/// sequence know its real length. `get_paginated_response` then drops the
/// cached `count`/`num_pages`, so `count` = the number of visible courses if
/// the sequence was exhausted, **else the pre-filter estimate**, and validates
/// `?page=` again against the recomputed `num_pages` (a page past the visible
/// ones → 404; `?page=last` is not an integer there → always 404). `next` /
/// `previous` use the recomputed pages. (Read only, not run: when no course is
/// filtered out — staff with `username`, the usual case — this is plain
/// page-number pagination.)
fn lazy_page(
    req: &Req,
    estimate: usize,
    visible: usize,
    default_size: usize,
    max: usize,
) -> Option<LazyPage> {
    let page_size = req
        .q("page_size")
        .and_then(|s| s.trim().parse::<i64>().ok())
        .filter(|n| *n > 0)
        .map(|n| (n as usize).min(max))
        .unwrap_or(default_size);
    let num_pages = |count: usize| count.max(1).div_ceil(page_size);
    // Paginator.validate_number: int(number); < 1 → EmptyPage; > num_pages
    // (except page 1 of an empty list) → EmptyPage.
    let validate = |raw: &str, pages: usize| -> Option<usize> {
        let n = raw.trim().parse::<i64>().ok()?;
        (n >= 1 && (n as usize <= pages || n == 1)).then_some(n as usize)
    };
    let raw = req.q("page");
    let number = match raw {
        None => 1,
        Some("last") => num_pages(estimate),
        Some(p) => validate(p, num_pages(estimate))?,
    };
    let bottom = (number - 1) * page_size;
    let top = (bottom + page_size).min(estimate);
    let exhausted = visible <= top;
    let count = if exhausted { visible } else { estimate };
    let pages = num_pages(count);
    validate(raw.unwrap_or("1"), pages)?;
    let link = |n: usize| {
        let value = (n > 1).then(|| n.to_string());
        Value::String(req.absolute_url(&replace_query_param(&req.query, "page", value)))
    };
    Some(LazyPage {
        start: bottom.min(visible),
        end: top.min(visible),
        count,
        num_pages: pages,
        next: if number < pages {
            link(number + 1)
        } else {
            Value::Null
        },
        previous: if number > 1 {
            link(number - 1)
        } else {
            Value::Null
        },
    })
}

/// `GET /api/courseware/course/{course_key}[?requested_fields=a,b]`:
/// `openedx/core/djangoapps/courseware_api/views.py` `CoursewareInformation`
/// (`CourseInfoSerializer`). The one LMS REST API that exposes the course
/// **`language`** (`CoursewareMeta.language` = modulestore `course.language`;
/// added by openedx/edx-platform#34392, merged 2024-03-19). Auth
/// JWT/Bearer/Session, no permission class (anonymous allowed); DRF default
/// error bodies. A staff caller may pass `?username=` (masquerade). Emulated
/// subset of fields: `id, name, language, start, end, enrollment_start,
/// enrollment_end, invitation_only, pacing, is_course_full, can_enroll,
/// enrollment{mode,is_active}, display_number_with_default,
/// display_org_with_default, short_description, start_display, start_type`.
pub(crate) fn courseware(shared: &Shared, req: &Req, rest: &str) -> Response {
    let caller = match authenticate(shared, req) {
        Authn::User(u) => Some(u),
        Authn::Anonymous => None,
        Authn::Invalid => {
            return error(
                Style::Drf,
                Kind::AuthenticationFailed,
                401,
                INVALID_TOKEN,
                &req.path,
                None,
            )
        }
    };
    let Some(key) = match_course_key_pattern(rest) else {
        return django_404();
    };
    if req.method != Method::GET {
        return super::http::method_not_allowed(&req.method);
    }
    if !is_valid_course_key(key) {
        return django_500();
    }
    let state = shared.state();
    let username = match &caller {
        Some(c) if c.is_staff => req
            .q("username")
            .filter(|u| !u.is_empty())
            .unwrap_or(&c.username)
            .to_owned(),
        Some(c) => c.username.clone(),
        None => String::new(),
    };
    let Some(c) = state.course(key) else {
        return detail(404, "Course not found.");
    };
    let effective = state.user(&username).cloned();
    let (org, number, _) = key_org_number_run(key);
    let enrollment = effective
        .as_ref()
        .and_then(|u| state.enrollment(&u.username, key));
    let is_full = c
        .max_student_enrollments
        .is_some_and(|m| state.active_enrollment_count(key) >= m as usize);
    let can_enroll = effective
        .as_ref()
        .is_some_and(|u| super::enrollment::enrollment_open(&state, Some(u), key, c))
        && !is_full;
    let (start_display, start_type) = start_display(c);
    let full = json!({
        "id": key,
        "name": c.name,
        "language": c.language,
        "start": opt_time(c.start),
        "end": opt_time(c.end),
        "enrollment_start": opt_time(c.enrollment_start),
        "enrollment_end": opt_time(c.enrollment_end),
        "invitation_only": c.invitation_only,
        "pacing": if c.self_paced { "self" } else { "instructor" },
        "is_course_full": is_full,
        "can_enroll": can_enroll,
        "enrollment": {
            "mode": enrollment.as_ref().map(|e| e.mode.clone()),
            "is_active": enrollment.as_ref().is_some_and(|e| e.is_active),
        },
        "display_number_with_default": number,
        "display_org_with_default": org,
        "short_description": c.short_description,
        "effort": c.effort,
        "start_display": start_display,
        "start_type": start_type,
    });
    match req.q("requested_fields") {
        Some(fields) => {
            let wanted: Vec<&str> = fields.split(',').map(str::trim).collect();
            let mut out = Map::new();
            if let Value::Object(all) = full {
                for (k, v) in all {
                    if wanted.contains(&k.as_str()) {
                        out.insert(k, v);
                    }
                }
            }
            json(200, Value::Object(out))
        }
        None => json(200, full),
    }
}

/// `GET /api/instructor/v2/courses/{course_id}`:
/// `lms/djangoapps/instructor/views/api_v2.py` `CourseMetadataView`
/// (`serializers_v2.py` `CourseInformationSerializerV2`; added by
/// openedx/edx-platform#37588, Nov 2025 — master only here). Permission
/// `IsAuthenticated` + `InstructorPermission(VIEW_DASHBOARD)` (global staff
/// qualifies); `DeveloperErrorViewMixin` bodies. Gives the **enrollment
/// count**: `total_enrollment` = active enrollments, `enrollment_counts` =
/// `{"total": n, <configured mode>: k, …}` (all configured modes, zero
/// included, per issue #38006). Unknown course → 404 `{"developer_message":
/// "Course not found: <key>."}` (`openedx/core/lib/courses.py` `get_course_by_id`).
pub(crate) fn instructor_v2(shared: &Shared, req: &Req, rest: &str) -> Response {
    let key = rest.strip_suffix('/').unwrap_or(rest);
    if match_course_key_pattern(key) != Some(key) {
        return django_404();
    }
    let caller = match require_user(shared, req, DEV, false) {
        Ok(Some(u)) => u,
        Ok(None) => {
            return error(
                DEV,
                Kind::NotAuthenticated,
                401,
                NOT_AUTHENTICATED,
                "",
                None,
            )
        }
        Err(r) => return r,
    };
    if !caller.is_staff {
        return error(
            DEV,
            Kind::PermissionDenied,
            403,
            PERMISSION_DENIED,
            "",
            None,
        );
    }
    if req.method != Method::GET {
        return error(
            DEV,
            Kind::Other,
            405,
            &format!("Method \"{}\" not allowed.", req.method),
            "",
            None,
        );
    }
    if !is_valid_course_key(key) {
        return django_500();
    }
    let state = shared.state();
    let Some(c) = state.course(key) else {
        return error(
            DEV,
            Kind::NotFound,
            404,
            &format!("Course not found: {key}."),
            "",
            None,
        );
    };
    let now = UtcTime::now();
    let active: Vec<&super::state::Enrollment> = state
        .enrollments
        .iter()
        .filter(|((_, cid), e)| cid == key && e.is_active)
        .map(|(_, e)| e)
        .collect();
    let mut counts = Map::new();
    counts.insert("total".to_owned(), json!(active.len()));
    for m in c.effective_modes(true, now) {
        let n = active.iter().filter(|e| e.mode == m.slug).count();
        counts.insert(m.slug.clone(), json!(n));
    }
    let (org, number, _) = key_org_number_run(key);
    json(
        200,
        json!({
            "course_id": key,
            "display_name": c.name,
            "org": org,
            "course_number": number,
            "enrollment_start": opt_time(c.enrollment_start),
            "enrollment_end": opt_time(c.enrollment_end),
            "start": opt_time(c.start),
            "end": opt_time(c.end),
            "pacing": if c.self_paced { "self" } else { "instructor" },
            "has_started": c.start.is_some_and(|s| s <= now),
            "has_ended": c.end.is_some_and(|e| e <= now),
            "total_enrollment": active.len(),
            "enrollment_counts": counts,
            "num_sections": 0,
            "grade_cutoffs": "",
            "course_errors": [],
            "permissions": {
                "admin": caller.is_superuser, "instructor": true, "finance_admin": false, "sales_admin": false,
                "staff": true, "forum_admin": false, "data_researcher": false,
            },
            "tabs": [],
            "disable_buttons": false,
        }),
    )
}

fn cms_guard<'a>(shared: &Shared, req: &Req, rest: &'a str) -> Result<&'a str, Response> {
    let key = rest.strip_suffix('/').unwrap_or(rest);
    if match_course_key_pattern(key) != Some(key) {
        return Err(django_404());
    }
    let caller = match require_user(shared, req, DEV, false)? {
        Some(u) => u,
        None => {
            return Err(error(
                DEV,
                Kind::NotAuthenticated,
                401,
                NOT_AUTHENTICATED,
                "",
                None,
            ))
        }
    };
    if req.method != Method::GET {
        return Err(error(
            DEV,
            Kind::Other,
            405,
            &format!("Method \"{}\" not allowed.", req.method),
            "",
            None,
        ));
    }
    if !caller.is_staff {
        return Err(error(
            DEV,
            Kind::PermissionDenied,
            403,
            PERMISSION_DENIED,
            "",
            None,
        ));
    }
    if !is_valid_course_key(key) || shared.state().course(key).is_none() {
        // cms/djangoapps/contentstore/rest_api/v0|v1 `@verify_course_exists()`
        return Err(json(
            404,
            json!({ "developer_message": format!("Unknown course {key}"), "error_code": "course_does_not_exist" }),
        ));
    }
    Ok(key)
}

/// **Studio (CMS) host** `GET /api/contentstore/v1/course_details/{course_id}`:
/// `cms/djangoapps/contentstore/rest_api/v1/views/course_details.py`
/// `CourseDetailsView` (`CourseDetailsSerializer` of
/// `openedx/core/djangoapps/models/course_details.py` `CourseDetails`;
/// note `course_id` there is the course *number*). Needs Studio read access
/// (global staff). Emulated subset: `org, course_id, run, language,
/// start_date, end_date, enrollment_start, enrollment_end, self_paced,
/// short_description, overview, effort`.
pub(crate) fn cms_course_details(shared: &Shared, req: &Req, rest: &str) -> Response {
    let key = match cms_guard(shared, req, rest) {
        Ok(k) => k,
        Err(r) => return r,
    };
    let state = shared.state();
    let Some(c) = state.course(key) else {
        return django_404();
    };
    let (org, number, run) = key_org_number_run(key);
    json(
        200,
        json!({
            "org": org,
            "course_id": number,
            "run": run,
            "language": c.language,
            "start_date": opt_time(c.start),
            "end_date": opt_time(c.end),
            "enrollment_start": opt_time(c.enrollment_start),
            "enrollment_end": opt_time(c.enrollment_end),
            "self_paced": c.self_paced,
            "short_description": c.short_description,
            "overview": c.overview,
            "effort": c.effort,
        }),
    )
}

/// **Studio (CMS) host** `GET /api/contentstore/v0/advanced_settings/{course_id}`:
/// `cms/djangoapps/contentstore/rest_api/v0/views/advanced_settings.py`
/// `AdvancedCourseSettingsView`: every advanced setting as `{value,
/// display_name, help, deprecated, hide_on_enabled_publisher}`. The one REST
/// source of the exact **`catalog_visibility`** string (`both|about|none`;
/// the LMS Course API only has the `hidden` boolean). Emulated subset:
/// `catalog_visibility`, `invitation_only`, `max_student_enrollments_allowed`.
pub(crate) fn cms_advanced_settings(shared: &Shared, req: &Req, rest: &str) -> Response {
    let key = match cms_guard(shared, req, rest) {
        Ok(k) => k,
        Err(r) => return r,
    };
    let state = shared.state();
    let Some(c) = state.course(key) else {
        return django_404();
    };
    let setting = |value: Value, name: &str| json!({ "value": value, "display_name": name, "help": "", "deprecated": false, "hide_on_enabled_publisher": false });
    json(
        200,
        json!({
            "catalog_visibility": setting(json!(c.catalog_visibility.as_str()), "Course Visibility In Catalog"),
            "invitation_only": setting(json!(c.invitation_only), "Invitation Only"),
            "max_student_enrollments_allowed": setting(json!(c.max_student_enrollments), "Maximum Student Enrollment"),
        }),
    )
}

/// `GET /api/course_modes/v1/courses/{course_id}/`:
/// `common/djangoapps/course_modes/rest_api/v1/views.py` `CourseModesView`
/// (`re_path(fr'^courses/{COURSE_ID_PATTERN}/$')`, trailing slash required;
/// `pagination_class = None`; no throttle). Permission
/// `JWT_RESTRICTED_APPLICATION_OR_USER_ACCESS` (edx-drf-extensions
/// `permissions.py`): authenticated and (`is_staff` or `?username=` the
/// caller) → else 401 / 403 (DRF bodies). Body: every `CourseMode` row of the
/// course, expired ones included, in row order, as `rest_api/serializers.py`
/// `CourseModeSerializer` renders them: `course_id, mode_slug,
/// mode_display_name, min_price, currency, expiration_datetime,
/// expiration_datetime_is_explicit, description, sku, bulk_sku`. A course
/// without mode rows (the emulator's `modes: vec![]`, which the other APIs
/// answer with the implicit `audit` default) and an unknown course are both
/// `[]`; an unparseable key fails in `CourseKey.from_string` → 500. The mode
/// detail route `…/{course_id}/{mode_slug}` is not emulated (404). Read only
/// (source, not run).
pub(crate) fn course_modes(shared: &Shared, req: &Req, rest: &str) -> Response {
    let Some(key) = match_course_key_pattern(rest).filter(|k| rest.len() == k.len() + 1) else {
        return django_404();
    };
    if !rest.ends_with('/') {
        return django_404();
    }
    let caller = match require_user(shared, req, Style::Drf, false) {
        Ok(Some(u)) => u,
        Ok(None) => {
            return error(
                Style::Drf,
                Kind::NotAuthenticated,
                401,
                NOT_AUTHENTICATED,
                &req.path,
                None,
            )
        }
        Err(r) => return r,
    };
    let in_url = req.q("username").unwrap_or("").to_lowercase();
    if !caller.is_staff && caller.username.to_lowercase() != in_url {
        return error(
            Style::Drf,
            Kind::PermissionDenied,
            403,
            PERMISSION_DENIED,
            &req.path,
            None,
        );
    }
    if req.method != Method::GET {
        return super::http::method_not_allowed(&req.method);
    }
    if !is_valid_course_key(key) {
        return django_500();
    }
    let state = shared.state();
    let rows: Vec<Value> = state
        .course(key)
        .map(|c| {
            c.modes
                .iter()
                .map(|m| {
                    json!({
                        "course_id": key,
                        "mode_slug": m.slug,
                        "mode_display_name": m.name,
                        "min_price": m.min_price,
                        "currency": m.currency,
                        "expiration_datetime": opt_time(m.expiration_datetime),
                        "expiration_datetime_is_explicit": m.expiration_datetime.is_some(),
                        "description": m.description,
                        "sku": m.sku,
                        "bulk_sku": m.bulk_sku,
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    json(200, Value::Array(rows))
}
