//! The stack checks (AWS SDK): the deployed functions, their secrets, the retry queue
//! and its dead-letter queue, the alarms. Read-only calls: GetFunctionConfiguration,
//! ListEventSourceMappings, GetQueueUrl / GetQueueAttributes, DescribeAlarms,
//! GetSecretValue (whose values are parsed, never printed).

use std::collections::HashMap;

use aws_sdk_cloudwatch::types::MetricAlarm;
use aws_sdk_sqs::types::QueueAttributeName;
use edx_hooks_shared::doctor::Report;
use edx_hooks_shared::richie::parse_targets;
use edx_hooks_shared::secrets::parse_secret_list;
use serde_json::Value;

/// The deployed functions to check (`--stack-functions webhook=NAME,sync=NAME,resync=NAME`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StackFunctions {
    pub webhook: Option<String>,
    pub sync: Option<String>,
    pub resync: Option<String>,
}

impl StackFunctions {
    /// `webhook=NAME,sync=NAME[,resync=NAME]` (any subset, at least one).
    pub fn parse(value: &str) -> Result<StackFunctions, String> {
        let mut out = StackFunctions::default();
        for pair in value.split(',').filter(|p| !p.trim().is_empty()) {
            let (role, name) = pair
                .split_once('=')
                .ok_or_else(|| format!("{pair:?}: expected ROLE=FUNCTION_NAME"))?;
            let name = name.trim();
            if name.is_empty() {
                return Err(format!("{pair:?}: empty function name"));
            }
            let slot = match role.trim() {
                "webhook" => &mut out.webhook,
                "sync" => &mut out.sync,
                "resync" => &mut out.resync,
                other => return Err(format!("{other:?}: the roles are webhook, sync and resync")),
            };
            *slot = Some(name.to_owned());
        }
        if out == StackFunctions::default() {
            return Err("no function named".to_owned());
        }
        Ok(out)
    }

    fn all(&self) -> Vec<(&'static str, &str)> {
        [
            ("webhook", &self.webhook),
            ("sync", &self.sync),
            ("resync", &self.resync),
        ]
        .into_iter()
        .filter_map(|(role, name)| name.as_deref().map(|n| (role, n)))
        .collect()
    }
}

/// The AWS clients the stack checks use.
#[derive(Clone)]
pub struct AwsClients {
    pub lambda: aws_sdk_lambda::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
}

impl AwsClients {
    pub fn new(config: &aws_config::SdkConfig) -> AwsClients {
        AwsClients {
            lambda: aws_sdk_lambda::Client::new(config),
            sqs: aws_sdk_sqs::Client::new(config),
            cloudwatch: aws_sdk_cloudwatch::Client::new(config),
            secrets: aws_sdk_secretsmanager::Client::new(config),
        }
    }
}

/// An SDK error on one line, without request details.
fn sdk_error<E: std::error::Error>(error: &E) -> String {
    let text = aws_sdk_lambda::error::DisplayErrorContext(error).to_string();
    match text.char_indices().nth(200) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

/// The secrets a function needs: `(ARN variable, plain variable, how to parse)`.
fn secrets_of(role: &str) -> &'static [(&'static str, &'static str, Kind)] {
    match role {
        "webhook" => &[
            (
                "OPENEDX_CLIENT_SECRET_ARN",
                "OPENEDX_CLIENT_SECRET",
                Kind::Client,
            ),
            ("LERNITO_SECRET_ARN", "LERNITO_WEBHOOK_SECRET", Kind::List),
        ],
        _ => &[
            (
                "OPENEDX_CLIENT_SECRET_ARN",
                "OPENEDX_CLIENT_SECRET",
                Kind::Client,
            ),
            ("RICHIE_TARGETS_SECRET_ARN", "RICHIE_TARGETS", Kind::Targets),
            (
                "COURSE_SYNC_TOKEN_SECRET_ARN",
                "COURSE_SYNC_TOKEN",
                Kind::List,
            ),
        ],
    }
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Client,
    List,
    Targets,
}

fn parse_secret(kind: Kind, value: &str) -> Result<String, String> {
    match kind {
        Kind::Client => {
            let v: Value = serde_json::from_str(value)
                .map_err(|_| "not JSON {\"client_id\", \"client_secret\"}".to_owned())?;
            let field = |k: &str| v.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
            match (field("client_id"), field("client_secret")) {
                (Some(id), Some(_)) => Ok(format!("client id {id:?}")),
                _ => Err("client_id and client_secret must be non-empty strings".to_owned()),
            }
        }
        Kind::List => parse_secret_list(value)
            .map(|l| format!("{} value(s)", l.len()))
            .map_err(|e| e.to_string()),
        Kind::Targets => parse_targets(value)
            .map(|t| format!("{} Richie target(s)", t.len()))
            .map_err(|e| e.to_string()),
    }
}

