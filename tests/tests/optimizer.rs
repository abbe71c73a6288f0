//! The optimizer against the emulators: passive findings from `AWS/Lambda` metrics the test
//! seeds on LocalStack and REPORT lines it seeds in ministack's CloudWatch Logs (where Lambda's
//! own REPORT lines go), for functions on ministack's Lambda; a power-tuning sweep of the real
//! example Rust function; guarded apply + rollback; the binary on a real queue. (Tables:
//! optimizer_tables.)

use std::time::Duration;

use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
use serde_json::json;
use stoker_events::payload::optimize::{
    Bounds, FunctionSelector, OptimizeMode, OptimizeRequest, PowerTuning, Strategy, StrategyName,
    TagFilter,
};
use stoker_events::payload::outcome::Finding;
use stoker_events::{Envelope, SOURCE_OPERATOR};
use stoker_it::kit::KitEnv;
use stoker_it::optimizer::{
    OPT_IN, ago, aliases, cleanup, config, drop_table, function, ops_table, seed,
};
use stoker_it::{emulator, unique, workspace_bin};
use stoker_optimizer::report::FunctionReport;

fn request(functions: FunctionSelector, mode: OptimizeMode) -> OptimizeRequest {
    OptimizeRequest {
        functions,
        lookback_days: 14,
        strategy: Strategy::default(),
        mode,
        bounds: Bounds::default(),
        power_tuning: None,
        tables: vec![],
        provisioned_concurrency: false,
    }
}

fn names(n: &[&str]) -> FunctionSelector {
    FunctionSelector::Names(n.iter().map(|s| (*s).to_owned()).collect())
}

fn find<'a>(rs: &'a [FunctionReport], name: &str) -> &'a FunctionReport {
    rs.iter()
        .find(|r| r.function == name)
        .unwrap_or_else(|| panic!("{name} is not in the report: {rs:?}"))
}

#[tokio::test]
async fn passive_findings_follow_the_seeded_metrics_for_tagged_functions() {
    let sdk = emulator().await;
    let tag = unique("pass");
    let t = [("stoker:optimize", tag.as_str())];
    let (under, over, fits, few, untagged) = tokio::join!(
        function(&sdk, "opt-under", 1024, 30, &t),
        function(&sdk, "opt-over", 256, 30, &t),
        function(&sdk, "opt-fits", 512, 3, &t),
        function(&sdk, "opt-few", 512, 30, &t),
        function(&sdk, "opt-other", 512, 30, &[]),
    );
    tokio::join!(
        seed(&sdk, &under, 1000.0, 120.0, 2000.0, 200),
        seed(&sdk, &over, 1000.0, 120.0, 2000.0, 250),
        seed(&sdk, &fits, 1000.0, 120.0, 2000.0, 350),
        seed(&sdk, &few, 20.0, 120.0, 2000.0, 100),
        seed(&sdk, &untagged, 1000.0, 120.0, 2000.0, 100),
    );

    let worker = stoker_it::optimizer::worker("").await;
    let selector = FunctionSelector::Tag(TagFilter {
        key: "stoker:optimize".into(),
        value: tag.clone(),
    });
    let report = worker
        .optimize(&request(selector, OptimizeMode::Recommend), "e-1")
        .await
        .expect("a pass");
    let rs = &report.functions;
    assert_eq!(rs.len(), 4, "only the tagged functions: {rs:?}");

    let u = find(rs, &under);
    assert_eq!(
        (u.finding, u.recommended_memory_mb, u.recommended_timeout_s),
        (Finding::NotOptimized, Some(768), Some(15)),
        "{u:?}"
    );
    assert_eq!(u.observed.invocations, 1000);
    assert_eq!(u.observed.max_memory_used_mb, Some(200));
    assert_eq!(u.observed.memory_source.as_deref(), Some("report_lines"));
    // x86_64: 1 GB x 0.12 s x 0.0000166667 + 0.0000002 = 2.2000040e-6 USD per invocation, at
    // 1000 invocations per 1,209,600 s for 2,629,800 s a month (x 2.1741071) = 4.78304e-3 USD;
    // at 768 MB, 1.7000030e-6 USD per invocation: 3.69599e-3 USD.
    assert!((u.current_monthly_usd - 4.783_04e-3).abs() < 1e-7, "{u:?}");
    let saved = u.estimated_monthly_savings_usd.expect("savings");
    assert!(
        (saved - (4.783_04e-3 - 3.695_99e-3)).abs() < 1e-7,
        "{saved}"
    );

    // On arm64 at the same memory and duration: 1 GB x 0.12 s x 0.0000133334 + 0.0000002 =
    // 1.800008e-6 USD per invocation, 3.99996e-7 less, x 2174.1071 a month = 8.69634e-4 USD.
    let arm = u
        .arm64_monthly_savings_usd
        .expect("an x86_64 function's arm64 saving");
    assert!((arm - 8.696_34e-4).abs() < 1e-8, "{arm}");
    let o = find(rs, &over);
    assert_eq!(
        (o.finding, o.recommended_memory_mb),
        (Finding::NotOptimized, Some(384))
    );
    let f = find(rs, &fits);
    assert_eq!(
        (f.finding, f.recommended_memory_mb, f.recommended_timeout_s),
        (Finding::Optimized, Some(512), Some(3)),
        "{f:?}"
    );
    let w = find(rs, &few);
    assert_eq!(w.finding, Finding::Unavailable);
    assert!(
        w.reason.contains("too few invocations: 20 in 14 days"),
        "{}",
        w.reason
    );
    assert_eq!(report.applied, 0, "recommend mode changes nothing");
    assert_eq!(config(&sdk, &under).await.memory_size, Some(1024));
    // Under the stack's function prefix only (the tagged functions are found among those
    // CloudWatch saw invoked, by name, before any of them is read).
    let mut narrowed = worker.clone();
    narrowed.function_prefix = under.clone();
    let selector = FunctionSelector::Tag(TagFilter {
        key: "stoker:optimize".into(),
        value: tag.clone(),
    });
    let report = narrowed
        .optimize(&request(selector, OptimizeMode::Recommend), "e-2")
        .await
        .expect("a pass");
    let seen: Vec<&str> = report
        .functions
        .iter()
        .map(|r| r.function.as_str())
        .collect();
    assert_eq!(seen, [under.as_str()]);
    cleanup(&sdk, &[&under, &over, &fits, &few, &untagged]).await;
}

