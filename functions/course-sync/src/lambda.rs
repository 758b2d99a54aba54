//! The Lambda adapter: one handler for every event source of the function, told apart
//! by shape, and the wiring of the service from the environment (once per cold start).
//!
//! | event | recognised by | answer |
//! | --- | --- | --- |
//! | API Gateway HTTP API (payload 2.0), function URL | `requestContext.http` | `{statusCode, headers, body}` |
//! | API Gateway REST API (payload 1.0) | `httpMethod` + `requestContext` | same |
//! | SQS batch | `Records[].eventSource == "aws:sqs"` | `{"batchItemFailures": [...]}` |
//! | EventBridge schedule | `detail-type == "Scheduled Event"` | resync summary (error → Lambda retries) |
//! | direct invocation | anything else | `{"course_ids": [...]}` / `{"resync": "all"}` / a course body |
//!
//! Never log the raw event: the HTTP ones carry the token in their query string.

use std::sync::Arc;

use base64::Engine as _;
use serde_json::{json, Map, Value};

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
    Schedule,
    Direct(Value),
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(v, |v, k| v.get(*k))?.as_str()
}

/// Header lookup, case-insensitive (REST API events keep the sender's case).
fn header(event: &Value, name: &str) -> Option<String> {
    let headers = event.get("headers")?.as_object()?;
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .and_then(|(_, v)| v.as_str())
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

/// `?token=`: the decoded `queryStringParameters` first, else the raw query string.
fn query_token(event: &Value) -> Option<String> {
    if let Some(t) = event
        .get("queryStringParameters")
        .and_then(|q| q.get(TOKEN_PARAM))
        .and_then(Value::as_str)
    {
        return Some(t.to_owned());
    }
    let raw = event.get("rawQueryString").and_then(Value::as_str)?;
    raw.split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == TOKEN_PARAM)
        .map(|(_, v)| percent_decode(v))
}

fn http_parts(event: &Value) -> Result<HttpParts, String> {
    let method = str_at(event, &["requestContext", "http", "method"])
        .or_else(|| str_at(event, &["httpMethod"]))
        .unwrap_or("")
        .to_owned();
    let path = str_at(event, &["rawPath"])
        .or_else(|| str_at(event, &["requestContext", "http", "path"]))
        .or_else(|| str_at(event, &["path"]))
        .unwrap_or("")
        .to_owned();
    let raw_body = event.get("body").and_then(Value::as_str).unwrap_or("");
    let body = if event
        .get("isBase64Encoded")
        .and_then(Value::as_bool)
        .unwrap_or(false)
    {
        base64::engine::general_purpose::STANDARD
            .decode(raw_body)
            .map_err(|_| "request body is not valid base64".to_owned())?
    } else {
        raw_body.as_bytes().to_vec()
    };
    Ok(HttpParts {
        method,
        path,
        token: query_token(event),
        signature: header(event, SIGNATURE_HEADER),
        body,
    })
}

fn queue_records(event: &Value) -> Option<Vec<QueueRecord>> {
    let records = event.get("Records")?.as_array()?;
    let is_sqs = !records.is_empty()
        && records
            .iter()
            .all(|r| r.get("eventSource").and_then(Value::as_str) == Some("aws:sqs"));
    if !is_sqs {
        return None;
    }
    Some(
        records
            .iter()
            .map(|r| QueueRecord {
                message_id: str_at(r, &["messageId"]).unwrap_or("").to_owned(),
                body: str_at(r, &["body"]).unwrap_or("").to_owned(),
            })
            .collect(),
    )
}

/// Tell the event sources apart.
pub fn classify(event: Value) -> EventKind {
    if let Some(records) = queue_records(&event) {
        return EventKind::Queue(records);
    }
    let is_http = event.get("requestContext").is_some()
        && (event.get("routeKey").is_some()
            || event.get("httpMethod").is_some()
            || str_at(&event, &["requestContext", "http", "method"]).is_some());
    if is_http {
        return match http_parts(&event) {
            Ok(parts) => EventKind::Http(parts),
            Err(e) => EventKind::BadHttp(e),
        };
    }
    if event.get("detail-type").and_then(Value::as_str) == Some("Scheduled Event") {
        return EventKind::Schedule;
    }
    EventKind::Direct(event)
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
            let items: Vec<Value> = failures
                .into_iter()
                .map(|id| json!({"itemIdentifier": id}))
                .collect();
            let mut answer = Map::new();
            answer.insert("batchItemFailures".into(), Value::Array(items));
            Ok(Value::Object(answer))
        }
        EventKind::Schedule => Ok(service.handle_resync().await?),
        EventKind::Direct(command) => Ok(service.handle_command(&command).await?),
    }
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
pub async fn service_from_env() -> Result<Service, lambda_runtime::Error> {
    let openedx = OpenEdxConfig::from_env(LOCAL_LMS_URL)?;
    let settings = Settings::from_env(&ProcessEnv, openedx)?;
    let credentials =
        credential_cache(credentials_from_env(LOCAL_CLIENT_ID, LOCAL_CLIENT_SECRET).await);
    let lms = Arc::new(OpenEdxClient::new(settings.openedx.clone(), credentials)?);
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
    Ok(CourseSyncService::new(
        syncer,
        targets,
        tokens,
        queue,
        settings.http_budget,
    ))
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
                        "requestContext": {"stage": "prod"}, "body": "{}", "isBase64Encoded": false});
        let EventKind::Http(parts) = classify(v1) else {
            panic!()
        };
        assert_eq!(
            (parts.path.as_str(), parts.token.as_deref()),
            ("/api/course-published", Some("t"))
        );

        let bad = json!({"routeKey": "POST /x", "requestContext": {"http": {"method": "POST"}}, "body": "%%", "isBase64Encoded": true});
        assert!(matches!(classify(bad), EventKind::BadHttp(_)));

        let sqs = json!({"Records": [{"messageId": "m1", "body": "{}", "eventSource": "aws:sqs"}]});
        let EventKind::Queue(records) = classify(sqs) else {
            panic!()
        };
        assert_eq!(records[0].message_id, "m1");

        assert_eq!(
            classify(json!({"detail-type": "Scheduled Event", "source": "aws.events"})),
            EventKind::Schedule
        );
        assert_eq!(
            classify(json!({"resync": "all"})),
            EventKind::Direct(json!({"resync": "all"}))
        );
        assert!(matches!(
            classify(json!({"Records": []})),
            EventKind::Direct(_)
        ));
    }
}
