//! The `stoker` binary end to end against the emulator: a test stack, the test worker on its
//! warm-up queue, and the CLI driving it.

use std::process::{Command, Output};
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Value, json};
use stoker_it::kit::KitEnv;
use stoker_it::{Stack, emulator, wait_for, with_stack};

const STOKER: &str = env!("CARGO_BIN_EXE_stoker");

/// The test worker binary (package stoker-it), built by `cargo nextest run --workspace`.
fn worker_bin() -> String {
    stoker_it::workspace_bin("stoker-testworker")
        .to_string_lossy()
        .into_owned()
}

fn stoker(stack: &str, args: &[&str]) -> Output {
    Command::new(STOKER)
        .arg("--stack")
        .arg(stack)
        .args(args)
        .output()
        .expect("run stoker")
}

/// The line of `worker` in a `--output json` answer listing `workers`.
fn worker_row(answer: &Value, worker: &str) -> Value {
    answer["workers"]
        .as_array()
        .expect("workers")
        .iter()
        .find(|w| w["worker"] == worker)
        .unwrap_or_else(|| panic!("no line for {worker} in {answer}"))
        .clone()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The test worker's view of a deployed stack: its warm-up queue, DLQ and ops table.
fn warmup_env(sdk: &aws_config::SdkConfig, stack: &Stack) -> KitEnv {
    KitEnv {
        sdk: sdk.clone(),
        name: stack.name.clone(),
        queue_url: stack.output("WarmupQueueUrl").to_owned(),
        dlq_url: stack.output("WarmupDlqUrl").to_owned(),
        table: stack.output("OpsTableName").to_owned(),
        max_receive_count: 5, // the stack's MaxReceiveCount default
    }
}

#[test]
fn an_invalid_event_exits_2_naming_the_field_before_any_aws_call() {
    let out = Command::new(STOKER)
        .args([
            "--endpoint-url",
            "http://127.0.0.1:9",
            "publish",
            "stoker.warmup.requested",
        ])
        .args([
            "--payload",
            r#"{"targets": [{"function": "api"}, {"function": "web", "concurrency": 0}]}"#,
        ])
        .output()
        .expect("run stoker");
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("targets[1].concurrency: 0 is below the minimum 1"),
        "{err}"
    );
    assert!(
        err.contains(
            "fix: correct the payload; its schema is schemas/stoker.warmup.requested.json"
        ),
        "{err}"
    );

    let out = Command::new(STOKER)
        .args(["publish", "stoker.nope", "--payload", "{}"])
        .output()
        .expect("run stoker");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("unknown event kind `stoker.nope`"));
}

