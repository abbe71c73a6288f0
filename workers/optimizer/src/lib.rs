//! The optimizer worker: Lambda memory/timeout recommendations with a cost model, applied only
//! with guardrails.
//!
//! - [`functions`]: the functions of a pass (named, or by tag) and their configuration;
//! - [`observe`]: CloudWatch `AWS/Lambda` metrics and peak memory from the REPORT log lines;
//! - [`bounds`]: the request's guardrails, never turning a recommendation around;
//! - [`recommend`]: passive recommendations (Compute Optimizer's data-sufficiency gate and
//!   findings, the seeds' sizing rules), bounded by the request's guardrails;
//! - `review`: one function's review: opt-in, the pass lock, the sweep's recovery, apply;
//! - [`sweep`], [`measure`] and [`tuning`]: the active power-tuning sweep, its measurements
//!   and the choice by strategy; [`budget`]: a sweep fits the job's time; [`undo`]: what a
//!   sweep changed is recorded first and put back, by the sweep or by the next pass;
//! - [`pricing`]: the Lambda and DynamoDB cost models;
//! - [`apply`]: guarded apply (version + alias, previous configuration recorded) and rollback;
//!   [`lock`]: one pass per function at a time;
//! - [`arm64`]: the architecture advice at measured durations (a sweep with an arm64 twin);
//! - [`capacity`]: DynamoDB on-demand vs provisioned advice;
//! - [`table_scaling`] and [`table_apply`]: the advice applied as an auto-scaling target
//!   (opted-in tables), and its rollback;
//! - [`chart`] and [`report`]: the SVG chart and the text table.

pub mod advice;
pub mod apply;
pub mod arm64;
pub mod bounds;
pub mod budget;
pub mod capacity;
pub mod chart;
pub mod functions;
pub mod halt;
pub mod lambda_config;
pub mod lock;
pub mod measure;
pub mod observe;
pub mod pricing;
pub mod provisioned;
pub mod provisioned_apply;
pub mod prune;
pub mod recommend;
mod record;
pub mod report;
pub mod report_line;
mod review;
pub mod statistics;
pub mod sweep;
pub mod table_apply;
pub mod table_scaling;
pub mod tuning;
pub mod undo;
pub mod watch;
mod worker;

pub use worker::{Optimizer, OptimizerSettings};
