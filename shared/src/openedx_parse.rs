//! What the Open edX LMS's REST answers mean, without HTTP: body bytes in, plain data out.
//!
//! The REST adapter ([`crate::openedx`], feature `adapters`) calls these once it has
//! the status it expected; the `course_catalog` fuzz target checks their properties on
//! arbitrary bytes. Nothing here panics, whatever the body.
//!
//! Course API (edx-platform `lms/djangoapps/course_api/`: `views.py` `CourseListView`,
//! `CourseDetailView`; `serializers.py` `CourseSerializer`; pagination
//! `LazyPageNumberPagination` = edx-drf-extensions `NamespacedPageNumberPagination`):
//! * detail: `{"id", "name", "start", "end", "enrollment_start", "enrollment_end",
//!   "hidden", …}` (dates as ISO-8601 strings or `null`; validated by the forwarder's
//!   payload builder, which owns the format Richie wants);
//! * list: `{"results": [detail, …], "pagination": {"next", "previous", "count",
//!   "num_pages"}}` (plain DRF puts `next`/`count` at the top level: accepted too).
//!
//! Enrollment side (the webhook; fuzzed by the `lms_responses` target):
//! * token: `POST /oauth2/access_token` → `{"access_token", "expires_in", "token_type", …}`
//!   (`openedx/core/djangoapps/oauth_dispatch/views.py` `AccessTokenView`);
//! * user by email: `GET /api/user/v1/accounts?email=` → a list of accounts (an object
//!   on some releases) (`user_api/accounts/views.py` `AccountViewSet.list`);
//! * enroll: `POST /api/enrollment/v1/enrollment` → the enrollment, with `is_active`;
//! * allowances: `GET …/enrollment_allowed/?email=` → a list of `{course_id, auto_enroll, …}`;
//! * batched course check: `GET /api/courses/v1/courses/?course_keys=` → the list page.

use std::time::Duration;

use serde_json::Value;

/// An answer whose shape is not the documented one (`LmsError::InvalidResponse`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ParseError(pub String);

fn json(body: &[u8]) -> Result<Value, ParseError> {
    serde_json::from_slice(body).map_err(|e| ParseError(e.to_string()))
}

fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_owned)
}

fn is_blank(s: &str) -> bool {
    s.trim().is_empty()
}

/// A course run as the Richie forwarder needs it (re-exported as
/// `openedx::CourseRun`). The parsers here fill the course API's fields (a list row
/// or the detail answer); language, enrollment count and exact visibility may be
/// replaced from other endpoints, when configured.
///
/// Invariants as parsed: `course_id` is not blank; every other field is the object's
/// value as sent when it has the expected JSON type (string, bool, unsigned integer),
/// else `None`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CourseRun {
    pub course_id: String,
    pub name: Option<String>,
    pub start: Option<String>,
    pub end: Option<String>,
    pub enrollment_start: Option<String>,
    pub enrollment_end: Option<String>,
    /// Course language code from the LMS, if exposed.
    pub language: Option<String>,
    /// Open edX `catalog_visibility` (`both`, `about`, `none`) if known.
    pub catalog_visibility: Option<String>,
    /// `hidden` flag of the course API (`catalog_visibility` in `about`/`none`).
    pub hidden: Option<bool>,
    pub enrollment_count: Option<u64>,
}

/// One page of the course list.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CourseListPage {
    /// The rows with a usable (non-blank string) `id`, in the LMS's order; other rows
    /// are skipped.
    pub courses: Vec<CourseRun>,
    /// `page + 1` when the LMS announces a next page (never past `u32::MAX`).
    pub next_page: Option<u32>,
    /// The LMS's `count`, when it sends one.
    pub total: Option<u64>,
}

/// One course API object → its [`CourseRun`]. The object's own `id` wins; a missing or blank
/// one falls back to `fallback_id` (the id that was asked for). `None` when `v` is not
/// an object or no usable id is left.
pub fn course_run_from_json(v: &Value, fallback_id: &str) -> Option<CourseRun> {
    if !v.is_object() {
        return None;
    }
    let course_id = match text(v, "id").filter(|id| !is_blank(id)) {
        Some(id) => id,
        None if !is_blank(fallback_id) => fallback_id.to_owned(),
        None => return None,
    };
    Some(CourseRun {
        course_id,
        name: text(v, "name"),
        start: text(v, "start"),
        end: text(v, "end"),
        enrollment_start: text(v, "enrollment_start"),
        enrollment_end: text(v, "enrollment_end"),
        language: text(v, "language"),
        catalog_visibility: text(v, "catalog_visibility"),
        hidden: v.get("hidden").and_then(Value::as_bool),
        enrollment_count: v.get("enrollment_count").and_then(Value::as_u64),
    })
}

