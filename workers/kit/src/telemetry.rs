//! Structured logs: JSON in Lambda (or with `STOKER_LOG_FORMAT=json`), readable text otherwise;
//! to stderr, so stdout carries only EMF metric lines. `RUST_LOG` filters (default `info`).

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber once; later calls do nothing.
pub fn init() {
    let json = std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some()
        || std::env::var("STOKER_LOG_FORMAT").is_ok_and(|f| f == "json");
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if json {
        builder
            .json()
            .with_current_span(true)
            .flatten_event(true)
            .try_init()
    } else {
        builder.compact().try_init()
    };
}
