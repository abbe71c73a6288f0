//! Shared by the cache-warmer's binary tests: a private redis-server started with extra
//! arguments (a password, TLS), and the worker binary with its stdout and stderr kept.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use stoker_it::kit::{KitEnv, WorkerProcess};
use stoker_it::{poll, unique, workspace_bin};

/// A free loopback port.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A private redis-server, killed when dropped.
#[derive(Debug)]
pub struct PrivateRedis {
    pub port: u16,
    child: Child,
}

impl PrivateRedis {
    /// Listens on `port` (plain, or TLS when `args` hold `--tls-port`).
    pub async fn start(port: u16, args: &[&str]) -> PrivateRedis {
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(args)
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server (installed by ./localstack/install)");
        let addr = format!("127.0.0.1:{port}");
        let up = poll(Duration::from_secs(5), Duration::from_millis(50), || {
            let addr = addr.clone();
            async move { tokio::net::TcpStream::connect(addr).await.ok().map(|_| ()) }
        })
        .await;
        assert!(
            up.is_some(),
            "redis-server did not listen on {addr} within 5 s"
        );
        PrivateRedis { port, child }
    }

    /// A plain redis-server on a free port that requires `password`.
    pub async fn with_password(password: &str) -> PrivateRedis {
        let port = free_port();
        Self::start(
            port,
            &["--port", &port.to_string(), "--requirepass", password],
        )
        .await
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The cache-warmer binary for `env`, its stdout and stderr written to files.
#[derive(Debug)]
pub struct LoggedWorker {
    pub process: WorkerProcess,
    pub stdout: PathBuf,
    pub stderr: PathBuf,
}

impl LoggedWorker {
    /// Starts the worker with `extra` set and `removed` unset (on top of the test's own
    /// environment and `env`'s queue, DLQ and table).
    pub fn spawn(env: &KitEnv, extra: &[(&str, &str)], removed: &[&str]) -> LoggedWorker {
        let dir = std::env::temp_dir().join(unique("cachelog"));
        std::fs::create_dir_all(&dir).expect("log dir");
        let (stdout, stderr) = (dir.join("stdout"), dir.join("stderr"));
        let mut cmd = Command::new(workspace_bin("stoker-cache-warmer"));
        cmd.envs(env.worker_env())
            .stdout(std::fs::File::create(&stdout).expect("stdout file"))
            .stderr(std::fs::File::create(&stderr).expect("stderr file"));
        for k in removed {
            cmd.env_remove(k);
        }
        for (k, v) in extra {
            cmd.env(k, v);
        }
        LoggedWorker {
            process: WorkerProcess(cmd.spawn().expect("spawn the worker")),
            stdout,
            stderr,
        }
    }

    /// Kills the worker (its output stays readable).
    pub fn stop(&mut self) {
        let _ = self.process.0.kill();
        let _ = self.process.0.wait();
    }

    /// Everything the worker printed so far.
    pub fn output(&self) -> String {
        let read = |p: &PathBuf| std::fs::read_to_string(p).unwrap_or_default();
        format!("{}\n{}", read(&self.stdout), read(&self.stderr))
    }

    /// Waits for the worker to exit (a start-up failure); its exit status.
    pub async fn exit(&mut self, within: Duration) -> std::process::ExitStatus {
        let proc = &mut self.process;
        let status = poll(within, Duration::from_millis(100), || {
            let s = proc.0.try_wait().ok().flatten();
            async move { s }
        })
        .await;
        status.unwrap_or_else(|| panic!("the worker still runs after {within:?}"))
    }
}
