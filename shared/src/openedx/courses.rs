//! Course existence and modes, for the enrollment webhook.
//!
//! * existence, batched: `GET /api/courses/v1/courses/?course_keys=a,b,…&username=<svc>`
//!   (`lms/djangoapps/course_api/views.py` `CourseListView`, `forms.py`
//!   `CourseListGetForm.course_keys`): a hint. Every course it lists is a
//!   `CourseOverview` (exactly the plugin's check), but it is throttled (40/min for
//!   staff) and shares its history with the enrollment views' 120/min bucket
//!   (both use DRF scope `staff`, key `throttle_staff_<user id>`): one call per
//!   request, never retried, paused for a minute after a 429.
//! * existence, one course: `GET /api/courses/v1/courses/{id}/?username=<svc>`
//!   (`CourseDetailView`: no throttle; with the staff username every course is visible,
//!   upcoming and hidden ones included; without it the caller is anonymous and
//!   not-yet-started courses are 404). Only when no username is known (an opaque
//!   token) the anonymous `GET /api/enrollment/v1/course/{id}` is used
//!   (`EnrollmentCourseDetailView`: throttled at 40/min per client IP).
//! * modes: `GET /api/course_modes/v1/courses/{id}/` (`course_modes/rest_api/v1/views.py`
//!   `CourseModesView`: every mode row, expired ones included; no throttle).

use std::time::{Duration, Instant};

use super::transport::{encode_path, invalid, Call};
use super::{LmsError, OpenEdxClient};
use crate::enrollment_answers::{
    course_api_unknown_user, parse_course_modes, UNKNOWN_SERVICE_USER,
};
use crate::openedx_parse::parse_listed_course_ids;

/// Most course keys asked for in one course-list call (keeps the URL short).
pub(super) const BATCH_CHECK_KEYS: usize = 50;
/// How long to leave the course list alone after it answered 429.
pub(super) const BATCH_CHECK_PAUSE: Duration = Duration::from_secs(60);
/// How long a course's modes are reused. Modes change when staff edit the course's
/// tracks, rarely; a warm function selling the same courses then spends no call on
/// them. A mode removed meanwhile makes the LMS refuse the enrollment (500, retried);
/// one added is used after at most this long.
pub(super) const MODES_TTL: Duration = Duration::from_secs(60);
/// Most courses whose modes are kept.
const MODES_CACHE_LIMIT: usize = 10_000;

impl OpenEdxClient {
    pub(super) fn batch_check_paused(&self) -> bool {
        self.batch_check_paused_until
            .lock()
            .map(|until| until.is_some_and(|t| Instant::now() < t))
            .unwrap_or(false)
    }

    fn pause_batch_check(&self) {
        if let Ok(mut until) = self.batch_check_paused_until.lock() {
            *until = Some(Instant::now() + BATCH_CHECK_PAUSE);
        }
    }

    /// The courses among `course_ids` that one course-list call shows to exist.
    pub(super) async fn listed_courses(&self, course_ids: &[&str]) -> Vec<String> {
        const CALL: Call = Call::new("list_courses_by_key").once();
        // Without a username the list is evaluated for an anonymous user; it stays
        // a hint either way (unlisted courses are checked one by one).
        let username: Option<String> = self.transport.service_username().await.unwrap_or_default();
        let url = self.transport.url("/api/courses/v1/courses/");
        let mut query: Vec<(&str, String)> = vec![
            ("course_keys", course_ids.join(",")),
            ("page_size", course_ids.len().to_string()),
        ];
        if let Some(username) = username {
            query.push(("username", username));
        }
        let reply = match self
            .transport
            .send(CALL, |http| http.get(&url).query(&query))
            .await
        {
            Ok(reply) if reply.code() == 200 => reply,
            Ok(reply) => {
                tracing::info!(
                    status = reply.code(),
                    "course list API refused a batched course check; checking one by one"
                );
                return Vec::new();
            }
            Err(err) => {
                if matches!(err, LmsError::Throttled { .. }) {
                    self.pause_batch_check();
                }
                tracing::info!(error = %err, "batched course check failed; checking one by one");
                return Vec::new();
            }
        };
        match parse_listed_course_ids(&reply.body) {
            Some(ids) => ids
                .into_iter()
                .filter(|id| course_ids.contains(&id.as_str()))
                .collect(),
            None => {
                tracing::info!("course list answer not understood; checking one by one");
                Vec::new()
            }
        }
    }

    pub(super) async fn course_exists_one(&self, course_id: &str) -> Result<bool, LmsError> {
        let Some(username) = self.transport.service_username().await? else {
            return self.course_exists_anonymously(course_id).await;
        };
        const CALL: Call = Call::new("course_exists");
        let url = self.transport.url(&format!(
            "/api/courses/v1/courses/{}/",
            encode_path(course_id)
        ));
        let reply = self
            .transport
            .send(CALL, |http| {
                http.get(&url).query(&[("username", username.as_str())])
            })
            .await?;
        match reply.code() {
            200 => Ok(true),
            404 if course_api_unknown_user(&reply.body) => {
                Err(LmsError::Credentials(UNKNOWN_SERVICE_USER.into()))
            }
            // {"developer_message": "Course not found."}
            404 => Ok(false),
            _ => Err(reply.unexpected(CALL.operation)),
        }
    }

    async fn course_exists_anonymously(&self, course_id: &str) -> Result<bool, LmsError> {
        const CALL: Call = Call::new("course_exists").anonymous();
        let url = self.transport.url(&format!(
            "/api/enrollment/v1/course/{}",
            encode_path(course_id)
        ));
        let reply = self.transport.send(CALL, |http| http.get(&url)).await?;
        match reply.code() {
            200 => Ok(true),
            // 400 "No course found for course ID '...'"; 404 when the URL pattern
            // itself does not match.
            400 | 404 => Ok(false),
            status => Err(LmsError::UnexpectedStatus {
                operation: CALL.operation,
                status,
            }),
        }
    }

    pub(super) async fn modes_of(&self, course_id: &str) -> Result<Vec<String>, LmsError> {
        if let Some(modes) = self.cached_modes(course_id) {
            return Ok(modes);
        }
        let modes = self.fetch_modes(course_id).await?;
        if let Ok(mut cache) = self.modes_cache.lock() {
            if cache.len() >= MODES_CACHE_LIMIT {
                cache.retain(|_, (at, _)| at.elapsed() < MODES_TTL);
                if cache.len() >= MODES_CACHE_LIMIT {
                    cache.clear();
                }
            }
            cache.insert(course_id.to_owned(), (Instant::now(), modes.clone()));
        }
        Ok(modes)
    }

    fn cached_modes(&self, course_id: &str) -> Option<Vec<String>> {
        let cache = self.modes_cache.lock().ok()?;
        let (at, modes) = cache.get(course_id)?;
        (at.elapsed() < MODES_TTL).then(|| modes.clone())
    }

    async fn fetch_modes(&self, course_id: &str) -> Result<Vec<String>, LmsError> {
        const CALL: Call = Call::new("course_modes");
        let url = self.transport.url(&format!(
            "/api/course_modes/v1/courses/{}/",
            encode_path(course_id)
        ));
        let reply = self.transport.send(CALL, |http| http.get(&url)).await?;
        match reply.code() {
            200 => parse_course_modes(&reply.body).map_err(invalid(CALL.operation)),
            _ => Err(reply.unexpected(CALL.operation)),
        }
    }
}
