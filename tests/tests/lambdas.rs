//! Every worker as a Lambda (issue #17): the whole template with `DeployFunctions=true`, deployed
//! by `./scripts/deploy` on ministack (which runs `provided.al2023` zips) from the zips
//! `./scripts/build-lambda` packaged, each function fed by its SQS event source mapping. One job
//! of each kind, published on the stack's bus, completes; a bad record reaches the DLQ with its
//! reason.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_lambda::types::Environment;
use serde_json::json;
use stoker_it::http::TestServer;
use stoker_it::{Deadline, emulator, unique};

/// Every worker's name (stoker_events' catalog).
fn workers() -> [&'static str; stoker_events::Worker::ALL.len()] {
    stoker_events::Worker::ALL.map(stoker_events::Worker::name)
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn ministack() -> String {
    std::env::var("STOKER_MINISTACK_URL")
        .expect("STOKER_MINISTACK_URL (eval \"$(./localstack/env)\")")
}

/// Clients of ministack: every service of the stack lives there.
struct Ms {
    sdk: aws_config::SdkConfig,
    url: String,
}

impl Ms {
    fn ddb(&self) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::config::Builder::from(&self.sdk)
                .endpoint_url(&self.url)
                .build(),
        )
    }
    fn lambda(&self) -> aws_sdk_lambda::Client {
        aws_sdk_lambda::Client::from_conf(
            aws_sdk_lambda::config::Builder::from(&self.sdk)
                .endpoint_url(&self.url)
                .build(),
        )
    }
    fn sqs(&self) -> aws_sdk_sqs::Client {
        aws_sdk_sqs::Client::from_conf(
            aws_sdk_sqs::config::Builder::from(&self.sdk)
                .endpoint_url(&self.url)
                .build(),
        )
    }
    fn s3(&self) -> aws_sdk_s3::Client {
        aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&self.sdk)
                .endpoint_url(&self.url)
                .force_path_style(true)
                .build(),
        )
    }
    fn ssm(&self) -> aws_sdk_ssm::Client {
        aws_sdk_ssm::Client::from_conf(
            aws_sdk_ssm::config::Builder::from(&self.sdk)
                .endpoint_url(&self.url)
                .build(),
        )
    }
    fn cfn(&self) -> aws_sdk_cloudformation::Client {
        aws_sdk_cloudformation::Client::from_conf(
            aws_sdk_cloudformation::config::Builder::from(&self.sdk)
                .endpoint_url(&self.url)
                .build(),
        )
    }

    /// A stack output, read from ministack's CloudFormation.
    async fn output(&self, stack: &str, key: &str) -> String {
        let out = self
            .cfn()
            .describe_stacks()
            .stack_name(stack)
            .send()
            .await
            .expect("DescribeStacks");
        out.stacks()[0]
            .outputs()
            .iter()
            .find(|o| o.output_key() == Some(key))
            .and_then(|o| o.output_value())
            .unwrap_or_else(|| panic!("no output {key}"))
            .to_owned()
    }
}

/// `stoker` against the stack on ministack: publishes and waits for the job's outcome.
fn publish(stack: &str, kind: &str, payload: &serde_json::Value) -> String {
    let out = Command::new(stoker_it::workspace_bin("stoker"))
        .args([
            "--endpoint-url",
            &ministack(),
            "--stack",
            stack,
            "publish",
            kind,
        ])
        .args(["--payload", &payload.to_string(), "--wait"])
        .output()
        .expect("run stoker");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "{kind} did not complete as a Lambda:\n{text}"
    );
    assert!(text.contains(": completed after"), "{kind}:\n{text}");
    text
}

