//! Any bytes as a message the long-poll driver received (see `stoker_kit::fuzz_checks::sqs_message`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| stoker_kit::fuzz_checks::sqs_message(data));
