//! `table.encryption`: a table is encrypted at rest with a key DynamoDB can use. DynamoDB
//! always encrypts (AWS owned keys unless a KMS key is set); what can go wrong is a KMS key
//! that was disabled, deleted or its grant revoked: the table's status turns
//! `INACCESSIBLE_ENCRYPTION_CREDENTIALS` (then `ARCHIVING`, `ARCHIVED`) and nothing can read it.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{SseDescription, SseStatus, TableStatus};

use crate::check::Check;
use crate::evidence::unreadable;

const CHECK: &str = "table.encryption";

/// `table.encryption` of `table` (`DescribeTable`).
pub async fn check(ddb: &Client, table: &str) -> Check {
    match ddb.describe_table().table_name(table).send().await {
        Ok(out) => {
            let t = out.table();
            judge(
                table,
                t.and_then(|t| t.table_status()),
                t.and_then(|t| t.sse_description()),
            )
        }
        Err(e) => Check::fail(CHECK, table, unreadable("DescribeTable", &e)),
    }
}

/// The verdict on a table's status and its encryption description (none: AWS owned keys).
pub fn judge(table: &str, status: Option<&TableStatus>, sse: Option<&SseDescription>) -> Check {
    let key = sse
        .and_then(SseDescription::kms_master_key_arn)
        .map_or_else(|| "its KMS key".to_owned(), |k| format!("KMS key {k}"));
    let lost = matches!(
        status,
        Some(
            TableStatus::InaccessibleEncryptionCredentials
                | TableStatus::Archiving
                | TableStatus::Archived
        )
    ) || sse.is_some_and(|s| s.inaccessible_encryption_date_time().is_some());
    if lost {
        return Check::fail(
            CHECK,
            table,
            format!(
                "{key} is inaccessible (disabled, deleted or its grant revoked; table {}): DynamoDB cannot read the table and archives it after 7 days; re-enable the key",
                status.map_or("status unknown", TableStatus::as_str)
            ),
        );
    }
    match sse.and_then(SseDescription::status) {
        Some(SseStatus::Enabled | SseStatus::Enabling | SseStatus::Updating) => {
            Check::pass(CHECK, table, format!("encrypted at rest with {key}"))
        }
        // None, or a customer key turned off: AWS owned keys.
        _ => Check::pass(
            CHECK,
            table,
            "encrypted at rest with an AWS owned key (the default)",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::Status;

    #[test]
    fn owned_and_kms_keys_pass_an_inaccessible_key_fails() {
        let active = Some(&TableStatus::Active);
        assert_eq!(judge("t", active, None).status, Status::Pass);
        let sse = |status: SseStatus| {
            SseDescription::builder()
                .status(status)
                .kms_master_key_arn("arn:aws:kms:us-east-1:1:key/k")
                .build()
        };
        let c = judge("t", active, Some(&sse(SseStatus::Enabled)));
        assert_eq!(c.status, Status::Pass);
        assert!(c.evidence.contains("key/k"), "{}", c.evidence);
        let c = judge("t", active, Some(&sse(SseStatus::Disabled)));
        assert_eq!(c.status, Status::Pass, "back to AWS owned keys");
        let lost = Some(&TableStatus::InaccessibleEncryptionCredentials);
        let c = judge("t", lost, Some(&sse(SseStatus::Enabled)));
        assert_eq!(c.status, Status::Fail);
        assert!(c.evidence.contains("inaccessible"), "{}", c.evidence);
        let since = SseDescription::builder()
            .status(SseStatus::Enabled)
            .inaccessible_encryption_date_time(aws_smithy_types::DateTime::from_secs(1))
            .build();
        assert_eq!(judge("t", active, Some(&since)).status, Status::Fail);
        assert_eq!(
            judge("t", Some(&TableStatus::Archived), None).status,
            Status::Fail
        );
    }
}
