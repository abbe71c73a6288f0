//! The optimizer's guards against hurting a function, on the emulators (Lambda on ministack,
//! metrics and the ops table on LocalStack): only functions that opted in are changed; one pass
//! per function at a time; a sweep killed at any step is undone by the next pass.

use std::sync::Arc;

use serde_json::json;
use stoker_events::payload::optimize::{
    Bounds, FunctionSelector, OptimizeMode, OptimizeRequest, PowerTuning, Strategy,
};
use stoker_it::emulator;
use stoker_it::optimizer::{
    OPT_IN, aliases, cleanup, config, drop_table, expire_lock, function, ops_table, seed, versions,
};
use stoker_optimizer::Optimizer;
use stoker_optimizer::halt::{Halt, Step};
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
    }
}

fn tuning(sizes: &[u32]) -> PowerTuning {
    PowerTuning {
        memory_sizes: sizes.to_vec(),
        invocations: 1,
        parallel: false,
        sleep_ms: 0,
        payload: Some(json!({ "name": "tune" })),
    }
}

#[tokio::test]
async fn a_function_that_has_not_opted_in_is_reviewed_but_never_changed() {
    let sdk = emulator().await;
    let ops = ops_table(&sdk).await;
    let name = function(&sdk, "opt-out", 1024, 30, &[("stoker:optimize", "yes")]).await;
    seed(&sdk, &name, 1000.0, 120.0, 2000.0, 200).await;
    let worker = Optimizer::new(&sdk, &ops, None);

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
    let mut first = Optimizer::new(&sdk, &ops, None);
    first.halt = Halt::pause_at(Step::Applying, reached.clone(), resume.clone());
    let second = Optimizer::new(&sdk, &ops, None);
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
async fn a_sweep_killed_before_its_alias_is_created_is_undone_by_the_next_pass() {
    let sdk = emulator().await;
    let ops = ops_table(&sdk).await;
    let name = function(&sdk, "opt-kill", 256, 30, &[OPT_IN]).await;
    for step in [Step::Configured] {
        let mut req = request(&name, OptimizeMode::Recommend);
        req.power_tuning = Some(tuning(&[1024, 512]));
        let reached = Arc::new(Notify::new());
        let mut killed = Optimizer::new(&sdk, &ops, None);
        killed.halt = Halt::kill_at(step, reached.clone());
        tokio::select! {
            r = killed.optimize(&req, "e-killed") => panic!("the sweep was not stopped at {step:?}: {r:?}"),
            () = reached.notified() => {}, // the pass's future is dropped here: a kill
        }
        expire_lock(&sdk, &ops, &name).await;
        // The next pass has no power tuning; it still puts everything back.
        let report = Optimizer::new(&sdk, &ops, None)
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
    let report = Optimizer::new(&sdk, &ops, None)
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
