//! The emulator's in-memory LMS database: courses (`CourseOverview` +
//! modulestore fields), users, enrollments (`CourseEnrollment`), enrollment
//! allowances (`CourseEnrollmentAllowed`), OAuth clients (DOT `Application`)
//! and issued access tokens.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use super::time::UtcTime;

/// How e-mail addresses compare in lookups (`User.objects.get(email=...)`,
/// `CourseEnrollmentAllowed.objects.filter(email=...)` and the
/// `(email, course_id)` unique index).
///
/// The ORM does an exact `=` comparison; what that means is decided by the
/// database collation. Tutor / edx-platform MySQL schemas use a
/// case-insensitive collation (`utf8mb3_general_ci` / `utf8mb4_*_ci`), so on a
/// typical production LMS `Learner@Example.com` finds `learner@example.com`.
/// SQLite/PostgreSQL test settings compare exactly. Default: case-insensitive.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum EmailMatching {
    /// MySQL `_ci` collation behaviour (default).
    #[default]
    CaseInsensitive,
    /// Byte-exact comparison (SQLite / PostgreSQL).
    Exact,
}

impl EmailMatching {
    pub fn eq(self, a: &str, b: &str) -> bool {
        match self {
            EmailMatching::CaseInsensitive => a.to_lowercase() == b.to_lowercase(),
            EmailMatching::Exact => a == b,
        }
    }
}

/// `CourseOverview.catalog_visibility` (xmodule `course_block.py`
/// `CATALOG_VISIBILITY_*`): `both`, `about`, `none`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CatalogVisibility {
    /// `"both"`: catalog and about page (default).
    #[default]
    Both,
    /// `"about"`: about page only.
    About,
    /// `"none"`: hidden.
    None,
}

impl CatalogVisibility {
    pub fn as_str(self) -> &'static str {
        match self {
            CatalogVisibility::Both => "both",
            CatalogVisibility::About => "about",
            CatalogVisibility::None => "none",
        }
    }
}

/// A course mode (`common/djangoapps/course_modes/models.py` `CourseMode`,
/// serialized by enrollments `ModeSerializer`).
#[derive(Clone, Debug, PartialEq)]
pub struct CourseModeInfo {
    pub slug: String,
    pub name: String,
    pub min_price: i64,
    pub currency: String,
    pub expiration_datetime: Option<UtcTime>,
    pub description: Option<String>,
    pub sku: Option<String>,
    pub bulk_sku: Option<String>,
}

impl CourseModeInfo {
    /// A free mode with the given slug/name.
    pub fn new(slug: &str, name: &str) -> CourseModeInfo {
        CourseModeInfo {
            slug: slug.to_owned(),
            name: name.to_owned(),
            min_price: 0,
            currency: "usd".to_owned(),
            expiration_datetime: None,
            description: None,
            sku: None,
            bulk_sku: None,
        }
    }

    /// `CourseMode.DEFAULT_MODE`: what `CourseMode.modes_for_course` returns
    /// for a course without any configured mode.
    pub fn default_audit() -> CourseModeInfo {
        CourseModeInfo::new("audit", "Audit")
    }
}

/// What the emulator knows about a course run: the `CourseOverview` row plus
/// the few modulestore fields that some APIs expose (language).
#[derive(Clone, Debug, PartialEq)]
pub struct CourseInfo {
    /// `display_name`.
    pub name: String,
    pub start: Option<UtcTime>,
    pub end: Option<UtcTime>,
    pub enrollment_start: Option<UtcTime>,
    pub enrollment_end: Option<UtcTime>,
    /// Course `language` (modulestore field; e.g. `"en"`, `"fr"`, `"pt-br"`); `None` = unset.
    pub language: Option<String>,
    pub catalog_visibility: CatalogVisibility,
    pub invitation_only: bool,
    pub self_paced: bool,
    /// `max_student_enrollments_allowed`; `None` = unlimited.
    pub max_student_enrollments: Option<u32>,
    /// Configured modes; empty = only the implicit default `audit` mode.
    pub modes: Vec<CourseModeInfo>,
    pub short_description: String,
    pub effort: Option<String>,
    /// Course about `overview` HTML (course_api detail only).
    pub overview: String,
    pub mobile_available: bool,
}

