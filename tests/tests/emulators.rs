//! The emulator split: every service on LocalStack, Lambda on ministack through the SDK's
//! per-service endpoint variable (`AWS_ENDPOINT_URL_LAMBDA`), and ministack runs real code.

use serde_json::json;
use stoker_it::lambda::{deploy_function, invoke_once};
use stoker_it::{emulator, unique};

/// A Lambda custom runtime in plain sh + curl: echoes each event back with the function name.
const ECHO_BOOTSTRAP: &[u8] = br#"#!/bin/sh
set -eu
api="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation"
while true; do
  headers=$(mktemp)
  event=$(curl -sS -D "$headers" "$api/next")
  id=$(grep -i '^Lambda-Runtime-Aws-Request-Id:' "$headers" | tr -d '\r' | cut -d' ' -f2)
  curl -sS -X POST "$api/$id/response" -d "{\"function\":\"$AWS_LAMBDA_FUNCTION_NAME\",\"event\":$event}" >/dev/null
  rm -f "$headers"
done
"#;

#[tokio::test]
async fn lambda_calls_reach_ministack_and_run_real_code() {
    let sdk = emulator().await;
    let lambda_endpoint = std::env::var("AWS_ENDPOINT_URL_LAMBDA").unwrap_or_default();
    let localstack = std::env::var("AWS_ENDPOINT_URL").unwrap_or_default();
    assert!(
        !lambda_endpoint.is_empty() && lambda_endpoint != localstack,
        "AWS_ENDPOINT_URL_LAMBDA must point at ministack (see ./localstack/env)"
    );

    let lambda = aws_sdk_lambda::Client::new(&sdk);
    let name = unique("echo");
    deploy_function(&sdk, &name, ECHO_BOOTSTRAP, &[])
        .await
        .expect("CreateFunction on the Lambda endpoint");

    // The Lambda endpoint knows the function and LocalStack (no Docker) does not: the calls
    // really go to ministack.
    lambda
        .get_function()
        .function_name(&name)
        .send()
        .await
        .expect("the function on the Lambda endpoint");
    let ls = aws_sdk_lambda::Client::from_conf(
        aws_sdk_lambda::config::Builder::from(&sdk)
            .endpoint_url(localstack)
            .build(),
    );
    let on_localstack = ls.get_function().function_name(&name).send().await;
    assert!(
        on_localstack.is_err(),
        "function unexpectedly exists on LocalStack"
    );

    let payload = json!({ "ping": name });
    let body = invoke_once(&sdk, &name, &payload).await;
    assert_eq!(
        body,
        json!({ "function": name, "event": payload }),
        "the bootstrap's own answer"
    );
}
