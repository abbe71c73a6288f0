//! Any bytes into the workers' one decoder (see `stoker_kit::fuzz_checks::decode_event`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| stoker_kit::fuzz_checks::decode_event(data));
