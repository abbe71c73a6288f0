//! The long-poll driver: the same workers as processes (local, containers, `stoker run`).
//!
//! Receives `receive_batch` (10 by default) messages per long poll at every concurrency, as
//! long as at most `concurrency` + `receive_batch` messages wait for or run a handler (so the next
//! receive and its claims overlap the jobs before it), starts their jobs at once (their claims
//! go out together) and gives them slots in order (at most `concurrency` handlers at once),
//! keeps every held message invisible with one batch call per heartbeat ([`crate::held`]),
//! deletes finished messages in batches, leaves failed ones for redelivery, and on shutdown
//! stops receiving, releases the messages (and claims) not started, lets in-flight jobs finish
//! within the grace period and releases the rest (visibility 0), so nothing is lost.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, Message, MessageSystemAttributeName};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot, watch};
use tokio::task::JoinSet;

use crate::held::{Held, change_visibilities, change_visibility_batch};
use crate::job::Handler;
use crate::message;
use crate::process::{Runtime, Stop};
use crate::settle::{self, Raw, Settled};

/// What a poller did before it stopped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PollSummary {
    /// Messages received.
    pub received: u64,
    /// Messages made visible again at shutdown: never started, or still running after the grace
    /// period.
    pub released_at_shutdown: u64,
}

