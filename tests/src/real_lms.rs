//! A real Open edX LMS (openedx-platform's own code, from `OPENEDX_PLATFORM_SRC`) on a
//! free loopback port: the conformance tier's oracle.
//!
//! [`RealLms::start`] runs `tests/real-lms/start.sh PORT` (which installs the platform
//! into `<root>/.venv-lms` on first use, copies a template database with the seed data
//! of `tests/real-lms/seed.py`, and starts `manage.py lms runserver`); [`Drop`] runs
//! `tests/real-lms/stop.sh PORT`, which stops that server by the PID it recorded.
//!
//! Without `OPENEDX_PLATFORM_SRC` the tier is skipped: [`RealLms::start`] returns `None`
//! and says so on stderr (`scripts/test` prints one line for the whole tier).
//!
//! State is read back from the LMS's own SQLite database (not through its API: the API
//! shares the service user's throttle bucket with the calls under test).

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::support::{free_port, workspace_root};

/// The seed data of `tests/real-lms/seed.py`.
pub mod seed {
    /// Global staff (`is_staff`), owner of [`SERVICE_CLIENT_ID`].
    pub const SERVICE_USER: &str = "edx_hooks_service";
    pub const SERVICE_CLIENT_ID: &str = "edx-hooks-service";
    pub const SERVICE_CLIENT_SECRET: &str = "edx-hooks-service-secret";
    /// A second application of [`SERVICE_USER`], marked restricted
    /// (`oauth_dispatch.RestrictedApplication`): its JWTs say `is_restricted: true`.
    pub const RESTRICTED_CLIENT_ID: &str = "edx-hooks-restricted";
    pub const RESTRICTED_CLIENT_SECRET: &str = "edx-hooks-restricted-secret";
    /// Not staff, owner of [`NONSTAFF_CLIENT_ID`] (the 403 path).
    pub const NONSTAFF_USER: &str = "edx_hooks_nonstaff";
    pub const NONSTAFF_CLIENT_ID: &str = "edx-hooks-nonstaff";
    pub const NONSTAFF_CLIENT_SECRET: &str = "edx-hooks-nonstaff-secret";
    /// Learners without enrollments: `<name>@learners.test`, username `<name>`.
    pub const LEARNERS: [&str; 6] = ["alice", "bob", "carol", "dave", "erin", "frank"];
    /// Actively enrolled in [`OPEN`] as `verified`.
    pub const VERIFIED_LEARNER: &str = "verified_vera";
    /// Holds the one seat of [`FULL`] (`audit`).
    pub const FULL_HOLDER: &str = "full_holder";

    /// Running, enrollment open; modes audit + verified.
    pub const OPEN: &str = "course-v1:EdxHooksX+OPEN101+2026";
    /// Enrollment window ended yesterday.
    pub const CLOSED: &str = "course-v1:EdxHooksX+CLOSED201+2026";
    /// Starts in 40 days, enrollment opens in 30: invisible to anonymous callers.
    pub const UPCOMING: &str = "course-v1:EdxHooksX+UPCOMING301+2027";
    /// `invitation_only`.
    pub const INVITE: &str = "course-v1:EdxHooksX+INVITE401+2026";
    /// `max_student_enrollments_allowed = 1`, taken by [`FULL_HOLDER`].
    pub const FULL: &str = "course-v1:EdxHooksX+FULL501+2026";
    /// Only a `verified` mode (no audit, no honor).
    pub const VERIFIED_ONLY: &str = "course-v1:EdxHooksX+VERIFIED601+2026";
    /// `catalog_visibility = none`.
    pub const HIDDEN: &str = "course-v1:OtherU+HIDDEN701+2026";
    /// `catalog_visibility = about`.
    pub const ABOUT: &str = "course-v1:OtherU+ABOUT801+2026";
    /// Old-style key; only an `honor` mode.
    pub const OLD_STYLE: &str = "EdxHooksX/OLD901/2025";
    /// Only a `no-id-professional` mode.
    pub const PROFESSIONAL_ONLY: &str = "course-v1:ThirdU+PROF110+2026";
    /// Number of courses in the seed (the ten above and twelve `ThirdU+FILLnnn` fillers).
    pub const COURSE_COUNT: usize = 22;
    /// A well-formed key of no course.
    pub const MISSING: &str = "course-v1:EdxHooksX+NOPE999+2026";

