//! The docs keep themselves honest: every relative link resolves (file and heading), every
//! command in a fenced block marked `runnable` runs (on the emulators, with this build's
//! binaries), the README keeps its outline and links every page of docs/, and every crate
//! carries the metadata a registry shows.

use std::path::{Path, PathBuf};
use std::process::Command;

use std::collections::BTreeMap;
use stoker_it::awscli::{EVENTS_PAGE, readme_block};

use stoker_events::Kind;
use stoker_it::docs::{Block, blocks, broken, links, markdown_files, repo, unrun_marks};
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
            if let Some(why) = broken(&root, file, &link.target) {
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

/// Where the runnable blocks are, and how many each page has: a lost `runnable` mark fails.
const RUNNABLE: [(&str, usize); 4] = [
    ("docs/cli.md", 1),
    ("docs/emulators.md", 1),
    ("docs/events.md", 2), // the put-events block (run by aws_cli.rs) and the examples' check
    ("docs/infra.md", 1),
];

/// A block may take longer than this only if it hangs.
const BLOCK_TIMEOUT_SECS: u32 = 120;

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
    let mut marks = Vec::new();
    for file in markdown_files(&root) {
        for (line, text) in unrun_marks(&read(&file)) {
            marks.push(format!("{}:{line}: {text}", shown(&root, &file)));
        }
    }
    assert!(
        marks.is_empty(),
        "marked runnable but not a backtick fence, so never run:\n{}",
        marks.join("\n")
    );
    let found = runnable_blocks(&root);
    let mut per_file: BTreeMap<String, usize> = BTreeMap::new();
    for (file, _) in &found {
        *per_file.entry(shown(&root, file)).or_default() += 1;
    }
    let expected: BTreeMap<String, usize> =
        RUNNABLE.iter().map(|(f, n)| (f.to_string(), *n)).collect();
    assert_eq!(
        per_file, expected,
        "the runnable blocks moved: update RUNNABLE in tests/tests/docs.rs"
    );
    // Only what the reader's shell would have: the blocks set up their own environment.
    let path = format!("{}:/usr/local/bin:/usr/bin:/bin", bin.display());
    let put_events = readme_block();
    for (file, block) in found {
        let at = format!("{}:{}", shown(&root, &file), block.line);
        if shown(&root, &file) == EVENTS_PAGE && block.text.trim_end() == put_events.trim_end() {
            // Publishes to a bus: aws_cli.rs runs it, for every job kind, on a test stack's own bus.
            continue;
        }
        assert!(
            block
                .text
                .lines()
                .filter(|l| l.contains("stoker publish"))
                .all(|l| l.contains("--dry-run")),
            "{at}: a runnable block publishes to the shared stack `stoker` (add --dry-run):\n{}",
            block.text
        );
        let out = Command::new("timeout")
            .arg(BLOCK_TIMEOUT_SECS.to_string())
            .arg("bash")
            .arg("-c")
            .arg(format!("set -euo pipefail\n{}", block.text))
            .current_dir(&root)
            .env_clear()
            .env("HOME", std::env::var("HOME").unwrap_or_default())
            .env("PATH", &path)
            .output()
            .expect("timeout + bash");
        assert!(
            out.status.success(),
            "{at}: the runnable block failed ({}; 124 is the {BLOCK_TIMEOUT_SECS} s timeout):\n{}\nstdout:\n{}\nstderr:\n{}",
            out.status,
            block.text,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
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
    // The job kinds table names every kind a worker takes, once.
    let section = readme
        .split("## Job kinds")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .expect("README has a Job kinds section");
    for kind in Kind::ALL.into_iter().filter(|k| k.worker().is_some()) {
        let row = format!("| `{}` |", kind.detail_type());
        assert_eq!(
            section.matches(&row).count(),
            1,
            "README's job kinds table lacks {row}"
        );
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
    let metadata = |manifest: &str| {
        let out = Command::new(env!("CARGO"))
            .args([
                "metadata",
                "--no-deps",
                "--format-version",
                "1",
                "--offline",
            ])
            .args(["--manifest-path", manifest])
            .current_dir(&root)
            .output()
            .expect("cargo metadata");
        assert!(
            out.status.success(),
            "{manifest}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("metadata JSON");
        meta["packages"].as_array().expect("packages").clone()
    };
    // The workspace's crates, and the fuzz crate (not a member).
    let mut packages = metadata("Cargo.toml");
    packages.extend(metadata("fuzz/Cargo.toml"));
    assert!(packages.len() >= 15, "{} packages", packages.len());
    let mut problems = Vec::new();
    for p in &packages {
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