/// Runs the poller until `shutdown` resolves, then drains as described above.
pub async fn run<H: Handler>(
    rt: Arc<Runtime<H>>,
    shutdown: impl Future<Output = ()>,
) -> PollSummary {
    let cfg = &rt.config;
    let batch = cfg.receive_batch.clamp(1, 10);
    // Slots: at most `concurrency` handlers at once, given in the order messages arrived.
    let permits = Arc::new(Semaphore::new(cfg.concurrency));
    // Room: messages held (received, not yet finished) at most `concurrency` + one receive, so
    // the next receive and its claims go out while the jobs before it still run.
    let room = Arc::new(Semaphore::new(cfg.concurrency + batch));
    let (turn_tx, turn_rx) = mpsc::unbounded_channel::<Turn>();
    let dispatcher = crate::task::AbortOnDrop::spawn(dispatch(permits, turn_rx));
    let (stop_tx, stop_rx) = watch::channel(false);
    let (delete_tx, delete_rx) = mpsc::channel::<Finish>(1024);
    let deleter = tokio::spawn(finish_batches(rt.clone(), delete_rx));
    let mut jobs = JoinSet::new();
    let mut summary = PollSummary::default();
    tokio::pin!(shutdown);
    tracing::info!(worker = cfg.worker.name(), queue = %cfg.queue_url, concurrency = cfg.concurrency, "polling");

    loop {
        // Room for a whole receive before asking for more work.
        let mut space = tokio::select! {
            p = room.clone().acquire_many_owned(batch as u32) => match p { Ok(p) => p, Err(_) => break },
            _ = &mut shutdown => break,
        };
        let receive = rt
            .sqs
            .receive_message()
            .queue_url(&cfg.queue_url)
            .max_number_of_messages(batch as i32)
            .wait_time_seconds(cfg.wait.as_secs() as i32)
            .visibility_timeout(cfg.visibility.as_secs() as i32)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send();
        let out = tokio::select! {
            r = receive => r,
            _ = &mut shutdown => break,
        };
        let messages = match out {
            Ok(o) => o.messages.unwrap_or_default(),
            Err(e) => {
                tracing::warn!(error = %e, "ReceiveMessage failed; retrying in 1 s");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if messages.is_empty() {
            continue;
        }
        summary.received += messages.len() as u64;
        let receipts = messages
            .iter()
            .filter_map(|m| m.receipt_handle().map(str::to_owned))
            .collect();
        // Every message of the receive stays invisible while it waits for a slot or runs.
        let held = Arc::new(Held::start(&rt, receipts));
        // Each message's job (each FIFO group's) starts now and waits for its turn where it
        // needs it: a standard queue's job after its claim (crate::slot), so the claims of a
        // receive go out together; a FIFO group before its first message, keeping its slot to
        // the end so its messages run in order. A job holds its room until its handler is done
        // (or it is decided without one); a group until it ends.
        for (group, msgs) in by_group(messages) {
            let Some(mine) = space.split(msgs.len()) else {
                break; // never: a receive returns at most `batch` messages
            };
            let (turn, wait) = oneshot::channel();
            let (rt, held, delete_tx, stop) =
                (rt.clone(), held.clone(), delete_tx.clone(), stop_rx.clone());
            match group {
                None => jobs.spawn(crate::slot::wait_for(wait, mine, async move {
                    run_group(&rt, &held, false, msgs, &delete_tx, &stop).await
                })),
                Some(_) => jobs.spawn(async move {
                    let _room = mine;
                    match wait.await {
                        Ok(slot) => {
                            let _slot = slot;
                            run_group(&rt, &held, true, msgs, &delete_tx, &stop).await
                        }
                        // Shutdown came first: visible again at once.
                        Err(_) => release(&rt, &held, msgs).await,
                    }
                }),
            };
            let _ = turn_tx.send(turn);
        }
        drop(space); // what the receive did not fill
        while jobs.try_join_next().is_some() {}
    }

    // Shutdown: no turn is given any more (jobs still waiting for one release their messages
    // and claims at once); in-flight jobs finish within the grace period, then the rest are
    // released.
    drop(turn_tx);
    drop(dispatcher);
    tracing::info!(in_flight = jobs.len(), grace = ?cfg.shutdown_grace, "shutting down: no more receives");
    let drained = tokio::time::timeout(cfg.shutdown_grace, async {
        while let Some(r) = jobs.join_next().await {
            summary.released_at_shutdown += r.unwrap_or(0);
        }
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            in_flight = jobs.len(),
            "grace period over: releasing in-flight jobs"
        );
        let _ = stop_tx.send(true);
        while let Some(r) = jobs.join_next().await {
            if let Ok(released) = r {
                summary.released_at_shutdown += released;
            }
        }
    }
    drop(delete_tx);
    let _ = deleter.await;
    tracing::info!(?summary, "stopped");
    summary
}

/// Where a waiting job's (or FIFO group's) slot is sent when its turn comes.
type Turn = oneshot::Sender<OwnedSemaphorePermit>;

/// Gives slots in the order the jobs were received, as slots free up. A job that no longer
/// needs its slot (decided without its handler) leaves it to the next.
async fn dispatch(permits: Arc<Semaphore>, mut turns: mpsc::UnboundedReceiver<Turn>) {
    let mut spare: Option<OwnedSemaphorePermit> = None;
    while let Some(turn) = turns.recv().await {
        let slot = match spare.take() {
            Some(p) => p,
            None => match permits.clone().acquire_owned().await {
                Ok(p) => p,
                Err(_) => return,
            },
        };
        spare = turn.send(slot).err();
    }
}

/// A FIFO group that never started (shutdown came first): visible again at once, in one batch
/// call. Returns how many.
async fn release<H: Handler>(rt: &Runtime<H>, held: &Held, msgs: Vec<Message>) -> u64 {
    let receipts: Vec<String> = msgs
        .iter()
        .filter_map(|m| m.receipt_handle().map(str::to_owned))
        .collect();
    for r in &receipts {
        held.let_go(r).await;
    }
    let list: Vec<&String> = receipts.iter().collect();
    let _ = change_visibility_batch(rt, &list, Duration::ZERO).await;
    receipts.len() as u64
}

/// Standard queues: each message alone. FIFO queues: the messages of one group in order.
fn by_group(messages: Vec<Message>) -> Vec<(Option<String>, Vec<Message>)> {
    let mut groups: BTreeMap<String, Vec<Message>> = BTreeMap::new();
    let mut singles = Vec::new();
    for m in messages {
        let group = m
            .attributes()
            .and_then(|a| a.get(&MessageSystemAttributeName::MessageGroupId))
            .cloned();
        match group {
            Some(g) => groups.entry(g).or_default().push(m),
            None => singles.push((None, vec![m])),
        }
    }
    singles.extend(groups.into_iter().map(|(g, ms)| (Some(g), ms)));
    singles
}

/// Runs one message, or a FIFO group's messages in order (stopping at the first one that is
/// not done; the rest come back after it, in order). Returns how many were released because
/// of shutdown.
async fn run_group<H: Handler>(
    rt: &Arc<Runtime<H>>,
    held: &Held,
    fifo: bool,
    msgs: Vec<Message>,
    delete_tx: &mpsc::Sender<Finish>,
    stop: &Stop,
) -> u64 {
    let mut released = 0;
    // FIFO: once a message of the group is held back, the rest wait at least as long, so
    // none overtakes it when they become visible again.
    let mut held_back: Option<Duration> = None;
    for m in msgs {
        let receipt = m.receipt_handle().unwrap_or_default().to_owned();
        if let Some(delay) = held_back {
            held.let_go(&receipt).await;
            let _ = delete_tx.send(Finish::Visible(receipt, delay)).await;
            continue;
        }
        let facts = message::from_sqs(&m);
        let disposition = settle::run_job(rt, &facts, rt.config.job_timeout, stop).await;
        // Decided without its handler (a dead letter, a replay, a busy claim): the next job
        // need not wait for this one's settling.
        crate::slot::forgo();
        // No heartbeat may extend it after this: a retry's delay must stand.
        held.let_go(&receipt).await;
        let raw = Raw {
            message_id: m.message_id().unwrap_or_default(),
            body: m.body().unwrap_or_default(),
        };
        match settle::settle(rt, raw, &facts, disposition).await {
            Settled::Delete => {
                let _ = delete_tx.send(Finish::Delete(receipt)).await;
            }
            Settled::Keep { delay } => {
                if let Some(d) = delay {
                    let _ = delete_tx.send(Finish::Visible(receipt.clone(), d)).await;
                }
                if delay.is_some() && (*stop.borrow() || crate::slot::refused()) {
                    released += 1;
                }
                if fifo {
                    held_back = Some(delay.unwrap_or(rt.config.visibility));
                }
            }
        }
    }
    released
}

/// A finished message waits at most this long for batch-mates before its delete is sent.
pub const DELETE_LINGER: Duration = Duration::from_millis(500);

/// What is left to do with a message whose job ended.
enum Finish {
    /// Delete it: done, or in the DLQ.
    Delete(String),
    /// Make it visible again after this long: a retry, or a FIFO message held back behind one.
    Visible(String, Duration),
}

/// Deletes finished messages and sets retried ones' visibility in batches of up to 10, sending
/// when a batch is full or its first message has waited [`DELETE_LINGER`] (a quarter of the
/// visibility timeout when that is shorter: a message is never let reappear for want of its
/// delete or its new timeout).
async fn finish_batches<H: Handler>(rt: Arc<Runtime<H>>, mut rx: mpsc::Receiver<Finish>) {
    let linger = DELETE_LINGER.min(rt.config.visibility / 4);
    let mut deletes: Vec<String> = Vec::with_capacity(10);
    let mut visible: Vec<(String, Duration)> = Vec::with_capacity(10);
    let mut due = tokio::time::Instant::now();
    loop {
        let pending = !deletes.is_empty() || !visible.is_empty();
        let next = if !pending {
            rx.recv().await
        } else {
            match tokio::time::timeout_at(due, rx.recv()).await {
                Ok(r) => r,
                Err(_) => {
                    flush_all(&rt, &mut deletes, &mut visible).await;
                    continue;
                }
            }
        };
        match next {
            Some(f) => {
                if !pending {
                    due = tokio::time::Instant::now() + linger;
                }
                match f {
                    Finish::Delete(r) => deletes.push(r),
                    Finish::Visible(r, d) => visible.push((r, d)),
                }
                if deletes.len() == 10 || visible.len() == 10 {
                    flush_all(&rt, &mut deletes, &mut visible).await;
                }
            }
            None => {
                flush_all(&rt, &mut deletes, &mut visible).await;
                return;
            }
        }
    }
}

async fn flush_all<H: Handler>(
    rt: &Runtime<H>,
    deletes: &mut Vec<String>,
    visible: &mut Vec<(String, Duration)>,
) {
    flush(rt, deletes).await;
    if !visible.is_empty() {
        let changes: Vec<(&str, Duration)> =
            visible.iter().map(|(r, d)| (r.as_str(), *d)).collect();
        change_visibilities(rt, &changes).await;
        visible.clear();
    }
}

async fn flush<H: Handler>(rt: &Runtime<H>, batch: &mut Vec<String>) {
    if batch.is_empty() {
        return;
    }
    let entries: Vec<DeleteMessageBatchRequestEntry> = batch
        .iter()
        .enumerate()
        .filter_map(|(i, r)| {
            DeleteMessageBatchRequestEntry::builder()
                .id(i.to_string())
                .receipt_handle(r)
                .build()
                .ok()
        })
        .collect();
    match rt
        .sqs
        .delete_message_batch()
        .queue_url(&rt.config.queue_url)
        .set_entries(Some(entries))
        .send()
        .await
    {
        Ok(out) if out.failed().is_empty() => {}
        Ok(out) => tracing::warn!(
            failed = out.failed().len(),
            "some deletes failed; those messages will be redelivered and replayed"
        ),
        Err(e) => {
            tracing::warn!(error = %e, "DeleteMessageBatch failed; those messages will be redelivered and replayed")
        }
    }
    batch.clear();
}

/// The variable that makes [`shutdown_signal`] also stop when stdin closes.
pub const STOP_ON_STDIN_EOF: &str = "STOKER_STOP_ON_STDIN_EOF";

/// Resolves on SIGTERM or SIGINT; and, when `STOKER_STOP_ON_STDIN_EOF=1`, when stdin closes
/// (a parent that holds the other end, such as `stoker run`, stops its workers by closing it,
/// and so stops them too when it is killed).
pub async fn shutdown_signal() {
    let parent_gone = stdin_closed();
    tokio::select! {
        _ = signals() => {}
        _ = parent_gone => {}
    }
}

/// Resolves when stdin reaches its end, if `STOKER_STOP_ON_STDIN_EOF=1`; never otherwise.
async fn stdin_closed() {
    if std::env::var(STOP_ON_STDIN_EOF).ok().as_deref() != Some("1") {
        return std::future::pending().await;
    }
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    // A plain thread: reading stdin blocks, and it must not hold a runtime worker.
    std::thread::spawn(move || {
        if let Err(e) = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink()) {
            tracing::warn!(error = %e, "reading stdin failed: stopping as if it closed");
        }
        let _ = tx.send(());
    });
    let _ = rx.await;
    tracing::info!("stdin closed: stopping");
}

/// Resolves on SIGTERM or SIGINT only (whatever `STOKER_STOP_ON_STDIN_EOF` says).
pub async fn signals() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
