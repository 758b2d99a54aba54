//! Capture every log line of a full webhook run (successes, rejections, upstream
//! failures, retries, token refresh) and check that no raw email address, no
//! webhook secret, no OAuth2 client secret and no access token ever appears.

use edx_hooks_shared::canonical_json::{self, Separators};
use edx_hooks_shared::signature::sign_lernito;
use edx_hooks_tests::support::LogCapture;
use edx_hooks_tests::webhook_harness::{Harness, CLIENT_SECRET, SECRET};

#[tokio::test]
async fn logs_never_contain_emails_or_secrets() {
    let capture = LogCapture::global();
    let h = Harness::default().await;
    h.lms
        .state()
        .add_user("learner2", "known.learner@example.com", false, true);
    let (lms, service) = (&h.lms, &h.service);

    let emails = [
        "known.learner@example.com",
        "brand.new@example.org",
        "not-an-email",
    ];
    let mut tokens_seen = Vec::new();
    for (i, email) in emails.iter().enumerate() {
        let body = format!(
            r#"{{"email": "{email}", "name": "N", "family": "F", "username": "u", "courseIds": ["course-v1:edX+DemoX+Demo_Course"]}}"#
        );
        let parsed = canonical_json::parse(body.as_bytes()).unwrap();
        let signature = sign_lernito(SECRET.as_bytes(), &parsed, Separators::Default);
        if i == 1 {
            lms.state().revoke_tokens();
            lms.faults()
                .fail_next("/api/enrollment/v1/enrollment_allowed/", 1, 503);
        }
        service
            .handle(
                "POST",
                "/api/lernito/webhook/",
                Some(&signature),
                body.as_bytes(),
            )
            .await;
        // Same body, wrong signature.
        service
            .handle(
                "POST",
                "/lernito/webhook/",
                Some(&"ab".repeat(32)),
                body.as_bytes(),
            )
            .await;
    }
    // An upstream failure path too.
    lms.faults()
        .fail_next("/api/courses/v1/courses/", 1000, 503);
    let body = r#"{"email": "known.learner@example.com", "name": "N", "family": "F", "username": "u", "courseIds": ["course-v1:edX+DemoX+Demo_Course"]}"#;
    let parsed = canonical_json::parse(body.as_bytes()).unwrap();
    let signature = sign_lernito(SECRET.as_bytes(), &parsed, Separators::Default);
    let reply = service
        .handle(
            "POST",
            "/api/lernito/webhook/",
            Some(&signature),
            body.as_bytes(),
        )
        .await;
    assert_eq!(reply.status, 500);
    for call in lms.calls() {
        if let Some(token) = call
            .authorization
            .as_deref()
            .and_then(|a| a.strip_prefix("JWT "))
        {
            tokens_seen.push(token.to_owned());
        }
    }
    assert!(!tokens_seen.is_empty(), "the run used tokens");

    let all = capture.text();
    // The LMS emulator runs in-process; its own log lines are not ours to judge.
    let logs: String = all
        .lines()
        .filter(|line| !line.contains(r#""target":"edx_hooks_tests"#))
        .map(|line| format!("{line}\n"))
        .collect();
    let lines = logs.lines().count();
    assert!(
        lines >= 8,
        "expected a log line per request, got {lines}:\n{logs}"
    );
    assert!(
        logs.contains("email_hash"),
        "requests are correlated by a keyed hash"
    );
    for needle in
        emails
            .iter()
            .copied()
            .chain([SECRET, CLIENT_SECRET, "example.com", "example.org"])
    {
        assert!(
            !logs.contains(needle),
            "{needle:?} leaked into logs:\n{logs}"
        );
    }
    for token in tokens_seen {
        assert!(!logs.contains(&token), "access token leaked into logs");
    }
}
