//! The REST adapter for edx-platform.
//!
//! Endpoints (edx-platform = github.com/openedx/openedx-platform):
//! * token: `POST /oauth2/access_token` with `token_type=jwt`
//!   (`openedx/core/djangoapps/oauth_dispatch/views.py` `AccessTokenView`, `jwt.py`);
//!   used as `Authorization: JWT <token>` (edx-drf-extensions `JwtAuthentication`).
//! * course exists: `GET /api/enrollment/v1/course/{course_id}`
//!   (`openedx/core/djangoapps/enrollments/views.py` `EnrollmentCourseDetailView`): a
//!   `CourseOverview` lookup, exactly the plugin's `CourseOverview.objects.filter(...).exists()`.
//! * user by email: `GET /api/user/v1/accounts?email=`
//!   (`openedx/core/djangoapps/user_api/accounts/views.py` `AccountViewSet.list`, staff only).
//! * enroll: `POST /api/enrollment/v1/enrollment` (`enrollments/views.py` `EnrollmentListView.post`).
//! * allowance: `POST/GET/DELETE /api/enrollment/v1/enrollment_allowed/`
//!   (`enrollments/views.py` `EnrollmentAllowedView`, Quince+), or the view-set
//!   action that replaces it on master (ADR 0028).
//! * course runs: `GET /api/courses/v1/courses/` and `/api/courses/v1/courses/{id}/`
//!   (`lms/djangoapps/course_api/views.py` `CourseListView`, `CourseDetailView`).

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::{HeaderValue, ACCEPT, AUTHORIZATION, RETRY_AFTER};
use reqwest::{Client, RequestBuilder, StatusCode};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::{Mutex, Semaphore};

use super::{
    AllowanceApi, AllowanceOutcome, EnrollmentLms, EnrollmentOutcome, LmsError, LmsUser,
    OpenEdxConfig,
};
pub use crate::openedx_parse::parse_listed_course_ids;
use crate::openedx_parse::{self as parse, ParseError};
use crate::secrets::{SecretCache, SecretSource};

/// `EnrollmentAllowedView` (Quince → Teak).
pub const LEGACY_ALLOWANCE_PATH: &str = "/api/enrollment/v1/enrollment_allowed/";
/// The `EnrollmentViewSet` action replacing it on master (ADR 0028).
pub const VIEWSET_ALLOWANCE_PATH: &str = "/api/enrollment/v2/enrollment/enrollment_allowed/";

const MODE_UNRESOLVED: u8 = 0;
const MODE_LEGACY: u8 = 1;
const MODE_VIEWSET: u8 = 2;

/// OAuth2 client credentials, stored as one JSON secret:
/// `{"client_id": "...", "client_secret": "..."}`.
#[derive(Deserialize)]
struct ClientCredentials {
    client_id: String,
    client_secret: String,
}

struct CachedToken {
    value: Arc<str>,
    refresh_at: Instant,
}

/// An HTTP answer reduced to what the operations look at.
pub(super) struct Reply {
    pub(super) status: StatusCode,
    /// LMS answers are small JSON documents.
    pub(super) body: Vec<u8>,
}

impl Reply {
    /// The error for an answer the operation has no use for: 403 means the
    /// service user lacks permission, anything else is unexpected.
    pub(super) fn unexpected(&self, operation: &'static str) -> LmsError {
        match self.status.as_u16() {
            403 => LmsError::Forbidden {
                operation,
                status: 403,
            },
            status => LmsError::UnexpectedStatus { operation, status },
        }
    }

    fn body_contains(&self, needle: &str) -> bool {
        String::from_utf8_lossy(&self.body).contains(needle)
    }

    /// The `message` field edx-platform puts in its error bodies, if any.
    pub(super) fn message(&self) -> String {
        serde_json::from_slice::<Value>(&self.body)
            .ok()
            .and_then(|v| {
                v.get("message")
                    .or_else(|| v.get("detail"))
                    .and_then(|m| m.as_str().map(str::to_owned))
            })
            .unwrap_or_default()
    }
}

