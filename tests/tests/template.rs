//! Static checks of `infra/template.yaml` (no emulator needed): least privilege, every worker
//! fully wired, routing agreeing with the events crate, a dashboard body that is valid JSON.

use serde_json::Value as Json;
use serde_norway::{Mapping, Value};
use stoker_events::{Delivery, Kind, Shape, Worker, decode};
use stoker_it::TEMPLATE;
use stoker_it::cfn::{resources, statements, strings, template, untag};

#[test]
fn no_iam_statement_grants_a_wildcard_action() {
    let t = template();
    let all = statements(&t);
    assert!(
        all.len() >= 30,
        "found only {} statements: is the walker broken?",
        all.len()
    );
    for (id, s) in &all {
        assert!(
            s.get("NotAction").is_none(),
            "{id}: NotAction grants everything else"
        );
        let actions = strings(&s["Action"]);
        assert!(!actions.is_empty(), "{id}: statement without Action: {s:?}");
        for a in actions {
            assert!(!a.contains('*'), "{id}: action `{a}` is a wildcard");
            assert!(a.contains(':'), "{id}: action `{a}` names no service");
            // Actions that hand over other workloads' secrets and support no resource type.
            assert!(
                !SECRET_LISTS.contains(&a.as_str()),
                "{id}: `{a}` returns every function's environment variables"
            );
        }
    }
}

/// Actions no role of the stack gets: they support no resource type and return every
/// function's configuration, environment variables (secrets) included, account-wide
/// (functions are found through `cloudwatch:ListMetrics` instead).
const SECRET_LISTS: [&str; 1] = ["lambda:ListFunctions"];

#[test]
fn the_wildcard_check_would_catch_a_star_action() {
    let bad = TEMPLATE.replace("Action: sqs:SendMessage", "Action: sqs:*");
    let t: Value = serde_norway::from_str(&bad).expect("yaml");
    let starred = statements(&t)
        .into_iter()
        .flat_map(|(_, s)| strings(&s["Action"]))
        .filter(|a| a.contains('*'))
        .count();
    assert!(
        starred >= 5,
        "the walker does not see the statements it must check"
    );
}

#[test]
fn every_worker_is_fully_wired() {
    let t = template();
    let r = resources(&t);
    for w in Worker::ALL {
        let s = w.stem();
        for suffix in [
            "Queue",
            "Dlq",
            "QueuePolicy",
            "ScheduleRule",
            "Role",
            "DlqAlarm",
            "ErrorsAlarm",
        ] {
            assert!(
                r.contains_key(format!("{s}{suffix}").as_str()),
                "{w}: no {s}{suffix}"
            );
        }
        let f = &r[format!("{s}Function").as_str()];
        assert_eq!(
            f["Condition"].as_str(),
            Some("WithFunctions"),
            "{w}: function must be conditional"
        );
        assert_eq!(f["Properties"]["Runtime"].as_str(), Some("provided.al2023"));
        assert_eq!(
            strings(&f["Properties"]["Architectures"]),
            ["Architecture"],
            "{w}: the Architecture parameter"
        );
        // Its log group is declared (retention; the EMF metrics the alarms read need it).
        let logs = &r[format!("{s}LogGroup").as_str()];
        assert_eq!(strings(&f["DependsOn"]), [format!("{s}LogGroup")], "{w}");
        assert_eq!(
            strings(&logs["Properties"]["RetentionInDays"]),
            ["LogRetentionDays"],
            "{w}"
        );
        // The kit's configuration (WorkerConfig::from_env) points at this worker's own queues.
        let vars = &f["Properties"]["Environment"]["Variables"];
        assert_eq!(
            strings(&vars["STOKER_QUEUE_URL"]),
            [format!("{s}Queue")],
            "{w}"
        );
        assert_eq!(strings(&vars["STOKER_DLQ_URL"]), [format!("{s}Dlq")], "{w}");
        for var in ["STOKER_OPS_TABLE", "STOKER_BUS", "STOKER_MAX_RECEIVE_COUNT"] {
            assert!(vars.get(var).is_some(), "{w}: function env lacks {var}");
        }
        let esm = &r[format!("{s}EventSource").as_str()];
        assert_eq!(
            strings(&esm["Properties"]["FunctionResponseTypes"]),
            ["ReportBatchItemFailures"]
        );

        // AWS: the queue's visibility timeout must be at least 6x the function timeout.
        let timeout = f["Properties"]["Timeout"].as_u64().expect("timeout");
        let vis = r[format!("{s}Queue").as_str()]["Properties"]["VisibilityTimeout"]
            .as_u64()
            .expect("vis");
        assert!(
            vis >= 6 * timeout,
            "{w}: visibility {vis} < 6 x timeout {timeout}"
        );

        // The role may send only to its own DLQ and receive only from its own queue. Reading
        // queues' attributes elsewhere is the readiness worker's job, and only its.
        let role = format!("{s}Role");
        let metadata = [
            "sqs:GetQueueAttributes",
            "sqs:GetQueueUrl",
            "sqs:ListQueues",
        ];
        for (id, st) in statements(&t).iter().filter(|(id, _)| *id == role) {
            let res = format!("{:?}", st["Resource"]);
            let actions = strings(&st["Action"]);
            if w == Worker::Readiness && actions.iter().all(|a| metadata.contains(&a.as_str())) {
                continue;
            }
            if actions.iter().any(|a| a.starts_with("sqs:")) {
                assert!(
                    res.contains(&format!("{s}Queue")) || res.contains(&format!("{s}Dlq")),
                    "{id}: {res}"
                );
            }
        }
    }
}

