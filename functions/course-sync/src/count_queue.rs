//! Enrollment counts: the count-refresh FIFO queue (`COURSE_SYNC_COUNT_QUEUE_URL`,
//! `EnrollmentCountQueue` in `template.yaml`) — its port, its SQS adapter, what the HTTP
//! route does with an enrollment event, and the FIFO consumer's failure rule.
//!
//! * An enrollment event (`event::Inbound::Enrollment`, openedx-webhooks'
//!   `COURSE_ENROLLMENT_CREATED`/`CHANGED`; the enrollment webhook sends the same message
//!   itself) becomes one message built by `edx_hooks_shared::count_refresh`: a plain job
//!   `{"course_id"}` whose deduplication id is the course's hash and the current
//!   5-minute bucket. SQS drops the bucket's duplicates, and the queue's `DelaySeconds`
//!   (300) delivers the survivor after its bucket ended, so 1,000 enrollments in one
//!   course make one Richie update per bucket and the count is at most ~5 minutes old.
//! * The HTTP answer is 200 `{"status": "refresh_queued"}` as soon as SQS took the
//!   message (bounded by [`SEND_TIMEOUT`]). Without a count queue, or when the send
//!   fails, the course is synced at once as for any token-authenticated event (from the
//!   LMS's own values): nothing is lost, only the coalescing.
//! * The consumer is the function's ordinary SQS handler (`handle_queue`); for a batch
//!   from a FIFO queue, a failed record and **every later record of the batch** are
//!   reported in `batchItemFailures` (AWS's rule for FIFO partial batch responses: the
//!   rest of a message group must not overtake the failed message). Re-syncing a later
//!   record that had succeeded is harmless: it reads the LMS's current values.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::sqs::SqsEvent;

use edx_hooks_shared::count_refresh::{count_refresh_now, CountRefresh};
use edx_hooks_shared::openedx::CatalogLms;
use edx_hooks_shared::richie::RichieApi;

use crate::queue::RetryQueue;
use crate::service::{CourseSyncService, QueueRecord, Tally};

/// Longest an HTTP request waits for SQS to take a count refresh before it syncs the
/// course itself (within the HTTP budget: this plus `COURSE_SYNC_HTTP_BUDGET_MS` stays
/// below openedx-webhooks' 10 s timeout with the default 8 s).
pub const SEND_TIMEOUT: Duration = Duration::from_millis(1000);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CountQueueError {
    #[error("the count refresh could not be queued: {0}")]
    Send(String),
    #[error("the count refresh was not queued within {0} ms")]
    Timeout(u64),
}

/// A boxed send future (the port is used as a trait object).
pub type SendFuture<'a> = Pin<Box<dyn Future<Output = Result<(), CountQueueError>> + Send + 'a>>;

/// The port: put one count refresh on the FIFO queue.
pub trait CountRefreshQueue: Send + Sync {
    fn send<'a>(&'a self, refresh: &'a CountRefresh) -> SendFuture<'a>;
}

/// Amazon SQS (`SendMessage` with the message's group and deduplication ids; the queue's
/// own `DelaySeconds` delays it: FIFO queues refuse a per-message delay).
pub struct SqsCountQueue {
    client: aws_sdk_sqs::Client,
    url: String,
}

impl SqsCountQueue {
    pub fn new(client: aws_sdk_sqs::Client, url: impl Into<String>) -> Self {
        SqsCountQueue {
            client,
            url: url.into(),
        }
    }

    /// From the standard AWS environment (as the retry queue's adapter).
    pub async fn from_env(url: impl Into<String>) -> Self {
        let config = aws_config::load_from_env().await;
        SqsCountQueue::new(aws_sdk_sqs::Client::new(&config), url)
    }
}

impl CountRefreshQueue for SqsCountQueue {
    fn send<'a>(&'a self, refresh: &'a CountRefresh) -> SendFuture<'a> {
        Box::pin(async move {
            use aws_sdk_sqs::error::ProvideErrorMetadata;
            self.client
                .send_message()
                .queue_url(&self.url)
                .message_body(&refresh.body)
                .message_group_id(&refresh.group_id)
                .message_deduplication_id(&refresh.deduplication_id)
                .send()
                .await
                .map(|_| ())
                .map_err(|err| {
                    CountQueueError::Send(
                        err.code()
                            .map(str::to_owned)
                            .unwrap_or_else(|| err.to_string()),
                    )
                })
        })
    }
}

/// Send one refresh, bounded by `timeout`.
pub async fn send_bounded(
    queue: &dyn CountRefreshQueue,
    refresh: &CountRefresh,
    timeout: Duration,
) -> Result<(), CountQueueError> {
    match tokio::time::timeout(timeout, queue.send(refresh)).await {
        Ok(result) => result,
        Err(_) => Err(CountQueueError::Timeout(timeout.as_millis() as u64)),
    }
}

/// Is this SQS batch from a FIFO queue (the count-refresh queue)? Every record's
/// `eventSourceARN` ends in `.fifo` (AWS requires the suffix of FIFO queue names).
pub fn is_fifo_batch(event: &SqsEvent) -> bool {
    !event.records.is_empty()
        && event.records.iter().all(|r| {
            r.event_source_arn
                .as_deref()
                .is_some_and(|arn| arn.ends_with(".fifo"))
        })
}

