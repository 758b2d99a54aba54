//! An in-process emulator of the Open edX LMS REST API surface the
//! edx-hooks Lambdas use, for integration tests and local runs.
//!
//! Each emulated behaviour cites the edx-platform source it follows (see
//! the doc comment of the handler, and `CONTRACT.md` next to this file for
//! the summary, the release differences and what could not be verified).
//!
//! ```no_run
//! # async fn demo() {
//! use edx_hooks_tests::lms_emulator::{CourseInfo, EmulatorConfig, LmsEmulator};
//! let lms = LmsEmulator::start(EmulatorConfig::default()).await;
//! {
//!     let mut s = lms.state();
//!     s.add_course("course-v1:edX+DemoX+Demo_Course", CourseInfo::named("Demo"));
//!     s.add_user("svc", "svc@example.com", true, true);
//!     s.add_oauth_client("client", "secret", "svc");
//! }
//! lms.faults().fail_next("/api/enrollment/v1/enrollment", 2, 503);
//! // ... point the client at lms.base_url() ...
//! assert!(lms.max_concurrent_requests() <= 4);
//! # }
//! ```
//!
//! State lives behind a `std::sync::Mutex`; handlers never hold it across an
//! `.await`. Do not hold the [`LmsEmulator::state`] guard across an `.await`
//! in a test either (requests would block on it).

// Views return `Result<_, Response>`: the error *is* the finished HTTP response.
#![allow(clippy::result_large_err)]

mod accounts;
mod auth;
mod bulk;
mod courses;
mod enrollment;
mod enrollment_v2;
mod faults;
mod http;
mod record;
mod server;
mod state;
mod throttle;
mod time;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

pub use faults::{FaultAction, FaultRule, Faults};
pub use record::RecordedCall;
pub use state::{
    Allowance, CatalogVisibility, CourseInfo, CourseModeInfo, EmailMatching, Enrollment,
    IssuedToken, LmsState, OAuthClient, TokenRejection, User, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET,
    DEMO_COURSE, DEMO_LEARNER, DEMO_LEARNER_EMAIL, DEMO_SERVICE_USER, E2E_COURSE,
};
pub use throttle::{Rate, ScopedRates, Throttling};
pub use time::UtcTime;

// ----- endpoint paths (exactly as edx-platform routes them) -----------------

