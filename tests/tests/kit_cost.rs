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

/// Completions that stage more than a transaction's 4 MB between them are split by size, not
/// only by its 100 items: 12 jobs staging 700 KB each (8.4 MB) commit in three transactions,
/// none over 4 MB, every staged write written once.
#[tokio::test]
async fn completions_larger_than_4_mb_together_are_split_by_size() {
    use std::sync::Arc;
    use stoker_kit::ops::{CompletionRequest, Holder, OpsTable};
    let count = Arc::new(stoker_kit::calls::CallCount::default());
    let http = stoker_kit::calls::counting(stoker_kit::aws::http_client(), count.clone());
    let sdk = stoker_kit::aws::unrecorded_config_loader()
        .http_client(http)
        .load()
        .await;
    let table = unique("big");
    stoker_it::kit::create_ops_table(&sdk, &table)
        .await
        .expect("table");
    let ddb = aws_sdk_dynamodb::Client::new(&sdk);
    let ops = OpsTable::new(ddb.clone(), table.clone());
    // Two items of 350 KB each per job (DynamoDB's item limit is 400 KB).
    let staged = |job: usize, part: usize| {
        aws_sdk_dynamodb::types::TransactWriteItem::builder()
            .put(
                aws_sdk_dynamodb::types::Put::builder()
                    .table_name(&table)
                    .item("pk", AttributeValue::S(format!("EFFECT#{job}")))
                    .item("sk", AttributeValue::S(part.to_string()))
                    .item("blob", AttributeValue::S("x".repeat(350 * 1024)))
                    .build()
                    .expect("put"),
            )
            .build()
    };
    let reqs: Vec<CompletionRequest> = (0..12)
        .map(|job| CompletionRequest {
            worker: "big".into(),
            key: format!("k{job}"),
            holder: Holder::Nobody {
                claim_id: format!("c{job}"),
                payload_hash: "h".into(),
                event_id: format!("e{job}"),
            },
            outcome: serde_json::json!({}),
            run: stoker_it::kit::completed_run("big", &format!("e{job}"), "test"),
            staged: vec![staged(job, 0), staged(job, 1)],
        })
        .collect();
    let before = count.of("dynamodb");
    let answers = ops.complete_all(&reqs).await;
    for a in &answers {
        assert!(
            matches!(a, Ok(stoker_kit::ops::Completion::Committed)),
            "{a:?}"
        );
    }
    // 5 jobs (3.5 MB) fit in each of the first two, the last 2 in a third.
    assert_eq!(count.of("dynamodb") - before, 3, "{:?}", count.all());
    for job in 0..12 {
        let got = ddb
            .get_item()
            .table_name(&table)
            .key("pk", AttributeValue::S(format!("EFFECT#{job}")))
            .key("sk", AttributeValue::S("1".into()))
            .send()
            .await
            .expect("GetItem");
        assert!(got.item().is_some(), "job {job}'s staged write");
    }
    let _ = ddb.delete_table().table_name(&table).send().await;
}
