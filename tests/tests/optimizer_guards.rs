//! The optimizer's guards against hurting a function, on the emulators (Lambda on ministack,
//! metrics and the ops table on LocalStack): only functions that opted in are changed; one pass
//! per function at a time, the cooldown a conditional write, an update never over someone
//! else's; a sweep killed at any step is undone by the next pass, never deletes a version it
//! did not publish, and must fit the job's time; bounds never lower a function that fits.

use std::sync::Arc;

use serde_json::json;
use stoker_events::payload::optimize::{
    Bounds, FunctionSelector, OptimizeMode, OptimizeRequest, PowerTuning, Strategy,
};
use stoker_events::payload::outcome::Finding;
use stoker_it::emulator;
use stoker_it::optimizer::{
    OPT_IN, aliases, cleanup, config, drop_table, expire_lock, function, ops_table, seed, versions,
};
use stoker_optimizer::apply::Applied;
use stoker_optimizer::functions::describe;
use stoker_optimizer::halt::{Halt, Step};
use stoker_optimizer::lambda_config::configure;
use tokio::sync::Notify;

fn request(name: &str, mode: OptimizeMode) -> OptimizeRequest {
    OptimizeRequest {
        functions: FunctionSelector::Names(vec![name.to_owned()]),
        lookback_days: 14,
        strategy: Strategy::default(),
        mode,
        bounds: Bounds::default(),
        power_tuning: None,
        tables: vec![],
        provisioned_concurrency: false,
    }
}

fn tuning(sizes: &[u32]) -> PowerTuning {
    PowerTuning {
        memory_sizes: sizes.to_vec(),
        invocations: 1,
        parallel: false,
        sleep_ms: 0,
        payload: Some(json!({ "name": "tune" })),
        arm64_twin: None,
    }
}

#[tokio::test]
async fn a_function_that_has_not_opted_in_is_reviewed_but_never_changed() {
    let sdk = emulator().await;
    let ops = ops_table(&sdk).await;
    let name = function(&sdk, "opt-out", 1024, 30, &[("stoker:optimize", "yes")]).await;
    seed(&sdk, &name, 1000.0, 120.0, 2000.0, 200).await;
    let worker = stoker_it::optimizer::worker(&ops).await;

    let report = worker
        .optimize(&request(&name, OptimizeMode::Apply), "e-out")
        .await
        .expect("a pass");
    let r = &report.functions[0];
    assert_eq!(r.recommended_memory_mb, Some(768), "still reviewed: {r:?}");
    assert!(r.applied.is_none(), "{r:?}");
    let why = r.error.as_deref().unwrap_or_default();
    assert!(why.contains("stoker:optimize=true"), "names the tag: {r:?}");

    let mut req = request(&name, OptimizeMode::Recommend);
    req.power_tuning = Some(tuning(&[128]));
    let report = worker.optimize(&req, "e-out-sweep").await.expect("a pass");
    let r = &report.functions[0];
    assert!(r.sweep.is_none(), "{r:?}");
    assert!(
        r.error
            .as_deref()
            .is_some_and(|e| e.contains("stoker:optimize=true")),
        "{r:?}"
    );
    let c = config(&sdk, &name).await;
    assert_eq!((c.memory_size, c.timeout), (Some(1024), Some(30)));
    assert_eq!(versions(&sdk, &name).await, ["$LATEST"]);
    cleanup(&sdk, &[&name]).await;
    drop_table(&sdk, &ops).await;
}

