//! Secrets: where they come from (AWS Secrets Manager, or the environment for local
//! runs) and how long we keep them (a TTL cache that survives warm invocations).
//!
//! A secret may have several valid versions at once: during a rotation the
//! `AWSPENDING` version is accepted beside `AWSCURRENT`, and a value may itself be a
//! list (`{"secrets": ["current", "previous"]}`) so senders can switch at their own
//! pace. Consumers get every valid version and decide what to do with them.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_secretsmanager::error::ProvideErrorMetadata;
use tokio::sync::Mutex;

/// Default time a fetched secret is trusted before it is fetched again.
pub const DEFAULT_TTL: Duration = Duration::from_secs(300);
/// Minimum time between two forced refreshes (after a signature mismatch), so a
/// flood of forged requests cannot turn into a flood of Secrets Manager calls.
pub const DEFAULT_MIN_FORCED_REFRESH: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, thiserror::Error)]
pub enum SecretError {
    #[error("secret {secret_id} could not be read from Secrets Manager: {code}")]
    Fetch { secret_id: String, code: String },
    #[error("secret {secret_id} has no string value")]
    NotAString { secret_id: String },
    #[error("secret is not configured: {0}")]
    NotConfigured(String),
    #[error("secret value is malformed: {0}")]
    Malformed(String),
}

/// The port: something that can produce the current versions of one secret.
pub trait SecretFetcher: Send + Sync + 'static {
    /// Every currently valid version of the secret's string value, newest first.
    fn fetch(&self) -> impl Future<Output = Result<Vec<String>, SecretError>> + Send;
    /// A short name for logs (never the value).
    fn describe(&self) -> String;
}

/// Fixed values, for local runs and tests (e.g. from `LERNITO_WEBHOOK_SECRET`).
#[derive(Debug, Clone)]
pub struct StaticSecret {
    name: String,
    values: Vec<String>,
}

impl StaticSecret {
    pub fn new(name: impl Into<String>, values: Vec<String>) -> Self {
        StaticSecret {
            name: name.into(),
            values,
        }
    }

    /// Read a comma-separated list from an environment variable; empty entries are
    /// dropped. An unset variable yields no values (the caller decides if that is fatal).
    pub fn from_env_list(var: &str) -> Self {
        let values = std::env::var(var)
            .ok()
            .map(|v| split_list(&v))
            .unwrap_or_default();
        StaticSecret::new(format!("env:{var}"), values)
    }
}

fn split_list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

impl SecretFetcher for StaticSecret {
    async fn fetch(&self) -> Result<Vec<String>, SecretError> {
        if self.values.is_empty() {
            return Err(SecretError::NotConfigured(self.name.clone()));
        }
        Ok(self.values.clone())
    }

    fn describe(&self) -> String {
        self.name.clone()
    }
}

/// AWS Secrets Manager, through the real SDK. Reads `AWSCURRENT` and, when the
/// secret is being rotated, `AWSPENDING`.
#[derive(Debug, Clone)]
pub struct SecretsManagerSecret {
    client: aws_sdk_secretsmanager::Client,
    secret_id: String,
    include_pending: bool,
}

impl SecretsManagerSecret {
    pub fn new(client: aws_sdk_secretsmanager::Client, secret_id: impl Into<String>) -> Self {
        SecretsManagerSecret {
            client,
            secret_id: secret_id.into(),
            include_pending: true,
        }
    }

    /// Only `AWSCURRENT` (for credentials we send, where a pending value is useless).
    pub fn current_only(mut self) -> Self {
        self.include_pending = false;
        self
    }

    async fn stage(&self, stage: &str) -> Result<Option<String>, SecretError> {
        let result = self
            .client
            .get_secret_value()
            .secret_id(&self.secret_id)
            .version_stage(stage)
            .send()
            .await;
        match result {
            Ok(output) => match output.secret_string {
                Some(value) => Ok(Some(value)),
                None => Err(SecretError::NotAString {
                    secret_id: self.secret_id.clone(),
                }),
            },
            Err(err) => {
                let code = err.code().unwrap_or("unknown").to_owned();
                if stage != "AWSCURRENT" && code == "ResourceNotFoundException" {
                    // No version carries this stage: no rotation in progress.
                    return Ok(None);
                }
                let code = if code == "unknown" {
                    format!("{err}")
                } else {
                    code
                };
                Err(SecretError::Fetch {
                    secret_id: self.secret_id.clone(),
                    code,
                })
            }
        }
    }
}

