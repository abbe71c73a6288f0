//! The readiness worker: every check made to pass and made to fail on the emulators (tables on
//! ministack, which has native backups; queues and alarms on LocalStack), a narrowed request
//! that is go, and the binary on a real queue (a no-go verdict, a bad request dead-lettered).

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_cloudwatch::types::{ComparisonOperator, StateValue, Statistic};
use aws_sdk_dynamodb::types::PointInTimeRecoverySpecification;
use aws_sdk_sqs::types::QueueAttributeName;
use serde_json::json;
use stoker_events::payload::readiness::{ReadinessRequest, Thresholds};
use stoker_events::{Envelope, SOURCE_OPERATOR, Worker};
use stoker_it::kit::{KitEnv, fill_on};
use stoker_it::{emulator, unique, worker_sdk, workspace_bin};
use stoker_readiness::{Readiness, Report, Scope, Status};

/// A DynamoDB client on ministack (native backups), from `sdk`.
fn ministack_ddb(sdk: &aws_config::SdkConfig) -> aws_sdk_dynamodb::Client {
    let url = std::env::var("STOKER_MINISTACK_URL").expect("STOKER_MINISTACK_URL");
    aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(sdk)
            .endpoint_url(url)
            .build(),
    )
}

/// Where nothing listens: a service that cannot be reached (set on a client's own config, which
/// the emulators' `AWS_ENDPOINT_URL_<SERVICE>` does not override; no retries).
const UNREACHABLE: &str = "http://127.0.0.1:9";

/// The worker for stack `stack` (its tables on ministack), its calls recorded as readiness's.
async fn worker(stack: &str) -> Readiness {
    stoker_it::bind_names(
        Worker::Readiness,
        &[
            ("STOKER_STACK", stack),
            ("STOKER_BACKUP_TABLE_PREFIX", stack),
        ],
    );
    let sdk = worker_sdk(Worker::Readiness).await;
    Readiness {
        ddb: ministack_ddb(&sdk),
        sqs: aws_sdk_sqs::Client::new(&sdk),
        cloudwatch: aws_sdk_cloudwatch::Client::new(&sdk),
        logs: aws_sdk_cloudwatchlogs::Client::new(&sdk),
        lambda: aws_sdk_lambda::Client::new(&sdk),
        rules: aws_sdk_eventbridge::Client::new(&sdk),
        s3: aws_sdk_s3::Client::new(&sdk),
        iam: aws_sdk_iam::Client::new(&sdk),
        cfn: aws_sdk_cloudformation::Client::new(&sdk),
        export_bucket: None,
        namespace: namespace(stack),
        cache_scheduled: false,
        max_usd_per_1000_invocations:
            stoker_events::payload::readiness::DEFAULT_USD_PER_1000_INVOCATIONS,
        optimizer: stoker_optimizer::apply::Applier {
            lambda: aws_sdk_lambda::Client::new(&sdk),
            ddb: aws_sdk_dynamodb::Client::new(&sdk),
            ops_table: format!("{stack}-ops"),
            alias: "live".into(),
        },
        events: None,
        scope: Scope {
            stack: stack.to_owned(),
            ops_table: format!("{stack}-ops"),
            backup_table: None,
            table_prefix: Some(stack.to_owned()),
            function_prefix: Some(format!("{stack}-")),
        },
    }
}

/// One datapoint of `metric` (in `namespace`, with `dims`), `minutes_ago`.
async fn datum(
    cw: &aws_sdk_cloudwatch::Client,
    namespace: &str,
    metric: &str,
    dims: &[(&str, &str)],
    minutes_ago: i64,
    value: f64,
) {
    use aws_sdk_cloudwatch::types::{Dimension, MetricDatum};
    let mut d = MetricDatum::builder()
        .metric_name(metric)
        .value(value)
        .timestamp(aws_smithy_types::DateTime::from_millis(
            (chrono::Utc::now() - chrono::Duration::minutes(minutes_ago)).timestamp_millis(),
        ));
    for (n, v) in dims {
        d = d.dimensions(Dimension::builder().name(*n).value(*v).build());
    }
    cw.put_metric_data()
        .namespace(namespace)
        .metric_data(d.build())
        .send()
        .await
        .expect("PutMetricData");
}

/// The metrics namespace of stack `stack`'s test: its own, so that no other test's metrics
/// (the cache tests publish `RedisHitRate`) reach its checks.
fn namespace(stack: &str) -> String {
    format!("Stoker-it/{stack}")
}

/// `(check, resource) -> status` of a report.
fn statuses(r: &Report) -> HashMap<(String, String), Status> {
    r.checks
        .iter()
        .map(|c| ((c.check.clone(), c.resource.clone()), c.status))
        .collect()
}

fn status(r: &Report, check: &str, resource: &str) -> Status {
    *statuses(r)
        .get(&(check.to_owned(), resource.to_owned()))
        .unwrap_or_else(|| panic!("no {check} of {resource} in {:#?}", r.checks))
}

async fn queue(
    sqs: &aws_sdk_sqs::Client,
    name: &str,
    attrs: &[(QueueAttributeName, String)],
) -> String {
    let mut req = sqs.create_queue().queue_name(name);
    for (k, v) in attrs {
        req = req.attributes(k.clone(), v);
    }
    req.send()
        .await
        .expect("CreateQueue")
        .queue_url
        .expect("url")
}

async fn arn(sqs: &aws_sdk_sqs::Client, url: &str) -> String {
    sqs.get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .expect("GetQueueAttributes")
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
        .expect("arn")
}

async fn send(sqs: &aws_sdk_sqs::Client, url: &str, n: usize) {
    for i in 0..n {
        sqs.send_message()
            .queue_url(url)
            .message_body(format!("m{i}"))
            .send()
            .await
            .expect("SendMessage");
    }
}

/// An alarm on a metric of its own that no one publishes: missing data counts as breaching for
/// the one meant to be in ALARM, as not breaching for the others, so that the emulator's own
/// evaluation keeps each where the test puts it.
async fn alarm(cw: &aws_sdk_cloudwatch::Client, name: &str, action: bool, state: StateValue) {
    let missing = if state == StateValue::Alarm {
        "breaching"
    } else {
        "notBreaching"
    };
    let mut req = cw
        .put_metric_alarm()
        .alarm_name(name)
        .namespace("Stoker/Test")
        .metric_name(name)
        .treat_missing_data(missing)
        .statistic(Statistic::Sum)
        .period(60)
        .evaluation_periods(1)
        .threshold(0.0)
        .comparison_operator(ComparisonOperator::GreaterThanThreshold);
    if action {
        req = req.alarm_actions("arn:aws:sns:us-east-1:000000000000:stoker-alarms");
    }
    req.send().await.expect("PutMetricAlarm");
    cw.set_alarm_state()
        .alarm_name(name)
        .state_value(state)
        .state_reason("set by the test")
        .send()
        .await
        .expect("SetAlarmState");
}

