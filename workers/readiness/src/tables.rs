//! Tables: point-in-time recovery on (`table.pitr`), and a backup newer than the limit
//! (`table.backup`): a native one (`ListBackups`), or an export the backup worker recorded in
//! the ops table.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, BackupStatus, BackupTypeFilter};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use stoker_kit::ops::items;

use crate::check::Check;
use crate::evidence::{age, unreadable};

/// Both checks of `table`.
pub async fn check(
    ddb: &Client,
    ops: &Ops<'_>,
    table: &str,
    max_backup_age_hours: u32,
    now: DateTime<Utc>,
) -> Vec<Check> {
    vec![
        pitr(ddb, table).await,
        backup(ddb, ops, table, max_backup_age_hours, now).await,
    ]
}

/// The ops table, where the backup worker records each backup and export it makes
/// (`pk = BACKUP#<table>`, `sk = <created>#<kind>#<name>`).
#[derive(Debug, Clone, Copy)]
pub struct Ops<'a> {
    pub ddb: &'a Client,
    pub table: &'a str,
}

/// What readiness reads of a backup worker's record: `sk = <created>#<kind>#<name>`.
#[derive(Deserialize)]
struct BackupRecord {
    sk: String,
    #[serde(default)]
    name: String,
}

/// The newest export of `table` the backup worker recorded: when, and its name.
async fn newest_export(
    ops: &Ops<'_>,
    table: &str,
) -> Result<Option<(DateTime<Utc>, String)>, String> {
    let mut pages = ops
        .ddb
        .query()
        .table_name(ops.table)
        .key_condition_expression("pk = :pk")
        .filter_expression("#kind = :export")
        .expression_attribute_names("#kind", "kind")
        .expression_attribute_values(":pk", AttributeValue::S(format!("BACKUP#{table}")))
        .expression_attribute_values(":export", AttributeValue::S("export".into()))
        .scan_index_forward(false)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| unreadable("Query (backup records)", &e))?;
        let newest = page.items.unwrap_or_default().into_iter().find_map(|i| {
            let r: BackupRecord = items::from_item(i, "backup record").ok()?;
            let at = DateTime::parse_from_rfc3339(r.sk.split('#').next()?).ok()?;
            Some((at.to_utc(), r.name))
        });
        if newest.is_some() {
            return Ok(newest);
        }
    }
    Ok(None)
}

async fn pitr(ddb: &Client, table: &str) -> Check {
    const CHECK: &str = "table.pitr";
    let out = match ddb
        .describe_continuous_backups()
        .table_name(table)
        .send()
        .await
    {
        Ok(o) => o,
        Err(e) => return Check::fail(CHECK, table, unreadable("DescribeContinuousBackups", &e)),
    };
    let status = out
        .continuous_backups_description()
        .and_then(|c| c.point_in_time_recovery_description())
        .and_then(|p| p.point_in_time_recovery_status())
        .map(|s| s.as_str().to_owned())
        .unwrap_or_else(|| "DISABLED".into());
    if status == "ENABLED" {
        Check::pass(CHECK, table, "point-in-time recovery is on")
    } else {
        Check::fail(
            CHECK,
            table,
            format!(
                "point-in-time recovery is {status}: turn it on (a backup job with ensure_pitr, or UpdateContinuousBackups)"
            ),
        )
    }
}

/// The newest available native backup of `table` (`ListBackups`, every page).
async fn newest_native(
    ddb: &Client,
    table: &str,
) -> Result<Option<(DateTime<Utc>, String)>, String> {
    let mut newest: Option<(DateTime<Utc>, String)> = None;
    let mut start: Option<String> = None;
    loop {
        let page = ddb
            .list_backups()
            .table_name(table)
            .backup_type(BackupTypeFilter::All)
            .set_exclusive_start_backup_arn(start.clone())
            .send()
            .await
            .map_err(|e| unreadable("ListBackups", &e))?;
        for b in page.backup_summaries() {
            if b.backup_status() != Some(&BackupStatus::Available) {
                continue;
            }
            let Some(at) = b
                .backup_creation_date_time()
                .and_then(|t| DateTime::from_timestamp(t.secs(), 0))
            else {
                continue;
            };
            if newest.as_ref().is_none_or(|(n, _)| at > *n) {
                newest = Some((at, b.backup_name().unwrap_or_default().to_owned()));
            }
        }
        start = page.last_evaluated_backup_arn().map(str::to_owned);
        if start.is_none() || page.backup_summaries().is_empty() {
            return Ok(newest);
        }
    }
}

async fn backup(
    ddb: &Client,
    ops: &Ops<'_>,
    table: &str,
    max_age_hours: u32,
    now: DateTime<Utc>,
) -> Check {
    const CHECK: &str = "table.backup";
    // Either source may vouch for the table: one that cannot be read fails the check only
    // when the other has nothing either.
    let (native, export) = (
        newest_native(ddb, table).await,
        newest_export(ops, table).await,
    );
    let mut notes = Vec::new();
    let mut newest: Option<(DateTime<Utc>, String)> = None;
    for (found, kind) in [(native, "native"), (export, "export")] {
        match found {
            Ok(Some((at, name))) if newest.as_ref().is_none_or(|(n, _)| at > *n) => {
                newest = Some((at, format!("{kind} {name}")));
            }
            Ok(_) => {}
            Err(why) => notes.push(why),
        }
    }
    if newest.is_none() && !notes.is_empty() {
        return Check::fail(CHECK, table, notes.join("; "));
    }
    let note = if notes.is_empty() {
        String::new()
    } else {
        format!("; not read: {}", notes.join("; "))
    };
    let Some((at, name)) = newest else {
        return Check::fail(
            CHECK,
            table,
            "no available backup or export: run `stoker backup` for it, or check its schedule",
        );
    };
    let hours = (now - at).num_hours();
    if hours <= i64::from(max_age_hours) {
        Check::pass(
            CHECK,
            table,
            format!("newest backup {} old ({name}){note}", age(hours)),
        )
    } else {
        Check::fail(
            CHECK,
            table,
            format!(
                "newest backup {} old ({name}), older than {max_age_hours} h: is its backup schedule running?{note}",
                age(hours)
            ),
        )
    }
}
