//! Any bytes as a Lambda SQS batch (see `stoker_kit::fuzz_checks::sqs_batch`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| stoker_kit::fuzz_checks::sqs_batch(data));
