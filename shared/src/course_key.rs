//! Course keys as `opaque_keys.edx.keys.CourseKey.from_string` accepts them
//! (openedx/opaque-keys `opaque_keys/__init__.py` `OpaqueKey.from_string`,
//! `opaque_keys/edx/locator.py` `CourseLocator`, `LibraryLocator`).
//!
//! Accepted:
//! * `course-v1:ORG+COURSE+RUN`, optionally followed by `+branch@B` and/or
//!   `+version@<24 hex>`; or `course-v1:version@<24 hex>` alone;
//! * `library-v1:ORG+LIBRARY` (a `CourseKey` too: the plugin accepts its syntax
//!   and then reports that no such course exists);
//! * `ccx-v1:ORG+COURSE+RUN+ccx@N` (edx-ccx-keys, installed in edx-platform);
//! * the deprecated `ORG/COURSE/RUN` (exactly two slashes; run may be empty),
//!   the fallback `from_string` tries when the namespaced form fails.
//!
//! Field characters follow `ALLOWED_ID_CHARS = [\w\-~.:]` (deprecated parts:
//! `[\w.%-]`) with Python's Unicode `\w`, approximated as
//! `char::is_alphanumeric() || '_'`; the two differ only for rare combining
//! marks and some numeric symbols. Anchoring is `\Z`: a trailing newline fails.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Namespace {
    CourseV1,
    LibraryV1,
    CcxV1,
    Deprecated,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CourseKey {
    pub namespace: Namespace,
    pub org: Option<String>,
    pub course: Option<String>,
    pub run: Option<String>,
    pub branch: Option<String>,
    pub version_guid: Option<String>,
    pub ccx: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid course key: {0}")]
pub struct InvalidCourseKey(pub String);

fn is_word(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

/// `^[\w\-~.:]+\Z`
fn is_id(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| is_word(c) || matches!(c, '-' | '~' | '.' | ':'))
}

/// A deprecated component: no char of `[^\w.%-]`.
fn is_deprecated_part(s: &str) -> bool {
    s.chars()
        .all(|c| is_word(c) || matches!(c, '.' | '%' | '-'))
}

fn is_version_guid(s: &str) -> bool {
    // bson ObjectId: 24 lowercase hex digits (opaque-keys refuses uppercase).
    s.len() == 24 && s.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f'))
}

/// `ALLOWED_BLOCK_ID_CHARS = [\w\-~.:%]`.
fn is_block_id(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| is_word(c) || matches!(c, '-' | '~' | '.' | ':' | '%'))
}

/// Case-insensitive `prefix@` (the locator regex has `re.IGNORECASE`).
fn strip_tag<'a>(part: &'a str, tag: &str) -> Option<&'a str> {
    let (head, rest) = part.split_once('@')?;
    head.eq_ignore_ascii_case(tag).then_some(rest)
}

pub fn parse_course_key(serialized: &str) -> Result<CourseKey, InvalidCourseKey> {
    let invalid = || InvalidCourseKey(serialized.to_owned());
    let namespaced = match serialized.split_once(':') {
        Some(("course-v1", rest)) => parse_locator(rest, Namespace::CourseV1),
        Some(("ccx-v1", rest)) => parse_locator(rest, Namespace::CcxV1),
        Some(("library-v1", rest)) => parse_library(rest),
        _ => None,
    };
    namespaced
        .or_else(|| parse_deprecated(serialized))
        .ok_or_else(invalid)
}

