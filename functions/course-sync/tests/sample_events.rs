//! Every sample event in `events/course-sync/` through the Lambda handler, against the
//! LMS emulator (demo data) and the real Richie (launcher defaults): the same stack and
//! the same expectations (`events/course-sync/expectations.json`) as
//! `scripts/invoke-samples`, minus cargo-lambda's runtime emulator.

mod support;

use serde_json::Value;

use course_sync::lambda::handle_event;
use edx_hooks_tests::lms_emulator::{EmulatorConfig, LmsEmulator};
use edx_hooks_tests::richie_server::{RichieServer, DEFAULT_SYNC_SECRET};
use edx_hooks_tests::support::workspace_root;
use support::{service, target, Options};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sample_events_answer_as_expected() {
    let richie = tokio::task::spawn_blocking(RichieServer::start)
        .await
        .unwrap();
    let lms = LmsEmulator::start(EmulatorConfig::demo()).await;
    let options = Options {
        token: "local-course-sync-token".into(),
        ..Options::default()
    };
    let svc = service(
        &lms.base_url(),
        &serde_json::json!([target(&richie.sync_url(), DEFAULT_SYNC_SECRET)]),
        options,
    );
    let root = workspace_root();
    let cases: Vec<(String, String, u16, String)> = serde_json::from_str(
        &std::fs::read_to_string(root.join("events/course-sync/expectations.json")).unwrap(),
    )
    .unwrap();
    assert!(cases.len() >= 8);
    for (function, file, status, fragment) in cases {
        assert_eq!(function, "course-sync");
        let event: Value =
            serde_json::from_str(&std::fs::read_to_string(root.join(&file)).unwrap()).unwrap();
        let answer = handle_event(&svc, event)
            .await
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        // As scripts/check_invocations.py reads an answer.
        let got_status = answer
            .get("statusCode")
            .and_then(Value::as_u64)
            .unwrap_or(200) as u16;
        let body = match answer.get("body") {
            Some(Value::String(b)) => b.clone(),
            _ => answer.to_string(),
        };
        assert_eq!(got_status, status, "{file}: {body}");
        assert!(body.contains(&fragment), "{file}: {fragment} not in {body}");
    }
    let link = "https://localhost:8000/courses/course-v1:edX+DemoX+Demo_Course/info";
    let (draft, _) = richie.seeded_run(link).unwrap();
    assert_eq!(
        richie.course_run(draft).1["languages"],
        serde_json::json!(["en"])
    );
}