impl Default for CourseInfo {
    fn default() -> Self {
        CourseInfo {
            name: "Untitled course".to_owned(),
            start: Some(UtcTime::at("2020-01-01T00:00:00Z")),
            end: None,
            enrollment_start: None,
            enrollment_end: None,
            language: Some("en".to_owned()),
            catalog_visibility: CatalogVisibility::Both,
            invitation_only: false,
            self_paced: false,
            max_student_enrollments: None,
            modes: Vec::new(),
            short_description: String::new(),
            effort: None,
            overview: String::new(),
            mobile_available: false,
        }
    }
}

impl CourseInfo {
    /// A course with the given display name and default everything else
    /// (started 2020-01-01, open enrollment, language `en`, visible).
    pub fn named(name: &str) -> CourseInfo {
        CourseInfo {
            name: name.to_owned(),
            ..CourseInfo::default()
        }
    }

    /// The `catalog_visibility` half of course_api's `CourseSerializer.get_hidden`
    /// (`about` or `none`); the Course API also hides every old-style key
    /// (`… or course_overview.id.deprecated`), which needs the course id.
    pub fn hidden(&self) -> bool {
        matches!(
            self.catalog_visibility,
            CatalogVisibility::About | CatalogVisibility::None
        )
    }

    /// The modes `CourseMode.modes_for_course` would return.
    pub fn effective_modes(&self, include_expired: bool, now: UtcTime) -> Vec<CourseModeInfo> {
        if self.modes.is_empty() {
            return vec![CourseModeInfo::default_audit()];
        }
        let modes: Vec<CourseModeInfo> = self
            .modes
            .iter()
            .filter(|m| include_expired || m.expiration_datetime.is_none_or(|e| e > now))
            .cloned()
            .collect();
        if modes.is_empty() {
            vec![CourseModeInfo::default_audit()]
        } else {
            modes
        }
    }

    /// `enrollments/api.py` `_default_course_mode`: `audit` if available, else
    /// `honor` if available, else `audit`.
    pub fn default_mode(&self, now: UtcTime) -> String {
        let modes = self.effective_modes(false, now);
        if modes.iter().any(|m| m.slug == "audit") {
            "audit".to_owned()
        } else if modes.iter().any(|m| m.slug == "honor") {
            "honor".to_owned()
        } else {
            "audit".to_owned()
        }
    }
}

/// A Django `User` (+ profile name).
#[derive(Clone, Debug, PartialEq)]
pub struct User {
    pub id: u64,
    pub username: String,
    pub email: String,
    pub name: String,
    pub is_staff: bool,
    pub is_superuser: bool,
    pub is_active: bool,
    pub date_joined: UtcTime,
}

/// A `CourseEnrollment` row.
#[derive(Clone, Debug, PartialEq)]
pub struct Enrollment {
    pub id: u64,
    pub mode: String,
    pub is_active: bool,
    pub created: UtcTime,
}

/// A `CourseEnrollmentAllowed` row.
#[derive(Clone, Debug, PartialEq)]
pub struct Allowance {
    pub id: u64,
    pub email: String,
    pub course_id: String,
    pub auto_enroll: bool,
    /// `user` FK: the first user who enrolled through this allowance.
    pub user_id: Option<u64>,
    pub created: UtcTime,
}

/// A DOT `Application` with the client-credentials grant.
#[derive(Clone, Debug, PartialEq)]
pub struct OAuthClient {
    pub client_id: String,
    pub client_secret: String,
    /// The application's `user` (the service user the tokens act as).
    pub owner_username: String,
    /// `authorization_grant_type == client-credentials`; when false the token
    /// endpoint answers `400 {"error": "unauthorized_client"}`.
    pub client_credentials_allowed: bool,
}

/// An access token handed out by `/oauth2/access_token`.
#[derive(Clone, Debug)]
pub struct IssuedToken {
    pub token: String,
    pub client_id: String,
    pub username: String,
    /// `"JWT"` or `"Bearer"` (only JWT tokens authenticate in the emulator).
    pub token_type: String,
    pub issued_at: Instant,
    pub expires_at: Instant,
    pub revoked: bool,
}

/// Why a presented token was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenRejection {
    Unknown,
    Expired,
    Revoked,
}

