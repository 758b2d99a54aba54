//! Contract tests of the Open edX LMS emulator, through a plain HTTP client.

use std::time::{Duration, Instant};

use edx_hooks_tests::lms_emulator::{
    CatalogVisibility, CourseInfo, CourseModeInfo, EmailMatching, EmulatorConfig, LmsEmulator,
    ReleaseProfile, UtcTime, ACCOUNTS_PATH, COURSES_PATH, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET,
    DEMO_COURSE, DEMO_LEARNER, DEMO_LEARNER_EMAIL, DEMO_SERVICE_USER, E2E_COURSE,
    ENROLLMENTS_LIST_PATH, ENROLLMENTS_V2_PATH, ENROLLMENT_ALLOWED_V1_PATH,
    ENROLLMENT_ALLOWED_V2_PATH, ENROLLMENT_COURSE_DETAIL_PREFIX, ENROLLMENT_PATH,
    ENROLLMENT_V2_COURSE_PREFIX, ENROLLMENT_V2_PATH, TOKEN_PATH,
};
use reqwest::{Client, Method, Response, StatusCode};
use serde_json::{json, Value};

const NOT_PROVIDED: &str = "Authentication credentials were not provided.";
const DENIED: &str = "You do not have permission to perform this action.";

struct Ctx {
    lms: LmsEmulator,
    http: Client,
    staff: String,
}

async fn setup(config: EmulatorConfig) -> Ctx {
    let lms = LmsEmulator::start(EmulatorConfig {
        seed_demo: true,
        ..config
    })
    .await;
    let http = Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    let staff = token(&lms, &http, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET).await;
    Ctx { lms, http, staff }
}

async fn demo() -> Ctx {
    setup(EmulatorConfig::default()).await
}

async fn token(lms: &LmsEmulator, http: &Client, id: &str, secret: &str) -> String {
    let resp = http
        .post(lms.url(TOKEN_PATH))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", id),
            ("client_secret", secret),
            ("token_type", "jwt"),
        ])
        .send()
        .await
        .expect("token request");
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.expect("token json");
    body["access_token"]
        .as_str()
        .expect("access_token")
        .to_owned()
}