/// `CourseLocator` / `CCXLocator` after the namespace.
fn parse_locator(rest: &str, namespace: Namespace) -> Option<CourseKey> {
    // SEP = (\+(?=.)|\Z): no empty part anywhere, no trailing '+'.
    let parts: Vec<&str> = rest.split('+').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return None;
    }
    let plain = parts.iter().take_while(|p| !p.contains('@')).count();
    let (ids, tagged) = parts.split_at(plain);
    let mut key = CourseKey {
        namespace,
        org: None,
        course: None,
        run: None,
        branch: None,
        version_guid: None,
        ccx: None,
    };
    match ids {
        [] => {}
        [org, course, run] => {
            if !(is_id(org) && is_id(course) && is_id(run)) {
                return None;
            }
            key.org = Some((*org).to_owned());
            key.course = Some((*course).to_owned());
            key.run = Some((*run).to_owned());
        }
        // `org+course` without a run parses, then __init__ refuses it unless a
        // version is given; anything else does not match the regex.
        [org, course] if is_id(org) && is_id(course) => {
            key.org = Some((*org).to_owned());
            key.course = Some((*course).to_owned());
        }
        _ => return None,
    }
    // Tagged parts in the regex's order, each at most once.
    let mut order = 0;
    for part in tagged {
        if let Some(v) = strip_tag(part, "branch").filter(|_| order < 1) {
            if !is_id(v) || namespace == Namespace::CcxV1 {
                return None;
            }
            key.branch = Some(v.to_owned());
            order = 1;
        } else if let Some(v) = strip_tag(part, "version").filter(|_| order < 2) {
            if !is_version_guid(v) {
                return None;
            }
            key.version_guid = Some(v.to_owned());
            order = 2;
        } else if let Some(v) =
            strip_tag(part, "type").filter(|_| order < 3 && namespace == Namespace::CourseV1)
        {
            // Block parts match the locator regex but a CourseKey drops them.
            if !is_id(v) {
                return None;
            }
            order = 3;
        } else if let Some(v) =
            strip_tag(part, "block").filter(|_| order < 4 && namespace == Namespace::CourseV1)
        {
            if !is_block_id(v) {
                return None;
            }
            order = 4;
        } else if let Some(v) =
            strip_tag(part, "ccx").filter(|_| order < 3 && namespace == Namespace::CcxV1)
        {
            if v.is_empty() || !v.chars().all(|c| c.is_ascii_digit()) {
                return None;
            }
            key.ccx = Some(v.to_owned());
            order = 3;
        } else {
            return None;
        }
    }
    // "Either version_guid or org, course, and run should be set" (__init__).
    if key.run.is_none() && key.version_guid.is_none() {
        return None;
    }
    if namespace == Namespace::CcxV1 && (key.ccx.is_none() || key.run.is_none()) {
        return None;
    }
    Some(key)
}

/// `LibraryLocator`: `ORG+LIBRARY` (+branch / +version).
fn parse_library(rest: &str) -> Option<CourseKey> {
    let parts: Vec<&str> = rest.split('+').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return None;
    }
    let mut key = CourseKey {
        namespace: Namespace::LibraryV1,
        org: None,
        course: None,
        run: None,
        branch: None,
        version_guid: None,
        ccx: None,
    };
    let plain = parts.iter().take_while(|p| !p.contains('@')).count();
    match &parts[..plain] {
        [org, library] if is_id(org) && is_id(library) => {
            key.org = Some((*org).to_owned());
            key.course = Some((*library).to_owned());
        }
        [] => {}
        _ => return None,
    }
    let mut order = 0;
    for part in &parts[plain..] {
        if let Some(v) = strip_tag(part, "branch").filter(|_| order < 1) {
            if !is_id(v) {
                return None;
            }
            key.branch = Some(v.to_owned());
            order = 1;
        } else if let Some(v) = strip_tag(part, "version").filter(|_| order < 2) {
            if !is_version_guid(v) {
                return None;
            }
            key.version_guid = Some(v.to_owned());
            order = 2;
        } else {
            return None;
        }
    }
    (key.course.is_some() || key.version_guid.is_some()).then_some(key)
}