/// FIFO partial batch response: the first failed record and every record after it.
pub fn fifo_failures(records: &[QueueRecord], failed: &[String]) -> Vec<String> {
    match records.iter().position(|r| failed.contains(&r.message_id)) {
        Some(first) => records[first..]
            .iter()
            .map(|r| r.message_id.clone())
            .collect(),
        None => Vec::new(),
    }
}

/// What the HTTP route did with an enrollment event.
pub(crate) enum Refresh {
    /// On the count queue: answer 200 now.
    Queued,
    /// No count queue, or it failed: sync the course now.
    SyncNow,
}

impl<L: CatalogLms, R: RichieApi, Q: RetryQueue> CourseSyncService<L, R, Q> {
    /// The count queue, if one is configured.
    pub fn with_count_queue(mut self, queue: Arc<dyn CountRefreshQueue>) -> Self {
        self.count_queue = Some(queue);
        self
    }

    /// Hand an enrollment event's course to the count queue.
    pub(crate) async fn request_count_refresh(
        &self,
        course_id: &str,
        tally: &mut Tally,
    ) -> Refresh {
        let Some(queue) = &self.count_queue else {
            return Refresh::SyncNow;
        };
        let refresh = count_refresh_now(course_id);
        match send_bounded(queue.as_ref(), &refresh, SEND_TIMEOUT).await {
            Ok(()) => {
                tally.count("CountRefresh.Queued", 1);
                Refresh::Queued
            }
            Err(err) => {
                tally.count("CountRefresh.QueueErrors", 1);
                tracing::error!(course_id, error = %err, "enrollment count refresh could not be queued; syncing the course now");
                Refresh::SyncNow
            }
        }
    }

    /// A batch from the count-refresh FIFO queue: the ordinary queue handler, then
    /// AWS's FIFO rule for partial batch responses (see the module docs).
    pub async fn handle_count_refreshes(&self, records: &[QueueRecord]) -> Vec<String> {
        let mut tally = Tally::new();
        tally.count("CountRefresh.Records", records.len());
        let failed = self.handle_queue(records).await;
        let failures = fifo_failures(records, &failed);
        tally.count("CountRefresh.Failures", failures.len());
        tally.emit();
        failures
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(ids: &[&str]) -> Vec<QueueRecord> {
        ids.iter()
            .map(|id| QueueRecord {
                message_id: (*id).to_owned(),
                body: String::new(),
            })
            .collect()
    }

    #[test]
    fn a_fifo_failure_fails_every_later_record_of_the_batch() {
        let batch = records(&["a", "b", "c", "d"]);
        assert_eq!(fifo_failures(&batch, &["c".into()]), ["c", "d"]);
        assert_eq!(
            fifo_failures(&batch, &["d".into(), "b".into()]),
            ["b", "c", "d"]
        );
        assert!(fifo_failures(&batch, &[]).is_empty());
        assert!(fifo_failures(&batch, &["unknown".into()]).is_empty());
    }

    #[test]
    fn fifo_batches_are_told_apart_by_their_queue_arn() {
        let event = |arns: &[&str]| -> SqsEvent {
            serde_json::from_value(
                serde_json::json!({"Records": arns.iter().map(|arn| serde_json::json!({
                "messageId": "m", "body": "{}", "eventSource": "aws:sqs", "eventSourceARN": arn
            })).collect::<Vec<_>>()}),
            )
            .unwrap()
        };
        assert!(is_fifo_batch(&event(&[
            "arn:aws:sqs:eu-west-1:1:x-EnrollmentCountQueue-1.fifo"
        ])));
        assert!(!is_fifo_batch(&event(&[
            "arn:aws:sqs:eu-west-1:1:x-CourseSyncQueue-1"
        ])));
        assert!(!is_fifo_batch(&event(&[])));
        // The Lambda handler routes such a batch to `handle_count_refreshes`.
        let fifo = serde_json::json!({"Records": [{"messageId": "m1", "body": "{}", "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:eu-west-1:1:q.fifo", "attributes": {"MessageGroupId": "g"}}]});
        assert!(matches!(
            crate::lambda::classify(fifo),
            crate::lambda::EventKind::CountRefresh(records) if records[0].message_id == "m1"
        ));
    }

    struct Hangs;
    impl CountRefreshQueue for Hangs {
        fn send<'a>(&'a self, _: &'a CountRefresh) -> SendFuture<'a> {
            Box::pin(std::future::pending())
        }
    }

    #[tokio::test]
    async fn a_hanging_queue_is_given_up_on_in_bounded_time() {
        let started = std::time::Instant::now();
        let err = send_bounded(
            &Hangs,
            &count_refresh_now("a/b/c"),
            Duration::from_millis(50),
        )
        .await
        .unwrap_err();
        assert_eq!(err, CountQueueError::Timeout(50));
        assert!(started.elapsed() < Duration::from_secs(1));
    }
}
