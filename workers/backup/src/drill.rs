//! Restore drills: restore the newest backup into a scratch table, compare it with the source
//! (item count, and a sample of items by key and digest), delete the scratch table.

use std::time::Instant;

use aws_sdk_dynamodb::types::Select;
use serde::Serialize;
use stoker_kit::JobError;
use stoker_kit::classify::sdk_error;

use crate::attr::{Item, digest};

/// What a drill found.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DrillReport {
    /// `native` or `export`
    pub from: String,
    pub backup: String,
    pub scratch_table: String,
    pub source_items: u64,
    pub restored_items: u64,
    pub sampled: u64,
    pub mismatched: u64,
    pub passed: bool,
    pub duration_ms: u64,
}

/// Counts the items of `table` (Scan with Select COUNT, every page).
pub async fn count(ddb: &aws_sdk_dynamodb::Client, table: &str) -> Result<u64, JobError> {
    let mut n = 0u64;
    let mut start = None;
    loop {
        let page = ddb
            .scan()
            .table_name(table)
            .select(Select::Count)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| sdk_error(&format!("Scan (count) {table}"), e))?;
        n += page.count() as u64;
        start = page.last_evaluated_key().cloned();
        if start.is_none() {
            return Ok(n);
        }
    }
}

/// Compares `scratch` with `source`: counts, and `sample` source items looked up by key.
pub async fn compare(
    ddb: &aws_sdk_dynamodb::Client,
    source: &str,
    scratch: &str,
    key_names: &[String],
    sample: i32,
    report: &mut DrillReport,
) -> Result<(), JobError> {
    let started = Instant::now();
    report.source_items = count(ddb, source).await?;
    report.restored_items = count(ddb, scratch).await?;
    let page = ddb
        .scan()
        .table_name(source)
        .limit(sample)
        .send()
        .await
        .map_err(|e| sdk_error(&format!("Scan (sample) {source}"), e))?;
    for item in page.items() {
        report.sampled += 1;
        let key: Item = item
            .iter()
            .filter(|(k, _)| key_names.contains(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let got = ddb
            .get_item()
            .table_name(scratch)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error(&format!("GetItem {scratch}"), e))?;
        if got.item().map(digest) != Some(digest(item)) {
            report.mismatched += 1;
        }
    }
    report.passed = report.source_items == report.restored_items && report.mismatched == 0;
    report.duration_ms += started.elapsed().as_millis() as u64;
    Ok(())
}
