//! A backlog in the retry queue never blocks the HTTP route.
//!
//! The capacity rule is the template's: course-sync's reserved concurrency (at least
//! `ReservedConcurrency`'s `MinValue`) is shared by its HTTP route and its SQS event
//! sources, and each event source is capped by `ScalingConfig.MaximumConcurrency`. So
//! the sum of the caps must stay below the reserved minimum, and a course-published
//! call (openedx-webhooks never retries one) always finds an execution environment.
//!
//! The test reads both numbers from `template.yaml`, puts 1,000 messages (5,000 with
//! `EDX_HOOKS_BACKLOG=5000`) in a real
//! SQS queue (moto_server, through the real SDK adapter), drains it with as many
//! pollers as the caps allow — each batch running the real service, as Lambda's poller
//! would invoke it — inside a pool of "execution environments" of the reserved size,
//! and meanwhile sends course-published events: each must get an environment at once
//! (Lambda would otherwise throttle it, and the publish would be lost) while the
//! backlog is still there.

mod support;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::sync::Semaphore;

use course_sync::lambda::handle_event;
use course_sync::queue::{RetryQueue, SqsQueue};
use edx_hooks_tests::lms_emulator::{EmulatorConfig, LmsEmulator, DEMO_COURSE};
use edx_hooks_tests::support::MotoServer;
use support::richie_emulator::{RichieEmulator, RichieEmulatorConfig};
use support::{
    http_answer, http_event, poll_once, service_with, target, template_entry, Options, TOKEN,
};

/// The backlog (`EDX_HOOKS_BACKLOG`, default 1,000). moto_server's SendMessageBatch
/// slows down as its queue grows (5,000 messages took 457 s to enqueue here, 1,000 a
/// few seconds): the suite uses 1,000, which the pollers are still far from draining
/// while the publishes run; `EDX_HOOKS_BACKLOG=5000` gives the figure.
fn backlog() -> usize {
    std::env::var("EDX_HOOKS_BACKLOG")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000)
}
const PUBLISHES: usize = 20;

fn numbers_after(block: &str, key: &str) -> Vec<usize> {
    block
        .lines()
        .filter_map(|line| line.trim().strip_prefix(key))
        .filter_map(|value| value.trim().parse().ok())
        .collect()
}

/// (reserved concurrency's minimum, the SQS event sources' caps) of CourseSyncFunction.
fn capacity_from_template() -> (usize, Vec<usize>) {
    let parameter = template_entry("ReservedConcurrency");
    let reserved_min = numbers_after(&parameter, "MinValue:")
        .first()
        .copied()
        .expect("ReservedConcurrency MinValue");
    let function = template_entry("CourseSyncFunction");
    assert!(
        function.contains("ReservedConcurrentExecutions: !Ref ReservedConcurrency"),
        "CourseSyncFunction reserves its concurrency"
    );
    let caps = numbers_after(&function, "MaximumConcurrency:");
    assert_eq!(
        caps.len(),
        // An event source names its queue (`Queue: !GetAtt …`); the function's
        // DeadLetterQueue (`TargetArn:`) is not one.
        function.matches("Queue: !GetAtt").count(),
        "every SQS event source of CourseSyncFunction has a MaximumConcurrency"
    );
    (reserved_min, caps)
}

