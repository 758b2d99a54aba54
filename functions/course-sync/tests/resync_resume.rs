//! A resync that cannot finish in one invocation continues where it stopped, through
//! the retry queue: the LMS emulator, the Richie emulator, the real adapters and the
//! real service; the queue in memory (its SQS adapter and the delay are in `sqs_moto`).

mod support;

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use course_sync::lambda::{handle_event, handle_event_until};
use edx_hooks_tests::lms_emulator::{CourseInfo, EmulatorConfig, LmsEmulator, UtcTime};
use support::richie_emulator::{RichieEmulator, RichieEmulatorConfig};
use support::{batch_failures, service, sqs_event, target, Options};

const SECRET: &str = "richie-secret";
const LIST: &str = "/api/courses/v1/courses/";

fn schedule() -> Value {
    json!({"version": "0", "detail-type": "Scheduled Event", "source": "aws.events", "detail": {}})
}

/// 8 courses on the LMS (pages of 5: two pages), each known to Richie.
async fn setup() -> (LmsEmulator, RichieEmulator) {
    let lms = LmsEmulator::start(EmulatorConfig::demo()).await;
    let mut codes = Vec::new();
    {
        let mut state = lms.state();
        for id in [
            "course-v1:edX+DemoX+Demo_Course",
            "course-v1:edX+E2E-101+course",
        ] {
            state.remove_course(id);
        }
        for i in 0..8 {
            let info = CourseInfo {
                start: Some(UtcTime::at("2031-01-01T00:00:00Z")),
                ..CourseInfo::named(&format!("Course {i}"))
            };
            state.add_course(&format!("course-v1:Org+R{i}+run"), info);
            codes.push(format!("R{i}"));
        }
    }
    let richie = RichieEmulator::start(RichieEmulatorConfig {
        course_codes: codes,
        secrets: vec![SECRET.into()],
        ..RichieEmulatorConfig::default()
    })
    .await;
    (lms, richie)
}

fn options() -> Options {
    Options {
        page_size: 5,
        // One page a minute: the second page's turn is past a short invocation.
        list_pages_per_minute: 1,
        ..Options::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resync_cut_by_its_deadline_continues_from_the_queue_without_resending() {
    let (lms, richie) = setup().await;
    let svc = service(
        &lms.base_url(),
        &json!([target(&richie.sync_url(), SECRET)]),
        options(),
    );
    // 25 s left: page 1 now; page 2's turn (a minute later) plus the 20 s page reserve
    // would cross the deadline, so the resync stops there and queues its continuation.
    let started = Instant::now();
    let summary = handle_event_until(
        &svc,
        schedule(),
        Some(Instant::now() + Duration::from_secs(25)),
    )
    .await
    .expect("a continued resync succeeds");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "it did not wait for page 2"
    );
    assert_eq!(summary["status"], "continued", "{summary}");
    assert_eq!(
        (summary["pages"].as_u64(), summary["synced"].as_u64()),
        (Some(1), Some(5))
    );
    assert_eq!(summary["resume_from"], 2);
    let queued = svc.queue().messages.lock().unwrap().clone();
    assert_eq!(queued.len(), 1, "{queued:?}");
    assert_eq!(
        serde_json::from_str::<Value>(&queued[0]).unwrap(),
        json!({"resync": "all", "from_page": 2})
    );
    assert_eq!(richie.run_count(), 5);
    let list_calls = lms.calls_to(LIST).len();

    // The queue delivers the continuation: page 2 only, then the resync is done.
    let answer = handle_event(&svc, sqs_event(&[("m-1", &queued[0])]))
        .await
        .unwrap();
    assert!(batch_failures(&answer).is_empty(), "{answer}");
    assert_eq!(richie.run_count(), 8, "every course synced");
    assert_eq!(
        lms.calls_to(LIST).len() - list_calls,
        1,
        "page 2 alone was read"
    );
    let runs: usize = richie
        .requests()
        .iter()
        .map(|(_, body)| body.as_array().map_or(1, Vec::len))
        .sum();
    assert_eq!(runs, 8, "no course was sent twice");
    assert_eq!(
        svc.queue().messages.lock().unwrap().len(),
        1,
        "no further continuation"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_continuation_that_makes_no_progress_fails_its_record_and_a_direct_one_resumes() {
    let (lms, richie) = setup().await;
    let svc = service(
        &lms.base_url(),
        &json!([target(&richie.sync_url(), SECRET)]),
        options(),
    );
    let body = json!({"resync": "all", "from_page": 2}).to_string();
    // The course list refuses (403): nothing was delivered, so the record fails and SQS
    // delivers it again (then its dead-letter queue) — not a new continuation.
    lms.fail_next(LIST, 1, 403);
    let answer = handle_event(&svc, sqs_event(&[("m-1", &body)]))
        .await
        .unwrap();
    assert_eq!(batch_failures(&answer), ["m-1"], "{answer}");
    assert!(svc.queue().messages.lock().unwrap().is_empty());
    assert_eq!(richie.run_count(), 0);

    // The same body as a direct command (the runbook's replay): page 2 on.
    let summary = handle_event(&svc, json!({"resync": "all", "from_page": 2}))
        .await
        .expect("resync from page 2");
    assert_eq!(summary["status"], "done", "{summary}");
    assert_eq!(
        (summary["first_page"].as_u64(), summary["synced"].as_u64()),
        (Some(2), Some(3))
    );
    assert_eq!(richie.run_count(), 3, "courses of page 2 only");
}