#[test]
fn one_rule_per_job_kind_routes_to_the_owning_workers_queue() {
    let t = template();
    for kind in Kind::ALL {
        let rules: Vec<(String, Vec<String>)> = resources(&t)
            .iter()
            .filter(|(_, r)| {
                strings(&r["Properties"]["EventPattern"]["detail-type"])
                    .contains(&kind.detail_type().to_owned())
            })
            .map(|(id, r)| {
                (
                    id.as_str().unwrap_or_default().to_owned(),
                    strings(&r["Properties"]["Targets"][0]["Arn"]),
                )
            })
            .collect();
        match kind.worker() {
            None => assert!(
                rules.is_empty(),
                "outcome kind {kind} must reach no queue: {rules:?}"
            ),
            Some(w) => {
                assert_eq!(rules.len(), 1, "{kind}: rules {rules:?}");
                assert_eq!(
                    rules[0].1,
                    [format!("{}Queue.Arn", w.stem())],
                    "{kind} routes elsewhere"
                );
            }
        }
    }
}

#[test]
fn schedule_inputs_are_typed_requests_for_the_worker_of_their_queue() {
    let t = template();
    let params = t["Parameters"].as_mapping().expect("Parameters");
    let mut seen = Vec::new();
    for (name, res) in resources(&t) {
        let name = name.as_str().unwrap_or_default();
        let props = &res["Properties"];
        if res["Type"].as_str() != Some("AWS::Events::Rule")
            || props.get("ScheduleExpression").is_none()
        {
            continue;
        }
        let target = &props["Targets"][0];
        let queue = strings(&target["Arn"]).join(".");
        let w = Worker::ALL
            .into_iter()
            .find(|w| queue == format!("{}Queue.Arn", w.stem()))
            .unwrap_or_else(|| panic!("{name}: targets {queue}, not a worker queue"));
        let text = match untag(&target["Input"]) {
            Value::String(s) => s.clone(),
            Value::Sequence(parts) => parts[0].as_str().expect("Sub string").to_owned(),
            other => panic!("{name}: unexpected Input {other:?}"),
        };
        // Decoded by the real decoder, as the worker will on delivery. Sub variables that are
        // not parameters (e.g. the backup's `${Table}`) become a plausible resource name;
        // target lists, empty by default (no schedule), an example.
        let input = substitute(&text, params, |name| match name {
            "CacheTargetsJson" => r#"[{"type": "http", "url": "https://a.example.com/"}]"#.into(),
            n if n.ends_with("TargetsJson") => r#"[{"function": "api", "concurrency": 2}]"#.into(),
            n => format!("stoker-{}", n.to_lowercase()),
        });
        let delivery = Delivery {
            message_id: Some("0b6c7f1e-7c43-4b4f-9d0e-2f5a3b1c9d8e"),
            sent_at: None,
        };
        let event = decode(&input, &delivery).unwrap_or_else(|e| panic!("{name}: {e}: {input}"));
        assert_eq!(
            event.meta.kind.worker(),
            Some(w),
            "{name}: schedule input {input}"
        );
        assert_eq!(event.meta.shape, Shape::ScheduleInput);
        assert_eq!(event.meta.source, stoker_events::SOURCE_SCHEDULE);
        seen.push(w);
    }
    for w in Worker::ALL {
        assert!(seen.contains(&w), "{w} has no schedule");
    }
    assert!(
        seen.iter().filter(|w| **w == Worker::Warmup).count() >= 2,
        "peak and baseline warm-ups"
    );
}

