//! `./scripts/bench-rollup [SAMPLES] [SERIES]` (defaults: 1,000,000 samples across 2,000 series)
//!
//! The rollup worker's benchmark, in one run on the running emulator: the samples arrive as
//! measurement batches (100 series each, the event limit) spread over 5 minutes; prints the
//! aggregation time (screen + bucket + distribution + pack, no I/O), the PutMetricData calls
//! made and bytes sent when published to LocalStack, next to the naive one-datum-per-call
//! count and its time extrapolated from 200 measured single-datum calls.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use aws_sdk_cloudwatch::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_cloudwatch::config::{ConfigBag, Intercept, RuntimeComponents};

use aws_sdk_cloudwatch::types::MetricDatum;
use chrono::Utc;
use stoker_events::payload::rollup::{MeasurementBatch, Sample, Series};
use stoker_rollup::Rollup;
use stoker_rollup::pack::{Datum, pack};
use stoker_rollup::screen::screen;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<usize>());
    let samples = args.next().transpose()?.unwrap_or(1_000_000);
    let series = args.next().transpose()?.unwrap_or(2_000);
    let sdk = stoker_it::emulator().await;
    let ns = format!("Bench/{}", &stoker_it::unique("r")[3..]);
    let batches = make_batches(&ns, samples, series);

    // Baseline: the least work that gives the same percentiles, each series' samples sorted and
    // read at p50/p95/p99 (no screening, no buckets, no distributions, no packing).
    let (cpu0, _) = stoker_it::bench::own_usage();
    let t = Instant::now();
    let mut checksum = 0.0;
    for b in &batches {
        for s in &b.series {
            let mut v: Vec<f64> = s.samples.iter().map(|x| x.value).collect();
            v.sort_unstable_by(f64::total_cmp);
            for p in [0.50, 0.95, 0.99] {
                let rank = ((p * v.len() as f64).ceil() as usize).clamp(1, v.len().max(1));
                checksum += v.get(rank - 1).copied().unwrap_or(0.0);
            }
        }
    }
    let baseline_s = t.elapsed().as_secs_f64();
    let baseline_cpu = stoker_it::bench::own_usage().0 - cpu0;
    std::hint::black_box(checksum);

    // Aggregation only.
    let (cpu0, _) = stoker_it::bench::own_usage();
    let t = Instant::now();
    let (mut n_datums, mut calls, mut by_count) = (0, 0, 0);
    let at = Utc::now().timestamp();
    for b in &batches {
        let mut datums: Vec<Datum> = Vec::new();
        for s in &screen(b, Utc::now()).accepted {
            datums.extend(stoker_rollup::ingest::datums(s, false, at).0);
        }
        n_datums += datums.len();
        by_count += datums.len().div_ceil(1000);
        calls += pack(datums).len();
    }
    let aggregate_s = t.elapsed().as_secs_f64();
    let aggregate_cpu = stoker_it::bench::own_usage().0 - cpu0;

    // Published for real (checkpoints in a fresh ops table).
    let table = format!("{}-ops", stoker_it::unique("bench-rollup"));
    stoker_it::kit::create_ops_table(&sdk, &table).await?;
    let mut worker = Rollup::new(&sdk, &table, None);
    let bytes = Arc::new(AtomicU64::new(0));
    let conf = aws_sdk_cloudwatch::config::Builder::from(&sdk)
        .interceptor(BodyBytes(bytes.clone()))
        .build();
    worker.sender.cloudwatch = aws_sdk_cloudwatch::Client::from_conf(conf);
    let t = Instant::now();
    let (mut sent_calls, mut sent_bound, mut sent_datums) = (0, 0, 0);
    for (i, b) in batches.iter().enumerate() {
        let r = worker.ingest(b, &format!("bench-{ns}-{i}"), at).await?;
        sent_calls += r.published.calls;
        sent_bound += r.published.bytes;
        sent_datums += r.published.datums;
    }
    let publish_s = t.elapsed().as_secs_f64();
    let sent_bytes = bytes.load(Ordering::Relaxed);

    // Naive: one datum per call, timed over 200 calls.
    let cw = &worker.sender.cloudwatch;
    let naive_n = 200;
    let t = Instant::now();
    for i in 0..naive_n {
        cw.put_metric_data()
            .namespace(&ns)
            .metric_data(
                MetricDatum::builder()
                    .metric_name("Naive")
                    .value(i as f64)
                    .build(),
            )
            .send()
            .await?;
    }
    let per_naive = t.elapsed().as_secs_f64() / naive_n as f64;
    let _ = aws_sdk_dynamodb::Client::new(&sdk)
        .delete_table()
        .table_name(&table)
        .send()
        .await;

    println!(
        "rollup benchmark: {samples} samples across {series} series in {} batches, 5 minutes, LocalStack",
        batches.len()
    );
    println!();
    println!("| in process, no I/O, {samples} samples | wall s | CPU s | samples/s |");
    println!("|---|---:|---:|---:|");
    println!(
        "| baseline: sort each series, read p50/p95/p99 | {baseline_s:.2} | {baseline_cpu:.2} | {:.1} M |",
        samples as f64 / baseline_s / 1e6
    );
    println!(
        "| stoker: screen + bucket + distributions + p50/p90/p95/p99 + pack | {aggregate_s:.2} | {aggregate_cpu:.2} | {:.1} M |",
        samples as f64 / aggregate_s / 1e6
    );
    println!();
    println!("| run | PutMetricData calls | datums | request bytes sent | time |");
    println!("|---|---:|---:|---:|---:|");
    println!(
        "| baseline: naive, one datum per call (time extrapolated from {naive_n} calls) | {samples} | {samples} | - | {:.0} s |",
        per_naive * samples as f64
    );
    println!(
        "| stoker: aggregate + pack, no I/O | {calls} planned (target, sum of ceil(datums/1000) per batch: {by_count}) | {n_datums} | - | {aggregate_s:.2} s |"
    );
    println!(
        "| stoker: published (screen, aggregate, pack, send, checkpoint) | {sent_calls} | {sent_datums} | {sent_bytes} | {publish_s:.2} s |"
    );
    println!();
    println!(
        "packing bound of those calls: {sent_bound} bytes uncompressed (the 1 MB check); sent (gzip'd by the SDK): {:.2} bytes per sample",
        sent_bytes as f64 / samples as f64
    );
    println!(
        "aggregation: {:.1} M samples/s; calls per 1,000 samples: {:.3} (naive: 1000)",
        samples as f64 / aggregate_s / 1e6,
        sent_calls as f64 * 1000.0 / samples as f64
    );
    Ok(())
}

