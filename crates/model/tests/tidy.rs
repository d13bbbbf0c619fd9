//! Tidy: conventions of the whole repository that `cargo test` keeps, so that reviewers
//! need not (ARCHITECTURE.md, "Tests"). It reads files only: no server, no root, no
//! network. It lives in `mailroom-model` because that crate builds in seconds, but it
//! checks every crate of the workspace:
//!
//! - every source file under `crates/*/src` opens with a `//!` module doc;
//! - every `docs/API.md §N` names a section `docs/API.md` has;
//! - nothing cites `API.md` without its `docs/` path;
//! - `ARCHITECTURE.md` has a code-map section for every crate;
//! - migrations exist only in `crates/store/migrations`, and only the store runs them.

use std::{
    collections::BTreeSet,
    fs,
    path::{Path, PathBuf},
};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the repository root")
}

/// Directories no check looks into: build output, installed packages, virtualenvs and
/// other hidden directories.
fn skipped(dir: &Path) -> bool {
    let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or("");
    name.starts_with('.') || matches!(name, "target" | "node_modules" | "__pycache__")
}

/// Every file under `dir`, recursively, outside skipped directories, in a stable order.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                if !skipped(&path) {
                    pending.push(path);
                }
            } else {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// The directories of the workspace's crates (`crates/<name>` with a `Cargo.toml`).
fn crate_names() -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(repo_root().join("crates"))
        .expect("crates/")
        .flatten()
        .filter(|e| e.path().join("Cargo.toml").is_file())
        .filter_map(|e| e.file_name().to_str().map(str::to_owned))
        .collect();
    names.sort();
    assert!(!names.is_empty(), "no crates found under crates/");
    names
}

/// The text files a reader of the repository meets: code, tests, scripts and docs.
fn documents() -> Vec<(PathBuf, String)> {
    let root = repo_root();
    let mut files = Vec::new();
    for dir in ["crates", "tests", "bench", "scripts", "testbed", "docs"] {
        files.extend(files_under(&root.join(dir)));
    }
    for file in ["README.md", "ARCHITECTURE.md"] {
        files.push(root.join(file));
    }
    // This file names what it looks for.
    let this_file = root.join("crates/model/tests/tidy.rs");
    files
        .into_iter()
        .filter(|path| *path != this_file)
        .filter_map(|path| {
            let text = fs::read_to_string(&path).ok()?;
            Some((path, text))
        })
        .collect()
}

fn relative(path: &Path) -> String {
    path.strip_prefix(repo_root())
        .unwrap_or(path)
        .display()
        .to_string()
}

/// Where byte `at` of a file is: its path and line number.
fn location(path: &Path, text: &str, at: usize) -> String {
    let line = text[..at].matches('\n').count() + 1;
    format!("{}:{line}", relative(path))
}

fn fail_with(what: &str, problems: &[String]) {
    assert!(
        problems.is_empty(),
        "{what}:\n  {}\n",
        problems.join("\n  ")
    );
}

#[test]
fn every_source_file_opens_with_a_module_doc() {
    let mut problems = Vec::new();
    for name in crate_names() {
        let src = repo_root().join("crates").join(&name).join("src");
        for path in files_under(&src) {
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let text = fs::read_to_string(&path).unwrap_or_default();
            if !text.starts_with("//!") {
                problems.push(relative(&path));
            }
        }
    }
    fail_with(
        "these source files do not open with a `//!` doc saying what the module holds",
        &problems,
    );
}

/// The section numbers `docs/API.md` has: `## 5.` gives `5`, `### 5.2 Sending` gives `5.2`.
fn api_sections() -> BTreeSet<String> {
    let text = fs::read_to_string(repo_root().join("docs/API.md")).expect("docs/API.md");
    text.lines()
        .filter(|line| line.starts_with('#'))
        .filter_map(|line| {
            let title = line.trim_start_matches('#').trim_start();
            let number: String = title
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == '.')
                .collect();
            let number = number.trim_end_matches('.');
            (!number.is_empty()).then(|| number.to_owned())
        })
        .collect()
}

