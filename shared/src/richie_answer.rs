//! What Richie's answers to a course-runs-sync request mean: status + body → outcome.
//!
//! Pure (no HTTP client), so the reqwest adapter in [`crate::richie`] and the
//! `richie_response` fuzz target share one interpretation. Contract (openfun/richie
//! `src/richie/apps/courses/api.py`, measured on richie 3.5.1):
//! * 2xx: synchronised.
//! * 400 to an object, or a list-level 400: `{field: [messages]}` — rejected, not retried.
//! * 400 to a list: `{resource_link: {"success": true} | {field: [messages]}}` — the
//!   links without `"success": true` failed, the others were committed. A link of the
//!   request that the map does not mention is a failure ([`RichieAnswer::for_link`]):
//!   nothing says Richie committed it.
//! * A 400 whose body is not DRF-shaped (not a JSON object or list: an HTML page from
//!   nginx or a WAF, a bare string) did not come from Richie's serializer: unexpected,
//!   retried like any other failure, never a permanent rejection.
//! * 401 `"Invalid authentication."` / 403 `"Missing authentication."`: our secret or
//!   signature placement is wrong.
//! * 429 and 5xx: try again (syncing is idempotent).
//! * Anything else (404 wrong URL, 30x, 405, 413, 415…): unexpected, a configuration
//!   matter.
//!
//! Every message kept from a body is at most [`MAX_MESSAGE_CHARS`] characters plus an
//! ellipsis; a body that is not JSON (an HTML error page) is folded onto one line.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

/// Longest Richie error message kept for logs and reports (an ellipsis marks a cut).
pub const MAX_MESSAGE_CHARS: usize = 300;

/// What Richie answered to a delivered request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RichieAnswer {
    /// 200: every course run in the request was synchronised (or deliberately left
    /// alone, for runs in `manual` mode — Richie cannot tell us).
    Synced,
    /// 400 for the whole request (object form, or a list-level error): not retried.
    Rejected { message: String },
    /// 400 to a list: `failed` maps each rejected `resource_link` to Richie's message,
    /// `synced` holds the links answered `{"success": true}`. A link in neither was not
    /// confirmed (see [`RichieAnswer::for_link`]).
    Partial {
        synced: BTreeSet<String>,
        failed: BTreeMap<String, String>,
    },
}

/// What an answer says about one course run of the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkAnswer {
    Synced,
    /// Richie refused this run for good, with its message.
    Rejected(String),
}

impl RichieAnswer {
    /// The outcome for the run whose `resource_link` is `link`. A per-link answer that
    /// does not mention the link is an `Unexpected` failure (retried), never "synced".
    pub fn for_link(&self, link: &str) -> Result<LinkAnswer, RichieError> {
        match self {
            RichieAnswer::Synced => Ok(LinkAnswer::Synced),
            RichieAnswer::Rejected { message } => Ok(LinkAnswer::Rejected(message.clone())),
            RichieAnswer::Partial { synced, failed } => match failed.get(link) {
                Some(message) => Ok(LinkAnswer::Rejected(message.clone())),
                None if synced.contains(link) => Ok(LinkAnswer::Synced),
                None => Err(RichieError::Unexpected {
                    status: 400,
                    message: truncate(&format!("Richie's per-link answer does not mention {link}")),
                }),
            },
        }
    }
}

/// Why a request gave no usable answer. Every variant means "try again later".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RichieError {
    /// 401/403: our secret (or signature placement) does not match Richie's configuration.
    #[error("Richie refused our signature (HTTP {status}): {message}")]
    Unauthorized { status: u16, message: String },
    /// 429/5xx that persisted through the retries.
    #[error("Richie unavailable (HTTP {status}) after {attempts} attempt(s)")]
    Unavailable { status: u16, attempts: u32 },
    #[error("Richie did not answer in time after {attempts} attempt(s)")]
    Timeout { attempts: u32 },
    #[error("cannot reach Richie after {attempts} attempt(s): {detail}")]
    Connection { attempts: u32, detail: String },
    /// Anything else (404 wrong URL, 405, 413 body too large for a proxy, 415…).
    #[error("unexpected Richie answer (HTTP {status}): {message}")]
    Unexpected { status: u16, message: String },
}

impl RichieError {
    /// A stable label for metrics and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            RichieError::Unauthorized { .. } => "unauthorized",
            RichieError::Unavailable { .. } => "unavailable",
            RichieError::Timeout { .. } => "timeout",
            RichieError::Connection { .. } => "connection",
            RichieError::Unexpected { .. } => "unexpected_status",
        }
    }

    /// A deployment mistake (secret, URL — a redirect included, as redirects are not
    /// followed) rather than a passing outage: log it loudly.
    pub fn is_configuration(&self) -> bool {
        matches!(
            self,
            RichieError::Unauthorized { .. }
                | RichieError::Unexpected {
                    status: 300..=399 | 404 | 405,
                    ..
                }
        )
    }
}