#[tokio::test]
async fn every_check_passes_and_fails_on_the_emulators_and_one_failure_is_no_go() {
    let sdk = emulator().await;
    let stack = unique("rd");
    let (sqs, cw) = (
        aws_sdk_sqs::Client::new(&sdk),
        aws_sdk_cloudwatch::Client::new(&sdk),
    );
    let ddb = ministack_ddb(&sdk);

    // Tables: one protected (PITR on, a fresh backup), one bare.
    let (safe, bare) = (format!("{stack}-safe"), format!("{stack}-bare"));
    fill_on(&ddb, &safe, 3).await;
    fill_on(&ddb, &bare, 3).await;
    // A third table protected by an export only (as the backup worker records it).
    let exported = format!("{stack}-exported");
    fill_on(&ddb, &exported, 3).await;
    ddb.update_continuous_backups()
        .table_name(&safe)
        .point_in_time_recovery_specification(
            PointInTimeRecoverySpecification::builder()
                .point_in_time_recovery_enabled(true)
                .build()
                .expect("spec"),
        )
        .send()
        .await
        .expect("UpdateContinuousBackups");
    ddb.create_backup()
        .table_name(&safe)
        .backup_name(format!("{safe}-daily"))
        .send()
        .await
        .expect("CreateBackup");

    // Queues: a worker's queue with its (empty) DLQ; a busy queue without one; a DLQ holding
    // a dead letter (its source queue points at it); a queue not encrypted.
    let sse = |on: &str| (QueueAttributeName::SqsManagedSseEnabled, on.to_owned());
    let jobs_dlq = queue(&sqs, &format!("{stack}-jobs-dlq"), &[sse("true")]).await;
    let redrive = |arn: &str| {
        (
            QueueAttributeName::RedrivePolicy,
            json!({"deadLetterTargetArn": arn, "maxReceiveCount": 5}).to_string(),
        )
    };
    let jobs_dlq_arn = arn(&sqs, &jobs_dlq).await;
    queue(
        &sqs,
        &format!("{stack}-jobs"),
        &[sse("true"), redrive(&jobs_dlq_arn)],
    )
    .await;
    let busy = queue(&sqs, &format!("{stack}-busy"), &[sse("true")]).await;
    send(&sqs, &busy, 3).await;
    let dead = queue(&sqs, &format!("{stack}-graveyard"), &[sse("true")]).await;
    let dead_arn = arn(&sqs, &dead).await;
    queue(
        &sqs,
        &format!("{stack}-feeder"),
        &[sse("true"), redrive(&dead_arn)],
    )
    .await;
    send(&sqs, &dead, 1).await;
    // Someone is reading the dead letter (`stoker dlq list` hides it a while): still a failure.
    let read = sqs
        .receive_message()
        .queue_url(&dead)
        .visibility_timeout(60)
        .send()
        .await
        .expect("ReceiveMessage");
    assert_eq!(read.messages().len(), 1, "the dead letter is in flight");
    queue(&sqs, &format!("{stack}-plain"), &[sse("false")]).await;

    // Alarms: one quiet with an action, one firing, one telling nobody.
    alarm(&cw, &format!("{stack}-quiet"), true, StateValue::Ok).await;
    alarm(&cw, &format!("{stack}-firing"), true, StateValue::Alarm).await;
    alarm(&cw, &format!("{stack}-silent"), false, StateValue::Ok).await;
    // A warning-level alarm (the template's `[warning]` descriptions) in ALARM.
    let warning = format!("{stack}-slow-warning");
    alarm(&cw, &warning, true, StateValue::Alarm).await;
    cw.put_metric_alarm()
        .alarm_name(&warning)
        .alarm_description("[warning] p95 over 300 ms")
        .namespace("Stoker/Test")
        .metric_name(&warning)
        .treat_missing_data("breaching")
        .statistic(Statistic::Sum)
        .period(60)
        .evaluation_periods(1)
        .threshold(0.0)
        .comparison_operator(ComparisonOperator::GreaterThanThreshold)
        .alarm_actions("arn:aws:sns:us-east-1:000000000000:stoker-alarms")
        .send()
        .await
        .expect("PutMetricAlarm");
    cw.set_alarm_state()
        .alarm_name(&warning)
        .state_value(StateValue::Alarm)
        .state_reason("set by the test")
        .send()
        .await
        .expect("SetAlarmState");
    // A composite alarm (AWS lists them only when asked for by type).
    cw.put_composite_alarm()
        .alarm_name(format!("{stack}-composite"))
        .alarm_rule(format!("ALARM(\"{stack}-quiet\")"))
        .alarm_actions("arn:aws:sns:us-east-1:000000000000:stoker-alarms")
        .send()
        .await
        .expect("PutCompositeAlarm");
    // The worker's own no-go alarm is not one of its checks (it would keep itself firing).
    alarm(
        &cw,
        &format!("{stack}-readiness-no-go"),
        true,
        StateValue::Alarm,
    )
    .await;

    // A function with nothing to report: deployed, not invoked, its log group kept 14 days.
    // Another whose memory was changed after the optimizer applied its own (as recorded in the
    // ops table), and a third that is not deployed.
    let logs = aws_sdk_cloudwatchlogs::Client::new(&sdk);
    log_group(&logs, &format!("{stack}-fn-idle"), Some(14)).await;
    log_group(&logs, &format!("{stack}-fn-edited"), Some(14)).await;
    stoker_it::kit::create_ops_table(&sdk, &format!("{stack}-ops"))
        .await
        .expect("ops table");
    for f in ["fn-idle", "fn-edited"] {
        stoker_it::lambda::deploy_function(&sdk, &format!("{stack}-{f}"), b"#!/bin/sh\n", &[])
            .await
            .expect("CreateFunction");
    }
    record_applied_change(&sdk, &stack, &format!("{stack}-fn-edited"), 2048).await;
    record_applied_change(&sdk, &stack, &format!("{stack}-fn-idle"), 128).await;
    // The optimizer's last advice: fn-idle as it runs (128 MB, 30 s), fn-edited at 512 MB.
    let ddb = aws_sdk_dynamodb::Client::new(&sdk);
    for (f, recommended) in [("fn-idle", None), ("fn-edited", Some(512))] {
        let advice = stoker_optimizer::advice::Advice {
            finding: stoker_optimizer::recommend::Finding::NotOptimized,
            memory_mb: 128,
            timeout_s: 30,
            recommended_memory_mb: recommended,
            recommended_timeout_s: None,
            estimated_monthly_savings_usd: None,
            at: chrono::Utc::now().to_rfc3339(),
        };
        let (table, function) = (format!("{stack}-ops"), format!("{stack}-{f}"));
        stoker_optimizer::advice::record(&ddb, &table, &function, &advice)
            .await
            .expect("advice");
    }
    record_export(&sdk, &stack, &exported, 1).await;

    // The safe table passed a restore drill yesterday (the backup worker's metric); the bare
    // table was throttled a few minutes ago.
    let drill = [("Worker", "backup"), ("Table", safe.as_str())];
    datum(
        &cw,
        &namespace(&stack),
        "BackupDrillPassed",
        &drill,
        20 * 60,
        1.0,
    )
    .await;
    let throttled = [("TableName", bare.as_str())];
    datum(
        &cw,
        "AWS/DynamoDB",
        "WriteThrottleEvents",
        &throttled,
        3,
        4.0,
    )
    .await;
    // SQS's age of the oldest message: an hour on `busy`, half a minute on `jobs`.
    for (queue, age) in [("busy", 3600.0), ("jobs", 30.0)] {
        let name = format!("{stack}-{queue}");
        let dims = [("QueueName", name.as_str())];
        datum(
            &cw,
            "AWS/SQS",
            "ApproximateAgeOfOldestMessage",
            &dims,
            3,
            age,
        )
        .await;
    }
    let w = worker(&stack).await;
    let q = |n: &str| format!("{stack}-{n}");
    let req = ReadinessRequest {
        tables: vec![
            safe.clone(),
            bare.clone(),
            exported.clone(),
            format!("{stack}-missing"),
        ],
        queues: ["jobs-dlq", "jobs", "busy", "graveyard", "feeder", "plain"]
            .map(q)
            .to_vec(),
        alarm_prefix: Some(format!("{stack}-")),
        tag: None,
        functions: vec![q("fn-idle"), q("fn-edited"), q("fn-gone")],
        thresholds: Thresholds {
            max_backup_age_hours: 26,
            max_queue_depth: 2,
            ..Thresholds::default()
        },
    };
    let r = w.check(&req).await.expect("in scope");
    assert_eq!(status(&r, "table.pitr", &safe), Status::Pass);
    assert_eq!(status(&r, "table.backup", &safe), Status::Pass);
    assert_eq!(status(&r, "table.pitr", &bare), Status::Fail);
    assert_eq!(status(&r, "table.backup", &bare), Status::Fail);
    let export = r
        .checks
        .iter()
        .find(|c| c.check == "table.backup" && c.resource == exported)
        .expect("the exported table's backup check");
    assert_eq!(export.status, Status::Pass, "{export:?}");
    assert!(export.evidence.contains("(export exp-1)"), "{export:?}");
    assert_eq!(status(&r, "table.throttles", &safe), Status::Pass);
    assert_eq!(status(&r, "table.throttles", &bare), Status::Warn);
    // Encrypted at rest (AWS owned keys on the emulator); a missing table's cannot be read.
    assert_eq!(status(&r, "table.encryption", &safe), Status::Pass);
    assert_eq!(status(&r, "table.encryption", &q("missing")), Status::Fail);
    assert_eq!(status(&r, "table.drill", &safe), Status::Pass);
    assert_eq!(status(&r, "table.drill", &bare), Status::Warn);
    let missing = r
        .checks
        .iter()
        .find(|c| c.check == "table.pitr" && c.resource == q("missing"))
        .expect("the missing table's check");
    assert_eq!(missing.status, Status::Fail);
    assert!(
        missing
            .evidence
            .contains("could not read (DescribeContinuousBackups"),
        "{missing:?}"
    );
    assert_eq!(status(&r, "queue.age", &q("busy")), Status::Warn, "{r:#?}");
    assert_eq!(status(&r, "queue.age", &q("jobs")), Status::Pass);
    assert!(
        !r.checks
            .iter()
            .any(|c| c.check == "queue.age" && c.resource == q("jobs-dlq")),
        "a DLQ's age is not checked: its emptiness is"
    );
    assert_eq!(status(&r, "function.exists", &q("fn-idle")), Status::Pass);
    assert_eq!(status(&r, "function.config", &q("fn-idle")), Status::Pass);
    assert_eq!(status(&r, "function.exists", &q("fn-gone")), Status::Fail);
    assert_eq!(status(&r, "function.config", &q("fn-edited")), Status::Warn);
    assert_eq!(
        status(&r, "function.recommendation", &q("fn-idle")),
        Status::Pass,
        "{r:#?}"
    );
    assert_eq!(
        status(&r, "function.recommendation", &q("fn-edited")),
        Status::Warn,
        "{r:#?}"
    );
    assert!(
        !r.checks
            .iter()
            .any(|c| c.resource == q("fn-gone") && c.check != "function.exists"),
        "a function that is not there is one failure, not one per metric: {r:#?}"
    );
    assert_eq!(status(&r, "queue.dlq_empty", &q("jobs-dlq")), Status::Pass);
    assert_eq!(status(&r, "queue.dlq_empty", &q("graveyard")), Status::Fail);
    assert_eq!(status(&r, "queue.depth", &q("jobs")), Status::Pass);
    assert_eq!(status(&r, "queue.depth", &q("busy")), Status::Warn);
    assert_eq!(status(&r, "queue.redrive", &q("jobs")), Status::Pass);
    assert_eq!(status(&r, "queue.redrive", &q("busy")), Status::Warn);
    assert_eq!(status(&r, "queue.encryption", &q("jobs")), Status::Pass);
    assert_eq!(status(&r, "queue.encryption", &q("plain")), Status::Fail);
    assert_eq!(status(&r, "alarm.state", &q("quiet")), Status::Pass);
    assert_eq!(
        status(&r, "alarm.state", &q("slow-warning")),
        Status::Warn,
        "a warning-level alarm firing warns"
    );
    assert_eq!(
        status(&r, "alarm.state", &q("firing")),
        Status::Fail,
        "{:#?}",
        r.checks
            .iter()
            .filter(|c| c.check == "alarm.state")
            .collect::<Vec<_>>()
    );
    assert_eq!(status(&r, "alarm.action", &q("quiet")), Status::Pass);
    assert_eq!(status(&r, "alarm.action", &q("silent")), Status::Warn);
    assert_eq!(status(&r, "alarm.action", &q("composite")), Status::Pass);
    assert!(
        !r.checks.iter().any(|c| c.resource == q("readiness-no-go")),
        "{r:#?}"
    );
    assert!(!r.go, "{r:#?}");
    assert_eq!(r.checks[0].status, Status::Fail, "failures come first");

    // Only what is healthy: go. No alarm under a prefix: no-go.
    let healthy = ReadinessRequest {
        tables: vec![safe.clone()],
        queues: vec![q("jobs"), q("jobs-dlq")],
        alarm_prefix: Some(q("quiet")),
        tag: None,
        functions: vec![q("fn-idle")],
        thresholds: Thresholds::default(),
    };
    let r = w.check(&healthy).await.expect("in scope");
    assert!(r.go, "{r:#?}");
    assert_eq!((r.failed, r.warned, r.passed), (0, 0, 22), "{r:#?}");
    // A named queue that does not exist fails, and does not hide the others.
    let with_missing = ReadinessRequest {
        queues: vec![q("no-such-queue"), q("jobs")],
        ..healthy.clone()
    };
    let r = w.check(&with_missing).await.expect("in scope");
    assert_eq!(
        status(&r, "queue.exists", &q("no-such-queue")),
        Status::Fail
    );
    assert_eq!(status(&r, "queue.depth", &q("jobs")), Status::Pass);
    let none = ReadinessRequest {
        alarm_prefix: Some(q("nothing-here")),
        ..healthy
    };
    let r = w.check(&none).await.expect("in scope");
    assert!(!r.go);
    assert_eq!(
        status(&r, "alarm.exists", &format!("{}*", q("nothing-here"))),
        Status::Fail
    );

    // A backup older than the limit fails (the same backup, seen 27 hours later).
    let later = chrono::Utc::now() + chrono::Duration::hours(27);
    let ops = stoker_readiness::tables::Ops {
        ddb: &w.optimizer.ddb,
        table: &w.optimizer.ops_table,
    };
    let aged = stoker_readiness::tables::check(&w.ddb, &ops, &safe, 26, later).await;
    let backup = aged
        .iter()
        .find(|c| c.check == "table.backup")
        .expect("backup check");
    assert_eq!(backup.status, Status::Fail, "{backup:?}");
    assert!(backup.evidence.contains("older than 26 h"), "{backup:?}");

    // Anything outside the stack is refused for good, before any check.
    let outside = ReadinessRequest {
        tables: vec!["payroll".into()],
        ..ReadinessRequest::default()
    };
    let e = w.check(&outside).await.expect_err("out of scope");
    assert_eq!(e.code(), stoker_readiness::scope::OUT_OF_SCOPE, "{e}");

    for f in ["fn-idle", "fn-edited"] {
        let _ = logs
            .delete_log_group()
            .log_group_name(format!("/aws/lambda/{stack}-{f}"))
            .send()
            .await;
        let _ = aws_sdk_lambda::Client::new(&sdk)
            .delete_function()
            .function_name(format!("{stack}-{f}"))
            .send()
            .await;
    }
    let _ = aws_sdk_dynamodb::Client::new(&sdk)
        .delete_table()
        .table_name(format!("{stack}-ops"))
        .send()
        .await;
    for t in [&safe, &bare, &exported] {
        let _ = ddb.delete_table().table_name(t).send().await;
    }
    for n in ["jobs-dlq", "jobs", "busy", "graveyard", "feeder", "plain"] {
        if let Ok(u) = sqs.get_queue_url().queue_name(q(n)).send().await {
            let _ = sqs
                .delete_queue()
                .queue_url(u.queue_url().unwrap_or_default())
                .send()
                .await;
        }
    }
    let _ = cw
        .delete_alarms()
        .alarm_names(q("quiet"))
        .alarm_names(q("firing"))
        .alarm_names(q("silent"))
        .alarm_names(q("readiness-no-go"))
        .alarm_names(q("composite"))
        .send()
        .await;
}

