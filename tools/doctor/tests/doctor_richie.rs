//! The doctor's Richie checks against the real Richie (PyPI `richie`, started by
//! `tests/richie/start.sh`): a good target passes; a wrong secret, a link the site's
//! `COURSE_REGEX` refuses, a course without a run (its page cannot be read without
//! writing), an unreachable site and a redirect each get their own line and fix.
//! Richie's course runs are the same before and after. Then the `{"doctor": true}`
//! invocations of both functions, wired from the environment, return the report.
//!
//! Skipped, one line on stderr, when Richie cannot be installed or started.

mod support;

use std::io::{Read, Write};
use std::net::TcpListener;

use edx_hooks_shared::doctor::richie::{check_richie, check_target};
use edx_hooks_shared::doctor::Status;
use edx_hooks_shared::richie::{RichieClient, RichieClientConfig, RichieTarget};
use edx_hooks_tests::richie_server::{RichieOptions, RichieServer};
use edx_hooks_tests::support::{free_port, workspace_root};
use serde_json::Value;
use support::{fix, status};

const SECRET: &str = "doctor-richie-secret";
const DEMO: &str = "course-v1:edX+DemoX+Demo_Course";
const DEMO_LINK: &str = "https://localhost:8000/courses/course-v1:edX+DemoX+Demo_Course/info";
const NO_PAGE: &str = "course-v1:edX+NOPAGE+2026";
const NO_PAGE_LINK: &str = "https://localhost:8000/courses/course-v1:edX+NOPAGE+2026/info";
const E2E: &str = "course-v1:edX+E2E-101+2026";
const E2E_LINK: &str = "https://localhost:8000/courses/course-v1:edX+E2E-101+2026/info";

fn richie() -> Option<RichieServer> {
    let installed = std::process::Command::new(workspace_root().join("tests/richie/install.sh"))
        .output()
        .is_ok_and(|o| o.status.success());
    if !installed {
        eprintln!("doctor_richie: real-Richie tier skipped (tests/richie/install.sh failed: no Python / PyPI?)");
        return None;
    }
    Some(RichieServer::start_with(RichieOptions {
        secrets: vec![SECRET.to_owned()],
        ..RichieOptions::default()
    }))
}

fn link(course: &str) -> String {
    course_sync::payload::resource_link(
        "https://{lms_host}/courses/{course_id}/info",
        "localhost:8000",
        course,
    )
}

/// Everything Richie holds for the links the doctor sent.
fn state(richie: &RichieServer) -> Vec<Value> {
    let mut out: Vec<Value> = [DEMO_LINK, NO_PAGE_LINK, E2E_LINK]
        .iter()
        .flat_map(|l| richie.runs_by_link(l))
        .collect();
    if let Some((draft, public)) = richie.seeded_run(DEMO_LINK) {
        out.push(richie.course_run(draft).1);
        out.extend(public.map(|p| richie.course_run(p).1));
    }
    out
}

