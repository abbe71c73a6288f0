//! `./scripts/bench-cache [KEYS]` (default 10,000)
//!
//! The cache-warmer's benchmark, in one run: KEYS Redis keys warmed from a local HTTP source
//! (one key per id of a list, each value fetched from the source) into a private redis-server,
//! pipelined and not; next to a plain SET loop and a pipelined SET loop on the same server.

use std::time::Instant;

use serde_json::json;
use stoker_cache_warmer::{CacheConfig, CacheWarmer};
use stoker_events::payload::cache::CacheWarmRequest;
use stoker_it::http::{RedisServer, TestServer};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let keys: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(10_000);
    let sdk = stoker_it::emulator().await;
    let redis = RedisServer::start().await;
    let ids: Vec<usize> = (0..keys).collect();
    let list = serde_json::to_string(&ids)?;
    let src = TestServer::start(move |path| match path {
        "/ids" => (200, list.clone()),
        p => (
            200,
            json!({ "id": &p[6..], "name": "item", "price": 4.5 }).to_string(),
        ),
    })
    .await;
    let client = redis::Client::open(redis.url.as_str())?;
    let mut conn = client.get_multiplexed_async_connection().await?;
    let value = json!({ "id": "0", "name": "item", "price": 4.5 }).to_string();

    let t = Instant::now();
    for i in 0..keys {
        redis::cmd("SET")
            .arg(format!("plain:{i}"))
            .arg(&value)
            .arg("EX")
            .arg(600)
            .query_async::<()>(&mut conn)
            .await?;
    }
    let plain = keys as f64 / t.elapsed().as_secs_f64();
    let t = Instant::now();
    for chunk in (0..keys).collect::<Vec<_>>().chunks(500) {
        let mut pipe = redis::pipe();
        for i in chunk {
            pipe.cmd("SET")
                .arg(format!("piped:{i}"))
                .arg(&value)
                .arg("EX")
                .arg(600)
                .ignore();
        }
        pipe.query_async::<()>(&mut conn).await?;
    }
    let piped = keys as f64 / t.elapsed().as_secs_f64();

    let req: CacheWarmRequest = serde_json::from_value(json!({ "concurrency": 64, "targets": [
        { "type": "redis", "key": "item:{id}", "ttl_class": "menu_items",
          "source": { "type": "http", "url": src.url("/item/{id}") },
          "expand": { "source": { "type": "http", "url": src.url("/ids") }, "max_keys": keys } } ]}))?;
    let mut rows = Vec::new();
    for pipeline in [500, 1] {
        let config = CacheConfig {
            allow_private_networks: true, // the source and Redis are on loopback
            pipeline,
            ..CacheConfig::new(redis.url.as_str(), &["127.0.0.1"])
        };
        let w = CacheWarmer::new(&sdk, config).map_err(anyhow::Error::msg)?;
        let t = Instant::now();
        let r = w.warm(&req).await?;
        let s = t.elapsed().as_secs_f64();
        anyhow::ensure!(
            r.keys_warmed as usize == keys,
            "warmed {} of {keys}",
            r.keys_warmed
        );
        rows.push((
            pipeline,
            keys as f64 / s,
            r.redis_round_trips as f64 / keys as f64,
            s,
        ));
    }
    println!(
        "cache-warmer benchmark: {keys} keys, values fetched from a local HTTP source (64 at once), private redis-server"
    );
    println!();
    println!("| run | keys/s | Redis round trips per key |");
    println!("|---|---:|---:|");
    println!("| baseline: plain SET loop (values in memory) | {plain:.0} | 1.000 |");
    println!("| baseline: pipelined SET, 500 per trip (values in memory) | {piped:.0} | 0.002 |");
    for (p, rate, trips, s) in rows {
        println!("| stoker warm, fetch + SET, pipeline {p} ({s:.2} s) | {rate:.0} | {trips:.3} |");
    }
    Ok(())
}
