//! Richie's course-runs-sync API, as a sender sees it.
//!
//! Contract (openfun/richie `src/richie/apps/courses/api.py`
//! `sync_course_runs_from_request`, measured on richie 3.5.1):
//! * `POST {richie}/api/v1.0/course-runs-sync/`, JSON body: one course-run object, or a
//!   list of them.
//! * `Authorization: SIG-HMAC-SHA256 <lowercase hex HMAC-SHA256(secret, raw body)>`,
//!   compared with `hmac.compare_digest` on the whole header against every secret in
//!   `RICHIE_COURSE_RUN_SYNC_SECRETS`. Missing header → 403 `"Missing authentication."`,
//!   mismatch → 401 `"Invalid authentication."`. So the body is serialised once and those
//!   exact bytes are both signed and sent ([`RichieClient`] never re-serialises).
//! * Object → 200 `{"success": true}` or 400 `{field: [messages]}`.
//! * List → 200 when every item synced, else 400 with a map `{resource_link: {"success":
//!   true} | {field: [messages]}}`; the successful items are committed anyway. A list item
//!   without `resource_link` → 400 `{"resource_link": ["This field is required."]}` and
//!   nothing is processed.
//! * Re-sending a payload is harmless (updates are idempotent), so 5xx and timeouts are
//!   safe to retry — Richie may even answer 500 *after* committing (Elasticsearch down).
//!
//! [`RichieApi`] is the port the forwarder delivers through; [`RichieClient`] is the
//! reqwest adapter. [`RichieTarget`]s come from a JSON document (a Secrets Manager
//! secret or an environment variable), see [`parse_targets`]. What each answer means
//! (status + body → [`RichieAnswer`] / [`RichieError`]) is decided by the pure
//! [`crate::richie_answer::interpret`], which the `richie_response` fuzz target exercises.

use std::fmt;
use std::future::Future;
use std::time::Duration;

use reqwest::header::{HeaderName, HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use reqwest::{Client, StatusCode, Url};
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::Semaphore;

use crate::openedx::retry::RetryPolicy;
pub use crate::richie_answer::{
    classify_bad_request, error_message, interpret, RichieAnswer, RichieError,
};
use crate::signature::richie_authorization;

/// Default per-request timeout (richie-openedx-sync ≥ 1.3 uses 20 s; we keep a Lambda
/// behind an API Gateway that gives up after 30 s, so less).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Where the signature goes when `basic_auth` takes the `Authorization` header: the
/// reverse proxy in front of Richie checks the basic credentials and then copies this
/// header into `Authorization` (see the forwarder's README).
pub const DEFAULT_PROXIED_SIGNATURE_HEADER: &str = "x-richie-authorization";

/// HTTP basic credentials for a Richie behind a proxy that requires them.
#[derive(Clone, PartialEq, Eq)]
pub struct BasicAuth {
    pub username: String,
    pub password: String,
}

impl fmt::Debug for BasicAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BasicAuth")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// One Richie site to deliver to.
#[derive(Clone, PartialEq, Eq)]
pub struct RichieTarget {
    /// Short label for logs and metrics: `name`, else the URL's host.
    pub name: String,
    /// The course-runs-sync URL, without any userinfo.
    pub url: Url,
    pub secret: String,
    pub timeout: Duration,
    pub basic_auth: Option<BasicAuth>,
    /// Header carrying `SIG-HMAC-SHA256 …` when `basic_auth` is set.
    pub signature_header: HeaderName,
    /// Only course runs of these organisations (case-insensitive); `None` = every run.
    pub orgs: Option<Vec<String>>,
    /// Per-target `resource_link` template (`{lms_host}`, `{course_id}`), like
    /// richie-openedx-sync's per-hook `resource_link_template`.
    pub resource_link_template: Option<String>,
}

impl fmt::Debug for RichieTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RichieTarget")
            .field("name", &self.name)
            .field("url", &self.url.as_str())
            .field("secret", &"<redacted>")
            .field("timeout", &self.timeout)
            .field("basic_auth", &self.basic_auth)
            .field("orgs", &self.orgs)
            .field("resource_link_template", &self.resource_link_template)
            .finish()
    }
}

