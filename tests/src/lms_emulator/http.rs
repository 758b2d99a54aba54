//! Request parsing and response helpers shared by the emulated views:
//! DRF-style error bodies, Django 404/500 pages, query/form decoding, body
//! parsing like DRF's default parsers, course-key syntax, and Python `str()`
//! / `repr()` of JSON values (edx-platform interpolates request values with
//! f-strings into its messages).

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::Response;
use serde_json::{json, Map, Value};

/// The parsed request handed to every view.
pub(crate) struct Req {
    pub method: Method,
    /// Percent-decoded path (Django routes on the decoded `PATH_INFO`).
    pub path: String,
    pub raw_query: Option<String>,
    pub query: Vec<(String, String)>,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// The TCP peer (`REMOTE_ADDR`).
    pub peer: Option<std::net::SocketAddr>,
}

impl Req {
    /// `request.GET.get(key)` — Django's `QueryDict.get` returns the last value.
    pub fn q(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Scheme + host as the client addressed us (for absolute URLs in bodies).
    pub fn origin(&self) -> String {
        format!("http://{}", self.header("host").unwrap_or("127.0.0.1"))
    }

    /// `request.build_absolute_uri()` for the current path with a replaced query.
    pub fn absolute_url(&self, query: &[(String, String)]) -> String {
        let mut url = format!("{}{}", self.origin(), encode_path(&self.path));
        if !query.is_empty() {
            url.push('?');
            url.push_str(&form_encode(query));
        }
        url
    }

    /// `request.data` as DRF's default parsers (JSON, form, multipart) would
    /// produce it. `Err` is the finished error response (400 parse error /
    /// 415 unsupported media type).
    pub fn data(&self) -> Result<Value, Response> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Value::Object(Map::new()));
        }
        let ct = self
            .header("content-type")
            .unwrap_or("")
            .to_ascii_lowercase();
        let mime = ct.split(';').next().unwrap_or("").trim().to_owned();
        if mime == "application/json" || mime.ends_with("+json") {
            return serde_json::from_slice(&self.body).map_err(|e| {
                detail(
                    400,
                    &format!("JSON parse error - {}", python_json_error(&e)),
                )
            });
        }
        if mime == "application/x-www-form-urlencoded" {
            let text = String::from_utf8_lossy(&self.body);
            let mut map = Map::new();
            for (k, v) in form_decode(&text) {
                map.insert(k, Value::String(v));
            }
            return Ok(Value::Object(map));
        }
        let shown = if ct.is_empty() {
            String::new()
        } else {
            ct.clone()
        };
        Err(detail(
            415,
            &format!("Unsupported media type \"{shown}\" in request."),
        ))
    }
}

/// Approximates Python's `json.JSONDecodeError` text for a serde error.
fn python_json_error(e: &serde_json::Error) -> String {
    let what = match e.classify() {
        serde_json::error::Category::Eof => "Expecting value",
        serde_json::error::Category::Syntax => "Expecting value",
        _ => "Invalid JSON",
    };
    format!(
        "{what}: line {} column {} (char {})",
        e.line(),
        e.column(),
        e.column().saturating_sub(1)
    )
}

// ---------------------------------------------------------------------------
// responses

pub(crate) fn with_body(
    status: u16,
    content_type: Option<&str>,
    body: impl Into<Body>,
) -> Response {
    let mut resp = Response::new(body.into());
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if let Some(ct) = content_type {
        if let Ok(v) = HeaderValue::from_str(ct) {
            resp.headers_mut().insert(header::CONTENT_TYPE, v);
        }
    }
    resp
}

/// A DRF `Response(data, status)` rendered by `JSONRenderer`.
pub(crate) fn json(status: u16, value: Value) -> Response {
    with_body(status, Some("application/json"), value.to_string())
}

/// A DRF `Response(status=...)` without data: empty body, no Content-Type
/// (`rest_framework/response.py` drops the header for empty content).
pub(crate) fn empty(status: u16) -> Response {
    with_body(status, None, Body::empty())
}

/// DRF's default exception body: `{"detail": "..."}`.
pub(crate) fn detail(status: u16, msg: &str) -> Response {
    json(status, json!({ "detail": msg }))
}

/// Django's (LMS `handler404`) HTML not-found page, used for unrouted paths.
pub(crate) fn django_404() -> Response {
    with_body(
        404,
        Some("text/html; charset=utf-8"),
        "<!DOCTYPE html><html><head><title>Page not found</title></head><body><h1>Page not found</h1>\
         <p>The page you requested could not be found.</p></body></html>",
    )
}

