//! Malformed inputs: each gives its precise, permanent error, and nothing panics.

use serde_json::{Value, json};
use stoker_events::{DecodeError, Delivery, decode, decode_bytes};

fn envelope(kind: &str, payload: Value) -> Value {
    json!({
        "id": "019a9c3e-5b7a-7cc1-9a43-6f2d8b1e4a01", "kind": kind, "version": 1,
        "source": "stoker.operator", "time": "2026-11-23T08:55:00Z", "requested_by": "operator:t",
        "payload": payload,
    })
}

fn warmup(targets: Value) -> Value {
    envelope("stoker.warmup.requested", json!({ "targets": targets }))
}

fn with(mut v: Value, pointer: &str, new: Value) -> Value {
    *v.pointer_mut(pointer)
        .unwrap_or_else(|| panic!("no {pointer}")) = new;
    v
}

fn without(mut v: Value, field: &str) -> Value {
    v.as_object_mut().expect("object").remove(field);
    v
}

fn eventbridge(detail_type: &str, detail: Value) -> Value {
    json!({
        "version": "0", "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718", "detail-type": detail_type,
        "source": "stoker.operator", "account": "111122223333", "time": "2026-11-23T03:00:00Z",
        "region": "eu-west-1", "resources": [], "detail": detail,
    })
}

