//! Open edX client settings, read once per cold start.

use std::time::Duration;

use super::retry::RetryPolicy;

/// Local-run default: the LMS emulator started by `scripts/run-local`.
pub const LOCAL_LMS_URL: &str = "http://127.0.0.1:8300";
/// Local-run default OAuth2 client known to the LMS emulator (not a real credential).
pub const LOCAL_CLIENT_ID: &str = "edx-hooks-local";
pub const LOCAL_CLIENT_SECRET: &str = "edx-hooks-local-secret";

/// Which REST endpoint creates enrollment allowances.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AllowanceApi {
    /// `EnrollmentAllowedView` at `/api/enrollment/v1/enrollment_allowed/`
    /// (Quince through Teak; deprecated on master by ADR 0028).
    Legacy,
    /// The `EnrollmentViewSet` action that replaces it on master.
    ViewSet,
    /// Legacy first; if the LMS answers 404 for it, switch to the view set for
    /// the rest of this process's life.
    Auto,
}

impl AllowanceApi {
    pub fn parse(value: &str) -> Option<Self> {
        match value.trim().to_ascii_lowercase().as_str() {
            "legacy" => Some(AllowanceApi::Legacy),
            "viewset" => Some(AllowanceApi::ViewSet),
            "auto" | "" => Some(AllowanceApi::Auto),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct OpenEdxConfig {
    /// e.g. `https://lms.example.com` (no trailing slash needed).
    pub base_url: String,
    /// Per-attempt timeout of one HTTP call.
    pub request_timeout: Duration,
    pub connect_timeout: Duration,
    pub retry: RetryPolicy,
    /// Most LMS calls in flight at once from this process (token calls excluded).
    pub max_concurrency: usize,
    /// Send `force_enrollment: true` so closed enrollment windows do not block us,
    /// like the plugin's `check_access=False` (honoured for global staff only).
    pub force_enrollment: bool,
    pub allowance_api: AllowanceApi,
    /// Refresh the OAuth2 token this long before it expires (capped at half its life).
    pub token_refresh_margin: Duration,
    /// Username of the service user, passed to the course API so visibility is
    /// evaluated for it (staff) rather than for an anonymous user.
    pub service_username: Option<String>,
    /// Ask the course list API once for every course of a request
    /// (`?course_keys=a,b,…`) before checking the rest one by one.
    pub batch_course_check: bool,
}

impl Default for OpenEdxConfig {
    fn default() -> Self {
        OpenEdxConfig {
            base_url: "http://127.0.0.1:8300".into(),
            request_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(2),
            retry: RetryPolicy::default(),
            max_concurrency: 8,
            force_enrollment: true,
            allowance_api: AllowanceApi::Auto,
            token_refresh_margin: Duration::from_secs(60),
            service_username: None,
            batch_course_check: true,
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("invalid configuration {name}={value:?}: {reason}")]
pub struct ConfigError {
    pub name: &'static str,
    pub value: String,
    pub reason: &'static str,
}

/// `name` as a number; unset or blank = `None`, anything else unparsable an error.
pub fn env_parse<T: std::str::FromStr>(name: &'static str) -> Result<Option<T>, ConfigError> {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => v.trim().parse::<T>().map(Some).map_err(|_| ConfigError {
            name,
            value: v,
            reason: "not a valid number",
        }),
        _ => Ok(None),
    }
}

/// `name` as a boolean (`1/true/yes`, `0/false/no`); unset or blank = `None`.
pub fn env_bool(name: &'static str) -> Result<Option<bool>, ConfigError> {
    match std::env::var(name) {
        Ok(v) => match v.trim().to_ascii_lowercase().as_str() {
            "" => Ok(None),
            "1" | "true" | "yes" => Ok(Some(true)),
            "0" | "false" | "no" => Ok(Some(false)),
            _ => Err(ConfigError {
                name,
                value: v,
                reason: "expected true or false",
            }),
        },
        Err(_) => Ok(None),
    }
}

/// The LMS URL carries the service user's JWT: https, except on loopback (local runs
/// and tests), and no credentials, query or fragment in it.
pub fn check_base_url(url: &str) -> Result<(), ConfigError> {
    let refuse = |reason: &'static str| ConfigError {
        name: "OPENEDX_BASE_URL",
        value: url.to_owned(),
        reason,
    };
    let parsed = reqwest::Url::parse(url).map_err(|_| refuse("not an absolute URL"))?;
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(refuse("must not contain credentials"));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(refuse("must not contain a query or fragment"));
    }
    let host = parsed.host_str().ok_or_else(|| refuse("has no host"))?;
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        _ => Err(refuse("must be https (http only on loopback)")),
    }
}

impl OpenEdxConfig {
    /// Read `OPENEDX_*` variables; anything unset keeps its default.
    pub fn from_env(default_base_url: &str) -> Result<Self, ConfigError> {
        let mut c = OpenEdxConfig {
            base_url: std::env::var("OPENEDX_BASE_URL")
                .ok()
                .filter(|v| !v.trim().is_empty())
                .unwrap_or_else(|| default_base_url.to_owned()),
            ..OpenEdxConfig::default()
        };
        c.base_url = c.base_url.trim().trim_end_matches('/').to_owned();
        check_base_url(&c.base_url)?;
        if let Some(ms) = env_parse::<u64>("OPENEDX_TIMEOUT_MS")? {
            c.request_timeout = Duration::from_millis(ms);
        }
        if let Some(n) = env_parse::<u32>("OPENEDX_MAX_ATTEMPTS")? {
            c.retry.max_attempts = n.max(1);
        }
        if let Some(n) = env_parse::<usize>("OPENEDX_MAX_CONCURRENCY")? {
            c.max_concurrency = n.max(1);
        }
        if let Ok(mode) = std::env::var("OPENEDX_ENROLLMENT_MODE") {
            if !mode.trim().is_empty() {
                // It applied one mode to every course and to existing enrollments
                // (downgrading verified learners); refuse it rather than guess.
                return Err(ConfigError {
                    name: "OPENEDX_ENROLLMENT_MODE",
                    value: mode,
                    reason: "replaced by OPENEDX_ENROLLMENT_MODES (preference list) and OPENEDX_COURSE_MODES (per-course map)",
                });
            }
        }
        if let Some(v) = env_bool("OPENEDX_FORCE_ENROLLMENT")? {
            c.force_enrollment = v;
        }
        if let Some(v) = env_bool("OPENEDX_BATCH_COURSE_CHECK")? {
            c.batch_course_check = v;
        }
        if let Ok(v) = std::env::var("OPENEDX_ALLOWANCE_API") {
            c.allowance_api = AllowanceApi::parse(&v).ok_or(ConfigError {
                name: "OPENEDX_ALLOWANCE_API",
                value: v.clone(),
                reason: "expected legacy, viewset or auto",
            })?;
        }
        if let Ok(v) = std::env::var("OPENEDX_SERVICE_USERNAME") {
            let v = v.trim().to_owned();
            c.service_username = (!v.is_empty()).then_some(v);
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::check_base_url;

    #[test]
    fn the_lms_url_is_https_except_on_loopback() {
        for ok in [
            "https://lms.example.com",
            "http://127.0.0.1:8300",
            "http://localhost:18000",
            "http://[::1]:8000",
        ] {
            assert!(check_base_url(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://lms.example.com",
            "https://user:pw@lms.example.com",
            "https://lms.example.com/?x=1",
            "lms.example.com",
            "ftp://127.0.0.1",
        ] {
            assert!(check_base_url(bad).is_err(), "{bad}");
        }
    }
}