#[test]
fn dashboard_body_is_json_covering_every_queue_and_alarm() {
    let t = template();
    let body = untag(&resources(&t)["Dashboard"]["Properties"]["DashboardBody"]);
    let body = substitute(
        body.as_str().expect("Sub string"),
        &Mapping::new(),
        |name| format!("<{name}>"),
    );
    let json: Json = serde_json::from_str(&body).expect("dashboard body is JSON");
    let widgets = json["widgets"].as_array().expect("widgets");
    assert!(widgets.len() >= 4);
    for w in Worker::ALL {
        for res in ["Queue", "Dlq", "DlqAlarm", "ErrorsAlarm"] {
            assert!(
                body.contains(&format!("<{}{res}.", w.stem())),
                "dashboard misses {w} {res}"
            );
        }
        assert!(
            body.contains(&format!("\"{}\"", w.name())),
            "dashboard misses {w} job metrics"
        );
    }
}

#[test]
fn outputs_name_every_resource_code_needs() {
    let t = template();
    let outputs = t["Outputs"].as_mapping().expect("Outputs");
    let mut keys = vec![
        "BusName".to_owned(),
        "OpsTableName".into(),
        "ExportBucketName".into(),
        "AlarmTopicArn".into(),
    ];
    for w in Worker::ALL {
        for s in ["QueueUrl", "DlqUrl", "RoleArn", "ScheduleRuleName"] {
            keys.push(format!("{}{s}", w.stem()));
        }
    }
    for k in keys {
        assert!(outputs.contains_key(k.as_str()), "no output {k}");
    }
}

