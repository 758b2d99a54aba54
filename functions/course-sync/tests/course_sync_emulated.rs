//! The forwarder against the Open edX LMS emulator and an in-process Richie emulator
//! (faithful to Richie's `api.py`; the real Richie runs in `richie_e2e.rs`): resync
//! pagination and concurrency bounds, failure handling, retries, the HTTP budget,
//! release differences of the LMS, and the basic-auth header placement.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::HeaderMap;
use serde_json::{json, Value};

use course_sync::lambda::handle_event;
use edx_hooks_shared::openedx::catalog::{CatalogSources, EnrollmentCountSource};
use edx_hooks_shared::richie::{
    parse_targets, RichieAnswer, RichieApi, RichieClient, RichieClientConfig,
};
use edx_hooks_shared::signature::richie_authorization;
use edx_hooks_tests::lms_emulator::{
    CourseInfo, EmulatorConfig, LmsEmulator, ReleaseProfile, UtcTime, DEMO_COURSE,
};
use support::richie_emulator::{RichieEmulator, RichieEmulatorConfig};
use support::{
    batch_failures, http_answer, http_event, service, sqs_event, target, webhooks_body,
    MemoryQueue, Options, TOKEN,
};

const SECRET: &str = "richie-secret";

fn schedule() -> Value {
    json!({"version": "0", "detail-type": "Scheduled Event", "source": "aws.events", "detail": {}})
}

/// An LMS with `n` extra courses `course-v1:Org+C{i}+run`.
async fn lms_with(n: usize, profile: ReleaseProfile) -> LmsEmulator {
    let lms = LmsEmulator::start(EmulatorConfig {
        profile,
        ..EmulatorConfig::demo()
    })
    .await;
    {
        let mut s = lms.state();
        for i in 0..n {
            let info = CourseInfo {
                start: Some(UtcTime::at("2031-01-01T00:00:00Z")),
                language: Some(if i % 2 == 0 { "pt_PT" } else { "en-us" }.to_owned()),
                ..CourseInfo::named(&format!("Course {i}"))
            };
            s.add_course(&format!("course-v1:Org+C{i}+run"), info);
        }
    }
    lms
}

