//! The Lambda adapter: one handler for every event source of the function, and the
//! wiring of the service from the environment (once per cold start). Each source is
//! read through `aws_lambda_events`' typed events; only the choice of which type to
//! read looks at the raw JSON (one top-level key each):
//!
//! | event | recognised by | read as | answer |
//! | --- | --- | --- | --- |
//! | API Gateway HTTP API (payload 2.0), function URL | `requestContext.http` | `ApiGatewayV2httpRequest` | `{statusCode, headers, body}` |
//! | API Gateway REST API (payload 1.0) | `httpMethod` + `requestContext` | `ApiGatewayProxyRequest` | same |
//! | SQS batch | `Records[].eventSource == "aws:sqs"` | `SqsEvent` | `SqsBatchResponse` (`batchItemFailures`) |
//! | SQS batch from the count-refresh FIFO queue | the same, every `eventSourceARN` ending in `.fifo` | `SqsEvent` | the same, failures from the first failed record on (`count_queue.rs`) |
//! | EventBridge schedule | `detail-type == "Scheduled Event"` | `EventBridgeEvent` | resync summary (error → Lambda retries) |
//! | direct invocation | anything else | `event::parse_command` | `{"course_ids": [...]}` / `{"resync": "all"}` / a course body |
//!
//! Never log the raw event: the HTTP ones carry the token in their query string.

use std::sync::Arc;

use aws_lambda_events::apigw::{ApiGatewayProxyRequest, ApiGatewayV2httpRequest};
use aws_lambda_events::eventbridge::EventBridgeEvent;
use aws_lambda_events::http::HeaderMap;
use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use base64::Engine as _;
use serde_json::{json, Value};

use edx_hooks_shared::openedx::catalog::CatalogClient;
use edx_hooks_shared::openedx::rest::{credential_cache, credentials_from_env};
use edx_hooks_shared::openedx::{CatalogLms, OpenEdxClient, OpenEdxConfig};
use edx_hooks_shared::richie::{RichieApi, RichieClient};
use edx_hooks_shared::secrets::{
    secrets_manager_client, ttl_from_env, SecretCache, SecretSource, SecretsManagerSecret,
    StaticSecret, DEFAULT_MIN_FORCED_REFRESH,
};

use crate::auth::{SIGNATURE_HEADER, TOKEN_PARAM};
use crate::config::{ProcessEnv, Settings, LOCAL_CLIENT_ID, LOCAL_CLIENT_SECRET, LOCAL_LMS_URL};
use crate::count_queue::SqsCountQueue;
use crate::queue::{NoQueue, Queue, RetryQueue, SqsQueue};
use crate::service::{CourseSyncService, HttpReply, HttpRequest, QueueRecord, TargetsProvider};
use crate::sync::Syncer;

/// The service as deployed.
pub type Service = CourseSyncService<CatalogClient, RichieClient, Queue>;

/// An HTTP event reduced to owned parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpParts {
    pub method: String,
    pub path: String,
    pub token: Option<String>,
    pub signature: Option<String>,
    pub body: Vec<u8>,
}

/// What kind of event the function received.
#[derive(Debug, Clone, PartialEq)]
pub enum EventKind {
    Http(HttpParts),
    /// The body could not be decoded (bad base64): answered 400.
    BadHttp(String),
    Queue(Vec<QueueRecord>),
    /// A batch from the count-refresh FIFO queue.
    CountRefresh(Vec<QueueRecord>),
    Schedule,
    /// `{"doctor": true}` (or `{"doctor": {"course": "…"}}`): README "Before go-live".
    Doctor(Option<String>),
    Direct(Value),
}

/// `X-Edx-Hooks-Signature` (header names are case-insensitive in `HeaderMap`).
fn signature(headers: &HeaderMap) -> Option<String> {
    headers
        .get(SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' => match bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                Some(b) => {
                    out.push(b);
                    i += 3;
                }
                None => {
                    out.push(b'%');
                    i += 1;
                }
            },
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `?token=` from a raw query string (`a=1&token=x%2By`).
fn raw_query_token(raw: &str) -> Option<String> {
    raw.split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == TOKEN_PARAM)
        .map(|(_, v)| percent_decode(v))
}

fn decode_body(body: Option<String>, base64: bool) -> Result<Vec<u8>, String> {
    let raw = body.unwrap_or_default();
    if base64 {
        base64::engine::general_purpose::STANDARD
            .decode(raw)
            .map_err(|_| "request body is not valid base64".to_owned())
    } else {
        Ok(raw.into_bytes())
    }
}

