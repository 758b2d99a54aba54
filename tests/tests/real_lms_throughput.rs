//! Throughput under the real LMS's production throttles (benchmark, not run by default):
//! how many 10-course webhooks for distinct learners one minute accepts before the first
//! 500, on the REST path and on the bulk path, starting from an empty throttle window.
//! Bounded (at most `MAX_WEBHOOKS` requests per path) and loopback only.
//!
//! ```text
//! OPENEDX_PLATFORM_SRC=… cargo test --release -p edx-hooks-tests --test real_lms_throughput -- --ignored --nocapture
//! ```
//!
//! The LMS's own speed also bounds the figure (one single-threaded `runserver` on SQLite
//! serving every call); the run reports both the throttle-bound count and how long the
//! LMS took.

use std::time::{Duration, Instant};

use edx_hooks_tests::real_lms::{seed, RealLms, RealLmsOptions};
use edx_hooks_tests::webhook_harness::{
    client, payload, service_for, sign, HarnessOptions, SECRET,
};
use enrollment_webhook::enroll::{ApplyApi, ApplySettings};

const MAX_WEBHOOKS: usize = 130;
const WINDOW: Duration = Duration::from_secs(60);

/// Ten courses every learner buys (all exist; the batched check is used while allowed).
const TEN: [&str; 10] = [
    seed::OPEN,
    seed::CLOSED,
    seed::UPCOMING,
    seed::INVITE,
    seed::HIDDEN,
    seed::ABOUT,
    "course-v1:ThirdU+FILL001+2026",
    "course-v1:ThirdU+FILL002+2026",
    "course-v1:ThirdU+FILL003+2026",
    "course-v1:ThirdU+FILL004+2026",
];

struct Run {
    accepted: usize,
    first_failure: Option<usize>,
    elapsed: Duration,
}

async fn run(api: ApplyApi) -> Option<Run> {
    let lms = RealLms::start_with("real_lms_throughput", RealLmsOptions { bulk_enroll: true })?;
    let options = HarnessOptions {
        client_id: seed::SERVICE_CLIENT_ID.into(),
        client_secret: seed::SERVICE_CLIENT_SECRET.into(),
        // As deployed: the username comes from the token's preferred_username.
        service_username: None,
        request_timeout: Duration::from_secs(20),
        ..HarnessOptions::default()
    };
    let service = service_for(client(lms.base_url(), &options), vec![SECRET.into()]).with_settings(
        ApplySettings {
            api,
            ..ApplySettings::default()
        },
    );
    let started = Instant::now();
    let mut accepted = 0;
    let mut first_failure = None;
    for n in 0..MAX_WEBHOOKS {
        if started.elapsed() > WINDOW {
            break;
        }
        // Unknown buyers: allowances on the REST path, the same one call on the bulk path.
        let body = payload(&format!("buyer{n}@bench.test"), &TEN);
        let reply = service
            .handle(
                "POST",
                "/lernito/webhook/",
                Some(&sign(&body)),
                body.as_bytes(),
            )
            .await;
        match reply.status {
            200 => accepted += 1,
            _ => {
                first_failure.get_or_insert(n);
                break;
            }
        }
    }
    Some(Run {
        accepted,
        first_failure,
        elapsed: started.elapsed(),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: minutes against the real LMS; run with --ignored"]
async fn ten_course_webhooks_per_minute_under_real_throttles() {
    let mut lines = Vec::new();
    for (name, api) in [
        ("REST", ApplyApi::Rest),
        ("bulk_enroll", ApplyApi::BulkEnroll),
    ] {
        let Some(result) = run(api).await else {
            return;
        };
        let bound = match result.first_failure {
            Some(_) => "the LMS's throttle (first 500)",
            None if result.elapsed > WINDOW => "the minute ran out (the LMS's speed)",
            None => "the run's cap",
        };
        lines.push(format!(
            "| {name} | {} | {:.1} s | {bound} |",
            result.accepted,
            result.elapsed.as_secs_f64()
        ));
    }
    println!("| path | 10-course webhooks accepted in one minute | time | bounded by |\n|---|---|---|---|\n{}", lines.join("\n"));
}
