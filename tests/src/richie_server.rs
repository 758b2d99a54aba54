//! A real Richie (PyPI `richie`, version pinned in `tests/richie/requirements.txt`) on a
//! free loopback port, for black-box tests of the course-sync forwarder.
//!
//! [`RichieServer::start`] runs `tests/richie/start.sh PORT` (which installs Richie into
//! `<root>/.venv-richie` on first use, copies a migrated SQLite database, seeds course
//! pages and starts `django-admin runserver`), and [`Drop`] runs `tests/richie/stop.sh
//! PORT`, which stops that server by the PID it recorded. No Elasticsearch, no Redis.
//!
//! Read-back helpers use plain HTTP/1.0 over `std::net` (Richie's public
//! `GET /api/v1.0/course-runs/<id>/`, and the launcher's test-only
//! `GET /_edx_hooks/course-runs/?resource_link=`).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::support::{free_port, workspace_root};

/// The sync secret the launcher configures by default (also used by `scripts/run-local`).
pub const DEFAULT_SYNC_SECRET: &str = "local-richie-secret";

/// How to start a Richie.
#[derive(Debug, Clone)]
pub struct RichieOptions {
    /// `RICHIE_COURSE_RUN_SYNC_SECRETS`.
    pub secrets: Vec<String>,
    /// Course pages (and runs) to create: the `RICHIE_SEED` document of `seed.py`;
    /// `None` = the launcher's default (pages `DEMOX` with one run, and `E2E-101`).
    pub seed: Option<Value>,
    /// `DEFAULT_COURSE_RUN_SYNC_MODE` of the Open edX LMS backend.
    pub default_sync_mode: Option<String>,
    /// The backend's `COURSE_REGEX`.
    pub course_regex: Option<String>,
}

impl Default for RichieOptions {
    fn default() -> Self {
        RichieOptions {
            secrets: vec![DEFAULT_SYNC_SECRET.to_owned()],
            seed: None,
            default_sync_mode: None,
            course_regex: None,
        }
    }
}

/// A running Richie; stopped when dropped.
pub struct RichieServer {
    port: u16,
    data_dir: PathBuf,
    seed: Value,
}

fn launcher(script: &str) -> PathBuf {
    workspace_root().join("tests").join("richie").join(script)
}

impl RichieServer {
    /// Start with the default options (blocking, ≈3 s warm; the first run installs Richie).
    pub fn start() -> RichieServer {
        RichieServer::start_with(RichieOptions::default())
    }

    pub fn start_with(options: RichieOptions) -> RichieServer {
        let port = free_port();
        let data_dir = std::env::temp_dir().join(format!("edx-hooks-richie-{port}"));
        let mut command = Command::new(launcher("start.sh"));
        command
            .arg(port.to_string())
            .env("RICHIE_DATA_DIR", &data_dir)
            .env("RICHIE_SYNC_SECRETS", options.secrets.join(","));
        if let Some(seed) = &options.seed {
            command.env("RICHIE_SEED", seed.to_string());
        }
        if let Some(mode) = &options.default_sync_mode {
            command.env("RICHIE_DEFAULT_SYNC_MODE", mode);
        }
        if let Some(regex) = &options.course_regex {
            command.env("RICHIE_COURSE_REGEX", regex);
        }
        let output = command
            .output()
            .unwrap_or_else(|e| panic!("cannot run tests/richie/start.sh: {e}"));
        // From here on, Drop cleans up even if we panic below.
        let mut server = RichieServer {
            port,
            data_dir,
            seed: Value::Null,
        };
        assert!(
            output.status.success(),
            "tests/richie/start.sh {port} failed:\n{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        let seed = std::fs::read_to_string(server.data_dir.join("seed.json"))
            .expect("seed.json written by seed.py");
        server.seed = serde_json::from_str(&seed).expect("seed.json is JSON");
        server
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The course-runs-sync endpoint.
    pub fn sync_url(&self) -> String {
        format!("{}/api/v1.0/course-runs-sync/", self.base_url())
    }

    /// What `seed.py` created: `{"courses": [{"code", "page_published", "runs": [{"resource_link", "draft_run_id", "public_run_id"}]}]}`.
    pub fn seed(&self) -> &Value {
        &self.seed
    }

    /// The seeded run with this link: `(draft id, public id)`.
    pub fn seeded_run(&self, resource_link: &str) -> Option<(u64, Option<u64>)> {
        let run = self.seed["courses"]
            .as_array()?
            .iter()
            .flat_map(|c| c["runs"].as_array().into_iter().flatten())
            .find(|r| r["resource_link"] == resource_link)?;
        Some((run["draft_run_id"].as_u64()?, run["public_run_id"].as_u64()))
    }

    /// `GET /api/v1.0/course-runs/<id>/` (Richie's public read API): `(status, body)`.
    pub fn course_run(&self, id: u64) -> (u16, Value) {
        self.get(&format!("/api/v1.0/course-runs/{id}/"))
    }

    /// Every run (draft and public) whose `resource_link` is exactly `link`.
    pub fn runs_by_link(&self, link: &str) -> Vec<Value> {
        let (status, body) = self.get(&format!(
            "/_edx_hooks/course-runs/?resource_link={}",
            query_escape(link)
        ));
        assert_eq!(status, 200, "runs_by_link: {body}");
        body.as_array().cloned().unwrap_or_default()
    }

    /// A blocking `GET` returning `(status, JSON body or Null)`.
    pub fn get(&self, path: &str) -> (u16, Value) {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("connect to richie");
        let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
        write!(
            stream,
            "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nAccept: application/json\r\n\r\n"
        )
        .expect("write request");
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).expect("read response");
        let text = String::from_utf8_lossy(&raw);
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        (status, serde_json::from_str(body).unwrap_or(Value::Null))
    }

    /// Richie's log so far (for assertion messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.data_dir.join("richie.log")).unwrap_or_default()
    }
}

fn query_escape(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' | b':' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl Drop for RichieServer {
    fn drop(&mut self) {
        let _ = Command::new(launcher("stop.sh"))
            .arg(self.port.to_string())
            .env("RICHIE_DATA_DIR", &self.data_dir)
            .output();
    }
}
