//! The catalog side of the REST adapter: what the Richie forwarder reads.
//!
//! Endpoints (edx-platform = github.com/openedx/openedx-platform):
//! * course runs: `GET /api/courses/v1/courses/` and `/api/courses/v1/courses/{id}/`
//!   (`lms/djangoapps/course_api/views.py` `CourseListView`, `CourseDetailView`;
//!   `serializers.py` `CourseSerializer`): dates, `name`, `hidden`
//!   (= `catalog_visibility in ['about', 'none']`). No language, no enrollment count.
//! * language: `GET /api/courseware/course/{id}?requested_fields=language`
//!   (`openedx/core/djangoapps/courseware_api/views.py` `CoursewareInformation`,
//!   `CoursewareMeta.language` = modulestore `course.language`).
//! * enrollment count: `GET /api/instructor/v2/courses/{id}`
//!   (`lms/djangoapps/instructor/views/api_v2.py` `CourseMetadataView`,
//!   `total_enrollment` = active enrollments; recent releases only), or, opt-in, by
//!   walking `GET /api/enrollment/v1/enrollments?course_id=` (every release).
//! * exact `catalog_visibility` (`both|about|none`): Studio's
//!   `GET {cms}/api/contentstore/v0/advanced_settings/{id}`
//!   (`cms/djangoapps/contentstore/rest_api/v0/views/advanced_settings.py`), only
//!   when a Studio URL is configured.
//!
//! [`OpenEdxClient`] implements [`CatalogLms`] with the course API alone;
//! [`CatalogClient`] adds the optional lookups above. What each answer means is decided
//! by the pure parsers of [`crate::openedx_parse`] (unit-tested there, fuzzed by the
//! `course_catalog` target); this file only makes the calls.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::transport::{encode_path, invalid, Call, Reply};
use super::{CatalogLms, CoursePage, CourseRun, LmsError, OpenEdxClient};
use crate::enrollment_answers::{course_api_unknown_user, UNKNOWN_SERVICE_USER};
use crate::openedx_parse as parse;

impl OpenEdxClient {
    /// The username the course API evaluates visibility for. Required: without it the
    /// API answers as for an anonymous visitor, and every course that has not started
    /// and is not open for enrollment yet is 404 (`course_api/api.py`
    /// `get_effective_user`, `courseware/access.py` `see_exists`) — exactly the
    /// upcoming courses Richie announces.
    async fn catalog_username(&self) -> Result<String, LmsError> {
        self.transport.service_username().await?.ok_or_else(|| {
            LmsError::Credentials(
                "the service user's username is unknown (the token is not a JWT): set OPENEDX_SERVICE_USERNAME"
                    .into(),
            )
        })
    }

    async fn course_detail(&self, course_id: &str) -> Result<Option<CourseRun>, LmsError> {
        const OP: &str = "course_detail";
        let url = self.url(&format!(
            "/api/courses/v1/courses/{}/",
            encode_path(course_id)
        ));
        // Without `username` the course API answers for an anonymous user: every
        // course that has not started and is not open for enrollment yet is 404.
        let username = self.catalog_username().await?;
        let reply = self
            .transport
            .send(Call::new(OP), |http| {
                http.get(&url).query(&[("username", username.as_str())])
            })
            .await?;
        match reply.code() {
            200 => parse::parse_course_detail(&reply.body, course_id)
                .map(Some)
                .map_err(invalid(OP)),
            404 if course_api_unknown_user(&reply.body) => {
                Err(LmsError::Credentials(UNKNOWN_SERVICE_USER.into()))
            }
            404 => Ok(None),
            _ => Err(reply.unexpected(OP)),
        }
    }

    async fn course_list_page(
        &self,
        page: u32,
        page_size: u32,
    ) -> Result<(CoursePage, Vec<CourseRun>), LmsError> {
        const OP: &str = "course_list";
        let url = self.url("/api/courses/v1/courses/");
        let username = self.catalog_username().await?;
        let page_s = page.to_string();
        let size_s = page_size.to_string();
        let reply = self
            .transport
            .send(Call::new(OP), |http| {
                http.get(&url).query(&[
                    ("page", page_s.as_str()),
                    ("page_size", size_s.as_str()),
                    ("username", username.as_str()),
                ])
            })
            .await?;
        match reply.code() {
            200 => {
                let parsed = parse::parse_course_list(&reply.body, page).map_err(invalid(OP))?;
                let runs = parsed.courses;
                let page = CoursePage {
                    course_ids: runs.iter().map(|r| r.course_id.clone()).collect(),
                    next_page: parsed.next_page,
                    total: parsed.total,
                };
                Ok((page, runs))
            }
            404 if course_api_unknown_user(&reply.body) => {
                Err(LmsError::Credentials(UNKNOWN_SERVICE_USER.into()))
            }
            // "Invalid page." past the end (e.g. the list shrank while we paged).
            404 => Ok((
                CoursePage {
                    course_ids: vec![],
                    next_page: None,
                    total: None,
                },
                vec![],
            )),
            _ => Err(reply.unexpected(OP)),
        }
    }
}