#[tokio::test]
async fn a_sweep_measures_every_size_and_leaves_no_version_alias_or_memory_change() {
    let sdk = emulator().await;
    let ops = ops_table(&sdk).await;
    let name = function(&sdk, "opt-sweep", 256, 30, &[OPT_IN]).await;
    let mut req = request(names(&[&name]), OptimizeMode::Recommend);
    req.strategy = Strategy {
        name: StrategyName::Cost,
        weight: 0.5,
    };
    req.power_tuning = Some(PowerTuning {
        memory_sizes: vec![512, 128, 256],
        invocations: 4,
        parallel: false,
        sleep_ms: 0,
        payload: Some(json!({ "name": "tune", "work_ms": 20 })),
        arm64_twin: None,
    });
    let report = stoker_it::optimizer::worker(&ops)
        .await
        .optimize(&req, "e-sweep")
        .await
        .expect("a pass");
    let r = &report.functions[0];
    let sweep = r.sweep.as_ref().unwrap_or_else(|| panic!("a sweep: {r:?}"));
    let sizes: Vec<u32> = sweep.sizes.iter().map(|s| s.memory_mb).collect();
    assert_eq!(sizes, [128, 256, 512]);
    for s in &sweep.sizes {
        assert_eq!((s.invocations, s.errors), (4, 0), "{s:?}");
        assert!(s.billed_ms >= 20.0, "20 ms of work is billed: {s:?}");
    }
    // The emulator does not scale CPU with memory: durations are alike, so cost rises with size
    // and the cost strategy takes the smallest.
    assert_eq!(sweep.chosen_memory_mb, Some(128), "{sweep:?}");
    assert_eq!(r.recommended_memory_mb, Some(128));
    assert_eq!(r.finding, Finding::NotOptimized);
    assert_eq!(sweep.versions.len(), 3);
    assert!(
        r.chart_svg
            .as_deref()
            .is_some_and(|s| s.matches("<rect").count() == 3)
    );

    assert_eq!(aliases(&sdk, &name).await, Vec::<String>::new());
    let lambda = aws_sdk_lambda::Client::new(&sdk);
    let versions = lambda
        .list_versions_by_function()
        .function_name(&name)
        .send()
        .await
        .expect("ListVersionsByFunction");
    let left: Vec<_> = versions
        .versions()
        .iter()
        .filter_map(|v| v.version())
        .collect();
    assert_eq!(left, ["$LATEST"], "temporary versions are deleted");
    assert_eq!(
        config(&sdk, &name).await.memory_size,
        Some(256),
        "memory restored"
    );
    cleanup(&sdk, &[&name]).await;
    drop_table(&sdk, &ops).await;
}

