//! The forwarder's entry points, without Lambda types: an HTTP exchange, an SQS batch, a
//! full resync and a direct command. `lambda.rs` adapts Lambda events to these.
//!
//! HTTP design: the course-published request is processed synchronously (the answer
//! tells the LMS admin what happened). openedx-webhooks never retries, so when delivery
//! fails for a reason that may pass (Richie 5xx/timeout, LMS down, wrong secret…), or
//! takes longer than the HTTP budget, the course id is put on the SQS retry queue and
//! the answer is 202: the queue consumer (this function) retries it, and SQS
//! dead-letters it after `maxReceiveCount` failures. Only if that enqueue fails too is
//! the answer 503 (logged at error level: the event is then lost to the sender, which
//! does not retry; the nightly resync repairs it).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use edx_hooks_shared::metrics::Metrics;
use edx_hooks_shared::openedx::CatalogLms;
use edx_hooks_shared::richie::{parse_targets, RichieApi, RichieTarget, TargetsError};
use edx_hooks_shared::secrets::{flatten_secret_versions, SecretCache, SecretError, SecretSource};

use crate::auth::{authenticate, AuthMethod, MAX_CREDENTIAL_LEN};
use crate::event::{parse_command, parse_course_event, Command, Inbound, SyncRequest};
use crate::queue::RetryQueue;
use crate::sync::{CourseOutcome, CourseReport, Syncer, Verdict};

/// Largest accepted body (a catalog event is under 1 KiB).
pub const MAX_BODY_BYTES: usize = 256 * 1024;
/// The route, as configured in API Gateway (trailing slash optional).
pub const ROUTE: &str = "/api/course-published";
const NAMESPACE: &str = "EdxHooks";
const FUNCTION: &str = "course-sync";

