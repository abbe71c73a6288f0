//! The fault-injection run (`./scripts/bench-faults`, and its smoke version in CI): events of
//! every job kind through the real routing (bus -> rules -> queues) of a fresh test stack, one
//! stand-in worker process per queue ([`crate::chaos`]) talking to the emulator through the
//! fault proxy (errors instead of answers, and answers lost after the work was done), workers
//! SIGKILLed and restarted, some events published twice, some poisoned (their job fails for
//! good). Then every event is accounted for: done exactly once, or (poisoned) in a DLQ with a
//! reason and never done; a dead letter without its reason attribute is counted as a failure.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use stoker_events::{Kind, SOURCE_OPERATOR, Worker};

use crate::Stack;
use crate::faultproxy::{FaultProxy, Faults};

/// How hard to push.
#[derive(Debug, Clone, Copy)]
pub struct FaultRun {
    pub events: usize,
    pub faults: Faults,
    /// SIGKILL + restart this many times, one worker at a time, every `kill_every`.
    pub kills: usize,
    pub kill_every: Duration,
    /// Each job pauses up to this long (so kills land mid-job).
    pub pause_ms: u64,
    /// Share of events published a second time with the same id.
    pub duplicate_share: f64,
    /// Share of events whose job fails for good (they must reach a DLQ with their reason).
    pub poison_share: f64,
    /// Give up waiting for the drain after this long.
    pub deadline: Duration,
}

/// What the run found.
#[derive(Debug, Clone, Default)]
pub struct FaultReport {
    pub published: usize,
    pub republished: usize,
    pub per_kind: Vec<(String, usize)>,
    pub poisoned: usize,
    pub done_once: usize,
    pub done_twice_or_more: usize,
    /// Poisoned events in a DLQ with their reason (and never done).
    pub dead_lettered: usize,
    /// Events in a DLQ that were not poisoned, or poisoned ones that were done.
    pub wrongly_dead_or_done: usize,
    /// Dead letters without the `stoker-reason` attribute.
    pub dead_without_reason: usize,
    pub dead_reasons: Vec<String>,
    pub lost: usize,
    pub replays: usize,
    pub kills: usize,
    pub injected_errors: u64,
    /// Batched transactions cancelled for throttling (among the injected errors).
    pub cancelled_transactions: u64,
    pub lost_answers: u64,
    pub lost_by_operation: BTreeMap<String, u64>,
    pub forwarded: u64,
    pub drain_seconds: f64,
}

impl FaultReport {
    /// Every event done once or (poisoned) dead-lettered with its reason; nothing else.
    pub fn clean(&self) -> bool {
        self.lost == 0
            && self.done_twice_or_more == 0
            && self.wrongly_dead_or_done == 0
            && self.dead_without_reason == 0
            && self.done_once + self.dead_lettered == self.published
    }
}

/// The `requested_by` that makes the stand-in worker fail a job for good.
pub const POISON: &str = "operator:poison";

/// Runs it on a fresh stack (deleted afterwards).
pub async fn run(sdk: &aws_config::SdkConfig, cfg: FaultRun) -> anyhow::Result<FaultReport> {
    let stack = Stack::deploy(
        sdk,
        "faults",
        &[("SchedulesState", "DISABLED"), ("MaxReceiveCount", "8")],
    )
    .await?;
    let result = run_on(sdk, &stack, cfg).await;
    stack.delete(sdk).await;
    result
}