/// The backup worker's record of an export of `table` made `hours_ago`, as
/// `stoker_backup` writes it.
async fn record_export(sdk: &aws_config::SdkConfig, stack: &str, table: &str, hours_ago: i64) {
    use aws_sdk_dynamodb::types::AttributeValue::S;
    let at = (chrono::Utc::now() - chrono::Duration::hours(hours_ago)).to_rfc3339();
    aws_sdk_dynamodb::Client::new(sdk)
        .put_item()
        .table_name(format!("{stack}-ops"))
        .item("pk", S(format!("BACKUP#{table}")))
        .item("sk", S(format!("{at}#export#exp-1")))
        .item("kind", S("export".into()))
        .item("name", S("exp-1".into()))
        .send()
        .await
        .expect("PutItem");
}

/// The optimizer's record of having applied `memory_mb` MB (and 30 s) to `function`, as
/// `stoker_optimizer::apply` writes it.
async fn record_applied_change(
    sdk: &aws_config::SdkConfig,
    stack: &str,
    function: &str,
    memory_mb: u32,
) {
    use aws_sdk_dynamodb::types::AttributeValue::S;
    let change = stoker_optimizer::apply::Change {
        function: function.to_owned(),
        previous_memory_mb: 1024,
        previous_timeout_s: 30,
        memory_mb,
        timeout_s: 30,
        alias: "live".into(),
        previous_alias_version: None,
        version: Some("1".into()),
        status: "applied".into(),
        at: chrono::Utc::now().to_rfc3339(),
        event_id: "e".into(),
    };
    aws_sdk_dynamodb::Client::new(sdk)
        .put_item()
        .table_name(format!("{stack}-ops"))
        .item("pk", S(format!("OPTIMIZER#{function}")))
        .item("sk", S("LATEST".into()))
        .item("change", S(serde_json::to_string(&change).expect("json")))
        .send()
        .await
        .expect("PutItem");
}

