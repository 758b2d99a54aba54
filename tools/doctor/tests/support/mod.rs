//! Shared by the doctor's test binaries (each uses part of it).
#![allow(dead_code)]

pub mod cbor_proxy;

use edx_hooks_shared::doctor::{Report, Status};

/// The status of the check `name` (panics, showing the report, when there is none).
pub fn status(report: &Report, name: &str) -> Status {
    report
        .get(name)
        .unwrap_or_else(|| panic!("no check {name}:\n{}", report.render_text()))
        .status
}

/// The fix text of the check `name` (empty when it has none).
pub fn fix(report: &Report, name: &str) -> String {
    report
        .get(name)
        .and_then(|c| c.fix.clone())
        .unwrap_or_default()
}
