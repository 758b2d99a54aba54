//! The webhook as an HTTP exchange, without Lambda types: method, path, headers
//! and body in, status and JSON body out. `main.rs` adapts API Gateway events to
//! it; tests call it directly or through the Lambda runtime emulator.
//!
//! Order of checks, as in the plugin's `views.py`: route/method → size → JSON →
//! signature → DRF field validation → course checks → apply.

use std::sync::Arc;
use std::time::{Duration, Instant};

use edx_hooks_shared::canonical_json::{self, PyJson};
use edx_hooks_shared::metrics::Metrics;
use edx_hooks_shared::openedx::{deadline, EnrollmentLms};
use edx_hooks_shared::secrets::{flatten_secret_versions, SecretCache, SecretError, SecretSource};
use edx_hooks_shared::signature::{self, SignedForm, SignedMessages};

use crate::count_refresh::{notify_bounded, refreshes_for, CountNotifier, NOTIFY_TIMEOUT};
use crate::enroll::{apply, Applied, ApplyError, ApplySettings};
use crate::request::validate;

/// Largest accepted body. Lernito payloads are a few hundred bytes; the cap keeps
/// canonicalisation and HMAC work per request small and bounded.
pub const MAX_BODY_BYTES: usize = 256 * 1024;
/// Largest accepted signature header (a valid one is 64 characters).
pub const MAX_SIGNATURE_HEADER_BYTES: usize = 256;
pub const SIGNATURE_HEADER: &str = "x-lernito-signature";

/// The two paths Lernito may call: the plugin README's and the plugin's real mount.
const ROUTES: [&str; 2] = ["/api/lernito/webhook", "/lernito/webhook"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    /// JSON, rendered as DRF's `JSONRenderer` would.
    pub body: String,
    /// Extra headers (e.g. `Allow` on 405).
    pub headers: Vec<(&'static str, String)>,
}

impl Reply {
    fn json(status: u16, value: PyJson) -> Self {
        Reply {
            status,
            body: value.render_drf(),
            headers: Vec::new(),
        }
    }

    /// `{"success": <bool>, "message": <message>}`: the plugin's response shape.
    fn outcome(status: u16, success: bool, message: PyJson) -> Self {
        Reply::json(
            status,
            PyJson::object([("success", PyJson::Bool(success)), ("message", message)]),
        )
    }

    fn failure(status: u16, message: impl Into<String>) -> Self {
        Reply::outcome(status, false, PyJson::str(message))
    }
}

/// What the log line and metrics say about one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Enrolled,
    Allowed,
    InvalidSignature,
    InvalidBody,
    ValidationFailed,
    InvalidCourseKey,
    CourseNotFound,
    /// A course whose modes the configuration cannot satisfy (400, nothing written).
    ModeUnavailable,
    UpstreamError,
    SecretUnavailable,
    TooLarge,
    MethodNotAllowed,
    NotFound,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Enrolled => "enrolled",
            Outcome::Allowed => "allowed",
            Outcome::InvalidSignature => "invalid_signature",
            Outcome::InvalidBody => "invalid_body",
            Outcome::ValidationFailed => "validation_failed",
            Outcome::InvalidCourseKey => "invalid_course_key",
            Outcome::CourseNotFound => "course_not_found",
            Outcome::ModeUnavailable => "mode_unavailable",
            Outcome::UpstreamError => "upstream_error",
            Outcome::SecretUnavailable => "secret_unavailable",
            Outcome::TooLarge => "too_large",
            Outcome::MethodNotAllowed => "method_not_allowed",
            Outcome::NotFound => "not_found",
        }
    }
}

/// Is this one of the webhook's paths? Trailing slash optional; an API Gateway
/// stage prefix (`/prod/api/lernito/webhook/`) is tolerated.
pub fn is_webhook_path(path: &str) -> bool {
    let trimmed = path.strip_suffix('/').unwrap_or(path);
    ROUTES
        .iter()
        .any(|route| trimmed == *route || trimmed.ends_with(route))
}