struct Deployed {
    role: &'static str,
    name: String,
    timeout: i32,
    env: HashMap<String, String>,
}

/// Run the stack checks.
pub async fn check_stack(aws: &AwsClients, functions: &StackFunctions) -> Report {
    let mut report = Report::new();
    let mut deployed = Vec::new();
    for (role, name) in functions.all() {
        let mut one = Report::new();
        match aws
            .lambda
            .get_function_configuration()
            .function_name(name)
            .send()
            .await
        {
            Ok(config) => {
                let timeout = config.timeout().unwrap_or(3);
                let env = config
                    .environment()
                    .and_then(|e| e.variables())
                    .cloned()
                    .unwrap_or_default();
                one.pass(
                    "stack.function",
                    format!("{name}: timeout {timeout} s, {} environment variables", env.len()),
                );
                deployed.push(Deployed {
                    role,
                    name: name.to_owned(),
                    timeout,
                    env,
                });
            }
            Err(e) => one.fail(
                "stack.function",
                format!("{name}: {}", sdk_error(&e)),
                "pass the deployed names (the stack's *FunctionName outputs: aws cloudformation describe-stacks --stack-name <stack>) and a region/profile that can lambda:GetFunctionConfiguration",
            ),
        }
        report.extend_with_subject(one, role);
    }
    for function in &deployed {
        let one = secret_checks(aws, function).await;
        report.extend_with_subject(one, function.role);
    }
    let mut dead_letter_queues = Vec::new();
    for function in deployed.iter().filter(|f| f.role != "webhook") {
        let one = queue_checks(aws, function, &mut dead_letter_queues).await;
        report.extend_with_subject(one, function.role);
    }
    report.checks.extend(
        alarm_checks(aws, &deployed, &dead_letter_queues)
            .await
            .checks,
    );
    report
}

async fn secret_checks(aws: &AwsClients, function: &Deployed) -> Report {
    let mut report = Report::new();
    for (arn_var, plain_var, kind) in secrets_of(function.role) {
        let Some(arn) = function.env.get(*arn_var).filter(|v| !v.trim().is_empty()) else {
            if function.env.contains_key(*plain_var) {
                report.warn(
                    "stack.secret",
                    format!(
                        "{arn_var} unset: {} reads {plain_var} from its plain environment",
                        function.name
                    ),
                    format!(
                        "store the value in Secrets Manager and set {arn_var} (template.yaml does)"
                    ),
                );
            } else {
                report.fail(
                    "stack.secret",
                    format!(
                        "{arn_var} unset on {}: it falls back to the local defaults",
                        function.name
                    ),
                    format!("set {arn_var} to the secret's ARN (sam deploy creates it)"),
                );
            }
            continue;
        };
        match aws.secrets.get_secret_value().secret_id(arn).send().await {
            Ok(value) => match value.secret_string().map(|v| parse_secret(*kind, v)) {
                Some(Ok(found)) => {
                    report.pass("stack.secret", format!("{arn_var}: exists and parses ({found})"))
                }
                Some(Err(why)) => report.fail(
                    "stack.secret",
                    format!("{arn_var}: the value does not parse: {why}"),
                    format!("aws secretsmanager put-secret-value --secret-id <{arn_var}> --secret-string '…' (README's configuration table says the format)"),
                ),
                None => report.fail(
                    "stack.secret",
                    format!("{arn_var}: no string value"),
                    format!("aws secretsmanager put-secret-value --secret-id <{arn_var}> --secret-string '…'"),
                ),
            },
            Err(e) => report.fail(
                "stack.secret",
                format!("{arn_var}: {}", sdk_error(&e)),
                format!("create the secret {arn_var} names (or fix the ARN in the function's environment), and allow secretsmanager:GetSecretValue on it"),
            ),
        }
    }
    report
}

/// `arn:aws:sqs:REGION:ACCOUNT:NAME` → (account, name).
fn queue_of_arn(arn: &str) -> Option<(&str, &str)> {
    let mut parts = arn.split(':');
    let (_, _, service, _, account, name) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    (service == "sqs").then_some((account, name))
}