#[tokio::test]
async fn a_sweep_of_a_failing_function_chooses_nothing_and_still_cleans_up() {
    let sdk = emulator().await;
    let ops = ops_table(&sdk).await;
    let name = function(&sdk, "opt-fail", 256, 30, &[OPT_IN]).await;
    let mut req = request(names(&[&name]), OptimizeMode::Apply);
    req.power_tuning = Some(PowerTuning {
        memory_sizes: vec![128, 512],
        invocations: 2,
        parallel: true,
        sleep_ms: 0,
        // No `name`: the handler fails on every invocation.
        payload: Some(json!({ "nobody": true })),
        arm64_twin: None,
    });
    let report = stoker_it::optimizer::worker(&ops)
        .await
        .optimize(&req, "e-fail")
        .await
        .expect("a pass");
    let r = &report.functions[0];
    let sweep = r.sweep.as_ref().expect("a sweep");
    assert!(sweep.sizes.iter().all(|s| s.errors == 2), "{sweep:?}");
    assert_eq!(sweep.chosen_memory_mb, None);
    assert!(r.applied.is_none(), "nothing measured, nothing applied");
    assert_eq!(config(&sdk, &name).await.memory_size, Some(256));
    assert_eq!(aliases(&sdk, &name).await, Vec::<String>::new());
    cleanup(&sdk, &[&name]).await;
    drop_table(&sdk, &ops).await;
}

#[tokio::test]
async fn apply_changes_the_function_behind_an_alias_and_rollback_restores_it() {
    let sdk = emulator().await;
    let ops = ops_table(&sdk).await;
    let name = function(&sdk, "opt-apply", 1024, 30, &[OPT_IN]).await;
    seed(&sdk, &name, 1000.0, 120.0, 2000.0, 200).await;
    let worker = stoker_it::optimizer::worker(&ops).await;
    let req = request(names(&[&name]), OptimizeMode::Apply);

    let report = worker.optimize(&req, "e-apply").await.expect("a pass");
    let change = report.functions[0].applied.clone().expect("applied");
    assert_eq!((change.previous_memory_mb, change.memory_mb), (1024, 768));
    let c = config(&sdk, &name).await;
    assert_eq!((c.memory_size, c.timeout), (Some(768), Some(15)));
    let lambda = aws_sdk_lambda::Client::new(&sdk);
    let live = lambda
        .get_alias()
        .function_name(&name)
        .name("live")
        .send()
        .await
        .expect("the live alias");
    assert_eq!(live.function_version(), change.version.as_deref());
    let pinned = lambda
        .get_function_configuration()
        .function_name(&name)
        .qualifier("live")
        .send()
        .await
        .expect("GetFunctionConfiguration live");
    assert_eq!(pinned.memory_size, Some(768), "the alias runs the new size");

    // A retry of the same pass replays the change; another pass within the cooldown waits.
    let again = worker.optimize(&req, "e-apply").await.expect("a retry");
    assert_eq!(again.functions[0].applied.as_ref(), Some(&change));
    let next = worker.optimize(&req, "e-next").await.expect("a later pass");
    let why = next.functions[0].not_applied.as_deref().unwrap_or_default();
    assert!(why.contains("changed 0 min ago"), "{why}");
    assert_eq!(
        config(&sdk, &name).await.memory_size,
        Some(768),
        "no second change"
    );

    let back = worker.applier.rollback(&name).await.expect("rollback");
    assert_eq!(back.status, "rolled_back");
    let c = config(&sdk, &name).await;
    assert_eq!((c.memory_size, c.timeout), (Some(1024), Some(30)));
    let pinned = lambda
        .get_function_configuration()
        .function_name(&name)
        .qualifier("live")
        .send()
        .await
        .expect("GetFunctionConfiguration live");
    assert_eq!(
        pinned.memory_size,
        Some(1024),
        "the alias is back on the old size"
    );
    let twice = worker.applier.rollback(&name).await.expect_err("once only");
    assert_eq!(twice.code(), "already_rolled_back");
    cleanup(&sdk, &[&name]).await;
    drop_table(&sdk, &ops).await;
}

