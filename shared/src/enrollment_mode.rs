//! Which enrollment mode a course gets: the one place that decides it (pure, no I/O).
//!
//! The plugin called `CourseEnrollment.enroll(user, key)`: the LMS's default mode,
//! `audit`, else `honor` (`enrollments/api.py` `_default_course_mode`). Over REST the
//! LMS applies the same default when no `mode` is sent, but a course offering neither
//! (a verified-only course) is then refused for good ("The [None] course mode is
//! expired or otherwise unavailable"). So:
//!
//! 1. a course named in the per-course map gets that mode (it must be offered);
//! 2. else a course offering `audit` or `honor` gets the LMS default (no `mode` sent,
//!    exactly the plugin's behaviour);
//! 3. else the first offered mode of the preference list;
//! 4. else the course cannot be enrolled under this configuration: a 400 before
//!    anything is written.
//!
//! A course without any mode row is enrolled in the LMS default too (the LMS then
//! treats `audit` as offered: `CourseMode.modes_for_course` falls back to it).

use std::collections::BTreeMap;

/// Preference list when `OPENEDX_ENROLLMENT_MODES` is unset.
pub const DEFAULT_PREFERENCES: [&str; 5] = [
    "audit",
    "honor",
    "verified",
    "professional",
    "no-id-professional",
];

/// The modes the LMS picks by itself when no mode is sent, in its order.
const LMS_DEFAULTS: [&str; 2] = ["audit", "honor"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModePolicy {
    pub preferences: Vec<String>,
    pub per_course: BTreeMap<String, String>,
    /// Allow changing the mode of an existing active enrollment to the chosen one
    /// (`OPENEDX_UPGRADE_EXISTING_ENROLLMENTS`). Off: an active enrollment is never touched.
    pub change_existing: bool,
}

impl Default for ModePolicy {
    fn default() -> Self {
        ModePolicy {
            preferences: DEFAULT_PREFERENCES
                .iter()
                .map(|m| (*m).to_owned())
                .collect(),
            per_course: BTreeMap::new(),
            change_existing: false,
        }
    }
}

/// What to send for one course.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModeChoice {
    /// No `mode` in the request: the LMS's default (`audit`, else `honor`).
    LmsDefault,
    /// This mode, which the course offers.
    Explicit(String),
}

/// Why a course cannot be enrolled under the configuration (shown to the caller).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModeUnavailable {
    #[error("Course {course_id} does not offer the configured enrollment mode {mode} (offered: {offered})")]
    MappedModeNotOffered {
        course_id: String,
        mode: String,
        offered: String,
    },
    #[error(
        "Course {course_id} offers no enrollment mode this service may use (offered: {offered})"
    )]
    NoAllowedMode { course_id: String, offered: String },
}

/// A configuration value that cannot be a mode policy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {name}: {reason}")]
pub struct PolicyError {
    pub name: &'static str,
    pub reason: String,
}