/// The whole emulated database.
#[derive(Debug, Default)]
pub struct LmsState {
    pub courses: BTreeMap<String, CourseInfo>,
    /// By username.
    pub users: BTreeMap<String, User>,
    /// By `(username, course_id)`.
    pub enrollments: BTreeMap<(String, String), Enrollment>,
    pub allowances: Vec<Allowance>,
    pub oauth_clients: BTreeMap<String, OAuthClient>,
    pub tokens: HashMap<String, IssuedToken>,
    pub(crate) email_matching: EmailMatching,
    next_id: u64,
    token_seq: u64,
}

impl LmsState {
    pub fn new(email_matching: EmailMatching) -> LmsState {
        LmsState {
            email_matching,
            ..LmsState::default()
        }
    }

    fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    pub fn email_matching(&self) -> EmailMatching {
        self.email_matching
    }

    // ----- courses -------------------------------------------------------

    /// Add or replace a course run.
    pub fn add_course(&mut self, course_id: &str, info: CourseInfo) {
        self.courses.insert(course_id.to_owned(), info);
    }

    pub fn course(&self, course_id: &str) -> Option<&CourseInfo> {
        self.courses.get(course_id)
    }

    pub fn course_mut(&mut self, course_id: &str) -> Option<&mut CourseInfo> {
        self.courses.get_mut(course_id)
    }

    pub fn remove_course(&mut self, course_id: &str) -> Option<CourseInfo> {
        self.courses.remove(course_id)
    }

    // ----- users ---------------------------------------------------------

    /// Add a user (name defaults to the username); returns its id. Replaces
    /// an existing user with the same username (keeping its id).
    pub fn add_user(
        &mut self,
        username: &str,
        email: &str,
        is_staff: bool,
        is_active: bool,
    ) -> u64 {
        let id = match self.users.get(username) {
            Some(u) => u.id,
            None => self.next_id(),
        };
        self.users.insert(
            username.to_owned(),
            User {
                id,
                username: username.to_owned(),
                email: email.to_owned(),
                name: username.to_owned(),
                is_staff,
                is_superuser: false,
                is_active,
                date_joined: UtcTime::now(),
            },
        );
        id
    }

    /// Add a user the way LMS registration does: afterwards every
    /// `CourseEnrollmentAllowed` row for the e-mail with `auto_enroll` is
    /// turned into an enrollment in the course's default mode and the row's
    /// `user` is set (`common/djangoapps/student/models/user.py`
    /// `CourseEnrollmentAllowed` handling on registration /
    /// `enroll_allowed` signal receivers). Returns the new user's id.
    pub fn register_user(&mut self, username: &str, email: &str) -> u64 {
        let id = self.add_user(username, email, false, true);
        let m = self.email_matching;
        let now = UtcTime::now();
        let pending: Vec<(usize, String)> = self
            .allowances
            .iter()
            .enumerate()
            .filter(|(_, a)| a.auto_enroll && a.user_id.is_none() && m.eq(&a.email, email))
            .map(|(i, a)| (i, a.course_id.clone()))
            .collect();
        for (i, course_id) in pending {
            let mode = self
                .course(&course_id)
                .map(|c| c.default_mode(now))
                .unwrap_or_else(|| "audit".into());
            self.set_enrollment(username, &course_id, &mode, true);
            self.allowances[i].user_id = Some(id);
        }
        id
    }

    pub fn user(&self, username: &str) -> Option<&User> {
        self.users.get(username)
    }

    pub fn user_mut(&mut self, username: &str) -> Option<&mut User> {
        self.users.get_mut(username)
    }

    /// `User.objects.get(email=...)` under the configured [`EmailMatching`].
    /// `None` if no user (or, as `MultipleObjectsReturned` would, more than one) matches.
    pub fn user_by_email(&self, email: &str) -> Option<&User> {
        let mut it = self
            .users
            .values()
            .filter(|u| self.email_matching.eq(&u.email, email));
        let first = it.next();
        if it.next().is_some() {
            return None;
        }
        first
    }

    pub fn user_by_id(&self, id: u64) -> Option<&User> {
        self.users.values().find(|u| u.id == id)
    }

    // ----- OAuth ---------------------------------------------------------

