//! The "count refresh" queue message: one place that says what both functions send to
//! the enrollment-count FIFO queue (`EnrollmentCountQueue` in `template.yaml`), so the
//! enrollment webhook and course-sync compute the same deduplication id without
//! depending on each other's code. Pure, no I/O.
//!
//! How the coalescing works (README, "Enrollment counts"):
//! * the queue is FIFO with a queue-level `DelaySeconds` of [`BUCKET_SECS`];
//! * every refresh of one course within one [`BUCKET_SECS`] bucket of wall-clock time
//!   carries the same `MessageDeduplicationId` (course hash + bucket number), and SQS
//!   accepts but does not deliver a message whose deduplication id it has seen in the
//!   last 5 minutes — so a bucket's refreshes collapse into its first message;
//! * that message becomes visible [`BUCKET_SECS`] after it was sent, i.e. after its
//!   bucket has ended: the count it makes course-sync read includes every enrollment of
//!   the bucket (and the enrollment's own transaction has long committed);
//! * so an enrollment at time `t` reaches Richie by `t + BUCKET_SECS` plus the
//!   consumer's latency, and a burst in one course costs one Richie update per bucket
//!   (two when the senders' clocks straddle a bucket boundary).
//!
//! The body is a plain course-sync job, `{"course_id": "…"}`: sync that course to
//! every target from the LMS's own values (`functions/course-sync/src/job.rs`).

use sha2::{Digest, Sha256};

/// Length of a coalescing bucket, and the queue's `DelaySeconds`. Must not exceed
/// SQS's FIFO deduplication interval (5 minutes), or two messages of one bucket could
/// both be delivered.
pub const BUCKET_SECS: u64 = 300;
const _: () = assert!(
    BUCKET_SECS <= 300,
    "the FIFO deduplication interval is 5 minutes"
);

/// One message for the count-refresh FIFO queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountRefresh {
    /// `{"course_id": "<id>"}`.
    pub body: String,
    /// `MessageGroupId`: one group per course (its refreshes are never processed
    /// concurrently, so an older read cannot overwrite a newer one in Richie).
    pub group_id: String,
    /// `MessageDeduplicationId`: `<course hash>:<bucket number>`.
    pub deduplication_id: String,
}

/// The course's hash: 32 lowercase hex digits (128 bits of SHA-256), within SQS's
/// 128-character, alphanumeric-and-punctuation limits for group and deduplication ids
/// whatever the course key contains.
fn course_hash(course_id: &str) -> String {
    let digest = Sha256::digest(course_id.as_bytes());
    hex::encode(&digest[..16])
}

/// The message for `course_id` sent at `unix_secs` (seconds since the Unix epoch).
pub fn count_refresh(course_id: &str, unix_secs: u64) -> CountRefresh {
    let hash = course_hash(course_id);
    let bucket = unix_secs / BUCKET_SECS;
    CountRefresh {
        body: serde_json::json!({ "course_id": course_id }).to_string(),
        deduplication_id: format!("{hash}:{bucket}"),
        group_id: hash,
    }
}

/// The message for `course_id` sent now (the system clock; a clock before 1970 counts
/// as bucket 0).
pub fn count_refresh_now(course_id: &str) -> CountRefresh {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    count_refresh(course_id, now)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SQS: `MessageDeduplicationId` and `MessageGroupId` are at most 128 characters
    /// of `a-zA-Z0-9` and ``!"#$%&'()*+,-./:;<=>?@[\]^_`{|}~``.
    fn sqs_id_ok(id: &str) -> bool {
        !id.is_empty() && id.len() <= 128 && id.chars().all(|c| c.is_ascii_graphic())
    }

    #[test]
    fn one_id_per_course_and_bucket() {
        let t = 1_796_300_123;
        let start = (t / BUCKET_SECS) * BUCKET_SECS;
        let a = count_refresh("course-v1:edX+DemoX+Demo_Course", start);
        let b = count_refresh("course-v1:edX+DemoX+Demo_Course", start + BUCKET_SECS - 1);
        assert_eq!(a, b, "same course, same bucket: one message");
        let next = count_refresh("course-v1:edX+DemoX+Demo_Course", start + BUCKET_SECS);
        assert_ne!(a.deduplication_id, next.deduplication_id, "next bucket");
        assert_eq!(a.group_id, next.group_id, "a course keeps its group");
        let other = count_refresh("course-v1:edX+DemoX+Other", start);
        assert_ne!(a.group_id, other.group_id);
        assert_ne!(a.deduplication_id, other.deduplication_id);
        assert_eq!(
            a.deduplication_id,
            format!("{}:{}", a.group_id, start / BUCKET_SECS)
        );
    }

    #[test]
    fn the_body_is_a_plain_course_sync_job() {
        let m = count_refresh("course-v1:a+b+c", 0);
        assert_eq!(m.body, r#"{"course_id":"course-v1:a+b+c"}"#);
        // JSON-escaped whatever the key holds.
        let odd = count_refresh("a\"b/c", 0);
        let back: serde_json::Value = serde_json::from_str(&odd.body).unwrap();
        assert_eq!(back["course_id"], "a\"b/c");
    }

    #[test]
    fn ids_stay_within_sqs_limits() {
        let long = "x".repeat(10_000);
        for id in ["course-v1:a+b+c", "a/b/c", "é ü\u{0}\n", long.as_str(), ""] {
            let m = count_refresh(id, u64::MAX);
            assert!(sqs_id_ok(&m.group_id), "{:?}", m.group_id);
            assert!(sqs_id_ok(&m.deduplication_id), "{:?}", m.deduplication_id);
            assert_eq!(m.group_id.len(), 32);
        }
        assert!(sqs_id_ok(&count_refresh_now("a/b/c").deduplication_id));
    }
}
