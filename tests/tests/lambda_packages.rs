//! The Lambda packages `./scripts/build-lambda` makes (issue #17): each worker's bootstrap is an
//! ELF for the stack's architecture and needs at most GLIBC_2.34 (Amazon Linux 2023's), read from
//! the binary's dynamic symbol versions; the check refuses the wrong architecture and a newer
//! glibc.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `scripts/lambda_zip.py check ZIP ARCH`, the check ./scripts/build-lambda and ./scripts/deploy run.
fn check(zip: &Path, arch: &str) -> Output {
    Command::new("python3")
        .arg(repo().join("scripts/lambda_zip.py"))
        .args(["check", zip.to_str().expect("path"), arch])
        .output()
        .expect("run python3 scripts/lambda_zip.py")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn every_worker_package_runs_on_provided_al2023_x86_64() {
    for w in stoker_events::Worker::ALL.map(stoker_events::Worker::name) {
        let zip = repo().join(format!("target/lambda/x86_64/stoker-{w}/bootstrap.zip"));
        assert!(
            zip.exists(),
            "{} is not built: ./scripts/test builds it (./scripts/build-lambda)",
            zip.display()
        );
        let out = check(&zip, "x86_64");
        assert!(out.status.success(), "{w}: {}", text(&out));
        let floor = text(&out);
        let version = floor
            .split("GLIBC_")
            .nth(1)
            .and_then(|v| v.split_whitespace().next())
            .unwrap_or_else(|| panic!("{w}: no glibc floor in {floor}"));
        let minor: u32 = version
            .split('.')
            .nth(1)
            .and_then(|m| m.parse().ok())
            .expect("2.N");
        assert!(minor <= 34, "{w} needs GLIBC_{version}");
        // The same package is refused for the other architecture.
        let wrong = check(&zip, "arm64");
        assert!(
            !wrong.status.success(),
            "{w}: an x86_64 bootstrap passed as arm64"
        );
        assert!(
            text(&wrong).contains("holds a x86_64 bootstrap"),
            "{}",
            text(&wrong)
        );
    }
}

/// A bootstrap linked against this machine's newer glibc (arc4random is from 2.36) is refused.
#[test]
fn a_bootstrap_needing_a_newer_glibc_is_refused() {
    let dir = std::env::temp_dir().join(stoker_it::unique("glibc"));
    std::fs::create_dir_all(&dir).expect("dir");
    let src = dir.join("main.c");
    std::fs::write(
        &src,
        "#include <stdlib.h>\n#include <stdio.h>\nint main(void) { printf(\"%u\\n\", arc4random()); return 0; }\n",
    )
    .expect("source");
    let bin = dir.join("bootstrap");
    let cc = Command::new("cc")
        .arg(&src)
        .arg("-o")
        .arg(&bin)
        .output()
        .expect("run cc");
    assert!(
        cc.status.success(),
        "this machine's glibc has no arc4random (older than 2.36): {}",
        text(&cc)
    );
    let zip = dir.join("bootstrap.zip");
    let packed = Command::new("python3")
        .arg(repo().join("scripts/lambda_zip.py"))
        .args([
            "pack",
            bin.to_str().expect("path"),
            zip.to_str().expect("path"),
        ])
        .output()
        .expect("pack");
    assert!(packed.status.success(), "{}", text(&packed));
    let out = check(&zip, "x86_64");
    assert!(
        !out.status.success(),
        "a GLIBC_2.36 bootstrap passed: {}",
        text(&out)
    );
    assert!(text(&out).contains("needs GLIBC_2.36"), "{}", text(&out));
    let _ = std::fs::remove_dir_all(&dir);
}

/// arm64 needs the aarch64-unknown-linux-gnu Rust target: without it (a `rustup` that lists no
/// installed target), `./scripts/build-lambda --arch arm64` refuses at once with the command that
/// adds it.
#[test]
fn arm64_without_its_rust_target_is_refused_with_the_command_that_adds_it() {
    let dir = std::env::temp_dir().join(stoker_it::unique("rustup"));
    std::fs::create_dir_all(&dir).expect("dir");
    let stub = dir.join("rustup");
    std::fs::write(&stub, "#!/bin/sh\nexit 0\n").expect("stub");
    std::fs::set_permissions(&stub, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    let path = format!(
        "{}:{}",
        dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new(repo().join("scripts/build-lambda"))
        .args(["--arch", "arm64"])
        .env("PATH", &path)
        .output()
        .expect("run ./scripts/build-lambda");
    assert!(!out.status.success(), "arm64 built without its target");
    let said = text(&out);
    assert!(
        said.contains("rustup target add aarch64-unknown-linux-gnu"),
        "{said}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
