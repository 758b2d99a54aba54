//! Test wiring shared by the integration tests and the benchmark: the service built
//! around the real adapters (OpenEdxClient/CatalogClient, RichieClient), an in-memory
//! retry queue, Lambda event builders.
#![allow(dead_code)]

pub mod richie_emulator;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};

use course_sync::lambda::handle_event;
use course_sync::payload::PayloadConfig;
use course_sync::queue::{QueueError, RetryQueue};
use course_sync::service::{CourseSyncService, TargetsProvider};
use course_sync::sync::{SyncSettings, Syncer};
use edx_hooks_shared::openedx::catalog::{CatalogClient, CatalogSources};
use edx_hooks_shared::openedx::rest::credential_cache;
use edx_hooks_shared::openedx::{OpenEdxClient, OpenEdxConfig};
use edx_hooks_shared::richie::{RichieClient, RichieClientConfig};
use edx_hooks_shared::secrets::{
    SecretCache, SecretSource, StaticSecret, DEFAULT_MIN_FORCED_REFRESH, DEFAULT_TTL,
};
use edx_hooks_shared::signature::sign_hex;
use edx_hooks_tests::lms_emulator::{DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_SERVICE_USER};

/// The token the tests' service accepts.
pub const TOKEN: &str = "test-course-sync-token";
/// LMS host in resource links (matches the real Richie launcher's seeded run).
pub const LMS_HOST: &str = "localhost:8000";

/// A retry queue in memory.
#[derive(Default)]
pub struct MemoryQueue {
    pub messages: Mutex<Vec<String>>,
    pub broken: bool,
}

impl RetryQueue for MemoryQueue {
    async fn enqueue(&self, bodies: Vec<String>) -> Result<(), QueueError> {
        if self.broken {
            return Err(QueueError::Send {
                failed: bodies.len(),
                detail: "broken".into(),
            });
        }
        self.messages.lock().unwrap().extend(bodies);
        Ok(())
    }

    fn is_configured(&self) -> bool {
        !self.broken
    }
}

pub type TestService = CourseSyncService<CatalogClient, RichieClient, MemoryQueue>;

pub struct Options {
    pub lms_concurrency: usize,
    pub course_concurrency: usize,
    pub richie_concurrency: usize,
    pub chunk_size: usize,
    pub page_size: u32,
    pub sources: CatalogSources,
    pub http_budget: Duration,
    pub queue: MemoryQueue,
    pub richie_attempts: u32,
    /// The accepted URL token / signature key.
    pub token: String,
    /// The LMS's OAuth2 client (default: the emulator's demo client).
    pub client_id: String,
    pub client_secret: String,
    /// `OPENEDX_SERVICE_USERNAME` (`None`: from the token's `preferred_username`).
    pub service_username: Option<String>,
    /// `LMS_HOST` of the resource links.
    pub lms_host: String,
    /// Most course-list pages of a resync in any minute (0, unpaced, by default here).
    pub list_pages_per_minute: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            lms_concurrency: 8,
            course_concurrency: 8,
            richie_concurrency: 4,
            chunk_size: 50,
            page_size: 100,
            sources: CatalogSources::default(),
            http_budget: Duration::from_secs(20),
            queue: MemoryQueue::default(),
            richie_attempts: 1,
            token: TOKEN.to_owned(),
            client_id: DEMO_CLIENT_ID.to_owned(),
            client_secret: DEMO_CLIENT_SECRET.to_owned(),
            service_username: Some(DEMO_SERVICE_USER.to_owned()),
            lms_host: LMS_HOST.to_owned(),
            list_pages_per_minute: 0,
        }
    }
}

fn static_secret(name: &str, value: &str) -> SecretSource {
    SecretSource::Static(StaticSecret::new(name, vec![value.to_owned()]))
}

/// The service against an LMS at `lms_url` (the emulator's demo OAuth client) and the
/// Richie targets in `targets` (a JSON document as in `RICHIE_TARGETS`).
pub fn service(lms_url: &str, targets: &Value, mut options: Options) -> TestService {
    let queue = std::mem::take(&mut options.queue);
    let source = static_secret("targets", &targets.to_string());
    service_with(lms_url, source, options, queue)
}

