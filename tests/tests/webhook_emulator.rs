//! The enrollment webhook end to end against the LMS emulator: real HTTP, real
//! OAuth2 token flow, real retries; the emulator follows edx-platform's contract.

use std::time::{Duration, Instant};

use edx_hooks_shared::canonical_json::{self, Separators};
use edx_hooks_shared::openedx::AllowanceApi;
use edx_hooks_shared::signature::{sign_hex, sign_lernito};
use edx_hooks_tests::lms_emulator::{CourseInfo, ReleaseProfile, UtcTime};
use edx_hooks_tests::webhook_harness::{
    client, payload, service_for, sign, Harness, HarnessOptions, DEMO, E2E, PATH, SECRET,
};
use enrollment_webhook::service::Reply;

async fn harness_with(
    profile: ReleaseProfile,
    concurrency: usize,
    secrets: Vec<String>,
) -> Harness {
    Harness::start(HarnessOptions {
        profile,
        concurrency,
        webhook_secrets: secrets,
        ..HarnessOptions::default()
    })
    .await
}

async fn harness() -> Harness {
    Harness::default().await
}

fn assert_reply(reply: &Reply, status: u16, body: &str) {
    assert_eq!((reply.status, reply.body.as_str()), (status, body));
}

#[tokio::test]
async fn existing_user_is_enrolled_once_and_replay_is_harmless() {
    let h = harness().await;
    let body = payload("learner@example.com", &[DEMO, E2E, DEMO]);
    for _ in 0..2 {
        let reply = h.post(&body).await;
        assert_reply(
            &reply,
            200,
            r#"{"success":true,"message":"User enrollment status verified for 3 course(s)"}"#,
        );
    }
    let state = h.lms.state();
    assert!(
        state
            .enrollment("learner", DEMO)
            .expect("enrolled")
            .is_active
    );
    assert!(
        state
            .enrollment("learner", E2E)
            .expect("enrolled")
            .is_active
    );
    assert_eq!(state.enrollment_count(), 2, "no duplicates");
    assert_eq!(state.allowance_count(), 0);
}

#[tokio::test]
async fn unknown_email_gets_auto_enroll_allowances_idempotently() {
    let h = harness().await;
    let body = payload("new.buyer@example.com", &[DEMO, E2E]);
    for _ in 0..2 {
        let reply = h.post(&body).await;
        assert_reply(
            &reply,
            200,
            r#"{"success":true,"message":"Enrollment allowance verified for 2 course(s)"}"#,
        );
    }
    let state = h.lms.state();
    assert!(
        state
            .allowance("new.buyer@example.com", DEMO)
            .expect("allowance")
            .auto_enroll
    );
    assert_eq!(state.allowance_count(), 2);
    assert_eq!(state.enrollment_count(), 0);
}

#[tokio::test]
async fn allowance_without_auto_enroll_is_switched_on() {
    let h = harness().await;
    h.lms.state().add_allowance("late@example.com", DEMO, false);
    let reply = h.post(&payload("late@example.com", &[DEMO])).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(
        h.lms
            .state()
            .allowance("late@example.com", DEMO)
            .expect("allowance")
            .auto_enroll
    );
    assert_eq!(h.lms.state().allowance_count(), 1);
}

#[tokio::test]
async fn inactive_enrollment_is_reactivated() {
    let h = harness().await;
    h.lms
        .state()
        .add_enrollment("learner", DEMO, "verified", false);
    let reply = h.post(&payload("learner@example.com", &[DEMO])).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let enrollment = h
        .lms
        .state()
        .enrollment("learner", DEMO)
        .expect("enrollment");
    assert!(enrollment.is_active);
    assert_eq!(enrollment.mode, "verified", "mode untouched");
}

