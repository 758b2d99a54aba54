//! Runtime fault injection: latency, canned error responses, throttling,
//! hangs and dropped connections, per path prefix or global.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use super::TOKEN_PATH;

/// What an injected fault does to a matching request.
#[derive(Clone, Debug, PartialEq)]
pub enum FaultAction {
    /// Answer with this status / body instead of calling the endpoint
    /// (optionally with a `Retry-After: <secs>` header).
    Respond {
        status: u16,
        body: String,
        content_type: String,
        retry_after: Option<u64>,
    },
    /// Sleep `EmulatorConfig::hang_duration` (default 300 s, longer than any
    /// sane client timeout), then answer 504.
    Hang,
    /// Sleep this long, then handle the request normally.
    Delay(Duration),
    /// Close the TCP connection without sending a response.
    DropConnection,
}

/// One fault rule. The first matching rule with calls left fires.
#[derive(Clone, Debug, PartialEq)]
pub struct FaultRule {
    /// Matched against the request path as sent (still percent-encoded);
    /// `""` matches every path.
    pub path_prefix: String,
    /// `Some("POST")` to match one method only.
    pub method: Option<String>,
    /// Calls left; `None` = forever.
    pub remaining: Option<usize>,
    pub action: FaultAction,
}

#[derive(Debug, Default)]
struct FaultState {
    global_latency: Duration,
    path_latency: Vec<(String, Duration)>,
    rules: Vec<FaultRule>,
    fired: usize,
}

/// Handle to the fault table; cheap to clone, shared with the server.
#[derive(Clone, Debug, Default)]
pub struct Faults(Arc<Mutex<FaultState>>);

impl Faults {
    fn lock(&self) -> MutexGuard<'_, FaultState> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Fixed extra latency for every call (in addition to `EmulatorConfig::latency`).
    pub fn set_latency(&self, latency: Duration) {
        self.lock().global_latency = latency;
    }

    /// Fixed extra latency for calls whose path starts with `prefix`
    /// (replaces an earlier setting for the same prefix).
    pub fn set_path_latency(&self, prefix: &str, latency: Duration) {
        let mut s = self.lock();
        s.path_latency.retain(|(p, _)| p != prefix);
        s.path_latency.push((prefix.to_owned(), latency));
    }

    /// Append a rule.
    pub fn add_rule(&self, rule: FaultRule) {
        self.lock().rules.push(rule);
    }

    fn push(&self, prefix: &str, n: Option<usize>, action: FaultAction) {
        self.add_rule(FaultRule {
            path_prefix: prefix.to_owned(),
            method: None,
            remaining: n,
            action,
        });
    }

    /// The next `n` calls under `prefix` answer `status` with a body like the
    /// one a proxy / Django would send (HTML for 5xx, DRF JSON for 4xx).
    pub fn fail_next(&self, prefix: &str, n: usize, status: u16) {
        let (body, ct) = default_body(status);
        self.push(
            prefix,
            Some(n),
            FaultAction::Respond {
                status,
                body,
                content_type: ct,
                retry_after: None,
            },
        );
    }

    /// The next `n` calls under `prefix` answer `status` with `body`
    /// (`content_type` e.g. `"application/json"`).
    pub fn fail_next_with(
        &self,
        prefix: &str,
        n: usize,
        status: u16,
        body: &str,
        content_type: &str,
    ) {
        self.push(
            prefix,
            Some(n),
            FaultAction::Respond {
                status,
                body: body.to_owned(),
                content_type: content_type.to_owned(),
                retry_after: None,
            },
        );
    }

    /// The next `n` calls under `prefix` answer 429 like DRF's `Throttled`
    /// (`{"detail": "Request was throttled. Expected available in N seconds."}`
    /// plus `Retry-After: N` when `retry_after` is given).
    pub fn throttle_next(&self, prefix: &str, n: usize, retry_after: Option<u64>) {
        let detail = match retry_after {
            Some(1) => "Request was throttled. Expected available in 1 second.".to_owned(),
            Some(s) => format!("Request was throttled. Expected available in {s} seconds."),
            None => "Request was throttled.".to_owned(),
        };
        let body = serde_json::json!({ "detail": detail }).to_string();
        self.push(
            prefix,
            Some(n),
            FaultAction::Respond {
                status: 429,
                body,
                content_type: "application/json".to_owned(),
                retry_after,
            },
        );
    }

    /// The next `n` calls under `prefix` hang (see [`FaultAction::Hang`]).
    pub fn hang_next(&self, prefix: &str, n: usize) {
        self.push(prefix, Some(n), FaultAction::Hang);
    }

    /// The next `n` calls under `prefix` are delayed by `delay`.
    pub fn delay_next(&self, prefix: &str, n: usize, delay: Duration) {
        self.push(prefix, Some(n), FaultAction::Delay(delay));
    }

    /// The next `n` calls under `prefix` get their connection closed with no response.
    pub fn drop_next(&self, prefix: &str, n: usize) {
        self.push(prefix, Some(n), FaultAction::DropConnection);
    }

    /// The next `n` token requests answer `status`.
    pub fn fail_token_endpoint(&self, n: usize, status: u16) {
        self.fail_next(TOKEN_PATH, n, status);
    }

    /// Remove every rule and latency setting.
    pub fn clear(&self) {
        let mut s = self.lock();
        s.rules.clear();
        s.path_latency.clear();
        s.global_latency = Duration::ZERO;
    }

    /// Rules that can still fire.
    pub fn pending_rules(&self) -> usize {
        self.lock()
            .rules
            .iter()
            .filter(|r| r.remaining != Some(0))
            .count()
    }

    /// How many faults fired so far.
    pub fn fired(&self) -> usize {
        self.lock().fired
    }

    pub(crate) fn latency_for(&self, path: &str) -> Duration {
        let s = self.lock();
        s.global_latency
            + s.path_latency
                .iter()
                .filter(|(p, _)| path.starts_with(p.as_str()))
                .map(|(_, d)| *d)
                .sum::<Duration>()
    }

    /// Consume one firing of the first matching rule.
    pub(crate) fn take(&self, method: &str, path: &str) -> Option<FaultAction> {
        let mut s = self.lock();
        let rule = s.rules.iter_mut().find(|r| {
            r.remaining != Some(0)
                && path.starts_with(r.path_prefix.as_str())
                && r.method
                    .as_deref()
                    .is_none_or(|m| m.eq_ignore_ascii_case(method))
        })?;
        if let Some(n) = rule.remaining.as_mut() {
            *n -= 1;
        }
        let action = rule.action.clone();
        s.rules.retain(|r| r.remaining != Some(0));
        s.fired += 1;
        Some(action)
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        408 => "Request Timeout",
        409 => "Conflict",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Error",
    }
}

fn default_body(status: u16) -> (String, String) {
    match status {
        // Django's production 500 page.
        500 => ("<h1>Server Error (500)</h1>".to_owned(), "text/html; charset=utf-8".to_owned()),
        // What nginx / Caddy / an ALB in front of the LMS sends.
        s if s >= 500 => (
            format!("<html>\r\n<head><title>{s} {r}</title></head>\r\n<body>\r\n<center><h1>{s} {r}</h1></center>\r\n</body>\r\n</html>\r\n", r = reason(s)),
            "text/html".to_owned(),
        ),
        s => (serde_json::json!({ "detail": reason(s) }).to_string(), "application/json".to_owned()),
    }
}
