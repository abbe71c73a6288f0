//! The rollup worker against CloudWatch on the emulators: sums, counts and extremes read back
//! from LocalStack, percentiles from ministack (LocalStack answers none); packing at the
//! limits; regressions against a seeded baseline; no double counting on redelivery.

use std::time::Duration;

use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit, Statistic};
use aws_smithy_types::DateTime;
use chrono::Utc;
use serde_json::json;
use stoker_events::payload::rollup::{Counters, MeasurementBatch, RollupRequest, Sample, Series};
use stoker_events::{Envelope, SOURCE_OPERATOR, Worker};
use stoker_it::kit::{KitEnv, create_ops_table};
use stoker_it::{emulator, poll, receive_all, unique, worker_sdk, workspace_bin};
use stoker_kit::outcome::Publisher;
use stoker_rollup::Rollup;
use stoker_rollup::aggregate::Aggregate;
use stoker_rollup::publish::Sender;

/// A rollup handler whose CloudWatch is `cw_endpoint` (LocalStack unless told), with its own
/// checkpoint table.
async fn rollup(
    sdk: &aws_config::SdkConfig,
    cw_endpoint: Option<&str>,
    bus: Option<&str>,
) -> Rollup {
    let table = format!("{}-ops", unique("rollup"));
    create_ops_table(sdk, &table).await.expect("table");
    let sdk = &worker_sdk(Worker::Rollup).await;
    stoker_it::bind_names(
        Worker::Rollup,
        &[
            ("STOKER_OPS_TABLE", &table),
            ("STOKER_BUS", bus.unwrap_or_default()),
        ],
    );
    let mut cw = aws_sdk_cloudwatch::config::Builder::from(sdk);
    if let Some(url) = cw_endpoint {
        cw = cw.endpoint_url(url);
    }
    Rollup {
        sender: Sender {
            cloudwatch: aws_sdk_cloudwatch::Client::from_conf(cw.build()),
            ddb: aws_sdk_dynamodb::Client::new(sdk),
            table,
        },
        events: bus.map(|b| Publisher::new(aws_sdk_eventbridge::Client::new(sdk), b)),
    }
}

fn namespace() -> String {
    format!("It/{}", &unique("ns")[3..])
}

/// A sample series in one minute, two minutes ago.
fn series(name: &str, values: &[f64]) -> Series {
    let minute = Utc::now().timestamp() / 60 * 60 - 120;
    Series {
        name: name.into(),
        dimensions: [("Route".to_owned(), "/orders".to_owned())].into(),
        unit: "Milliseconds".into(),
        samples: values
            .iter()
            .enumerate()
            .map(|(i, v)| Sample {
                value: *v,
                timestamp: chrono::DateTime::from_timestamp(minute + (i % 60) as i64, 0)
                    .expect("time"),
            })
            .collect(),
        counters: None,
    }
}

fn batch(namespace: &str, series: Vec<Series>) -> MeasurementBatch {
    MeasurementBatch {
        namespace: namespace.into(),
        series,
        high_resolution: false,
    }
}

/// Sum, count, min, max and the asked percentiles of one metric over the last 10 minutes.
async fn read_back(
    cw: &aws_sdk_cloudwatch::Client,
    ns: &str,
    name: &str,
    percentiles: &[&str],
) -> (f64, f64, f64, f64, Vec<f64>) {
    let now = Utc::now().timestamp();
    let out = cw
        .get_metric_statistics()
        .namespace(ns)
        .metric_name(name)
        .dimensions(Dimension::builder().name("Route").value("/orders").build())
        .start_time(DateTime::from_secs(now - 600))
        .end_time(DateTime::from_secs(now + 60))
        .period(600)
        .statistics(Statistic::Sum)
        .statistics(Statistic::SampleCount)
        .statistics(Statistic::Minimum)
        .statistics(Statistic::Maximum)
        .set_extended_statistics(
            (!percentiles.is_empty()).then(|| percentiles.iter().map(|p| p.to_string()).collect()),
        )
        .send()
        .await
        .expect("GetMetricStatistics");
    let p = out.datapoints();
    let total = |f: fn(&aws_sdk_cloudwatch::types::Datapoint) -> Option<f64>| {
        p.iter().filter_map(f).sum::<f64>()
    };
    let ext: Vec<f64> = percentiles
        .iter()
        .map(|name| {
            p.iter()
                .find_map(|d| d.extended_statistics().and_then(|e| e.get(*name)).copied())
                .unwrap_or(f64::NAN)
        })
        .collect();
    let min = p
        .iter()
        .filter_map(|d| d.minimum())
        .fold(f64::INFINITY, f64::min);
    let max = p
        .iter()
        .filter_map(|d| d.maximum())
        .fold(f64::NEG_INFINITY, f64::max);
    (
        total(|d| d.sum()),
        total(|d| d.sample_count()),
        min,
        max,
        ext,
    )
}

