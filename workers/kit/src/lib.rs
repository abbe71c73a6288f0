//! The stoker worker kit.
//!
//! For now: building AWS SDK configuration once, with one HTTPS stack (rustls + ring),
//! honouring `AWS_ENDPOINT_URL` and per-service overrides such as `AWS_ENDPOINT_URL_LAMBDA`.

pub mod aws;