/// `POST` form: `grant_type=client_credentials&client_id&client_secret&token_type=jwt`.
pub const TOKEN_PATH: &str = "/oauth2/access_token";
/// `GET ?email=` (staff). No trailing slash (`user_api/urls.py` `path('v1/accounts', …)`).
pub const ACCOUNTS_PATH: &str = "/api/user/v1/accounts";
/// `GET {ENROLLMENT_COURSE_DETAIL_PREFIX}{course_id}` — no trailing slash, no auth.
pub const ENROLLMENT_COURSE_DETAIL_PREFIX: &str = "/api/enrollment/v1/course/";
/// `POST` enroll / `GET` own enrollments. No trailing slash.
pub const ENROLLMENT_PATH: &str = "/api/enrollment/v1/enrollment";
/// `GET {ENROLLMENT_LOOKUP_PREFIX}{username},{course_id}` — one enrollment.
pub const ENROLLMENT_LOOKUP_PREFIX: &str = "/api/enrollment/v1/enrollment/";
/// `GET` staff list of enrollments (cursor-paginated, no count). Slash optional.
pub const ENROLLMENTS_LIST_PATH: &str = "/api/enrollment/v1/enrollments";
/// Legacy `EnrollmentAllowedView` (Quince … master): `GET ?email=`, `POST`, `DELETE`.
pub const ENROLLMENT_ALLOWED_V1_PATH: &str = "/api/enrollment/v1/enrollment_allowed/";
/// v2 `EnrollmentViewSet` root (master only): `GET` list, `POST` create.
pub const ENROLLMENT_V2_PATH: &str = "/api/enrollment/v2/enrollment/";
/// v2 `EnrollmentViewSet.allowed` action (master only): `GET ?email=`, `POST`, `DELETE`.
pub const ENROLLMENT_ALLOWED_V2_PATH: &str = "/api/enrollment/v2/enrollment/enrollment_allowed/";
/// v2 staff enrollments list with `count` (master only).
pub const ENROLLMENTS_V2_PATH: &str = "/api/enrollment/v2/enrollments/";
/// `GET {ENROLLMENT_V2_COURSE_PREFIX}{course_id}/` (master only; trailing slash required).
pub const ENROLLMENT_V2_COURSE_PREFIX: &str = "/api/enrollment/v2/courses/";
/// Course API list (`GET`, paginated).
pub const COURSES_PATH: &str = "/api/courses/v1/courses/";
/// `GET {COURSE_DETAIL_PREFIX}{course_id}/` — the trailing slash is optional.
pub const COURSE_DETAIL_PREFIX: &str = "/api/courses/v1/courses/";
/// `GET {COURSE_MODES_PREFIX}{course_id}/` — every mode row of a course (staff).
pub const COURSE_MODES_PREFIX: &str = "/api/course_modes/v1/courses/";
/// `GET {COURSEWARE_PREFIX}{course_id}` — has `language`.
pub const COURSEWARE_PREFIX: &str = "/api/courseware/course/";
/// `GET {INSTRUCTOR_V2_COURSE_PREFIX}{course_id}` — `total_enrollment` (master only).
pub const INSTRUCTOR_V2_COURSE_PREFIX: &str = "/api/instructor/v2/courses/";
/// Studio host: `GET {CMS_COURSE_DETAILS_PREFIX}{course_id}` — `language`.
pub const CMS_COURSE_DETAILS_PREFIX: &str = "/api/contentstore/v1/course_details/";
/// Studio host: `GET {CMS_ADVANCED_SETTINGS_PREFIX}{course_id}` — `catalog_visibility`.
pub const CMS_ADVANCED_SETTINGS_PREFIX: &str = "/api/contentstore/v0/advanced_settings/";

/// Which Open edX release the emulator behaves like. Only the endpoints that
/// differ between them are affected (see `CONTRACT.md`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ReleaseProfile {
    /// open-release/redwood (2024-06): v1 only; legacy `enrollment_allowed/`.
    Redwood,
    /// open-release/sumac (2024-12): same surface as Redwood here.
    Sumac,
    /// open-release/teak (2025-06): same surface as Redwood here (no v2, no viewset).
    Teak,
    /// edx-platform master (2026): v1 (legacy `enrollment_allowed/` still
    /// routed) **plus** `/api/enrollment/v2/` (`EnrollmentViewSet`, ADR 0028)
    /// and `/api/instructor/v2/courses/{id}`.
    #[default]
    Master,
}

impl ReleaseProfile {
    /// `/api/enrollment/v2/…` is routed.
    pub fn has_enrollment_v2(self) -> bool {
        matches!(self, ReleaseProfile::Master)
    }

    /// `/api/instructor/v2/courses/{id}` is routed.
    pub fn has_instructor_v2(self) -> bool {
        matches!(self, ReleaseProfile::Master)
    }

    /// The enrollment-allowed endpoints this release serves, preferred first.
    pub fn enrollment_allowed_paths(self) -> &'static [&'static str] {
        if self.has_enrollment_v2() {
            &[ENROLLMENT_ALLOWED_V2_PATH, ENROLLMENT_ALLOWED_V1_PATH]
        } else {
            &[ENROLLMENT_ALLOWED_V1_PATH]
        }
    }

    /// Parse `redwood|sumac|teak|master` (case-insensitive).
    pub fn parse(s: &str) -> Option<ReleaseProfile> {
        match s.to_ascii_lowercase().as_str() {
            "redwood" => Some(ReleaseProfile::Redwood),
            "sumac" => Some(ReleaseProfile::Sumac),
            "teak" => Some(ReleaseProfile::Teak),
            "master" | "main" => Some(ReleaseProfile::Master),
            _ => None,
        }
    }
}