/// Django's production 500 page (uncaught exception in a view).
pub(crate) fn django_500() -> Response {
    with_body(
        500,
        Some("text/html; charset=utf-8"),
        "<h1>Server Error (500)</h1>",
    )
}

pub(crate) fn add_header(mut resp: Response, name: &'static str, value: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(value) {
        resp.headers_mut().insert(name, v);
    }
    resp
}

/// DRF `405` for a method the view does not implement.
pub(crate) fn method_not_allowed(method: &Method) -> Response {
    detail(405, &format!("Method \"{}\" not allowed.", method.as_str()))
}

// ---------------------------------------------------------------------------
// error styles

/// How a view renders exceptions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Style {
    /// DRF default handler: `{"detail": ...}` (401 carries `WWW-Authenticate: JWT realm="api"`).
    Drf,
    /// `openedx/core/lib/api/view_utils.py` `DeveloperErrorViewMixin`:
    /// `{"developer_message": ...}`, no `WWW-Authenticate`.
    Developer,
    /// ADR 0029 `StandardizedErrorMixin` envelope
    /// (`edx_rest_framework_extensions/errors.py` `build_error_envelope`).
    Envelope,
}

/// The DRF exception class behind an error (drives the envelope's type/title).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    NotAuthenticated,
    AuthenticationFailed,
    PermissionDenied,
    NotFound,
    Validation,
    Conflict,
    /// DRF `Throttled` (429).
    Throttled,
    /// Not in the ADR 0029 catalog (e.g. `MethodNotAllowed`): slug `internal`.
    Other,
}

pub(crate) const NOT_AUTHENTICATED: &str = "Authentication credentials were not provided.";
pub(crate) const INVALID_TOKEN: &str = "Invalid token.";
pub(crate) const PERMISSION_DENIED: &str = "You do not have permission to perform this action.";

/// Render an exception in the view's style. `errors` is the envelope's
/// `errors` member (only used for [`Kind::Validation`] in [`Style::Envelope`]).
pub(crate) fn error(
    style: Style,
    kind: Kind,
    status: u16,
    msg: &str,
    instance: &str,
    errors: Option<Value>,
) -> Response {
    let resp = match style {
        Style::Drf => detail(status, msg),
        Style::Developer => json(status, json!({ "developer_message": msg })),
        Style::Envelope => {
            let (slug, title) = match kind {
                Kind::NotAuthenticated => ("authn", "Authentication Required"),
                Kind::AuthenticationFailed => ("authn", "Authentication Failed"),
                Kind::PermissionDenied => ("authz", "Permission Denied"),
                Kind::NotFound => ("not-found", "Not Found"),
                Kind::Validation => ("validation", "Validation Error"),
                Kind::Conflict => ("conflict", "Conflict"),
                Kind::Throttled => ("rate-limited", "Too Many Requests"),
                Kind::Other => ("internal", "Internal Server Error"),
            };
            let mut body = json!({
                "type": format!("https://docs.openedx.org/errors/{slug}"),
                "title": title,
                "status": status,
                "detail": msg,
                "instance": instance,
            });
            if kind == Kind::Validation {
                body["errors"] = errors.unwrap_or_else(|| json!({ "non_field_errors": [msg] }));
            }
            json(status, body)
        }
    };
    if status == 401 && style != Style::Developer {
        add_header(resp, "www-authenticate", "JWT realm=\"api\"")
    } else {
        resp
    }
}

// ---------------------------------------------------------------------------
// URL encoding

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn decode(s: &str, plus_is_space: bool) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' if plus_is_space => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Percent-decode a path (`+` stays `+`).
pub(crate) fn percent_decode(s: &str) -> String {
    decode(s, false)
}

/// Decode `application/x-www-form-urlencoded` (also query strings).
pub(crate) fn form_decode(s: &str) -> Vec<(String, String)> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (decode(k, true), decode(v, true)),
            None => (decode(p, true), String::new()),
        })
        .collect()
}

