//! The optimizer's tables against the emulators: DynamoDB tables on LocalStack, their consumed
//! capacity seeded in LocalStack's CloudWatch, capacity advice, and the auto-scaling targets a
//! pass in mode apply registers on moto's server (LocalStack Community and ministack have no
//! Application Auto Scaling; `./localstack/up` starts moto for that service alone).

use aws_sdk_applicationautoscaling::types::ServiceNamespace;
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
use stoker_events::payload::optimize::{
    Bounds, FunctionSelector, OptimizeMode, OptimizeRequest, Strategy, TagFilter,
};
use stoker_it::kit::create_ops_table;
use stoker_it::optimizer::{OPT_IN, ago, drop_table, ops_table, table};
use stoker_it::{emulator, unique};
use stoker_optimizer::table_scaling::{Range, ranges_now};

/// A pass over `tables` only (the tag selects no function).
fn request(tables: &[&String], mode: OptimizeMode) -> OptimizeRequest {
    OptimizeRequest {
        functions: FunctionSelector::Tag(TagFilter {
            key: "stoker:none".into(),
            value: unique("none"),
        }),
        lookback_days: 1,
        strategy: Strategy::default(),
        mode,
        bounds: Bounds::default(),
        power_tuning: None,
        tables: tables.iter().map(|t| (*t).clone()).collect(),
        provisioned_concurrency: false,
    }
}

/// Seeds `per_hour` consumed read (and a fifth as many write) units for each of `hours`.
async fn seed_capacity(sdk: &aws_config::SdkConfig, table: &str, hours: &[(i64, f64)]) {
    let dim = Dimension::builder().name("TableName").value(table).build();
    let mut put = aws_sdk_cloudwatch::Client::new(sdk)
        .put_metric_data()
        .namespace("AWS/DynamoDB");
    for (h, units) in hours {
        for (metric, v) in [
            ("ConsumedReadCapacityUnits", *units),
            ("ConsumedWriteCapacityUnits", units / 5.0),
        ] {
            put = put.metric_data(
                MetricDatum::builder()
                    .metric_name(metric)
                    .dimensions(dim.clone())
                    .timestamp(ago(*h))
                    .unit(StandardUnit::Count)
                    .value(v)
                    .build(),
            );
        }
    }
    put.send().await.expect("PutMetricData");
}

#[tokio::test]
async fn capacity_advice_is_provisioned_for_steady_tables_and_on_demand_for_spiky_ones() {
    let sdk = emulator().await;
    let steady = unique("opt-steady");
    let spiky = unique("opt-spiky");
    for t in [&steady, &spiky] {
        create_ops_table(&sdk, t).await.expect("table");
    }
    // 100 reads/s every hour of the last day; one hour at 500 reads/s.
    let all_day: Vec<(i64, f64)> = (1..=23).map(|h| (h, 360_000.0)).collect();
    seed_capacity(&sdk, &steady, &all_day).await;
    seed_capacity(&sdk, &spiky, &[(3, 1_800_000.0)]).await;
    let req = request(&[&steady, &spiky], OptimizeMode::Recommend);
    let report = stoker_it::optimizer::worker("")
        .await
        .optimize(&req, "e-cap")
        .await
        .expect("a pass");
    assert!(report.functions.is_empty());
    let s = &report.tables[0];
    assert_eq!(s.recommended_mode, "provisioned", "{s:?}");
    assert_eq!((s.recommended_rcu, s.recommended_wcu), (134, 27), "{s:?}");
    let p = &report.tables[1];
    assert_eq!(p.recommended_mode, "on_demand", "{p:?}");
    assert!((p.consumed.peak_read - 500.0).abs() < 1e-9, "{p:?}");
    for t in [&steady, &spiky] {
        let _ = aws_sdk_dynamodb::Client::new(&sdk)
            .delete_table()
            .table_name(t)
            .send()
            .await;
    }
}

