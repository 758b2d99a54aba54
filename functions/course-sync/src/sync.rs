//! Delivery: jobs → LMS reads → payloads → the Richie targets each job still owes.
//!
//! Through two ports only ([`CatalogLms`] and [`RichieApi`]), so tests swap either side.
//! This module only records what happened ([`CourseOutcome`], per target); what that
//! means — done, rejected for good, or which targets to retry — is decided in one place,
//! `plan::decide`. What each target's answer is:
//! * Richie 200 → synced;
//! * Richie 400 (validation error, "Unknown course: X.", a per-link error in a list
//!   answer) → rejected, with Richie's message;
//! * 401/403 (wrong secret), wrong URL → failed, and flagged as a configuration error;
//! * 5xx, 429, timeouts, connection errors, a non-DRF 400 (a proxy's page), a per-link
//!   answer without our link → failed.
//!
//! A failing target never stops the others.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::stream::{self, StreamExt};

use edx_hooks_shared::openedx::{CatalogLms, CourseRun, LmsError};
use edx_hooks_shared::richie::{RichieAnswer, RichieApi, RichieError, RichieTarget};
use edx_hooks_shared::richie_answer::LinkAnswer;

use edx_hooks_shared::openedx::deadline;

use crate::job::Job;
use crate::pacer::{ListPacer, WINDOW};
use crate::payload::{build_payload, course_org, PayloadConfig, PayloadError, RichiePayload};

/// Hard stop for paging (a misbehaving `next` link must not loop forever).
const MAX_PAGES: u32 = 100_000;

#[derive(Debug, Clone)]
pub struct SyncSettings {
    /// Courses whose LMS reads run at once (the LMS client bounds the HTTP calls themselves).
    pub course_concurrency: usize,
    /// Course-list page size for a full resync.
    pub page_size: u32,
    /// Course runs per list request to Richie in a full resync.
    pub chunk_size: usize,
    /// Requests to Richie in flight at once during a full resync (the Richie client also
    /// bounds its own concurrency).
    pub delivery_concurrency: usize,
    /// Most course-list requests of a resync in any minute (0: unpaced). The LMS's
    /// course list allows a staff user 40 calls in any 60 s, counted in the same
    /// history as the enrollment views the enrollment webhook calls: the default (30)
    /// leaves a quarter of it. A 429 is still waited out by the LMS client when the
    /// invocation's deadline allows.
    pub list_pages_per_minute: usize,
    /// A resync reads no new course-list page with less than this left before the
    /// invocation's deadline: it stops there and says where to resume
    /// (`ResyncReport::resume_from`), so a page is never cut in the middle.
    pub page_reserve: Duration,
}

/// `SyncSettings::list_pages_per_minute` by default.
pub const DEFAULT_LIST_PAGES_PER_MINUTE: usize = 30;

/// `SyncSettings::page_reserve` by default: a page of 100 courses against a slow LMS
/// (each course read and delivered) fits in it with room to spare.
pub const DEFAULT_PAGE_RESERVE: Duration = Duration::from_secs(20);

impl Default for SyncSettings {
    fn default() -> Self {
        SyncSettings {
            course_concurrency: 8,
            page_size: 100,
            chunk_size: 50,
            delivery_concurrency: 4,
            list_pages_per_minute: DEFAULT_LIST_PAGES_PER_MINUTE,
            page_reserve: DEFAULT_PAGE_RESERVE,
        }
    }
}

/// What happened at one target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetOutcome {
    Synced,
    /// The target's `orgs` filter excludes this course.
    Skipped,
    /// Richie said 400: permanent, with its message.
    Rejected(String),
    Failed(RichieError),
}

/// What happened to one course.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CourseOutcome {
    /// Delivered (or tried) to every target, by target name.
    Delivered(Vec<(String, TargetOutcome)>),
    /// The LMS does not know the course: permanent.
    NotFound,
    /// The run cannot be expressed as a valid Richie payload: permanent.
    Invalid(String),
    /// Reading the LMS failed: retry.
    LmsFailed(LmsError),
}

impl CourseOutcome {
    /// Targets that answered like a misconfigured deployment (401/403, wrong URL).
    pub fn configuration_errors(&self) -> impl Iterator<Item = (&str, &RichieError)> {
        let targets: &[(String, TargetOutcome)] = match self {
            CourseOutcome::Delivered(t) => t,
            _ => &[],
        };
        targets.iter().filter_map(|(name, o)| match o {
            TargetOutcome::Failed(e) if e.is_configuration() => Some((name.as_str(), e)),
            _ => None,
        })
    }