/// Time a request may take when no Lambda deadline applies (local runs, tests);
/// below API Gateway's 30 s integration timeout.
pub const DEFAULT_REQUEST_BUDGET: Duration = Duration::from_secs(25);
/// Kept free before the Lambda's deadline: time to log, emit metrics and answer.
pub const DEFAULT_DEADLINE_MARGIN: Duration = Duration::from_millis(1500);

pub struct WebhookService<L> {
    lms: Arc<L>,
    secrets: Arc<SecretCache<SecretSource>>,
    settings: ApplySettings,
    budget: Duration,
    deadline_margin: Duration,
    /// Enrollment-count refreshes after a success (`count_refresh.rs`); `None`: off.
    count_notifier: Option<Arc<dyn CountNotifier>>,
}

struct Summary {
    outcome: Outcome,
    courses: usize,
    /// The courses of a successful request (as sent; `refreshes_for` dedups).
    applied_courses: Vec<String>,
    email_hash: Option<String>,
    signed_form: Option<SignedForm>,
    error_kind: Option<&'static str>,
    permanent: bool,
}

impl<L: EnrollmentLms> WebhookService<L> {
    pub fn new(lms: Arc<L>, secrets: Arc<SecretCache<SecretSource>>) -> Self {
        WebhookService {
            lms,
            secrets,
            settings: ApplySettings::default(),
            budget: DEFAULT_REQUEST_BUDGET,
            deadline_margin: DEFAULT_DEADLINE_MARGIN,
            count_notifier: None,
        }
    }

    /// Ask for an enrollment-count refresh of each course after every success.
    pub fn with_count_notifier(mut self, notifier: Arc<dyn CountNotifier>) -> Self {
        self.count_notifier = Some(notifier);
        self
    }

    /// How requests are applied (modes, REST or bulk API).
    pub fn with_settings(mut self, settings: ApplySettings) -> Self {
        self.settings = settings;
        self
    }

    /// The longest a request may take (the Lambda's own deadline, set by the caller
    /// with [`deadline::with_deadline`], wins when it is earlier).
    pub fn with_budget(mut self, budget: Duration) -> Self {
        self.budget = budget;
        self
    }

    /// Kept free before the Lambda's own deadline, to log, emit metrics and answer.
    pub fn with_deadline_margin(mut self, margin: Duration) -> Self {
        self.deadline_margin = margin;
        self
    }

    pub fn deadline_margin(&self) -> Duration {
        self.deadline_margin
    }

    /// Handle one request and emit its log line and metrics.
    pub async fn handle(
        &self,
        method: &str,
        path: &str,
        signature: Option<&str>,
        body: &[u8],
    ) -> Reply {
        let started = Instant::now();
        let mut summary = Summary {
            outcome: Outcome::NotFound,
            courses: 0,
            applied_courses: Vec::new(),
            email_hash: None,
            signed_form: None,
            error_kind: None,
            permanent: false,
        };
        // Every LMS call, retry and Retry-After wait of this request ends before this.
        let reply = deadline::with_deadline(
            started + self.budget,
            self.process(method, path, signature, body, &mut summary),
        )
        .await;
        // Only after the enrollments were applied, and never changing the answer.
        let count_refresh = self.refresh_counts(&summary).await;
        let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
        tracing::info!(
            target: "enrollment_webhook",
            outcome = summary.outcome.as_str(),
            status = reply.status,
            courses = summary.courses,
            latency_ms,
            email_hash = summary.email_hash.as_deref().unwrap_or(""),
            signed_form = summary.signed_form.map(SignedForm::as_str).unwrap_or(""),
            error_kind = summary.error_kind.unwrap_or(""),
            body_bytes = body.len(),
            "webhook processed"
        );
        let mut metrics = Metrics::new("EdxHooks", "enrollment-webhook");
        metrics.count("Requests", 1.0);
        metrics.count(&format!("Outcome.{}", summary.outcome.as_str()), 1.0);
        match summary.outcome {
            Outcome::Enrolled => metrics.count("EnrollmentsApplied", summary.courses as f64),
            Outcome::Allowed => metrics.count("AllowancesEnsured", summary.courses as f64),
            Outcome::InvalidSignature => metrics.count("SignatureFailures", 1.0),
            Outcome::UpstreamError => metrics.count(
                &format!("UpstreamErrors.{}", summary.error_kind.unwrap_or("unknown")),
                1.0,
            ),
            _ => {}
        }
        // "Fix your configuration or data" rather than "the LMS is down": one metric
        // (and alarm) for every refusal that a retry cannot cure.
        if summary.permanent {
            metrics.count("PermanentRefusals", 1.0);
        }
        match count_refresh {
            Some(Ok(n)) => metrics.count("CountRefreshesQueued", n as f64),
            Some(Err(())) => metrics.count("CountRefreshFailures", 1.0),
            None => {}
        }
        metrics.milliseconds("Latency", latency_ms);
        metrics.emit();
        reply
    }

