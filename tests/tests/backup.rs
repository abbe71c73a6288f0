//! The backup worker: native backups, pruning across pages and restore on ministack (LocalStack
//! has no native backups without Docker); exports, restores and drills on LocalStack (DynamoDB
//! and S3); an interrupted export; a missing table; the binary on a real queue (a table outside
//! its prefix dead-lettered) and without a prefix (it does not start).

use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::json;
use stoker_backup::drill::{DrillReport, compare};
use stoker_backup::{Backup, JobTag, Scope, native};
use stoker_events::payload::backup::{BackupMode, BackupRequest, Retention};
use stoker_events::{Envelope, SOURCE_OPERATOR, Worker};
use stoker_it::kit::{KitEnv, fill_on, table_with_items};
use stoker_it::{emulator, unique, worker_sdk, workspace_bin};

/// A DynamoDB client on ministack (native backups).
fn ministack_ddb(sdk: &aws_config::SdkConfig) -> aws_sdk_dynamodb::Client {
    let url = std::env::var("STOKER_MINISTACK_URL").expect("STOKER_MINISTACK_URL");
    aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(sdk)
            .endpoint_url(url)
            .build(),
    )
}

fn request(
    table: &str,
    mode: BackupMode,
    keep_last: u32,
    min_keep: u32,
    drill: bool,
) -> BackupRequest {
    BackupRequest {
        table: table.into(),
        mode,
        retention: Retention {
            keep_last,
            max_age_days: None,
            min_keep,
        },
        restore_drill: drill,
        ensure_pitr: false,
        pitr_drill: None,
        tags: [("team".to_owned(), "payments".to_owned())].into(),
    }
}

/// A worker for `table` (its scope: a fresh stack name, the table's own name as the prefix).
fn worker(sdk: &aws_config::SdkConfig, bucket: &str, table: &str) -> Backup {
    let stack = unique("st");
    let scope = Scope::new(&stack, table).expect("scope");
    stoker_it::bind_names(
        Worker::Backup,
        &[
            ("STOKER_STACK", &stack),
            ("STOKER_EXPORT_BUCKET", bucket),
            ("STOKER_BACKUP_TABLE_PREFIX", table),
        ],
    );
    Backup::new(sdk, bucket, "", scope)
}

/// The first attempt of a new job.
fn job() -> JobTag {
    JobTag::new(&uuid::Uuid::new_v4().simple().to_string(), 1, 1)
}

async fn bucket(sdk: &aws_config::SdkConfig, name: &str) {
    let s3 = stoker_backup::export::s3_client(sdk);
    s3.create_bucket()
        .bucket(name)
        .send()
        .await
        .expect("CreateBucket");
}

#[tokio::test]
async fn native_backups_are_pruned_across_pages_never_below_min_keep_and_restore_in_a_drill() {
    let sdk = emulator().await;
    let ddb = ministack_ddb(&sdk);
    let table = unique("bk-native");
    fill_on(&ddb, &table, 40).await;
    // Someone else's backup: never pruned.
    ddb.create_backup()
        .table_name(&table)
        .backup_name(format!("manual-{table}"))
        .send()
        .await
        .expect("CreateBackup");
    let mut worker = worker(&worker_sdk(Worker::Backup).await, "", &table);
    worker.exporter.ddb = ministack_ddb(&worker_sdk(Worker::Backup).await);
    worker.page_size = 2; // ListBackups pages of 2: pruning must read them all
    for _ in 0..4 {
        worker
            .run(&request(&table, BackupMode::Native, 3, 2, false), &job())
            .await
            .expect("backup");
        tokio::time::sleep(Duration::from_millis(1100)).await; // distinct creation seconds
    }
    let ours = native::list(&ddb, &table, 2, false).await.expect("list");
    assert_eq!(ours.len(), 3, "keep_last 3: {ours:?}");
    assert!(
        ours.iter()
            .all(|b| b.name.starts_with(&format!("stoker-{table}-")))
    );
    let all = native::list(&ddb, &table, 2, true).await.expect("list all");
    assert_eq!(all.len(), 4, "the manual backup is untouched");

    // keep_last 1 with min_keep 1 leaves exactly one; a drill restores it and compares.
    let r = worker
        .run(&request(&table, BackupMode::Native, 1, 1, true), &job())
        .await
        .expect("backup + drill");
    assert_eq!(r.pruned_backups.len(), 3, "{r:?}");
    assert_eq!(
        native::list(&ddb, &table, 2, false)
            .await
            .expect("list")
            .len(),
        1
    );
    let drill = r.drill.expect("drill");
    assert!(drill.passed, "{drill:?}");
    assert_eq!(
        (
            drill.from.as_str(),
            drill.source_items,
            drill.restored_items
        ),
        ("native", 40, 40)
    );
    assert!(
        ddb.describe_table()
            .table_name(&drill.scratch_table)
            .send()
            .await
            .is_err(),
        "scratch table deleted"
    );
}

