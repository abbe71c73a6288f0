//! `stoker optimize`: an optimization pass over named (or tagged) functions, followed to its
//! report (a table, and SVG charts of sweeps); `stoker rollback`: undo the optimizer's last
//! change of a function.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use serde_json::Value;
use stoker_events::payload::optimize::{
    Bounds, FunctionSelector, OptimizeMode, OptimizeRequest, PowerTuning, Strategy, StrategyName,
    TagFilter,
};

use crate::context::{AwsArgs, Output};
use crate::error::CliError;
use crate::publish::PublishArgs;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum StrategyArg {
    Cost,
    Speed,
    Balanced,
}

#[derive(Debug, Args)]
pub struct OptimizeArgs {
    /// The functions to review (or --tag).
    #[arg(required_unless_present = "tag")]
    pub functions: Vec<String>,
    /// Every function carrying this tag instead, as KEY=VALUE.
    #[arg(long, conflicts_with = "functions")]
    pub tag: Option<String>,
    /// Change the functions (within the bounds, never those tagged stoker:leave-alone);
    /// without it, recommend only.
    #[arg(long)]
    pub apply: bool,
    /// Power-tune over these memory sizes (MB, comma-separated), e.g. 128,256,512,1024.
    #[arg(long, value_delimiter = ',')]
    pub sweep: Vec<u32>,
    /// Invocations per size in a sweep.
    #[arg(long, default_value_t = 10)]
    pub invocations: u32,
    /// Invoke each size's invocations in parallel.
    #[arg(long)]
    pub parallel: bool,
    /// Sweep this function too, the same code built for arm64 (one function named), and set
    /// the measured arm64 cost beside the measured x86_64 one.
    #[arg(long, value_name = "FUNCTION", requires = "sweep")]
    pub arm64_twin: Option<String>,
    /// The event each sweep invocation receives (JSON).
    #[arg(long)]
    pub payload: Option<String>,
    #[arg(long, value_enum, default_value = "balanced")]
    pub strategy: StrategyArg,
    /// For balanced: 0 = all cost, 1 = all speed.
    #[arg(long, default_value_t = 0.5)]
    pub weight: f64,
    #[arg(long, default_value_t = 14)]
    pub lookback_days: u32,
    /// DynamoDB tables to advise on (on-demand vs provisioned); repeatable.
    #[arg(long = "table")]
    pub tables: Vec<String>,
    /// Also advise on provisioned concurrency (peak concurrency, cold starts, its monthly
    /// cost next to warm-up pings).
    #[arg(long)]
    pub provisioned_concurrency: bool,
    /// Write each sweep's chart as `DIR/<function>.svg`.
    #[arg(long)]
    pub charts: Option<PathBuf>,
    /// How long to follow the pass, in seconds.
    #[arg(long, default_value_t = 900)]
    pub timeout: u64,
    #[arg(long, value_enum, default_value = "text")]
    pub output: Output,
}

impl OptimizeArgs {
    pub async fn run(&self, aws: &AwsArgs) -> Result<(), CliError> {
        let mut publish = PublishArgs::follow(
            "stoker.optimize.requested",
            crate::publish::payload_json(&self.payload()?)?,
            self.timeout,
            self.output,
        );
        publish.charts = self.charts.clone();
        publish.run(aws).await
    }