/// (what, input, expected code, a phrase the message must contain)
fn cases() -> Vec<(&'static str, String, &'static str, String)> {
    let ok_target = json!({ "function": "api", "concurrency": 1 });
    let backup = |retention: Value| {
        envelope(
            "stoker.backup.requested",
            json!({ "table": "orders", "retention": retention }),
        )
    };
    let cache = |target: Value| {
        envelope(
            "stoker.cache-warm.requested",
            json!({ "targets": [target] }),
        )
    };
    let redis = |extra: Value| {
        let mut t = json!({ "type": "redis", "key": "k", "source": { "type": "http", "url": "https://a.example.com/" } });
        t.as_object_mut()
            .expect("object")
            .extend(extra.as_object().expect("object").clone());
        cache(t)
    };
    let rollup = |field: &str, v: Value| {
        let mut p = json!({ "namespace": "Stoker/App", "window_minutes": 5, "period_seconds": 60, "output_namespace": "Stoker/Rollups" });
        p[field] = v;
        envelope("stoker.rollup.requested", p)
    };
    let s = |v: Value| v.to_string();
    let nested = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    let oversized = s(warmup(
        json!([{ "function": "api", "payload": { "blob": "x".repeat(300_000) } }]),
    ));
    vec![
        ("empty body", String::new(), "invalid_json", "EOF".into()),
        (
            "plain text",
            "not json".into(),
            "invalid_json",
            "line 1".into(),
        ),
        (
            "truncated",
            "{\"kind\": ".into(),
            "invalid_json",
            "EOF".into(),
        ),
        (
            "trailing garbage",
            "{} x".into(),
            "invalid_json",
            "trailing".into(),
        ),
        (
            "array",
            "[1, 2]".into(),
            "not_an_object",
            "not an object".into(),
        ),
        (
            "number",
            "42".into(),
            "not_an_object",
            "not an object".into(),
        ),
        (
            "null",
            "null".into(),
            "not_an_object",
            "not an object".into(),
        ),
        (
            "string",
            "\"stoker\"".into(),
            "not_an_object",
            "not an object".into(),
        ),
        (
            "empty object",
            "{}".into(),
            "unknown_shape",
            "unknown shape".into(),
        ),
        (
            "other object",
            s(json!({ "Records": [] })),
            "unknown_shape",
            "keys: Records".into(),
        ),
        (
            "deeply nested",
            nested,
            "invalid_json",
            "recursion limit".into(),
        ),
        (
            "oversized",
            oversized,
            "too_large",
            "limit is 262144".into(),
        ),
        (
            "unknown kind",
            s(envelope("stoker.nope.requested", json!({}))),
            "unknown_kind",
            "stoker.nope.requested".into(),
        ),
        (
            "future version",
            s(with(warmup(json!([ok_target])), "/version", json!(2))),
            "unsupported_version",
            "version 2".into(),
        ),
        (
            "version zero",
            s(with(warmup(json!([ok_target])), "/version", json!(0))),
            "unsupported_version",
            "version 0".into(),
        ),
        (
            "version as string",
            s(with(warmup(json!([ok_target])), "/version", json!("1"))),
            "malformed",
            "at version".into(),
        ),
        (
            "missing source",
            s(without(warmup(json!([ok_target])), "source")),
            "malformed",
            "missing field `source`".into(),
        ),
        (
            "empty source",
            s(with(warmup(json!([ok_target])), "/source", json!(""))),
            "malformed",
            "source".into(),
        ),
        (
            "id not a uuid",
            s(with(warmup(json!([ok_target])), "/id", json!("abc"))),
            "malformed",
            "at id".into(),
        ),
        (
            "time not rfc3339",
            s(with(
                warmup(json!([ok_target])),
                "/time",
                json!("yesterday"),
            )),
            "malformed",
            "at time".into(),
        ),
        (
            "id without time",
            s(without(warmup(json!([ok_target])), "time")),
            "malformed",
            "time: missing".into(),
        ),
        (
            "unknown envelope field",
            s(with(warmup(json!([ok_target])), "/requested_by", json!(7))),
            "malformed",
            "requested_by".into(),
        ),
        (
            "extra envelope field",
            s({
                let mut v = warmup(json!([ok_target]));
                v["extra"] = json!(1);
                v
            }),
            "malformed",
            "unknown field `extra`".into(),
        ),
        (
            "payload not an object",
            s(envelope("stoker.warmup.requested", json!([]))),
            "malformed",
            "must be a JSON object, not an array".into(),
        ),
        (
            "targets missing",
            s(envelope("stoker.warmup.requested", json!({}))),
            "malformed",
            "missing field `targets`".into(),
        ),
        (
            "targets empty",
            s(warmup(json!([]))),
            "invalid",
            "targets: has 0 items; at least 1 required".into(),
        ),
        (
            "too many targets",
            s(warmup(json!(vec![ok_target.clone(); 51]))),
            "invalid",
            "at most 50 allowed".into(),
        ),
        (
            "concurrency zero",
            s(warmup(
                json!([ok_target, ok_target, { "function": "x", "concurrency": 0 }]),
            )),
            "invalid",
            "targets[2].concurrency: 0 is below the minimum 1".into(),
        ),
        (
            "concurrency too high",
            s(warmup(json!([{ "function": "x", "concurrency": 101 }]))),
            "invalid",
            "above the maximum 100".into(),
        ),
        (
            "concurrency as string",
            s(warmup(json!([{ "function": "x", "concurrency": "3" }]))),
            "malformed",
            "at targets[0].concurrency".into(),
        ),
        (
            "concurrency negative",
            s(warmup(json!([{ "function": "x", "concurrency": -1 }]))),
            "malformed",
            "invalid value: integer `-1`".into(),
        ),
        (
            "concurrency overflow",
            s(warmup(
                json!([{ "function": "x", "concurrency": 5_000_000_000u64 }]),
            )),
            "malformed",
            "expected u32".into(),
        ),
        (
            "typo in a field",
            s(warmup(json!([{ "function": "x", "concurency": 3 }]))),
            "malformed",
            "unknown field `concurency`".into(),
        ),
        (
            "bad function name",
            s(warmup(json!([{ "function": "no spaces allowed" }]))),
            "invalid",
            "targets[0].function".into(),
        ),
        (
            "control char in name",
            s(warmup(json!([{ "function": "ab\u{0}c" }]))),
            "invalid",
            "targets[0].function".into(),
        ),
        (
            "min_keep zero",
            s(backup(json!({ "min_keep": 0 }))),
            "invalid",
            "retention.min_keep: 0 is below the minimum 1".into(),
        ),
        (
            "min_keep over keep_last",
            s(backup(json!({ "keep_last": 2, "min_keep": 3 }))),
            "invalid",
            "retention.min_keep: 3 is above keep_last 2".into(),
        ),
        (
            "bad table name",
            s(envelope("stoker.backup.requested", json!({ "table": "x" }))),
            "invalid",
            "table: `x` is not a DynamoDB table name".into(),
        ),
        (
            "unknown backup mode",
            s(envelope(
                "stoker.backup.requested",
                json!({ "table": "orders", "mode": "tape" }),
            )),
            "malformed",
            "unknown variant `tape`".into(),
        ),
        (
            "two ttls",
            s(redis(
                json!({ "ttl_seconds": 60, "ttl_class": "analytics" }),
            )),
            "invalid",
            "targets[0].ttl_seconds: give either".into(),
        ),
        (
            "no ttl",
            s(redis(json!({}))),
            "invalid",
            "targets[0].ttl_seconds: missing".into(),
        ),
        (
            "unknown target type",
            s(cache(json!({ "type": "memcached", "key": "k" }))),
            "malformed",
            "unknown variant `memcached`".into(),
        ),
        (
            "url with credentials",
            s(cache(
                json!({ "type": "http", "url": "https://u:p@a.example.com/" }),
            )),
            "invalid",
            "targets[0].url".into(),
        ),
        (
            "url not http",
            s(cache(
                json!({ "type": "http", "url": "file:///etc/passwd" }),
            )),
            "invalid",
            "not an http:// or https:// URL".into(),
        ),
        (
            "odd period",
            s(rollup("period_seconds", json!(7))),
            "invalid",
            "period_seconds: 7 is not 1, 5, 10, 30".into(),
        ),
        (
            "aws namespace",
            s(rollup("namespace", json!("AWS/Lambda"))),
            "invalid",
            "namespace: `AWS/Lambda` is reserved".into(),
        ),
        (
            "bad percentile",
            s(rollup("percentiles", json!([50, 100]))),
            "invalid",
            "percentiles[1]".into(),
        ),
        (
            "optimizer bounds inverted",
            s(envelope(
                "stoker.optimize.requested",
                json!({ "functions": { "names": ["a"] }, "bounds": { "min_memory_mb": 2048, "max_memory_mb": 1024 } }),
            )),
            "invalid",
            "bounds.min_memory_mb: 2048 is above max_memory_mb 1024".into(),
        ),
        (
            "kind mismatch",
            s(eventbridge(
                "stoker.backup.requested",
                warmup(json!([{ "function": "x" }])),
            )),
            "kind_mismatch",
            "does not match".into(),
        ),
        (
            "detail not an object",
            s(eventbridge("stoker.backup.requested", json!("orders"))),
            "malformed",
            "detail: must be a JSON object".into(),
        ),
        (
            "eventbridge without id",
            s(without(
                eventbridge("stoker.backup.requested", json!({ "table": "orders" })),
                "id",
            )),
            "malformed",
            "missing field `id`".into(),
        ),
        (
            "eventbridge unknown kind",
            s(eventbridge("Object Created", json!({}))),
            "unknown_kind",
            "Object Created".into(),
        ),
        // Issue #16's classes: duplicate keys, a BOM, numbers and nulls of the wrong kind, the
        // nil UUID, times ahead of the clock or before 2000, URL forms parsers disagree on,
        // header injection, requests valid field by field but too big as a whole.
        (
            "duplicate envelope key",
            r#"{"kind": "stoker.warmup.requested", "kind": "stoker.backup.requested", "version": 1, "source": "stoker.operator", "payload": {}}"#.into(),
            "invalid_json",
            "duplicate key `kind`".into(),
        ),
        (
            "duplicate payload key",
            s(warmup(json!([ok_target.clone()]))).replacen(
                r#""concurrency":1"#,
                r#""concurrency":1,"concurrency":50"#,
                1,
            ),
            "invalid_json",
            "duplicate key `concurrency`".into(),
        ),
        (
            "byte-order mark",
            format!("\u{feff}{}", s(warmup(json!([ok_target.clone()])))),
            "invalid_json",
            "byte-order mark".into(),
        ),
        (
            "float for an integer",
            s(warmup(json!([{ "function": "api", "concurrency": 3.0 }]))),
            "malformed",
            "floating point".into(),
        ),
        (
            "exponent for an integer",
            s(warmup(json!([{ "function": "api" }]))).replacen(
                r#""function":"api""#,
                r#""function":"api","concurrency":3e0"#,
                1,
            ),
            "malformed",
            "floating point".into(),
        ),
        (
            "null for a required field",
            s(warmup(json!([{ "function": null }]))),
            "malformed",
            "invalid type: null".into(),
        ),
        (
            "null payload",
            s(with(warmup(json!([])), "/payload", Value::Null)),
            "malformed",
            "null".into(),
        ),
        (
            "nil UUID",
            s(with(
                warmup(json!([ok_target.clone()])),
                "/id",
                json!("00000000-0000-0000-0000-000000000000"),
            )),
            "malformed",
            "nil UUID".into(),
        ),
        (
            "time far in the future",
            s(with(
                warmup(json!([ok_target.clone()])),
                "/time",
                json!("2099-01-01T00:00:00Z"),
            )),
            "malformed",
            "ahead of the worker's clock".into(),
        ),
        (
            "time far in the past",
            s(with(
                warmup(json!([ok_target.clone()])),
                "/time",
                json!("1970-01-01T00:00:00Z"),
            )),
            "malformed",
            "before 2000".into(),
        ),
        (
            "IPv6 zone id",
            s(cache(json!({ "type": "http", "url": "http://[fe80::1%25eth0]/" }))),
            "invalid",
            "zone ids are not allowed".into(),
        ),
        (
            "unclosed IPv6 literal",
            s(cache(json!({ "type": "http", "url": "http://[::1/x" }))),
            "invalid",
            "unclosed IPv6 literal".into(),
        ),
        (
            "internationalized host",
            s(cache(json!({ "type": "http", "url": "https://exämple.com/" }))),
            "invalid",
            "punycode".into(),
        ),
        (
            "backslash in a URL",
            s(cache(json!({ "type": "http", "url": "https://evil.test\\.a.example.com/" }))),
            "invalid",
            "backslash".into(),
        ),
        (
            "CRLF in a header value",
            s(cache(json!({ "type": "http", "url": "https://a.example.com/", "headers": { "X-Trace": "1\r\nHost: 169.254.169.254" } }))),
            "invalid",
            "control character".into(),
        ),
        (
            "Host header",
            s(cache(json!({ "type": "http", "url": "https://a.example.com/", "headers": { "host": "169.254.169.254" } }))),
            "invalid",
            "may not be set".into(),
        ),
        (
            "500 targets x 10,000 keys",
            s(envelope(
                "stoker.cache-warm.requested",
                json!({ "targets": vec![json!({ "type": "redis", "key": "k:{id}", "ttl_seconds": 60,
                    "source": { "type": "http", "url": "https://a.example.com/{id}" },
                    "expand": { "source": { "type": "http", "url": "https://a.example.com/ids" }, "max_keys": 10_000 } }); 500] }),
            )),
            "invalid",
            "may warm up to 5000000 keys".into(),
        ),
        (
            "sweep beyond the optimizer's job",
            s(envelope(
                "stoker.optimize.requested",
                json!({ "functions": { "names": ["api"] },
                    "power_tuning": { "memory_sizes": [128, 256, 512, 1024, 2048, 3008, 4096, 6144, 8192, 10240], "invocations": 100 } }),
            )),
            "invalid",
            "beyond the optimizer's 900 s job".into(),
        ),
        (
            "a table named twice",
            s(envelope(
                "stoker.optimize.requested",
                json!({ "functions": { "names": ["api"] }, "tables": ["orders", "carts", "orders"] }),
            )),
            "invalid",
            "orders is named twice".into(),
        ),
        (
            "arm64 twin of a tag selection",
            s(envelope(
                "stoker.optimize.requested",
                json!({ "functions": { "tag": { "key": "stoker:optimize", "value": "true" } },
                    "power_tuning": { "memory_sizes": [128, 256], "arm64_twin": "api-arm64" } }),
            )),
            "invalid",
            "name exactly one function".into(),
        ),
        (
            "arm64 twin is the function itself",
            s(envelope(
                "stoker.optimize.requested",
                json!({ "functions": { "names": ["api"] },
                    "power_tuning": { "memory_sizes": [128, 256], "arm64_twin": "api" } }),
            )),
            "invalid",
            "not the twin itself".into(),
        ),
        (
            "two sweeps beyond the optimizer's job",
            s(envelope(
                "stoker.optimize.requested",
                json!({ "functions": { "names": ["api"] },
                    "power_tuning": { "memory_sizes": [128, 256, 512, 1024, 2048, 3008, 4096], "invocations": 30, "arm64_twin": "api-arm64" } }),
            )),
            "invalid",
            "for each of 2 sweeps (the function and its arm64 twin)".into(),
        ),
        // Workers publish outcome events only: a job kind from a worker's source is refused,
        // whichever shape it comes in, and the EventBridge source is the one that counts.
        (
            "job kind from a worker (envelope)",
            s(with(
                warmup(json!([ok_target.clone()])),
                "/source",
                json!("stoker.worker"),
            )),
            "forbidden_source",
            "may not come from source `stoker.worker`".into(),
        ),
        (
            "job kind from a worker (eventbridge payload)",
            s(with(
                eventbridge(
                    "stoker.optimize.requested",
                    json!({ "functions": { "names": ["api"] }, "mode": "apply" }),
                ),
                "/source",
                json!("stoker.worker"),
            )),
            "forbidden_source",
            "workers publish outcome events only".into(),
        ),
        (
            "job kind from a worker posing as an operator inside",
            s(with(
                eventbridge(
                    "stoker.backup.requested",
                    envelope("stoker.backup.requested", json!({ "table": "orders" })),
                ),
                "/source",
                json!("stoker.worker"),
            )),
            "forbidden_source",
            "stoker.backup.requested may not come from source".into(),
        ),
    ]
}

