//! Every way the forwarder can lose or stall work has an alarm in `template.yaml`
//! (cfn-lint checks the template's validity; this checks that the alarms are there and
//! watch the right metric of the right resource).

mod support;

/// The `AWS::CloudWatch::Alarm` resources of the template, each as its text block.
fn alarms() -> Vec<(String, String)> {
    support::template_entries()
        .into_iter()
        .filter(|(_, text)| text.contains("Type: AWS::CloudWatch::Alarm"))
        .collect()
}

#[test]
fn every_loss_and_stall_of_the_forwarder_is_alarmed() {
    let alarms = alarms();
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
