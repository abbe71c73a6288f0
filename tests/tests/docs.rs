//! The docs keep themselves honest: every relative link resolves (file and heading), every
//! command in a fenced block marked `runnable` runs (on the emulators, with this build's
//! binaries), the README keeps its outline and links every page of docs/, and every crate
//! carries the metadata a registry shows.

use std::path::{Path, PathBuf};
use std::process::Command;

use stoker_it::awscli::{EVENTS_PAGE, readme_block};
use stoker_it::docs::{Block, blocks, broken, links, markdown_files, repo};
use stoker_it::emulator;

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn shown(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

#[test]
fn every_relative_link_resolves() {
    let root = repo();
    let files = markdown_files(&root);
    assert!(files.len() >= 15, "found only {files:?}");
    let mut problems = Vec::new();
    let mut checked = 0;
    for file in &files {
        for link in links(&read(file)) {
            checked += 1;
            if let Some(why) = broken(file, &link.target) {
                problems.push(format!(
                    "{}:{}: ({}) {why}",
                    shown(&root, file),
                    link.line,
                    link.target
                ));
            }
        }
    }
    assert!(
        checked > 50,
        "only {checked} links found: is the parser broken?"
    );
    assert!(
        problems.is_empty(),
        "broken links:\n{}",
        problems.join("\n")
    );
}

/// This build's binaries (`stoker`, the workers): the directory above the test binary's `deps/`.
fn build_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    exe.parent()
        .and_then(Path::parent)
        .expect("target/<profile>")
        .to_path_buf()
}

/// The runnable blocks of every Markdown file, with where they are.
fn runnable_blocks(root: &Path) -> Vec<(PathBuf, Block)> {
    markdown_files(root)
        .into_iter()
        .flat_map(|f| {
            blocks(&read(&f))
                .into_iter()
                .filter(Block::runnable)
                .map(move |b| (f.clone(), b))
        })
        .collect()
}

#[tokio::test]
async fn every_runnable_block_runs() {
    let _ = emulator().await; // fails with how to start them when they are not up
    let root = repo();
    let bin = build_dir();
    assert!(
        bin.join("stoker").exists(),
        "no {}/stoker: cargo build -p stoker-cli (./scripts/test builds every binary)",
        bin.display()
    );
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let put_events = readme_block();
    let mut ran = 0;
    let mut by_aws_cli_test = 0;
    for (file, block) in runnable_blocks(&root) {
        let at = format!("{}:{}", shown(&root, &file), block.line);
        if shown(&root, &file) == EVENTS_PAGE && block.text.trim_end() == put_events.trim_end() {
            // Publishes to a bus: aws_cli.rs runs it, for every job kind, on a test stack's own bus.
            by_aws_cli_test += 1;
            continue;
        }
        let out = Command::new("bash")
            .arg("-c")
            .arg(format!("set -euo pipefail\n{}", block.text))
            .current_dir(&root)
            .env("PATH", &path)
            .output()
            .expect("bash");
        assert!(
            out.status.success(),
            "{at}: the runnable block failed ({}):\n{}\nstdout:\n{}\nstderr:\n{}",
            out.status,
            block.text,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        ran += 1;
    }
    assert_eq!(
        by_aws_cli_test, 1,
        "{EVENTS_PAGE}'s put-events block must be marked runnable (aws_cli.rs runs it)"
    );
    assert!(
        ran >= 4,
        "only {ran} runnable blocks ran: were their `runnable` marks lost?"
    );
}

#[test]
fn the_readme_keeps_its_outline_and_links_every_page() {
    let root = repo();
    let readme = read(&root.join("README.md"));
    let lines = readme.lines().count();
    assert!(
        lines <= 200,
        "README.md has {lines} lines: keep it an outline (about 150) and move detail into docs/"
    );
    for needed in [
        "```mermaid",
        "./scripts/pipeline",
        "./scripts/test",
        "./scripts/deploy",
        "](docs/deploy.md)",
        "backon",
    ] {
        assert!(readme.contains(needed), "README.md lost {needed:?}");
    }
    // Every page of docs/ is reachable: linked from the README or from docs/workers/README.md.
    let index = read(&root.join("docs/workers/README.md"));
    let linked: Vec<PathBuf> = links(&readme)
        .into_iter()
        .map(|l| root.join(l.target.split('#').next().unwrap_or_default()))
        .chain(
            links(&index)
                .into_iter()
                .map(|l| root.join("docs/workers").join(l.target)),
        )
        .filter_map(|p| p.canonicalize().ok())
        .collect();
    let orphans: Vec<String> = markdown_files(&root.join("docs"))
        .into_iter()
        .filter(|p| !linked.contains(p))
        .map(|p| shown(&root, &p))
        .collect();
    assert!(orphans.is_empty(), "pages no README links: {orphans:?}");
}

#[test]
fn every_crate_has_the_metadata_a_registry_shows() {
    let root = repo();
    let out = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--no-deps",
            "--format-version",
            "1",
            "--offline",
        ])
        .current_dir(&root)
        .output()
        .expect("cargo metadata");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("metadata JSON");
    let packages = meta["packages"].as_array().expect("packages");
    assert!(packages.len() >= 14, "{} packages", packages.len());
    let mut problems = Vec::new();
    for p in packages {
        let name = p["name"].as_str().unwrap_or("?");
        for field in ["description", "license", "repository", "readme"] {
            if p[field].as_str().is_none_or(str::is_empty) {
                problems.push(format!("{name}: no {field}"));
            }
        }
        if let (Some(readme), Some(manifest)) = (p["readme"].as_str(), p["manifest_path"].as_str())
        {
            let path = Path::new(manifest)
                .parent()
                .expect("crate dir")
                .join(readme);
            if !path.exists() {
                problems.push(format!("{name}: readme {} does not exist", path.display()));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
