//! The README's plain-AWS-CLI publish command (no stoker binary) works for every job kind:
//! run verbatim from README.md against a test stack, each event arrives on its worker's queue
//! and decodes to the example's payload.

use std::path::{Path, PathBuf};
use std::process::Command;

use stoker_events::{Delivery, Kind, Shape, Worker, decode};
use stoker_it::{Deadline, emulator, receive_all, with_stack};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The shell block between `<!-- put-events -->` markers in README.md.
fn readme_block() -> String {
    let readme = std::fs::read_to_string(repo().join("README.md")).expect("README.md");
    let start = readme
        .find("<!-- put-events -->")
        .expect("README has a put-events block");
    let end = readme
        .find("<!-- /put-events -->")
        .expect("README put-events block is closed");
    readme[start..end]
        .lines()
        .filter(|l| !l.starts_with("<!--") && !l.starts_with("```"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn aws_cli() -> String {
    std::env::var("STOKER_AWS_CLI").unwrap_or_else(|_| {
        repo()
            .join(".stoker/venv-localstack/bin/aws")
            .to_string_lossy()
            .into_owned()
    })
}

#[tokio::test]
async fn readme_put_events_command_publishes_every_example() {
    let sdk = emulator().await;
    let sdk2 = sdk.clone();
    let cli = aws_cli();
    assert!(
        Path::new(&cli).exists(),
        "no AWS CLI at {cli}; ./localstack/install provides it"
    );
    with_stack(&sdk, "cli", &[("SchedulesState", "DISABLED")], move |stack| async move {
        let block = readme_block();
        assert!(block.contains("kind=stoker.warmup.requested"), "README block changed shape:\n{block}");
        let sqs = aws_sdk_sqs::Client::new(&sdk2);
        for kind in Kind::ALL.into_iter().filter(|k| k.worker().is_some()) {
            let script = format!(
                "set -euo pipefail\naws() {{ \"$STOKER_AWS_CLI\" --endpoint-url \"$AWS_ENDPOINT_URL\" \"$@\"; }}\n{}",
                block
                    .replace("kind=stoker.warmup.requested", &format!("kind={}", kind.detail_type()))
                    .replace("--arg bus stoker-bus", &format!("--arg bus {}", stack.output("BusName")))
            );
            let out = Command::new("bash")
                .arg("-c")
                .arg(&script)
                .current_dir(repo())
                .env("STOKER_AWS_CLI", &cli)
                .output()?;
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(out.status.success(), "{kind}: {}\n{stdout}", String::from_utf8_lossy(&out.stderr));
            assert!(stdout.contains("\"FailedEntryCount\": 0"), "{kind}: {stdout}");

            let worker: Worker = kind.worker().expect("job kind");
            let url = stack.output(&format!("{}QueueUrl", worker.stem()));
            let deadline = Deadline::after(std::time::Duration::from_secs(20), std::time::Duration::from_millis(100));
            let mut got = Vec::new();
            while got.is_empty() && deadline.tick().await {
                got = receive_all(&sqs, url, 0).await?;
            }
            assert_eq!(got.len(), 1, "{kind}: expected one message on {url}");
            let event = decode(got[0].body().unwrap_or_default(), &Delivery::default())?;
            assert_eq!(event.meta.kind, kind);
            assert_eq!(event.meta.shape, Shape::EventBridgeEnvelope);
            let example: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(
                repo().join("schemas/examples").join(stoker_events::schema::file_name(kind)),
            )?)?;
            let example_event = decode(&example.to_string(), &Delivery::default())?;
            assert_eq!(event.body, example_event.body, "{kind}: payload changed on the way");
            assert_ne!(event.meta.id, example_event.meta.id, "{kind}: EventBridge should assign a fresh id");
        }
        Ok(())
    })
    .await;
}
