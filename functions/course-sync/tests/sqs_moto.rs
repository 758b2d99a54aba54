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

async fn aws_config(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_sqs::config::Credentials::new(
            "test", "test", None, None, "moto",
        ))
        .load()
        .await
}

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
    let config = aws_config(&moto.endpoint).await;
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