/// One HTTP answer of Richie (`status`, raw `body`) to attempt number `attempts`.
///
/// `Err(RichieError::Unavailable)` (429, 5xx) is the one outcome worth retrying at
/// once; the caller decides whether attempts remain. Never panics, whatever the body.
pub fn interpret(status: u16, body: &[u8], attempts: u32) -> Result<RichieAnswer, RichieError> {
    match status {
        200..=299 => Ok(RichieAnswer::Synced),
        400 => classify_bad_request(body),
        401 | 403 => Err(RichieError::Unauthorized {
            status,
            message: body_message(body),
        }),
        429 | 500..=599 => Err(RichieError::Unavailable { status, attempts }),
        _ => Err(RichieError::Unexpected {
            status,
            message: body_message(body),
        }),
    }
}

/// Render Richie's error body for a log line: `{"start": ["Datetime has wrong format…"]}`
/// → `start: Datetime has wrong format…`.
pub fn error_message(value: &Value) -> String {
    fn flat(value: &Value, out: &mut Vec<String>, prefix: &str) {
        match value {
            Value::String(s) => out.push(if prefix.is_empty() {
                s.clone()
            } else {
                format!("{prefix}: {s}")
            }),
            Value::Array(items) => items.iter().for_each(|v| flat(v, out, prefix)),
            Value::Object(map) => {
                for (k, v) in map {
                    let key = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    flat(v, out, &key);
                }
            }
            other => out.push(if prefix.is_empty() {
                other.to_string()
            } else {
                format!("{prefix}: {other}")
            }),
        }
    }
    let mut parts = Vec::new();
    flat(value, &mut parts, "");
    truncate(&parts.join("; "))
}

