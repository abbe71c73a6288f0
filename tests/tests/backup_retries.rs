//! One backup request makes one backup, however often it is retried, and nothing is pruned
//! before the new backup is AVAILABLE: a prune that fails is retried (by the SDK, then by
//! redelivery) and the retry reuses the backup the first attempt made; a backup still
//! CREATING when the wait ends prunes nothing, and the retry waits for that same backup.
//! Native backups on ministack, faults injected by a proxy in front of it ([`inject`]).

use crate::support::inject;

use std::time::Duration;

use inject::{Answer, Injector, Rule};
use stoker_backup::{Backup, JobTag, Scope, native};
use stoker_events::payload::backup::{BackupMode, BackupRequest, Retention};
use stoker_events::{Envelope, SOURCE_OPERATOR, Worker};
use stoker_it::kit::{create_ops_table_on, fill_on};
use stoker_it::{emulator, unique};
use stoker_kit::ops::OpsTable;
use stoker_kit::{Delivered, Disposition, WorkerConfig};

fn request(table: &str, keep_last: u32) -> BackupRequest {
    BackupRequest {
        table: table.into(),
        mode: BackupMode::Native,
        retention: Retention {
            keep_last,
            max_age_days: None,
            min_keep: 1,
        },
        restore_drill: false,
        ensure_pitr: false,
        pitr_drill: None,
        tags: Default::default(),
    }
}

/// Ministack straight and through an injector, a table of 10 items, and a worker on the
/// injector scoped to the table, recording in `ops` (on ministack) when given.
async fn setup(prefix: &str, with_ops: bool) -> (aws_sdk_dynamodb::Client, Injector, Backup) {
    let sdk = emulator().await;
    let url = std::env::var("STOKER_MINISTACK_URL").expect("STOKER_MINISTACK_URL");
    let direct = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&sdk)
            .endpoint_url(&url)
            .build(),
    );
    let inject = Injector::start(&url).await;
    let table = unique(prefix);
    fill_on(&direct, &table, 10).await;
    let ops = if with_ops {
        let ops = format!("{table}-ops");
        create_ops_table_on(&direct, &ops).await.expect("ops table");
        ops
    } else {
        String::new()
    };
    let scope = Scope::new(&unique("st"), &table).expect("scope");
    let mut worker = Backup::new(&sdk, "", &ops, scope);
    worker.exporter.ddb = inject.client(&sdk);
    (direct, inject, worker)
}

fn job() -> JobTag {
    JobTag::new(&uuid::Uuid::new_v4().simple().to_string(), 1, 1)
}

/// `n` earlier backups of the worker's table (distinct creation seconds).
async fn earlier_backups(worker: &Backup, table: &str, n: usize) {
    for _ in 0..n {
        worker
            .run(&request(table, 7), &job())
            .await
            .expect("earlier backup");
        tokio::time::sleep(Duration::from_millis(1100)).await;
    }
}

/// The names of the table's stoker-made backups.
async fn backups(direct: &aws_sdk_dynamodb::Client, table: &str) -> Vec<String> {
    native::list(direct, table, 100, false)
        .await
        .expect("ListBackups")
        .into_iter()
        .map(|b| b.name)
        .collect()
}

