//! The warm-up worker against a real Rust Lambda (the example warmed function, a `bootstrap`
//! run by ministack's Lambda), and its binary on a real queue.

use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::json;
use stoker_events::payload::warmup::{TargetSchedule, WarmupRequest, WarmupTarget};
use stoker_events::{Envelope, SOURCE_OPERATOR, SOURCE_SCHEDULE, Worker};
use stoker_it::kit::{KitEnv, create_ops_table};
use stoker_it::lambda::deploy_example;
use stoker_it::{emulator, unique, worker_sdk, workspace_bin};
use stoker_kit::RetryPolicy;
use stoker_warmup::{Report, Warmup};

fn target(function: &str, qualifier: Option<&str>, concurrency: u32) -> WarmupTarget {
    WarmupTarget {
        function: function.into(),
        qualifier: qualifier.map(Into::into),
        concurrency,
        // A valid event for the handler: without the guard, a ping would count a hit.
        payload: Some(json!({ "name": "pinged" })),
        schedules: vec![],
    }
}

fn request(targets: Vec<WarmupTarget>) -> WarmupRequest {
    WarmupRequest {
        targets,
        hold_open_ms: 300,
        invocation_timeout_ms: 20_000,
        tick_minutes: 5,
    }
}

/// A table for the example's hits and the function itself, both uniquely named.
async fn example(sdk: &aws_config::SdkConfig, prefix: &str) -> (String, String) {
    let name = unique(prefix);
    let table = format!("{name}-hits");
    create_ops_table(sdk, &table).await.expect("table");
    deploy_example(sdk, &name, &table)
        .await
        .expect("CreateFunction");
    (name, table)
}

async fn hits(sdk: &aws_config::SdkConfig, table: &str, who: &str) -> Option<u64> {
    let item = aws_sdk_dynamodb::Client::new(sdk)
        .get_item()
        .table_name(table)
        .key("pk", AttributeValue::S(format!("EXAMPLE#{who}")))
        .key("sk", AttributeValue::S("HITS".into()))
        .consistent_read(true)
        .send()
        .await
        .expect("GetItem")
        .item?;
    item.get("hits")?.as_n().ok()?.parse().ok()
}

async fn cleanup(sdk: &aws_config::SdkConfig, function: &str, table: &str) {
    let _ = aws_sdk_lambda::Client::new(sdk)
        .delete_function()
        .function_name(function)
        .send()
        .await;
    let _ = aws_sdk_dynamodb::Client::new(sdk)
        .delete_table()
        .table_name(table)
        .send()
        .await;
}