#[tokio::test]
async fn master_v2_allowance_endpoint_is_idempotent() {
    let h = harness_with(ReleaseProfile::Master, 8, vec![SECRET.into()]).await;
    let options = HarnessOptions {
        allowance_api: AllowanceApi::ViewSet,
        ..HarnessOptions::default()
    };
    let service = service_for(client(h.lms.base_url(), &options), vec![SECRET.into()]);
    let body = payload("new.buyer@example.com", &[DEMO]);
    for _ in 0..2 {
        let reply = service
            .handle("POST", PATH, Some(&sign(&body)), body.as_bytes())
            .await;
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
    assert!(
        h.lms
            .state()
            .allowance("new.buyer@example.com", DEMO)
            .expect("allowance")
            .auto_enroll
    );
    assert_eq!(h.lms.state().allowance_count(), 1);
    let v2_posts = h
        .lms
        .calls_to("/api/enrollment/v2/enrollment/enrollment_allowed/");
    assert!(v2_posts.len() >= 2, "the v2 endpoint was used");
    assert!(h
        .lms
        .calls_to("/api/enrollment/v1/enrollment_allowed/")
        .is_empty());
}

#[tokio::test]
async fn redwood_profile_uses_the_legacy_allowance_endpoint() {
    let h = harness_with(ReleaseProfile::Redwood, 8, vec![SECRET.into()]).await;
    let reply = h.post(&payload("new.buyer@example.com", &[DEMO])).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        h.lms
            .calls_to("/api/enrollment/v1/enrollment_allowed/")
            .len(),
        1
    );
}

#[tokio::test]
async fn signatures_every_accepted_form_and_rejections() {
    let h = harness().await;
    let body = payload("learner@example.com", &[DEMO]);
    let parsed = canonical_json::parse(body.as_bytes()).unwrap();
    let ok = r#"{"success":true,"message":"User enrollment status verified for 1 course(s)"}"#;
    let invalid = r#"{"success":false,"message":"Invalid signature"}"#;
    for signature in [
        sign_lernito(SECRET.as_bytes(), &parsed, Separators::Default),
        sign_lernito(SECRET.as_bytes(), &parsed, Separators::Compact).to_uppercase(),
        sign_hex(SECRET.as_bytes(), body.as_bytes()),
    ] {
        assert_reply(
            &h.service
                .handle("POST", PATH, Some(&signature), body.as_bytes())
                .await,
            200,
            ok,
        );
    }
    let wrong = sign_lernito(b"other", &parsed, Separators::Default);
    assert_reply(
        &h.service
            .handle("POST", PATH, Some(&wrong), body.as_bytes())
            .await,
        401,
        invalid,
    );
    assert_reply(
        &h.service.handle("POST", PATH, None, body.as_bytes()).await,
        401,
        invalid,
    );
    assert_reply(
        &h.service
            .handle("POST", PATH, Some(""), body.as_bytes())
            .await,
        401,
        invalid,
    );
    // No secret configured at all: the plugin answers 401 too.
    let unconfigured = harness_with(ReleaseProfile::Sumac, 8, vec![]).await;
    assert_reply(&unconfigured.post(&body).await, 401, invalid);
    assert_eq!(h.lms.state().enrollment_count(), 1);
}