/// Replaces `${Name}` by the parameter's default when it has one, else by `unknown(Name)`.
fn substitute(text: &str, params: &Mapping, unknown: impl Fn(&str) -> String) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("${") {
        out.push_str(&rest[..i]);
        let end = rest[i..].find('}').expect("closing brace") + i;
        let name = &rest[i + 2..end];
        // A parameter's default, a string or a number (`Type: Number`).
        let default = params.get(name).and_then(|p| match &p["Default"] {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        });
        match default.filter(|d| !d.is_empty()) {
            Some(d) => out.push_str(&d),
            None => out.push_str(&unknown(name)),
        }
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

fn repo() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `python3 infra/generate.py <arg>`.
fn generate(arg: &str) -> std::process::Output {
    std::process::Command::new("python3")
        .arg(repo().join("infra/generate.py"))
        .arg(arg)
        .output()
        .unwrap_or_else(|e| panic!("run python3 infra/generate.py {arg}: {e}"))
}

/// The template is generated from infra/src/ (the per-worker block written once) and committed:
/// it must be what the generator makes of its sources.
#[test]
fn the_template_is_what_infra_generate_makes_of_infra_src() {
    let out = generate("--check");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// stoker-events' catalog and infra/src/workers/ name the same workers, in the same order,
/// with the same stems and timeouts (the scripts list the workers from infra, the code from
/// the catalog).
#[test]
fn the_events_catalog_and_infra_src_agree_on_every_worker() {
    let out = generate("--workers");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    let catalog: Vec<&str> = Worker::ALL.iter().map(|w| w.name()).collect();
    assert_eq!(
        listed, catalog,
        "the workers of infra/src/workers/ (by order) and of the catalog"
    );
    for w in Worker::ALL {
        let file = repo().join(format!("infra/src/workers/{}.yaml", w.name()));
        let text = std::fs::read_to_string(&file).expect("the worker's infra file");
        let setting = |key: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(&format!("{key}:")))
                .map(|v| v.trim().to_owned())
        };
        assert_eq!(setting("stem").as_deref(), Some(w.stem()), "{w}: stem");
        assert_eq!(
            setting("timeout"),
            Some(w.timeout_secs().to_string()),
            "{w}: timeout"
        );
    }
}

/// A new worker is found where the workspace, `stoker run` and the builds look (the five
/// files of docs/adding-a-worker.md): its crate under `workers/<name>/` with the binary
/// `stoker-<name>` (which `stoker run` starts), its `infra/src/workers/<name>.yaml` (checked
/// above) and an example of each of its kinds; and `stoker run` names no worker itself.
#[test]
fn every_worker_is_found_where_stoker_run_and_the_builds_look() {
    for w in Worker::ALL {
        let krate = repo().join("workers").join(w.name());
        let manifest = std::fs::read_to_string(krate.join("Cargo.toml"))
            .unwrap_or_else(|e| panic!("{w}: workers/{}/Cargo.toml: {e}", w.name()));
        let bin = manifest
            .split("[[bin]]")
            .nth(1)
            .and_then(|b| b.lines().find_map(|l| l.trim().strip_prefix("name = ")))
            .map(|n| n.trim_matches('"').to_owned());
        assert_eq!(bin, Some(format!("stoker-{}", w.name())), "{w}: its binary");
        for f in ["src/lib.rs", "src/main.rs"] {
            assert!(krate.join(f).is_file(), "{w}: workers/{}/{f}", w.name());
        }
        for k in Kind::ALL.into_iter().filter(|k| k.worker() == Some(w)) {
            let example = repo().join(format!("schemas/examples/{}.json", k.detail_type()));
            assert!(example.is_file(), "{w}: {}", example.display());
        }
    }
    let run = std::fs::read_to_string(repo().join("cli/src/run.rs")).expect("cli/src/run.rs");
    for w in Worker::ALL {
        let named = format!("Worker::{w:?}");
        assert!(
            !run.contains(&named),
            "stoker run names {named}: it takes Worker::ALL"
        );
    }
    let cli = std::fs::read_to_string(repo().join("cli/Cargo.toml")).expect("cli/Cargo.toml");
    for w in ["warmup", "cache-warmer", "backup", "rollup"] {
        assert!(
            !cli.contains(&format!("stoker-{w}")),
            "the CLI depends on stoker-{w}, which it no longer needs to run it"
        );
    }
}

