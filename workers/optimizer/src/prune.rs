//! Prunes the versions the optimizer published (its applies and rollbacks, described
//! `stoker optimizer: …`), keeping the newest few (seed 004's `prune: number: 3`). A version
//! an alias points to (or routes a share of traffic to) is never deleted, nor any version the
//! optimizer did not publish.

use std::collections::HashSet;

use stoker_kit::JobError;
use stoker_kit::classify::sdk_error;

/// How the optimizer's versions are described.
pub const DESCRIPTION_PREFIX: &str = "stoker optimizer:";
/// The optimizer's versions kept by default (`STOKER_OPTIMIZER_KEEP_VERSIONS`).
pub const DEFAULT_KEEP: u32 = 3;

/// Deletes `function`'s optimizer versions but the newest `keep` (at least 1) and those an
/// alias uses; returns the versions deleted, oldest first.
pub async fn prune(
    lambda: &aws_sdk_lambda::Client,
    function: &str,
    keep: u32,
) -> Result<Vec<String>, JobError> {
    let aliases = lambda
        .list_aliases()
        .function_name(function)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|e| sdk_error(&format!("ListAliases {function}"), e))?;
    let mut in_use = HashSet::new();
    for a in &aliases {
        in_use.extend(a.function_version().map(str::to_owned));
        if let Some(routing) = a
            .routing_config()
            .and_then(|r| r.additional_version_weights())
        {
            in_use.extend(routing.keys().cloned());
        }
    }
    let versions = lambda
        .list_versions_by_function()
        .function_name(function)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|e| sdk_error(&format!("ListVersionsByFunction {function}"), e))?;
    let ours = versions.iter().filter_map(|v| {
        let n: u64 = v.version()?.parse().ok()?;
        v.description()?
            .starts_with(DESCRIPTION_PREFIX)
            .then_some(n)
    });
    let doomed = doomed(ours.collect(), keep, &in_use);
    for v in &doomed {
        lambda
            .delete_function()
            .function_name(function)
            .qualifier(v)
            .send()
            .await
            .map_err(|e| sdk_error(&format!("DeleteFunction {function}:{v}"), e))?;
    }
    Ok(doomed)
}

/// Which of the optimizer's versions `ours` go: all but the newest `keep` (at least 1), never
/// one in use; oldest first.
fn doomed(mut ours: Vec<u64>, keep: u32, in_use: &HashSet<String>) -> Vec<String> {
    ours.sort_unstable_by(|a, b| b.cmp(a));
    let mut out: Vec<String> = ours
        .into_iter()
        .skip(keep.max(1) as usize)
        .map(|n| n.to_string())
        .filter(|n| !in_use.contains(n))
        .collect();
    out.reverse();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_and_those_in_use_stay() {
        let in_use: HashSet<String> = ["2".to_owned()].into();
        assert_eq!(doomed(vec![1, 2, 3, 4, 5, 6], 3, &in_use), ["1", "3"]);
        assert_eq!(doomed(vec![7], 3, &in_use), Vec::<String>::new());
        assert_eq!(doomed(vec![1, 3], 0, &in_use), ["1"], "keeps at least one");
    }
}