#[tokio::test]
async fn an_export_restores_in_a_drill_with_checksummed_parts() {
    let sdk = emulator().await;
    let name = unique("bk-export");
    table_with_items(&sdk, &name, 300).await;
    bucket(&sdk, &name).await;
    let worker = worker(&worker_sdk(Worker::Backup).await, &name, &name);
    let mut req = request(&name, BackupMode::Export, 7, 1, true);
    req.ensure_pitr = true;
    let r = worker.run(&req, &job()).await.expect("export + drill");
    assert_eq!(
        r.pitr_was_enabled,
        Some(false),
        "PITR was off and is turned on"
    );
    let pitr = aws_sdk_dynamodb::Client::new(&sdk)
        .describe_continuous_backups()
        .table_name(&name)
        .send()
        .await
        .expect("DescribeContinuousBackups");
    let status = pitr
        .continuous_backups_description()
        .and_then(|c| c.point_in_time_recovery_description())
        .and_then(|p| p.point_in_time_recovery_status())
        .map(|s| s.as_str().to_owned());
    assert_eq!(status.as_deref(), Some("ENABLED"));
    let e = r.export.expect("export");
    assert_eq!((e.items, e.parts), (300, 4));
    let export_id = e.export_id;
    let drill = r.drill.expect("drill");
    assert!(drill.passed, "{drill:?}");
    assert_eq!(
        (drill.from.as_str(), drill.restored_items, drill.sampled),
        ("export", 300, 50)
    );
    let m = worker
        .exporter
        .manifest(&name, &export_id)
        .await
        .expect("manifest");
    assert_eq!(
        m.key_schema,
        [
            ("pk".to_owned(), "HASH".to_owned()),
            ("sk".to_owned(), "RANGE".to_owned())
        ]
    );
    assert!(m.parts.iter().all(|p| p.sha256.len() == 64));
    assert_eq!(m.parts.iter().map(|p| p.items).sum::<u64>(), 300);
}

#[tokio::test]
async fn an_interrupted_export_is_never_counted_and_the_retry_makes_one_complete_export() {
    let sdk = emulator().await;
    let name = unique("bk-crash");
    table_with_items(&sdk, &name, 60).await;
    bucket(&sdk, &name).await;
    let worker = worker(&worker_sdk(Worker::Backup).await, &name, &name);
    let crashed = worker
        .exporter
        .export(&name, "attempt-1", Some(2), &Default::default())
        .await;
    assert!(crashed.is_err(), "simulated crash after two parts");
    assert!(
        worker.exporter.list(&name).await.expect("list").is_empty(),
        "no manifest, no export"
    );
    let r = worker
        .run(&request(&name, BackupMode::Export, 1, 1, false), &job())
        .await
        .expect("retry");
    let first = r.export.as_ref().expect("export");
    assert_eq!(first.items, 60);
    let first = first.export_id.clone();
    let complete = worker.exporter.list(&name).await.expect("list");
    assert_eq!(
        complete.iter().map(|e| e.0.as_str()).collect::<Vec<_>>(),
        [first.as_str()]
    );
    assert!(
        r.pruned_exports.is_empty(),
        "the half export is never pruned into: {r:?}"
    );
    // Exports are pruned by the same rule: a second complete export with keep_last 1 prunes the
    // first; the half one is left alone (it does not count).
    tokio::time::sleep(Duration::from_millis(1100)).await; // S3 keeps whole seconds
    let again = worker
        .run(&request(&name, BackupMode::Export, 1, 1, false), &job())
        .await
        .expect("second export");
    assert_eq!(again.pruned_exports, [first]);
    let second = again.export.expect("export").export_id;
    let complete = worker.exporter.list(&name).await.expect("list");
    assert_eq!(
        complete.iter().map(|e| e.0.as_str()).collect::<Vec<_>>(),
        [second.as_str()]
    );
}

