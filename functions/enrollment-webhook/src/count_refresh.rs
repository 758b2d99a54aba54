//! After a successful sale, ask course-sync to refresh each course's enrollment count in
//! Richie: one message per course on the enrollment-count FIFO queue
//! (`ENROLLMENT_COUNT_QUEUE_URL`; off when unset). The message — body, group and
//! deduplication id — is built by `edx_hooks_shared::count_refresh`, the one place both
//! functions share; the queue's deduplication and delay coalesce a course's refreshes to
//! about one Richie update per 5 minutes (README, "Enrollment counts").
//!
//! The sale's answer never depends on it: the notifier is called only after the
//! enrollments were applied, bounded by [`NOTIFY_TIMEOUT`], never retried within the
//! request (the SQS client makes one attempt), and a failure is logged (course ids and
//! the error code only — never the learner's email) and counted (`CountRefreshFailures`).
//! A lost refresh only delays the count until the next enrollment, publish or resync.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use edx_hooks_shared::count_refresh::{count_refresh_now, CountRefresh};
use edx_hooks_shared::sqs::{send_batches, Outgoing, SendFailure};

/// The longest a successful request waits for the refreshes to be queued. Well inside
/// the 1.5 s kept free before the Lambda's deadline (`EDX_HOOKS_DEADLINE_MARGIN_MS`).
pub const NOTIFY_TIMEOUT: Duration = Duration::from_millis(500);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotifyError {
    #[error("{failed} count refresh(es) could not be queued: {detail}")]
    Send { failed: usize, detail: String },
    #[error("the count refreshes were not queued within {0} ms")]
    Timeout(u64),
}

/// A boxed notify future (the port is used as a trait object).
pub type NotifyFuture<'a> = Pin<Box<dyn Future<Output = Result<(), NotifyError>> + Send + 'a>>;

/// The port: queue one count refresh per message.
pub trait CountNotifier: Send + Sync {
    fn notify<'a>(&'a self, refreshes: &'a [CountRefresh]) -> NotifyFuture<'a>;
}

/// One refresh per distinct course, in first-seen order.
pub fn refreshes_for(course_ids: &[String]) -> Vec<CountRefresh> {
    let mut seen: Vec<&str> = Vec::new();
    for id in course_ids {
        if !seen.contains(&id.as_str()) {
            seen.push(id);
        }
    }
    seen.into_iter().map(count_refresh_now).collect()
}

/// Notify, bounded by `timeout`.
pub async fn notify_bounded(
    notifier: &dyn CountNotifier,
    refreshes: &[CountRefresh],
    timeout: Duration,
) -> Result<(), NotifyError> {
    match tokio::time::timeout(timeout, notifier.notify(refreshes)).await {
        Ok(result) => result,
        Err(_) => Err(NotifyError::Timeout(timeout.as_millis() as u64)),
    }
}

/// Amazon SQS: `SendMessageBatch` (10 entries a call) with each message's group and
/// deduplication ids; one attempt, no SDK retries.
pub struct SqsCountNotifier {
    client: aws_sdk_sqs::Client,
    url: String,
}

impl SqsCountNotifier {
    pub fn new(client: aws_sdk_sqs::Client, url: impl Into<String>) -> Self {
        SqsCountNotifier {
            client,
            url: url.into(),
        }
    }

    /// From the standard AWS environment (`AWS_REGION`, the credentials chain,
    /// `AWS_ENDPOINT_URL` for moto), with retries off and an operation timeout of
    /// [`NOTIFY_TIMEOUT`].
    pub async fn from_env(url: impl Into<String>) -> Self {
        use aws_sdk_sqs::config::retry::RetryConfig;
        use aws_sdk_sqs::config::timeout::TimeoutConfig;
        let shared = aws_config::load_from_env().await;
        let config = aws_sdk_sqs::config::Builder::from(&shared)
            .retry_config(RetryConfig::standard().with_max_attempts(1))
            .timeout_config(
                TimeoutConfig::builder()
                    .operation_timeout(NOTIFY_TIMEOUT)
                    .build(),
            )
            .build();
        SqsCountNotifier::new(aws_sdk_sqs::Client::from_conf(config), url)
    }
}

impl CountNotifier for SqsCountNotifier {
    fn notify<'a>(&'a self, refreshes: &'a [CountRefresh]) -> NotifyFuture<'a> {
        Box::pin(async move {
            let messages: Vec<Outgoing<'_>> = refreshes
                .iter()
                .map(|r| Outgoing {
                    group_id: Some(&r.group_id),
                    deduplication_id: Some(&r.deduplication_id),
                    ..Outgoing::body(&r.body)
                })
                .collect();
            send_batches(&self.client, &self.url, &messages)
                .await
                .map_err(|SendFailure { failed, detail }| NotifyError::Send { failed, detail })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_refresh_per_distinct_course() {
        let ids = ["a/b/c", "course-v1:x+y+z", "a/b/c"].map(String::from);
        let refreshes = refreshes_for(&ids);
        assert_eq!(refreshes.len(), 2);
        assert_eq!(refreshes[0].body, r#"{"course_id":"a/b/c"}"#);
        assert_eq!(refreshes[1].body, r#"{"course_id":"course-v1:x+y+z"}"#);
    }

    struct Hangs;
    impl CountNotifier for Hangs {
        fn notify<'a>(&'a self, _: &'a [CountRefresh]) -> NotifyFuture<'a> {
            Box::pin(std::future::pending())
        }
    }

    #[tokio::test]
    async fn a_hanging_queue_costs_at_most_the_timeout() {
        let started = std::time::Instant::now();
        let err = notify_bounded(
            &Hangs,
            &refreshes_for(&["a/b/c".into()]),
            Duration::from_millis(50),
        )
        .await
        .unwrap_err();
        assert_eq!(err, NotifyError::Timeout(50));
        assert!(started.elapsed() < Duration::from_secs(1));
    }
}
