//! An in-process emulator of Richie's course-runs-sync endpoint, for the fast tests and
//! the benchmark. It follows openfun/richie `src/richie/apps/courses/api.py`
//! (`sync_course_runs_from_request`, `sync_course_run`) as measured on richie 3.5.1 (the
//! real Richie is exercised by `richie_e2e.rs`):
//! 403 `"Missing authentication."` / 401 `"Invalid authentication."` on the whole
//! `Authorization` header; object → 200 `{"success": true}` or 400 `{field: [msg]}`;
//! list → 200 or 400 with the per-link map (successful items kept); "Unknown course:
//! CODE." when no course page has the key's course code; `languages` required on
//! creation. Plus latency, fault injection, concurrency counters and a request log.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::{json, Map, Value};

use course_sync::payload::{normalize_datetime, RICHIE_LANGUAGES};
use edx_hooks_shared::signature::richie_authorization;

#[derive(Clone, Debug)]
pub struct RichieEmulatorConfig {
    pub secrets: Vec<String>,
    /// Normalised course codes (`DEMOX`) that have a course page.
    pub course_codes: Vec<String>,
    /// Added to every request.
    pub latency: Duration,
}

impl Default for RichieEmulatorConfig {
    fn default() -> Self {
        RichieEmulatorConfig {
            secrets: vec!["richie-secret".into()],
            course_codes: vec!["DEMOX".into()],
            latency: Duration::ZERO,
        }
    }
}

#[derive(Default)]
struct EmuState {
    /// resource_link → run fields.
    runs: HashMap<String, Map<String, Value>>,
    /// (Authorization header, parsed body)
    requests: Vec<(Option<String>, Value)>,
    /// Status codes to answer instead of processing, in order.
    fail_next: Vec<u16>,
}

struct Shared {
    config: RichieEmulatorConfig,
    state: Mutex<EmuState>,
    in_flight: AtomicUsize,
    peak: AtomicUsize,
}

