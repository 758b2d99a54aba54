//! The AWS adapters through the real SDKs against a real `moto_server` (PyPI
//! `moto[server]`, from the project's `.venv`): the SQS retry queue (SendMessageBatch)
//! and the Richie targets document read from Secrets Manager (a JSON document that must
//! not be split on commas), then a failed HTTP delivery queued to SQS and replayed from
//! there as an SQS event.

mod support;

use serde_json::json;

use course_sync::lambda::handle_event;
use course_sync::queue::{RetryQueue, SqsQueue};
use edx_hooks_shared::secrets::{SecretSource, SecretsManagerSecret};
use edx_hooks_tests::lms_emulator::{EmulatorConfig, LmsEmulator, DEMO_COURSE};
use edx_hooks_tests::support::{free_port, MotoServer};
use support::richie_emulator::{RichieEmulator, RichieEmulatorConfig};
use support::{
    batch_failures, http_answer, http_event, service_with, sqs_event, target, Options, TOKEN,
};

async fn receive_all(sqs: &aws_sdk_sqs::Client, url: &str) -> Vec<String> {
    let mut bodies = Vec::new();
    loop {
        let out = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .wait_time_seconds(0)
            .send()
            .await
            .expect("receive");
        let messages = out.messages.unwrap_or_default();
        if messages.is_empty() {
            return bodies;
        }
        for m in messages {
            bodies.extend(m.body);
            if let Some(handle) = m.receipt_handle {
                sqs.delete_message()
                    .queue_url(url)
                    .receipt_handle(handle)
                    .send()
                    .await
                    .expect("delete");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqs_retry_queue_and_targets_secret_through_moto() {
    let moto = MotoServer::start();
    let config = moto.sdk_config().await;
    let sqs = aws_sdk_sqs::Client::new(&config);
    let url = sqs
        .create_queue()
        .queue_name("course-sync")
        .send()
        .await
        .expect("queue")
        .queue_url
        .expect("url");
    let queue = SqsQueue::new(sqs.clone(), url.clone());
    assert!(queue.is_configured());

    // SendMessageBatch takes 10 at most: 23 bodies = 3 calls.
    let bodies: Vec<String> = (0..23)
        .map(|i| json!({"course_id": format!("course-v1:o+c{i}+r")}).to_string())
        .collect();
    queue.enqueue(bodies.clone()).await.expect("enqueue");
    let mut got = receive_all(&sqs, &url).await;
    got.sort();
    let mut want = bodies;
    want.sort();
    assert_eq!(got, want);

    // Targets from Secrets Manager: JSON with commas, read whole.
    let sm = aws_sdk_secretsmanager::Client::new(&config);
    let dead = format!(
        "http://127.0.0.1:{}/api/v1.0/course-runs-sync/",
        free_port()
    );
    let document = json!({"targets": [target(&dead, "richie-secret")]}).to_string();
    let arn = sm
        .create_secret()
        .name("edx-hooks/richie-targets")
        .secret_string(&document)
        .send()
        .await
        .expect("secret")
        .arn
        .expect("arn");
    let targets = SecretSource::SecretsManager(
        SecretsManagerSecret::new(sm.clone(), arn.clone()).current_only(),
    );

    // A delivery failure on the HTTP path lands in SQS...
    let lms = LmsEmulator::start(EmulatorConfig::demo()).await;
    let svc = service_with(
        &lms.base_url(),
        targets,
        Options::default(),
        SqsQueue::new(sqs.clone(), url.clone()),
    );
    let body = json!({"course_id": DEMO_COURSE}).to_string();
    let (status, reply) = http_answer(
        &handle_event(&svc, http_event(&body, Some(TOKEN), None))
            .await
            .unwrap(),
    );
    assert_eq!(status, 202, "{reply}");
    let queued = receive_all(&sqs, &url).await;
    // One job per target still owed (the URL-token event carries no snapshot).
    assert_eq!(
        queued,
        vec![json!({"course_id": DEMO_COURSE, "target": "127.0.0.1"}).to_string()]
    );

    // ...and once Richie is reachable (targets secret updated), the SQS event syncs it.
    let richie = RichieEmulator::start(RichieEmulatorConfig::default()).await;
    sm.put_secret_value()
        .secret_id(&arn)
        .secret_string(json!([target(&richie.sync_url(), "richie-secret")]).to_string())
        .send()
        .await
        .expect("update secret");
    let targets = SecretSource::SecretsManager(SecretsManagerSecret::new(sm, arn).current_only());
    let svc = service_with(
        &lms.base_url(),
        targets,
        Options::default(),
        SqsQueue::new(sqs, url),
    );
    let answer = handle_event(&svc, sqs_event(&[("m1", &queued[0])]))
        .await
        .unwrap();
    assert!(batch_failures(&answer).is_empty(), "{answer}");
    assert!(richie
        .run("https://localhost:8000/courses/course-v1:edX+DemoX+Demo_Course/info")
        .is_some());
}

async fn create_queue(
    sqs: &aws_sdk_sqs::Client,
    name: &str,
    dead_letter_arn: Option<&str>,
) -> (String, String) {
    use aws_sdk_sqs::types::QueueAttributeName;
    let mut request = sqs.create_queue().queue_name(name);
    if let Some(arn) = dead_letter_arn {
        request = request
            // Redelivered at once, so the test need not wait out a visibility timeout.
            .attributes(QueueAttributeName::VisibilityTimeout, "0")
            .attributes(
                QueueAttributeName::RedrivePolicy,
                json!({"deadLetterTargetArn": arn, "maxReceiveCount": 2}).to_string(),
            );
    }
    let url = request.send().await.expect("queue").queue_url.expect("url");
    let arn = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .expect("attributes")
        .attributes
        .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
        .expect("arn");
    (url, arn)
}

/// Both dead-letter queues of the template, through the real SDK against moto: a job
/// that gave up is redriven by SQS into the jobs' DLQ and, moved back (what the
/// runbook's `start-message-move-task` does; moto does not implement that call), is
/// delivered by the consumer; a schedule event and a command in the invocation DLQ are
/// invoked again as they are (the runbook's loop).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_dead_letter_queue_replays_its_own_bodies() {
    let moto = MotoServer::start();
    let config = moto.sdk_config().await;
    let sqs = aws_sdk_sqs::Client::new(&config);
    let (jobs_dlq, jobs_dlq_arn) = create_queue(&sqs, "course-sync-dlq", None).await;
    let (queue, _) = create_queue(&sqs, "course-sync", Some(&jobs_dlq_arn)).await;
    let (invocations_dlq, _) = create_queue(&sqs, "course-sync-invocations-dlq", None).await;

    // A job for a target that stays down: queued by the HTTP path, failed twice by the
    // consumer (batch item failures), then redriven into the jobs' DLQ.
    let lms = LmsEmulator::start(EmulatorConfig::demo()).await;
    let dead = format!(
        "http://127.0.0.1:{}/api/v1.0/course-runs-sync/",
        free_port()
    );
    let mut down = target(&dead, "richie-secret");
    down["name"] = json!("site");
    let svc = service_with(
        &lms.base_url(),
        SecretSource::Static(edx_hooks_shared::secrets::StaticSecret::new(
            "targets",
            vec![json!([down]).to_string()],
        )),
        Options::default(),
        SqsQueue::new(sqs.clone(), queue.clone()),
    );
    let body = json!({"course_id": DEMO_COURSE}).to_string();
    let (status, reply) = http_answer(
        &handle_event(&svc, http_event(&body, Some(TOKEN), None))
            .await
            .unwrap(),
    );
    assert_eq!(status, 202, "{reply}");
    for _ in 0..3 {
        let out = sqs
            .receive_message()
            .queue_url(&queue)
            .max_number_of_messages(10)
            .send()
            .await
            .expect("receive");
        let records: Vec<(String, String)> = out
            .messages
            .unwrap_or_default()
            .into_iter()
            .map(|m| (m.message_id.unwrap_or_default(), m.body.unwrap_or_default()))
            .collect();
        if records.is_empty() {
            continue;
        }
        let refs: Vec<(&str, &str)> = records
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect();
        let answer = handle_event(&svc, sqs_event(&refs)).await.unwrap();
        assert_eq!(batch_failures(&answer).len(), refs.len(), "{answer}");
    }
    let gave_up = receive_all(&sqs, &jobs_dlq).await;
    assert_eq!(
        gave_up,
        vec![json!({"course_id": DEMO_COURSE, "target": "site"}).to_string()],
        "only queue jobs in the jobs' DLQ"
    );

    // The site is back: moved back to the queue, the job is delivered.
    let richie = RichieEmulator::start(RichieEmulatorConfig::default()).await;
    let mut up = target(&richie.sync_url(), "richie-secret");
    up["name"] = json!("site");
    let fixed = service_with(
        &lms.base_url(),
        SecretSource::Static(edx_hooks_shared::secrets::StaticSecret::new(
            "targets",
            vec![json!([up]).to_string()],
        )),
        Options::default(),
        SqsQueue::new(sqs.clone(), queue.clone()),
    );
    for body in &gave_up {
        sqs.send_message()
            .queue_url(&queue)
            .message_body(body)
            .send()
            .await
            .expect("move back");
    }
    let moved = receive_all(&sqs, &queue).await;
    let refs: Vec<(&str, &str)> = moved.iter().map(|b| ("m", b.as_str())).collect();
    let answer = handle_event(&fixed, sqs_event(&refs)).await.unwrap();
    assert!(batch_failures(&answer).is_empty(), "{answer}");
    assert!(richie
        .run("https://localhost:8000/courses/course-v1:edX+DemoX+Demo_Course/info")
        .is_some());

    // The invocation DLQ holds invocation payloads (what Lambda and EventBridge put
    // there): each is invoked again as it is.
    let schedule = std::fs::read_to_string(
        edx_hooks_tests::support::workspace_root().join("events/course-sync/schedule-resync.json"),
    )
    .expect("sample");
    let command = json!({"course_ids": [DEMO_COURSE]}).to_string();
    for body in [&schedule, &command] {
        sqs.send_message()
            .queue_url(&invocations_dlq)
            .message_body(body)
            .send()
            .await
            .expect("dead-letter");
    }
    let payloads = receive_all(&sqs, &invocations_dlq).await;
    assert_eq!(payloads.len(), 2);
    for payload in payloads {
        let event: serde_json::Value = serde_json::from_str(&payload).expect("JSON");
        let summary = handle_event(&fixed, event).await.expect("replayed");
        assert_eq!(summary["status"], "done", "{summary}");
    }
}
