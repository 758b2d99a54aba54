//! Conformance tier: the course-sync forwarder between a REAL Open edX LMS
//! (openedx-platform's own code from `OPENEDX_PLATFORM_SRC`, production visibility rules
//! and throttles; `tests/real-lms/`) and a REAL Richie (PyPI, `tests/richie/`). Lambda
//! events in; Richie's database read back.
//!
//! Skipped (one line on stderr) when `OPENEDX_PLATFORM_SRC` is unset.

mod support;

use serde_json::{json, Value};

use course_sync::lambda::handle_event;
use edx_hooks_shared::openedx::catalog::{CatalogSources, EnrollmentCountSource};
use edx_hooks_tests::real_lms::{seed, RealLms};
use edx_hooks_tests::richie_server::{RichieOptions, RichieServer, DEFAULT_SYNC_SECRET};
use support::{http_answer, http_event, service, target, Options, TOKEN};

const LMS_HOST: &str = "lms.edx-hooks.test";

fn link(course_id: &str) -> String {
    format!("https://{LMS_HOST}/courses/{course_id}/info")
}

/// Course pages for the courses under test (Richie never creates pages).
fn richie_seed() -> Value {
    let pages = [
        "OPEN101",
        "UPCOMING301",
        "INVITE401",
        "HIDDEN701",
        "ABOUT801",
        "FULL501",
        "OLD901",
    ];
    json!({"courses": pages.iter().map(|code| json!({"code": code, "runs": []})).collect::<Vec<_>>()})
}

async fn servers(test: &str) -> Option<(RealLms, RichieServer)> {
    let test = test.to_owned();
    let lms = tokio::task::spawn_blocking(move || RealLms::start(&test))
        .await
        .expect("lms start")?;
    let richie = tokio::task::spawn_blocking(|| {
        RichieServer::start_with(RichieOptions {
            seed: Some(richie_seed()),
            ..RichieOptions::default()
        })
    })
    .await
    .expect("richie start");
    Some((lms, richie))
}

fn options(page_size: u32) -> Options {
    Options {
        client_id: seed::SERVICE_CLIENT_ID.into(),
        client_secret: seed::SERVICE_CLIENT_SECRET.into(),
        // As the template deploys it by default: no username configured; the forwarder
        // takes the token's preferred_username.
        service_username: None,
        lms_host: LMS_HOST.into(),
        page_size,
        sources: CatalogSources {
            enrollment_count: EnrollmentCountSource::EnrollmentsList { max_pages: 10 },
            ..CatalogSources::default()
        },
        ..Options::default()
    }
}

