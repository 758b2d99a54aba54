//! Enrollment webhook benchmarks (plain timing, one run, ratios in the same run).
//!
//!   cargo bench -p edx-hooks-tests --bench webhook
//!
//! 1. CPU cost of verify + parse + validate for 1 KiB and 64 KiB payloads.
//! 2. End-to-end latency against the LMS emulator with 20 ms per call, warm token
//!    and secret, for several course counts: default concurrency, enough
//!    concurrency for one round, concurrency 1, and concurrency 1 with one
//!    existence check per course (the plugin's call pattern, the naive port); the
//!    first sale of the courses (their modes not cached yet); the bulk path.
//!
//! Without `--bench` (i.e. under `cargo test --all-targets`) it is a smoke run: few
//! iterations, 1 and 10 courses, so the suite stays fast and the code stays working.

use std::hint::black_box;
use std::time::{Duration, Instant};

use edx_hooks_shared::canonical_json::{self, Separators};
use edx_hooks_shared::signature::{sign_lernito, verify_lernito, SignedMessages};
use edx_hooks_tests::lms_emulator::{CourseInfo, Throttling};
use edx_hooks_tests::webhook_harness::{payload, Harness, HarnessOptions, SECRET};
use enrollment_webhook::enroll::{ApplyApi, ApplySettings};
use enrollment_webhook::request::validate;

const LATENCY: Duration = Duration::from_millis(20);