fn latencies(n: usize) -> Vec<f64> {
    // A skewed distribution with repeats: 1..=n/2 once each, and a slow tail.
    (0..n)
        .map(|i| {
            if i % 10 == 9 {
                500.0 + i as f64
            } else {
                (i % 200) as f64 + 1.0
            }
        })
        .collect()
}

#[tokio::test]
async fn published_distributions_read_back_as_the_computed_aggregates() {
    let sdk = emulator().await;
    let values = latencies(600);
    let expected = Aggregate::of(&mut values.clone()).expect("aggregate");
    let ms = std::env::var("STOKER_MINISTACK_URL").expect("STOKER_MINISTACK_URL");

    for (endpoint, percentiles) in [(None, false), (Some(ms.as_str()), true)] {
        let worker = rollup(&sdk, endpoint, None).await;
        let ns = namespace();
        let report = worker
            .ingest(
                &batch(&ns, vec![series("Latency", &values)]),
                &unique("k"),
                Utc::now().timestamp(),
            )
            .await
            .expect("ingest");
        assert_eq!(report.samples_accepted, 600);
        let asked: &[&str] = if percentiles {
            &["p50", "p95", "p99"]
        } else {
            &[]
        };
        let (sum, count, min, max, ext) =
            read_back(&worker.sender.cloudwatch, &ns, "Latency", asked).await;
        let at = endpoint.unwrap_or("LocalStack");
        assert_eq!(
            (count, min, max),
            (expected.count as f64, expected.min, expected.max),
            "{at}"
        );
        assert!(
            (sum - expected.sum).abs() < 1e-6,
            "{at}: sum {sum} vs {}",
            expected.sum
        );
        if percentiles {
            for (got, want) in ext.iter().zip([expected.p50, expected.p95, expected.p99]) {
                assert!(
                    (got - want).abs() < 1e-6,
                    "{at}: percentile {got} vs computed {want}"
                );
            }
        }
    }
}

#[tokio::test]
async fn packing_splits_at_exactly_1000_datums_and_150_values() {
    let sdk = emulator().await;
    let worker = rollup(&sdk, None, None).await;
    let ns = namespace();
    // 91 series x 11 minutes = 1001 datums: two calls, 1000 + 1.
    let start = Utc::now().timestamp() / 60 * 60 - 20 * 60;
    let wide: Vec<Series> = (0..91)
        .map(|i| Series {
            name: format!("S{i}"),
            dimensions: Default::default(),
            unit: "Count".into(),
            samples: (0..11)
                .map(|m| Sample {
                    value: 1.0,
                    timestamp: chrono::DateTime::from_timestamp(start + m * 60, 0).expect("t"),
                })
                .collect(),
            counters: None,
        })
        .collect();
    let r = worker
        .ingest(&batch(&ns, wide), &unique("k"), start)
        .await
        .expect("ingest");
    assert_eq!((r.published.datums, r.published.calls), (1001, 2));

    // 151 distinct values in one minute: two datums, every value arrives.
    let values: Vec<f64> = (0..151).map(f64::from).collect();
    let r = worker
        .ingest(
            &batch(&ns, vec![series("Wide", &values)]),
            &unique("k"),
            start,
        )
        .await
        .expect("ingest");
    assert_eq!((r.published.datums, r.published.calls), (2, 1));
    let (sum, count, _, max, _) = read_back(&worker.sender.cloudwatch, &ns, "Wide", &[]).await;
    assert_eq!((count, sum, max), (151.0, 11_325.0, 150.0));
}