#[tokio::test]
async fn bad_requests_get_documented_answers_and_touch_nothing() {
    let h = harness().await;
    let cases: Vec<(String, u16, &str)> = vec![
        (
            payload("learner@example.com", &["not a key"]),
            400,
            r#"{"success":false,"message":"Invalid course key format: not a key"}"#,
        ),
        (
            payload("learner@example.com", &["course-v1:edX+Nope+2099", "bad"]),
            400,
            r#"{"success":false,"message":"Course course-v1:edX+Nope+2099 does not exist"}"#,
        ),
        (
            payload(
                "learner@example.com",
                &[DEMO, "bad", "course-v1:edX+Nope+2099"],
            ),
            400,
            r#"{"success":false,"message":"Invalid course key format: bad"}"#,
        ),
        (
            r#"{"email": "x", "name": "", "courseIds": []}"#.into(),
            400,
            r#"{"success":false,"message":{"name":["This field may not be blank."],"family":["This field is required."],"username":["This field is required."],"email":["Enter a valid email address."]}}"#,
        ),
        (
            r#"{"email": "a@b.co", "name": "n", "family": "f", "username": "u", "courseIds": []}"#
                .into(),
            400,
            r#"{"success":false,"message":{"non_field_errors":["At least one courseId must be provided"]}}"#,
        ),
        (
            "[1, 2]".into(),
            400,
            r#"{"success":false,"message":{"non_field_errors":["Invalid data. Expected a dictionary, but got list."]}}"#,
        ),
    ];
    for (body, status, expected) in cases {
        assert_reply(&h.post(&body).await, status, expected);
    }
    let not_json = h
        .service
        .handle("POST", PATH, Some(&"0".repeat(64)), b"{nope")
        .await;
    assert_eq!(not_json.status, 400);
    assert!(
        not_json
            .body
            .starts_with(r#"{"success":false,"message":"JSON parse error - "#),
        "{}",
        not_json.body
    );
    let big = vec![b' '; 256 * 1024 + 1];
    assert_eq!(h.service.handle("POST", PATH, None, &big).await.status, 413);
    let get = h.service.handle("GET", "/lernito/webhook", None, b"").await;
    assert_reply(&get, 405, r#"{"detail":"Method \"GET\" not allowed."}"#);
    assert_eq!(
        h.service.handle("POST", "/other", None, b"{}").await.status,
        404
    );
    let state = h.lms.state();
    assert_eq!((state.enrollment_count(), state.allowance_count()), (0, 0));
}

#[tokio::test]
async fn concurrency_toward_the_lms_is_bounded() {
    let h = harness_with(ReleaseProfile::Sumac, 3, vec![SECRET.into()]).await;
    let mut courses = Vec::new();
    for i in 0..12 {
        let id = format!("course-v1:Org+C{i}+Run");
        h.lms
            .state()
            .add_course(&id, CourseInfo::named("Bench course"));
        courses.push(id);
    }
    h.lms.faults().set_latency(Duration::from_millis(30));
    let refs: Vec<&str> = courses.iter().map(String::as_str).collect();
    let reply = h.post(&payload("learner@example.com", &refs)).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let peak = h.lms.max_concurrent_requests();
    assert!(peak <= 3, "peak {peak} exceeds the bound");
    assert!(peak >= 2, "calls should overlap (peak {peak})");
    assert_eq!(h.lms.state().enrollment_count(), 12);
}

#[tokio::test]
async fn revoked_token_is_refreshed_once() {
    let h = harness().await;
    assert_eq!(
        h.post(&payload("learner@example.com", &[DEMO]))
            .await
            .status,
        200
    );
    h.lms.state().revoke_tokens();
    let reply = h.post(&payload("learner@example.com", &[E2E])).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let token_calls = h
        .lms
        .calls()
        .iter()
        .filter(|c| c.path == "/oauth2/access_token")
        .count();
    assert_eq!(token_calls, 2, "one token, then one refresh after the 401");
}

#[tokio::test]
async fn transient_503_is_retried_then_succeeds() {
    let h = harness().await;
    h.lms
        .faults()
        .fail_next("/api/enrollment/v1/enrollment", 2, 503);
    let reply = h.post(&payload("learner@example.com", &[DEMO])).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(h.lms.state().enrollment("learner", DEMO).is_some());
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let h = harness().await;
    h.lms
        .faults()
        .throttle_next("/api/user/v1/accounts", 1, Some(1));
    let started = Instant::now();
    let reply = h.post(&payload("learner@example.com", &[DEMO])).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited for Retry-After"
    );
}

#[tokio::test]
async fn persistent_failure_is_a_500_never_a_false_success() {
    let h = harness().await;
    h.lms
        .faults()
        .fail_next("/api/enrollment/v1/enrollment", 1000, 503);
    let reply = h.post(&payload("learner@example.com", &[DEMO])).await;
    assert_reply(
        &reply,
        500,
        r#"{"success":false,"message":"Internal server error"}"#,
    );
    assert!(h.lms.state().enrollment("learner", DEMO).is_none());
    // A hung LMS: bounded by timeouts and retries, then 500.
    let h = harness().await;
    h.lms.faults().hang_next("/api/courses/v1/courses/", 1000);
    let started = Instant::now();
    let reply = h.post(&payload("learner@example.com", &[DEMO])).await;
    assert_eq!(reply.status, 500);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn bad_client_credentials_are_a_500() {
    let h = harness().await;
    let options = HarnessOptions {
        client_secret: "wrong".into(),
        ..HarnessOptions::default()
    };
    let service = service_for(client(h.lms.base_url(), &options), vec![SECRET.into()]);
    let body = payload("learner@example.com", &[DEMO]);
    let reply = service
        .handle("POST", PATH, Some(&sign(&body)), body.as_bytes())
        .await;
    assert_eq!(reply.status, 500);
    assert!(h.lms.state().enrollment("learner", DEMO).is_none());
}

/// Courses of one request: how many per-course existence checks and course-list
/// calls the LMS saw since the last reset.
fn existence_calls(h: &Harness) -> (usize, usize) {
    let calls = h.lms.calls();
    let is_list =
        |path: &str| path == "/api/courses/v1/courses/" || path == "/api/courses/v1/courses";
    // One course: the course API detail (with the service user's username), or the
    // anonymous enrollment course endpoint when no username is known.
    let one_by_one = calls
        .iter()
        .filter(|c| {
            c.path.starts_with("/api/enrollment/v1/course/")
                || (c.path.starts_with("/api/courses/v1/courses/") && !is_list(&c.path))
        })
        .count();
    let listed = calls.iter().filter(|c| is_list(&c.path)).count();
    (one_by_one, listed)
}

#[tokio::test]
async fn courses_are_checked_in_one_list_call_and_absence_is_confirmed_one_by_one() {
    // No username known (an opaque token, nothing configured): the list is evaluated
    // for an anonymous user and omits courses that user may not see.
    let h = Harness::start(HarnessOptions {
        service_username: None,
        ..HarnessOptions::default()
    })
    .await;
    let mut ids: Vec<String> = (0..10).map(|i| format!("course-v1:Org+B{i}+Run")).collect();
    for id in &ids {
        h.lms.state().add_course(id, CourseInfo::named("Batch"));
    }
    // Not started and enrollment not open yet: the list (evaluated for an
    // anonymous user, `see_exists`) omits it, yet it exists and must be found
    // by the per-course check. (`catalog_visibility` "none" would not do: the
    // real LMS lists a running hidden course to anonymous callers.)
    h.lms.state().add_course(
        "course-v1:Org+Hidden+Run",
        CourseInfo {
            start: Some(UtcTime::days_from_now(40)),
            enrollment_start: Some(UtcTime::days_from_now(30)),
            ..CourseInfo::named("Hidden")
        },
    );
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let reply = h.post(&payload("learner@example.com", &refs)).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(existence_calls(&h), (0, 1), "ten courses, one list call");
    let list = h
        .lms
        .calls()
        .into_iter()
        .find(|c| c.path.starts_with("/api/courses/v1/courses"))
        .expect("list call");
    assert!(list.authorization.is_some_and(|a| a.starts_with("JWT ")));
    assert_eq!(h.lms.state().enrollment_count(), 10);

    ids.push("course-v1:Org+Hidden+Run".into());
    h.lms.reset_calls();
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let reply = h.post(&payload("learner@example.com", &refs)).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        existence_calls(&h),
        (1, 1),
        "only the unlisted course alone"
    );
    assert!(h
        .lms
        .state()
        .enrollment("learner", "course-v1:Org+Hidden+Run")
        .is_some_and(|e| e.is_active));

    // Missing: the list does not decide it, the per-course check does, and the
    // plugin's message names the first missing course in request order.
    h.lms.reset_calls();
    let missing = [
        "course-v1:Org+B1+Run",
        "course-v1:Org+Nope+Run",
        "course-v1:Org+Gone+Run",
    ];
    let reply = h.post(&payload("new@example.com", &missing)).await;
    assert_reply(
        &reply,
        400,
        r#"{"success":false,"message":"Course course-v1:Org+Nope+Run does not exist"}"#,
    );
    assert_eq!(existence_calls(&h), (2, 1));
    assert_eq!(h.lms.state().allowance_count(), 0);
}

#[tokio::test]
async fn a_throttled_course_list_falls_back_at_once_and_is_left_alone() {
    let h = harness().await;
    h.lms
        .faults()
        .throttle_next("/api/courses/v1/courses", 1, Some(60));
    let started = Instant::now();
    let reply = h.post(&payload("learner@example.com", &[DEMO, E2E])).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "no waiting on the list's Retry-After: {:?}",
        started.elapsed()
    );
    assert_eq!(existence_calls(&h), (2, 1));
    // Paused after the 429: the next request does not ask the list again.
    h.lms.reset_calls();
    let reply = h.post(&payload("learner@example.com", &[DEMO, E2E])).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(existence_calls(&h), (2, 0));
}