    pub fn learner_email(name: &str) -> String {
        format!("{name}@learners.test")
    }
}

/// How to start an LMS.
#[derive(Debug, Clone, Default)]
pub struct RealLmsOptions {
    /// `FEATURES['ENABLE_BULK_ENROLLMENT_VIEW']` (off in production by default).
    pub bulk_enroll: bool,
}

/// A running real LMS; stopped when dropped.
pub struct RealLms {
    port: u16,
    data_dir: PathBuf,
}

fn launcher(script: &str) -> PathBuf {
    workspace_root().join("tests").join("real-lms").join(script)
}

/// An answer of [`RealLms::get`].
#[derive(Debug, Clone)]
pub struct RawAnswer {
    pub status: u16,
    pub retry_after: Option<String>,
    pub body: String,
}

/// One enrollment row of `student_courseenrollment`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrollmentRow {
    pub mode: String,
    pub is_active: bool,
}

impl RealLms {
    /// The platform source, when the tier is enabled.
    pub fn platform_src() -> Option<String> {
        std::env::var("OPENEDX_PLATFORM_SRC")
            .ok()
            .filter(|v| !v.trim().is_empty())
    }

    /// Start with the default options, or `None` (with a note on stderr) when
    /// `OPENEDX_PLATFORM_SRC` is unset. Blocking: ≈ 5 s warm, minutes on first use.
    pub fn start(test: &str) -> Option<RealLms> {
        RealLms::start_with(test, RealLmsOptions::default())
    }