#[tokio::test]
async fn bad_samples_are_rejected_with_reasons_and_the_rest_published() {
    let sdk = emulator().await;
    let worker = rollup(&sdk, None, None).await;
    let ns = namespace();
    let mut good = series("Latency", &[10.0, 20.0, -5.0]);
    good.samples[1].timestamp = Utc::now() - chrono::Duration::days(20);
    let mut odd = series("Odd", &[1.0]);
    odd.unit = "Furlongs".into();
    let r = worker
        .ingest(
            &batch(&ns, vec![good, odd]),
            &unique("k"),
            Utc::now().timestamp(),
        )
        .await
        .expect("ingest");
    assert_eq!((r.samples_accepted, r.samples_rejected), (1, 3));
    assert_eq!(r.rejected.get("negative"), Some(&1));
    assert_eq!(r.rejected.get("too_old"), Some(&1));
    assert_eq!(r.rejected.get("unknown_unit"), Some(&1));
    assert!(
        r.rejections
            .iter()
            .any(|x| x.at == "series[0].samples[2].value"),
        "{:?}",
        r.rejections
    );
    let (sum, count, ..) = read_back(&worker.sender.cloudwatch, &ns, "Latency", &[]).await;
    assert_eq!((sum, count), (10.0, 1.0));
}

#[tokio::test]
async fn a_retried_job_skips_the_calls_already_made() {
    let sdk = emulator().await;
    let worker = rollup(&sdk, None, None).await;
    let ns = namespace();
    let key = unique("k");
    let b = batch(&ns, vec![series("Latency", &[1.0, 2.0, 3.0])]);
    let first = worker.ingest(&b, &key, 0).await.expect("first");
    let again = worker.ingest(&b, &key, 0).await.expect("again");
    assert_eq!((first.published.calls, first.published.skipped), (1, 0));
    assert_eq!((again.published.calls, again.published.skipped), (0, 1));
    let (sum, count, ..) = read_back(&worker.sender.cloudwatch, &ns, "Latency", &[]).await;
    assert_eq!((sum, count), (6.0, 3.0), "counted once");
}

/// Seeds hourly data points for 6 days before the window and a few in it.
async fn seed(
    cw: &aws_sdk_cloudwatch::Client,
    ns: &str,
    name: &str,
    unit: StandardUnit,
    baseline: f64,
    current: f64,
) {
    let now = Utc::now().timestamp();
    let point = |t: i64, v: f64| {
        MetricDatum::builder()
            .metric_name(name)
            .dimensions(Dimension::builder().name("Route").value("/orders").build())
            .unit(unit.clone())
            .timestamp(DateTime::from_secs(t))
            .value(v)
            .build()
    };
    let mut data: Vec<MetricDatum> = (1..=144)
        .map(|h| point(now - 3600 - h * 3600, baseline))
        .collect();
    data.extend((1..=4).map(|m| point(now - m * 60, current)));
    for chunk in data.chunks(500) {
        cw.put_metric_data()
            .namespace(ns)
            .set_metric_data(Some(chunk.to_vec()))
            .send()
            .await
            .expect("seed");
    }
}