/// HTTP API (payload 2.0) and function URL events.
fn http_v2(event: ApiGatewayV2httpRequest) -> Result<HttpParts, String> {
    let token = event
        .query_string_parameters
        .first(TOKEN_PARAM)
        .map(str::to_owned)
        .or_else(|| event.raw_query_string.as_deref().and_then(raw_query_token));
    Ok(HttpParts {
        method: event.request_context.http.method.as_str().to_owned(),
        path: event
            .raw_path
            .or(event.request_context.http.path)
            .unwrap_or_default(),
        token,
        signature: signature(&event.headers),
        body: decode_body(event.body, event.is_base64_encoded)?,
    })
}

/// REST API (payload 1.0) events.
fn http_v1(event: ApiGatewayProxyRequest) -> Result<HttpParts, String> {
    Ok(HttpParts {
        method: event.http_method.as_str().to_owned(),
        path: event.path.unwrap_or_default(),
        token: event
            .query_string_parameters
            .first(TOKEN_PARAM)
            .map(str::to_owned),
        signature: signature(&event.headers),
        body: decode_body(event.body, event.is_base64_encoded)?,
    })
}

fn queue_records(event: SqsEvent) -> Option<Vec<QueueRecord>> {
    let is_sqs = !event.records.is_empty()
        && event
            .records
            .iter()
            .all(|r| r.event_source.as_deref() == Some("aws:sqs"));
    is_sqs.then(|| {
        event
            .records
            .into_iter()
            .map(|r| QueueRecord {
                message_id: r.message_id.unwrap_or_default(),
                body: r.body.unwrap_or_default(),
            })
            .collect()
    })
}

/// Tell the event sources apart, then read each as its typed event.
pub fn classify(event: Value) -> EventKind {
    if event.get("Records").is_some() {
        if let Ok(sqs) = serde_json::from_value::<SqsEvent>(event.clone()) {
            let fifo = crate::count_queue::is_fifo_batch(&sqs);
            if let Some(records) = queue_records(sqs) {
                return match fifo {
                    true => EventKind::CountRefresh(records),
                    false => EventKind::Queue(records),
                };
            }
        }
    }
    if event.get("requestContext").is_some() {
        let parts = if event.pointer("/requestContext/http").is_some() {
            Some(
                serde_json::from_value::<ApiGatewayV2httpRequest>(event.clone())
                    .map_err(|e| format!("not an API Gateway HTTP API event: {e}"))
                    .and_then(http_v2),
            )
        } else if event.get("httpMethod").is_some() {
            Some(
                serde_json::from_value::<ApiGatewayProxyRequest>(event.clone())
                    .map_err(|e| format!("not an API Gateway REST API event: {e}"))
                    .and_then(http_v1),
            )
        } else {
            None
        };
        match parts {
            Some(Ok(parts)) => return EventKind::Http(parts),
            Some(Err(message)) => return EventKind::BadHttp(message),
            None => {}
        }
    }
    if event.get("detail-type").is_some() {
        if let Ok(schedule) = serde_json::from_value::<EventBridgeEvent>(event.clone()) {
            if schedule.detail_type == "Scheduled Event" {
                return EventKind::Schedule;
            }
        }
    }
    if let Some(course) = edx_hooks_shared::doctor::doctor_command(&event) {
        return EventKind::Doctor(course);
    }
    EventKind::Direct(event)
}

/// The partial batch response: the records SQS must deliver again.
fn batch_response(failures: Vec<String>) -> SqsBatchResponse {
    // Both types are `#[non_exhaustive]`: built from their defaults.
    let mut response = SqsBatchResponse::default();
    response.batch_item_failures = failures
        .into_iter()
        .map(|id| {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            failure
        })
        .collect();
    response
}

/// An API Gateway / function URL response (the same shape suits payload 1.0 and 2.0).
pub fn http_response(reply: &HttpReply) -> Value {
    json!({
        "statusCode": reply.status,
        "headers": {"content-type": "application/json"},
        "body": reply.body.to_string(),
        "isBase64Encoded": false,
    })
}

/// Handle one Lambda event before `deadline` (the Lambda context's, less a margin): no
/// LMS retry or `Retry-After` wait crosses it, and a resync stops at a page boundary
/// before it and continues from the queue. `None`: no deadline (tests, local runs).
pub async fn handle_event_until<L: CatalogLms, R: RichieApi, Q: RetryQueue>(
    service: &CourseSyncService<L, R, Q>,
    event: Value,
    deadline: Option<std::time::Instant>,
) -> Result<Value, lambda_runtime::Error> {
    match deadline {
        Some(at) => {
            edx_hooks_shared::openedx::deadline::with_deadline(at, handle_event(service, event))
                .await
        }
        None => handle_event(service, event).await,
    }
}

