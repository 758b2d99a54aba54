//! The domain: what applying a validated Lernito request means.
//!
//! Same order and outcomes as the plugin's `views.py`: every course is checked
//! (key syntax, then existence) in request order before anything is written; the
//! first failing course decides the error. Then an existing account is enrolled
//! in every course, an unknown email gets an auto-enroll allowance for every
//! course. Unlike the plugin, independent LMS calls run concurrently (the client
//! bounds how many are in flight), and course existence is first asked for all
//! courses in one call where the LMS client supports it.
//!
//! Unlike the plugin, each course's enrollment mode is chosen from the modes it offers
//! ([`ModePolicy`]: the plugin's default where the course has it), and a course whose
//! modes the configuration cannot satisfy is refused (400) before anything is written.

use futures_util::future::join_all;

use edx_hooks_shared::course_key::parse_course_key;
use edx_hooks_shared::enrollment_mode::ModeUnavailable;
use edx_hooks_shared::openedx::{BulkApplied, EnrollmentLms, LmsError, ModeChoice, ModePolicy};

use crate::request::EnrollmentRequest;

/// Which LMS API applies a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ApplyApi {
    /// One enrollment (or allowance) call per course, `EnrollmentListView` /
    /// `EnrollmentAllowedView`: every release, but no enrollment past a full course.
    #[default]
    Rest,
    /// One `BulkEnrollView` call for all courses (`OPENEDX_APPLY_API=bulk_enroll`): the
    /// plugin's `check_access=False`, full courses included; needs the view enabled.
    /// Courses whose mode must be named explicitly (see [`ModePolicy`]) still go
    /// through the REST call for an existing account (the bulk view takes no mode).
    BulkEnroll,
}

impl ApplyApi {
    pub fn parse(value: &str) -> Option<Self> {
        match value.trim().to_ascii_lowercase().as_str() {
            "" | "rest" => Some(ApplyApi::Rest),
            "bulk_enroll" | "bulk" => Some(ApplyApi::BulkEnroll),
            _ => None,
        }
    }
}

/// How requests are applied: the policies of this module, in one value.
#[derive(Debug, Clone, Default)]
pub struct ApplySettings {
    pub modes: ModePolicy,
    pub api: ApplyApi,
    /// Bulk path only: let the LMS email learners about their enrollment
    /// (`email_students`; the plugin sent none).
    pub email_learners: bool,
}

/// A successful application.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The email belongs to an account: it is now actively enrolled.
    Enrolled { courses: usize },
    /// No account yet: allowances exist and enroll at registration.
    Allowed { courses: usize },
}

