//! The LMS checks: what the functions need from an Open edX LMS, checked with read-only
//! calls through the functions' own [`Transport`] (GET requests and the token grant;
//! the bulk-enrollment view is probed with a GET, which it answers 405 when routed and
//! 404 when disabled — no POST is ever sent). At most one call per check: a handful in
//! all, never enough to reach a throttle.

use std::sync::atomic::{AtomicU32, Ordering};

use serde_json::Value;

use super::{clip, Report};
use crate::enrollment_answers::{jwt_claims, parse_course_modes};
use crate::openedx::config::check_base_url;
use crate::openedx::transport::{encode_path, Call, Reply, Transport};
use crate::openedx::{AllowanceApi, LmsError, OpenEdxClient};
use crate::openedx_parse::parse_listed_course_ids;
use crate::secrets::{SecretCache, SecretSource};

/// An address no account has (`.invalid` is reserved): the allowance and account reads
/// use it, so they read nothing about a real learner.
const PROBE_EMAIL: &str = "edx-hooks-doctor@example.invalid";

/// The DOT application admin page (client id, secret, owner, grant type).
pub const DOT_ADMIN: &str = "/admin/oauth2_provider/application/";
/// Where a restricted application is listed.
pub const RESTRICTED_ADMIN: &str = "/admin/oauth_dispatch/restrictedapplication/";

/// What to check beyond the token and the service user.
#[derive(Debug, Clone, Default)]
pub struct LmsOptions {
    /// A course the endpoints are checked on (`--course`).
    pub course: Option<String>,
    /// The enrollment webhook's `OPENEDX_APPLY_API` (`rest` or `bulk_enroll`); `None`
    /// for a function that applies nothing (course-sync): the apply path is not checked.
    pub apply_api: Option<String>,
}

/// The claims of the token the doctor looks at (read without verifying the
/// signature: the LMS just issued it to us).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenClaims {
    pub preferred_username: Option<String>,
    pub is_restricted: Option<bool>,
    /// `is_staff` of the token's user (edx-platform's `administrator` claim).
    pub administrator: Option<bool>,
}

/// Read the claims of a JWT's payload; `None` when it is not a JWT.
pub fn token_claims(token: &str) -> Option<TokenClaims> {
    let claims = jwt_claims(token)?;
    Some(TokenClaims {
        preferred_username: claims
            .get("preferred_username")
            .and_then(Value::as_str)
            .map(str::to_owned),
        is_restricted: claims.get("is_restricted").and_then(Value::as_bool),
        administrator: claims.get("administrator").and_then(Value::as_bool),
    })
}

fn staff_fix(user: &str) -> String {
    format!(
        "make the service user global staff: `manage.py lms manage_user {user} <its email> --staff` \
         (Tutor: `tutor local run lms ./manage.py lms manage_user {user} <its email> --staff`), or \
         Django admin /admin/auth/user/ → {user} → tick \"Staff status\" (superuser alone is not enough)"
    )
}

struct Probe<'a> {
    transport: &'a Transport,
    /// The client id when its application is restricted: every 403 is then its fault.
    restricted: Option<String>,
    calls: AtomicU32,
    throttled: std::sync::Mutex<Vec<String>>,
}

impl Probe<'_> {
    /// The fix for a 403: the restriction when the application is restricted, else staff.
    fn forbidden_fix(&self, user: &str) -> String {
        match &self.restricted {
            Some(client_id) => {
                format!("Django admin {RESTRICTED_ADMIN}: delete the row of {client_id}")
            }
            None => staff_fix(user),
        }
    }

    /// One GET, one attempt. `Ok` for any HTTP answer; a 429 is also noted.
    async fn get(
        &self,
        operation: &'static str,
        path: &str,
        query: &[(&str, &str)],
        anonymous: bool,
    ) -> Result<Reply, LmsError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let mut call = Call::new(operation).once();
        if anonymous {
            call = call.anonymous();
        }
        let url = self.transport.url(path);
        let result = self
            .transport
            .send(call, |http| http.get(&url).query(query))
            .await;
        let throttled = match &result {
            Ok(reply) if reply.code() == 429 => Some(None),
            Err(LmsError::Throttled {
                retry_after_secs, ..
            }) => Some(*retry_after_secs),
            Err(LmsError::Unavailable { status: 429, .. }) => Some(None),
            _ => None,
        };
        if let Some(retry_after) = throttled {
            if let Ok(mut seen) = self.throttled.lock() {
                seen.push(match retry_after {
                    Some(s) => format!("{operation} (Retry-After {s} s)"),
                    None => operation.to_owned(),
                });
            }
        }
        result
    }
}