#[tokio::test]
async fn two_concurrent_passes_on_one_function_apply_once_and_the_other_reports_the_lock() {
    let sdk = emulator().await;
    let ops = ops_table(&sdk).await;
    let name = function(&sdk, "opt-race", 1024, 30, &[OPT_IN]).await;
    seed(&sdk, &name, 1000.0, 120.0, 2000.0, 200).await;
    let req = request(&name, OptimizeMode::Apply);
    // Pass A stops just before it changes the function; pass B runs meanwhile.
    let (reached, resume) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
    let mut first = stoker_it::optimizer::worker(&ops).await;
    first.halt = Halt::pause_at(Step::Applying, reached.clone(), resume.clone());
    let second = stoker_it::optimizer::worker(&ops).await;
    let a = tokio::spawn(async move { first.optimize(&req, "e-race-a").await });
    reached.notified().await;
    let b = second
        .optimize(&request(&name, OptimizeMode::Apply), "e-race-b")
        .await
        .expect("pass B");
    resume.notify_one();
    let a = a.await.expect("pass A ran").expect("pass A");

    let (ra, rb) = (&a.functions[0], &b.functions[0]);
    assert!(ra.applied.is_some(), "A applies: {ra:?}");
    assert!(rb.applied.is_none(), "B does not: {rb:?}");
    assert!(
        rb.reason.contains("another pass (event e-race-a)"),
        "B reports the lock: {rb:?}"
    );
    assert_eq!(config(&sdk, &name).await.memory_size, Some(768));
    assert_eq!(
        versions(&sdk, &name).await.len(),
        2,
        "one version published"
    );
    cleanup(&sdk, &[&name]).await;
    drop_table(&sdk, &ops).await;
}

#[tokio::test]
async fn a_sweep_killed_at_any_step_is_undone_by_the_next_pass_even_without_power_tuning() {
    let sdk = emulator().await;
    let ops = ops_table(&sdk).await;
    let name = function(&sdk, "opt-kill", 256, 30, &[OPT_IN]).await;
    // (where the kill comes, $LATEST's memory then, versions then, aliases then)
    let steps = [
        (Step::Recorded, 256, 1, 0),
        (Step::Configured, 512, 1, 0), // before the alias is created
        (Step::Published, 512, 2, 0),  // a version, no alias yet
        (Step::Aliased, 512, 2, 1),
    ];
    for (step, memory, version_count, alias_count) in steps {
        let mut req = request(&name, OptimizeMode::Recommend);
        req.power_tuning = Some(tuning(&[1024, 512]));
        let reached = Arc::new(Notify::new());
        let mut killed = stoker_it::optimizer::worker(&ops).await;
        killed.halt = Halt::kill_at(step, reached.clone());
        tokio::select! {
            r = killed.optimize(&req, "e-killed") => panic!("the sweep was not stopped at {step:?}: {r:?}"),
            () = reached.notified() => {}, // the pass's future is dropped here: a kill
        }
        let left = (
            config(&sdk, &name).await.memory_size,
            versions(&sdk, &name).await.len(),
            aliases(&sdk, &name).await.len(),
        );
        assert_eq!(
            left,
            (Some(memory), version_count, alias_count),
            "killed at {step:?}"
        );
        expire_lock(&sdk, &ops, &name).await;
        // The next pass has no power tuning; it still puts everything back.
        let report = stoker_it::optimizer::worker(&ops)
            .await
            .optimize(&request(&name, OptimizeMode::Recommend), "e-next")
            .await
            .expect("the next pass");
        assert_eq!(
            report.functions[0].current_memory_mb, 256,
            "killed at {step:?}: the size before the sweep"
        );
        assert_eq!(
            config(&sdk, &name).await.memory_size,
            Some(256),
            "killed at {step:?}: restored"
        );
        assert_eq!(versions(&sdk, &name).await, ["$LATEST"], "{step:?}");
        assert_eq!(aliases(&sdk, &name).await, Vec::<String>::new(), "{step:?}");
    }
    cleanup(&sdk, &[&name]).await;
    drop_table(&sdk, &ops).await;
}