impl Applied {
    /// The plugin's success message; `courses` counts the ids as sent, duplicates included.
    pub fn message(&self) -> String {
        match self {
            Applied::Enrolled { courses } => {
                format!("User enrollment status verified for {courses} course(s)")
            }
            Applied::Allowed { courses } => {
                format!("Enrollment allowance verified for {courses} course(s)")
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    #[error("Invalid course key format: {0}")]
    InvalidCourseKey(String),
    #[error("Course {0} does not exist")]
    CourseNotFound(String),
    #[error(transparent)]
    ModeUnavailable(#[from] ModeUnavailable),
    #[error(transparent)]
    Upstream(#[from] LmsError),
}

/// Each distinct id once, in first-seen order.
fn distinct(ids: &[String]) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::with_capacity(ids.len());
    for id in ids {
        if !out.contains(&id.as_str()) {
            out.push(id);
        }
    }
    out
}

/// The first course, in request order, that does not exist or could not be checked.
fn first_missing_course(
    checked: &[String],
    distinct_ids: &[&str],
    exists: &[Result<bool, LmsError>],
) -> Result<(), ApplyError> {
    for id in checked {
        let index = distinct_ids
            .iter()
            .position(|c| c == id)
            .unwrap_or_default();
        match exists.get(index) {
            Some(Ok(true)) => {}
            Some(Ok(false)) | None => return Err(ApplyError::CourseNotFound(id.clone())),
            Some(Err(err)) => return Err(ApplyError::Upstream(err.clone())),
        }
    }
    Ok(())
}

/// The mode of each course (in `ids` order), or the first course that cannot be enrolled.
fn choose_modes(
    policy: &ModePolicy,
    ids: &[&str],
    offered: Vec<Result<Vec<String>, LmsError>>,
) -> Result<Vec<ModeChoice>, ApplyError> {
    ids.iter()
        .zip(offered)
        .map(|(id, modes)| Ok(policy.choose(id, &modes?)?))
        .collect()
}

pub async fn apply<L: EnrollmentLms>(
    lms: &L,
    settings: &ApplySettings,
    request: &EnrollmentRequest,
) -> Result<Applied, ApplyError> {
    let policy = &settings.modes;
    let ids = &request.course_ids;
    // Key syntax is free to check: find the first malformed id up front. Courses
    // before it must still be checked for existence, since the plugin reports a
    // missing course that comes earlier in the list first.
    let first_invalid = ids.iter().position(|id| parse_course_key(id).is_err());
    let checked = &ids[..first_invalid.unwrap_or(ids.len())];
    let to_check = distinct(checked);

    // One batched lookup first (all courses exist in the common case), then a
    // per-course check for whatever it did not confirm.
    let checks = async {
        let known = lms.courses_known_to_exist(&to_check).await;
        let known = &known;
        join_all(to_check.iter().map(|&id| async move {
            if known.iter().any(|k| k == id) {
                Ok(true)
            } else {
                lms.course_exists(id).await
            }
        }))
        .await
    };
    let (user, offered) = match first_invalid {
        Some(index) => {
            first_missing_course(checked, &to_check, &checks.await)?;
            return Err(ApplyError::InvalidCourseKey(ids[index].clone()));
        }
        None => {
            // The user and the modes do not depend on the existence checks: ask
            // for all of them in the same round trip.
            let modes = join_all(to_check.iter().map(|id| lms.course_modes(id)));
            let (exists, user, offered) =
                tokio::join!(checks, lms.find_user_by_email(&request.email), modes);
            first_missing_course(checked, &to_check, &exists)?;
            (user?, offered)
        }
    };
    // Here `to_check` holds every distinct id, in request order.
    let modes = choose_modes(policy, &to_check, offered)?;

    let courses = ids.len();
    match (settings.api, user) {
        (ApplyApi::Rest, Some(account)) => {
            let courses_and_modes: Vec<(&str, &ModeChoice)> =
                to_check.iter().copied().zip(&modes).collect();
            enroll_each(lms, &account.username, &courses_and_modes, policy).await?;
            Ok(Applied::Enrolled { courses })
        }
        (ApplyApi::Rest, None) => {
            let results = join_all(
                to_check
                    .iter()
                    .map(|id| lms.ensure_allowance(&request.email, id)),
            )
            .await;
            results.into_iter().collect::<Result<Vec<_>, _>>()?;
            Ok(Applied::Allowed { courses })
        }
        (ApplyApi::BulkEnroll, user) => {
            // An existing account in a course whose mode must be named: the REST call
            // (the bulk view would enroll it in the LMS default, which the course
            // does not offer). Everything else: one bulk call.
            let (explicit, bulk): (Vec<_>, Vec<_>) =
                to_check.iter().copied().zip(&modes).partition(|(_, mode)| {
                    user.is_some() && matches!(mode, ModeChoice::Explicit(_))
                });
            let bulk_ids: Vec<&str> = bulk.iter().map(|(id, _)| *id).collect();
            let (bulk_result, rest_result) = tokio::join!(
                async {
                    match bulk_ids.is_empty() {
                        true => Ok(None),
                        false => lms
                            .bulk_enroll(&request.email, &bulk_ids, settings.email_learners)
                            .await
                            .map(Some),
                    }
                },
                async {
                    match &user {
                        Some(account) => {
                            enroll_each(lms, &account.username, &explicit, policy).await
                        }
                        None => Ok(()),
                    }
                }
            );
            rest_result?;
            match (bulk_result?, user) {
                (Some(BulkApplied::Enrolled), _) | (_, Some(_)) => {
                    Ok(Applied::Enrolled { courses })
                }
                _ => Ok(Applied::Allowed { courses }),
            }
        }
    }
}

/// Enroll `username` in each course with its mode, concurrently.
async fn enroll_each<L: EnrollmentLms>(
    lms: &L,
    username: &str,
    courses: &[(&str, &ModeChoice)],
    policy: &ModePolicy,
) -> Result<(), ApplyError> {
    let results = join_all(
        courses
            .iter()
            .map(|(id, mode)| lms.ensure_enrollment(username, id, mode, policy.change_existing)),
    )
    .await;
    results.into_iter().collect::<Result<Vec<_>, _>>()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    //! The domain against an in-memory LMS: ordering and all-or-nothing rules.
    use super::*;
    use edx_hooks_shared::openedx::{AllowanceOutcome, EnrollmentOutcome, LmsUser};
    use std::collections::HashSet;
    use std::sync::Mutex;

    #[derive(Default)]
    struct FakeLms {
        courses: HashSet<String>,
        users: Vec<(String, String)>,
        failing_course: Option<String>,
        /// What the batched lookup answers (`None`: no batch support).
        batch_lists: Option<Vec<String>>,
        checked_one_by_one: Mutex<Vec<String>>,
        writes: Mutex<Vec<String>>,
        /// Modes per course (default: audit only).
        modes: std::collections::HashMap<String, Vec<String>>,
    }

    impl EnrollmentLms for FakeLms {
        async fn courses_known_to_exist(&self, _course_ids: &[&str]) -> Vec<String> {
            self.batch_lists.clone().unwrap_or_default()
        }
        async fn course_exists(&self, course_id: &str) -> Result<bool, LmsError> {
            self.checked_one_by_one
                .lock()
                .unwrap()
                .push(course_id.to_owned());
            if self.failing_course.as_deref() == Some(course_id) {
                return Err(LmsError::Unavailable {
                    operation: "course_exists",
                    status: 503,
                    attempts: 3,
                });
            }
            Ok(self.courses.contains(course_id))
        }
        async fn find_user_by_email(&self, email: &str) -> Result<Option<LmsUser>, LmsError> {
            Ok(self
                .users
                .iter()
                .find(|(e, _)| e == email)
                .map(|(_, u)| LmsUser {
                    username: u.clone(),
                    is_active: true,
                }))
        }
        async fn course_modes(&self, course_id: &str) -> Result<Vec<String>, LmsError> {
            Ok(self
                .modes
                .get(course_id)
                .cloned()
                .unwrap_or_else(|| vec!["audit".into()]))
        }
        async fn ensure_enrollment(
            &self,
            username: &str,
            course_id: &str,
            mode: &ModeChoice,
            _change_existing: bool,
        ) -> Result<EnrollmentOutcome, LmsError> {
            self.writes
                .lock()
                .unwrap()
                .push(format!("enroll {username} {course_id} {mode:?}"));
            Ok(EnrollmentOutcome::Active)
        }
        async fn ensure_allowance(
            &self,
            email: &str,
            course_id: &str,
        ) -> Result<AllowanceOutcome, LmsError> {
            self.writes
                .lock()
                .unwrap()
                .push(format!("allow {email} {course_id}"));
            Ok(AllowanceOutcome::Created)
        }
        async fn bulk_enroll(
            &self,
            email: &str,
            course_ids: &[&str],
            _email_learners: bool,
        ) -> Result<BulkApplied, LmsError> {
            self.writes
                .lock()
                .unwrap()
                .push(format!("bulk {email} {}", course_ids.join(",")));
            let known = self.users.iter().any(|(e, _)| e == email);
            Ok(if known {
                BulkApplied::Enrolled
            } else {
                BulkApplied::Allowed
            })
        }
    }

    fn request(email: &str, ids: &[&str]) -> EnrollmentRequest {
        EnrollmentRequest {
            name: "N".into(),
            family: "F".into(),
            username: "u".into(),
            email: email.into(),
            course_ids: ids.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn policy() -> ApplySettings {
        ApplySettings::default()
    }

    fn lms() -> FakeLms {
        FakeLms {
            courses: ["course-v1:a+b+c", "course-v1:a+b+d"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
            users: vec![("known@example.com".into(), "known".into())],
            ..FakeLms::default()
        }
    }

    #[tokio::test]
    async fn enrolls_known_and_allows_unknown_counting_duplicates() {
        let lms = lms();
        let ids = ["course-v1:a+b+c", "course-v1:a+b+d", "course-v1:a+b+c"];
        let applied = apply(&lms, &policy(), &request("known@example.com", &ids))
            .await
            .unwrap();
        assert_eq!(
            applied.message(),
            "User enrollment status verified for 3 course(s)"
        );
        assert_eq!(
            lms.writes.lock().unwrap().len(),
            2,
            "each distinct course once"
        );
        let applied = apply(&lms, &policy(), &request("new@example.com", &ids[..1]))
            .await
            .unwrap();
        assert_eq!(
            applied.message(),
            "Enrollment allowance verified for 1 course(s)"
        );
    }

    #[tokio::test]
    async fn first_failing_course_in_order_wins_and_nothing_is_written() {
        let lms = lms();
        let r = apply(
            &lms,
            &policy(),
            &request("known@example.com", &["course-v1:x+y+z", "bad key"]),
        )
        .await;
        assert_eq!(r, Err(ApplyError::CourseNotFound("course-v1:x+y+z".into())));
        let r = apply(
            &lms,
            &policy(),
            &request(
                "known@example.com",
                &["course-v1:a+b+c", "bad key", "course-v1:x+y+z"],
            ),
        )
        .await;
        assert_eq!(r, Err(ApplyError::InvalidCourseKey("bad key".into())));
        assert!(lms.writes.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn upstream_failure_is_not_a_success() {
        let lms = FakeLms {
            failing_course: Some("course-v1:a+b+d".into()),
            ..lms()
        };
        let r = apply(
            &lms,
            &policy(),
            &request("known@example.com", &["course-v1:a+b+c", "course-v1:a+b+d"]),
        )
        .await;
        assert!(matches!(r, Err(ApplyError::Upstream(_))));
        assert!(lms.writes.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn batched_lookup_saves_checks_but_never_decides_absence() {
        // The batch confirms one course; the other is checked one by one.
        let fake = FakeLms {
            batch_lists: Some(vec!["course-v1:a+b+c".into()]),
            ..lms()
        };
        let ids = ["course-v1:a+b+c", "course-v1:a+b+d"];
        let applied = apply(&fake, &policy(), &request("known@example.com", &ids)).await;
        assert_eq!(applied, Ok(Applied::Enrolled { courses: 2 }));
        assert_eq!(
            *fake.checked_one_by_one.lock().unwrap(),
            vec!["course-v1:a+b+d".to_owned()]
        );

        // A batch that lists a course nobody asked about, or lists nothing, does
        // not make a missing course exist.
        let fake = FakeLms {
            batch_lists: Some(vec!["course-v1:x+y+z2".into()]),
            ..lms()
        };
        let r = apply(
            &fake,
            &policy(),
            &request("known@example.com", &["course-v1:a+b+c", "course-v1:x+y+z"]),
        )
        .await;
        assert_eq!(r, Err(ApplyError::CourseNotFound("course-v1:x+y+z".into())));
        assert_eq!(fake.checked_one_by_one.lock().unwrap().len(), 2);
        assert!(fake.writes.lock().unwrap().is_empty());
    }

    fn with_modes(modes: &[(&str, &[&str])]) -> FakeLms {
        let mut fake = lms();
        for (course, offered) in modes {
            fake.modes.insert(
                (*course).to_owned(),
                offered.iter().map(|m| (*m).to_owned()).collect(),
            );
        }
        fake
    }

    #[tokio::test]
    async fn each_course_gets_its_mode_and_an_unsatisfiable_one_stops_everything() {
        let fake = with_modes(&[("course-v1:a+b+d", &["verified"])]);
        let ids = ["course-v1:a+b+c", "course-v1:a+b+d"];
        let applied = apply(&fake, &policy(), &request("known@example.com", &ids)).await;
        assert_eq!(applied, Ok(Applied::Enrolled { courses: 2 }));
        let writes = fake.writes.lock().unwrap().clone();
        assert!(
            writes.contains(&"enroll known course-v1:a+b+c LmsDefault".to_owned()),
            "{writes:?}"
        );
        assert!(
            writes.contains(&"enroll known course-v1:a+b+d Explicit(\"verified\")".to_owned()),
            "{writes:?}"
        );

        // Only `honor` allowed: the verified-only course cannot be served; nothing is
        // written, the other course included.
        let fake = with_modes(&[("course-v1:a+b+d", &["verified"])]);
        let honor_only = ApplySettings {
            modes: ModePolicy::from_settings(Some("honor"), None, false).unwrap(),
            ..ApplySettings::default()
        };
        let r = apply(&fake, &honor_only, &request("known@example.com", &ids)).await;
        assert!(matches!(r, Err(ApplyError::ModeUnavailable(_))), "{r:?}");
        assert!(fake.writes.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn the_bulk_path_is_one_call_but_explicit_modes_go_by_rest() {
        let bulk = ApplySettings {
            api: ApplyApi::BulkEnroll,
            ..ApplySettings::default()
        };
        let ids = ["course-v1:a+b+c", "course-v1:a+b+d"];
        // Unknown email: every course in the one bulk call (allowances take no mode).
        let fake = with_modes(&[("course-v1:a+b+d", &["verified"])]);
        let applied = apply(&fake, &bulk, &request("new@example.com", &ids)).await;
        assert_eq!(applied, Ok(Applied::Allowed { courses: 2 }));
        assert_eq!(
            *fake.writes.lock().unwrap(),
            vec!["bulk new@example.com course-v1:a+b+c,course-v1:a+b+d".to_owned()]
        );
        // Known account: the verified-only course by REST with its mode, the rest in bulk.
        let fake = with_modes(&[("course-v1:a+b+d", &["verified"])]);
        let applied = apply(&fake, &bulk, &request("known@example.com", &ids)).await;
        assert_eq!(applied, Ok(Applied::Enrolled { courses: 2 }));
        let mut writes = fake.writes.lock().unwrap().clone();
        writes.sort();
        assert_eq!(
            writes,
            vec![
                "bulk known@example.com course-v1:a+b+c".to_owned(),
                "enroll known course-v1:a+b+d Explicit(\"verified\")".to_owned(),
            ]
        );
    }
}
