//! The Richie checks, per target: TLS, reachable, redirects (never followed), the
//! secret, the site's `COURSE_REGEX` and the course page — through the forwarder's own
//! [`RichieClient`] (the same signing, the same no-redirect policy).
//!
//! Nothing is written: Richie checks the signature, then requires `resource_link`,
//! then matches it against its LMS backends' `COURSE_REGEX`, then validates the fields
//! — all before touching its database (`richie/apps/courses/api.py`
//! `course_runs_sync`). So:
//! 1. `{}` signed → 400 `resource_link: This field is required.` proves the secret
//!    (401 = wrong secret, 403 = the signature header did not arrive).
//! 2. `{"resource_link": <link>, "start": "<not a date>"}` signed → 400 either
//!    `No LMS configuration found for this resource link.` (the regex refuses the
//!    link) or a validation error on `start`; `languages: This field is required.` is
//!    added when no run has this link yet (a run's existing fields make it a partial
//!    update), which is how the course page is known to exist.

use serde_json::json;

use super::{clip, Report};
use crate::course_key::parse_course_key;
use crate::richie::{RichieAnswer, RichieApi, RichieClient, RichieError, RichieTarget};

/// The `resource_link` of the checked course for a target (`None`: no course).
pub type LinkFor = dyn Fn(&RichieTarget) -> Option<String> + Send + Sync;

/// Not a date: makes Richie's validation fail before any write.
const NOT_A_DATE: &str = "edx-hooks-doctor: not a date";

fn loopback(host: &str) -> bool {
    matches!(host, "localhost" | "127.0.0.1" | "[::1]" | "::1") || host.starts_with("127.")
}

/// Richie's course code for a course id (`course-v1:edX+DemoX+X` → `DEMOX`).
pub fn richie_course_code(course_id: &str) -> Option<String> {
    parse_course_key(course_id)
        .ok()
        .and_then(|k| k.course_code().map(str::to_uppercase))
}

fn secret_fix(target: &RichieTarget) -> String {
    format!(
        "the target's secret must be one of Richie's RICHIE_COURSE_RUN_SYNC_SECRETS: add it to that setting on {} \
         (and restart Richie), or put Richie's value in the target's \"secret\" (RICHIE_TARGETS_SECRET_ARN)",
        target.url.host_str().unwrap_or("the Richie site")
    )
}

/// Check every target. `targets` is the parsed targets document (or why it is not);
/// `link_for` gives the `resource_link` of the `--course` for a target (`None` without
/// a course).
pub async fn check_richie(
    client: &RichieClient,
    targets: Result<Vec<RichieTarget>, String>,
    course: Option<&str>,
    link_for: &LinkFor,
) -> Report {
    let mut report = Report::new();
    let targets = match targets {
        Ok(t) if t.is_empty() => {
            report.fail(
                "richie.targets",
                "the targets document lists no target",
                "put {\"targets\": [{\"url\": \"https://<richie>/api/v1.0/course-runs-sync/\", \"secret\": \"…\"}]} in RICHIE_TARGETS_SECRET_ARN (or RICHIE_TARGETS)",
            );
            return report;
        }
        Ok(t) => t,
        Err(reason) => {
            report.fail(
                "richie.targets",
                format!("no usable targets document: {reason}"),
                "put {\"targets\": [{\"url\": \"https://<richie>/api/v1.0/course-runs-sync/\", \"secret\": \"…\"}]} in RICHIE_TARGETS_SECRET_ARN (or RICHIE_TARGETS); see README \"Richie targets\"",
            );
            return report;
        }
    };
    report.pass("richie.targets", format!("{} target(s)", targets.len()));
    for target in &targets {
        let link = course.and_then(|_| link_for(target));
        let one = check_target(client, target, course, link.as_deref()).await;
        report.extend_with_subject(one, &target.name);
    }
    report
}

