//! `stoker backup <table>`: start a backup (and a restore drill) and follow it with a progress
//! bar of the items exported and restored, then print its report.

use clap::{Args, ValueEnum};
use stoker_events::payload::backup::{BackupMode, BackupRequest, PitrDrill, Retention};

use crate::context::{AwsArgs, Output};
use crate::error::CliError;
use crate::publish::PublishArgs;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Mode {
    Native,
    Export,
    Both,
}

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// The DynamoDB table to back up.
    pub table: String,
    /// native (CreateBackup), export (S3, portable) or both.
    #[arg(long, value_enum, default_value = "native")]
    pub mode: Mode,
    /// Restore the new backup into a scratch table and compare it with the source.
    #[arg(long)]
    pub drill: bool,
    /// Also drill point-in-time recovery: restore the table as it was at the latest restorable
    /// time (or `--pitr-at`) into a scratch table, compare, delete it.
    #[arg(long)]
    pub pitr_drill: bool,
    /// The time a PITR drill restores to (RFC 3339); implies --pitr-drill.
    #[arg(long)]
    pub pitr_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Keep the newest N stoker backups.
    #[arg(long, default_value_t = 7)]
    pub keep_last: u32,
    /// Never prune below this many.
    #[arg(long, default_value_t = 1)]
    pub min_keep: u32,
    /// Delete stoker backups older than this many days.
    #[arg(long)]
    pub max_age_days: Option<u32>,
    /// How long to follow the job, in seconds.
    #[arg(long, default_value_t = 900)]
    pub timeout: u64,
    #[arg(long, value_enum, default_value = "text")]
    pub output: Output,
}

impl BackupArgs {
    pub async fn run(&self, aws: &AwsArgs) -> Result<(), CliError> {
        let payload = BackupRequest {
            table: self.table.clone(),
            mode: match self.mode {
                Mode::Native => BackupMode::Native,
                Mode::Export => BackupMode::Export,
                Mode::Both => BackupMode::Both,
            },
            retention: Retention {
                keep_last: self.keep_last,
                max_age_days: self.max_age_days,
                min_keep: self.min_keep,
            },
            restore_drill: self.drill,
            ensure_pitr: false,
            pitr_drill: (self.pitr_drill || self.pitr_at.is_some())
                .then_some(PitrDrill { at: self.pitr_at }),
            tags: Default::default(),
        };
        PublishArgs::follow(
            "stoker.backup.requested",
            crate::publish::payload_json(&payload)?,
            self.timeout,
            self.output,
        )
        .run(aws)
        .await
    }
}
