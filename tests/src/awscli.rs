//! Running the docs' plain AWS CLI publish command (no stoker binary, docs/events.md) from a test.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The page holding the put-events block, from the repository's root.
pub const EVENTS_PAGE: &str = "docs/events.md";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The shell block between `<!-- put-events -->` markers in docs/events.md.
pub fn readme_block() -> String {
    let readme = std::fs::read_to_string(repo().join(EVENTS_PAGE)).expect(EVENTS_PAGE);
    let start = readme
        .find("<!-- put-events -->")
        .expect("docs/events.md has a put-events block");
    let end = readme
        .find("<!-- /put-events -->")
        .expect("docs/events.md's put-events block is closed");
    readme[start..end]
        .lines()
        .filter(|l| !l.starts_with("<!--") && !l.starts_with("```"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The AWS CLI installed by ./localstack/install (or `STOKER_AWS_CLI`).
pub fn aws_cli() -> String {
    std::env::var("STOKER_AWS_CLI").unwrap_or_else(|_| {
        repo()
            .join(".stoker/venv-localstack/bin/aws")
            .to_string_lossy()
            .into_owned()
    })
}

/// Runs the docs' block for `kind` against `bus` on the emulator; returns the PutEvents
/// response (JSON) or panics with the command's stderr.
pub fn publish_example(kind: &str, bus: &str) -> serde_json::Value {
    let cli = aws_cli();
    assert!(
        Path::new(&cli).exists(),
        "no AWS CLI at {cli}; ./localstack/install provides it"
    );
    let block = readme_block();
    // Both are replaced below: without them the block would publish to the shared bus.
    for needed in ["kind=stoker.warmup.requested", "--arg bus stoker-bus"] {
        assert!(
            block.contains(needed),
            "docs/events.md's block changed shape (no {needed:?}):\n{block}"
        );
    }
    let script = format!(
        "set -euo pipefail\naws() {{ \"$STOKER_AWS_CLI\" --endpoint-url \"$AWS_ENDPOINT_URL\" \"$@\"; }}\n{}",
        block
            .replace("kind=stoker.warmup.requested", &format!("kind={kind}"))
            .replace("--arg bus stoker-bus", &format!("--arg bus {bus}"))
    );
    let out = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(repo())
        .env("STOKER_AWS_CLI", &cli)
        .output()
        .expect("bash");
    assert!(
        out.status.success(),
        "{kind}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{kind}: {e}: {}", String::from_utf8_lossy(&out.stdout)))
}