/// An alarm on `name`'s AWS/Lambda Errors, once LocalStack has evaluated it (its own first
/// evaluation could otherwise overwrite a state the test sets).
async fn errors_alarm(cw: &aws_sdk_cloudwatch::Client, name: &str) -> String {
    use aws_sdk_cloudwatch::types::{ComparisonOperator, StateValue, Statistic};
    let alarm = unique("it-opt-errors");
    cw.put_metric_alarm()
        .alarm_name(&alarm)
        .namespace("AWS/Lambda")
        .metric_name("Errors")
        .dimensions(
            Dimension::builder()
                .name("FunctionName")
                .value(name)
                .build(),
        )
        .statistic(Statistic::Sum)
        .period(60)
        .evaluation_periods(1)
        .threshold(0.0)
        .comparison_operator(ComparisonOperator::GreaterThanThreshold)
        .treat_missing_data("notBreaching")
        .send()
        .await
        .expect("PutMetricAlarm");
    let evaluated = stoker_it::poll(Duration::from_secs(30), Duration::from_millis(200), || {
        let cw = cw.clone();
        let alarm = alarm.clone();
        async move {
            let out = cw.describe_alarms().alarm_names(alarm).send().await.ok()?;
            let state = out.metric_alarms().first()?.state_value()?.clone();
            (state != StateValue::InsufficientData).then_some(())
        }
    })
    .await;
    assert!(evaluated.is_some(), "LocalStack evaluates the new alarm");
    alarm
}

/// A retry of a pass whose change is made (its watch cut off by a crash, say) reads the
/// alarms again: one in ALARM now rolls the change back; a later retry reports that rollback.
#[tokio::test]
async fn a_retried_pass_rolls_its_change_back_on_an_alarm_in_alarm_now() {
    use aws_sdk_cloudwatch::types::StateValue;
    let sdk = emulator().await;
    let ops = ops_table(&sdk).await;
    let name = function(&sdk, "opt-retry", 1024, 30, &[OPT_IN]).await;
    seed(&sdk, &name, 1000.0, 120.0, 2000.0, 200).await;
    let cw = aws_sdk_cloudwatch::Client::new(&sdk);
    let alarm = errors_alarm(&cw, &name).await;
    let worker = stoker_it::optimizer::worker(&ops).await;
    let mut req = request(names(&[&name]), OptimizeMode::Apply);
    req.bounds.watch_secs = 0;
    let first = worker.optimize(&req, "e-retry").await.expect("a pass");
    assert!(
        first.functions[0].applied.is_some(),
        "{:?}",
        first.functions[0]
    );
    assert_eq!(config(&sdk, &name).await.memory_size, Some(768));

    cw.set_alarm_state()
        .alarm_name(&alarm)
        .state_value(StateValue::Alarm)
        .state_reason("test: errors after the change")
        .send()
        .await
        .expect("SetAlarmState");
    let retry = worker.optimize(&req, "e-retry").await.expect("a retry");
    let f = &retry.functions[0];
    assert_eq!(
        f.rolled_back.as_ref().map(|t| t.alarm.as_str()),
        Some(alarm.as_str()),
        "{f:?}"
    );
    assert_eq!(
        config(&sdk, &name).await.memory_size,
        Some(1024),
        "rolled back"
    );
    let again = worker.optimize(&req, "e-retry").await.expect("a retry");
    let f = &again.functions[0];
    let back = f.rolled_back.as_ref().expect("still reported");
    assert!(
        back.reason.contains("earlier attempt of this pass"),
        "{back:?}"
    );
    let _ = cw.delete_alarms().alarm_names(&alarm).send().await;
    cleanup(&sdk, &[&name]).await;
    drop_table(&sdk, &ops).await;
}