    /// Register a confidential client-credentials application owned by `owner_username`.
    pub fn add_oauth_client(&mut self, client_id: &str, client_secret: &str, owner_username: &str) {
        self.oauth_clients.insert(
            client_id.to_owned(),
            OAuthClient {
                client_id: client_id.to_owned(),
                client_secret: client_secret.to_owned(),
                owner_username: owner_username.to_owned(),
                client_credentials_allowed: true,
            },
        );
    }

    pub(crate) fn issue_token(
        &mut self,
        client: &OAuthClient,
        token_type: &str,
        ttl: Duration,
    ) -> IssuedToken {
        self.token_seq += 1;
        let now = Instant::now();
        let token = format!(
            "emu-{}.{}.{:016x}",
            token_type.to_ascii_lowercase(),
            self.token_seq,
            mix(self.token_seq ^ (now.elapsed().as_nanos() as u64) ^ (UtcTime::now().0 as u64))
        );
        let issued = IssuedToken {
            token: token.clone(),
            client_id: client.client_id.clone(),
            username: client.owner_username.clone(),
            token_type: token_type.to_owned(),
            issued_at: now,
            expires_at: now + ttl,
            revoked: false,
        };
        self.tokens.insert(token, issued.clone());
        issued
    }

    /// Resolve a presented token to its user.
    pub fn check_token(&self, token: &str, token_type: &str) -> Result<&User, TokenRejection> {
        let t = self.tokens.get(token).ok_or(TokenRejection::Unknown)?;
        if !t.token_type.eq_ignore_ascii_case(token_type) {
            return Err(TokenRejection::Unknown);
        }
        if t.revoked {
            return Err(TokenRejection::Revoked);
        }
        if Instant::now() >= t.expires_at {
            return Err(TokenRejection::Expired);
        }
        self.users.get(&t.username).ok_or(TokenRejection::Unknown)
    }

    /// Revoke every token issued so far: the next call presenting one gets
    /// 401. (A real LMS cannot revoke a JWT before `exp`; this simulates a
    /// key rotation / `JWT_SECRET_KEY` change.) Returns how many were revoked.
    pub fn revoke_tokens(&mut self) -> usize {
        let mut n = 0;
        for t in self.tokens.values_mut() {
            if !t.revoked {
                t.revoked = true;
                n += 1;
            }
        }
        n
    }

    /// Make every issued token expire now.
    pub fn expire_tokens(&mut self) {
        let now = Instant::now();
        for t in self.tokens.values_mut() {
            t.expires_at = now;
        }
    }

    pub fn issued_token_count(&self) -> usize {
        self.tokens.len()
    }

    // ----- enrollments ---------------------------------------------------

    /// The enrollment row (active or not).
    pub fn enrollment(&self, username: &str, course_id: &str) -> Option<Enrollment> {
        self.enrollments
            .get(&(username.to_owned(), course_id.to_owned()))
            .cloned()
    }

    /// Create or overwrite an enrollment row directly (no access checks).
    pub fn set_enrollment(&mut self, username: &str, course_id: &str, mode: &str, is_active: bool) {
        let key = (username.to_owned(), course_id.to_owned());
        if let Some(e) = self.enrollments.get_mut(&key) {
            e.mode = mode.to_owned();
            e.is_active = is_active;
            return;
        }
        let id = self.next_id();
        self.enrollments.insert(
            key,
            Enrollment {
                id,
                mode: mode.to_owned(),
                is_active,
                created: UtcTime::now(),
            },
        );
    }

    /// Alias of [`LmsState::set_enrollment`].
    pub fn add_enrollment(&mut self, username: &str, course_id: &str, mode: &str, is_active: bool) {
        self.set_enrollment(username, course_id, mode, is_active);
    }

    /// Flip `is_active` of an existing enrollment; false if there is none.
    pub fn set_enrollment_active(
        &mut self,
        username: &str,
        course_id: &str,
        is_active: bool,
    ) -> bool {
        match self
            .enrollments
            .get_mut(&(username.to_owned(), course_id.to_owned()))
        {
            Some(e) => {
                e.is_active = is_active;
                true
            }
            None => false,
        }
    }

    /// All enrollment rows.
    pub fn enrollment_count(&self) -> usize {
        self.enrollments.len()
    }

    /// Active enrollments in one course.
    pub fn active_enrollment_count(&self, course_id: &str) -> usize {
        self.enrollments
            .iter()
            .filter(|((_, c), e)| c == course_id && e.is_active)
            .count()
    }