/// What an answer that is not the expected one says, for a report line.
fn describe(result: &Result<Reply, LmsError>) -> String {
    match result {
        Ok(reply) => {
            let message = reply.message();
            match (reply.code(), message.is_empty()) {
                (300..=399, _) => format!(
                    "HTTP {} (a redirect: not followed, the JWT must not travel elsewhere)",
                    reply.code()
                ),
                (code, true) => format!("HTTP {code}"),
                (code, false) => format!("HTTP {code}: {}", clip(&message, 160)),
            }
        }
        Err(e) => e.to_string(),
    }
}

/// Run the LMS checks.
pub async fn check_lms(
    client: &OpenEdxClient,
    credentials: &SecretCache<SecretSource>,
    options: &LmsOptions,
) -> Report {
    let mut report = Report::new();
    let transport = client.transport();
    let config = client.config();

    // --- lms.base_url
    match check_base_url(&config.base_url) {
        Ok(()) => report.pass("lms.base_url", config.base_url.clone()),
        Err(e) => {
            report.fail(
                "lms.base_url",
                e.to_string(),
                "set OPENEDX_BASE_URL to the LMS's https:// root URL (plain http only on loopback)",
            );
            return report;
        }
    }

    // --- lms.token: the grant the functions make, made here so that what came back
    // can be shown (the transport keeps its own token for the calls below).
    let later = [
        "lms.application_unrestricted",
        "lms.service_user",
        "lms.service_user_staff",
    ];
    let creds: Option<(String, String)> = match credentials.get().await {
        Ok(versions) => versions
            .first()
            .and_then(|v| serde_json::from_str::<Value>(v).ok())
            .and_then(|v| {
                Some((
                    v.get("client_id")?.as_str()?.to_owned(),
                    v.get("client_secret")?.as_str()?.to_owned(),
                ))
            }),
        Err(e) => {
            report.fail(
                "lms.token",
                format!("client credentials unavailable: {e}"),
                "store {\"client_id\": \"…\", \"client_secret\": \"…\"} in the secret OPENEDX_CLIENT_SECRET_ARN names \
                 (or set OPENEDX_CLIENT_ID / OPENEDX_CLIENT_SECRET locally), and allow secretsmanager:GetSecretValue on it",
            );
            report.skipped(&later, "lms.token");
            return report;
        }
    };
    let Some((client_id, client_secret)) = creds else {
        report.fail(
            "lms.token",
            "the client credentials secret is not JSON {\"client_id\", \"client_secret\"}",
            "put-secret-value --secret-string '{\"client_id\": \"…\", \"client_secret\": \"…\"}' on OPENEDX_CLIENT_SECRET_ARN",
        );
        report.skipped(&later, "lms.token");
        return report;
    };
    let mut probe = Probe {
        transport,
        restricted: None,
        calls: AtomicU32::new(0),
        throttled: std::sync::Mutex::new(Vec::new()),
    };
    let token_url = transport.url("/oauth2/access_token");
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", client_id.as_str()),
        ("client_secret", client_secret.as_str()),
        ("token_type", "jwt"),
    ];
    probe.calls.fetch_add(1, Ordering::Relaxed);
    let granted = transport
        .send(Call::new("doctor_token").anonymous().once(), |http| {
            http.post(&token_url).form(&form)
        })
        .await;
    let dot_fix = format!(
        "the client secret stored for client id {client_id:?} must be the one of the LMS's DOT application: \
         Django admin {DOT_ADMIN} → {client_id} (client type Confidential, grant type Client credentials, \
         user = the service user); rotate it there and put the same value in OPENEDX_CLIENT_SECRET_ARN, or create it: \
         `manage.py lms create_dot_application --grant-type client-credentials --client-id {client_id} \
         --client-secret <secret> <name> <service user>`"
    );
    let claims = match &granted {
        Ok(reply) if reply.code() == 200 => {
            let body: Value = serde_json::from_slice(&reply.body).unwrap_or(Value::Null);
            let token_type = body.get("token_type").and_then(Value::as_str).unwrap_or("");
            let expires_in = body.get("expires_in").and_then(Value::as_u64);
            let claims = body
                .get("access_token")
                .and_then(Value::as_str)
                .and_then(token_claims);
            let found = format!(
                "granted to client id {client_id:?}: token_type {token_type:?}, expires_in {}",
                expires_in.map_or("absent".to_owned(), |s| format!("{s} s"))
            );
            match (token_type.eq_ignore_ascii_case("jwt"), &claims) {
                (true, Some(_)) if expires_in.is_some_and(|s| s < 300) => report.warn(
                    "lms.token",
                    found,
                    "a token lives less than 5 minutes: raise OAUTH2_PROVIDER['ACCESS_TOKEN_EXPIRE_SECONDS'] in the LMS settings (default 3600)",
                ),
                (true, Some(_)) => report.pass("lms.token", found),
                (true, None) => report.warn(
                    "lms.token",
                    format!("{found}; its payload is not readable JWT claims"),
                    "the restriction and staff claims cannot be read: check lms.service_user_staff and Django admin /admin/oauth_dispatch/restrictedapplication/",
                ),
                _ => report.fail(
                    "lms.token",
                    format!("{found}: not a JWT"),
                    "the LMS must issue JWTs to token_type=jwt (edx-platform's AccessTokenView, every current release): check that OPENEDX_BASE_URL is the LMS, not Studio or a proxy",
                ),
            }
            claims.unwrap_or_default()
        }
        Ok(reply) if matches!(reply.code(), 400 | 401 | 403) => {
            report.fail(
                "lms.token",
                format!(
                    "the LMS refused the client credentials: {}",
                    describe(&granted)
                ),
                dot_fix,
            );
            report.skipped(&later, "lms.token");
            return report;
        }
        other => {
            report.fail(
                "lms.token",
                format!("no token: {}", describe(other)),
                "OPENEDX_BASE_URL must be the LMS's root URL as it answers (no redirect: https, the LMS host, no path), reachable from here",
            );
            report.skipped(&later, "lms.token");
            return report;
        }
    };

    // --- lms.application_unrestricted
    if claims.is_restricted == Some(true) {
        probe.restricted = Some(client_id.clone());
    }
    match claims.is_restricted {
        Some(true) => report.fail(
            "lms.application_unrestricted",
            format!("the DOT application {client_id:?} is restricted: its tokens are refused by every API the functions call"),
            format!("Django admin {RESTRICTED_ADMIN}: delete the row of {client_id}"),
        ),
        Some(false) => report.pass("lms.application_unrestricted", "is_restricted false"),
        None => report.warn(
            "lms.application_unrestricted",
            "the token carries no is_restricted claim",
            format!("check Django admin {RESTRICTED_ADMIN} has no row for {client_id}"),
        ),
    }

    // --- lms.service_user
    let me = probe.get("doctor_me", "/api/user/v1/me", &[], false).await;
    let me_name = me
        .as_ref()
        .ok()
        .filter(|r| r.code() == 200)
        .and_then(|r| serde_json::from_slice::<Value>(&r.body).ok())
        .and_then(|v| v.get("username")?.as_str().map(str::to_owned));
    let username = match (&me_name, &config.service_username) {
        (Some(me), Some(configured)) if me != configured => {
            report.fail(
                "lms.service_user",
                format!("the token belongs to {me:?}, OPENEDX_SERVICE_USERNAME says {configured:?}"),
                format!("set OPENEDX_SERVICE_USERNAME={me} (the owner of the DOT application), or give the application to {configured} in {DOT_ADMIN}"),
            );
            Some(me.clone())
        }
        (Some(me), configured) => {
            report.pass(
                "lms.service_user",
                format!(
                    "{me}{}",
                    match configured {
                        Some(_) => " (= OPENEDX_SERVICE_USERNAME)",
                        None => " (OPENEDX_SERVICE_USERNAME unset: the token's preferred_username is used)",
                    }
                ),
            );
            Some(me.clone())
        }
        (None, _) => {
            report.fail(
                "lms.service_user",
                format!("/api/user/v1/me did not name the token's user: {}", describe(&me)),
                match claims.is_restricted {
                    Some(true) => format!("un-restrict the application first ({RESTRICTED_ADMIN})"),
                    _ => "the LMS must accept its own JWTs (JWT_AUTH settings: JWT_ISSUERS / signing keys of this LMS)".to_owned(),
                },
            );
            claims
                .preferred_username
                .clone()
                .or(config.service_username.clone())
        }
    };
    let user = username
        .clone()
        .unwrap_or_else(|| "<service user>".to_owned());

    // --- lms.service_user_staff: the claim, and one staff-only read (the account
    // lookup by email, CanGetAccountInfo) with an address nobody has.
    let lookup = probe
        .get(
            "doctor_account_lookup",
            "/api/user/v1/accounts",
            &[("email", PROBE_EMAIL)],
            false,
        )
        .await;
    let lookup_ok = matches!(&lookup, Ok(r) if matches!(r.code(), 200 | 404));
    match (claims.administrator, lookup_ok) {
        (Some(false), _) => report.fail(
            "lms.service_user_staff",
            format!("{user} is not global staff (is_staff false): enrolling others, force_enrollment, allowances and the email lookup are refused"),
            staff_fix(&user),
        ),
        (_, true) => report.pass(
            "lms.service_user_staff",
            format!("{user} is global staff (is_staff; the account lookup by email answers)"),
        ),
        (Some(true), false) if claims.is_restricted == Some(true) => report.fail(
            "lms.service_user_staff",
            format!("{user} is staff but the restricted application's token is refused: {}", describe(&lookup)),
            format!("Django admin {RESTRICTED_ADMIN}: delete the row of {client_id}"),
        ),
        (_, false) => report.fail(
            "lms.service_user_staff",
            format!("the account lookup by email is refused: {}", describe(&lookup)),
            staff_fix(&user),
        ),
    }

    // --- the endpoints, for --course
    match &options.course {
        None => report.warn(
            "lms.course_endpoints",
            "no course given: course detail, course list, modes and enrollment reads not checked",
            "run again with --course <a course id of this LMS> (direct invocation: {\"doctor\": {\"course\": \"…\"}})",
        ),
        Some(course) => course_checks(&probe, &mut report, course, username.as_deref(), &user).await,
    }

    // --- lms.allowance_api
    allowance_check(&probe, &mut report, config.allowance_api, &user).await;

    // --- lms.apply_path
    if let Some(apply) = &options.apply_api {
        apply_check(&probe, &mut report, apply, &user).await;
    }

    // --- lms.throttles
    let calls = probe.calls.load(Ordering::Relaxed);
    let throttled = probe
        .throttled
        .lock()
        .map(|t| t.clone())
        .unwrap_or_default();
    if throttled.is_empty() {
        report.pass(
            "lms.throttles",
            format!(
                "no 429 in {calls} calls. Not observable without exceeding them (never done here): by default \
                 120/min per staff user for the enrollment views, 40/min for the course list, counted in one history"
            ),
        );
    } else {
        report.warn(
            "lms.throttles",
            format!("the LMS is throttling the service user now: {}", throttled.join(", ")),
            "see README \"The LMS's rate limits\": a service user per function, the bulk path, or Django admin \
             /admin/util/ratelimitconfiguration/ (a row with Enabled unchecked lifts the enrollment views' throttle)",
        );
    }
    report
}