/// Handle one Lambda event.
pub async fn handle_event<L: CatalogLms, R: RichieApi, Q: RetryQueue>(
    service: &CourseSyncService<L, R, Q>,
    event: Value,
) -> Result<Value, lambda_runtime::Error> {
    match classify(event) {
        EventKind::Http(parts) => {
            let reply = service
                .handle_http(HttpRequest {
                    method: &parts.method,
                    path: &parts.path,
                    token: parts.token.as_deref(),
                    signature: parts.signature.as_deref(),
                    body: &parts.body,
                })
                .await;
            Ok(http_response(&reply))
        }
        EventKind::BadHttp(message) => Ok(http_response(&HttpReply {
            status: 400,
            body: json!({"status": "error", "message": message}),
        })),
        EventKind::Queue(records) => {
            let failures = service.handle_queue(&records).await;
            Ok(serde_json::to_value(batch_response(failures))?)
        }
        EventKind::CountRefresh(records) => {
            let failures = service.handle_count_refreshes(&records).await;
            Ok(serde_json::to_value(batch_response(failures))?)
        }
        EventKind::Schedule => Ok(service.handle_resync(1).await?),
        EventKind::Doctor(course) => Ok(doctor_report(course.as_deref()).await),
        EventKind::Direct(command) => Ok(service.handle_command(&command).await?),
    }
}

/// The doctor's report (`edx_hooks_shared::doctor`, read-only checks) with this
/// function's environment, its secrets and its network path; links as the forwarder
/// renders them.
pub async fn doctor_report(course: Option<&str>) -> Value {
    let settings = OpenEdxConfig::from_env(LOCAL_LMS_URL)
        .map_err(|e| e.to_string())
        .and_then(|o| Settings::from_env(&ProcessEnv, o).map_err(|e| e.to_string()));
    let payload = settings.map(|s| s.payload).ok();
    let wanted = course.map(str::to_owned);
    let link_for = Arc::new(move |target: &edx_hooks_shared::richie::RichieTarget| {
        let (payload, course) = (payload.as_ref()?, wanted.as_deref()?);
        let template = target.resource_link_template.as_deref();
        Some(crate::payload::resource_link(
            template.unwrap_or(&payload.resource_link_template),
            &payload.lms_host,
            course,
        ))
    });
    edx_hooks_shared::doctor::env::course_sync_doctor(course, link_for, None)
        .await
        .to_json()
}

/// Secrets Manager when `arn_var` is set, else the environment variable `env_var`.
async fn secret_source(
    arn_var: &str,
    env_var: &str,
    split_commas: bool,
    current_only: bool,
) -> SecretSource {
    match std::env::var(arn_var).ok().filter(|v| !v.trim().is_empty()) {
        Some(arn) => {
            let secret = SecretsManagerSecret::new(secrets_manager_client().await, arn);
            SecretSource::SecretsManager(if current_only {
                secret.current_only()
            } else {
                secret
            })
        }
        None if split_commas => SecretSource::Static(StaticSecret::from_env_list(env_var)),
        None => {
            let values = std::env::var(env_var)
                .ok()
                .filter(|v| !v.trim().is_empty())
                .into_iter()
                .collect();
            SecretSource::Static(StaticSecret::new(format!("env:{env_var}"), values))
        }
    }
}

/// Build the service from the environment (see the README's configuration table).
/// The course API evaluates visibility for `?username=`; without it every upcoming
/// course is 404 and would never reach Richie. So the service user must be known:
/// `OPENEDX_SERVICE_USERNAME`, or the JWT's `preferred_username`, discovered here at
/// cold start. A token that comes back without one is a start-up error with the fix;
/// an LMS that cannot be reached now is not (the check is repeated on first use, and
/// a publish arriving meanwhile is queued rather than refused by a failed start).
pub async fn check_service_user(lms: &OpenEdxClient) -> Result<(), lambda_runtime::Error> {
    const DISCOVERY_BUDGET: std::time::Duration = std::time::Duration::from_secs(3);
    match tokio::time::timeout(DISCOVERY_BUDGET, lms.transport().service_username()).await {
        Ok(Ok(Some(name))) => {
            tracing::info!(service_user = %name, "course API visibility evaluated for the service user");
            Ok(())
        }
        Ok(Ok(None)) => Err(SERVICE_USER_UNKNOWN.into()),
        Ok(Err(err)) => {
            tracing::warn!(error = %err, error_kind = err.kind(), "could not fetch a token at start; the service user is checked on first use");
            Ok(())
        }
        Err(_) => {
            tracing::warn!("the LMS did not grant a token within 3 s at start; the service user is checked on first use");
            Ok(())
        }
    }
}

/// The start-up error when the service user cannot be known.
pub const SERVICE_USER_UNKNOWN: &str = "the LMS service user is unknown: the token is not a JWT carrying preferred_username. Set OPENEDX_SERVICE_USERNAME to the staff user that owns the OAuth2 application (without it the course API answers as for an anonymous visitor and upcoming courses are never synced)";

