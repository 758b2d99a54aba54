//! The retry ("spill") queue: where work goes when it failed in a context that cannot
//! retry by itself — an HTTP request from openedx-webhooks (which never retries), or
//! one course of a nightly resync. The queue's consumer is this same function
//! (SQS event source, partial batch responses); after `maxReceiveCount` failed
//! receives SQS moves the message to the dead-letter queue.

use std::future::Future;
use std::time::Duration;

use edx_hooks_shared::sqs::{send_batches, Outgoing, SendFailure};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueueError {
    #[error("no retry queue is configured (COURSE_SYNC_QUEUE_URL)")]
    NotConfigured,
    #[error("could not enqueue {failed} message(s): {detail}")]
    Send { failed: usize, detail: String },
}

/// The port.
pub trait RetryQueue: Send + Sync {
    /// Enqueue every body (at-least-once); `Err` if any could not be enqueued.
    fn enqueue(&self, bodies: Vec<String>) -> impl Future<Output = Result<(), QueueError>> + Send;
    /// Enqueue, each message invisible for `delay` first (SQS's `DelaySeconds`, at
    /// most 15 minutes). A resync's continuation waits out the LMS's throttle window
    /// this way. Adapters without delays deliver at once.
    fn enqueue_delayed(
        &self,
        bodies: Vec<String>,
        _delay: Duration,
    ) -> impl Future<Output = Result<(), QueueError>> + Send {
        self.enqueue(bodies)
    }
    fn is_configured(&self) -> bool;
}

/// Amazon SQS through the AWS SDK (`SendMessageBatch`, 10 messages per call).
pub struct SqsQueue {
    client: aws_sdk_sqs::Client,
    url: String,
}

impl SqsQueue {
    pub fn new(client: aws_sdk_sqs::Client, url: impl Into<String>) -> Self {
        SqsQueue {
            client,
            url: url.into(),
        }
    }

    /// From the standard AWS environment (`AWS_REGION`, credentials chain,
    /// `AWS_ENDPOINT_URL` for moto/local endpoints).
    pub async fn from_env(url: impl Into<String>) -> Self {
        let config = aws_config::load_from_env().await;
        SqsQueue::new(aws_sdk_sqs::Client::new(&config), url)
    }
}

impl RetryQueue for SqsQueue {
    async fn enqueue(&self, bodies: Vec<String>) -> Result<(), QueueError> {
        self.send(bodies, Duration::ZERO).await
    }

    async fn enqueue_delayed(
        &self,
        bodies: Vec<String>,
        delay: Duration,
    ) -> Result<(), QueueError> {
        self.send(bodies, delay).await
    }

    fn is_configured(&self) -> bool {
        true
    }
}

impl SqsQueue {
    async fn send(&self, bodies: Vec<String>, delay: Duration) -> Result<(), QueueError> {
        let delay_seconds = i32::try_from(delay.as_secs()).unwrap_or(i32::MAX);
        let messages: Vec<Outgoing<'_>> = bodies
            .iter()
            .map(|body| Outgoing {
                delay_seconds: Some(delay_seconds),
                ..Outgoing::body(body)
            })
            .collect();
        send_batches(&self.client, &self.url, &messages)
            .await
            .map_err(|SendFailure { failed, detail }| QueueError::Send { failed, detail })
    }
}

/// No queue (local runs without SQS): every enqueue fails, so callers report the
/// failure instead of pretending the work is safe.
pub struct NoQueue;

impl RetryQueue for NoQueue {
    async fn enqueue(&self, _bodies: Vec<String>) -> Result<(), QueueError> {
        Err(QueueError::NotConfigured)
    }

    fn is_configured(&self) -> bool {
        false
    }
}

/// The two adapters as one type for wiring.
pub enum Queue {
    Sqs(SqsQueue),
    None(NoQueue),
}

impl RetryQueue for Queue {
    async fn enqueue(&self, bodies: Vec<String>) -> Result<(), QueueError> {
        match self {
            Queue::Sqs(q) => q.enqueue(bodies).await,
            Queue::None(q) => q.enqueue(bodies).await,
        }
    }

    async fn enqueue_delayed(
        &self,
        bodies: Vec<String>,
        delay: Duration,
    ) -> Result<(), QueueError> {
        match self {
            Queue::Sqs(q) => q.enqueue_delayed(bodies, delay).await,
            Queue::None(q) => q.enqueue_delayed(bodies, delay).await,
        }
    }

    fn is_configured(&self) -> bool {
        match self {
            Queue::Sqs(q) => q.is_configured(),
            Queue::None(q) => q.is_configured(),
        }
    }
}
