//! `edx-hooks-doctor`: the operator's preflight. Each check has a stable name, a status
//! (✓ pass, ✗ required check failed, ! warning), what was found, and the exact fix.
//!
//! The LMS checks ([`lms`]) and the Richie checks ([`richie`]) live here so that the
//! `edx-hooks-doctor` binary (`tools/doctor`) and the `{"doctor": true}` direct
//! invocation of each deployed function run one implementation, over the functions'
//! own clients (the shared transport: one reqwest client, redirects never followed).
//! Every check only reads: GET requests, the token grant, and signed Richie requests
//! that Richie refuses at validation (before any write).
//!
//! No secret, token or email ever appears in a check's text.

pub mod env;
pub mod lms;
pub mod richie;

use serde_json::{json, Value};

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// ✓
    Pass,
    /// ! — worth knowing, does not fail the run.
    Warn,
    /// ✗ — a required check failed: the functions will fail in production.
    Fail,
}

impl Status {
    pub fn symbol(self) -> &'static str {
        match self {
            Status::Pass => "✓",
            Status::Warn => "!",
            Status::Fail => "✗",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Warn => "warn",
            Status::Fail => "fail",
        }
    }
}

/// One line of the checklist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// Stable name, e.g. `lms.token` (what the runbook and tests refer to).
    pub name: &'static str,
    /// What it was checked on when there are several (a Richie target's name).
    pub subject: Option<String>,
    pub status: Status,
    /// What was found.
    pub found: String,
    /// The exact fix (absent when the check passed).
    pub fix: Option<String>,
}

/// The doctor's report: every check in the order it ran.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub checks: Vec<Check>,
}

impl Report {
    pub fn new() -> Report {
        Report::default()
    }

    pub fn push(
        &mut self,
        name: &'static str,
        status: Status,
        found: impl Into<String>,
        fix: Option<String>,
    ) {
        self.checks.push(Check {
            name,
            subject: None,
            status,
            found: found.into(),
            fix,
        });
    }

    pub fn pass(&mut self, name: &'static str, found: impl Into<String>) {
        self.push(name, Status::Pass, found, None);
    }

    pub fn warn(&mut self, name: &'static str, found: impl Into<String>, fix: impl Into<String>) {
        self.push(name, Status::Warn, found, Some(fix.into()));
    }

    pub fn fail(&mut self, name: &'static str, found: impl Into<String>, fix: impl Into<String>) {
        self.push(name, Status::Fail, found, Some(fix.into()));
    }

    /// Checks not run because `because` failed: a warning each (the failure is reported
    /// once, on the check that failed).
    pub fn skipped(&mut self, names: &[&'static str], because: &str) {
        for name in names {
            self.push(
                name,
                Status::Warn,
                format!("not checked: {because} failed"),
                Some(format!("fix {because} first, then run the doctor again")),
            );
        }
    }

    /// Merge `other`'s checks, labelled with `subject`.
    pub fn extend_with_subject(&mut self, other: Report, subject: &str) {
        self.checks.extend(other.checks.into_iter().map(|mut c| {
            c.subject = Some(subject.to_owned());
            c
        }));
    }

    /// The first check called `name` (tests, callers).
    pub fn get(&self, name: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.name == name)
    }

    /// Every required check passed (warnings do not count).
    pub fn ok(&self) -> bool {
        self.checks.iter().all(|c| c.status != Status::Fail)
    }

    /// 0 when every required check passed, 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        if self.ok() {
            0
        } else {
            1
        }
    }

    /// The readable checklist: one line per check (`✓ name: found`, and `→ fix` for the
    /// others), then a summary line.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        for c in &self.checks {
            let name = match &c.subject {
                Some(s) => format!("{} [{s}]", c.name),
                None => c.name.to_owned(),
            };
            out.push_str(&format!("{} {name}: {}", c.status.symbol(), c.found));
            if let Some(fix) = &c.fix {
                out.push_str(&format!(" → fix: {fix}"));
            }
            out.push('\n');
        }
        let count = |s| self.checks.iter().filter(|c| c.status == s).count();
        out.push_str(&format!(
            "{} passed, {} failed, {} warnings: {}\n",
            count(Status::Pass),
            count(Status::Fail),
            count(Status::Warn),
            if self.ok() { "ready" } else { "NOT ready" }
        ));
        out
    }

    /// `{"ok": bool, "checks": [{"name", "subject", "status", "found", "fix"}]}`.
    pub fn to_json(&self) -> Value {
        json!({
            "ok": self.ok(),
            "checks": self.checks.iter().map(|c| json!({
                "name": c.name,
                "subject": c.subject,
                "status": c.status.as_str(),
                "found": c.found,
                "fix": c.fix,
            })).collect::<Vec<_>>(),
        })
    }
}

/// `{"doctor": true}`: the direct invocation that runs the doctor inside a function.
/// `{"doctor": {"course": "course-v1:…"}}` names the course to check the endpoints on.
/// Returns `Some(course)` for a doctor command, `None` for any other event.
pub fn doctor_command(event: &Value) -> Option<Option<String>> {
    let object = event.as_object()?;
    if object.len() != 1 {
        return None;
    }
    match object.get("doctor")? {
        Value::Bool(true) => Some(None),
        Value::Object(args) => Some(
            args.get("course")
                .and_then(Value::as_str)
                .map(str::to_owned),
        ),
        _ => None,
    }
}

/// Shorten an LMS or Richie message for a report line.
pub(crate) fn clip(text: &str, max: usize) -> String {
    let text = text.trim();
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rendering_and_exit_codes() {
        let mut r = Report::new();
        r.pass("lms.token", "token_type JWT");
        r.warn("lms.throttles", "not observed", "nothing");
        assert_eq!(r.exit_code(), 0);
        r.fail(
            "lms.service_user_staff",
            "not staff",
            "manage.py lms manage_user x x@y --staff",
        );
        assert_eq!(r.exit_code(), 1);
        let text = r.render_text();
        assert!(text.contains("✓ lms.token: token_type JWT\n"), "{text}");
        assert!(
            text.contains("! lms.throttles: not observed → fix: nothing\n"),
            "{text}"
        );
        assert!(text.contains("✗ lms.service_user_staff"), "{text}");
        assert!(
            text.ends_with("1 passed, 1 failed, 1 warnings: NOT ready\n"),
            "{text}"
        );
        let j = r.to_json();
        assert_eq!(j["ok"], false);
        assert_eq!(j["checks"][2]["status"], "fail");
    }

    #[test]
    fn the_doctor_command() {
        assert_eq!(doctor_command(&json!({"doctor": true})), Some(None));
        assert_eq!(
            doctor_command(&json!({"doctor": {"course": "a/b/c"}})),
            Some(Some("a/b/c".into()))
        );
        for other in [
            json!({"doctor": false}),
            json!({"doctor": true, "resync": "all"}),
            json!({"resync": "all"}),
            json!("doctor"),
        ] {
            assert_eq!(doctor_command(&other), None, "{other}");
        }
    }

    #[test]
    fn clipping() {
        assert_eq!(clip("abcdef", 3), "abc…");
        assert_eq!(clip(" ab ", 3), "ab");
    }
}
