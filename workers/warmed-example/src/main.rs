//! An example warmed function: a real Rust Lambda whose handler has a visible side effect
//! (it adds 1 to `hits` of item `pk = EXAMPLE#<name>, sk = HITS` in table `EXAMPLE_TABLE`),
//! wrapped by the warm-up guard in one line, so warm-up pings never count as hits.
//!
//! Build the `provided.al2023` zip: `./scripts/build-lambda warmed-example`
//! Invoke: `{"name": "alice"}` (optionally `"work_ms": 50` to burn CPU, for power tuning).

use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde::Deserialize;
use serde_json::{Value, json};

/// Unknown fields are ignored (as most handlers do), so without the guard a warm-up ping that
/// carries a `name` would run the handler and count a hit.
#[derive(Debug, Deserialize)]
struct Request {
    name: String,
    #[serde(default)]
    work_ms: u64,
}

#[derive(Debug, Clone)]
struct Counter {
    ddb: aws_sdk_dynamodb::Client,
    table: String,
}

impl Counter {
    async fn handle(&self, event: LambdaEvent<Request>) -> Result<Value, Error> {
        let req = event.payload;
        busy(Duration::from_millis(req.work_ms.min(10_000)));
        let out = self
            .ddb
            .update_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(format!("EXAMPLE#{}", req.name)))
            .key("sk", AttributeValue::S("HITS".into()))
            .update_expression("ADD hits :one")
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await?;
        let hits = out
            .attributes()
            .and_then(|a| a.get("hits"))
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or_default();
        Ok(json!({ "greeting": format!("hello {}", req.name), "hits": hits }))
    }
}

/// Burns CPU for `d` (stands in for real work, so memory size changes the duration).
fn busy(d: Duration) {
    let end = Instant::now() + d;
    let mut x = 0u64;
    while Instant::now() < end {
        x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
    }
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let sdk = stoker_kit::aws::sdk_config().await;
    let table = std::env::var("EXAMPLE_TABLE")
        .map_err(|_| "EXAMPLE_TABLE is not set: set it to the DynamoDB table that counts hits")?;
    let counter = Counter {
        ddb: aws_sdk_dynamodb::Client::new(&sdk),
        table,
    };
    let handler = service_fn(move |e: LambdaEvent<Request>| {
        let c = counter.clone();
        async move { c.handle(e).await }
    });
    lambda_runtime::run(stoker_warmup_guard::guard(handler)).await
}
