//! Reading the project's Markdown for the docs' own checks (`tests/tests/docs.rs`): which files
//! there are, their relative links, their headings' anchors, and their fenced blocks.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// The repository's root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .expect("repository root")
}

/// Every Markdown file of the repository, outside build output, tool installs and fuzz corpora.
pub fn markdown_files(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if path.is_dir() {
                let skipped = name.starts_with('.')
                    || matches!(
                        name.as_str(),
                        "target" | "node_modules" | "corpus" | "artifacts"
                    );
                if !skipped {
                    dirs.push(path);
                }
            } else if name.ends_with(".md") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// A fenced code block: its info string (```` ```sh runnable ```` gives `sh runnable`), its
/// text, and the line its fence opens on (1-based).
#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    pub info: String,
    pub text: String,
    pub line: usize,
}

impl Block {
    /// Marked to be run by the tests: the info string's words include `runnable`.
    pub fn runnable(&self) -> bool {
        self.info.split_whitespace().any(|w| w == "runnable")
    }
}

/// The fenced blocks of a Markdown text (backtick fences, as the project writes them).
pub fn blocks(text: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut open: Option<Block> = None;
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        match open.as_mut() {
            None if trimmed.starts_with("```") => {
                open = Some(Block {
                    info: trimmed.trim_start_matches('`').trim().to_string(),
                    text: String::new(),
                    line: i + 1,
                });
            }
            None => {}
            Some(_) if trimmed.starts_with("```") => out.extend(open.take()),
            Some(block) => {
                block.text.push_str(line);
                block.text.push('\n');
            }
        }
    }
    out
}

/// Lines that open a fence the parser does not run (`~~~`, or indented as code) yet say
/// `runnable`: a mark that would be silently ignored. (line, text)
pub fn unrun_marks(text: &str) -> Vec<(usize, String)> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| {
            let t = l.trim_start();
            t.contains("runnable")
                && (t.starts_with("~~~") || (t.starts_with("```") && l.starts_with("    ")))
        })
        .map(|(i, l)| (i + 1, l.to_string()))
        .collect()
}

/// Whether git tracks `path` (a file, or a directory holding a tracked file); `None` when git
/// cannot say (no git, or not a work tree), when existence is all that can be checked.
pub fn tracked(root: &Path, path: &Path) -> Option<bool> {
    let rel = path.strip_prefix(root).ok()?;
    let out = std::process::Command::new("git")
        .args(["ls-files", "--"])
        .arg(rel)
        .current_dir(root)
        .output()
        .ok()?;
    out.status.success().then_some(!out.stdout.is_empty())
}

/// The text outside fenced blocks and inline code spans, line by line (numbers kept).
fn prose(text: &str) -> Vec<(usize, String)> {
    let mut fenced = false;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if !fenced {
            // Drop inline code: `[x](y)` inside backticks is not a link.
            let mut kept = String::new();
            for (n, part) in line.split('`').enumerate() {
                if n % 2 == 0 {
                    kept.push_str(part);
                }
            }
            out.push((i + 1, kept));
        }
    }
    out
}

/// A link's target as written, with the line it is on.
#[derive(Debug, Clone, PartialEq)]
pub struct Link {
    pub target: String,
    pub line: usize,
}

