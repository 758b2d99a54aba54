//! The enrollment webhook service wired to an LMS emulator, as the integration
//! tests, the load test and the benchmark use it.

use std::sync::Arc;
use std::time::Duration;

use edx_hooks_shared::canonical_json::{self, Separators};
use edx_hooks_shared::openedx::rest::credential_cache;
use edx_hooks_shared::openedx::retry::RetryPolicy;
use edx_hooks_shared::openedx::{AllowanceApi, OpenEdxClient, OpenEdxConfig};
use edx_hooks_shared::secrets::{SecretCache, SecretSource, StaticSecret};
use edx_hooks_shared::signature::sign_lernito;
use enrollment_webhook::service::{Reply, WebhookService};

use crate::lms_emulator::{CourseInfo, EmulatorConfig, LmsEmulator, ReleaseProfile};

pub const SECRET: &str = "integration-secret";
pub const PATH: &str = "/api/lernito/webhook/";
pub const DEMO: &str = "course-v1:edX+DemoX+Demo_Course";
pub const E2E: &str = "course-v1:edX+E2E-101+course";
pub const CLIENT_ID: &str = "edx-hooks";
pub const CLIENT_SECRET: &str = "s3cret";

pub struct Harness {
    pub lms: LmsEmulator,
    pub service: Arc<WebhookService<OpenEdxClient>>,
}

/// What a test may vary.
#[derive(Clone, Debug)]
pub struct HarnessOptions {
    pub profile: ReleaseProfile,
    pub token_ttl_secs: u64,
    pub concurrency: usize,
    pub allowance_api: AllowanceApi,
    pub webhook_secrets: Vec<String>,
    pub client_id: String,
    pub client_secret: String,
    pub request_timeout: Duration,
    /// Ask the course list API for all courses at once (the client's default).
    pub batch_course_check: bool,
    /// `OPENEDX_SERVICE_USERNAME`. Production reads it from the token's
    /// `preferred_username`; the emulator's tokens are opaque, so the harness names
    /// its service user (`svc`) to take the production path (course API with
    /// `?username=`, not the anonymous per-IP-throttled course endpoint).
    pub service_username: Option<String>,
    /// Serve the bulk enrollment view (`FEATURES['ENABLE_BULK_ENROLLMENT_VIEW']`).
    pub bulk_enroll_view: bool,
}

impl Default for HarnessOptions {
    fn default() -> Self {
        HarnessOptions {
            profile: ReleaseProfile::Sumac,
            token_ttl_secs: 3600,
            concurrency: 8,
            allowance_api: AllowanceApi::Auto,
            webhook_secrets: vec![SECRET.into()],
            client_id: CLIENT_ID.into(),
            client_secret: CLIENT_SECRET.into(),
            request_timeout: Duration::from_millis(800),
            batch_course_check: true,
            service_username: Some("svc".into()),
            bulk_enroll_view: false,
        }
    }
}

/// An Open edX client for `base_url` with quick retries (tests should not wait).
pub fn client(base_url: String, options: &HarnessOptions) -> OpenEdxClient {
    let credentials = credential_cache(SecretSource::Static(StaticSecret::new(
        "test",
        vec![
            serde_json::json!({"client_id": options.client_id, "client_secret": options.client_secret})
                .to_string(),
        ],
    )));
    let config = OpenEdxConfig {
        base_url,
        request_timeout: options.request_timeout,
        retry: RetryPolicy {
            base_delay: Duration::from_millis(20),
            ..RetryPolicy::default()
        },
        max_concurrency: options.concurrency,
        allowance_api: options.allowance_api,
        batch_course_check: options.batch_course_check,
        service_username: options.service_username.clone(),
        ..OpenEdxConfig::default()
    };
    match OpenEdxClient::new(config, credentials) {
        Ok(client) => client,
        Err(e) => panic!("cannot build the HTTP client: {e}"),
    }
}

impl Harness {
    pub async fn start(options: HarnessOptions) -> Harness {
        let lms = LmsEmulator::start(EmulatorConfig {
            profile: options.profile,
            token_ttl_secs: options.token_ttl_secs,
            seed_demo: false,
            bulk_enroll_view: options.bulk_enroll_view,
            ..EmulatorConfig::default()
        })
        .await;
        {
            let mut state = lms.state();
            state.add_user("svc", "svc@example.com", true, true);
            state.add_oauth_client(CLIENT_ID, CLIENT_SECRET, "svc");
            state.add_user("learner", "learner@example.com", false, true);
            state.add_course(DEMO, CourseInfo::named("Demo"));
            state.add_course(E2E, CourseInfo::named("E2E"));
        }
        let service = service_for(
            client(lms.base_url(), &options),
            options.webhook_secrets.clone(),
        );
        Harness {
            lms,
            service: Arc::new(service),
        }
    }

    pub async fn default() -> Harness {
        Harness::start(HarnessOptions::default()).await
    }

    /// POST `body` signed the README way.
    pub async fn post(&self, body: &str) -> Reply {
        self.service
            .handle("POST", PATH, Some(&sign(body)), body.as_bytes())
            .await
    }
}

/// A webhook service over `client` with static webhook secrets.
pub fn service_for(client: OpenEdxClient, secrets: Vec<String>) -> WebhookService<OpenEdxClient> {
    let webhook_secrets = Arc::new(SecretCache::new(
        SecretSource::Static(StaticSecret::new("test", secrets)),
        Duration::from_secs(300),
        Duration::from_secs(30),
    ));
    WebhookService::new(Arc::new(client), webhook_secrets)
}

/// A Lernito payload.
pub fn payload(email: &str, courses: &[&str]) -> String {
    let ids: Vec<String> = courses.iter().map(|c| format!("\"{c}\"")).collect();
    format!(
        r#"{{"email": "{email}", "name": "Test", "family": "User", "username": "testuser", "courseIds": [{}]}}"#,
        ids.join(", ")
    )
}

/// `hmac(SECRET, json.dumps(body, sort_keys=True))`.
pub fn sign(body: &str) -> String {
    match canonical_json::parse(body.as_bytes()) {
        Ok(parsed) => sign_lernito(SECRET.as_bytes(), &parsed, Separators::Default),
        Err(e) => panic!("test payload is not JSON: {e}"),
    }
}

/// The webhook service against a real LMS (the conformance tier) with one of its
/// OAuth2 clients, configured as deployed: the service username comes from the
/// token's `preferred_username`; generous timeouts (the tier's LMS serves one request
/// at a time, so calls queue at its socket).
pub fn real_lms_service(
    base_url: String,
    client_id: &str,
    client_secret: &str,
) -> WebhookService<OpenEdxClient> {
    let options = HarnessOptions {
        client_id: client_id.into(),
        client_secret: client_secret.into(),
        service_username: None,
        request_timeout: Duration::from_secs(20),
        ..HarnessOptions::default()
    };
    service_for(client(base_url, &options), vec![SECRET.into()])
}
