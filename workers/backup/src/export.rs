//! Portable exports: a parallel segmented Scan to gzip'd JSON Lines parts in S3, then a
//! manifest (item count, per-part SHA-256, key schema, source table description), written
//! last. An export without a manifest is incomplete: it is never restored from nor counted by
//! retention, and a retried job starts a new export of its own.

use std::io::{Read, Write};
use std::time::Duration;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, PutRequest, ScalarAttributeType,
    WriteRequest,
};
use aws_sdk_s3::primitives::ByteStream;
use backon::Retryable;
use chrono::{DateTime, Utc};
use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use stoker_kit::classify::sdk_error;
use stoker_kit::progress::Progress;
use stoker_kit::{JobError, RetryPolicy};

use crate::attr::{self, Item};

pub const MANIFEST: &str = "manifest.json";
pub const FORMAT: &str = "stoker-export/2";
/// The format before: binary values in hex (still restored).
pub const FORMAT_1: &str = "stoker-export/1";

/// The manifest of a complete export.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub table: String,
    pub export_id: String,
    pub created_at: DateTime<Utc>,
    pub item_count: u64,
    /// (attribute, HASH|RANGE)
    pub key_schema: Vec<(String, String)>,
    /// (attribute, S|N|B) of the key attributes
    pub key_types: Vec<(String, String)>,
    pub parts: Vec<Part>,
    /// What DescribeTable said of the source when the export started.
    pub source: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Part {
    pub key: String,
    pub items: u64,
    pub bytes: u64,
    pub sha256: String,
}

/// A part's key: a segment's first part keeps the name exports always had.
fn part_key(base: &str, segment: i32, n: usize) -> String {
    match n {
        0 => format!("{base}part-{segment:05}.jsonl.gz"),
        n => format!("{base}part-{segment:05}-{n:05}.jsonl.gz"),
    }
}

/// S3 + DynamoDB clients and where exports go.
#[derive(Debug, Clone)]
pub struct Exporter {
    pub ddb: aws_sdk_dynamodb::Client,
    pub s3: aws_sdk_s3::Client,
    pub bucket: String,
    pub segments: i32,
    pub retry: RetryPolicy,
    /// A segment's part is closed and uploaded once this many bytes of JSON lines went into it,
    /// and the segment goes on in a new part: an export holds at most one part per segment in
    /// memory (compressed), whatever the table's size ([`PART_BYTES`] unless set).
    pub part_bytes: usize,
}

/// The JSON bytes after which a part is closed: 32 MiB (about a tenth of that compressed). A
/// restore reads a part whole (its lines and items in memory: a few times this), so this bounds
/// the restore's memory too, well under the backup worker's 512 MB.
pub const PART_BYTES: usize = 32 * 1024 * 1024;

/// The S3 client exports use: path-style addressing, which works on AWS and on emulators.
pub fn s3_client(sdk: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(true)
            .build(),
    )
}

pub fn prefix(table: &str) -> String {
    format!("exports/{table}/")
}