/// REPORT lines of `function` a few minutes ago, one per invocation, with an `Init Duration`
/// where given (a cold start).
async fn report_lines(
    logs: &aws_sdk_cloudwatchlogs::Client,
    function: &str,
    inits: &[Option<f64>],
) {
    let group = format!("/aws/lambda/{function}");
    logs.create_log_stream()
        .log_group_name(&group)
        .log_stream_name("reports")
        .send()
        .await
        .expect("CreateLogStream");
    let at = (chrono::Utc::now() - chrono::Duration::minutes(5)).timestamp_millis();
    let mut put = logs
        .put_log_events()
        .log_group_name(&group)
        .log_stream_name("reports");
    for (i, init) in inits.iter().enumerate() {
        let init = init
            .map(|ms| format!("Init Duration: {ms} ms\t"))
            .unwrap_or_default();
        put = put.log_events(
            aws_sdk_cloudwatchlogs::types::InputLogEvent::builder()
                .timestamp(at + i as i64)
                .message(format!(
                    "REPORT RequestId: {i}\tDuration: 12.0 ms\tBilled Duration: 13 ms\tMemory Size: 128 MB\tMax Memory Used: 40 MB\t{init}"
                ))
                .build()
                .expect("log event"),
        );
    }
    put.send().await.expect("PutLogEvents");
}

/// A log group for `function`, kept `days` (forever when `None`).
async fn log_group(logs: &aws_sdk_cloudwatchlogs::Client, function: &str, days: Option<i32>) {
    let name = format!("/aws/lambda/{function}");
    logs.create_log_group()
        .log_group_name(&name)
        .send()
        .await
        .expect("CreateLogGroup");
    if let Some(d) = days {
        logs.put_retention_policy()
            .log_group_name(&name)
            .retention_in_days(d)
            .send()
            .await
            .expect("PutRetentionPolicy");
    }
}

/// `AWS/Lambda` metrics of `function` a few minutes ago: `invocations`, `errors`, `throttles`
/// (all in one minute), and durations of `fast_ms` for 90 % of the invocations and `slow_ms`
/// for the rest.
async fn lambda_metrics(
    cw: &aws_sdk_cloudwatch::Client,
    function: &str,
    (invocations, errors, throttles): (f64, f64, f64),
    (fast_ms, slow_ms): (f64, f64),
) {
    use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
    let dim = Dimension::builder()
        .name("FunctionName")
        .value(function)
        .build();
    let at = aws_smithy_types::DateTime::from_millis(
        (chrono::Utc::now() - chrono::Duration::minutes(5)).timestamp_millis(),
    );
    let count = |name: &str, v: f64| {
        MetricDatum::builder()
            .metric_name(name)
            .dimensions(dim.clone())
            .timestamp(at)
            .unit(StandardUnit::Count)
            .value(v)
            .build()
    };
    let duration = MetricDatum::builder()
        .metric_name("Duration")
        .dimensions(dim.clone())
        .timestamp(at)
        .unit(StandardUnit::Milliseconds)
        .values(fast_ms)
        .counts((invocations * 0.9).round())
        .values(slow_ms)
        .counts((invocations * 0.1).round())
        .build();
    cw.put_metric_data()
        .namespace("AWS/Lambda")
        .metric_data(count("Invocations", invocations))
        .metric_data(count("Errors", errors))
        .metric_data(count("Throttles", throttles))
        .metric_data(duration)
        .send()
        .await
        .expect("PutMetricData");
}