/// Emulator settings.
#[derive(Clone, Debug)]
pub struct EmulatorConfig {
    /// Port on 127.0.0.1; `None` = any free port.
    pub port: Option<u16>,
    pub profile: ReleaseProfile,
    /// `expires_in` of issued tokens and their real lifetime (LMS default
    /// `JWT_ACCESS_TOKEN_EXPIRE_SECONDS` = 3600). Tests can use 1–2 s.
    pub token_ttl_secs: u64,
    /// Fixed latency added to every call (before faults/handlers).
    pub latency: Duration,
    /// How long [`FaultAction::Hang`] sleeps before answering 504.
    pub hang_duration: Duration,
    /// E-mail comparison semantics (see [`EmailMatching`]).
    pub email_matching: EmailMatching,
    /// `scope` returned by the token endpoint when none is requested.
    pub scope: String,
    /// `settings.EDX_API_KEY`: when set, `X-Edx-Api-Key: <key>` satisfies
    /// `ApiKeyHeaderPermission` on the enrollment views.
    pub api_key: Option<String>,
    /// Emulate DRF's `UniqueTogetherValidator` on the v2 `enrollment_allowed`
    /// action (400 on a duplicate POST and on DELETE of an existing row), as
    /// the master code does. `false` = the intended 409 / 204.
    pub v2_allowed_unique_validator: bool,
    /// Rate limits (default: a production LMS's — DRF throttles on the
    /// enrollment views and the course list, django-ratelimit on the token
    /// endpoint; see [`Throttling`]). Changeable at run time with
    /// [`LmsEmulator::set_throttling`]; [`Throttling::off`] for tests about
    /// something else that exceed the real rates.
    pub throttling: Throttling,
    /// `FEATURES['ENABLE_BULK_ENROLLMENT_VIEW']`: serve `POST /api/bulk_enroll/v1/bulk_enroll`
    /// (default off, as in production).
    pub bulk_enroll_view: bool,
    /// Seed [`LmsState::seed_demo`] data at start (default **true**: the two
    /// demo courses, the `edx-hooks-service` staff user + `edx-hooks-local`
    /// client and the `learner`). [`EmulatorConfig::empty`] starts blank.
    pub seed_demo: bool,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        EmulatorConfig {
            port: None,
            profile: ReleaseProfile::Master,
            token_ttl_secs: 3600,
            latency: Duration::ZERO,
            hang_duration: Duration::from_secs(300),
            email_matching: EmailMatching::CaseInsensitive,
            scope: "read write email profile".to_owned(),
            api_key: None,
            v2_allowed_unique_validator: true,
            throttling: Throttling::default(),
            bulk_enroll_view: false,
            seed_demo: true,
        }
    }
}

impl EmulatorConfig {
    /// Default settings with the demo data seeded.
    pub fn demo() -> EmulatorConfig {
        EmulatorConfig {
            seed_demo: true,
            ..EmulatorConfig::default()
        }
    }

    pub(crate) fn token_ttl(&self) -> Duration {
        Duration::from_secs(self.token_ttl_secs)
    }
}