/// After an apply the function's alarms are watched (`bounds.watch_secs`): one that goes to
/// ALARM rolls the change back at once, and the report, its summary and the announcement name
/// it. A function with an alarm already in ALARM is not changed at all.
#[tokio::test]
async fn an_alarm_going_off_after_an_apply_rolls_the_change_back() {
    use aws_sdk_cloudwatch::types::StateValue;
    let sdk = emulator().await;
    let ops = ops_table(&sdk).await;
    let name = function(&sdk, "opt-watch", 1024, 30, &[OPT_IN]).await;
    seed(&sdk, &name, 1000.0, 120.0, 2000.0, 200).await;
    let cw = aws_sdk_cloudwatch::Client::new(&sdk);
    let alarm = errors_alarm(&cw, &name).await;
    let set = |state: StateValue, reason: &'static str| {
        let (cw, alarm) = (cw.clone(), alarm.clone());
        async move {
            cw.set_alarm_state()
                .alarm_name(alarm)
                .state_value(state)
                .state_reason(reason)
                .send()
                .await
                .expect("SetAlarmState");
        }
    };
    let worker = stoker_it::optimizer::worker(&ops).await;
    let mut req = request(names(&[&name]), OptimizeMode::Apply);
    req.bounds.watch_secs = 60;

    set(StateValue::Alarm, "test: errors before the pass").await;
    let sick = worker.optimize(&req, "e-sick").await.expect("a pass");
    let f = &sick.functions[0];
    assert!(f.applied.is_none(), "{f:?}");
    let why = f.not_applied.as_deref().unwrap_or_default();
    assert!(
        why.contains(&format!("unhealthy: alarm {alarm} in ALARM: ")),
        "{why}"
    );
    assert_eq!(config(&sdk, &name).await.memory_size, Some(1024));

    set(StateValue::Ok, "test: healthy").await;
    let trip = async {
        let changed = stoker_it::poll(Duration::from_secs(60), Duration::from_millis(200), || {
            let sdk = sdk.clone();
            let name = name.clone();
            async move { (config(&sdk, &name).await.memory_size == Some(768)).then_some(()) }
        })
        .await;
        if changed.is_some() {
            set(StateValue::Alarm, "test: errors after the change").await;
        }
        changed.is_some()
    };
    let (report, changed) = tokio::join!(worker.optimize(&req, "e-watch"), trip);
    let report = report.expect("a pass");
    let f = &report.functions[0];
    assert!(changed, "the pass applies 768 MB: {f:?}");
    assert_eq!(f.applied.as_ref().map(|c| c.memory_mb), Some(768), "{f:?}");
    assert_eq!(f.watched_alarms, vec![alarm.clone()]);
    let back = f.rolled_back.as_ref().expect("rolled back");
    assert_eq!(back.alarm, alarm);
    // (LocalStack's own evaluation may have replaced the reason the test set.)
    assert!(!back.reason.is_empty(), "{back:?}");
    assert_eq!(report.rolled_back, 1);
    let c = config(&sdk, &name).await;
    assert_eq!(
        (c.memory_size, c.timeout),
        (Some(1024), Some(30)),
        "rolled back"
    );
    let news = stoker_optimizer::Optimizer::announcement(f);
    assert!(news.applied);
    assert!(
        news.rolled_back
            .as_deref()
            .unwrap_or_default()
            .contains(&alarm),
        "{news:?}"
    );
    let line = stoker_kit::Summary::summary(&report);
    assert!(
        line.contains(&format!("(rolled back: {alarm} in ALARM)")),
        "{line}"
    );
    let _ = cw.delete_alarms().alarm_names(&alarm).send().await;
    cleanup(&sdk, &[&name]).await;
    drop_table(&sdk, &ops).await;
}

