//! A tiny HTTP/1.1 server on a free loopback port, for tests that need an HTTP source: each
//! path answers what a closure says, and requests are counted per path.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

type Route = dyn Fn(&str) -> (u16, String) + Send + Sync;

/// A running server; stops when dropped.
#[derive(Clone)]
pub struct TestServer {
    pub base: String,
    hits: Arc<Mutex<HashMap<String, u64>>>,
    task: Arc<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for TestServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestServer")
            .field("base", &self.base)
            .finish()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if Arc::strong_count(&self.task) == 1 {
            self.task.abort();
        }
    }
}

impl TestServer {
    /// Serves `route(path) -> (status, JSON body)` on 127.0.0.1.
    pub async fn start(
        route: impl Fn(&str) -> (u16, String) + Send + Sync + 'static,
    ) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let hits: Arc<Mutex<HashMap<String, u64>>> = Arc::default();
        let route: Arc<Route> = Arc::new(route);
        let counted = hits.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let (route, counted) = (route.clone(), counted.clone());
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 8192];
                    let mut got = 0;
                    while !buf[..got].windows(4).any(|w| w == b"\r\n\r\n") {
                        match sock.read(&mut buf[got..]).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => got += n,
                        }
                        if got == buf.len() {
                            return;
                        }
                    }
                    let head = String::from_utf8_lossy(&buf[..got]).into_owned();
                    let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
                    *counted
                        .lock()
                        .expect("hits")
                        .entry(path.clone())
                        .or_default() += 1;
                    let (status, body) = route(&path);
                    let resp = format!(
                        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = sock.write_all(resp.as_bytes()).await;
                    let _ = sock.shutdown().await;
                });
            }
        });
        TestServer {
            base,
            hits,
            task: Arc::new(task),
        }
    }

    /// The URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// How many requests `path` got.
    pub fn hits(&self, path: &str) -> u64 {
        self.hits
            .lock()
            .expect("hits")
            .get(path)
            .copied()
            .unwrap_or(0)
    }
}

/// A private `redis-server` on a free loopback port (for tests that read its global counters);
/// killed when dropped.
#[derive(Debug)]
pub struct RedisServer {
    pub url: String,
    child: std::process::Child,
}

impl RedisServer {
    pub async fn start() -> RedisServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = std::process::Command::new("redis-server")
            .args([
                "--bind",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server (installed by ./localstack/install)");
        let addr = format!("127.0.0.1:{port}");
        let up = crate::poll(
            std::time::Duration::from_secs(5),
            std::time::Duration::from_millis(50),
            || {
                let addr = addr.clone();
                async move { tokio::net::TcpStream::connect(addr).await.ok().map(|_| ()) }
            },
        )
        .await;
        assert!(
            up.is_some(),
            "redis-server did not listen on {addr} within 5 s"
        );
        RedisServer {
            url: format!("redis://{addr}"),
            child,
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
