//! What a request selects beyond plain names: a name ending in `*` is every table, function
//! or queue starting with it (`select.match` fails when none does), and a tag adds the tables
//! and functions under the stack's prefixes that carry it (`stoker:readiness=true` for a
//! request that names nothing). The scope has already refused a prefix outside the stack's.
//! Functions are found among those CloudWatch has metrics of (invoked in the last two weeks).
//! At most [`MAX_TABLES`] tables and [`MAX_FUNCTIONS`] functions are checked, as a request may
//! name; `select.match` fails when a selection holds more.

use std::collections::BTreeSet;

use stoker_events::payload::readiness::{prefix_of, tag_parts};

use crate::check::Check;
use crate::evidence::unreadable;

/// `names` with each prefix replaced by the names it matches among `all` (listed only when
/// some name is a prefix); a prefix matching nothing is a failed `select.match`.
pub async fn expand<F, Fut>(names: Vec<String>, kind: &str, list: F) -> (Vec<String>, Vec<Check>)
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<Vec<String>, String>>,
{
    if !names.iter().any(|n| prefix_of(n).is_some()) {
        return (names, vec![]);
    }
    let all = match list().await {
        Ok(all) => all,
        Err(why) => {
            let prefixes = names.iter().filter(|n| prefix_of(n).is_some());
            let failed = prefixes.map(|p| Check::fail("select.match", p, why.clone()));
            let plain = names.iter().filter(|n| prefix_of(n).is_none()).cloned();
            return (plain.collect(), failed.collect());
        }
    };
    matching(names, kind, &all)
}

/// [`expand`] once `all` is listed.
pub fn matching(names: Vec<String>, kind: &str, all: &[String]) -> (Vec<String>, Vec<Check>) {
    let mut out = Vec::new();
    let mut problems = Vec::new();
    for n in names {
        match prefix_of(&n) {
            None => out.push(n),
            Some(p) => {
                let found: Vec<&String> = all.iter().filter(|a| a.starts_with(p)).collect();
                if found.is_empty() {
                    problems.push(Check::fail(
                        "select.match",
                        &n,
                        format!("no {kind} starts with `{p}`: fix the prefix, or take it out of the request"),
                    ));
                }
                out.extend(found.into_iter().cloned());
            }
        }
    }
    dedup(&mut out);
    (out, problems)
}

/// The most tables a job checks (as many as a request may name).
pub const MAX_TABLES: usize = 50;
/// The most functions a job checks (as many as a request may name).
pub const MAX_FUNCTIONS: usize = 50;

/// Keeps the first `max` of `names`; a failed `select.match` says how many were left out.
pub fn cap(names: &mut Vec<String>, max: usize, kind: &str) -> Option<Check> {
    if names.len() <= max {
        return None;
    }
    let left_out = names.split_off(max);
    Some(Check::fail(
        "select.match",
        kind,
        format!(
            "{} {kind} selected, more than {max}: the first {max} are checked, {} left out (from {}); narrow the prefix or the tag, or check them in several requests",
            max + left_out.len(),
            left_out.len(),
            left_out[0]
        ),
    ))
}

/// Keeps the first of each name.
pub fn dedup(names: &mut Vec<String>) {
    let mut seen = BTreeSet::new();
    names.retain(|n| seen.insert(n.clone()));
}

/// Whether tags `(key, value)` carry `tag` (`key` or `key=value`).
pub fn carries<'a>(tags: impl IntoIterator<Item = (&'a str, &'a str)>, tag: &str) -> bool {
    let (key, value) = tag_parts(tag);
    tags.into_iter()
        .any(|(k, v)| k == key && value.is_none_or(|want| want == v))
}

/// Every table name (`ListTables`, page by page).
pub async fn all_tables(ddb: &aws_sdk_dynamodb::Client) -> Result<Vec<String>, String> {
    ddb.list_tables()
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|e| unreadable("ListTables", &e))
}

/// The functions CloudWatch has metrics of (`ListMetrics` of `AWS/Lambda` `Invocations`: those
/// invoked in the last two weeks), by name. Not `ListFunctions`: it would hand the role every
/// function's configuration, environment variables included, and IAM cannot narrow it.
pub async fn functions_seen(cw: &aws_sdk_cloudwatch::Client) -> Result<Vec<String>, String> {
    stoker_optimizer::functions::invoked(cw, "")
        .await
        .map_err(|e| unreadable("ListMetrics", &e))
}