/// The sections cited at the start of `rest` (the text after a `docs/API.md`):
/// `§5.2`, a range `§5.1–5.5`, and more joined by `,`, `/`, `and` or `or`
/// (`§5.2, §5.3`). Empty when the path is not followed by a section.
fn cited_sections(rest: &str) -> Vec<String> {
    let mut cited = Vec::new();
    let mut rest = rest.trim_start();
    while let Some(after) = rest.strip_prefix('§') {
        let token: String = after
            .chars()
            .take_while(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | '–'))
            .collect();
        for end in token.split(['-', '–']) {
            let end = end.trim_end_matches('.');
            if !end.is_empty() {
                cited.push(end.to_owned());
            }
        }
        rest = after[token.len()..].trim_start();
        let joined = [",", "/", "and ", "or "]
            .iter()
            .find_map(|joint| rest.strip_prefix(joint));
        match joined {
            Some(next) if next.trim_start().starts_with('§') => rest = next.trim_start(),
            _ => break,
        }
    }
    cited
}

#[test]
fn every_api_md_reference_names_a_section_it_has() {
    let sections = api_sections();
    for expected in ["1.4", "1.6", "2.3", "5.2", "6.3", "11"] {
        assert!(
            sections.contains(expected),
            "docs/API.md §{expected} is missing: the headings were not read ({sections:?})"
        );
    }
    let mut problems = Vec::new();
    let mut references = 0;
    for (path, text) in documents() {
        for (at, _) in text.match_indices("docs/API.md") {
            for section in cited_sections(&text[at + "docs/API.md".len()..]) {
                references += 1;
                if !sections.contains(&section) {
                    problems.push(format!("{}: §{section}", location(&path, &text, at)));
                }
            }
        }
    }
    assert!(
        references > 0,
        "no `docs/API.md §N` reference was found at all"
    );
    fail_with(
        "these references name a section docs/API.md does not have (its headings: ## N. / ### N.M)",
        &problems,
    );
}

#[test]
fn api_md_is_cited_by_its_path() {
    let mut problems = Vec::new();
    for (path, text) in documents() {
        for (at, _) in text.match_indices("API.md") {
            if !text[..at].ends_with("docs/") {
                problems.push(location(&path, &text, at));
            }
        }
    }
    fail_with(
        "these cite `API.md` without its path: write `docs/API.md §N`",
        &problems,
    );
}

#[test]
fn architecture_has_a_section_for_every_crate() {
    let text = fs::read_to_string(repo_root().join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let problems: Vec<String> = crate_names()
        .into_iter()
        .filter(|name| !text.contains(&format!("### `crates/{name}`")))
        .map(|name| format!("crates/{name}"))
        .collect();
    fail_with(
        "ARCHITECTURE.md's code map has no \"### `crates/NAME`\" section for these crates",
        &problems,
    );
}

#[test]
fn migrations_live_only_in_the_store() {
    let root = repo_root();
    let home = root.join("crates/store/migrations");
    let mut problems = Vec::new();
    for path in files_under(&root) {
        let is_sql = path.extension().is_some_and(|e| e == "sql");
        let in_migrations = path
            .parent()
            .is_some_and(|dir| dir.file_name().is_some_and(|n| n == "migrations"));
        if (is_sql || in_migrations) && !path.starts_with(&home) {
            problems.push(relative(&path));
        }
    }
    fail_with(
        "migrations belong in crates/store/migrations, one set for SQLite and PostgreSQL",
        &problems,
    );
    // And only the store runs them.
    for name in crate_names() {
        let src = root.join("crates").join(&name).join("src");
        for path in files_under(&src) {
            let text = fs::read_to_string(&path).unwrap_or_default();
            if text.contains("sqlx::migrate!(") {
                assert!(
                    path.ends_with("crates/store/src/open.rs")
                        && text.contains("sqlx::migrate!(\"./migrations\")"),
                    "{} runs migrations of its own; the store's `open.rs` runs the one set",
                    relative(&path)
                );
            }
        }
    }
    let count = fs::read_dir(&home).map(|d| d.count()).unwrap_or(0);
    assert!(count > 0, "crates/store/migrations is empty or missing");
}

#[test]
fn cited_sections_are_read_as_written() {
    assert_eq!(cited_sections(" §5.2, §5.3)."), ["5.2", "5.3"]);
    assert_eq!(cited_sections(" §5.1–5.5)"), ["5.1", "5.5"]);
    assert_eq!(cited_sections("\n§2.2-2.3) with"), ["2.2", "2.3"]);
    assert_eq!(cited_sections(" §11: contacts"), ["11"]);
    assert_eq!(cited_sections(" §5.1 / §9: a message"), ["5.1", "9"]);
    assert_eq!(cited_sections(" §5.0."), ["5.0"]);
    assert_eq!(cited_sections(") in its own words"), Vec::<String>::new());
}
