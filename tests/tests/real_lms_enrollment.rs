//! Conformance tier: the real `enrollment-webhook` service (in process, through its
//! HTTP-shaped `handle`) against a real Open edX LMS (openedx-platform's own code,
//! `OPENEDX_PLATFORM_SRC`; see `tests/real-lms/`), with the platform's production
//! throttles on. For every row: our answer, the LMS state after it (read from the LMS's
//! database), and what the Django plugin (`CourseEnrollment.enroll(user, key)` with
//! `check_access=False`, or `CourseEnrollmentAllowed.get_or_create` + `auto_enroll`)
//! would have done for the same request. Every successful request is replayed: same
//! answer, same state.
//!
//! Skipped (one line on stderr) when `OPENEDX_PLATFORM_SRC` is unset.

use edx_hooks_shared::openedx::OpenEdxClient;
use edx_hooks_tests::real_lms::{seed, RealLms};
use edx_hooks_tests::support::LogCapture;
use edx_hooks_tests::webhook_harness::{payload, real_lms_service, sign};
use enrollment_webhook::service::{Reply, WebhookService};

const PATH: &str = "/api/lernito/webhook/";

fn service(lms: &RealLms, client_id: &str, client_secret: &str) -> WebhookService<OpenEdxClient> {
    real_lms_service(lms.base_url(), client_id, client_secret)
}

async fn post(service: &WebhookService<OpenEdxClient>, body: &str) -> Reply {
    service
        .handle("POST", PATH, Some(&sign(body)), body.as_bytes())
        .await
}

