//! Warm-up guard for Rust Lambdas: one line keeps warm-up pings away from your handler.
//!
//! A warm-up ping (see [`ping`]) is answered by the guard with a [`Reply`]: this instance's id,
//! whether the ping was the instance's first invocation (a cold start), and its uptime. The
//! guard holds the ping open for the requested delay so that N concurrent pings land on N
//! distinct instances. Every other event is deserialized into the handler's own event type
//! and passed through untouched.
//!
//! Pings it recognises: stoker's `{"stoker_warmup": {...}}` marker and, for compatibility,
//! serverless-plugin-warmup's default `{"source": "serverless-plugin-warmup"}`.
//!
//! ```no_run
//! use lambda_runtime::{service_fn, Error, LambdaEvent};
//! use serde_json::{json, Value};
//!
//! async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
//!     Ok(json!({ "echo": event.payload }))
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Error> {
//!     lambda_runtime::run(stoker_warmup_guard::guard(service_fn(handler))).await
//! }
//! ```

mod instance;
pub mod ping;
mod service;

pub use instance::Instance;
pub use ping::{MARKER, Ping, Reply};
pub use service::{Guarded, WarmupGuard, WarmupGuardLayer, guard};