#[tokio::test]
async fn published_jobs_are_processed_and_status_shows_them() {
    let sdk = emulator().await;
    let sdk2 = sdk.clone();
    with_stack(
        &sdk,
        "cli",
        &[
            ("SchedulesState", "DISABLED"),
            // A warm-up schedule exists only with targets.
            (
                "WarmupTargetsJson",
                r#"[{"function": "it-cli-fn", "concurrency": 1}]"#,
            ),
        ],
        move |stack| async move {
            let env = warmup_env(&sdk2, &stack);
            let _worker = env.spawn_worker(&worker_bin(), &[])?;

            // stoker publish --wait follows the job to its outcome.
            let out = stoker(
                &stack.name,
                &[
                    "publish",
                    "stoker.warmup.requested",
                    "--payload",
                    r#"{"targets": [{"function": "api"}]}"#,
                    "--wait",
                    "--timeout",
                    "60",
                    "--output",
                    "json",
                ],
            );
            assert!(out.status.success(), "{}", text(&out.stderr));
            let lines: Vec<Value> = text(&out.stdout)
                .lines()
                .map(|l| serde_json::from_str(l).expect("JSON line"))
                .collect();
            let id = lines[0]["id"].as_str().expect("event id").to_owned();
            assert_eq!(lines[1]["outcome"], "completed", "{lines:?}");
            assert_eq!(
                lines[1]["requested_by"]
                    .as_str()
                    .map(|r| r.starts_with("operator:")),
                Some(true)
            );

            // The same example file through the plain AWS CLI path is processed the same way:
            // `publish --file schemas/examples/...` takes the payload and mints a fresh id.
            let example = concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../schemas/examples/stoker.warmup.requested.json"
            );
            let out = stoker(
                &stack.name,
                &[
                    "publish",
                    "stoker.warmup.requested",
                    "--file",
                    example,
                    "--wait",
                    "--timeout",
                    "60",
                ],
            );
            assert!(out.status.success(), "{}", text(&out.stderr));
            assert!(
                text(&out.stdout).contains("warmup: completed after"),
                "{}",
                text(&out.stdout)
            );

            // And the plain AWS CLI (docs/events.md's command, no stoker binary) gets the same treatment.
            let response = stoker_it::awscli::publish_example(
                "stoker.warmup.requested",
                stack.output("BusName"),
            );
            let eb_id = response["Entries"][0]["EventId"]
                .as_str()
                .expect("EventId")
                .to_owned();
            wait_for(
                "the AWS CLI published job",
                Duration::from_secs(30),
                || async {
                    env.runs(&eb_id)
                        .await
                        .unwrap_or_default()
                        .iter()
                        .any(|r| r.outcome == stoker_kit::ops::RunOutcome::Completed)
                },
            )
            .await;

            let out = stoker(&stack.name, &["status", "--output", "json"]);
            assert!(out.status.success(), "{}", text(&out.stderr));
            let status: Value = serde_json::from_slice(&out.stdout)?;
            let warmup = worker_row(&status, "warmup");
            assert_eq!(warmup["runs_24h"], 3, "{warmup}");
            assert_eq!(warmup["last_run"]["outcome"], "completed");
            assert_eq!(warmup["dead_letters"], 0);
            assert_eq!(warmup["schedule"]["state"], "DISABLED");
            // The stack's monthly estimate: its jobs' and its idle cost (its alarms, at least).
            let monthly = &status["monthly"];
            assert!(monthly["idle_usd"].as_f64() > Some(0.0), "{monthly}");
            let (jobs, idle) = (monthly["jobs_usd"].as_f64(), monthly["idle_usd"].as_f64());
            let total = monthly["total_usd"].as_f64().expect("total");
            assert!((total - jobs.unwrap_or(0.0) - idle.unwrap_or(0.0)).abs() < 1e-9);
            let runs = env.runs(&id).await?;
            assert_eq!(runs.len(), 1);
            // The run record carries what the job cost: its share of the batched claim and
            // completion at least (DynamoDB), priced per write unit.
            let cost = runs[0].cost.clone().expect("the run record's cost");
            assert!(cost.calls > 0.0, "{cost:?}");
            assert!(cost.by_service["dynamodb"].usd > 0.0, "{cost:?}");
            assert!(warmup["cost_24h_usd"].as_f64() > Some(0.0), "{warmup}");
            assert!(
                warmup["monthly_usd"].as_f64() > warmup["cost_24h_usd"].as_f64(),
                "{warmup}"
            );

            // A function the warm-up worker warmed (its per-function metric, as its EMF line
            // publishes it on AWS), invoked 2,000 times in the window.
            let warmed = format!("{}-api", stack.name);
            let cw = aws_sdk_cloudwatch::Client::new(&sdk2);
            for (namespace, metric, dims, value) in [
                (
                    stoker_kit::emf::DEFAULT_NAMESPACE,
                    "WarmupTargetWarmed",
                    vec![("Worker", "warmup"), ("Function", warmed.as_str())],
                    1.0,
                ),
                (
                    "AWS/Lambda",
                    "Invocations",
                    vec![("FunctionName", warmed.as_str())],
                    2000.0,
                ),
            ] {
                let five_minutes_ago = chrono::Utc::now() - chrono::Duration::minutes(5);
                let mut datum = aws_sdk_cloudwatch::types::MetricDatum::builder()
                    .metric_name(metric)
                    .timestamp(aws_smithy_types::DateTime::from_millis(
                        five_minutes_ago.timestamp_millis(),
                    ))
                    .value(value);
                for (n, v) in dims {
                    datum = datum.dimensions(
                        aws_sdk_cloudwatch::types::Dimension::builder()
                            .name(n)
                            .value(v)
                            .build(),
                    );
                }
                cw.put_metric_data()
                    .namespace(namespace)
                    .metric_data(datum.build())
                    .send()
                    .await?;
            }

            // stoker cost: by worker and service, and the stack's idle cost read from the
            // account (its alarms: every worker has at least its DLQ, errors and cost alarms).
            let out = stoker(&stack.name, &["cost", "--output", "json"]);
            assert!(out.status.success(), "{}", text(&out.stderr));
            let report: Value = serde_json::from_slice(&out.stdout)?;
            let w = worker_row(&report, "warmup");
            assert_eq!(w["runs"], 3, "{w}");
            assert_eq!(w["unpriced_runs"], 0, "{w}");
            assert!(
                w["by_service"]["dynamodb"]["calls"].as_f64() > Some(0.0),
                "{w}"
            );
            assert_eq!(w["usd"], warmup["cost_24h_usd"], "status and cost agree");
            let alarms = report["idle"][0].clone();
            assert!(
                alarms["count"].as_f64() >= Some(3.0 * stoker_events::Worker::ALL.len() as f64),
                "{alarms}"
            );
            assert!(report["monthly_usd"].as_f64() > report["idle_monthly_usd"].as_f64());
            assert!(report["invocations"].as_f64() >= Some(0.0), "{report}");
            let functions = report["warmed_functions"].as_array().expect("warmed");
            assert!(functions.contains(&json!(warmed)), "{report}");
            assert!(
                report["warmed_invocations"].as_f64() >= Some(2000.0),
                "{report}"
            );
            let per_warmed = report["usd_per_1000_warmed_invocations"]
                .as_f64()
                .expect("the cost per 1,000 warmed invocations");
            assert!(per_warmed > 0.0, "{report}");
            let out = stoker(&stack.name, &["cost"]);
            assert!(out.status.success(), "{}", text(&out.stderr));
            assert!(
                text(&out.stdout).contains("Monthly estimate: "),
                "{}",
                text(&out.stdout)
            );

            let out = stoker(&stack.name, &["status"]);
            let table = text(&out.stdout);
            assert!(table.starts_with("WORKER"), "{table}");
            assert_eq!(
                table.lines().count(),
                1 + stoker_events::Worker::ALL.len() + 2,
                "a header, one line per worker, a blank line and the monthly estimate:\n{table}"
            );
            assert!(
                table
                    .lines()
                    .last()
                    .unwrap_or("")
                    .starts_with("Monthly estimate: "),
                "{table}"
            );

            // A reader that stops early (`| head -1`, here `| true`, gone before the first line)
            // ends it quietly with SIGPIPE's code, not with a panic and a backtrace.
            for cmd in ["status", "cost"] {
                let out = Command::new("bash")
                    .arg("-c")
                    .arg(format!(
                        "'{STOKER}' --stack '{}' {cmd} | true; exit ${{PIPESTATUS[0]}}",
                        stack.name
                    ))
                    .output()?;
                let err = text(&out.stderr);
                assert!(!err.contains("panicked"), "{cmd}: {err}");
                assert_eq!(out.status.code(), Some(141), "{cmd}: {err}");
            }
            Ok(())
        },
    )
    .await;
}

