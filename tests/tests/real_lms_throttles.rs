//! Conformance tier, throttles: the real LMS's production rates (DRF throttles with
//! `RateLimitConfiguration` enabled), exceeded on purpose with a bounded number of
//! loopback requests, and what the enrollment webhook then does.
//!
//! Measured rates (openedx-platform master 2025-11; `tests/src/lms_emulator/CONTRACT.md`):
//! * `/api/enrollment/v1/course/{id}`: anonymous (no authentication classes), 40/min per
//!   client IP, then 429 `Retry-After` of at most 60 s;
//! * enrollment views (enroll, read an enrollment, allowances, enrollments list):
//!   120/min per staff user — and the course list's 40/min for staff counts the same
//!   history (both DRF scope `staff`, cache key `throttle_staff_<user id>`);
//! * the course list's 429 has no `Retry-After` header (only "Expected available in N
//!   seconds." in its body); the course detail and modes APIs are not throttled.
//!
//! Skipped (one line on stderr) when `OPENEDX_PLATFORM_SRC` is unset.

use std::time::{Duration, Instant};

use edx_hooks_tests::real_lms::{seed, RealLms};
use edx_hooks_tests::support::LogCapture;
use edx_hooks_tests::webhook_harness::{payload, real_lms_service, sign};

const PATH: &str = "/api/lernito/webhook/";
const INTERNAL: &str = r#"{"success":false,"message":"Internal server error"}"#;

/// What a burst of `GET path` got: (200s, first 429's Retry-After header and body).
struct Burst {
    ok: usize,
    throttled: Option<(Option<String>, String)>,
}

/// GET `path` until the first 429 (at most `limit` calls).
fn burst(lms: &RealLms, path: &str, token: Option<&str>, limit: usize) -> Burst {
    let mut ok = 0;
    for _ in 0..limit {
        let answer = lms.get(path, token);
        match answer.status {
            200 => ok += 1,
            429 => {
                return Burst {
                    ok,
                    throttled: Some((answer.retry_after, answer.body)),
                }
            }
            other => panic!("GET {path}: unexpected {other}"),
        }
    }
    Burst {
        ok,
        throttled: None,
    }
}

fn webhook(
    lms: &RealLms,
) -> enrollment_webhook::service::WebhookService<edx_hooks_shared::openedx::OpenEdxClient> {
    real_lms_service(
        lms.base_url(),
        seed::SERVICE_CLIENT_ID,
        seed::SERVICE_CLIENT_SECRET,
    )
}

