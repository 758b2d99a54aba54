//! The Lambda adapter: API Gateway (HTTP API v2 / REST / function URL) events in,
//! responses out, and the wiring of the service from the environment (done once
//! per cold start; everything it builds is reused by warm invocations).

use std::sync::Arc;
use std::time::{Duration, Instant};

use lambda_http::{Body, Request, RequestExt, Response};

use edx_hooks_shared::openedx::config::{
    env_bool, env_parse, ConfigError, LOCAL_CLIENT_ID, LOCAL_CLIENT_SECRET, LOCAL_LMS_URL,
};
use edx_hooks_shared::openedx::rest::{credential_cache, credentials_from_env};
use edx_hooks_shared::openedx::{deadline, ModePolicy, OpenEdxClient, OpenEdxConfig};
use edx_hooks_shared::secrets::{
    secrets_manager_client, SecretCache, SecretSource, SecretsManagerSecret, StaticSecret,
    DEFAULT_MIN_FORCED_REFRESH,
};

use crate::count_refresh::SqsCountNotifier;
use crate::enroll::{ApplyApi, ApplySettings};
use crate::service::{
    Reply, WebhookService, DEFAULT_DEADLINE_MARGIN, DEFAULT_REQUEST_BUDGET, SIGNATURE_HEADER,
};

/// A duration in milliseconds from the environment (validated at start).
fn env_millis(name: &'static str) -> Result<Option<Duration>, ConfigError> {
    Ok(env_parse::<u64>(name)?.map(Duration::from_millis))
}

fn env_flag(name: &'static str) -> Result<bool, ConfigError> {
    Ok(env_bool(name)?.unwrap_or(false))
}

/// `OPENEDX_ENROLLMENT_MODES`, `OPENEDX_COURSE_MODES`, `OPENEDX_UPGRADE_EXISTING_ENROLLMENTS`,
/// `OPENEDX_APPLY_API`, `OPENEDX_BULK_EMAIL_LEARNERS`; checked at start.
pub fn apply_settings_from_env() -> Result<ApplySettings, lambda_http::Error> {
    let modes = ModePolicy::from_settings(
        std::env::var("OPENEDX_ENROLLMENT_MODES").ok().as_deref(),
        std::env::var("OPENEDX_COURSE_MODES").ok().as_deref(),
        env_flag("OPENEDX_UPGRADE_EXISTING_ENROLLMENTS")?,
    )?;
    let api_setting = std::env::var("OPENEDX_APPLY_API").unwrap_or_default();
    let api = ApplyApi::parse(&api_setting).ok_or_else(|| {
        format!("invalid OPENEDX_APPLY_API={api_setting:?}: expected rest or bulk_enroll")
    })?;
    Ok(ApplySettings {
        modes,
        api,
        email_learners: env_flag("OPENEDX_BULK_EMAIL_LEARNERS")?,
    })
}

/// The webhook secret: Secrets Manager when `LERNITO_SECRET_ARN` is set, otherwise
/// `LERNITO_WEBHOOK_SECRET` (comma-separated list allowed) for local runs.
pub async fn webhook_secret_source() -> SecretSource {
    match std::env::var("LERNITO_SECRET_ARN")
        .ok()
        .filter(|v| !v.trim().is_empty())
    {
        Some(arn) => SecretSource::SecretsManager(SecretsManagerSecret::new(
            secrets_manager_client().await,
            arn,
        )),
        None => SecretSource::Static(StaticSecret::from_env_list("LERNITO_WEBHOOK_SECRET")),
    }
}

pub async fn service_from_env() -> Result<WebhookService<OpenEdxClient>, lambda_http::Error> {
    let config = OpenEdxConfig::from_env(LOCAL_LMS_URL)?;
    let credentials =
        credential_cache(credentials_from_env(LOCAL_CLIENT_ID, LOCAL_CLIENT_SECRET).await);
    let lms = OpenEdxClient::new(config, credentials)?;
    let secrets = Arc::new(SecretCache::new(
        webhook_secret_source().await,
        edx_hooks_shared::secrets::ttl_from_env(),
        DEFAULT_MIN_FORCED_REFRESH,
    ));
    let budget = env_millis("EDX_HOOKS_REQUEST_BUDGET_MS")?.unwrap_or(DEFAULT_REQUEST_BUDGET);
    let margin = env_millis("EDX_HOOKS_DEADLINE_MARGIN_MS")?.unwrap_or(DEFAULT_DEADLINE_MARGIN);
    let service = WebhookService::new(Arc::new(lms), secrets)
        .with_settings(apply_settings_from_env()?)
        .with_budget(budget)
        .with_deadline_margin(margin);
    // ENROLLMENT_COUNT_QUEUE_URL: course-sync's enrollment-count FIFO queue; unset → off.
    Ok(
        match std::env::var("ENROLLMENT_COUNT_QUEUE_URL")
            .ok()
            .filter(|v| !v.trim().is_empty())
        {
            Some(url) => service.with_count_notifier(Arc::new(
                SqsCountNotifier::from_env(url.trim().to_owned()).await,
            )),
            None => service,
        },
    )
}