#[tokio::test]
async fn a_sweep_never_deletes_a_version_it_did_not_publish() {
    let sdk = emulator().await;
    let ops = ops_table(&sdk).await;
    let name = function(&sdk, "opt-keep", 256, 30, &[OPT_IN]).await;
    let lambda = aws_sdk_lambda::Client::new(&sdk);
    // The owner's version of the current configuration, live behind an alias.
    let v = lambda
        .publish_version()
        .function_name(&name)
        .description("the owner's release")
        .send()
        .await
        .expect("PublishVersion");
    let mine = v.version().expect("a version").to_owned();
    lambda
        .create_alias()
        .function_name(&name)
        .name("prod")
        .function_version(&mine)
        .send()
        .await
        .expect("CreateAlias");
    let mut req = request(&name, OptimizeMode::Recommend);
    req.power_tuning = Some(tuning(&[256, 512]));
    let report = stoker_it::optimizer::worker(&ops)
        .await
        .optimize(&req, "e-keep")
        .await
        .expect("a pass");
    let r = &report.functions[0];
    let sweep = r.sweep.as_ref().unwrap_or_else(|| panic!("a sweep: {r:?}"));
    assert_eq!(sweep.sizes.len(), 2, "{sweep:?}");
    // At 256 MB `$LATEST` is unchanged since the owner published: PublishVersion answers the
    // owner's version. It is measured, never deleted.
    assert!(!sweep.versions.contains(&mine), "{sweep:?}");
    assert_eq!(versions(&sdk, &name).await, ["$LATEST", mine.as_str()]);
    assert_eq!(aliases(&sdk, &name).await, ["prod"]);
    assert_eq!(config(&sdk, &name).await.memory_size, Some(256));
    cleanup(&sdk, &[&name]).await;
    drop_table(&sdk, &ops).await;
}

#[tokio::test]
async fn a_sweep_that_cannot_finish_within_the_job_timeout_is_refused_with_the_arithmetic() {
    let sdk = emulator().await;
    let ops = ops_table(&sdk).await;
    let name = function(&sdk, "opt-long", 256, 30, &[OPT_IN]).await;
    let mut req = request(&name, OptimizeMode::Recommend);
    // 2 sizes x 20 invocations x 30 s (the function's timeout) = 1200 s: beyond 900 s.
    req.power_tuning = Some(PowerTuning {
        invocations: 20,
        ..tuning(&[128, 512])
    });
    let report = stoker_it::optimizer::worker(&ops)
        .await
        .optimize(&req, "e-long")
        .await
        .expect("a pass");
    let r = &report.functions[0];
    assert!(r.sweep.is_none(), "{r:?}");
    let why = r.error.as_deref().unwrap_or_default();
    assert!(
        why.contains("2 sizes x 20 invocations x 30 s") && why.contains("900 s"),
        "the arithmetic: {r:?}"
    );
    assert_eq!(
        versions(&sdk, &name).await,
        ["$LATEST"],
        "nothing was changed"
    );
    cleanup(&sdk, &[&name]).await;
    drop_table(&sdk, &ops).await;
}

#[tokio::test]
async fn an_apply_never_overwrites_a_function_changed_since_the_pass_read_it() {
    let sdk = emulator().await;
    let ops = ops_table(&sdk).await;
    let name = function(&sdk, "opt-rev", 1024, 30, &[OPT_IN]).await;
    seed(&sdk, &name, 1000.0, 120.0, 2000.0, 200).await;
    let (reached, resume) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
    let mut worker = stoker_it::optimizer::worker(&ops).await;
    worker.halt = Halt::pause_at(Step::Applying, reached.clone(), resume.clone());
    let req = request(&name, OptimizeMode::Apply);
    let pass = tokio::spawn(async move { worker.optimize(&req, "e-rev").await });
    reached.notified().await;
    // Someone else changes the function between the pass's read and its update.
    let lambda = aws_sdk_lambda::Client::new(&sdk);
    configure(&lambda, &name, 2048, None, None)
        .await
        .expect("the other change");
    resume.notify_one();
    let report = pass.await.expect("the pass ran").expect("a pass");
    let r = &report.functions[0];
    assert!(r.applied.is_none(), "{r:?}");
    assert!(
        r.error
            .as_deref()
            .is_some_and(|e| e.contains("changed since this pass read it")),
        "{r:?}"
    );
    let c = config(&sdk, &name).await;
    assert_eq!((c.memory_size, c.timeout), (Some(2048), Some(30)), "theirs");
    assert_eq!(
        versions(&sdk, &name).await,
        ["$LATEST"],
        "nothing published"
    );
    cleanup(&sdk, &[&name]).await;
    drop_table(&sdk, &ops).await;
}