/// A 200 of `GET /api/courses/v1/courses/{id}/`. An answer that is not a JSON object
/// is an error, never an empty course (that would clear every date in Richie).
pub fn parse_course_detail(body: &[u8], requested_id: &str) -> Result<CourseRun, ParseError> {
    let v = json(body)?;
    if !v.is_object() {
        return Err(ParseError("course detail is not a JSON object".into()));
    }
    course_run_from_json(&v, requested_id).ok_or_else(|| ParseError("course without an id".into()))
}

/// A 200 of `GET /api/courses/v1/courses/?page={page}`. An answer without a `results`
/// list is an error (a resync must not end silently on a page it did not understand).
pub fn parse_course_list(body: &[u8], page: u32) -> Result<CourseListPage, ParseError> {
    let v = json(body)?;
    let rows = v
        .get("results")
        .and_then(Value::as_array)
        .ok_or_else(|| ParseError("course list without a results list".into()))?;
    let courses = rows
        .iter()
        .filter_map(|row| course_run_from_json(row, ""))
        .collect();
    let pagination = v.get("pagination").filter(|p| p.is_object()).unwrap_or(&v);
    let has_next = pagination.get("next").is_some_and(|n| !n.is_null());
    Ok(CourseListPage {
        courses,
        next_page: if has_next { page.checked_add(1) } else { None },
        total: pagination.get("count").and_then(Value::as_u64),
    })
}

/// A 200 of `GET /api/courseware/course/{id}?requested_fields=language`: the course
/// language, `None` when absent or blank.
pub fn parse_courseware_language(body: &[u8]) -> Result<Option<String>, ParseError> {
    Ok(text(&json(body)?, "language").filter(|l| !is_blank(l)))
}

/// A 200 of `GET /api/instructor/v2/courses/{id}`: `total_enrollment`, if a count.
pub fn parse_total_enrollment(body: &[u8]) -> Result<Option<u64>, ParseError> {
    Ok(json(body)?.get("total_enrollment").and_then(Value::as_u64))
}

/// A 200 of Studio's `GET /api/contentstore/v0/advanced_settings/{id}`: the value of
/// the `catalog_visibility` setting (`{"catalog_visibility": {"value": "both", …}}`).
pub fn parse_cms_catalog_visibility(body: &[u8]) -> Result<Option<String>, ParseError> {
    Ok(json(body)?
        .get("catalog_visibility")
        .and_then(|s| s.get("value"))
        .and_then(Value::as_str)
        .map(str::to_owned))
}

/// One page of `GET /api/enrollment/v1/enrollments?course_id=` (cursor pagination).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EnrollmentsPage {
    /// Rows with `"is_active": true` (never more than the page's rows).
    pub active: u64,
    /// The `next` URL, as sent (the caller extracts the cursor).
    pub next: Option<String>,
}

/// A 200 of the staff enrollments list.
pub fn parse_enrollments_page(body: &[u8]) -> Result<EnrollmentsPage, ParseError> {
    let page = json(body)?;
    let active = page
        .get("results")
        .and_then(Value::as_array)
        .map(|rows| {
            rows.iter()
                .filter(|r| r.get("is_active").and_then(Value::as_bool) == Some(true))
                .count() as u64
        })
        .unwrap_or(0);
    Ok(EnrollmentsPage {
        active,
        next: text(&page, "next"),
    })
}

/// A 404 from Django's URL resolver (no such route on this release: an HTML page, or
/// anything but a JSON object) rather than from the view (a JSON object: unknown course).
pub fn route_missing(status: u16, body: &[u8]) -> bool {
    status == 404
        && serde_json::from_slice::<Value>(body)
            .map(|v| !v.is_object())
            .unwrap_or(true)
}

/// Token lifetime when the LMS does not say (`OAUTH2_PROVIDER['ACCESS_TOKEN_EXPIRE_SECONDS']`
/// defaults to one hour).
pub const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(3600);
/// Longest lifetime believed: a token is fetched again after a day whatever the LMS
/// says (and an absurd `expires_in` cannot overflow the refresh deadline).
pub const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// An OAuth2 access token and how long it may be used.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken {
    /// Non-empty, visible ASCII only: safe to put in an `Authorization` header.
    pub value: String,
    /// At most [`MAX_TOKEN_LIFETIME`].
    pub lifetime: Duration,
}

impl std::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessToken")
            .field("value", &"<redacted>")
            .field("lifetime", &self.lifetime)
            .finish()
    }
}

