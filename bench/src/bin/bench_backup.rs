//! `./scripts/bench-backup [ITEMS]` (default 100,000)
//!
//! The backup worker's benchmark on LocalStack, in one run: a table of ITEMS items; a raw
//! parallel segmented Scan of it (the baseline: reading alone), the export (Scan + gzip JSON
//! Lines + S3 parts + manifest) and the restore from that export into a new table (S3 + gunzip
//! + BatchWriteItem); items/s each way and bytes stored per item.

use std::collections::HashMap;
use std::time::Instant;

use aws_sdk_dynamodb::types::{AttributeValue, WriteRequest};
use stoker_backup::Backup;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let items: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(100_000);
    let sdk = stoker_it::emulator().await;
    let name = stoker_it::unique("bench-bk");
    stoker_it::kit::create_ops_table(&sdk, &name).await?;
    let ddb = aws_sdk_dynamodb::Client::new(&sdk);
    let t = Instant::now();
    let writes: Vec<WriteRequest> = (0..items)
        .map(|i| {
            let item = HashMap::from([
                ("pk".to_owned(), AttributeValue::S(format!("ORDER#{i:08}"))),
                ("sk".to_owned(), AttributeValue::S("ORDER".into())),
                (
                    "customer".to_owned(),
                    AttributeValue::S(format!("customer-{}", i % 997)),
                ),
                (
                    "total".to_owned(),
                    AttributeValue::N(format!("{}.{:02}", i % 500, i % 100)),
                ),
                (
                    "status".to_owned(),
                    AttributeValue::S(["open", "paid", "shipped"][i % 3].into()),
                ),
            ]);
            stoker_it::kit::put(item)
        })
        .collect();
    stoker_it::kit::load(&ddb, &name, writes).await?;
    let load_s = t.elapsed().as_secs_f64();

    let s3 = stoker_backup::export::s3_client(&sdk);
    s3.create_bucket().bucket(&name).send().await?;
    let scope = stoker_backup::Scope::new("bench", &name)?;
    let worker = Backup::new(&sdk, &name, "", scope);

    // Baseline: the same parallel segmented Scan, reading only.
    let t = Instant::now();
    let scans = (0..worker.exporter.segments).map(|seg| {
        let (ddb, name, total) = (ddb.clone(), name.clone(), worker.exporter.segments);
        async move {
            let (mut n, mut start) = (0usize, None);
            loop {
                let page = ddb
                    .scan()
                    .table_name(&name)
                    .segment(seg)
                    .total_segments(total)
                    .set_exclusive_start_key(start)
                    .send()
                    .await?;
                n += page.items().len();
                start = page.last_evaluated_key().cloned();
                if start.is_none() {
                    return Ok::<_, anyhow::Error>(n);
                }
            }
        }
    });
    let scanned: usize = futures::future::join_all(scans)
        .await
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?
        .iter()
        .sum();
    let scan_s = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let m = worker
        .exporter
        .export(&name, "bench", None, &Default::default())
        .await?;
    let export_s = t.elapsed().as_secs_f64();
    let bytes: u64 = m.parts.iter().map(|p| p.bytes).sum();

    let t = Instant::now();
    let restored = worker
        .exporter
        .restore(&m, &format!("{name}-restored"), &Default::default())
        .await?;
    let restore_s = t.elapsed().as_secs_f64();
    let _ = ddb.delete_table().table_name(&name).send().await;
    let _ = ddb
        .delete_table()
        .table_name(format!("{name}-restored"))
        .send()
        .await;

    println!(
        "backup benchmark: {items} items (5 attributes each), LocalStack, {} scan segments; table loaded in {load_s:.0} s",
        worker.exporter.segments
    );
    println!();
    println!("| run | items | time | items/s |");
    println!("|---|---:|---:|---:|");
    println!(
        "| baseline: raw parallel segmented Scan | {scanned} | {scan_s:.1} s | {:.0} |",
        scanned as f64 / scan_s
    );
    println!(
        "| export: Scan + gzip JSON Lines + S3 parts + manifest | {} | {export_s:.1} s | {:.0} |",
        m.item_count,
        m.item_count as f64 / export_s
    );
    println!(
        "| restore: S3 + gunzip + BatchWriteItem | {restored} | {restore_s:.1} s | {:.0} |",
        restored as f64 / restore_s
    );
    println!();
    println!(
        "stored: {bytes} bytes in {} parts, {:.1} bytes per item (gzip'd DynamoDB JSON)",
        m.parts.len(),
        bytes as f64 / m.item_count as f64
    );
    Ok(())
}
