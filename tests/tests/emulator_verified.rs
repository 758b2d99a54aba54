//! Contract tests of the LMS emulator for the behaviours measured on the real
//! openedx-platform LMS (b95b37e3, master 2025-11-27, production settings) on the
//! conformance tier: Course API visibility, throttles, and the enrollment POST
//! edge cases. Rows marked "read only" in CONTRACT.md (derived from the source,
//! not run) are tested here too and say so.

use std::time::Duration;

use edx_hooks_tests::lms_emulator::{
    CatalogVisibility, CourseInfo, CourseModeInfo, EmulatorConfig, LmsEmulator, Rate, ScopedRates,
    Throttling, UtcTime, COURSES_PATH, COURSE_MODES_PREFIX, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET,
    DEMO_COURSE, DEMO_LEARNER, DEMO_SERVICE_USER, ENROLLMENTS_LIST_PATH,
    ENROLLMENT_ALLOWED_V1_PATH, ENROLLMENT_COURSE_DETAIL_PREFIX, ENROLLMENT_PATH,
    ENROLLMENT_V2_PATH, TOKEN_PATH,
};
use reqwest::{Client, Method, Response, StatusCode};
use serde_json::{json, Value};

const UPCOMING: &str = "course-v1:EdxHooksX+UPCOMING301+2027";
const HIDDEN: &str = "course-v1:OtherU+HIDDEN701+2026";
const ABOUT: &str = "course-v1:OtherU+ABOUT801+2026";
const OLD_STYLE: &str = "EdxHooksX/OLD901/2025";
const VERIFIED_ONLY: &str = "course-v1:EdxHooksX+VERIFIED601+2026";
const PROFESSIONAL_ONLY: &str = "course-v1:ThirdU+PROF110+2026";
const FULL: &str = "course-v1:EdxHooksX+FULL501+2026";
const OPEN: &str = "course-v1:EdxHooksX+OPEN101+2026";
const FULL_HOLDER: &str = "full_holder";
const VERIFIED_LEARNER: &str = "verified_vera";

struct Ctx {
    lms: LmsEmulator,
    http: Client,
    staff: String,
}

/// A running course (started 10 days ago, enrollment open) with these modes.
fn running(name: &str, modes: &[&str]) -> CourseInfo {
    CourseInfo {
        start: Some(UtcTime::days_from_now(-10)),
        end: Some(UtcTime::days_from_now(365)),
        enrollment_start: Some(UtcTime::days_from_now(-30)),
        enrollment_end: Some(UtcTime::days_from_now(300)),
        modes: modes.iter().map(|m| CourseModeInfo::new(m, m)).collect(),
        ..CourseInfo::named(name)
    }
}

/// The emulator with courses shaped like the conformance tier's seed.
async fn setup(config: EmulatorConfig) -> Ctx {
    let lms = LmsEmulator::start(EmulatorConfig {
        seed_demo: true,
        ..config
    })
    .await;
    {
        let mut s = lms.state();
        s.add_course(OPEN, running("Open Course", &["audit", "verified"]));
        s.add_course(
            UPCOMING,
            CourseInfo {
                start: Some(UtcTime::days_from_now(40)),
                end: Some(UtcTime::days_from_now(200)),
                enrollment_start: Some(UtcTime::days_from_now(30)),
                enrollment_end: Some(UtcTime::days_from_now(90)),
                ..running("Upcoming Course", &["audit", "verified"])
            },
        );
        s.add_course(
            FULL,
            CourseInfo {
                max_student_enrollments: Some(1),
                ..running("Full Course", &["audit", "verified"])
            },
        );
        s.add_course(VERIFIED_ONLY, running("Verified Only", &["verified"]));
        s.add_course(
            HIDDEN,
            CourseInfo {
                catalog_visibility: CatalogVisibility::None,
                ..running("Hidden Course", &["audit", "verified"])
            },
        );
        s.add_course(
            ABOUT,
            CourseInfo {
                catalog_visibility: CatalogVisibility::About,
                ..running("About-Only Course", &["audit", "verified"])
            },
        );
        s.add_course(OLD_STYLE, running("Old-Style Key", &["honor"]));
        s.add_course(
            PROFESSIONAL_ONLY,
            running("Professional Course", &["no-id-professional"]),
        );
        for name in [FULL_HOLDER, VERIFIED_LEARNER, "alice", "bob"] {
            s.add_user(name, &format!("{name}@learners.test"), false, true);
        }
        s.add_enrollment(FULL_HOLDER, FULL, "audit", true);
        s.add_enrollment(VERIFIED_LEARNER, OPEN, "verified", true);
    }
    let http = Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    let staff = token(&lms, &http, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET).await;
    Ctx { lms, http, staff }
}