/// A 200 of the token endpoint. `expires_in` absent or `null` means
/// [`DEFAULT_TOKEN_LIFETIME`]; anything but a whole number of seconds is an error, as is
/// a token that could not travel in a header. Error texts never quote the body.
pub fn parse_token(body: &[u8]) -> Result<AccessToken, ParseError> {
    let v: Value = serde_json::from_slice(body).map_err(|e| {
        ParseError(format!(
            "token answer is not JSON (line {}, column {})",
            e.line(),
            e.column()
        ))
    })?;
    let value = v
        .get("access_token")
        .and_then(Value::as_str)
        .ok_or_else(|| ParseError("token answer without an access_token string".into()))?;
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ParseError(
            "access_token is empty or not visible ASCII".into(),
        ));
    }
    let lifetime = match v.get("expires_in") {
        None | Some(Value::Null) => DEFAULT_TOKEN_LIFETIME,
        Some(n) => n
            .as_u64()
            .map(|secs| Duration::from_secs(secs).min(MAX_TOKEN_LIFETIME))
            .ok_or_else(|| ParseError("expires_in is not a whole number of seconds".into()))?,
    };
    Ok(AccessToken {
        value: value.to_owned(),
        lifetime,
    })
}

/// A learner account found by email (re-exported as `openedx::LmsUser`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LmsUser {
    /// Not blank.
    pub username: String,
    /// `is_active` when it is a boolean, else `true` (the list only shows accounts).
    pub is_active: bool,
}

/// A 200 of the accounts list: the first account, `None` for an empty list (or any
/// answer that is neither a list nor an object). An account without a usable
/// `username` is an error, never a user called "".
pub fn parse_account(body: &[u8]) -> Result<Option<LmsUser>, ParseError> {
    let v = json(body)?;
    let first = match &v {
        Value::Array(items) => items.first(),
        Value::Object(_) => Some(&v),
        _ => None,
    };
    let Some(account) = first else {
        return Ok(None);
    };
    let username = text(account, "username")
        .filter(|u| !is_blank(u))
        .ok_or_else(|| ParseError("account without username".into()))?;
    let is_active = account
        .get("is_active")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    Ok(Some(LmsUser {
        username,
        is_active,
    }))
}

/// A 200/201 of the enrollment POST: is the enrollment active? Only an explicit
/// `"is_active": false` says no (the view answers with the serialised enrollment).
pub fn parse_enrollment_active(body: &[u8]) -> Result<bool, ParseError> {
    Ok(json(body)?.get("is_active").and_then(Value::as_bool) != Some(false))
}

/// A 200 of the allowance list for one email: the `auto_enroll` flag of the first row
/// for `course_id` (`true` when the row does not say), `None` when there is no such
/// row (or the answer is not a list).
pub fn parse_allowance_auto_enroll(
    body: &[u8],
    course_id: &str,
) -> Result<Option<bool>, ParseError> {
    let rows = json(body)?;
    Ok(rows
        .as_array()
        .and_then(|rows| {
            rows.iter()
                .find(|r| r.get("course_id").and_then(Value::as_str) == Some(course_id))
        })
        .map(|row| {
            row.get("auto_enroll")
                .and_then(Value::as_bool)
                .unwrap_or(true)
        }))
}

