//! Full-resync benchmark (plain timing, no harness): N courses on the LMS emulator and
//! the Richie emulator, each adding a fixed latency to every call, resynced through the
//! real adapters (OpenEdxClient + CatalogClient, RichieClient) and the real `Syncer`,
//! in one run:
//! * the production configuration against the LMS's real throttle rates (the
//!   emulator's defaults: course list 40/min for staff, enrollment views 120/min), the
//!   course list paced at `COURSE_SYNC_LIST_PAGES_PER_MINUTE`'s default (30 in any
//!   minute): wall time, LMS calls and the LMS's 429 answers (goal: 0);
//! * the same without the list pacing and without throttles (what our side alone
//!   costs), with and without reusing the list's rows;
//! * sequentially.
//!
//!   cargo bench -p course-sync --bench resync
//!
//! Environment: BENCH_COURSES (5000), BENCH_LATENCY_MS (20), BENCH_LMS_CONCURRENCY (16),
//! BENCH_RICHIE_CONCURRENCY (4), BENCH_CHUNK (50), BENCH_PAGE_SIZE (100),
//! BENCH_SEQUENTIAL_COURSES (= BENCH_COURSES; lower it to shorten the sequential run,
//! whose time is then also extrapolated to BENCH_COURSES).
//! Without `--bench` (i.e. under `cargo test --all-targets`) it is a 60-course smoke run.

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use serde_json::json;

use course_sync::lambda::handle_event;
use course_sync::sync::DEFAULT_LIST_PAGES_PER_MINUTE;
use edx_hooks_shared::openedx::catalog::CatalogSources;
use edx_hooks_tests::lms_emulator::{CourseInfo, EmulatorConfig, LmsEmulator, Throttling, UtcTime};
use support::richie_emulator::{RichieEmulator, RichieEmulatorConfig};
use support::{service, target, Options};

