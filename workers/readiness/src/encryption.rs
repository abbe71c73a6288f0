//! `table.encryption`: a table is encrypted at rest with a key DynamoDB can use. DynamoDB
//! always encrypts (AWS owned keys unless a KMS key is set); what can go wrong is a KMS key
//! that was disabled or deleted, which makes the table inaccessible.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{SseDescription, SseStatus};

use crate::check::Check;
use crate::evidence::unreadable;

const CHECK: &str = "table.encryption";

/// `table.encryption` of `table` (`DescribeTable`).
pub async fn check(ddb: &Client, table: &str) -> Check {
    match ddb.describe_table().table_name(table).send().await {
        Ok(out) => judge(table, out.table().and_then(|t| t.sse_description())),
        Err(e) => Check::fail(CHECK, table, unreadable("DescribeTable", &e)),
    }
}

/// The verdict on a table's encryption description (none: AWS owned keys).
pub fn judge(table: &str, sse: Option<&SseDescription>) -> Check {
    let Some(sse) = sse else {
        return Check::pass(
            CHECK,
            table,
            "encrypted at rest with an AWS owned key (the default)",
        );
    };
    let key = sse
        .kms_master_key_arn()
        .map_or_else(|| "a KMS key".to_owned(), |k| format!("KMS key {k}"));
    match sse.status().map_or("", SseStatus::as_str) {
        "ENABLED" | "ENABLING" | "UPDATING" => {
            Check::pass(CHECK, table, format!("encrypted at rest with {key}"))
        }
        "INACCESSIBLE_ENCRYPTION_CREDENTIALS" => Check::fail(
            CHECK,
            table,
            format!(
                "{key} is inaccessible (disabled, deleted or its grant revoked): DynamoDB cannot read the table; re-enable the key"
            ),
        ),
        other => Check::fail(
            CHECK,
            table,
            format!("encryption with {key} is {other:?}: see the table's settings"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::Status;

    #[test]
    fn owned_and_kms_keys_pass_an_inaccessible_key_fails() {
        assert_eq!(judge("t", None).status, Status::Pass);
        let sse = |status: SseStatus| {
            SseDescription::builder()
                .status(status)
                .kms_master_key_arn("arn:aws:kms:us-east-1:1:key/k")
                .build()
        };
        let c = judge("t", Some(&sse(SseStatus::Enabled)));
        assert_eq!(c.status, Status::Pass);
        assert!(c.evidence.contains("key/k"), "{}", c.evidence);
        let lost = sse(SseStatus::from("INACCESSIBLE_ENCRYPTION_CREDENTIALS"));
        let c = judge("t", Some(&lost));
        assert_eq!(c.status, Status::Fail);
        assert!(c.evidence.contains("inaccessible"), "{}", c.evidence);
        assert_eq!(
            judge("t", Some(&sse(SseStatus::Disabled))).status,
            Status::Fail
        );
    }
}
