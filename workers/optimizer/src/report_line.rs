//! Lambda's `REPORT` log lines read from CloudWatch Logs (the line's parser is the kit's).
//!
//! `REPORT RequestId: … Duration: 12.34 ms Billed Duration: 13 ms Memory Size: 128 MB
//! Max Memory Used: 57 MB` (tab separated; `Init Duration` on cold starts).

use stoker_kit::JobError;
use stoker_kit::classify::sdk_error;

pub use stoker_kit::report_line::{ReportLine, parse};

/// The `REPORT` lines of log group `group` since `since_ms` (up to `until_ms`), with their log
/// stream names, read page by page until at least `limit`; `None` when there is no such group.
pub async fn read(
    logs: &aws_sdk_cloudwatchlogs::Client,
    group: &str,
    since_ms: i64,
    until_ms: Option<i64>,
    limit: usize,
) -> Result<Option<Vec<(String, ReportLine)>>, JobError> {
    read_matching(logs, group, "REPORT", since_ms, until_ms, limit).await
}

/// [`read`], of the REPORT lines matching the filter pattern `pattern` only (`"Init Duration"`:
/// the cold starts).
pub async fn read_matching(
    logs: &aws_sdk_cloudwatchlogs::Client,
    group: &str,
    pattern: &str,
    since_ms: i64,
    until_ms: Option<i64>,
    limit: usize,
) -> Result<Option<Vec<(String, ReportLine)>>, JobError> {
    let mut pages = logs
        .filter_log_events()
        .log_group_name(group)
        .filter_pattern(pattern)
        .start_time(since_ms)
        .set_end_time(until_ms)
        .into_paginator()
        .send();
    let mut lines = Vec::new();
    while let Some(page) = pages.next().await {
        let page = match page {
            Ok(p) => p,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                return Ok(None);
            }
            Err(e) => return Err(sdk_error(&format!("FilterLogEvents {group}"), e)),
        };
        lines.extend(page.events().iter().filter_map(|e| {
            let line = parse(e.message()?)?;
            Some((e.log_stream_name().unwrap_or_default().to_owned(), line))
        }));
        if lines.len() >= limit {
            break;
        }
    }
    Ok(Some(lines))
}
