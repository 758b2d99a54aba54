//! The doctor wired from the functions' environment (the variables and secret ARNs of
//! the README's configuration tables): what `edx-hooks-doctor` and the
//! `{"doctor": true}` direct invocations run.

use std::sync::Arc;

use super::lms::{check_lms, LmsOptions};
use super::richie::{check_richie, LinkFor};
use super::Report;
use crate::openedx::config::{ConfigError, LOCAL_CLIENT_ID, LOCAL_CLIENT_SECRET, LOCAL_LMS_URL};
use crate::openedx::rest::{credential_cache, credentials_from_env};
use crate::openedx::{OpenEdxClient, OpenEdxConfig};
use crate::richie::{parse_targets, RichieClient, RichieClientConfig, RichieTarget};
use crate::secrets::{
    flatten_secret_versions, secrets_manager_client, SecretCache, SecretSource,
    SecretsManagerSecret, StaticSecret, DEFAULT_MIN_FORCED_REFRESH,
};

/// openedx-webhooks' `Webhook.url` is a `URLField(max_length=255)`.
pub const WEBHOOK_URL_MAX: usize = 255;

/// A configuration the functions would refuse to start with.
#[derive(Debug, thiserror::Error)]
pub enum DoctorConfigError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("invalid OPENEDX_APPLY_API={0:?}: expected rest or bulk_enroll")]
    ApplyApi(String),
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}

/// Secrets Manager when `arn_var` is set, else the environment variable `env_var`
/// (a comma list when `split_commas`), as the functions read them.
pub async fn secret_source(arn_var: &str, env_var: &str, split_commas: bool) -> SecretSource {
    match std::env::var(arn_var).ok().filter(|v| !v.trim().is_empty()) {
        Some(arn) => SecretSource::SecretsManager(
            SecretsManagerSecret::new(secrets_manager_client().await, arn).current_only(),
        ),
        None if split_commas => SecretSource::Static(StaticSecret::from_env_list(env_var)),
        None => SecretSource::Static(StaticSecret::new(
            format!("env:{env_var}"),
            std::env::var(env_var)
                .ok()
                .filter(|v| !v.trim().is_empty())
                .into_iter()
                .collect(),
        )),
    }
}

async fn secret_values(source: SecretSource) -> Result<Vec<String>, String> {
    let cache = SecretCache::new(
        source,
        std::time::Duration::from_secs(1),
        DEFAULT_MIN_FORCED_REFRESH,
    );
    let versions = cache.get().await.map_err(|e| e.to_string())?;
    Ok(versions.to_vec())
}

/// `OPENEDX_APPLY_API` as the webhook reads it (`rest` when unset).
pub fn apply_api_from_env() -> Result<String, DoctorConfigError> {
    let value = std::env::var("OPENEDX_APPLY_API").unwrap_or_default();
    match value.trim() {
        "" | "rest" => Ok("rest".to_owned()),
        "bulk_enroll" => Ok("bulk_enroll".to_owned()),
        _ => Err(DoctorConfigError::ApplyApi(value)),
    }
}

/// The LMS checks with the functions' LMS configuration and credentials.
pub async fn lms_from_env(
    course: Option<&str>,
    apply_api: Option<String>,
) -> Result<Report, DoctorConfigError> {
    let config = OpenEdxConfig::from_env(LOCAL_LMS_URL)?;
    let credentials =
        credential_cache(credentials_from_env(LOCAL_CLIENT_ID, LOCAL_CLIENT_SECRET).await);
    let client = OpenEdxClient::new(config, credentials.clone())
        .map_err(|e| DoctorConfigError::Client(e.to_string()))?;
    let options = LmsOptions {
        course: course.map(str::to_owned),
        apply_api,
    };
    Ok(check_lms(&client, &credentials, &options).await)
}

/// `lernito.secret`: the webhook secret is configured and parses.
pub async fn lernito_secret_from_env() -> Report {
    let mut report = Report::new();
    let source = secret_source("LERNITO_SECRET_ARN", "LERNITO_WEBHOOK_SECRET", true).await;
    let fix = "put the webhook secret Lernito signs with in LERNITO_SECRET_ARN (a plain string or {\"secrets\": [\"new\", \"old\"]}), or LERNITO_WEBHOOK_SECRET locally";
    match secret_values(source)
        .await
        .map(|v| flatten_secret_versions(&v))
    {
        Ok(Ok(list)) if !list.is_empty() => report.pass(
            "lernito.secret",
            format!("{} accepted secret(s)", list.len()),
        ),
        Ok(Ok(_)) => report.fail(
            "lernito.secret",
            "no webhook secret: every request is answered 401",
            fix,
        ),
        Ok(Err(e)) => report.fail("lernito.secret", e.to_string(), fix),
        Err(e) => report.fail("lernito.secret", e, fix),
    }
    report
}

/// The Richie targets document, as course-sync reads it.
pub async fn richie_targets_from_env() -> Result<Vec<RichieTarget>, String> {
    let source = secret_source("RICHIE_TARGETS_SECRET_ARN", "RICHIE_TARGETS", false).await;
    let values = secret_values(source).await?;
    let first = values
        .first()
        .ok_or_else(|| "RICHIE_TARGETS_SECRET_ARN / RICHIE_TARGETS is not set".to_owned())?;
    parse_targets(first).map_err(|e| e.to_string())
}

/// The Richie checks of every configured target.
pub async fn richie_from_env(
    course: Option<&str>,
    link_for: &LinkFor,
) -> Result<Report, DoctorConfigError> {
    let client = RichieClient::new(RichieClientConfig::default())
        .map_err(|e| DoctorConfigError::Client(e.to_string()))?;
    let targets = richie_targets_from_env().await;
    Ok(check_richie(&client, targets, course, link_for).await)
}

