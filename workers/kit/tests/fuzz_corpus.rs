//! Every input kept for the fuzz targets (`fuzz/seeds/<target>` and the crashing or interesting
//! ones found by `./scripts/fuzz` in `fuzz/regressions/<target>`) checked as a regular test,
//! with the very properties the targets check.

use std::path::Path;

fn inputs(target: &str) -> Vec<(String, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let mut out = Vec::new();
    for dir in ["seeds", "regressions"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir).join(target)) else {
            continue;
        };
        for e in entries.flatten() {
            if e.path().is_file() && e.file_name() != ".gitkeep" {
                let bytes = std::fs::read(e.path()).expect("read a kept input");
                out.push((e.path().display().to_string(), bytes));
            }
        }
    }
    out
}

fn check(target: &str, property: fn(&[u8])) {
    let kept = inputs(target);
    assert!(!kept.is_empty(), "no kept inputs for {target} under fuzz/");
    for (name, bytes) in kept {
        let r = std::panic::catch_unwind(|| property(&bytes));
        assert!(r.is_ok(), "{target} fails on the kept input {name}");
    }
}

#[test]
fn the_decoder_holds_on_every_kept_input() {
    check("decode_event", stoker_kit::fuzz_checks::decode_event);
}

#[test]
fn sqs_batches_hold_on_every_kept_input() {
    check("sqs_batch", stoker_kit::fuzz_checks::sqs_batch);
}

#[test]
fn long_poll_messages_hold_on_every_kept_input() {
    check("sqs_message", stoker_kit::fuzz_checks::sqs_message);
}