#[tokio::test]
async fn a_synthetic_regression_is_detected_and_announced_a_steady_series_is_not() {
    let sdk = emulator().await;
    // A bus whose regression events land on a queue the test reads.
    let name = unique("regr");
    let eb = aws_sdk_eventbridge::Client::new(&sdk);
    eb.create_event_bus().name(&name).send().await.expect("bus");
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let queue = sqs
        .create_queue()
        .queue_name(&name)
        .send()
        .await
        .expect("queue")
        .queue_url
        .expect("url");
    let arn = format!("arn:aws:sqs:us-east-1:000000000000:{name}");
    eb.put_rule()
        .name(&name)
        .event_bus_name(&name)
        .event_pattern(json!({"detail-type": ["stoker.rollup.regression-detected"]}).to_string())
        .send()
        .await
        .expect("rule");
    eb.put_targets()
        .rule(&name)
        .event_bus_name(&name)
        .targets(
            aws_sdk_eventbridge::types::Target::builder()
                .id("q")
                .arn(arn)
                .build()
                .expect("target"),
        )
        .send()
        .await
        .expect("target");

    let worker = rollup(&sdk, None, Some(&name)).await;
    let cw = &worker.sender.cloudwatch;
    let ns = namespace();
    seed(cw, &ns, "Steady", StandardUnit::Milliseconds, 100.0, 110.0).await;
    seed(cw, &ns, "Slow", StandardUnit::Milliseconds, 100.0, 400.0).await;
    seed(cw, &ns, "Api.Requests", StandardUnit::Count, 1000.0, 1000.0).await;
    seed(cw, &ns, "Api.Errors", StandardUnit::Count, 10.0, 50.0).await;

    let req = RollupRequest {
        namespace: ns.clone(),
        window_minutes: 10,
        period_seconds: 60,
        percentiles: vec![],
        output_namespace: format!("{ns}/Rollups"),
        baseline_days: 7,
    };
    let cause = stoker_events::Event {
        meta: stoker_events::decode(
            &serde_json::to_string(&Envelope::new(
                req.clone(),
                SOURCE_OPERATOR,
                "operator:test",
            ))
            .expect("json"),
            &stoker_events::Delivery {
                message_id: None,
                sent_at: None,
            },
        )
        .expect("decode")
        .meta,
        body: req.clone().into(),
    };
    let out = worker
        .roll_up(
            &req,
            &unique("k"),
            &stoker_kit::EventMeta::from(&cause.meta),
        )
        .await
        .expect("rollup");
    let out = serde_json::to_value(out).expect("report");
    let comparisons = out["rollup"]["comparisons"]
        .as_array()
        .expect("comparisons");
    let verdict = |series: &str, metric: &str| {
        comparisons
            .iter()
            .find(|c| c["series"] == series && c["metric"] == metric)
            .unwrap_or_else(|| panic!("no {metric} comparison for {series}: {out}"))
            .clone()
    };
    let slow = verdict("Slow", "avg_response_time");
    assert_eq!(slow["regressed"], true, "{slow}");
    assert!(
        (slow["ratio"].as_f64().expect("ratio") - 4.0).abs() < 1e-9,
        "{slow}"
    );
    assert_eq!(verdict("Steady", "avg_response_time")["regressed"], false);
    let errors = verdict("Api", "error_rate");
    assert_eq!(errors["regressed"], true, "1 % -> 5 %: {errors}");
    assert_eq!(out["rollup"]["regressions"], 2);
    assert_eq!(out["regressions_announced"], 2);

    let events = poll(Duration::from_secs(20), Duration::from_millis(200), || {
        let (sqs, queue) = (&sqs, &queue);
        async move {
            let got = receive_all(sqs, queue, 1).await.ok()?;
            (!got.is_empty()).then_some(got)
        }
    })
    .await
    .expect("regression events on the bus");
    let detail: serde_json::Value =
        serde_json::from_str(events[0].body().unwrap_or_default()).expect("json");
    assert_eq!(
        detail["detail-type"], "stoker.rollup.regression-detected",
        "{detail}"
    );
    let _ = eb.delete_event_bus().name(&name).send().await;
    let _ = sqs.delete_queue().queue_url(&queue).send().await;
}

/// The seeds' "P95 > 300 ms" alarms read the rollup's `WorstP95Ms`: the highest p95 of the
/// window's duration series, published namespace-wide (on ministack: LocalStack answers no
/// percentiles).
#[tokio::test]
async fn the_worst_p95_is_reported_and_published_for_the_p95_alarms() {
    let sdk = emulator().await;
    let ms = std::env::var("STOKER_MINISTACK_URL").expect("STOKER_MINISTACK_URL");
    let worker = rollup(&sdk, Some(&ms), None).await;
    let cw = &worker.sender.cloudwatch;
    let ns = namespace();
    seed(cw, &ns, "Fast", StandardUnit::Milliseconds, 50.0, 80.0).await;
    seed(cw, &ns, "Slow", StandardUnit::Seconds, 0.1, 0.45).await;
    let req = RollupRequest {
        namespace: ns.clone(),
        window_minutes: 10,
        period_seconds: 60,
        percentiles: vec![95.0],
        output_namespace: format!("{ns}/Rollups"),
        baseline_days: 7,
    };
    let (report, datums) = stoker_rollup::rollup::roll_up(cw, &req, Utc::now().timestamp())
        .await
        .expect("rollup");
    let worst = report.worst_p95_ms.expect("a p95 from ministack");
    assert!((worst - 450.0).abs() < 1e-6, "seconds in ms: {worst}");
    let published: Vec<_> = datums.iter().filter(|d| d.name == "WorstP95Ms").collect();
    assert_eq!(published.len(), 1, "{datums:?}");
    assert_eq!(published[0].values, [(worst, 1.0)]);
    assert_eq!(
        published[0].dimensions,
        [("SourceNamespace".to_owned(), ns.clone())],
        "namespace-wide, as the alarms read it"
    );
}