    async fn process(
        &self,
        method: &str,
        path: &str,
        signature: Option<&str>,
        body: &[u8],
        summary: &mut Summary,
    ) -> Reply {
        if !is_webhook_path(path) {
            summary.outcome = Outcome::NotFound;
            return Reply::failure(404, "Not found");
        }
        if !method.eq_ignore_ascii_case("POST") {
            summary.outcome = Outcome::MethodNotAllowed;
            let detail = PyJson::str(format!(
                "Method \"{}\" not allowed.",
                method.to_ascii_uppercase()
            ));
            let mut reply = Reply::json(405, PyJson::object([("detail", detail)]));
            reply.headers.push(("allow", "POST, OPTIONS".into()));
            return reply;
        }
        if body.len() > MAX_BODY_BYTES {
            summary.outcome = Outcome::TooLarge;
            return Reply::failure(413, format!("Request body exceeds {MAX_BODY_BYTES} bytes"));
        }
        // DRF parses the body before the view checks the signature.
        // DRF reads an empty body as `{}` (no parsing at all), which is then signed
        // as "{}" and fails validation field by field.
        let parsed = match if body.is_empty() {
            Ok(PyJson::Object(Vec::new()))
        } else {
            canonical_json::parse(body)
        } {
            Ok(value) => value,
            Err(err) => {
                summary.outcome = Outcome::InvalidBody;
                return Reply::failure(400, format!("JSON parse error - {err}"));
            }
        };

        let secrets = match self.verify(signature, &parsed, body, summary).await {
            Ok(secrets) => secrets,
            Err(reply) => return reply,
        };

        let request = match validate(&parsed) {
            Ok(request) => request,
            Err(errors) => {
                summary.outcome = Outcome::ValidationFailed;
                return Reply::outcome(400, false, errors);
            }
        };
        summary.courses = request.course_ids.len();
        summary.email_hash = Some(email_hash(&secrets, &request.email));

        match apply(self.lms.as_ref(), &self.settings, &request).await {
            Ok(applied) => {
                summary.applied_courses = request.course_ids.clone();
                summary.outcome = match applied {
                    Applied::Enrolled { .. } => Outcome::Enrolled,
                    Applied::Allowed { .. } => Outcome::Allowed,
                };
                Reply::outcome(200, true, PyJson::str(applied.message()))
            }
            Err(err) => {
                let (outcome, status) = match &err {
                    ApplyError::InvalidCourseKey(_) => (Outcome::InvalidCourseKey, 400),
                    ApplyError::CourseNotFound(_) => (Outcome::CourseNotFound, 400),
                    ApplyError::ModeUnavailable(reason) => {
                        summary.error_kind = Some("mode_unavailable");
                        summary.permanent = true;
                        tracing::error!(error = %reason, "a course's modes do not satisfy OPENEDX_ENROLLMENT_MODES / OPENEDX_COURSE_MODES");
                        (Outcome::ModeUnavailable, 400)
                    }
                    ApplyError::Upstream(lms_error) => {
                        summary.error_kind = Some(lms_error.kind());
                        summary.permanent = lms_error.is_permanent();
                        tracing::error!(error = %lms_error, kind = lms_error.kind(), "enrollment could not be applied");
                        (Outcome::UpstreamError, 500)
                    }
                };
                summary.outcome = outcome;
                if status == 500 {
                    Reply::failure(500, "Internal server error")
                } else {
                    Reply::failure(status, err.to_string())
                }
            }
        }
    }

