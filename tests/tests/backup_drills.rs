//! Restore drills never leak their scratch table and never let a backup be pruned before they
//! pass: a failing DescribeTable, a restore that never becomes ACTIVE (and cannot be deleted at
//! once), a job cut off mid-drill, a panic; and the sweep of leftovers at the start of each job.
//! Native backups on ministack, faults injected by a proxy in front of it ([`inject`]).

use crate::support::inject;

use std::time::{Duration, Instant};

use inject::{Injector, Rule};
use stoker_backup::scratch::ScratchTable;
use stoker_backup::{Backup, JobTag, Scope, native};
use stoker_events::payload::backup::{BackupMode, BackupRequest, Retention};
use stoker_it::kit::{create_ops_table_on, fill_on};
use stoker_it::{emulator, poll, unique};

/// Ministack (native backups), straight and through an injector; a worker on the injector,
/// scoped to a fresh stack and to `table`, which holds 20 items.
struct Setup {
    direct: aws_sdk_dynamodb::Client,
    inject: Injector,
    worker: Backup,
    table: String,
}

async fn setup(prefix: &str) -> Setup {
    let sdk = emulator().await;
    let url = std::env::var("STOKER_MINISTACK_URL").expect("STOKER_MINISTACK_URL");
    let direct = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&sdk)
            .endpoint_url(&url)
            .build(),
    );
    let inject = Injector::start(&url).await;
    let table = unique(prefix);
    fill_on(&direct, &table, 20).await;
    let scope = Scope::new(&unique("st"), &table).expect("scope");
    let mut worker = Backup::new(&sdk, "", "", scope);
    worker.exporter.ddb = inject.client(&sdk);
    Setup {
        direct,
        inject,
        worker,
        table,
    }
}

fn request(table: &str, keep_last: u32, drill: bool) -> BackupRequest {
    BackupRequest {
        table: table.into(),
        mode: BackupMode::Native,
        retention: Retention {
            keep_last,
            max_age_days: None,
            min_keep: 1,
        },
        restore_drill: drill,
        ensure_pitr: false,
        pitr_drill: None,
        tags: Default::default(),
    }
}

fn job() -> JobTag {
    JobTag::new(&uuid::Uuid::new_v4().simple().to_string(), 1, 1)
}

/// Every table whose name starts with `prefix` (all pages of ListTables).
async fn tables(ddb: &aws_sdk_dynamodb::Client, prefix: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut start = None;
    loop {
        let page = ddb
            .list_tables()
            .set_exclusive_start_table_name(start)
            .send()
            .await
            .expect("ListTables");
        out.extend(
            page.table_names()
                .iter()
                .filter(|n| n.starts_with(prefix))
                .cloned(),
        );
        start = page.last_evaluated_table_name().map(str::to_owned);
        if start.is_none() {
            return out;
        }
    }
}

/// Waits up to 30 s for no table named `<prefix>...` to be left.
async fn none_left(ddb: &aws_sdk_dynamodb::Client, prefix: &str) -> Vec<String> {
    let gone = poll(
        Duration::from_secs(30),
        Duration::from_millis(300),
        || async { tables(ddb, prefix).await.is_empty().then_some(()) },
    )
    .await;
    match gone {
        Some(()) => Vec::new(),
        None => tables(ddb, prefix).await,
    }
}

/// `n` earlier backups of the table, made by the worker (distinct creation seconds).
async fn earlier_backups(s: &Setup, n: usize) {
    for _ in 0..n {
        s.worker
            .run(&request(&s.table, 7, false), &job())
            .await
            .expect("earlier backup");
        tokio::time::sleep(Duration::from_millis(1100)).await;
    }
}

async fn backups(s: &Setup) -> usize {
    native::list(&s.direct, &s.table, 100, false)
        .await
        .expect("ListBackups")
        .len()
}

#[tokio::test]
async fn a_drill_whose_describe_table_fails_leaves_no_scratch_table_and_prunes_nothing() {
    let s = setup("bkd-desc").await;
    earlier_backups(&s, 2).await;
    s.inject.add(Rule::error(
        "DescribeTable",
        &s.table,
        500,
        "InternalServerError",
    ));
    let err = s
        .worker
        .run(&request(&s.table, 1, true), &job())
        .await
        .expect_err("the drill cannot read the source's key schema");
    assert!(err.to_string().contains("DescribeTable"), "{err}");
    assert!(s.inject.injected("DescribeTable") > 0);
    assert_eq!(
        backups(&s).await,
        3,
        "keep_last 1, but the drill did not pass: nothing pruned"
    );
    let left = none_left(&s.direct, &s.worker.scope.drill_prefix()).await;
    assert!(left.is_empty(), "scratch tables left: {left:?}");
}