#[test]
fn outcome_kinds_from_workers_decode() {
    let completed = json!({
        "worker": "warmup", "job_id": "019a9c3e-5b7a-7cc1-9a43-6f2d8b1e4a01",
        "job_kind": "stoker.warmup.requested", "attempts": 1, "duration_ms": 5, "report": {},
    });
    let event = with(
        eventbridge("stoker.job.completed", completed),
        "/source",
        json!("stoker.worker"),
    );
    let decoded =
        decode(&event.to_string(), &Delivery::default()).expect("an outcome from a worker");
    assert_eq!(decoded.meta.source, "stoker.worker");
}

#[test]
fn each_malformed_input_gives_its_precise_error() {
    let cases = cases();
    assert!(cases.len() >= 30, "only {} cases", cases.len());
    for (what, input, code, phrase) in cases {
        let got = std::panic::catch_unwind(|| decode(&input, &Delivery::default()))
            .unwrap_or_else(|_| panic!("{what}: decode panicked"));
        let err = got.expect_err(what);
        assert_eq!(err.code(), code, "{what}: {err}");
        assert!(
            err.to_string().contains(&phrase),
            "{what}: `{err}` does not mention `{phrase}`"
        );
        assert!(err.is_permanent());
    }
}

#[test]
fn binary_garbage_is_not_utf8() {
    let garbage = [0xff, 0xfe, 0x00, 0x9f, 0x92, 0x96, 0xc3, 0x28];
    assert_eq!(
        decode_bytes(&garbage, &Delivery::default()),
        Err(DecodeError::NotUtf8)
    );
}

