//! Enrollment counts through a real SQS FIFO queue (`moto_server`, the real AWS SDK):
//! openedx-webhooks' enrollment events into course-sync's HTTP handler and the
//! enrollment webhook's own refreshes after real sales (its `SqsCountNotifier`), both
//! built by `edx_hooks_shared::count_refresh`, coalesced by the queue's deduplication
//! and delivered after its `DelaySeconds` to course-sync's SQS handler, which updates
//! the (emulated) Richie from the LMS emulator's count.
//!
//! The figure (`cargo test -p course-sync --test count_refresh_moto -- --nocapture`):
//! 1,000 enrollment events + the webhook's refreshes → queue deliveries → Richie requests.
//!
//! moto, checked here and in the README: FIFO deduplication drops a message whose
//! deduplication id is already in the queue (AWS drops it for 5 minutes after the first
//! send, deleted or not — stricter, so a bucket makes at most one delivery there too),
//! and the queue's `DelaySeconds` holds messages back (production: 300 s; 20 s here).

mod support;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::stream::{self, StreamExt};
use serde_json::{json, Value};

use course_sync::count_queue::{CountRefreshQueue, SqsCountQueue};
use course_sync::lambda::handle_event;
use edx_hooks_shared::count_refresh::{count_refresh, BUCKET_SECS};
use edx_hooks_shared::secrets::{SecretSource, StaticSecret};
use edx_hooks_tests::lms_emulator::{
    EmulatorConfig, LmsEmulator, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_COURSE, DEMO_SERVICE_USER,
};
use edx_hooks_tests::support::MotoServer;
use edx_hooks_tests::webhook_harness::{self, HarnessOptions};
use enrollment_webhook::count_refresh::SqsCountNotifier;
use support::poll_once;
use support::richie_emulator::{RichieEmulator, RichieEmulatorConfig};
use support::{batch_failures, http_answer, http_event, service_with, target, MemoryQueue};
use support::{Options, TOKEN};

/// The queue's delay in this test (production: `BUCKET_SECS`, 300 s).
const DELAY_SECS: u64 = 20;

/// A FIFO queue as `template.yaml`'s `EnrollmentCountQueue` (a shorter delay), with a
/// FIFO dead-letter queue after `max_receives` receives. Returns (url, arn, dlq url).
async fn count_queue(
    sqs: &aws_sdk_sqs::Client,
    name: &str,
    max_receives: u32,
) -> (String, String, String) {
    use aws_sdk_sqs::types::QueueAttributeName as A;
    let dlq = sqs
        .create_queue()
        .queue_name(format!("{name}-dlq.fifo"))
        .attributes(A::FifoQueue, "true")
        .send()
        .await
        .expect("dlq")
        .queue_url
        .expect("dlq url");
    let dlq_arn = attribute(sqs, &dlq, A::QueueArn).await;
    let url = sqs
        .create_queue()
        .queue_name(format!("{name}.fifo"))
        .attributes(A::FifoQueue, "true")
        .attributes(A::DelaySeconds, DELAY_SECS.to_string())
        .attributes(A::VisibilityTimeout, "1")
        .attributes(
            A::RedrivePolicy,
            json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receives}).to_string(),
        )
        .send()
        .await
        .expect("queue")
        .queue_url
        .expect("url");
    let arn = attribute(sqs, &url, A::QueueArn).await;
    (url, arn, dlq)
}

async fn attribute(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
    name: aws_sdk_sqs::types::QueueAttributeName,
) -> String {
    sqs.get_queue_attributes()
        .queue_url(url)
        .attribute_names(name.clone())
        .send()
        .await
        .expect("attributes")
        .attributes
        .and_then(|mut a| a.remove(&name))
        .unwrap_or_default()
}

