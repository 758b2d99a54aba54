//! Request body → Python-compatible canonical JSON → signature check → DRF
//! validation → DRF rendering. Must never panic, and canonical output must be
//! stable: parsing what we wrote gives the same canonical form again.
#![no_main]

use edx_hooks_shared::canonical_json::{parse, Separators};
use edx_hooks_shared::signature::{verify_lernito, SignedMessages};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = parse(data) else { return };
    let compact = value.dumps(Separators::Compact);
    let default = value.dumps(Separators::Default);
    // Overflowing floats become `Infinity`, as in CPython, which DRF's strict
    // parser (and ours) refuses to read back: only finite output must round-trip.
    if !compact.contains("Infinity") {
        let reparsed = parse(compact.as_bytes()).expect("our canonical output must parse");
        assert_eq!(reparsed.dumps(Separators::Compact), compact);
        let again = parse(default.as_bytes()).expect("default form parses");
        assert_eq!(again.dumps(Separators::Default), default);
    }
    assert!(
        compact.is_ascii() && default.is_ascii(),
        "ensure_ascii output"
    );
    let messages = SignedMessages::new(&value, data);
    let _ = verify_lernito("00", &["secret"], &messages);
    let _ = verify_lernito(&"a".repeat(64), &["secret"], &messages);
    match enrollment_webhook::request::validate(&value) {
        Ok(request) => assert!(!request.course_ids.is_empty()),
        Err(errors) => {
            let rendered = errors.render_drf();
            assert!(rendered.starts_with('{'));
        }
    }
});