pub async fn service_from_env() -> Result<Service, lambda_runtime::Error> {
    let openedx = OpenEdxConfig::from_env(LOCAL_LMS_URL)?;
    let settings = Settings::from_env(&ProcessEnv, openedx)?;
    let credentials =
        credential_cache(credentials_from_env(LOCAL_CLIENT_ID, LOCAL_CLIENT_SECRET).await);
    let lms = Arc::new(OpenEdxClient::new(settings.openedx.clone(), credentials)?);
    check_service_user(&lms).await?;
    let catalog = Arc::new(CatalogClient::new(lms, settings.sources.clone()));
    let richie = Arc::new(RichieClient::new(settings.richie.clone())?);
    let syncer = Syncer::new(
        catalog,
        richie,
        settings.payload.clone(),
        settings.sync.clone(),
    );
    // The targets document is JSON: never split it on commas; tokens are a list.
    let targets = TargetsProvider::new(SecretCache::new(
        secret_source("RICHIE_TARGETS_SECRET_ARN", "RICHIE_TARGETS", false, true).await,
        ttl_from_env(),
        DEFAULT_MIN_FORCED_REFRESH,
    ));
    let tokens = Arc::new(SecretCache::new(
        secret_source(
            "COURSE_SYNC_TOKEN_SECRET_ARN",
            "COURSE_SYNC_TOKEN",
            true,
            false,
        )
        .await,
        ttl_from_env(),
        DEFAULT_MIN_FORCED_REFRESH,
    ));
    let queue = match &settings.queue_url {
        Some(url) => Queue::Sqs(SqsQueue::from_env(url.clone()).await),
        None => {
            tracing::warn!("COURSE_SYNC_QUEUE_URL is not set: failed HTTP deliveries cannot be queued for retry");
            Queue::None(NoQueue)
        }
    };
    let service = CourseSyncService::new(syncer, targets, tokens, queue, settings.http_budget);
    Ok(match &settings.count_queue_url {
        Some(url) => service.with_count_queue(Arc::new(SqsCountQueue::from_env(url.clone()).await)),
        None => service,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification() {
        let v2 = json!({
            "version": "2.0", "routeKey": "POST /api/course-published/", "rawPath": "/api/course-published/",
            "rawQueryString": "token=a%2Bb&x=1", "headers": {"X-Edx-Hooks-Signature": "abc"},
            "requestContext": {"http": {"method": "POST", "path": "/api/course-published/"}},
            "body": "eyJjb3Vyc2VfaWQiOiAiYS9iL2MifQ==", "isBase64Encoded": true
        });
        let EventKind::Http(parts) = classify(v2) else {
            panic!()
        };
        assert_eq!(parts.method, "POST");
        assert_eq!(parts.token.as_deref(), Some("a+b"));
        assert_eq!(parts.signature.as_deref(), Some("abc"));
        assert_eq!(parts.body, br#"{"course_id": "a/b/c"}"#);

        let v1 = json!({"httpMethod": "POST", "path": "/api/course-published", "queryStringParameters": {"token": "t"},
                        "requestContext": {"stage": "prod", "httpMethod": "POST"}, "body": "{}", "isBase64Encoded": false});
        let EventKind::Http(parts) = classify(v1) else {
            panic!()
        };
        assert_eq!(
            (parts.path.as_str(), parts.token.as_deref()),
            ("/api/course-published", Some("t"))
        );

        let bad = json!({"routeKey": "POST /x", "requestContext": {"http": {"method": "POST"}}, "body": "%%", "isBase64Encoded": true});
        assert!(matches!(classify(bad), EventKind::BadHttp(_)));
        // A REST API event always names its method in `requestContext` too.
        let no_method = json!({"httpMethod": "POST", "path": "/api/course-published", "requestContext": {"stage": "prod"}});
        assert!(matches!(classify(no_method), EventKind::BadHttp(_)));

        let sqs = json!({"Records": [{"messageId": "m1", "body": "{}", "eventSource": "aws:sqs"}]});
        let EventKind::Queue(records) = classify(sqs) else {
            panic!()
        };
        assert_eq!(records[0].message_id, "m1");

        assert_eq!(
            classify(
                json!({"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}})
            ),
            EventKind::Schedule
        );
        assert_eq!(
            classify(json!({"resync": "all"})),
            EventKind::Direct(json!({"resync": "all"}))
        );
        assert_eq!(classify(json!({"doctor": true})), EventKind::Doctor(None));
        assert_eq!(
            classify(json!({"doctor": {"course": "a/b/c"}})),
            EventKind::Doctor(Some("a/b/c".into()))
        );
        assert!(matches!(
            classify(json!({"Records": []})),
            EventKind::Direct(_)
        ));
    }
}