async fn course_checks(
    probe: &Probe<'_>,
    report: &mut Report,
    course: &str,
    username: Option<&str>,
    user: &str,
) {
    let name = username.unwrap_or_default();
    let mut user_query: Vec<(&str, &str)> = Vec::new();
    if let Some(u) = username {
        user_query.push(("username", u));
    }
    // lms.course_detail
    let detail_path = format!("/api/courses/v1/courses/{}/", encode_path(course));
    let detail = probe
        .get("doctor_course_detail", &detail_path, &user_query, false)
        .await;
    match &detail {
        Ok(r) if r.code() == 200 => report.pass(
            "lms.course_detail",
            format!("{course} exists (GET /api/courses/v1/courses/{{id}}/?username=)"),
        ),
        Ok(r) if r.code() == 404 => report.fail(
            "lms.course_detail",
            format!("{course} is unknown to this LMS (404)"),
            "check the course id given with --course (Studio → Settings → the course's URL), or OPENEDX_BASE_URL points at another LMS",
        ),
        Ok(r) if r.code() == 403 => report.fail(
            "lms.course_detail",
            format!("the course detail is refused for {user} (403)"),
            probe.forbidden_fix(user),
        ),
        other => report.fail(
            "lms.course_detail",
            format!("unexpected answer: {}", describe(other)),
            "check OPENEDX_BASE_URL and the LMS's health",
        ),
    }

    // lms.course_list_filter + lms.course_visibility
    let mut query = vec![("course_keys", course)];
    query.extend(user_query.iter().copied());
    let listed = probe
        .get(
            "doctor_course_list",
            "/api/courses/v1/courses/",
            &query,
            false,
        )
        .await;
    let staff_ids = listed
        .as_ref()
        .ok()
        .filter(|r| r.code() == 200)
        .and_then(|r| parse_listed_course_ids(&r.body));
    match &staff_ids {
        Some(ids) if ids.iter().any(|id| id != course) => report.warn(
            "lms.course_list_filter",
            "the course list ignores course_keys (an LMS older than Redwood): every listed course came back",
            "set OPENEDX_BATCH_COURSE_CHECK=false (courses are then checked one by one)",
        ),
        Some(ids) if ids.is_empty() => report.warn(
            "lms.course_list_filter",
            format!("course_keys={course} listed nothing for {user}"),
            "the batched check then costs one extra call per course; see lms.course_visibility",
        ),
        Some(_) => report.pass(
            "lms.course_list_filter",
            "GET /api/courses/v1/courses/?course_keys= filters (batched course checks work)",
        ),
        None => report.warn(
            "lms.course_list_filter",
            format!("the course list did not answer a list: {}", describe(&listed)),
            "set OPENEDX_BATCH_COURSE_CHECK=false if this LMS has no course list API",
        ),
    }
    let anonymous = probe
        .get(
            "doctor_course_list_anonymous",
            "/api/courses/v1/courses/",
            &[("course_keys", course)],
            true,
        )
        .await;
    let anonymous_sees = anonymous
        .as_ref()
        .ok()
        .filter(|r| r.code() == 200)
        .and_then(|r| parse_listed_course_ids(&r.body))
        .map(|ids| ids.iter().any(|id| id == course));
    let staff_sees = staff_ids
        .as_ref()
        .map(|ids| ids.iter().any(|id| id == course));
    match (staff_sees, anonymous_sees, username) {
        (Some(true), Some(false), None) => report.fail(
            "lms.course_visibility",
            format!("{course} is hidden from anonymous visitors (upcoming or hidden) and no service username is known"),
            "set OPENEDX_SERVICE_USERNAME to the DOT application's owner",
        ),
        (Some(true), Some(false), Some(_)) => report.pass(
            "lms.course_visibility",
            format!("{course} is listed for {name} only, not for anonymous visitors (upcoming or hidden): the functions ask as {name}"),
        ),
        (Some(true), _, _) => report.pass(
            "lms.course_visibility",
            format!("{course} is listed for {user} and for anonymous visitors"),
        ),
        (Some(false), Some(true), _) => report.fail(
            "lms.course_visibility",
            format!("anonymous visitors see {course} in the course list but {user} does not"),
            probe.forbidden_fix(user),
        ),
        (Some(false), _, _) => report.warn(
            "lms.course_visibility",
            format!("{course} is not in the course list for {user} (a site org filter, or not yet published)"),
            "nothing breaks (each such course costs one course detail call); check the course's site / organization",
        ),
        (None, _, _) => report.warn(
            "lms.course_visibility",
            "not compared: the course list did not answer",
            "see lms.course_list_filter",
        ),
    }

    // lms.course_modes
    let modes_path = format!("/api/course_modes/v1/courses/{}/", encode_path(course));
    let modes = probe
        .get("doctor_course_modes", &modes_path, &[], false)
        .await;
    // The functions' own parser of this answer.
    let slugs: Option<Vec<String>> = modes
        .as_ref()
        .ok()
        .filter(|r| r.code() == 200)
        .and_then(|r| parse_course_modes(&r.body).ok());
    match slugs {
        Some(s) if !s.is_empty() => {
            report.pass("lms.course_modes", format!("modes: {}", s.join(", ")))
        }
        Some(_) => report.fail(
            "lms.course_modes",
            format!("{course} has no course mode: every enrollment is refused"),
            format!("add one (e.g. audit): Django admin /admin/course_modes/coursemode/add/ with course id {course}"),
        ),
        None => match &modes {
            Ok(r) if r.code() == 403 => {
                report.fail("lms.course_modes", "course modes refused (403)", probe.forbidden_fix(user))
            }
            other => report.fail(
                "lms.course_modes",
                format!("course modes did not answer: {}", describe(other)),
                "GET /api/course_modes/v1/courses/{id}/ must be routed (every current release); check OPENEDX_BASE_URL",
            ),
        },
    }

    // lms.enrollment_read
    let enrollment_path = format!(
        "/api/enrollment/v1/enrollment/{},{}",
        encode_path(name),
        encode_path(course)
    );
    let read = probe
        .get("doctor_enrollment_read", &enrollment_path, &[], false)
        .await;
    match &read {
        Ok(r) if r.code() == 200 => report.pass(
            "lms.enrollment_read",
            "GET /api/enrollment/v1/enrollment/{user},{course} answers",
        ),
        Ok(r) if r.code() == 403 => report.fail(
            "lms.enrollment_read",
            "reading an enrollment is refused (403)",
            probe.forbidden_fix(user),
        ),
        other => report.fail(
            "lms.enrollment_read",
            format!("reading an enrollment failed: {}", describe(other)),
            match username {
                None => "set OPENEDX_SERVICE_USERNAME".to_owned(),
                Some(_) => probe.forbidden_fix(user),
            },
        ),
    }
}