/// The readiness worker finds the stack's alarms by name (`<stack>-<worker>-*`, one prefix per
/// worker): every alarm of the template is named so, and every worker has some.
#[test]
fn every_alarm_is_named_after_the_stack_and_a_worker() {
    let t = template();
    let mut per_worker: std::collections::HashMap<&str, usize> = Default::default();
    for (id, r) in resources(&t) {
        if r["Type"].as_str() != Some("AWS::CloudWatch::Alarm") {
            continue;
        }
        let name = untag(&r["Properties"]["AlarmName"])
            .as_str()
            .unwrap_or_else(|| panic!("{id:?}: AlarmName is not a !Sub string"));
        let rest = name
            .strip_prefix("${AWS::StackName}-")
            .unwrap_or_else(|| panic!("{id:?}: {name} does not start with the stack's name"));
        let worker = Worker::ALL
            .iter()
            .map(|w| w.name())
            .filter(|w| rest.starts_with(&format!("{w}-")))
            .max_by_key(|w| w.len())
            .unwrap_or_else(|| panic!("{id:?}: {name} names no worker after the stack"));
        *per_worker.entry(worker).or_default() += 1;
    }
    for w in Worker::ALL {
        assert!(
            per_worker.get(w.name()).is_some_and(|n| *n >= 2),
            "{w}: fewer than 2 alarms ({per_worker:?})"
        );
    }
}