/// A server that answers every request with a redirect.
fn redirector() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(
                b"HTTP/1.1 301 Moved Permanently\r\nLocation: https://elsewhere.example/\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
        }
    });
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn richie_checks_and_the_doctor_invocations() {
    let Some(richie) = tokio::task::spawn_blocking(richie).await.unwrap() else {
        return;
    };
    let before = state(&richie);
    let client = RichieClient::new(RichieClientConfig::default()).expect("client");
    let good = RichieTarget::new(&richie.sync_url(), SECRET).unwrap();

    // Good: every check passes on a course whose run Richie already has.
    let report = check_target(&client, &good, Some(DEMO), Some(&link(DEMO))).await;
    for check in &report.checks {
        assert_eq!(check.status, Status::Pass, "{}", report.render_text());
    }

    // No run for this link yet: the page cannot be read without writing → a warning
    // that names the page code and Richie's "Unknown course" answer.
    for (course, code) in [(NO_PAGE, "NOPAGE"), (E2E, "E2E-101")] {
        let report = check_target(&client, &good, Some(course), Some(&link(course))).await;
        assert_eq!(status(&report, "richie.secret"), Status::Pass);
        assert_eq!(status(&report, "richie.course_regex"), Status::Pass);
        assert_eq!(
            status(&report, "richie.course_page"),
            Status::Warn,
            "{}",
            report.render_text()
        );
        assert!(fix(&report, "richie.course_page").contains(&format!("Unknown course: {code}.")));
        assert_eq!(report.exit_code(), 0);
    }

    // A wrong secret.
    let wrong = RichieTarget::new(&richie.sync_url(), "not-richies-secret").unwrap();
    let report = check_target(&client, &wrong, Some(DEMO), Some(&link(DEMO))).await;
    assert_eq!(status(&report, "richie.reachable"), Status::Pass);
    assert_eq!(status(&report, "richie.secret"), Status::Fail);
    assert!(fix(&report, "richie.secret").contains("RICHIE_COURSE_RUN_SYNC_SECRETS"));
    assert!(
        !report.render_text().contains("not-richies-secret"),
        "no secret in the report"
    );

    // A link the site's COURSE_REGEX refuses (…/about).
    let about = "https://localhost:8000/courses/course-v1:edX+DemoX+Demo_Course/about";
    let report = check_target(&client, &good, Some(DEMO), Some(about)).await;
    assert_eq!(
        status(&report, "richie.course_regex"),
        Status::Fail,
        "{}",
        report.render_text()
    );
    assert!(fix(&report, "richie.course_regex").contains("COURSE_REGEX"));

    // Nobody listening; a redirect.
    let down = RichieTarget::new(
        &format!(
            "http://127.0.0.1:{}/api/v1.0/course-runs-sync/",
            free_port()
        ),
        SECRET,
    )
    .unwrap();
    let report = check_target(&client, &down, None, None).await;
    assert_eq!(status(&report, "richie.reachable"), Status::Fail);
    let moved = RichieTarget::new(
        &format!(
            "http://127.0.0.1:{}/api/v1.0/course-runs-sync/",
            redirector()
        ),
        SECRET,
    )
    .unwrap();
    let report = check_target(&client, &moved, None, None).await;
    assert_eq!(
        status(&report, "richie.redirects"),
        Status::Fail,
        "{}",
        report.render_text()
    );

    // Plain http to another host: refused before anything is sent.
    let mut clear =
        RichieTarget::new("http://richie.example/api/v1.0/course-runs-sync/", SECRET).unwrap();
    clear.timeout = std::time::Duration::from_millis(300);
    let report = check_richie(&client, Ok(vec![clear]), None, &|_| None).await;
    assert_eq!(status(&report, "richie.tls"), Status::Fail);
    assert_eq!(
        report.get("richie.tls").and_then(|c| c.subject.as_deref()),
        Some("richie.example")
    );
    assert_eq!(
        status(&report, "richie.reachable"),
        Status::Warn,
        "not even probed"
    );

    // The direct invocations, wired from the environment as deployed (this test is the
    // only one in this binary: the environment is the process's).
    let targets = serde_json::json!([{"url": richie.sync_url(), "secret": SECRET, "name": "site"}]);
    for (name, value) in [
        (
            "OPENEDX_BASE_URL",
            format!("http://127.0.0.1:{}", free_port()),
        ),
        ("OPENEDX_MAX_ATTEMPTS", "1".to_owned()),
        ("RICHIE_TARGETS", targets.to_string()),
        ("COURSE_SYNC_TOKEN", "doctor-course-sync-token".to_owned()),
        ("LMS_HOST", "localhost:8000".to_owned()),
        ("LERNITO_WEBHOOK_SECRET", "doctor-lernito".to_owned()),
    ] {
        std::env::set_var(name, value);
    }
    let sync = Box::pin(course_sync::lambda::doctor_report(Some(DEMO))).await;
    let check = |report: &Value, name: &str| -> String {
        report["checks"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["name"] == name))
            .map(|c| c["status"].as_str().unwrap_or_default().to_owned())
            .unwrap_or_else(|| panic!("no {name} in {report}"))
    };
    assert_eq!(sync["ok"], false, "the LMS is down: {sync}");
    assert_eq!(check(&sync, "lms.token"), "fail");
    for name in [
        "richie.secret",
        "richie.course_regex",
        "richie.course_page",
        "course_sync.token_url",
    ] {
        assert_eq!(check(&sync, name), "pass", "{name}: {sync}");
    }
    assert!(
        !sync.to_string().contains(SECRET)
            && !sync.to_string().contains("doctor-course-sync-token")
    );
    let webhook = Box::pin(enrollment_webhook::lambda::doctor_report(None)).await;
    assert_eq!(check(&webhook, "lms.token"), "fail");
    assert_eq!(check(&webhook, "lernito.secret"), "pass");

    assert_eq!(
        state(&richie),
        before,
        "the doctor changed nothing in Richie"
    );
}