    pub fn start_with(test: &str, options: RealLmsOptions) -> Option<RealLms> {
        if RealLms::platform_src().is_none() {
            eprintln!("{test}: real-LMS tier skipped (set OPENEDX_PLATFORM_SRC to an openedx-platform checkout or .tar.xz)");
            return None;
        }
        let port = free_port();
        let data_dir = std::env::temp_dir().join(format!("edx-hooks-lms-{port}"));
        let mut command = Command::new(launcher("start.sh"));
        command.arg(port.to_string()).env("LMS_DATA_DIR", &data_dir);
        if options.bulk_enroll {
            command.env("EDX_HOOKS_LMS_BULK_ENROLL", "1");
        }
        let output = command
            .output()
            .unwrap_or_else(|e| panic!("cannot run tests/real-lms/start.sh: {e}"));
        // From here on, Drop stops the server even if we panic below.
        let server = RealLms { port, data_dir };
        assert!(
            output.status.success(),
            "tests/real-lms/start.sh {port} failed:\n{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        Some(server)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The server's log so far: Django's access log (`"GET /path HTTP/1.1" 200 123`)
    /// and the platform's own log lines.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.data_dir.join("lms.log")).unwrap_or_default()
    }

    /// Requests served so far whose request line starts with `"METHOD path_prefix`.
    pub fn requests(&self, method: &str, path_prefix: &str) -> usize {
        self.sync_log();
        let needle = format!("\"{method} {path_prefix}");
        self.log().lines().filter(|l| l.contains(&needle)).count()
    }

    /// Django writes a request's access-log line after its response has gone out. The
    /// server is single-threaded: once it has answered one more request, every earlier
    /// line is in the log.
    fn sync_log(&self) {
        let _ = exchange(
            self.port,
            "GET /api/user/v1/me?edx-hooks-log-sync HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n",
        );
    }

    /// Run a read-only SQL query on the LMS's database; rows as JSON arrays.
    pub fn query(&self, sql: &str, params: &[&str]) -> Vec<Vec<Value>> {
        let db = self.data_dir.join("db").join("lms.sqlite3");
        let output = Command::new("python3")
            .arg("-c")
            .arg(
                "import json, sqlite3, sys\n\
                 con = sqlite3.connect('file:' + sys.argv[1] + '?mode=ro', uri=True, timeout=30)\n\
                 print(json.dumps(con.execute(sys.argv[2], sys.argv[3:]).fetchall()))",
            )
            .arg(&db)
            .arg(sql)
            .args(params)
            .output()
            .unwrap_or_else(|e| panic!("cannot run python3 for an SQL read-back: {e}"));
        assert!(
            output.status.success(),
            "SQL read-back failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).expect("rows as JSON")
    }

    /// The enrollment of `username` in `course_id`, if any (active or not).
    pub fn enrollment(&self, username: &str, course_id: &str) -> Option<EnrollmentRow> {
        let rows = self.query(
            "SELECT e.mode, e.is_active FROM student_courseenrollment e \
             JOIN auth_user u ON u.id = e.user_id WHERE u.username = ? AND e.course_id = ?",
            &[username, course_id],
        );
        rows.first().map(|row| EnrollmentRow {
            mode: row[0].as_str().unwrap_or_default().to_owned(),
            is_active: row[1].as_i64() == Some(1),
        })
    }

    /// Every enrollment row (`username`, `course_id`, `mode`, `is_active`), sorted.
    pub fn all_enrollments(&self) -> Vec<Vec<Value>> {
        self.query(
            "SELECT u.username, e.course_id, e.mode, e.is_active FROM student_courseenrollment e \
             JOIN auth_user u ON u.id = e.user_id ORDER BY 1, 2",
            &[],
        )
    }

    /// `auto_enroll` of the allowance for `email` in `course_id`, if one exists.
    pub fn allowance(&self, email: &str, course_id: &str) -> Option<bool> {
        let rows = self.query(
            "SELECT auto_enroll FROM student_courseenrollmentallowed WHERE email = ? AND course_id = ?",
            &[email, course_id],
        );
        rows.first().map(|row| row[0].as_i64() == Some(1))
    }

    /// Every allowance row (`email`, `course_id`, `auto_enroll`), sorted.
    pub fn all_allowances(&self) -> Vec<Vec<Value>> {
        self.query(
            "SELECT email, course_id, auto_enroll FROM student_courseenrollmentallowed ORDER BY 1, 2",
            &[],
        )
    }

    /// A blocking `GET path` (HTTP/1.0), with the JWT when given: the raw answer, for
    /// tests that drive the LMS directly (e.g. to use up a throttle).
    pub fn get(&self, path: &str, token: Option<&str>) -> RawAnswer {
        let auth = token
            .map(|t| format!("Authorization: JWT {t}\r\n"))
            .unwrap_or_default();
        let request = format!(
            "GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{}\r\nAccept: application/json\r\n{auth}\r\n",
            self.port
        );
        exchange(self.port, &request).expect("the LMS answers")
    }

    /// A fresh JWT for a seeded client (counts against the token endpoint's rate only).
    pub fn token(&self, client_id: &str, client_secret: &str) -> String {
        let form = format!(
            "grant_type=client_credentials&client_id={client_id}&client_secret={client_secret}&token_type=jwt"
        );
        let request = format!(
            "POST /oauth2/access_token HTTP/1.0\r\nHost: 127.0.0.1:{}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{form}",
            self.port,
            form.len()
        );
        let reply = exchange(self.port, &request).expect("the LMS answers");
        let body: Value = serde_json::from_str(&reply.body).unwrap_or(Value::Null);
        body["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("no token: {} {}", reply.status, reply.body))
            .to_owned()
    }
}

/// One blocking HTTP/1.0 exchange with the LMS (read-back and set-up helpers only; the
/// code under test has its own client): the raw `request` out, the answer parsed.
fn exchange(port: u16, request: &str) -> std::io::Result<RawAnswer> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    stream.write_all(request.as_bytes())?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let retry_after = head.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("retry-after")
            .then(|| value.trim().to_owned())
    });
    Ok(RawAnswer {
        status,
        retry_after,
        body: body.to_owned(),
    })
}

impl Drop for RealLms {
    fn drop(&mut self) {
        let _ = Command::new(launcher("stop.sh"))
            .arg(self.port.to_string())
            .env("LMS_DATA_DIR", &self.data_dir)
            .output();
    }
}