fn enrolled(n: usize) -> String {
    format!(r#"{{"success":true,"message":"User enrollment status verified for {n} course(s)"}}"#)
}

fn allowed(n: usize) -> String {
    format!(r#"{{"success":true,"message":"Enrollment allowance verified for {n} course(s)"}}"#)
}

const INTERNAL: &str = r#"{"success":false,"message":"Internal server error"}"#;

/// One row of the conformance table.
struct Row {
    what: &'static str,
    email: String,
    courses: Vec<&'static str>,
    status: u16,
    body: String,
    /// Expected state after the request: `(username, course, mode)` enrollments
    /// (active) or `(email, course)` allowances with `auto_enroll`.
    enrolled_as: Vec<(&'static str, &'static str, &'static str)>,
    not_enrolled: Vec<(&'static str, &'static str)>,
    allowances: Vec<(String, &'static str)>,
    /// What the plugin would have done.
    plugin: &'static str,
}

fn existing(
    what: &'static str,
    learner: &'static str,
    courses: Vec<&'static str>,
    status: u16,
    body: String,
    plugin: &'static str,
) -> Row {
    Row {
        what,
        email: seed::learner_email(learner),
        courses,
        status,
        body,
        enrolled_as: Vec::new(),
        not_enrolled: Vec::new(),
        allowances: Vec::new(),
        plugin,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_course_kind_against_the_real_lms() {
    LogCapture::global();
    let Some(lms) = RealLms::start("every_course_kind_against_the_real_lms") else {
        return;
    };
    let webhook = service(&lms, seed::SERVICE_CLIENT_ID, seed::SERVICE_CLIENT_SECRET);
    use seed::*;

    let mut rows = vec![
        Row {
            enrolled_as: vec![("alice", OPEN, "audit")],
            ..existing("open course (audit + verified)", "alice", vec![OPEN], 200, enrolled(1),
                "enrolls in audit (the course default)")
        },
        Row {
            enrolled_as: vec![("alice", CLOSED, "audit")],
            ..existing("enrollment window closed", "alice", vec![CLOSED], 200, enrolled(1),
                "enrolls (check_access=False skips the window); we send force_enrollment as global staff")
        },
        Row {
            enrolled_as: vec![("alice", UPCOMING, "audit")],
            ..existing("upcoming: not started, enrollment not open", "alice", vec![UPCOMING], 200, enrolled(1),
                "enrolls; same through force_enrollment")
        },
        Row {
            enrolled_as: vec![("alice", INVITE, "audit")],
            ..existing("invitation only", "alice", vec![INVITE], 200, enrolled(1),
                "enrolls; force_enrollment by global staff skips the invitation check too")
        },
        Row {
            enrolled_as: vec![("alice", VERIFIED_ONLY, "verified")],
            ..existing("verified only (no audit, no honor)", "alice", vec![VERIFIED_ONLY], 200, enrolled(1),
                "enrolls in `audit`, a mode the course does not offer (no mode validation with check_access=False); \
                 we pick the first offered mode of OPENEDX_ENROLLMENT_MODES: verified")
        },
        Row {
            enrolled_as: vec![("alice", PROFESSIONAL_ONLY, "no-id-professional")],
            ..existing("no-id-professional only", "alice", vec![PROFESSIONAL_ONLY], 200, enrolled(1),
                "enrolls in `audit` (not offered); we pick no-id-professional")
        },
        Row {
            enrolled_as: vec![("alice", HIDDEN, "audit"), ("alice", ABOUT, "audit")],
            ..existing("catalog visibility none and about", "alice", vec![HIDDEN, ABOUT], 200, enrolled(2),
                "enrolls (visibility does not matter)")
        },
        Row {
            enrolled_as: vec![("alice", OLD_STYLE, "honor")],
            ..existing("old-style ORG/COURSE/RUN key, honor only", "alice", vec![OLD_STYLE], 200, enrolled(1),
                "enrolls in honor (the default when there is no audit)")
        },
        Row {
            enrolled_as: vec![(FULL_HOLDER, FULL, "audit")],
            ..existing("full course, replay by the seat holder", FULL_HOLDER, vec![FULL], 200, enrolled(1),
                "success (already enrolled); the LMS's REST answer is a generic 400 (course full is checked first): \
                 we read the enrollment back and find it active")
        },
        Row {
            not_enrolled: vec![("bob", FULL)],
            ..existing("full course, new learner", "bob", vec![FULL], 500, INTERNAL.into(),
                "enrolls past capacity (check_access=False); the REST API cannot: 500, log kind enrollment_refused \
                 (OPENEDX_APPLY_API=bulk_enroll does what the plugin did)")
        },
        Row {
            enrolled_as: vec![(VERIFIED_LEARNER, OPEN, "verified")],
            ..existing("verified learner bought the course again", VERIFIED_LEARNER, vec![OPEN], 200, enrolled(1),
                "already enrolled: unchanged; we never change the mode of an active enrollment")
        },
        Row {
            enrolled_as: vec![("carol", OPEN, "audit"), ("carol", VERIFIED_ONLY, "verified"), ("carol", OLD_STYLE, "honor")],
            ..existing("several courses, a duplicate", "carol", vec![OPEN, VERIFIED_ONLY, OLD_STYLE, OPEN], 200, enrolled(4),
                "same; counts the ids as sent")
        },
        Row {
            not_enrolled: vec![("dave", OPEN)],
            ..existing("one course missing", "dave", vec![OPEN, MISSING], 400,
                format!(r#"{{"success":false,"message":"Course {MISSING} does not exist"}}"#),
                "400, nothing written (all courses are checked first)")
        },
        Row {
            not_enrolled: vec![("dave", OPEN)],
            ..existing("a malformed key after a good one", "dave", vec![OPEN, "not-a-key"], 400,
                r#"{"success":false,"message":"Invalid course key format: not-a-key"}"#.into(),
                "400, nothing written")
        },
    ];
    let every_kind = vec![
        OPEN,
        CLOSED,
        UPCOMING,
        INVITE,
        FULL,
        VERIFIED_ONLY,
        HIDDEN,
        ABOUT,
        OLD_STYLE,
        PROFESSIONAL_ONLY,
    ];
    rows.push(Row {
        email: "buyer.one@buyers.test".into(),
        courses: every_kind.clone(),
        status: 200,
        body: allowed(every_kind.len()),
        enrolled_as: Vec::new(),
        not_enrolled: Vec::new(),
        allowances: every_kind
            .iter()
            .map(|c| ("buyer.one@buyers.test".to_owned(), *c))
            .collect(),
        what: "unknown email, every course kind at once",
        plugin:
            "an auto-enroll allowance per course (the allowance API checks no course rule either)",
    });
    rows.push(Row {
        email: "buyer.two@buyers.test".into(),
        courses: vec![UPCOMING],
        status: 200,
        body: allowed(1),
        enrolled_as: Vec::new(),
        not_enrolled: Vec::new(),
        allowances: vec![("buyer.two@buyers.test".to_owned(), UPCOMING)],
        what: "unknown email, upcoming course",
        plugin: "an auto-enroll allowance",
    });

    let list_calls_before = lms.requests("GET", "/api/courses/v1/courses/?");
    let mut report = Vec::new();
    for row in &rows {
        let body = payload(&row.email, &row.courses);
        let reply = post(&webhook, &body).await;
        assert_eq!(
            (reply.status, reply.body.as_str()),
            (row.status, row.body.as_str()),
            "{}: answer\nLMS log tail:\n{}",
            row.what,
            tail(&lms.log(), 30)
        );
        check_state(&lms, row);
        if row.status == 200 {
            let before = (lms.all_enrollments(), lms.all_allowances());
            let again = post(&webhook, &body).await;
            assert_eq!(
                (again.status, again.body.as_str()),
                (row.status, row.body.as_str()),
                "{}: replay answer",
                row.what
            );
            assert_eq!(
                (lms.all_enrollments(), lms.all_allowances()),
                before,
                "{}: replay changed the LMS state",
                row.what
            );
        }
        report.push(format!(
            "| {} | {} | {} | {} |",
            row.what,
            row.status,
            row.courses.len(),
            row.plugin
        ));
    }
    // The ten-course request asked the course list once for all its courses.
    assert!(
        lms.requests("GET", "/api/courses/v1/courses/?") > list_calls_before,
        "the batched course check was not used"
    );
    // The anonymous, per-IP-throttled course endpoint is not on our path.
    assert_eq!(lms.requests("GET", "/api/enrollment/v1/course/"), 0);
    eprintln!(
        "| situation | status | courses | plugin |\n|---|---|---|---|\n{}",
        report.join("\n")
    );
}

fn check_state(lms: &RealLms, row: &Row) {
    for (user, course, mode) in &row.enrolled_as {
        let found = lms.enrollment(user, course);
        assert!(
            found
                .as_ref()
                .is_some_and(|e| e.is_active && e.mode == *mode),
            "{}: {user} in {course}: expected active {mode}, found {found:?}",
            row.what
        );
    }
    for (user, course) in &row.not_enrolled {
        let found = lms.enrollment(user, course);
        assert!(
            found.is_none(),
            "{}: {user} in {course}: expected none, found {found:?}",
            row.what
        );
    }
    for (email, course) in &row.allowances {
        assert_eq!(
            lms.allowance(email, course),
            Some(true),
            "{}: allowance {course}",
            row.what
        );
    }
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// The README's contract rows that never reach the LMS, and the 403 of a service user
/// that is not global staff (row 10: 500, log kind `forbidden`).
#[tokio::test(flavor = "current_thread")]
async fn contract_rows_and_a_non_staff_service_user() {
    let Some(lms) = RealLms::start("contract_rows_and_a_non_staff_service_user") else {
        return;
    };
    let webhook = service(&lms, seed::SERVICE_CLIENT_ID, seed::SERVICE_CLIENT_SECRET);
    let good = payload(&seed::learner_email("erin"), &[seed::OPEN]);

    let r = webhook.handle("GET", PATH, None, b"").await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (405, r#"{"detail":"Method \"GET\" not allowed."}"#)
    );
    let big = vec![b' '; 262_145];
    let r = webhook.handle("POST", PATH, Some("x"), &big).await;
    assert_eq!(r.status, 413);
    let r = webhook.handle("POST", PATH, Some("x"), b"{").await;
    assert_eq!(r.status, 400);
    assert!(
        r.body
            .starts_with(r#"{"success":false,"message":"JSON parse error - "#),
        "{}",
        r.body
    );
    let r = webhook
        .handle("POST", PATH, Some(&"0".repeat(64)), good.as_bytes())
        .await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (401, r#"{"success":false,"message":"Invalid signature"}"#)
    );
    let bad_email = payload("not-an-email", &[seed::OPEN]);
    let r = post(&webhook, &bad_email).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (
            400,
            r#"{"success":false,"message":{"email":["Enter a valid email address."]}}"#
        )
    );
    assert_eq!(
        lms.enrollment("erin", seed::OPEN),
        None,
        "nothing reached the LMS"
    );

    // A service user that is not global staff: the accounts API refuses the email lookup.
    let capture = LogCapture::global();
    let nonstaff = service(&lms, seed::NONSTAFF_CLIENT_ID, seed::NONSTAFF_CLIENT_SECRET);
    let r = post(&nonstaff, &good).await;
    assert_eq!((r.status, r.body.as_str()), (500, INTERNAL));
    let log = capture.text();
    assert!(
        log.contains(r#""error_kind":"forbidden""#),
        "log kind: {log}"
    );
    assert_eq!(lms.enrollment("erin", seed::OPEN), None);

    // A course whose modes the configuration cannot satisfy: 400 naming it, before
    // anything is written (the open course first in the list is not enrolled either).
    use enrollment_webhook::enroll::{ApplyApi, ApplySettings};
    let honor_only = service(&lms, seed::SERVICE_CLIENT_ID, seed::SERVICE_CLIENT_SECRET)
        .with_settings(ApplySettings {
            modes: edx_hooks_shared::openedx::ModePolicy::from_settings(Some("honor"), None, false)
                .expect("valid"),
            ..ApplySettings::default()
        });
    let r = post(
        &honor_only,
        &payload(
            &seed::learner_email("erin"),
            &[seed::OPEN, seed::VERIFIED_ONLY],
        ),
    )
    .await;
    let expected = format!(
        r#"{{"success":false,"message":"Course {} offers no enrollment mode this service may use (offered: verified)"}}"#,
        seed::VERIFIED_ONLY
    );
    assert_eq!(
        (r.status, r.body.as_str()),
        (400, expected.as_str()),
        "{}",
        tail(&lms.log(), 12)
    );
    assert_eq!(lms.enrollment("erin", seed::OPEN), None);
    assert!(capture
        .text()
        .contains(r#""error_kind":"mode_unavailable""#));

    // The bulk path on an LMS whose bulk enrollment view is off (production's default):
    // a permanent refusal, the plugin's 500, nothing written.
    let bulk = service(&lms, seed::SERVICE_CLIENT_ID, seed::SERVICE_CLIENT_SECRET).with_settings(
        ApplySettings {
            api: ApplyApi::BulkEnroll,
            ..ApplySettings::default()
        },
    );
    let r = post(&bulk, &good).await;
    assert_eq!((r.status, r.body.as_str()), (500, INTERNAL));
    assert!(
        capture.text().contains("ENABLE_BULK_ENROLLMENT_VIEW"),
        "the log says how to fix it"
    );
    assert_eq!(lms.enrollment("erin", seed::OPEN), None);
}

/// `OPENEDX_APPLY_API=bulk_enroll` against a real LMS with the bulk enrollment view
/// enabled: one call applies every course with the plugin's `check_access=False`
/// semantics, so the full course that the REST path cannot serve is enrolled too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_path_enrolls_like_the_plugin_in_one_call() {
    use edx_hooks_tests::real_lms::RealLmsOptions;
    use enrollment_webhook::enroll::{ApplyApi, ApplySettings};
    use seed::*;
    let Some(lms) = RealLms::start_with(
        "bulk_path_enrolls_like_the_plugin_in_one_call",
        RealLmsOptions { bulk_enroll: true },
    ) else {
        return;
    };
    let bulk = ApplySettings {
        api: ApplyApi::BulkEnroll,
        ..ApplySettings::default()
    };
    let webhook = service(&lms, SERVICE_CLIENT_ID, SERVICE_CLIENT_SECRET).with_settings(bulk);

    // An allowance left with auto_enroll off (e.g. created by hand): the bulk call
    // switches it on in place.
    let token = lms.token(SERVICE_CLIENT_ID, SERVICE_CLIENT_SECRET);
    let created = reqwest::Client::new()
        .post(format!("{}/api/enrollment/v1/enrollment_allowed/", lms.base_url()))
        .header("Authorization", format!("JWT {token}"))
        .json(&serde_json::json!({"email": "buyer.three@buyers.test", "course_id": OPEN, "auto_enroll": false}))
        .send()
        .await
        .expect("allowance created");
    assert_eq!(created.status().as_u16(), 201);
    assert_eq!(lms.allowance("buyer.three@buyers.test", OPEN), Some(false));

    let every_kind = [
        OPEN,
        CLOSED,
        UPCOMING,
        INVITE,
        FULL,
        VERIFIED_ONLY,
        HIDDEN,
        ABOUT,
        OLD_STYLE,
        PROFESSIONAL_ONLY,
    ];
    struct Case {
        what: &'static str,
        email: String,
        courses: Vec<&'static str>,
        answer: String,
        bulk_calls: usize,
        rest_enroll_calls: usize,
    }
    let cases = [
        Case {
            what: "a new learner in a full course (the REST path's 500)",
            email: learner_email("bob"),
            courses: vec![FULL],
            answer: enrolled(1),
            bulk_calls: 1,
            rest_enroll_calls: 0,
        },
        Case {
            what: "every kind at once; the verified-only and professional-only courses by REST with their mode",
            email: learner_email("alice"),
            courses: every_kind.to_vec(),
            answer: enrolled(every_kind.len()),
            bulk_calls: 1,
            rest_enroll_calls: 2,
        },
        Case {
            what: "a verified learner buys again",
            email: learner_email(VERIFIED_LEARNER),
            courses: vec![OPEN],
            answer: enrolled(1),
            bulk_calls: 1,
            rest_enroll_calls: 0,
        },
        Case {
            what: "unknown email, every kind",
            email: "buyer.one@buyers.test".into(),
            courses: every_kind.to_vec(),
            answer: allowed(every_kind.len()),
            bulk_calls: 1,
            rest_enroll_calls: 0,
        },
        Case {
            what: "unknown email whose allowance had auto_enroll off",
            email: "buyer.three@buyers.test".into(),
            courses: vec![OPEN],
            answer: allowed(1),
            bulk_calls: 1,
            rest_enroll_calls: 0,
        },
    ];
    for case in &cases {
        let body = payload(&case.email, &case.courses);
        for attempt in ["first", "replay"] {
            let before = (lms.all_enrollments(), lms.all_allowances());
            let (bulk0, rest0) = (
                lms.requests("POST", "/api/bulk_enroll/v1/bulk_enroll"),
                lms.requests("POST", "/api/enrollment/v1/enrollment "),
            );
            let reply = post(&webhook, &body).await;
            assert_eq!(
                (reply.status, reply.body.as_str()),
                (200, case.answer.as_str()),
                "{} ({attempt})",
                case.what
            );
            assert_eq!(
                lms.requests("POST", "/api/bulk_enroll/v1/bulk_enroll") - bulk0,
                case.bulk_calls,
                "{}",
                case.what
            );
            if attempt == "first" {
                assert_eq!(
                    lms.requests("POST", "/api/enrollment/v1/enrollment ") - rest0,
                    case.rest_enroll_calls,
                    "{}",
                    case.what
                );
            } else {
                assert_eq!(
                    (lms.all_enrollments(), lms.all_allowances()),
                    before,
                    "{}: replay changed the state",
                    case.what
                );
            }
        }
    }
    assert_eq!(
        lms.enrollment("bob", FULL).map(|e| e.is_active),
        Some(true),
        "past capacity, like the plugin"
    );
    for (course, mode) in [
        (OPEN, "audit"),
        (CLOSED, "audit"),
        (UPCOMING, "audit"),
        (INVITE, "audit"),
        (FULL, "audit"),
        (VERIFIED_ONLY, "verified"),
        (HIDDEN, "audit"),
        (ABOUT, "audit"),
        (OLD_STYLE, "honor"),
        (PROFESSIONAL_ONLY, "no-id-professional"),
    ] {
        let found = lms.enrollment("alice", course);
        assert!(
            found
                .as_ref()
                .is_some_and(|e| e.is_active && e.mode == mode),
            "alice {course}: {found:?}"
        );
    }
    assert_eq!(
        lms.enrollment(VERIFIED_LEARNER, OPEN).map(|e| e.mode),
        Some("verified".into())
    );
    for course in every_kind {
        assert_eq!(
            lms.allowance("buyer.one@buyers.test", course),
            Some(true),
            "{course}"
        );
    }
    assert_eq!(lms.allowance("buyer.three@buyers.test", OPEN), Some(true));

    // Existence is still checked first: the bulk view would enroll into any key.
    let reply = post(
        &webhook,
        &payload(&learner_email("frank"), &[OPEN, MISSING]),
    )
    .await;
    assert_eq!(reply.status, 400);
    assert_eq!(lms.enrollment("frank", OPEN), None);
}
