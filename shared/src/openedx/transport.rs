//! The transport core of the LMS client: one HTTP client, the OAuth2 token cache, the
//! concurrency bound, the request deadline, and the one retry loop every endpoint goes
//! through. Endpoint files describe a call with [`Call`] and interpret the [`Reply`];
//! what is retried and what is given up on is decided here, in [`Transport::send`] and
//! [`next_step`], and nowhere else.
//!
//! Token: `POST /oauth2/access_token` with `token_type=jwt`
//! (`openedx/core/djangoapps/oauth_dispatch/views.py` `AccessTokenView`), used as
//! `Authorization: JWT <token>` (edx-drf-extensions `JwtAuthentication`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::{HeaderValue, ACCEPT, AUTHORIZATION, RETRY_AFTER};
use reqwest::{Client, RequestBuilder, StatusCode};
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::{Mutex, Semaphore};

use super::deadline;
use super::retry::RetryPolicy;
use super::{LmsError, OpenEdxConfig};
use crate::enrollment_answers::jwt_username;
use crate::openedx_parse::{self as parse, ParseError};
use crate::secrets::{SecretCache, SecretSource};

/// Shortest token lifetime believed: an `expires_in` of 0 or a few seconds would
/// otherwise mean one token call per LMS call (a stale token is caught by the 401
/// refresh anyway).
pub const MIN_TOKEN_LIFETIME: Duration = Duration::from_secs(30);
/// How long a failed token fetch answers for later callers too: the calls of one
/// request start in waves (batched check, then per-course checks), and each wave
/// would otherwise run the whole retry cycle against an LMS that just failed it.
const TOKEN_FAILURE_HOLD: Duration = Duration::from_secs(1);
/// Least time an attempt needs to be worth starting before the deadline.
const MIN_ATTEMPT: Duration = Duration::from_millis(50);
/// Longest `Retry-After` believed (DRF's per-minute throttles never ask for more).
const MAX_RETRY_AFTER: Duration = Duration::from_secs(120);

/// An HTTP answer reduced to what the endpoint files look at.
pub struct Reply {
    pub status: StatusCode,
    /// LMS answers are small JSON documents.
    pub body: Vec<u8>,
}

impl Reply {
    pub fn code(&self) -> u16 {
        self.status.as_u16()
    }

    /// The error for an answer the operation has no use for: 403 means the service
    /// user lacks permission, anything else is unexpected.
    pub fn unexpected(&self, operation: &'static str) -> LmsError {
        match self.code() {
            403 => LmsError::Forbidden {
                operation,
                status: 403,
            },
            status => LmsError::UnexpectedStatus { operation, status },
        }
    }

    pub fn body_contains(&self, needle: &str) -> bool {
        String::from_utf8_lossy(&self.body).contains(needle)
    }