impl Exporter {
    /// Exports `table` as export `export_id`; `fail_after_parts` simulates a crash (tests).
    pub async fn export(
        &self,
        table: &str,
        export_id: &str,
        fail_after_parts: Option<usize>,
        progress: &Progress,
    ) -> Result<Manifest, JobError> {
        let desc = self
            .ddb
            .describe_table()
            .table_name(table)
            .send()
            .await
            .map_err(|e| sdk_error(&format!("DescribeTable {table}"), e))?;
        let t = desc.table().ok_or_else(|| {
            JobError::permanent("table_not_found", format!("{table} has no description"))
        })?;
        let key_schema: Vec<(String, String)> = t
            .key_schema()
            .iter()
            .map(|k| {
                (
                    k.attribute_name().to_owned(),
                    k.key_type().as_str().to_owned(),
                )
            })
            .collect();
        let key_types: Vec<(String, String)> = t
            .attribute_definitions()
            .iter()
            .filter(|a| key_schema.iter().any(|k| k.0 == a.attribute_name()))
            .map(|a| {
                (
                    a.attribute_name().to_owned(),
                    a.attribute_type().as_str().to_owned(),
                )
            })
            .collect();
        let source = serde_json::json!({
            "table_arn": t.table_arn(), "item_count": t.item_count(), "size_bytes": t.table_size_bytes(),
            "billing_mode": t.billing_mode_summary().and_then(|b| b.billing_mode()).map(|b| b.as_str().to_owned()),
        });
        progress.phase("exporting", t.item_count().unwrap_or(0).max(0) as u64);
        let base = format!("{}{export_id}/", prefix(table));
        let scans = (0..self.segments).map(|seg| self.export_segment(table, seg, &base, progress));
        let mut parts = Vec::new();
        for (i, r) in futures::future::join_all(scans)
            .await
            .into_iter()
            .enumerate()
        {
            parts.extend(r?);
            if fail_after_parts.is_some_and(|n| i + 1 >= n) {
                return Err(JobError::transient("export interrupted (simulated crash)"));
            }
        }
        let manifest = Manifest {
            format: FORMAT.into(),
            table: table.into(),
            export_id: export_id.into(),
            created_at: Utc::now(),
            item_count: parts.iter().map(|p| p.items).sum(),
            key_schema,
            key_types,
            parts,
            source,
        };
        let body = serde_json::to_vec_pretty(&manifest)
            .map_err(|e| JobError::permanent("manifest", e.to_string()))?;
        self.s3
            .put_object()
            .bucket(&self.bucket)
            .key(format!("{base}{MANIFEST}"))
            .content_type("application/json")
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|e| sdk_error("PutObject (manifest)", e))?;
        Ok(manifest)
    }

    /// Scans one segment into parts of about `part_bytes` of JSON lines each (compressed),
    /// uploading each as soon as it is full (`part-<segment>.jsonl.gz`, then
    /// `part-<segment>-<n>.jsonl.gz` for the segment's next ones).
    async fn export_segment(
        &self,
        table: &str,
        segment: i32,
        base: &str,
        progress: &Progress,
    ) -> Result<Vec<Part>, JobError> {
        let mut parts = Vec::new();
        let mut gz = GzEncoder::new(Vec::new(), Compression::default());
        let mut items = 0u64;
        let mut raw = 0usize;
        let mut start = None;
        loop {
            let page = self
                .ddb
                .scan()
                .table_name(table)
                .return_consumed_capacity(aws_sdk_dynamodb::types::ReturnConsumedCapacity::Total)
                .segment(segment)
                .total_segments(self.segments)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| sdk_error(&format!("Scan {table}"), e))?;
            for item in page.items() {
                let line = attr::item_to_json(item)
                    .map_err(|e| JobError::permanent("unexportable_item", format!("{table}: {e}")))?
                    .to_string();
                gz.write_all(line.as_bytes())
                    .and_then(|_| gz.write_all(b"\n"))
                    .map_err(|e| JobError::permanent("gzip", e.to_string()))?;
                items += 1;
                raw += line.len() + 1;
                if raw >= self.part_bytes {
                    let full = std::mem::replace(
                        &mut gz,
                        GzEncoder::new(Vec::new(), Compression::default()),
                    );
                    let key = part_key(base, segment, parts.len());
                    parts.push(self.upload_part(key, full, items).await?);
                    (items, raw) = (0, 0);
                }
            }
            progress.add(page.items().len() as u64);
            start = page.last_evaluated_key().cloned();
            if start.is_none() {
                break;
            }
        }
        // The last part (or the only one; an empty segment still has its part).
        if items > 0 || parts.is_empty() {
            let key = part_key(base, segment, parts.len());
            parts.push(self.upload_part(key, gz, items).await?);
        }
        Ok(parts)
    }

    async fn upload_part(
        &self,
        key: String,
        gz: GzEncoder<Vec<u8>>,
        items: u64,
    ) -> Result<Part, JobError> {
        let bytes = gz
            .finish()
            .map_err(|e| JobError::permanent("gzip", e.to_string()))?;
        let sha256 = attr::hex(&Sha256::digest(&bytes));
        let len = bytes.len() as u64;
        self.s3
            .put_object()
            .bucket(&self.bucket)
            .key(&key)
            .content_type("application/gzip")
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map_err(|e| sdk_error("PutObject (part)", e))?;
        Ok(Part {
            key,
            items,
            bytes: len,
            sha256,
        })
    }

    /// The complete exports (those with a manifest) of `table`, oldest first.
    pub async fn list(&self, table: &str) -> Result<Vec<(String, DateTime<Utc>)>, JobError> {
        let mut out = Vec::new();
        let mut token = None;
        loop {
            let page = self
                .s3
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(prefix(table))
                .set_continuation_token(token)
                .send()
                .await
                .map_err(|e| sdk_error("ListObjectsV2", e))?;
            for o in page.contents() {
                let key = o.key().unwrap_or_default();
                if let Some(id) = key
                    .strip_prefix(&prefix(table))
                    .and_then(|k| k.strip_suffix(&format!("/{MANIFEST}")))
                {
                    let at = o
                        .last_modified()
                        .and_then(|t| DateTime::from_timestamp(t.secs(), 0))
                        .unwrap_or_default();
                    out.push((id.to_owned(), at));
                }
            }
            token = page.next_continuation_token().map(str::to_owned);
            if token.is_none() {
                break;
            }
        }
        out.sort_by_key(|e| e.1);
        Ok(out)
    }

    pub async fn manifest(&self, table: &str, export_id: &str) -> Result<Manifest, JobError> {
        let bytes = self
            .get(&format!("{}{export_id}/{MANIFEST}", prefix(table)))
            .await?;
        serde_json::from_slice(&bytes).map_err(|e| {
            JobError::permanent(
                "manifest",
                format!("export {export_id}: unreadable manifest: {e}"),
            )
        })
    }

    /// Deletes every object of an export (manifest first, so it stops counting at once).
    pub async fn delete(&self, table: &str, export_id: &str) -> Result<(), JobError> {
        let base = format!("{}{export_id}/", prefix(table));
        let _ = self
            .s3
            .delete_object()
            .bucket(&self.bucket)
            .key(format!("{base}{MANIFEST}"))
            .send()
            .await;
        // Every page of keys (1,000 to a page): a large export has more parts than one page.
        let mut pages = self
            .s3
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(&base)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| sdk_error("ListObjectsV2", e))?;
            for k in page.contents().iter().filter_map(|o| o.key()) {
                self.s3
                    .delete_object()
                    .bucket(&self.bucket)
                    .key(k)
                    .send()
                    .await
                    .map_err(|e| sdk_error("DeleteObject", e))?;
            }
        }
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Vec<u8>, JobError> {
        let out = self
            .s3
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| sdk_error(&format!("GetObject {key}"), e))?;
        let data = out
            .body
            .collect()
            .await
            .map_err(|e| JobError::transient(format!("reading {key}: {e}")))?;
        Ok(data.into_bytes().to_vec())
    }

    /// Creates `target` with the export's key schema (on demand) and loads every item into it;
    /// returns the items written. Each part's SHA-256 is checked before it is used.
    pub async fn restore(
        &self,
        m: &Manifest,
        target: &str,
        progress: &Progress,
    ) -> Result<u64, JobError> {
        // The format first: nothing is created for an export this build cannot read.
        let binary = match m.format.as_str() {
            FORMAT => attr::Binary::Base64,
            FORMAT_1 => attr::Binary::Hex,
            other => {
                return Err(JobError::permanent(
                    "export_format",
                    format!(
                        "the export's format {other:?} is not one this build restores ({FORMAT}, {FORMAT_1})"
                    ),
                ));
            }
        };
        let keys: Vec<KeySchemaElement> = m
            .key_schema
            .iter()
            .filter_map(|(n, t)| {
                KeySchemaElement::builder()
                    .attribute_name(n)
                    .key_type(KeyType::from(t.as_str()))
                    .build()
                    .ok()
            })
            .collect();
        let defs: Vec<AttributeDefinition> = m
            .key_types
            .iter()
            .filter_map(|(n, t)| {
                AttributeDefinition::builder()
                    .attribute_name(n)
                    .attribute_type(ScalarAttributeType::from(t.as_str()))
                    .build()
                    .ok()
            })
            .collect();
        self.ddb
            .create_table()
            .table_name(target)
            .set_key_schema(Some(keys))
            .set_attribute_definitions(Some(defs))
            .billing_mode(BillingMode::PayPerRequest)
            .send()
            .await
            .map_err(|e| sdk_error(&format!("CreateTable {target}"), e))?;
        crate::native::wait_active(&self.ddb, target, Duration::from_secs(60)).await?;
        progress.phase("restoring", m.item_count);
        let mut written = 0;
        for part in &m.parts {
            let gz = self.get(&part.key).await?;
            let sha = attr::hex(&Sha256::digest(&gz));
            if sha != part.sha256 {
                return Err(JobError::permanent(
                    "export_corrupt",
                    format!(
                        "{}: SHA-256 {sha} does not match the manifest's {}",
                        part.key, part.sha256
                    ),
                ));
            }
            let mut text = String::new();
            GzDecoder::new(gz.as_slice())
                .read_to_string(&mut text)
                .map_err(|e| JobError::permanent("export_corrupt", format!("{}: {e}", part.key)))?;
            let items: Vec<Item> = text
                .lines()
                .filter(|l| !l.is_empty())
                .map(|l| {
                    serde_json::from_str(l)
                        .map_err(|e| e.to_string())
                        .and_then(|v| attr::item_from_json(&v, binary))
                })
                .collect::<Result<_, _>>()
                .map_err(|e| JobError::permanent("export_corrupt", format!("{}: {e}", part.key)))?;
            // Batches of 25 (the BatchWriteItem limit), 8 in flight.
            let chunks: Vec<Vec<Item>> = items.chunks(25).map(<[Item]>::to_vec).collect();
            let mut writes = futures::stream::iter(chunks)
                .map(|c: Vec<Item>| async move {
                    self.batch_write(target, &c).await.map(|_| c.len() as u64)
                })
                .buffer_unordered(8);
            while let Some(n) = writes.next().await {
                let n = n?;
                progress.add(n);
                written += n;
            }
        }
        Ok(written)
    }

    /// One BatchWriteItem, with its UnprocessedItems written again with backoff until none
    /// are left (the SDK retries a failed call itself; unprocessed items are not an error to it).
    async fn batch_write(&self, table: &str, items: &[Item]) -> Result<(), JobError> {
        let pending: Vec<WriteRequest> = items
            .iter()
            .filter_map(|i| PutRequest::builder().set_item(Some(i.clone())).build().ok())
            .map(|p| WriteRequest::builder().put_request(p).build())
            .collect();
        let pending = std::sync::Mutex::new(pending);
        // Ok(n): n items left unprocessed (written again after a delay); Err: the call failed.
        let write_pending = || async {
            let requests = pending.lock().map(|p| p.clone()).unwrap_or_default();
            let out = self
                .ddb
                .batch_write_item()
                .request_items(table, requests)
                .send()
                .await
                .map_err(|e| Unprocessed::Failed(sdk_error("BatchWriteItem", e)))?;
            let left = out
                .unprocessed_items()
                .and_then(|u| u.get(table))
                .cloned()
                .unwrap_or_default();
            if left.is_empty() {
                return Ok(());
            }
            let n = left.len();
            if let Ok(mut p) = pending.lock() {
                *p = left;
            }
            Err(Unprocessed::Left(n))
        };
        let delays = RetryPolicy {
            max_attempts: 8,
            ..self.retry
        }
        .delays();
        write_pending
            .retry(delays)
            .when(|e| matches!(e, Unprocessed::Left(_)))
            .await
            .map_err(|e| match e {
                Unprocessed::Failed(e) => e,
                Unprocessed::Left(n) => JobError::transient(format!(
                    "BatchWriteItem {table}: {n} items still unprocessed"
                )),
            })
    }
}

/// How a BatchWriteItem ended when it did not write everything.
enum Unprocessed {
    /// The call failed (the SDK's retries used).
    Failed(JobError),
    /// This many items were left unprocessed.
    Left(usize),
}
