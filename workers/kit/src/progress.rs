//! Progress of a long job (items exported, restored, ...), written to the ops table by the
//! worker while it runs and read by `stoker publish --wait` to draw a progress bar.
//! Item: `pk = PROGRESS#<worker>#<event id>`, `sk = PROGRESS`, `phase`, `done`, `total`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::JobError;
use crate::ops::items::{self, Item};
use crate::task::AbortOnDrop;

/// Counters a job updates as it goes.
#[derive(Debug, Default)]
pub struct Progress {
    phase: Mutex<String>,
    /// Items done in the current phase.
    pub done: AtomicU64,
    /// Items expected in the current phase (0 when unknown).
    pub total: AtomicU64,
}

impl Progress {
    /// Starts a phase: `total` items expected (0 when unknown), none done yet.
    pub fn phase(&self, name: &str, total: u64) {
        if let Ok(mut p) = self.phase.lock() {
            *p = name.to_owned();
        }
        self.done.store(0, Ordering::Relaxed);
        self.total.store(total, Ordering::Relaxed);
    }

    /// Counts `n` more items done.
    pub fn add(&self, n: u64) {
        self.done.fetch_add(n, Ordering::Relaxed);
    }

    /// (phase, done, total)
    pub fn snapshot(&self) -> (String, u64, u64) {
        let phase = self.phase.lock().map(|p| p.clone()).unwrap_or_default();
        (
            phase,
            self.done.load(Ordering::Relaxed),
            self.total.load(Ordering::Relaxed),
        )
    }
}

/// A job's progress as stored: `pk = PROGRESS#<worker>#<event id>`, `sk = PROGRESS`; the item
/// expires a day after it was written.
#[derive(Debug, Serialize, Deserialize)]
struct ProgressItem {
    pk: String,
    sk: String,
    phase: String,
    #[serde(default)]
    done: u64,
    #[serde(default)]
    total: u64,
    #[serde(default)]
    expires_at: i64,
}

/// The ops-table key of a job's progress item.
pub fn key(worker: &str, event_id: &str) -> Item {
    items::key(format!("PROGRESS#{worker}#{event_id}"), "PROGRESS")
}

/// Writes `progress` to the ops table every `every` until the returned guard is dropped, best
/// effort: progress never fails a job. Keep the guard in the job's future: when the job ends in
/// any way (including a timeout that drops it), the reporter stops with it.
pub fn report(
    ddb: aws_sdk_dynamodb::Client,
    table: String,
    worker: &'static str,
    event_id: String,
    progress: Arc<Progress>,
    every: Duration,
) -> AbortOnDrop {
    AbortOnDrop::spawn(async move {
        loop {
            let _ = write(&ddb, &table, worker, &event_id, &progress).await;
            tokio::time::sleep(every).await;
        }
    })
}

/// Writes `progress` to the ops table once; the item expires a day later.
pub async fn write(
    ddb: &aws_sdk_dynamodb::Client,
    table: &str,
    worker: &str,
    event_id: &str,
    progress: &Progress,
) -> Result<(), JobError> {
    let (phase, done, total) = progress.snapshot();
    let item = ProgressItem {
        pk: format!("PROGRESS#{worker}#{event_id}"),
        sk: "PROGRESS".into(),
        phase,
        done,
        total,
        expires_at: chrono::Utc::now().timestamp() + 86_400,
    };
    items::put(ddb, table, &item, "progress").await
}

/// Reads a job's progress: (phase, done, total), if the worker wrote any.
pub async fn read(
    ddb: &aws_sdk_dynamodb::Client,
    table: &str,
    worker: &str,
    event_id: &str,
) -> Option<(String, u64, u64)> {
    let item = ddb
        .get_item()
        .table_name(table)
        .set_key(Some(key(worker, event_id)))
        .send()
        .await
        .ok()?
        .item?;
    let p: ProgressItem = items::from_item(item, "progress").ok()?;
    Some((p.phase, p.done, p.total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_reset_the_count() {
        let p = Progress::default();
        p.phase("exporting", 10);
        p.add(4);
        assert_eq!(p.snapshot(), ("exporting".to_owned(), 4, 10));
        p.phase("restoring", 8);
        assert_eq!(p.snapshot(), ("restoring".to_owned(), 0, 8));
    }
}
