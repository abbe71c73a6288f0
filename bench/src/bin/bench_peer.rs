//! `./scripts/bench-peer [EVENTS]` (default 1000)
//!
//! stoker against its peers, in one run on the same emulator, each on fresh resources of the
//! same design (a queue, its DLQ, a pk/sk table) filled with the same EVENTS test events:
//! - baseline: a raw receive + delete-batch loop with no handler (the emulator's ceiling);
//! - stoker: `peer-stoker` (long-poll driver + idempotency + a handler whose one UpdateItem is
//!   staged), in its own process, claim-first and optimistic, at concurrency 1 and 10;
//! - Powertools for AWS Lambda (Python): BatchProcessor + @idempotent_function around the same
//!   handler (`bench/peers/powertools/peer.py`), driven with the same SQS batches.
//!
//! Prints events/s, CPU seconds per 1,000 events, SQS and DynamoDB calls per event, peak RSS,
//! the side effects found per event (1.00 = exactly once); then cold start (exec -> ready for
//! its first event) of each worker binary under a stub Lambda Runtime API next to the Python
//! peer's start (interpreter + imports + clients), and each worker binary's size.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use stoker_it::bench::{effects, fill, fill_with, raw_loop, run_json};
use stoker_it::kit::KitEnv;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1000);
    let python = std::env::var("STOKER_PEER_PYTHON")
        .map_err(|_| anyhow::anyhow!("STOKER_PEER_PYTHON is not set: run ./scripts/bench-peer"))?;
    let peer_py = concat!(env!("CARGO_MANIFEST_DIR"), "/peers/powertools/peer.py");
    let mut sdk = stoker_it::emulator().await;
    // STOKER_PEER_KEEPALIVE=1: every side keeps its connections alive, as against AWS
    // (LocalStack otherwise closes each one: stoker_it::keep_alive).
    let keep_alive = stoker_it::keep_alive::wanted();
    if keep_alive {
        let http = stoker_it::keep_alive::client(stoker_kit::aws::http_client());
        sdk = stoker_kit::aws::unrecorded_config_loader()
            .http_client(http)
            .load()
            .await;
    }
    let connections = if keep_alive {
        "connections kept alive"
    } else {
        "a new connection per call: LocalStack's Connection: close"
    };
    let dir = std::env::current_exe()?
        .parent()
        .map(std::path::Path::to_path_buf)
        .unwrap_or_default();

    let raw_env = KitEnv::create(&sdk, "peer-raw", 5, false).await?;
    let (raw_rate, raw_sqs) = raw_loop(&raw_env, n).await?;
    raw_env.delete().await;

    let mut rows = Vec::new();
    // The handler's one effect write is staged: it commits with the job's completion.
    // STOKER_PEER_ONLY=claim-first/1 runs that one stoker row alone (then stops);
    // STOKER_PEER_WRAP="perf record -g -o /tmp/peer.perf --" runs peer-stoker under a profiler.
    // STOKER_PEER_BASELINE=<another peer-stoker> runs each stoker row with that build too, right
    // after this one's (an earlier commit's, say), labelled "baseline build".
    let only = std::env::var("STOKER_PEER_ONLY").ok();
    let wrap = std::env::var("STOKER_PEER_WRAP").unwrap_or_default();
    let mut builds = vec![("", dir.join("peer-stoker"))];
    if let Ok(base) = std::env::var("STOKER_PEER_BASELINE") {
        builds.push((", baseline build", base.into()));
    }
    for mode in ["claim-first", "optimistic"] {
        for (concurrency, (build, peer)) in [1, 10]
            .into_iter()
            .flat_map(|c| builds.iter().map(move |b| (c, b)))
        {
            if only
                .as_ref()
                .is_some_and(|o| *o != format!("{mode}/{concurrency}"))
            {
                continue;
            }
            let env = KitEnv::create(&sdk, "peer-stoker", 5, false).await?;
            fill_with(&env, n, serde_json::json!({ "stage": true })).await?;
            let mut words = wrap.split_whitespace();
            let mut cmd = match words.next() {
                Some(w) => {
                    let mut c = Command::new(w);
                    c.args(words).arg(peer);
                    c
                }
                None => Command::new(peer),
            };
            cmd.envs(env.worker_env())
                .env("STOKER_CONCURRENCY", concurrency.to_string())
                .env("STOKER_BENCH_MODE", mode)
                .env("STOKER_BENCH_EVENTS", n.to_string());
            let figures = run_json(cmd)?;
            let effects = effects(&env).await?.1 as f64 / n as f64;
            rows.push((
                format!(
                    "stoker long-poll driver, {mode}, staged effect (concurrency {concurrency}{build})"
                ),
                figures,
                effects,
            ));
            env.delete().await;
        }
    }
    if only.is_some() {
        for (label, f, effects) in &rows {
            println!("{label}: {f} (effects/event {effects:.2})");
        }
        return Ok(());
    }
    let env = KitEnv::create(&sdk, "peer-pt", 5, false).await?;
    fill(&env, n).await?;
    let mut cmd = Command::new(&python);
    cmd.arg(peer_py)
        .env("QUEUE_URL", &env.queue_url)
        .env("TABLE", &env.table)
        .env("BENCH_EVENTS", n.to_string());
    let figures = run_json(cmd)?;
    let once = effects(&env).await?.1 as f64 / n as f64;
    rows.push((
        "Powertools (Python) BatchProcessor + idempotent_function (concurrency 1)".into(),
        figures,
        once,
    ));
    env.delete().await;
    // At concurrency 10, as Lambda runs it: 10 instances (processes) sharing the queue.
    let env = KitEnv::create(&sdk, "peer-pt10", 5, false).await?;
    fill(&env, n).await?;
    let instances: Vec<std::process::Child> = (0..PEER_INSTANCES)
        .map(|_| {
            Command::new(&python)
                .arg(peer_py)
                .envs(env.worker_env())
                .env("QUEUE_URL", &env.queue_url)
                .env("TABLE", &env.table)
                .env("BENCH_EVENTS", n.to_string())
                .env("PEER_DRAIN", "1")
                .stdout(Stdio::piped())
                .spawn()
        })
        .collect::<Result<_, _>>()?;
    let mut each = Vec::new();
    for child in instances {
        let out = child.wait_with_output()?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        anyhow::ensure!(
            out.status.success(),
            "a Powertools instance failed: {stdout}"
        );
        each.push(serde_json::from_str::<serde_json::Value>(
            stdout.lines().last().unwrap_or_default(),
        )?);
    }
    let once = effects(&env).await?.1 as f64 / n as f64;
    rows.push((
        format!("Powertools (Python) BatchProcessor + idempotent_function (concurrency {PEER_INSTANCES}: {PEER_INSTANCES} instances)"),
        together(&each),
        once,
    ));
    env.delete().await;

    println!(
        "\n## Throughput and cost per event ({n} events each, same emulator, same run; {connections})\n"
    );
    println!(
        "| run | events/s | x baseline | x Powertools | CPU s / 1,000 events | SQS calls/event | DynamoDB calls/event | peak RSS MiB | effects/event |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    println!(
        "| baseline: raw receive + delete-batch loop, no handler | {raw_rate:.0} | 1.00 | - | - | {raw_sqs:.2} | 0 | - | - |"
    );
    let rate_of = |f: &serde_json::Value| {
        f["events"].as_f64().unwrap_or(0.0).max(1.0)
            / f["seconds"].as_f64().unwrap_or(0.0).max(1e-9)
    };
    // Each row against the Powertools row of its own concurrency.
    let peer_rate = |concurrency: &str| {
        rows.iter()
            .find(|(l, _, _)| l.starts_with("Powertools") && l.contains(concurrency))
            .map_or(1.0, |(_, f, _)| rate_of(f))
    };
    for (label, f, effects) in &rows {
        let num = |k: &str| f[k].as_f64().unwrap_or(0.0);
        let events = num("events").max(1.0);
        let rate = rate_of(f);
        // "(concurrency 1)" or "(concurrency 1, baseline build)", not "(concurrency 10".
        let peer_rate = if label.contains("(concurrency 1)") || label.contains("(concurrency 1,") {
            peer_rate("(concurrency 1)")
        } else {
            peer_rate(&format!("(concurrency {PEER_INSTANCES}:"))
        };
        println!(
            "| {label} | {rate:.0} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.1} | {effects:.2} |",
            rate / raw_rate,
            rate / peer_rate,
            num("cpu_seconds") * 1000.0 / events,
            num("sqs_calls") / events,
            num("dynamodb_calls") / events,
            num("rss_kib") / 1024.0,
        );
    }

    println!("\n## Cold start: exec -> ready for the first event (median of 10)\n");
    println!("| process | ready ms | binary size MiB |");
    println!("|---|---:|---:|");
    // Every worker of the catalog.
    for w in stoker_events::Worker::ALL.map(|w| format!("stoker-{}", w.name())) {
        let bin = dir.join(&w);
        let size = std::fs::metadata(&bin)?.len() as f64 / 1_048_576.0;
        let ms = median(
            (0..10)
                .map(|_| cold_start(&bin))
                .collect::<anyhow::Result<_>>()?,
        );
        println!("| {w} (Rust, stub Lambda Runtime API) | {ms:.1} | {size:.1} |");
    }
    let mut py = Vec::new();
    for _ in 0..10 {
        let t = Instant::now();
        let out = Command::new(&python).arg(peer_py).arg("--ready").output()?;
        anyhow::ensure!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        py.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    println!(
        "| Powertools peer (python: interpreter + imports + boto3 clients) | {:.1} | - |",
        median(py)
    );
    Ok(())
}

