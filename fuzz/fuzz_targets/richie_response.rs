//! Richie's answer to a course-runs-sync request (status + body) → outcome.
//!
//! Properties, for any status and body: no panic; the outcome follows the status
//! class exactly (2xx synced, 400 rejected or partial when the body is DRF-shaped — a
//! JSON object or list — else unexpected and retried, 401/403 unauthorized, 429/5xx
//! unavailable with the status and attempt count, anything else unexpected);
//! every message is at most `MAX_MESSAGE_CHARS` characters plus an ellipsis, and one
//! taken from a non-JSON body is a single line; a 400 is `Partial` exactly when the
//! body is a non-empty JSON object of objects, and then lists exactly the links
//! whose object lacks `"success": true` as failed and the others as synced, and
//! `for_link` of a link it does not mention is a failure.
#![no_main]

use std::collections::BTreeSet;

use edx_hooks_shared::richie_answer::{
    interpret, LinkAnswer, RichieAnswer, RichieError, MAX_MESSAGE_CHARS,
};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fn bounded(message: &str) {
    let chars = message.chars().count();
    assert!(chars <= MAX_MESSAGE_CHARS + 1, "{chars} characters");
    if chars == MAX_MESSAGE_CHARS + 1 {
        assert!(
            message.ends_with('…'),
            "a cut message ends with an ellipsis"
        );
    }
}

/// Whitespace of a non-JSON body (an HTML page) folded into single spaces.
fn one_line(message: &str) {
    assert!(
        !message.chars().any(|c| c.is_whitespace() && c != ' '),
        "one line: {message:?}"
    );
    assert!(
        !message.contains("  ") && !message.starts_with(' '),
        "{message:?}"
    );
}

/// What Django REST framework renders for a 400: a JSON object or list.
fn drf_shaped(json: &Option<Value>) -> bool {
    matches!(json, Some(Value::Object(_) | Value::Array(_)))
}

fn per_link(json: &Option<Value>) -> Option<&serde_json::Map<String, Value>> {
    match json {
        Some(Value::Object(map)) if !map.is_empty() && map.values().all(Value::is_object) => {
            Some(map)
        }
        _ => None,
    }
}

fuzz_target!(|data: &[u8]| {
    let (head, body) = data.split_at(data.len().min(3));
    let mut h = [0u8; 3];
    h[..head.len()].copy_from_slice(head);
    // Mostly the statuses HTTP uses (100..=599); sometimes any u16.
    let raw = u16::from_le_bytes([h[0], h[1]]);
    let status = if raw & 0x8000 == 0 {
        100 + raw % 500
    } else {
        raw
    };
    let attempts = u32::from(h[2]);
    let json: Option<Value> = serde_json::from_slice(body).ok();

    let outcome = interpret(status, body, attempts);
    match (&outcome, status) {
        (Ok(RichieAnswer::Synced), 200..=299) => {}
        (Ok(RichieAnswer::Rejected { message }), 400) => {
            assert!(drf_shaped(&json), "only a DRF-shaped body is a rejection");
            assert!(
                per_link(&json).is_none(),
                "a per-link map is never a whole rejection"
            );
            bounded(message);
            if json.is_none() {
                one_line(message);
            }
        }
        (Ok(answer @ RichieAnswer::Partial { synced, failed }), 400) => {
            let map = per_link(&json).expect("Partial only for a non-empty object of objects");
            let expected: BTreeSet<&String> = map
                .iter()
                .filter(|(_, v)| v.get("success") != Some(&Value::Bool(true)))
                .map(|(link, _)| link)
                .collect();
            assert_eq!(failed.keys().collect::<BTreeSet<_>>(), expected);
            let confirmed: BTreeSet<&String> =
                map.keys().filter(|l| !expected.contains(l)).collect();
            assert_eq!(synced.iter().collect::<BTreeSet<_>>(), confirmed);
            failed.values().for_each(|m| bounded(m));
            for link in map.keys() {
                let expected = if failed.contains_key(link) {
                    LinkAnswer::Rejected(failed[link].clone())
                } else {
                    LinkAnswer::Synced
                };
                assert_eq!(answer.for_link(link), Ok(expected));
            }
            let unknown = format!("{}#not-in-the-answer", map.keys().next().map_or("", |k| k));
            if !map.contains_key(&unknown) {
                let error = answer
                    .for_link(&unknown)
                    .expect_err("an unmentioned link failed");
                assert!(matches!(error, RichieError::Unexpected { status: 400, .. }));
                assert!(!error.is_configuration());
            }
        }
        (
            Err(RichieError::Unexpected {
                status: 400,
                message,
            }),
            400,
        ) => {
            assert!(
                !drf_shaped(&json),
                "a DRF-shaped 400 is Richie's own answer"
            );
            bounded(message);
            if json.is_none() {
                one_line(message);
            }
            assert!(!outcome.as_ref().unwrap_err().is_configuration());
        }
        (Err(RichieError::Unauthorized { status: s, message }), 401 | 403) => {
            assert_eq!(*s, status);
            bounded(message);
            if json.is_none() {
                one_line(message);
            }
            assert!(outcome.as_ref().unwrap_err().is_configuration());
        }
        (
            Err(RichieError::Unavailable {
                status: s,
                attempts: a,
            }),
            429 | 500..=599,
        ) => {
            assert_eq!((*s, *a), (status, attempts));
            assert!(!outcome.as_ref().unwrap_err().is_configuration());
        }
        (Err(error @ RichieError::Unexpected { status: s, message }), _) if !matches!(status, 200..=299 | 400 | 401 | 403 | 429 | 500..=599) =>
        {
            assert_eq!(*s, status);
            bounded(message);
            if json.is_none() {
                one_line(message);
            }
            assert_eq!(
                error.is_configuration(),
                matches!(status, 300..=399 | 404 | 405)
            );
        }
        _ => panic!("HTTP {status} interpreted as {outcome:?}"),
    }
});