#[test]
fn validation_reports_every_broken_rule_not_just_the_first() {
    let input = warmup(
        json!([{ "function": "bad name", "concurrency": 0 }, { "function": "ok", "qualifier": "no!" }]),
    );
    let err = decode(&input.to_string(), &Delivery::default()).unwrap_err();
    let DecodeError::Invalid { errors, .. } = &err else {
        panic!("{err}")
    };
    let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "targets[0].function",
            "targets[0].concurrency",
            "targets[1].qualifier"
        ],
        "{err}"
    );
}

/// Errors about a URL never quote its query (tokens live there) or its credentials: they reach
/// the DLQ's reason attribute, run records and logs.
#[test]
fn url_errors_never_quote_a_token() {
    for url in [
        "https://evil.test\\.a.example.com/x?token=SECRET123",
        "https://exämple.com/?token=SECRET123",
        "https://a.example.com:99999/?token=SECRET123",
        "ftp://a.example.com/?token=SECRET123",
        "https://[::1/?token=SECRET123",
    ] {
        let body = envelope(
            "stoker.cache-warm.requested",
            json!({ "targets": [{ "type": "http", "url": url }] }),
        );
        let err = decode(&body.to_string(), &Delivery::default()).expect_err(url);
        let text = err.to_string();
        assert!(!text.contains("SECRET123"), "{text}");
        assert!(text.contains("targets[0].url"), "{text}");
    }
}