/// The draft run and its public copy in Richie for `course_id`.
fn runs(richie: &RichieServer, course_id: &str) -> Vec<Value> {
    richie.runs_by_link(&link(course_id))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upcoming_invitation_only_and_hidden_courses_reach_richie() {
    let Some((lms, richie)) =
        servers("upcoming_invitation_only_and_hidden_courses_reach_richie").await
    else {
        return;
    };
    let svc = service(
        &lms.base_url(),
        &json!([target(&richie.sync_url(), DEFAULT_SYNC_SECRET)]),
        options(100),
    );
    let courses = [
        // (course, Richie catalog_visibility: the payload table's mapping of `hidden`)
        (seed::UPCOMING, "course_and_search"),
        (seed::INVITE, "course_and_search"),
        (seed::HIDDEN, "hidden"),
        (seed::ABOUT, "hidden"),
        (seed::OLD_STYLE, "hidden"),
    ];
    for (course, visibility) in courses {
        let body = json!({ "course_id": course }).to_string();
        let answer = handle_event(&svc, http_event(&body, Some(TOKEN), None))
            .await
            .expect("handled");
        let (status, reply) = http_answer(&answer);
        assert_eq!(
            status,
            200,
            "{course}: {reply}\nLMS log:\n{}",
            lms.log()
                .lines()
                .rev()
                .take(20)
                .collect::<Vec<_>>()
                .join("\n")
        );
        assert_eq!(reply["status"], "synced", "{course}: {reply}");
        let found = runs(&richie, course);
        assert_eq!(
            found.len(),
            2,
            "{course}: a draft and a public run: {found:?}"
        );
        for run in &found {
            assert_eq!(run["catalog_visibility"], visibility, "{course}: {run}");
            // The courseware API needs the course in the modulestore (the tier has
            // none): the configured default language is sent.
            assert_eq!(run["languages"], json!(["en"]), "{course}: {run}");
        }
    }
    // The LMS's own dates: the upcoming course starts in 40 days, enrollment opens in 30.
    let upcoming = &runs(&richie, seed::UPCOMING)[0];
    let start = upcoming["start"].as_str().unwrap_or_default().to_owned();
    let enrollment_start = upcoming["enrollment_start"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(start > enrollment_start && !start.is_empty(), "{upcoming}");
    // The course API was asked with the service user's username (not anonymously).
    assert!(
        lms.requests(
            "GET",
            &format!(
                "/api/courses/v1/courses/{}/?username={}",
                seed::UPCOMING,
                seed::SERVICE_USER
            )
        ) >= 1,
        "detail call without username"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_resync_pages_the_real_course_list() {
    let Some((lms, richie)) = servers("a_full_resync_pages_the_real_course_list").await else {
        return;
    };
    let svc = service(
        &lms.base_url(),
        &json!([target(&richie.sync_url(), DEFAULT_SYNC_SECRET)]),
        options(5),
    );
    let answer = handle_event(&svc, json!({"resync": "all"}))
        .await
        .expect("handled");
    // Every course of the LMS (upcoming and hidden ones included: the list is read as
    // the staff service user) in pages of 5.
    assert_eq!(answer["listed"], seed::COURSE_COUNT, "{answer}");
    let pages = seed::COURSE_COUNT.div_ceil(5);
    assert_eq!(
        lms.requests("GET", "/api/courses/v1/courses/?page="),
        pages,
        "{pages} pages of 5"
    );
    // Courses with a Richie page are synced, the rest are refused by Richie.
    assert_eq!(answer["synced"], 7, "{answer}");
    assert_eq!(
        answer["rejected"].as_array().map(Vec::len),
        Some(seed::COURSE_COUNT - 7)
    );
    // The enrollment count comes from the LMS's staff enrollments list: the full
    // course's one seat.
    for run in runs(&richie, seed::FULL) {
        assert_eq!(run["enrollment_count"], 1, "{run}");
    }
    for run in runs(&richie, seed::OPEN) {
        assert_eq!(run["enrollment_count"], 1, "verified_vera: {run}");
    }
}

/// A Richie target nobody listens on.
fn unreachable_target(name: &str) -> Value {
    let url = format!(
        "http://127.0.0.1:{}/api/v1.0/course-runs-sync/",
        edx_hooks_tests::support::free_port()
    );
    let mut t = target(&url, "s");
    t["name"] = json!(name);
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_richie_site_down_during_a_resync_gets_per_target_jobs_and_nothing_else_is_resent() {
    let Some((lms, richie)) = servers(
        "a_richie_site_down_during_a_resync_gets_per_target_jobs_and_nothing_else_is_resent",
    )
    .await
    else {
        return;
    };
    let mut up = target(&richie.sync_url(), DEFAULT_SYNC_SECRET);
    up["name"] = json!("up");
    let svc = service(
        &lms.base_url(),
        &json!([up, unreachable_target("down")]),
        options(5),
    );
    let summary = handle_event(&svc, json!({"resync": "all"}))
        .await
        .expect("handled: the failed target's jobs were queued");
    assert_eq!(summary["listed"], seed::COURSE_COUNT, "{summary}");
    // The healthy site completed: every course with a Richie page has its runs.
    for course in [seed::OPEN, seed::FULL] {
        assert!(!runs(&richie, course).is_empty(), "{course}: {summary}");
    }
    // One job per course, for the site that was down only.
    let jobs: Vec<Value> = svc
        .queue()
        .messages
        .lock()
        .unwrap()
        .iter()
        .map(|m| serde_json::from_str(m).unwrap())
        .collect();
    assert_eq!(jobs.len(), seed::COURSE_COUNT, "{summary}");
    assert!(
        jobs.iter()
            .all(|j| j["target"] == "down" && j.get("snapshot").is_none()),
        "{jobs:?}"
    );

    // Replayed once the site is back, with the healthy site now unreachable: had any
    // job been re-sent to it, its record would fail.
    let mut back = target(&richie.sync_url(), DEFAULT_SYNC_SECRET);
    back["name"] = json!("down");
    let replay = service(
        &lms.base_url(),
        &json!([unreachable_target("up"), back]),
        options(5),
    );
    let bodies: Vec<String> = jobs.iter().map(Value::to_string).collect();
    for (n, batch) in bodies.chunks(10).enumerate() {
        let records: Vec<(String, &str)> = batch
            .iter()
            .enumerate()
            .map(|(i, b)| (format!("m{n}-{i}"), b.as_str()))
            .collect();
        let refs: Vec<(&str, &str)> = records.iter().map(|(id, b)| (id.as_str(), *b)).collect();
        let answer = handle_event(&replay, support::sqs_event(&refs))
            .await
            .expect("handled");
        assert!(
            support::batch_failures(&answer).is_empty(),
            "only the target that failed is retried: {answer}"
        );
    }
    assert!(replay.queue().messages.lock().unwrap().is_empty());
}
