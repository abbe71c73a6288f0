//! The ops table's schema, for creating one outside a stack (local development, tests, a
//! crate of your own): keys `pk`/`sk` (strings), index `gsi1` on `gsi1pk`/`gsi1sk`, time to
//! live on `expires_at`. stoker's stack declares the same (infra/template.yaml, `OpsTable`).

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
};

use crate::classify::sdk_error;
use crate::error::JobError;

/// The index of run records by worker.
pub const RUNS_INDEX: &str = "gsi1";
/// The attribute holding an item's expiry (epoch seconds) for DynamoDB's time to live.
pub const TTL_ATTRIBUTE: &str = "expires_at";

fn key(name: &str, key_type: KeyType) -> Result<KeySchemaElement, JobError> {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(key_type)
        .build()
        .map_err(|e| JobError::permanent("schema", e.to_string()))
}

fn string(name: &str) -> Result<AttributeDefinition, JobError> {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .map_err(|e| JobError::permanent("schema", e.to_string()))
}

/// Creates an ops table named `name` (on-demand billing), waits until it is active and
/// turns its time to live on.
pub async fn create_table(ddb: &Client, name: &str) -> Result<(), JobError> {
    let index = GlobalSecondaryIndex::builder()
        .index_name(RUNS_INDEX)
        .key_schema(key("gsi1pk", KeyType::Hash)?)
        .key_schema(key("gsi1sk", KeyType::Range)?)
        .projection(
            Projection::builder()
                .projection_type(ProjectionType::All)
                .build(),
        )
        .build()
        .map_err(|e| JobError::permanent("schema", e.to_string()))?;
    ddb.create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key("pk", KeyType::Hash)?)
        .key_schema(key("sk", KeyType::Range)?)
        .attribute_definitions(string("pk")?)
        .attribute_definitions(string("sk")?)
        .attribute_definitions(string("gsi1pk")?)
        .attribute_definitions(string("gsi1sk")?)
        .global_secondary_indexes(index)
        .send()
        .await
        .map_err(|e| sdk_error("CreateTable", e))?;
    let within = std::time::Duration::from_secs(120);
    let pace = crate::wait::Pace::every(std::time::Duration::from_millis(200));
    let active = crate::wait::until(within, pace, || async {
        let status = ddb
            .describe_table()
            .table_name(name)
            .send()
            .await
            .map_err(|e| sdk_error("DescribeTable", e))?
            .table
            .and_then(|t| t.table_status);
        Ok((status == Some(aws_sdk_dynamodb::types::TableStatus::Active)).then_some(()))
    })
    .await?;
    if active.is_none() {
        return Err(JobError::retryable(format!(
            "table {name} not active after {} s",
            within.as_secs()
        )));
    }
    ddb.update_time_to_live()
        .table_name(name)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .attribute_name(TTL_ATTRIBUTE)
                .enabled(true)
                .build()
                .map_err(|e| JobError::permanent("schema", e.to_string()))?,
        )
        .send()
        .await
        .map_err(|e| sdk_error("UpdateTimeToLive", e))?;
    Ok(())
}
