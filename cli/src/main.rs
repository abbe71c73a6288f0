//! `stoker`: the operator CLI. Parses, then hands each subcommand to its own module.

mod backup;
mod context;
mod cost;
mod dlq;
mod error;
mod optimize;
mod pipe;
mod publish;
mod readiness;
mod run;
mod status;
mod table;

use clap::{Parser, Subcommand};

use crate::context::AwsArgs;
use crate::error::CliError;

/// Publish stoker jobs, see what the pipeline did, manage dead letters, run the workers.
#[derive(Debug, Parser)]
#[command(name = "stoker", version)]
struct Cli {
    #[command(flatten)]
    aws: AwsArgs,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Validate an event and put it on the bus (optionally follow it to its outcome).
    Publish(publish::PublishArgs),
    /// Queues, dead letters, last runs, failures and replays, schedules: per worker.
    Status(status::StatusArgs),
    /// Dead letters: list them with their reasons, or move them back.
    Dlq(dlq::DlqArgs),
    /// Start a backup (and a restore drill) and follow it with a progress bar.
    Backup(backup::BackupArgs),
    /// Review functions' memory and timeout (optionally power-tune and apply) and print the table.
    Optimize(optimize::OptimizeArgs),
    /// What the stack's jobs cost, by worker and service, and its monthly estimate.
    Cost(cost::CostArgs),
    /// Check the stack's tables, queues and alarms: exit 0 go, 1 no-go, 3 no verdict.
    Readiness(readiness::ReadinessArgs),
    /// Undo the optimizer's last change of a function (memory, timeout and alias).
    Rollback(optimize::RollbackArgs),
    /// Run workers as long-poll processes in this binary until Ctrl-C / SIGTERM.
    Run(run::RunArgs),
}

#[tokio::main]
async fn main() {
    pipe::exit_quietly_when_stdout_closes();
    let cli = Cli::parse();
    let result: Result<(), CliError> = match &cli.cmd {
        Cmd::Publish(a) => a.run(&cli.aws).await,
        Cmd::Status(a) => a.run(&cli.aws).await,
        Cmd::Dlq(a) => a.run(&cli.aws).await,
        Cmd::Run(a) => a.run(&cli.aws).await,
        Cmd::Backup(a) => a.run(&cli.aws).await,
        Cmd::Optimize(a) => a.run(&cli.aws).await,
        Cmd::Rollback(a) => a.run(&cli.aws).await,
        Cmd::Readiness(a) => a.run(&cli.aws).await,
        Cmd::Cost(a) => a.run(&cli.aws).await,
    };
    if let Err(e) = result {
        eprintln!("{e}");
        std::process::exit(e.exit_code);
    }
}
