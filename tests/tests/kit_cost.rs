//! The cost ledger on the emulator: a DynamoDB request that asks for its consumed capacity is
//! priced at the units DynamoDB says it consumed (read from the answer the SDK then parses as
//! usual), one that does not at the estimate.

use aws_sdk_dynamodb::types::{AttributeValue, ReturnConsumedCapacity};
use stoker_it::unique;
use stoker_kit::cost::{Prices, apart};

#[tokio::test]
async fn a_write_asking_for_its_capacity_is_priced_at_the_units_consumed() {
    // Metered (every kit client is) but not recorded as a worker's: no role makes this table.
    let sdk = stoker_kit::aws::unrecorded_config_loader().load().await;
    let table = unique("cost");
    stoker_it::kit::create_ops_table(&sdk, &table)
        .await
        .expect("table");
    let ddb = aws_sdk_dynamodb::Client::new(&sdk);
    let put = |pk: &str, asks: bool| {
        ddb.put_item()
            .table_name(&table)
            .item("pk", AttributeValue::S(pk.into()))
            .item("sk", AttributeValue::S("x".into()))
            // About 3.5 KB: 4 write units.
            .item("blob", AttributeValue::S("x".repeat(3500)))
            .set_return_consumed_capacity(asks.then_some(ReturnConsumedCapacity::Total))
            .send()
    };
    let (answer, cost) = apart(put("a", true)).await;
    let answer = answer.expect("PutItem");
    let units = answer
        .consumed_capacity()
        .and_then(|c| c.capacity_units())
        .expect("the answer's consumed capacity: the SDK still parsed it");
    assert_eq!(units, 4.0);
    let price = Prices::current().dynamodb_write_unit;
    let dynamodb = cost.by_service["dynamodb"];
    assert_eq!(dynamodb.calls, 1.0);
    assert!((dynamodb.usd - units * price).abs() < 1e-15, "{cost:?}");

    let (answer, cost) = apart(put("b", false)).await;
    answer.expect("PutItem");
    assert!(
        (cost.by_service["dynamodb"].usd - price).abs() < 1e-15,
        "not asked: the one-unit estimate, {cost:?}"
    );
    let _ = ddb.delete_table().table_name(&table).send().await;
}