    /// Queue one enrollment-count refresh per course of a successful request (bounded
    /// by [`NOTIFY_TIMEOUT`]; a failure is logged without the email and counted).
    /// `None`: nothing to do (no notifier, or the request did not succeed); `Ok(n)`: `n`
    /// refreshes queued.
    async fn refresh_counts(&self, summary: &Summary) -> Option<Result<usize, ()>> {
        let notifier = self.count_notifier.as_ref()?;
        if !matches!(summary.outcome, Outcome::Enrolled | Outcome::Allowed) {
            return None;
        }
        let refreshes = refreshes_for(&summary.applied_courses);
        match notify_bounded(notifier.as_ref(), &refreshes, NOTIFY_TIMEOUT).await {
            Ok(()) => Some(Ok(refreshes.len())),
            Err(err) => {
                tracing::warn!(
                    target: "enrollment_webhook",
                    error = %err,
                    courses = ?summary.applied_courses,
                    "enrollment count refresh not queued; Richie's count waits for the next enrollment, publish or resync"
                );
                Some(Err(()))
            }
        }
    }

    /// Check the signature; on success return the accepted secrets.
    async fn verify(
        &self,
        header: Option<&str>,
        parsed: &PyJson,
        body: &[u8],
        summary: &mut Summary,
    ) -> Result<Arc<Vec<String>>, Reply> {
        let invalid = |summary: &mut Summary| {
            summary.outcome = Outcome::InvalidSignature;
            Reply::failure(401, "Invalid signature")
        };
        let Some(header) =
            header.filter(|h| !h.is_empty() && h.len() <= MAX_SIGNATURE_HEADER_BYTES)
        else {
            return Err(invalid(summary));
        };
        let versions = match self.secrets.get().await {
            Ok(versions) => versions,
            Err(SecretError::NotConfigured(what)) => {
                // The plugin answers 401 when LERNITO_WEBHOOK_SECRET is unset.
                tracing::error!(source = %what, "webhook secret is not configured; rejecting every request");
                return Err(invalid(summary));
            }
            Err(err) => {
                tracing::error!(error = %err, "webhook secret unavailable and nothing cached");
                summary.outcome = Outcome::SecretUnavailable;
                return Err(Reply::failure(500, "Internal server error"));
            }
        };
        let messages = SignedMessages::new(parsed, body);
        let check = |versions: &[String]| -> Option<(SignedForm, Vec<String>)> {
            let secrets = flatten_secret_versions(versions).ok()?;
            signature::verify_lernito(header, &secrets, &messages).map(|form| (form, secrets))
        };
        if let Some((form, secrets)) = check(&versions) {
            summary.signed_form = Some(form);
            return Ok(Arc::new(secrets));
        }
        // Maybe the secret was rotated since we cached it: refetch once (rate-limited).
        if let Some(refreshed) = self.secrets.force_refresh().await {
            if let Some((form, secrets)) = check(&refreshed) {
                summary.signed_form = Some(form);
                return Ok(Arc::new(secrets));
            }
        }
        Err(invalid(summary))
    }
}

