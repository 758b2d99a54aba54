//! End to end against the REAL Richie (PyPI `richie==3.5.1`, started by
//! `tests/richie/start.sh` through `edx_hooks_tests::richie_server`) and the Open edX
//! LMS emulator: Lambda events in, Richie's database read back through its public API
//! (`GET /api/v1.0/course-runs/<id>/`) and the launcher's lookup by resource link.
//!
//! The first run installs Richie into `<root>/.venv-richie` (≈80 s, needs PyPI); later
//! runs start a Richie in ≈3 s per test.

mod support;

use serde_json::{json, Value};

use course_sync::lambda::handle_event;
use edx_hooks_tests::lms_emulator::{
    CourseInfo, EmulatorConfig, LmsEmulator, UtcTime, DEMO_COURSE, E2E_COURSE,
};
use edx_hooks_tests::richie_server::{RichieServer, DEFAULT_SYNC_SECRET};
use support::{
    batch_failures, http_answer, http_event, service, sqs_event, target, webhooks_body, Options,
    LMS_HOST, TOKEN,
};

const DEMO_LINK: &str = "https://localhost:8000/courses/course-v1:edX+DemoX+Demo_Course/info";

async fn richie() -> RichieServer {
    tokio::task::spawn_blocking(RichieServer::start)
        .await
        .expect("richie start")
}

async fn lms() -> LmsEmulator {
    let lms = LmsEmulator::start(EmulatorConfig::demo()).await;
    {
        let mut s = lms.state();
        if let Some(c) = s.course_mut(DEMO_COURSE) {
            c.start = Some(UtcTime::at("2030-01-01T00:00:00Z"));
            c.end = Some(UtcTime::at("2030-06-30T23:59:00Z"));
            c.language = Some("fr".into());
        }
        s.add_enrollment("learner", DEMO_COURSE, "audit", true);
        s.add_enrollment("someone", DEMO_COURSE, "audit", true);
        s.add_enrollment("gone", DEMO_COURSE, "audit", false);
    }
    lms
}