pub struct OpenEdxClient {
    http: Client,
    config: OpenEdxConfig,
    credentials: Arc<SecretCache<SecretSource>>,
    token: Mutex<Option<CachedToken>>,
    permits: Semaphore,
    allowance_mode: AtomicU8,
    /// Set when the course list API throttled a batched course check: until
    /// then, courses are checked one by one without asking it again.
    batch_check_paused_until: std::sync::Mutex<Option<Instant>>,
}

/// Most course keys asked for in one course-list call (keeps the URL short).
const BATCH_CHECK_KEYS: usize = 50;
/// How long to leave the course list API alone after it answered 429
/// (`CourseListUserThrottle` counts per minute).
const BATCH_CHECK_PAUSE: Duration = Duration::from_secs(60);

/// Percent-encode a course key for use in a URL path. Keys are validated before
/// they get here; the characters edx-platform's URL patterns expect (`:` `+` `/`
/// `@` `~` `.` `-` `_`) stay literal, anything else (e.g. Unicode letters) is encoded.
pub(super) fn encode_path(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z'
            | b'a'..=b'z'
            | b'0'..=b'9'
            | b':'
            | b'+'
            | b'/'
            | b'@'
            | b'~'
            | b'.'
            | b'-'
            | b'_' => out.push(byte as char),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

impl OpenEdxClient {
    pub fn new(
        config: OpenEdxConfig,
        credentials: Arc<SecretCache<SecretSource>>,
    ) -> Result<Self, reqwest::Error> {
        let http = Client::builder()
            .connect_timeout(config.connect_timeout)
            .user_agent(concat!("edx-hooks/", env!("CARGO_PKG_VERSION")))
            .pool_idle_timeout(Duration::from_secs(50))
            .build()?;
        let initial_mode = match config.allowance_api {
            AllowanceApi::Legacy => MODE_LEGACY,
            AllowanceApi::ViewSet => MODE_VIEWSET,
            AllowanceApi::Auto => MODE_UNRESOLVED,
        };
        Ok(OpenEdxClient {
            http,
            permits: Semaphore::new(config.max_concurrency.max(1)),
            config,
            credentials,
            token: Mutex::new(None),
            allowance_mode: AtomicU8::new(initial_mode),
            batch_check_paused_until: std::sync::Mutex::new(None),
        })
    }

    pub fn config(&self) -> &OpenEdxConfig {
        &self.config
    }

    pub(super) fn url(&self, path: &str) -> String {
        format!("{}{}", self.config.base_url, path)
    }

    async fn credentials(&self, force: bool) -> Result<ClientCredentials, LmsError> {
        let versions = if force {
            match self.credentials.force_refresh().await {
                Some(v) => v,
                None => self
                    .credentials
                    .get()
                    .await
                    .map_err(|e| LmsError::Credentials(e.to_string()))?,
            }
        } else {
            self.credentials
                .get()
                .await
                .map_err(|e| LmsError::Credentials(e.to_string()))?
        };
        let first = versions
            .first()
            .ok_or_else(|| LmsError::Credentials("empty secret".into()))?;
        serde_json::from_str(first).map_err(|_| {
            LmsError::Credentials(
                "secret must be JSON {\"client_id\": \"...\", \"client_secret\": \"...\"}".into(),
            )
        })
    }

    /// A valid access token, from cache when possible.
    async fn token(&self) -> Result<Arc<str>, LmsError> {
        let mut cached = self.token.lock().await;
        if let Some(token) = cached.as_ref() {
            if Instant::now() < token.refresh_at {
                return Ok(token.value.clone());
            }
        }
        // Boxed: fetching a token goes through `execute`, which may ask for a token.
        let fresh = match Box::pin(self.fetch_token(false)).await {
            // The client secret may have been rotated since we cached it.
            Err(LmsError::Unauthorized { .. }) => Box::pin(self.fetch_token(true)).await?,
            other => other?,
        };
        let value = fresh.value.clone();
        *cached = Some(fresh);
        Ok(value)
    }

    async fn fetch_token(&self, force_credentials: bool) -> Result<CachedToken, LmsError> {
        const OP: &str = "oauth2_token";
        let creds = self.credentials(force_credentials).await?;
        let url = self.url("/oauth2/access_token");
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", creds.client_id.as_str()),
            ("client_secret", creds.client_secret.as_str()),
            ("token_type", "jwt"),
        ];
        let reply = self
            .execute(OP, None, false, &|http: &Client| {
                http.post(&url).form(&form)
            })
            .await?;
        match reply.status.as_u16() {
            200 => {
                let parsed = parse::parse_token(&reply.body).map_err(invalid(OP))?;
                let margin = self.config.token_refresh_margin.min(parsed.lifetime / 2);
                Ok(CachedToken {
                    value: parsed.value.into(),
                    refresh_at: Instant::now() + parsed.lifetime - margin,
                })
            }
            400 | 401 | 403 => Err(LmsError::Unauthorized {
                operation: OP,
                status: reply.status.as_u16(),
            }),
            status => Err(LmsError::UnexpectedStatus {
                operation: OP,
                status,
            }),
        }
    }

    /// Forget `stale` (if it is still the cached token) so the next call fetches anew.
    async fn invalidate_token(&self, stale: &Arc<str>) {
        let mut cached = self.token.lock().await;
        if cached
            .as_ref()
            .is_some_and(|t| Arc::ptr_eq(&t.value, stale))
        {
            *cached = None;
        }
    }

    /// Send one logical request with the retry policy.
    ///
    /// * `auth`: attach the JWT; a 401 drops the cached token and retries once
    ///   with a fresh one (not counted as an attempt).
    /// * `limited`: hold a concurrency permit while the request is in flight (not
    ///   while backing off).
    /// * 429/502/503/504, timeouts and connection errors are retried with backoff;
    ///   every call made through here is idempotent (reads, or writes the LMS
    ///   treats as "already done" on replay).
    pub(super) async fn execute(
        &self,
        operation: &'static str,
        auth: Option<()>,
        limited: bool,
        build: &(dyn Fn(&Client) -> RequestBuilder + Sync),
    ) -> Result<Reply, LmsError> {
        self.execute_with(operation, auth, limited, self.config.retry, build)
            .await
    }

    /// [`Self::execute`] with an explicit retry policy.
    async fn execute_with(
        &self,
        operation: &'static str,
        auth: Option<()>,
        limited: bool,
        policy: super::retry::RetryPolicy,
        build: &(dyn Fn(&Client) -> RequestBuilder + Sync),
    ) -> Result<Reply, LmsError> {
        let mut attempt: u32 = 0;
        let mut refreshed_token = false;
        loop {
            attempt += 1;
            let token = match auth {
                Some(()) => Some(self.token().await?),
                None => None,
            };
            let mut request = build(&self.http)
                .timeout(self.config.request_timeout)
                .header(ACCEPT, HeaderValue::from_static("application/json"));
            if let Some(token) = &token {
                request = request.header(AUTHORIZATION, format!("JWT {token}"));
            }
            let permit = if limited {
                // The semaphore is never closed, so acquire cannot fail.
                self.permits.acquire().await.ok()
            } else {
                None
            };
            let outcome = async {
                let response = request.send().await?;
                let status = response.status();
                let retry_after = response
                    .headers()
                    .get(RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                let body = response.bytes().await?.to_vec();
                Ok::<_, reqwest::Error>((status, retry_after, body))
            }
            .await;
            drop(permit);

            let wait = match outcome {
                Ok((status, retry_after, body)) => {
                    if status == StatusCode::UNAUTHORIZED {
                        if let (Some(token), false) = (&token, refreshed_token) {
                            tracing::info!(
                                operation,
                                "LMS refused the cached token; fetching a new one"
                            );
                            refreshed_token = true;
                            self.invalidate_token(token).await;
                            attempt -= 1;
                            continue;
                        }
                        if token.is_some() {
                            return Err(LmsError::Unauthorized {
                                operation,
                                status: 401,
                            });
                        }
                    }
                    let retryable = matches!(status.as_u16(), 429 | 502 | 503 | 504);
                    if !retryable {
                        return Ok(Reply { status, body });
                    }
                    let unavailable = LmsError::Unavailable {
                        operation,
                        status: status.as_u16(),
                        attempts: attempt,
                    };
                    if attempt >= policy.max_attempts {
                        return Err(unavailable);
                    }
                    match policy.retry_after(retry_after.as_deref()) {
                        // Asked to wait longer than we may: give up now, honestly.
                        None => return Err(unavailable),
                        Some(Some(wait)) => wait,
                        Some(None) => policy.backoff(attempt),
                    }
                }
                Err(err) => {
                    let error = if err.is_timeout() {
                        LmsError::Timeout {
                            operation,
                            attempts: attempt,
                        }
                    } else {
                        LmsError::Connection {
                            operation,
                            attempts: attempt,
                            detail: err.to_string(),
                        }
                    };
                    if attempt >= policy.max_attempts {
                        return Err(error);
                    }
                    policy.backoff(attempt)
                }
            };
            tracing::debug!(
                operation,
                attempt,
                wait_ms = wait.as_millis() as u64,
                "retrying LMS call"
            );
            tokio::time::sleep(wait).await;
        }
    }

    fn allowance_path(&self) -> &'static str {
        match self.allowance_mode.load(Ordering::Relaxed) {
            MODE_VIEWSET => VIEWSET_ALLOWANCE_PATH,
            _ => LEGACY_ALLOWANCE_PATH,
        }
    }

    async fn allowance_on(
        &self,
        path: &'static str,
        email: &str,
        course_id: &str,
    ) -> Result<Option<AllowanceOutcome>, LmsError> {
        const OP: &str = "create_allowance";
        let url = self.url(path);
        let body = json!({"email": email, "course_id": course_id, "auto_enroll": true});
        let reply = self
            .execute(OP, Some(()), true, &|http: &Client| {
                http.post(&url).json(&body)
            })
            .await?;
        match reply.status.as_u16() {
            200 | 201 => Ok(Some(AllowanceOutcome::Created)),
            409 => self
                .ensure_auto_enroll(path, email, course_id)
                .await
                .map(Some),
            // The v2 view set validates with DRF's UniqueTogetherValidator first,
            // so a duplicate is a 400 there rather than a 409.
            400 if path == VIEWSET_ALLOWANCE_PATH
                && reply.body_contains("must make a unique set") =>
            {
                self.ensure_auto_enroll(path, email, course_id)
                    .await
                    .map(Some)
            }
            // 404: this LMS has no such endpoint (release without it).
            404 => Ok(None),
            403 => Err(LmsError::Forbidden {
                operation: OP,
                status: 403,
            }),
            400 => Err(LmsError::Rejected {
                operation: OP,
                status: 400,
                message: reply.message(),
            }),
            status => Err(LmsError::UnexpectedStatus {
                operation: OP,
                status,
            }),
        }
    }

    /// The allowance exists: make sure `auto_enroll` is on, as the plugin does
    /// (`get_or_create` then `auto_enroll = True; save()`). The REST API cannot
    /// update a row, so a row with `auto_enroll=false` is replaced.
    async fn ensure_auto_enroll(
        &self,
        path: &'static str,
        email: &str,
        course_id: &str,
    ) -> Result<AllowanceOutcome, LmsError> {
        const OP: &str = "read_allowance";
        let url = self.url(path);
        let reply = self
            .execute(OP, Some(()), true, &|http: &Client| {
                http.get(&url).query(&[("email", email)])
            })
            .await?;
        if reply.status != StatusCode::OK {
            return Err(LmsError::UnexpectedStatus {
                operation: OP,
                status: reply.status.as_u16(),
            });
        }
        if parse::parse_allowance_auto_enroll(&reply.body, course_id).map_err(invalid(OP))?
            == Some(true)
        {
            return Ok(AllowanceOutcome::AlreadyPresent);
        }
        const DEL: &str = "delete_allowance";
        let body = json!({"email": email, "course_id": course_id});
        let reply = self
            .execute(DEL, Some(()), true, &|http: &Client| {
                http.delete(&url).json(&body)
            })
            .await?;
        match reply.status.as_u16() {
            200 | 204 | 404 => {}
            // v2 refuses to delete an existing row (its serializer's uniqueness
            // check runs first), so the flag cannot be switched through it.
            400 => return Err(LmsError::Rejected {
                operation: DEL,
                status: 400,
                message:
                    "allowance exists with auto_enroll=false and this endpoint cannot replace it; \
                              use OPENEDX_ALLOWANCE_API=legacy"
                        .into(),
            }),
            status => {
                return Err(LmsError::UnexpectedStatus {
                    operation: DEL,
                    status,
                })
            }
        }
        let create = json!({"email": email, "course_id": course_id, "auto_enroll": true});
        const OP2: &str = "create_allowance";
        let reply = self
            .execute(OP2, Some(()), true, &|http: &Client| {
                http.post(&url).json(&create)
            })
            .await?;
        match reply.status.as_u16() {
            // 409: a concurrent request re-created it, with auto_enroll=true.
            200 | 201 | 409 => Ok(AllowanceOutcome::AutoEnrollEnabled),
            status => Err(LmsError::UnexpectedStatus {
                operation: OP2,
                status,
            }),
        }
    }
}