    /// The `message` (or `detail`) field edx-platform puts in its error bodies.
    pub fn message(&self) -> String {
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

/// How one logical call is made.
#[derive(Debug, Clone, Copy)]
pub struct Call {
    pub operation: &'static str,
    /// Send the service user's JWT (a 401 refreshes it once, not counted as an attempt).
    pub authenticated: bool,
    /// Hold one of the `max_concurrency` permits while in flight (not while waiting).
    pub bounded: bool,
    /// Attempts on 429/502/503/504, timeouts and connection errors (1 = no retry).
    /// Every call made with more than one is idempotent: a read, or a write the LMS
    /// treats as "already done" on replay.
    pub attempts: Option<u32>,
}

impl Call {
    /// An authenticated, bounded call with the configured retries.
    pub const fn new(operation: &'static str) -> Call {
        Call {
            operation,
            authenticated: true,
            bounded: true,
            attempts: None,
        }
    }

    /// Without the JWT.
    pub const fn anonymous(self) -> Call {
        Call {
            authenticated: false,
            ..self
        }
    }

    /// One attempt only (a hint whose failure costs a fallback, not an error).
    pub const fn once(self) -> Call {
        Call {
            attempts: Some(1),
            ..self
        }
    }

    const fn unbounded(self) -> Call {
        Call {
            bounded: false,
            ..self
        }
    }
}

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

#[derive(Default)]
struct TokenState {
    cached: Option<CachedToken>,
    /// The last failed fetch: callers that queued behind it (or come within
    /// [`TOKEN_FAILURE_HOLD`]) share its error instead of each running the full retry
    /// cycle again.
    failure: Option<(Instant, LmsError)>,
    /// `preferred_username` of the last token (the DOT application's owner).
    username: Option<String>,
}

/// One outcome of an attempt, before the policy looks at it.
enum Attempt {
    Answer {
        status: StatusCode,
        retry_after: Option<String>,
        body: Vec<u8>,
    },
    Timeout,
    Connection(String),
}

/// What to do after an attempt: the whole retry policy of the LMS client.
#[derive(Debug, PartialEq, Eq)]
enum Step {
    Done,
    Wait(Duration),
    GiveUp(LmsError),
}

/// The policy: 2xx–4xx answers (but 429) are final; 429 waits what the LMS asks
/// (`Retry-After`, or the "Expected available in N seconds." of a body without the
/// header) if the deadline allows, else fails now as `Throttled`; 502/503/504,
/// timeouts and connection errors back off exponentially. Nothing waits past the
/// deadline or beyond the attempts.
fn next_step(
    operation: &'static str,
    attempt: u32,
    max_attempts: u32,
    policy: &RetryPolicy,
    outcome: &Attempt,
) -> Step {
    let last = attempt >= max_attempts;
    let (error, wait) = match outcome {
        Attempt::Answer {
            status,
            retry_after,
            body,
        } => match status.as_u16() {
            429 => {
                let asked = throttle_wait(retry_after.as_deref(), body);
                let error = LmsError::Throttled {
                    operation,
                    retry_after_secs: asked.map(|d| d.as_secs()),
                };
                match asked {
                    Some(wait) if wait <= MAX_RETRY_AFTER => (error, wait),
                    Some(_) => return Step::GiveUp(error),
                    None => (error, policy.backoff(attempt)),
                }
            }
            status @ (502..=504) => (
                LmsError::Unavailable {
                    operation,
                    status,
                    attempts: attempt,
                },
                policy.backoff(attempt),
            ),
            _ => return Step::Done,
        },
        Attempt::Timeout => (
            LmsError::Timeout {
                operation,
                attempts: attempt,
            },
            policy.backoff(attempt),
        ),
        Attempt::Connection(detail) => (
            LmsError::Connection {
                operation,
                attempts: attempt,
                detail: detail.clone(),
            },
            policy.backoff(attempt),
        ),
    };
    if last || !deadline::allows(wait, MIN_ATTEMPT) {
        return Step::GiveUp(error);
    }
    Step::Wait(wait)
}

/// How long a 429 asks us to wait: the `Retry-After` header (delta seconds), else the
/// DRF detail text "Expected available in N seconds." (the course API's
/// `DeveloperErrorViewMixin` drops the header but keeps the text).
pub fn throttle_wait(header: Option<&str>, body: &[u8]) -> Option<Duration> {
    if let Some(secs) = header.and_then(|h| h.trim().parse::<u64>().ok()) {
        return Some(Duration::from_secs(secs));
    }
    let text = String::from_utf8_lossy(body);
    let rest = text.split("Expected available in ").nth(1)?;
    let secs: String = rest.chars().take_while(char::is_ascii_digit).collect();
    secs.parse().ok().map(Duration::from_secs)
}

pub struct Transport {
    http: Client,
    config: OpenEdxConfig,
    credentials: Arc<SecretCache<SecretSource>>,
    token: Mutex<TokenState>,
    permits: Semaphore,
}

impl Transport {
    pub fn new(
        config: OpenEdxConfig,
        credentials: Arc<SecretCache<SecretSource>>,
    ) -> Result<Self, reqwest::Error> {
        let http = Client::builder()
            .connect_timeout(config.connect_timeout)
            .user_agent(concat!("edx-hooks/", env!("CARGO_PKG_VERSION")))
            .pool_idle_timeout(Duration::from_secs(50))
            // The JWT must never follow a redirect to another host; a redirect is
            // an unexpected answer (wrong base URL, http→https) for the operator.
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Transport {
            http,
            permits: Semaphore::new(config.max_concurrency.max(1)),
            config,
            credentials,
            token: Mutex::new(TokenState::default()),
        })
    }

    pub fn config(&self) -> &OpenEdxConfig {
        &self.config
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.config.base_url, path)
    }

    /// The service user's username: configured, else the `preferred_username` of the
    /// client-credentials token (the application's owner), fetching one if needed.
    pub async fn service_username(&self) -> Result<Option<String>, LmsError> {
        if let Some(name) = &self.config.service_username {
            return Ok(Some(name.clone()));
        }
        if let Some(name) = self.token.lock().await.username.clone() {
            return Ok(Some(name));
        }
        self.token().await?;
        Ok(self.token.lock().await.username.clone())
    }

    async fn credentials(&self, force: bool) -> Result<ClientCredentials, LmsError> {
        let fetched = match force {
            true => match self.credentials.force_refresh().await {
                Some(v) => Ok(v),
                None => self.credentials.get().await,
            },
            false => self.credentials.get().await,
        };
        let versions = fetched.map_err(|e| LmsError::Credentials(e.to_string()))?;
        let first = versions
            .first()
            .ok_or_else(|| LmsError::Credentials("empty secret".into()))?;
        serde_json::from_str(first).map_err(|_| {
            LmsError::Credentials(
                "secret must be JSON {\"client_id\": \"...\", \"client_secret\": \"...\"}".into(),
            )
        })
    }