async fn run_on(
    sdk: &aws_config::SdkConfig,
    stack: &Stack,
    cfg: FaultRun,
) -> anyhow::Result<FaultReport> {
    let upstream = std::env::var("AWS_ENDPOINT_URL")?;
    let proxy = FaultProxy::start(&upstream, cfg.faults).await?;
    let bin = crate::workspace_bin("stoker-chaosworker");
    let spawn = |w: Worker| -> anyhow::Result<Child> {
        Ok(Command::new(&bin)
            .env("AWS_ENDPOINT_URL", &proxy.url)
            .env(
                "STOKER_QUEUE_URL",
                stack.output(&format!("{}QueueUrl", w.stem())),
            )
            .env(
                "STOKER_DLQ_URL",
                stack.output(&format!("{}DlqUrl", w.stem())),
            )
            .env("STOKER_OPS_TABLE", stack.output("OpsTableName"))
            .env("STOKER_MAX_RECEIVE_COUNT", "8")
            .env("STOKER_CHAOS_WORKER", w.name())
            .env("STOKER_CHAOS_PAUSE_MS", cfg.pause_ms.to_string())
            .env("STOKER_CONCURRENCY", "8")
            .env("STOKER_WAIT_SECS", "1")
            .env("STOKER_VISIBILITY_SECS", "6")
            .env("STOKER_JOB_TIMEOUT_SECS", "10")
            .env("STOKER_REDELIVERY_BASE_SECS", "1")
            .env("STOKER_EMF", "off")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?)
    };
    let mut workers: Vec<(Worker, Child)> = Worker::ALL
        .into_iter()
        .map(|w| spawn(w).map(|c| (w, c)))
        .collect::<anyhow::Result<_>>()?;

    let started = Instant::now();
    let (ids, poisoned, per_kind, republished) = publish(sdk, stack, &cfg).await?;
    let mut report = FaultReport {
        published: ids.len(),
        poisoned: poisoned.len(),
        republished,
        per_kind,
        ..Default::default()
    };

    let mut next_kill = Instant::now() + cfg.kill_every;
    let deadline = started + cfg.deadline;
    loop {
        if report.kills < cfg.kills && Instant::now() >= next_kill {
            let i = fastrand::usize(..workers.len());
            let (w, child) = &mut workers[i];
            let _ = child.kill(); // SIGKILL
            let _ = child.wait();
            *child = spawn(*w)?;
            report.kills += 1;
            next_kill = Instant::now() + cfg.kill_every;
        }
        let pending = pending(sdk, stack).await?;
        if pending == 0 && report.kills >= cfg.kills {
            break;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "not drained after {} s: {pending} messages still queued or in flight",
            cfg.deadline.as_secs()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    report.drain_seconds = started.elapsed().as_secs_f64();
    for (_, mut c) in workers {
        let _ = c.kill();
        let _ = c.wait();
    }
    report.injected_errors = proxy.injected();
    report.cancelled_transactions = proxy.cancelled();
    report.lost_answers = proxy.lost();
    report.lost_by_operation = proxy
        .stats
        .lost_by_operation
        .lock()
        .map(|m| m.clone())
        .unwrap_or_default();
    report.forwarded = proxy
        .stats
        .forwarded
        .load(std::sync::atomic::Ordering::Relaxed);

    let table = stack.output("OpsTableName");
    let effects = crate::bench::effect_counts(sdk, table).await?;
    let dead = dead_letters(sdk, stack).await?;
    report.replays = replays(sdk, table).await?;
    report.dead_without_reason = dead.values().filter(|r| r.is_none()).count();
    for id in &ids {
        let reason = dead.get(id);
        match (poisoned.contains(id), effects.get(id), reason) {
            (false, Some(1), None) => report.done_once += 1,
            (false, Some(_), None) => report.done_twice_or_more += 1,
            (true, None, Some(reason)) => {
                report.dead_lettered += 1;
                if report.dead_reasons.len() < 5 {
                    report.dead_reasons.push(
                        reason
                            .clone()
                            .unwrap_or_else(|| "(no reason attribute)".into()),
                    );
                }
            }
            (_, None, None) => report.lost += 1,
            _ => report.wrongly_dead_or_done += 1,
        }
    }
    Ok(report)
}

/// Publishes `cfg.events` events, the job kinds in turn (payloads from `schemas/examples/`),
/// 10 per PutEvents call straight to the emulator; then `duplicate_share` of them again.
/// Returns the ids, the poisoned ids, the count per kind and how many were published twice.
async fn publish(
    sdk: &aws_config::SdkConfig,
    stack: &Stack,
    cfg: &FaultRun,
) -> anyhow::Result<(
    HashSet<String>,
    HashSet<String>,
    Vec<(String, usize)>,
    usize,
)> {
    let kinds: Vec<Kind> = Kind::ALL
        .into_iter()
        .filter(|k| k.worker().is_some())
        .collect();
    let examples: Vec<serde_json::Value> = kinds
        .iter()
        .map(|k| {
            let path = format!(
                "{}/../schemas/examples/{}.json",
                env!("CARGO_MANIFEST_DIR"),
                k.detail_type()
            );
            Ok(serde_json::from_str(&std::fs::read_to_string(path)?)?)
        })
        .collect::<anyhow::Result<_>>()?;
    let mut entries = Vec::with_capacity(cfg.events);
    let mut ids = HashSet::new();
    let mut poisoned = HashSet::new();
    let poison_every = if cfg.poison_share > 0.0 {
        (1.0 / cfg.poison_share).round().max(1.0) as usize
    } else {
        usize::MAX
    };
    let mut counts: HashMap<String, usize> = HashMap::new();
    for i in 0..cfg.events {
        let k = i % kinds.len();
        let mut e = examples[k].clone();
        let id = uuid::Uuid::now_v7().to_string();
        e["id"] = serde_json::json!(id);
        e["source"] = serde_json::json!(SOURCE_OPERATOR);
        if i % poison_every == poison_every / 2 {
            e["requested_by"] = serde_json::json!(POISON);
            poisoned.insert(id.clone());
        }
        ids.insert(id);
        *counts.entry(kinds[k].detail_type().to_owned()).or_default() += 1;
        entries.push((kinds[k], e.to_string()));
    }
    let again = (cfg.events as f64 * cfg.duplicate_share).round() as usize;
    let repeats: Vec<_> = entries
        .iter()
        .step_by((cfg.events / again.max(1)).max(1))
        .take(again)
        .cloned()
        .collect();
    let republished = repeats.len();
    entries.extend(repeats);
    let eb = aws_sdk_eventbridge::Client::new(sdk);
    let bus = stack.output("BusName").to_owned();
    let calls = entries.chunks(10).map(|chunk| {
        let eb = eb.clone();
        let bus = bus.clone();
        let chunk = chunk.to_vec();
        async move {
            let batch = chunk
                .iter()
                .map(|(k, detail)| {
                    PutEventsRequestEntry::builder()
                        .event_bus_name(&bus)
                        .source(SOURCE_OPERATOR)
                        .detail_type(k.detail_type())
                        .detail(detail)
                        .build()
                })
                .collect();
            let out = eb.put_events().set_entries(Some(batch)).send().await?;
            anyhow::ensure!(out.failed_entry_count() == 0, "PutEvents refused entries");
            Ok(())
        }
    });
    use futures::StreamExt;
    let results: Vec<anyhow::Result<()>> = futures::stream::iter(calls)
        .buffer_unordered(8)
        .collect()
        .await;
    results.into_iter().collect::<anyhow::Result<()>>()?;
    let mut per_kind: Vec<(String, usize)> = counts.into_iter().collect();
    per_kind.sort();
    Ok((ids, poisoned, per_kind, republished))
}

/// Messages visible, in flight or delayed across the five worker queues.
async fn pending(sdk: &aws_config::SdkConfig, stack: &Stack) -> anyhow::Result<u64> {
    let mut total = 0;
    for w in Worker::ALL {
        total += crate::bench::pending(sdk, stack.output(&format!("{}QueueUrl", w.stem()))).await?;
    }
    Ok(total)
}

/// Runs recorded as replays (duplicate deliveries caught by idempotency).
async fn replays(sdk: &aws_config::SdkConfig, table: &str) -> anyhow::Result<usize> {
    let mut pages = aws_sdk_dynamodb::Client::new(sdk)
        .scan()
        .table_name(table)
        .filter_expression("begins_with(pk, :r) AND outcome = :o")
        .expression_attribute_values(":r", AttributeValue::S("RUN#".into()))
        .expression_attribute_values(":o", AttributeValue::S("replayed".into()))
        .select(aws_sdk_dynamodb::types::Select::Count)
        .into_paginator()
        .send();
    let mut n = 0;
    while let Some(page) = pages.next().await {
        n += page?.count() as usize;
    }
    Ok(n)
}

/// Event id -> its reason (`None` when the attribute is missing), for every message in the
/// five DLQs.
async fn dead_letters(
    sdk: &aws_config::SdkConfig,
    stack: &Stack,
) -> anyhow::Result<HashMap<String, Option<String>>> {
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let mut out = HashMap::new();
    for w in Worker::ALL {
        let url = stack.output(&format!("{}DlqUrl", w.stem()));
        loop {
            let got = sqs
                .receive_message()
                .queue_url(url)
                .max_number_of_messages(10)
                .visibility_timeout(300)
                .message_attribute_names("All")
                .send()
                .await?;
            let msgs = got.messages.unwrap_or_default();
            if msgs.is_empty() {
                break;
            }
            for m in msgs {
                let body: serde_json::Value =
                    serde_json::from_str(m.body().unwrap_or_default()).unwrap_or_default();
                // The queue holds the EventBridge event; the envelope (and its id) is its detail.
                let id = body["detail"]["id"]
                    .as_str()
                    .or(body["id"].as_str())
                    .unwrap_or_default()
                    .to_owned();
                let reason = m
                    .message_attributes()
                    .and_then(|a| a.get(stoker_kit::dlq::ATTR_REASON))
                    .and_then(|v| v.string_value())
                    .map(str::to_owned);
                out.insert(id, reason);
            }
        }
    }
    Ok(out)
}