/// A peak of `peak` concurrent executions a day ago, and `cold` REPORT lines with an Init
/// Duration an hour ago.
async fn seed_cold_starts(sdk: &aws_config::SdkConfig, name: &str, peak: f64, cold: i64) {
    aws_sdk_cloudwatch::Client::new(sdk)
        .put_metric_data()
        .namespace("AWS/Lambda")
        .metric_data(
            MetricDatum::builder()
                .metric_name("ConcurrentExecutions")
                .dimensions(
                    Dimension::builder()
                        .name("FunctionName")
                        .value(name)
                        .build(),
                )
                .timestamp(ago(24))
                .unit(StandardUnit::Count)
                .value(peak)
                .build(),
        )
        .send()
        .await
        .expect("PutMetricData");
    let logs = aws_sdk_cloudwatchlogs::Client::new(sdk);
    let group = format!("/aws/lambda/{name}");
    logs.create_log_stream()
        .log_group_name(&group)
        .log_stream_name("cold")
        .send()
        .await
        .expect("CreateLogStream");
    let at = (chrono::Utc::now() - chrono::Duration::hours(1)).timestamp_millis();
    let mut put = logs
        .put_log_events()
        .log_group_name(&group)
        .log_stream_name("cold");
    for i in 0..cold {
        put = put.log_events(
            aws_sdk_cloudwatchlogs::types::InputLogEvent::builder()
                .timestamp(at + i)
                .message(format!("REPORT RequestId: c{i}\tDuration: 120 ms\tBilled Duration: 120 ms\tMemory Size: 1024 MB\tMax Memory Used: 150 MB\tInit Duration: 250.5 ms\t"))
                .build()
                .expect("log event"),
        );
    }
    put.send().await.expect("PutLogEvents");
}

/// Provisioned-concurrency advice: the peak of ConcurrentExecutions and the cold starts (the
/// REPORT lines with an Init Duration) of the lookback give the advice, priced against warm-up
/// pings; a pass that does not ask for it reads neither.
#[tokio::test]
async fn provisioned_concurrency_is_advised_from_the_peak_and_the_cold_starts() {
    let sdk = emulator().await;
    let ops = ops_table(&sdk).await;
    let name = function(&sdk, "opt-pc", 1024, 30, &[]).await;
    seed(&sdk, &name, 1000.0, 120.0, 2000.0, 200).await;
    // 20 cold starts of the 1,000 invocations: 2 %.
    seed_cold_starts(&sdk, &name, 3.0, 20).await;
    let worker = stoker_it::optimizer::worker(&ops).await;
    let mut req = request(names(&[&name]), OptimizeMode::Recommend);
    let plain = worker.optimize(&req, "e-pc0").await.expect("a pass");
    assert!(plain.functions[0].provisioned.is_none(), "not asked for");
    req.provisioned_concurrency = true;
    let report = worker.optimize(&req, "e-pc").await.expect("a pass");
    let pc = report.functions[0].provisioned.clone().expect("advice");
    assert_eq!(pc.peak_concurrency, Some(3), "{pc:?}");
    assert_eq!(pc.cold_starts, 20, "{pc:?}");
    assert_eq!(pc.recommended, 3, "{pc:?}");
    assert!(
        pc.reason.contains("2.0 % of invocations started cold"),
        "{pc:?}"
    );
    // 3 instances of 1 GB for a month cost about $32; pinging them about 5 cents.
    assert!(
        pc.provisioned_monthly_usd > 30.0 && pc.provisioned_monthly_usd < 33.0,
        "{pc:?}"
    );
    assert!(
        pc.warmup_pings_monthly_usd > 0.04 && pc.warmup_pings_monthly_usd < 0.06,
        "{pc:?}"
    );
    // The job's summary line (what `stoker publish --wait` and the pipeline show) says it.
    let line = stoker_kit::Summary::summary(&report);
    assert!(
        line.contains(&format!(
            "provisioned concurrency 3 ({:.2} $/mo against {:.2} for pings)",
            pc.provisioned_monthly_usd, pc.warmup_pings_monthly_usd
        )),
        "{line}"
    );
    cleanup(&sdk, &[&name]).await;
    drop_table(&sdk, &ops).await;
}