async fn queue_checks(
    aws: &AwsClients,
    function: &Deployed,
    dead_letter_queues: &mut Vec<String>,
) -> Report {
    let mut report = Report::new();
    let mappings = match aws
        .lambda
        .list_event_source_mappings()
        .function_name(&function.name)
        .send()
        .await
    {
        Ok(out) => out.event_source_mappings().to_vec(),
        Err(e) => {
            report.fail(
                "stack.queue_attached",
                sdk_error(&e),
                "allow lambda:ListEventSourceMappings to the doctor's credentials",
            );
            return report;
        }
    };
    let queues: Vec<(String, String)> = mappings
        .iter()
        .filter_map(|m| {
            let arn = m.event_source_arn()?;
            queue_of_arn(arn)?;
            Some((arn.to_owned(), m.state().unwrap_or("").to_owned()))
        })
        .collect();
    if queues.is_empty() {
        if function.role == "sync" {
            report.fail(
                "stack.queue_attached",
                format!("no SQS event source on {}: queued retries are never consumed", function.name),
                "attach the retry queue: aws lambda create-event-source-mapping --function-name <CourseSyncFunction> --event-source-arn <CourseSyncQueueArn> --function-response-types ReportBatchItemFailures (template.yaml does)",
            );
        }
        return report;
    }
    if function.role == "sync" && !function.env.contains_key("COURSE_SYNC_QUEUE_URL") {
        report.warn(
            "stack.queue_attached",
            "COURSE_SYNC_QUEUE_URL unset: failed HTTP deliveries answer 503 instead of being queued",
            "set COURSE_SYNC_QUEUE_URL to the retry queue's URL",
        );
    }
    for (arn, state) in queues {
        let Some((account, name)) = queue_of_arn(&arn) else {
            continue;
        };
        match state.as_str() {
            "Enabled" | "Enabling" | "Creating" | "Updating" => report.pass(
                "stack.queue_attached",
                format!("{name} → {} ({state})", function.name),
            ),
            other => report.fail(
                "stack.queue_attached",
                format!("{name} → {}: mapping {other}", function.name),
                "aws lambda update-event-source-mapping --uuid <id> --enabled",
            ),
        }
        let url = match aws
            .sqs
            .get_queue_url()
            .queue_name(name)
            .queue_owner_aws_account_id(account)
            .send()
            .await
        {
            Ok(out) => out.queue_url().unwrap_or_default().to_owned(),
            Err(e) => {
                report.fail(
                    "stack.dlq",
                    format!("{name}: {}", sdk_error(&e)),
                    "the queue of the event source mapping must exist",
                );
                continue;
            }
        };
        let attributes = match aws
            .sqs
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(QueueAttributeName::All)
            .send()
            .await
        {
            Ok(out) => out.attributes().cloned().unwrap_or_default(),
            Err(e) => {
                report.fail(
                    "stack.dlq",
                    format!("{name}: {}", sdk_error(&e)),
                    "allow sqs:GetQueueAttributes to the doctor's credentials",
                );
                continue;
            }
        };
        let redrive = attributes
            .get(&QueueAttributeName::RedrivePolicy)
            .and_then(|v| serde_json::from_str::<Value>(v).ok());
        match redrive
            .as_ref()
            .and_then(|r| r.get("deadLetterTargetArn")?.as_str())
        {
            Some(dlq) => {
                let receives = redrive
                    .as_ref()
                    .and_then(|r| r.get("maxReceiveCount"))
                    .map(|v| v.to_string().trim_matches('"').to_owned())
                    .unwrap_or_default();
                let dlq_name = queue_of_arn(dlq).map_or(dlq, |(_, n)| n).to_owned();
                report.pass(
                    "stack.dlq",
                    format!("{name}: dead-letter queue {dlq_name} after {receives} receives"),
                );
                dead_letter_queues.push(dlq_name);
            }
            None => report.fail(
                "stack.dlq",
                format!("{name} has no RedrivePolicy: a job that always fails is retried until it expires, then lost"),
                format!("aws sqs set-queue-attributes --queue-url {url} --attributes '{{\"RedrivePolicy\": \"{{\\\"deadLetterTargetArn\\\":\\\"<DLQ arn>\\\",\\\"maxReceiveCount\\\":\\\"5\\\"}}\"}}' (template.yaml: CourseSyncQueue)"),
            ),
        }
        let visibility: i64 = attributes
            .get(&QueueAttributeName::VisibilityTimeout)
            .and_then(|v| v.parse().ok())
            .unwrap_or(30);
        let timeout = i64::from(function.timeout);
        let fix = format!(
            "aws sqs set-queue-attributes --queue-url {url} --attributes VisibilityTimeout={} (at least the function timeout, AWS recommends 6×; template.yaml: 360 for 60 s)",
            timeout * 6
        );
        if visibility < timeout {
            report.fail(
                "stack.visibility_timeout",
                format!("{name}: VisibilityTimeout {visibility} s is below {}'s timeout {timeout} s: a job still running is delivered again", function.name),
                fix,
            );
        } else if visibility < timeout * 6 {
            report.warn(
                "stack.visibility_timeout",
                format!("{name}: VisibilityTimeout {visibility} s, function timeout {timeout} s (less than the recommended 6×)"),
                fix,
            );
        } else {
            report.pass(
                "stack.visibility_timeout",
                format!("{name}: VisibilityTimeout {visibility} s ≥ 6 × the function timeout {timeout} s"),
            );
        }
    }
    report
}