#[tokio::test]
async fn the_worker_binary_counts_a_redelivered_batch_once_and_dead_letters_a_bad_one() {
    let sdk = emulator().await;
    let env = KitEnv::create(&sdk, "rollq", 3, false)
        .await
        .expect("resources");
    let _worker = env
        .spawn_worker(workspace_bin("stoker-rollup").to_str().expect("path"), &[])
        .expect("spawn the worker");
    let ns = namespace();
    let mut s = series("Latency", &[5.0, 7.0]);
    s.counters = Some(Counters {
        requests: 100,
        errors: 4,
        cache_hits: 30,
        cache_misses: 10,
    });
    let good = Envelope::new(batch(&ns, vec![s]), SOURCE_OPERATOR, "operator:test");
    let body = serde_json::to_string(&good).expect("json");
    env.send(&body, None).await.expect("send");
    env.send(&body, None)
        .await
        .expect("send the same event again");
    let mut bad = serde_json::to_value(&good).expect("json");
    bad["id"] = json!(uuid::Uuid::now_v7());
    bad["payload"]["namespace"] = json!("AWS/Lambda");
    env.send(&bad.to_string(), None).await.expect("send");

    let id = good.id.to_string();
    let report = env
        .wait_outcome("rollup", &id, Duration::from_secs(60))
        .await;
    assert_eq!(report["series"][0]["error_rate"], 4.0, "{report}");
    assert_eq!(report["series"][0]["cache_hit_rate"], 75.0, "{report}");
    // Both deliveries are done (one ran, one replayed): two runs, one of them a replay.
    let runs = poll(Duration::from_secs(30), Duration::from_millis(200), || {
        let (env, id) = (&env, &id);
        async move {
            let runs = env.ops().runs_of("rollup", id).await.ok()?;
            (runs.len() >= 2).then_some(runs)
        }
    })
    .await
    .expect("two runs");
    assert_eq!(
        runs.iter()
            .filter(|r| r.outcome == stoker_kit::ops::RunOutcome::Replayed)
            .count(),
        1,
        "{runs:?}"
    );
    let cw = aws_sdk_cloudwatch::Client::new(&sdk);
    let (sum, count, ..) = read_back(&cw, &ns, "Latency", &[]).await;
    assert_eq!((sum, count), (12.0, 2.0), "counted once");

    let reason = &env.dead_reasons(1, Duration::from_secs(30)).await[0];
    assert!(reason.contains("namespace"), "reason: {reason}");
    env.delete().await;
}