impl CatalogLms for OpenEdxClient {
    async fn course_run(&self, course_id: &str) -> Result<Option<CourseRun>, LmsError> {
        self.course_detail(course_id).await
    }

    async fn list_courses(&self, page: u32, page_size: u32) -> Result<CoursePage, LmsError> {
        Ok(self.course_list_page(page, page_size).await?.0)
    }
}

/// Where the course language comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LanguageSource {
    /// The courseware API (`/api/courseware/course/{id}`).
    Courseware,
    /// Not looked up: the forwarder's configured default applies.
    None,
}

/// Where the enrollment count comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnrollmentCountSource {
    /// `/api/instructor/v2/courses/{id}` `total_enrollment` (active enrollments).
    InstructorV2,
    /// Count the active rows of the staff list `/api/enrollment/v1/enrollments?course_id=`
    /// (`enrollments/views.py` `CourseEnrollmentsApiListView`: cursor pagination, 100
    /// rows a page, no total), for releases without the instructor v2 API. A course with
    /// more than `max_pages` pages gets no count (never a wrong one).
    EnrollmentsList { max_pages: u32 },
    /// Not looked up: the field is left out of the Richie payload.
    None,
}

/// Which optional lookups [`CatalogClient`] makes per course.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogSources {
    pub language: LanguageSource,
    pub enrollment_count: EnrollmentCountSource,
    /// Studio base URL (e.g. `https://studio.example.com`): read the exact
    /// `catalog_visibility` from its advanced settings API. `None`: only the course
    /// API's `hidden` flag is known.
    pub cms_base_url: Option<String>,
    /// Reuse the fields of the course-list rows for the next `course_run` of the same
    /// course (within [`LIST_REUSE_TTL`]) instead of calling the detail endpoint:
    /// list and detail share `CourseSerializer`, so a full resync saves one call per course.
    pub reuse_list_rows: bool,
}

impl Default for CatalogSources {
    fn default() -> Self {
        CatalogSources {
            language: LanguageSource::Courseware,
            enrollment_count: EnrollmentCountSource::InstructorV2,
            cms_base_url: None,
            reuse_list_rows: true,
        }
    }
}

/// How long a course-list row stands in for the detail call.
pub const LIST_REUSE_TTL: Duration = Duration::from_secs(300);
/// Most list rows kept for reuse.
const MAX_REUSED_ROWS: usize = 20_000;

/// The course API plus the optional language / count / visibility lookups.
///
/// An optional endpoint that is not routed on this LMS release (HTML 404 rather than
/// the view's JSON "not found") is switched off for the life of the process, so older
/// releases pay for one probe, not one call per course. Transient errors of an
/// optional lookup fail the course (retried later) rather than silently send a default
/// that would overwrite the right value in Richie.
pub struct CatalogClient {
    lms: Arc<OpenEdxClient>,
    sources: CatalogSources,
    courseware: RouteProbe,
    instructor: RouteProbe,
    listed: Mutex<HashMap<String, (Instant, CourseRun)>>,
}

const ROUTE_UNKNOWN: u8 = 0;
const ROUTE_PRESENT: u8 = 1;
const ROUTE_MISSING: u8 = 2;

/// Whether an optional endpoint exists on this LMS. Until that is known, calls go one
/// at a time (so concurrent courses do not all probe a missing route); afterwards they
/// run freely, or not at all.
struct RouteProbe {
    state: AtomicU8,
    probing: tokio::sync::Mutex<()>,
}

impl RouteProbe {
    fn new() -> Self {
        RouteProbe {
            state: AtomicU8::new(ROUTE_UNKNOWN),
            probing: tokio::sync::Mutex::new(()),
        }
    }