fn api_name(api: AllowanceApi) -> &'static str {
    match api {
        AllowanceApi::Legacy => "legacy",
        AllowanceApi::ViewSet => "viewset",
        AllowanceApi::Auto => "auto",
    }
}

async fn allowance_check(
    probe: &Probe<'_>,
    report: &mut Report,
    configured: AllowanceApi,
    user: &str,
) {
    use crate::openedx::rest::{LEGACY_ALLOWANCE_PATH, VIEWSET_ALLOWANCE_PATH};
    let query = [("email", PROBE_EMAIL)];
    let legacy = probe
        .get("doctor_allowance_v1", LEGACY_ALLOWANCE_PATH, &query, false)
        .await;
    let answers = |r: &Result<Reply, LmsError>| {
        matches!(r, Ok(reply) if reply.code() == 200
            && serde_json::from_slice::<Value>(&reply.body).is_ok())
    };
    let forbidden = |r: &Result<Reply, LmsError>| matches!(r, Ok(reply) if reply.code() == 403);
    if forbidden(&legacy) {
        report.fail(
            "lms.allowance_api",
            format!("the allowance API refuses {user} (403; IsAdminUser)"),
            probe.forbidden_fix(user),
        );
        return;
    }
    let legacy_ok = answers(&legacy);
    let viewset_ok = match legacy_ok {
        true => None,
        false => {
            let v2 = probe
                .get("doctor_allowance_v2", VIEWSET_ALLOWANCE_PATH, &query, false)
                .await;
            if forbidden(&v2) {
                report.fail(
                    "lms.allowance_api",
                    format!("the allowance API (v2) refuses {user} (403)"),
                    probe.forbidden_fix(user),
                );
                return;
            }
            Some(answers(&v2))
        }
    };
    match (legacy_ok, viewset_ok, configured) {
        (true, _, AllowanceApi::ViewSet) => report.warn(
            "lms.allowance_api",
            "the legacy allowance API (v1) answers; OPENEDX_ALLOWANCE_API=viewset uses v2 (not checked)",
            "OPENEDX_ALLOWANCE_API=auto (the default) uses v1 here",
        ),
        (true, _, _) => report.pass(
            "lms.allowance_api",
            format!("v1 {LEGACY_ALLOWANCE_PATH} answers (OPENEDX_ALLOWANCE_API={})", api_name(configured)),
        ),
        (false, Some(true), AllowanceApi::Legacy) => report.fail(
            "lms.allowance_api",
            "only the v2 allowance API answers here, OPENEDX_ALLOWANCE_API=legacy uses v1",
            "set OPENEDX_ALLOWANCE_API=auto (or viewset)",
        ),
        (false, Some(true), _) => report.pass(
            "lms.allowance_api",
            format!("v2 {VIEWSET_ALLOWANCE_PATH} answers (OPENEDX_ALLOWANCE_API={})", api_name(configured)),
        ),
        _ => report.fail(
            "lms.allowance_api",
            format!("no allowance API answers: {}", describe(&legacy)),
            "learners without an account cannot be pre-enrolled: the LMS needs EnrollmentAllowedView (Quince or later)",
        ),
    }
}

