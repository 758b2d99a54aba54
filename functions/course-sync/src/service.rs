//! The forwarder's entry points, without Lambda types: an SQS batch, a full resync and
//! a direct command (the HTTP exchange is in `http.rs`). `lambda.rs` adapts Lambda
//! events to these. Each turns what it received into jobs, delivers them, and acts on
//! `plan::decide`'s plan: a retry is queued as one message per target still owed.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use edx_hooks_shared::metrics::Metrics;
use edx_hooks_shared::openedx::CatalogLms;
use edx_hooks_shared::richie::{parse_targets, RichieApi, RichieTarget, TargetsError};
use edx_hooks_shared::secrets::{SecretCache, SecretError, SecretSource};

use crate::event::{parse_command, resync_continuation, Command};
use crate::job::{Job, Owed};
use crate::pacer::WINDOW;
use crate::payload::{course_org, CatalogSnapshot};
use crate::plan::{decide, Plan};
use crate::queue::{QueueError, RetryQueue};
use crate::render::{self, Refusal};
use crate::sync::{CourseOutcome, Syncer};

pub use crate::http::{is_route, HttpReply, HttpRequest, MAX_BODY_BYTES, ROUTE};

const NAMESPACE: &str = "EdxHooks";
const FUNCTION: &str = "course-sync";

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

    /// The targets parsed last, if any (no secret fetch).
    pub fn cached(&self) -> Option<Arc<Vec<RichieTarget>>> {
        self.parsed
            .lock()
            .ok()
            .and_then(|guard| guard.as_ref().map(|(_, parsed)| parsed.clone()))
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
    pub(crate) syncer: Syncer<L, R>,
    pub(crate) targets: TargetsProvider,
    pub(crate) tokens: Arc<SecretCache<SecretSource>>,
    pub(crate) queue: Q,
    pub(crate) http_budget: Duration,
    /// The enrollment-count FIFO queue (`count_queue.rs`); `None`: enrollment events
    /// sync their course at once.
    pub(crate) count_queue: Option<Arc<dyn crate::count_queue::CountRefreshQueue>>,
}

/// Counters for one invocation's EMF line.
pub(crate) struct Tally {
    metrics: Metrics,
    started: Instant,
}

impl Tally {
    pub(crate) fn new() -> Self {
        Tally {
            metrics: Metrics::new(NAMESPACE, FUNCTION),
            started: Instant::now(),
        }
    }

    pub(crate) fn elapsed_ms(&self) -> f64 {
        self.started.elapsed().as_secs_f64() * 1000.0
    }

    pub(crate) fn count(&mut self, name: &str, n: usize) {
        if n > 0 {
            self.metrics.count(name, n as f64);
        }
    }

    pub(crate) fn course(&mut self, outcome: &CourseOutcome, plan: &Plan) {
        self.count(&format!("Course.{}", render::label(outcome, plan)), 1);
        let config_errors =
            outcome.configuration_errors().count() + usize::from(outcome.lms_configuration_error());
        self.count("ConfigurationErrors", config_errors);
    }