fn encode_component(s: &str, keep: &[u8]) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) || keep.contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Python `urlencode` (`quote_plus`) of pairs, as DRF's `replace_query_param` emits.
pub(crate) fn form_encode(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                encode_component(k, b"").replace("%20", "+"),
                encode_component(v, b"").replace("%20", "+")
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// Encode a decoded path for an absolute URL (keeps `/ : + @ , ;`).
pub(crate) fn encode_path(s: &str) -> String {
    encode_component(s, b"/:+@,;=")
}

/// DRF `replace_query_param`: set `key`, keep the other params, sort by key.
pub(crate) fn replace_query_param(
    query: &[(String, String)],
    key: &str,
    val: Option<String>,
) -> Vec<(String, String)> {
    let mut q: Vec<(String, String)> = query.iter().filter(|(k, _)| k != key).cloned().collect();
    if let Some(v) = val {
        q.push((key.to_owned(), v));
    }
    q.sort_by(|a, b| a.0.cmp(&b.0));
    q
}

// ---------------------------------------------------------------------------
// page-number pagination

/// One page of a DRF `PageNumberPagination` over `count` items.
pub(crate) struct Page {
    pub start: usize,
    pub end: usize,
    pub number: usize,
    pub num_pages: usize,
    pub count: usize,
    pub page_size: usize,
    pub next: Value,
    pub previous: Value,
}

/// DRF `PageNumberPagination.paginate_queryset` + Django `Paginator`
/// (`allow_empty_first_page`): `page_size` from `?page_size=` (non-positive
/// or non-integer → default; capped at `max`), `?page=` an integer ≥ 1 or
/// `last`; anything else → `Err(())` (the view raises `NotFound("Invalid
/// page.")`). `next`/`previous` are absolute URLs built like DRF's
/// `replace_query_param` / `remove_query_param` (query re-sorted by key).
pub(crate) fn paginate(
    req: &Req,
    count: usize,
    default_size: usize,
    max: Option<usize>,
) -> Result<Page, ()> {
    let page_size = req
        .q("page_size")
        .and_then(|s| s.parse::<i64>().ok())
        .filter(|n| *n > 0)
        .map(|n| max.map_or(n as usize, |m| (n as usize).min(m)))
        .unwrap_or(default_size);
    let num_pages = count.div_ceil(page_size).max(1);
    let number = match req.q("page") {
        None => 1,
        Some("last") => num_pages,
        Some(p) => p.parse::<usize>().map_err(|_| ())?,
    };
    if number < 1 || number > num_pages {
        return Err(());
    }
    let start = (number - 1) * page_size;
    let end = (start + page_size).min(count);
    let next = if number < num_pages {
        Value::String(req.absolute_url(&replace_query_param(
            &req.query,
            "page",
            Some((number + 1).to_string()),
        )))
    } else {
        Value::Null
    };
    let previous = match number {
        1 => Value::Null,
        2 => Value::String(req.absolute_url(&replace_query_param(&req.query, "page", None))),
        n => Value::String(req.absolute_url(&replace_query_param(
            &req.query,
            "page",
            Some((n - 1).to_string()),
        ))),
    };
    Ok(Page {
        start,
        end,
        number,
        num_pages,
        count,
        page_size,
        next,
        previous,
    })
}

// ---------------------------------------------------------------------------
// Python string rendering

/// Python `repr()` of a `str`.
pub(crate) fn py_repr_str(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::new();
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// Python `repr()` of a parsed JSON value (dict/list/str/int/float/bool/None).
pub(crate) fn py_repr(v: &Value) -> String {
    match v {
        Value::String(s) => py_repr_str(s),
        Value::Array(a) => format!("[{}]", a.iter().map(py_repr).collect::<Vec<_>>().join(", ")),
        Value::Object(o) => format!(
            "{{{}}}",
            o.iter()
                .map(|(k, v)| format!("{}: {}", py_repr_str(k), py_repr(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => py_str(other),
    }
}

/// Python `str()` / f-string interpolation of a parsed JSON value.
pub(crate) fn py_str(v: &Value) -> String {
    match v {
        Value::Null => "None".to_owned(),
        Value::Bool(true) => "True".to_owned(),
        Value::Bool(false) => "False".to_owned(),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => i.to_string(),
            (_, Some(u), _) => u.to_string(),
            (_, _, Some(f)) if f.fract() == 0.0 && f.abs() < 1e16 => format!("{f:.1}"),
            (_, _, Some(f)) => f.to_string(),
            _ => n.to_string(),
        },
        Value::String(s) => s.clone(),
        other => py_repr(other),
    }
}

/// Python truthiness of a JSON value.
pub(crate) fn truthy(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0),
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(Value::Object(o)) => !o.is_empty(),
    }
}

// ---------------------------------------------------------------------------
// course keys

fn id_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '-' || c == '~' || c == '.' || c == ':'
}

/// `CourseKey.from_string` acceptance (opaque-keys `CourseLocator`):
/// `course-v1:ORG+COURSE+RUN` (each part `[\w\-~.:]+`, optional
/// `+branch@`/`+version@` suffixes) or a deprecated `org/course/run`.
pub(crate) fn is_valid_course_key(s: &str) -> bool {
    if let Some(rest) = s.strip_prefix("course-v1:") {
        let parts: Vec<&str> = rest.split('+').collect();
        if parts.len() < 3
            || parts[..3]
                .iter()
                .any(|p| p.is_empty() || !p.chars().all(id_char))
        {
            return false;
        }
        return parts[3..].iter().all(|p| {
            p.strip_prefix("branch@")
                .or_else(|| p.strip_prefix("version@"))
                .is_some_and(|v| !v.is_empty() && v.chars().all(id_char))
        });
    }
    is_deprecated_course_key(s)
}

/// Deprecated `org/course/run` (run may be empty).
pub(crate) fn is_deprecated_course_key(s: &str) -> bool {
    let parts: Vec<&str> = s.split('/').collect();
    let ok = |p: &str| {
        p.chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '.' || c == '%' || c == '-')
    };
    parts.len() == 3 && !parts[0].is_empty() && !parts[1].is_empty() && parts.iter().all(|p| ok(p))
}

/// Match edx-platform's `COURSE_KEY_PATTERN` / `COURSE_ID_PATTERN` regex
/// `[^/+]+(/|\+)[^/+]+(/|\+)[^/?]+` at the start of `s`; returns the
/// matched key (what Django passes as `course_id` / `course_key_string`).
pub(crate) fn match_course_key_pattern(s: &str) -> Option<&str> {
    let b = s.as_bytes();
    let mut i = 0;
    for _ in 0..2 {
        let start = i;
        while i < b.len() && b[i] != b'/' && b[i] != b'+' {
            i += 1;
        }
        if i == start || i >= b.len() {
            return None;
        }
        i += 1; // the separator
    }
    let start = i;
    while i < b.len() && b[i] != b'/' && b[i] != b'?' {
        i += 1;
    }
    if i == start {
        return None;
    }
    Some(&s[..i])
}

/// `org` and `number` of a course key, as `CourseOverview.display_org_with_default`
/// / `display_number_with_default` default to.
pub(crate) fn key_org_number_run(course_id: &str) -> (String, String, String) {
    let body = course_id.strip_prefix("course-v1:").unwrap_or(course_id);
    let mut it = body.split(['+', '/']);
    let org = it.next().unwrap_or("").to_owned();
    let number = it.next().unwrap_or("").to_owned();
    let run = it.next().unwrap_or("").to_owned();
    (org, number, run)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoding() {
        assert_eq!(
            percent_decode("course-v1%3AedX%2BDemoX%2BDemo_Course"),
            "course-v1:edX+DemoX+Demo_Course"
        );
        assert_eq!(percent_decode("a+b%"), "a+b%");
        assert_eq!(
            form_decode("email=a%2Bb%40x.org&x=a+b"),
            vec![
                ("email".to_owned(), "a+b@x.org".to_owned()),
                ("x".to_owned(), "a b".to_owned())
            ]
        );
    }

    #[test]
    fn course_keys() {
        assert!(is_valid_course_key("course-v1:edX+DemoX+Demo_Course"));
        assert!(is_valid_course_key("edX/DemoX/Demo_Course"));
        assert!(!is_valid_course_key("course-v1:edX+DemoX"));
        assert!(!is_valid_course_key("course-v1:edX+Demo X+r"));
        assert!(!is_valid_course_key("foo+bar+baz"));
        assert_eq!(
            match_course_key_pattern("course-v1:a+b+c/"),
            Some("course-v1:a+b+c")
        );
        assert_eq!(match_course_key_pattern("a/b/c"), Some("a/b/c"));
        assert_eq!(match_course_key_pattern("abc"), None);
    }

    #[test]
    fn python_rendering() {
        assert_eq!(py_str(&json!(1)), "1");
        assert_eq!(py_str(&json!("yes")), "yes");
        assert_eq!(py_str(&json!(null)), "None");
        assert_eq!(
            py_repr(&json!({"a": ["x", 1, true]})),
            "{'a': ['x', 1, True]}"
        );
        assert_eq!(py_repr_str("it's"), "\"it's\"");
    }
}