    /// `true` when the LMS refused our credentials/permissions (a configuration error).
    pub fn lms_configuration_error(&self) -> bool {
        matches!(
            self,
            CourseOutcome::LmsFailed(
                LmsError::Unauthorized { .. }
                    | LmsError::Forbidden { .. }
                    | LmsError::Credentials(_)
            )
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CourseReport {
    pub course_id: String,
    pub outcome: CourseOutcome,
}

/// What a full resync did: what happened to each course (decided by `plan::decide`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResyncReport {
    /// Distinct course ids the course list gave.
    pub listed: usize,
    /// Every listed course still in the LMS, in course-id order.
    pub courses: Vec<CourseReport>,
    /// Targets that looked misconfigured, with the first error seen: they got no more
    /// requests after it, the others went on.
    pub configuration_errors: BTreeMap<String, RichieError>,
    /// The course list itself failed (the resync is incomplete: the pages before it
    /// were delivered).
    pub list_error: Option<LmsError>,
    /// Course-list pages read.
    pub pages: usize,
    /// The page the resync started at (1 unless it continues an earlier one).
    pub first_page: u32,
    /// Where to continue: the page whose read failed, or the next page when the
    /// invocation's deadline came too close to read it. `None`: the list was read to
    /// its end.
    pub resume_from: Option<u32>,
    /// Requests made to Richie (list form).
    pub richie_requests: usize,
}

/// The forwarder's core.
pub struct Syncer<L, R> {
    lms: Arc<L>,
    richie: Arc<R>,
    payload: PayloadConfig,
    settings: SyncSettings,
}

/// A per-link answer that does not mention `link` is a failure (retried), not "synced".
fn answer_for_link(answer: &RichieAnswer, link: &str) -> TargetOutcome {
    match answer.for_link(link) {
        Ok(LinkAnswer::Synced) => TargetOutcome::Synced,
        Ok(LinkAnswer::Rejected(message)) => TargetOutcome::Rejected(message),
        Err(err) => TargetOutcome::Failed(err),
    }
}

fn log_target(course_id: &str, target: &str, outcome: &TargetOutcome) {
    match outcome {
        TargetOutcome::Synced => tracing::debug!(course_id, target, "course run synced"),
        TargetOutcome::Skipped => {
            tracing::debug!(course_id, target, "course run skipped (org filter)")
        }
        TargetOutcome::Rejected(message) => {
            tracing::warn!(course_id, target, richie_message = %message, "Richie rejected the course run (not retried)")
        }
        TargetOutcome::Failed(err) if err.is_configuration() => tracing::error!(
            course_id, target, error = %err, error_kind = err.kind(),
            "Richie target is misconfigured (secret or URL); the course will be retried"
        ),
        TargetOutcome::Failed(err) => {
            tracing::error!(course_id, target, error = %err, error_kind = err.kind(), "delivery to Richie failed; will retry")
        }
    }
}

struct Fetched {
    course_id: String,
    run: Result<Option<CourseRun>, LmsError>,
}

impl<L: CatalogLms, R: RichieApi> Syncer<L, R> {
    pub fn new(
        lms: Arc<L>,
        richie: Arc<R>,
        payload: PayloadConfig,
        settings: SyncSettings,
    ) -> Self {
        Syncer {
            lms,
            richie,
            payload,
            settings,
        }
    }

    pub fn settings(&self) -> &SyncSettings {
        &self.settings
    }

    fn payload_for(
        &self,
        run: &CourseRun,
        job: Option<&Job>,
        target: &RichieTarget,
    ) -> Result<RichiePayload, PayloadError> {
        build_payload(
            run,
            job.and_then(|j| j.snapshot.as_ref()),
            &self.payload,
            target.resource_link_template.as_deref(),
        )
    }

    async fn deliver_one(&self, target: &RichieTarget, payload: &RichiePayload) -> TargetOutcome {
        // Serialise once; the client signs and sends exactly these bytes.
        let body = match serde_json::to_vec(payload) {
            Ok(b) => b,
            Err(e) => return TargetOutcome::Rejected(format!("cannot serialise payload: {e}")),
        };
        match self.richie.deliver(target, body).await {
            Ok(answer) => answer_for_link(&answer, &payload.resource_link),
            Err(err) => TargetOutcome::Failed(err),
        }
    }

    /// Deliver one job: the course to every configured target the job still owes (a
    /// named target no longer configured is owed nothing).
    pub async fn sync_job(&self, targets: &[RichieTarget], job: &Job) -> CourseReport {
        let course_id = job.course_id.clone();
        let targets: Vec<&RichieTarget> = targets
            .iter()
            .filter(|t| job.targets.includes(&t.name))
            .collect();
        if let crate::job::Owed::Only(names) = &job.targets {
            for name in names
                .iter()
                .filter(|n| !targets.iter().any(|t| &t.name == *n))
            {
                tracing::warn!(course_id, target = %name, "job for a target that is no longer configured dropped");
            }
        }
        let outcome = match course_org(&course_id) {
            None => CourseOutcome::Invalid(
                PayloadError::UnsupportedCourseKey(course_id.clone()).to_string(),
            ),
            Some(org) => match self.lms.course_run(&course_id).await {
                Err(err) => CourseOutcome::LmsFailed(err),
                Ok(None) => CourseOutcome::NotFound,
                Ok(Some(run)) => {
                    let (run, org) = (&run, org.as_str());
                    let deliveries = targets.iter().map(|target| async move {
                        let outcome = if !target.accepts_org(org) {
                            TargetOutcome::Skipped
                        } else {
                            match self.payload_for(run, Some(job), target) {
                                Ok(payload) => self.deliver_one(target, &payload).await,
                                Err(err) => return Err(err),
                            }
                        };
                        Ok((target.name.clone(), outcome))
                    });
                    match futures_util::future::join_all(deliveries)
                        .await
                        .into_iter()
                        .collect::<Result<Vec<_>, _>>()
                    {
                        Ok(results) => CourseOutcome::Delivered(results),
                        Err(err) => CourseOutcome::Invalid(err.to_string()),
                    }
                }
            },
        };
        match &outcome {
            CourseOutcome::Delivered(results) => results
                .iter()
                .for_each(|(t, o)| log_target(&course_id, t, o)),
            CourseOutcome::NotFound => {
                tracing::warn!(course_id, "the LMS does not know this course (not retried)")
            }
            CourseOutcome::Invalid(reason) => tracing::warn!(
                course_id,
                reason,
                "course run cannot be sent to Richie (not retried)"
            ),
            CourseOutcome::LmsFailed(err) if outcome.lms_configuration_error() => {
                tracing::error!(course_id, error = %err, error_kind = err.kind(), "the LMS refused our credentials; will retry")
            }
            CourseOutcome::LmsFailed(err) => {
                tracing::error!(course_id, error = %err, error_kind = err.kind(), "reading the course from the LMS failed; will retry")
            }
        }
        CourseReport { course_id, outcome }
    }

    /// Deliver several jobs (bounded concurrency), reports in job order.
    pub async fn sync_jobs(&self, targets: &[RichieTarget], jobs: &[Job]) -> Vec<CourseReport> {
        stream::iter(jobs)
            .map(|j| self.sync_job(targets, j))
            .buffered(self.settings.course_concurrency.max(1))
            .collect()
            .await
    }

    /// Every course of the LMS from course-list page `from_page` on, in Richie's list
    /// form, `chunk_size` runs per request, page by page: each course-list page is read,
    /// its courses fetched and delivered before the next page is asked for (at most
    /// `list_pages_per_minute` pages in any minute), so a resync cut short has delivered
    /// every page before the cut, and memory holds one page. It stops before a page it
    /// could not finish before the invocation's deadline (`deadline::remaining` below
    /// `page_reserve`) or whose read failed, and reports that page as `resume_from`.
    /// A target that answers like a misconfigured deployment gets no more requests for
    /// the rest of the resync; the others complete.
    pub async fn resync_all(&self, targets: &[RichieTarget], from_page: u32) -> ResyncReport {
        let first_page = from_page.clamp(1, MAX_PAGES);
        let mut report = ResyncReport {
            first_page,
            ..ResyncReport::default()
        };
        let page_size = self.settings.page_size.max(1);
        let broken: Vec<AtomicBool> = targets.iter().map(|_| AtomicBool::new(false)).collect();
        let mut seen: HashSet<String> = HashSet::new();
        let mut next = Some(first_page);
        let mut pacer = ListPacer::new(self.settings.list_pages_per_minute, WINDOW);
        while let Some(number) = next {
            // The page's turn under the list rate, and whether the page (read,
            // fetched, delivered) still fits before the invocation's deadline then.
            let now = Instant::now();
            let turn = pacer.next_allowed(now);
            if deadline::current().is_some_and(|end| turn + self.settings.page_reserve > end) {
                tracing::info!(
                    page = number,
                    "the invocation's deadline is near; the resync stops before this page"
                );
                report.resume_from = Some(number);
                break;
            }
            if turn > now {
                tokio::time::sleep(turn - now).await;
            }
            pacer.record(Instant::now());
            let page = match self.lms.list_courses(number, page_size).await {
                Ok(page) => page,
                Err(err) => {
                    tracing::error!(page = number, error = %err, error_kind = err.kind(), "reading the course list failed; the resync is incomplete");
                    report.list_error = Some(err);
                    report.resume_from = Some(number);
                    break;
                }
            };
            report.pages += 1;
            next = page.next_page.filter(|n| *n > number && *n <= MAX_PAGES);
            let ids: Vec<String> = page
                .course_ids
                .into_iter()
                .filter(|id| seen.insert(id.clone()))
                .collect();
            let fetched: Vec<Fetched> = stream::iter(ids)
                .map(|course_id| async move {
                    let run = self.lms.course_run(&course_id).await;
                    Fetched { course_id, run }
                })
                .buffer_unordered(self.settings.course_concurrency.max(1))
                .collect()
                .await;
            report.listed += fetched.len();
            self.deliver_page(targets, &fetched, &broken, &mut report)
                .await;
        }
        report.courses.sort_by(|a, b| a.course_id.cmp(&b.course_id));
        report
    }

    /// Deliver one page of fetched courses to every target (list form, in chunks).
    async fn deliver_page(
        &self,
        targets: &[RichieTarget],
        fetched: &[Fetched],
        broken: &[AtomicBool],
        report: &mut ResyncReport,
    ) {
        // course id → what happened (per target for the courses the LMS gave).
        let mut state: BTreeMap<String, CourseOutcome> = BTreeMap::new();
        let mut chunks: Vec<(usize, Vec<(String, RichiePayload)>)> = Vec::new();
        for f in fetched {
            match &f.run {
                Err(err) => {
                    tracing::error!(course_id = %f.course_id, error = %err, error_kind = err.kind(), "reading the course from the LMS failed; will retry");
                    state.insert(f.course_id.clone(), CourseOutcome::LmsFailed(err.clone()));
                }
                Ok(None) => {
                    // Listed a moment ago, gone now (deleted): nothing to sync.
                    tracing::info!(course_id = %f.course_id, "course disappeared from the LMS during the resync");
                }
                Ok(Some(_)) if course_org(&f.course_id).is_none() => {
                    let reason =
                        PayloadError::UnsupportedCourseKey(f.course_id.clone()).to_string();
                    tracing::warn!(course_id = %f.course_id, reason, "course run cannot be sent to Richie (not retried)");
                    state.insert(f.course_id.clone(), CourseOutcome::Invalid(reason));
                }
                Ok(Some(_)) => {
                    state.insert(f.course_id.clone(), CourseOutcome::Delivered(Vec::new()));
                }
            }
        }
        let mut record = |course_id: &str, target: &str, outcome: TargetOutcome| {
            if let Some(CourseOutcome::Delivered(results)) = state.get_mut(course_id) {
                results.push((target.to_owned(), outcome));
            }
        };
        for (index, target) in targets.iter().enumerate() {
            let mut runs: Vec<(String, RichiePayload)> = Vec::new();
            for f in fetched {
                let Ok(Some(run)) = &f.run else { continue };
                let Some(org) = course_org(&f.course_id) else {
                    continue;
                };
                if !target.accepts_org(&org) {
                    record(&f.course_id, &target.name, TargetOutcome::Skipped);
                    continue;
                }
                match self.payload_for(run, None, target) {
                    Ok(payload) => runs.push((f.course_id.clone(), payload)),
                    Err(err) => {
                        tracing::warn!(course_id = %f.course_id, target = %target.name, reason = %err, "course run cannot be sent to Richie (not retried)");
                        record(
                            &f.course_id,
                            &target.name,
                            TargetOutcome::Rejected(err.to_string()),
                        );
                    }
                }
            }
            let size = self.settings.chunk_size.max(1);
            let mut rest = runs;
            while !rest.is_empty() {
                let tail = rest.split_off(rest.len().min(size));
                chunks.push((index, rest));
                rest = tail;
            }
        }

        let deliveries = stream::iter(chunks)
            .map(|(index, chunk)| async move {
                let target = &targets[index];
                if broken[index].load(Ordering::Relaxed) {
                    return (index, chunk, None);
                }
                let list: Vec<&RichiePayload> = chunk.iter().map(|(_, p)| p).collect();
                let answer = match serde_json::to_vec(&list) {
                    Ok(body) => self.richie.deliver(target, body).await,
                    Err(e) => Ok(RichieAnswer::Rejected {
                        message: format!("cannot serialise payload: {e}"),
                    }),
                };
                if let Err(err) = &answer {
                    if err.is_configuration() {
                        broken[index].store(true, Ordering::Relaxed);
                    }
                }
                (index, chunk, Some(answer))
            })
            .buffer_unordered(self.settings.delivery_concurrency.max(1));
        let results: Vec<_> = deliveries.collect().await;

        for (index, chunk, answer) in results {
            let target = &targets[index];
            let outcome_of = |link: &str| -> TargetOutcome {
                match &answer {
                    // Not sent: an earlier chunk showed the target is misconfigured.
                    None => TargetOutcome::Failed(RichieError::Unexpected {
                        status: 0,
                        message: "target skipped after a configuration error".into(),
                    }),
                    Some(Ok(a)) => answer_for_link(a, link),
                    Some(Err(e)) => TargetOutcome::Failed(e.clone()),
                }
            };
            if answer.is_some() {
                report.richie_requests += 1;
            }
            if let Some(Err(err)) = &answer {
                if err.is_configuration() {
                    report
                        .configuration_errors
                        .entry(target.name.clone())
                        .or_insert_with(|| err.clone());
                    tracing::error!(target = %target.name, error = %err, error_kind = err.kind(), "Richie target is misconfigured (secret or URL)");
                } else {
                    tracing::error!(target = %target.name, error = %err, error_kind = err.kind(), courses = chunk.len(), "delivery of a resync chunk failed; its courses will be retried");
                }
            }
            for (course_id, payload) in &chunk {
                let outcome = outcome_of(&payload.resource_link);
                if let TargetOutcome::Rejected(message) = &outcome {
                    tracing::warn!(course_id = %course_id, target = %target.name, richie_message = %message, "Richie rejected the course run (not retried)");
                }
                record(course_id, &target.name, outcome);
            }
        }
        report.courses.extend(
            state
                .into_iter()
                .map(|(course_id, outcome)| CourseReport { course_id, outcome }),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::Owed;
    use crate::plan::{decide, Plan};
    use edx_hooks_shared::openedx::CoursePage;
    use std::collections::HashMap;
    use std::sync::Mutex;

    struct FakeLms {
        runs: HashMap<String, CourseRun>,
        failing: HashSet<String>,
        /// The course list fails from this page on.
        list_fails_at: Option<u32>,
        list_calls: Mutex<Vec<Instant>>,
        page_size_seen: Mutex<Vec<u32>>,
    }

    impl FakeLms {
        fn with(ids: &[&str]) -> Self {
            let runs = ids
                .iter()
                .map(|id| {
                    let run = CourseRun {
                        course_id: (*id).into(),
                        start: Some("2030-01-01T00:00:00Z".into()),
                        language: Some("fr".into()),
                        ..CourseRun::default()
                    };
                    ((*id).to_owned(), run)
                })
                .collect();
            FakeLms {
                runs,
                failing: HashSet::new(),
                list_fails_at: None,
                list_calls: Mutex::new(Vec::new()),
                page_size_seen: Mutex::new(Vec::new()),
            }
        }
    }

    impl CatalogLms for FakeLms {
        async fn course_run(&self, course_id: &str) -> Result<Option<CourseRun>, LmsError> {
            if self.failing.contains(course_id) {
                return Err(LmsError::Timeout {
                    operation: "course_detail",
                    attempts: 3,
                });
            }
            Ok(self.runs.get(course_id).cloned())
        }
        async fn list_courses(&self, page: u32, page_size: u32) -> Result<CoursePage, LmsError> {
            self.page_size_seen.lock().unwrap().push(page_size);
            self.list_calls.lock().unwrap().push(Instant::now());
            if self.list_fails_at.is_some_and(|p| page >= p) {
                return Err(LmsError::Timeout {
                    operation: "course_list",
                    attempts: 3,
                });
            }
            let mut ids: Vec<String> = self.runs.keys().cloned().collect();
            ids.extend(self.failing.iter().cloned());
            ids.sort();
            let start = ((page - 1) * page_size) as usize;
            let end = (start + page_size as usize).min(ids.len());
            Ok(CoursePage {
                course_ids: ids
                    .get(start..end)
                    .map(<[String]>::to_vec)
                    .unwrap_or_default(),
                next_page: (end < ids.len()).then_some(page + 1),
                total: Some(ids.len() as u64),
            })
        }
    }

    /// Richie double: per target name, a fixed behaviour; records every body.
    #[derive(Default)]
    struct FakeRichie {
        unknown_codes: Vec<String>,
        /// Links (substrings) a per-link answer leaves out.
        unmentioned: Vec<String>,
        down: HashSet<String>,
        bad_secret: HashSet<String>,
        bodies: Mutex<Vec<(String, serde_json::Value)>>,
    }

    impl RichieApi for FakeRichie {
        async fn deliver(
            &self,
            target: &RichieTarget,
            body: Vec<u8>,
        ) -> Result<RichieAnswer, RichieError> {
            let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
            self.bodies
                .lock()
                .unwrap()
                .push((target.name.clone(), value.clone()));
            if self.down.contains(&target.name) {
                return Err(RichieError::Unavailable {
                    status: 503,
                    attempts: 2,
                });
            }
            if self.bad_secret.contains(&target.name) {
                return Err(RichieError::Unauthorized {
                    status: 401,
                    message: "Invalid authentication.".into(),
                });
            }
            let check = |item: &serde_json::Value| -> Option<String> {
                let link = item["resource_link"].as_str().unwrap();
                self.unknown_codes
                    .iter()
                    .find(|c| link.contains(&format!("+{c}+")))
                    .map(|c| format!("resource_link: Unknown course: {}.", c.to_uppercase()))
            };
            match &value {
                serde_json::Value::Array(items) => {
                    let link =
                        |i: &serde_json::Value| i["resource_link"].as_str().unwrap().to_owned();
                    let failed: BTreeMap<String, String> = items
                        .iter()
                        .filter_map(|i| check(i).map(|m| (link(i), m)))
                        .collect();
                    let synced = items
                        .iter()
                        .map(link)
                        .filter(|l| {
                            !failed.contains_key(l)
                                && !self.unmentioned.iter().any(|u| l.contains(u.as_str()))
                        })
                        .collect();
                    Ok(if failed.is_empty() && self.unmentioned.is_empty() {
                        RichieAnswer::Synced
                    } else {
                        RichieAnswer::Partial { synced, failed }
                    })
                }
                item => Ok(match check(item) {
                    Some(message) => RichieAnswer::Rejected { message },
                    None => RichieAnswer::Synced,
                }),
            }
        }
    }

    fn target(name: &str) -> RichieTarget {
        let mut t =
            RichieTarget::new(&format!("http://{name}/api/v1.0/course-runs-sync/"), "s").unwrap();
        t.name = name.into();
        t
    }

    fn syncer(lms: FakeLms, richie: FakeRichie, chunk: usize) -> Syncer<FakeLms, FakeRichie> {
        Syncer::new(
            Arc::new(lms),
            Arc::new(richie),
            PayloadConfig::new("lms.test"),
            SyncSettings {
                chunk_size: chunk,
                page_size: 3,
                list_pages_per_minute: 0,
                page_reserve: Duration::from_secs(1),
                ..SyncSettings::default()
            },
        )
    }

    #[tokio::test]
    async fn one_course_many_targets_partial_failure() {
        let mut richie = FakeRichie::default();
        richie.down.insert("b".into());
        let mut t_c = target("c");
        t_c.orgs = Some(vec!["OtherOrg".into()]);
        let s = syncer(FakeLms::with(&["course-v1:edX+DemoX+Demo"]), richie, 50);
        let job = Job::course("course-v1:edX+DemoX+Demo");
        let report = s.sync_job(&[target("a"), target("b"), t_c], &job).await;
        let CourseOutcome::Delivered(results) = &report.outcome else {
            panic!("{report:?}")
        };
        assert_eq!(results[0], ("a".into(), TargetOutcome::Synced));
        assert!(matches!(
            results[1].1,
            TargetOutcome::Failed(RichieError::Unavailable { .. })
        ));
        assert_eq!(results[2], ("c".into(), TargetOutcome::Skipped));
        assert_eq!(
            decide(&job, &report.outcome),
            Plan::Retry(job.owing(["b".to_owned()].into())),
            "only b is still owed"
        );
        let bodies = s.richie.bodies.lock().unwrap();
        assert_eq!(bodies.len(), 2, "a and b were both tried");
        assert_eq!(bodies[0].1["languages"], serde_json::json!(["fr"]));
    }

    #[tokio::test]
    async fn verdicts() {
        let mut richie = FakeRichie::default();
        richie.unknown_codes.push("Nope".into());
        richie.bad_secret.insert("bad".into());
        let mut lms = FakeLms::with(&["course-v1:edX+Nope+1", "course-v1:edX+DemoX+1"]);
        lms.failing.insert("course-v1:edX+Flaky+1".into());
        let s = syncer(lms, richie, 50);
        let a = [target("a")];
        async fn plan(
            s: &Syncer<FakeLms, FakeRichie>,
            id: &str,
            targets: &[RichieTarget],
        ) -> (Plan, CourseOutcome) {
            let job = Job::course(id);
            let report = s.sync_job(targets, &job).await;
            (decide(&job, &report.outcome), report.outcome)
        }
        let (rejected, _) = plan(&s, "course-v1:edX+Nope+1", &a).await;
        assert_eq!(rejected, Plan::Rejected);
        let (missing, outcome) = plan(&s, "course-v1:edX+Missing+1", &a).await;
        assert_eq!(
            (missing, outcome),
            (Plan::Rejected, CourseOutcome::NotFound)
        );
        assert!(plan(&s, "course-v1:edX+Flaky+1", &a).await.0.is_retry());
        assert!(matches!(
            plan(&s, "ccx-v1:edX+DemoX+1+ccx@2", &a).await,
            (Plan::Rejected, CourseOutcome::Invalid(_))
        ));
        let (bad, outcome) = plan(&s, "course-v1:edX+DemoX+1", &[target("bad")]).await;
        assert!(bad.is_retry());
        assert_eq!(outcome.configuration_errors().count(), 1);
    }

    #[tokio::test]
    async fn a_job_goes_only_to_the_targets_it_owes() {
        let s = syncer(
            FakeLms::with(&["course-v1:edX+DemoX+1"]),
            FakeRichie::default(),
            50,
        );
        let job = Job {
            targets: Owed::Only(["b".to_owned(), "gone".to_owned()].into()),
            ..Job::course("course-v1:edX+DemoX+1")
        };
        let report = s.sync_job(&[target("a"), target("b")], &job).await;
        assert_eq!(
            report.outcome,
            CourseOutcome::Delivered(vec![("b".into(), TargetOutcome::Synced)]),
            "a is not owed; a target no longer configured is owed nothing"
        );
        assert_eq!(decide(&job, &report.outcome), Plan::Done);
        let bodies = s.richie.bodies.lock().unwrap();
        assert_eq!(
            bodies.iter().map(|(t, _)| t.as_str()).collect::<Vec<_>>(),
            ["b"]
        );
    }

    /// (synced, rejected (course, target, message), retried course ids) of a resync.
    fn resync_plans(report: &ResyncReport) -> (usize, Vec<(String, String)>, Vec<String>) {
        let mut synced = 0;
        let mut rejected = Vec::new();
        let mut retried = Vec::new();
        for c in &report.courses {
            if let CourseOutcome::Delivered(targets) = &c.outcome {
                for (t, o) in targets {
                    if let TargetOutcome::Rejected(m) = o {
                        rejected.push((format!("{}@{t}", c.course_id), m.clone()));
                    }
                }
            }
            match decide(&Job::course(c.course_id.clone()), &c.outcome) {
                Plan::Done => synced += 1,
                Plan::Rejected => {}
                Plan::Retry(_) => retried.push(c.course_id.clone()),
            }
        }
        (synced, rejected, retried)
    }

    #[tokio::test]
    async fn resync_pages_chunks_and_partial_answers() {
        let ids: Vec<String> = (0..10).map(|i| format!("course-v1:edX+C{i}+run")).collect();
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        let mut lms = FakeLms::with(&refs);
        lms.failing.insert("course-v1:edX+Flaky+run".into());
        let mut richie = FakeRichie::default();
        richie.unknown_codes.push("C3".into());
        let s = syncer(lms, richie, 4);
        let report = s.resync_all(&[target("a")], 1).await;
        assert_eq!(report.listed, 11);
        let (synced, rejected, failed) = resync_plans(&report);
        assert_eq!(synced, 9);
        assert_eq!(failed, vec!["course-v1:edX+Flaky+run".to_owned()]);
        assert_eq!(rejected.len(), 1);
        assert_eq!(rejected[0].1, "resource_link: Unknown course: C3.");
        // Delivered page by page: pages of 3 (C0-2, C3-5, C6-8, C9 + the failed read)
        // are one chunk of at most 4 each.
        assert_eq!(
            report.richie_requests, 4,
            "10 runs, one chunk per page of 3"
        );
        assert_eq!(s.lms.page_size_seen.lock().unwrap().len(), 4, "paged by 3");
        let bodies = s.richie.bodies.lock().unwrap();
        assert!(bodies
            .iter()
            .all(|(_, b)| b.as_array().is_some_and(|a| a.len() <= 4)));
        assert!(bodies.iter().all(|(_, b)| b.is_array()));
    }

    #[tokio::test]
    async fn a_per_link_answer_without_our_link_is_a_failure_not_synced() {
        let ids: Vec<String> = (0..4).map(|i| format!("course-v1:edX+C{i}+run")).collect();
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        let mut richie = FakeRichie::default();
        richie.unknown_codes.push("C0".into());
        richie.unmentioned.push("+C2+".into());
        let s = syncer(FakeLms::with(&refs), richie, 50);
        let report = s.resync_all(&[target("a")], 1).await;
        assert_eq!(report.listed, 4);
        let (synced, rejected, failed) = resync_plans(&report);
        assert_eq!(synced, 2, "C1 and C3 confirmed");
        assert_eq!(rejected.len(), 1);
        assert_eq!(failed, vec!["course-v1:edX+C2+run".to_owned()]);
    }

    #[tokio::test]
    async fn resync_delivers_page_by_page_and_keeps_what_was_delivered_when_the_list_fails() {
        let ids: Vec<String> = (0..10).map(|i| format!("course-v1:edX+C{i}+run")).collect();
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        let mut lms = FakeLms::with(&refs);
        lms.list_fails_at = Some(3);
        let s = syncer(lms, FakeRichie::default(), 50);
        let report = s.resync_all(&[target("a")], 1).await;
        assert!(report.list_error.is_some());
        assert_eq!(
            (report.pages, report.listed),
            (2, 6),
            "pages 1 and 2, 3 courses each"
        );
        let (synced, _, failed) = resync_plans(&report);
        assert_eq!((synced, failed.len()), (6, 0));
        let bodies = s.richie.bodies.lock().unwrap();
        assert_eq!(
            bodies
                .iter()
                .map(|(_, b)| b.as_array().map(Vec::len))
                .collect::<Vec<_>>(),
            [Some(3), Some(3)],
            "one delivery per page (chunks of 50 never span pages): delivered before the next page"
        );
    }

    #[tokio::test]
    async fn resync_paces_the_course_list_and_stops_where_the_deadline_would_cut_a_page() {
        let ids: Vec<String> = (0..10).map(|i| format!("course-v1:edX+C{i}+run")).collect();
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        let mut s = syncer(FakeLms::with(&refs), FakeRichie::default(), 50);
        // Two pages a minute: pages 1 and 2 at once, page 3 only a minute later, which is
        // past this invocation's deadline.
        s.settings.list_pages_per_minute = 2;
        s.settings.page_reserve = Duration::from_millis(500);
        let started = Instant::now();
        let report = deadline::with_deadline(
            started + Duration::from_secs(3),
            s.resync_all(&[target("a")], 1),
        )
        .await;
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "no wait for page 3"
        );
        assert_eq!((report.pages, report.listed), (2, 6));
        assert_eq!(report.resume_from, Some(3), "continue at page 3");
        assert!(report.list_error.is_none());
        // The continuation: pages 3 and 4, nothing of pages 1-2 again.
        let before = s.richie.bodies.lock().unwrap().len();
        let report = s.resync_all(&[target("a")], 3).await;
        assert_eq!((report.first_page, report.pages, report.listed), (3, 2, 4));
        assert_eq!(report.resume_from, None, "read to the end");
        let (synced, _, failed) = resync_plans(&report);
        assert_eq!((synced, failed.len()), (4, 0));
        assert_eq!(s.richie.bodies.lock().unwrap().len() - before, 2);
    }

    #[tokio::test]
    async fn a_failed_page_is_where_the_resync_resumes() {
        let ids: Vec<String> = (0..10).map(|i| format!("course-v1:edX+C{i}+run")).collect();
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        let mut lms = FakeLms::with(&refs);
        lms.list_fails_at = Some(2);
        let s = syncer(lms, FakeRichie::default(), 50);
        let report = s.resync_all(&[target("a")], 1).await;
        assert_eq!((report.pages, report.listed), (1, 3));
        assert!(report.list_error.is_some());
        assert_eq!(report.resume_from, Some(2));
    }

    #[tokio::test]
    async fn resync_stops_hammering_a_misconfigured_target_but_serves_the_others() {
        let ids: Vec<String> = (0..10).map(|i| format!("course-v1:edX+C{i}+run")).collect();
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        let mut richie = FakeRichie::default();
        richie.bad_secret.insert("bad".into());
        let mut s = syncer(FakeLms::with(&refs), richie, 2);
        s.settings.delivery_concurrency = 1;
        let report = s.resync_all(&[target("bad"), target("good")], 1).await;
        assert!(report.configuration_errors.contains_key("bad"));
        let (_, _, failed) = resync_plans(&report);
        assert_eq!(failed.len(), 10, "every course still owes the bad target");
        for c in &report.courses {
            assert_eq!(
                decide(&Job::course(c.course_id.clone()), &c.outcome),
                Plan::Retry(Job::course(c.course_id.clone()).owing(["bad".to_owned()].into())),
                "only the bad target is owed"
            );
        }
        let bodies = s.richie.bodies.lock().unwrap();
        assert_eq!(
            bodies.iter().filter(|(t, _)| t == "good").count(),
            7,
            "pages of 3, 3, 3, 1 in chunks of 2: the good target completes"
        );
        assert_eq!(
            bodies.iter().filter(|(t, _)| t == "bad").count(),
            1,
            "no more chunks after the 401"
        );
    }
}