fn has_dimension(alarm: &MetricAlarm, name: &str, value: &str) -> bool {
    alarm
        .dimensions()
        .iter()
        .any(|d| d.name() == Some(name) && d.value() == Some(value))
}

async fn alarm_checks(aws: &AwsClients, deployed: &[Deployed], dlqs: &[String]) -> Report {
    let mut report = Report::new();
    if deployed.is_empty() {
        return report;
    }
    let mut alarms: Vec<MetricAlarm> = Vec::new();
    let mut pages = aws.cloudwatch.describe_alarms().into_paginator().send();
    while let Some(page) = pages.next().await {
        match page {
            Ok(page) => alarms.extend(page.metric_alarms().iter().cloned()),
            Err(e) => {
                report.fail(
                    "stack.alarms",
                    sdk_error(&e),
                    "allow cloudwatch:DescribeAlarms to the doctor's credentials",
                );
                return report;
            }
        }
    }
    for function in deployed {
        let found = alarms.iter().find(|a| {
            a.metric_name() == Some("Errors")
                && a.namespace() == Some("AWS/Lambda")
                && has_dimension(a, "FunctionName", &function.name)
        });
        let mut one = Report::new();
        match found {
            Some(a) => one.pass(
                "stack.alarms",
                format!("Errors alarm {} on {}", a.alarm_name().unwrap_or("?"), function.name),
            ),
            None => one.fail(
                "stack.alarms",
                format!("no alarm on AWS/Lambda Errors of {}: crashes and timeouts go unnoticed", function.name),
                "deploy template.yaml (sam deploy creates the *ErrorsAlarm), or aws cloudwatch put-metric-alarm --namespace AWS/Lambda --metric-name Errors --dimensions Name=FunctionName,Value=<function> --statistic Sum --period 300 --evaluation-periods 1 --threshold 1 --comparison-operator GreaterThanOrEqualToThreshold --alarm-name <name>",
            ),
        }
        report.extend_with_subject(one, function.role);
    }
    for dlq in dlqs {
        let found = alarms.iter().find(|a| {
            a.metric_name() == Some("ApproximateNumberOfMessagesVisible")
                && has_dimension(a, "QueueName", dlq)
        });
        let mut one = Report::new();
        match found {
            Some(a) => one.pass(
                "stack.alarms",
                format!("dead-letter alarm {} on {dlq}", a.alarm_name().unwrap_or("?")),
            ),
            None => one.fail(
                "stack.alarms",
                format!("no alarm on the depth of the dead-letter queue {dlq}: given-up jobs go unnoticed"),
                format!("deploy template.yaml (CourseSyncDeadLetterAlarm), or aws cloudwatch put-metric-alarm --namespace AWS/SQS --metric-name ApproximateNumberOfMessagesVisible --dimensions Name=QueueName,Value={dlq} --statistic Maximum --period 300 --evaluation-periods 1 --threshold 1 --comparison-operator GreaterThanOrEqualToThreshold --alarm-name <name>"),
            ),
        }
        report.extend_with_subject(one, "sync");
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stack_functions_flag() {
        assert_eq!(
            StackFunctions::parse("webhook=a,sync=b").unwrap(),
            StackFunctions {
                webhook: Some("a".into()),
                sync: Some("b".into()),
                resync: None
            }
        );
        assert!(StackFunctions::parse("").is_err());
        assert!(StackFunctions::parse("web=a").is_err());
        assert!(StackFunctions::parse("sync=").is_err());
        assert!(StackFunctions::parse("sync").is_err());
    }

    #[test]
    fn secret_values_parse_without_echoing() {
        assert!(parse_secret(
            Kind::Client,
            r#"{"client_id": "x", "client_secret": "hidden"}"#
        )
        .unwrap()
        .contains("\"x\""));
        let err = parse_secret(Kind::Client, "hidden-value").unwrap_err();
        assert!(!err.contains("hidden"));
        assert!(parse_secret(Kind::List, r#"{"secrets": ["a"]}"#).is_ok());
        assert!(parse_secret(
            Kind::Targets,
            r#"[{"url": "https://richie.example/api/v1.0/course-runs-sync/", "secret": "s"}]"#
        )
        .is_ok());
        assert!(parse_secret(Kind::Targets, "nope").is_err());
        assert_eq!(
            queue_of_arn("arn:aws:sqs:us-east-1:123:q"),
            Some(("123", "q"))
        );
    }
}