#[tokio::test]
async fn an_opted_in_provisioned_table_gets_auto_scaling_within_its_bound_and_it_rolls_back() {
    let sdk = emulator().await;
    let ops = ops_table(&sdk).await;
    let opted = table(&sdk, "opt-as", Some((5, 5)), &[OPT_IN]).await;
    let not_opted = table(&sdk, "opt-as-no", Some((5, 5)), &[]).await;
    let above = table(&sdk, "opt-as-big", Some((500, 5)), &[OPT_IN]).await;
    let on_demand = table(&sdk, "opt-as-od", None, &[OPT_IN]).await;
    let alone = table(
        &sdk,
        "opt-as-alone",
        Some((5, 5)),
        &[OPT_IN, ("stoker:leave-alone", "true")],
    )
    .await;
    let all = [&opted, &not_opted, &above, &on_demand, &alone];
    // 10 reads/s and 2 writes/s every hour of the last day.
    let all_day: Vec<(i64, f64)> = (1..=23).map(|h| (h, 36_000.0)).collect();
    for t in all {
        seed_capacity(&sdk, t, &all_day).await;
    }
    let mut worker = stoker_it::optimizer::worker(&ops).await;
    // What the test reads and sets itself goes through its own (unrecorded) client.
    let aas = aws_sdk_applicationautoscaling::Client::new(&sdk);
    // A table that does not exist is reported; the others are still changed.
    let missing = unique("opt-as-missing");
    let mut named = all.to_vec();
    named.push(&missing);
    let mut req = request(&named, OptimizeMode::Apply);
    req.bounds.max_table_capacity = 20;
    let report = worker.optimize(&req, "e-as").await.expect("a pass");
    assert_eq!(report.applied, 1, "{report:?}");

    let a = &report.tables[0];
    let change = a
        .applied
        .clone()
        .unwrap_or_else(|| panic!("applied: {a:?}"));
    assert_eq!(change.previous, None, "the table had no auto scaling");
    assert_eq!((a.provisioned_rcu, a.provisioned_wcu), (5, 5));
    let floor = |avg: f64| (avg / 0.75).ceil() as u32;
    // Read: twice ceil(10 / 0.75) = 28, held to the bound 20. Write: twice ceil(2 / 0.75) = 6.
    assert_eq!(
        change.ranges.read,
        Range {
            min: floor(a.consumed.avg_read),
            max: 20
        },
        "{a:?}"
    );
    assert_eq!(
        change.ranges.write,
        Range {
            min: floor(a.consumed.avg_write),
            max: 6
        },
        "{a:?}"
    );
    assert_eq!(
        ranges_now(&aas, &opted).await.expect("read"),
        Some(change.ranges),
        "moto holds the targets the report names"
    );
    let policies = aas
        .describe_scaling_policies()
        .service_namespace(ServiceNamespace::Dynamodb)
        .resource_id(format!("table/{opted}"))
        .send()
        .await
        .expect("DescribeScalingPolicies");
    let targets: Vec<f64> = policies
        .scaling_policies()
        .iter()
        .filter_map(|p| p.target_tracking_scaling_policy_configuration())
        .map(|c| c.target_value())
        .collect();
    assert_eq!(targets, [75.0, 75.0], "{policies:?}");
    let line = stoker_kit::Summary::summary(&report);
    assert!(
        line.contains(&format!(
            "table {opted}: provisioned (auto scaling read {}, write {})",
            change.ranges.read, change.ranges.write
        )),
        "{line}"
    );

    for (t, why) in [
        (1, "has not opted in"),
        (
            2,
            "500 read capacity units provisioned, above bounds.max_table_capacity 20",
        ),
        (3, "billed on demand"),
        (4, "left alone: the table is tagged stoker:leave-alone"),
    ] {
        let r = &report.tables[t];
        assert!(r.applied.is_none(), "{r:?}");
        assert!(
            r.not_applied.as_deref().unwrap_or_default().contains(why),
            "{r:?}"
        );
        assert_eq!(
            ranges_now(&aas, &r.table).await.expect("read"),
            None,
            "{} is left as it was",
            r.table
        );
    }

    let m = &report.tables[5];
    assert!(
        m.error
            .as_deref()
            .unwrap_or_default()
            .contains("DescribeTable"),
        "{m:?}"
    );

    // A retry of the pass reports its change; another pass waits for the cooldown.
    let retry = worker.optimize(&req, "e-as").await.expect("a retry");
    assert_eq!(retry.tables[0].applied.as_ref(), Some(&change));
    req.bounds.max_table_capacity = 40;
    let again = worker.optimize(&req, "e-as2").await.expect("a pass");
    let held = &again.tables[0];
    assert!(held.applied.is_none(), "{held:?}");
    assert!(
        held.not_applied
            .as_deref()
            .unwrap_or_default()
            .contains("changed less than 24 h ago"),
        "{held:?}"
    );
    assert_eq!(
        ranges_now(&aas, &opted).await.expect("read"),
        Some(change.ranges)
    );
    // After the cooldown a new pass widens the range; what it replaced is still "none", the
    // table's state before the optimizer first changed it.
    worker.cooldown = std::time::Duration::ZERO;
    let wider = worker.optimize(&req, "e-as3").await.expect("a pass");
    let widened = wider.tables[0]
        .applied
        .clone()
        .unwrap_or_else(|| panic!("applied: {:?}", wider.tables[0]));
    assert_eq!(widened.ranges.read.max, 28, "{widened:?}");
    assert_eq!(widened.previous, None, "{widened:?}");

    // Target tracking moves the capacity within the range (on AWS; here by hand).
    let ddb = aws_sdk_dynamodb::Client::new(&sdk);
    ddb.update_table()
        .table_name(&opted)
        .provisioned_throughput(
            aws_sdk_dynamodb::types::ProvisionedThroughput::builder()
                .read_capacity_units(14)
                .write_capacity_units(3)
                .build()
                .expect("throughput"),
        )
        .send()
        .await
        .expect("UpdateTable");
    // A rollback waits for the table's lock like an apply.
    let lock = "table/".to_owned() + &opted;
    let until = chrono::Utc::now() + chrono::Duration::seconds(60);
    assert!(
        worker
            .applier
            .lock(&lock, "e-other", until)
            .await
            .expect("lock")
            .is_none()
    );
    let locked = worker
        .applier
        .rollback_table_scaling(&worker.scaling, &opted)
        .await
        .expect_err("locked");
    assert_eq!(locked.code(), "locked", "{locked}");
    worker
        .applier
        .unlock(&lock, "e-other")
        .await
        .expect("unlock");

    let back = worker
        .applier
        .rollback_table_scaling(&worker.scaling, &opted)
        .await
        .expect("rollback");
    let throughput = ddb
        .describe_table()
        .table_name(&opted)
        .send()
        .await
        .expect("DescribeTable")
        .table
        .and_then(|t| t.provisioned_throughput)
        .expect("throughput");
    assert_eq!(
        (
            throughput.read_capacity_units,
            throughput.write_capacity_units
        ),
        (Some(5), Some(5)),
        "the capacity from before the optimizer is back"
    );
    assert_eq!(back.status, "rolled_back");
    assert_eq!(
        ranges_now(&aas, &opted).await.expect("read"),
        None,
        "no target is left"
    );
    let policies = aas
        .describe_scaling_policies()
        .service_namespace(ServiceNamespace::Dynamodb)
        .resource_id(format!("table/{opted}"))
        .send()
        .await
        .expect("DescribeScalingPolicies");
    assert!(policies.scaling_policies().is_empty(), "{policies:?}");
    let twice = worker
        .applier
        .rollback_table_scaling(&worker.scaling, &opted)
        .await
        .expect_err("once only");
    assert_eq!(twice.code(), "already_rolled_back");
    // That pass's event delivered again does not apply it again.
    let replay = worker.optimize(&req, "e-as3").await.expect("a pass");
    assert!(
        replay.tables[0]
            .not_applied
            .as_deref()
            .unwrap_or_default()
            .contains("rolled back since this pass applied it"),
        "{:?}",
        replay.tables[0]
    );
    assert_eq!(ranges_now(&aas, &opted).await.expect("read"), None);
    for t in all {
        drop_table(&sdk, t).await;
    }
    drop_table(&sdk, &ops).await;
}