impl RichieTarget {
    /// A target with defaults (tests, benches).
    pub fn new(url: &str, secret: &str) -> Result<Self, TargetsError> {
        let raw = RawTarget {
            url: url.to_owned(),
            secret: secret.to_owned(),
            name: None,
            timeout_ms: None,
            timeout: None,
            basic_auth: None,
            signature_header: None,
            orgs: None,
            resource_link_template: None,
        };
        raw.into_target(0)
    }

    /// Does this target want runs of `org`?
    pub fn accepts_org(&self, org: &str) -> bool {
        match &self.orgs {
            None => true,
            Some(orgs) => orgs.iter().any(|o| o.eq_ignore_ascii_case(org)),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetsError {
    #[error("Richie targets are not valid JSON: {0}")]
    Json(String),
    #[error("Richie target #{index}: {reason}")]
    Invalid { index: usize, reason: String },
    #[error("no Richie target is configured")]
    Empty,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBasicAuth {
    username: String,
    password: String,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Seconds {
    Number(f64),
    Text(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTarget {
    url: String,
    secret: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    timeout_ms: Option<u64>,
    /// Seconds, as in richie-openedx-sync's `RICHIE_OPENEDX_SYNC_COURSE_HOOKS` (`int()`-coerced there).
    #[serde(default)]
    timeout: Option<Seconds>,
    #[serde(default)]
    basic_auth: Option<RawBasicAuth>,
    #[serde(default)]
    signature_header: Option<String>,
    #[serde(default)]
    orgs: Option<Vec<String>>,
    #[serde(default)]
    resource_link_template: Option<String>,
}

fn percent_decode(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let text = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(text, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

impl RawTarget {
    fn into_target(self, index: usize) -> Result<RichieTarget, TargetsError> {
        let invalid = |reason: &str| TargetsError::Invalid {
            index,
            reason: reason.to_owned(),
        };
        // Never echo the URL in errors: it may carry credentials.
        let mut url = Url::parse(self.url.trim()).map_err(|_| invalid("url is not a valid URL"))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(invalid("url must be an http(s) URL"));
        }
        if self.secret.is_empty() {
            return Err(invalid("secret must not be empty"));
        }
        // Credentials in the URL are basic auth; take them out so no HTTP client turns
        // them into a second Authorization header behind our back.
        let mut basic_auth = self.basic_auth.map(|b| BasicAuth {
            username: b.username,
            password: b.password,
        });
        if !url.username().is_empty() || url.password().is_some() {
            if basic_auth.is_some() {
                return Err(invalid(
                    "give basic auth either in the url or in basic_auth, not both",
                ));
            }
            let username = percent_decode(url.username())
                .ok_or_else(|| invalid("url username is not UTF-8"))?;
            let password = percent_decode(url.password().unwrap_or(""))
                .ok_or_else(|| invalid("url password is not UTF-8"))?;
            basic_auth = Some(BasicAuth { username, password });
            url.set_username("")
                .map_err(|_| invalid("url cannot carry credentials"))?;
            url.set_password(None)
                .map_err(|_| invalid("url cannot carry credentials"))?;
        }
        let timeout = match (self.timeout_ms, self.timeout) {
            (Some(ms), _) => Duration::from_millis(ms),
            (None, Some(Seconds::Number(s))) if s.is_finite() && s > 0.0 => {
                Duration::from_secs_f64(s)
            }
            (None, Some(Seconds::Text(s))) => {
                let secs: u64 = s
                    .trim()
                    .parse()
                    .map_err(|_| invalid("timeout must be a number of seconds"))?;
                Duration::from_secs(secs)
            }
            (None, Some(Seconds::Number(_))) => return Err(invalid("timeout must be positive")),
            (None, None) => DEFAULT_TIMEOUT,
        };
        if timeout.is_zero() {
            return Err(invalid("timeout must be positive"));
        }
        let signature_header = match self.signature_header.as_deref().map(str::trim) {
            None | Some("") => {
                if basic_auth.is_some() {
                    HeaderName::from_static(DEFAULT_PROXIED_SIGNATURE_HEADER)
                } else {
                    AUTHORIZATION
                }
            }
            Some(name) => HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| invalid("signature_header is not a header name"))?,
        };
        if basic_auth.is_some() && signature_header == AUTHORIZATION {
            return Err(invalid(
                "basic_auth and the signature cannot share the Authorization header; set signature_header",
            ));
        }
        let orgs = match self.orgs {
            Some(list) if list.iter().any(|o| o.trim().is_empty()) => {
                return Err(invalid("orgs must not hold empty names"))
            }
            Some(list) if list.is_empty() => {
                return Err(invalid("orgs must not be empty (omit it for every org)"))
            }
            other => other.map(|l| l.into_iter().map(|o| o.trim().to_owned()).collect()),
        };
        if let Some(template) = &self.resource_link_template {
            if !template.contains("{course_id}") {
                return Err(invalid("resource_link_template must contain {course_id}"));
            }
        }
        let name = self
            .name
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| url.host_str().unwrap_or("richie").to_owned());
        Ok(RichieTarget {
            name,
            url,
            secret: self.secret,
            timeout,
            basic_auth,
            signature_header,
            orgs,
            resource_link_template: self.resource_link_template,
        })
    }
}

/// Parse the targets document: a JSON list of
/// `{url, secret, timeout_ms?, timeout? (seconds), basic_auth?: {username, password},
///   signature_header?, orgs?: [..], name?, resource_link_template?}`, or the same list
/// under `{"targets": [...]}`. Unknown keys are errors (a typo must not silently
/// disable a setting). An empty list is [`TargetsError::Empty`].
pub fn parse_targets(document: &str) -> Result<Vec<RichieTarget>, TargetsError> {
    // serde's messages quote offending values; keep only those that name a field.
    let safe = |e: serde_json::Error| {
        let text = e.to_string();
        if text.starts_with("unknown field") || text.starts_with("missing field") {
            text
        } else {
            format!(
                "a field has the wrong type or value (line {}, column {})",
                e.line(),
                e.column()
            )
        }
    };
    let value: Value = serde_json::from_str(document)
        .map_err(|e| TargetsError::Json(format!("line {}, column {}", e.line(), e.column())))?;
    let list = match value {
        Value::Array(items) => items,
        Value::Object(mut map) => match map.remove("targets") {
            Some(Value::Array(items)) => items,
            _ => {
                return Err(TargetsError::Json(
                    "expected a list, or {\"targets\": [...]}".into(),
                ))
            }
        },
        _ => {
            return Err(TargetsError::Json(
                "expected a list, or {\"targets\": [...]}".into(),
            ))
        }
    };
    if list.is_empty() {
        return Err(TargetsError::Empty);
    }
    list.into_iter()
        .enumerate()
        .map(|(index, item)| {
            let raw: RawTarget =
                serde_json::from_value(item).map_err(|e| TargetsError::Invalid {
                    index,
                    reason: safe(e),
                })?;
            raw.into_target(index)
        })
        .collect()
}

/// The port: deliver one serialised body to one target.
pub trait RichieApi: Send + Sync {
    /// POST `body` (exactly these bytes, signed) to `target`.
    fn deliver(
        &self,
        target: &RichieTarget,
        body: Vec<u8>,
    ) -> impl Future<Output = Result<RichieAnswer, RichieError>> + Send;
}

/// Settings of the reqwest adapter.
#[derive(Debug, Clone)]
pub struct RichieClientConfig {
    /// Most requests in flight to all Richie targets together, from this process.
    pub max_concurrency: usize,
    pub connect_timeout: Duration,
    /// In-process retries of 429/502/503/504, timeouts and connection errors (safe:
    /// syncing is idempotent). Further retries are the caller's (SQS, Lambda).
    pub retry: RetryPolicy,
}

impl Default for RichieClientConfig {
    fn default() -> Self {
        RichieClientConfig {
            max_concurrency: 4,
            connect_timeout: Duration::from_secs(3),
            retry: RetryPolicy {
                max_attempts: 2,
                ..RetryPolicy::default()
            },
        }
    }
}

/// The reqwest adapter of [`RichieApi`].
pub struct RichieClient {
    http: Client,
    permits: Semaphore,
    retry: RetryPolicy,
}

impl RichieClient {
    pub fn new(config: RichieClientConfig) -> Result<Self, reqwest::Error> {
        let http = Client::builder()
            .connect_timeout(config.connect_timeout)
            .user_agent(concat!("edx-hooks-course-sync/", env!("CARGO_PKG_VERSION")))
            .pool_idle_timeout(Duration::from_secs(50))
            // Richie answers 30x only when misconfigured; following a redirect would
            // drop or re-send the signature to another place.
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(RichieClient {
            http,
            permits: Semaphore::new(config.max_concurrency.max(1)),
            retry: config.retry,
        })
    }

    async fn attempt(
        &self,
        target: &RichieTarget,
        body: &[u8],
        signature: &str,
    ) -> Result<(StatusCode, Option<String>, Vec<u8>), reqwest::Error> {
        let mut request = self
            .http
            .post(target.url.clone())
            .timeout(target.timeout)
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            // Without it DRF may answer errors as browsable-API HTML.
            .header(ACCEPT, HeaderValue::from_static("application/json"));
        if let Some(auth) = &target.basic_auth {
            request = request.basic_auth(&auth.username, Some(&auth.password));
        }
        let mut value =
            HeaderValue::from_str(signature).unwrap_or_else(|_| HeaderValue::from_static(""));
        value.set_sensitive(true);
        request = request
            .header(target.signature_header.clone(), value)
            .body(body.to_vec());
        // The semaphore is never closed, so acquire cannot fail.
        let _permit = self.permits.acquire().await.ok();
        let response = request.send().await?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = response.bytes().await?.to_vec();
        Ok((status, retry_after, bytes))
    }
}

impl RichieApi for RichieClient {
    async fn deliver(
        &self,
        target: &RichieTarget,
        body: Vec<u8>,
    ) -> Result<RichieAnswer, RichieError> {
        let signature = richie_authorization(target.secret.as_bytes(), &body);
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let wait = match self.attempt(target, &body, &signature).await {
                Ok((status, retry_after, reply)) => {
                    match interpret(status.as_u16(), &reply, attempt) {
                        Err(error @ RichieError::Unavailable { .. }) => {
                            if attempt >= self.retry.max_attempts {
                                return Err(error);
                            }
                            match self.retry.retry_after(retry_after.as_deref()) {
                                None => return Err(error),
                                Some(Some(wait)) => wait,
                                Some(None) => self.retry.backoff(attempt),
                            }
                        }
                        outcome => return outcome,
                    }
                }
                Err(err) => {
                    let error = if err.is_timeout() {
                        RichieError::Timeout { attempts: attempt }
                    } else {
                        // reqwest's Display names the URL: ours never carries credentials.
                        RichieError::Connection {
                            attempts: attempt,
                            detail: err.to_string(),
                        }
                    };
                    if attempt >= self.retry.max_attempts {
                        return Err(error);
                    }
                    self.retry.backoff(attempt)
                }
            };
            tracing::debug!(target_name = %target.name, attempt, wait_ms = wait.as_millis() as u64, "retrying Richie call");
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_list_and_wrapped_forms() {
        let list = parse_targets(
            r#"[{"url": "https://richie.example.com/api/v1.0/course-runs-sync/", "secret": "s"}]"#,
        )
        .unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].name, "richie.example.com");
        assert_eq!(list[0].timeout, DEFAULT_TIMEOUT);
        assert_eq!(list[0].signature_header, AUTHORIZATION);
        let wrapped = parse_targets(
            r#"{"targets": [{"url": "http://a/x", "secret": "s", "timeout_ms": 1500, "orgs": ["edX"], "name": "a"},
                            {"url": "http://b/x", "secret": "t", "timeout": "6"}]}"#,
        )
        .unwrap();
        assert_eq!(wrapped[0].timeout, Duration::from_millis(1500));
        assert!(wrapped[0].accepts_org("EDX"));
        assert!(!wrapped[0].accepts_org("Other"));
        assert!(wrapped[1].accepts_org("Other"));
        assert_eq!(wrapped[1].timeout, Duration::from_secs(6));
        assert_eq!(
            parse_targets(r#"{"targets": []}"#),
            Err(TargetsError::Empty)
        );
    }

    #[test]
    fn invalid_targets_are_rejected_without_echoing_secrets() {
        for (doc, needle) in [
            (r#"[{"url": "ftp://a/x", "secret": "s"}]"#, "http(s)"),
            (r#"[{"url": "http://a/x", "secret": ""}]"#, "secret"),
            (
                r#"[{"url": "http://a/x", "secret": "s", "secrets": ["x"]}]"#,
                "unknown field",
            ),
            (
                r#"[{"url": "http://a/x", "secret": "s", "orgs": []}]"#,
                "orgs",
            ),
            (
                r#"[{"url": "http://a/x", "secret": "s", "basic_auth": {"username": "u", "password": "p"}, "signature_header": "Authorization"}]"#,
                "cannot share",
            ),
            (
                r#"[{"url": "http://u:p@a/x", "secret": "s", "basic_auth": {"username": "u", "password": "p"}}]"#,
                "not both",
            ),
            (
                r#"[{"url": "http://a/x", "secret": "s", "resource_link_template": "https://x/"}]"#,
                "{course_id}",
            ),
        ] {
            let err = parse_targets(doc).unwrap_err().to_string();
            assert!(err.contains(needle), "{doc}: {err}");
        }
        for doc in [
            r#"[{"url": "not a url with p4ssw0rd", "secret": "s"}]"#,
            r#"[{"url": "http://a/x", "secret": ["p4ssw0rd"]}]"#,
            r#"[{"url": "http://a/x", "secret": "s", "timeout_ms": "p4ssw0rd"}]"#,
            r#"{"targets": [{"url": "http://a/x", "secret": "p4ssw0rd"}"#,
        ] {
            let err = parse_targets(doc).unwrap_err().to_string();
            assert!(!err.contains("p4ssw0rd"), "{err}");
        }
    }

    #[test]
    fn url_credentials_become_basic_auth_and_leave_the_url() {
        let t = parse_targets(r#"[{"url": "https://bob:s%40cret@richie.example.com/api/v1.0/course-runs-sync/", "secret": "s"}]"#)
            .unwrap()
            .remove(0);
        assert_eq!(
            t.url.as_str(),
            "https://richie.example.com/api/v1.0/course-runs-sync/"
        );
        assert_eq!(
            t.basic_auth,
            Some(BasicAuth {
                username: "bob".into(),
                password: "s@cret".into()
            })
        );
        assert_eq!(
            t.signature_header.as_str(),
            DEFAULT_PROXIED_SIGNATURE_HEADER
        );
        let debug = format!("{t:?}");
        assert!(
            !debug.contains("s@cret") && !debug.contains("\"s\""),
            "{debug}"
        );
    }
}