/// In mode apply, the advice is set on the function's `live` alias, bounded by
/// `max_provisioned_concurrency`, recorded first, held back by the cooldown, and rolled back
/// to no configuration.
#[tokio::test]
async fn provisioned_concurrency_is_applied_on_the_alias_within_its_bound_and_rolled_back() {
    let sdk = emulator().await;
    let ops = ops_table(&sdk).await;
    let name = function(&sdk, "opt-pca", 1024, 30, &[OPT_IN]).await;
    seed(&sdk, &name, 1000.0, 120.0, 2000.0, 200).await;
    seed_cold_starts(&sdk, &name, 3.0, 20).await;
    let worker = stoker_it::optimizer::worker(&ops).await;
    let mut req = request(names(&[&name]), OptimizeMode::Apply);
    req.provisioned_concurrency = true;
    req.bounds.max_provisioned_concurrency = 2;
    let report = worker.optimize(&req, "e-pca").await.expect("a pass");
    let f = &report.functions[0];
    assert!(
        f.applied.is_some(),
        "the memory change made the alias: {f:?}"
    );
    let pc = f.provisioned.as_ref().expect("advice");
    assert_eq!(pc.recommended, 3, "{pc:?}");
    let change = pc
        .applied
        .clone()
        .unwrap_or_else(|| panic!("applied: {pc:?}"));
    assert_eq!(
        (change.previous, change.provisioned),
        (None, 2),
        "bounded to 2"
    );
    assert_eq!(
        worker.applier.provisioned_now(&name).await.expect("read"),
        Some(2)
    );

    let again = worker.optimize(&req, "e-pca2").await.expect("a pass");
    let held = again.functions[0].provisioned.as_ref().expect("advice");
    assert!(held.applied.is_none(), "{held:?}");
    assert!(
        held.not_applied
            .as_deref()
            .unwrap_or_default()
            .contains("already has 2")
            || held
                .not_applied
                .as_deref()
                .unwrap_or_default()
                .contains("changed less than"),
        "{held:?}"
    );

    let back = worker
        .applier
        .rollback_provisioned(&name)
        .await
        .expect("rollback");
    assert_eq!(back.status, "rolled_back");
    assert_eq!(
        worker.applier.provisioned_now(&name).await.expect("read"),
        None
    );
    let twice = worker
        .applier
        .rollback_provisioned(&name)
        .await
        .expect_err("once only");
    assert_eq!(twice.code(), "already_rolled_back");
    // The first pass's event delivered again does not set it again.
    let replay = worker.optimize(&req, "e-pca").await.expect("a pass");
    let pc = replay.functions[0].provisioned.as_ref().expect("advice");
    assert!(pc.applied.is_none(), "{pc:?}");
    assert!(
        pc.not_applied
            .as_deref()
            .unwrap_or_default()
            .contains("rolled back since this pass set it"),
        "{pc:?}"
    );
    assert_eq!(
        worker.applier.provisioned_now(&name).await.expect("read"),
        None
    );
    cleanup(&sdk, &[&name]).await;
    drop_table(&sdk, &ops).await;
}

#[tokio::test]
async fn apply_keeps_to_the_bounds_and_never_touches_a_function_left_alone() {
    let sdk = emulator().await;
    let ops = ops_table(&sdk).await;
    let alone = function(
        &sdk,
        "opt-alone",
        1024,
        30,
        &[OPT_IN, ("stoker:leave-alone", "true")],
    )
    .await;
    let bounded = function(&sdk, "opt-bound", 512, 30, &[OPT_IN]).await;
    seed(&sdk, &alone, 1000.0, 120.0, 2000.0, 200).await;
    seed(&sdk, &bounded, 1000.0, 120.0, 2000.0, 500).await;
    let mut req = request(
        names(&[&alone, &bounded, "it-opt-missing"]),
        OptimizeMode::Apply,
    );
    req.bounds.max_memory_mb = 640;
    let report = stoker_it::optimizer::worker(&ops)
        .await
        .optimize(&req, "e-bounds")
        .await
        .expect("a pass");
    let a = find(&report.functions, &alone);
    assert_eq!(a.finding, Finding::NotOptimized);
    assert!(a.applied.is_none());
    assert!(
        a.not_applied
            .as_deref()
            .is_some_and(|w| w.contains("stoker:leave-alone")),
        "{a:?}"
    );
    assert_eq!(
        config(&sdk, &alone).await.memory_size,
        Some(1024),
        "untouched"
    );
    let b = find(&report.functions, &bounded);
    assert_eq!(
        b.recommended_memory_mb,
        Some(640),
        "768 held to max_memory_mb"
    );
    assert_eq!(config(&sdk, &bounded).await.memory_size, Some(640));
    assert_eq!(report.missing.len(), 1, "{:?}", report.missing);
    assert!(
        report.missing[0].error.contains("ResourceNotFound"),
        "{:?}",
        report.missing
    );
    cleanup(&sdk, &[&alone, &bounded]).await;
    drop_table(&sdk, &ops).await;
}