/// A table some other tool auto-scales is never taken over, and a pass in mode recommend
/// changes nothing.
#[tokio::test]
async fn auto_scaling_set_by_another_is_left_alone_and_recommend_changes_nothing() {
    let sdk = emulator().await;
    let ops = ops_table(&sdk).await;
    let theirs = table(&sdk, "opt-as-theirs", Some((5, 5)), &[OPT_IN]).await;
    let advised = table(&sdk, "opt-as-rec", Some((5, 5)), &[OPT_IN]).await;
    let worker = stoker_it::optimizer::worker(&ops).await;
    // What the test reads and sets itself goes through its own (unrecorded) client.
    let aas = aws_sdk_applicationautoscaling::Client::new(&sdk);
    for d in [
        aws_sdk_applicationautoscaling::types::ScalableDimension::DynamoDbTableReadCapacityUnits,
        aws_sdk_applicationautoscaling::types::ScalableDimension::DynamoDbTableWriteCapacityUnits,
    ] {
        aas.register_scalable_target()
            .service_namespace(ServiceNamespace::Dynamodb)
            .resource_id(format!("table/{theirs}"))
            .scalable_dimension(d)
            .min_capacity(5)
            .max_capacity(50)
            .send()
            .await
            .expect("RegisterScalableTarget");
    }
    let report = worker
        .optimize(&request(&[&theirs], OptimizeMode::Apply), "e-theirs")
        .await
        .expect("a pass");
    let t = &report.tables[0];
    assert!(
        t.not_applied
            .as_deref()
            .unwrap_or_default()
            .contains("auto-scaled already (read 5-50, write 5-50) by something else"),
        "{t:?}"
    );
    let kept = ranges_now(&aas, &theirs).await.expect("read");
    assert_eq!(kept.map(|r| r.read), Some(Range { min: 5, max: 50 }));

    let report = worker
        .optimize(&request(&[&advised], OptimizeMode::Recommend), "e-rec")
        .await
        .expect("a pass");
    let t = &report.tables[0];
    assert!(t.applied.is_none() && t.not_applied.is_none(), "{t:?}");
    assert_eq!(ranges_now(&aas, &advised).await.expect("read"), None);
    for t in [&theirs, &advised] {
        drop_table(&sdk, t).await;
    }
    drop_table(&sdk, &ops).await;
}