impl OpenEdxClient {
    fn batch_check_paused(&self) -> bool {
        let paused = self
            .batch_check_paused_until
            .lock()
            .map(|until| until.is_some_and(|t| Instant::now() < t))
            .unwrap_or(false);
        paused
    }

    fn pause_batch_check(&self) {
        if let Ok(mut until) = self.batch_check_paused_until.lock() {
            *until = Some(Instant::now() + BATCH_CHECK_PAUSE);
        }
    }

    /// One `GET /api/courses/v1/courses/?course_keys=…` (`CourseListView`,
    /// `lms/djangoapps/course_api/views.py`; `course_keys` is a
    /// `MultiValueField` of `CourseListGetForm` in `course_api/forms.py`, passed to
    /// `get_courses(..., course_keys=...)` in `course_api/api.py`). Every course it
    /// returns is a `CourseOverview` row, so a listed course exists exactly as the
    /// plugin means it. The converse does not hold: the list hides courses the
    /// effective user may not see (`has_access(..., 'see_exists')`) and courses of
    /// other sites' orgs (`branding.get_visible_courses`), so the caller checks
    /// unlisted ones one by one. No retry: a failed batch only costs that fallback.
    async fn listed_courses(&self, course_ids: &[&str]) -> Vec<String> {
        const OP: &str = "list_courses_by_key";
        let url = self.url("/api/courses/v1/courses/");
        let mut query: Vec<(&str, String)> = vec![
            ("course_keys", course_ids.join(",")),
            ("page_size", course_ids.len().to_string()),
        ];
        if let Some(username) = &self.config.service_username {
            query.push(("username", username.clone()));
        }
        let once = super::retry::RetryPolicy {
            max_attempts: 1,
            ..self.config.retry
        };
        let reply = self
            .execute_with(OP, Some(()), true, once, &|http: &Client| {
                http.get(&url).query(&query)
            })
            .await;
        let reply = match reply {
            Ok(reply) if reply.status == StatusCode::OK => reply,
            // (A 429 never gets here: `execute_with` turns it into `Unavailable`.)
            Ok(reply) => {
                tracing::info!(
                    status = reply.status.as_u16(),
                    "course list API refused a batched course check; checking one by one"
                );
                return Vec::new();
            }
            Err(err) => {
                if matches!(err, LmsError::Unavailable { status: 429, .. }) {
                    self.pause_batch_check();
                }
                tracing::info!(error = %err, "batched course check failed; checking one by one");
                return Vec::new();
            }
        };
        match parse_listed_course_ids(&reply.body) {
            Some(ids) => ids
                .into_iter()
                .filter(|id| course_ids.contains(&id.as_str()))
                .collect(),
            None => {
                tracing::info!("course list answer not understood; checking one by one");
                Vec::new()
            }
        }
    }
}