/// Messages in the queue: (visible, delayed, in flight).
async fn depth(sqs: &aws_sdk_sqs::Client, url: &str) -> (u64, u64, u64) {
    use aws_sdk_sqs::types::QueueAttributeName as A;
    let n = |s: String| s.parse::<u64>().unwrap_or(0);
    (
        n(attribute(sqs, url, A::ApproximateNumberOfMessages).await),
        n(attribute(sqs, url, A::ApproximateNumberOfMessagesDelayed).await),
        n(attribute(sqs, url, A::ApproximateNumberOfMessagesNotVisible).await),
    )
}

/// openedx-webhooks' body for COURSE_ENROLLMENT_CREATED (`receivers.py::_process_event`).
fn enrollment_event(course_key: &str, user_id: usize) -> String {
    json!({
        "openedx_events.learning.data.CourseEnrollmentData": {
            "user": {"id": user_id, "is_active": true,
                     "pii": {"username": format!("learner{user_id}"), "email": format!("learner{user_id}@example.com"), "name": ""}},
            "course": {"course_key": course_key, "display_name": "Demonstration Course", "start": null, "end": null},
            "mode": "audit", "is_active": true, "creation_date": "2029-12-02 10:00:00+00:00", "created_by": null,
        },
        "event_metadata": {
            "event_type": "org.openedx.learning.course.enrollment.created.v1",
            "id": format!("c8bee32c-a1a5-11ed-baf0-{user_id:012}"), "minorversion": 0,
            "source": "openedx/lms/web", "sourcehost": "lms", "time": "2029-12-02 10:00:00+00:00",
            "sourcelib": [11, 2, 0],
        },
    })
    .to_string()
}

fn now_bucket() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
        / BUCKET_SECS
}

fn targets(richie: &RichieEmulator) -> SecretSource {
    SecretSource::Static(StaticSecret::new(
        "targets",
        vec![json!([target(&richie.sync_url(), "richie-secret")]).to_string()],
    ))
}

