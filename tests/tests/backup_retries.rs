//! One backup request makes one backup, however often it is retried: a prune that fails is
//! retried by the kit (in process, then by redelivery) and the retry reuses the backup the
//! first attempt made. The real kit runtime processes the deliveries; native backups on
//! ministack, DeleteBackup failures injected by a proxy ([`inject`]).

#[path = "support/inject.rs"]
mod inject;

use std::sync::Arc;
use std::time::Duration;

use inject::{Injector, Rule};
use stoker_backup::{Backup, JobTag, Scope, native};
use stoker_events::payload::backup::{BackupMode, BackupRequest, Retention};
use stoker_events::{Envelope, SOURCE_OPERATOR, Worker};
use stoker_it::kit::{create_ops_table_on, fill_on};
use stoker_it::{emulator, unique};
use stoker_kit::ops::OpsTable;
use stoker_kit::{Delivered, Disposition, Stats, WorkerConfig};

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
        tags: Default::default(),
    }
}

#[tokio::test]
async fn a_prune_that_fails_is_retried_by_redelivery_without_a_second_backup() {
    let sdk = emulator().await;
    let url = std::env::var("STOKER_MINISTACK_URL").expect("STOKER_MINISTACK_URL");
    let direct = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&sdk)
            .endpoint_url(&url)
            .build(),
    );
    let inject = Injector::start(&url).await;
    let table = unique("bkr-prune");
    fill_on(&direct, &table, 10).await;
    let ops = format!("{table}-ops");
    create_ops_table_on(&direct, &ops).await.expect("ops table");

    let scope = Scope::new(&unique("st"), &table).expect("scope");
    let mut worker = Backup::new(&sdk, "", &ops, scope);
    worker.exporter.ddb = inject.client(&sdk);
    // Two earlier backups (distinct creation seconds).
    for _ in 0..2 {
        let job = JobTag::new(&uuid::Uuid::new_v4().simple().to_string(), 1, 1);
        worker
            .run(&request(&table, 7), &job)
            .await
            .expect("earlier backup");
        tokio::time::sleep(Duration::from_millis(1100)).await;
    }
    let created_before = inject.calls("CreateBackup");

    let mut cfg = WorkerConfig::new(Worker::Backup, "unused-queue", "unused-dlq", &ops);
    cfg.retry.base = Duration::from_millis(10);
    cfg.retry.max = Duration::from_millis(50);
    let mut rt = stoker_kit::runtime(worker, &sdk, cfg);
    // The kit's claims and completions in the same (ministack) ops table as the worker's records.
    rt.ops = OpsTable::new(direct.clone(), &ops, Arc::new(Stats::default()));
    let event = Envelope::new(request(&table, 2), SOURCE_OPERATOR, "operator:test");
    let body = serde_json::to_string(&event).expect("json");
    let (_stop_tx, stop) = tokio::sync::watch::channel(false);
    let delivery = |receive_count| Delivered {
        message_id: "m-1",
        body: &body,
        receive_count,
        sent_at: None,
    };

    // The first delivery: the backup is made, every DeleteBackup fails, in-process retries too.
    inject.add(Rule {
        action: "DeleteBackup",
        table: String::new(),
        status: 500,
        code: "InternalServerError",
        times: None,
    });
    let first = rt
        .process(&delivery(1), Duration::from_secs(120), &stop)
        .await;
    assert!(
        matches!(first, Disposition::Retry { .. }),
        "a failed prune is retried: {first:?}"
    );
    assert!(inject.injected("DeleteBackup") >= 2, "retried in process");
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
    let all = native::list(&direct, &table, 100, false)
        .await
        .expect("ListBackups");
    let names: Vec<&str> = all.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(
        names.iter().filter(|n| n.ends_with(&id)).count(),
        1,
        "{names:?}"
    );
    assert_eq!(all.len(), 2, "keep_last 2: the oldest pruned: {names:?}");
    let outcome = rt
        .ops
        .stored_outcome("backup", &event.id.to_string())
        .await
        .expect("GetItem")
        .expect("completed");
    assert_eq!(outcome["native"]["reused"], true, "{outcome}");
    assert_eq!(outcome["pruned_backups"].as_array().map(Vec::len), Some(1));
}