    pub(crate) fn emit(mut self) {
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
            count_queue: None,
        }
    }

    pub fn syncer(&self) -> &Syncer<L, R> {
        &self.syncer
    }

    pub fn queue(&self) -> &Q {
        &self.queue
    }

    /// Queue what a job still owes: one message per owed target (`Owed::All`: per
    /// configured target that takes the course's organisation, or one target-less
    /// message when the targets are unknown). Returns the number of messages.
    pub(crate) async fn enqueue(
        &self,
        job: &Job,
        targets: Option<&[RichieTarget]>,
    ) -> Result<usize, QueueError> {
        let bodies = job.queue_bodies(&target_names(&job.course_id, targets.unwrap_or(&[])));
        let n = bodies.len();
        self.queue.enqueue(bodies).await.map(|()| n)
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
        // Parse; the same course (with the same snapshot) may appear in several
        // records, for different targets: one job owing all of them. A resync's
        // continuation is run after the jobs, with what is left of the invocation.
        let mut groups: Vec<Group> = Vec::new();
        let mut continuations: Vec<(&str, u32)> = Vec::new();
        for record in records {
            if let Some(page) = continuation_page(&record.body) {
                continuations.push((record.message_id.as_str(), page));
                continue;
            }
            match Job::from_queue_body(record.body.as_bytes()) {
                Ok(Some(job)) => {
                    let owed: BTreeSet<String> = match &job.targets {
                        Owed::Only(names) => names.clone(),
                        Owed::All => target_names(&job.course_id, &targets)
                            .into_iter()
                            .map(str::to_owned)
                            .collect(),
                    };
                    let group = match groups
                        .iter_mut()
                        .position(|g| g.course_id == job.course_id && g.snapshot == job.snapshot)
                    {
                        Some(i) => &mut groups[i],
                        None => {
                            groups.push(Group {
                                course_id: job.course_id.clone(),
                                snapshot: job.snapshot.clone(),
                                records: Vec::new(),
                            });
                            let last = groups.len() - 1;
                            &mut groups[last]
                        }
                    };
                    group.records.push((record.message_id.as_str(), owed));
                }
                Ok(None) => {
                    tracing::info!(message_id = %record.message_id, "queued event of another type ignored");
                }
                Err(err) => {
                    // Permanent: redelivering the same bytes cannot help.
                    tally.count("MalformedRecords", 1);
                    tracing::error!(message_id = %record.message_id, error = %err, "malformed queue record dropped (not retried)");
                }
            }
        }
        let jobs: Vec<Job> = groups.iter().map(Group::job).collect();
        let reports = self.syncer.sync_jobs(&targets, &jobs).await;
        let mut failures = Vec::new();
        for ((group, job), report) in groups.iter().zip(&jobs).zip(&reports) {
            let plan = decide(job, &report.outcome);
            tally.course(&report.outcome, &plan);
            let Plan::Retry(retry) = plan else { continue };
            let failed = match &retry.targets {
                Owed::Only(names) => names.clone(),
                Owed::All => group.records.iter().flat_map(|(_, o)| o.clone()).collect(),
            };
            for (message_id, owed) in &group.records {
                let still: BTreeSet<String> = owed.intersection(&failed).cloned().collect();
                if still.is_empty() {
                    continue;
                }
                if &still == owed {
                    // Redelivered by SQS (its receive count leads to the DLQ).
                    failures.push((*message_id).to_owned());
                    continue;
                }
                // Some of this record's targets are done: queue only the others.
                match self.enqueue(&retry.owing(still), Some(&targets)).await {
                    Ok(n) => tally.count("Queued", n),
                    Err(err) => {
                        tracing::error!(message_id = %message_id, error = %err, "the failed targets could not be queued; the whole record will be retried");
                        failures.push((*message_id).to_owned());
                    }
                }
            }
        }
        for (message_id, page) in continuations {
            if let Err(err) = self.handle_resync(page).await {
                tracing::error!(message_id = %message_id, page, error = %err, "a resync continuation failed; SQS delivers it again");
                failures.push(message_id.to_owned());
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

    /// Full resync from course-list page `from_page` (1 for a new one), page by page.
    /// What failed transiently is queued as one job per (course, failed target); a
    /// misconfigured target is skipped (error log, `ConfigurationErrors`) while the
    /// others complete.
    ///
    /// Resumable: when it stops before the end — the invocation's deadline came too
    /// close to read another page, or a page's read failed after earlier pages of this
    /// invocation were delivered — it queues its continuation
    /// (`{"resync": "all", "from_page": N}`, delayed by the LMS's throttle window) and
    /// succeeds; the retry queue's consumer runs that continuation the same way. The
    /// invocation fails (Lambda or SQS delivers it again, from the same page, then
    /// dead-letters it) only when it made no progress at all, or when its failed jobs
    /// or its continuation cannot be queued.
    pub async fn handle_resync(&self, from_page: u32) -> Result<Value, InvocationError> {
        let mut tally = Tally::new();
        let targets = self.targets.get().await?;
        let report = self.syncer.resync_all(&targets, from_page).await;
        // A misconfigured target is skipped, not queued for: every message would fail the
        // same way. The ConfigurationErrors alarm calls for the fix; the next resync
        // (or a direct one) then repairs that target.
        let healthy: Vec<RichieTarget> = targets
            .iter()
            .filter(|t| !report.configuration_errors.contains_key(&t.name))
            .cloned()
            .collect();
        let mut synced = 0usize;
        let mut rejected: Vec<Refusal> = Vec::new();
        let mut retries: Vec<Job> = Vec::new();
        for course in &report.courses {
            let plan = decide(&Job::course(course.course_id.clone()), &course.outcome);
            rejected.extend(Refusal::all_of(&course.course_id, &course.outcome));
            match plan {
                Plan::Done => synced += 1,
                Plan::Rejected => {}
                Plan::Retry(job) => {
                    let job = match &job.targets {
                        Owed::Only(names) => job.owing(
                            names
                                .iter()
                                .filter(|n| !report.configuration_errors.contains_key(*n))
                                .cloned()
                                .collect(),
                        ),
                        Owed::All => job,
                    };
                    if matches!(&job.targets, Owed::Only(names) if names.is_empty()) {
                        continue;
                    }
                    retries.push(job);
                }
            }
        }
        rejected.sort();
        tally.count("Resync.Listed", report.listed);
        tally.count("Resync.Synced", synced);
        tally.count("Resync.Rejected", rejected.len());
        tally.count("Resync.Failed", retries.len());
        tally.count("ConfigurationErrors", report.configuration_errors.len());
        // Where it stopped early: continued through the queue when this invocation made
        // progress; otherwise the invocation itself fails, so Lambda's or SQS's own
        // retries (then the dead-letter queue) take it from the same page.
        let continue_at = report.resume_from.filter(|_| report.pages > 0);
        let fatal_before_queueing = report.resume_from.is_some() && continue_at.is_none();
        if fatal_before_queueing && report.list_error.is_none() {
            tracing::error!(page = from_page, "not even one course-list page fits in this invocation: raise the function's timeout");
        }
        let incomplete = report.resume_from.is_some()
            || !retries.is_empty()
            || !report.configuration_errors.is_empty();
        let status = if continue_at.is_some() {
            "continued"
        } else if incomplete {
            "incomplete"
        } else {
            "done"
        };
        let mut summary = json!({
            "status": status,
            "first_page": report.first_page,
            "resume_from": report.resume_from,
            "listed": report.listed,
            "synced": synced,
            "rejected": rejected.iter().map(Refusal::to_json).collect::<Vec<_>>(),
            "failed": retries.iter().map(|j| j.course_id.clone()).collect::<Vec<_>>(),
            "configuration_errors": report.configuration_errors.iter().map(|(t, e)| (t.clone(), json!(e.to_string()))).collect::<serde_json::Map<_, _>>(),
            "list_error": report.list_error.as_ref().map(|e| e.to_string()),
            "richie_requests": report.richie_requests,
            "pages": report.pages,
        });
        let mut fatal = fatal_before_queueing;
        if !retries.is_empty() && !fatal {
            // Per target still owed: a retry never re-sends to a target that synced.
            let bodies: Vec<String> = retries
                .iter()
                .flat_map(|job| job.queue_bodies(&target_names(&job.course_id, &healthy)))
                .collect();
            let messages = bodies.len();
            match self.queue.enqueue(bodies).await {
                Ok(()) => {
                    tally.count("Queued", messages);
                    summary["queued"] = json!(messages);
                }
                Err(err) => {
                    tracing::error!(error = %err, failed = retries.len(), "failed courses could not be queued");
                    fatal = true;
                }
            }
        }
        if let (Some(page), false) = (continue_at, fatal) {
            match self
                .queue
                .enqueue_delayed(vec![resync_continuation(page)], WINDOW)
                .await
            {
                Ok(()) => {
                    tally.count("Resync.Continued", 1);
                    tracing::info!(page, "the resync continues from the queue");
                }
                Err(err) => {
                    tracing::error!(page, error = %err, "the resync's continuation could not be queued; the invocation fails");
                    fatal = true;
                }
            }
        }
        tracing::info!(
            target: "course_sync",
            first_page = report.first_page,
            resume_from = report.resume_from,
            listed = report.listed,
            synced,
            rejected = rejected.len(),
            failed = retries.len(),
            richie_requests = report.richie_requests,
            latency_ms = tally.elapsed_ms(),
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
            Command::ResyncAll => return self.handle_resync(1).await,
            Command::ResyncFrom(page) => return self.handle_resync(page).await,
            Command::Courses(requests) => requests,
        };
        let mut tally = Tally::new();
        let targets = self.targets.get().await?;
        // A direct invocation is IAM-authenticated: an event body's snapshot is believed.
        let jobs: Vec<Job> = requests.into_iter().map(Job::from_request).collect();
        let reports = self.syncer.sync_jobs(&targets, &jobs).await;
        let mut courses = serde_json::Map::new();
        let mut retries = Vec::new();
        for (job, report) in jobs.iter().zip(&reports) {
            let plan = decide(job, &report.outcome);
            tally.course(&report.outcome, &plan);
            courses.insert(
                report.course_id.clone(),
                render::course(&report.outcome, &plan),
            );
            if let Plan::Retry(retry) = plan {
                retries.push(retry);
            }
        }
        let mut lost = false;
        let mut queued = 0usize;
        for retry in &retries {
            match self.enqueue(retry, Some(&targets)).await {
                Ok(n) => queued += n,
                Err(err) => {
                    tracing::error!(course_id = %retry.course_id, error = %err, "the targets still owed could not be queued; the invocation fails");
                    lost = true;
                }
            }
        }
        tally.count("Queued", queued);
        tally.emit();
        let status = match (retries.is_empty(), lost) {
            (true, _) => "done",
            (false, false) => "queued",
            (false, true) => "incomplete",
        };
        let summary = json!({"status": status, "courses": courses, "queued": queued});
        if lost {
            // Lambda retries the invocation (async), then sends it to its DLQ.
            return Err(InvocationError::Incomplete(summary));
        }
        Ok(summary)
    }
}

/// The jobs of one SQS batch for one course and snapshot, and what each record owes.
struct Group<'a> {
    course_id: String,
    snapshot: Option<CatalogSnapshot>,
    records: Vec<(&'a str, BTreeSet<String>)>,
}

impl Group<'_> {
    fn job(&self) -> Job {
        Job {
            course_id: self.course_id.clone(),
            targets: Owed::Only(self.records.iter().flat_map(|(_, o)| o.clone()).collect()),
            snapshot: self.snapshot.clone(),
        }
    }
}

/// The page a queued resync continuation (`{"resync": "all", "from_page": N}`, or a
/// plain `{"resync": "all"}` replayed into the queue: page 1) starts at; `None` for
/// any other body.
fn continuation_page(body: &str) -> Option<u32> {
    let value: Value = serde_json::from_str(body).ok()?;
    value.get("resync")?;
    match parse_command(&value) {
        Ok(Command::ResyncAll) => Some(1),
        Ok(Command::ResyncFrom(page)) => Some(page),
        _ => None,
    }
}

/// The configured targets that take this course (its organisation passes their `orgs`
/// filter; every target when the key has no organisation Richie can take).
fn target_names<'a>(course_id: &str, targets: &'a [RichieTarget]) -> Vec<&'a str> {
    let org = course_org(course_id);
    targets
        .iter()
        .filter(|t| org.as_deref().is_none_or(|o| t.accepts_org(o)))
        .map(|t| t.name.as_str())
        .collect()
}