/// Milliseconds from exec of `bin` (as a Lambda, `AWS_LAMBDA_RUNTIME_API` set) to its first
/// `GET /2018-06-01/runtime/invocation/next` on a stub Runtime API.
fn cold_start(bin: &std::path::Path) -> anyhow::Result<f64> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let api = listener.local_addr()?.to_string();
    let started = Instant::now();
    let mut child = Command::new(bin)
        .env("AWS_LAMBDA_RUNTIME_API", &api)
        .env("AWS_LAMBDA_FUNCTION_NAME", "cold")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "cold")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "cold")
        .env("STOKER_QUEUE_URL", "http://127.0.0.1:9/q")
        .env("STOKER_DLQ_URL", "http://127.0.0.1:9/d")
        .env("STOKER_OPS_TABLE", "cold")
        .env("STOKER_STACK", "cold")
        .env("STOKER_BACKUP_TABLE_PREFIX", "cold-")
        .env("STOKER_REDIS_URL", "redis://127.0.0.1:9")
        .env("STOKER_CACHE_ALLOWED_HOSTS", "127.0.0.1")
        .env("STOKER_EMF", "off")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    // A worker that exits at start (a setting missing) must fail the bench, not hang it.
    listener.set_nonblocking(true)?;
    let stream = loop {
        match listener.accept() {
            Ok((stream, _)) => break stream,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if let Some(status) = child.try_wait()? {
                    let mut err = String::new();
                    if let Some(mut e) = child.stderr.take() {
                        let _ = std::io::Read::read_to_string(&mut e, &mut err);
                    }
                    anyhow::bail!(
                        "{} exited ({status}) before asking for an event: {}",
                        bin.display(),
                        err.trim()
                    );
                }
                anyhow::ensure!(
                    started.elapsed() < Duration::from_secs(30),
                    "{} did not ask for an event within 30 s",
                    bin.display()
                );
                std::thread::sleep(Duration::from_micros(200));
            }
            Err(e) => return Err(e.into()),
        }
    };
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut line = String::new();
    BufReader::new(&stream).read_line(&mut line)?;
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    let _ = (&stream).write_all(b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\n\r\n");
    let _ = child.kill();
    let _ = child.wait();
    anyhow::ensure!(
        line.contains("/runtime/invocation/next"),
        "{} asked {line:?} first",
        bin.display()
    );
    Ok(ms)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Powertools instances at the higher concurrency (Lambda runs one batch per instance).
const PEER_INSTANCES: usize = 10;

/// The figures of several instances as one run: events, calls and CPU added up, peak RSS
/// added up (each instance its own memory), the seconds from the first receive of any to the
/// last delete of any.
fn together(each: &[serde_json::Value]) -> serde_json::Value {
    let sum = |k: &str| each.iter().filter_map(|f| f[k].as_f64()).sum::<f64>();
    let first = each
        .iter()
        .filter_map(|f| f["first"].as_f64())
        .fold(f64::INFINITY, f64::min);
    let last = each
        .iter()
        .filter_map(|f| f["last"].as_f64())
        .fold(f64::NEG_INFINITY, f64::max);
    serde_json::json!({
        "events": sum("events"),
        "seconds": (last - first).max(0.0),
        "cpu_seconds": sum("cpu_seconds"),
        "rss_kib": sum("rss_kib"),
        "sqs_calls": sum("sqs_calls"),
        "dynamodb_calls": sum("dynamodb_calls"),
    })
}