fn payload_of_size(target: usize) -> String {
    let mut extra = String::new();
    let mut i = 0;
    while extra.len() + 200 < target {
        extra.push_str(&format!(r#", "note{i}": "سفارش شماره {i} — 注文 {i} 😀""#));
        i += 1;
    }
    format!(
        r#"{{"email": "learner@example.com", "name": "Leila", "family": "Ahmadi", "username": "learner", "courseIds": ["course-v1:edX+DemoX+Demo_Course"]{extra}}}"#
    )
}

fn cpu_cost(label: &str, body: &str) {
    let parsed = canonical_json::parse(body.as_bytes()).expect("json");
    let signature = sign_lernito(SECRET.as_bytes(), &parsed, Separators::Default);
    let secrets = [SECRET];
    let iterations = match (full_run(), body.len() > 10_000) {
        (false, _) => 50,
        (true, true) => 500,
        (true, false) => 20_000,
    };
    let run = || {
        let parsed = canonical_json::parse(black_box(body.as_bytes())).expect("json");
        let messages = SignedMessages::new(&parsed, body.as_bytes());
        assert!(verify_lernito(&signature, &secrets, &messages).is_some());
        black_box(validate(&parsed).is_ok())
    };
    for _ in 0..iterations / 10 {
        run();
    }
    let started = Instant::now();
    for _ in 0..iterations {
        run();
    }
    let per = started.elapsed().as_secs_f64() * 1e6 / iterations as f64;
    println!(
        "| verify+parse+validate {label} ({} bytes) | {per:.2} µs |",
        body.len()
    );
    // Where the time goes (same run).
    let time = |f: &dyn Fn()| {
        let started = Instant::now();
        for _ in 0..iterations {
            f();
        }
        started.elapsed().as_secs_f64() * 1e6 / iterations as f64
    };
    let parse_us = time(&|| {
        black_box(canonical_json::parse(black_box(body.as_bytes())).is_ok());
    });
    let dumps_us = time(&|| {
        black_box(SignedMessages::new(&parsed, body.as_bytes()));
    });
    let messages = SignedMessages::new(&parsed, body.as_bytes());
    let verify_us = time(&|| {
        black_box(verify_lernito(&signature, &secrets, &messages));
    });
    let validate_us = time(&|| {
        black_box(validate(&parsed).is_ok());
    });
    println!(
        "| &nbsp;&nbsp;of which parse / canonical dumps ×2 / HMAC ×3 / validate | {parse_us:.2} / {dumps_us:.2} / {verify_us:.2} / {validate_us:.2} µs |"
    );
}

/// How one latency measurement runs.
#[derive(Clone, Copy)]
struct Shape {
    concurrency: usize,
    batch: bool,
    api: ApplyApi,
    /// New course ids every round: the courses' modes are not cached yet (the first
    /// sale of these courses in this warm function).
    fresh_courses: bool,
}

impl Shape {
    fn rest(concurrency: usize) -> Shape {
        Shape {
            concurrency,
            batch: true,
            api: ApplyApi::Rest,
            fresh_courses: false,
        }
    }
}

async fn end_to_end(courses: usize, shape: Shape, rounds: usize) -> f64 {
    let h = Harness::start(HarnessOptions {
        concurrency: shape.concurrency,
        batch_course_check: shape.batch,
        bulk_enroll_view: true,
        ..HarnessOptions::default()
    })
    .await;
    // Up to 6 webhooks × 50 courses per run exceed the real 120/min staff and 40/min per-IP buckets; this measures round trips, not rate limits.
    h.lms.set_throttling(Throttling::off());
    let service = edx_hooks_tests::webhook_harness::service_for(
        edx_hooks_tests::webhook_harness::client(
            h.lms.base_url(),
            &HarnessOptions {
                concurrency: shape.concurrency,
                batch_course_check: shape.batch,
                ..HarnessOptions::default()
            },
        ),
        vec![SECRET.into()],
    )
    .with_settings(ApplySettings {
        api: shape.api,
        ..ApplySettings::default()
    });
    let sets = if shape.fresh_courses { rounds + 1 } else { 1 };
    let bodies: Vec<String> = (0..sets)
        .map(|set| {
            let ids: Vec<String> = (0..courses)
                .map(|i| format!("course-v1:Bench+S{set}C{i}+Run"))
                .collect();
            for id in &ids {
                h.lms
                    .state()
                    .add_course(id, CourseInfo::named("Bench course"));
            }
            let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
            payload("learner@example.com", &refs)
        })
        .collect();
    let post = |body: &str| {
        let signed = edx_hooks_tests::webhook_harness::sign(body);
        let service = &service;
        let body = body.to_owned();
        async move {
            service
                .handle("POST", "/lernito/webhook/", Some(&signed), body.as_bytes())
                .await
        }
    };
    // Warm-up: token and secret cached, connections open.
    let warm = post(&bodies[0]).await;
    assert_eq!(warm.status, 200, "{}", warm.body);
    h.lms.faults().set_latency(LATENCY);
    let mut total = Duration::ZERO;
    for round in 0..rounds {
        let body = &bodies[if shape.fresh_courses { round + 1 } else { 0 }];
        let started = Instant::now();
        let reply = post(body).await;
        total += started.elapsed();
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
    total.as_secs_f64() * 1000.0 / rounds as f64
}

/// `cargo bench` passes `--bench`; `cargo test --all-targets` does not.
fn full_run() -> bool {
    std::env::args().any(|a| a == "--bench")
}

#[tokio::main]
async fn main() {
    std::env::set_var("EDX_HOOKS_METRICS", "off");
    println!("## Handler CPU cost\n\n| case | mean |\n|---|---|");
    cpu_cost(
        "typical (the plugin README's example)",
        r#"{"email": "test@example.com", "name": "Test", "family": "User", "username": "testuser", "courseIds": ["course-v1:edX+DemoX+Demo_Course"]}"#,
    );
    cpu_cost("1 KiB", &payload_of_size(1024));
    cpu_cost("64 KiB", &payload_of_size(64 * 1024));

    println!(
        "\n## Round trips (LMS emulator, {} ms per call, warm token and secret)\n",
        LATENCY.as_millis()
    );
    println!("| courses | concurrency 8 (default) | first sale of the courses (modes not cached), concurrency 8 | concurrency = courses+2 | concurrency 1 | concurrency 1, one check per course (the plugin's call pattern) | speed-up vs concurrency 1 | speed-up vs the plugin's pattern |");
    println!("|---|---|---|---|---|---|---|---|");
    let rt = |ms: f64| ms / LATENCY.as_secs_f64() / 1000.0;
    let (course_counts, rounds): (&[usize], usize) = match full_run() {
        true => (&[1, 5, 10, 25], 5),
        false => (&[1, 10], 1),
    };
    let sequential_rounds = rounds.min(2);
    for &courses in course_counts {
        let default = end_to_end(courses, Shape::rest(8), rounds).await;
        let cold = end_to_end(
            courses,
            Shape {
                fresh_courses: true,
                ..Shape::rest(8)
            },
            rounds,
        )
        .await;
        let wide = end_to_end(courses, Shape::rest(courses + 2), rounds).await;
        let sequential = end_to_end(courses, Shape::rest(1), sequential_rounds).await;
        let plugin_pattern = end_to_end(
            courses,
            Shape {
                batch: false,
                ..Shape::rest(1)
            },
            sequential_rounds,
        )
        .await;
        println!(
            "| {courses} | {default:.1} ms ({:.2} RT) | {cold:.1} ms ({:.2} RT) | {wide:.1} ms ({:.2} RT) | {sequential:.1} ms ({:.2} RT) | {plugin_pattern:.1} ms ({:.2} RT) | {:.1}× | {:.1}× |",
            rt(default),
            rt(cold),
            rt(wide),
            rt(sequential),
            rt(plugin_pattern),
            sequential / default,
            plugin_pattern / default
        );
    }

    println!("\n## Bulk path (`OPENEDX_APPLY_API=bulk_enroll`, same emulator, concurrency 8)\n");
    println!("| courses | warm (modes cached) | first sale of the courses |\n|---|---|---|");
    let bulk_counts: &[usize] = match full_run() {
        true => &[1, 10, 50],
        false => &[1, 10],
    };
    for &courses in bulk_counts {
        let bulk = Shape {
            api: ApplyApi::BulkEnroll,
            ..Shape::rest(8)
        };
        let warm = end_to_end(courses, bulk, rounds).await;
        let cold = end_to_end(
            courses,
            Shape {
                fresh_courses: true,
                ..bulk
            },
            rounds,
        )
        .await;
        println!(
            "| {courses} | {warm:.1} ms ({:.2} RT) | {cold:.1} ms ({:.2} RT) |",
            rt(warm),
            rt(cold)
        );
    }
}