#[tokio::test]
async fn the_worker_binary_reviews_a_queued_request_and_dead_letters_a_bad_one() {
    let sdk = emulator().await;
    let env = KitEnv::create(&sdk, "optq", 3, false)
        .await
        .expect("resources");
    let name = function(&sdk, "opt-q", 1024, 30, &[]).await;
    seed(&sdk, &name, 1000.0, 120.0, 2000.0, 200).await;
    let _worker = env
        .spawn_worker(
            workspace_bin("stoker-optimizer").to_str().expect("path"),
            &[],
        )
        .expect("spawn the worker");
    let good = Envelope::new(
        request(names(&[&name]), OptimizeMode::Recommend),
        SOURCE_OPERATOR,
        "operator:test",
    );
    env.send(&serde_json::to_string(&good).expect("json"), None)
        .await
        .expect("send");
    let mut bad = serde_json::to_value(&good).expect("json");
    bad["id"] = json!(uuid::Uuid::now_v7());
    bad["payload"]["bounds"] = json!({ "min_memory_mb": 2048, "max_memory_mb": 1024 });
    env.send(&bad.to_string(), None).await.expect("send");
    let report = env
        .wait_outcome("optimizer", &good.id.to_string(), Duration::from_secs(60))
        .await;
    assert_eq!(
        report["functions"][0]["finding"], "not_optimized",
        "{report}"
    );
    assert_eq!(
        report["functions"][0]["recommended_memory_mb"], 768,
        "{report}"
    );
    let table = stoker_optimizer::report::table(&report).expect("a text table");
    assert!(table.contains("1024 -> 768"), "{table}");
    let reason = &env.dead_reasons(1, Duration::from_secs(30)).await[0];
    assert!(reason.contains("bounds.min_memory_mb"), "reason: {reason}");
    env.delete().await;
    cleanup(&sdk, &[&name]).await;
}

/// Pruning keeps the optimizer's newest versions and any an alias uses, and never touches a
/// version the optimizer did not publish (LocalStack, real versions).
#[tokio::test]
async fn pruning_keeps_the_newest_versions_and_those_an_alias_uses() {
    use stoker_optimizer::lambda_config::{configure, publish};
    let sdk = emulator().await;
    let name = function(&sdk, "opt-prune", 512, 30, &[]).await;
    let lambda = aws_sdk_lambda::Client::new(&sdk);
    // Version 1 is the owner's; 2 to 5 the optimizer's (each a new memory size).
    let mut published = Vec::new();
    for (memory, description) in [
        (256, "the owner's release".to_owned()),
        (320, "stoker optimizer: 320 MB, 30 s".to_owned()),
        (384, "stoker optimizer: 384 MB, 30 s".to_owned()),
        (448, "stoker optimizer: rollback".to_owned()),
        (512, "stoker optimizer: 512 MB, 30 s".to_owned()),
    ] {
        configure(&lambda, &name, memory, Some(30), None)
            .await
            .expect("configure");
        let v = publish(&lambda, &name, &description, None)
            .await
            .expect("publish");
        published.push(v.version);
    }
    assert_eq!(published, ["1", "2", "3", "4", "5"]);
    // An alias still points at the oldest of the optimizer's versions.
    lambda
        .create_alias()
        .function_name(&name)
        .name("old")
        .function_version("2")
        .send()
        .await
        .expect("CreateAlias");
    let pruned = stoker_optimizer::prune::prune(&lambda, &name, 2)
        .await
        .expect("prune");
    assert_eq!(pruned, ["3"], "2 is in use, 4 and 5 are the newest two");
    assert_eq!(
        stoker_it::optimizer::versions(&sdk, &name).await,
        ["$LATEST", "1", "2", "4", "5"]
    );
    let again = stoker_optimizer::prune::prune(&lambda, &name, 2)
        .await
        .expect("prune");
    assert!(again.is_empty(), "{again:?}");
    cleanup(&sdk, &[&name]).await;
}