impl SecretFetcher for SecretsManagerSecret {
    async fn fetch(&self) -> Result<Vec<String>, SecretError> {
        let current = self
            .stage("AWSCURRENT")
            .await?
            .ok_or_else(|| SecretError::NotAString {
                secret_id: self.secret_id.clone(),
            })?;
        let mut values = vec![current];
        if self.include_pending {
            match self.stage("AWSPENDING").await {
                Ok(Some(pending)) if !values.contains(&pending) => values.push(pending),
                Ok(_) => {}
                Err(err) => {
                    // The current value is enough to keep working.
                    tracing::warn!(secret = %self.secret_id, error = %err, "could not read AWSPENDING version");
                }
            }
        }
        Ok(values)
    }

    fn describe(&self) -> String {
        format!("secretsmanager:{}", self.secret_id)
    }
}

/// Build a Secrets Manager client from the standard AWS environment
/// (`AWS_REGION`, credentials chain, `AWS_ENDPOINT_URL` for moto/local endpoints).
pub async fn secrets_manager_client() -> aws_sdk_secretsmanager::Client {
    let config = aws_config::load_from_env().await;
    aws_sdk_secretsmanager::Client::new(&config)
}

struct CacheState {
    values: Option<Arc<Vec<String>>>,
    fetched_at: Option<Instant>,
    last_forced: Option<Instant>,
}

/// A secret cached across warm invocations.
///
/// * Fresh for `ttl`; then refetched on next use.
/// * If a refetch fails, the last good value is kept (and a warning logged), so a
///   Secrets Manager hiccup does not take the webhook down.
/// * [`SecretCache::force_refresh`] refetches at most once per
///   `min_forced_interval`, for the "signature did not match, maybe the secret
///   was just rotated" case.
pub struct SecretCache<F: SecretFetcher> {
    fetcher: F,
    ttl: Duration,
    min_forced_interval: Duration,
    state: Mutex<CacheState>,
}

impl<F: SecretFetcher> SecretCache<F> {
    pub fn new(fetcher: F, ttl: Duration, min_forced_interval: Duration) -> Self {
        SecretCache {
            fetcher,
            ttl,
            min_forced_interval,
            state: Mutex::new(CacheState {
                values: None,
                fetched_at: None,
                last_forced: None,
            }),
        }
    }

    /// The cached values, refetched when older than the TTL.
    pub async fn get(&self) -> Result<Arc<Vec<String>>, SecretError> {
        let mut state = self.state.lock().await;
        let fresh = state.fetched_at.is_some_and(|t| t.elapsed() < self.ttl);
        if let (true, Some(values)) = (fresh, &state.values) {
            return Ok(values.clone());
        }
        self.refetch(&mut state).await
    }

    /// Refetch now unless a forced refresh happened recently. Returns the new
    /// values only if they differ from what was cached (so the caller knows a
    /// second verification attempt is worth it).
    pub async fn force_refresh(&self) -> Option<Arc<Vec<String>>> {
        let mut state = self.state.lock().await;
        if state
            .last_forced
            .is_some_and(|t| t.elapsed() < self.min_forced_interval)
        {
            return None;
        }
        state.last_forced = Some(Instant::now());
        let before = state.values.clone();
        match self.refetch(&mut state).await {
            Ok(values) if before.as_deref() != Some(values.as_ref()) => Some(values),
            _ => None,
        }
    }

    async fn refetch(&self, state: &mut CacheState) -> Result<Arc<Vec<String>>, SecretError> {
        match self.fetcher.fetch().await {
            Ok(values) => {
                let values = Arc::new(values);
                state.values = Some(values.clone());
                state.fetched_at = Some(Instant::now());
                Ok(values)
            }
            Err(err) => match &state.values {
                Some(values) => {
                    tracing::warn!(secret = %self.fetcher.describe(), error = %err,
                        "secret refresh failed; keeping the last good value");
                    // Do not hammer the store: try again after another TTL.
                    state.fetched_at = Some(Instant::now());
                    Ok(values.clone())
                }
                None => Err(err),
            },
        }
    }
}

/// Interpret a webhook secret value: a plain string, or a JSON object
/// `{"secrets": ["current", "previous"]}` listing several accepted secrets.
pub fn parse_secret_list(value: &str) -> Result<Vec<String>, SecretError> {
    let trimmed = value.trim_start();
    if trimmed.starts_with('{') {
        if let Ok(json) = serde_json::from_str::<serde_json::Value>(value) {
            let list = json
                .get("secrets")
                .and_then(|s| s.as_array())
                .ok_or_else(|| {
                    SecretError::Malformed("a JSON secret must be {\"secrets\": [..]}".into())
                })?;
            let secrets: Vec<String> = list
                .iter()
                .filter_map(|s| s.as_str())
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect();
            if secrets.len() != list.len() {
                return Err(SecretError::Malformed(
                    "\"secrets\" must hold non-empty strings".into(),
                ));
            }
            return Ok(secrets);
        }
    }
    if value.is_empty() {
        return Err(SecretError::Malformed("empty secret".into()));
    }
    Ok(vec![value.to_owned()])
}

