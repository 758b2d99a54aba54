//! Reliability points of the enrollment webhook that only a fault injector can produce
//! (the LMS emulator; the real LMS cannot refuse connections, hang or fail on cue):
//! no email in any log line through an HTTP error's URL, one token fetch shared by
//! every waiting call, the request deadline, and an allowance never lost while its
//! `auto_enroll` flag is switched on.

use std::time::{Duration, Instant};

use edx_hooks_tests::lms_emulator::{
    FaultAction, FaultRule, ENROLLMENT_ALLOWED_V1_PATH, TOKEN_PATH,
};
use edx_hooks_tests::support::{free_port, LogCapture};
use edx_hooks_tests::webhook_harness::{
    client, payload, service_for, Harness, HarnessOptions, DEMO, E2E, SECRET,
};

const INTERNAL: &str = r#"{"success":false,"message":"Internal server error"}"#;

#[tokio::test]
async fn an_email_never_reaches_a_log_through_a_refused_connection() {
    LogCapture::global();
    // Nothing listens there: every call (the accounts lookup's URL carries `?email=`)
    // fails with a connection error whose text would include the URL.
    let closed = format!("http://127.0.0.1:{}", free_port());
    let service = service_for(
        client(closed, &HarnessOptions::default()),
        vec![SECRET.into()],
    );
    let body = payload("secret.buyer+tag@example.com", &[DEMO, E2E]);
    let reply = service
        .handle(
            "POST",
            "/lernito/webhook/",
            Some(&edx_hooks_tests::webhook_harness::sign(&body)),
            body.as_bytes(),
        )
        .await;
    assert_eq!((reply.status, reply.body.as_str()), (500, INTERNAL));
    let log = LogCapture::global().text();
    assert!(log.contains("connection"), "the failure is logged: {log}");
    for leak in ["secret.buyer", "secret.buyer%2Btag", "example.com"] {
        assert!(!log.contains(leak), "{leak} in the logs:\n{log}");
    }
}

#[tokio::test]
async fn waiting_calls_share_one_failed_token_fetch() {
    let h = Harness::default().await;
    h.lms.faults().fail_token_endpoint(1000, 503);
    // Ten courses: a dozen LMS calls start at once and all need the token.
    let courses: Vec<String> = (0..10).map(|i| format!("course-v1:edX+T{i}+run")).collect();
    for c in &courses {
        h.lms
            .state()
            .add_course(c, edx_hooks_tests::lms_emulator::CourseInfo::named("t"));
    }
    let ids: Vec<&str> = courses.iter().map(String::as_str).collect();
    let reply = h.post(&payload("learner@example.com", &ids)).await;
    assert_eq!((reply.status, reply.body.as_str()), (500, INTERNAL));
    let token_calls = h.lms.calls_to(TOKEN_PATH).len();
    // One fetch with its retries (3 attempts), not one full retry cycle per caller.
    assert_eq!(token_calls, 3, "token endpoint called {token_calls} times");
}

#[tokio::test]
async fn a_hanging_lms_never_outlasts_the_request_budget() {
    let h = Harness::start(HarnessOptions {
        request_timeout: Duration::from_secs(10),
        ..HarnessOptions::default()
    })
    .await;
    let service = service_for(
        client(
            h.lms.base_url(),
            &HarnessOptions {
                request_timeout: Duration::from_secs(10),
                ..HarnessOptions::default()
            },
        ),
        vec![SECRET.into()],
    )
    .with_budget(Duration::from_millis(1500));
    h.lms.faults().hang_next("/api/", 100);
    let body = payload("learner@example.com", &[DEMO]);
    let started = Instant::now();
    let reply = service
        .handle(
            "POST",
            "/lernito/webhook/",
            Some(&edx_hooks_tests::webhook_harness::sign(&body)),
            body.as_bytes(),
        )
        .await;
    let took = started.elapsed();
    assert_eq!((reply.status, reply.body.as_str()), (500, INTERNAL));
    assert!(
        took >= Duration::from_millis(1400) && took < Duration::from_millis(2500),
        "took {took:?}"
    );
}

#[tokio::test]
async fn switching_auto_enroll_on_never_leaves_the_learner_without_an_allowance() {
    let h = Harness::default().await;
    let email = "newcomer@example.com";
    h.lms.state().add_allowance(email, DEMO, false);
    let faults = h.lms.faults();
    // The first POST (answered 409: it exists) passes; the re-creation after the DELETE
    // fails on every attempt; the restore that follows passes.
    faults.add_rule(FaultRule {
        path_prefix: ENROLLMENT_ALLOWED_V1_PATH.into(),
        method: Some("POST".into()),
        remaining: Some(1),
        action: FaultAction::Delay(Duration::ZERO),
    });
    faults.add_rule(FaultRule {
        path_prefix: ENROLLMENT_ALLOWED_V1_PATH.into(),
        method: Some("POST".into()),
        remaining: Some(3),
        action: FaultAction::Respond {
            status: 503,
            body: "{}".into(),
            content_type: "application/json".into(),
            retry_after: None,
        },
    });
    let reply = h.post(&payload(email, &[DEMO])).await;
    assert_eq!((reply.status, reply.body.as_str()), (500, INTERNAL));
    let kept = h.lms.state().allowance(email, DEMO);
    assert!(kept.is_some(), "the allowance was put back");
    // A retry of the sale (Lernito retries 500s) then switches it on.
    let reply = h.post(&payload(email, &[DEMO])).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        h.lms.state().allowance(email, DEMO).map(|a| a.auto_enroll),
        Some(true)
    );
}