impl Ctx {
    /// A JWT for the (non-staff) demo learner.
    async fn learner_token(&self) -> String {
        self.lms
            .state()
            .add_oauth_client("learner-app", "learner-secret", DEMO_LEARNER);
        token(&self.lms, &self.http, "learner-app", "learner-secret").await
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Response {
        let mut rb = self.http.request(method, self.lms.url(path));
        if let Some(t) = token {
            rb = rb.header("Authorization", format!("JWT {t}"));
        }
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        rb.send().await.expect("request")
    }

    async fn staff_json(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let resp = self.call(method, path, Some(&self.staff), body).await;
        status_json(resp).await
    }
}

async fn status_json(resp: Response) -> (StatusCode, Value) {
    let status = resp.status();
    let text = resp.text().await.expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// Encode a course id for a query string (`+` would decode to a space).
fn q(course_id: &str) -> String {
    course_id.replace('+', "%2B").replace(':', "%3A")
}

fn enroll_body(user: &str, course: &str) -> Value {
    json!({ "user": user, "course_details": { "course_id": course } })
}

// ---------------------------------------------------------------------------
// token endpoint and authentication

#[tokio::test]
async fn token_endpoint_contract() {
    let c = demo().await;
    let ok = c
        .http
        .post(c.lms.url(TOKEN_PATH))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", DEMO_CLIENT_ID),
            ("client_secret", DEMO_CLIENT_SECRET),
            ("token_type", "jwt"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.headers()["cache-control"], "no-store");
    let (_, body) = status_json(ok).await;
    assert_eq!(body["token_type"], "JWT");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["scope"], "read write email profile");
    assert!(body["access_token"].as_str().is_some_and(|t| !t.is_empty()));

    let bad_secret = c
        .http
        .post(c.lms.url(TOKEN_PATH))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", DEMO_CLIENT_ID),
            ("client_secret", "nope"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        status_json(bad_secret).await,
        (
            StatusCode::UNAUTHORIZED,
            json!({ "error": "invalid_client" })
        )
    );

    let unknown_client = c
        .http
        .post(c.lms.url(TOKEN_PATH))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "who"),
            ("client_secret", "x"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(unknown_client.status(), 401);

    for grant in [Some("password"), None] {
        let mut form = vec![
            ("client_id", DEMO_CLIENT_ID),
            ("client_secret", DEMO_CLIENT_SECRET),
        ];
        if let Some(g) = grant {
            form.push(("grant_type", g));
        }
        let resp = c
            .http
            .post(c.lms.url(TOKEN_PATH))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(
            status_json(resp).await,
            (
                StatusCode::BAD_REQUEST,
                json!({ "error": "unsupported_grant_type" })
            )
        );
    }

    // HTTP Basic client authentication; no token_type → DOT Bearer token.
    let basic = c
        .http
        .post(c.lms.url(TOKEN_PATH))
        .basic_auth(DEMO_CLIENT_ID, Some(DEMO_CLIENT_SECRET))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    let (status, body) = status_json(basic).await;
    assert_eq!(status, 200);
    assert_eq!(body["token_type"], "Bearer");

    let get = c.http.get(c.lms.url(TOKEN_PATH)).send().await.unwrap();
    assert_eq!(get.status(), 405);
}

#[tokio::test]
async fn jwt_authentication_errors() {
    let c = demo().await;
    let path = format!("{ACCOUNTS_PATH}?email={DEMO_LEARNER_EMAIL}");

    let missing = c.call(Method::GET, &path, None, None).await;
    assert_eq!(missing.headers()["www-authenticate"], "JWT realm=\"api\"");
    assert_eq!(
        status_json(missing).await,
        (StatusCode::UNAUTHORIZED, json!({ "detail": NOT_PROVIDED }))
    );

    let garbage = c.call(Method::GET, &path, Some("not-a-token"), None).await;
    assert_eq!(
        status_json(garbage).await,
        (
            StatusCode::UNAUTHORIZED,
            json!({ "detail": "Invalid token." })
        )
    );

    // A Bearer header is not a JWT: JwtAuthentication ignores it.
    let bearer = c
        .http
        .get(c.lms.url(&path))
        .header("Authorization", format!("Bearer {}", c.staff))
        .send()
        .await
        .unwrap();
    assert_eq!(
        status_json(bearer).await,
        (StatusCode::UNAUTHORIZED, json!({ "detail": NOT_PROVIDED }))
    );

    // The prefix is case-insensitive.
    let lower = c
        .http
        .get(c.lms.url(&path))
        .header("Authorization", format!("jwt {}", c.staff))
        .send()
        .await
        .unwrap();
    assert_eq!(lower.status(), 200);
}

#[tokio::test]
async fn tokens_expire_after_ttl() {
    let c = setup(EmulatorConfig {
        token_ttl_secs: 1,
        ..EmulatorConfig::default()
    })
    .await;
    let path = format!("{ACCOUNTS_PATH}?email={DEMO_LEARNER_EMAIL}");
    assert_eq!(
        c.call(Method::GET, &path, Some(&c.staff), None)
            .await
            .status(),
        200
    );
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let expired = c.call(Method::GET, &path, Some(&c.staff), None).await;
    assert_eq!(
        status_json(expired).await,
        (
            StatusCode::UNAUTHORIZED,
            json!({ "detail": "Invalid token." })
        )
    );
    // A fresh token works again.
    let fresh = token(&c.lms, &c.http, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET).await;
    assert_eq!(
        c.call(Method::GET, &path, Some(&fresh), None)
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn revoked_tokens_are_rejected() {
    let c = demo().await;
    let path = format!("{ACCOUNTS_PATH}?email={DEMO_LEARNER_EMAIL}");
    assert_eq!(
        c.call(Method::GET, &path, Some(&c.staff), None)
            .await
            .status(),
        200
    );
    assert_eq!(c.lms.revoke_tokens(), 1);
    assert_eq!(
        c.call(Method::GET, &path, Some(&c.staff), None)
            .await
            .status(),
        401
    );
    let fresh = token(&c.lms, &c.http, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET).await;
    assert_eq!(
        c.call(Method::GET, &path, Some(&fresh), None)
            .await
            .status(),
        200
    );
}

// ---------------------------------------------------------------------------
// enrollment course detail

#[tokio::test]
async fn enrollment_course_detail() {
    let c = demo().await;
    let now = UtcTime::now();
    c.lms.state().add_course(
        "course-v1:Org+Modes+2026",
        CourseInfo {
            modes: vec![
                CourseModeInfo::new("audit", "Audit"),
                CourseModeInfo {
                    expiration_datetime: Some(UtcTime(now.0 - 3600)),
                    ..CourseModeInfo::new("verified", "Verified")
                },
            ],
            invitation_only: true,
            ..CourseInfo::named("Modes")
        },
    );

    for path in [
        format!("{ENROLLMENT_COURSE_DETAIL_PREFIX}{DEMO_COURSE}"),
        format!("{ENROLLMENT_COURSE_DETAIL_PREFIX}course-v1%3AedX%2BDemoX%2BDemo_Course"),
    ] {
        let (status, body) = status_json(c.call(Method::GET, &path, None, None).await).await;
        assert_eq!(status, 200, "{path}");
        assert_eq!(body["course_id"], DEMO_COURSE);
        assert_eq!(body["course_name"], "Demonstration Course");
        assert_eq!(body["course_start"], "2013-02-05T05:00:00Z");
        assert_eq!(body["enrollment_end"], Value::Null);
        assert_eq!(body["invite_only"], false);
        assert_eq!(body["course_modes"][0]["slug"], "audit");
    }

    let modes = format!("{ENROLLMENT_COURSE_DETAIL_PREFIX}course-v1:Org+Modes+2026");
    let (_, body) = status_json(c.call(Method::GET, &modes, None, None).await).await;
    assert_eq!(
        body["course_modes"].as_array().map(Vec::len),
        Some(1),
        "expired mode hidden"
    );
    assert_eq!(body["invite_only"], true);
    let (_, body) = status_json(
        c.call(
            Method::GET,
            &format!("{modes}?include_expired=1"),
            None,
            None,
        )
        .await,
    )
    .await;
    assert_eq!(body["course_modes"].as_array().map(Vec::len), Some(2));

    let unknown = format!("{ENROLLMENT_COURSE_DETAIL_PREFIX}course-v1:edX+Nope+run");
    assert_eq!(
        status_json(c.call(Method::GET, &unknown, None, None).await).await,
        (
            StatusCode::BAD_REQUEST,
            json!({ "message": "No course found for course ID 'course-v1:edX+Nope+run'" })
        )
    );
    // Matches the URL pattern but is no course key → uncaught InvalidKeyError.
    let bad = format!("{ENROLLMENT_COURSE_DETAIL_PREFIX}foo+bar+baz");
    assert_eq!(c.call(Method::GET, &bad, None, None).await.status(), 500);
    // Does not match the URL pattern → 404.
    let nomatch = format!("{ENROLLMENT_COURSE_DETAIL_PREFIX}justone");
    assert_eq!(
        c.call(Method::GET, &nomatch, None, None).await.status(),
        404
    );
}

// ---------------------------------------------------------------------------
// accounts

#[tokio::test]
async fn account_lookup_by_email() {
    let c = demo().await;
    let (status, body) = c
        .staff_json(
            Method::GET,
            &format!("{ACCOUNTS_PATH}?email={DEMO_LEARNER_EMAIL}"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(body.as_array().map(Vec::len), Some(1));
    assert_eq!(body[0]["username"], DEMO_LEARNER);
    assert_eq!(body[0]["email"], DEMO_LEARNER_EMAIL);
    assert_eq!(body[0]["is_active"], true);
    assert_eq!(body[0]["name"], "Demo Learner");

    // MySQL case-insensitive collation (default).
    let upper = c
        .call(
            Method::GET,
            &format!("{ACCOUNTS_PATH}?email=Learner@Example.COM"),
            Some(&c.staff),
            None,
        )
        .await;
    assert_eq!(upper.status(), 200);

    let unknown = c
        .call(
            Method::GET,
            &format!("{ACCOUNTS_PATH}?email=ghost@example.com"),
            Some(&c.staff),
            None,
        )
        .await;
    assert_eq!(unknown.status(), 404);
    assert_eq!(unknown.text().await.unwrap(), "");

    let learner = c.learner_token().await;
    let denied = c
        .call(
            Method::GET,
            &format!("{ACCOUNTS_PATH}?email={DEMO_LEARNER_EMAIL}"),
            Some(&learner),
            None,
        )
        .await;
    assert_eq!(
        status_json(denied).await,
        (StatusCode::FORBIDDEN, json!({ "detail": DENIED }))
    );

    // Without email a learner gets their own account.
    let own = c
        .call(Method::GET, ACCOUNTS_PATH, Some(&learner), None)
        .await;
    let (status, body) = status_json(own).await;
    assert_eq!(status, 200);
    assert_eq!(body[0]["username"], DEMO_LEARNER);
}

#[tokio::test]
async fn account_lookup_exact_email_matching() {
    let c = setup(EmulatorConfig {
        email_matching: EmailMatching::Exact,
        ..EmulatorConfig::default()
    })
    .await;
    let upper = c
        .call(
            Method::GET,
            &format!("{ACCOUNTS_PATH}?email=Learner@Example.COM"),
            Some(&c.staff),
            None,
        )
        .await;
    assert_eq!(upper.status(), 404);
    let exact = c
        .call(
            Method::GET,
            &format!("{ACCOUNTS_PATH}?email={DEMO_LEARNER_EMAIL}"),
            Some(&c.staff),
            None,
        )
        .await;
    assert_eq!(exact.status(), 200);
}

// ---------------------------------------------------------------------------
// enroll (v1)

#[tokio::test]
async fn enroll_success_idempotent_and_reactivation() {
    let c = demo().await;
    let (status, body) = c
        .staff_json(
            Method::POST,
            ENROLLMENT_PATH,
            Some(enroll_body(DEMO_LEARNER, E2E_COURSE)),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["user"], DEMO_LEARNER);
    assert_eq!(body["mode"], "audit");
    assert_eq!(body["is_active"], true);
    assert_eq!(body["course_details"]["course_id"], E2E_COURSE);
    assert_eq!(body["course_details"]["pacing_type"], "Self Paced");
    let created = body["created"].clone();
    assert_eq!(c.lms.state().enrollment_count(), 1);

    // Already enrolled → 200 with the existing enrollment.
    let (status, again) = c
        .staff_json(
            Method::POST,
            ENROLLMENT_PATH,
            Some(enroll_body(DEMO_LEARNER, E2E_COURSE)),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(again["created"], created);
    assert_eq!(c.lms.state().enrollment_count(), 1);

    // Staff can deactivate…
    let mut off = enroll_body(DEMO_LEARNER, E2E_COURSE);
    off["is_active"] = json!(false);
    let (status, body) = c.staff_json(Method::POST, ENROLLMENT_PATH, Some(off)).await;
    assert_eq!(
        (status, body["is_active"].clone()),
        (StatusCode::OK, json!(false))
    );
    assert!(
        !c.lms
            .state()
            .enrollment(DEMO_LEARNER, E2E_COURSE)
            .unwrap()
            .is_active
    );

    // …and a plain POST (or is_active: true) reactivates.
    let mut on = enroll_body(DEMO_LEARNER, E2E_COURSE);
    on["is_active"] = json!(true);
    let (status, body) = c.staff_json(Method::POST, ENROLLMENT_PATH, Some(on)).await;
    assert_eq!(
        (status, body["is_active"].clone()),
        (StatusCode::OK, json!(true))
    );
    assert!(
        c.lms
            .state()
            .enrollment(DEMO_LEARNER, E2E_COURSE)
            .unwrap()
            .is_active
    );

    // Enrollment lookup by username,course_id.
    let (status, one) = c
        .staff_json(
            Method::GET,
            &format!("{ENROLLMENT_PATH}/{DEMO_LEARNER},{E2E_COURSE}"),
            None,
        )
        .await;
    assert_eq!(
        (status, one["mode"].clone()),
        (StatusCode::OK, json!("audit"))
    );
}

#[tokio::test]
async fn reactivation_without_mode_resets_to_the_default_mode() {
    // enrollments/api.py add_enrollment: mode None → _default_course_mode →
    // data.create_course_enrollment → _update_enrollment(mode=<default>).
    let c = demo().await;
    let course = "course-v1:edX+Paid+2026";
    {
        let mut s = c.lms.state();
        s.add_course(
            course,
            CourseInfo {
                modes: vec![
                    CourseModeInfo::new("audit", "Audit"),
                    CourseModeInfo::new("verified", "Verified"),
                ],
                ..CourseInfo::named("Paid")
            },
        );
        s.add_enrollment(DEMO_LEARNER, course, "verified", false);
    }
    let (status, body) = c
        .staff_json(
            Method::POST,
            ENROLLMENT_PATH,
            Some(enroll_body(DEMO_LEARNER, course)),
        )
        .await;
    assert_eq!(
        (status, body["mode"].clone(), body["is_active"].clone()),
        (StatusCode::OK, json!("audit"), json!(true))
    );

    // Sending the existing mode keeps it.
    c.lms
        .state()
        .add_enrollment(DEMO_LEARNER, course, "verified", false);
    let mut keep = enroll_body(DEMO_LEARNER, course);
    keep["mode"] = json!("verified");
    let (status, body) = c
        .staff_json(Method::POST, ENROLLMENT_PATH, Some(keep))
        .await;
    assert_eq!(
        (status, body["mode"].clone(), body["is_active"].clone()),
        (StatusCode::OK, json!("verified"), json!(true))
    );

    // A mode the course does not offer is rejected even without is_active.
    let mut bad = enroll_body(DEMO_LEARNER, DEMO_COURSE);
    bad["mode"] = json!("verified");
    let (status, body) = c.staff_json(Method::POST, ENROLLMENT_PATH, Some(bad)).await;
    assert_eq!(status, 400);
    assert!(body["message"]
        .as_str()
        .is_some_and(|m| m.starts_with("The [verified] course mode is expired")));
}

#[tokio::test]
async fn enroll_error_codes() {
    let c = demo().await;
    let cases: Vec<(Value, u16, Value)> = vec![
        (
            enroll_body("ghost", E2E_COURSE),
            406,
            json!({ "message": "The user ghost does not exist." }),
        ),
        (
            enroll_body(DEMO_LEARNER, "course-v1:edX+Nope+run"),
            400,
            json!({ "message": "No course 'course-v1:edX+Nope+run' found for enrollment" }),
        ),
        (
            enroll_body(DEMO_LEARNER, "not a key"),
            400,
            json!({ "message": "No course 'not a key' found for enrollment" }),
        ),
        (
            json!({ "user": DEMO_LEARNER }),
            400,
            json!({ "message": "Course ID must be specified to create a new enrollment." }),
        ),
        (
            json!({ "user": DEMO_LEARNER, "course_details": { "course_id": E2E_COURSE }, "is_active": "yes" }),
            400,
            json!({ "message": "'yes' is an invalid enrollment activation status." }),
        ),
        (
            json!({ "user": DEMO_LEARNER, "course_details": { "course_id": E2E_COURSE }, "force_enrollment": 1 }),
            400,
            json!({ "message": "'1' is an invalid force enrollment status." }),
        ),
        (
            json!({ "email": "ghost@example.com", "course_details": { "course_id": E2E_COURSE } }),
            406,
            json!({ "message": "The user with the email address ghost@example.com does not exist." }),
        ),
    ];
    for (body, status, expected) in cases {
        let (got_status, got) = c
            .staff_json(Method::POST, ENROLLMENT_PATH, Some(body.clone()))
            .await;
        assert_eq!((got_status.as_u16(), got), (status, expected), "{body}");
    }
    assert_eq!(c.lms.state().enrollment_count(), 0);

    // Enrolling by email works for staff.
    let (status, body) = c
        .staff_json(
            Method::POST,
            ENROLLMENT_PATH,
            Some(json!({ "email": DEMO_LEARNER_EMAIL, "course_details": { "course_id": DEMO_COURSE } })),
        )
        .await;
    assert_eq!(
        (status, body["user"].clone()),
        (StatusCode::OK, json!(DEMO_LEARNER))
    );

    // A non-staff caller enrolling somebody else: 404 with an empty body.
    c.lms
        .state()
        .add_user("other", "other@example.com", false, true);
    let learner = c.learner_token().await;
    let hidden = c
        .call(
            Method::POST,
            ENROLLMENT_PATH,
            Some(&learner),
            Some(enroll_body("other", E2E_COURSE)),
        )
        .await;
    assert_eq!(hidden.status(), 404);
    assert_eq!(hidden.text().await.unwrap(), "");

    // …or a paid mode for themselves: 403.
    let mut paid = enroll_body(DEMO_LEARNER, E2E_COURSE);
    paid["mode"] = json!("verified");
    let forbidden = c
        .call(Method::POST, ENROLLMENT_PATH, Some(&learner), Some(paid))
        .await;
    assert_eq!(
        status_json(forbidden).await,
        (
            StatusCode::FORBIDDEN,
            json!({ "message": "User does not have permission to create enrollment with mode [verified]." })
        )
    );

    // Self-enrollment without `user` works.
    let own = c
        .call(
            Method::POST,
            ENROLLMENT_PATH,
            Some(&learner),
            Some(json!({ "course_details": { "course_id": E2E_COURSE } })),
        )
        .await;
    assert_eq!(own.status(), 200);

    // Unauthenticated: 401.
    let anon = c
        .call(
            Method::POST,
            ENROLLMENT_PATH,
            None,
            Some(enroll_body(DEMO_LEARNER, E2E_COURSE)),
        )
        .await;
    assert_eq!(
        status_json(anon).await,
        (StatusCode::UNAUTHORIZED, json!({ "detail": NOT_PROVIDED }))
    );

    // Mode not offered by the course (with is_active true): 400 with course_details.
    let mut honor = enroll_body("other", DEMO_COURSE);
    honor["mode"] = json!("professional");
    honor["is_active"] = json!(true);
    let (status, body) = c
        .staff_json(Method::POST, ENROLLMENT_PATH, Some(honor))
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        body["message"],
        "The [professional] course mode is expired or otherwise unavailable for course run [course-v1:edX+DemoX+Demo_Course]."
    );
    assert_eq!(body["course_details"]["course_id"], DEMO_COURSE);
}

#[tokio::test]
async fn enrollment_window_invitation_and_force() {
    let c = demo().await;
    let closed = "course-v1:edX+Closed+2020";
    let invite = "course-v1:edX+Invite+2026";
    {
        let mut s = c.lms.state();
        s.add_course(
            closed,
            CourseInfo {
                enrollment_end: Some(UtcTime::days_from_now(-1)),
                ..CourseInfo::named("Closed")
            },
        );
        s.add_course(
            invite,
            CourseInfo {
                invitation_only: true,
                ..CourseInfo::named("Invite")
            },
        );
        s.add_course(
            "course-v1:edX+Future+2030",
            CourseInfo {
                enrollment_start: Some(UtcTime::days_from_now(10)),
                ..CourseInfo::named("Future")
            },
        );
        s.add_course(
            "course-v1:edX+Full+2026",
            CourseInfo {
                max_student_enrollments: Some(0),
                ..CourseInfo::named("Full")
            },
        );
    }
    let generic = |course: &str| json!({ "message": format!("An error occurred while creating the new course enrollment for user 'learner' in course '{course}'") });
    for course in [
        closed,
        invite,
        "course-v1:edX+Future+2030",
        "course-v1:edX+Full+2026",
    ] {
        let got = c
            .staff_json(
                Method::POST,
                ENROLLMENT_PATH,
                Some(enroll_body(DEMO_LEARNER, course)),
            )
            .await;
        assert_eq!(got, (StatusCode::BAD_REQUEST, generic(course)), "{course}");
    }

    // force_enrollment by global staff bypasses the closed window.
    let mut forced = enroll_body(DEMO_LEARNER, closed);
    forced["force_enrollment"] = json!(true);
    let (status, body) = c
        .staff_json(Method::POST, ENROLLMENT_PATH, Some(forced))
        .await;
    assert_eq!(
        (status, body["is_active"].clone()),
        (StatusCode::OK, json!(true))
    );

    // An allowance lets the learner into the invitation-only course.
    c.lms
        .state()
        .add_allowance(DEMO_LEARNER_EMAIL, invite, false);
    let (status, _) = c
        .staff_json(
            Method::POST,
            ENROLLMENT_PATH,
            Some(enroll_body(DEMO_LEARNER, invite)),
        )
        .await;
    assert_eq!(status, 200);
}

// ---------------------------------------------------------------------------
// enrollment allowed (legacy view)

#[tokio::test]
async fn enrollment_allowed_legacy_view() {
    let c = setup(EmulatorConfig {
        profile: ReleaseProfile::Teak,
        ..EmulatorConfig::default()
    })
    .await;
    let row = json!({ "email": "new@example.com", "course_id": E2E_COURSE, "auto_enroll": true });

    let (status, body) = c
        .staff_json(Method::POST, ENROLLMENT_ALLOWED_V1_PATH, Some(row.clone()))
        .await;
    assert_eq!(status, 201);
    assert_eq!(body["email"], "new@example.com");
    assert_eq!(body["course_id"], E2E_COURSE);
    assert_eq!(body["auto_enroll"], true);
    assert_eq!(body["user"], Value::Null);
    assert!(body["created"].is_string());
    assert!(c
        .lms
        .state()
        .allowance("new@example.com", E2E_COURSE)
        .is_some_and(|a| a.auto_enroll));

    assert_eq!(
        c.staff_json(Method::POST, ENROLLMENT_ALLOWED_V1_PATH, Some(row.clone()))
            .await,
        (
            StatusCode::CONFLICT,
            json!({ "message": format!("An enrollment allowed with email new@example.com and course {E2E_COURSE} already exists.") })
        )
    );
    // The unique index follows the e-mail collation (case-insensitive by default).
    let upper = json!({ "email": "NEW@example.com", "course_id": E2E_COURSE });
    assert_eq!(
        c.staff_json(Method::POST, ENROLLMENT_ALLOWED_V1_PATH, Some(upper))
            .await
            .0,
        StatusCode::CONFLICT
    );

    let missing = json!({ "message": "Please provide a value for 'email' and 'course_id' in the request data." });
    for body in [
        json!({ "email": "x@example.com" }),
        json!({ "course_id": E2E_COURSE, "email": "" }),
        json!({}),
    ] {
        assert_eq!(
            c.staff_json(Method::POST, ENROLLMENT_ALLOWED_V1_PATH, Some(body))
                .await,
            (StatusCode::BAD_REQUEST, missing.clone())
        );
    }
    // The course is not checked for existence; a malformed key is a 500.
    let ghost = json!({ "email": "new@example.com", "course_id": "course-v1:edX+Ghost+run" });
    assert_eq!(
        c.staff_json(Method::POST, ENROLLMENT_ALLOWED_V1_PATH, Some(ghost))
            .await
            .0,
        StatusCode::CREATED
    );
    let bad = json!({ "email": "new@example.com", "course_id": "garbage" });
    assert_eq!(
        c.staff_json(Method::POST, ENROLLMENT_ALLOWED_V1_PATH, Some(bad))
            .await
            .0,
        StatusCode::INTERNAL_SERVER_ERROR
    );

    let (status, list) = c
        .staff_json(
            Method::GET,
            &format!("{ENROLLMENT_ALLOWED_V1_PATH}?email=new@example.com"),
            None,
        )
        .await;
    assert_eq!(
        (status, list.as_array().map(Vec::len)),
        (StatusCode::OK, Some(2))
    );

    let del = json!({ "email": "new@example.com", "course_id": E2E_COURSE });
    let resp = c
        .call(
            Method::DELETE,
            ENROLLMENT_ALLOWED_V1_PATH,
            Some(&c.staff),
            Some(del.clone()),
        )
        .await;
    assert_eq!(resp.status(), 204);
    assert_eq!(
        c.staff_json(Method::DELETE, ENROLLMENT_ALLOWED_V1_PATH, Some(del))
            .await,
        (
            StatusCode::NOT_FOUND,
            json!({ "message": format!("An enrollment allowed with email new@example.com and course {E2E_COURSE} doesn't exists.") })
        )
    );

    let learner = c.learner_token().await;
    let denied = c
        .call(
            Method::GET,
            ENROLLMENT_ALLOWED_V1_PATH,
            Some(&learner),
            None,
        )
        .await;
    assert_eq!(
        status_json(denied).await,
        (StatusCode::FORBIDDEN, json!({ "detail": DENIED }))
    );
    let anon = c
        .call(Method::GET, ENROLLMENT_ALLOWED_V1_PATH, None, None)
        .await;
    assert_eq!(anon.status(), 401);

    // Teak has no v2.
    assert_eq!(
        c.call(
            Method::GET,
            ENROLLMENT_ALLOWED_V2_PATH,
            Some(&c.staff),
            None
        )
        .await
        .status(),
        404
    );
    assert_eq!(
        ReleaseProfile::Teak.enrollment_allowed_paths(),
        &[ENROLLMENT_ALLOWED_V1_PATH]
    );
}

#[tokio::test]
async fn registering_turns_auto_enroll_allowances_into_enrollments() {
    let c = demo().await;
    c.lms
        .state()
        .add_allowance("late@example.com", E2E_COURSE, true);
    c.lms
        .state()
        .add_allowance("late@example.com", DEMO_COURSE, false);
    let id = c.lms.state().register_user("late", "late@example.com");
    let s = c.lms.state();
    assert!(s
        .enrollment("late", E2E_COURSE)
        .is_some_and(|e| e.is_active && e.mode == "audit"));
    assert!(s.enrollment("late", DEMO_COURSE).is_none());
    assert_eq!(
        s.allowance("late@example.com", E2E_COURSE)
            .and_then(|a| a.user_id),
        Some(id)
    );
}

// ---------------------------------------------------------------------------
// enrollment API v2 (master)

#[tokio::test]
async fn enrollment_allowed_v2_viewset_action() {
    let c = demo().await;
    assert_eq!(
        ReleaseProfile::Master.enrollment_allowed_paths(),
        &[ENROLLMENT_ALLOWED_V2_PATH, ENROLLMENT_ALLOWED_V1_PATH]
    );
    let row = json!({ "email": "new@example.com", "course_id": E2E_COURSE, "auto_enroll": true });
    let (status, body) = c
        .staff_json(Method::POST, ENROLLMENT_ALLOWED_V2_PATH, Some(row.clone()))
        .await;
    assert_eq!(status, 201);
    assert_eq!(body["auto_enroll"], true);

    // Duplicate: the serializer's UniqueTogetherValidator answers 400, not 409.
    let (status, body) = c
        .staff_json(Method::POST, ENROLLMENT_ALLOWED_V2_PATH, Some(row.clone()))
        .await;
    assert_eq!(status, 400);
    assert_eq!(body["type"], "https://docs.openedx.org/errors/validation");
    assert_eq!(body["title"], "Validation Error");
    assert_eq!(body["status"], 400);
    assert_eq!(body["instance"], ENROLLMENT_ALLOWED_V2_PATH);
    assert_eq!(
        body["errors"],
        json!({ "non_field_errors": ["The fields email, course_id must make a unique set."] })
    );

    // Same validator blocks DELETE of an existing row; an absent row is 404.
    let del = json!({ "email": "new@example.com", "course_id": E2E_COURSE });
    assert_eq!(
        c.staff_json(Method::DELETE, ENROLLMENT_ALLOWED_V2_PATH, Some(del))
            .await
            .0,
        StatusCode::BAD_REQUEST
    );
    let absent = json!({ "email": "absent@example.com", "course_id": E2E_COURSE });
    let (status, body) = c
        .staff_json(Method::DELETE, ENROLLMENT_ALLOWED_V2_PATH, Some(absent))
        .await;
    assert_eq!(status, 404);
    assert_eq!(
        body["detail"],
        format!("An enrollment allowed with email absent@example.com and course {E2E_COURSE} doesn't exists.")
    );
    assert_eq!(body["title"], "Not Found");

    // Field validation.
    let (status, body) = c
        .staff_json(
            Method::POST,
            ENROLLMENT_ALLOWED_V2_PATH,
            Some(json!({ "email": "" })),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        body["errors"],
        json!({ "email": ["This field may not be blank."], "course_id": ["This field is required."] })
    );
    assert_eq!(
        body["detail"],
        "{'email': [ErrorDetail(string='This field may not be blank.', code='blank')], \
         'course_id': [ErrorDetail(string='This field is required.', code='required')]}"
    );

    let (status, list) = c
        .staff_json(
            Method::GET,
            &format!("{ENROLLMENT_ALLOWED_V2_PATH}?email=new@example.com"),
            None,
        )
        .await;
    assert_eq!(
        (status, list.as_array().map(Vec::len)),
        (StatusCode::OK, Some(1))
    );

    let learner = c.learner_token().await;
    let (status, body) = status_json(
        c.call(
            Method::GET,
            ENROLLMENT_ALLOWED_V2_PATH,
            Some(&learner),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, body["title"].clone(), body["detail"].clone()),
        (
            StatusCode::FORBIDDEN,
            json!("Permission Denied"),
            json!(DENIED)
        )
    );
    let anon = c
        .call(Method::GET, ENROLLMENT_ALLOWED_V2_PATH, None, None)
        .await;
    assert_eq!(anon.headers()["www-authenticate"], "JWT realm=\"api\"");
    let (status, body) = status_json(anon).await;
    assert_eq!(
        (status, body["title"].clone()),
        (StatusCode::UNAUTHORIZED, json!("Authentication Required"))
    );

    // The legacy view is still routed on master.
    assert_eq!(
        c.call(
            Method::GET,
            ENROLLMENT_ALLOWED_V1_PATH,
            Some(&c.staff),
            None
        )
        .await
        .status(),
        200
    );
}

#[tokio::test]
async fn enrollment_allowed_v2_without_unique_validator() {
    let c = setup(EmulatorConfig {
        v2_allowed_unique_validator: false,
        ..EmulatorConfig::default()
    })
    .await;
    let row = json!({ "email": "new@example.com", "course_id": E2E_COURSE });
    assert_eq!(
        c.staff_json(Method::POST, ENROLLMENT_ALLOWED_V2_PATH, Some(row.clone()))
            .await
            .0,
        StatusCode::CREATED
    );
    let (status, body) = c
        .staff_json(Method::POST, ENROLLMENT_ALLOWED_V2_PATH, Some(row.clone()))
        .await;
    assert_eq!(
        (status, body["title"].clone()),
        (StatusCode::CONFLICT, json!("Conflict"))
    );
    let resp = c
        .call(
            Method::DELETE,
            ENROLLMENT_ALLOWED_V2_PATH,
            Some(&c.staff),
            Some(row),
        )
        .await;
    assert_eq!(resp.status(), 204);
}

#[tokio::test]
async fn enrollment_v2_create_detail_and_count() {
    let c = demo().await;
    let (status, body) = c
        .staff_json(
            Method::POST,
            ENROLLMENT_V2_PATH,
            Some(enroll_body(DEMO_LEARNER, E2E_COURSE)),
        )
        .await;
    assert_eq!(
        (status, body["mode"].clone()),
        (StatusCode::OK, json!("audit"))
    );
    let (status, body) = c
        .staff_json(
            Method::POST,
            ENROLLMENT_V2_PATH,
            Some(enroll_body("ghost", E2E_COURSE)),
        )
        .await;
    assert_eq!(status, 404, "v2 answers 404 where v1 answers 406");
    assert_eq!(body["detail"], "The user ghost does not exist.");

    let (status, body) = c
        .staff_json(
            Method::GET,
            &format!("{ENROLLMENT_V2_COURSE_PREFIX}{E2E_COURSE}/"),
            None,
        )
        .await;
    assert_eq!(
        (status, body["course_id"].clone()),
        (StatusCode::OK, json!(E2E_COURSE))
    );
    let (status, body) = c
        .staff_json(
            Method::GET,
            &format!("{ENROLLMENT_V2_COURSE_PREFIX}course-v1:edX+Nope+run/"),
            None,
        )
        .await;
    assert_eq!(
        (status, body["detail"].clone()),
        (
            StatusCode::NOT_FOUND,
            json!("No course found for course ID 'course-v1:edX+Nope+run'")
        )
    );

    c.lms
        .state()
        .add_user("second", "second@example.com", false, true);
    c.lms
        .state()
        .set_enrollment("second", E2E_COURSE, "audit", false);
    let (status, body) = c
        .staff_json(
            Method::GET,
            &format!(
                "{ENROLLMENTS_V2_PATH}?course_key={}&page_size=1",
                q(E2E_COURSE)
            ),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["count"], 2, "inactive rows included");
    assert_eq!(body["num_pages"], 2);
    assert_eq!(body["current_page"], 1);
    assert_eq!(body["start"], 0);
    assert_eq!(body["results"].as_array().map(Vec::len), Some(1));
    assert!(body["next"].as_str().is_some_and(|n| n.contains("page=2")));
    let legacy = c
        .call(
            Method::GET,
            &format!("{ENROLLMENTS_V2_PATH}?course_id={}", q(E2E_COURSE)),
            Some(&c.staff),
            None,
        )
        .await;
    assert!(legacy.headers()["deprecation"]
        .to_str()
        .unwrap()
        .starts_with("Parameter 'course_id' is deprecated."));
}

// ---------------------------------------------------------------------------
// staff enrollments list (v1) and instructor counts

#[tokio::test]
async fn enrollments_v1_cursor_list_and_instructor_counts() {
    let c = demo().await;
    {
        let mut s = c.lms.state();
        for i in 0..3 {
            let name = format!("u{i}");
            s.add_user(&name, &format!("{name}@example.com"), false, true);
            s.set_enrollment(&name, E2E_COURSE, "audit", i != 2);
        }
    }
    let (status, body) = c
        .staff_json(
            Method::GET,
            &format!(
                "{ENROLLMENTS_LIST_PATH}?course_id={}&page_size=2",
                q(E2E_COURSE)
            ),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["results"].as_array().map(Vec::len), Some(2));
    assert!(
        body.get("count").is_none(),
        "cursor pagination has no count"
    );
    let next = body["next"].as_str().expect("next").to_owned();
    let page2: Value = c
        .http
        .get(&next)
        .header("Authorization", format!("JWT {}", c.staff))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page2["results"].as_array().map(Vec::len), Some(1));
    assert_eq!(page2["next"], Value::Null);

    let learner = c.learner_token().await;
    let denied = c
        .call(Method::GET, ENROLLMENTS_LIST_PATH, Some(&learner), None)
        .await;
    assert_eq!(
        status_json(denied).await,
        (
            StatusCode::FORBIDDEN,
            json!({ "developer_message": DENIED })
        )
    );

    let (status, body) = c
        .staff_json(
            Method::GET,
            &format!("/api/instructor/v2/courses/{E2E_COURSE}"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["total_enrollment"], 2);
    assert_eq!(body["enrollment_counts"], json!({ "total": 2, "audit": 2 }));
    let teak = setup(EmulatorConfig {
        profile: ReleaseProfile::Teak,
        ..EmulatorConfig::default()
    })
    .await;
    assert_eq!(
        teak.staff_json(
            Method::GET,
            &format!("/api/instructor/v2/courses/{E2E_COURSE}"),
            None
        )
        .await
        .0,
        404
    );
}

// ---------------------------------------------------------------------------
// course API, courseware (language), CMS (language, catalog_visibility)

#[tokio::test]
async fn course_api_list_and_detail() {
    let c = demo().await;
    c.lms.state().add_course(
        "course-v1:edX+Hidden+2026",
        CourseInfo {
            catalog_visibility: CatalogVisibility::None,
            ..CourseInfo::named("Hidden")
        },
    );
    let (status, body) = c
        .staff_json(
            Method::GET,
            &format!("{COURSES_PATH}?page_size=2&username={DEMO_SERVICE_USER}"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["pagination"]["count"], 3);
    assert_eq!(body["pagination"]["num_pages"], 2);
    assert_eq!(body["pagination"]["previous"], Value::Null);
    let next = body["pagination"]["next"].as_str().expect("next");
    assert!(
        next.starts_with(&c.lms.base_url())
            && next.contains("page=2")
            && next.contains("page_size=2"),
        "{next}"
    );
    assert_eq!(body["results"].as_array().map(Vec::len), Some(2));

    let (status, page2) = c
        .staff_json(
            Method::GET,
            &format!("{COURSES_PATH}?page_size=2&page=2&username={DEMO_SERVICE_USER}"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(page2["results"].as_array().map(Vec::len), Some(1));
    assert!(page2["pagination"]["previous"]
        .as_str()
        .is_some_and(|p| !p.contains("page=")));

    // Without `username` the list is evaluated for an anonymous user, even with
    // this staff JWT (`see_exists`): a course that has not started and whose
    // enrollment is not open yet exists but is not listed (what the batched
    // course check must never read as "does not exist"); the running course
    // hidden from the catalog is listed, flagged `hidden`.
    c.lms.state().add_course(
        "course-v1:edX+Upcoming+2027",
        CourseInfo {
            start: Some(UtcTime::days_from_now(40)),
            enrollment_start: Some(UtcTime::days_from_now(30)),
            ..CourseInfo::named("Upcoming")
        },
    );
    let (status, anonymous) = c
        .staff_json(
            Method::GET,
            &format!(
                "{COURSES_PATH}?course_keys=course-v1:edX%2BHidden%2B2026,course-v1:edX%2BUpcoming%2B2027,{}",
                E2E_COURSE.replace('+', "%2B")
            ),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(anonymous["pagination"]["count"], 2);
    assert_eq!(anonymous["results"][0]["id"], E2E_COURSE);
    assert_eq!(anonymous["results"][1]["id"], "course-v1:edX+Hidden+2026");
    assert_eq!(anonymous["results"][1]["hidden"], true);

    for bad in ["page=9", "page=0", "page=x"] {
        let got = c
            .staff_json(Method::GET, &format!("{COURSES_PATH}?{bad}"), None)
            .await;
        assert_eq!(
            got,
            (
                StatusCode::NOT_FOUND,
                json!({ "developer_message": "Invalid page." })
            ),
            "{bad}"
        );
    }

    for path in [
        format!("{COURSES_PATH}{E2E_COURSE}/"),
        format!("{COURSES_PATH}{E2E_COURSE}"),
    ] {
        let (status, body) = status_json(c.call(Method::GET, &path, None, None).await).await;
        assert_eq!(status, 200, "{path}");
        assert_eq!(body["id"], E2E_COURSE);
        assert_eq!(body["name"], "E2E Test Course");
        assert_eq!(body["org"], "edX");
        assert_eq!(body["number"], "E2E-101");
        assert_eq!(body["start"], "2024-01-01T00:00:00Z");
        assert_eq!(body["enrollment_end"], "2035-12-01T00:00:00Z");
        assert_eq!(body["pacing"], "self");
        assert_eq!(body["hidden"], false);
        assert!(
            body.get("language").is_none(),
            "the Course API has no language"
        );
    }
    let (_, hidden) = c
        .staff_json(
            Method::GET,
            &format!("{COURSES_PATH}course-v1:edX+Hidden+2026/"),
            None,
        )
        .await;
    assert_eq!(hidden["hidden"], true);

    let (_, with_user) = c
        .staff_json(
            Method::GET,
            &format!("{COURSES_PATH}{E2E_COURSE}/?username={DEMO_LEARNER}"),
            None,
        )
        .await;
    assert_eq!(with_user["is_enrolled"], false);

    assert_eq!(
        c.staff_json(
            Method::GET,
            &format!("{COURSES_PATH}course-v1:edX+Nope+run/"),
            None
        )
        .await,
        (
            StatusCode::NOT_FOUND,
            json!({ "developer_message": "Course not found." })
        )
    );
    let bad_token = c.call(Method::GET, COURSES_PATH, Some("bogus"), None).await;
    assert_eq!(
        status_json(bad_token).await,
        (
            StatusCode::UNAUTHORIZED,
            json!({ "developer_message": "Invalid token." })
        )
    );
}

#[tokio::test]
async fn language_and_catalog_visibility_sources() {
    let c = demo().await;
    c.lms
        .state()
        .course_mut(E2E_COURSE)
        .unwrap()
        .catalog_visibility = CatalogVisibility::About;

    let (status, body) = c
        .staff_json(
            Method::GET,
            &format!("/api/courseware/course/{E2E_COURSE}?requested_fields=language,start,end"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({ "language": "fr", "start": "2024-01-01T00:00:00Z", "end": "2035-12-31T23:59:59Z" })
    );

    let (status, body) = c
        .staff_json(
            Method::GET,
            &format!("/api/contentstore/v1/course_details/{E2E_COURSE}"),
            None,
        )
        .await;
    assert_eq!(
        (status, body["language"].clone()),
        (StatusCode::OK, json!("fr"))
    );
    assert_eq!(body["course_id"], "E2E-101");

    let (status, body) = c
        .staff_json(
            Method::GET,
            &format!("/api/contentstore/v0/advanced_settings/{E2E_COURSE}"),
            None,
        )
        .await;
    assert_eq!(
        (status, body["catalog_visibility"]["value"].clone()),
        (StatusCode::OK, json!("about"))
    );

    let learner = c.learner_token().await;
    let denied = c
        .call(
            Method::GET,
            &format!("/api/contentstore/v0/advanced_settings/{E2E_COURSE}"),
            Some(&learner),
            None,
        )
        .await;
    assert_eq!(denied.status(), 403);
}

// ---------------------------------------------------------------------------
// fault injection, recording, concurrency

#[tokio::test]
async fn fault_injection_statuses_and_throttling() {
    let c = demo().await;
    let detail = format!("{ENROLLMENT_COURSE_DETAIL_PREFIX}{DEMO_COURSE}");
    c.lms
        .faults()
        .fail_next(ENROLLMENT_COURSE_DETAIL_PREFIX, 2, 503);
    for _ in 0..2 {
        let resp = c.call(Method::GET, &detail, None, None).await;
        assert_eq!(resp.status(), 503);
        assert!(resp
            .text()
            .await
            .unwrap()
            .contains("503 Service Unavailable"));
    }
    assert_eq!(c.call(Method::GET, &detail, None, None).await.status(), 200);

    c.lms
        .faults()
        .fail_next_with("", 1, 502, "{\"oops\":true}", "application/json");
    let (status, body) = status_json(c.call(Method::GET, &detail, None, None).await).await;
    assert_eq!(
        (status, body),
        (StatusCode::BAD_GATEWAY, json!({ "oops": true }))
    );

    c.lms.faults().throttle_next(ENROLLMENT_PATH, 1, Some(7));
    let throttled = c
        .call(
            Method::POST,
            ENROLLMENT_PATH,
            Some(&c.staff),
            Some(enroll_body(DEMO_LEARNER, E2E_COURSE)),
        )
        .await;
    assert_eq!(throttled.headers()["retry-after"], "7");
    assert_eq!(
        status_json(throttled).await,
        (
            StatusCode::TOO_MANY_REQUESTS,
            json!({ "detail": "Request was throttled. Expected available in 7 seconds." })
        )
    );
    assert_eq!(
        c.lms.state().enrollment_count(),
        0,
        "a faulted call never reaches the view"
    );

    c.lms.faults().fail_token_endpoint(1, 500);
    let resp = c
        .http
        .post(c.lms.url(TOKEN_PATH))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", DEMO_CLIENT_ID),
            ("client_secret", DEMO_CLIENT_SECRET),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 500);
    assert_eq!(c.lms.faults().pending_rules(), 0);
    let calls = c.lms.calls_to(TOKEN_PATH);
    assert_eq!(
        calls.last().and_then(|c| c.fault.clone()).as_deref(),
        Some("respond 500")
    );
}

#[tokio::test]
async fn fault_injection_hang_drop_and_latency() {
    let c = setup(EmulatorConfig {
        hang_duration: Duration::from_secs(5),
        ..EmulatorConfig::default()
    })
    .await;
    let detail = format!("{ENROLLMENT_COURSE_DETAIL_PREFIX}{DEMO_COURSE}");

    c.lms.faults().hang_next(ENROLLMENT_COURSE_DETAIL_PREFIX, 1);
    let started = Instant::now();
    let err = c
        .http
        .get(c.lms.url(&detail))
        .timeout(Duration::from_millis(300))
        .send()
        .await
        .expect_err("must time out");
    assert!(err.is_timeout(), "{err}");
    assert!(started.elapsed() < Duration::from_secs(3));

    c.lms.faults().drop_next(ENROLLMENT_COURSE_DETAIL_PREFIX, 1);
    let err = c
        .http
        .get(c.lms.url(&detail))
        .send()
        .await
        .expect_err("connection dropped");
    assert!(!err.is_timeout(), "{err}");
    let dropped = c
        .lms
        .calls()
        .into_iter()
        .rev()
        .find(|x| x.fault.as_deref() == Some("drop"))
        .expect("recorded");
    assert_eq!(dropped.status, None);
    // The server keeps serving after a dropped connection.
    assert_eq!(c.call(Method::GET, &detail, None, None).await.status(), 200);

    c.lms
        .faults()
        .set_path_latency(ENROLLMENT_COURSE_DETAIL_PREFIX, Duration::from_millis(250));
    let started = Instant::now();
    assert_eq!(c.call(Method::GET, &detail, None, None).await.status(), 200);
    assert!(started.elapsed() >= Duration::from_millis(250));
    c.lms.faults().clear();
    let started = Instant::now();
    c.call(Method::GET, &detail, None, None).await;
    assert!(started.elapsed() < Duration::from_millis(250));
}

#[tokio::test]
async fn records_calls_and_counts_concurrency() {
    let c = demo().await;
    c.lms.reset_calls();
    let (status, _) = c
        .staff_json(
            Method::POST,
            ENROLLMENT_PATH,
            Some(enroll_body(DEMO_LEARNER, E2E_COURSE)),
        )
        .await;
    assert_eq!(status, 200);
    let calls = c.lms.calls();
    assert_eq!(calls.len(), 1);
    let call = &calls[0];
    assert_eq!(
        (call.method.as_str(), call.path.as_str(), call.status),
        ("POST", ENROLLMENT_PATH, Some(200))
    );
    assert_eq!(
        call.authorization.as_deref(),
        Some(format!("JWT {}", c.staff).as_str())
    );
    assert_eq!(call.request_json().unwrap()["user"], DEMO_LEARNER);
    assert_eq!(call.response_json().unwrap()["mode"], "audit");
    assert!(call.end.is_some_and(|e| e >= call.start));
    assert_eq!(c.lms.max_concurrent_requests(), 1);

    c.lms.faults().set_latency(Duration::from_millis(300));
    c.lms.reset_calls();
    let detail = format!("{ENROLLMENT_COURSE_DETAIL_PREFIX}{DEMO_COURSE}?include_expired=1");
    let handles: Vec<_> = (0..5)
        .map(|_| {
            let (http, url) = (c.http.clone(), c.lms.url(&detail));
            tokio::spawn(async move { http.get(url).send().await.map(|r| r.status().as_u16()) })
        })
        .collect();
    for h in handles {
        assert_eq!(h.await.expect("join").expect("response"), 200);
    }
    assert_eq!(c.lms.max_concurrent_requests(), 5);
    let calls = c.lms.calls();
    assert_eq!(calls.len(), 5);
    assert_eq!(calls[0].query.as_deref(), Some("include_expired=1"));
    assert!(calls[0].overlaps(&calls[4]));

    c.lms.reset_calls();
    for _ in 0..3 {
        c.call(Method::GET, &detail, None, None).await;
    }
    assert_eq!(c.lms.max_concurrent_requests(), 1);
    assert_eq!(c.lms.in_flight(), 0);
}

#[tokio::test]
async fn bin_style_config_and_profile_parsing() {
    assert_eq!(ReleaseProfile::parse("Teak"), Some(ReleaseProfile::Teak));
    assert_eq!(ReleaseProfile::parse("nope"), None);
    let lms = LmsEmulator::start(EmulatorConfig::demo()).await;
    assert!(lms.base_url().starts_with("http://127.0.0.1:"));
    assert!(!lms.base_url().ends_with('/'));
    let s = lms.state();
    assert!(s.course(DEMO_COURSE).is_some() && s.course(E2E_COURSE).is_some());
    assert!(s.user(DEMO_LEARNER).is_some_and(|u| !u.is_staff));
    assert!(s.oauth_clients.contains_key(DEMO_CLIENT_ID));
}