/// The course ids in a course-list page (`{"results": [{"id": ...}, ...]}`,
/// `course_api/serializers.py` `CourseSerializer`); `None` if the shape is not that.
pub fn parse_listed_course_ids(body: &[u8]) -> Option<Vec<String>> {
    let page: Value = serde_json::from_slice(body).ok()?;
    let results = page.get("results")?.as_array()?;
    Some(
        results
            .iter()
            .filter_map(|course| {
                course
                    .get("id")
                    .or_else(|| course.get("course_id"))
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const DETAIL: &str = r#"{"id": "course-v1:edX+DemoX+2030", "name": "Demo", "start": "2030-01-01T00:00:00Z",
        "end": null, "enrollment_start": "2029-12-01T00:00:00Z", "enrollment_end": null,
        "hidden": false, "pacing": "instructor", "media": {}}"#;

    #[test]
    fn detail_reads_the_course_serializer_fields() {
        let f = parse_course_detail(DETAIL.as_bytes(), "course-v1:edX+DemoX+2030").unwrap();
        assert_eq!(
            f,
            CourseRun {
                course_id: "course-v1:edX+DemoX+2030".into(),
                name: Some("Demo".into()),
                start: Some("2030-01-01T00:00:00Z".into()),
                enrollment_start: Some("2029-12-01T00:00:00Z".into()),
                hidden: Some(false),
                ..CourseRun::default()
            }
        );
        // Fields of the wrong type are absent, not errors.
        let f = parse_course_detail(
            br#"{"start": 5, "hidden": "yes", "enrollment_count": -1, "language": "fr"}"#,
            "course-v1:a+b+c",
        )
        .unwrap();
        assert_eq!(f.course_id, "course-v1:a+b+c");
        assert_eq!((f.start, f.hidden, f.enrollment_count), (None, None, None));
        assert_eq!(f.language.as_deref(), Some("fr"));
    }

    #[test]
    fn detail_ids_are_never_blank() {
        let f = parse_course_detail(br#"{"id": "  "}"#, "course-v1:a+b+c").unwrap();
        assert_eq!(f.course_id, "course-v1:a+b+c");
        for (body, requested) in [
            (&br#"{"id": ""}"#[..], ""),
            (br#"{}"#, " "),
            (br#"[]"#, "course-v1:a+b+c"),
            (br#"null"#, "course-v1:a+b+c"),
            (b"<html>", "course-v1:a+b+c"),
        ] {
            assert!(parse_course_detail(body, requested).is_err(), "{body:?}");
        }
    }

    #[test]
    fn list_pages() {
        let body = format!(
            r#"{{"results": [{DETAIL}, {{"id": ""}}, {{"name": "no id"}}, 7, {{"id": "course-v1:o+c+r"}}],
                "pagination": {{"next": "http://lms/api/courses/v1/courses/?page=3", "previous": null, "count": 25, "num_pages": 3}}}}"#
        );
        let page = parse_course_list(body.as_bytes(), 2).unwrap();
        let ids: Vec<&str> = page.courses.iter().map(|c| c.course_id.as_str()).collect();
        assert_eq!(ids, ["course-v1:edX+DemoX+2030", "course-v1:o+c+r"]);
        assert_eq!((page.next_page, page.total), (Some(3), Some(25)));
        // Plain DRF pagination at the top level; last page.
        let page = parse_course_list(br#"{"count": 1, "next": null, "results": []}"#, 1).unwrap();
        assert_eq!(
            page,
            CourseListPage {
                total: Some(1),
                ..CourseListPage::default()
            }
        );
        // No page after u32::MAX.
        let page = parse_course_list(br#"{"next": "x", "results": []}"#, u32::MAX).unwrap();
        assert_eq!(page.next_page, None);
        for body in [&b"{}"[..], br#"{"results": {}}"#, b"[]", b"nope"] {
            assert!(parse_course_list(body, 1).is_err(), "{body:?}");
        }
    }

    #[test]
    fn optional_lookups() {
        assert_eq!(
            parse_courseware_language(br#"{"language": "fr"}"#),
            Ok(Some("fr".into()))
        );
        assert_eq!(parse_courseware_language(br#"{"language": " "}"#), Ok(None));
        assert_eq!(
            parse_courseware_language(br#"{"language": null}"#),
            Ok(None)
        );
        assert!(parse_courseware_language(b"<html>").is_err());
        assert_eq!(
            parse_total_enrollment(br#"{"total_enrollment": 42}"#),
            Ok(Some(42))
        );
        assert_eq!(
            parse_total_enrollment(br#"{"total_enrollment": "42"}"#),
            Ok(None)
        );
        assert_eq!(
            parse_cms_catalog_visibility(
                br#"{"catalog_visibility": {"value": "about", "deprecated": false}}"#
            ),
            Ok(Some("about".into()))
        );
        assert_eq!(
            parse_cms_catalog_visibility(br#"{"catalog_visibility": "about"}"#),
            Ok(None)
        );
        assert_eq!(
            parse_enrollments_page(
                br#"{"next": "http://lms/x?cursor=abc", "results": [{"is_active": true}, {"is_active": false}, {}]}"#
            ),
            Ok(EnrollmentsPage { active: 1, next: Some("http://lms/x?cursor=abc".into()) })
        );
        assert_eq!(
            parse_enrollments_page(b"[]"),
            Ok(EnrollmentsPage::default())
        );
    }

    #[test]
    fn missing_routes_answer_html() {
        assert!(route_missing(
            404,
            b"<!DOCTYPE html><title>Page not found</title>"
        ));
        assert!(route_missing(404, b""));
        assert!(route_missing(404, b"[]"));
        assert!(!route_missing(404, br#"{"detail": "Not found."}"#));
        assert!(!route_missing(200, b"<html>"));
    }

    #[test]
    fn tokens() {
        let t = parse_token(br#"{"access_token": "eyJ.a-b_c.d", "expires_in": 36000, "token_type": "JWT", "scope": "read write"}"#).unwrap();
        assert_eq!(
            (t.value.as_str(), t.lifetime),
            ("eyJ.a-b_c.d", Duration::from_secs(36000))
        );
        assert!(!format!("{t:?}").contains("eyJ"));
        assert_eq!(
            parse_token(br#"{"access_token": "t", "expires_in": null}"#)
                .unwrap()
                .lifetime,
            DEFAULT_TOKEN_LIFETIME
        );
        assert_eq!(
            parse_token(br#"{"access_token": "t"}"#).unwrap().lifetime,
            DEFAULT_TOKEN_LIFETIME
        );
        // Would overflow `Instant::now() + lifetime`.
        assert_eq!(
            parse_token(br#"{"access_token": "t", "expires_in": 18446744073709551615}"#)
                .unwrap()
                .lifetime,
            MAX_TOKEN_LIFETIME
        );
        assert_eq!(
            parse_token(br#"{"access_token": "t", "expires_in": 0}"#)
                .unwrap()
                .lifetime,
            Duration::ZERO
        );
        for body in [
            &br#"{"access_token": ""}"#[..],
            br#"{"access_token": "a b"}"#,
            br#"{"access_token": "a\nX-Injected: 1"}"#,
            br#"{"access_token": "t\u00e9"}"#,
            br#"{"access_token": 5}"#,
            br#"{"access_token": "t", "expires_in": 3600.5}"#,
            br#"{"access_token": "t", "expires_in": -1}"#,
            br#"{"access_token": "t", "expires_in": "3600"}"#,
            br#"[]"#,
            b"<html>secret-ish</html>",
        ] {
            let err = parse_token(body).unwrap_err().0;
            assert!(
                !err.contains("secret-ish") && !err.contains("Injected"),
                "{err}"
            );
        }
    }

    #[test]
    fn accounts() {
        let ada = LmsUser {
            username: "ada".into(),
            is_active: true,
        };
        assert_eq!(
            parse_account(br#"[{"username": "ada", "email": "a@x"}, {"username": "b"}]"#),
            Ok(Some(ada.clone()))
        );
        assert_eq!(
            parse_account(br#"{"username": "ada", "is_active": "yes"}"#),
            Ok(Some(ada))
        );
        assert_eq!(
            parse_account(br#"[{"username": "bob", "is_active": false}]"#),
            Ok(Some(LmsUser {
                username: "bob".into(),
                is_active: false
            }))
        );
        assert_eq!(parse_account(b"[]"), Ok(None));
        assert_eq!(parse_account(b"null"), Ok(None));
        for body in [
            &br#"[{"username": ""}]"#[..],
            br#"[{"username": 1}]"#,
            br#"[7]"#,
            br#"{}"#,
            b"<html>",
        ] {
            assert!(parse_account(body).is_err(), "{body:?}");
        }
    }

    #[test]
    fn enrollments_and_allowances() {
        assert_eq!(
            parse_enrollment_active(br#"{"is_active": true, "mode": "audit"}"#),
            Ok(true)
        );
        assert_eq!(parse_enrollment_active(br#"{"mode": "audit"}"#), Ok(true));
        assert_eq!(
            parse_enrollment_active(br#"{"is_active": false}"#),
            Ok(false)
        );
        assert!(parse_enrollment_active(b"").is_err());
        let rows = br#"[{"course_id": "course-v1:a+b+c", "auto_enroll": false}, {"course_id": "course-v1:a+b+d"}, {"course_id": "course-v1:a+b+c", "auto_enroll": true}]"#;
        assert_eq!(
            parse_allowance_auto_enroll(rows, "course-v1:a+b+c"),
            Ok(Some(false))
        );
        assert_eq!(
            parse_allowance_auto_enroll(rows, "course-v1:a+b+d"),
            Ok(Some(true))
        );
        assert_eq!(
            parse_allowance_auto_enroll(rows, "course-v1:x+y+z"),
            Ok(None)
        );
        assert_eq!(
            parse_allowance_auto_enroll(br#"{"results": []}"#, "c"),
            Ok(None)
        );
        assert!(parse_allowance_auto_enroll(b"<html>", "c").is_err());
        assert_eq!(
            parse_listed_course_ids(
                br#"{"results": [{"id": "a"}, {"course_id": "b"}, {"id": 5}, 3]}"#
            ),
            Some(vec!["a".to_owned(), "b".to_owned()])
        );
        assert_eq!(parse_listed_course_ids(br#"{"results": {}}"#), None);
    }
}