    /// A valid access token, from cache when possible. One fetch at a time; callers
    /// that waited for a fetch that failed get its error.
    async fn token(&self) -> Result<Arc<str>, LmsError> {
        let asked = Instant::now();
        let mut state = self.token.lock().await;
        if let Some(token) = &state.cached {
            if Instant::now() < token.refresh_at {
                return Ok(token.value.clone());
            }
        }
        if let Some((failed_at, error)) = &state.failure {
            if *failed_at >= asked || failed_at.elapsed() < TOKEN_FAILURE_HOLD {
                return Err(error.clone());
            }
        }
        // Boxed: the fetch goes through `send`, which may ask for a token.
        let fetched = match Box::pin(self.fetch_token(false)).await {
            // The client secret may have been rotated since we cached it.
            Err(LmsError::Unauthorized { .. }) => Box::pin(self.fetch_token(true)).await,
            other => other,
        };
        match fetched {
            Ok((token, username)) => {
                let value = token.value.clone();
                state.cached = Some(token);
                state.failure = None;
                if username.is_some() {
                    state.username = username;
                }
                Ok(value)
            }
            Err(error) => {
                state.failure = Some((Instant::now(), error.clone()));
                Err(error)
            }
        }
    }

    async fn fetch_token(
        &self,
        force_credentials: bool,
    ) -> Result<(CachedToken, Option<String>), LmsError> {
        const CALL: Call = Call::new("oauth2_token").anonymous().unbounded();
        let creds = self.credentials(force_credentials).await?;
        let url = self.url("/oauth2/access_token");
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", creds.client_id.as_str()),
            ("client_secret", creds.client_secret.as_str()),
            ("token_type", "jwt"),
        ];
        let reply = self.send(CALL, |http| http.post(&url).form(&form)).await?;
        match reply.code() {
            200 => {
                let parsed = parse::parse_token(&reply.body).map_err(invalid(CALL.operation))?;
                let lifetime = parsed.lifetime.max(MIN_TOKEN_LIFETIME);
                let margin = self.config.token_refresh_margin.min(lifetime / 2);
                let username = jwt_username(&parsed.value);
                Ok((
                    CachedToken {
                        value: parsed.value.into(),
                        refresh_at: Instant::now() + lifetime - margin,
                    },
                    username,
                ))
            }
            status @ (400 | 401 | 403) => Err(LmsError::Unauthorized {
                operation: CALL.operation,
                status,
            }),
            status => Err(LmsError::UnexpectedStatus {
                operation: CALL.operation,
                status,
            }),
        }
    }

    /// Forget `stale` (if it is still the cached token) so the next call fetches anew.
    async fn invalidate_token(&self, stale: &Arc<str>) {
        let mut state = self.token.lock().await;
        if state
            .cached
            .as_ref()
            .is_some_and(|t| Arc::ptr_eq(&t.value, stale))
        {
            state.cached = None;
        }
    }

    /// Make one logical call: attempts, waits and token refresh as [`next_step`] says.
    pub async fn send(
        &self,
        call: Call,
        build: impl Fn(&Client) -> RequestBuilder,
    ) -> Result<Reply, LmsError> {
        let operation = call.operation;
        let policy = self.config.retry;
        let max_attempts = call.attempts.unwrap_or(policy.max_attempts).max(1);
        let mut attempt: u32 = 0;
        let mut refreshed_token = false;
        loop {
            attempt += 1;
            let Some(time_left) = self.attempt_budget() else {
                return Err(LmsError::DeadlineExceeded { operation });
            };
            let token = match call.authenticated {
                true => Some(self.token().await?),
                false => None,
            };
            let mut request = build(&self.http)
                .timeout(time_left)
                .header(ACCEPT, HeaderValue::from_static("application/json"));
            if let Some(token) = &token {
                request = request.header(AUTHORIZATION, format!("JWT {token}"));
            }
            let permit = match call.bounded {
                // The semaphore is never closed, so acquire cannot fail.
                true => self.permits.acquire().await.ok(),
                false => None,
            };
            let outcome = match request.send().await {
                Ok(response) => {
                    let status = response.status();
                    let retry_after = response
                        .headers()
                        .get(RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned);
                    match response.bytes().await {
                        Ok(body) => Attempt::Answer {
                            status,
                            retry_after,
                            body: body.to_vec(),
                        },
                        Err(e) => attempt_error(e),
                    }
                }
                Err(e) => attempt_error(e),
            };
            drop(permit);

            if let (Attempt::Answer { status, .. }, Some(stale)) = (&outcome, &token) {
                if *status == StatusCode::UNAUTHORIZED {
                    if refreshed_token {
                        return Err(LmsError::Unauthorized {
                            operation,
                            status: 401,
                        });
                    }
                    tracing::info!(
                        operation,
                        "LMS refused the cached token; fetching a new one"
                    );
                    refreshed_token = true;
                    self.invalidate_token(stale).await;
                    attempt -= 1;
                    continue;
                }
            }
            match next_step(operation, attempt, max_attempts, &policy, &outcome) {
                Step::Done => {
                    let Attempt::Answer { status, body, .. } = outcome else {
                        unreachable!("only answers are done")
                    };
                    return Ok(Reply { status, body });
                }
                Step::GiveUp(error) => {
                    if let LmsError::Throttled { .. } = error {
                        tracing::warn!(operation, error = %error, "LMS throttled the service user");
                    }
                    return Err(error);
                }
                Step::Wait(wait) => {
                    tracing::debug!(
                        operation,
                        attempt,
                        wait_ms = wait.as_millis() as u64,
                        "retrying LMS call"
                    );
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    /// The timeout of the next attempt: the configured one, cut to what is left before
    /// the deadline; `None` when too little is left to try.
    fn attempt_budget(&self) -> Option<Duration> {
        match deadline::remaining() {
            None => Some(self.config.request_timeout),
            Some(left) if left < MIN_ATTEMPT => None,
            Some(left) => Some(self.config.request_timeout.min(left)),
        }
    }
}

/// A transport error, without its URL: the URL of an accounts lookup carries the
/// learner's email (`?email=`), and the error text reaches logs.
fn attempt_error(error: reqwest::Error) -> Attempt {
    if error.is_timeout() {
        Attempt::Timeout
    } else {
        Attempt::Connection(error.without_url().to_string())
    }
}

/// Percent-encode a course key for use in a URL path. Keys are validated before
/// they get here; the characters edx-platform's URL patterns expect (`:` `+` `/`
/// `@` `~` `.` `-` `_`) stay literal, anything else (e.g. Unicode letters) is encoded.
pub fn encode_path(value: &str) -> String {
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

/// A parse failure of `operation`'s answer.
pub fn invalid(operation: &'static str) -> impl Fn(ParseError) -> LmsError {
    move |e| LmsError::InvalidResponse {
        operation,
        detail: e.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn throttle_wait_from_header_or_drf_text() {
        // As the real LMS answered (openedx-platform master 2025-11, production throttles).
        assert_eq!(
            throttle_wait(
                Some("41"),
                br#"{"detail":"Request was throttled. Expected available in 41 seconds."}"#
            ),
            Some(Duration::from_secs(41))
        );
        assert_eq!(
            throttle_wait(None, br#"{"developer_message":"Request was throttled. Expected available in 42 seconds."}"#),
            Some(Duration::from_secs(42))
        );
        assert_eq!(throttle_wait(None, b"{}"), None);
    }

    fn answer(status: u16, retry_after: Option<&str>) -> Attempt {
        Attempt::Answer {
            status: StatusCode::from_u16(status).unwrap(),
            retry_after: retry_after.map(str::to_owned),
            body: Vec::new(),
        }
    }

    #[tokio::test]
    async fn the_policy_in_one_table() {
        let p = RetryPolicy::default();
        assert_eq!(next_step("op", 1, 3, &p, &answer(200, None)), Step::Done);
        assert_eq!(next_step("op", 1, 3, &p, &answer(400, None)), Step::Done);
        assert!(matches!(
            next_step("op", 1, 3, &p, &answer(503, None)),
            Step::Wait(_)
        ));
        assert!(matches!(
            next_step("op", 3, 3, &p, &answer(503, None)),
            Step::GiveUp(LmsError::Unavailable { status: 503, .. })
        ));
        assert!(matches!(
            next_step("op", 1, 3, &p, &Attempt::Timeout),
            Step::Wait(_)
        ));
        // 429: the LMS's wait, without a deadline...
        assert_eq!(
            next_step("op", 1, 3, &p, &answer(429, Some("41"))),
            Step::Wait(Duration::from_secs(41))
        );
        // ...but not past the deadline: fail now, saying so.
        let soon = Instant::now() + Duration::from_secs(10);
        deadline::with_deadline(soon, async {
            assert_eq!(
                next_step("op", 1, 3, &p, &answer(429, Some("41"))),
                Step::GiveUp(LmsError::Throttled {
                    operation: "op",
                    retry_after_secs: Some(41)
                })
            );
            assert_eq!(
                next_step("op", 1, 3, &p, &answer(429, Some("2"))),
                Step::Wait(Duration::from_secs(2))
            );
        })
        .await;
    }
}