pub struct RichieEmulator {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for RichieEmulator {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl RichieEmulator {
    pub async fn start(config: RichieEmulatorConfig) -> RichieEmulator {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let shared = Arc::new(Shared {
            config,
            state: Mutex::default(),
            in_flight: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
        });
        let app = Router::new().fallback(handle).with_state(shared.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        RichieEmulator { addr, shared, task }
    }

    pub fn sync_url(&self) -> String {
        format!("http://{}/api/v1.0/course-runs-sync/", self.addr)
    }

    fn state(&self) -> std::sync::MutexGuard<'_, EmuState> {
        self.shared.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The run stored for this link.
    pub fn run(&self, link: &str) -> Option<Map<String, Value>> {
        self.state().runs.get(link).cloned()
    }

    pub fn run_count(&self) -> usize {
        self.state().runs.len()
    }

    pub fn add_run(&self, link: &str, fields: Value) {
        let fields = fields.as_object().cloned().unwrap_or_default();
        self.state().runs.insert(link.to_owned(), fields);
    }

    /// Every request received: (Authorization header, JSON body).
    pub fn requests(&self) -> Vec<(Option<String>, Value)> {
        self.state().requests.clone()
    }

    /// The next requests answer these statuses (HTML body, like Django's error page).
    pub fn fail_next(&self, statuses: &[u16]) {
        self.state().fail_next.extend_from_slice(statuses);
    }

    pub fn peak_concurrency(&self) -> usize {
        self.shared.peak.load(Ordering::SeqCst)
    }
}

fn error(status: u16, body: Value) -> Response {
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        axum::Json(body),
    )
        .into_response()
}

fn field_error(field: &str, message: &str) -> Value {
    json!({ field: [message] })
}

/// `lms/edx.py` `extract_course_code` + `utils.normalize_code` (slugify + upper, approximated).
fn course_code(link: &str) -> Option<String> {
    let (_, rest) = link.split_once("/courses/")?;
    let course_id = rest
        .strip_suffix('/')
        .unwrap_or(rest)
        .strip_suffix("/info")
        .or_else(|| {
            rest.strip_suffix('/')
                .unwrap_or(rest)
                .strip_suffix("/course")
        })?;
    let code = match course_id.strip_prefix("course-v1:") {
        Some(k) => k.split('+').nth(1)?,
        None => course_id.split('/').nth(1)?,
    };
    Some(
        code.chars()
            .filter(|c| c.is_alphanumeric() || *c == '-' || *c == '_')
            .collect::<String>()
            .to_uppercase(),
    )
}

/// `SyncCourseRunSerializer` checks on the fields present (partial on update).
fn validate(item: &Map<String, Value>, creating: bool) -> Result<Map<String, Value>, Value> {
    let mut errors = Map::new();
    let mut clean = Map::new();
    for field in ["start", "end", "enrollment_start", "enrollment_end"] {
        match item.get(field) {
            None => {}
            Some(Value::Null) => {
                clean.insert(field.into(), Value::Null);
            }
            Some(Value::String(s)) if normalize_datetime(s).is_some() => {
                clean.insert(field.into(), json!(s));
            }
            Some(_) => {
                errors.insert(field.into(), json!(["Datetime has wrong format. Use one of these formats instead: YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]."]));
            }
        }
    }
    match item.get("languages") {
        None if creating => {
            errors.insert("languages".into(), json!(["This field is required."]));
        }
        None => {}
        Some(Value::Array(langs)) => {
            let bad = langs
                .iter()
                .find(|l| !l.as_str().is_some_and(|l| RICHIE_LANGUAGES.contains(&l)));
            match bad {
                Some(l) => {
                    errors.insert(
                        "languages".into(),
                        json!([format!(
                            "\"{}\" is not a valid choice.",
                            l.as_str().unwrap_or("")
                        )]),
                    );
                }
                None => {
                    clean.insert("languages".into(), json!(langs));
                }
            }
        }
        Some(_) => {
            errors.insert(
                "languages".into(),
                json!(["Expected a list of items but got type \"str\"."]),
            );
        }
    }
    if let Some(v) = item.get("enrollment_count") {
        match v.as_u64() {
            Some(n) => {
                clean.insert("enrollment_count".into(), json!(n));
            }
            None => {
                errors.insert(
                    "enrollment_count".into(),
                    json!(["A valid integer is required."]),
                );
            }
        }
    }
    if let Some(v) = item.get("catalog_visibility") {
        match v.as_str() {
            Some(s @ ("course_and_search" | "course_only" | "hidden")) => {
                clean.insert("catalog_visibility".into(), json!(s));
            }
            _ => {
                errors.insert(
                    "catalog_visibility".into(),
                    json!([format!(
                        "\"{}\" is not a valid choice.",
                        v.as_str().unwrap_or("")
                    )]),
                );
            }
        }
    }
    if errors.is_empty() {
        Ok(clean)
    } else {
        Err(Value::Object(errors))
    }
}

/// `api.py` `sync_course_run`.
fn sync_one(shared: &Shared, state: &mut EmuState, item: &Map<String, Value>) -> Result<(), Value> {
    let link = item
        .get("resource_link")
        .and_then(Value::as_str)
        .unwrap_or("");
    let Some(code) = course_code(link) else {
        return Err(field_error(
            "resource_link",
            "No LMS configuration found for this resource link.",
        ));
    };
    let existing = state.runs.contains_key(link);
    let clean = validate(item, !existing)?;
    if existing {
        if let Some(run) = state.runs.get_mut(link) {
            run.extend(clean);
        }
        return Ok(());
    }
    if !shared.config.course_codes.contains(&code) {
        return Err(field_error(
            "resource_link",
            &format!("Unknown course: {code}."),
        ));
    }
    let mut run = clean;
    run.entry("enrollment_count").or_insert(json!(0));
    run.entry("catalog_visibility")
        .or_insert(json!("course_and_search"));
    state.runs.insert(link.to_owned(), run);
    Ok(())
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: axum::http::Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let now = shared.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    shared.peak.fetch_max(now, Ordering::SeqCst);
    if !shared.config.latency.is_zero() {
        tokio::time::sleep(shared.config.latency).await;
    }
    let response = process(&shared, &method, &headers, &body);
    shared.in_flight.fetch_sub(1, Ordering::SeqCst);
    response
}

fn process(
    shared: &Shared,
    method: &axum::http::Method,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    if method != axum::http::Method::POST {
        return error(
            405,
            json!({"detail": format!("Method \"{method}\" not allowed.")}),
        );
    }
    let authorization = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let mut state = shared.state.lock().unwrap_or_else(|e| e.into_inner());
    state.requests.push((
        authorization.clone(),
        serde_json::from_slice(body).unwrap_or(Value::Null),
    ));
    if !state.fail_next.is_empty() {
        let status = state.fail_next.remove(0);
        let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return (
            code,
            [("content-type", "text/html")],
            "<h1>Server Error (500)</h1>",
        )
            .into_response();
    }
    let Some(authorization) = authorization else {
        return error(403, json!("Missing authentication."));
    };
    if !shared
        .config
        .secrets
        .iter()
        .any(|s| richie_authorization(s.as_bytes(), body) == authorization)
    {
        return error(401, json!("Invalid authentication."));
    }
    if !headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("application/json"))
    {
        return error(415, json!({"detail": "Unsupported media type in request."}));
    }
    let data: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => return error(400, json!({"detail": format!("JSON parse error - {e}")})),
    };
    match data {
        Value::Array(items) => {
            if !items.iter().all(|i| i.get("resource_link").is_some()) {
                return error(400, field_error("resource_link", "This field is required."));
            }
            let mut result = Map::new();
            let mut status = 200;
            for item in &items {
                let link = item
                    .get("resource_link")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned();
                let outcome = match item.as_object() {
                    Some(map) => sync_one(shared, &mut state, map),
                    None => Err(json!({"non_field_errors": ["Invalid data."]})),
                };
                match outcome {
                    Ok(()) => {
                        result.insert(link, json!({"success": true}));
                    }
                    Err(errors) => {
                        status = 400;
                        result.insert(link, errors);
                    }
                }
            }
            error(status, Value::Object(result))
        }
        Value::Object(map) => {
            if map
                .get("resource_link")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
            {
                return error(400, field_error("resource_link", "This field is required."));
            }
            match sync_one(shared, &mut state, &map) {
                Ok(()) => error(200, json!({"success": true})),
                Err(errors) => error(400, errors),
            }
        }
        _ => error(
            400,
            json!({"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]}),
        ),
    }
}