/// `series` series with `samples / series` values each, over the last 5 minutes, 100 series per batch.
fn make_batches(ns: &str, samples: usize, series: usize) -> Vec<MeasurementBatch> {
    let per = samples / series;
    let start = Utc::now().timestamp() / 60 * 60 - 6 * 60;
    let mut rng = fastrand::Rng::with_seed(7);
    let all: Vec<Series> = (0..series)
        .map(|i| Series {
            name: "Latency".into(),
            dimensions: [("Route".to_owned(), format!("/r{i}"))].into(),
            unit: "Milliseconds".into(),
            samples: (0..per)
                .map(|j| Sample {
                    value: f64::from(rng.u32(1..120)) + if j % 50 == 0 { 900.0 } else { 0.0 },
                    timestamp: chrono::DateTime::from_timestamp(start + (j * 300 / per) as i64, 0)
                        .unwrap_or_default(),
                })
                .collect(),
            counters: None,
        })
        .collect();
    all.chunks(100)
        .map(|c| MeasurementBatch {
            namespace: ns.into(),
            series: c.to_vec(),
            high_resolution: false,
        })
        .collect()
}

/// Counts the request body bytes the SDK sends (the encoded PutMetricData calls).
#[derive(Debug)]
struct BodyBytes(Arc<AtomicU64>);

impl Intercept for BodyBytes {
    fn name(&self) -> &'static str {
        "BodyBytes"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), aws_sdk_cloudwatch::error::BoxError> {
        let n = context.request().body().bytes().map_or(0, <[u8]>::len);
        self.0.fetch_add(n as u64, Ordering::Relaxed);
        Ok(())
    }
}
