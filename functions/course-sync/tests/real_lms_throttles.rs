//! Conformance tier, throttles: the forwarder against a real LMS whose course-list
//! throttle (40/min for staff, counted in the same history as the enrollment views) is
//! exhausted. The course detail API is not throttled, so a course-published event still
//! syncs at once; a resync pages the course list, waits out the 429 (the course list's
//! answer has no `Retry-After`, only "Expected available in N seconds.") and completes.
//! About a minute (the LMS's real window). Skipped when `OPENEDX_PLATFORM_SRC` is unset.

mod support;

use std::time::{Duration, Instant};

use serde_json::json;

use course_sync::lambda::handle_event;
use edx_hooks_tests::real_lms::{seed, RealLms};
use edx_hooks_tests::richie_server::{RichieOptions, RichieServer, DEFAULT_SYNC_SECRET};
use support::{http_answer, http_event, service, target, Options, TOKEN};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exhausted_course_list_delays_the_resync_and_never_a_publish() {
    let Some(lms) = tokio::task::spawn_blocking(|| {
        RealLms::start("an_exhausted_course_list_delays_the_resync_and_never_a_publish")
    })
    .await
    .expect("lms start") else {
        return;
    };
    let richie = tokio::task::spawn_blocking(|| {
        RichieServer::start_with(RichieOptions {
            seed: Some(json!({"courses": [{"code": "UPCOMING301", "runs": []}]})),
            ..RichieOptions::default()
        })
    })
    .await
    .expect("richie start");

    // Exhaust the service user's course-list allowance (40 calls a minute).
    let token = lms.token(seed::SERVICE_CLIENT_ID, seed::SERVICE_CLIENT_SECRET);
    let list = format!(
        "/api/courses/v1/courses/?page_size=1&username={}",
        seed::SERVICE_USER
    );
    let mut refused_body = None;
    for _ in 0..45 {
        let answer = lms.get(&list, Some(&token));
        if answer.status == 429 {
            assert_eq!(
                answer.retry_after, None,
                "the course list drops Retry-After"
            );
            refused_body = Some(answer.body);
            break;
        }
    }
    let refused_body = refused_body.expect("the course list refuses after 40 calls");
    assert!(
        refused_body.contains("Expected available in "),
        "{refused_body}"
    );

    let svc = service(
        &lms.base_url(),
        &json!([target(&richie.sync_url(), DEFAULT_SYNC_SECRET)]),
        Options {
            client_id: seed::SERVICE_CLIENT_ID.into(),
            client_secret: seed::SERVICE_CLIENT_SECRET.into(),
            service_username: None,
            lms_host: "lms.edx-hooks.test".into(),
            page_size: 10,
            ..Options::default()
        },
    );
    // A publish goes through the unthrottled course detail API: synced now.
    let started = Instant::now();
    let body = json!({ "course_id": seed::UPCOMING }).to_string();
    let answer = handle_event(&svc, http_event(&body, Some(TOKEN), None))
        .await
        .expect("handled");
    let (status, reply) = http_answer(&answer);
    assert_eq!(
        (status, reply["status"].as_str()),
        (200, Some("synced")),
        "{reply}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );

    // The resync waits until the LMS lets the list through again, then completes.
    let started = Instant::now();
    let summary = handle_event(&svc, json!({"resync": "all"}))
        .await
        .expect("handled");
    let took = started.elapsed();
    assert_eq!(summary["listed"], seed::COURSE_COUNT, "{summary}");
    assert!(
        took > Duration::from_secs(20) && took < Duration::from_secs(100),
        "waited the window out: {took:?}"
    );
    assert!(
        lms.log()
            .contains("\"GET /api/courses/v1/courses/?page=1&page_size=10"),
        "the resync's first page was asked"
    );
    eprintln!("course list 429: {refused_body}; resync completed after {took:?}");
}
