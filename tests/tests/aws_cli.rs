//! The docs' plain-AWS-CLI publish command (no stoker binary) works for every job kind:
//! run verbatim from docs/events.md against a test stack, each event arrives on its worker's queue
//! and decodes to the example's payload.

use std::path::{Path, PathBuf};

use stoker_events::{Delivery, Kind, Shape, Worker, decode};
use stoker_it::awscli::publish_example;
use stoker_it::{Deadline, emulator, receive_all, with_stack};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[tokio::test]
async fn readme_put_events_command_publishes_every_example() {
    let sdk = emulator().await;
    let sdk2 = sdk.clone();
    with_stack(
        &sdk,
        "awscli",
        &[("SchedulesState", "DISABLED")],
        move |stack| async move {
            let sqs = aws_sdk_sqs::Client::new(&sdk2);
            for kind in Kind::ALL.into_iter().filter(|k| k.worker().is_some()) {
                let response = publish_example(kind.detail_type(), stack.output("BusName"));
                assert_eq!(response["FailedEntryCount"], 0, "{kind}: {response}");

                let worker: Worker = kind.worker().expect("job kind");
                let url = stack.output(&format!("{}QueueUrl", worker.stem()));
                let deadline = Deadline::after(
                    std::time::Duration::from_secs(20),
                    std::time::Duration::from_millis(100),
                );
                let mut got = Vec::new();
                while got.is_empty() && deadline.tick().await {
                    got = receive_all(&sqs, url, 0).await?;
                }
                assert_eq!(got.len(), 1, "{kind}: expected one message on {url}");
                let event = decode(got[0].body().unwrap_or_default(), &Delivery::default())?;
                assert_eq!(event.meta.kind, kind);
                assert_eq!(event.meta.shape, Shape::EventBridgeEnvelope);
                let example: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(
                    repo()
                        .join("schemas/examples")
                        .join(stoker_events::schema::file_name(kind)),
                )?)?;
                let example_event = decode(&example.to_string(), &Delivery::default())?;
                assert_eq!(
                    event.body, example_event.body,
                    "{kind}: payload changed on the way"
                );
                assert_ne!(
                    event.meta.id, example_event.meta.id,
                    "{kind}: EventBridge should assign a fresh id"
                );
            }
            Ok(())
        },
    )
    .await;
}