/// The invocation's deadline as an `Instant`, minus `margin`
/// (`EDX_HOOKS_DEADLINE_MARGIN_MS`, default 1500 ms, read at start). A runtime that reports a deadline
/// already (nearly) past at the start of an invocation is not telling the time (Lambda
/// starts the handler with the function's whole timeout ahead, ≥ 1 s): it is ignored,
/// and the request budget applies.
fn invocation_deadline(request: &Request, margin: Duration) -> Option<Instant> {
    let context = request.lambda_context_ref()?;
    let at = deadline::from_unix_ms(context.deadline, margin);
    if at.is_none() {
        tracing::warn!(
            deadline_ms = context.deadline,
            "the runtime's invocation deadline is not in the future; using EDX_HOOKS_REQUEST_BUDGET_MS"
        );
    }
    at
}

/// Convert one API Gateway request, call the service, convert the reply.
pub async fn handle<L: edx_hooks_shared::openedx::EnrollmentLms>(
    service: &WebhookService<L>,
    request: Request,
) -> Result<Response<Body>, lambda_http::Error> {
    let method = request.method().as_str().to_owned();
    let path = request.uri().path().to_owned();
    let signature = request
        .headers()
        .get(SIGNATURE_HEADER)
        .map(|v| v.to_str().unwrap_or("").to_owned());
    let body: &[u8] = match request.body() {
        Body::Empty => b"",
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
        _ => b"",
    };
    let work = service.handle(&method, &path, signature.as_deref(), body);
    let reply = match invocation_deadline(&request, service.deadline_margin()) {
        Some(at) => deadline::with_deadline(at, work).await,
        None => work.await,
    };
    Ok(to_response(reply)?)
}

fn to_response(reply: Reply) -> Result<Response<Body>, lambda_http::http::Error> {
    let mut builder = Response::builder()
        .status(reply.status)
        .header("content-type", "application/json");
    for (name, value) in reply.headers {
        builder = builder.header(name, value);
    }
    builder.body(Body::Text(reply.body))
}

/// A raw invocation payload: the doctor's direct invocation, or an HTTP event.
pub enum Invocation {
    /// `{"doctor": true}` / `{"doctor": {"course": "…"}}` (README "Before go-live").
    Doctor(Option<String>),
    /// Anything else, read exactly as `lambda_http::run` reads it.
    Http(Box<lambda_http::request::LambdaRequest>),
}

/// Tell the doctor command from an API Gateway / function URL event. Not HTTP and not
/// the doctor: the same deserialization error `lambda_http` gives.
pub fn route(event: &serde_json::Value) -> Result<Invocation, serde_json::Error> {
    if let Some(course) = edx_hooks_shared::doctor::doctor_command(event) {
        return Ok(Invocation::Doctor(course));
    }
    // `LambdaRequest` reads itself through a `RawValue`: from text, not from a `Value`.
    serde_json::from_str(&event.to_string()).map(|r| Invocation::Http(Box::new(r)))
}

/// The doctor's report with this function's environment, secrets and network path
/// (read-only checks: `edx_hooks_shared::doctor`).
pub async fn doctor_report(course: Option<&str>) -> serde_json::Value {
    edx_hooks_shared::doctor::env::webhook_doctor(course)
        .await
        .to_json()
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::lambda_runtime::Context;
    use std::time::{SystemTime, UNIX_EPOCH};

    #[test]
    fn doctor_commands_and_http_events_are_told_apart() {
        let doctor = route(&serde_json::json!({"doctor": true})).unwrap();
        assert!(matches!(doctor, Invocation::Doctor(None)));
        let doctor = route(&serde_json::json!({"doctor": {"course": "a/b/c"}})).unwrap();
        assert!(matches!(doctor, Invocation::Doctor(Some(c)) if c == "a/b/c"));
        let sample = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../events/webhook-existing-user.json"
        ))
        .unwrap();
        let event: serde_json::Value = serde_json::from_str(&sample).unwrap();
        let Ok(Invocation::Http(request)) = route(&event) else {
            panic!("an HTTP API event is HTTP")
        };
        let request: Request = (*request).into();
        assert_eq!(request.uri().path(), "/api/lernito/webhook/");
        assert!(route(&serde_json::json!({"resync": "all"})).is_err());
    }

    #[test]
    fn the_deadline_is_the_invocations_minus_the_margin() {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or_default();
        // `Context` is non-exhaustive: start from the default and set the deadline.
        let with_deadline = |deadline: u64| {
            let mut context = Context::default();
            context.deadline = deadline;
            Request::default().with_lambda_context(context)
        };
        let request = with_deadline(now_ms + 10_000);
        let at = invocation_deadline(&request, DEFAULT_DEADLINE_MARGIN).expect("a deadline");
        let left = at.saturating_duration_since(Instant::now());
        // 10 s left minus the default 1.5 s margin.
        assert!(
            left <= Duration::from_millis(8_500) && left > Duration::from_millis(8_000),
            "{left:?}"
        );
        // A deadline already past at the start is not believed (the budget applies).
        assert!(invocation_deadline(
            &with_deadline(now_ms.saturating_sub(5_000)),
            DEFAULT_DEADLINE_MARGIN
        )
        .is_none());
        assert!(invocation_deadline(&with_deadline(0), DEFAULT_DEADLINE_MARGIN).is_none());
        // Outside Lambda (tests, local runs): none; the service's budget applies.
        assert!(invocation_deadline(&Request::default(), DEFAULT_DEADLINE_MARGIN).is_none());
    }
}