async fn token(lms: &LmsEmulator, http: &Client, id: &str, secret: &str) -> String {
    let resp = http
        .post(lms.url(TOKEN_PATH))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", id),
            ("client_secret", secret),
            ("token_type", "jwt"),
        ])
        .send()
        .await
        .expect("token request");
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.expect("token json");
    body["access_token"].as_str().expect("token").to_owned()
}

impl Ctx {
    async fn learner_token(&self) -> String {
        self.lms
            .state()
            .add_oauth_client("learner-app", "learner-secret", DEMO_LEARNER);
        token(&self.lms, &self.http, "learner-app", "learner-secret").await
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Response {
        let mut rb = self.http.request(method, self.lms.url(path));
        if let Some(t) = token {
            rb = rb.header("Authorization", format!("JWT {t}"));
        }
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        rb.send().await.expect("request")
    }

    async fn get(&self, path: &str, token: Option<&str>) -> (StatusCode, Value) {
        status_json(self.call(Method::GET, path, token, None).await).await
    }

    async fn enroll(&self, body: Value) -> (StatusCode, Value) {
        status_json(
            self.call(Method::POST, ENROLLMENT_PATH, Some(&self.staff), Some(body))
                .await,
        )
        .await
    }
}

async fn status_json(resp: Response) -> (StatusCode, Value) {
    let status = resp.status();
    let text = resp.text().await.expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn detail_path(course: &str) -> String {
    format!("{COURSES_PATH}{course}/")
}

fn keys_query(courses: &[&str]) -> String {
    courses
        .iter()
        .map(|c| c.replace('+', "%2B").replace('/', "%2F"))
        .collect::<Vec<_>>()
        .join(",")
}

fn not_found() -> (StatusCode, Value) {
    (
        StatusCode::NOT_FOUND,
        json!({ "developer_message": "Course not found." }),
    )
}

/// `{"user", "course_details": {"course_id"}, "is_active": true, "force_enrollment": true}`,
/// what the webhook sends.
fn forced(user: &str, course: &str) -> Value {
    json!({
        "user": user,
        "course_details": { "course_id": course },
        "is_active": true,
        "force_enrollment": true,
    })
}

// ---------------------------------------------------------------------------
// Course API visibility (verified)

#[tokio::test]
async fn course_detail_is_evaluated_for_the_anonymous_user_without_username() {
    let c = setup(EmulatorConfig::default()).await;
    // Not started, enrollment not open: 404 anonymously, also with a staff JWT.
    assert_eq!(c.get(&detail_path(UPCOMING), None).await, not_found());
    assert_eq!(
        c.get(&detail_path(UPCOMING), Some(&c.staff)).await,
        not_found()
    );
    // With the global staff user's username: 200 and `is_enrolled`.
    let (status, body) = c
        .get(
            &format!("{}?username={DEMO_SERVICE_USER}", detail_path(UPCOMING)),
            Some(&c.staff),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["id"], UPCOMING);
    assert_eq!(body["is_enrolled"], false);
    assert_eq!(body["hidden"], false);

    // Running and hidden from the catalog: visible to anonymous callers, `hidden`.
    for course in [HIDDEN, ABOUT] {
        let (status, body) = c.get(&detail_path(course), None).await;
        assert_eq!(status, 200, "{course}: {body}");
        assert_eq!(body["hidden"], true, "{course}");
        assert!(body.get("is_enrolled").is_none());
    }

    // Old-style key, visibility "both", running, open enrollment: can_load refuses
    // Old Mongo courses and can_enroll counts them as invitation-only → 404
    // anonymously; staff with username → 200, `hidden` because deprecated.
    assert_eq!(c.get(&detail_path(OLD_STYLE), None).await, not_found());
    let (status, body) = c
        .get(
            &format!("{}?username={DEMO_SERVICE_USER}", detail_path(OLD_STYLE)),
            Some(&c.staff),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["hidden"], true);
    assert_eq!(body["is_enrolled"], false);

    // An unknown course is the same 404.
    assert_eq!(
        c.get(&detail_path("course-v1:EdxHooksX+NOPE999+2026"), None)
            .await,
        not_found()
    );
}

#[tokio::test]
async fn course_object_links_the_v2_blocks_api_and_abbreviates_months() {
    let c = setup(EmulatorConfig::default()).await;
    for (start, shown) in [
        ("2026-11-23T06:18:47Z", "Nov. 23, 2026"),
        ("2026-09-01T00:00:00Z", "Sept. 1, 2026"),
        ("2026-03-05T00:00:00Z", "March 5, 2026"),
    ] {
        c.lms.state().course_mut(OPEN).unwrap().start = Some(UtcTime::at(start));
        let (status, body) = c.get(&detail_path(OPEN), None).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["start_display"], shown);
        assert_eq!(
            body["blocks_url"],
            c.lms
                .url("/api/courses/v2/blocks/?course_id=course-v1%3AEdxHooksX%2BOPEN101%2B2026")
        );
    }
}

#[tokio::test]
async fn see_exists_is_can_load_or_can_enroll() {
    // Read only (source, not run) beyond the measured cases above.
    let c = setup(EmulatorConfig::default()).await;
    let starts_later_enrolls_now = "course-v1:Org+EarlyBird+2027";
    let started_enrollment_closed = "course-v1:Org+Closed+2026";
    let upcoming_invite_only = "course-v1:Org+Invite+2027";
    {
        let mut s = c.lms.state();
        s.add_course(
            starts_later_enrolls_now,
            CourseInfo {
                start: Some(UtcTime::days_from_now(40)),
                ..running("Early bird", &[])
            },
        );
        s.add_course(
            started_enrollment_closed,
            CourseInfo {
                enrollment_end: Some(UtcTime::days_from_now(-1)),
                ..running("Closed", &[])
            },
        );
        s.add_course(
            upcoming_invite_only,
            CourseInfo {
                start: Some(UtcTime::days_from_now(40)),
                invitation_only: true,
                ..running("Invite", &[])
            },
        );
    }
    // can_enroll (window open) suffices; can_load (started) suffices.
    for course in [starts_later_enrolls_now, started_enrollment_closed] {
        assert_eq!(c.get(&detail_path(course), None).await.0, 200, "{course}");
    }
    assert_eq!(
        c.get(&detail_path(upcoming_invite_only), None).await,
        not_found()
    );
    // A learner looking at themselves: same rules; an allowance grants can_enroll.
    let learner = c.learner_token().await;
    let own = format!(
        "{}?username={DEMO_LEARNER}",
        detail_path(upcoming_invite_only)
    );
    assert_eq!(c.get(&own, Some(&learner)).await, not_found());
    c.lms
        .state()
        .add_allowance("learner@example.com", upcoming_invite_only, false);
    let (status, body) = c.get(&own, Some(&learner)).await;
    assert_eq!(
        (status, body["is_enrolled"].clone()),
        (StatusCode::OK, json!(false))
    );
}

#[tokio::test]
async fn course_list_applies_the_same_visibility_per_course() {
    let c = setup(EmulatorConfig::default()).await;
    let all = [OPEN, UPCOMING, HIDDEN, ABOUT, OLD_STYLE];
    let ids = |body: &Value| -> Vec<String> {
        body["results"]
            .as_array()
            .map(|rows| {
                rows.iter()
                    .filter_map(|r| r["id"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let query = format!("{COURSES_PATH}?course_keys={}", keys_query(&all));
    // Anonymous (here with the staff JWT but no username): no upcoming, no old-style.
    let (status, anonymous) = c.get(&query, Some(&c.staff)).await;
    assert_eq!(status, 200, "{anonymous}");
    let mut want = vec![OPEN, HIDDEN, ABOUT];
    want.sort();
    assert_eq!(ids(&anonymous), want);
    assert_eq!(anonymous["pagination"]["count"], 3);
    // Staff with username: everything, `hidden` as get_hidden computes it.
    let (status, staff) = c
        .get(
            &format!("{query}&username={DEMO_SERVICE_USER}"),
            Some(&c.staff),
        )
        .await;
    assert_eq!(status, 200, "{staff}");
    let mut want = all.to_vec();
    want.sort();
    assert_eq!(ids(&staff), want);
    for row in staff["results"].as_array().unwrap() {
        let hidden = [HIDDEN, ABOUT, OLD_STYLE].contains(&row["id"].as_str().unwrap());
        assert_eq!(row["hidden"], hidden, "{}", row["id"]);
    }
}

#[tokio::test]
async fn course_list_page_size_is_capped_at_100() {
    let c = setup(EmulatorConfig::default()).await;
    {
        let mut s = c.lms.state();
        for i in 0..120 {
            s.add_course(&format!("course-v1:Many+C{i:03}+run"), running("Many", &[]));
        }
    }
    let (status, body) = c
        .get(
            &format!("{COURSES_PATH}?org=Many&page_size=500&username={DEMO_SERVICE_USER}"),
            Some(&c.staff),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["results"].as_array().map(Vec::len), Some(100));
    assert_eq!(body["pagination"]["count"], 120);
    assert_eq!(body["pagination"]["num_pages"], 2);
    assert!(body["pagination"]["next"]
        .as_str()
        .is_some_and(|n| n.contains("page=2") && n.contains("page_size=500")));
}

#[tokio::test]
async fn course_list_counts_like_a_lazy_sequence() {
    // Read only (source, not run): LazyPageNumberPagination's count is the
    // pre-filter estimate until the page read exhausts the filtered sequence.
    let c = setup(EmulatorConfig::default()).await;
    {
        let mut s = c.lms.state();
        for i in 0..10 {
            s.add_course(&format!("course-v1:Lazy+A{i:02}+run"), running("A", &[]));
        }
        for i in 0..3 {
            s.add_course(
                &format!("course-v1:Lazy+U{i:02}+run"),
                CourseInfo {
                    start: Some(UtcTime::days_from_now(40)),
                    enrollment_start: Some(UtcTime::days_from_now(30)),
                    ..CourseInfo::named("U")
                },
            );
        }
    }
    let page = |n: &str| format!("{COURSES_PATH}?org=Lazy&page_size=5&page={n}");
    let (status, p1) = c.get(&page("1"), None).await;
    assert_eq!(status, 200);
    assert_eq!(p1["results"].as_array().map(Vec::len), Some(5));
    assert_eq!(
        (
            p1["pagination"]["count"].clone(),
            p1["pagination"]["num_pages"].clone()
        ),
        (json!(13), json!(3)),
        "estimate before the access filter"
    );
    let (status, p2) = c.get(&page("2"), None).await;
    assert_eq!(status, 200);
    assert_eq!(p2["results"].as_array().map(Vec::len), Some(5));
    assert_eq!(
        (
            p2["pagination"]["count"].clone(),
            p2["pagination"]["num_pages"].clone()
        ),
        (json!(10), json!(2)),
        "exhausted: the real count"
    );
    assert_eq!(p2["pagination"]["next"], Value::Null);
    let invalid = (
        StatusCode::NOT_FOUND,
        json!({ "developer_message": "Invalid page." }),
    );
    assert_eq!(c.get(&page("3"), None).await, invalid);
    assert_eq!(c.get(&page("last"), None).await, invalid);
}

// ---------------------------------------------------------------------------
// Throttles (verified)

fn retry_after(resp: &Response) -> Option<u64> {
    resp.headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

#[tokio::test]
async fn enrollment_course_detail_is_throttled_per_ip_ignoring_the_jwt() {
    let c = setup(EmulatorConfig::default()).await;
    let path = format!("{ENROLLMENT_COURSE_DETAIL_PREFIX}{DEMO_COURSE}");
    for i in 0..40 {
        // Half of them with the staff JWT: authentication_classes = [] ignores it.
        let token = (i % 2 == 0).then_some(c.staff.as_str());
        assert_eq!(
            c.call(Method::GET, &path, token, None).await.status(),
            200,
            "call {i}"
        );
    }
    let resp = c.call(Method::GET, &path, Some(&c.staff), None).await;
    assert_eq!(retry_after(&resp), Some(60));
    assert_eq!(
        status_json(resp).await,
        (
            StatusCode::TOO_MANY_REQUESTS,
            json!({ "detail": "Request was throttled. Expected available in 60 seconds." })
        )
    );
    // Not the staff bucket: the staff user's own enrollment calls still pass.
    let own = format!("{ENROLLMENT_PATH}/{DEMO_SERVICE_USER},{DEMO_COURSE}");
    assert_eq!(
        c.call(Method::GET, &own, Some(&c.staff), None)
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn staff_enrollment_views_and_course_list_share_one_history() {
    let c = setup(EmulatorConfig::default()).await;
    let lookup = format!("{ENROLLMENT_PATH}/alice,{DEMO_COURSE}");
    // 13 enrollment calls of several views (one bucket: throttle_staff_<pk>).
    for i in 0..13 {
        let resp = match i % 3 {
            0 => c.call(Method::GET, &lookup, Some(&c.staff), None).await,
            1 => {
                c.call(
                    Method::POST,
                    ENROLLMENT_PATH,
                    Some(&c.staff),
                    Some(forced("alice", DEMO_COURSE)),
                )
                .await
            }
            _ => {
                c.call(
                    Method::GET,
                    ENROLLMENT_ALLOWED_V1_PATH,
                    Some(&c.staff),
                    None,
                )
                .await
            }
        };
        assert_eq!(resp.status(), 200, "call {i}");
    }
    // The course list (40/min for staff) allows 27 more, then 429 without Retry-After.
    let list = format!("{COURSES_PATH}?username={DEMO_SERVICE_USER}");
    for i in 0..27 {
        assert_eq!(c.get(&list, Some(&c.staff)).await.0, 200, "list call {i}");
    }
    let resp = c.call(Method::GET, &list, Some(&c.staff), None).await;
    assert_eq!(
        retry_after(&resp),
        None,
        "DeveloperErrorViewMixin drops the header"
    );
    let (status, body) = status_json(resp).await;
    assert_eq!(status, 429);
    let msg = body["developer_message"]
        .as_str()
        .expect("developer_message");
    assert!(
        msg.starts_with("Request was throttled. Expected available in ")
            && msg.ends_with(" seconds."),
        "{body}"
    );
    // The refused list call was not recorded: enrollment allows 80 more (120 in all).
    for i in 0..80 {
        assert_eq!(
            c.call(Method::GET, &lookup, Some(&c.staff), None)
                .await
                .status(),
            200,
            "enrollment call {i}"
        );
    }
    let resp = c.call(Method::GET, &lookup, Some(&c.staff), None).await;
    let wait = retry_after(&resp).expect("Retry-After");
    assert!((1..=60).contains(&wait), "{wait}");
    assert_eq!(
        status_json(resp).await,
        (
            StatusCode::TOO_MANY_REQUESTS,
            json!({ "detail": format!("Request was throttled. Expected available in {wait} seconds.") })
        )
    );
    // The enrollments list (DeveloperErrorViewMixin) shares it too.
    let (status, body) = c.get(ENROLLMENTS_LIST_PATH, Some(&c.staff)).await;
    assert_eq!(status, 429);
    assert!(body["developer_message"].is_string(), "{body}");
    // Read only: the course list now sees 120 > 40 entries, so DRF's wait has
    // no positive divisor and the message carries no time.
    assert_eq!(
        c.get(&list, Some(&c.staff)).await,
        (
            StatusCode::TOO_MANY_REQUESTS,
            json!({ "developer_message": "Request was throttled." })
        )
    );
    // The course detail API has no throttle (verified: 60 calls in a row).
    for i in 0..60 {
        let path = format!("{}?username={DEMO_SERVICE_USER}", detail_path(DEMO_COURSE));
        assert_eq!(c.get(&path, Some(&c.staff)).await.0, 200, "detail call {i}");
    }
}

#[tokio::test]
async fn non_staff_users_have_the_user_scope() {
    let c = setup(EmulatorConfig::default()).await;
    let learner = c.learner_token().await;
    let list = format!("{COURSES_PATH}?username={DEMO_LEARNER}");
    for i in 0..20 {
        assert_eq!(c.get(&list, Some(&learner)).await.0, 200, "list call {i}");
    }
    assert_eq!(c.get(&list, Some(&learner)).await.0, 429);
    // throttle_user_<pk>: 20 recorded, the enrollment views allow 20 more (40/min).
    let own = format!("{ENROLLMENT_PATH}/{DEMO_LEARNER},{DEMO_COURSE}");
    for i in 0..20 {
        assert_eq!(
            c.get(&own, Some(&learner)).await.0,
            200,
            "enrollment call {i}"
        );
    }
    let (status, body) = c.get(&own, Some(&learner)).await;
    assert_eq!(status, 429, "{body}");
    // Another user's bucket is untouched.
    assert_eq!(c.get(&own, Some(&c.staff)).await.0, 200);
}

#[tokio::test]
async fn refused_requests_are_not_recorded_and_the_window_slides() {
    // Short rates, real clock (the emulator has no controllable clock).
    let c = setup(EmulatorConfig {
        throttling: Throttling {
            enrollment: ScopedRates {
                user: Rate::per_second(3),
                staff: Rate::per_second(3),
            },
            ..Throttling::default()
        },
        ..EmulatorConfig::default()
    })
    .await;
    let own = format!("{ENROLLMENT_PATH}/{DEMO_SERVICE_USER},{DEMO_COURSE}");
    for _ in 0..3 {
        assert_eq!(c.get(&own, Some(&c.staff)).await.0, 200);
    }
    tokio::time::sleep(Duration::from_millis(600)).await;
    for _ in 0..3 {
        let resp = c.call(Method::GET, &own, Some(&c.staff), None).await;
        assert_eq!(resp.status(), 429);
        assert_eq!(retry_after(&resp), Some(1));
        assert_eq!(
            status_json(resp).await.1,
            json!({ "detail": "Request was throttled. Expected available in 1 second." })
        );
    }
    // The three allowed calls leave the window; the refused ones, 0.6 s
    // younger, would still be in it had they been recorded.
    tokio::time::sleep(Duration::from_millis(550)).await;
    for _ in 0..3 {
        assert_eq!(
            c.get(&own, Some(&c.staff)).await.0,
            200,
            "refusals were not recorded"
        );
    }
}

#[tokio::test]
async fn api_key_bypasses_and_rate_limit_configuration_lifts_the_enrollment_throttle() {
    let c = setup(EmulatorConfig {
        api_key: Some("key".into()),
        ..EmulatorConfig::default()
    })
    .await;
    let path = format!("{ENROLLMENT_COURSE_DETAIL_PREFIX}{DEMO_COURSE}");
    for i in 0..45 {
        let resp = c
            .http
            .get(c.lms.url(&path))
            .header("X-Edx-Api-Key", "key")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "call {i}");
    }
    // The key's calls were not recorded either.
    assert_eq!(c.call(Method::GET, &path, None, None).await.status(), 200);

    // RateLimitConfiguration disabled: the @can_disable_rate_limit views run
    // unthrottled; EnrollmentAllowedView and the course list do not care.
    c.lms.set_throttling(Throttling {
        rate_limit_configuration: false,
        ..Throttling::default()
    });
    let lookup = format!("{ENROLLMENT_PATH}/alice,{DEMO_COURSE}");
    for i in 0..130 {
        assert_eq!(c.get(&lookup, Some(&c.staff)).await.0, 200, "call {i}");
    }
    // Those were not recorded: the course list has its 40, then
    // EnrollmentAllowedView the remaining 80 of 120.
    for i in 0..40 {
        assert_eq!(
            c.get(COURSES_PATH, Some(&c.staff)).await.0,
            200,
            "list call {i}"
        );
    }
    assert_eq!(c.get(COURSES_PATH, Some(&c.staff)).await.0, 429);
    for i in 0..80 {
        assert_eq!(
            c.get(ENROLLMENT_ALLOWED_V1_PATH, Some(&c.staff)).await.0,
            200,
            "allowed call {i}"
        );
    }
    assert_eq!(
        c.get(ENROLLMENT_ALLOWED_V1_PATH, Some(&c.staff)).await.0,
        429
    );

    // Throttling::off: nothing is throttled; reset_throttles forgets histories.
    c.lms.set_throttling(Throttling::off());
    assert_eq!(c.get(COURSES_PATH, Some(&c.staff)).await.0, 200);
    c.lms.set_throttling(Throttling::default());
    assert_eq!(c.get(COURSES_PATH, Some(&c.staff)).await.0, 429);
    c.lms.reset_throttles();
    assert_eq!(c.get(COURSES_PATH, Some(&c.staff)).await.0, 200);
}

#[tokio::test]
async fn v2_views_throttle_with_the_error_envelope() {
    // Read only (source, not run): the real snapshot has no v2.
    let c = setup(EmulatorConfig {
        throttling: Throttling {
            enrollment: ScopedRates {
                user: Rate::per_minute(2),
                staff: Rate::per_minute(2),
            },
            ..Throttling::default()
        },
        ..EmulatorConfig::default()
    })
    .await;
    for _ in 0..2 {
        assert_eq!(c.get(ENROLLMENT_V2_PATH, Some(&c.staff)).await.0, 200);
    }
    let resp = c
        .call(Method::GET, ENROLLMENT_V2_PATH, Some(&c.staff), None)
        .await;
    assert_eq!(retry_after(&resp), Some(60));
    assert_eq!(
        status_json(resp).await,
        (
            StatusCode::TOO_MANY_REQUESTS,
            json!({
                "type": "https://docs.openedx.org/errors/rate-limited",
                "title": "Too Many Requests",
                "status": 429,
                "detail": "Request was throttled. Expected available in 60 seconds.",
                "instance": ENROLLMENT_V2_PATH,
            })
        )
    );
}

#[tokio::test]
async fn token_endpoint_is_rate_limited_per_ip() {
    assert_eq!(Throttling::default().token, Some(Rate::per_minute(120)));
    // An hour-long window (django-ratelimit windows are fixed; a minute's edge
    // could fall inside the test) with the production mechanics.
    let c = setup(EmulatorConfig {
        throttling: Throttling {
            token: Some(Rate {
                requests: 5,
                period: Duration::from_secs(3600),
            }),
            ..Throttling::default()
        },
        ..EmulatorConfig::default()
    })
    .await;
    // setup() fetched one token already.
    for _ in 0..4 {
        token(&c.lms, &c.http, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET).await;
    }
    for _ in 0..2 {
        let resp = c
            .http
            .post(c.lms.url(TOKEN_PATH))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", DEMO_CLIENT_ID),
                ("client_secret", DEMO_CLIENT_SECRET),
                ("token_type", "jwt"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 429);
        assert_eq!(retry_after(&resp), None);
        assert!(resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
        assert!(resp.text().await.unwrap().contains("Too Many Requests"));
    }
    // Every method counts (method=ALL): a GET is refused before its 405.
    let resp = c.http.get(c.lms.url(TOKEN_PATH)).send().await.unwrap();
    assert_eq!(resp.status(), 429);
}

// ---------------------------------------------------------------------------
// Enrollment POST (verified)

#[tokio::test]
async fn no_mode_on_a_course_without_audit_or_honor_is_the_none_mode_error() {
    let c = setup(EmulatorConfig::default()).await;
    for course in [VERIFIED_ONLY, PROFESSIONAL_ONLY] {
        let (status, body) = c.enroll(forced("alice", course)).await;
        assert_eq!(status, 400, "{course}: {body}");
        assert_eq!(
            body["message"],
            format!("The [None] course mode is expired or otherwise unavailable for course run [{course}].")
        );
        assert_eq!(body["course_details"]["course_id"], course);
        assert!(body["course_details"]["course_modes"].is_array());
    }
    let mut verified = forced("alice", VERIFIED_ONLY);
    verified["mode"] = json!("verified");
    let (status, body) = c.enroll(verified).await;
    assert_eq!(
        (status, body["mode"].clone()),
        (StatusCode::OK, json!("verified"))
    );
}

#[tokio::test]
async fn a_full_course_refuses_newcomers_and_the_seat_holder_alike() {
    let c = setup(EmulatorConfig::default()).await;
    let generic = |user: &str| json!({ "message": format!("An error occurred while creating the new course enrollment for user '{user}' in course '{FULL}'") });
    assert_eq!(
        c.enroll(forced("alice", FULL)).await,
        (StatusCode::BAD_REQUEST, generic("alice"))
    );
    // enroll(check_access=True) checks "full" before "already enrolled".
    assert_eq!(
        c.enroll(forced(FULL_HOLDER, FULL)).await,
        (StatusCode::BAD_REQUEST, generic(FULL_HOLDER))
    );
    assert!(c
        .lms
        .state()
        .enrollment(FULL_HOLDER, FULL)
        .is_some_and(|e| e.is_active && e.mode == "audit"));
}

#[tokio::test]
async fn an_active_verified_enrollment_keeps_its_mode_unless_one_is_sent() {
    let c = setup(EmulatorConfig::default()).await;
    let (status, body) = c.enroll(forced(VERIFIED_LEARNER, OPEN)).await;
    assert_eq!(
        (status, body["mode"].clone()),
        (StatusCode::OK, json!("verified"))
    );
    let mut audit = forced(VERIFIED_LEARNER, OPEN);
    audit["mode"] = json!("audit");
    let (status, body) = c.enroll(audit).await;
    assert_eq!(
        (status, body["mode"].clone()),
        (StatusCode::OK, json!("audit"))
    );
    assert_eq!(
        c.lms
            .state()
            .enrollment(VERIFIED_LEARNER, OPEN)
            .unwrap()
            .mode,
        "audit",
        "a downgrade"
    );
}

#[tokio::test]
async fn forced_enrollments_into_old_style_upcoming_and_hidden_courses() {
    let c = setup(EmulatorConfig::default()).await;
    for (course, mode) in [(OLD_STYLE, "honor"), (UPCOMING, "audit"), (HIDDEN, "audit")] {
        let (status, body) = c.enroll(forced("bob", course)).await;
        assert_eq!(status, 200, "{course}: {body}");
        assert_eq!(body["mode"], mode, "{course}");
        assert_eq!(body["is_active"], true);
    }
    // Read only: without force the old-style course counts as invitation-only.
    let (status, body) = c
        .enroll(json!({ "user": "alice", "course_details": { "course_id": OLD_STYLE } }))
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        body["message"],
        format!("An error occurred while creating the new course enrollment for user 'alice' in course '{OLD_STYLE}'")
    );
}

#[tokio::test]
async fn enrollment_lookup_without_enrollment_is_an_empty_200() {
    let c = setup(EmulatorConfig::default()).await;
    let resp = c
        .call(
            Method::GET,
            &format!("{ENROLLMENT_PATH}/alice,{OPEN}"),
            Some(&c.staff),
            None,
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), "");
}

// ---------------------------------------------------------------------------
// Course modes API (read only)

#[tokio::test]
async fn course_modes_lists_the_mode_rows() {
    let c = setup(EmulatorConfig::default()).await;
    let (status, body) = c
        .get(&format!("{COURSE_MODES_PREFIX}{OPEN}/"), Some(&c.staff))
        .await;
    assert_eq!(status, 200, "{body}");
    let slugs: Vec<&str> = body
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["mode_slug"].as_str().unwrap())
        .collect();
    assert_eq!(slugs, ["audit", "verified"]);
    assert_eq!(body[0]["course_id"], OPEN);
    // No mode rows (the implicit default) and unknown courses: [].
    for course in [DEMO_COURSE, "course-v1:EdxHooksX+NOPE999+2026"] {
        assert_eq!(
            c.get(&format!("{COURSE_MODES_PREFIX}{course}/"), Some(&c.staff))
                .await,
            (StatusCode::OK, json!([]))
        );
    }
    let learner = c.learner_token().await;
    assert_eq!(
        c.get(&format!("{COURSE_MODES_PREFIX}{OPEN}/"), Some(&learner))
            .await
            .0,
        403
    );
    assert_eq!(
        c.get(&format!("{COURSE_MODES_PREFIX}{OPEN}/"), None)
            .await
            .0,
        401
    );
}
