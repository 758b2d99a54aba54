//! The HTTP layer: one course-published request → status and JSON answer. The only
//! place that knows HTTP statuses; what to do with the course is `plan::decide`'s.
//!
//! The request is processed synchronously (the answer tells the LMS admin what
//! happened). openedx-webhooks never retries, so what `decide` says is still owed —
//! the failed targets, with the event's snapshot when it was signed — or everything,
//! when the HTTP budget ran out or the targets document was unavailable, is put on the
//! SQS retry queue (one message per target) and the answer is 202. Only if that
//! enqueue fails too is the answer 503 (the event is then lost to the sender, which
//! does not retry: `Lost` metric, error log; the nightly resync repairs it).
//!
//! | situation | status |
//! | --- | --- |
//! | not the route / not POST / body > 256 KiB | 404 / 405 / 413 |
//! | no or wrong token / signature | 401 |
//! | token secret unavailable, nothing cached | 500 |
//! | event of another type | 200 `ignored` |
//! | enrollment event (`COURSE_ENROLLMENT_CREATED`/`CHANGED`) put on the count queue | 200 `refresh_queued` (no count queue, or it failed: synced now, as below) |
//! | body not an accepted event | 400 |
//! | `Done` | 200 |
//! | `Rejected`: unknown course / not a Richie run / Richie refused it | 404 / 400 / 422 |
//! | `Retry` queued / could not be queued | 202 / 503 |

use serde_json::{json, Value};

use edx_hooks_shared::openedx::CatalogLms;
use edx_hooks_shared::richie::RichieApi;
use edx_hooks_shared::secrets::{flatten_secret_versions, SecretError};

use crate::auth::{authenticate, AuthMethod, MAX_CREDENTIAL_LEN};
use crate::count_queue::Refresh;
use crate::event::{parse_course_event, Inbound, SyncRequest};
use crate::job::Job;
use crate::plan::{decide, Plan};
use crate::queue::RetryQueue;
use crate::render;
use crate::service::{CourseSyncService, Tally, TargetsUnavailable};
use crate::sync::CourseOutcome;

/// Largest accepted body (a catalog event is under 1 KiB).
pub const MAX_BODY_BYTES: usize = 256 * 1024;
/// The route, as configured in API Gateway (trailing slash optional).
pub const ROUTE: &str = "/api/course-published";

/// Is this the course-published path? Tolerates a stage prefix (`/prod/api/...`).
pub fn is_route(path: &str) -> bool {
    let trimmed = path.strip_suffix('/').unwrap_or(path);
    trimmed == ROUTE || trimmed.ends_with(ROUTE)
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
    pub fn new(status: u16, body: Value) -> Self {
        HttpReply { status, body }
    }

    pub fn error(status: u16, message: &str) -> Self {
        HttpReply::new(status, json!({"status": "error", "message": message}))
    }
}

/// The status of a job's plan.
fn status_of(plan: &Plan, outcome: &CourseOutcome) -> (u16, &'static str) {
    match (plan, outcome) {
        (Plan::Done, _) => (200, "synced"),
        (Plan::Rejected, CourseOutcome::NotFound) => (404, "course_not_found"),
        (Plan::Rejected, CourseOutcome::Invalid(_)) => (400, "invalid_course"),
        (Plan::Rejected, _) => (422, "rejected"),
        (Plan::Retry(_), _) => (202, "queued"),
    }
}

/// The event's own dates and `hidden` flag are believed only from a signed request
/// (`X-Edx-Hooks-Signature` covers the body). The URL token is a long-lived bearer
/// secret kept in the CMS's webhook settings and in any log of that URL: whoever holds
/// it could otherwise publish a hidden course or move its dates. A token-authenticated
/// event only names the course; the values come from the LMS.
pub(crate) fn trusted(mut request: SyncRequest, auth: AuthMethod) -> SyncRequest {
    if auth != AuthMethod::Signature {
        request.snapshot = None;
    }
    request
}

impl<L: CatalogLms, R: RichieApi, Q: RetryQueue> CourseSyncService<L, R, Q> {
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
            latency_ms = tally.elapsed_ms(),
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
        let job = match parse_course_event(request.body) {
            Ok(Inbound::Course(r)) => Job::from_request(trusted(r, auth)),
            // Signed or not, an enrollment event only asks for the LMS's own values.
            Ok(Inbound::Enrollment(r)) => {
                match self.request_count_refresh(&r.course_id, tally).await {
                    Refresh::Queued => {
                        let body = json!({"status": "refresh_queued", "course_id": r.course_id});
                        return (HttpReply::new(200, body), "refresh_queued", Some(auth));
                    }
                    Refresh::SyncNow => Job::course(r.course_id),
                }
            }
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
        let course_id = job.course_id.clone();

        let attempt = async {
            let targets = self.targets.get().await?;
            let report = self.syncer.sync_job(&targets, &job).await;
            Ok::<_, TargetsUnavailable>((targets, report))
        };
        // What is still owed, and the attempt's summary for the answer.
        let (retry, targets, attempt) = match tokio::time::timeout(self.http_budget, attempt).await
        {
            Ok(Ok((targets, report))) => {
                let plan = decide(&job, &report.outcome);
                tally.course(&report.outcome, &plan);
                let mut body = render::course(&report.outcome, &plan);
                body["course_id"] = json!(course_id);
                let (status, label) = status_of(&plan, &report.outcome);
                match plan {
                    Plan::Retry(retry) => (retry, Some(targets), body),
                    Plan::Done | Plan::Rejected => {
                        return (HttpReply::new(status, body), label, Some(auth))
                    }
                }
            }
            Ok(Err(err)) => {
                tracing::error!(error = %err, "Richie targets unavailable");
                tally.count("ConfigurationErrors", 1);
                let body = json!({"status": "failed", "reason": "targets_unavailable"});
                (job, None, body)
            }
            Err(_) => {
                tracing::warn!(
                    course_id,
                    budget_ms = self.http_budget.as_millis() as u64,
                    "synchronisation exceeded the HTTP budget"
                );
                // Which targets were reached is unknown: every one is still owed.
                let body = json!({"status": "failed", "reason": "timeout"});
                (job, self.targets.cached(), body)
            }
        };
        // The sender won't retry: hand what is owed to the queue.
        match self
            .enqueue(&retry, targets.as_deref().map(Vec::as_slice))
            .await
        {
            Ok(messages) => {
                tally.count("Queued", messages);
                tracing::warn!(
                    course_id,
                    messages,
                    "delivery failed; the targets still owed are queued for retry"
                );
                let body = json!({"status": "queued", "course_id": course_id, "attempt": attempt});
                (HttpReply::new(202, body), "queued", Some(auth))
            }
            Err(err) => {
                tally.count("Lost", 1);
                tracing::error!(course_id, error = %err, "delivery failed and the course could not be queued; the next resync must repair it");
                let body = json!({"status": "failed", "course_id": course_id, "attempt": attempt});
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
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn statuses_of_plans() {
        let job = Job::course("a/b/c");
        let delivered = CourseOutcome::Delivered(Vec::new());
        assert_eq!(status_of(&Plan::Done, &delivered).0, 200);
        assert_eq!(status_of(&Plan::Rejected, &CourseOutcome::NotFound).0, 404);
        assert_eq!(
            status_of(&Plan::Rejected, &CourseOutcome::Invalid("x".into())).0,
            400
        );
        assert_eq!(status_of(&Plan::Rejected, &delivered).0, 422);
        assert_eq!(status_of(&Plan::Retry(job), &delivered).0, 202);
    }
}
