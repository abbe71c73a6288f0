//! `stoker dlq list <worker>` (look without consuming) and `stoker dlq redrive <worker>`
//! (move dead letters back to the worker's queue, losing nothing if interrupted).

use std::io::Write;

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::{
    ChangeMessageVisibilityBatchRequestEntry, DeleteMessageBatchRequestEntry, Message,
    QueueAttributeName, SendMessageBatchRequestEntry,
};
use clap::{Args, Subcommand};
use serde::Serialize;
use stoker_events::Worker;
use stoker_kit::dlq::{ATTR_CODE, ATTR_FAILED_AT, ATTR_KIND, ATTR_REASON, ATTR_SOURCE_MESSAGE};

use crate::context::{AwsArgs, Output};
use crate::error::{CliError, aws};
use crate::table::Table;

#[derive(Debug, Clone, Args)]
pub struct DlqArgs {
    #[command(subcommand)]
    pub cmd: DlqCmd,
}

#[derive(Debug, Clone, Subcommand)]
pub enum DlqCmd {
    /// Show dead letters with their reasons, without consuming them.
    List {
        /// The worker's name (`stoker run --help` lists them).
        worker: Worker,
        /// Show at most this many.
        #[arg(long, default_value_t = 100)]
        max: usize,
        #[arg(long, value_enum, default_value = "text")]
        output: Output,
    },
    /// Move dead letters back to the worker's queue (after fixing their cause). Uses SQS's
    /// own StartMessageMoveTask where the service supports it, else send-then-delete.
    Redrive {
        worker: Worker,
        /// Move at most this many (send-then-delete only; a move task moves them all).
        #[arg(long, default_value_t = 10_000)]
        max: usize,
        /// Copy with send-then-delete instead of a message move task.
        #[arg(long)]
        copy: bool,
    },
}

/// A dead letter as listed.
#[derive(Debug, Clone, Serialize)]
pub struct DeadLetter {
    pub message_id: String,
    pub source_message_id: String,
    pub failed_at: String,
    pub error_kind: String,
    pub code: String,
    pub reason: String,
    pub body: String,
}

impl DlqArgs {
    pub async fn run(&self, aws_args: &AwsArgs) -> Result<(), CliError> {
        let ctx = aws_args.ctx().await?;
        let sqs = Client::new(&ctx.sdk);
        match &self.cmd {
            DlqCmd::List {
                worker,
                max,
                output,
            } => {
                let dlq = ctx.dlq_url(*worker)?;
                let msgs = receive_hidden(&sqs, dlq, *max, 30).await?;
                // Make them visible again at once: listing consumes nothing.
                release(&sqs, dlq, &msgs).await?;
                let letters: Vec<DeadLetter> = msgs.iter().map(dead_letter).collect();
                match output {
                    Output::Json => println!(
                        "{}",
                        serde_json::to_string_pretty(&letters).unwrap_or_default()
                    ),
                    Output::Text => {
                        let mut t =
                            Table::new(["MESSAGE ID", "FAILED AT", "KIND", "CODE", "REASON"]);
                        for l in &letters {
                            let reason: String = l.reason.chars().take(100).collect();
                            t.row([
                                l.message_id.clone(),
                                l.failed_at.clone(),
                                l.error_kind.clone(),
                                l.code.clone(),
                                reason,
                            ]);
                        }
                        print!("{t}");
                        println!("{} dead letter(s) for {worker}", letters.len());
                    }
                }
                Ok(())
            }
            DlqCmd::Redrive { worker, max, copy } => {
                let (dlq, queue) = (ctx.dlq_url(*worker)?, ctx.queue_url(*worker)?);
                // A move task moves everything; a bounded or explicit copy uses send-then-delete.
                let moved = if *copy || *max < 10_000 {
                    redrive(&sqs, dlq, queue, *max).await?
                } else {
                    match move_task(&sqs, dlq, queue).await {
                        Ok(n) => n,
                        Err(e) => {
                            eprintln!("{e}\nfalling back to send-then-delete");
                            redrive(&sqs, dlq, queue, *max).await?
                        }
                    }
                };
                println!("moved {moved} message(s) from the {worker} DLQ back to its queue");
                Ok(())
            }
        }
    }
}

fn attr(m: &Message, k: &str) -> String {
    m.message_attributes()
        .and_then(|a| a.get(k))
        .and_then(|v| v.string_value())
        .unwrap_or("-")
        .to_owned()
}

fn dead_letter(m: &Message) -> DeadLetter {
    DeadLetter {
        message_id: m.message_id().unwrap_or_default().to_owned(),
        source_message_id: attr(m, ATTR_SOURCE_MESSAGE),
        failed_at: attr(m, ATTR_FAILED_AT),
        error_kind: attr(m, ATTR_KIND),
        code: attr(m, ATTR_CODE),
        reason: attr(m, ATTR_REASON),
        body: m.body().unwrap_or_default().to_owned(),
    }
}

/// Receives up to `max` messages, hiding each for `hide_s` so a page is not seen twice.
async fn receive_hidden(
    sqs: &Client,
    url: &str,
    max: usize,
    hide_s: i32,
) -> Result<Vec<Message>, CliError> {
    let mut all = Vec::new();
    while all.len() < max {
        let out = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages((max - all.len()).min(10) as i32)
            .visibility_timeout(hide_s)
            .wait_time_seconds(1)
            .message_attribute_names("All")
            .send()
            .await
            .map_err(aws("ReceiveMessage (DLQ)"))?;
        let batch = out.messages.unwrap_or_default();
        if batch.is_empty() {
            break;
        }
        all.extend(batch);
    }
    Ok(all)
}