#[tokio::test]
async fn a_prune_that_fails_is_retried_by_redelivery_without_a_second_backup() {
    let (direct, inject, worker) = setup("bkr-prune", true).await;
    let table = worker.scope.table_prefix().to_owned();
    let ops = worker.ops_table.clone();
    earlier_backups(&worker, &table, 2).await;
    let created_before = inject.calls("CreateBackup");

    let mut cfg = WorkerConfig::new(Worker::Backup, "unused-queue", "unused-dlq", &ops);
    cfg.retry.base = Duration::from_millis(10);
    cfg.retry.max = Duration::from_millis(50);
    let mut rt = stoker_kit::runtime(worker, &emulator().await, cfg);
    // The kit's claims and completions in the same (ministack) ops table as the worker's records.
    std::sync::Arc::get_mut(&mut rt.core)
        .expect("a runtime just built is not shared")
        .ops = OpsTable::new(direct.clone(), &ops);
    let event = Envelope::new(request(&table, 2), SOURCE_OPERATOR, "operator:test");
    let body = serde_json::to_string(&event).expect("json");
    let (_stop_tx, stop) = tokio::sync::watch::channel(false);
    let delivery = |receive_count| Delivered {
        message_id: "m-1",
        body: &body,
        receive_count,
        sent_at: None,
    };

    // The first delivery: the backup is made, every DeleteBackup fails, the SDK's retries too.
    inject.add(Rule::error("DeleteBackup", "", 500, "InternalServerError"));
    let first = rt
        .process(&delivery(1), Duration::from_secs(120), &stop)
        .await;
    assert!(
        matches!(first, Disposition::Retry { .. }),
        "a failed prune is retried: {first:?}"
    );
    assert_eq!(
        inject.injected("DeleteBackup"),
        stoker_kit::aws::SDK_MAX_ATTEMPTS,
        "retried by the SDK only"
    );
    // The redelivery, DeleteBackup working again.
    inject.clear();
    let second = rt
        .process(&delivery(2), Duration::from_secs(120), &stop)
        .await;
    assert_eq!(second, Disposition::Done);

    assert_eq!(
        inject.calls("CreateBackup") - created_before,
        1,
        "one request, one CreateBackup over every attempt"
    );
    let id = event.id.simple().to_string();
    let names = backups(&direct, &table).await;
    assert_eq!(
        names.iter().filter(|n| n.ends_with(&id)).count(),
        1,
        "{names:?}"
    );
    assert_eq!(names.len(), 2, "keep_last 2: the oldest pruned: {names:?}");
    let outcome = rt
        .ops
        .stored_outcome("backup", &event.id.to_string())
        .await
        .expect("GetItem")
        .expect("completed");
    assert_eq!(outcome["native"]["reused"], true, "{outcome}");
    assert_eq!(outcome["pruned_backups"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn a_backup_still_creating_prunes_nothing_and_the_retry_waits_for_the_same_backup() {
    let (direct, inject, mut worker) = setup("bkr-creating", false).await;
    let table = worker.scope.table_prefix().to_owned();
    earlier_backups(&worker, &table, 1).await;
    let created_before = inject.calls("CreateBackup");
    worker.backup_wait = Duration::from_secs(2);
    // DynamoDB says the new backup is still CREATING, however long the job waits.
    inject.add(Rule {
        action: "DescribeBackup",
        table: String::new(),
        answer: Answer::Rewrite {
            from: "\"AVAILABLE\"",
            to: "\"CREATING\"",
        },
        times: None,
    });
    let id = uuid::Uuid::new_v4().simple().to_string();
    let err = worker
        .run(&request(&table, 1), &JobTag::new(&id, 1, 1))
        .await
        .expect_err("not AVAILABLE in time");
    assert!(!err.is_permanent(), "retried later: {err:?}");
    assert!(err.to_string().contains("not AVAILABLE within"), "{err}");
    assert_eq!(
        backups(&direct, &table).await.len(),
        2,
        "keep_last 1, but the new backup is not AVAILABLE: nothing pruned"
    );
    // The retry (a redelivery) finds the same backup, now AVAILABLE, and prunes.
    inject.clear();
    let r = worker
        .run(&request(&table, 1), &JobTag::new(&id, 2, 1))
        .await
        .expect("retry");
    let native = r.native.expect("native");
    assert!(native.reused, "{native:?}");
    assert_eq!(inject.calls("CreateBackup") - created_before, 1);
    let names = backups(&direct, &table).await;
    assert_eq!(names, [native.name], "the earlier backup pruned");
}