fn run_fields(richie: &RichieServer, id: u64) -> Value {
    let (status, body) = richie.course_run(id);
    assert_eq!(status, 200, "GET course-runs/{id}: {body}");
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn course_published_event_updates_the_run_in_richie() {
    let (richie, lms) = (richie().await, lms().await);
    let (draft, public) = richie.seeded_run(DEMO_LINK).expect("seeded run");
    let public = public.expect("published page has a public run");
    assert_eq!(run_fields(&richie, draft)["start"], "2020-01-01T00:00:00Z");

    let svc = service(
        &lms.base_url(),
        &json!([target(&richie.sync_url(), DEFAULT_SYNC_SECRET)]),
        Options::default(),
    );
    let body = webhooks_body(
        DEMO_COURSE,
        "2031-03-01 09:00:00+00:00",
        Some("2031-09-30 18:00:00+00:00"),
        false,
    );
    // Signed (`X-Edx-Hooks-Signature` over the body): its snapshot is believed.
    let answer = handle_event(&svc, http_event(&body, None, Some(TOKEN)))
        .await
        .unwrap();
    let (status, reply) = http_answer(&answer);
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["status"], "synced");
    assert_eq!(reply["targets"]["127.0.0.1"], "synced");

    // The event's dates win over the LMS's (2030); the rest comes from the LMS.
    for id in [draft, public] {
        let run = run_fields(&richie, id);
        assert_eq!(run["start"], "2031-03-01T09:00:00Z", "{run}");
        assert_eq!(run["end"], "2031-09-30T18:00:00Z");
        assert_eq!(
            run["enrollment_start"], "2031-03-01T09:00:00Z",
            "falls back to start"
        );
        assert_eq!(run["enrollment_end"], Value::Null);
        assert_eq!(run["languages"], json!(["fr"]));
        assert_eq!(run["enrollment_count"], 2, "active enrollments");
        assert_eq!(run["catalog_visibility"], "course_and_search");
    }

    // The same course through the queue: the LMS is the source (its dates are 2030).
    let answer = handle_event(
        &svc,
        sqs_event(&[("m1", &json!({"course_id": DEMO_COURSE}).to_string())]),
    )
    .await
    .unwrap();
    assert!(batch_failures(&answer).is_empty(), "{answer}");
    assert_eq!(run_fields(&richie, public)["start"], "2030-01-01T00:00:00Z");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_minimal_body_creates_a_run_under_the_existing_page() {
    let (richie, lms) = (richie().await, lms().await);
    let svc = service(
        &lms.base_url(),
        &json!([target(&richie.sync_url(), DEFAULT_SYNC_SECRET)]),
        Options::default(),
    );
    let body = json!({"course_id": E2E_COURSE}).to_string();
    let answer = handle_event(&svc, http_event(&body, None, Some(TOKEN)))
        .await
        .unwrap();
    assert_eq!(http_answer(&answer).0, 200, "{answer}");

    let link = format!("https://{LMS_HOST}/courses/{E2E_COURSE}/info");
    let runs = richie.runs_by_link(&link);
    assert_eq!(runs.len(), 2, "draft and public run: {runs:?}");
    for run in &runs {
        assert_eq!(run["course_code"], "E2E-101");
        assert_eq!(run["start"], "2024-01-01T00:00:00+00:00");
        assert_eq!(run["enrollment_start"], "2023-12-01T00:00:00+00:00");
        assert_eq!(run["end"], "2035-12-31T23:59:59+00:00");
        assert_eq!(run["languages"], json!(["fr"]));
        assert_eq!(run["sync_mode"], "sync_to_public");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthenticated_requests_are_refused_before_anything_happens() {
    let (richie, lms) = (richie().await, lms().await);
    let svc = service(
        &lms.base_url(),
        &json!([target(&richie.sync_url(), DEFAULT_SYNC_SECRET)]),
        Options::default(),
    );
    let body = json!({"course_id": DEMO_COURSE}).to_string();
    for event in [
        http_event(&body, None, None),
        http_event(&body, Some("wrong-token"), None),
        http_event(&body, None, Some("wrong-key")),
    ] {
        let (status, reply) = http_answer(&handle_event(&svc, event).await.unwrap());
        assert_eq!(status, 401, "{reply}");
    }
    assert!(
        lms.calls_to("/api/courses/").is_empty(),
        "no LMS call for an unauthenticated request"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn richie_401_is_a_configuration_error_that_is_retried() {
    let (richie, lms) = (richie().await, lms().await);
    let svc = service(
        &lms.base_url(),
        &json!([target(&richie.sync_url(), "not-the-richie-secret")]),
        Options::default(),
    );
    let body = webhooks_body(DEMO_COURSE, "2031-03-01 09:00:00+00:00", None, false);
    let (status, reply) = http_answer(
        &handle_event(&svc, http_event(&body, Some(TOKEN), None))
            .await
            .unwrap(),
    );
    assert_eq!(status, 202, "queued for retry: {reply}");
    assert_eq!(reply["status"], "queued");
    assert_eq!(
        reply["attempt"]["targets"]["127.0.0.1"]["failed"],
        "unauthorized"
    );
    // One job for the target still owed; a URL-token event carries no snapshot.
    let queued = svc.queue().messages.lock().unwrap().clone();
    assert_eq!(
        queued,
        vec![json!({"course_id": DEMO_COURSE, "target": "127.0.0.1"}).to_string()]
    );

    // From the queue it fails again, so SQS redelivers it and finally dead-letters it;
    // so does a body of the previous release (`{"course_id"}`, every target).
    let answer = handle_event(
        &svc,
        sqs_event(&[
            ("m1", &queued[0]),
            ("m2", &json!({"course_id": DEMO_COURSE}).to_string()),
        ]),
    )
    .await
    .unwrap();
    assert_eq!(
        batch_failures(&answer),
        vec!["m1".to_owned(), "m2".to_owned()]
    );
    let (draft, _) = richie.seeded_run(DEMO_LINK).unwrap();
    assert_eq!(
        run_fields(&richie, draft)["start"],
        "2020-01-01T00:00:00Z",
        "nothing written"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_course_is_a_permanent_rejection() {
    let (richie, lms) = (richie().await, lms().await);
    lms.state().add_course(
        "course-v1:edX+NOPE101+2030",
        CourseInfo::named("No page in Richie"),
    );
    let svc = service(
        &lms.base_url(),
        &json!([target(&richie.sync_url(), DEFAULT_SYNC_SECRET)]),
        Options::default(),
    );
    let body = webhooks_body(
        "course-v1:edX+NOPE101+2030",
        "2031-01-01 00:00:00+00:00",
        None,
        false,
    );
    let (status, reply) = http_answer(
        &handle_event(&svc, http_event(&body, Some(TOKEN), None))
            .await
            .unwrap(),
    );
    assert_eq!(status, 422, "{reply}");
    assert_eq!(reply["status"], "rejected");
    assert_eq!(
        reply["targets"]["127.0.0.1"]["rejected"],
        "resource_link: Unknown course: NOPE101."
    );
    assert!(
        svc.queue().messages.lock().unwrap().is_empty(),
        "not retried"
    );

    let answer = handle_event(
        &svc,
        sqs_event(&[(
            "m1",
            &json!({"course_id": "course-v1:edX+NOPE101+2030"}).to_string(),
        )]),
    )
    .await
    .unwrap();
    assert!(
        batch_failures(&answer).is_empty(),
        "a permanent rejection is acknowledged: {answer}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_failing_target_does_not_stop_the_others() {
    let (richie, lms) = (richie().await, lms().await);
    let dead = format!(
        "http://127.0.0.1:{}/api/v1.0/course-runs-sync/",
        edx_hooks_tests::support::free_port()
    );
    let mut down = target(&dead, "s");
    down["name"] = json!("down");
    let svc = service(
        &lms.base_url(),
        &json!([down, target(&richie.sync_url(), DEFAULT_SYNC_SECRET)]),
        Options::default(),
    );
    let body = webhooks_body(DEMO_COURSE, "2032-01-01 00:00:00+00:00", None, false);
    let (status, reply) = http_answer(
        // Signed, so the event's date (2032) is what the healthy target must show.
        &handle_event(&svc, http_event(&body, None, Some(TOKEN)))
            .await
            .unwrap(),
    );
    assert_eq!(status, 202, "{reply}");
    assert_eq!(reply["attempt"]["targets"]["127.0.0.1"], "synced");
    assert_eq!(reply["attempt"]["targets"]["down"]["failed"], "connection");
    let (draft, _) = richie.seeded_run(DEMO_LINK).unwrap();
    assert_eq!(
        run_fields(&richie, draft)["start"],
        "2032-01-01T00:00:00Z",
        "the healthy target got it"
    );
    let queued = svc.queue().messages.lock().unwrap().clone();
    assert_eq!(queued.len(), 1, "retried for the failing target only");
    let job: Value = serde_json::from_str(&queued[0]).unwrap();
    assert_eq!(job["target"], "down");
    assert_eq!(
        job["snapshot"]["start"], "2032-01-01 00:00:00+00:00",
        "the signed event's snapshot is kept for the retry"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqs_batch_reports_only_the_failed_records() {
    let (richie, lms) = (richie().await, lms().await);
    lms.state()
        .add_course("course-v1:edX+Flaky+1", CourseInfo::named("flaky"));
    lms.faults()
        .fail_next("/api/courses/v1/courses/course-v1:edX+Flaky+1", 100, 503);
    let svc = service(
        &lms.base_url(),
        &json!([target(&richie.sync_url(), DEFAULT_SYNC_SECRET)]),
        Options::default(),
    );
    let good = json!({"course_id": DEMO_COURSE}).to_string();
    let records = [
        ("m1", good.as_str()),
        ("m2", r#"{"course_id": "course-v1:edX+Missing+1"}"#),
        ("m3", "course_id=oops"),
        ("m4", r#"{"course_id": "course-v1:edX+Flaky+1"}"#),
        ("m5", good.as_str()),
        ("m6", r#"{"course_id": "course-v1:edX+E2E-101+course"}"#),
    ];
    let answer = handle_event(&svc, sqs_event(&records)).await.unwrap();
    assert_eq!(batch_failures(&answer), vec!["m4".to_owned()], "{answer}");
    let (draft, _) = richie.seeded_run(DEMO_LINK).unwrap();
    assert_eq!(run_fields(&richie, draft)["start"], "2030-01-01T00:00:00Z");
    assert_eq!(
        richie
            .runs_by_link(&format!("https://{LMS_HOST}/courses/{E2E_COURSE}/info"))
            .len(),
        2
    );
    let detail_calls = lms
        .calls_to(&format!("/api/courses/v1/courses/{DEMO_COURSE}"))
        .len();
    assert_eq!(
        detail_calls, 1,
        "a course repeated in a batch is synced once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_resync_pages_the_lms_and_posts_list_chunks() {
    let (richie, lms) = (richie().await, lms().await);
    for i in 0..5 {
        lms.state().add_course(
            &format!("course-v1:edX+Unknown{i}+run"),
            CourseInfo::named("no page"),
        );
    }
    let options = Options {
        page_size: 2,
        chunk_size: 3,
        ..Options::default()
    };
    let svc = service(
        &lms.base_url(),
        &json!([target(&richie.sync_url(), DEFAULT_SYNC_SECRET)]),
        options,
    );
    let schedule = json!({
        "version": "0", "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa", "detail-type": "Scheduled Event",
        "source": "aws.events", "account": "123456789012", "time": "2026-11-22T03:00:00Z", "region": "eu-west-1",
        "resources": ["arn:aws:events:eu-west-1:123456789012:rule/nightly"], "detail": {}
    });
    let summary = handle_event(&svc, schedule).await.unwrap();
    assert_eq!(summary["listed"], 7, "{summary}");
    assert_eq!(summary["synced"], 2);
    assert_eq!(summary["rejected"].as_array().map(Vec::len), Some(5));
    assert_eq!(
        summary["rejected"][0]["message"],
        "resource_link: Unknown course: UNKNOWN0."
    );
    // Delivered page by page: pages of 2, 2, 2, 1 runs, each one list (≤ 3).
    assert_eq!(
        summary["richie_requests"], 4,
        "7 runs, one list per page of 2"
    );
    assert_eq!(summary["status"], "done");
    assert_eq!(
        lms.calls_to("/api/courses/v1/courses/")
            .iter()
            .filter(|c| c.path == "/api/courses/v1/courses/")
            .count(),
        4,
        "4 pages of 2"
    );

    let (draft, public) = richie.seeded_run(DEMO_LINK).unwrap();
    assert_eq!(run_fields(&richie, draft)["start"], "2030-01-01T00:00:00Z");
    assert_eq!(run_fields(&richie, public.unwrap())["enrollment_count"], 2);
    assert_eq!(
        richie
            .runs_by_link(&format!("https://{LMS_HOST}/courses/{E2E_COURSE}/info"))
            .len(),
        2
    );
}
