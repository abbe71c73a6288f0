//! The properties the fuzz targets (`fuzz/`) check, kept here so that the corpus regression test
//! (`tests/fuzz_corpus.rs`) checks exactly the same on every kept input.

use aws_lambda_events::sqs::SqsEvent;
use stoker_events::{Delivery, decode, decode_bytes};

/// Any bytes into the workers' one decoder: never a panic; whatever decodes re-encodes as an
/// envelope that decodes to the same kind and payload.
pub fn decode_event(data: &[u8]) {
    let delivery = Delivery {
        message_id: Some("059f36b4-87a3-44ab-83d2-661975830a7d"),
        sent_at: None,
    };
    if let Ok(event) = decode_bytes(data, &delivery) {
        let again = serde_json::to_string(&event.to_envelope()).expect("an event serializes");
        let back = decode(&again, &delivery).expect("a decoded event decodes again");
        assert_eq!(back.meta.kind, event.meta.kind);
        assert_eq!(back.body, event.body);
    }
}

/// Any bytes as the Lambda SQS event the Lambda driver receives: parsing the batch, reading each
/// record's delivery facts and decoding its body never panic.
pub fn sqs_batch(data: &[u8]) {
    let Ok(batch) = serde_json::from_slice::<SqsEvent>(data) else {
        return;
    };
    for record in &batch.records {
        let Ok(d) = crate::message::from_lambda(record) else {
            continue;
        };
        let _ = decode(
            d.body,
            &Delivery {
                message_id: Some(d.message_id),
                sent_at: d.sent_at,
            },
        );
    }
}
