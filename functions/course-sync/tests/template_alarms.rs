//! Every way the forwarder can lose or stall work has an alarm in `template.yaml`
//! (cfn-lint checks the template's validity; this checks that the alarms are there and
//! watch the right metric of the right resource).

/// The `AWS::CloudWatch::Alarm` resources of the template, each as its text block.
fn alarms(template: &str) -> Vec<(String, String)> {
    let mut blocks: Vec<(String, String)> = Vec::new();
    let mut current: Option<(String, String)> = None;
    for line in template.lines() {
        let top_level = line.len() > 2
            && line.starts_with("  ")
            && !line[2..].starts_with([' ', '#'])
            && line.trim_end().ends_with(':');
        if top_level || (!line.starts_with(' ') && !line.trim().is_empty()) {
            blocks.extend(current.take());
            if top_level {
                current = Some((line.trim().trim_end_matches(':').to_owned(), String::new()));
            }
            continue;
        }
        if let Some((_, text)) = current.as_mut() {
            text.push_str(line);
            text.push('\n');
        }
    }
    blocks.extend(current);
    blocks
        .into_iter()
        .filter(|(_, text)| text.contains("Type: AWS::CloudWatch::Alarm"))
        .collect()
}

#[test]
fn every_loss_and_stall_of_the_forwarder_is_alarmed() {
    let template =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../template.yaml"))
            .expect("template.yaml");
    let alarms = alarms(&template);
    assert!(alarms.len() >= 12, "parsed {} alarms", alarms.len());
    assert!(
        !alarms
            .iter()
            .any(|(_, text)| text.contains("MetricName: NoSuchMetric\n")),
        "the matcher is exact"
    );
    // (metric, what the alarm must name: the EMF dimension or the watched resource)
    let required = [
        ("Lost", "Value: course-sync"),
        ("ConfigurationErrors", "Value: course-sync"),
        ("MalformedRecords", "Value: course-sync"),
        ("Throttles", "!Ref CourseSyncFunction"),
        ("Errors", "!Ref CourseSyncFunction"),
        ("Errors", "!Ref CourseSyncResyncFunction"),
        ("ApproximateAgeOfOldestMessage", "CourseSyncQueue.QueueName"),
        (
            "ApproximateNumberOfMessagesVisible",
            "CourseSyncDeadLetterQueue.QueueName",
        ),
        (
            "ApproximateNumberOfMessagesVisible",
            "CourseSyncInvocationDeadLetterQueue.QueueName",
        ),
    ];
    for (metric, subject) in required {
        let found = alarms.iter().any(|(_, text)| {
            text.contains(&format!("MetricName: {metric}\n"))
                && text.contains(subject)
                && text.contains("AlarmActions: [!Ref AlarmTopic]")
        });
        assert!(found, "no alarm on {metric} for {subject}");
    }
}
