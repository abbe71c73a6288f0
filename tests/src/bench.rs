//! Shared by the benchmarks: filling a queue with test events, the raw SQS loop baseline, and
//! queue depth.

use std::time::Instant;

use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, SendMessageBatchRequestEntry};
use serde_json::json;

use crate::kit::{KitEnv, test_event};
use aws_sdk_dynamodb::types::AttributeValue;

/// Fills the queue with `n` test events, 10 per SendMessageBatch.
pub async fn fill(env: &KitEnv, n: usize) -> anyhow::Result<()> {
    let sqs = aws_sdk_sqs::Client::new(&env.sdk);
    for chunk in (0..n).collect::<Vec<_>>().chunks(10) {
        let entries = chunk
            .iter()
            .map(|i| {
                SendMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message_body(test_event(&format!("b{i}"), json!({})).1)
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

/// Messages visible + in flight.
pub async fn queue_depth(env: &KitEnv) -> anyhow::Result<u64> {
    use aws_sdk_sqs::types::QueueAttributeName as A;
    let out = aws_sdk_sqs::Client::new(&env.sdk)
        .get_queue_attributes()
        .queue_url(&env.queue_url)
        .attribute_names(A::ApproximateNumberOfMessages)
        .attribute_names(A::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await?;
    let a = out.attributes().cloned().unwrap_or_default();
    let n = |k: A| a.get(&k).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    Ok(n(A::ApproximateNumberOfMessages) + n(A::ApproximateNumberOfMessagesNotVisible))
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
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    (cpu, rss)
}

/// The side effects in `env`'s table (the test worker's and the peers' `EFFECT#<event id>`
/// counters): how many events have one, and how many effects there are in all (more than the
/// events = some were done twice).
pub async fn effects(env: &KitEnv) -> anyhow::Result<(u64, u64)> {
    let mut pages = aws_sdk_dynamodb::Client::new(&env.sdk)
        .scan()
        .table_name(&env.table)
        .filter_expression("begins_with(pk, :e)")
        .expression_attribute_values(":e", AttributeValue::S("EFFECT#".into()))
        .into_paginator()
        .send();
    let (mut events, mut total) = (0, 0);
    while let Some(page) = pages.next().await {
        for item in page?.items() {
            events += 1;
            total += item
                .get("effects")
                .and_then(|v| v.as_n().ok())
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    Ok((events, total))
}
