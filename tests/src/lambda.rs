//! Deploying a `provided.al2023` function to the Lambda endpoint (ministack) for a test.

use aws_config::SdkConfig;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{Environment, FunctionCode, Runtime};

/// Creates function `name` whose `bootstrap` is `bootstrap` (a script or a binary), with `env`.
pub async fn deploy_function(
    sdk: &SdkConfig,
    name: &str,
    bootstrap: &[u8],
    env: &[(String, String)],
) -> anyhow::Result<()> {
    let mut vars = Environment::builder();
    for (k, v) in env {
        vars = vars.variables(k, v);
    }
    aws_sdk_lambda::Client::new(sdk)
        .create_function()
        .function_name(name)
        .runtime(Runtime::Providedal2023)
        .handler("bootstrap")
        .role(format!("arn:aws:iam::000000000000:role/{name}"))
        .timeout(30)
        .environment(vars.build())
        .code(
            FunctionCode::builder()
                .zip_file(Blob::new(crate::zip_executables(&[(
                    "bootstrap",
                    bootstrap,
                )])))
                .build(),
        )
        .send()
        .await?;
    Ok(())
}

/// The environment a function on the Lambda emulator needs to reach the other services.
pub fn emulator_function_env() -> Vec<(String, String)> {
    vec![
        (
            "AWS_ENDPOINT_URL".to_owned(),
            std::env::var("AWS_ENDPOINT_URL").unwrap_or_default(),
        ),
        ("AWS_ACCESS_KEY_ID".to_owned(), "test".to_owned()),
        ("AWS_SECRET_ACCESS_KEY".to_owned(), "test".to_owned()),
    ]
}

/// Deploys the example warmed function (`workers/warmed-example`) as `name`, counting its
/// handler's hits in `table`.
pub async fn deploy_example(sdk: &SdkConfig, name: &str, table: &str) -> anyhow::Result<()> {
    let binary = std::fs::read(crate::workspace_bin("warmed-example"))?;
    let mut env = emulator_function_env();
    env.push(("EXAMPLE_TABLE".to_owned(), table.to_owned()));
    deploy_function(sdk, name, &binary, &env).await
}

/// Invokes function `name` once with `payload`, deletes the function, and returns its JSON
/// answer; panics with the function's output when it failed.
pub async fn invoke_once(
    sdk: &SdkConfig,
    name: &str,
    payload: &serde_json::Value,
) -> serde_json::Value {
    let lambda = aws_sdk_lambda::Client::new(sdk);
    let out = lambda
        .invoke()
        .function_name(name)
        .payload(Blob::new(payload.to_string()))
        .send()
        .await
        .expect("Invoke");
    let _ = lambda.delete_function().function_name(name).send().await;
    let body = out
        .payload()
        .map(|p| String::from_utf8_lossy(p.as_ref()).into_owned())
        .unwrap_or_default();
    assert_eq!(out.function_error(), None, "the function failed: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("the answer is not JSON ({e}): {body}"))
}
