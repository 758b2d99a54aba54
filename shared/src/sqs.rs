//! Sending to SQS, the one way both functions do it: `SendMessageBatch` in chunks of
//! ten (the API's limit), every chunk tried, and one error that says how many messages
//! were not accepted and the first error code (never a body: bodies may name courses,
//! and a caller decides what to log).

use aws_sdk_sqs::error::ProvideErrorMetadata;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;

/// One message to send.
#[derive(Debug, Clone, Copy, Default)]
pub struct Outgoing<'a> {
    pub body: &'a str,
    /// FIFO queues: the message group and deduplication ids.
    pub group_id: Option<&'a str>,
    pub deduplication_id: Option<&'a str>,
    /// Standard queues: seconds the message stays invisible (SQS allows 0..=900).
    pub delay_seconds: Option<i32>,
}

impl<'a> Outgoing<'a> {
    pub fn body(body: &'a str) -> Self {
        Outgoing {
            body,
            ..Outgoing::default()
        }
    }
}

/// Some messages were not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{failed} message(s) not accepted by SQS: {detail}")]
pub struct SendFailure {
    pub failed: usize,
    /// The first error code SQS (or the SDK) gave.
    pub detail: String,
}

/// Send every message to `url` (at-least-once); `Err` if any was not accepted.
pub async fn send_batches(
    client: &aws_sdk_sqs::Client,
    url: &str,
    messages: &[Outgoing<'_>],
) -> Result<(), SendFailure> {
    let mut failed = 0usize;
    let mut detail = String::new();
    for chunk in messages.chunks(10) {
        let entries = chunk
            .iter()
            .enumerate()
            .map(|(i, m)| {
                SendMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message_body(m.body)
                    .set_message_group_id(m.group_id.map(str::to_owned))
                    .set_message_deduplication_id(m.deduplication_id.map(str::to_owned))
                    .set_delay_seconds(m.delay_seconds.filter(|s| *s > 0).map(|s| s.min(900)))
                    .build()
            })
            .collect::<Result<Vec<_>, _>>();
        let entries = match entries {
            Ok(entries) => entries,
            Err(err) => {
                failed += chunk.len();
                detail = err.to_string();
                continue;
            }
        };
        match client
            .send_message_batch()
            .queue_url(url)
            .set_entries(Some(entries))
            .send()
            .await
        {
            Ok(out) => {
                if let Some(first) = out.failed.first() {
                    failed += out.failed.len();
                    detail = first.code.clone();
                }
            }
            Err(err) => {
                failed += chunk.len();
                detail = err
                    .code()
                    .map(str::to_owned)
                    .unwrap_or_else(|| err.to_string());
            }
        }
    }
    match failed {
        0 => Ok(()),
        failed => Err(SendFailure { failed, detail }),
    }
}