    // ----- allowances ----------------------------------------------------

    /// The `CourseEnrollmentAllowed` row for `(email, course_id)`.
    pub fn allowance(&self, email: &str, course_id: &str) -> Option<Allowance> {
        self.allowances
            .iter()
            .find(|a| a.course_id == course_id && self.email_matching.eq(&a.email, email))
            .cloned()
    }

    /// Insert an allowance unless `(email, course_id)` exists (the unique
    /// index). Returns the row, or `None` on a duplicate.
    pub fn add_allowance(
        &mut self,
        email: &str,
        course_id: &str,
        auto_enroll: bool,
    ) -> Option<Allowance> {
        if self.allowance(email, course_id).is_some() {
            return None;
        }
        let row = Allowance {
            id: self.next_id(),
            email: email.to_owned(),
            course_id: course_id.to_owned(),
            auto_enroll,
            user_id: None,
            created: UtcTime::now(),
        };
        self.allowances.push(row.clone());
        Some(row)
    }

    /// Delete the `(email, course_id)` allowance; false if absent.
    pub fn remove_allowance(&mut self, email: &str, course_id: &str) -> bool {
        let m = self.email_matching;
        let before = self.allowances.len();
        self.allowances
            .retain(|a| !(a.course_id == course_id && m.eq(&a.email, email)));
        before != self.allowances.len()
    }

    /// `CourseEnrollmentAllowed.objects.filter(email=email)`.
    pub fn allowances_for_email(&self, email: &str) -> Vec<Allowance> {
        self.allowances
            .iter()
            .filter(|a| self.email_matching.eq(&a.email, email))
            .cloned()
            .collect()
    }

    pub fn allowance_count(&self) -> usize {
        self.allowances.len()
    }

    // ----- demo data -----------------------------------------------------

    /// Seed the demo data used by the `lms-emulator` binary: two courses, a
    /// staff service user `edx-hooks-service` with OAuth client
    /// `edx-hooks-local` / `edx-hooks-local-secret`, and a learner
    /// `learner` / `learner@example.com`.
    pub fn seed_demo(&mut self) {
        self.add_course(
            DEMO_COURSE,
            CourseInfo {
                name: "Demonstration Course".to_owned(),
                start: Some(UtcTime::at("2013-02-05T05:00:00Z")),
                end: None,
                language: Some("en".to_owned()),
                short_description: "The Open edX demonstration course.".to_owned(),
                ..CourseInfo::default()
            },
        );
        self.add_course(
            E2E_COURSE,
            CourseInfo {
                name: "E2E Test Course".to_owned(),
                start: Some(UtcTime::at("2024-01-01T00:00:00Z")),
                end: Some(UtcTime::at("2035-12-31T23:59:59Z")),
                enrollment_start: Some(UtcTime::at("2023-12-01T00:00:00Z")),
                enrollment_end: Some(UtcTime::at("2035-12-01T00:00:00Z")),
                language: Some("fr".to_owned()),
                self_paced: true,
                ..CourseInfo::default()
            },
        );
        self.add_user(
            DEMO_SERVICE_USER,
            "edx-hooks-service@example.com",
            true,
            true,
        );
        self.add_oauth_client(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_SERVICE_USER);
        self.add_user(DEMO_LEARNER, DEMO_LEARNER_EMAIL, false, true);
        if let Some(u) = self.user_mut(DEMO_LEARNER) {
            u.name = "Demo Learner".to_owned();
        }
    }
}

/// Demo course ids and credentials (see [`LmsState::seed_demo`]).
pub const DEMO_COURSE: &str = "course-v1:edX+DemoX+Demo_Course";
pub const E2E_COURSE: &str = "course-v1:edX+E2E-101+course";
pub const DEMO_SERVICE_USER: &str = "edx-hooks-service";
pub const DEMO_CLIENT_ID: &str = "edx-hooks-local";
pub const DEMO_CLIENT_SECRET: &str = "edx-hooks-local-secret";
pub const DEMO_LEARNER: &str = "learner";
pub const DEMO_LEARNER_EMAIL: &str = "learner@example.com";

/// splitmix64 finaliser, to make tokens look opaque.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