#[tokio::test]
async fn pings_reach_cold_instances_without_the_handler_then_find_them_warm() {
    let sdk = emulator().await;
    let (function, table) = example(&sdk, "warm").await;
    let worker = Warmup::new(&worker_sdk(Worker::Warmup).await, Default::default());

    let first = worker
        .warm(&request(vec![target(&function, None, 3)]), "c-1")
        .await
        .expect("first pass");
    let t = &first.targets[0];
    assert_eq!(
        (t.invoked, t.succeeded, t.unguarded),
        (3, 3, 0),
        "{first:?}"
    );
    assert!(t.cold >= 1, "a new function has cold instances: {first:?}");
    assert!(t.instances >= 1 && t.instances <= 3, "{first:?}");
    // Issue #20: the report names each instance that answered, whether it was cold, its pings
    // and latency, and carries the request's correlation id.
    assert_eq!(first.correlation_id, "c-1");
    assert_eq!(t.answers.len() as u32, t.instances, "{first:?}");
    assert_eq!(
        t.answers.iter().map(|a| a.pings).sum::<u32>(),
        3,
        "{first:?}"
    );
    assert_eq!(
        t.answers.iter().filter(|a| a.cold).count() as u32,
        t.cold,
        "on a new function each instance's first ping is its cold one: {first:?}"
    );
    assert!(
        t.answers.iter().all(|a| a.latency_ms >= 300),
        "each answer held open for hold_open_ms: {first:?}"
    );
    let first_ids: std::collections::BTreeSet<&str> =
        t.answers.iter().map(|a| a.instance_id.as_str()).collect();
    assert_eq!(
        hits(&sdk, &table, "pinged").await,
        None,
        "a ping ran the handler"
    );

    let second = worker
        .warm(&request(vec![target(&function, None, 3)]), "c-2")
        .await
        .expect("second pass");
    let t = &second.targets[0];
    assert_eq!(
        (t.succeeded, t.cold),
        (3, 0),
        "the instances are warm now: {second:?}"
    );
    assert!(t.instances >= 1, "{second:?}");
    assert_eq!(second.correlation_id, "c-2");
    assert!(
        t.answers
            .iter()
            .all(|a| !a.cold && first_ids.contains(a.instance_id.as_str())),
        "the second pass reaches the instances the first warmed, none cold: {second:?} after {first:?}"
    );

    // A normal invocation still runs the handler.
    let out = aws_sdk_lambda::Client::new(&sdk)
        .invoke()
        .function_name(&function)
        .payload(aws_sdk_lambda::primitives::Blob::new(
            json!({"name": "alice"}).to_string(),
        ))
        .send()
        .await
        .expect("Invoke");
    assert_eq!(out.function_error(), None);
    assert_eq!(hits(&sdk, &table, "alice").await, Some(1));
    assert_eq!(hits(&sdk, &table, "pinged").await, None);
    cleanup(&sdk, &function, &table).await;
}

#[tokio::test]
async fn an_alias_is_warmed_on_its_own_version_and_a_missing_function_fails_alone() {
    let sdk = emulator().await;
    let (function, table) = example(&sdk, "alias").await;
    let lambda = aws_sdk_lambda::Client::new(&sdk);
    let version = lambda
        .publish_version()
        .function_name(&function)
        .send()
        .await
        .expect("PublishVersion");
    let version = version.version.expect("version");
    lambda
        .create_alias()
        .function_name(&function)
        .name("live")
        .function_version(&version)
        .send()
        .await
        .expect("CreateAlias");
    let missing = unique("missing");

    let report: Report = Warmup::new(&worker_sdk(Worker::Warmup).await, Default::default())
        .warm(
            &request(vec![
                target(&function, Some("live"), 2),
                target(&missing, None, 2),
                target(&function, None, 1),
            ]),
            "c-alias",
        )
        .await
        .expect("a pass with one good target succeeds");

    let alias = &report.targets[0];
    assert_eq!(alias.qualifier.as_deref(), Some("live"));
    assert_eq!(alias.succeeded, 2, "{report:?}");
    assert_eq!(
        alias.versions,
        std::slice::from_ref(&version),
        "the alias ran its version, not $LATEST"
    );
    assert_eq!(report.targets[2].versions, ["$LATEST"]);

    let gone = &report.targets[1];
    let err = gone
        .error
        .as_ref()
        .expect("the missing function is reported");
    assert!(err.permanent, "{err:?}");
    assert_eq!(
        (err.code.as_str(), err.failed, gone.succeeded),
        ("ResourceNotFoundException", 2, 0)
    );
    assert_eq!(report.failed_targets, 1);
    assert_eq!(hits(&sdk, &table, "pinged").await, None);
    cleanup(&sdk, &function, &table).await;
}

#[tokio::test]
async fn an_unreachable_lambda_service_is_a_retryable_job_error() {
    emulator().await;
    let unreachable = aws_sdk_lambda::config::Builder::from(&worker_sdk(Worker::Warmup).await)
        .endpoint_url("http://127.0.0.1:9")
        .build();
    let worker = Warmup {
        lambda: aws_sdk_lambda::Client::from_conf(unreachable),
        max_in_flight: 10,
        retry: RetryPolicy {
            max_attempts: 2,
            base: Duration::from_millis(10),
            ..RetryPolicy::default()
        },
    };
    let err = worker
        .warm(&request(vec![target("anything", None, 2)]), "c-down")
        .await
        .expect_err("nothing could be warmed");
    assert!(!err.is_permanent(), "{err:?}");
    assert!(
        err.to_string().contains("no target could be warmed"),
        "{err}"
    );
}