    fn missing(&self) -> bool {
        self.state.load(Ordering::Relaxed) == ROUTE_MISSING
    }

    /// Run `call`; while the route's existence is unknown, one call at a time.
    /// `call` yields the reply and whether it proved the route missing.
    async fn call<T, F>(&self, call: F) -> Result<Option<T>, LmsError>
    where
        F: std::future::Future<Output = Result<(Option<T>, bool), LmsError>>,
    {
        let _guard = match self.state.load(Ordering::Relaxed) {
            ROUTE_PRESENT => None,
            ROUTE_MISSING => return Ok(None),
            _ => {
                let guard = self.probing.lock().await;
                match self.state.load(Ordering::Relaxed) {
                    ROUTE_MISSING => return Ok(None),
                    ROUTE_PRESENT => None,
                    _ => Some(guard),
                }
            }
        };
        let (value, route_missing) = call.await?;
        self.state.store(
            if route_missing {
                ROUTE_MISSING
            } else {
                ROUTE_PRESENT
            },
            Ordering::Relaxed,
        );
        Ok(value)
    }
}

/// 404 from Django's URL resolver (no such route: HTML page) vs. 404 from the view
/// (JSON body: unknown course).
fn route_missing(reply: &Reply) -> bool {
    parse::route_missing(reply.code(), &reply.body)
}

impl CatalogClient {
    pub fn new(lms: Arc<OpenEdxClient>, sources: CatalogSources) -> Self {
        CatalogClient {
            lms,
            sources,
            courseware: RouteProbe::new(),
            instructor: RouteProbe::new(),
            listed: Mutex::new(HashMap::new()),
        }
    }

    pub fn sources(&self) -> &CatalogSources {
        &self.sources
    }

    pub fn lms(&self) -> &OpenEdxClient {
        &self.lms
    }

    fn take_listed(&self, course_id: &str) -> Option<CourseRun> {
        let mut listed = self.listed.lock().ok()?;
        let (at, run) = listed.remove(course_id)?;
        (at.elapsed() < LIST_REUSE_TTL).then_some(run)
    }

    fn remember_listed(&self, runs: Vec<CourseRun>) {
        let Ok(mut listed) = self.listed.lock() else {
            return;
        };
        if listed.len() + runs.len() > MAX_REUSED_ROWS {
            listed.retain(|_, (at, _)| at.elapsed() < LIST_REUSE_TTL);
            if listed.len() + runs.len() > MAX_REUSED_ROWS {
                listed.clear();
            }
        }
        let now = Instant::now();
        for run in runs {
            listed.insert(run.course_id.clone(), (now, run));
        }
    }

    async fn language(&self, course_id: &str) -> Result<Option<String>, LmsError> {
        const OP: &str = "courseware_language";
        if self.sources.language == LanguageSource::None || self.courseware.missing() {
            return Ok(None);
        }
        let url = self.lms.url(&format!(
            "/api/courseware/course/{}",
            encode_path(course_id)
        ));
        self.courseware
            .call(async {
                let reply = self
                    .lms
                    .transport
                    .send(Call::new(OP), |http| {
                        http.get(&url).query(&[("requested_fields", "language")])
                    })
                    .await?;
                match reply.code() {
                    200 => Ok((parse::parse_courseware_language(&reply.body).map_err(invalid(OP))?, false)),
                    404 if route_missing(&reply) => {
                        tracing::warn!("this LMS has no courseware API; course languages fall back to the configured default");
                        Ok((None, true))
                    }
                    // The course vanished between the two calls: the caller already has the run.
                    404 => Ok((None, false)),
                    403 => Err(LmsError::Forbidden { operation: OP, status: 403 }),
                    status => Err(LmsError::UnexpectedStatus { operation: OP, status }),
                }
            })
            .await
    }

