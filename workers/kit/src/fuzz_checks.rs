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

/// A message as the long-poll driver receives it from ReceiveMessage (id, body, system
/// attributes), from any JSON object: reading its delivery facts never panics, and what is
/// accepted has an id and a receive count from 1; its body then goes to the decoder.
pub fn sqs_message(data: &[u8]) {
    use aws_sdk_sqs::types::{Message, MessageSystemAttributeName};
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Raw {
        message_id: Option<String>,
        body: Option<String>,
        #[serde(default)]
        attributes: std::collections::HashMap<String, String>,
    }
    let Ok(raw) = serde_json::from_slice::<Raw>(data) else {
        return;
    };
    let mut b = Message::builder()
        .set_message_id(raw.message_id)
        .set_body(raw.body);
    for (k, v) in raw.attributes {
        b = b.attributes(MessageSystemAttributeName::from(k.as_str()), v);
    }
    let m = b.build();
    if let Ok(d) = crate::message::from_sqs(&m) {
        assert!(
            !d.message_id.trim().is_empty(),
            "an accepted message has an id"
        );
        assert!(
            d.receive_count >= 1,
            "an accepted message has a receive count from 1"
        );
        let _ = decode(
            d.body,
            &Delivery {
                message_id: Some(d.message_id),
                sent_at: d.sent_at,
            },
        );
    }
}