#[tokio::test(flavor = "multi_thread")]
async fn every_worker_runs_as_a_lambda_from_its_packaged_zip() {
    for w in workers() {
        let zip = repo().join(format!("target/lambda/x86_64/stoker-{w}/bootstrap.zip"));
        assert!(
            zip.exists(),
            "{} is not built: ./scripts/test builds it (./scripts/build-lambda)",
            zip.display()
        );
    }
    let ms = Ms {
        sdk: emulator().await,
        url: ministack(),
    };
    let stack = unique("lam");
    let bucket = format!("{stack}-artifacts");
    ms.s3()
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("artifact bucket");
    let redis_parameter = format!("/{stack}/redis-url");
    ms.ssm()
        .put_parameter()
        .name(&redis_parameter)
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .value(std::env::var("STOKER_REDIS_URL").expect("STOKER_REDIS_URL"))
        .overwrite(true)
        .send()
        .await
        .expect("the Redis URL parameter");

    // The function to warm (and review), there before the deploy: the deploy's prewarm warms
    // it. Under WARMABLE_FUNCTION_PREFIX (it-) but not the stack's own name: the roles may never
    // reach the stack's own functions.
    let ops_table = format!("{stack}-ops");
    let warmed = unique("fn");
    let example =
        std::fs::read(stoker_it::workspace_bin("warmed-example")).expect("warmed-example");
    // (The emulator environment sends Lambda calls to ministack already.)
    stoker_it::lambda::deploy_function(
        &ms.sdk,
        &warmed,
        &example,
        &[
            ("AWS_ENDPOINT_URL".into(), ms.url.clone()),
            ("AWS_ACCESS_KEY_ID".into(), "test".into()),
            ("AWS_SECRET_ACCESS_KEY".into(), "test".into()),
            ("EXAMPLE_TABLE".into(), ops_table.clone()),
        ],
    )
    .await
    .expect("the function to warm");

    // Deployed the way a user deploys: ./scripts/deploy with a settings file.
    let dir = std::env::temp_dir().join(&stack);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let config = dir.join("deploy.env");
    std::fs::write(
        &config,
        format!(
            "STACK={stack}\nARTIFACT_BUCKET={bucket}\nARCHITECTURE=x86_64\nWARMABLE_FUNCTION_PREFIX=it-\n\
             BACKUP_TABLE_PREFIX=it-\nREDIS_URL_PARAMETER={redis_parameter}\nCACHE_ALLOWED_HOSTS=127.0.0.1\n\
             SCHEDULES_STATE=DISABLED\n\
             WARMUP_TARGETS_JSON='[{{\"function\": \"{warmed}\", \"concurrency\": 2}}]'\n"
        ),
    )
    .expect("settings");
    let deploy = Command::new(repo().join("scripts/deploy"))
        .args(["--config", config.to_str().expect("path"), "--no-build"])
        .args(["--endpoint-url", &ministack()])
        .env("STOKER_CLI", stoker_it::workspace_bin("stoker"))
        .output()
        .expect("run ./scripts/deploy");
    assert!(
        deploy.status.success(),
        "./scripts/deploy failed:\n{}",
        String::from_utf8_lossy(&deploy.stderr)
    );
    let lambda = ms.lambda();
    for w in workers() {
        let f = lambda
            .get_function_configuration()
            .function_name(format!("{stack}-{w}"))
            .send()
            .await
            .unwrap_or_else(|e| panic!("no function {stack}-{w}: {e}"));
        assert_eq!(f.runtime().map(|r| r.as_str()), Some("provided.al2023"));
    }
    // Test-only settings on the deployed functions (never in infra/): the Lambdas record their
    // AWS calls for the IAM call check (ministack runs them on this host), and the emulator's
    // sources live on loopback, so the cache-warmer opts in as local development does.
    for w in workers() {
        let f = format!("{stack}-{w}");
        let mut vars = lambda
            .get_function_configuration()
            .function_name(&f)
            .send()
            .await
            .expect("config")
            .environment()
            .and_then(|e| e.variables().cloned())
            .unwrap_or_default();
        if let Ok(dir) = std::env::var("STOKER_RECORD_CALLS") {
            vars.insert("STOKER_RECORD_CALLS".into(), dir);
        }
        if w == "cache-warmer" {
            vars.insert("STOKER_CACHE_ALLOW_PRIVATE_NETWORKS".into(), "true".into());
        }
        lambda
            .update_function_configuration()
            .function_name(&f)
            .environment(Environment::builder().set_variables(Some(vars)).build())
            .send()
            .await
            .expect("test settings on the function");
    }

    assert_eq!(ms.output(&stack, "OpsTableName").await, ops_table);
    // The deploy's prewarm ran the warm-up once, as a Lambda.
    let deadline = Deadline::after(Duration::from_secs(60), Duration::from_millis(500));
    let mut prewarmed = false;
    while !prewarmed && deadline.tick().await {
        let runs = ms
            .ddb()
            .scan()
            .table_name(&ops_table)
            .filter_expression("begins_with(pk, :r) AND requested_by = :who AND outcome = :c")
            .expression_attribute_values(":r", AttributeValue::S("RUN#warmup#".into()))
            .expression_attribute_values(":who", AttributeValue::S("deploy:prewarm".into()))
            .expression_attribute_values(":c", AttributeValue::S("completed".into()))
            .send()
            .await
            .expect("scan the runs");
        prewarmed = runs.count() > 0;
    }
    assert!(prewarmed, "the deploy's prewarm did not complete a warm-up");
    let orders = format!("{stack}-orders");
    stoker_it::kit::fill_on(&ms.ddb(), &orders, 5).await;
    let src = TestServer::start(|path| match path {
        "/menu" => (200, json!({"items": ["soup"]}).to_string()),
        _ => (404, "{}".into()),
    })
    .await;

    let now = chrono::Utc::now().to_rfc3339();
    publish(
        &stack,
        "stoker.warmup.requested",
        &json!({ "targets": [{ "function": warmed, "concurrency": 2 }] }),
    );
    publish(
        &stack,
        "stoker.cache-warm.requested",
        &json!({ "targets": [
            { "type": "http", "url": src.url("/menu") },
            { "type": "redis", "key": format!("{stack}:menu"), "ttl_seconds": 60,
              "source": { "type": "http", "url": src.url("/menu") } } ] }),
    );
    publish(
        &stack,
        "stoker.backup.requested",
        &json!({ "table": orders, "mode": "native", "restore_drill": true }),
    );
    publish(
        &stack,
        "stoker.rollup.measurements",
        &json!({ "namespace": "Stoker/App", "series": [{ "name": "Latency",
            "unit": "Milliseconds", "samples": [{ "value": 12.5, "timestamp": now }] }] }),
    );
    publish(
        &stack,
        "stoker.optimize.requested",
        &json!({ "functions": { "names": [warmed] }, "mode": "recommend" }),
    );
    assert!(
        src.hits("/menu") >= 2,
        "the cache-warmer Lambda fetched its sources"
    );

    // A bad record: the Lambda dead-letters it with its reason; nothing blocks its queue.
    let sqs = ms.sqs();
    let queue = ms.output(&stack, "RollupQueueUrl").await;
    let dlq = ms.output(&stack, "RollupDlqUrl").await;
    sqs.send_message()
        .queue_url(&queue)
        .message_body("not json at all")
        .send()
        .await
        .expect("send a bad record");
    let deadline = Deadline::after(Duration::from_secs(60), Duration::from_millis(500));
    let mut reason = None;
    while reason.is_none() && deadline.tick().await {
        let got = sqs
            .receive_message()
            .queue_url(&dlq)
            .message_attribute_names("All")
            .send()
            .await
            .expect("receive the DLQ");
        reason = got.messages().first().and_then(|m| {
            m.message_attributes()?
                .get(stoker_kit::dlq::ATTR_REASON)?
                .string_value()
                .map(str::to_owned)
        });
    }
    let reason = reason.expect("the bad record reached the DLQ with a reason");
    assert!(reason.contains("not valid JSON"), "{reason}");

    // The runs were recorded by the Lambdas in the stack's ops table.
    let runs = ms
        .ddb()
        .scan()
        .table_name(&ops_table)
        .filter_expression("begins_with(pk, :r) AND outcome = :c")
        .expression_attribute_values(":r", AttributeValue::S("RUN#".into()))
        .expression_attribute_values(":c", AttributeValue::S("completed".into()))
        .send()
        .await
        .expect("scan the runs");
    let mut workers: Vec<String> = runs
        .items()
        .iter()
        .filter_map(|i| i.get("worker")?.as_s().ok().cloned())
        .collect();
    workers.sort();
    workers.dedup();
    assert_eq!(
        workers.len(),
        5,
        "a completed run of every worker: {workers:?}"
    );

    let _ = ms.cfn().delete_stack().stack_name(&stack).send().await;
    let _ = lambda.delete_function().function_name(&warmed).send().await;
    let _ = ms.ddb().delete_table().table_name(&orders).send().await;
}
