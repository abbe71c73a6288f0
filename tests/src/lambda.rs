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