    fn payload(&self) -> Result<OptimizeRequest, CliError> {
        let functions = match &self.tag {
            Some(t) => {
                let (key, value) = t.split_once('=').ok_or_else(|| {
                    CliError::invalid(format!("--tag {t} is not KEY=VALUE"))
                        .fix("write the tag as --tag stoker:optimize=true")
                })?;
                FunctionSelector::Tag(TagFilter {
                    key: key.to_owned(),
                    value: value.to_owned(),
                })
            }
            None => FunctionSelector::Names(self.functions.clone()),
        };
        let power_tuning = if self.sweep.is_empty() {
            None
        } else {
            let payload: Option<Value> = match &self.payload {
                Some(s) => Some(serde_json::from_str(s).map_err(|e| {
                    CliError::invalid(format!("--payload is not JSON: {e}")).fix(
                        "pass the sweep's event as JSON, e.g. --payload '{\"name\": \"tune\"}'",
                    )
                })?),
                None => None,
            };
            Some(PowerTuning {
                memory_sizes: self.sweep.clone(),
                invocations: self.invocations,
                parallel: self.parallel,
                sleep_ms: 0,
                payload,
                arm64_twin: self.arm64_twin.clone(),
            })
        };
        Ok(OptimizeRequest {
            functions,
            lookback_days: self.lookback_days,
            strategy: Strategy {
                name: match self.strategy {
                    StrategyArg::Cost => StrategyName::Cost,
                    StrategyArg::Speed => StrategyName::Speed,
                    StrategyArg::Balanced => StrategyName::Balanced,
                },
                weight: self.weight,
            },
            mode: if self.apply {
                OptimizeMode::Apply
            } else {
                OptimizeMode::Recommend
            },
            bounds: Bounds::default(),
            power_tuning,
            tables: self.tables.clone(),
            provisioned_concurrency: self.provisioned_concurrency,
        })
    }
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// The function whose last optimizer change to undo.
    #[arg(required_unless_present = "table")]
    pub function: Option<String>,
    /// Undo its last provisioned-concurrency change instead (the count before, or none).
    #[arg(long)]
    pub provisioned_concurrency: bool,
    /// Undo the last auto-scaling change of this DynamoDB table instead (the ranges before,
    /// or no auto scaling).
    #[arg(long, value_name = "TABLE", conflicts_with_all = ["function", "provisioned_concurrency"])]
    pub table: Option<String>,
    #[arg(long, value_enum, default_value = "text")]
    pub output: Output,
}

impl RollbackArgs {
    pub async fn run(&self, aws: &AwsArgs) -> Result<(), CliError> {
        let ctx = aws.ctx().await?;
        let ops = ctx.output("OpsTableName")?;
        let optimizer = stoker_optimizer::Optimizer::new(&ctx.sdk, ops, None);
        let mut applier = optimizer.applier.clone();
        // The alias the optimizer applies to, as its worker reads it (an empty value is unset).
        let settings =
            <stoker_optimizer::OptimizerSettings as stoker_kit::section::Section>::from_env()
                .map_err(|e| CliError::new(format!("the optimizer's settings: {e}")))?;
        if let Some(alias) = settings.alias {
            applier.alias = alias;
        }
        if let Some(table) = &self.table {
            let change = applier
                .rollback_table_scaling(&optimizer.scaling, table)
                .await
                .map_err(|e| {
                    CliError::new(format!("rollback of table {table} failed: {e}")).fix(
                        "check the table exists and your credentials may change its auto scaling",
                    )
                })?;
            match self.output {
                Output::Json => {
                    println!("{}", serde_json::to_value(&change).unwrap_or_default())
                }
                Output::Text => println!(
                    "table {table}: auto scaling back to {} (from read {}, write {})",
                    change.previous.map_or_else(
                        || "none".to_owned(),
                        |p| format!("read {}, write {}", p.read, p.write)
                    ),
                    change.ranges.read,
                    change.ranges.write
                ),
            }
            return Ok(());
        }
        let function = self.function.as_deref().unwrap_or_default();
        if self.provisioned_concurrency {
            let change = applier.rollback_provisioned(function).await.map_err(|e| {
                CliError::new(format!("rollback of {} failed: {e}", function)).fix(
                    "check the function and its alias exist and your credentials may change them",
                )
            })?;
            match self.output {
                Output::Json => {
                    println!("{}", serde_json::to_value(&change).unwrap_or_default())
                }
                Output::Text => println!(
                    "{}: provisioned concurrency on {} back to {} (from {})",
                    function,
                    change.alias,
                    change
                        .previous
                        .map_or_else(|| "none".to_owned(), |n| n.to_string()),
                    change.provisioned
                ),
            }
            return Ok(());
        }
        let change = applier.rollback(function).await.map_err(|e| {
            let fix = match e.code() {
                "nothing_to_roll_back" | "already_rolled_back" => {
                    "nothing to do; `stoker optimize FUNCTION` shows the current recommendation"
                }
                _ => "check the function exists and your credentials may update it, then run the rollback again",
            };
            CliError::new(format!("rollback of {} failed: {e}", function)).fix(fix)
        })?;
        match self.output {
            Output::Json => println!("{}", serde_json::to_value(&change).unwrap_or_default()),
            Output::Text => println!(
                "{}: back to {} MB / {} s (from {} MB / {} s); alias {} -> {}",
                change.function,
                change.previous_memory_mb,
                change.previous_timeout_s,
                change.memory_mb,
                change.timeout_s,
                change.alias,
                change
                    .previous_alias_version
                    .as_deref()
                    .unwrap_or("a new version of the restored configuration")
            ),
        }
        Ok(())
    }
}
