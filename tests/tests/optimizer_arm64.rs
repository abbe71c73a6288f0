//! Architecture advice at measured durations: a sweep with an arm64 twin sweeps the function
//! and the twin at the same sizes on ministack's Lambda, and prices each choice at its own
//! measured billed duration and architecture. ministack runs every zip on this machine's
//! architecture, so the twin is the same x86_64 build declared arm64 (`Architectures`): the
//! test checks the plumbing, the pricing and the guardrails, not how fast arm64 is.

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::Architecture;
use serde_json::json;
use stoker_events::payload::optimize::{
    Bounds, FunctionSelector, OptimizeMode, OptimizeRequest, PowerTuning, Strategy, StrategyName,
};
use stoker_it::optimizer::{OPT_IN, aliases, cleanup, config, drop_table, function, ops_table};
use stoker_it::{emulator, workspace_bin, zip_executables};
use stoker_optimizer::pricing::{Arch, Pricing, SECONDS_PER_MONTH};

fn request(function: &str, twin: &str, sizes: &[u32], invocations: u32) -> OptimizeRequest {
    OptimizeRequest {
        functions: FunctionSelector::Names(vec![function.to_owned()]),
        lookback_days: 14,
        strategy: Strategy {
            name: StrategyName::Cost,
            weight: 0.5,
        },
        mode: OptimizeMode::Recommend,
        bounds: Bounds::default(),
        power_tuning: Some(PowerTuning {
            memory_sizes: sizes.to_vec(),
            invocations,
            parallel: false,
            sleep_ms: 0,
            payload: Some(json!({ "name": "tune", "work_ms": 20 })),
            arm64_twin: Some(twin.to_owned()),
        }),
        tables: vec![],
        provisioned_concurrency: false,
    }
}

/// Redeploys `name`'s code declared for arm64.
async fn declare_arm64(sdk: &aws_config::SdkConfig, name: &str) {
    let binary = std::fs::read(workspace_bin("warmed-example")).expect("the example's binary");
    aws_sdk_lambda::Client::new(sdk)
        .update_function_code()
        .function_name(name)
        .zip_file(Blob::new(zip_executables(&[("bootstrap", &binary)])))
        .architectures(Architecture::Arm64)
        .send()
        .await
        .expect("UpdateFunctionCode");
    let arch = config(sdk, name).await.architectures().to_vec();
    assert_eq!(arch, [Architecture::Arm64]);
}

#[tokio::test]
async fn a_sweep_with_an_arm64_twin_prices_both_at_their_measured_durations() {
    let sdk = emulator().await;
    let ops = ops_table(&sdk).await;
    let x86 = function(&sdk, "opt-x86", 512, 30, &[OPT_IN]).await;
    let twin = function(&sdk, "opt-arm", 512, 30, &[OPT_IN]).await;
    declare_arm64(&sdk, &twin).await;
    stoker_it::optimizer::seed(&sdk, &x86, 1000.0, 120.0, 2000.0, 200).await;
    let worker = stoker_it::optimizer::worker(&ops).await;
    let report = worker
        .optimize(&request(&x86, &twin, &[128, 256], 3), "e-arm")
        .await
        .expect("a pass");
    let f = &report.functions[0];
    let own = f.sweep.as_ref().unwrap_or_else(|| panic!("a sweep: {f:?}"));
    let m = f
        .arm64_measured
        .as_ref()
        .unwrap_or_else(|| panic!("measured: {f:?}"));
    let arm = m
        .sweep
        .as_ref()
        .unwrap_or_else(|| panic!("the twin was swept: {m:?}"));
    let sizes: Vec<u32> = arm.sizes.iter().map(|s| s.memory_mb).collect();
    assert_eq!(sizes, [128, 256]);
    assert!(arm.cleaned_up, "{arm:?}");
    // Its own versions, one per size, published on the twin (and deleted again).
    assert_eq!(arm.versions.len(), 2, "{arm:?}");
    assert_eq!(own.versions.len(), 2, "{own:?}");
    let pricing = Pricing::default();
    for s in &arm.sizes {
        assert_eq!((s.invocations, s.errors), (3, 0), "{s:?}");
        assert!(s.billed_ms >= 20.0, "the twin ran its 20 ms of work: {s:?}");
        // Each size is priced at arm64's GB-second, at its own measured duration.
        let want = pricing.per_invocation(s.memory_mb, s.billed_ms, Arch::Arm64);
        assert!(
            (s.cost_per_invocation_usd - want).abs() < 1e-15,
            "{s:?} {want}"
        );
    }
    let rate = f.observed.invocations_per_second();
    let monthly = |s: &stoker_optimizer::sweep::SweepReport| {
        let mb = s.chosen_memory_mb.expect("a choice");
        let p = s.sizes.iter().find(|p| p.memory_mb == mb).expect("size");
        (mb, p.cost_per_invocation_usd * rate * SECONDS_PER_MONTH)
    };
    let (xm, xusd) = monthly(own);
    let (am, ausd) = monthly(arm);
    assert_eq!(
        (m.x86_64_memory_mb, m.arm64_memory_mb),
        (Some(xm), Some(am)),
        "{m:?}"
    );
    assert!((m.x86_64_monthly_usd.expect("x86") - xusd).abs() < 1e-12);
    assert!((m.arm64_monthly_usd.expect("arm") - ausd).abs() < 1e-12);
    assert!((m.monthly_savings_usd.expect("saving") - (xusd - ausd)).abs() < 1e-12);
    // The twin is put back as any swept function.
    assert_eq!(config(&sdk, &twin).await.memory_size, Some(512));
    assert_eq!(aliases(&sdk, &twin).await, Vec::<String>::new());
    let line = stoker_kit::Summary::summary(&report);
    assert!(
        line.contains(&format!("arm64 as measured saves {:.2} $/mo", xusd - ausd)),
        "{line}"
    );

    // A twin that is not arm64, or has not opted in, is not swept; the function's own sweep
    // and review stand.
    let plain = function(&sdk, "opt-notarm", 512, 30, &[OPT_IN]).await;
    let shy = function(&sdk, "opt-shy", 512, 30, &[]).await;
    declare_arm64(&sdk, &shy).await;
    for (other, why) in [(&plain, "is x86_64, not arm64"), (&shy, "has not opted in")] {
        let report = worker
            .optimize(&request(&x86, other, &[128], 1), &format!("e-{other}"))
            .await
            .expect("a pass");
        let f = &report.functions[0];
        assert!(f.sweep.is_some() && f.error.is_none(), "{f:?}");
        let m = f.arm64_measured.as_ref().expect("a reason");
        assert!(m.sweep.is_none() && m.reason.contains(why), "{m:?}");
        assert_eq!(aliases(&sdk, other).await, Vec::<String>::new());
    }
    cleanup(&sdk, &[&x86, &twin, &plain, &shy]).await;
    drop_table(&sdk, &ops).await;
}
