//! The REST adapter for edx-platform: [`OpenEdxClient`] implements the LMS ports over
//! the [`Transport`] core (token, retries, concurrency bound, deadline). One file per
//! endpoint family says what each answer means:
//! * `courses.rs`: course existence (batched course list, course detail) and modes;
//! * `accounts.rs`: user by email;
//! * `enrollments.rs`: enroll, read one enrollment back;
//! * `allowances.rs`: enrollment allowances (v1 view, v2 view set);
//! * `catalog.rs`: what the Richie forwarder reads.

use std::collections::HashMap;
use std::sync::atomic::AtomicU8;
use std::sync::Arc;
use std::time::Instant;

use serde_json::json;

pub use super::allowances::{LEGACY_ALLOWANCE_PATH, VIEWSET_ALLOWANCE_PATH};
use super::allowances::{MODE_LEGACY, MODE_UNRESOLVED, MODE_VIEWSET};
use super::courses::BATCH_CHECK_KEYS;
pub use super::transport::{encode_path, Transport};
use super::{
    AllowanceApi, AllowanceOutcome, BulkApplied, EnrollmentLms, EnrollmentOutcome, LmsError,
    LmsUser, ModeChoice, OpenEdxConfig,
};
pub use crate::openedx_parse::parse_listed_course_ids;
use crate::secrets::{SecretCache, SecretSource};

pub struct OpenEdxClient {
    pub(super) transport: Transport,
    /// Which allowance endpoint this LMS serves (resolved on first use in `auto`).
    pub(super) allowance_mode: AtomicU8,
    /// Set when the course list API throttled a batched course check: until then,
    /// courses are checked one by one without asking it again.
    pub(super) batch_check_paused_until: std::sync::Mutex<Option<Instant>>,
    /// Course modes read within the last minute (`courses.rs` `MODES_TTL`).
    pub(super) modes_cache: std::sync::Mutex<HashMap<String, (Instant, Vec<String>)>>,
}

impl OpenEdxClient {
    pub fn new(
        config: OpenEdxConfig,
        credentials: Arc<SecretCache<SecretSource>>,
    ) -> Result<Self, reqwest::Error> {
        let initial_mode = match config.allowance_api {
            AllowanceApi::Legacy => MODE_LEGACY,
            AllowanceApi::ViewSet => MODE_VIEWSET,
            AllowanceApi::Auto => MODE_UNRESOLVED,
        };
        Ok(OpenEdxClient {
            transport: Transport::new(config, credentials)?,
            allowance_mode: AtomicU8::new(initial_mode),
            batch_check_paused_until: std::sync::Mutex::new(None),
            modes_cache: std::sync::Mutex::new(HashMap::new()),
        })
    }

    pub fn config(&self) -> &OpenEdxConfig {
        self.transport.config()
    }

    pub fn transport(&self) -> &Transport {
        &self.transport
    }

    pub(super) fn url(&self, path: &str) -> String {
        self.transport.url(path)
    }
}

impl EnrollmentLms for OpenEdxClient {
    async fn courses_known_to_exist(&self, course_ids: &[&str]) -> Vec<String> {
        // One course is one call either way.
        if !self.config().batch_course_check || course_ids.len() < 2 || self.batch_check_paused() {
            return Vec::new();
        }
        let batches = course_ids
            .chunks(BATCH_CHECK_KEYS)
            .map(|chunk| self.listed_courses(chunk));
        futures_util::future::join_all(batches)
            .await
            .into_iter()
            .flatten()
            .collect()
    }

    async fn course_exists(&self, course_id: &str) -> Result<bool, LmsError> {
        self.course_exists_one(course_id).await
    }

    async fn course_modes(&self, course_id: &str) -> Result<Vec<String>, LmsError> {
        self.modes_of(course_id).await
    }

    async fn find_user_by_email(&self, email: &str) -> Result<Option<LmsUser>, LmsError> {
        self.account_by_email(email).await
    }

    async fn ensure_enrollment(
        &self,
        username: &str,
        course_id: &str,
        mode: &ModeChoice,
        change_existing: bool,
    ) -> Result<EnrollmentOutcome, LmsError> {
        self.enroll(username, course_id, mode, change_existing)
            .await
    }

    async fn ensure_allowance(
        &self,
        email: &str,
        course_id: &str,
    ) -> Result<AllowanceOutcome, LmsError> {
        self.allow(email, course_id).await
    }

    async fn bulk_enroll(
        &self,
        email: &str,
        course_ids: &[&str],
        email_learners: bool,
    ) -> Result<BulkApplied, LmsError> {
        self.bulk(email, course_ids, email_learners).await
    }
}

/// Build the OAuth2 credential source: Secrets Manager when
/// `OPENEDX_CLIENT_SECRET_ARN` is set, else `OPENEDX_CLIENT_ID` /
/// `OPENEDX_CLIENT_SECRET` from the environment (local runs).
pub async fn credentials_from_env(default_id: &str, default_secret: &str) -> SecretSource {
    use crate::secrets::{secrets_manager_client, SecretsManagerSecret, StaticSecret};
    match std::env::var("OPENEDX_CLIENT_SECRET_ARN")
        .ok()
        .filter(|v| !v.trim().is_empty())
    {
        Some(arn) => SecretSource::SecretsManager(
            SecretsManagerSecret::new(secrets_manager_client().await, arn).current_only(),
        ),
        None => {
            let id = std::env::var("OPENEDX_CLIENT_ID").unwrap_or_else(|_| default_id.to_owned());
            let secret = std::env::var("OPENEDX_CLIENT_SECRET")
                .unwrap_or_else(|_| default_secret.to_owned());
            let value = json!({"client_id": id, "client_secret": secret}).to_string();
            SecretSource::Static(StaticSecret::new("env:OPENEDX_CLIENT_ID", vec![value]))
        }
    }
}

/// Convenience for wiring: a credential cache with the configured TTL.
pub fn credential_cache(source: SecretSource) -> Arc<SecretCache<SecretSource>> {
    Arc::new(SecretCache::new(
        source,
        crate::secrets::ttl_from_env(),
        crate::secrets::DEFAULT_MIN_FORCED_REFRESH,
    ))
}
