//! The optimizer worker: Lambda memory/timeout recommendations with a cost model, applied only
//! with guardrails.
//!
//! - [`functions`]: the functions of a pass (named, or by tag) and their configuration;
//! - [`observe`]: CloudWatch `AWS/Lambda` metrics and peak memory from the REPORT log lines;
//! - [`bounds`]: the request's guardrails, never turning a recommendation around;
//! - [`recommend`]: passive recommendations (Compute Optimizer's data-sufficiency gate and
//!   findings, the seeds' sizing rules), bounded by the request's guardrails;
//! - [`sweep`] and [`tuning`]: the active power-tuning sweep and the choice by strategy;
//! - [`pricing`]: the Lambda and DynamoDB cost models;
//! - [`apply`]: guarded apply (version + alias, previous configuration recorded) and rollback;
//! - [`capacity`]: DynamoDB on-demand vs provisioned advice;
//! - [`chart`] and [`report`]: the SVG chart and the text table.

pub mod apply;
pub mod bounds;
pub mod capacity;
pub mod chart;
pub mod functions;
pub mod halt;
pub mod lambda_config;
pub mod observe;
pub mod pricing;
pub mod recommend;
pub mod report;
pub mod report_line;
pub mod statistics;
pub mod sweep;
pub mod tuning;
mod worker;

pub use worker::Optimizer;