#[tokio::test(flavor = "current_thread")]
async fn an_exhausted_enrollment_bucket_fails_fast_with_the_throttled_kind() {
    let Some(lms) =
        RealLms::start("an_exhausted_enrollment_bucket_fails_fast_with_the_throttled_kind")
    else {
        return;
    };
    let token = lms.token(seed::SERVICE_CLIENT_ID, seed::SERVICE_CLIENT_SECRET);
    let read = format!(
        "/api/enrollment/v1/enrollment/{},{}",
        seed::VERIFIED_LEARNER,
        seed::OPEN
    );
    let used = burst(&lms, &read, Some(&token), 130);
    let (retry_after, body) = used.throttled.expect("the staff bucket ends at 120/min");
    assert_eq!(used.ok, 120, "EnrollmentUserThrottle staff rate");
    let wait: u64 = retry_after
        .as_deref()
        .and_then(|v| v.parse().ok())
        .expect("Retry-After");
    assert!((50..=60).contains(&wait), "Retry-After {wait}");
    assert!(
        body.starts_with(r#"{"detail":"Request was throttled. Expected available in "#),
        "{body}"
    );
    eprintln!("staff bucket: 120 x 200, then 429 Retry-After: {wait} {body}");

    let capture = LogCapture::global();
    let service = webhook(&lms);
    // A sale now: the Retry-After is longer than the request's 25 s budget, so the
    // webhook answers at once (the plugin's 500; Lernito retries) instead of timing out.
    for (email, learner) in [
        (seed::learner_email("bob"), Some("bob")),
        ("new.buyer@buyers.test".to_owned(), None),
    ] {
        let body = payload(&email, &[seed::OPEN]);
        let started = Instant::now();
        let reply = service
            .handle("POST", PATH, Some(&sign(&body)), body.as_bytes())
            .await;
        assert_eq!((reply.status, reply.body.as_str()), (500, INTERNAL));
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "failed fast: {:?}",
            started.elapsed()
        );
        if let Some(learner) = learner {
            assert_eq!(lms.enrollment(learner, seed::OPEN), None);
        }
    }
    let log = capture.text();
    assert_eq!(
        log.matches(r#""error_kind":"throttled""#).count(),
        2,
        "{log}"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn per_ip_and_course_list_limits_do_not_fail_a_sale() {
    LogCapture::global();
    let Some(lms) = RealLms::start("per_ip_and_course_list_limits_do_not_fail_a_sale") else {
        return;
    };
    // The anonymous course endpoint's per-IP bucket, exhausted from this host.
    let anonymous = burst(
        &lms,
        &format!("/api/enrollment/v1/course/{}", seed::OPEN),
        None,
        50,
    );
    assert_eq!(anonymous.ok, 40, "EnrollmentUserThrottle user rate, per IP");
    let (retry_after, body) = anonymous.throttled.expect("429 after 40");
    // DRF's wait is 60 s minus the age of the oldest request in the window, rounded
    // up: 60 when the 40 calls took under a second, less on a slow machine.
    let wait: u64 = retry_after
        .as_deref()
        .and_then(|value| value.parse().ok())
        .expect("Retry-After");
    assert!((50..=60).contains(&wait), "Retry-After {wait}");
    assert_eq!(
        body,
        format!(r#"{{"detail":"Request was throttled. Expected available in {wait} seconds."}}"#)
    );

    // The course list's staff bucket, exhausted (these 40 also count in the 120).
    let token = lms.token(seed::SERVICE_CLIENT_ID, seed::SERVICE_CLIENT_SECRET);
    let list = format!(
        "/api/courses/v1/courses/?page_size=1&username={}",
        seed::SERVICE_USER
    );
    let listed = burst(&lms, &list, Some(&token), 50);
    assert_eq!(listed.ok, 40, "CourseListUserThrottle staff rate");
    let (retry_after, body) = listed.throttled.expect("429 after 40");
    assert_eq!(retry_after, None, "the course list drops Retry-After");
    assert!(
        body.starts_with(r#"{"developer_message":"Request was throttled. Expected available in "#),
        "{body}"
    );
    eprintln!("course list: 40 x 200, then 429 without Retry-After: {body}");

    // A three-course sale still goes through: the batched check is refused (and paused),
    // each course is checked through the unthrottled course detail API.
    let service = webhook(&lms);
    let courses = [seed::OPEN, seed::CLOSED, seed::INVITE];
    for learner in ["carol", "dave"] {
        let body = payload(&seed::learner_email(learner), &courses);
        let reply = service
            .handle("POST", PATH, Some(&sign(&body)), body.as_bytes())
            .await;
        assert_eq!(
            (reply.status, reply.body.as_str()),
            (
                200,
                r#"{"success":true,"message":"User enrollment status verified for 3 course(s)"}"#
            )
        );
        for course in courses {
            assert!(
                lms.enrollment(learner, course).is_some_and(|e| e.is_active),
                "{learner} {course}"
            );
        }
    }
    // One batched call (throttled), then none while paused.
    assert_eq!(
        lms.requests("GET", "/api/courses/v1/courses/?course_keys="),
        1
    );
    assert!(
        lms.log()
            .contains("\"GET /api/courses/v1/courses/?course_keys="),
        "logged"
    );
}
