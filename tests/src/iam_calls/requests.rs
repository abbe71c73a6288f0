//! From a recorded SDK call to the IAM requests AWS authorizes for it: the action names IAM
//! uses (mostly the operation's own; the exceptions are below), each on its resource, with the
//! condition-key values the call shows.

use std::collections::BTreeMap;

use stoker_kit::calls::Call;

/// One authorization AWS makes for a call.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Request {
    /// `dynamodb:PutItem`
    pub action: String,
    /// The ARN, or `*` when the call names no resource.
    pub resource: String,
    pub context: BTreeMap<String, Vec<String>>,
}

/// The IAM prefix of a signing name.
fn prefix(service: &str) -> &str {
    match service {
        "monitoring" => "cloudwatch",
        other => other,
    }
}

/// The IAM action of an SDK operation where the names differ.
fn action_name(service: &str, op: &str) -> String {
    let name = match (service, op) {
        ("sqs", "SendMessageBatch") => "SendMessage",
        ("sqs", "DeleteMessageBatch") => "DeleteMessage",
        ("sqs", "ChangeMessageVisibilityBatch") => "ChangeMessageVisibility",
        ("lambda", "Invoke") => "InvokeFunction",
        ("s3", "ListObjectsV2" | "ListObjects" | "HeadBucket") => "ListBucket",
        ("s3", "ListObjectVersions") => "ListBucketVersions",
        ("s3", "GetPublicAccessBlock") => "GetBucketPublicAccessBlock",
        ("s3", "HeadObject") => "GetObject",
        (
            "s3",
            "CreateMultipartUpload" | "UploadPart" | "CompleteMultipartUpload" | "CopyObject",
        ) => "PutObject",
        ("s3", "DeleteObjects") => "DeleteObject",
        (_, op) => op,
    };
    format!("{}:{name}", prefix(service))
}

/// What DynamoDB checks on a restore's target table, besides the restore itself (the action's
/// `table` resource type is required, as is `backup` for a restore from a backup): its dependent
/// actions (AWS's action table; the developer guide, "Using IAM with DynamoDB backup and
/// restore": read and write permissions on the target table, for a restore from a backup and
/// to a point in time alike).
const RESTORE_TARGET: [&str; 7] = [
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "GetItem",
    "Query",
    "Scan",
    "BatchWriteItem",
];

/// The IAM requests of one call; `Err` names a call the recorder did not recognise.
pub fn requests(call: &Call) -> Result<Vec<Request>, String> {
    if call.operation.starts_with('?') {
        return Err(format!(
            "{} {}: the recorder does not know this request (add it to stoker_kit::calls)",
            call.service, call.operation
        ));
    }
    let p = prefix(&call.service);
    let req = |action: String, resource: &str, context: &BTreeMap<String, Vec<String>>| Request {
        action,
        resource: resource.to_owned(),
        context: context.clone(),
    };
    let out = match (call.service.as_str(), call.operation.as_str()) {
        ("dynamodb", "TransactWriteItems" | "TransactGetItems") => call
            .items
            .iter()
            .map(|i| {
                let op = match i.operation.as_str() {
                    "Put" => "PutItem",
                    "Update" => "UpdateItem",
                    "Delete" => "DeleteItem",
                    "ConditionCheck" => "ConditionCheckItem",
                    _ => "GetItem",
                };
                req(format!("{p}:{op}"), &i.resource, &i.context)
            })
            .collect(),
        ("dynamodb", "BatchWriteItem" | "BatchGetItem") => call
            .items
            .iter()
            .map(|i| req(format!("{p}:{}", call.operation), &i.resource, &i.context))
            .collect(),
        ("dynamodb", op @ ("RestoreTableFromBackup" | "RestoreTableToPointInTime")) => {
            // On the backup (or the source table), and on the table it creates.
            let mut out = vec![req(format!("{p}:{op}"), &call.resource, &call.context)];
            for target in call.items.iter().filter(|i| i.operation == "TargetTable") {
                out.push(req(format!("{p}:{op}"), &target.resource, &BTreeMap::new()));
                out.extend(
                    RESTORE_TARGET
                        .iter()
                        .map(|a| req(format!("{p}:{a}"), &target.resource, &BTreeMap::new())),
                );
            }
            out
        }
        ("application-autoscaling", op) => {
            // AWS also checks that the caller may describe and update the table it scales,
            // and, for a policy, the CloudWatch alarms target tracking makes (named
            // `TargetTracking-table/<table>-...`): the identity-based policy examples of
            // the Application Auto Scaling user guide.
            let mut out = vec![req(
                action_name("application-autoscaling", op),
                &call.resource,
                &call.context,
            )];
            for t in call.items.iter().filter(|i| i.operation == "Table") {
                for a in ["DescribeTable", "UpdateTable"] {
                    out.push(req(format!("dynamodb:{a}"), &t.resource, &BTreeMap::new()));
                }
                if matches!(op, "PutScalingPolicy" | "DeleteScalingPolicy") {
                    let (table, region) = table_and_region(&t.resource);
                    let alarm = format!(
                        "arn:aws:cloudwatch:{region}::alarm:TargetTracking-table/{table}-AlarmHigh"
                    );
                    for a in ["PutMetricAlarm", "DescribeAlarms", "DeleteAlarms"] {
                        out.push(req(format!("cloudwatch:{a}"), &alarm, &BTreeMap::new()));
                    }
                }
            }
            out
        }
        ("events", "PutEvents") => call
            .items
            .iter()
            .map(|i| req(format!("{p}:PutEvents"), &i.resource, &i.context))
            .collect(),
        (service, op) => vec![req(action_name(service, op), &call.resource, &call.context)],
    };
    Ok(out)
}

/// `(table, region)` of a table ARN (`arn:aws:dynamodb:<region>:<account>:table/<table>`).
fn table_and_region(arn: &str) -> (&str, &str) {
    let mut parts = arn.splitn(6, ':');
    let region = parts.nth(3).unwrap_or_default();
    let table = parts
        .nth(1)
        .and_then(|r| r.strip_prefix("table/"))
        .unwrap_or_default();
    (table, region)
}
