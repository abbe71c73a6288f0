//! What a request selects beyond plain names: a name ending in `*` is every table, function
//! or queue starting with it (`select.match` fails when none does), and a tag adds the tables
//! and functions under the stack's prefixes that carry it (`stoker:readiness=true` for a
//! request that names nothing). The scope has already refused a prefix outside the stack's.

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

/// Every function's name and ARN (`ListFunctions`, page by page).
pub async fn all_functions(
    lambda: &aws_sdk_lambda::Client,
) -> Result<Vec<(String, String)>, String> {
    let fns = lambda
        .list_functions()
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|e| unreadable("ListFunctions", &e))?;
    Ok(fns
        .into_iter()
        .filter_map(|f| Some((f.function_name?, f.function_arn?)))
        .collect())
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

/// The functions starting with `prefix` that carry `tag`.
pub async fn tagged_functions(
    lambda: &aws_sdk_lambda::Client,
    prefix: &str,
    tag: &str,
) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for (name, arn) in all_functions(lambda).await? {
        if !name.starts_with(prefix) {
            continue;
        }
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
            out.push(name);
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
    fn a_tag_is_matched_by_key_or_by_key_and_value() {
        let tags = [("stoker:readiness", "true"), ("team", "orders")];
        assert!(carries(tags, "team"));
        assert!(carries(tags, "team=orders"));
        assert!(!carries(tags, "team=users"));
        assert!(carries(tags, "stoker:readiness=true"));
        assert!(!carries(tags, "owner"));
    }
}