/// The alarms the seeds name, per worker, with the seeds' numbers as the parameters' defaults:
/// queue depth > 100 (5 minutes), Lambda throttles > 10 in a minute, a cold start > 1 s (from
/// the REPORT lines, through a metric filter), and the cost per job.
#[test]
fn every_worker_has_the_seeds_alarms_with_the_seeds_numbers() {
    let t = template();
    let r = resources(&t);
    let default = |param: &str| -> f64 {
        let v = &t["Parameters"][param]["Default"];
        v.as_f64()
            .or_else(|| v.as_u64().map(|n| n as f64))
            .unwrap_or_else(|| panic!("parameter {param} has no numeric default"))
    };
    let alarm = |id: &str| -> &Value {
        &r.get(id).unwrap_or_else(|| panic!("no resource {id}"))["Properties"]
    };
    let threshold = |a: &Value| {
        untag(&a["Threshold"])
            .as_str()
            .map(str::to_owned)
            .unwrap_or_default()
    };
    // Every seed number is "more than N".
    let above = |a: &Value| a["ComparisonOperator"].as_str() == Some("GreaterThanThreshold");
    for w in Worker::ALL {
        let stem = w.stem();
        let depth = alarm(&format!("{stem}QueueDepthAlarm"));
        assert!(above(depth), "{stem}");
        assert_eq!(depth["Namespace"].as_str(), Some("AWS/SQS"));
        assert_eq!(
            depth["MetricName"].as_str(),
            Some("ApproximateNumberOfMessagesVisible")
        );
        assert_eq!(depth["Statistic"].as_str(), Some("Maximum"));
        assert_eq!(depth["Period"].as_u64(), Some(300));
        assert_eq!(threshold(depth), "QueueDepthAlarm");
        let critical = alarm(&format!("{stem}QueueDepthCriticalAlarm"));
        assert_eq!(critical["MetricName"], depth["MetricName"]);
        assert_eq!(critical["Dimensions"], depth["Dimensions"]);
        assert_eq!(critical["Statistic"].as_str(), Some("Maximum"));
        assert_eq!(critical["Period"].as_u64(), Some(300));
        assert_eq!(
            critical["EvaluationPeriods"].as_u64(),
            Some(3),
            "15 minutes"
        );
        assert!(above(critical), "{stem}");
        assert_eq!(threshold(critical), "QueueDepthCriticalAlarm");
        let throttles = alarm(&format!("{stem}ThrottlesAlarm"));
        assert_eq!(throttles["Namespace"].as_str(), Some("AWS/Lambda"));
        assert_eq!(throttles["MetricName"].as_str(), Some("Throttles"));
        assert_eq!(throttles["Statistic"].as_str(), Some("Sum"));
        assert_eq!(throttles["Period"].as_u64(), Some(60), "per minute");
        assert_eq!(throttles["EvaluationPeriods"].as_u64(), Some(1));
        assert_eq!(
            throttles["Dimensions"][0]["Name"].as_str(),
            Some("FunctionName")
        );
        assert!(above(throttles), "{stem}");
        assert_eq!(threshold(throttles), "ThrottlesAlarmPerMinute");
        let cold = alarm(&format!("{stem}ColdStartAlarm"));
        assert_eq!(
            cold["MetricName"].as_str(),
            Some(format!("{stem}InitDuration").as_str())
        );
        assert_eq!(cold["Statistic"].as_str(), Some("Maximum"));
        assert_eq!(cold["Period"].as_u64(), Some(300));
        assert_eq!(cold["EvaluationPeriods"].as_u64(), Some(1));
        assert!(above(cold), "{stem}");
        assert_eq!(threshold(cold), "ColdStartAlarmMs");
        let filter = alarm(&format!("{stem}InitDurationFilter"));
        let transform = &filter["MetricTransformations"][0];
        assert_eq!(transform["MetricName"], cold["MetricName"]);
        assert_eq!(transform["MetricNamespace"], cold["Namespace"]);
        assert_eq!(
            init_of(
                filter["FilterPattern"].as_str().expect("pattern"),
                transform["MetricValue"].as_str().expect("value")
            ),
            Some("1520.50".to_owned()),
            "the pattern's fields line up with a REPORT line's words"
        );
        let cost = alarm(&format!("{stem}CostAlarm"));
        assert_eq!(cost["MetricName"].as_str(), Some("JobCost"));
        assert_eq!(cost["Statistic"].as_str(), Some("Average"));
        assert_eq!(threshold(cost), "CostPerJobAlarmUsd");
    }
    // Cost per 1,000 invocations of the warmed functions, as readiness measures it (its
    // hourly figure, the worst of the hour); readiness's own limit is the alarm's.
    let warmed = alarm("ReadinessCostPerWarmedInvocationsAlarm");
    assert_eq!(warmed["Statistic"].as_str(), Some("Maximum"));
    assert_eq!(
        warmed["ComparisonOperator"].as_str(),
        Some("GreaterThanThreshold")
    );
    assert_eq!(
        warmed["MetricName"].as_str(),
        Some("CostPer1000WarmedInvocations")
    );
    assert_eq!(warmed["Dimensions"][0]["Value"].as_str(), Some("readiness"));
    assert_eq!(warmed["Period"].as_u64(), Some(3600));
    assert_eq!(threshold(warmed), "CostPer1000InvocationsAlarmUsd");
    let readiness_env = &alarm("ReadinessFunction")["Environment"]["Variables"]["STOKER_MAX_USD_PER_1000_INVOCATIONS"];
    assert_eq!(
        untag(readiness_env).as_str(),
        Some("CostPer1000InvocationsAlarmUsd"),
        "readiness's cost.per_use warns at its alarm's threshold"
    );
    // p95 > 300 ms (warning) and its critical level: the rollup's WorstP95Ms.
    for (id, param, periods) in [
        ("RollupP95WarningAlarm", "P95AlarmMs", 1),
        ("RollupP95CriticalAlarm", "P95CriticalAlarmMs", 2),
    ] {
        let p95 = alarm(id);
        assert_eq!(p95["MetricName"].as_str(), Some("WorstP95Ms"), "{id}");
        assert_eq!(
            untag(&p95["Namespace"]).as_str(),
            Some("RollupOutputNamespace")
        );
        assert_eq!(p95["Statistic"].as_str(), Some("Maximum"), "{id}");
        assert_eq!(p95["Period"].as_u64(), Some(300), "{id}");
        assert_eq!(p95["EvaluationPeriods"].as_u64(), Some(periods), "{id}");
        assert!(above(p95), "{id}");
        assert_eq!(threshold(p95), param);
    }
    // DynamoDB throttling of the ops table, both levels: reads plus writes.
    for (id, param, period, periods) in [
        (
            "OpsTableThrottlesWarningAlarm",
            "TableThrottlesAlarm",
            300,
            1,
        ),
        (
            "OpsTableThrottlesCriticalAlarm",
            "TableThrottlesCriticalAlarmPerMinute",
            60,
            3,
        ),
    ] {
        let a = alarm(id);
        assert!(above(a), "{id}");
        assert_eq!(a["EvaluationPeriods"].as_u64(), Some(periods), "{id}");
        let metrics = a["Metrics"].as_sequence().expect("metric math");
        let mut read: Vec<&str> = metrics
            .iter()
            .filter_map(|m| {
                let stat = &m["MetricStat"];
                assert_eq!(stat["Stat"].as_str().unwrap_or("Sum"), "Sum", "{id}");
                if !stat.is_null() {
                    assert_eq!(stat["Period"].as_u64(), Some(period), "{id}");
                    assert_eq!(
                        untag(&stat["Metric"]["Dimensions"][0]["Value"]).as_str(),
                        Some("OpsTable")
                    );
                }
                stat["Metric"]["MetricName"].as_str()
            })
            .collect();
        read.sort_unstable();
        assert_eq!(read, ["ReadThrottleEvents", "WriteThrottleEvents"], "{id}");
        assert_eq!(threshold(a), param);
    }
    assert_eq!(default("P95AlarmMs"), 300.0, "the seeds' p95");
    assert!(default("P95CriticalAlarmMs") > default("P95AlarmMs"));
    assert!(default("QueueDepthCriticalAlarm") > default("QueueDepthAlarm"));
    assert_eq!(default("TableThrottlesAlarm"), 0.0, "any throttling warns");
    assert_eq!(default("QueueDepthAlarm"), 100.0);
    assert_eq!(default("ThrottlesAlarmPerMinute"), 10.0);
    assert_eq!(default("ColdStartAlarmMs"), 1000.0);
    assert_eq!(default("TableThrottlesCriticalAlarmPerMinute"), 10.0);
    // Readiness's no-go alarm: any failed check of the stack's verdict.
    let no_go = alarm("ReadinessNoGoAlarm");
    assert_eq!(no_go["MetricName"].as_str(), Some("ReadinessChecksFailed"));
    assert_eq!(no_go["Dimensions"][0]["Value"].as_str(), Some("readiness"));
    assert_eq!(no_go["Statistic"].as_str(), Some("Maximum"));
    assert_eq!(no_go["Period"].as_u64(), Some(900), "15 minutes");
    assert_eq!(no_go["EvaluationPeriods"].as_u64(), Some(1));
    assert_eq!(threshold(no_go), "");
    assert_eq!(no_go["Threshold"].as_f64(), Some(0.0));
    assert!(above(no_go));
    assert!(default("CostPerJobAlarmUsd") > 0.0);
}

/// What a space-delimited filter pattern's `value` field (`$init`) takes from a cold start's
/// REPORT line: its literal fields must equal the line's words in order (the emulators do not
/// evaluate metric filters, so this checks the positions).
fn init_of(pattern: &str, value: &str) -> Option<String> {
    let line = "REPORT RequestId: 3f5a\tDuration: 12.34 ms\tBilled Duration: 13 ms\tMemory Size: 128 MB\tMax Memory Used: 57 MB\tInit Duration: 1520.50 ms\t";
    let words: Vec<&str> = line.split_whitespace().collect();
    let fields: Vec<&str> = pattern
        .trim_start_matches('[')
        .trim_end_matches(']')
        .split(',')
        .map(str::trim)
        .collect();
    let wanted = value.trim_start_matches('$');
    let mut found = None;
    for (i, f) in fields.iter().enumerate() {
        if *f == "..." {
            break;
        }
        let word = words.get(i)?;
        match f.split_once('=') {
            Some((_, literal)) if literal.trim_matches('"') != *word => return None,
            Some(_) => {}
            None if *f == wanted => found = Some((*word).to_owned()),
            None => {}
        }
    }
    found
}