/// An apply refused half-way (the read target registered, its policy refused) puts the table
/// back at once: no half-configured table is left, and the record says `failed`.
#[tokio::test]
async fn an_apply_refused_half_way_leaves_no_target_behind() {
    use crate::support::inject::{Injector, Rule};
    let sdk = emulator().await;
    let ops = ops_table(&sdk).await;
    let t = table(&sdk, "opt-as-half", Some((5, 5)), &[OPT_IN]).await;
    let moto =
        std::env::var("STOKER_MOTO_URL").expect("STOKER_MOTO_URL (eval \"$(./localstack/env)\")");
    let inject = Injector::start(&moto).await;
    inject.add(Rule {
        times: Some(1),
        ..Rule::error("PutScalingPolicy", "", 400, "ValidationException")
    });
    let mut worker = stoker_it::optimizer::worker(&ops).await;
    worker.scaling = aws_sdk_applicationautoscaling::Client::from_conf(
        aws_sdk_applicationautoscaling::config::Builder::from(
            &stoker_it::worker_sdk(stoker_events::Worker::Optimizer).await,
        )
        .endpoint_url(&inject.url)
        .build(),
    );
    let report = worker
        .optimize(&request(&[&t], OptimizeMode::Apply), "e-half")
        .await
        .expect("a pass");
    assert_eq!(inject.injected("PutScalingPolicy"), 1);
    let r = &report.tables[0];
    assert!(r.applied.is_none(), "{r:?}");
    assert!(
        r.not_applied
            .as_deref()
            .unwrap_or_default()
            .contains("ValidationException"),
        "{r:?}"
    );
    let aas = aws_sdk_applicationautoscaling::Client::new(&sdk);
    assert_eq!(
        ranges_now(&aas, &t).await.expect("read"),
        None,
        "the read target registered before the refusal is gone again"
    );
    let last = worker
        .applier
        .last_table_scaling(&t)
        .await
        .expect("read")
        .expect("recorded");
    assert_eq!(last.status, "failed", "{last:?}");

    // A later pass that widens a range in force and is refused half-way leaves the range in
    // force, and its record, as they were.
    worker.cooldown = std::time::Duration::ZERO;
    let mut req = request(&[&t], OptimizeMode::Apply);
    let good = worker.optimize(&req, "e-half2").await.expect("a pass");
    let in_force = good.tables[0]
        .applied
        .clone()
        .unwrap_or_else(|| panic!("applied: {:?}", good.tables[0]));
    req.bounds.max_table_capacity = 4;
    inject.add(Rule {
        times: Some(1),
        ..Rule::error("PutScalingPolicy", "", 400, "ValidationException")
    });
    let refused = worker.optimize(&req, "e-half3").await.expect("a pass");
    assert!(
        refused.tables[0].applied.is_none(),
        "{:?}",
        refused.tables[0]
    );
    assert_eq!(
        ranges_now(&aas, &t).await.expect("read"),
        Some(in_force.ranges),
        "the range in force stays"
    );
    let last = worker
        .applier
        .last_table_scaling(&t)
        .await
        .expect("read")
        .expect("recorded");
    assert_eq!(last, in_force);
    drop_table(&sdk, &t).await;
    drop_table(&sdk, &ops).await;
}