#[tokio::test]
async fn the_worker_binary_warms_a_queued_request_and_dead_letters_a_bad_one() {
    let sdk = emulator().await;
    let env = KitEnv::create(&sdk, "warmq", 3, false)
        .await
        .expect("resources");
    let (function, table) = example(&sdk, "warmq").await;
    let _worker = env
        .spawn_worker(workspace_bin("stoker-warmup").to_str().expect("path"), &[])
        .expect("spawn the worker");

    let good = Envelope::new(
        request(vec![target(&function, None, 2)]),
        SOURCE_OPERATOR,
        "operator:test",
    );
    env.send(&serde_json::to_string(&good).expect("json"), None)
        .await
        .expect("send");
    let mut bad = serde_json::to_value(&good).expect("json");
    bad["id"] = json!(uuid::Uuid::now_v7());
    bad["payload"]["targets"][0]["concurrency"] = json!(0);
    env.send(&bad.to_string(), None).await.expect("send");

    let id = good.id.to_string();
    let report = env
        .wait_outcome("warmup", &id, Duration::from_secs(60))
        .await;
    assert_eq!(report["targets"][0]["succeeded"], 2, "{report}");
    assert_eq!(report["targets"][0]["unguarded"], 0, "{report}");

    let reason = &env.dead_reasons(1, Duration::from_secs(30)).await[0];
    assert!(
        reason.contains("targets[0].concurrency"),
        "reason: {reason}"
    );
    assert_eq!(hits(&sdk, &table, "pinged").await, None);
    env.delete().await;
    cleanup(&sdk, &function, &table).await;
}

/// A job a schedule sent warms a target with its own schedules only when one is due (here a
/// rate of every minute, at its concurrency of 2), and leaves the others for later, named in
/// the report (a cron for the year 2199: the missing function it names is never invoked).
#[tokio::test]
async fn a_scheduled_job_warms_only_the_targets_whose_own_schedule_is_due() {
    let sdk = emulator().await;
    let env = KitEnv::create(&sdk, "warms", 3, false)
        .await
        .expect("resources");
    let (function, table) = example(&sdk, "warms").await;
    let _worker = env
        .spawn_worker(workspace_bin("stoker-warmup").to_str().expect("path"), &[])
        .expect("spawn the worker");
    let mut due = target(&function, None, 1);
    due.schedules = vec![TargetSchedule {
        cron: None,
        rate_minutes: Some(1),
        concurrency: 2,
    }];
    let mut later = target(&unique("never"), None, 1);
    later.schedules = vec![TargetSchedule {
        cron: Some("0 0 1 1 ? 2199".into()),
        rate_minutes: None,
        concurrency: 5,
    }];
    let job = Envelope::new(
        request(vec![due, later.clone()]),
        SOURCE_SCHEDULE,
        "schedule:it",
    );
    env.send(&serde_json::to_string(&job).expect("json"), None)
        .await
        .expect("send");
    let report = env
        .wait_outcome("warmup", &job.id.to_string(), Duration::from_secs(60))
        .await;
    assert_eq!(
        report["targets"].as_array().map(Vec::len),
        Some(1),
        "{report}"
    );
    assert_eq!(
        report["targets"][0]["function"],
        function.as_str(),
        "{report}"
    );
    assert_eq!(report["targets"][0]["concurrency"], 2, "{report}");
    assert_eq!(report["targets"][0]["succeeded"], 2, "{report}");
    assert_eq!(report["not_due"], json!([later.function]), "{report}");
    env.delete().await;
    cleanup(&sdk, &function, &table).await;
}