/// Same, with the targets from any secret source and any retry queue.
pub fn service_with<Q: RetryQueue>(
    lms_url: &str,
    targets: SecretSource,
    options: Options,
    queue: Q,
) -> CourseSyncService<CatalogClient, RichieClient, Q> {
    let config = OpenEdxConfig {
        base_url: lms_url.to_owned(),
        service_username: options.service_username.clone(),
        max_concurrency: options.lms_concurrency,
        ..OpenEdxConfig::default()
    };
    let creds =
        json!({"client_id": options.client_id, "client_secret": options.client_secret}).to_string();
    let lms = Arc::new(
        OpenEdxClient::new(config, credential_cache(static_secret("creds", &creds)))
            .expect("client"),
    );
    let catalog = Arc::new(CatalogClient::new(lms, options.sources));
    let mut richie_config = RichieClientConfig {
        max_concurrency: options.richie_concurrency,
        ..RichieClientConfig::default()
    };
    richie_config.retry.max_attempts = options.richie_attempts;
    richie_config.retry.base_delay = Duration::from_millis(10);
    let richie = Arc::new(RichieClient::new(richie_config).expect("richie client"));
    let settings = SyncSettings {
        course_concurrency: options.course_concurrency,
        page_size: options.page_size,
        chunk_size: options.chunk_size,
        delivery_concurrency: options.richie_concurrency,
        list_pages_per_minute: options.list_pages_per_minute,
        ..SyncSettings::default()
    };
    let syncer = Syncer::new(
        catalog,
        richie,
        PayloadConfig::new(&options.lms_host),
        settings,
    );
    let targets = TargetsProvider::new(SecretCache::new(
        targets,
        DEFAULT_TTL,
        DEFAULT_MIN_FORCED_REFRESH,
    ));
    let tokens = Arc::new(SecretCache::new(
        static_secret("tokens", &options.token),
        DEFAULT_TTL,
        DEFAULT_MIN_FORCED_REFRESH,
    ));
    CourseSyncService::new(syncer, targets, tokens, queue, options.http_budget)
}

/// `[{url, secret, timeout_ms}]`.
pub fn target(url: &str, secret: &str) -> Value {
    json!({"url": url, "secret": secret, "timeout_ms": 10_000})
}

/// An API Gateway HTTP API (payload 2.0) event for `POST /api/course-published/`.
pub fn http_event(body: &str, token: Option<&str>, signature_key: Option<&str>) -> Value {
    let mut headers = json!({
        "content-type": "application/json",
        "accept": "text/plain",
        "user-agent": "python-requests/2.32.3",
    });
    if let Some(key) = signature_key {
        headers["x-edx-hooks-signature"] = json!(sign_hex(key.as_bytes(), body.as_bytes()));
    }
    let query = token.map(|t| format!("token={t}")).unwrap_or_default();
    let mut event = json!({
        "version": "2.0",
        "routeKey": "POST /api/course-published/",
        "rawPath": "/api/course-published/",
        "rawQueryString": query,
        "headers": headers,
        "requestContext": {
            "http": {"method": "POST", "path": "/api/course-published/", "protocol": "HTTP/1.1", "sourceIp": "203.0.113.20"},
            "routeKey": "POST /api/course-published/",
            "stage": "$default",
        },
        "body": body,
        "isBase64Encoded": false,
    });
    if let Some(t) = token {
        event["queryStringParameters"] = json!({"token": t});
    }
    event
}

/// The openedx-webhooks 22.x body for `COURSE_CATALOG_INFO_CHANGED`.
pub fn webhooks_body(course_key: &str, start: &str, end: Option<&str>, hidden: bool) -> String {
    json!({
        "openedx_events.content_authoring.data.CourseCatalogData": {
            "course_key": course_key,
            "name": "Some course",
            "schedule_data": {"start": start, "pacing": "instructor", "end": end, "enrollment_start": null, "enrollment_end": null},
            "hidden": hidden,
            "invitation_only": false,
        },
        "event_metadata": {
            "event_type": "org.openedx.content_authoring.course.catalog_info.changed.v1",
            "id": "38e85180-e692-11f1-8577-02fc00000001",
            "minorversion": 0,
            "source": "openedx/cms/web",
            "sourcehost": "cms",
            "time": "2029-12-01 10:00:00.123456+00:00",
            "sourcelib": [11, 2, 0],
        },
    })
    .to_string()
}