    async fn enrollment_count(&self, course_id: &str) -> Result<Option<u64>, LmsError> {
        const OP: &str = "instructor_course_metadata";
        match self.sources.enrollment_count {
            EnrollmentCountSource::None => return Ok(None),
            EnrollmentCountSource::EnrollmentsList { max_pages } => {
                return self.count_by_listing(course_id, max_pages).await
            }
            EnrollmentCountSource::InstructorV2 if self.instructor.missing() => return Ok(None),
            EnrollmentCountSource::InstructorV2 => {}
        }
        let url = self.lms.url(&format!(
            "/api/instructor/v2/courses/{}",
            encode_path(course_id)
        ));
        self.instructor
            .call(async {
                let reply = self.lms.transport.send(Call::new(OP), |http| http.get(&url)).await?;
                match reply.code() {
                    200 => Ok((parse::parse_total_enrollment(&reply.body).map_err(invalid(OP))?, false)),
                    404 if route_missing(&reply) => {
                        tracing::warn!("this LMS has no instructor v2 API; enrollment counts are not sent to Richie");
                        Ok((None, true))
                    }
                    404 => Ok((None, false)),
                    403 => Err(LmsError::Forbidden { operation: OP, status: 403 }),
                    status => Err(LmsError::UnexpectedStatus { operation: OP, status }),
                }
            })
            .await
    }

    async fn count_by_listing(
        &self,
        course_id: &str,
        max_pages: u32,
    ) -> Result<Option<u64>, LmsError> {
        const OP: &str = "enrollments_list";
        let url = self.lms.url("/api/enrollment/v1/enrollments");
        let mut cursor: Option<String> = None;
        let mut active = 0u64;
        for _ in 0..max_pages.max(1) {
            let reply = self
                .lms
                .transport
                .send(Call::new(OP), |http| {
                    let mut query: Vec<(&str, &str)> =
                        vec![("course_id", course_id), ("page_size", "100")];
                    if let Some(c) = &cursor {
                        query.push(("cursor", c));
                    }
                    http.get(&url).query(&query)
                })
                .await?;
            match reply.code() {
                200 => {}
                403 => {
                    return Err(LmsError::Forbidden {
                        operation: OP,
                        status: 403,
                    })
                }
                status => {
                    return Err(LmsError::UnexpectedStatus {
                        operation: OP,
                        status,
                    })
                }
            }
            let page = parse::parse_enrollments_page(&reply.body).map_err(invalid(OP))?;
            active = active.saturating_add(page.active);
            // Follow the opaque cursor on our own base URL (the LMS may build `next`
            // with an internal scheme or host).
            cursor = page
                .next
                .and_then(|next| reqwest::Url::parse(&next).ok())
                .and_then(|next| {
                    next.query_pairs()
                        .find(|(k, _)| k == "cursor")
                        .map(|(_, v)| v.into_owned())
                });
            if cursor.is_none() {
                return Ok(Some(active));
            }
        }
        tracing::warn!(
            course_id,
            max_pages,
            "too many enrollments to count by listing; enrollment_count not sent"
        );
        Ok(None)
    }

    async fn catalog_visibility(&self, course_id: &str) -> Result<Option<String>, LmsError> {
        const OP: &str = "cms_advanced_settings";
        let Some(cms) = &self.sources.cms_base_url else {
            return Ok(None);
        };
        let url = format!(
            "{}/api/contentstore/v0/advanced_settings/{}",
            cms.trim_end_matches('/'),
            encode_path(course_id)
        );
        let reply = self
            .lms
            .transport
            .send(Call::new(OP), |http| http.get(&url))
            .await?;
        match reply.code() {
            200 => parse::parse_cms_catalog_visibility(&reply.body).map_err(invalid(OP)),
            404 => Ok(None),
            _ => Err(reply.unexpected(OP)),
        }
    }
}

impl CatalogLms for CatalogClient {
    async fn course_run(&self, course_id: &str) -> Result<Option<CourseRun>, LmsError> {
        let base = match self
            .sources
            .reuse_list_rows
            .then(|| self.take_listed(course_id))
            .flatten()
        {
            Some(run) => run,
            None => match self.lms.course_detail(course_id).await? {
                Some(run) => run,
                None => return Ok(None),
            },
        };
        let (language, count, visibility) = tokio::join!(
            self.language(course_id),
            self.enrollment_count(course_id),
            self.catalog_visibility(course_id)
        );
        let mut run = base;
        run.language = language?.or(run.language);
        run.enrollment_count = count?.or(run.enrollment_count);
        run.catalog_visibility = visibility?.or(run.catalog_visibility);
        Ok(Some(run))
    }

    async fn list_courses(&self, page: u32, page_size: u32) -> Result<CoursePage, LmsError> {
        let (page, runs) = self.lms.course_list_page(page, page_size).await?;
        if self.sources.reuse_list_rows {
            self.remember_listed(runs);
        }
        Ok(page)
    }
}
