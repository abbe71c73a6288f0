//! `stoker.backup.requested`: native backups and portable exports, retention, restore drills.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::names;
use crate::validate::{Validate, Validator};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[serde(deny_unknown_fields)]
pub struct BackupRequest {
    /// The DynamoDB table to protect.
    #[cfg_attr(test, proptest(strategy = "\"[a-z][a-z0-9-]{2,20}\""))]
    #[schemars(length(min = 3, max = 255))]
    pub table: String,
    #[serde(default)]
    pub mode: BackupMode,
    #[serde(default)]
    pub retention: Retention,
    /// Restore the newest backup into a scratch table and compare it with the source.
    #[serde(default)]
    pub restore_drill: bool,
    /// Check that point-in-time recovery is on, and turn it on if not.
    #[serde(default)]
    pub ensure_pitr: bool,
    /// A drill of point-in-time recovery itself: restore the table as it was at a point in time
    /// into a scratch table, compare it with the source, delete it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, proptest(value = "None"))]
    pub pitr_drill: Option<PitrDrill>,
    /// Tags put on the backups (at most 50).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[cfg_attr(
        test,
        proptest(
            strategy = "proptest::collection::btree_map(\"[a-z]{1,8}\", \"[a-z0-9]{0,8}\", 0..3)"
        )
    )]
    pub tags: BTreeMap<String, String>,
}

/// Which point in time a PITR drill restores.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PitrDrill {
    /// The time to restore to (RFC 3339), within the table's restorable window (the last 35
    /// days at most); the latest restorable time (about 5 minutes ago) when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[serde(rename_all = "snake_case")]
pub enum BackupMode {
    /// DynamoDB `CreateBackup`.
    #[default]
    Native,
    /// Segmented Scan to gzip'd JSON Lines in S3 plus a manifest (portable; works everywhere).
    Export,
    /// Both of the above.
    Both,
}

/// What to keep. Pruning never goes below `min_keep` and only touches stoker-made backups.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[serde(deny_unknown_fields)]
pub struct Retention {
    /// Keep the newest N (1-1000).
    #[serde(default = "default_keep_last")]
    #[schemars(range(min = 1, max = 1000))]
    pub keep_last: u32,
    /// Delete backups older than this many days (1-3650); none when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 3650))]
    pub max_age_days: Option<u32>,
    /// Never prune below this many (>= 1, <= keep_last).
    #[serde(default = "default_min_keep")]
    #[schemars(range(min = 1, max = 1000))]
    pub min_keep: u32,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            keep_last: default_keep_last(),
            max_age_days: None,
            min_keep: default_min_keep(),
        }
    }
}

fn default_keep_last() -> u32 {
    7
}
fn default_min_keep() -> u32 {
    1
}

impl Validate for BackupRequest {
    fn validate(&self, v: &mut Validator) {
        v.name("table", &self.table, names::dynamodb_table);
        v.at("retention", |v| self.retention.validate(v));
        v.count("tags", self.tags.len(), 0, 50);
        v.at("tags", |v| {
            for (k, val) in &self.tags {
                v.name(k, k, names::tag_key);
                v.name(k, val, names::tag_value);
            }
        });
    }
}

impl Validate for Retention {
    fn validate(&self, v: &mut Validator) {
        v.range("keep_last", self.keep_last.into(), 1, 1000);
        if let Some(d) = self.max_age_days {
            v.range("max_age_days", d.into(), 1, 3650);
        }
        v.range("min_keep", self.min_keep.into(), 1, 1000);
        if self.min_keep > self.keep_last {
            v.fail(
                "min_keep",
                format!(
                    "{} is above keep_last {}; min_keep must not exceed it",
                    self.min_keep, self.keep_last
                ),
            );
        }
    }
}
