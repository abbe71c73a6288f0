//! `schemas/` is generated from the Rust types and committed; these tests fail when it drifts,
//! and check that every example validates against its schema and decodes in Rust.
//! Regenerate with: STOKER_BLESS=1 cargo test -p stoker-events --test schemas

use std::path::PathBuf;

use stoker_events::{Delivery, Kind, decode, schema};

fn schemas_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../schemas")
}

#[test]
fn committed_schemas_match_the_rust_types() {
    let bless = std::env::var_os("STOKER_BLESS").is_some();
    let mut stale = Vec::new();
    for (name, text) in schema::all() {
        let path = schemas_dir().join(&name);
        if bless {
            std::fs::write(&path, &text).expect("write schema");
        } else if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            stale.push(name);
        }
    }
    assert!(
        stale.is_empty(),
        "schemas/ is out of date for {stale:?}; regenerate with: STOKER_BLESS=1 cargo test -p stoker-events --test schemas"
    );
}

#[test]
fn every_kind_has_an_example_that_validates_and_decodes() {
    for kind in Kind::ALL {
        let name = schema::file_name(kind);
        let example = std::fs::read_to_string(schemas_dir().join("examples").join(&name))
            .unwrap_or_else(|_| panic!("no example schemas/examples/{name}"));
        let instance: serde_json::Value = serde_json::from_str(&example).expect("example is JSON");
        let validator =
            jsonschema::validator_for(&schema::for_kind(kind)).expect("schema compiles");
        let errors: Vec<String> = validator
            .iter_errors(&instance)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{name} does not validate: {errors:?}");
        let event =
            decode(&example, &Delivery::default()).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(event.meta.kind, kind);
    }
}

#[test]
fn a_schema_rejects_what_the_decoder_rejects() {
    let kind = Kind::WarmupRequested;
    let validator = jsonschema::validator_for(&schema::for_kind(kind)).expect("schema compiles");
    let example =
        std::fs::read_to_string(schemas_dir().join("examples").join(schema::file_name(kind)))
            .expect("example");
    let mut bad: serde_json::Value = serde_json::from_str(&example).expect("json");
    bad["payload"]["targets"][0]["concurency"] = 3.into(); // a typo
    assert!(
        !validator.is_valid(&bad),
        "the schema lets an unknown field through"
    );
    let mut wrong_kind: serde_json::Value = serde_json::from_str(&example).expect("json");
    wrong_kind["kind"] = "stoker.backup.requested".into();
    assert!(
        !validator.is_valid(&wrong_kind),
        "the schema lets another kind through"
    );
    let mut zero: serde_json::Value = serde_json::from_str(&example).expect("json");
    zero["payload"]["targets"][0]["concurrency"] = 0.into();
    assert!(
        !validator.is_valid(&zero),
        "the schema lets concurrency 0 through"
    );
}
