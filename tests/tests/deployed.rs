//! The `stoker` stack deployed by ./localstack/up, read only: every name is an output and the
//! resources behind them are live and configured as the template says.

use aws_sdk_dynamodb::types::TimeToLiveStatus;
use aws_sdk_sqs::types::QueueAttributeName;
use serde_json::Value;
use stoker_events::Worker;
use stoker_it::{Stack, emulator};

#[tokio::test]
async fn queues_have_dlqs_with_redrive_and_long_enough_visibility() {
    let sdk = emulator().await;
    let stack = Stack::shared(&sdk).await.expect("shared stack");
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    for w in Worker::ALL {
        let url = stack.output(&format!("{}QueueUrl", w.stem()));
        let attrs = sqs
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::All)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{url} is not a live queue: {e}"));
        let attrs = attrs.attributes().expect("attributes");
        let redrive: Value =
            serde_json::from_str(&attrs[&QueueAttributeName::RedrivePolicy]).expect("redrive JSON");
        let dlq_url = stack.output(&format!("{}DlqUrl", w.stem()));
        let dlq_name = dlq_url.rsplit('/').next().unwrap_or_default();
        assert!(
            redrive["deadLetterTargetArn"]
                .as_str()
                .unwrap_or_default()
                .ends_with(&format!(":{dlq_name}")),
            "{w}: redrive targets {redrive}, not {dlq_name}"
        );
        // The workers' limit is 5 (MaxReceiveCount); the queue redrives two deliveries later.
        assert_eq!(
            redrive["maxReceiveCount"].to_string().trim_matches('"'),
            "7",
            "{w}"
        );
        let visibility: u32 = attrs[&QueueAttributeName::VisibilityTimeout]
            .parse()
            .expect("number");
        assert!(
            visibility >= 360,
            "{w}: visibility {visibility}s is under 6 x its worker timeout"
        );
    }
}

#[tokio::test]
async fn ops_table_has_keys_index_and_ttl() {
    let sdk = emulator().await;
    let stack = Stack::shared(&sdk).await.expect("shared stack");
    let ddb = aws_sdk_dynamodb::Client::new(&sdk);
    let table = stack.output("OpsTableName");
    let desc = ddb
        .describe_table()
        .table_name(table)
        .send()
        .await
        .expect("describe ops table");
    let t = desc.table().expect("table");
    let keys: Vec<&str> = t.key_schema().iter().map(|k| k.attribute_name()).collect();
    assert_eq!(keys, ["pk", "sk"]);
    assert!(
        t.global_secondary_indexes()
            .iter()
            .any(|g| g.index_name() == Some("gsi1"))
    );
    let ttl = ddb
        .describe_time_to_live()
        .table_name(table)
        .send()
        .await
        .expect("ttl");
    let ttl = ttl.time_to_live_description().expect("ttl description");
    assert_eq!(ttl.attribute_name(), Some("expires_at"));
    assert_eq!(ttl.time_to_live_status(), Some(&TimeToLiveStatus::Enabled));
}

#[tokio::test]
async fn every_worker_has_an_enabled_schedule_and_its_dlq_and_error_alarms() {
    let sdk = emulator().await;
    let stack = Stack::shared(&sdk).await.expect("shared stack");
    let eb = aws_sdk_eventbridge::Client::new(&sdk);
    let cw = aws_sdk_cloudwatch::Client::new(&sdk);
    for w in Worker::ALL {
        let rule = stack.output(&format!("{}ScheduleRuleName", w.stem()));
        let r = eb
            .describe_rule()
            .name(rule)
            .send()
            .await
            .expect("schedule rule exists");
        assert_eq!(r.state().map(|s| s.as_str()), Some("ENABLED"), "{w}");
        assert!(
            r.schedule_expression()
                .is_some_and(|e| e.starts_with("rate(") || e.starts_with("cron("))
        );
        let alarms = cw
            .describe_alarms()
            .alarm_name_prefix(format!("{}-{}-", stack.name, w.name()))
            .send()
            .await
            .expect("describe alarms");
        let names: Vec<&str> = alarms
            .metric_alarms()
            .iter()
            .filter_map(|a| a.alarm_name())
            .collect();
        assert!(names.len() >= 2, "{w}: alarms {names:?}");
        assert!(
            names.iter().any(|n| n.ends_with("-dlq-not-empty")),
            "{w}: {names:?}"
        );
        assert!(
            names.iter().any(|n| n.ends_with("-errors")),
            "{w}: {names:?}"
        );
    }
}