/// A mode slug as `CourseMode.mode_slug` allows it (letters, digits, `-`, `_`; ≤ 100).
fn valid_slug(slug: &str) -> bool {
    !slug.is_empty()
        && slug.len() <= 100
        && slug
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl ModePolicy {
    /// Build from `OPENEDX_ENROLLMENT_MODES` (comma-separated slugs) and
    /// `OPENEDX_COURSE_MODES` (JSON object `{course_id: mode}`); `None` keeps the default.
    pub fn from_settings(
        preferences: Option<&str>,
        per_course: Option<&str>,
        change_existing: bool,
    ) -> Result<Self, PolicyError> {
        let mut policy = ModePolicy {
            change_existing,
            ..ModePolicy::default()
        };
        if let Some(list) = preferences.filter(|v| !v.trim().is_empty()) {
            let slugs: Vec<String> = list.split(',').map(|s| s.trim().to_owned()).collect();
            if let Some(bad) = slugs.iter().find(|s| !valid_slug(s)) {
                return Err(PolicyError {
                    name: "OPENEDX_ENROLLMENT_MODES",
                    reason: format!("{bad:?} is not a mode slug (comma-separated slugs, e.g. audit,honor,verified)"),
                });
            }
            policy.preferences = slugs;
        }
        if let Some(json) = per_course.filter(|v| !v.trim().is_empty()) {
            let value: serde_json::Value = serde_json::from_str(json).map_err(|e| PolicyError {
                name: "OPENEDX_COURSE_MODES",
                reason: format!(
                    "not JSON ({e}); expected {{\"course-v1:ORG+COURSE+RUN\": \"verified\"}}"
                ),
            })?;
            let map = value.as_object().ok_or_else(|| PolicyError {
                name: "OPENEDX_COURSE_MODES",
                reason: "expected a JSON object {course_id: mode}".into(),
            })?;
            for (course_id, mode) in map {
                if crate::course_key::parse_course_key(course_id).is_err() {
                    return Err(PolicyError {
                        name: "OPENEDX_COURSE_MODES",
                        reason: format!("{course_id:?} is not a course key"),
                    });
                }
                let mode = mode
                    .as_str()
                    .filter(|m| valid_slug(m))
                    .ok_or_else(|| PolicyError {
                        name: "OPENEDX_COURSE_MODES",
                        reason: format!("the mode of {course_id} is not a mode slug string"),
                    })?;
                policy.per_course.insert(course_id.clone(), mode.to_owned());
            }
        }
        Ok(policy)
    }

    /// The mode for `course_id`, given the slugs it offers.
    pub fn choose(
        &self,
        course_id: &str,
        offered: &[String],
    ) -> Result<ModeChoice, ModeUnavailable> {
        let offers = |mode: &str| offered.iter().any(|m| m == mode);
        if let Some(mode) = self.per_course.get(course_id) {
            // A course without mode rows offers the LMS default only.
            if offers(mode) || (offered.is_empty() && mode == LMS_DEFAULTS[0]) {
                return Ok(ModeChoice::Explicit(mode.clone()));
            }
            return Err(ModeUnavailable::MappedModeNotOffered {
                course_id: course_id.to_owned(),
                mode: mode.clone(),
                offered: offered.join(", "),
            });
        }
        if offered.is_empty() || LMS_DEFAULTS.iter().any(|m| offers(m)) {
            return Ok(ModeChoice::LmsDefault);
        }
        self.preferences
            .iter()
            .find(|m| offers(m))
            .map(|m| ModeChoice::Explicit(m.clone()))
            .ok_or_else(|| ModeUnavailable::NoAllowedMode {
                course_id: course_id.to_owned(),
                offered: offered.join(", "),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offered(modes: &[&str]) -> Vec<String> {
        modes.iter().map(|m| (*m).to_owned()).collect()
    }

    #[test]
    fn plugin_default_first_then_preferences() {
        let p = ModePolicy::default();
        assert_eq!(
            p.choose("c", &offered(&["audit", "verified"])),
            Ok(ModeChoice::LmsDefault)
        );
        assert_eq!(
            p.choose("c", &offered(&["honor"])),
            Ok(ModeChoice::LmsDefault)
        );
        assert_eq!(p.choose("c", &offered(&[])), Ok(ModeChoice::LmsDefault));
        assert_eq!(
            p.choose("c", &offered(&["professional", "verified"])),
            Ok(ModeChoice::Explicit("verified".into()))
        );
        assert_eq!(
            p.choose("c", &offered(&["no-id-professional"])),
            Ok(ModeChoice::Explicit("no-id-professional".into()))
        );
        assert!(matches!(
            p.choose("c", &offered(&["credit", "masters"])),
            Err(ModeUnavailable::NoAllowedMode { .. })
        ));
    }

    #[test]
    fn per_course_map_wins_and_must_be_offered() {
        let p = ModePolicy::from_settings(
            Some("verified"),
            Some(r#"{"course-v1:A+B+C": "verified", "X/Y/Z": "audit"}"#),
            false,
        )
        .unwrap();
        assert_eq!(
            p.choose("course-v1:A+B+C", &offered(&["audit", "verified"])),
            Ok(ModeChoice::Explicit("verified".into()))
        );
        assert_eq!(
            p.choose("X/Y/Z", &offered(&[])),
            Ok(ModeChoice::Explicit("audit".into()))
        );
        let err = p
            .choose("course-v1:A+B+C", &offered(&["audit"]))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Course course-v1:A+B+C does not offer the configured enrollment mode verified (offered: audit)"
        );
        // Preferences apply only where the LMS default is not offered.
        assert_eq!(
            p.choose("other", &offered(&["audit", "verified"])),
            Ok(ModeChoice::LmsDefault)
        );
    }

    #[test]
    fn settings_are_validated() {
        assert!(ModePolicy::from_settings(Some("audit,,verified"), None, false).is_err());
        assert!(ModePolicy::from_settings(None, Some("[1]"), false).is_err());
        assert!(ModePolicy::from_settings(None, Some(r#"{"not a key": "audit"}"#), false).is_err());
        assert!(ModePolicy::from_settings(None, Some(r#"{"a/b/c": 3}"#), false).is_err());
        let p = ModePolicy::from_settings(Some(" verified , audit "), Some(""), true).unwrap();
        assert_eq!(p.preferences, vec!["verified", "audit"]);
        assert!(p.change_existing);
    }
}
