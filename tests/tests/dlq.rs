//! A message that fails the queue's `maxReceiveCount` deliveries lands in its worker's DLQ, for
//! every worker. (Workers dead-letter a job themselves, with its reason, at `MaxReceiveCount`;
//! the queue's own redrive is two deliveries later, for workers that crash there.)

use std::time::Duration;

use aws_sdk_sqs::types::MessageSystemAttributeName;
use stoker_events::Worker;
use stoker_it::{emulator, poll, receive_all, with_stack};

/// The stack's `MaxReceiveCount` (the workers' limit) is 2; its queues redrive at 2 + 2.
const MAX_RECEIVES: i32 = 4;

#[tokio::test]
async fn a_message_failing_max_receive_count_lands_in_the_dlq() {
    let sdk = emulator().await;
    let sdk2 = sdk.clone();
    let params = [("SchedulesState", "DISABLED"), ("MaxReceiveCount", "2")];
    with_stack(&sdk, "dlq", &params, move |stack| async move {
        let sqs = aws_sdk_sqs::Client::new(&sdk2);
        for w in Worker::ALL {
            let queue = stack.output(&format!("{}QueueUrl", w.stem()));
            let dlq = stack.output(&format!("{}DlqUrl", w.stem()));
            let body = format!("poison for {w} in {}", stack.name);
            sqs.send_message()
                .queue_url(queue)
                .message_body(&body)
                .send()
                .await?;

            // Each receive that ends without a delete is a failed delivery; make the message
            // visible again at once instead of waiting out the visibility timeout.
            let mut receives = 0;
            while receives < MAX_RECEIVES {
                let out = sqs
                    .receive_message()
                    .queue_url(queue)
                    .wait_time_seconds(5)
                    .send()
                    .await?;
                for m in out.messages() {
                    assert_eq!(m.body(), Some(body.as_str()));
                    receives += 1;
                    sqs.change_message_visibility()
                        .queue_url(queue)
                        .receipt_handle(m.receipt_handle().unwrap_or_default())
                        .visibility_timeout(0)
                        .send()
                        .await?;
                }
            }

            // The next receive attempt moves it to the DLQ (SQS redrives on receive).
            let dead = poll(Duration::from_secs(20), Duration::from_millis(200), || {
                let sqs = &sqs;
                async move {
                    let again = sqs.receive_message().queue_url(queue).send().await.ok()?;
                    assert!(
                        again.messages().is_empty(),
                        "still delivered after {MAX_RECEIVES} receives"
                    );
                    let out = sqs
                        .receive_message()
                        .queue_url(dlq)
                        .message_system_attribute_names(
                            MessageSystemAttributeName::ApproximateReceiveCount,
                        )
                        .send()
                        .await
                        .ok()?;
                    out.messages().first().cloned()
                }
            })
            .await;
            let dead = dead.unwrap_or_else(|| panic!("{w}: message never reached its DLQ"));
            assert_eq!(
                dead.body(),
                Some(body.as_str()),
                "{w}: the DLQ holds the same message"
            );
            let seen: i32 = dead
                .attributes()
                .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            assert!(
                seen >= MAX_RECEIVES,
                "{w}: receive count {seen} < {MAX_RECEIVES}"
            );
            // Nothing else was dead-lettered there.
            assert!(
                receive_all(&sqs, dlq, 0).await?.len() <= 1,
                "{w}: DLQ has extra messages"
            );
        }
        Ok(())
    })
    .await;
}