async fn apply_check(probe: &Probe<'_>, report: &mut Report, apply: &str, user: &str) {
    // BulkEnrollView only has `post`: a GET passes authentication, permission and
    // throttle, then is answered 405 when the view is routed; 404 when it is not.
    let bulk = probe
        .get(
            "doctor_bulk_enroll",
            "/api/bulk_enroll/v1/bulk_enroll",
            &[],
            false,
        )
        .await;
    let code = bulk.as_ref().map(Reply::code).ok();
    let enabled = match code {
        Some(405) => Some(true),
        Some(404) => Some(false),
        _ => None,
    };
    let enable_fix = "enable the bulk view: FEATURES['ENABLE_BULK_ENROLLMENT_VIEW'] = True in the LMS settings \
        (Tutor: a plugin with the openedx-lms-common-settings patch `FEATURES[\"ENABLE_BULK_ENROLLMENT_VIEW\"] = True`, \
        or the site configuration value ENABLE_BULK_ENROLLMENT_VIEW) and restart the LMS; or set OPENEDX_APPLY_API=rest";
    match (apply, enabled) {
        ("bulk_enroll", Some(true)) => report.pass(
            "lms.apply_path",
            "OPENEDX_APPLY_API=bulk_enroll: /api/bulk_enroll/v1/bulk_enroll is routed",
        ),
        ("bulk_enroll", Some(false)) => report.fail(
            "lms.apply_path",
            "OPENEDX_APPLY_API=bulk_enroll but the bulk enrollment view is disabled (404)",
            enable_fix,
        ),
        (_, _) if code == Some(403) => report.fail(
            "lms.apply_path",
            "the bulk enrollment view refuses the service user (403)",
            probe.forbidden_fix(user),
        ),
        ("bulk_enroll", None) => report.fail(
            "lms.apply_path",
            format!(
                "the bulk enrollment view did not answer as expected: {}",
                describe(&bulk)
            ),
            enable_fix,
        ),
        (_, enabled) => report.pass(
            "lms.apply_path",
            format!(
                "OPENEDX_APPLY_API=rest (every release); the bulk view is {}",
                match enabled {
                    Some(true) => "enabled too",
                    Some(false) => "disabled (not needed)",
                    None => "not detected",
                }
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_of_a_jwt() {
        // {"preferred_username":"svc","is_restricted":true,"administrator":false}
        let payload = "eyJwcmVmZXJyZWRfdXNlcm5hbWUiOiJzdmMiLCJpc19yZXN0cmljdGVkIjp0cnVlLCJhZG1pbmlzdHJhdG9yIjpmYWxzZX0";
        let claims = token_claims(&format!("h.{payload}.s")).unwrap();
        assert_eq!(
            claims,
            TokenClaims {
                preferred_username: Some("svc".into()),
                is_restricted: Some(true),
                administrator: Some(false),
            }
        );
        assert_eq!(token_claims("opaque-bearer-token"), None);
        assert_eq!(token_claims("a.!!.c"), None);
    }
}