#[tokio::test]
async fn a_drill_notices_a_restored_table_that_differs() {
    let sdk = emulator().await;
    let name = unique("bk-diff");
    table_with_items(&sdk, &name, 10).await;
    let scratch = format!("{name}-scratch");
    table_with_items(&sdk, &scratch, 10).await;
    aws_sdk_dynamodb::Client::new(&sdk)
        .put_item()
        .table_name(&scratch)
        .item("pk", AttributeValue::S("ORDER#3".into()))
        .item("sk", AttributeValue::S("ORDER".into()))
        .item("total", AttributeValue::N("0".into()))
        .send()
        .await
        .expect("tamper");
    let mut report = DrillReport::default();
    let ddb = aws_sdk_dynamodb::Client::new(&sdk);
    compare(
        &ddb,
        &name,
        &scratch,
        &["pk".into(), "sk".into()],
        50,
        &mut report,
    )
    .await
    .expect("compare");
    assert_eq!(
        (
            report.source_items,
            report.restored_items,
            report.sampled,
            report.mismatched
        ),
        (10, 10, 10, 1)
    );
    assert!(!report.passed);
}

#[tokio::test]
async fn a_missing_table_is_a_permanent_error() {
    let sdk = emulator().await;
    let name = unique("bk-none");
    bucket(&sdk, &name).await;
    let err = worker(&worker_sdk(Worker::Backup).await, &name, &name)
        .run(&request(&name, BackupMode::Export, 7, 1, false), &job())
        .await
        .expect_err("no such table");
    assert!(err.is_permanent(), "{err:?}");
}

#[tokio::test]
async fn the_worker_binary_exports_a_queued_request_and_dead_letters_a_bad_one() {
    let sdk = emulator().await;
    let env = KitEnv::create(&sdk, "bkq", 3, false)
        .await
        .expect("resources");
    let name = unique("bk-q");
    table_with_items(&sdk, &name, 30).await;
    bucket(&sdk, &name).await;
    let _worker = env
        .spawn_worker(
            workspace_bin("stoker-backup").to_str().expect("path"),
            &[
                ("STOKER_EXPORT_BUCKET", &name),
                ("STOKER_STACK", &env.name),
                ("STOKER_BACKUP_TABLE_PREFIX", "it-bk-q-"),
            ],
        )
        .expect("spawn the worker");
    let good = Envelope::new(
        request(&name, BackupMode::Export, 7, 1, true),
        SOURCE_OPERATOR,
        "operator:test",
    );
    env.send(&serde_json::to_string(&good).expect("json"), None)
        .await
        .expect("send");
    let mut bad = serde_json::to_value(&good).expect("json");
    bad["id"] = json!(uuid::Uuid::now_v7());
    bad["payload"]["retention"] = json!({ "keep_last": 1, "min_keep": 3 });
    env.send(&bad.to_string(), None).await.expect("send");
    // A table outside STOKER_BACKUP_TABLE_PREFIX: refused, to the DLQ with the prefix named.
    let mut outside = serde_json::to_value(&good).expect("json");
    outside["id"] = json!(uuid::Uuid::now_v7());
    outside["payload"]["table"] = json!(unique("payroll"));
    env.send(&outside.to_string(), None).await.expect("send");
    let report = env
        .wait_outcome("backup", &good.id.to_string(), Duration::from_secs(90))
        .await;
    assert_eq!(report["export"]["items"], 30, "{report}");
    assert_eq!(report["drill"]["passed"], true, "{report}");
    let rows = aws_sdk_dynamodb::Client::new(&sdk)
        .query()
        .table_name(&env.table)
        .key_condition_expression("pk = :pk")
        .expression_attribute_values(":pk", AttributeValue::S(format!("BACKUP#{name}")))
        .send()
        .await
        .expect("Query");
    assert_eq!(
        rows.count(),
        1,
        "the export's metadata is recorded in the ops table"
    );
    // The request's tags are kept on that record (DynamoDB tags tables, not backups).
    let tags = rows.items()[0]["tags"].as_m().expect("tags");
    assert_eq!(
        tags.get("team")
            .and_then(|v| v.as_s().ok())
            .map(String::as_str),
        Some("payments")
    );
    let reasons = env.dead_reasons(2, Duration::from_secs(30)).await;
    assert!(
        reasons.iter().any(|r| r.contains("retention.min_keep")),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("outside this stack's backup scope") && r.contains("`it-bk-q-`")),
        "{reasons:?}"
    );
    env.delete().await;
}