/// A running emulator; the server stops when this is dropped.
pub struct LmsEmulator {
    addr: SocketAddr,
    shared: Arc<server::Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl LmsEmulator {
    /// Bind `127.0.0.1:<config.port or 0>` and serve in a tokio task.
    /// Panics if the port cannot be bound (see [`LmsEmulator::try_start`]).
    pub async fn start(config: EmulatorConfig) -> LmsEmulator {
        match LmsEmulator::try_start(config).await {
            Ok(e) => e,
            Err(e) => panic!("lms emulator: cannot bind: {e}"),
        }
    }

    /// Like [`LmsEmulator::start`] but returns the bind error.
    pub async fn try_start(config: EmulatorConfig) -> std::io::Result<LmsEmulator> {
        let listener =
            tokio::net::TcpListener::bind(("127.0.0.1", config.port.unwrap_or(0))).await?;
        let addr = listener.local_addr()?;
        let mut state = LmsState::new(config.email_matching);
        if config.seed_demo {
            state.seed_demo();
        }
        let shared = Arc::new(server::Shared {
            state: Mutex::new(state),
            faults: Faults::default(),
            recorder: Arc::new(record::Recorder::default()),
            throttles: throttle::Throttles::new(config.throttling.clone()),
            config,
        });
        let app = server::app(shared.clone()).into_make_service_with_connect_info::<SocketAddr>();
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "lms emulator server stopped");
            }
        });
        Ok(LmsEmulator { addr, shared, task })
    }

    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `base_url() + path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url(), path)
    }

    pub fn config(&self) -> &EmulatorConfig {
        &self.shared.config
    }

    /// Lock the emulated database (read or modify). Do not hold across `.await`.
    pub fn state(&self) -> MutexGuard<'_, LmsState> {
        self.shared.state()
    }

    /// The fault-injection table (settable at any time).
    pub fn faults(&self) -> Faults {
        self.shared.faults.clone()
    }

    /// Every request since start / the last [`reset_calls`](Self::reset_calls), in arrival order.
    pub fn calls(&self) -> Vec<RecordedCall> {
        self.shared.recorder.calls()
    }

    /// Recorded calls whose (still percent-encoded) path starts with `prefix`.
    pub fn calls_to(&self, prefix: &str) -> Vec<RecordedCall> {
        self.calls()
            .into_iter()
            .filter(|c| c.path.starts_with(prefix) || c.decoded_path().starts_with(prefix))
            .collect()
    }

    /// Peak number of simultaneously in-flight requests, **excluding the
    /// token endpoint** (a token fetch in parallel with API calls does not
    /// count), since start / the last reset.
    pub fn max_concurrent_requests(&self) -> usize {
        self.shared.recorder.peak()
    }

    /// Peak in-flight requests including the token endpoint.
    pub fn max_concurrent_requests_all(&self) -> usize {
        self.shared.recorder.peak_all()
    }

    /// Requests currently being handled (all paths).
    pub fn in_flight(&self) -> usize {
        self.shared.recorder.in_flight()
    }

    /// Forget recorded calls and restart the peak counters (from the current in-flight count).
    pub fn reset_calls(&self) {
        self.shared.recorder.reset();
    }

    /// The rate limits in force (initially `EmulatorConfig::throttling`).
    pub fn throttling(&self) -> Throttling {
        self.shared.throttles.config()
    }

    /// Change the rate limits from now on (the request histories are kept).
    pub fn set_throttling(&self, throttling: Throttling) {
        self.shared.throttles.set_config(throttling);
    }

    /// Forget every throttle history and token-endpoint counter (what
    /// flushing the LMS cache does).
    pub fn reset_throttles(&self) {
        self.shared.throttles.clear();
    }

    /// Revoke every issued token (shortcut for `state().revoke_tokens()`).
    pub fn revoke_tokens(&self) -> usize {
        self.state().revoke_tokens()
    }

    // ----- fault shortcuts (same as `faults().…`) -------------------------

    /// Extra fixed latency for every call.
    pub fn set_latency(&self, latency: Duration) {
        self.shared.faults.set_latency(latency);
    }

    /// Next `n` calls under `prefix` answer `status` (see [`Faults::fail_next`]).
    pub fn fail_next(&self, prefix: &str, n: usize, status: u16) {
        self.shared.faults.fail_next(prefix, n, status);
    }

    /// Next `n` calls under `prefix` answer 429 (+ `Retry-After`) (see [`Faults::throttle_next`]).
    pub fn rate_limit_next(&self, prefix: &str, n: usize, retry_after_secs: Option<u64>) {
        self.shared
            .faults
            .throttle_next(prefix, n, retry_after_secs);
    }

    /// Next `n` calls under `prefix` hang for `EmulatorConfig::hang_duration`.
    pub fn hang_next(&self, prefix: &str, n: usize) {
        self.shared.faults.hang_next(prefix, n);
    }

    /// Next `n` calls under `prefix` get their connection closed.
    pub fn drop_next(&self, prefix: &str, n: usize) {
        self.shared.faults.drop_next(prefix, n);
    }

    /// Next `n` token requests answer `status`.
    pub fn fail_token_endpoint(&self, n: usize, status: u16) {
        self.shared.faults.fail_token_endpoint(n, status);
    }
}

impl Drop for LmsEmulator {
    fn drop(&mut self) {
        self.task.abort();
    }
}