#[tokio::test]
async fn dead_letters_are_listed_with_their_reason_and_redriven_to_success() {
    let sdk = emulator().await;
    let sdk2 = sdk.clone();
    with_stack(
        &sdk,
        "clidlq",
        &[("SchedulesState", "DISABLED")],
        move |stack| async move {
            let env = warmup_env(&sdk2, &stack);
            let _worker = env.spawn_worker(&worker_bin(), &[])?;
            let tag = format!("{}-db", stack.name);
            let payload =
                json!({ "targets": [{ "function": "api", "payload": { "requires_fix": tag } }] })
                    .to_string();
            let mut ids = Vec::new();
            for _ in 0..2 {
                let out = stoker(
                    &stack.name,
                    &[
                        "publish",
                        "stoker.warmup.requested",
                        "--payload",
                        &payload,
                        "--output",
                        "json",
                    ],
                );
                assert!(out.status.success(), "{}", text(&out.stderr));
                ids.push(
                    serde_json::from_slice::<Value>(&out.stdout)?["id"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                );
            }

            let mut listed = Value::Null;
            wait_for("the dead letters", Duration::from_secs(30), || {
                let out = stoker(&stack.name, &["dlq", "list", "warmup", "--output", "json"]);
                listed = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
                let n = listed.as_array().map(Vec::len).unwrap_or(0);
                async move { n == 2 }
            })
            .await;
            let dead = &listed[0];
            assert_eq!(dead["code"], "not_fixed");
            assert_eq!(dead["error_kind"], "permanent");
            assert!(
                dead["reason"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("fix it, then redrive"),
                "{dead}"
            );
            // Listing consumed nothing.
            let again: Value = serde_json::from_slice(
                &stoker(&stack.name, &["dlq", "list", "warmup", "--output", "json"]).stdout,
            )?;
            assert_eq!(again.as_array().map(Vec::len), Some(2));

            // The operator fixes the cause, then redrives.
            aws_sdk_dynamodb::Client::new(&sdk2)
                .put_item()
                .table_name(&env.table)
                .item("pk", AttributeValue::S(format!("FIX#{tag}")))
                .item("sk", AttributeValue::S("FIX".into()))
                .send()
                .await?;
            // One by send-then-delete, the rest by SQS's own message move task.
            for args in [
                &["dlq", "redrive", "warmup", "--copy", "--max", "1"][..],
                &["dlq", "redrive", "warmup"][..],
            ] {
                let out = stoker(&stack.name, args);
                assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
                assert!(
                    text(&out.stdout).contains("moved 1 message(s)"),
                    "{args:?}: {}",
                    text(&out.stdout)
                );
                assert!(
                    !text(&out.stderr).contains("falling back"),
                    "{args:?}: {}",
                    text(&out.stderr)
                );
            }
            for id in &ids {
                wait_for(
                    "the redriven jobs to complete",
                    Duration::from_secs(30),
                    || async { env.effects(id).await.unwrap_or(0) == 1 },
                )
                .await;
            }
            let listed: Value = serde_json::from_slice(
                &stoker(&stack.name, &["dlq", "list", "warmup", "--output", "json"]).stdout,
            )?;
            assert_eq!(
                listed.as_array().map(Vec::len),
                Some(0),
                "the DLQ is empty after the redrive"
            );
            Ok(())
        },
    )
    .await;
}

#[test]
fn run_refuses_a_worker_it_does_not_have_with_exit_2() {
    let out = Command::new(STOKER)
        .args([
            "--endpoint-url",
            "http://127.0.0.1:9",
            "run",
            "--workers",
            "rollup,nope",
        ])
        .output()
        .expect("run stoker");
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("no worker named `nope`"), "{err}");
    assert!(
        err.contains("fix: name one of: warmup, cache-warmer, backup, rollup"),
        "{err}"
    );
}

#[tokio::test]
async fn run_processes_jobs_and_stops_cleanly_on_sigterm() {
    let sdk = emulator().await;
    with_stack(
        &sdk,
        "run",
        &[("SchedulesState", "DISABLED")],
        move |stack| async move {
            let mut run = std::process::Command::new(STOKER)
                .args(["--stack", &stack.name, "run", "--workers", "rollup"])
                .env("STOKER_EMF", "off")
                .stderr(std::process::Stdio::piped())
                .spawn()?;
            let example = concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../schemas/examples/stoker.rollup.measurements.json"
            );
            let out = stoker(
                &stack.name,
                &[
                    "publish",
                    "stoker.rollup.measurements",
                    "--file",
                    example,
                    "--wait",
                    "--timeout",
                    "60",
                    "--output",
                    "json",
                ],
            );
            assert!(out.status.success(), "{}", text(&out.stderr));
            let last: Value =
                serde_json::from_str(text(&out.stdout).lines().last().unwrap_or_default())?;
            assert_eq!(last["outcome"], "completed", "{last}");
            // --wait shows the worker's report: the example's two samples and one counter series.
            assert_eq!(last["report"]["series_accepted"], 2, "{last}");
            assert_eq!(last["report"]["published"]["calls"], 1, "{last}");

            nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(run.id() as i32),
                nix::sys::signal::Signal::SIGTERM,
            )?;
            let status =
                stoker_it::poll(Duration::from_secs(20), Duration::from_millis(100), || {
                    let s = run.try_wait().ok().flatten();
                    async move { s }
                })
                .await
                .expect("stoker run stops within 20 s of SIGTERM");
            let mut err = String::new();
            std::io::Read::read_to_string(run.stderr.as_mut().expect("stderr"), &mut err)?;
            assert!(status.success(), "{err}");
            assert!(err.contains("rollup stopped after 1 messages"), "{err}");
            Ok(())
        },
    )
    .await;
}

