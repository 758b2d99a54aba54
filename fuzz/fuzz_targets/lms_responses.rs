//! Open edX answers on the enrollment side (what the webhook reads) → plain data.
//!
//! Properties, for any body: no panic; a parsed token is non-empty visible ASCII (safe
//! in an `Authorization` header), is exactly the body's `access_token`, and lives at
//! most `MAX_TOKEN_LIFETIME` (the documented default when `expires_in` is absent/null);
//! a found account has a non-blank username taken from the first account, and `None`
//! means there was no account at all; an enrollment is inactive only on an explicit
//! `"is_active": false`; the allowance flag comes from the first row of the course;
//! listed course ids all come from the page's rows; each parser fails only when the
//! body is not the documented shape.
#![no_main]

use std::time::Duration;

use edx_hooks_shared::openedx_parse::{
    parse_account, parse_allowance_auto_enroll, parse_enrollment_active, parse_listed_course_ids,
    parse_token, DEFAULT_TOKEN_LIFETIME, MAX_TOKEN_LIFETIME,
};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

const COURSES: [&str; 3] = ["course-v1:edX+DemoX+Demo_Course", "", "edX/DemoX/2024"];

fn header_safe(token: &str) -> bool {
    !token.is_empty() && token.bytes().all(|b| b.is_ascii_graphic())
}

fuzz_target!(|data: &[u8]| {
    let (selector, body) = match data.split_first() {
        Some((s, rest)) => (*s, rest),
        None => (0, data),
    };
    let course_id = COURSES[usize::from(selector) % COURSES.len()];
    let json: Option<Value> = serde_json::from_slice(body).ok();

    // Token endpoint.
    let token_field = json
        .as_ref()
        .and_then(|v| v.get("access_token"))
        .and_then(Value::as_str);
    let expires_in = json.as_ref().and_then(|v| v.get("expires_in"));
    match parse_token(body) {
        Ok(token) => {
            assert!(header_safe(&token.value));
            assert_eq!(Some(token.value.as_str()), token_field);
            let want = match expires_in {
                None | Some(Value::Null) => DEFAULT_TOKEN_LIFETIME,
                Some(n) => {
                    Duration::from_secs(n.as_u64().expect("whole seconds")).min(MAX_TOKEN_LIFETIME)
                }
            };
            assert_eq!(token.lifetime, want);
            assert!(token.lifetime <= MAX_TOKEN_LIFETIME);
        }
        Err(_) => assert!(
            !token_field.is_some_and(header_safe)
                || !expires_in.is_none_or(|n| n.is_null() || n.is_u64()),
            "a well-formed token answer was refused"
        ),
    }

    // Accounts by email.
    let first = match &json {
        Some(Value::Array(items)) => items.first(),
        Some(v @ Value::Object(_)) => Some(v),
        _ => None,
    };
    let first_username = first
        .and_then(|a| a.get("username"))
        .and_then(Value::as_str)
        .filter(|u| !u.trim().is_empty());
    match parse_account(body) {
        Ok(Some(account)) => {
            assert_eq!(Some(account.username.as_str()), first_username);
            let flag = first
                .and_then(|a| a.get("is_active"))
                .and_then(Value::as_bool);
            assert_eq!(account.is_active, flag.unwrap_or(true));
        }
        Ok(None) => assert!(json.is_some() && first.is_none(), "an account was ignored"),
        Err(_) => assert!(json.is_none() || first_username.is_none()),
    }

    // Enrollment answer.
    match parse_enrollment_active(body) {
        Ok(active) => {
            let v = json.as_ref().expect("parsed, so the body is JSON");
            assert_eq!(active, v.get("is_active") != Some(&Value::Bool(false)));
        }
        Err(_) => assert!(json.is_none()),
    }

    // Allowance rows for one email.
    match parse_allowance_auto_enroll(body, course_id) {
        Ok(flag) => {
            let v = json.as_ref().expect("parsed, so the body is JSON");
            let row = v.as_array().and_then(|rows| {
                rows.iter()
                    .find(|r| r.get("course_id").and_then(Value::as_str) == Some(course_id))
            });
            assert_eq!(flag.is_some(), row.is_some());
            if let (Some(flag), Some(row)) = (flag, row) {
                assert_eq!(
                    flag,
                    row.get("auto_enroll")
                        .and_then(Value::as_bool)
                        .unwrap_or(true)
                );
            }
        }
        Err(_) => assert!(json.is_none()),
    }

    // Batched course check: every id comes from a row of the page.
    let rows = json
        .as_ref()
        .and_then(|v| v.get("results"))
        .and_then(Value::as_array);
    match parse_listed_course_ids(body) {
        Some(ids) => {
            let rows = rows.expect("a page with a results list");
            assert!(ids.len() <= rows.len());
            for id in &ids {
                assert!(rows.iter().any(|r| {
                    r.get("id")
                        .or_else(|| r.get("course_id"))
                        .and_then(Value::as_str)
                        == Some(id.as_str())
                }));
            }
        }
        None => assert!(rows.is_none()),
    }
});