/// A keyed hash of the email for logs: correlates requests of one learner without
/// revealing the address. Keyed with a value derived from the webhook secret so
/// the hash cannot be reversed by hashing guessed addresses.
pub fn email_hash(secrets: &[String], email: &str) -> String {
    let key = secrets.first().map(String::as_str).unwrap_or("");
    let derived = signature::mac(key.as_bytes(), b"edx-hooks/log-email-hash");
    let digest = signature::mac(&derived, email.trim().to_lowercase().as_bytes());
    hex::encode(&digest[..8])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn empty_body_is_an_empty_object_like_drf() {
        use edx_hooks_shared::openedx::{AllowanceOutcome, EnrollmentOutcome, LmsError, LmsUser};
        use edx_hooks_shared::secrets::StaticSecret;
        struct NoLms;
        impl EnrollmentLms for NoLms {
            async fn course_exists(&self, _: &str) -> Result<bool, LmsError> {
                unreachable!("validation fails first")
            }
            async fn find_user_by_email(&self, _: &str) -> Result<Option<LmsUser>, LmsError> {
                unreachable!("validation fails first")
            }
            async fn course_modes(&self, _: &str) -> Result<Vec<String>, LmsError> {
                unreachable!("validation fails first")
            }
            async fn ensure_enrollment(
                &self,
                _: &str,
                _: &str,
                _: &edx_hooks_shared::openedx::ModeChoice,
                _: bool,
            ) -> Result<EnrollmentOutcome, LmsError> {
                unreachable!("validation fails first")
            }
            async fn ensure_allowance(
                &self,
                _: &str,
                _: &str,
            ) -> Result<AllowanceOutcome, LmsError> {
                unreachable!("validation fails first")
            }
        }
        let secrets = Arc::new(SecretCache::new(
            SecretSource::Static(StaticSecret::new("t", vec!["k".into()])),
            std::time::Duration::from_secs(60),
            std::time::Duration::from_secs(60),
        ));
        let service = WebhookService::new(Arc::new(NoLms), secrets);
        let signature = signature::sign_hex(b"k", b"{}");
        let reply = service
            .handle("POST", "/lernito/webhook/", Some(&signature), b"")
            .await;
        assert_eq!(reply.status, 400);
        assert!(
            reply
                .body
                .starts_with(r#"{"success":false,"message":{"name":["This field is required."]"#),
            "{}",
            reply.body
        );
    }

    mod count_refresh {
        use super::super::*;
        use crate::count_refresh::{CountNotifier, NotifyError, NotifyFuture};
        use edx_hooks_shared::count_refresh::CountRefresh;
        use edx_hooks_shared::openedx::{
            AllowanceOutcome, EnrollmentOutcome, LmsError, LmsUser, ModeChoice,
        };
        use edx_hooks_shared::secrets::StaticSecret;
        use std::sync::Mutex;

        /// Every course exists but `course-v1:x+missing+r`; every email has an account.
        struct Lms;
        impl EnrollmentLms for Lms {
            async fn course_exists(&self, id: &str) -> Result<bool, LmsError> {
                Ok(id != "course-v1:x+missing+r")
            }
            async fn find_user_by_email(&self, _: &str) -> Result<Option<LmsUser>, LmsError> {
                Ok(Some(LmsUser {
                    username: "learner".into(),
                    is_active: true,
                }))
            }
            async fn course_modes(&self, _: &str) -> Result<Vec<String>, LmsError> {
                Ok(vec!["audit".into()])
            }
            async fn ensure_enrollment(
                &self,
                _: &str,
                _: &str,
                _: &ModeChoice,
                _: bool,
            ) -> Result<EnrollmentOutcome, LmsError> {
                Ok(EnrollmentOutcome::Active)
            }
            async fn ensure_allowance(
                &self,
                _: &str,
                _: &str,
            ) -> Result<AllowanceOutcome, LmsError> {
                Ok(AllowanceOutcome::Created)
            }
        }

        /// Records the bodies it is given; fails, hangs or succeeds.
        #[derive(Default)]
        struct Recorder {
            calls: Mutex<Vec<Vec<String>>>,
            fail: bool,
            hang: bool,
        }
        impl CountNotifier for Recorder {
            fn notify<'a>(&'a self, refreshes: &'a [CountRefresh]) -> NotifyFuture<'a> {
                if let Ok(mut calls) = self.calls.lock() {
                    calls.push(refreshes.iter().map(|r| r.body.clone()).collect());
                }
                Box::pin(async move {
                    if self.hang {
                        std::future::pending::<()>().await;
                    }
                    match self.fail {
                        true => Err(NotifyError::Send {
                            failed: refreshes.len(),
                            detail: "AWS.SimpleQueueService.NonExistentQueue".into(),
                        }),
                        false => Ok(()),
                    }
                })
            }
        }

        fn service(notifier: Option<Arc<Recorder>>) -> WebhookService<Lms> {
            let secrets = Arc::new(SecretCache::new(
                SecretSource::Static(StaticSecret::new("t", vec!["k".into()])),
                Duration::from_secs(60),
                Duration::from_secs(60),
            ));
            let service = WebhookService::new(Arc::new(Lms), secrets);
            match notifier {
                Some(n) => service.with_count_notifier(n),
                None => service,
            }
        }

        async fn post(service: &WebhookService<Lms>, courses: &[&str]) -> Reply {
            let ids: Vec<String> = courses.iter().map(|c| format!("\"{c}\"")).collect();
            let body = format!(
                r#"{{"email": "learner@example.com", "name": "A", "family": "B", "username": "learner", "courseIds": [{}]}}"#,
                ids.join(", ")
            );
            let signature = signature::sign_hex(b"k", body.as_bytes());
            service
                .handle(
                    "POST",
                    "/lernito/webhook/",
                    Some(&signature),
                    body.as_bytes(),
                )
                .await
        }

        const A: &str = "course-v1:x+a+r";
        const B: &str = "course-v1:x+b+r";

        #[tokio::test]
        async fn a_success_asks_for_one_refresh_per_course() {
            let recorder = Arc::new(Recorder::default());
            let reply = post(&service(Some(recorder.clone())), &[A, B, A]).await;
            assert_eq!(reply.status, 200, "{}", reply.body);
            let calls = recorder.calls.lock().unwrap().clone();
            assert_eq!(
                calls,
                [vec![
                    format!(r#"{{"course_id":"{A}"}}"#),
                    format!(r#"{{"course_id":"{B}"}}"#)
                ]]
            );
        }

        #[tokio::test]
        async fn a_refused_request_asks_for_nothing() {
            let recorder = Arc::new(Recorder::default());
            let service = service(Some(recorder.clone()));
            let reply = post(&service, &[A, "course-v1:x+missing+r"]).await;
            assert_eq!(reply.status, 400, "{}", reply.body);
            let reply = service
                .handle("POST", "/lernito/webhook/", Some("00"), b"{}")
                .await;
            assert_eq!(reply.status, 401);
            assert!(recorder.calls.lock().unwrap().is_empty());
        }

        #[tokio::test]
        async fn a_failing_or_hanging_notifier_never_changes_the_answer() {
            let plain = post(&service(None), &[A]).await;
            assert_eq!(plain.status, 200);
            let failing = Arc::new(Recorder {
                fail: true,
                ..Recorder::default()
            });
            assert_eq!(post(&service(Some(failing.clone())), &[A]).await, plain);
            assert_eq!(
                failing.calls.lock().unwrap().len(),
                1,
                "called once, no retry"
            );
            let hanging = Arc::new(Recorder {
                hang: true,
                ..Recorder::default()
            });
            let started = Instant::now();
            assert_eq!(post(&service(Some(hanging)), &[A]).await, plain);
            let took = started.elapsed();
            assert!(
                took < NOTIFY_TIMEOUT + Duration::from_millis(400),
                "bounded by the notify timeout: {took:?}"
            );
        }
    }

    #[test]
    fn routes() {
        for ok in [
            "/api/lernito/webhook/",
            "/api/lernito/webhook",
            "/lernito/webhook/",
            "/lernito/webhook",
            "/prod/lernito/webhook/",
        ] {
            assert!(is_webhook_path(ok), "{ok}");
        }
        for bad in [
            "/",
            "/lernito",
            "/api/lernito/webhook/x",
            "/lernito/webhooks/",
            "/lernito/webhook//",
        ] {
            assert!(!is_webhook_path(bad), "{bad}");
        }
    }

    #[test]
    fn email_hash_is_stable_keyed_and_hides_the_address() {
        let a = email_hash(&["k1".into()], "Learner@Example.com");
        assert_eq!(a, email_hash(&["k1".into()], " learner@example.com "));
        assert_ne!(a, email_hash(&["k2".into()], "learner@example.com"));
        assert_eq!(a.len(), 16);
        assert!(!a.contains('@'));
    }
}