#[tokio::test]
async fn the_cooldown_is_a_conditional_write_not_only_a_read() {
    let sdk = emulator().await;
    let ops = ops_table(&sdk).await;
    let name = function(&sdk, "opt-cool", 1024, 30, &[OPT_IN]).await;
    let lambda = aws_sdk_lambda::Client::new(&sdk);
    let worker = stoker_it::optimizer::worker(&ops).await;
    let f = describe(&lambda, &name).await.expect("describe");
    let first = worker
        .applier
        .apply(&f, 768, 15, "e-cool-1", worker.cooldown)
        .await
        .expect("the first apply");
    assert!(matches!(first, Applied::Changed(_)), "{first:?}");
    // A second apply that skipped the cooldown check (as a pass racing the first would).
    let f = describe(&lambda, &name).await.expect("describe");
    let second = worker
        .applier
        .apply(&f, 512, 15, "e-cool-2", worker.cooldown)
        .await
        .expect("the second apply");
    let Applied::Cooling(Some(last)) = &second else {
        panic!("the cooldown holds: {second:?}");
    };
    assert_eq!(last.event_id, "e-cool-1");
    assert_eq!(config(&sdk, &name).await.memory_size, Some(768));
    cleanup(&sdk, &[&name]).await;
    drop_table(&sdk, &ops).await;
}

#[tokio::test]
async fn memory_above_max_memory_mb_is_never_lowered_when_it_fits_or_is_short() {
    let sdk = emulator().await;
    let ops = ops_table(&sdk).await;
    let (fits, short) = tokio::join!(
        function(&sdk, "opt-big-fits", 4096, 3, &[OPT_IN]),
        function(&sdk, "opt-big-short", 4096, 3, &[OPT_IN]),
    );
    tokio::join!(
        seed(&sdk, &fits, 1000.0, 120.0, 2000.0, 3000),
        seed(&sdk, &short, 1000.0, 120.0, 2000.0, 4000),
    );
    let mut req = request(&fits, OptimizeMode::Apply);
    req.functions = FunctionSelector::Names(vec![fits.clone(), short.clone()]);
    // Bounds::default() has max_memory_mb 3008.
    let report = stoker_it::optimizer::worker(&ops)
        .await
        .optimize(&req, "e-big")
        .await
        .expect("a pass");
    let f = report
        .functions
        .iter()
        .find(|r| r.function == fits)
        .expect("fits");
    assert_eq!(
        (f.finding, f.recommended_memory_mb),
        (Finding::Optimized, Some(4096)),
        "{f:?}"
    );
    let s = report
        .functions
        .iter()
        .find(|r| r.function == short)
        .expect("short");
    assert_eq!(
        (s.finding, s.recommended_memory_mb),
        (Finding::NotOptimized, None)
    );
    assert!(
        s.not_applied
            .as_deref()
            .is_some_and(|w| w.starts_with("the bounds cannot be met: more memory")),
        "{s:?}"
    );
    assert_eq!(report.applied, 0);
    for name in [&fits, &short] {
        assert_eq!(config(&sdk, name).await.memory_size, Some(4096), "{name}");
    }
    cleanup(&sdk, &[&fits, &short]).await;
    drop_table(&sdk, &ops).await;
}
