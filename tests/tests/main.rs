//! stoker's integration tests, one test binary (`stoker-it::it`): one module per area, each
//! against the emulators (LocalStack, ministack, DynamoDB Local, Redis) with its own uniquely
//! named resources. One binary instead of one per file: every file used to link the whole AWS
//! SDK again (about 40 MB each, 1.2 GB in all on a fresh clone, which ran CI out of disk).
//! Run one area with `cargo nextest run -p stoker-it -E 'test(/^kit_poll::/)'`
//! (or `cargo test -p stoker-it --test it kit_poll::`).

mod cache_support; // #![allow(dead_code)] inside: not every test module uses every helper
mod support {
    //! Shared by the backup tests.
    #[allow(dead_code)] // not every test module uses every helper
    pub mod inject;
}

mod aws_cli;
mod backup;
mod backup_drills;
mod backup_retries;
mod cache;
mod cache_network;
mod cache_redis_url;
mod cache_secrets;
mod deployed;
mod dlq;
mod docs;
mod emulators;
mod faults;
mod kit_claims;
mod kit_cost;
mod kit_lambda;
mod kit_optimistic;
mod kit_poll;
mod kit_process;
mod lambda_packages;
mod lambdas;
mod optimizer;
mod optimizer_arm64;
mod optimizer_guards;
mod optimizer_tables;
mod peers;
mod readiness;
mod rollup;
mod routing;
mod schedule;
mod scripts;
mod template;
mod template_bus;
mod template_iam;
mod warmup;