#[test]
fn the_worker_binary_refuses_to_start_without_a_table_prefix() {
    let out = std::process::Command::new(workspace_bin("stoker-backup"))
        .env("STOKER_STACK", "stoker")
        .env_remove("STOKER_BACKUP_TABLE_PREFIX")
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .output()
        .expect("run stoker-backup");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("STOKER_BACKUP_TABLE_PREFIX") && err.contains("every table"),
        "{err}"
    );
}

/// Waiting for a table ends at once on an error that will not pass (an invalid name), instead
/// of asking again until the deadline; a table that does not exist yet is waited for.
#[tokio::test]
async fn waiting_for_a_table_ends_at_an_error_that_will_not_pass() {
    let sdk = emulator().await;
    let ddb = aws_sdk_dynamodb::Client::new(&sdk);
    let started = std::time::Instant::now();
    let e = native::wait_active(&ddb, "no spaces!", Duration::from_secs(20))
        .await
        .expect_err("an invalid name");
    assert!(e.is_permanent(), "{e}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    let e = native::wait_active(&ddb, &unique("not-yet"), Duration::from_secs(1))
        .await
        .expect_err("never created");
    assert!(!e.is_permanent(), "a table not found is waited for: {e}");
}

/// Deleting an export removes every one of its objects, past the first page of 1,000 keys
/// (before, only the first page went: a large export left parts behind).
#[tokio::test]
async fn deleting_an_export_pages_through_every_key() {
    use futures::StreamExt;
    let sdk = emulator().await;
    let name = unique("bk-del");
    bucket(&sdk, &name).await;
    let s3 = stoker_backup::export::s3_client(&sdk);
    let base = format!("{}exp-1/", stoker_backup::export::prefix(&name));
    futures::stream::iter(0..1005)
        .map(|i| {
            s3.put_object()
                .bucket(&name)
                .key(format!("{base}part-{i:05}.json"))
                .body(aws_sdk_s3::primitives::ByteStream::from_static(b"{}"))
                .send()
        })
        .buffer_unordered(32)
        .for_each(|r| async move {
            r.expect("PutObject");
        })
        .await;
    let w = worker(&worker_sdk(Worker::Backup).await, &name, &name);
    w.exporter.delete(&name, "exp-1").await.expect("delete");
    let left = s3
        .list_objects_v2()
        .bucket(&name)
        .prefix(&base)
        .send()
        .await
        .expect("ListObjectsV2")
        .key_count()
        .unwrap_or(0);
    assert_eq!(left, 0, "every part deleted");
    let _ = s3.delete_bucket().bucket(&name).send().await;
}

/// Issue #20: an export is AWS's DynamoDB JSON exactly. An item of every type (binary values
/// with every byte, sets, nested lists and maps, NULL, BOOL, a negative exponent number) is
/// exported, and its part read back by boto3's `TypeDeserializer` (tests/python/read_export.py,
/// written independently of the worker's writer, base64 decoded with validation) gives the
/// item's values; the drill restores it identically. Binary values were hex before (format 1).
/// LocalStack has no `ImportTable` offline: the import path is not tested here.
#[tokio::test]
async fn an_export_is_dynamodb_json_that_an_independent_reader_reads_back() {
    use aws_sdk_dynamodb::primitives::Blob;
    use std::io::Read;

    let python = std::env::var("STOKER_PEER_PYTHON").expect(
        "STOKER_PEER_PYTHON: a Python with boto3 (./scripts/test sets it from ./scripts/peer-venv)",
    );
    let sdk = emulator().await;
    let name = unique("bk-json");
    table_with_items(&sdk, &name, 0).await;
    bucket(&sdk, &name).await;
    let every_byte: Vec<u8> = (0..=255).collect();
    let item = std::collections::HashMap::from([
        ("pk".to_owned(), AttributeValue::S("TYPES#1".into())),
        (
            "sk".to_owned(),
            AttributeValue::S("héllo \"world\"\n".into()),
        ),
        ("n".to_owned(), AttributeValue::N("-12.5E-3".into())),
        (
            "b".to_owned(),
            AttributeValue::B(Blob::new(every_byte.clone())),
        ),
        ("t".to_owned(), AttributeValue::Bool(true)),
        ("f".to_owned(), AttributeValue::Bool(false)),
        ("z".to_owned(), AttributeValue::Null(true)),
        (
            "ss".to_owned(),
            AttributeValue::Ss(vec!["a".into(), "b".into()]),
        ),
        (
            "ns".to_owned(),
            AttributeValue::Ns(vec!["1".into(), "2.5".into()]),
        ),
        (
            "bs".to_owned(),
            AttributeValue::Bs(vec![Blob::new(vec![0]), Blob::new(vec![255, 254])]),
        ),
        (
            "l".to_owned(),
            AttributeValue::L(vec![
                AttributeValue::S("x".into()),
                AttributeValue::B(Blob::new(vec![1, 2, 3])),
                AttributeValue::M([("k".to_owned(), AttributeValue::N("3".into()))].into()),
            ]),
        ),
        (
            "m".to_owned(),
            AttributeValue::M(
                [(
                    "inner".to_owned(),
                    AttributeValue::L(vec![AttributeValue::Null(true)]),
                )]
                .into(),
            ),
        ),
    ]);
    aws_sdk_dynamodb::Client::new(&sdk)
        .put_item()
        .table_name(&name)
        .set_item(Some(item))
        .send()
        .await
        .expect("PutItem");
    let worker = worker(&worker_sdk(Worker::Backup).await, &name, &name);
    let r = worker
        .run(&request(&name, BackupMode::Export, 7, 1, true), &job())
        .await
        .expect("export + drill");
    let drill = r.drill.expect("drill");
    assert!(drill.passed && drill.restored_items == 1, "{drill:?}");
    let e = r.export.expect("export");
    let m = worker
        .exporter
        .manifest(&name, &e.export_id)
        .await
        .expect("manifest");
    assert_eq!(m.format, "stoker-export/2");
    let s3 = stoker_backup::export::s3_client(&sdk);
    let mut lines = String::new();
    for part in &m.parts {
        let body = s3
            .get_object()
            .bucket(&name)
            .key(&part.key)
            .send()
            .await
            .expect("GetObject")
            .body
            .collect()
            .await
            .expect("body")
            .into_bytes();
        flate2::read::GzDecoder::new(&body[..])
            .read_to_string(&mut lines)
            .expect("gunzip");
    }
    let mut child = std::process::Command::new(&python)
        .arg(stoker_it::docs::repo().join("tests/python/read_export.py"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python");
    use std::io::Write;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(lines.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("python ran");
    assert!(
        out.status.success(),
        "boto3 could not read the export: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let read: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    let set = |v: &[serde_json::Value]| {
        let mut s: Vec<String> = v.iter().map(|x| x.to_string()).collect();
        s.sort();
        json!({ "set": s })
    };
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let expected = json!({
        "pk": "TYPES#1",
        "sk": "héllo \"world\"\n",
        "n": { "n": "-0.0125" },
        "b": { "b": hex(&every_byte) },
        "t": true,
        "f": false,
        "z": null,
        "ss": set(&[json!("a"), json!("b")]),
        "ns": set(&[json!({ "n": "1" }), json!({ "n": "2.5" })]),
        "bs": set(&[json!({ "b": "00" }), json!({ "b": "fffe" })]),
        "l": ["x", { "b": "010203" }, { "k": { "n": "3" } }],
        "m": { "inner": [null] },
    });
    assert_eq!(read, [expected], "the export as boto3 reads it");
    env_cleanup(&sdk, &name).await;
}

async fn env_cleanup(sdk: &aws_config::SdkConfig, table: &str) {
    let _ = aws_sdk_dynamodb::Client::new(sdk)
        .delete_table()
        .table_name(table)
        .send()
        .await;
}

/// Issue #20: a large table's export streams its parts: each segment's part is closed and
/// uploaded once `part_bytes` of JSON lines went into it, and the segment goes on in a new part,
/// so an export holds at most one part per segment in memory. Here with 4 KiB parts: 3,000 items
/// in many more parts than the 4 segments, none past the bound, all restored by the drill.
#[tokio::test]
async fn a_large_export_streams_bounded_parts_that_restore() {
    let sdk = emulator().await;
    let name = unique("bk-parts");
    table_with_items(&sdk, &name, 3000).await;
    bucket(&sdk, &name).await;
    let mut worker = worker(&worker_sdk(Worker::Backup).await, &name, &name);
    worker.exporter.part_bytes = 4096;
    let r = worker
        .run(&request(&name, BackupMode::Export, 7, 1, true), &job())
        .await
        .expect("export + drill");
    let e = r.export.expect("export");
    assert_eq!(e.items, 3000);
    assert!(
        e.parts > 8,
        "{} parts for 4 segments: parts were not cut",
        e.parts
    );
    let m = worker
        .exporter
        .manifest(&name, &e.export_id)
        .await
        .expect("manifest");
    assert_eq!(m.parts.iter().map(|p| p.items).sum::<u64>(), 3000);
    // A part closes at the first line past 4 KiB of JSON: each holds at most the items that fit
    // (every item here is more than 60 bytes of JSON), and none is empty.
    assert!(
        m.parts
            .iter()
            .all(|p| p.items >= 1 && p.items <= 4096 / 60 + 1),
        "{:?}",
        m.parts.iter().map(|p| p.items).collect::<Vec<_>>()
    );
    let drill = r.drill.expect("drill");
    assert!(drill.passed && drill.restored_items == 3000, "{drill:?}");
    env_cleanup(&sdk, &name).await;
}

/// Issue #20: a point-in-time restore drill (ministack answers `RestoreTableToPointInTime`;
/// LocalStack offline does not). With PITR on, the table restored at the latest restorable time
/// into a scratch table equals the source (40 of 40 items, sampled ones identical), and the
/// scratch table is gone afterwards. A time outside the restorable window, and a table with
/// PITR off, are permanent errors that create nothing. ministack restores the table as it is
/// now whatever the time asked (it keeps no history): that the restore reflects the chosen
/// time is AWS's part, not tested here.
#[tokio::test]
async fn a_point_in_time_restore_drill_restores_compares_and_cleans_up() {
    use stoker_events::payload::backup::PitrDrill;
    let sdk = emulator().await;
    let ddb = ministack_ddb(&sdk);
    let table = unique("bk-pitr");
    fill_on(&ddb, &table, 40).await;
    let mut worker = worker(&worker_sdk(Worker::Backup).await, "", &table);
    worker.exporter.ddb = ministack_ddb(&worker_sdk(Worker::Backup).await);

    // PITR off: refused before anything is created.
    let off = worker
        .pitr_drill(&table, &job(), &PitrDrill::default())
        .await
        .expect_err("PITR is off");
    assert_eq!(off.code(), "pitr_off", "{off}");

    let mut req = request(&table, BackupMode::Native, 7, 1, false);
    req.ensure_pitr = true;
    req.pitr_drill = Some(PitrDrill::default());
    let r = worker.run(&req, &job()).await.expect("backup + PITR drill");
    let d = r.pitr_drill.expect("PITR drill");
    assert!(d.passed, "{d:?}");
    assert_eq!(
        (
            d.from.as_str(),
            d.source_items,
            d.restored_items,
            d.mismatched
        ),
        ("pitr", 40, 40, 0)
    );
    assert!(d.sampled > 0 && d.scratch_deleted, "{d:?}");
    assert!(
        ddb.describe_table()
            .table_name(&d.scratch_table)
            .send()
            .await
            .is_err(),
        "scratch table deleted"
    );

    // A time before the table existed is outside its window.
    let long_ago = PitrDrill {
        at: Some(chrono::Utc::now() - chrono::Duration::days(40)),
    };
    let long_ago_job = job();
    let e = worker
        .pitr_drill(&table, &long_ago_job, &long_ago)
        .await
        .expect_err("outside the window");
    assert_eq!(e.code(), "pitr_out_of_window", "{e}");
    assert!(e.is_permanent());
    let tables = ddb.list_tables().send().await.expect("ListTables");
    assert!(
        !tables
            .table_names()
            .iter()
            .any(|t| t.contains(&long_ago_job.id)),
        "a refused drill creates nothing: {:?}",
        tables.table_names()
    );
    let _ = ddb.delete_table().table_name(&table).send().await;
}
