//! The doctor's stack checks through the real AWS SDKs against `moto_server` (from the
//! project's `.venv`): a stack shaped like template.yaml passes; a missing alarm, a
//! visibility timeout below the function timeout, a deleted secret, a function that
//! does not exist and a queue without a dead-letter queue each fail their check.
//! (moto creates Lambda functions without Docker as long as nothing invokes them.)
//!
//! Skipped, one line on stderr, when `.venv/bin/moto_server` is missing.

mod support;

use std::collections::HashMap;

use aws_sdk_cloudwatch::types::{ComparisonOperator, Dimension, Statistic};
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{Environment, FunctionCode, Runtime};
use aws_sdk_sqs::types::QueueAttributeName;
use edx_hooks_doctor::{check_stack, AwsClients, StackFunctions};
use edx_hooks_shared::doctor::{Report, Status};
use edx_hooks_tests::support::{sdk_config_for, venv_dir, MotoServer};

const ROLE: &str = "arn:aws:iam::123456789012:role/edx-hooks-doctor";
/// An empty ZIP archive (its end-of-central-directory record only).
const EMPTY_ZIP: [u8; 22] = [
    0x50, 0x4b, 0x05, 0x06, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
];

/// moto's Lambda wants the execution role to exist (IAM's query API; moto does not
/// check signatures).
async fn create_role(endpoint: &str) {
    let form = [
        ("Action", "CreateRole"),
        ("Version", "2010-05-08"),
        ("RoleName", "edx-hooks-doctor"),
        (
            "AssumeRolePolicyDocument",
            r#"{"Version":"2012-10-17","Statement":[]}"#,
        ),
    ];
    let answer = reqwest::Client::new()
        .post(format!("{endpoint}/"))
        .header(
            "Authorization",
            "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0",
        )
        .form(&form)
        .send()
        .await
        .expect("CreateRole");
    assert!(
        answer.status().is_success(),
        "CreateRole: {}",
        answer.status()
    );
}

async fn secret(aws: &AwsClients, name: &str, value: &str) -> String {
    aws.secrets
        .create_secret()
        .name(name)
        .secret_string(value)
        .send()
        .await
        .expect("create secret")
        .arn()
        .expect("arn")
        .to_owned()
}

async fn function(aws: &AwsClients, name: &str, timeout: i32, env: HashMap<String, String>) {
    aws.lambda
        .create_function()
        .function_name(name)
        .runtime(Runtime::Providedal2023)
        .role(ROLE)
        .handler("bootstrap")
        .timeout(timeout)
        .code(
            FunctionCode::builder()
                .zip_file(Blob::new(EMPTY_ZIP.to_vec()))
                .build(),
        )
        .environment(Environment::builder().set_variables(Some(env)).build())
        .send()
        .await
        .expect("create function");
}

async fn alarm(
    aws: &AwsClients,
    name: &str,
    namespace: &str,
    metric: &str,
    dimension: (&str, &str),
) {
    aws.cloudwatch
        .put_metric_alarm()
        .alarm_name(name)
        .namespace(namespace)
        .metric_name(metric)
        .dimensions(
            Dimension::builder()
                .name(dimension.0)
                .value(dimension.1)
                .build(),
        )
        .statistic(Statistic::Sum)
        .period(300)
        .evaluation_periods(1)
        .threshold(1.0)
        .comparison_operator(ComparisonOperator::GreaterThanOrEqualToThreshold)
        .send()
        .await
        .expect("put alarm");
}

async fn queue(
    aws: &AwsClients,
    name: &str,
    attributes: &[(QueueAttributeName, String)],
) -> (String, String) {
    let mut request = aws.sqs.create_queue().queue_name(name);
    for (k, v) in attributes {
        request = request.attributes(k.clone(), v);
    }
    let url = request
        .send()
        .await
        .expect("create queue")
        .queue_url()
        .expect("url")
        .to_owned();
    let arn = aws
        .sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .expect("queue arn")
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
        .expect("QueueArn");
    (url, arn)
}

fn failures(report: &Report) -> Vec<(String, String)> {
    report
        .checks
        .iter()
        .filter(|c| c.status == Status::Fail)
        .map(|c| (c.name.to_owned(), c.subject.clone().unwrap_or_default()))
        .collect()
}