async fn release(sqs: &Client, url: &str, msgs: &[Message]) -> Result<(), CliError> {
    for chunk in msgs.chunks(10) {
        let entries = chunk
            .iter()
            .enumerate()
            .filter_map(|(i, m)| {
                ChangeMessageVisibilityBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(m.receipt_handle().unwrap_or_default())
                    .visibility_timeout(0)
                    .build()
                    .ok()
            })
            .collect();
        sqs.change_message_visibility_batch()
            .queue_url(url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(aws("ChangeMessageVisibilityBatch (DLQ)"))?;
    }
    Ok(())
}

/// Send-then-delete in batches of 10: a message is deleted from the DLQ only after its copy
/// is on the queue, so an interruption can at worst leave a message in both places (the
/// worker's idempotency turns the second copy into a replay), never in neither.
async fn redrive(sqs: &Client, dlq: &str, queue: &str, max: usize) -> Result<usize, CliError> {
    let total = queue_depth(sqs, dlq).await?.min(max as u64);
    let mut moved = 0;
    while moved < max {
        let batch = receive_hidden(sqs, dlq, (max - moved).min(10), 60).await?;
        if batch.is_empty() {
            break;
        }
        let entries = batch
            .iter()
            .enumerate()
            .filter_map(|(i, m)| {
                SendMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message_body(m.body().unwrap_or_default())
                    .build()
                    .ok()
            })
            .collect();
        let sent = sqs
            .send_message_batch()
            .queue_url(queue)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(aws("SendMessageBatch"))?;
        let ok: Vec<usize> = sent
            .successful()
            .iter()
            .filter_map(|s| s.id().parse().ok())
            .collect();
        let deletes = ok
            .iter()
            .filter_map(|i| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(batch[*i].receipt_handle().unwrap_or_default())
                    .build()
                    .ok()
            })
            .collect::<Vec<_>>();
        if !deletes.is_empty() {
            sqs.delete_message_batch()
                .queue_url(dlq)
                .set_entries(Some(deletes))
                .send()
                .await
                .map_err(aws("DeleteMessageBatch (DLQ)"))?;
        }
        moved += ok.len();
        eprint!("\rredriving: {moved}/{total}");
        let _ = std::io::stderr().flush();
        if ok.len() < batch.len() {
            eprintln!();
            return Err(CliError::new(format!(
                "{} message(s) could not be sent back; they stay in the DLQ",
                batch.len() - ok.len()
            ))
            .fix("run the redrive again"));
        }
    }
    if moved > 0 {
        eprintln!();
    }
    Ok(moved)
}

/// SQS's own redrive: a message move task from the DLQ to the queue, followed to its end.
async fn move_task(sqs: &Client, dlq: &str, queue: &str) -> Result<usize, CliError> {
    let (dlq_arn, queue_arn) = (queue_arn(sqs, dlq).await?, queue_arn(sqs, queue).await?);
    let started = sqs
        .start_message_move_task()
        .source_arn(&dlq_arn)
        .destination_arn(&queue_arn)
        .send()
        .await
        .map_err(aws("StartMessageMoveTask"))?;
    let handle = started.task_handle().unwrap_or_default().to_owned();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(600);
    loop {
        let tasks = sqs
            .list_message_move_tasks()
            .source_arn(&dlq_arn)
            .send()
            .await
            .map_err(aws("ListMessageMoveTasks"))?;
        let task = tasks
            .results()
            .iter()
            .find(|t| t.task_handle().is_none_or(|h| h == handle));
        if let Some(t) = task {
            let moved = t.approximate_number_of_messages_moved();
            eprint!(
                "\rredriving: {moved}/{}",
                t.approximate_number_of_messages_to_move().unwrap_or(moved)
            );
            let _ = std::io::stderr().flush();
            match t.status().unwrap_or_default() {
                "COMPLETED" => {
                    eprintln!();
                    return Ok(moved as usize);
                }
                "FAILED" | "CANCELLED" | "CANCELLING" => {
                    eprintln!();
                    return Err(CliError::new(format!(
                        "the move task ended {}: {}",
                        t.status().unwrap_or_default(),
                        t.failure_reason().unwrap_or_default()
                    ))
                    .fix("run `stoker dlq redrive <worker> --copy`"));
                }
                _ => {}
            }
        }
        if std::time::Instant::now() > deadline {
            return Err(
                CliError::new("the move task did not finish within 10 minutes")
                    .fix("check it with `aws sqs list-message-move-tasks`"),
            );
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
}

async fn queue_arn(sqs: &Client, url: &str) -> Result<String, CliError> {
    let out = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(aws("GetQueueAttributes (QueueArn)"))?;
    out.attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn))
        .cloned()
        .ok_or_else(|| CliError::new(format!("{url} has no QueueArn")))
}

async fn queue_depth(sqs: &Client, url: &str) -> Result<u64, CliError> {
    let out = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .send()
        .await
        .map_err(aws("GetQueueAttributes"))?;
    Ok(out
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::ApproximateNumberOfMessages))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0))
}