/// Is this the course-published path? Tolerates a stage prefix (`/prod/api/...`).
pub fn is_route(path: &str) -> bool {
    let trimmed = path.strip_suffix('/').unwrap_or(path);
    trimmed == ROUTE || trimmed.ends_with(ROUTE)
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum TargetsUnavailable {
    #[error("Richie targets secret unavailable: {0}")]
    Secret(#[from] SecretError),
    #[error(transparent)]
    Invalid(#[from] TargetsError),
}

/// A secret value and the targets parsed from it.
type ParsedTargets = (Arc<Vec<String>>, Arc<Vec<RichieTarget>>);

/// The Richie targets, from a secret (or the environment), parsed once per secret value.
pub struct TargetsProvider {
    cache: SecretCache<SecretSource>,
    parsed: Mutex<Option<ParsedTargets>>,
}

impl TargetsProvider {
    pub fn new(cache: SecretCache<SecretSource>) -> Self {
        TargetsProvider {
            cache,
            parsed: Mutex::new(None),
        }
    }

    pub async fn get(&self) -> Result<Arc<Vec<RichieTarget>>, TargetsUnavailable> {
        let versions = self.cache.get().await?;
        if let Ok(guard) = self.parsed.lock() {
            if let Some((source, parsed)) = guard.as_ref() {
                if Arc::ptr_eq(source, &versions) {
                    return Ok(parsed.clone());
                }
            }
        }
        let document = versions
            .first()
            .ok_or_else(|| SecretError::NotConfigured("empty secret".into()))?;
        let targets = Arc::new(parse_targets(document)?);
        if let Ok(mut guard) = self.parsed.lock() {
            *guard = Some((versions, targets.clone()));
        }
        Ok(targets)
    }
}

/// One HTTP request, reduced to what the forwarder looks at.
#[derive(Debug, Clone, Copy)]
pub struct HttpRequest<'a> {
    pub method: &'a str,
    pub path: &'a str,
    /// `?token=` (already percent-decoded).
    pub token: Option<&'a str>,
    /// `X-Edx-Hooks-Signature`.
    pub signature: Option<&'a str>,
    pub body: &'a [u8],
}

#[derive(Debug, Clone, PartialEq)]
pub struct HttpReply {
    pub status: u16,
    pub body: Value,
}

impl HttpReply {
    fn new(status: u16, body: Value) -> Self {
        HttpReply { status, body }
    }

    fn error(status: u16, message: &str) -> Self {
        HttpReply::new(status, json!({"status": "error", "message": message}))
    }
}

/// One SQS record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueRecord {
    pub message_id: String,
    pub body: String,
}

/// Why an invocation (schedule, direct command) failed; Lambda then retries it and
/// finally sends it to the function's dead-letter queue.
#[derive(Debug, Clone, thiserror::Error)]
pub enum InvocationError {
    #[error(transparent)]
    Targets(#[from] TargetsUnavailable),
    #[error("invalid command: {0}")]
    Command(String),
    #[error("synchronisation incomplete: {0}")]
    Incomplete(Value),
}

pub struct CourseSyncService<L, R, Q> {
    syncer: Syncer<L, R>,
    targets: TargetsProvider,
    tokens: Arc<SecretCache<SecretSource>>,
    queue: Q,
    http_budget: Duration,
}

/// Counters for one invocation's EMF line.
struct Tally {
    metrics: Metrics,
    started: Instant,
}

impl Tally {
    fn new() -> Self {
        Tally {
            metrics: Metrics::new(NAMESPACE, FUNCTION),
            started: Instant::now(),
        }
    }

    fn count(&mut self, name: &str, n: usize) {
        if n > 0 {
            self.metrics.count(name, n as f64);
        }
    }

    fn course(&mut self, report: &CourseReport) {
        self.count(&format!("Course.{}", report.outcome.label()), 1);
        let config_errors = report.outcome.configuration_errors().count()
            + usize::from(report.outcome.lms_configuration_error());
        self.count("ConfigurationErrors", config_errors);
    }

    fn emit(mut self) {
        self.metrics
            .milliseconds("Latency", self.started.elapsed().as_secs_f64() * 1000.0);
        self.metrics.emit();
    }
}

impl<L: CatalogLms, R: RichieApi, Q: RetryQueue> CourseSyncService<L, R, Q> {
    pub fn new(
        syncer: Syncer<L, R>,
        targets: TargetsProvider,
        tokens: Arc<SecretCache<SecretSource>>,
        queue: Q,
        http_budget: Duration,
    ) -> Self {
        CourseSyncService {
            syncer,
            targets,
            tokens,
            queue,
            http_budget,
        }
    }

    pub fn syncer(&self) -> &Syncer<L, R> {
        &self.syncer
    }

    pub fn queue(&self) -> &Q {
        &self.queue
    }

    // ------------------------------------------------------------------ HTTP

    /// Handle one course-published request; logs one line and emits metrics.
    pub async fn handle_http(&self, request: HttpRequest<'_>) -> HttpReply {
        let mut tally = Tally::new();
        let (reply, outcome, auth) = self.process_http(request, &mut tally).await;
        tracing::info!(
            target: "course_sync",
            outcome,
            status = reply.status,
            auth = auth.map(AuthMethod::as_str).unwrap_or(""),
            body_bytes = request.body.len(),
            latency_ms = tally.started.elapsed().as_secs_f64() * 1000.0,
            "course-published request processed"
        );
        tally.count("Requests", 1);
        tally.count(&format!("Http.{outcome}"), 1);
        tally.emit();
        reply
    }

    async fn process_http(
        &self,
        request: HttpRequest<'_>,
        tally: &mut Tally,
    ) -> (HttpReply, &'static str, Option<AuthMethod>) {
        if !is_route(request.path) {
            return (HttpReply::error(404, "Not found"), "not_found", None);
        }
        if !request.method.eq_ignore_ascii_case("POST") {
            return (
                HttpReply::error(405, "Method not allowed; use POST"),
                "method_not_allowed",
                None,
            );
        }
        if request.body.len() > MAX_BODY_BYTES {
            return (
                HttpReply::error(413, "Request body too large"),
                "too_large",
                None,
            );
        }
        let auth = match self.authenticate(request).await {
            Ok(Some(method)) => method,
            Ok(None) => {
                tally.count("AuthFailures", 1);
                return (HttpReply::error(401, "Unauthorized"), "unauthorized", None);
            }
            Err(reply) => return (reply, "secret_unavailable", None),
        };
        let sync_request = match parse_course_event(request.body) {
            Ok(Inbound::Course(r)) => trusted(r, auth),
            Ok(Inbound::Ignored { event_type }) => {
                tracing::info!(event_type, "event of another type acknowledged and ignored");
                return (
                    HttpReply::new(200, json!({"status": "ignored", "event_type": event_type})),
                    "ignored",
                    Some(auth),
                );
            }
            Err(err) => {
                return (
                    HttpReply::error(400, &err.to_string()),
                    "invalid_body",
                    Some(auth),
                )
            }
        };
        let course_id = sync_request.course_id.clone();

        let attempt = async {
            let targets = self.targets.get().await?;
            Ok::<_, TargetsUnavailable>(self.syncer.sync_course(&targets, &sync_request).await)
        };
        let failure_reason = match tokio::time::timeout(self.http_budget, attempt).await {
            Ok(Ok(report)) => {
                tally.course(&report);
                let mut body = report.outcome.to_json();
                body["course_id"] = json!(course_id);
                match (report.outcome.verdict(), &report.outcome) {
                    (Verdict::Done, _) => return (HttpReply::new(200, body), "synced", Some(auth)),
                    (Verdict::Rejected, CourseOutcome::NotFound) => {
                        return (HttpReply::new(404, body), "course_not_found", Some(auth))
                    }
                    (Verdict::Rejected, CourseOutcome::Invalid(_)) => {
                        return (HttpReply::new(400, body), "invalid_course", Some(auth))
                    }
                    (Verdict::Rejected, _) => {
                        return (HttpReply::new(422, body), "rejected", Some(auth))
                    }
                    (Verdict::Retry, _) => body,
                }
            }
            Ok(Err(err)) => {
                tracing::error!(error = %err, "Richie targets unavailable");
                tally.count("ConfigurationErrors", 1);
                json!({"status": "failed", "reason": "targets_unavailable"})
            }
            Err(_) => {
                tracing::warn!(
                    course_id,
                    budget_ms = self.http_budget.as_millis() as u64,
                    "synchronisation exceeded the HTTP budget"
                );
                json!({"status": "failed", "reason": "timeout"})
            }
        };
        // Retryable failure: hand the course to the queue, since the sender won't retry.
        match self.queue.enqueue(vec![sync_request.queue_body()]).await {
            Ok(()) => {
                tally.count("Queued", 1);
                tracing::warn!(course_id, "delivery failed; course queued for retry");
                let body =
                    json!({"status": "queued", "course_id": course_id, "attempt": failure_reason});
                (HttpReply::new(202, body), "queued", Some(auth))
            }
            Err(err) => {
                tally.count("Lost", 1);
                tracing::error!(course_id, error = %err, "delivery failed and the course could not be queued; the next resync must repair it");
                let body =
                    json!({"status": "failed", "course_id": course_id, "attempt": failure_reason});
                (HttpReply::new(503, body), "failed", Some(auth))
            }
        }
    }

    async fn authenticate(
        &self,
        request: HttpRequest<'_>,
    ) -> Result<Option<AuthMethod>, HttpReply> {
        let token = request
            .token
            .filter(|t| !t.is_empty() && t.len() <= MAX_CREDENTIAL_LEN);
        let signature = request
            .signature
            .filter(|s| !s.is_empty() && s.len() <= MAX_CREDENTIAL_LEN);
        if token.is_none() && signature.is_none() {
            return Ok(None);
        }
        let versions = match self.tokens.get().await {
            Ok(v) => v,
            Err(SecretError::NotConfigured(what)) => {
                tracing::error!(source = %what, "course-sync token is not configured; rejecting every request");
                return Ok(None);
            }
            Err(err) => {
                tracing::error!(error = %err, "course-sync token unavailable and nothing cached");
                return Err(HttpReply::error(500, "Internal server error"));
            }
        };
        let check = |versions: &[String]| {
            flatten_secret_versions(versions)
                .ok()
                .and_then(|secrets| authenticate(token, signature, &secrets, request.body))
        };
        if let Some(method) = check(&versions) {
            return Ok(Some(method));
        }
        // The token may have been rotated since we cached it (rate-limited refetch).
        Ok(self
            .tokens
            .force_refresh()
            .await
            .and_then(|fresh| check(&fresh)))
    }

    // ------------------------------------------------------------------ SQS

    /// Process a batch; returns the message ids to report in `batchItemFailures`.
    pub async fn handle_queue(&self, records: &[QueueRecord]) -> Vec<String> {
        let mut tally = Tally::new();
        tally.count("QueueRecords", records.len());
        let targets = match self.targets.get().await {
            Ok(t) => t,
            Err(err) => {
                tracing::error!(error = %err, records = records.len(), "Richie targets unavailable; the whole batch will be retried");
                tally.count("ConfigurationErrors", 1);
                tally.emit();
                return records.iter().map(|r| r.message_id.clone()).collect();
            }
        };
        // Parse; the same course may appear in several records: sync it once.
        let mut by_course: HashMap<String, Vec<&str>> = HashMap::new();
        let mut order: Vec<SyncRequest> = Vec::new();
        for record in records {
            match parse_course_event(record.body.as_bytes()) {
                Ok(Inbound::Course(request)) => {
                    let ids = by_course.entry(request.course_id.clone()).or_default();
                    if ids.is_empty() {
                        // Queued work is processed late: the LMS is the fresher source.
                        order.push(SyncRequest::course(request.course_id));
                    }
                    ids.push(&record.message_id);
                }
                Ok(Inbound::Ignored { event_type }) => {
                    tracing::info!(message_id = %record.message_id, event_type, "queued event of another type ignored");
                }
                Err(err) => {
                    // Permanent: redelivering the same bytes cannot help.
                    tally.count("MalformedRecords", 1);
                    tracing::error!(message_id = %record.message_id, error = %err, "malformed queue record dropped (not retried)");
                }
            }
        }
        let reports = self.syncer.sync_courses(&targets, &order).await;
        let mut failures = Vec::new();
        for report in &reports {
            tally.course(report);
            if report.outcome.verdict() == Verdict::Retry {
                if let Some(ids) = by_course.get(&report.course_id) {
                    failures.extend(ids.iter().map(|id| (*id).to_owned()));
                }
            }
        }
        tracing::info!(
            target: "course_sync",
            records = records.len(),
            courses = reports.len(),
            failed_records = failures.len(),
            "queue batch processed"
        );
        tally.count("QueueFailures", failures.len());
        tally.emit();
        failures
    }

    // ------------------------------------------------------------------ resync / commands

    /// Full resync. Courses that failed transiently are queued for individual retries;
    /// the invocation fails (Lambda retries it, then dead-letters it) when the course list
    /// could not be read, a target is misconfigured, or failed courses cannot be queued.
    pub async fn handle_resync(&self) -> Result<Value, InvocationError> {
        let mut tally = Tally::new();
        let targets = self.targets.get().await?;
        let report = self.syncer.resync_all(&targets).await;
        tally.count("Resync.Listed", report.listed);
        tally.count("Resync.Synced", report.synced);
        tally.count("Resync.Rejected", report.rejected.len());
        tally.count("Resync.Failed", report.failed.len());
        tally.count("ConfigurationErrors", report.configuration_errors.len());
        let mut summary = report.to_json();
        let mut fatal = report.list_error.is_some() || !report.configuration_errors.is_empty();
        if !report.failed.is_empty() && !fatal {
            let bodies = report
                .failed
                .iter()
                .map(|c| SyncRequest::course(c.clone()).queue_body())
                .collect();
            match self.queue.enqueue(bodies).await {
                Ok(()) => {
                    tally.count("Queued", report.failed.len());
                    summary["queued"] = json!(report.failed.len());
                }
                Err(err) => {
                    tracing::error!(error = %err, failed = report.failed.len(), "failed courses could not be queued");
                    fatal = true;
                }
            }
        }
        tracing::info!(
            target: "course_sync",
            listed = report.listed,
            synced = report.synced,
            rejected = report.rejected.len(),
            failed = report.failed.len(),
            richie_requests = report.richie_requests,
            latency_ms = tally.started.elapsed().as_secs_f64() * 1000.0,
            "full resync finished"
        );
        tally.emit();
        if fatal {
            return Err(InvocationError::Incomplete(summary));
        }
        Ok(summary)
    }

    /// A direct invocation: `{"course_ids": [...]}`, `{"resync": "all"}` or a course body.
    pub async fn handle_command(&self, command: &Value) -> Result<Value, InvocationError> {
        let command =
            parse_command(command).map_err(|e| InvocationError::Command(e.to_string()))?;
        let requests = match command {
            Command::ResyncAll => return self.handle_resync().await,
            Command::Courses(requests) => requests,
        };
        let mut tally = Tally::new();
        let targets = self.targets.get().await?;
        let reports = self.syncer.sync_courses(&targets, &requests).await;
        let mut retry = false;
        let mut courses = serde_json::Map::new();
        for report in &reports {
            tally.course(report);
            retry |= report.outcome.verdict() == Verdict::Retry;
            courses.insert(report.course_id.clone(), report.outcome.to_json());
        }
        tally.emit();
        let summary =
            json!({"status": if retry { "incomplete" } else { "done" }, "courses": courses});
        if retry {
            return Err(InvocationError::Incomplete(summary));
        }
        Ok(summary)
    }
}

/// The event's own dates and `hidden` flag are believed only from a signed request
/// (`X-Edx-Hooks-Signature` covers the body). The URL token is a long-lived bearer
/// secret kept in the CMS's webhook settings and in any log of that URL: whoever holds
/// it could otherwise publish a hidden course or move its dates. A token-authenticated
/// event only names the course; the values come from the LMS.
fn trusted(mut request: SyncRequest, auth: AuthMethod) -> SyncRequest {
    if auth != AuthMethod::Signature {
        request.snapshot = None;
    }
    request
}

#[cfg(test)]
mod tests {
    use super::is_route;

    #[test]
    fn routes() {
        for ok in [
            "/api/course-published/",
            "/api/course-published",
            "/prod/api/course-published/",
        ] {
            assert!(is_route(ok), "{ok}");
        }
        for bad in [
            "/",
            "/api/course-published/x",
            "/api/course-publishedx",
            "/api/lernito/webhook/",
        ] {
            assert!(!is_route(bad), "{bad}");
        }
    }
}