fn options() -> Options {
    Options {
        client_id: DEMO_CLIENT_ID.to_owned(),
        client_secret: DEMO_CLIENT_SECRET.to_owned(),
        service_username: Some(DEMO_SERVICE_USER.to_owned()),
        ..Options::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_enrollments_in_one_course_make_at_most_a_few_richie_updates() {
    let moto = MotoServer::start();
    let sqs = aws_sdk_sqs::Client::new(&moto.sdk_config().await);
    let (url, arn, dlq) = count_queue(&sqs, "enrollment-count", 5).await;
    let lms = LmsEmulator::start(EmulatorConfig::demo()).await;
    let richie = RichieEmulator::start(RichieEmulatorConfig::default()).await;
    let count_queue: Arc<dyn CountRefreshQueue> = Arc::new(SqsCountQueue::new(sqs.clone(), &url));
    let svc = service_with(
        &lms.base_url(),
        targets(&richie),
        options(),
        MemoryQueue::default(),
    )
    .with_count_queue(count_queue);

    // The enrollment webhook, against the same LMS, notifying the same queue.
    let sales = 20usize;
    {
        let mut state = lms.state();
        for i in 0..sales {
            state.add_user(
                &format!("buyer{i}"),
                &format!("buyer{i}@example.com"),
                false,
                true,
            );
        }
    }
    let webhook_lms = webhook_harness::client(
        lms.base_url(),
        &HarnessOptions {
            client_id: DEMO_CLIENT_ID.into(),
            client_secret: DEMO_CLIENT_SECRET.into(),
            service_username: Some(DEMO_SERVICE_USER.into()),
            ..HarnessOptions::default()
        },
    );
    let webhook = webhook_harness::service_for(webhook_lms, vec![webhook_harness::SECRET.into()])
        .with_count_notifier(Arc::new(SqsCountNotifier::new(sqs.clone(), &url)));

    let first_bucket = now_bucket();
    let started = Instant::now();
    // 1,000 learners enroll (the LMS's rows), each announced by openedx-webhooks,
    // 10 requests in flight as a busy LMS would send them.
    let events = 1000usize;
    let answers: Vec<(u16, Value)> = stream::iter(0..events)
        .map(|i| {
            lms.state()
                .add_enrollment(&format!("learner{i}"), DEMO_COURSE, "audit", true);
            let event = http_event(&enrollment_event(DEMO_COURSE, i), Some(TOKEN), None);
            let svc = &svc;
            async move { http_answer(&handle_event(svc, event).await.expect("handler")) }
        })
        .buffer_unordered(10)
        .collect()
        .await;
    // The webhook's own sales in the same course.
    for i in 0..sales {
        let body = webhook_harness::payload(&format!("buyer{i}@example.com"), &[DEMO_COURSE]);
        let reply = webhook
            .handle(
                "POST",
                "/lernito/webhook/",
                Some(&webhook_harness::sign(&body)),
                body.as_bytes(),
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
    let sent_in = started.elapsed();
    let last_bucket = now_bucket();
    for (status, body) in &answers {
        assert_eq!(*status, 200, "{body}");
        assert_eq!(body["status"], "refresh_queued", "{body}");
    }
    assert!(
        richie.requests().is_empty(),
        "the HTTP route answers without touching Richie"
    );
    let expected = lms.state().active_enrollment_count(DEMO_COURSE);
    assert!(expected >= events + sales, "{expected}");

    // Before the delay is over nothing is delivered, and the queue holds one message
    // per bucket the sends spanned.
    let (visible, delayed, _) = depth(&sqs, &url).await;
    let buckets = (last_bucket - first_bucket + 1) as usize;
    assert!(
        sent_in < Duration::from_secs(DELAY_SECS),
        "the sends must finish within the test's delay ({sent_in:?}); raise DELAY_SECS"
    );
    assert_eq!(visible, 0, "held back by DelaySeconds");
    assert!(
        (1..=2 * buckets as u64).contains(&delayed),
        "{delayed} messages for {buckets} bucket(s)"
    );

    // The consumer (course-sync's SQS handler) once the delay is over.
    let deadline = Instant::now() + Duration::from_secs(DELAY_SECS + 20);
    let mut deliveries = 0usize;
    let mut empty_polls = 0;
    loop {
        let (n, failed) = poll_once(&sqs, &url, &arn, &svc).await;
        assert_eq!(failed, 0);
        deliveries += n;
        if n > 0 {
            empty_polls = 0;
            continue;
        }
        // moto's visible count lags the end of a delay: drained = delivered something,
        // three empty receives in a row, and nothing delayed or in flight.
        empty_polls += 1;
        if deliveries > 0 && empty_polls >= 3 && depth(&sqs, &url).await == (0, 0, 0) {
            break;
        }
        assert!(Instant::now() < deadline, "the queue never drained");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let requests = richie.requests();
    println!(
        "enrollment counts: {events} enrollment events + {sales} webhook sales in one course \
         ({buckets} bucket(s) of {BUCKET_SECS} s) -> {deliveries} queue deliveries -> {} Richie \
         request(s); Richie's enrollment_count = {}",
        requests.len(),
        requests
            .last()
            .map(|(_, b)| b["enrollment_count"].clone())
            .unwrap_or(Value::Null)
    );
    assert!(
        (1..=2 * buckets).contains(&deliveries),
        "{deliveries} deliveries for {buckets} bucket(s)"
    );
    assert_eq!(
        requests.len(),
        deliveries,
        "one target: one request a delivery"
    );
    let (_, last) = requests.last().expect("a Richie request");
    assert_eq!(last["enrollment_count"], json!(expected), "{last}");
    assert_eq!(depth(&sqs, &dlq).await, (0, 0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_working_count_queue_an_enrollment_event_syncs_its_course_at_once() {
    let moto = MotoServer::start();
    let sqs = aws_sdk_sqs::Client::new(&moto.sdk_config().await);
    let lms = LmsEmulator::start(EmulatorConfig::demo()).await;
    let richie = RichieEmulator::start(RichieEmulatorConfig::default()).await;
    let event = || http_event(&enrollment_event(DEMO_COURSE, 1), Some(TOKEN), None);

    // No count queue configured: synced now, from the LMS's values.
    let plain = service_with(
        &lms.base_url(),
        targets(&richie),
        options(),
        MemoryQueue::default(),
    );
    let (status, body) = http_answer(&handle_event(&plain, event()).await.unwrap());
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("synced")),
        "{body}"
    );
    assert_eq!(richie.requests().len(), 1);

    // A count queue that does not exist (deleted, wrong URL): the send fails, the course
    // is synced now (error log, `CountRefresh.QueueErrors`), nothing is lost.
    let missing = format!("{}/123456789012/gone.fifo", moto.endpoint);
    let broken = service_with(
        &lms.base_url(),
        targets(&richie),
        options(),
        MemoryQueue::default(),
    )
    .with_count_queue(Arc::new(SqsCountQueue::new(sqs.clone(), missing)));
    let (status, body) = http_answer(&handle_event(&broken, event()).await.unwrap());
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("synced")),
        "{body}"
    );
    assert_eq!(richie.requests().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_refresh_fails_the_rest_of_its_fifo_batch_and_ends_in_the_dead_letter_queue() {
    let moto = MotoServer::start();
    let sqs = aws_sdk_sqs::Client::new(&moto.sdk_config().await);
    let (url, arn, dlq) = count_queue(&sqs, "failing-count", 2).await;
    let lms = LmsEmulator::start(EmulatorConfig::demo()).await;
    let richie = RichieEmulator::start(RichieEmulatorConfig::default()).await;
    let svc = service_with(
        &lms.base_url(),
        targets(&richie),
        options(),
        MemoryQueue::default(),
    );

    // A FIFO batch [A, B]: A's delivery fails, so B is reported too (AWS's rule), although
    // B alone would have been acknowledged (a course the LMS does not know: permanent).
    let records = json!({"Records": [
        {"messageId": "a", "body": json!({"course_id": DEMO_COURSE}).to_string(), "eventSource": "aws:sqs", "eventSourceARN": arn},
        {"messageId": "b", "body": json!({"course_id": "course-v1:edX+Gone+run"}).to_string(), "eventSource": "aws:sqs", "eventSourceARN": arn},
    ]});
    let alone = json!({"Records": [
        {"messageId": "b", "body": json!({"course_id": "course-v1:edX+Gone+run"}).to_string(), "eventSource": "aws:sqs", "eventSourceARN": arn},
    ]});
    assert!(batch_failures(&handle_event(&svc, alone).await.unwrap()).is_empty());
    richie.fail_next(&[503]);
    let answer = handle_event(&svc, records).await.unwrap();
    let failed: BTreeSet<String> = batch_failures(&answer).into_iter().collect();
    assert_eq!(failed, BTreeSet::from(["a".to_owned(), "b".to_owned()]));

    // A refresh that keeps failing goes to the count queue's own DLQ after
    // maxReceiveCount (2 here) receives.
    let refresh = count_refresh(DEMO_COURSE, 0);
    SqsCountQueue::new(sqs.clone(), &url)
        .send(&refresh)
        .await
        .expect("send");
    let deadline = Instant::now() + Duration::from_secs(DELAY_SECS + 30);
    let mut receives = 0usize;
    while depth(&sqs, &dlq).await.0 == 0 {
        assert!(Instant::now() < deadline, "never dead-lettered");
        richie.fail_next(&[503]);
        let (n, failed) = poll_once(&sqs, &url, &arn, &svc).await;
        assert_eq!(n, failed, "every receive fails");
        receives += n;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert_eq!(receives, 2, "received maxReceiveCount times");
    let out = sqs
        .receive_message()
        .queue_url(&dlq)
        .send()
        .await
        .expect("receive dlq");
    let bodies: Vec<String> = out
        .messages
        .unwrap_or_default()
        .into_iter()
        .filter_map(|m| m.body)
        .collect();
    assert_eq!(bodies, [refresh.body]);
}