async fn richie_with_codes(n: usize) -> RichieEmulator {
    let mut codes: Vec<String> = (0..n).map(|i| format!("C{i}")).collect();
    codes.extend(["DEMOX".to_owned(), "E2E-101".to_owned()]);
    RichieEmulator::start(RichieEmulatorConfig {
        course_codes: codes,
        ..RichieEmulatorConfig::default()
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resync_pages_through_every_course_with_bounded_lms_concurrency() {
    let (lms, richie) = (
        lms_with(250, ReleaseProfile::Master).await,
        richie_with_codes(250).await,
    );
    let options = Options {
        lms_concurrency: 4,
        course_concurrency: 16,
        page_size: 20,
        chunk_size: 50,
        ..Options::default()
    };
    let svc = service(
        &lms.base_url(),
        &json!([target(&richie.sync_url(), SECRET)]),
        options,
    );
    let summary = handle_event(&svc, schedule()).await.unwrap();
    assert_eq!(summary["status"], "done", "{summary}");
    assert_eq!(summary["listed"], 252);
    assert_eq!(summary["synced"], 252);
    assert_eq!(richie.run_count(), 252);
    // Delivered page by page (a chunk never spans two pages): 13 pages of ≤ 20 runs.
    assert_eq!(
        summary["richie_requests"], 13,
        "252 runs, one list per page of 20"
    );
    assert_eq!(summary["pages"], 13);
    let pages = lms
        .calls()
        .into_iter()
        .filter(|c| c.path == "/api/courses/v1/courses/")
        .count();
    assert_eq!(pages, 13, "252 courses in pages of 20");
    assert!(
        lms.max_concurrent_requests() <= 4,
        "LMS concurrency {} > 4",
        lms.max_concurrent_requests()
    );
    assert!(lms.max_concurrent_requests() >= 2, "calls did overlap");
    // List rows stand in for the detail call; language and count are looked up.
    assert!(lms.calls_to("/api/courses/v1/courses/course-v1").is_empty());
    assert_eq!(lms.calls_to("/api/courseware/course/").len(), 252);
    let run = richie
        .run("https://localhost:8000/courses/course-v1:Org+C0+run/info")
        .unwrap();
    assert_eq!(run["languages"], json!(["pt"]), "pt_PT → pt");
    let run = richie
        .run("https://localhost:8000/courses/course-v1:Org+C1+run/info")
        .unwrap();
    assert_eq!(run["languages"], json!(["en"]), "en-us → en");
    assert_eq!(run["start"], "2031-01-01T00:00:00Z");
    assert!(richie.requests().iter().all(|(auth, body)| body.is_array()
        && auth
            .as_deref()
            .is_some_and(|a| a.starts_with("SIG-HMAC-SHA256 "))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resync_queues_the_courses_of_a_failed_chunk() {
    let (lms, richie) = (
        lms_with(10, ReleaseProfile::Master).await,
        richie_with_codes(10).await,
    );
    richie.fail_next(&[503]);
    let options = Options {
        chunk_size: 4,
        richie_concurrency: 1,
        ..Options::default()
    };
    let svc = service(
        &lms.base_url(),
        &json!([target(&richie.sync_url(), SECRET)]),
        options,
    );
    let summary = handle_event(&svc, schedule()).await.unwrap();
    assert_eq!(
        summary["failed"].as_array().map(Vec::len),
        Some(4),
        "{summary}"
    );
    assert_eq!(summary["queued"], 4);
    assert_eq!(svc.queue().messages.lock().unwrap().len(), 4);
    assert_eq!(richie.run_count(), 8);

    // The queued courses are then synced by the queue consumer.
    let queued: Vec<String> = svc.queue().messages.lock().unwrap().clone();
    let records: Vec<(String, String)> = queued
        .iter()
        .enumerate()
        .map(|(i, b)| (format!("m{i}"), b.clone()))
        .collect();
    let refs: Vec<(&str, &str)> = records
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    assert!(batch_failures(&handle_event(&svc, sqs_event(&refs)).await.unwrap()).is_empty());
    assert_eq!(richie.run_count(), 12);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resync_skips_a_misconfigured_target_and_completes_the_others() {
    let (lms, good, bad) = (
        lms_with(10, ReleaseProfile::Master).await,
        richie_with_codes(10).await,
        richie_with_codes(10).await,
    );
    let mut wrong = target(&bad.sync_url(), "wrong");
    wrong["name"] = json!("misconfigured");
    let mut right = target(&good.sync_url(), SECRET);
    right["name"] = json!("healthy");
    let svc = service(
        &lms.base_url(),
        &json!([wrong, right]),
        Options {
            chunk_size: 2,
            page_size: 4,
            ..Options::default()
        },
    );
    // Not an error: Lambda would retry the whole resync at full LMS load for a
    // mistake a retry cannot fix. The ConfigurationErrors metric (alarmed) says it.
    let summary = handle_event(&svc, schedule())
        .await
        .expect("the others complete");
    assert_eq!(summary["status"], "incomplete", "{summary}");
    assert!(
        summary["configuration_errors"]["misconfigured"]
            .as_str()
            .is_some_and(|e| e.contains("Richie refused our signature (HTTP 401)")),
        "{summary}"
    );
    assert_eq!(summary["listed"], 12);
    assert_eq!(good.run_count(), 12, "the healthy target has every course");
    assert!(
        svc.queue().messages.lock().unwrap().is_empty(),
        "nothing queued for a target every message would fail at"
    );
    assert!(
        bad.requests().len() <= 2,
        "stopped after the first 401s: {}",
        bad.requests().len()
    );
    assert_eq!(summary["pages"], 3, "12 courses in pages of 4");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn richie_5xx_is_retried_in_process_then_synced() {
    let (lms, richie) = (
        lms_with(0, ReleaseProfile::Master).await,
        richie_with_codes(0).await,
    );
    richie.fail_next(&[502]);
    let svc = service(
        &lms.base_url(),
        &json!([target(&richie.sync_url(), SECRET)]),
        Options {
            richie_attempts: 2,
            ..Options::default()
        },
    );
    let body = json!({"course_id": DEMO_COURSE}).to_string();
    let (status, reply) = http_answer(
        &handle_event(&svc, http_event(&body, Some(TOKEN), None))
            .await
            .unwrap(),
    );
    assert_eq!(status, 200, "{reply}");
    assert_eq!(richie.requests().len(), 2);
    // Both attempts carried the same bytes and the same signature.
    let reqs = richie.requests();
    assert_eq!(reqs[0], reqs[1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_budget_exceeded_means_queued_and_no_queue_means_503() {
    let lms = lms_with(0, ReleaseProfile::Master).await;
    let slow = RichieEmulator::start(RichieEmulatorConfig {
        latency: Duration::from_secs(3),
        ..RichieEmulatorConfig::default()
    })
    .await;
    let options = Options {
        http_budget: Duration::from_millis(300),
        ..Options::default()
    };
    let svc = service(
        &lms.base_url(),
        &json!([target(&slow.sync_url(), SECRET)]),
        options,
    );
    let body = json!({"course_id": DEMO_COURSE}).to_string();
    let (status, reply) = http_answer(
        &handle_event(&svc, http_event(&body, Some(TOKEN), None))
            .await
            .unwrap(),
    );
    assert_eq!(status, 202, "{reply}");
    assert_eq!(reply["attempt"]["reason"], "timeout");

    let options = Options {
        http_budget: Duration::from_millis(300),
        queue: MemoryQueue {
            broken: true,
            ..MemoryQueue::default()
        },
        ..Options::default()
    };
    let svc = service(
        &lms.base_url(),
        &json!([target(&slow.sync_url(), SECRET)]),
        options,
    );
    let (status, reply) = http_answer(
        &handle_event(&svc, http_event(&body, Some(TOKEN), None))
            .await
            .unwrap(),
    );
    assert_eq!(status, 503, "{reply}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_targets_configuration_is_retried_everywhere() {
    let lms = lms_with(0, ReleaseProfile::Master).await;
    let svc = service(&lms.base_url(), &json!({"targets": []}), Options::default());
    let body = json!({"course_id": DEMO_COURSE}).to_string();
    let (status, reply) = http_answer(
        &handle_event(&svc, http_event(&body, Some(TOKEN), None))
            .await
            .unwrap(),
    );
    assert_eq!(
        (status, reply["attempt"]["reason"].as_str()),
        (202, Some("targets_unavailable"))
    );
    let answer = handle_event(&svc, sqs_event(&[("a", &body), ("b", &body)]))
        .await
        .unwrap();
    assert_eq!(
        batch_failures(&answer),
        vec!["a".to_owned(), "b".to_owned()]
    );
    assert!(handle_event(&svc, schedule()).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_events_and_bad_bodies() {
    let (lms, richie) = (
        lms_with(0, ReleaseProfile::Master).await,
        richie_with_codes(0).await,
    );
    let svc = service(
        &lms.base_url(),
        &json!([target(&richie.sync_url(), SECRET)]),
        Options::default(),
    );
    // (Enrollment created/changed events are count refreshes: count_refresh_moto.rs.)
    let other = json!({"openedx_events.learning.data.CourseEnrollmentData": {}, "event_metadata": {"event_type": "org.openedx.learning.course.unenrollment.completed.v1"}}).to_string();
    let (status, reply) = http_answer(
        &handle_event(&svc, http_event(&other, Some(TOKEN), None))
            .await
            .unwrap(),
    );
    assert_eq!((status, reply["status"].as_str()), (200, Some("ignored")));
    let form = "openedx_events.content_authoring.data.CourseCatalogData_course_key=course-v1%3AedX%2BDemoX";
    let (status, reply) = http_answer(
        &handle_event(&svc, http_event(form, Some(TOKEN), None))
            .await
            .unwrap(),
    );
    assert_eq!(status, 400, "{reply}");
    assert!(
        reply["message"].as_str().unwrap().contains("www-form"),
        "{reply}"
    );
    let ccx = json!({"course_id": "ccx-v1:edX+DemoX+Demo_Course+ccx@3"}).to_string();
    let (status, _) = http_answer(
        &handle_event(&svc, http_event(&ccx, Some(TOKEN), None))
            .await
            .unwrap(),
    );
    assert_eq!(
        status, 400,
        "Richie would answer 500 on a CCX key: never sent"
    );
    let unknown = json!({"course_id": "course-v1:edX+Nope+1"}).to_string();
    let (status, reply) = http_answer(
        &handle_event(&svc, http_event(&unknown, Some(TOKEN), None))
            .await
            .unwrap(),
    );
    assert_eq!((status, reply["status"].as_str()), (404, Some("not_found")));
    assert!(richie.requests().is_empty());
    let mut get = http_event("{}", Some(TOKEN), None);
    get["requestContext"]["http"]["method"] = json!("GET");
    assert_eq!(http_answer(&handle_event(&svc, get).await.unwrap()).0, 405);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn older_lms_without_instructor_v2_sends_no_count_and_probes_once() {
    let (lms, richie) = (
        lms_with(5, ReleaseProfile::Teak).await,
        richie_with_codes(5).await,
    );
    let svc = service(
        &lms.base_url(),
        &json!([target(&richie.sync_url(), SECRET)]),
        Options::default(),
    );
    let ids: Vec<String> = (0..5).map(|i| format!("course-v1:Org+C{i}+run")).collect();
    let summary = handle_event(&svc, json!({"course_ids": ids}))
        .await
        .unwrap();
    assert_eq!(summary["status"], "done", "{summary}");
    assert_eq!(
        lms.calls_to("/api/instructor/v2/").len(),
        1,
        "switched off after one HTML 404"
    );
    for (_, body) in richie.requests() {
        assert!(body.get("enrollment_count").is_none(), "{body}");
    }

    let sources = CatalogSources {
        enrollment_count: EnrollmentCountSource::None,
        ..CatalogSources::default()
    };
    let lms2 = lms_with(1, ReleaseProfile::Master).await;
    let svc = service(
        &lms2.base_url(),
        &json!([target(&richie.sync_url(), SECRET)]),
        Options {
            sources,
            ..Options::default()
        },
    );
    handle_event(&svc, json!({"course_ids": ["course-v1:Org+C0+run"]}))
        .await
        .unwrap();
    assert!(lms2.calls_to("/api/instructor/").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_event_hidden_flag_and_lms_visibility() {
    let (lms, richie) = (
        lms_with(0, ReleaseProfile::Master).await,
        richie_with_codes(0).await,
    );
    let svc = service(
        &lms.base_url(),
        &json!([target(&richie.sync_url(), SECRET)]),
        Options::default(),
    );
    let body = webhooks_body(DEMO_COURSE, "2031-01-01 00:00:00+00:00", None, true);
    let link = "https://localhost:8000/courses/course-v1:edX+DemoX+Demo_Course/info";
    // Token-authenticated (openedx-webhooks' URL): the event only names the course; a
    // holder of the URL cannot hide it or move its dates. The LMS's values are sent.
    assert_eq!(
        http_answer(
            &handle_event(&svc, http_event(&body, Some(TOKEN), None))
                .await
                .unwrap()
        )
        .0,
        200
    );
    let run = richie.run(link).unwrap();
    assert_eq!(run["catalog_visibility"], "course_and_search");
    assert_ne!(run["start"], "2031-01-01T00:00:00+00:00");
    // Signed (X-Edx-Hooks-Signature over the body): the event's snapshot wins.
    assert_eq!(
        http_answer(
            &handle_event(&svc, http_event(&body, None, Some(TOKEN)))
                .await
                .unwrap()
        )
        .0,
        200
    );
    let run = richie.run(link).unwrap();
    assert_eq!(run["catalog_visibility"], "hidden");
    assert_eq!(run["start"], "2031-01-01T00:00:00+00:00");
    assert_eq!(run["enrollment_start"], "2031-01-01T00:00:00+00:00");
}

/// A Richie behind a proxy that demands basic auth: the credentials take
/// `Authorization`, the signature moves to `X-Richie-Authorization`, over the exact bytes.
#[tokio::test]
async fn basic_auth_moves_the_signature_to_its_own_header() {
    type Seen = Arc<Mutex<Vec<(HeaderMap, Vec<u8>)>>>;
    let seen: Seen = Arc::default();
    let record = seen.clone();
    let app = axum::Router::new().fallback(move |headers: HeaderMap, body: axum::body::Bytes| {
        let record = record.clone();
        async move {
            record.lock().unwrap().push((headers, body.to_vec()));
            axum::Json(json!({"success": true}))
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let targets = parse_targets(&format!(r#"[{{"url": "http://bob:s%40cret@127.0.0.1:{port}/api/v1.0/course-runs-sync/", "secret": "sig-secret"}}]"#)).unwrap();
    let client = RichieClient::new(RichieClientConfig::default()).unwrap();
    let body =
        br#"{"resource_link": "https://lms/courses/course-v1:a+b+c/info", "languages": ["en"]}"#
            .to_vec();
    assert_eq!(
        client.deliver(&targets[0], body.clone()).await.unwrap(),
        RichieAnswer::Synced
    );
    let seen = seen.lock().unwrap();
    let (headers, received) = &seen[0];
    assert_eq!(received, &body);
    assert_eq!(
        headers["authorization"], "Basic Ym9iOnNAY3JldA==",
        "bob:s@cret"
    );
    assert_eq!(
        headers["x-richie-authorization"].to_str().unwrap(),
        richie_authorization(b"sig-secret", &body)
    );
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(headers["accept"], "application/json");
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrollment_count_by_listing_on_releases_without_instructor_v2() {
    let (lms, richie) = (
        lms_with(1, ReleaseProfile::Teak).await,
        richie_with_codes(1).await,
    );
    {
        let mut s = lms.state();
        for i in 0..250 {
            s.add_enrollment(
                &format!("u{i}"),
                "course-v1:Org+C0+run",
                "audit",
                i % 5 != 0,
            );
        }
    }
    let sources = CatalogSources {
        enrollment_count: EnrollmentCountSource::EnrollmentsList { max_pages: 5 },
        ..CatalogSources::default()
    };
    let svc = service(
        &lms.base_url(),
        &json!([target(&richie.sync_url(), SECRET)]),
        Options {
            sources,
            ..Options::default()
        },
    );
    handle_event(&svc, json!({"course_ids": ["course-v1:Org+C0+run"]}))
        .await
        .unwrap();
    let run = richie
        .run("https://localhost:8000/courses/course-v1:Org+C0+run/info")
        .unwrap();
    assert_eq!(run["enrollment_count"], 200, "active rows of 3 pages");
    assert_eq!(lms.calls_to("/api/enrollment/v1/enrollments").len(), 3);

    // Too many pages: no count rather than a wrong one.
    let sources = CatalogSources {
        enrollment_count: EnrollmentCountSource::EnrollmentsList { max_pages: 2 },
        ..CatalogSources::default()
    };
    let richie2 = richie_with_codes(1).await;
    let svc = service(
        &lms.base_url(),
        &json!([target(&richie2.sync_url(), SECRET)]),
        Options {
            sources,
            ..Options::default()
        },
    );
    handle_event(&svc, json!({"course_ids": ["course-v1:Org+C0+run"]}))
        .await
        .unwrap();
    assert!(richie2.requests()[0].1.get("enrollment_count").is_none());
}

/// Two named targets on two Richie emulators.
fn two_targets(healthy: &RichieEmulator, flaky: &RichieEmulator) -> Value {
    let mut a = target(&healthy.sync_url(), SECRET);
    a["name"] = json!("healthy");
    let mut b = target(&flaky.sync_url(), SECRET);
    b["name"] = json!("flaky");
    json!([a, b])
}

fn queued(svc: &support::TestService) -> Vec<Value> {
    svc.queue()
        .messages
        .lock()
        .unwrap()
        .iter()
        .map(|m| serde_json::from_str(m).unwrap())
        .collect()
}

fn replay(bodies: &[Value]) -> Value {
    let bodies: Vec<(String, String)> = bodies
        .iter()
        .enumerate()
        .map(|(i, b)| (format!("m{i}"), b.to_string()))
        .collect();
    let refs: Vec<(&str, &str)> = bodies
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    sqs_event(&refs)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_goes_only_to_the_failed_target_with_the_first_attempts_snapshot() {
    let lms = lms_with(0, ReleaseProfile::Master).await;
    let (healthy, flaky) = (richie_with_codes(0).await, richie_with_codes(0).await);
    flaky.fail_next(&[503]);
    let svc = service(
        &lms.base_url(),
        &two_targets(&healthy, &flaky),
        Options::default(),
    );
    let link = format!("https://localhost:8000/courses/{DEMO_COURSE}/info");
    // Signed: the event's start (2032) is believed; the LMS still says 2030.
    let body = webhooks_body(DEMO_COURSE, "2032-01-01 00:00:00+00:00", None, false);
    let (status, reply) = http_answer(
        &handle_event(&svc, http_event(&body, None, Some(TOKEN)))
            .await
            .unwrap(),
    );
    assert_eq!(status, 202, "{reply}");
    assert_eq!(reply["attempt"]["targets"]["healthy"], "synced");
    assert_eq!(
        reply["attempt"]["targets"]["flaky"]["failed"],
        "unavailable"
    );
    let messages = queued(&svc);
    assert_eq!(messages.len(), 1, "one job, for the failed target only");
    assert_eq!(messages[0]["course_id"], DEMO_COURSE);
    assert_eq!(messages[0]["target"], "flaky");
    assert_eq!(
        messages[0]["snapshot"]["start"], "2032-01-01 00:00:00+00:00",
        "the first attempt's snapshot travels with the retry"
    );

    // The queue consumer retries it: only the failed target, with the event's data.
    let answer = handle_event(&svc, replay(&messages)).await.unwrap();
    assert!(batch_failures(&answer).is_empty(), "{answer}");
    assert_eq!(
        healthy.requests().len(),
        1,
        "nothing re-sent to the synced target"
    );
    assert_eq!(
        flaky.requests().len(),
        2,
        "the failed attempt and the retry"
    );
    assert_eq!(
        flaky.run(&link).unwrap()["start"],
        "2032-01-01T00:00:00+00:00",
        "never older data than the first attempt"
    );
    assert_eq!(
        healthy.run(&link).unwrap()["start"],
        "2032-01-01T00:00:00+00:00"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn earlier_releases_queue_bodies_are_still_accepted_and_narrowed_on_partial_failure() {
    let lms = lms_with(0, ReleaseProfile::Master).await;
    let (healthy, flaky) = (richie_with_codes(0).await, richie_with_codes(0).await);
    let svc = service(
        &lms.base_url(),
        &two_targets(&healthy, &flaky),
        Options::default(),
    );
    // `{"course_id"}` (what the previous release queued) owes every target.
    let old = json!({"course_id": DEMO_COURSE});
    let answer = handle_event(&svc, replay(std::slice::from_ref(&old)))
        .await
        .unwrap();
    assert!(batch_failures(&answer).is_empty(), "{answer}");
    assert_eq!((healthy.requests().len(), flaky.requests().len()), (1, 1));

    // One target fails: the record is acknowledged and only that target is queued,
    // so SQS does not redeliver it to the target that synced.
    flaky.fail_next(&[503]);
    let answer = handle_event(&svc, replay(std::slice::from_ref(&old)))
        .await
        .unwrap();
    assert!(batch_failures(&answer).is_empty(), "{answer}");
    assert_eq!((healthy.requests().len(), flaky.requests().len()), (2, 2));
    let messages = queued(&svc);
    assert_eq!(
        messages,
        vec![json!({"course_id": DEMO_COURSE, "target": "flaky"})]
    );

    // A per-target record whose target fails again is redelivered by SQS (toward the
    // DLQ); a record of the same course for the healthy target is acknowledged.
    flaky.fail_next(&[503]);
    let both = [
        json!({"course_id": DEMO_COURSE, "target": "flaky"}),
        json!({"course_id": DEMO_COURSE, "target": "healthy"}),
    ];
    let answer = handle_event(&svc, replay(&both)).await.unwrap();
    assert_eq!(batch_failures(&answer), vec!["m0".to_owned()], "{answer}");
    assert_eq!(
        lms.calls_to(&format!("/api/courses/v1/courses/{DEMO_COURSE}"))
            .len(),
        3,
        "the two records of one course were one job: one LMS read"
    );
    assert_eq!((healthy.requests().len(), flaky.requests().len()), (3, 3));
    assert_eq!(queued(&svc).len(), 1, "nothing more queued");

    // A job for a target that is no longer configured is dropped, not retried.
    let gone = json!({"course_id": DEMO_COURSE, "target": "removed"});
    let answer = handle_event(&svc, replay(&[gone])).await.unwrap();
    assert!(batch_failures(&answer).is_empty(), "{answer}");
    assert_eq!((healthy.requests().len(), flaky.requests().len()), (3, 3));
}
