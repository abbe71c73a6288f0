//! Test stacks: uniquely named deployments of `infra/template.yaml` on the emulator.

use std::collections::HashMap;
use std::future::Future;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use aws_config::SdkConfig;
use aws_sdk_cloudformation::types::{Capability, Parameter, StackStatus};

use crate::TEMPLATE;

/// A deployed copy of the infra template and its outputs.
#[derive(Debug, Clone)]
pub struct Stack {
    pub name: String,
    pub outputs: HashMap<String, String>,
}

impl Stack {
    /// Deploys `infra/template.yaml` as a new stack `it-<prefix>-<id>` with the functions left
    /// out (the emulator runs workers as processes) and waits until it is complete.
    pub async fn deploy(
        sdk: &SdkConfig,
        prefix: &str,
        params: &[(&str, &str)],
    ) -> anyhow::Result<Stack> {
        let cfn = aws_sdk_cloudformation::Client::new(sdk);
        let name = crate::unique(prefix);
        let mut req = cfn
            .create_stack()
            .stack_name(&name)
            .template_url(template_url(sdk).await?)
            .capabilities(Capability::CapabilityNamedIam)
            .parameters(param("DeployFunctions", "false"))
            // The roles' required scopes: test functions and tables are named `it-...`.
            .parameters(param("WarmableFunctionPrefix", "it-"))
            .parameters(param("BackupTablePrefix", "it-"));
        for (k, v) in params {
            req = req.parameters(param(k, v));
        }
        req.send()
            .await
            .with_context(|| format!("CreateStack {name}"))?;
        let outputs = wait_complete(&cfn, &name, Duration::from_secs(180)).await?;
        Ok(Stack { name, outputs })
    }

    /// The `stoker` stack deployed by `./localstack/up` (read-only use), or the one named by
    /// `STOKER_STACK`.
    pub async fn shared(sdk: &SdkConfig) -> anyhow::Result<Stack> {
        let name = std::env::var("STOKER_STACK").unwrap_or_else(|_| "stoker".to_owned());
        let cfn = aws_sdk_cloudformation::Client::new(sdk);
        let outputs = wait_complete(&cfn, &name, Duration::from_secs(5))
            .await
            .with_context(|| format!("stack {name} is not deployed; run ./localstack/up"))?;
        Ok(Stack { name, outputs })
    }

    /// One output of the stack; panics naming the missing key.
    pub fn output(&self, key: &str) -> &str {
        self.outputs
            .get(key)
            .unwrap_or_else(|| panic!("stack {} has no output {key}", self.name))
    }

    /// Deletes the stack (best effort; the emulator is thrown away after the run anyway).
    pub async fn delete(&self, sdk: &SdkConfig) {
        let cfn = aws_sdk_cloudformation::Client::new(sdk);
        let _ = cfn.delete_stack().stack_name(&self.name).send().await;
    }
}

/// Deploys a test stack, runs `body` with it, and deletes the stack whether `body` passed,
/// failed or panicked; then reports `body`'s result (re-raising its panic).
pub async fn with_stack<F, Fut>(sdk: &SdkConfig, prefix: &str, params: &[(&str, &str)], body: F)
where
    F: FnOnce(Stack) -> Fut,
    Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let stack = Stack::deploy(sdk, prefix, params)
        .await
        .unwrap_or_else(|e| panic!("deploying the test stack failed: {e:#}"));
    let outcome = tokio::spawn(body(stack.clone())).await;
    stack.delete(sdk).await;
    match outcome {
        Ok(Ok(())) => {}
        Ok(Err(e)) => panic!("{e:#}"),
        Err(join) => std::panic::resume_unwind(join.into_panic()),
    }
}

fn param(key: &str, value: &str) -> Parameter {
    Parameter::builder()
        .parameter_key(key)
        .parameter_value(value)
        .build()
}

async fn wait_complete(
    cfn: &aws_sdk_cloudformation::Client,
    name: &str,
    deadline: Duration,
) -> anyhow::Result<HashMap<String, String>> {
    let until = Instant::now() + deadline;
    loop {
        let out = cfn.describe_stacks().stack_name(name).send().await?;
        let stack = out.stacks().first().context("no such stack")?;
        match stack.stack_status() {
            Some(StackStatus::CreateComplete | StackStatus::UpdateComplete) => {
                return Ok(stack
                    .outputs()
                    .iter()
                    .filter_map(|o| {
                        Some((o.output_key()?.to_owned(), o.output_value()?.to_owned()))
                    })
                    .collect());
            }
            Some(s) if s.as_str().ends_with("FAILED") || s.as_str().contains("ROLLBACK") => {
                bail!(
                    "stack {name} ended in {s:?}: {:?}",
                    stack.stack_status_reason()
                )
            }
            _ if Instant::now() > until => bail!("stack {name} not complete after {deadline:?}"),
            _ => tokio::time::sleep(Duration::from_millis(300)).await,
        }
    }
}

/// The bucket the template is uploaded to before a deploy: templates over CloudFormation's
/// 51,200-byte TemplateBody limit must be deployed from S3, as on AWS.
pub const TEMPLATE_BUCKET: &str = "stoker-templates";

/// Uploads `infra/template.yaml` (under its content hash) and returns its URL.
pub async fn template_url(sdk: &SdkConfig) -> anyhow::Result<String> {
    use sha2::{Digest, Sha256};
    let s3 = stoker_backup::export::s3_client(sdk);
    // Created once; "already exists/owned" answers are fine.
    let _ = s3.create_bucket().bucket(TEMPLATE_BUCKET).send().await;
    let key: String = Sha256::digest(TEMPLATE.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let key = format!("template-{key}.yaml");
    s3.put_object()
        .bucket(TEMPLATE_BUCKET)
        .key(&key)
        .body(TEMPLATE.as_bytes().to_vec().into())
        .send()
        .await
        .context("upload the template to the emulator's S3")?;
    let endpoint = std::env::var("AWS_ENDPOINT_URL").context("AWS_ENDPOINT_URL")?;
    Ok(format!(
        "{}/{TEMPLATE_BUCKET}/{key}",
        endpoint.trim_end_matches('/')
    ))
}