/// Characters a query-string value keeps as they are (RFC 3986 unreserved).
fn url_safe(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-._~".contains(c)
}

/// `course_sync.token_url`: the course-published URL with each configured token fits
/// openedx-webhooks' 255-character field. `published_url` is the URL without the
/// token (`https://…/api/course-published/`); by default an API Gateway URL of this
/// region is assumed (10-character API id).
pub fn check_token_url(tokens: &[String], published_url: Option<&str>, region: &str) -> Report {
    let mut report = Report::new();
    let (base, estimated) = match published_url {
        Some(url) => (url.trim_end_matches('?').to_owned(), false),
        None => (
            format!("https://xxxxxxxxxx.execute-api.{region}.amazonaws.com/api/course-published/"),
            true,
        ),
    };
    let longest = tokens
        .iter()
        .map(|t| {
            t.chars()
                .map(|c| if url_safe(c) { 1 } else { 3 * c.len_utf8() })
                .sum::<usize>()
        })
        .max()
        .unwrap_or(0);
    let length = base.len() + "?token=".len() + longest;
    let unsafe_chars = tokens.iter().any(|t| !t.chars().all(url_safe));
    let of = if estimated {
        format!("estimated for {base}?token=… (pass the real URL with --course-published-url)")
    } else {
        format!("{base}?token=…")
    };
    if length > WEBHOOK_URL_MAX {
        report.fail(
            "course_sync.token_url",
            format!("{length} characters with the longest token, {of}: openedx-webhooks' Webhook url holds {WEBHOOK_URL_MAX}"),
            format!(
                "use a shorter token (at most {} URL-safe characters here): e.g. `openssl rand -hex 24`, in COURSE_SYNC_TOKEN_SECRET_ARN",
                WEBHOOK_URL_MAX.saturating_sub(base.len() + 7)
            ),
        );
    } else if unsafe_chars {
        report.warn(
            "course_sync.token_url",
            format!("{length} characters, {of}; a token has characters that must be percent-encoded in the URL"),
            "percent-encode the token in the webhook URL, or use a hex token (`openssl rand -hex 24`)",
        );
    } else {
        report.pass(
            "course_sync.token_url",
            format!("{length} of {WEBHOOK_URL_MAX} characters, {of}"),
        );
    }
    report
}

/// `course_sync.token` (configured) and `course_sync.token_url`.
pub async fn token_from_env(published_url: Option<&str>) -> Report {
    let source = secret_source("COURSE_SYNC_TOKEN_SECRET_ARN", "COURSE_SYNC_TOKEN", true).await;
    let tokens = match secret_values(source)
        .await
        .map(|v| flatten_secret_versions(&v))
    {
        Ok(Ok(list)) if !list.is_empty() => list,
        other => {
            let mut report = Report::new();
            let found = match other {
                Ok(Err(e)) => e.to_string(),
                Err(e) => e,
                Ok(Ok(_)) => "no course-published token: every request is answered 401".to_owned(),
            };
            report.fail(
                "course_sync.token",
                found,
                "put the token of the CMS webhook URL in COURSE_SYNC_TOKEN_SECRET_ARN (or COURSE_SYNC_TOKEN locally)",
            );
            return report;
        }
    };
    let mut report = Report::new();
    report.pass(
        "course_sync.token",
        format!("{} accepted token(s)", tokens.len()),
    );
    let region = std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".to_owned());
    report
        .checks
        .extend(check_token_url(&tokens, published_url, &region).checks);
    report
}

fn config_failure(report: &mut Report, error: &DoctorConfigError) {
    report.fail(
        "config",
        error.to_string(),
        "fix the function's environment (README's configuration tables)",
    );
}

/// Everything the enrollment webhook depends on.
pub async fn webhook_doctor(course: Option<&str>) -> Report {
    let mut report = Report::new();
    match apply_api_from_env() {
        Ok(apply) => match lms_from_env(course, Some(apply)).await {
            Ok(lms) => report.checks.extend(lms.checks),
            Err(e) => config_failure(&mut report, &e),
        },
        Err(e) => config_failure(&mut report, &e),
    }
    report.checks.extend(lernito_secret_from_env().await.checks);
    report
}

/// Everything course-sync depends on; `link_for` renders the course's
/// `resource_link` for a target (course-sync's own template).
pub async fn course_sync_doctor(
    course: Option<&str>,
    link_for: Arc<LinkFor>,
    published_url: Option<&str>,
) -> Report {
    let mut report = Report::new();
    match lms_from_env(course, None).await {
        Ok(lms) => report.checks.extend(lms.checks),
        Err(e) => config_failure(&mut report, &e),
    }
    match richie_from_env(course, &*link_for).await {
        Ok(richie) => report.checks.extend(richie.checks),
        Err(e) => config_failure(&mut report, &e),
    }
    report
        .checks
        .extend(token_from_env(published_url).await.checks);
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_url_lengths() {
        let r = check_token_url(&["a".repeat(48)], None, "eu-west-1");
        let c = r.get("course_sync.token_url").unwrap();
        assert_eq!(c.status, super::super::Status::Pass, "{c:?}");
        let r = check_token_url(&["a".repeat(200)], None, "eu-west-1");
        assert_eq!(
            r.get("course_sync.token_url").unwrap().status,
            super::super::Status::Fail
        );
        assert!(
            !r.render_text().contains(&"a".repeat(20)),
            "no token in the report"
        );
        let r = check_token_url(
            &["a/b".into()],
            Some("https://x.example/api/course-published/"),
            "x",
        );
        assert_eq!(
            r.get("course_sync.token_url").unwrap().status,
            super::super::Status::Warn
        );
    }
}