/// Every accepted webhook secret across all fetched versions, without duplicates.
pub fn flatten_secret_versions(versions: &[String]) -> Result<Vec<String>, SecretError> {
    let mut out: Vec<String> = Vec::new();
    let mut last_err = None;
    for version in versions {
        match parse_secret_list(version) {
            Ok(list) => {
                for s in list {
                    if !out.contains(&s) {
                        out.push(s);
                    }
                }
            }
            Err(err) => last_err = Some(err),
        }
    }
    match (out.is_empty(), last_err) {
        (true, Some(err)) => Err(err),
        (true, None) => Err(SecretError::NotConfigured("no secret value".into())),
        _ => Ok(out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn secret_list_forms() {
        assert_eq!(parse_secret_list("abc").unwrap(), vec!["abc"]);
        assert_eq!(parse_secret_list("{not json").unwrap(), vec!["{not json"]);
        assert_eq!(
            parse_secret_list(r#"{"secrets": ["new", "old"]}"#).unwrap(),
            vec!["new", "old"]
        );
        assert!(parse_secret_list(r#"{"secret": "x"}"#).is_err());
        assert!(parse_secret_list(r#"{"secrets": ["x", 1]}"#).is_err());
        assert!(parse_secret_list("").is_err());
        assert_eq!(
            flatten_secret_versions(&["a".into(), r#"{"secrets":["b","a"]}"#.into()]).unwrap(),
            vec!["a", "b"]
        );
    }

    struct Flaky {
        calls: AtomicUsize,
        fail_from: usize,
    }

    impl SecretFetcher for Flaky {
        async fn fetch(&self) -> Result<Vec<String>, SecretError> {
            let n = self.calls.fetch_add(1, Ordering::SeqCst);
            if n >= self.fail_from {
                Err(SecretError::Fetch {
                    secret_id: "t".into(),
                    code: "Down".into(),
                })
            } else {
                Ok(vec![format!("v{n}")])
            }
        }
        fn describe(&self) -> String {
            "flaky".into()
        }
    }

    #[tokio::test]
    async fn caches_and_keeps_last_good_value() {
        let cache = SecretCache::new(
            Flaky {
                calls: AtomicUsize::new(0),
                fail_from: 1,
            },
            Duration::from_millis(20),
            Duration::from_millis(0),
        );
        assert_eq!(*cache.get().await.unwrap(), vec!["v0"]);
        assert_eq!(*cache.get().await.unwrap(), vec!["v0"]);
        assert_eq!(
            cache.fetcher.calls.load(Ordering::SeqCst),
            1,
            "served from cache"
        );
        tokio::time::sleep(Duration::from_millis(30)).await;
        assert_eq!(
            *cache.get().await.unwrap(),
            vec!["v0"],
            "last good value kept"
        );
        assert_eq!(cache.fetcher.calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn no_value_at_all_is_an_error() {
        let cache = SecretCache::new(
            Flaky {
                calls: AtomicUsize::new(0),
                fail_from: 0,
            },
            DEFAULT_TTL,
            DEFAULT_MIN_FORCED_REFRESH,
        );
        assert!(cache.get().await.is_err());
    }

    #[tokio::test]
    async fn forced_refresh_is_rate_limited() {
        let cache = SecretCache::new(
            Flaky {
                calls: AtomicUsize::new(0),
                fail_from: 100,
            },
            DEFAULT_TTL,
            Duration::from_secs(60),
        );
        cache.get().await.unwrap();
        assert_eq!(*cache.force_refresh().await.unwrap(), vec!["v1"]);
        assert!(
            cache.force_refresh().await.is_none(),
            "second forced refresh suppressed"
        );
        assert_eq!(cache.fetcher.calls.load(Ordering::SeqCst), 2);
    }
}

/// The secret sources a deployment can configure, as one type so the cache and
/// the clients need no generics at the composition root.
#[derive(Debug, Clone)]
pub enum SecretSource {
    Static(StaticSecret),
    SecretsManager(SecretsManagerSecret),
}

impl SecretFetcher for SecretSource {
    async fn fetch(&self) -> Result<Vec<String>, SecretError> {
        match self {
            SecretSource::Static(s) => s.fetch().await,
            SecretSource::SecretsManager(s) => s.fetch().await,
        }
    }

    fn describe(&self) -> String {
        match self {
            SecretSource::Static(s) => s.describe(),
            SecretSource::SecretsManager(s) => s.describe(),
        }
    }
}

/// TTL from `SECRETS_CACHE_TTL_SECS` (default 300 s).
pub fn ttl_from_env() -> Duration {
    std::env::var("SECRETS_CACHE_TTL_SECS")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
        .unwrap_or(DEFAULT_TTL)
}