/// The functions the warm-up worker has warmed (its per-function `WarmupTargetWarmed` in
/// `namespace`, the last two weeks), by name.
pub async fn warmed_functions(
    cw: &aws_sdk_cloudwatch::Client,
    namespace: &str,
) -> Result<Vec<String>, String> {
    let pages = cw
        .list_metrics()
        .namespace(namespace)
        .metric_name("WarmupTargetWarmed")
        .into_paginator()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|e| unreadable("ListMetrics", &e))?;
    let mut names: Vec<String> = pages
        .iter()
        .flat_map(|p| p.metrics())
        .flat_map(|m| m.dimensions())
        .filter(|d| d.name() == Some("Function"))
        .filter_map(|d| d.value().map(str::to_owned))
        .collect();
    names.sort();
    names.dedup();
    Ok(names)
}

/// The stack's queues starting with `prefix` (`ListQueues`), by name.
pub async fn queues_under(sqs: &aws_sdk_sqs::Client, prefix: &str) -> Result<Vec<String>, String> {
    let urls = sqs
        .list_queues()
        .queue_name_prefix(prefix)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|e| unreadable("ListQueues", &e))?;
    Ok(urls
        .iter()
        .filter_map(|u| u.rsplit('/').next().map(str::to_owned))
        .collect())
}

/// The tables starting with `prefix` that carry `tag`.
pub async fn tagged_tables(
    ddb: &aws_sdk_dynamodb::Client,
    prefix: &str,
    tag: &str,
) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for t in all_tables(ddb)
        .await?
        .into_iter()
        .filter(|t| t.starts_with(prefix))
    {
        let arn = ddb
            .describe_table()
            .table_name(&t)
            .send()
            .await
            .map_err(|e| unreadable("DescribeTable", &e))?
            .table
            .and_then(|d| d.table_arn)
            .unwrap_or_default();
        let tags = ddb
            .list_tags_of_resource()
            .resource_arn(arn)
            .send()
            .await
            .map_err(|e| unreadable("ListTagsOfResource", &e))?;
        let pairs = tags.tags().iter().map(|t| (t.key(), t.value()));
        if carries(pairs, tag) {
            out.push(t);
        }
    }
    Ok(out)
}

/// The functions starting with `prefix` among `seen` ([`functions_seen`]) that carry `tag`.
pub async fn tagged_functions(
    lambda: &aws_sdk_lambda::Client,
    seen: &[String],
    prefix: &str,
    tag: &str,
) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for name in seen {
        if !name.starts_with(prefix) {
            continue;
        }
        let arn = match lambda
            .get_function_configuration()
            .function_name(name)
            .send()
            .await
        {
            Ok(c) => c.function_arn.unwrap_or_default(),
            // Deleted since its metrics were written.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                continue;
            }
            Err(e) => return Err(unreadable("GetFunctionConfiguration", &e)),
        };
        let tags = lambda
            .list_tags()
            .resource(&arn)
            .send()
            .await
            .map_err(|e| unreadable("ListTags", &e))?;
        let pairs = tags
            .tags()
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.as_str(), v.as_str()));
        if carries(pairs, tag) {
            out.push(name.clone());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::Status;

    #[test]
    fn prefixes_expand_to_what_they_match_and_an_empty_one_fails() {
        let all: Vec<String> = ["app-orders", "app-users", "other"]
            .map(String::from)
            .into();
        let (names, problems) = matching(
            vec!["app-*".into(), "app-orders".into(), "nope-*".into()],
            "table",
            &all,
        );
        assert_eq!(names, ["app-orders", "app-users"]);
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].status, Status::Fail);
        assert_eq!(problems[0].resource, "nope-*");
    }

    #[test]
    fn a_selection_over_the_cap_is_cut_and_fails() {
        let mut names: Vec<String> = (0..53).map(|i| format!("t{i:02}")).collect();
        let c = cap(&mut names, 50, "tables").expect("over the cap");
        assert_eq!(names.len(), 50);
        assert_eq!(c.status, Status::Fail);
        assert!(c.evidence.contains("53 tables selected"), "{}", c.evidence);
        assert!(cap(&mut names, 50, "tables").is_none());
    }

    #[test]
    fn a_tag_is_matched_by_key_or_by_key_and_value() {
        let tags = [("stoker:readiness", "true"), ("team", "orders")];
        assert!(carries(tags, "team"));
        assert!(carries(tags, "team=orders"));
        assert!(!carries(tags, "team=users"));
        assert!(carries(tags, "stoker:readiness=true"));
        assert!(!carries(tags, "owner"));
    }
}