/// A parse failure of `operation`'s answer.
pub(super) fn invalid(operation: &'static str) -> impl Fn(ParseError) -> LmsError {
    move |e| LmsError::InvalidResponse {
        operation,
        detail: e.0,
    }
}

impl EnrollmentLms for OpenEdxClient {
    async fn courses_known_to_exist(&self, course_ids: &[&str]) -> Vec<String> {
        // One course is one call either way.
        if !self.config.batch_course_check || course_ids.len() < 2 || self.batch_check_paused() {
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
        const OP: &str = "course_exists";
        let url = self.url(&format!(
            "/api/enrollment/v1/course/{}",
            encode_path(course_id)
        ));
        let reply = self
            .execute(OP, None, true, &|http: &Client| http.get(&url))
            .await?;
        match reply.status.as_u16() {
            200 => Ok(true),
            // 400 "No course found for course ID '...'"; 404 when the URL pattern
            // itself does not match.
            400 | 404 => Ok(false),
            status => Err(LmsError::UnexpectedStatus {
                operation: OP,
                status,
            }),
        }
    }

    async fn find_user_by_email(&self, email: &str) -> Result<Option<LmsUser>, LmsError> {
        const OP: &str = "find_user";
        let url = self.url("/api/user/v1/accounts");
        let reply = self
            .execute(OP, Some(()), true, &|http: &Client| {
                http.get(&url).query(&[("email", email)])
            })
            .await?;
        match reply.status.as_u16() {
            200 => parse::parse_account(&reply.body).map_err(invalid(OP)),
            404 => Ok(None),
            _ => Err(reply.unexpected(OP)),
        }
    }

    async fn ensure_enrollment(
        &self,
        username: &str,
        course_id: &str,
    ) -> Result<EnrollmentOutcome, LmsError> {
        const OP: &str = "enroll";
        let url = self.url("/api/enrollment/v1/enrollment");
        let mut body = json!({
            "user": username,
            "course_details": {"course_id": course_id},
            // Reactivates an inactive enrollment (staff callers go through
            // api.update_enrollment when is_active differs).
            "is_active": true,
        });
        if let Some(mode) = &self.config.enrollment_mode {
            body["mode"] = json!(mode);
        }
        if self.config.force_enrollment {
            body["force_enrollment"] = json!(true);
        }
        let reply = self
            .execute(OP, Some(()), true, &|http: &Client| {
                http.post(&url).json(&body)
            })
            .await?;
        match reply.status.as_u16() {
            200 | 201 => match parse::parse_enrollment_active(&reply.body).map_err(invalid(OP))? {
                true => Ok(EnrollmentOutcome::Active),
                false => Err(LmsError::Rejected {
                    operation: OP,
                    status: reply.status.as_u16(),
                    message: "enrollment is still inactive".into(),
                }),
            },
            // 404 with an empty body is how the view refuses non-staff callers
            // acting for another user.
            403 | 404 => Err(LmsError::Forbidden {
                operation: OP,
                status: reply.status.as_u16(),
            }),
            status @ (400 | 406) => Err(LmsError::Rejected {
                operation: OP,
                status,
                message: reply.message(),
            }),
            status => Err(LmsError::UnexpectedStatus {
                operation: OP,
                status,
            }),
        }
    }

    async fn ensure_allowance(
        &self,
        email: &str,
        course_id: &str,
    ) -> Result<AllowanceOutcome, LmsError> {
        let path = self.allowance_path();
        if let Some(outcome) = self.allowance_on(path, email, course_id).await? {
            if self.allowance_mode.load(Ordering::Relaxed) == MODE_UNRESOLVED {
                self.allowance_mode.store(MODE_LEGACY, Ordering::Relaxed);
            }
            return Ok(outcome);
        }
        // 404: the endpoint is missing on this release.
        if self.config.allowance_api == AllowanceApi::Auto && path == LEGACY_ALLOWANCE_PATH {
            tracing::info!(
                "legacy enrollment_allowed endpoint not found; switching to the view-set endpoint"
            );
            self.allowance_mode.store(MODE_VIEWSET, Ordering::Relaxed);
            if let Some(outcome) = self
                .allowance_on(VIEWSET_ALLOWANCE_PATH, email, course_id)
                .await?
            {
                return Ok(outcome);
            }
        }
        Err(LmsError::UnexpectedStatus {
            operation: "create_allowance",
            status: 404,
        })
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

#[cfg(test)]
mod tests {
    use super::encode_path;

    #[test]
    fn course_keys_stay_readable_in_paths() {
        assert_eq!(
            encode_path("course-v1:edX+DemoX+Demo_Course"),
            "course-v1:edX+DemoX+Demo_Course"
        );
        assert_eq!(encode_path("edX/DemoX/2024"), "edX/DemoX/2024");
        assert_eq!(encode_path("course-v1:é+a+b"), "course-v1:%C3%A9+a+b");
        assert_eq!(encode_path("a b?#"), "a%20b%3F%23");
    }
}