/// `CourseLocator._from_deprecated_string`: exactly `ORG/COURSE/RUN`.
fn parse_deprecated(serialized: &str) -> Option<CourseKey> {
    let parts: Vec<&str> = serialized.split('/').collect();
    let [org, course, run] = parts.as_slice() else {
        return None;
    };
    if !parts.iter().all(|p| is_deprecated_part(p)) || org.is_empty() || course.is_empty() {
        return None;
    }
    Some(CourseKey {
        namespace: Namespace::Deprecated,
        org: Some((*org).to_owned()),
        course: Some((*course).to_owned()),
        run: Some((*run).to_owned()),
        branch: None,
        version_guid: None,
        ccx: None,
    })
}

impl fmt::Display for CourseKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let opt = |v: &Option<String>| v.clone().unwrap_or_default();
        if self.namespace == Namespace::Deprecated {
            return write!(
                f,
                "{}/{}/{}",
                opt(&self.org),
                opt(&self.course),
                opt(&self.run)
            );
        }
        let ns = match self.namespace {
            Namespace::CourseV1 => "course-v1",
            Namespace::LibraryV1 => "library-v1",
            Namespace::CcxV1 => "ccx-v1",
            Namespace::Deprecated => unreachable!("handled above"),
        };
        let mut parts: Vec<String> = Vec::new();
        if let (Some(org), Some(course)) = (&self.org, &self.course) {
            parts.push(org.clone());
            parts.push(course.clone());
            if let Some(run) = &self.run {
                parts.push(run.clone());
            }
        }
        if let Some(b) = &self.branch {
            parts.push(format!("branch@{b}"));
        }
        if let Some(v) = &self.version_guid {
            parts.push(format!("version@{v}"));
        }
        if let Some(c) = &self.ccx {
            parts.push(format!("ccx@{c}"));
        }
        write!(f, "{ns}:{}", parts.join("+"))
    }
}

impl CourseKey {
    /// The course code (`COURSE` part), what Richie matches pages on.
    pub fn course_code(&self) -> Option<&str> {
        self.course.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_what_opaque_keys_accepts() {
        for ok in [
            "course-v1:edX+DemoX+Demo_Course",
            "course-v1:edX+E2E-101+course",
            "course-v1:org.x+c~1+2024:T1",
            "course-v1:édX+Démo+٢٠٢٤",
            "course-v1:edX+DemoX+Demo_Course+branch@draft",
            "course-v1:edX+DemoX+Demo_Course+version@519665f6223ebd6980884f2b",
            "course-v1:version@519665f6223ebd6980884f2b",
            "library-v1:edX+Lib1",
            "ccx-v1:edX+DemoX+Demo_Course+ccx@3",
            "edX/DemoX/Demo_Course",
            "edX/DemoX/",
            "edX/Demo%20X/2024",
        ] {
            let key = parse_course_key(ok).unwrap_or_else(|_| panic!("{ok} should parse"));
            assert_eq!(parse_course_key(&key.to_string()).unwrap(), key, "{ok}");
        }
        assert_eq!(
            parse_course_key("edX/DemoX/Demo_Course")
                .unwrap()
                .to_string(),
            "edX/DemoX/Demo_Course"
        );
    }

    #[test]
    fn rejects_what_opaque_keys_rejects() {
        for bad in [
            "",
            "invalid-course-id",
            "course-v1:",
            "course-v1:edX+DemoX",
            "course-v1:edX+DemoX+",
            "course-v1:edX+DemoX+Demo Course",
            "course-v1:edX+DemoX+Demo_Course\n",
            "course-v1:edX+DemoX+Demo_Course+x",
            "course-v1:edX+DemoX+a+version@123",
            "course-v1:edX+DemoX+a+version@519665F6223EBD6980884F2B",
            "course-v1:edX++Demo",
            "course-v1:edX+Demo/X+Run",
            "course-v2:edX+DemoX+Run",
            "edX/DemoX",
            "edX/DemoX/Demo/X",
            "/DemoX/Run",
            "edX/Demo:X/Run",
            "edX/Demo X/Run",
            "ccx-v1:edX+DemoX+Run",
        ] {
            assert!(parse_course_key(bad).is_err(), "{bad:?} should fail");
        }
    }
}