#[test]
fn the_queue_consumers_can_never_take_every_reserved_slot() {
    let (reserved_min, caps) = capacity_from_template();
    assert!(!caps.is_empty());
    let consumers: usize = caps.iter().sum();
    assert!(
        consumers < reserved_min,
        "SQS pollers may hold {consumers} of at least {reserved_min} reserved environments: HTTP must keep one"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_backlog_leaves_the_http_route_an_environment() {
    let backlog = backlog();
    let (reserved_min, caps) = capacity_from_template();
    let pollers: usize = caps.iter().sum();
    let moto = MotoServer::start();
    let config = moto.sdk_config().await;
    let sqs = aws_sdk_sqs::Client::new(&config);
    let url = sqs
        .create_queue()
        .queue_name("course-sync-backlog")
        .send()
        .await
        .expect("queue")
        .queue_url
        .expect("url");
    let arn = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .expect("attributes")
        .attributes
        .and_then(|a| {
            a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn)
                .cloned()
        })
        .expect("arn");
    let started = Instant::now();
    let body = json!({"course_id": DEMO_COURSE}).to_string();
    SqsQueue::new(sqs.clone(), url.clone())
        .enqueue(vec![body; backlog])
        .await
        .expect("backlog enqueued");
    eprintln!("{backlog} messages enqueued in {:?}", started.elapsed());

    let lms = LmsEmulator::start(EmulatorConfig {
        latency: Duration::from_millis(5),
        ..EmulatorConfig::demo()
    })
    .await;
    let richie = RichieEmulator::start(RichieEmulatorConfig {
        course_codes: vec!["DEMOX".into()],
        secrets: vec!["s".into()],
        latency: Duration::from_millis(5),
    })
    .await;
    let targets = json!([target(&richie.sync_url(), "s")]).to_string();
    let service = Arc::new(service_with(
        &lms.base_url(),
        edx_hooks_shared::secrets::SecretSource::Static(
            edx_hooks_shared::secrets::StaticSecret::new("targets", vec![targets]),
        ),
        Options::default(),
        SqsQueue::new(sqs.clone(), url.clone()),
    ));

    // The function's reserved execution environments.
    let pool = Arc::new(Semaphore::new(reserved_min));
    let stop = Arc::new(AtomicBool::new(false));
    let consumed = Arc::new(AtomicUsize::new(0));
    let busy = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    // The pollers and the publishes run concurrently on this task (the emulators and
    // moto serve from their own tasks and processes).
    let poller = |_: usize| {
        let (sqs, url, arn, service, pool) = (&sqs, &url, &arn, &service, &pool);
        let (stop, consumed, busy, peak) = (&stop, &consumed, &busy, &peak);
        async move {
            while !stop.load(Ordering::Relaxed) {
                // One invocation: it holds an execution environment while it runs.
                let _environment = pool.acquire().await.expect("pool");
                let now = busy.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                let (delivered, failed) = poll_once(sqs, url, arn, service.as_ref()).await;
                busy.fetch_sub(1, Ordering::SeqCst);
                assert_eq!(failed, 0, "every backlog record is synced");
                if delivered == 0 {
                    break;
                }
                consumed.fetch_add(delivered, Ordering::SeqCst);
            }
        }
    };
    let pollers_done = futures_util::future::join_all((0..pollers).map(poller));

    // Course-published calls while the backlog drains: each needs an environment now.
    let publishes = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let mut latencies = Vec::new();
        let mut throttled = 0;
        // At least PUBLISHES, and on until the pollers have been through a few batches
        // (moto receives slowly from a queue this long), so that the publishes overlap
        // real consumption.
        let probing = Instant::now();
        let mut i = 0;
        while i < PUBLISHES
            || (consumed.load(Ordering::SeqCst) < 30
                && probing.elapsed() < Duration::from_secs(120))
        {
            i += 1;
            let Ok(_environment) = pool.try_acquire() else {
                throttled += 1;
                continue;
            };
            let at = Instant::now();
            let published = json!({"course_id": DEMO_COURSE}).to_string();
            let (status, reply) = http_answer(
                &handle_event(service.as_ref(), http_event(&published, Some(TOKEN), None))
                    .await
                    .expect("http"),
            );
            assert_eq!(status, 200, "publish {i}: {reply}");
            latencies.push(at.elapsed());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let consumed_during_probes = consumed.load(Ordering::SeqCst);
        stop.store(true, Ordering::Relaxed);
        (latencies, throttled, consumed_during_probes, i)
    };
    let (_, (mut latencies, throttled, consumed_during_probes, publishes)) =
        tokio::join!(pollers_done, publishes);
    latencies.sort();
    eprintln!(
        "backlog {backlog}: {pollers} pollers in {reserved_min} reserved environments (peak {} busy), {consumed_during_probes} messages consumed while {publishes} publishes were served: {throttled} throttled, latency p50 {:?} max {:?}",
        peak.load(Ordering::SeqCst),
        latencies[latencies.len() / 2],
        latencies[latencies.len() - 1],
    );
    assert_eq!(throttled, 0, "every publish found an environment");
    assert!(peak.load(Ordering::SeqCst) <= pollers);
    assert!(
        consumed_during_probes < backlog,
        "the backlog was still there while the publishes were served"
    );
    assert!(
        consumed_during_probes > 0,
        "the pollers were consuming meanwhile"
    );
}
