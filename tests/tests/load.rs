//! A bounded local load test (loopback only, stops by itself): 2,000 webhooks
//! from 50 concurrent senders, many for the same learners and courses. Every
//! enrollment and allowance must exist exactly once, no 5xx, and the configured
//! concurrency toward the LMS is never exceeded. Prints throughput and latency.

use std::sync::Arc;
use std::time::{Duration, Instant};

use edx_hooks_tests::lms_emulator::{CourseInfo, Throttling};
use edx_hooks_tests::webhook_harness::{payload, sign, Harness, HarnessOptions, PATH};

const REQUESTS: usize = 2_000;
const SENDERS: usize = 50;
const LMS_CONCURRENCY: usize = 8;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_webhooks_fifty_at_a_time() {
    let h = Harness::start(HarnessOptions {
        concurrency: LMS_CONCURRENCY,
        ..HarnessOptions::default()
    })
    .await;
    // ~2,000 webhooks in seconds are far over the real 120/min staff bucket; this test is about concurrency and exactly-once, not rate limits.
    h.lms.set_throttling(Throttling::off());
    let courses: Vec<String> = (0..5).map(|i| format!("course-v1:Load+C{i}+Run")).collect();
    {
        let mut state = h.lms.state();
        for c in &courses {
            state.add_course(c, CourseInfo::named("Load"));
        }
        for u in 0..10 {
            state.add_user(
                &format!("known{u}"),
                &format!("known{u}@example.com"),
                false,
                true,
            );
        }
    }
    h.lms.faults().set_latency(Duration::from_millis(2));
    // 10 known learners + 10 unknown emails, each with a fixed pair of courses.
    let bodies: Arc<Vec<String>> = Arc::new(
        (0..20)
            .map(|i| {
                let email = if i < 10 {
                    format!("known{i}@example.com")
                } else {
                    format!("new{i}@example.com")
                };
                payload(&email, &[&courses[i % 5], &courses[(i + 1) % 5]])
            })
            .collect(),
    );
    let started = Instant::now();
    let mut tasks = Vec::new();
    for sender in 0..SENDERS {
        let service = h.service.clone();
        let bodies = bodies.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            for n in (sender..REQUESTS).step_by(SENDERS) {
                let body = &bodies[n % bodies.len()];
                let t = Instant::now();
                let reply = service
                    .handle("POST", PATH, Some(&sign(body)), body.as_bytes())
                    .await;
                latencies.push(t.elapsed());
                assert_eq!(reply.status, 200, "{}", reply.body);
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.expect("sender task"));
    }
    let elapsed = started.elapsed();
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    println!(
        "load: {REQUESTS} webhooks, {SENDERS} concurrent senders, LMS bound {LMS_CONCURRENCY}: {:.0} req/s, p50 {:?}, p99 {:?}, peak LMS in-flight {}",
        REQUESTS as f64 / elapsed.as_secs_f64(),
        pct(0.50),
        pct(0.99),
        h.lms.max_concurrent_requests()
    );
    assert_eq!(latencies.len(), REQUESTS);
    assert!(h.lms.max_concurrent_requests() <= LMS_CONCURRENCY);
    let state = h.lms.state();
    // Each known learner: 2 enrollments; each unknown email: 2 allowances. Exactly once.
    assert_eq!(state.enrollment_count(), 20);
    assert_eq!(state.allowance_count(), 20);
    for i in 10..20 {
        let email = format!("new{i}@example.com");
        assert!(state
            .allowance(&email, &courses[i % 5])
            .is_some_and(|a| a.auto_enroll));
    }
}