#[tokio::test]
async fn a_restore_that_never_becomes_active_times_out_and_its_scratch_table_is_deleted() {
    let mut s = setup("bkd-wait").await;
    earlier_backups(&s, 1).await;
    s.worker.backup_wait = Duration::from_secs(3);
    let scratch = s.worker.scope.drill_prefix();
    // The restored table never answers ACTIVE, and (as DynamoDB does while a table is still
    // being created) its first two deletes are refused.
    s.inject.add(Rule::error(
        "DescribeTable",
        &scratch,
        400,
        "ResourceNotFoundException",
    ));
    s.inject.add(Rule {
        times: Some(2),
        ..Rule::error("DeleteTable", &scratch, 400, "ResourceInUseException")
    });
    let err = s
        .worker
        .run(&request(&s.table, 1, true), &job())
        .await
        .expect_err("the restore times out");
    assert!(err.to_string().contains("not ACTIVE within"), "{err}");
    assert_eq!(
        s.inject.injected("DeleteTable"),
        2,
        "refused twice, then deleted"
    );
    let left = none_left(&s.direct, &scratch).await;
    assert!(left.is_empty(), "scratch tables left: {left:?}");
    assert_eq!(
        backups(&s).await,
        2,
        "the drill did not pass: nothing pruned"
    );
}

#[tokio::test]
async fn a_drill_cut_off_by_the_job_timeout_still_deletes_its_scratch_table() {
    let mut s = setup("bkd-cut").await;
    s.worker.backup_wait = Duration::from_secs(120);
    let scratch = s.worker.scope.drill_prefix();
    s.inject.add(Rule::error(
        "DescribeTable",
        &scratch,
        400,
        "ResourceNotFoundException",
    ));
    let (worker, req) = (s.worker.clone(), request(&s.table, 1, true));
    let running = tokio::spawn(async move { worker.run(&req, &job()).await });
    let created = poll(
        Duration::from_secs(60),
        Duration::from_millis(200),
        || async { (!tables(&s.direct, &scratch).await.is_empty()).then_some(()) },
    )
    .await;
    assert!(created.is_some(), "the drill restored into a scratch table");
    // What the kit does when a job runs out of time: the job's future is dropped.
    running.abort();
    assert!(running.await.expect_err("aborted").is_cancelled());
    let left = none_left(&s.direct, &scratch).await;
    assert!(left.is_empty(), "scratch tables left: {left:?}");
}

#[tokio::test]
async fn a_panic_during_a_drill_deletes_its_scratch_table() {
    let s = setup("bkd-panic").await;
    let name = format!("{}panic", s.worker.scope.drill_prefix());
    create_ops_table_on(&s.direct, &name).await.expect("table");
    let ddb = s.direct.clone();
    let guarded = name.clone();
    let task = tokio::spawn(async move {
        let _scratch = ScratchTable::new(ddb, guarded);
        panic!("a bug in the comparison");
    });
    assert!(task.await.expect_err("panicked").is_panic());
    let left = none_left(&s.direct, &name).await;
    assert!(left.is_empty(), "scratch table left: {left:?}");
}

#[tokio::test]
async fn each_job_first_sweeps_this_stacks_scratch_tables_older_than_the_drill_timeout() {
    let mut s = setup("bkd-sweep").await;
    s.worker.drill_timeout = Duration::from_secs(4);
    let mine = s.worker.scope.drill_prefix();
    let old = format!("{mine}leftover");
    let others = format!("{}-drill-leftover", unique("other"));
    create_ops_table_on(&s.direct, &old).await.expect("table");
    create_ops_table_on(&s.direct, &others)
        .await
        .expect("table");
    // Let both become older than the drill timeout, then make one that is not.
    let made = Instant::now();
    tokio::time::sleep(Duration::from_secs(5).saturating_sub(made.elapsed())).await;
    let young = format!("{mine}in-flight");
    create_ops_table_on(&s.direct, &young).await.expect("table");
    let r = s
        .worker
        .run(&request(&s.table, 7, false), &job())
        .await
        .expect("backup");
    assert_eq!(r.swept_scratch_tables, [old.as_str()]);
    let mut left = tables(&s.direct, &mine).await;
    left.sort();
    assert_eq!(
        left,
        [young.as_str()],
        "only the young one of this stack stays"
    );
    assert_eq!(
        tables(&s.direct, &others).await,
        [others.as_str()],
        "another stack's stays"
    );
    for t in [young, others] {
        let _ = s.direct.delete_table().table_name(t).send().await;
    }
}
