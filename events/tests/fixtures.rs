//! Every real-format fixture decodes (or fails exactly as documented), and round-trips.

use aws_lambda_events::event::sqs::SqsEvent;
use chrono::{DateTime, TimeZone, Utc};
use stoker_events::payload::backup::BackupMode;
use stoker_events::{Body, DecodeError, Delivery, Event, Kind, Shape, decode};

const EB_ENVELOPE: &str = include_str!("../fixtures/eventbridge-envelope.json");
const EB_PAYLOAD: &str = include_str!("../fixtures/eventbridge-payload.json");
const SCHEDULE_INPUT: &str = include_str!("../fixtures/schedule-input.json");
const SCHEDULED_EVENT: &str = include_str!("../fixtures/scheduled-event.json");
const LAMBDA_SQS_EVENT: &str = include_str!("../fixtures/lambda-sqs-event.json");
const V1_MINIMAL: &str = include_str!("../fixtures/v1-minimal-backup.json");

fn ok(body: &str, delivery: &Delivery) -> Event {
    decode(body, delivery).unwrap_or_else(|e| panic!("{e}"))
}

/// Decoding the event's own envelope again gives the same event (shape aside).
fn assert_round_trips(event: &Event) {
    let json = serde_json::to_string(&event.to_envelope()).expect("encode");
    let again = ok(&json, &Delivery::default());
    assert_eq!(again.body, event.body);
    assert_eq!(again.meta.id, event.meta.id);
    assert_eq!(again.meta.time, event.meta.time);
    assert_eq!(again.meta.correlation_id, event.meta.correlation_id);
    assert_eq!(again.meta.requested_by, event.meta.requested_by);
    assert_eq!(again.meta.shape, Shape::Envelope);
}

#[test]
fn eventbridge_event_with_envelope_detail_keeps_the_envelopes_identity() {
    let e = ok(EB_ENVELOPE, &Delivery::default());
    assert_eq!(e.meta.shape, Shape::EventBridgeEnvelope);
    assert_eq!(
        e.meta.id.to_string(),
        "019a9c3e-5b7a-7cc1-9a43-6f2d8b1e4a03"
    );
    assert_eq!(e.meta.correlation_id, "ticket-4711");
    assert_eq!(e.meta.requested_by, "operator:bob");
    let Body::Backup(b) = &e.body else {
        panic!("{:?}", e.body)
    };
    assert_eq!(
        (b.mode, b.retention.keep_last, b.retention.min_keep),
        (BackupMode::Export, 3, 2)
    );
    assert_round_trips(&e);
}

#[test]
fn eventbridge_event_with_payload_detail_takes_identity_from_the_event() {
    let e = ok(EB_PAYLOAD, &Delivery::default());
    assert_eq!(e.meta.shape, Shape::EventBridgePayload);
    assert_eq!(
        e.meta.id.to_string(),
        "3f1c8a66-2b9e-4d0a-8f6e-0c1d2e3f4a5b"
    );
    assert_eq!(e.meta.kind, Kind::WarmupRequested);
    assert_eq!(e.meta.source, "ops.cli");
    assert_eq!(e.meta.requested_by, "eventbridge:ops.cli");
    assert_eq!(
        e.meta.time,
        Utc.with_ymd_and_hms(2026, 11, 23, 8, 55, 0).unwrap()
    );
    let Body::Warmup(w) = &e.body else { panic!() };
    assert_eq!(w.hold_open_ms, 100, "defaults filled in");
    assert_round_trips(&e);
}

#[test]
fn schedule_input_takes_a_stable_id_and_time_from_its_delivery() {
    let sent = DateTime::from_timestamp_millis(1_545_082_649_183).unwrap();
    let d = Delivery {
        message_id: Some("059f36b4-87a3-44ab-83d2-661975830a7d"),
        sent_at: Some(sent),
    };
    let e = ok(SCHEDULE_INPUT, &d);
    assert_eq!(e.meta.shape, Shape::ScheduleInput);
    assert_eq!(
        e.meta.id.to_string(),
        "059f36b4-87a3-44ab-83d2-661975830a7d"
    );
    assert_eq!(e.meta.time, sent);
    assert_eq!(e.meta.requested_by, "schedule:rollup");
    // The same delivery decodes to the same id (idempotency across redeliveries)...
    assert_eq!(ok(SCHEDULE_INPUT, &d).meta.id, e.meta.id);
    // ...and a non-UUID message id still gives a stable UUID.
    let odd = Delivery {
        message_id: Some("msg-42"),
        sent_at: None,
    };
    assert_eq!(
        ok(SCHEDULE_INPUT, &odd).meta.id,
        ok(SCHEDULE_INPUT, &odd).meta.id
    );
    assert_eq!(
        decode(SCHEDULE_INPUT, &Delivery::default()),
        Err(DecodeError::MissingDeliveryId)
    );
    assert_round_trips(&e);
}

#[test]
fn every_record_of_the_documented_lambda_sqs_event_decodes() {
    let event: SqsEvent = serde_json::from_str(LAMBDA_SQS_EVENT).expect("AWS's SQS event shape");
    let shapes: Vec<Shape> = event
        .records
        .iter()
        .map(|r| {
            let sent = r
                .attributes
                .get("SentTimestamp")
                .and_then(|t| t.parse().ok())
                .and_then(DateTime::from_timestamp_millis);
            let d = Delivery {
                message_id: r.message_id.as_deref(),
                sent_at: sent,
            };
            let e = ok(r.body.as_deref().unwrap_or_default(), &d);
            assert_round_trips(&e);
            e.meta.shape
        })
        .collect();
    assert_eq!(
        shapes,
        [
            Shape::EventBridgeEnvelope,
            Shape::EventBridgePayload,
            Shape::ScheduleInput,
            Shape::Envelope
        ]
    );
}

#[test]
fn a_schedule_rule_without_input_is_an_unknown_kind_that_says_what_to_do() {
    let err = decode(SCHEDULED_EVENT, &Delivery::default()).unwrap_err();
    assert_eq!(err, DecodeError::UnknownKind("Scheduled Event".into()));
    assert!(err.to_string().contains("constant Input"), "{err}");
}

#[test]
fn the_first_version_1_event_ever_written_still_decodes() {
    let e = ok(V1_MINIMAL, &Delivery::default());
    assert_eq!(e.meta.version, 1);
    let Body::Backup(b) = &e.body else { panic!() };
    assert_eq!(
        (
            b.table.as_str(),
            b.mode,
            b.retention.keep_last,
            b.restore_drill
        ),
        ("orders", BackupMode::Native, 7, false)
    );
}

#[test]
fn the_templates_schedule_inputs_decode_to_their_workers_kinds() {
    // The literal inputs in infra/template.yaml that have no ${} substitutions (the others are
    // decoded with their parameters' defaults by tests/tests/template.rs).
    let template = include_str!("../../infra/template.yaml");
    let inputs: Vec<&str> = template
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Input: '"))
        .filter_map(|l| l.strip_suffix('\''))
        .collect();
    assert!(!inputs.is_empty(), "found no literal schedule inputs");
    for input in inputs {
        let e = ok(
            input,
            &Delivery {
                message_id: Some("m-1"),
                sent_at: None,
            },
        );
        assert_eq!(e.meta.shape, Shape::ScheduleInput);
        assert!(e.meta.kind.worker().is_some());
    }
}