/// An SQS event with these (message id, body) records.
pub fn sqs_event(records: &[(&str, &str)]) -> Value {
    let records: Vec<Value> = records
        .iter()
        .map(|(id, body)| {
            json!({
                "messageId": id, "receiptHandle": "rh", "body": body, "attributes": {}, "messageAttributes": {},
                "md5OfBody": "", "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:eu-west-1:123456789012:course-sync", "awsRegion": "eu-west-1",
            })
        })
        .collect();
    json!({ "Records": records })
}

/// The HTTP answer of a Lambda response: (status, parsed body).
pub fn http_answer(response: &Value) -> (u16, Value) {
    let status = response["statusCode"].as_u64().unwrap_or(0) as u16;
    let body = response["body"]
        .as_str()
        .and_then(|b| serde_json::from_str(b).ok())
        .unwrap_or(Value::Null);
    (status, body)
}

/// Failed message ids of an SQS answer.
pub fn batch_failures(response: &Value) -> Vec<String> {
    response["batchItemFailures"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i["itemIdentifier"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// What Lambda's event source mapping does: receive up to 10, invoke the handler with
/// an SQS event (the queue's ARN as `eventSourceARN`), delete what it did not report
/// as failed. Returns (records delivered, records failed) for this poll.
pub async fn poll_once<Q: course_sync::queue::RetryQueue>(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
    arn: &str,
    service: &course_sync::service::CourseSyncService<
        edx_hooks_shared::openedx::catalog::CatalogClient,
        edx_hooks_shared::richie::RichieClient,
        Q,
    >,
) -> (usize, usize) {
    let out = sqs
        .receive_message()
        .queue_url(url)
        .max_number_of_messages(10)
        .wait_time_seconds(0)
        .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
        .send()
        .await
        .expect("receive");
    let messages = out.messages.unwrap_or_default();
    if messages.is_empty() {
        return (0, 0);
    }
    let records: Vec<Value> = messages
        .iter()
        .map(|m| {
            let attributes: serde_json::Map<String, Value> = m
                .attributes
                .clone()
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| (k.as_str().to_owned(), json!(v)))
                .collect();
            json!({
                "messageId": m.message_id, "receiptHandle": m.receipt_handle, "body": m.body,
                "attributes": attributes, "messageAttributes": {}, "md5OfBody": m.md5_of_body,
                "eventSource": "aws:sqs", "eventSourceARN": arn, "awsRegion": "us-east-1",
            })
        })
        .collect();
    let answer = handle_event(service, json!({ "Records": records }))
        .await
        .expect("handler");
    let failed = batch_failures(&answer);
    for m in &messages {
        if failed
            .iter()
            .any(|f| Some(f.as_str()) == m.message_id.as_deref())
        {
            continue;
        }
        if let Some(handle) = &m.receipt_handle {
            sqs.delete_message()
                .queue_url(url)
                .receipt_handle(handle)
                .send()
                .await
                .expect("delete");
        }
    }
    (messages.len(), failed.len())
}

/// The top-level entries of `template.yaml`'s sections (`Parameters`, `Resources`, …):
/// each entry's name and the text of its block (the lines under it, up to the next
/// entry). Enough to check a property of the template without a YAML parser that
/// knows CloudFormation's tags.
pub fn template_entries() -> Vec<(String, String)> {
    let template =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../template.yaml"))
            .expect("template.yaml");
    let mut entries: Vec<(String, String)> = Vec::new();
    let mut current: Option<(String, String)> = None;
    for line in template.lines() {
        let entry = line.len() > 2
            && line.starts_with("  ")
            && !line[2..].starts_with([' ', '#'])
            && line.trim_end().ends_with(':');
        if entry || (!line.starts_with(' ') && !line.trim().is_empty()) {
            entries.extend(current.take());
            if entry {
                current = Some((line.trim().trim_end_matches(':').to_owned(), String::new()));
            }
            continue;
        }
        if let Some((_, text)) = current.as_mut() {
            text.push_str(line);
            text.push('\n');
        }
    }
    entries.extend(current);
    entries
}

/// The block of the template entry `name` (see [`template_entries`]).
pub fn template_entry(name: &str) -> String {
    template_entries()
        .into_iter()
        .find(|(entry, _)| entry == name)
        .map(|(_, text)| text)
        .unwrap_or_else(|| panic!("{name} in template.yaml"))
}