#[tokio::test]
async fn function_checks_pass_and_fail_on_their_metrics_and_log_groups() {
    let sdk = emulator().await;
    let stack = unique("rdf");
    let cw = aws_sdk_cloudwatch::Client::new(&sdk);
    let logs = aws_sdk_cloudwatchlogs::Client::new(&sdk);
    let f = |n: &str| format!("{stack}-{n}");
    // Healthy: few errors, no throttles, fast, logs kept 14 days.
    lambda_metrics(&cw, &f("fine"), (1000.0, 2.0, 0.0), (40.0, 90.0)).await;
    log_group(&logs, &f("fine"), Some(14)).await;
    // Middling: 3 % errors and 5 throttles in a minute (both warn).
    lambda_metrics(&cw, &f("middling"), (1000.0, 30.0, 5.0), (40.0, 90.0)).await;
    // Failing: 20 % errors, 30 throttles in a minute, a slow tail, logs kept forever.
    lambda_metrics(&cw, &f("broken"), (100.0, 20.0, 30.0), (100.0, 900.0)).await;
    log_group(&logs, &f("broken"), None).await;
    // Cold starts in their REPORT lines: 200 ms, and 1.5 s (above the seeds' 1 s).
    report_lines(&logs, &f("fine"), &[Some(200.0), None, None]).await;
    report_lines(&logs, &f("broken"), &[Some(1500.0), None]).await;
    // No log group at all.
    for n in ["fine", "broken", "unlogged", "peak", "middling"] {
        stoker_it::lambda::deploy_function(&sdk, &f(n), b"#!/bin/sh\n", &[])
            .await
            .expect("CreateFunction");
    }
    // Warm-up passes: `fine` warmed 3 minutes ago, `broken`'s last pass failed, `unlogged`
    // was last warmed 5 hours ago though the stack's baseline warm-up runs every 15 minutes.
    let ns = namespace(&stack);
    // `peak` was last warmed 5 hours ago too, but only the office-hours cron schedule names it.
    for (n, minutes_ago, warmed) in [
        ("fine", 3, 1.0),
        ("broken", 3, 0.0),
        ("unlogged", 300, 1.0),
        ("peak", 300, 1.0),
    ] {
        let dims = [("Worker", "warmup"), ("Function", &f(n))];
        datum(&cw, &ns, "WarmupTargetWarmed", &dims, minutes_ago, warmed).await;
    }
    let events = aws_sdk_eventbridge::Client::new(&sdk);
    // The baseline's input names the three (as the template's WarmupBaselineTargetsJson does);
    // the peak's, `peak` (and `fine`, also named every 15 minutes by the baseline).
    let baseline = [
        f("fine"),
        f("broken"),
        format!(
            "arn:aws:lambda:us-east-1:000000000000:function:{}",
            f("unlogged")
        ),
    ];
    let schedules = [
        ("warmup-baseline", "rate(15 minutes)", baseline.to_vec()),
        (
            "warmup-peak",
            "cron(0 8 ? * MON-FRI *)",
            vec![f("peak"), f("fine")],
        ),
    ];
    for (rule, expr, targets) in &schedules {
        events
            .put_rule()
            .name(f(rule))
            .schedule_expression(*expr)
            .send()
            .await
            .expect("PutRule");
        let targets: Vec<_> = targets.iter().map(|t| json!({"function": t})).collect();
        let input = json!({"kind": "stoker.warmup.requested", "version": 1,
            "source": "stoker.schedule", "requested_by": format!("schedule:{rule}"),
            "payload": {"targets": targets}});
        events
            .put_targets()
            .rule(f(rule))
            .targets(
                aws_sdk_eventbridge::types::Target::builder()
                    .id("queue")
                    .arn(format!("arn:aws:sqs:us-east-1:000000000000:{stack}-warmup"))
                    .input(input.to_string())
                    .build()
                    .expect("target"),
            )
            .send()
            .await
            .expect("PutTargets");
    }
    let w = worker(&stack).await;
    let req = ReadinessRequest {
        tables: vec![format!("{stack}-ops")],
        queues: vec![],
        functions: vec![
            f("fine"),
            f("broken"),
            f("unlogged"),
            f("peak"),
            f("middling"),
        ],
        ..ReadinessRequest::default()
    };
    let r = w.check(&req).await.expect("in scope");
    assert_eq!(
        status(&r, "function.errors", &f("fine")),
        Status::Pass,
        "{r:#?}"
    );
    assert_eq!(
        status(&r, "function.errors", &f("broken")),
        Status::Fail,
        "{r:#?}"
    );
    assert_eq!(status(&r, "function.throttles", &f("fine")), Status::Pass);
    assert_eq!(status(&r, "function.throttles", &f("broken")), Status::Fail);
    assert_eq!(
        status(&r, "function.errors", &f("middling")),
        Status::Warn,
        "{r:#?}"
    );
    assert_eq!(
        status(&r, "function.throttles", &f("middling")),
        Status::Warn
    );
    assert_eq!(
        status(&r, "function.p95", &f("fine")),
        Status::Pass,
        "{r:#?}"
    );
    assert_eq!(
        status(&r, "function.p95", &f("broken")),
        Status::Warn,
        "{r:#?}"
    );
    assert_eq!(status(&r, "function.logs", &f("fine")), Status::Pass);
    assert_eq!(status(&r, "function.logs", &f("broken")), Status::Warn);
    assert_eq!(status(&r, "function.logs", &f("unlogged")), Status::Warn);
    assert_eq!(status(&r, "function.errors", &f("unlogged")), Status::Pass);
    assert_eq!(status(&r, "function.cold_starts", &f("fine")), Status::Pass);
    assert_eq!(
        status(&r, "function.cold_starts", &f("broken")),
        Status::Warn
    );
    assert_eq!(
        status(&r, "function.cold_starts", &f("unlogged")),
        Status::Pass
    );

    assert_eq!(
        status(&r, "function.warmed", &f("fine")),
        Status::Pass,
        "{r:#?}"
    );
    let warmed = |n: &str| {
        r.checks
            .iter()
            .find(|c| c.check == "function.warmed" && c.resource == f(n))
            .expect("function.warmed")
            .clone()
    };
    assert!(
        warmed("broken").evidence.contains("failed to warm"),
        "{:?}",
        warmed("broken")
    );
    assert_eq!(warmed("broken").status, Status::Warn);
    assert!(
        warmed("unlogged").evidence.contains("more than 30 min"),
        "{:?}",
        warmed("unlogged")
    );
    assert_eq!(warmed("unlogged").status, Status::Warn);
    assert_eq!(
        warmed("peak").status,
        Status::Pass,
        "a target of cron schedules only is not held to an interval: {:?}",
        warmed("peak")
    );
    // EventBridge out of reach: a warm-up target's interval cannot be checked (it fails), and
    // neither can the stack's schedules.
    let mut blind = w.clone();
    blind.rules = aws_sdk_eventbridge::Client::from_conf(
        aws_sdk_eventbridge::config::Builder::from(&sdk)
            .endpoint_url(UNREACHABLE)
            .retry_config(aws_config::retry::RetryConfig::disabled())
            .build(),
    );
    let r = blind.check(&req).await.expect("in scope");
    let unread = r
        .checks
        .iter()
        .find(|c| c.check == "function.warmed" && c.resource == f("fine"))
        .expect("function.warmed");
    assert_eq!(unread.status, Status::Fail, "{unread:?}");
    assert!(unread.evidence.contains("ListRules"), "{unread:?}");
    let r = blind
        .check(&ReadinessRequest::default())
        .await
        .expect("in scope");
    assert_eq!(
        status(&r, "schedule.enabled", &format!("{stack}-*")),
        Status::Fail
    );
    for (rule, _, _) in &schedules {
        let _ = events
            .remove_targets()
            .rule(f(rule))
            .ids("queue")
            .send()
            .await;
        let _ = events.delete_rule().name(f(rule)).send().await;
    }

    // A function outside the stack and the function prefix is refused for good.
    let outside = ReadinessRequest {
        functions: vec!["payroll-api".into()],
        ..ReadinessRequest::default()
    };
    let e = w.check(&outside).await.expect_err("out of scope");
    assert_eq!(e.code(), stoker_readiness::scope::OUT_OF_SCOPE, "{e}");
    for n in ["fine", "broken", "unlogged", "peak", "middling"] {
        let _ = aws_sdk_lambda::Client::new(&sdk)
            .delete_function()
            .function_name(f(n))
            .send()
            .await;
    }
    for n in ["fine", "broken"] {
        let _ = logs
            .delete_log_group()
            .log_group_name(format!("/aws/lambda/{}", f(n)))
            .send()
            .await;
    }
}

#[tokio::test]
async fn the_worker_binary_reports_no_go_for_a_queued_request_and_dead_letters_a_bad_one() {
    let sdk = emulator().await;
    let env = KitEnv::create(&sdk, "rdq", 3, false)
        .await
        .expect("resources");
    // Its own queues are the stack's: `<name>` and `<name>-dlq`; the ops table has no backup.
    // The stack is the resources' prefix: its queues are `<stack>-...`.
    let _worker = env
        .spawn_worker(
            workspace_bin("stoker-readiness").to_str().expect("path"),
            &[("STOKER_STACK", "it-rdq")],
        )
        .expect("spawn the worker");
    let good = Envelope::new(
        ReadinessRequest {
            tables: vec![env.table.clone()],
            queues: vec![env.name.clone(), format!("{}-dlq", env.name)],
            ..ReadinessRequest::default()
        },
        SOURCE_OPERATOR,
        "operator:test",
    );
    env.send(&serde_json::to_string(&good).expect("json"), None)
        .await
        .expect("send");
    let mut bad = serde_json::to_value(&good).expect("json");
    bad["id"] = json!(uuid::Uuid::now_v7());
    bad["payload"]["thresholds"] = json!({ "max_backup_age_hours": 0 });
    env.send(&bad.to_string(), None).await.expect("send");
    let mut outside = serde_json::to_value(&good).expect("json");
    outside["id"] = json!(uuid::Uuid::now_v7());
    outside["payload"]["tables"] = json!(["payroll"]);
    env.send(&outside.to_string(), None).await.expect("send");
    let report = env
        .wait_outcome("readiness", &good.id.to_string(), Duration::from_secs(60))
        .await;
    assert_eq!(report["go"], false, "{report}");
    let checks = report["checks"].as_array().expect("checks");
    let of = |check: &str| {
        checks
            .iter()
            .find(|c| c["check"] == check)
            .unwrap_or_else(|| panic!("no {check} in {report}"))
    };
    assert_eq!(of("table.backup")["status"], "fail", "{report}");
    assert_eq!(
        of("queue.dlq_empty")["resource"],
        format!("{}-dlq", env.name)
    );
    let table = stoker_readiness::table(&report).expect("a text table");
    assert!(table.starts_with("NO-GO: "), "{table}");
    let reasons = env.dead_reasons(2, Duration::from_secs(30)).await;
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("thresholds.max_backup_age_hours")),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("`payroll` is outside what readiness may check")),
        "{reasons:?}"
    );
    env.delete().await;
}