/// The inline links `[text](target)` of a Markdown text, outside code.
pub fn links(text: &str) -> Vec<Link> {
    let re = regex::Regex::new(r"\]\(([^)\s]+)(?:\s+\x22[^\x22]*\x22)?\)").expect("link regex");
    prose(text)
        .into_iter()
        .flat_map(|(line, s)| {
            re.captures_iter(&s)
                .map(|c| Link {
                    target: c[1].to_string(),
                    line,
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Whether a link leaves the repository (a scheme such as `https:` or `mailto:`).
pub fn external(target: &str) -> bool {
    target.split_once(':').is_some_and(|(scheme, _)| {
        !scheme.is_empty()
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c))
    })
}

/// The anchors GitHub gives a Markdown text's headings: lower case, punctuation dropped
/// (hyphens and underscores kept), spaces to hyphens, `-1`, `-2`, ... for repeats.
pub fn anchors(text: &str) -> HashSet<String> {
    let mut seen = HashSet::new();
    for (_, line) in prose_with_code_spans(text) {
        let Some(title) = heading(&line) else {
            continue;
        };
        let base: String = title
            .to_lowercase()
            .chars()
            .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
            .map(|c| if c == ' ' { '-' } else { c })
            .collect();
        let mut anchor = base.clone();
        let mut n = 0;
        while !seen.insert(anchor.clone()) {
            n += 1;
            anchor = format!("{base}-{n}");
        }
    }
    seen
}

/// Lines outside fenced blocks, inline code kept (a heading's code spans are part of its anchor).
fn prose_with_code_spans(text: &str) -> Vec<(usize, String)> {
    let mut fenced = false;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        } else if !fenced {
            out.push((i + 1, line.to_string()));
        }
    }
    out
}

/// An ATX heading's title (`## Set up` gives `Set up`).
fn heading(line: &str) -> Option<&str> {
    let hashes = line.len() - line.trim_start_matches('#').len();
    (1..=6)
        .contains(&hashes)
        .then(|| &line[hashes..])
        .filter(|rest| rest.starts_with(' '))
        // A closing sequence of hashes (`## Foo ##`) is not part of the title.
        .map(|rest| rest.trim().trim_end_matches('#').trim_end())
}

/// What is wrong with a relative link from `file`: its file missing, or its `#anchor` not a
/// heading of the file it points at. `None` when it resolves (or leaves the repository).
pub fn broken(root: &Path, file: &Path, target: &str) -> Option<String> {
    if external(target) {
        return None;
    }
    let (path, fragment) = match target.split_once('#') {
        Some((p, f)) => (p, Some(f)),
        None => (target, None),
    };
    let resolved = if path.is_empty() {
        file.to_path_buf()
    } else {
        file.parent().unwrap_or(Path::new(".")).join(path)
    };
    if !resolved.exists() {
        return Some(format!("{} does not exist", resolved.display()));
    }
    let Ok(canonical) = resolved.canonicalize() else {
        return Some(format!("{} cannot be resolved", resolved.display()));
    };
    if !canonical.starts_with(root) {
        return Some(format!("{} is outside the repository", resolved.display()));
    }
    if tracked(root, &canonical) == Some(false) {
        return Some(format!(
            "{} is not tracked by git: the code host will not have it (git add it)",
            resolved.display()
        ));
    }
    let fragment = fragment.filter(|f| !f.is_empty())?;
    if resolved.extension().is_none_or(|e| e != "md") || resolved.is_dir() {
        return None; // line anchors of code files (`#L10`) are the code host's
    }
    let text = std::fs::read_to_string(&resolved).ok()?;
    (!anchors(&text).contains(fragment))
        .then(|| format!("{} has no heading for #{fragment}", resolved.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchors_follow_github() {
        let text = "# stoker\n## Set up (two commands)\n### `stoker run` and `--workers`\n## Set up (two commands)\n```\n# not a heading\n```\n";
        let a = anchors(text);
        assert!(a.contains("stoker"));
        assert!(a.contains("set-up-two-commands"));
        assert!(a.contains("set-up-two-commands-1"));
        assert!(a.contains("stoker-run-and---workers"));
        assert!(!a.contains("not-a-heading"));
    }

    #[test]
    fn links_skip_code() {
        let text = "see [a](docs/a.md) and `[b](b.md)`\n```\n[c](c.md)\n```\n[d](https://x.y/z) [e](#top \"title\")\n";
        let got: Vec<_> = links(text).into_iter().map(|l| l.target).collect();
        assert_eq!(got, ["docs/a.md", "https://x.y/z", "#top"]);
        assert!(external("https://x.y/z") && external("mailto:a@b") && !external("docs/a.md"));
    }

    #[test]
    fn blocks_keep_their_info_and_line() {
        let text = "x\n```sh runnable\necho hi\n```\n```json\n{}\n```\n";
        let b = blocks(text);
        assert_eq!(b.len(), 2);
        assert!(b[0].runnable() && !b[1].runnable());
        assert_eq!((b[0].text.as_str(), b[0].line), ("echo hi\n", 2));
    }

    #[test]
    fn closing_hashes_and_unrun_marks() {
        assert!(anchors("## Foo bar ##\n").contains("foo-bar"));
        let text = "~~~sh runnable\necho\n~~~\n    ```sh runnable\n```sh runnable\n";
        let lines: Vec<usize> = unrun_marks(text).into_iter().map(|(l, _)| l).collect();
        assert_eq!(lines, [1, 4]);
    }

    #[test]
    fn a_missing_file_or_heading_is_broken() {
        // Outside any git work tree: only existence and headings are checked.
        let dir = std::env::temp_dir().join(format!("stoker-docs-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("docs")).unwrap();
        let dir = dir.canonicalize().unwrap();
        std::fs::write(dir.join("README.md"), "# Top\n## Set up\n").unwrap();
        let file = dir.join("docs/page.md");
        std::fs::write(&file, "").unwrap();
        assert_eq!(broken(&dir, &file, "../README.md#set-up"), None);
        assert!(
            broken(&dir, &file, "../README.md#deploy")
                .unwrap()
                .contains("#deploy")
        );
        assert!(
            broken(&dir, &file, "missing.md")
                .unwrap()
                .contains("does not exist")
        );
        assert_eq!(broken(&dir, &file, "https://example.com/nowhere"), None);
        let outside = format!("{}/Cargo.toml", repo().display());
        assert!(
            broken(&dir, &dir.join("README.md"), &outside)
                .unwrap()
                .contains("outside the repository")
        );
        std::fs::remove_dir_all(dir).ok();

        // In the work tree, a file git does not track is broken on the code host.
        let root = repo();
        let readme = root.join("README.md");
        assert_eq!(broken(&root, &readme, "docs/events.md"), None);
        assert!(
            broken(&root, &readme, "target")
                .unwrap()
                .contains("not tracked")
        );
    }
}
