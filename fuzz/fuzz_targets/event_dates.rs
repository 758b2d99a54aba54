//! The course-sync date parser (`normalize_datetime`) and the payload builder that
//! applies it to every date of a course run.
//!
//! Properties, for any text: no panic (`+1é1` once panicked: byte slicing inside a
//! multi-byte character); an accepted value comes out ASCII as
//! `YYYY-MM-DDThh:mm[:ss[.ffffff]]` followed by `Z` or `±HH:MM` — what DRF's
//! `DateTimeField` parses, with an explicit offset — and normalising it again gives
//! it back unchanged; the payload builder accepts a date exactly when the parser does
//! (or it is blank/`None`) and sends what the parser returned.
#![no_main]

use course_sync::payload::{build_payload, normalize_datetime, PayloadConfig, PayloadError};
use edx_hooks_shared::openedx_parse::CourseRun;
use libfuzzer_sys::fuzz_target;

fn well_formed(out: &str) {
    assert!(out.is_ascii(), "{out:?}");
    let b = out.as_bytes();
    assert!(b.len() >= 17, "{out:?}");
    let digit = |i: usize| b[i].is_ascii_digit();
    assert!(
        (0..4).all(digit)
            && b[4] == b'-'
            && (5..7).all(digit)
            && b[7] == b'-'
            && (8..10).all(digit),
        "{out:?}"
    );
    assert_eq!(b[10], b'T', "{out:?}");
    let tail = if let Some(rest) = out.strip_suffix('Z') {
        rest
    } else {
        let (rest, offset) = out.split_at(out.len() - 6);
        let o = offset.as_bytes();
        assert!(
            matches!(o[0], b'+' | b'-')
                && o[1..3].iter().all(u8::is_ascii_digit)
                && o[3] == b':'
                && o[4..6].iter().all(u8::is_ascii_digit),
            "{out:?}"
        );
        rest
    };
    let clock = &tail[11..];
    let (hms, fraction) = match clock.split_once('.') {
        Some((hms, f)) => (hms, Some(f)),
        None => (clock, None),
    };
    let fields: Vec<&str> = hms.split(':').collect();
    assert!(
        matches!(fields.len(), 2 | 3)
            && fields
                .iter()
                .all(|f| f.len() == 2 && f.bytes().all(|c| c.is_ascii_digit())),
        "{out:?}"
    );
    if let Some(f) = fraction {
        assert!(
            fields.len() == 3
                && (1..=6).contains(&f.len())
                && f.bytes().all(|c| c.is_ascii_digit()),
            "{out:?}"
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let normalized = normalize_datetime(text);
    if let Some(out) = &normalized {
        well_formed(out);
        assert_eq!(
            normalize_datetime(out).as_deref(),
            Some(out.as_str()),
            "idempotent"
        );
    }
    let run = CourseRun {
        course_id: "course-v1:edX+DemoX+Demo".into(),
        start: Some(text.to_owned()),
        language: Some("en".into()),
        ..CourseRun::default()
    };
    let blank = matches!(text.trim(), "" | "None");
    match build_payload(&run, None, &PayloadConfig::new("lms.test"), None) {
        Ok(payload) if blank => assert_eq!(payload.start, None),
        Ok(payload) => assert_eq!(payload.start, normalized),
        Err(PayloadError::InvalidDate { field, .. }) => {
            assert_eq!(field, "start");
            assert!(normalized.is_none() && !blank);
        }
        Err(other) => panic!("{other:?}"),
    }
});