/// The stack's schedules (on the stack's own verdict only): enabled or not, and whether their
/// worker was seen completing jobs (the kit's `JobsCompleted`) within two intervals.
#[tokio::test]
async fn schedules_pass_when_enabled_and_running_and_warn_when_off_or_idle() {
    use aws_sdk_eventbridge::types::RuleState;
    let sdk = emulator().await;
    let stack = unique("rds");
    let events = aws_sdk_eventbridge::Client::new(&sdk);
    let rules = [
        (
            "WarmupScheduleRule-T1",
            "rate(5 minutes)",
            RuleState::Enabled,
        ),
        ("BackupScheduleRule-T2", "rate(1 day)", RuleState::Disabled),
        (
            "OptimizerScheduleRule-T3",
            "rate(1 hour)",
            RuleState::Enabled,
        ),
        // Named by the template, not by CloudFormation.
        ("warmup-baseline", "rate(1 hour)", RuleState::Enabled),
    ];
    for (id, expr, state) in &rules {
        events
            .put_rule()
            .name(format!("{stack}-{id}"))
            .schedule_expression(*expr)
            .state(state.clone())
            .send()
            .await
            .expect("PutRule");
    }
    // Warm-up jobs completed two minutes ago; no optimizer job at all. The cache-warmer
    // measured Redis' hit rate at 55 % ten minutes ago.
    let cw = aws_sdk_cloudwatch::Client::new(&sdk);
    let ns = namespace(&stack);
    datum(
        &cw,
        &ns,
        "RedisHitRate",
        &[("Worker", "cache-warmer")],
        10,
        55.0,
    )
    .await;
    datum(&cw, &ns, "JobsCompleted", &[("Worker", "warmup")], 2, 3.0).await;
    // Cost per use: the warm-up's jobs cost $0.05 in the last hour; the one function it warms
    // was invoked 100 times: $0.50 per 1,000, above the default $0.10.
    let warmed_fn = format!("{stack}-api");
    datum(&cw, &ns, "JobCost", &[("Worker", "warmup")], 20, 0.05).await;
    let by_fn = [("Worker", "warmup"), ("Function", warmed_fn.as_str())];
    datum(&cw, &ns, "WarmupTargetWarmed", &by_fn, 20, 1.0).await;
    let by_name = [("FunctionName", warmed_fn.as_str())];
    datum(&cw, "AWS/Lambda", "Invocations", &by_name, 20, 100.0).await;
    let w = worker(&stack).await;
    let r = w
        .check(&ReadinessRequest::default())
        .await
        .expect("in scope");
    let rule = |id: &str| format!("{stack}-{id}");
    assert_eq!(
        status(&r, "schedule.enabled", &rule("WarmupScheduleRule-T1")),
        Status::Pass
    );
    assert_eq!(
        status(&r, "schedule.ran", &rule("WarmupScheduleRule-T1")),
        Status::Pass,
        "{r:#?}"
    );
    assert_eq!(
        status(&r, "schedule.enabled", &rule("BackupScheduleRule-T2")),
        Status::Warn
    );
    assert_eq!(
        status(&r, "schedule.enabled", &rule("OptimizerScheduleRule-T3")),
        Status::Pass
    );
    assert_eq!(
        status(&r, "schedule.ran", &rule("OptimizerScheduleRule-T3")),
        Status::Warn
    );
    assert_eq!(
        status(&r, "schedule.ran", &rule("warmup-baseline")),
        Status::Pass
    );
    let redis = r
        .checks
        .iter()
        .find(|c| c.check == "cache.redis")
        .expect("the Redis check");
    assert_eq!(redis.status, Status::Warn, "{redis:?}");
    let per_use = r
        .checks
        .iter()
        .find(|c| c.check == "cost.per_use")
        .expect("the cost per use");
    assert_eq!(per_use.status, Status::Warn, "{per_use:?}");
    assert!(
        per_use
            .evidence
            .starts_with("0.5000 USD per 1,000 invocations of the 1 warmed"),
        "{per_use:?}"
    );
    assert!(redis.evidence.contains("hit rate 55.0 %"), "{redis:?}");
    // The same $0.50 passes under the stack's own limit of $1 (its alarm's threshold), and a
    // request's limit overrides the stack's.
    let mut lenient = w.clone();
    lenient.max_usd_per_1000_invocations = 1.0;
    let r1 = lenient
        .check(&ReadinessRequest::default())
        .await
        .expect("in scope");
    assert_eq!(
        status(&r1, "cost.per_use", "stoker"),
        Status::Pass,
        "{r1:#?}"
    );
    let mut strict = ReadinessRequest::default();
    strict.thresholds.max_usd_per_1000_invocations = Some(0.2);
    let r1 = lenient.check(&strict).await.expect("in scope");
    assert_eq!(
        status(&r1, "cost.per_use", "stoker"),
        Status::Warn,
        "{r1:#?}"
    );
    // A hit rate of 80 % passes, 30 % (below the seeds' 40 %) fails.
    for (rate, expected) in [(80.0, Status::Pass), (30.0, Status::Fail)] {
        let mut measured = w.clone();
        measured.namespace = namespace(&format!("{stack}-hit{rate}"));
        let dims = [("Worker", "cache-warmer")];
        datum(&cw, &measured.namespace, "RedisHitRate", &dims, 10, rate).await;
        let r = measured
            .check(&ReadinessRequest::default())
            .await
            .expect("in scope");
        assert_eq!(
            status(&r, "cache.redis", "redis"),
            expected,
            "{rate}: {r:#?}"
        );
    }
    // Nothing measured in another namespace: no Redis to check, unless caches are warmed on a
    // schedule (then it is unreachable, or the cache-warmer fails).
    for (scheduled, expected) in [(false, Status::Pass), (true, Status::Fail)] {
        let mut quiet = w.clone();
        quiet.namespace = namespace(&format!("{stack}-quiet"));
        quiet.cache_scheduled = scheduled;
        let r = quiet
            .check(&ReadinessRequest::default())
            .await
            .expect("in scope");
        assert_eq!(status(&r, "cache.redis", "redis"), expected, "{r:#?}");
    }
    assert!(
        !r.checks
            .iter()
            .any(|c| c.check == "schedule.ran" && c.resource == rule("BackupScheduleRule-T2")),
        "a disabled schedule is not expected to run"
    );
    // The export bucket (named as the template names it), on the stack's verdict: public
    // access blocked and versioned; then opened.
    let s3 = aws_sdk_s3::Client::new(&sdk);
    let bucket = format!("{stack}-exports-000000000000");
    s3.create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("CreateBucket");
    let block = |all: bool| {
        aws_sdk_s3::types::PublicAccessBlockConfiguration::builder()
            .block_public_acls(true)
            .ignore_public_acls(true)
            .block_public_policy(all)
            .restrict_public_buckets(all)
            .build()
    };
    s3.put_public_access_block()
        .bucket(&bucket)
        .public_access_block_configuration(block(true))
        .send()
        .await
        .expect("PutPublicAccessBlock");
    let mut with_bucket = w.clone();
    with_bucket.export_bucket = Some(bucket.clone());
    let r = with_bucket
        .check(&ReadinessRequest::default())
        .await
        .expect("in scope");
    assert_eq!(status(&r, "bucket.public_access", &bucket), Status::Pass);
    assert_eq!(status(&r, "bucket.versioning", &bucket), Status::Warn);
    s3.put_bucket_versioning()
        .bucket(&bucket)
        .versioning_configuration(
            aws_sdk_s3::types::VersioningConfiguration::builder()
                .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .expect("PutBucketVersioning");
    s3.put_public_access_block()
        .bucket(&bucket)
        .public_access_block_configuration(block(false))
        .send()
        .await
        .expect("PutPublicAccessBlock");
    let r = with_bucket
        .check(&ReadinessRequest::default())
        .await
        .expect("in scope");
    let open = r
        .checks
        .iter()
        .find(|c| c.check == "bucket.public_access")
        .expect("the bucket's check");
    assert_eq!(open.status, Status::Fail, "{open:?}");
    assert!(
        open.evidence
            .contains("BlockPublicPolicy, RestrictPublicBuckets off"),
        "{open:?}"
    );
    assert_eq!(status(&r, "bucket.versioning", &bucket), Status::Pass);
    let _ = s3.delete_bucket().bucket(&bucket).send().await;

    // A narrowed request does not look at the schedules.
    let narrowed = ReadinessRequest {
        queues: vec![format!("{stack}-warmup")],
        ..ReadinessRequest::default()
    };
    let r = w.check(&narrowed).await.expect("in scope");
    assert!(
        !r.checks.iter().any(|c| c.check.starts_with("schedule.")
            || c.check.starts_with("bucket.")
            || c.check.starts_with("cache.")),
        "{r:#?}"
    );
    for (id, _, _) in &rules {
        let _ = events
            .delete_rule()
            .name(format!("{stack}-{id}"))
            .send()
            .await;
    }
}

/// `role.actions`: the stack's roles read back from IAM. Named actions pass; a wildcard in an
/// inline policy, a `NotAction` in an attached managed policy, and a missing role fail.
#[tokio::test]
async fn roles_with_named_actions_pass_and_wildcards_or_missing_roles_fail() {
    let sdk = emulator().await;
    let stack = unique("rdr");
    let iam = aws_sdk_iam::Client::new(&sdk);
    let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]});
    let named = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage"], "Resource": "*"}]});
    let role = |w: Worker| format!("{stack}-{}", w.name());
    for w in Worker::ALL.into_iter().filter(|w| *w != Worker::Readiness) {
        iam.create_role()
            .role_name(role(w))
            .assume_role_policy_document(trust.to_string())
            .send()
            .await
            .expect("CreateRole");
        iam.put_role_policy()
            .role_name(role(w))
            .policy_name("worker")
            .policy_document(named.to_string())
            .send()
            .await
            .expect("PutRolePolicy");
    }
    // A statement added by hand to the backup role's policies.
    iam.put_role_policy()
        .role_name(role(Worker::Backup))
        .policy_name("debugging")
        .policy_document(
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                "Action": "s3:*", "Resource": "*"}]})
            .to_string(),
        )
        .send()
        .await
        .expect("PutRolePolicy");
    // A managed policy attached to the optimizer's role: everything but IAM.
    let policy = iam
        .create_policy()
        .policy_name(format!("{stack}-broad"))
        .policy_document(
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                "NotAction": "iam:*", "Resource": "*"}]})
            .to_string(),
        )
        .send()
        .await
        .expect("CreatePolicy")
        .policy
        .and_then(|p| p.arn)
        .expect("policy arn");
    iam.attach_role_policy()
        .role_name(role(Worker::Optimizer))
        .policy_arn(&policy)
        .send()
        .await
        .expect("AttachRolePolicy");

    let r = worker(&stack)
        .await
        .check(&ReadinessRequest::default())
        .await
        .expect("in scope");
    let of = |w: Worker| {
        r.checks
            .iter()
            .find(|c| c.check == "role.actions" && c.resource == role(w))
            .unwrap_or_else(|| panic!("no role.actions check of {w}: {r:#?}"))
    };
    for w in [Worker::Warmup, Worker::CacheWarmer, Worker::Rollup] {
        assert_eq!(of(w).status, Status::Pass, "{:?}", of(w));
    }
    let backup = of(Worker::Backup);
    assert_eq!(backup.status, Status::Fail, "{backup:?}");
    assert!(backup.evidence.contains("s3:* (debugging)"), "{backup:?}");
    let optimizer = of(Worker::Optimizer);
    assert_eq!(optimizer.status, Status::Fail, "{optimizer:?}");
    assert!(optimizer.evidence.contains("NotAction"), "{optimizer:?}");
    assert!(optimizer.evidence.contains(&policy), "{optimizer:?}");
    let missing = of(Worker::Readiness);
    assert_eq!(missing.status, Status::Fail, "{missing:?}");
    assert!(missing.evidence.contains("no role"), "{missing:?}");
    assert!(!r.go);

    // A narrowed request does not read the roles.
    let narrowed = ReadinessRequest {
        queues: vec![format!("{stack}-warmup")],
        ..ReadinessRequest::default()
    };
    let r = worker(&stack)
        .await
        .check(&narrowed)
        .await
        .expect("in scope");
    assert!(!r.checks.iter().any(|c| c.check == "role.actions"));

    let _ = iam
        .detach_role_policy()
        .role_name(role(Worker::Optimizer))
        .policy_arn(&policy)
        .send()
        .await;
    let _ = iam.delete_policy().policy_arn(&policy).send().await;
    for w in Worker::ALL {
        for name in ["worker", "debugging"] {
            let _ = iam
                .delete_role_policy()
                .role_name(role(w))
                .policy_name(name)
                .send()
                .await;
        }
        let _ = iam.delete_role().role_name(role(w)).send().await;
    }
}

