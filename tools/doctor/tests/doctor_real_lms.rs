//! The doctor's LMS checks against the real Open edX LMS (`OPENEDX_PLATFORM_SRC`, see
//! `tests/real-lms/`), deliberately misconfigured: a good configuration passes every
//! check; a non-staff service user, a restricted application, a wrong client secret
//! and the bulk view disabled each fail their own check with the right fix. Nothing is
//! written: the enrollment and allowance rows are the same after, and the LMS served
//! only GET requests and token grants.
//!
//! Two LMS starts (the bulk view off, then on); skipped, one line on stderr, when
//! `OPENEDX_PLATFORM_SRC` is unset.

mod support;

use std::process::Command;
use std::sync::Arc;

use edx_hooks_shared::doctor::lms::{check_lms, LmsOptions};
use edx_hooks_shared::doctor::{Report, Status};
use edx_hooks_shared::openedx::rest::credential_cache;
use edx_hooks_shared::openedx::{OpenEdxClient, OpenEdxConfig};
use edx_hooks_shared::secrets::{SecretCache, SecretSource, StaticSecret};
use edx_hooks_tests::real_lms::{seed, RealLms, RealLmsOptions};
use support::{fix, status};

async fn doctor(lms: &RealLms, id: &str, secret: &str, course: &str, apply: &str) -> Report {
    let config = OpenEdxConfig {
        base_url: lms.base_url(),
        ..OpenEdxConfig::default()
    };
    let value = serde_json::json!({"client_id": id, "client_secret": secret}).to_string();
    let credentials: Arc<SecretCache<SecretSource>> =
        credential_cache(SecretSource::Static(StaticSecret::new("test", vec![value])));
    let client = OpenEdxClient::new(config, credentials.clone()).expect("client");
    let options = LmsOptions {
        course: Some(course.to_owned()),
        apply_api: Some(apply.to_owned()),
    };
    check_lms(&client, &credentials, &options).await
}

/// Every request line of the LMS's access log that is neither a GET nor a token grant.
fn writes(lms: &RealLms) -> Vec<String> {
    let _ = lms.requests("GET", "/"); // flush the log
    lms.log()
        .lines()
        .filter(|l| l.contains(" HTTP/1."))
        .filter(|l| {
            ["\"POST ", "\"PUT ", "\"PATCH ", "\"DELETE "]
                .iter()
                .any(|m| l.contains(m))
        })
        .filter(|l| !l.contains("\"POST /oauth2/access_token"))
        .map(str::to_owned)
        .collect()
}

