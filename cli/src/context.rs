//! Options every command shares, and what they resolve to: the SDK config and the stack's
//! outputs (the single source of names).

use std::collections::HashMap;

use aws_config::{Region, SdkConfig};
use clap::Args;
use stoker_events::Worker;

use crate::error::{CliError, aws};

#[derive(Debug, Clone, Args)]
pub struct AwsArgs {
    /// Send every AWS call here (an emulator). Without it the SDK resolves endpoints as usual,
    /// honouring AWS_ENDPOINT_URL and per-service variables such as AWS_ENDPOINT_URL_LAMBDA.
    #[arg(long, global = true)]
    pub endpoint_url: Option<String>,
    /// AWS region.
    #[arg(long, global = true, env = "AWS_REGION")]
    pub region: Option<String>,
    /// Named profile from ~/.aws/config.
    #[arg(long, global = true, env = "AWS_PROFILE")]
    pub profile: Option<String>,
    /// The CloudFormation stack of infra/template.yaml to use.
    #[arg(long, global = true, env = "STOKER_STACK", default_value = "stoker")]
    pub stack: String,
}

/// What a command works with.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub sdk: SdkConfig,
    pub stack: String,
    pub outputs: HashMap<String, String>,
}

impl AwsArgs {
    pub async fn sdk(&self) -> SdkConfig {
        let mut loader = stoker_kit::aws::config_loader();
        if let Some(r) = &self.region {
            loader = loader.region(Region::new(r.clone()));
        }
        if let Some(p) = &self.profile {
            loader = loader.profile_name(p);
        }
        if let Some(e) = &self.endpoint_url {
            loader = loader.endpoint_url(e);
        }
        loader.load().await
    }

    /// The SDK config and the stack outputs.
    pub async fn ctx(&self) -> Result<Ctx, CliError> {
        let sdk = self.sdk().await;
        let cfn = aws_sdk_cloudformation::Client::new(&sdk);
        let out = cfn.describe_stacks().stack_name(&self.stack).send().await.map_err(|e| {
            let not_found = e.as_service_error().is_some_and(|s| s.meta().message().unwrap_or_default().contains("does not exist"));
            if not_found {
                CliError::new(format!("stack `{}` is not deployed here", self.stack))
                    .fix("deploy infra/template.yaml (./localstack/up on the emulator), or name another stack with --stack / STOKER_STACK")
            } else {
                aws(&format!("reading stack `{}`", self.stack))(e)
            }
        })?;
        let outputs = out
            .stacks()
            .first()
            .map(|s| {
                s.outputs()
                    .iter()
                    .filter_map(|o| {
                        Some((o.output_key()?.to_owned(), o.output_value()?.to_owned()))
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(Ctx {
            sdk,
            stack: self.stack.clone(),
            outputs,
        })
    }
}

impl Ctx {
    /// A stack output, or an error naming it.
    pub fn output(&self, key: &str) -> Result<&str, CliError> {
        self.outputs.get(key).map(String::as_str).ok_or_else(|| {
            CliError::new(format!("stack `{}` has no output `{key}`", self.stack))
                .fix("redeploy the current infra/template.yaml to that stack")
        })
    }

    pub fn queue_url(&self, w: Worker) -> Result<&str, CliError> {
        self.output(&format!("{}QueueUrl", w.stem()))
    }

    pub fn dlq_url(&self, w: Worker) -> Result<&str, CliError> {
        self.output(&format!("{}DlqUrl", w.stem()))
    }

    pub fn ops(&self) -> Result<stoker_kit::ops::OpsTable, CliError> {
        Ok(stoker_kit::ops::OpsTable::new(
            aws_sdk_dynamodb::Client::new(&self.sdk),
            self.output("OpsTableName")?,
        ))
    }
}

/// `--output text|json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    Text,
    Json,
}