fn env_num(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

struct Row {
    label: String,
    courses: usize,
    lms_concurrency: usize,
    elapsed: Duration,
    lms_calls: usize,
    lms_peak: usize,
    richie_requests: usize,
    richie_peak: usize,
    synced: u64,
    /// The LMS's 429 answers.
    throttled: usize,
    list_pages: usize,
}

async fn run(
    label: &str,
    courses: usize,
    latency: Duration,
    options: Options,
    throttled: bool,
) -> Row {
    let lms = LmsEmulator::start(EmulatorConfig {
        latency,
        ..EmulatorConfig::demo()
    })
    .await;
    if !throttled {
        lms.set_throttling(Throttling::off());
    }
    {
        let mut state = lms.state();
        for id in [
            "course-v1:edX+DemoX+Demo_Course",
            "course-v1:edX+E2E-101+course",
        ] {
            state.remove_course(id);
        }
        for i in 0..courses {
            let info = CourseInfo {
                start: Some(UtcTime::at("2031-01-01T00:00:00Z")),
                end: Some(UtcTime::at("2031-06-30T00:00:00Z")),
                language: Some("fr".to_owned()),
                ..CourseInfo::named(&format!("Course {i}"))
            };
            state.add_course(&format!("course-v1:Bench+C{i:05}+2031"), info);
        }
    }
    let codes = (0..courses).map(|i| format!("C{i:05}")).collect();
    let richie = RichieEmulator::start(RichieEmulatorConfig {
        course_codes: codes,
        latency,
        secrets: vec!["bench".into()],
    })
    .await;
    let lms_concurrency = options.lms_concurrency;
    let svc = service(
        &lms.base_url(),
        &json!([target(&richie.sync_url(), "bench")]),
        options,
    );
    let started = Instant::now();
    let summary = handle_event(&svc, json!({"resync": "all"}))
        .await
        .expect("resync succeeds");
    let elapsed = started.elapsed();
    assert_eq!(
        summary["synced"].as_u64(),
        Some(courses as u64),
        "{summary}"
    );
    assert_eq!(richie.run_count(), courses);
    let calls = lms.calls();
    Row {
        label: label.to_owned(),
        courses,
        lms_concurrency,
        elapsed,
        lms_calls: calls.len(),
        throttled: calls.iter().filter(|c| c.status == Some(429)).count(),
        list_pages: calls
            .iter()
            .filter(|c| c.decoded_path() == "/api/courses/v1/courses/")
            .count(),
        lms_peak: lms.max_concurrent_requests(),
        richie_requests: richie.requests().len(),
        richie_peak: richie.peak_concurrency(),
        synced: summary["synced"].as_u64().unwrap_or(0),
    }
}

fn main() {
    std::env::set_var("EDX_HOOKS_METRICS", "off");
    // `cargo bench` passes --bench; `cargo test --all-targets` runs this binary without
    // it: then only a small smoke run, so the test suite stays fast.
    let full = std::env::args().any(|a| a == "--bench");
    let courses = env_num("BENCH_COURSES", if full { 5000 } else { 60 });
    let latency = Duration::from_millis(env_num("BENCH_LATENCY_MS", 20) as u64);
    let lms_concurrency = env_num("BENCH_LMS_CONCURRENCY", 16);
    let richie_concurrency = env_num("BENCH_RICHIE_CONCURRENCY", 4);
    let chunk = env_num("BENCH_CHUNK", 50);
    let page_size = env_num("BENCH_PAGE_SIZE", 100) as u32;
    let sequential_courses = env_num("BENCH_SEQUENTIAL_COURSES", if full { courses } else { 10 });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");

    println!("full resync: {courses} courses, {} ms latency per LMS and Richie call, lists of {chunk}, pages of {page_size}", latency.as_millis());
    let rows = runtime.block_on(async {
        let mut rows = Vec::new();
        let production = Options {
            lms_concurrency,
            course_concurrency: lms_concurrency,
            richie_concurrency,
            chunk_size: chunk,
            page_size,
            list_pages_per_minute: DEFAULT_LIST_PAGES_PER_MINUTE,
            ..Options::default()
        };
        rows.push(
            run(
                "paced 30 pages/min, real LMS throttles",
                courses,
                latency,
                production,
                true,
            )
            .await,
        );
        let concurrent = Options {
            lms_concurrency,
            course_concurrency: lms_concurrency,
            richie_concurrency,
            chunk_size: chunk,
            page_size,
            ..Options::default()
        };
        rows.push(
            run(
                "bounded concurrency, unpaced, no throttles",
                courses,
                latency,
                concurrent,
                false,
            )
            .await,
        );
        let no_reuse = Options {
            lms_concurrency,
            course_concurrency: lms_concurrency,
            richie_concurrency,
            chunk_size: chunk,
            page_size,
            sources: CatalogSources {
                reuse_list_rows: false,
                ..CatalogSources::default()
            },
            ..Options::default()
        };
        rows.push(
            run(
                "bounded, detail call per course, unpaced, no throttles",
                courses,
                latency,
                no_reuse,
                false,
            )
            .await,
        );
        let sequential = Options {
            lms_concurrency: 1,
            course_concurrency: 1,
            richie_concurrency: 1,
            chunk_size: chunk,
            page_size,
            ..Options::default()
        };
        rows.push(
            run(
                "sequential, unpaced, no throttles",
                sequential_courses,
                latency,
                sequential,
                false,
            )
            .await,
        );
        rows
    });

    println!();
    println!("| run | courses | LMS concurrency | wall time | courses/s | LMS calls | course-list pages | LMS 429s | LMS peak in flight | Richie requests | Richie peak |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in &rows {
        println!(
            "| {} | {} | {} | {:.2} s | {:.0} | {} | {} | {} | {} | {} | {} |",
            r.label,
            r.courses,
            r.lms_concurrency,
            r.elapsed.as_secs_f64(),
            r.synced as f64 / r.elapsed.as_secs_f64(),
            r.lms_calls,
            r.list_pages,
            r.throttled,
            r.lms_peak,
            r.richie_requests,
            r.richie_peak
        );
    }
    if let Some(paced) = rows.first() {
        println!();
        println!(
            "production pacing against the real throttle rates: {:.1} s for {} courses (goal 120 s: {}), {} LMS 429 answers (goal 0: {})",
            paced.elapsed.as_secs_f64(),
            paced.courses,
            if paced.elapsed.as_secs_f64() <= 120.0 { "met" } else { "MISSED" },
            paced.throttled,
            if paced.throttled == 0 { "met" } else { "MISSED" }
        );
    }
    if let (Some(first), Some(last)) = (rows.get(1), rows.last()) {
        let sequential_full =
            last.elapsed.as_secs_f64() * courses as f64 / last.courses.max(1) as f64;
        println!();
        println!(
            "sequential for {courses} courses: {sequential_full:.1} s{}; speed-up {:.1}x; budget 30 s: {}",
            if last.courses == courses { "" } else { " (extrapolated)" },
            sequential_full / first.elapsed.as_secs_f64(),
            if first.elapsed.as_secs_f64() <= 30.0 { "met" } else { "MISSED" }
        );
    }
}