/// Selection: a name ending in `*` is every table or function starting with it (one that
/// matches nothing fails `select.match`); a tag adds the tables and functions under the stack's
/// prefixes that carry it; a request that names nothing adds those tagged
/// `stoker:readiness=true`.
#[tokio::test]
async fn prefixes_and_tags_select_tables_and_functions() {
    use aws_sdk_dynamodb::types::Tag;
    let sdk = emulator().await;
    let stack = unique("rdp");
    let n = |s: &str| format!("{stack}-{s}");
    let ddb = ministack_ddb(&sdk);
    for (table, tag) in [
        ("app-a", ("stoker:readiness", "true")),
        ("app-b", ("team", "orders")),
    ] {
        stoker_it::kit::create_ops_table_on(&ddb, &n(table))
            .await
            .expect("table");
        let arn = ddb
            .describe_table()
            .table_name(n(table))
            .send()
            .await
            .expect("DescribeTable")
            .table
            .and_then(|t| t.table_arn)
            .expect("arn");
        ddb.tag_resource()
            .resource_arn(arn)
            .tags(Tag::builder().key(tag.0).value(tag.1).build().expect("tag"))
            .send()
            .await
            .expect("TagResource");
    }
    let lambda = aws_sdk_lambda::Client::new(&sdk);
    for (f, tagged) in [("api-x", true), ("api-y", false)] {
        stoker_it::lambda::deploy_function(&sdk, &n(f), b"#!/bin/sh\n", &[])
            .await
            .expect("CreateFunction");
        if tagged {
            let arn = lambda
                .get_function_configuration()
                .function_name(n(f))
                .send()
                .await
                .expect("GetFunctionConfiguration")
                .function_arn
                .expect("arn");
            lambda
                .tag_resource()
                .resource(arn)
                .tags("stoker:readiness", "true")
                .send()
                .await
                .expect("TagResource");
        }
    }
    // CloudWatch has seen them invoked (how functions are found by prefix and tag).
    let cw = aws_sdk_cloudwatch::Client::new(&sdk);
    for f in ["api-x", "api-y"] {
        let dims = [("FunctionName", n(f))];
        let dims: Vec<(&str, &str)> = dims.iter().map(|(k, v)| (*k, v.as_str())).collect();
        datum(&cw, "AWS/Lambda", "Invocations", &dims, 5, 3.0).await;
    }
    let w = worker(&stack).await;
    let checked = |r: &Report, check: &str| -> Vec<String> {
        let mut v: Vec<String> = r
            .checks
            .iter()
            .filter(|c| c.check == check)
            .map(|c| c.resource.clone())
            .collect();
        v.sort();
        v
    };

    // Prefixes: both tables and both functions; a prefix matching nothing fails.
    let req = ReadinessRequest {
        tables: vec![n("app-*"), n("nothing-*")],
        functions: vec![n("api-*")],
        ..ReadinessRequest::default()
    };
    let r = w.check(&req).await.expect("in scope");
    assert_eq!(
        checked(&r, "table.pitr"),
        [n("app-a"), n("app-b")],
        "{r:#?}"
    );
    assert_eq!(checked(&r, "function.exists"), [n("api-x"), n("api-y")]);
    assert_eq!(status(&r, "select.match", &n("nothing-*")), Status::Fail);

    // A tag: what carries it, besides what is named (no table named: the ops table).
    let req = ReadinessRequest {
        queues: vec![n("warmup")],
        tag: Some("team=orders".into()),
        ..ReadinessRequest::default()
    };
    let r = w.check(&req).await.expect("in scope");
    assert_eq!(checked(&r, "table.pitr"), [n("app-b"), n("ops")], "{r:#?}");

    // Naming nothing: the stack's own and what is tagged stoker:readiness=true.
    let r = w
        .check(&ReadinessRequest::default())
        .await
        .expect("in scope");
    let tables = checked(&r, "table.pitr");
    assert!(
        tables.contains(&n("app-a")) && !tables.contains(&n("app-b")),
        "{tables:?}"
    );
    let functions = checked(&r, "function.exists");
    assert!(
        functions.contains(&n("api-x")) && !functions.contains(&n("api-y")),
        "{functions:?}"
    );
    assert!(
        !r.checks.iter().any(|c| c.check.starts_with("select.")),
        "{r:#?}"
    );

    // DynamoDB out of reach: the tag cannot select tables (`select.tag` fails).
    let mut blind = w.clone();
    blind.ddb = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&sdk)
            .endpoint_url(UNREACHABLE)
            .retry_config(aws_config::retry::RetryConfig::disabled())
            .build(),
    );
    let req = ReadinessRequest {
        queues: vec![n("warmup")],
        tag: Some("team=orders".into()),
        ..ReadinessRequest::default()
    };
    let r = blind.check(&req).await.expect("in scope");
    let tag = r
        .checks
        .iter()
        .find(|c| c.check == "select.tag")
        .expect("select.tag");
    assert_eq!(tag.status, Status::Fail, "{tag:?}");
    assert!(tag.evidence.contains("ListTables"), "{tag:?}");
    // A queue gone between finding it and reading it: `queue.attributes` fails.
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let gone = sqs
        .create_queue()
        .queue_name(n("gone"))
        .send()
        .await
        .expect("CreateQueue")
        .queue_url
        .expect("url");
    sqs.delete_queue()
        .queue_url(&gone)
        .send()
        .await
        .expect("DeleteQueue");
    let checks = stoker_readiness::queues::check(&w.sqs, &[gone], 100).await;
    assert_eq!(checks.len(), 1, "{checks:?}");
    assert_eq!(
        (checks[0].check.as_str(), checks[0].status),
        ("queue.attributes", Status::Fail),
        "{checks:?}"
    );
    assert!(
        checks[0].evidence.contains("GetQueueAttributes"),
        "{checks:?}"
    );

    // A prefix matching more than 50 functions: the first 50 are checked, and the selection
    // fails naming what it left out.
    let many: Vec<String> = (0..51).map(|i| n(&format!("many-{i:02}"))).collect();
    let seen: Vec<_> = many
        .iter()
        .map(|f| {
            aws_sdk_cloudwatch::types::MetricDatum::builder()
                .metric_name("Invocations")
                .value(1.0)
                .dimensions(
                    aws_sdk_cloudwatch::types::Dimension::builder()
                        .name("FunctionName")
                        .value(f)
                        .build(),
                )
                .build()
        })
        .collect();
    cw.put_metric_data()
        .namespace("AWS/Lambda")
        .set_metric_data(Some(seen))
        .send()
        .await
        .expect("PutMetricData");
    let req = ReadinessRequest {
        functions: vec![n("many-*")],
        ..ReadinessRequest::default()
    };
    let r = w.check(&req).await.expect("in scope");
    assert_eq!(checked(&r, "function.exists").len(), 50, "{r:#?}");
    let capped = r
        .checks
        .iter()
        .find(|c| c.check == "select.match" && c.resource == "functions")
        .expect("the cap's check");
    assert_eq!(capped.status, Status::Fail);
    assert!(
        capped
            .evidence
            .starts_with("51 functions selected, more than 50"),
        "{capped:?}"
    );

    // A prefix outside the stack's is refused, as a name is.
    for outside in [
        ReadinessRequest {
            tables: vec!["payroll-*".into()],
            ..ReadinessRequest::default()
        },
        ReadinessRequest {
            functions: vec!["payroll-*".into()],
            ..ReadinessRequest::default()
        },
    ] {
        let e = w.check(&outside).await.expect_err("out of scope");
        assert_eq!(e.code(), stoker_readiness::scope::OUT_OF_SCOPE, "{e}");
    }
    for f in ["api-x", "api-y"] {
        let _ = lambda.delete_function().function_name(n(f)).send().await;
    }
    for t in ["app-a", "app-b"] {
        let _ = ddb.delete_table().table_name(n(t)).send().await;
    }
}

