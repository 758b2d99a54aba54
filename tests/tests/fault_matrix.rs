//! One test per row of docs/RELIABILITY.md that is not already covered by
//! `webhook_emulator.rs` / `secrets_moto.rs`: every fault ends in a documented
//! answer, never a false success and never a half-applied request.

use std::time::{Duration, Instant};

use edx_hooks_tests::support::free_port;
use edx_hooks_tests::webhook_harness::{
    client, payload, service_for, sign, Harness, HarnessOptions, DEMO, E2E, PATH, SECRET,
};

const INTERNAL: &str = r#"{"success":false,"message":"Internal server error"}"#;

#[tokio::test]
async fn lms_down_is_a_500_quickly() {
    let options = HarnessOptions::default();
    let base = format!("http://127.0.0.1:{}", free_port());
    let service = service_for(client(base, &options), vec![SECRET.into()]);
    let body = payload("learner@example.com", &[DEMO]);
    let started = Instant::now();
    let reply = service
        .handle("POST", PATH, Some(&sign(&body)), body.as_bytes())
        .await;
    assert_eq!((reply.status, reply.body.as_str()), (500, INTERNAL));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn plain_500_is_not_retried_and_not_a_success() {
    let h = Harness::default().await;
    h.lms
        .faults()
        .fail_next("/api/enrollment/v1/enrollment", 1, 500);
    let reply = h.post(&payload("learner@example.com", &[DEMO])).await;
    assert_eq!((reply.status, reply.body.as_str()), (500, INTERNAL));
    assert_eq!(
        h.lms
            .calls_to("/api/enrollment/v1/enrollment")
            .iter()
            .filter(|c| c.method == "POST")
            .count(),
        1
    );
    // Lernito's retry then succeeds and converges.
    assert_eq!(
        h.post(&payload("learner@example.com", &[DEMO]))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn bad_gateway_and_gateway_timeout_are_retried() {
    for status in [502, 504] {
        let h = Harness::default().await;
        h.lms.faults().fail_next("/api/user/v1/accounts", 2, status);
        let reply = h.post(&payload("learner@example.com", &[DEMO])).await;
        assert_eq!(reply.status, 200, "{status}: {}", reply.body);
    }
}

#[tokio::test]
async fn throttling_without_retry_after_backs_off() {
    let h = Harness::default().await;
    h.lms
        .faults()
        .throttle_next("/api/enrollment/v1/enrollment", 2, None);
    let reply = h.post(&payload("learner@example.com", &[DEMO])).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
}

#[tokio::test]
async fn retry_after_longer_than_we_may_wait_fails_now() {
    let h = Harness::default().await;
    h.lms
        .faults()
        .throttle_next("/api/enrollment/v1/enrollment", 1, Some(600));
    let started = Instant::now();
    let reply = h.post(&payload("learner@example.com", &[DEMO])).await;
    assert_eq!((reply.status, reply.body.as_str()), (500, INTERNAL));
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(h.lms.state().enrollment("learner", DEMO).is_none());
}

#[tokio::test]
async fn token_endpoint_transiently_failing_is_retried() {
    let h = Harness::default().await;
    h.lms.faults().fail_token_endpoint(2, 503);
    let reply = h.post(&payload("learner@example.com", &[DEMO])).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
}

#[tokio::test]
async fn token_endpoint_down_is_a_500() {
    let h = Harness::default().await;
    h.lms.faults().fail_token_endpoint(100, 503);
    let reply = h.post(&payload("learner@example.com", &[DEMO])).await;
    assert_eq!((reply.status, reply.body.as_str()), (500, INTERNAL));
    assert!(h.lms.state().enrollment("learner", DEMO).is_none());
}

#[tokio::test]
async fn token_expiring_between_requests_is_renewed() {
    let h = Harness::start(HarnessOptions {
        token_ttl_secs: 1,
        ..HarnessOptions::default()
    })
    .await;
    assert_eq!(
        h.post(&payload("learner@example.com", &[DEMO]))
            .await
            .status,
        200
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        h.post(&payload("learner@example.com", &[E2E])).await.status,
        200
    );
    assert!(h.lms.calls_to("/oauth2/access_token").len() >= 2);
}

#[tokio::test]
async fn credentials_revoked_for_good_is_a_500() {
    let h = Harness::default().await;
    assert_eq!(
        h.post(&payload("learner@example.com", &[DEMO]))
            .await
            .status,
        200
    );
    // The application is deleted: cached token refused, new tokens refused.
    h.lms.state().revoke_tokens();
    h.lms.faults().fail_token_endpoint(100, 401);
    let reply = h.post(&payload("learner@example.com", &[E2E])).await;
    assert_eq!((reply.status, reply.body.as_str()), (500, INTERNAL));
    assert!(h.lms.state().enrollment("learner", E2E).is_none());
}

#[tokio::test]
async fn dropped_connections_are_retried() {
    let h = Harness::default().await;
    h.lms
        .faults()
        .drop_next("/api/enrollment/v1/enrollment_allowed/", 1);
    let reply = h.post(&payload("someone.new@example.com", &[DEMO])).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(h
        .lms
        .state()
        .allowance("someone.new@example.com", DEMO)
        .is_some());
}

#[tokio::test]
async fn failure_on_the_second_course_is_a_500_and_a_retry_converges() {
    let h = Harness::start(HarnessOptions {
        concurrency: 1,
        ..HarnessOptions::default()
    })
    .await;
    // Sequential: DEMO's enrollment succeeds, E2E's fails for good this time.
    h.lms
        .faults()
        .fail_next("/api/enrollment/v1/enrollment", 1000, 503);
    let body = payload("learner@example.com", &[DEMO, E2E]);
    let reply = h.post(&body).await;
    assert_eq!((reply.status, reply.body.as_str()), (500, INTERNAL));
    h.lms.faults().clear();
    let reply = h.post(&body).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(h.lms.state().enrollment_count(), 2);
}
