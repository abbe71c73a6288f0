//! Shared by the benchmarks: filling a queue with test events, the raw SQS loop baseline, and
//! queue depth.

use std::collections::HashMap;
use std::time::Instant;

use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, SendMessageBatchRequestEntry};
use serde_json::json;

use crate::kit::{KitEnv, test_event};
use aws_sdk_dynamodb::types::AttributeValue;

/// Fills the queue with `n` test events, 10 per SendMessageBatch.
pub async fn fill(env: &KitEnv, n: usize) -> anyhow::Result<()> {
    fill_with(env, n, json!({})).await
}

/// [`fill`] with events asking the test worker for `behaviour` (e.g. `{"stage": true}`).
pub async fn fill_with(env: &KitEnv, n: usize, behaviour: serde_json::Value) -> anyhow::Result<()> {
    let sqs = aws_sdk_sqs::Client::new(&env.sdk);
    for chunk in (0..n).collect::<Vec<_>>().chunks(10) {
        let entries = chunk
            .iter()
            .map(|i| {
                SendMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message_body(test_event(&format!("b{i}"), behaviour.clone()).1)
                    .build()
            })
            .collect::<Result<Vec<_>, _>>()?;
        sqs.send_message_batch()
            .queue_url(&env.queue_url)
            .set_entries(Some(entries))
            .send()
            .await?;
    }
    Ok(())
}

/// The emulator's ceiling: ReceiveMessage (10) + DeleteMessageBatch over `n` queued events,
/// no handler; returns events/s and SQS calls per event.
pub async fn raw_loop(env: &KitEnv, n: usize) -> anyhow::Result<(f64, f64)> {
    fill(env, n).await?;
    let sqs = aws_sdk_sqs::Client::new(&env.sdk);
    let (mut done, mut calls) = (0, 0u64);
    let start = Instant::now();
    while done < n {
        let out = sqs
            .receive_message()
            .queue_url(&env.queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await?;
        calls += 1;
        let msgs = out.messages.unwrap_or_default();
        if msgs.is_empty() {
            continue;
        }
        let entries = msgs
            .iter()
            .enumerate()
            .map(|(i, m)| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(m.receipt_handle().unwrap_or_default())
                    .build()
            })
            .collect::<Result<Vec<_>, _>>()?;
        sqs.delete_message_batch()
            .queue_url(&env.queue_url)
            .set_entries(Some(entries))
            .send()
            .await?;
        calls += 1;
        done += msgs.len();
    }
    let secs = start.elapsed().as_secs_f64();
    Ok((n as f64 / secs, calls as f64 / n as f64))
}

/// Messages visible, in flight and delayed in the queue at `url`.
pub async fn pending(sdk: &aws_config::SdkConfig, url: &str) -> anyhow::Result<u64> {
    use aws_sdk_sqs::types::QueueAttributeName as A;
    let kinds = [
        A::ApproximateNumberOfMessages,
        A::ApproximateNumberOfMessagesNotVisible,
        A::ApproximateNumberOfMessagesDelayed,
    ];
    let out = aws_sdk_sqs::Client::new(sdk)
        .get_queue_attributes()
        .queue_url(url)
        .set_attribute_names(Some(kinds.to_vec()))
        .send()
        .await?;
    let a = out.attributes().cloned().unwrap_or_default();
    Ok(kinds
        .iter()
        .filter_map(|k| a.get(k)?.parse::<u64>().ok())
        .sum())
}

/// The peak RSS in KiB (VmHWM) of process `pid` (`self` for this one).
pub fn peak_rss_kib(pid: &str) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// This process's CPU seconds (user + system, from /proc/self/stat at 100 ticks/s) and peak
/// RSS in KiB (VmHWM).
pub fn own_usage() -> (f64, u64) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at the state, field 3.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15: indexes 11 and 12 after the state.
    let cpu = (ticks(11) + ticks(12)) / 100.0;
    (cpu, peak_rss_kib("self").unwrap_or(0))
}

/// Event id -> side effects recorded in `table` (the test worker's, the stand-in worker's and
/// the peers' `EFFECT#<event id>` counters; 2 or more = done twice).
pub async fn effect_counts(
    sdk: &aws_config::SdkConfig,
    table: &str,
) -> anyhow::Result<HashMap<String, u64>> {
    let mut pages = aws_sdk_dynamodb::Client::new(sdk)
        .scan()
        .table_name(table)
        .filter_expression("begins_with(pk, :e)")
        .expression_attribute_values(":e", AttributeValue::S("EFFECT#".into()))
        .into_paginator()
        .send();
    let mut out = HashMap::new();
    while let Some(page) = pages.next().await {
        for item in page?.items() {
            let id = item
                .get("pk")
                .and_then(|v| v.as_s().ok())
                .and_then(|p| p.strip_prefix("EFFECT#"))
                .unwrap_or_default()
                .to_owned();
            let n = item
                .get("effects")
                .and_then(|v| v.as_n().ok())
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            out.insert(id, n);
        }
    }
    Ok(out)
}

/// The side effects in `env`'s table: how many events have one, and how many effects there
/// are in all (more than the events = some were done twice).
pub async fn effects(env: &KitEnv) -> anyhow::Result<(u64, u64)> {
    let counts = effect_counts(&env.sdk, &env.table).await?;
    Ok((counts.len() as u64, counts.values().sum()))
}

/// Runs a peer or benchmark process to its end and reads its last stdout line as JSON.
pub fn run_json(mut cmd: std::process::Command) -> anyhow::Result<serde_json::Value> {
    let out = cmd.env("STOKER_EMF", "off").output()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    anyhow::ensure!(
        out.status.success(),
        "{:?} failed: {stdout}{}",
        cmd.get_program(),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(serde_json::from_str(
        stdout.lines().last().unwrap_or_default(),
    )?)
}