/// The checks of one target.
pub async fn check_target(
    client: &RichieClient,
    target: &RichieTarget,
    course: Option<&str>,
    link: Option<&str>,
) -> Report {
    let mut report = Report::new();
    let host = target.url.host_str().unwrap_or("");
    match target.url.scheme() {
        "https" => report.pass("richie.tls", "https"),
        _ if loopback(host) => report.pass("richie.tls", "http on loopback (local runs only)"),
        scheme => {
            report.fail(
                "richie.tls",
                format!("{scheme}:// to {host}: the signature and the course data would travel in clear"),
                "use an https:// url in the target (RICHIE_TARGETS_SECRET_ARN)",
            );
            // Nothing is sent in clear, not even a probe.
            report.skipped(
                &["richie.reachable", "richie.secret", "richie.course_regex"],
                "richie.tls",
            );
            return report;
        }
    }
    let later = ["richie.secret", "richie.course_regex", "richie.course_page"];
    match client.deliver(target, b"{}".to_vec()).await {
        Ok(RichieAnswer::Rejected { message }) if message.contains("resource_link") => {
            report.pass("richie.reachable", format!("{} answers", target.url));
            report.pass("richie.redirects", "no redirect (never followed)");
            report.pass(
                "richie.secret",
                "a signed request was answered with a validation error (not 401/403): the secret is accepted",
            );
        }
        Ok(other) => {
            report.pass("richie.reachable", format!("{} answers", target.url));
            report.pass("richie.redirects", "no redirect (never followed)");
            report.warn(
                "richie.secret",
                format!("unexpected answer to an empty signed object: {other:?}"),
                "the url must be Richie's course-runs-sync endpoint: https://<richie>/api/v1.0/course-runs-sync/",
            );
            return report;
        }
        Err(RichieError::Unauthorized { status, message }) => {
            report.pass("richie.reachable", format!("{} answers", target.url));
            report.pass("richie.redirects", "no redirect (never followed)");
            if status == 403 {
                report.fail(
                    "richie.secret",
                    format!("Richie saw no signature (403 {})", clip(&message, 80)),
                    format!(
                        "the Authorization header does not reach Richie: with basic_auth the proxy must copy {} into Authorization (README \"Basic auth\"); otherwise exempt the sync path from basic auth",
                        target.signature_header
                    ),
                );
            } else {
                report.fail(
                    "richie.secret",
                    format!(
                        "Richie refused the signature ({status} {})",
                        clip(&message, 80)
                    ),
                    secret_fix(target),
                );
            }
            report.skipped(&later[1..], "richie.secret");
            return report;
        }
        Err(RichieError::Unexpected { status, .. }) if (300..400).contains(&status) => {
            report.pass("richie.reachable", format!("{} answers", target.url));
            report.fail(
                "richie.redirects",
                format!("HTTP {status}: Richie redirects this url (redirects are refused, the signature would be re-sent elsewhere)"),
                "use the url Richie answers itself: https://<richie host>/api/v1.0/course-runs-sync/ (https, the trailing slash)",
            );
            report.skipped(&later, "richie.redirects");
            return report;
        }
        Err(RichieError::Unexpected { status, message }) => {
            report.fail(
                "richie.reachable",
                format!(
                    "HTTP {status} {}: not Richie's course-runs-sync endpoint",
                    clip(&message, 80)
                ),
                "the target url must be https://<richie>/api/v1.0/course-runs-sync/",
            );
            report.skipped(&later, "richie.reachable");
            return report;
        }
        Err(e) => {
            report.fail(
                "richie.reachable",
                e.to_string(),
                "check the target url's host and port, and that this network (the Lambda's VPC / NAT) reaches it",
            );
            report.skipped(&later, "richie.reachable");
            return report;
        }
    }

    let (Some(course), Some(link)) = (course, link) else {
        report.warn(
            "richie.course_regex",
            "no course given: COURSE_REGEX and the course page not checked",
            "run again with --course <course id>",
        );
        return report;
    };
    let code = richie_course_code(course).unwrap_or_else(|| course.to_owned());
    let body = json!({"resource_link": link, "start": NOT_A_DATE}).to_string();
    match client.deliver(target, body.into_bytes()).await {
        Ok(RichieAnswer::Rejected { message }) if message.contains("No LMS configuration") => {
            report.fail(
                "richie.course_regex",
                format!("Richie's COURSE_REGEX refuses {link}"),
                "make Richie's LMS backend COURSE_REGEX match our links: for the default …/info links \
                 EDX_COURSE_REGEX=^.*/courses/(?P<course_id>.*)/info$ (RICHIE_LMS_BACKENDS), or set \
                 COURSE_SYNC_RESOURCE_LINK_TEMPLATE=https://{lms_host}/courses/{course_id}/course/ to match Richie's stock regex",
            );
            report.skipped(&later[2..], "richie.course_regex");
        }
        Ok(RichieAnswer::Rejected { message }) if message.contains("start") => {
            report.pass("richie.course_regex", format!("{link} is matched"));
            if message.contains("languages") {
                report.warn(
                    "richie.course_page",
                    format!("no run with this link in Richie yet: its course page (code {code}) cannot be read without writing"),
                    format!(
                        "make sure a course page whose code is {code} exists (Richie's CMS: create the course page, code {code}), \
                         else the first sync is refused \"Unknown course: {code}.\"; and DEFAULT_COURSE_RUN_SYNC_MODE is not manual"
                    ),
                );
            } else {
                report.pass(
                    "richie.course_page",
                    format!("a run with this link exists in Richie (course page {code})"),
                );
            }
        }
        Ok(other) => report.warn(
            "richie.course_regex",
            format!("unexpected answer: {other:?}"),
            "check that the url is Richie's course-runs-sync endpoint",
        ),
        Err(e) => report.fail(
            "richie.course_regex",
            format!("the second probe failed: {e}"),
            "run the doctor again; if it persists check Richie's logs",
        ),
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn course_codes() {
        assert_eq!(
            richie_course_code("course-v1:edX+DemoX+Demo_Course").as_deref(),
            Some("DEMOX")
        );
        assert_eq!(
            richie_course_code("edX/E2E-101/x").as_deref(),
            Some("E2E-101")
        );
        assert!(loopback("127.0.0.1") && loopback("localhost") && !loopback("richie.example"));
    }
}