fn start(test: &str, bulk_enroll: bool) -> Option<RealLms> {
    RealLms::start_with(test, RealLmsOptions { bulk_enroll })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_misconfiguration_has_its_check_and_nothing_is_written() {
    let Some(lms) = tokio::task::spawn_blocking(|| start("doctor_real_lms", false))
        .await
        .unwrap()
    else {
        return;
    };
    let (enrollments, allowances) = (lms.all_enrollments(), lms.all_allowances());
    let service = (seed::SERVICE_CLIENT_ID, seed::SERVICE_CLIENT_SECRET);

    // (a) Good: every check passes, on the upcoming course (listed for the service user
    // only: the upcoming-course trap is caught, and passes because we ask as it).
    let good = doctor(&lms, service.0, service.1, seed::UPCOMING, "rest").await;
    for check in &good.checks {
        assert_eq!(check.status, Status::Pass, "{}", good.render_text());
    }
    assert_eq!(good.exit_code(), 0);
    let found = |r: &Report, n: &str| r.get(n).map(|c| c.found.clone()).unwrap_or_default();
    assert!(
        found(&good, "lms.token").contains("\"JWT\", expires_in 3600 s"),
        "{}",
        good.render_text()
    );
    assert!(
        found(&good, "lms.course_visibility").contains("only"),
        "{}",
        good.render_text()
    );
    assert!(
        found(&good, "lms.apply_path").contains("disabled"),
        "{}",
        good.render_text()
    );
    assert!(
        found(&good, "lms.allowance_api").contains("v1"),
        "{}",
        good.render_text()
    );

    // (b) A wrong client secret.
    let wrong = doctor(&lms, service.0, "not-the-secret", seed::OPEN, "rest").await;
    assert_eq!(status(&wrong, "lms.token"), Status::Fail);
    assert!(fix(&wrong, "lms.token").contains("/admin/oauth2_provider/application/"));
    assert!(
        !wrong.render_text().contains("not-the-secret"),
        "no secret in the report"
    );
    assert_eq!(wrong.exit_code(), 1);

    // (c) A service user that is not staff.
    let nonstaff = doctor(
        &lms,
        seed::NONSTAFF_CLIENT_ID,
        seed::NONSTAFF_CLIENT_SECRET,
        seed::OPEN,
        "rest",
    )
    .await;
    assert_eq!(status(&nonstaff, "lms.token"), Status::Pass);
    assert_eq!(
        status(&nonstaff, "lms.application_unrestricted"),
        Status::Pass
    );
    assert_eq!(
        status(&nonstaff, "lms.service_user_staff"),
        Status::Fail,
        "{}",
        nonstaff.render_text()
    );
    let staff_fix = fix(&nonstaff, "lms.service_user_staff");
    assert!(
        staff_fix.contains("manage.py lms manage_user edx_hooks_nonstaff")
            && staff_fix.contains("--staff"),
        "{staff_fix}"
    );
    assert!(
        !nonstaff.render_text().contains("@edx-hooks.test"),
        "no email in the report"
    );

    // (d) A restricted application of the (staff) service user.
    let restricted = doctor(
        &lms,
        seed::RESTRICTED_CLIENT_ID,
        seed::RESTRICTED_CLIENT_SECRET,
        seed::OPEN,
        "rest",
    )
    .await;
    assert_eq!(
        status(&restricted, "lms.application_unrestricted"),
        Status::Fail
    );
    assert!(
        fix(&restricted, "lms.application_unrestricted")
            .contains("/admin/oauth_dispatch/restrictedapplication/"),
        "{}",
        restricted.render_text()
    );
    assert_ne!(status(&restricted, "lms.service_user_staff"), Status::Pass);

    // (e) OPENEDX_APPLY_API=bulk_enroll while the bulk view is disabled.
    let bulk = doctor(&lms, service.0, service.1, seed::OPEN, "bulk_enroll").await;
    assert_eq!(
        status(&bulk, "lms.apply_path"),
        Status::Fail,
        "{}",
        bulk.render_text()
    );
    assert!(fix(&bulk, "lms.apply_path").contains("ENABLE_BULK_ENROLLMENT_VIEW"));
    let failed: Vec<_> = bulk
        .checks
        .iter()
        .filter(|c| c.status == Status::Fail)
        .collect();
    assert_eq!(failed.len(), 1, "{}", bulk.render_text());

    // An unknown course is the course detail's failure.
    let missing = doctor(&lms, service.0, service.1, seed::MISSING, "rest").await;
    assert_eq!(status(&missing, "lms.course_detail"), Status::Fail);

    // The binary, with the functions' environment: exit 0, 1 and 2.
    let binary = |secret: &str, apply: &str| {
        Command::new(env!("CARGO_BIN_EXE_edx-hooks-doctor"))
            .args(["--function", "webhook", "--course", seed::OPEN])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("OPENEDX_BASE_URL", lms.base_url())
            .env("OPENEDX_CLIENT_ID", service.0)
            .env("OPENEDX_CLIENT_SECRET", secret)
            .env("OPENEDX_APPLY_API", apply)
            .env("LERNITO_WEBHOOK_SECRET", "doctor-test-secret")
            .output()
            .expect("run edx-hooks-doctor")
    };
    let ok = binary(service.1, "rest");
    let text = String::from_utf8_lossy(&ok.stdout);
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(
        text.contains("✓ lms.token: ") && text.contains("✓ lernito.secret: "),
        "{text}"
    );
    let refused = binary("wrong", "rest");
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stdout).contains("✗ lms.token: "));
    let usage = binary(service.1, "carrier-pigeon");
    assert_eq!(usage.status.code(), Some(2));

    // Nothing written.
    assert_eq!(lms.all_enrollments(), enrollments);
    assert_eq!(lms.all_allowances(), allowances);
    assert_eq!(writes(&lms), Vec::<String>::new());
    assert!(lms.requests("POST", "/oauth2/access_token") >= 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bulk_path_is_detected_when_enabled_without_a_write() {
    let Some(lms) = tokio::task::spawn_blocking(|| start("doctor_real_lms", true))
        .await
        .unwrap()
    else {
        return;
    };
    let (enrollments, allowances) = (lms.all_enrollments(), lms.all_allowances());
    let report = doctor(
        &lms,
        seed::SERVICE_CLIENT_ID,
        seed::SERVICE_CLIENT_SECRET,
        seed::OPEN,
        "bulk_enroll",
    )
    .await;
    for check in &report.checks {
        assert_eq!(check.status, Status::Pass, "{}", report.render_text());
    }
    assert_eq!(lms.requests("GET", "/api/bulk_enroll/v1/bulk_enroll"), 1);
    assert_eq!(lms.requests("POST", "/api/bulk_enroll"), 0);
    assert_eq!(lms.all_enrollments(), enrollments);
    assert_eq!(lms.all_allowances(), allowances);
    assert_eq!(writes(&lms), Vec::<String>::new());
}