fn truncate(text: &str) -> String {
    match text.char_indices().nth(MAX_MESSAGE_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// The message of any error body: Richie's JSON flattened by [`error_message`], or
/// anything else (an HTML page from a proxy) on one line, whitespace runs folded.
pub fn body_message(body: &[u8]) -> String {
    match serde_json::from_slice::<Value>(body) {
        Ok(value) => error_message(&value),
        // An HTML error page or similar: keep it short and on one line.
        Err(_) => truncate(
            &String::from_utf8_lossy(body)
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" "),
        ),
    }
}

/// Classify a 400 answer: a per-link map (list form), a request-level error, or — for
/// a body that is not DRF-shaped (not a JSON object or list) — `Unexpected`: a proxy
/// or WAF answered, not Richie's serializer, so the request is retried.
pub fn classify_bad_request(body: &[u8]) -> Result<RichieAnswer, RichieError> {
    let value = match serde_json::from_slice::<Value>(body) {
        Ok(value @ (Value::Object(_) | Value::Array(_))) => value,
        _ => {
            return Err(RichieError::Unexpected {
                status: 400,
                message: body_message(body),
            })
        }
    };
    if let Value::Object(map) = &value {
        let per_link = !map.is_empty() && map.values().all(Value::is_object);
        if per_link {
            let (synced, failed): (Vec<_>, Vec<_>) = map
                .iter()
                .partition(|(_, v)| v.get("success").and_then(Value::as_bool) == Some(true));
            return Ok(RichieAnswer::Partial {
                synced: synced.into_iter().map(|(link, _)| link.clone()).collect(),
                failed: failed
                    .into_iter()
                    .map(|(link, v)| (link.clone(), error_message(v)))
                    .collect(),
            });
        }
    }
    Ok(RichieAnswer::Rejected {
        message: error_message(&value),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_request_classification() {
        assert_eq!(
            classify_bad_request(br#"{"resource_link": ["Unknown course: NOPE101."]}"#),
            Ok(RichieAnswer::Rejected {
                message: "resource_link: Unknown course: NOPE101.".into()
            })
        );
        let partial = classify_bad_request(
            br#"{"https://lms/courses/a/info": {"success": true}, "https://lms/courses/b/info": {"start": ["Datetime has wrong format."]}}"#,
        );
        let Ok(RichieAnswer::Partial { synced, failed }) = &partial else {
            panic!("{partial:?}")
        };
        assert_eq!(failed.len(), 1);
        assert_eq!(
            failed["https://lms/courses/b/info"],
            "start: Datetime has wrong format."
        );
        assert_eq!(
            synced.iter().collect::<Vec<_>>(),
            ["https://lms/courses/a/info"]
        );
        assert_eq!(
            classify_bad_request(br#"{"detail": "JSON parse error - Expecting value"}"#),
            Ok(RichieAnswer::Rejected {
                message: "detail: JSON parse error - Expecting value".into()
            })
        );
        assert_eq!(
            classify_bad_request(br#"["Invalid data."]"#),
            Ok(RichieAnswer::Rejected {
                message: "Invalid data.".into()
            })
        );
        let long = format!(r#"{{"detail": "{}"}}"#, "x".repeat(1000));
        let Ok(RichieAnswer::Rejected { message }) = classify_bad_request(long.as_bytes()) else {
            panic!()
        };
        assert!(message.chars().count() <= MAX_MESSAGE_CHARS + 1);
    }

    #[test]
    fn a_bad_request_that_is_not_drf_shaped_is_unexpected_and_retried() {
        // An nginx / WAF page in front of Richie: not Richie's serializer speaking.
        let waf = classify_bad_request(b"<html>\n Bad\n</html>").unwrap_err();
        assert_eq!(
            waf,
            RichieError::Unexpected {
                status: 400,
                message: "<html> Bad </html>".into()
            }
        );
        assert!(
            !waf.is_configuration(),
            "an outage of a proxy, not our setup"
        );
        for body in [&b""[..], b"\"Bad Request\"", b"400", b"null", &[0xff, 0xfe]] {
            assert!(
                matches!(
                    interpret(400, body, 1),
                    Err(RichieError::Unexpected { status: 400, .. })
                ),
                "{body:?}"
            );
        }
        let long = format!("\"{}\"", "x".repeat(1000));
        let Err(RichieError::Unexpected { message, .. }) = classify_bad_request(long.as_bytes())
        else {
            panic!()
        };
        assert!(message.chars().count() <= MAX_MESSAGE_CHARS + 1);
    }

    #[test]
    fn a_per_link_answer_must_mention_the_link() {
        let answer = classify_bad_request(
            br#"{"https://lms/courses/a/info": {"success": true}, "https://lms/courses/b/info": {"start": ["Bad."]}}"#,
        )
        .unwrap();
        assert_eq!(
            answer.for_link("https://lms/courses/a/info"),
            Ok(LinkAnswer::Synced)
        );
        assert_eq!(
            answer.for_link("https://lms/courses/b/info"),
            Ok(LinkAnswer::Rejected("start: Bad.".into()))
        );
        let missing = answer.for_link("https://lms/courses/c/info").unwrap_err();
        assert!(
            matches!(&missing, RichieError::Unexpected { status: 400, message } if message.contains("courses/c/info")),
            "{missing:?}"
        );
        assert!(!missing.is_configuration());
        assert_eq!(RichieAnswer::Synced.for_link("x"), Ok(LinkAnswer::Synced));
        assert_eq!(
            RichieAnswer::Rejected {
                message: "m".into()
            }
            .for_link("x"),
            Ok(LinkAnswer::Rejected("m".into()))
        );
    }

    #[test]
    fn statuses() {
        assert_eq!(interpret(200, b"", 1), Ok(RichieAnswer::Synced));
        assert_eq!(interpret(201, b"not json", 1), Ok(RichieAnswer::Synced));
        assert_eq!(
            interpret(401, br#"{"detail": "Invalid authentication."}"#, 1),
            Err(RichieError::Unauthorized {
                status: 401,
                message: "detail: Invalid authentication.".into()
            })
        );
        assert_eq!(
            interpret(403, b"\"Missing authentication.\"", 2),
            Err(RichieError::Unauthorized {
                status: 403,
                message: "Missing authentication.".into()
            })
        );
        for status in [429, 500, 502, 503, 504, 599] {
            assert_eq!(
                interpret(status, b"<html>down</html>", 3),
                Err(RichieError::Unavailable {
                    status,
                    attempts: 3
                })
            );
        }
        let moved = interpret(301, b"", 1).unwrap_err();
        assert!(moved.is_configuration(), "{moved:?}");
        assert_eq!(
            interpret(404, b"<h1>Not\tFound</h1>\n", 1),
            Err(RichieError::Unexpected {
                status: 404,
                message: "<h1>Not Found</h1>".into()
            })
        );
        assert!(!interpret(413, b"", 1).unwrap_err().is_configuration());
        assert_eq!(
            interpret(100, b"", 1).unwrap_err().kind(),
            "unexpected_status"
        );
    }

    #[test]
    fn messages_are_bounded_and_on_one_line() {
        let html = format!("<html>\r\n{}\n</html>", "word\t".repeat(500));
        let message = body_message(html.as_bytes());
        assert!(message.chars().count() == MAX_MESSAGE_CHARS + 1 && message.ends_with('…'));
        assert!(!message.contains(['\n', '\r', '\t']) && !message.contains("  "));
        assert_eq!(body_message(&[0xff, b' ', b'x']), "\u{fffd} x");
        assert_eq!(
            error_message(&serde_json::json!({"a": {"b": [1, null, "c"]}})),
            "a.b: 1; a.b: null; a.b: c"
        );
    }
}