/// One retry policy per call path (issue #18): a PutMetricData that CloudWatch keeps refusing
/// (503) is sent the SDK's attempts per delivery and no more, and the job waits for its
/// redelivery.
/// Before, the rollup's own retry loop and the kit's in-process retries stacked on the SDK's
/// retries: 3 x 3 x 3 = 27 sends per delivery.
#[tokio::test]
async fn a_refused_put_metric_data_is_sent_only_the_sdks_attempts_per_delivery() {
    use stoker_it::faultproxy::{FaultProxy, Faults};
    use stoker_kit::process::{Delivered, Disposition};

    let sdk = emulator().await;
    let upstream = std::env::var("AWS_ENDPOINT_URL").expect("AWS_ENDPOINT_URL");
    // 503s: CloudWatch's SDK speaks CBOR and would not read the proxy's JSON throttling error.
    let always = Faults {
        error_rate: 1.0,
        unavailable_only: true,
        lost_rate: 0.0,
        lose_first: 0,
        max_latency: Duration::ZERO,
        cancel_rate: 0.0,
    };
    let proxy = FaultProxy::start(&upstream, always).await.expect("proxy");
    let env = KitEnv::create(&sdk, "cwthrottle", 5, false)
        .await
        .expect("resources");
    let worker = rollup(&sdk, Some(&proxy.url), None).await;
    let mut cfg = env.config();
    cfg.worker = Worker::Rollup.into();
    let rt = stoker_kit::runtime(worker, &worker_sdk(Worker::Rollup).await, cfg);
    let event = Envelope::new(
        batch(&namespace(), vec![series("Latency", &[1.0, 2.0, 3.0])]),
        SOURCE_OPERATOR,
        "operator:test",
    );
    let body = serde_json::to_string(&event).expect("json");
    let msg = Delivered {
        message_id: "m-throttled",
        body: &body,
        receive_count: 1,
        sent_at: None,
    };
    let stop = tokio::sync::watch::channel(false).1;
    let d = rt.process(&msg, Duration::from_secs(60), &stop).await;
    assert!(
        matches!(d, Disposition::Retry { .. }),
        "a refused job waits for its redelivery: {d:?}"
    );
    assert_eq!(
        proxy.injected(),
        u64::from(stoker_kit::aws::SDK_MAX_ATTEMPTS),
        "PutMetricData sends in one delivery"
    );
    env.delete().await;
}

/// A tail that grows while the average holds: the p95 rule catches it (on ministack:
/// LocalStack answers no percentiles), and the summary names the series, the baseline and the
/// factor.
#[tokio::test]
async fn a_p95_regression_is_detected_while_the_average_holds() {
    let sdk = emulator().await;
    let ms = std::env::var("STOKER_MINISTACK_URL").expect("STOKER_MINISTACK_URL");
    let worker = rollup(&sdk, Some(&ms), None).await;
    let cw = &worker.sender.cloudwatch;
    let ns = namespace();
    // Baseline: 100 ms every hour for 6 days. Window: 18 requests at 50 ms (4 seeded, 14
    // more) and 2 at 500 ms: an average of 95 ms, a p95 of 500 ms.
    seed(cw, &ns, "Tail", StandardUnit::Milliseconds, 100.0, 50.0).await;
    let now = Utc::now().timestamp();
    let tail: Vec<MetricDatum> = (0..16)
        .map(|i| {
            MetricDatum::builder()
                .metric_name("Tail")
                .dimensions(Dimension::builder().name("Route").value("/orders").build())
                .unit(StandardUnit::Milliseconds)
                .timestamp(DateTime::from_secs(now - 90 - i))
                .value(if i < 2 { 500.0 } else { 50.0 })
                .build()
        })
        .collect();
    cw.put_metric_data()
        .namespace(&ns)
        .set_metric_data(Some(tail))
        .send()
        .await
        .expect("the tail");
    let req = RollupRequest {
        namespace: ns.clone(),
        window_minutes: 10,
        period_seconds: 600,
        percentiles: vec![50.0, 95.0],
        output_namespace: format!("{ns}/Rollups"),
        baseline_days: 7,
    };
    let (report, _) = stoker_rollup::rollup::roll_up(cw, &req, Utc::now().timestamp())
        .await
        .expect("rollup");
    let verdict = |metric: &str| {
        report
            .comparisons
            .iter()
            .find(|c| c.series == "Tail" && c.metric == metric)
            .unwrap_or_else(|| panic!("no {metric} comparison: {report:?}"))
            .clone()
    };
    let avg = verdict("avg_response_time");
    assert!(!avg.regressed, "the average holds: {avg:?}");
    let p95 = verdict("p95_response_time");
    assert!(p95.regressed, "{p95:?}");
    assert!((p95.baseline - 100.0).abs() < 1e-6, "{p95:?}");
    assert!(p95.current > 150.0, "{p95:?}");
    let summary = stoker_kit::Summary::summary(&stoker_rollup::RolledUp {
        rollup: report.clone(),
        published: Default::default(),
        regressions_announced: 0,
    });
    assert!(
        summary.contains("first: Tail p95_response_time") && summary.contains("baseline of 100.00"),
        "{summary}"
    );
}