/// The worker processes `stoker run` started (children of `pid` named `stoker-*`).
fn workers_of(pid: u32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|p| {
            let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).unwrap_or_default();
            // pid (comm) state ppid ...
            let comm = stat.split_once(" (").and_then(|(_, r)| r.rsplit_once(") "));
            comm.is_some_and(|(name, rest)| {
                name.starts_with("stoker-")
                    && rest.split(' ').nth(1) == Some(pid.to_string().as_str())
            })
        })
        .collect()
}

/// Whether process `pid` still runs (a zombie waiting to be reaped does not).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(") ").map(|(_, r)| !r.starts_with('Z')))
        .unwrap_or(false)
}

/// `stoker run` runs each worker as its own binary; a worker that cannot start stops the run
/// (exit 1, naming it) and the others with it; and `stoker run` killed outright (SIGKILL: no
/// chance to stop anything) leaves no worker polling on its own: their stdin closes.
#[tokio::test]
async fn run_stops_its_workers_when_one_cannot_start_or_when_killed() {
    let sdk = emulator().await;
    with_stack(
        &sdk,
        "runk",
        &[("SchedulesState", "DISABLED")],
        move |stack| async move {
            let out = Command::new(STOKER)
                .args([
                    "--stack",
                    &stack.name,
                    "run",
                    "--workers",
                    "rollup,cache-warmer",
                ])
                .env("STOKER_EMF", "off")
                .env_remove("STOKER_REDIS_URL")
                .env_remove("STOKER_REDIS_URL_PARAMETER")
                .output()?;
            let err = text(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{err}");
            assert!(err.contains("stopped with an error: cache-warmer"), "{err}");
            assert!(!err.contains("rollup ("), "rollup stopped cleanly: {err}");
            assert!(err.contains("rollup stopped after 0 messages"), "{err}");

            let mut run = Command::new(STOKER)
                .args(["--stack", &stack.name, "run", "--workers", "rollup,warmup"])
                .env("STOKER_EMF", "off")
                .stderr(std::process::Stdio::null())
                .spawn()?;
            let pid = run.id();
            let workers =
                stoker_it::poll(Duration::from_secs(20), Duration::from_millis(100), || {
                    let w = workers_of(pid);
                    async move { (w.len() == 2).then_some(w) }
                })
                .await
                .expect("stoker run starts two worker processes");
            run.kill()?;
            run.wait()?;
            let gone = stoker_it::poll(Duration::from_secs(30), Duration::from_millis(100), || {
                let left = workers.iter().filter(|p| alive(**p)).count();
                async move { (left == 0).then_some(()) }
            })
            .await;
            assert!(gone.is_some(), "workers {workers:?} outlived stoker run");
            Ok(())
        },
    )
    .await;
}

#[tokio::test]
async fn backup_follows_an_export_and_drill_with_progress_and_prints_the_report() {
    let sdk = emulator().await;
    let sdk2 = sdk.clone();
    with_stack(
        &sdk,
        "bk",
        &[("SchedulesState", "DISABLED")],
        move |stack| async move {
            let table = stoker_it::unique("cli-bk");
            stoker_it::kit::table_with_items(&sdk2, &table, 3000).await;
            let mut run = std::process::Command::new(STOKER)
                .args(["--stack", &stack.name, "run", "--workers", "backup"])
                .env("STOKER_EMF", "off")
                .env("STOKER_BACKUP_TABLE_PREFIX", "it-cli-bk-")
                .stderr(std::process::Stdio::null())
                .spawn()?;
            let out = stoker(
                &stack.name,
                &[
                    "backup",
                    &table,
                    "--mode",
                    "export",
                    "--drill",
                    "--timeout",
                    "120",
                    "--output",
                    "json",
                ],
            );
            let _ = run.kill();
            let err = text(&out.stderr);
            assert!(out.status.success(), "{err}");
            // The restore of 3000 items takes seconds: its progress is shown.
            assert!(
                err.lines()
                    .any(|l| l.starts_with("restoring") && l.contains("/3000 items")),
                "{err}"
            );
            let last: Value =
                serde_json::from_str(text(&out.stdout).lines().last().unwrap_or_default())?;
            assert_eq!(last["outcome"], "completed", "{last}");
            assert_eq!(last["report"]["export"]["items"], 3000, "{last}");
            assert_eq!(last["report"]["drill"]["passed"], true, "{last}");
            // The report's one-line summary, made by the worker, kept with its run record.
            let summary = last["summary"].as_str().unwrap_or_default();
            assert!(
                summary.starts_with("export: 3000 items in")
                    && summary.contains("; drill passed: 3000/3000 items"),
                "{last}"
            );
            let _ = aws_sdk_dynamodb::Client::new(&sdk2)
                .delete_table()
                .table_name(&table)
                .send()
                .await;
            Ok(())
        },
    )
    .await;
}

#[tokio::test]
async fn optimize_sweeps_applies_and_charts_then_rollback_restores_the_function() {
    let sdk = emulator().await;
    let sdk2 = sdk.clone();
    with_stack(
        &sdk,
        "opt",
        &[("SchedulesState", "DISABLED")],
        move |stack| async move {
            let opt_in = [stoker_it::optimizer::OPT_IN];
            let f = stoker_it::optimizer::function(&sdk2, "cli-opt", 1024, 30, &opt_in).await;
            stoker_it::optimizer::seed(&sdk2, &f, 1000.0, 120.0, 2000.0, 200).await;
            let mut run = std::process::Command::new(STOKER)
                .args(["--stack", &stack.name, "run", "--workers", "optimizer"])
                .env("STOKER_EMF", "off")
                .stderr(std::process::Stdio::null())
                .spawn()?;
            let charts = std::env::temp_dir().join(stoker_it::unique("charts"));
            let out = stoker(
                &stack.name,
                &[
                    "optimize",
                    &f,
                    "--apply",
                    "--sweep",
                    "128,256",
                    "--invocations",
                    "2",
                    "--payload",
                    r#"{"name": "cli"}"#,
                    "--strategy",
                    "cost",
                    "--charts",
                    charts.to_str().expect("path"),
                    "--timeout",
                    "120",
                ],
            );
            let _ = run.kill();
            let shown = text(&out.stdout);
            assert!(out.status.success(), "{shown}{}", text(&out.stderr));
            // The sweep picks 128 MB; one pass halves 1024 MB at most (max_change_pct 50), and
            // the timeout too (1.5 x the 2 s longest run would be 3 s).
            let row = shown
                .lines()
                .find(|l| l.starts_with(&f))
                .unwrap_or_else(|| panic!("no row for {f}: {shown}"));
            assert!(
                row.contains("1024 -> 512") && row.contains("30 -> 15"),
                "{row}"
            );
            assert!(row.contains(" yes "), "applied: {row}");
            let svg = std::fs::read_to_string(charts.join(format!("{f}.svg")))?;
            assert_eq!(svg.matches("<rect").count(), 2, "{svg}");
            let c = stoker_it::optimizer::config(&sdk2, &f).await;
            assert_eq!((c.memory_size, c.timeout), (Some(512), Some(15)));

            let back = stoker(&stack.name, &["rollback", &f]);
            assert!(back.status.success(), "{}", text(&back.stderr));
            assert!(
                text(&back.stdout).contains("back to 1024 MB / 30 s (from 512 MB / 15 s)"),
                "{}",
                text(&back.stdout)
            );
            let c = stoker_it::optimizer::config(&sdk2, &f).await;
            assert_eq!((c.memory_size, c.timeout), (Some(1024), Some(30)));
            let again = stoker(&stack.name, &["rollback", &f]);
            assert_eq!(again.status.code(), Some(1), "{}", text(&again.stderr));
            assert!(text(&again.stderr).contains("already rolled back"));
            // A table's auto scaling is undone by name; this stack changed none.
            let table = stoker(&stack.name, &["rollback", "--table", "it-never-scaled"]);
            assert_eq!(table.status.code(), Some(1), "{}", text(&table.stderr));
            assert!(
                text(&table.stderr).contains("no auto-scaling change of table it-never-scaled"),
                "{}",
                text(&table.stderr)
            );
            stoker_it::optimizer::cleanup(&sdk2, &[&f]).await;
            let _ = std::fs::remove_dir_all(&charts);
            Ok(())
        },
    )
    .await;
}

/// `stoker readiness` gates a deploy: exit 1 and the no-go table for the stack's own verdict
/// (its functions are not deployed: this stack runs its workers as processes), exit 0 for a
/// request narrowed to what is healthy, with the report as JSON lines.
#[tokio::test]
async fn readiness_gates_with_its_exit_code() {
    let sdk = emulator().await;
    let sdk2 = sdk.clone();
    with_stack(
        &sdk,
        "rdy",
        &[("SchedulesState", "DISABLED")],
        move |stack| async move {
            let mut run = std::process::Command::new(STOKER)
                .args(["--stack", &stack.name, "run", "--workers", "readiness"])
                .env("STOKER_EMF", "off")
                .stderr(std::process::Stdio::null())
                .spawn()?;
            let out = stoker(&stack.name, &["readiness", "--timeout", "120"]);
            let table = text(&out.stdout);
            assert_eq!(out.status.code(), Some(1), "{table}{}", text(&out.stderr));
            assert!(table.contains("NO-GO"), "{table}");
            assert!(table.contains("function.exists"), "{table}");
            assert!(text(&out.stderr).contains("no-go"), "{}", text(&out.stderr));

            // Healthy: the ops table with an export recorded an hour ago, the warm-up's queue
            // and alarms, and a function deployed under the warm-up's name.
            // (LocalStack's CloudFormation leaves point-in-time recovery off, and LocalStack has
            // no native backups: the recorded export vouches for the table.)
            let ops = stack.output("OpsTableName").to_owned();
            let ddb = aws_sdk_dynamodb::Client::new(&sdk2);
            ddb.update_continuous_backups()
                .table_name(&ops)
                .point_in_time_recovery_specification(
                    aws_sdk_dynamodb::types::PointInTimeRecoverySpecification::builder()
                        .point_in_time_recovery_enabled(true)
                        .build()?,
                )
                .send()
                .await?;
            let at = (chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339();
            ddb.put_item()
                .table_name(&ops)
                .item("pk", AttributeValue::S(format!("BACKUP#{ops}")))
                .item("sk", AttributeValue::S(format!("{at}#export#exp-1")))
                .item("kind", AttributeValue::S("export".into()))
                .item("name", AttributeValue::S("exp-1".into()))
                .send()
                .await?;
            let warmup = format!("{}-warmup", stack.name);
            stoker_it::lambda::deploy_function(&sdk2, &warmup, b"#!/bin/sh\n", &[]).await?;
            let prefix = format!("{warmup}-");
            let out = stoker(
                &stack.name,
                &[
                    "readiness",
                    "--table",
                    &ops,
                    "--queue",
                    &warmup,
                    "--function",
                    &warmup,
                    "--alarm-prefix",
                    &prefix,
                    "--output",
                    "json",
                    "--timeout",
                    "120",
                ],
            );
            let lines = text(&out.stdout);
            assert_eq!(out.status.code(), Some(0), "{lines}{}", text(&out.stderr));
            let last: Value = serde_json::from_str(lines.lines().last().unwrap_or_default())?;
            assert_eq!(last["report"]["go"], true, "{last}");
            assert_eq!(last["report"]["failed"], 0, "{last}");

            // --last asks for nothing: the schedule's newest report only (none yet: exit 3;
            // the operator's narrowed go above never counts), then the one the schedule asked.
            let out = stoker(&stack.name, &["readiness", "--last"]);
            assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
            let out = stoker(
                &stack.name,
                &[
                    "publish",
                    "stoker.readiness.requested",
                    "--payload",
                    "{}",
                    "--requested-by",
                    "schedule:readiness",
                    "--wait",
                    "--timeout",
                    "120",
                ],
            );
            assert!(out.status.success(), "{}", text(&out.stderr));
            let out = stoker(&stack.name, &["readiness", "--last"]);
            let table = text(&out.stdout);
            assert_eq!(out.status.code(), Some(1), "{table}{}", text(&out.stderr));
            assert!(table.starts_with("last report: "), "{table}");
            assert!(table.contains("schedule:readiness"), "{table}");
            assert!(table.contains("NO-GO: "), "{table}");

            let _ = aws_sdk_lambda::Client::new(&sdk2)
                .delete_function()
                .function_name(&warmup)
                .send()
                .await;
            let _ = run.kill();
            let _ = run.wait();
            Ok(())
        },
    )
    .await;
}
