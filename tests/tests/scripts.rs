//! The emulator scripts fail with a clear error and a fix, not a stack trace.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../localstack")
        .join(name)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_python_older_than_3_12_is_refused_with_a_fix() {
    let home = std::env::temp_dir().join(stoker_it::unique("home"));
    let out = Command::new(script("install"))
        .env("STOKER_HOME", &home)
        .env("STOKER_PYTHON", "/bin/false")
        .output()
        .expect("run install");
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("STOKER_PYTHON=/bin/false is not a Python >= 3.12"),
        "{err}"
    );
    assert!(err.contains("fix:"), "{err}");
    assert!(
        !home.join("venv-localstack").exists(),
        "nothing is installed after the refusal"
    );
}

#[test]
fn a_taken_port_is_named_with_a_fix() {
    // Something that is not LocalStack listens on the port `up` is told to use.
    let squatter = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = squatter.local_addr().expect("addr").port();
    let out = Command::new(script("up"))
        .env("STOKER_LOCALSTACK_PORT", port.to_string())
        .output()
        .expect("run up");
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains(&format!("port {port} is taken")), "{err}");
    assert!(err.contains("STOKER_LOCALSTACK_PORT"), "{err}");
}

#[test]
fn health_reports_an_emulator_that_does_not_answer() {
    let unused = TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let out = Command::new(script("health"))
        .env("STOKER_LOCALSTACK_PORT", unused.to_string())
        .output()
        .expect("run health");
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains(&format!(
        "LocalStack not answering at http://127.0.0.1:{unused}"
    )));
}