fn pair(name: &str, subject: &str) -> (String, String) {
    (name.to_owned(), subject.to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_good_stack_passes_and_each_gap_fails_its_check() {
    if !venv_dir().join("bin").join("moto_server").exists() {
        eprintln!("doctor_stack_moto: skipped (no .venv/bin/moto_server: run scripts/setup-venv)");
        return;
    }
    let moto = MotoServer::start();
    let mut aws = AwsClients::new(&moto.sdk_config().await);
    let cloudwatch = support::cbor_proxy::start(&moto.endpoint).await;
    aws.cloudwatch = aws_sdk_cloudwatch::Client::new(&sdk_config_for(&cloudwatch).await);
    create_role(&moto.endpoint).await;

    let client = secret(
        &aws,
        "doctor/openedx",
        r#"{"client_id": "edx-hooks", "client_secret": "s"}"#,
    )
    .await;
    let lernito = secret(&aws, "doctor/lernito", r#"{"secrets": ["new", "old"]}"#).await;
    let targets = secret(
        &aws,
        "doctor/richie",
        r#"{"targets": [{"url": "https://richie.example/api/v1.0/course-runs-sync/", "secret": "r"}]}"#,
    )
    .await;
    let token = secret(&aws, "doctor/token", "course-published-token").await;

    let (_, dlq_arn) = queue(&aws, "doctor-dlq", &[]).await;
    let redrive = format!(r#"{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":"5"}}"#);
    let (queue_url, queue_arn) = queue(
        &aws,
        "doctor-queue",
        &[
            (QueueAttributeName::VisibilityTimeout, "360".to_owned()),
            (QueueAttributeName::RedrivePolicy, redrive),
        ],
    )
    .await;
    let (_, bare_arn) = queue(&aws, "doctor-bare", &[]).await;

    let env = |pairs: &[(&str, &str)]| -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    function(
        &aws,
        "doctor-webhook",
        29,
        env(&[
            ("OPENEDX_CLIENT_SECRET_ARN", &client),
            ("LERNITO_SECRET_ARN", &lernito),
        ]),
    )
    .await;
    let sync_env = env(&[
        ("OPENEDX_CLIENT_SECRET_ARN", &client),
        ("RICHIE_TARGETS_SECRET_ARN", &targets),
        ("COURSE_SYNC_TOKEN_SECRET_ARN", &token),
        ("COURSE_SYNC_QUEUE_URL", &queue_url),
    ]);
    function(&aws, "doctor-sync", 60, sync_env.clone()).await;
    function(&aws, "doctor-sync-bare", 60, sync_env).await;
    for (f, q) in [("doctor-sync", &queue_arn), ("doctor-sync-bare", &bare_arn)] {
        aws.lambda
            .create_event_source_mapping()
            .function_name(f)
            .event_source_arn(q)
            .send()
            .await
            .expect("mapping");
    }
    alarm(
        &aws,
        "WebhookErrors",
        "AWS/Lambda",
        "Errors",
        ("FunctionName", "doctor-webhook"),
    )
    .await;
    alarm(
        &aws,
        "SyncErrors",
        "AWS/Lambda",
        "Errors",
        ("FunctionName", "doctor-sync"),
    )
    .await;
    alarm(
        &aws,
        "Dlq",
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
        ("QueueName", "doctor-dlq"),
    )
    .await;

    let functions = StackFunctions::parse("webhook=doctor-webhook,sync=doctor-sync").unwrap();
    let good = check_stack(&aws, &functions).await;
    for check in &good.checks {
        assert_eq!(check.status, Status::Pass, "{}", good.render_text());
    }
    for name in [
        "stack.function",
        "stack.secret",
        "stack.queue_attached",
        "stack.dlq",
        "stack.visibility_timeout",
        "stack.alarms",
    ] {
        assert!(
            good.get(name).is_some(),
            "{name} ran: {}",
            good.render_text()
        );
    }
    assert!(
        !good.render_text().contains("course-published-token"),
        "no secret value in the report"
    );

    // Break it: the sync function's alarm, the visibility timeout, the Lernito secret.
    aws.cloudwatch
        .delete_alarms()
        .alarm_names("SyncErrors")
        .send()
        .await
        .expect("delete alarm");
    aws.sqs
        .set_queue_attributes()
        .queue_url(&queue_url)
        .attributes(QueueAttributeName::VisibilityTimeout, "30")
        .send()
        .await
        .expect("visibility");
    aws.secrets
        .delete_secret()
        .secret_id(&lernito)
        .force_delete_without_recovery(true)
        .send()
        .await
        .expect("delete secret");
    let broken = check_stack(&aws, &functions).await;
    assert_eq!(
        failures(&broken),
        vec![
            pair("stack.secret", "webhook"),
            pair("stack.visibility_timeout", "sync"),
            pair("stack.alarms", "sync"),
        ],
        "{}",
        broken.render_text()
    );
    let fix = |name: &str| {
        broken
            .checks
            .iter()
            .find(|c| c.name == name && c.status == Status::Fail)
            .and_then(|c| c.fix.clone())
            .unwrap_or_default()
    };
    assert!(fix("stack.visibility_timeout").contains("VisibilityTimeout=360"));
    assert!(fix("stack.alarms").contains("put-metric-alarm"));
    assert!(fix("stack.secret").contains("LERNITO_SECRET_ARN"));
    assert_eq!(broken.exit_code(), 1);

    // A queue without a dead-letter queue (and its alarm), and a function that is not there.
    let other = check_stack(
        &aws,
        &StackFunctions::parse("sync=doctor-sync-bare,resync=nope").unwrap(),
    )
    .await;
    let failed = failures(&other);
    assert!(
        failed.contains(&pair("stack.function", "resync")),
        "{}",
        other.render_text()
    );
    assert!(
        failed.contains(&pair("stack.dlq", "sync")),
        "{}",
        other.render_text()
    );
}
