//! The optimizer's decision core (the worker around it is not built yet):
//!
//! - [`pricing`]: the Lambda cost model (GB-seconds by architecture + the per-request fee);
//! - [`recommend`]: passive recommendations from observed metrics, with Compute Optimizer's
//!   data-sufficiency gate and findings, bounded by the request's guardrails;
//! - [`tuning`]: choosing a memory size from a power-tuning sweep (trimmed means; cost, speed
//!   or balanced strategy).

pub mod pricing;
pub mod recommend;
pub mod tuning;