/// `alarm.exists` on the stack's verdict: every alarm its CloudFormation stack declares exists
/// (a stack of two alarms on LocalStack's CloudFormation); one deleted outside CloudFormation
/// fails, by name.
#[tokio::test]
async fn every_alarm_the_stack_declares_exists_and_one_deleted_by_hand_fails() {
    let sdk = emulator().await;
    let stack = unique("rdc");
    let alarm = |id: &str| {
        json!({"Type": "AWS::CloudWatch::Alarm", "Properties": {
            "AlarmName": format!("{stack}-readiness-{id}"),
            "Namespace": "Stoker-it", "MetricName": "Nothing", "Statistic": "Sum",
            "Period": 60, "EvaluationPeriods": 1, "Threshold": 1,
            "ComparisonOperator": "GreaterThanThreshold"}})
    };
    let template =
        json!({"Resources": {"FirstAlarm": alarm("first"), "SecondAlarm": alarm("second")}});
    let cfn = aws_sdk_cloudformation::Client::new(&sdk);
    cfn.create_stack()
        .stack_name(&stack)
        .template_body(template.to_string())
        .send()
        .await
        .expect("CreateStack");
    stoker_it::poll(Duration::from_secs(60), Duration::from_millis(500), || {
        let (cfn, stack) = (&cfn, &stack);
        async move {
            let s = cfn.describe_stacks().stack_name(stack).send().await.ok()?;
            let status = s.stacks().first()?.stack_status()?.as_str().to_owned();
            assert!(!status.ends_with("FAILED"), "{status}");
            (status == "CREATE_COMPLETE").then_some(())
        }
    })
    .await
    .expect("the stack created");
    let w = worker(&stack).await;
    let exists = |r: &Report| -> Vec<(String, Status)> {
        r.checks
            .iter()
            // (The other workers' prefixes have no alarm here: those fail too.)
            .filter(|c| {
                c.check == "alarm.exists"
                    && (c.resource == stack
                        || c.resource.starts_with(&format!("{stack}-readiness-")))
            })
            .map(|c| (c.resource.clone(), c.status))
            .collect()
    };
    let r = w
        .check(&ReadinessRequest::default())
        .await
        .expect("in scope");
    assert_eq!(exists(&r), [(stack.clone(), Status::Pass)], "{r:#?}");
    let cw = aws_sdk_cloudwatch::Client::new(&sdk);
    cw.delete_alarms()
        .alarm_names(format!("{stack}-readiness-second"))
        .send()
        .await
        .expect("DeleteAlarms");
    let r = w
        .check(&ReadinessRequest::default())
        .await
        .expect("in scope");
    assert_eq!(
        exists(&r),
        [(format!("{stack}-readiness-second"), Status::Fail)],
        "{r:#?}"
    );
    let _ = cfn.delete_stack().stack_name(&stack).send().await;
}
