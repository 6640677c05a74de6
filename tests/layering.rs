//! The module layering `docs/ARCHITECTURE.md` states, checked on the source:
//! every `crate::` and `super::` path in every file of `src/` (code, doc
//! links and comments alike) is resolved to the top-level module it names,
//! and each module may name only the modules below it. Also, only `train`
//! and `cli` touch the file system or read environment variables.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Each top-level module and the modules it may depend on.
const ALLOWED: &[(&str, &[&str])] = &[
    ("diag", &[]),
    ("syntax", &["diag"]),
    ("graph", &["diag"]),
    ("sema", &["diag", "syntax", "graph"]),
    ("autodiff", &["diag", "graph"]),
    ("opt", &["diag", "graph"]),
    ("kernel", &["diag", "graph"]),
    ("fuse", &["diag", "graph", "kernel"]),
    ("compile", &["diag", "graph", "opt", "fuse", "kernel"]),
    ("backend", &["diag", "graph", "kernel", "compile"]),
    ("train", &["diag", "syntax", "sema", "graph", "autodiff", "kernel", "compile", "backend"]),
    ("plot", &["diag"]),
    (
        "cli",
        &[
            "diag", "syntax", "sema", "graph", "autodiff", "opt", "fuse", "kernel", "compile", "backend",
            "train", "plot",
        ],
    ),
];

/// Modules that may touch the file system or the environment.
const IO_LAYERS: &[&str] = &["train", "cli"];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module path of a file: `src/backend/cpu/exec.rs` is
/// `["backend", "cpu", "exec"]`, `src/backend/mod.rs` is `["backend"]`.
fn module_path(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    if parts.last().is_some_and(|p| p == "mod" || p == "lib" || p == "main") {
        parts.pop();
    }
    parts
}

fn ident_at(s: &str) -> &str {
    let end = s.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(s.len());
    &s[..end]
}

/// The first name of each item of a `{..}` group, given its text after
/// `{`: `a::b, c::{d, e}, f}` gives `a`, `c`, `f`.
fn group_items(group: &str) -> Vec<&str> {
    let mut names = Vec::new();
    let mut depth = 1;
    let mut start = true;
    for (j, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 1 => break,
            '}' => depth -= 1,
            ',' if depth == 1 => start = true,
            c if start && depth == 1 && (c.is_alphanumeric() || c == '_') => {
                names.push(ident_at(&group[j..]));
                start = false;
            }
            _ => {}
        }
    }
    names
}

/// The sibling modules of `src/fuse/` a text names (in code, doc links and
/// comments alike): `super::x`, `crate::fuse::x`, `fuse::x`, and the first
/// name of each item of `super::{..}` and `fuse::{..}` groups.
fn siblings_named<'s>(text: &str, siblings: &'s [String]) -> Vec<&'s str> {
    let mut found = Vec::new();
    for prefix in ["super::", "fuse::"] {
        let mut rest = text;
        while let Some(i) = rest.find(prefix) {
            let before = rest[..i].chars().next_back();
            let after = &rest[i + prefix.len()..];
            rest = after;
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue;
            }
            let names = match after.strip_prefix('{') {
                Some(group) => group_items(group),
                None => vec![ident_at(after)],
            };
            found.extend(
                names.into_iter().filter_map(|n| siblings.iter().find(|s| *s == n).map(String::as_str)),
            );
        }
    }
    found
}

/// The top-level modules a text names through `crate::` and `super::`
/// paths, for a file whose module path is `module`.
fn referenced(text: &str, module: &[String]) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < text.len() {
        let rest = &text[i..];
        let boundary = i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_');
        if boundary && rest.starts_with("crate::") {
            let after = &rest["crate::".len()..];
            if let Some(group) = after.strip_prefix('{') {
                found.extend(group_items(group).into_iter().map(str::to_string));
            } else {
                found.insert(ident_at(after).to_string());
            }
            i += "crate::".len();
            continue;
        }
        if boundary && rest.starts_with("super::") {
            let mut ups = 0;
            let mut tail = rest;
            while let Some(t) = tail.strip_prefix("super::") {
                ups += 1;
                tail = t;
            }
            // `super` of a file's module is its parent; a test module
            // inside the file (`mod tests { use super::*; }`) is one
            // deeper, which this conservatively treats the same.
            let base = module.len().saturating_sub(ups);
            let top = if base == 0 { ident_at(tail).to_string() } else { module[0].clone() };
            found.insert(top);
            i += rest.len() - tail.len();
            continue;
        }
        i += rest.chars().next().map_or(1, char::len_utf8);
    }
    found
}

#[test]
fn modules_depend_only_on_the_layers_below() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let known: BTreeSet<&str> = ALLOWED.iter().map(|(m, _)| *m).collect();
    let mut problems = Vec::new();
    let mut checked = 0;
    for file in &files {
        let module = module_path(&src, file);
        let Some(top) = module.first() else { continue };
        let Some((_, allowed)) = ALLOWED.iter().find(|(m, _)| m == top) else {
            problems
                .push(format!("{}: top-level module `{top}` is not in the layering table", file.display()));
            continue;
        };
        let text = std::fs::read_to_string(file).unwrap();
        for name in referenced(&text, &module) {
            if name == *top || !known.contains(name.as_str()) {
                continue;
            }
            if !allowed.contains(&name.as_str()) {
                problems.push(format!("{}: `{top}` must not depend on `{name}`", file.display()));
            }
        }
        checked += 1;
    }
    assert!(checked > 50, "only {checked} files were checked");
    assert!(problems.is_empty(), "layering violations:\n{}", problems.join("\n"));
}

#[test]
fn only_the_top_layers_touch_files_and_the_environment() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut problems = Vec::new();
    for file in &files {
        let module = module_path(&src, file);
        let Some(top) = module.first() else { continue };
        if IO_LAYERS.contains(&top.as_str()) {
            continue;
        }
        let text = std::fs::read_to_string(file).unwrap();
        for needle in ["std::fs", "std::env", "File::", "println!", "eprintln!", "std::process::exit"] {
            if text.contains(needle) {
                problems.push(format!("{}: `{top}` uses `{needle}`", file.display()));
            }
        }
    }
    assert!(problems.is_empty(), "I/O outside train and cli:\n{}", problems.join("\n"));
}

#[test]
fn the_scanner_resolves_every_path_form() {
    let module = vec!["backend".to_string(), "cpu".to_string(), "exec".to_string()];
    let text = "use crate::graph::Graph;\nuse crate::{train::trainer, sema};\n/// [`crate::cli`]\nuse super::gemm;\nuse super::super::super::fuse::run;\nlet x = my_crate::train;";
    let found: Vec<String> = referenced(text, &module).into_iter().collect();
    assert_eq!(found, ["backend", "cli", "fuse", "graph", "sema", "train"]);
}

/// Fusion flows one way: each file of `src/fuse/` names only the sibling
/// modules declared before it in `mod.rs`, so the files form a line
/// (access → realize → fit → group → build → lower) and no circle can
/// come back.
#[test]
fn fusion_flows_one_way() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/fuse");
    let declared: Vec<String> = std::fs::read_to_string(dir.join("mod.rs"))
        .unwrap()
        .lines()
        .filter_map(|l| l.trim().strip_prefix("pub mod ").and_then(|r| r.strip_suffix(';')))
        .map(str::to_string)
        .collect();
    let mut files = Vec::new();
    rust_files(&dir, &mut files);
    let mut on_disk: Vec<String> = files
        .iter()
        .map(|f| f.file_stem().unwrap().to_string_lossy().into_owned())
        .filter(|n| n != "mod")
        .collect();
    on_disk.sort();
    let mut listed = declared.clone();
    listed.sort();
    assert_eq!(listed, on_disk, "every file of src/fuse/ is a module declared in its mod.rs");
    for (pos, name) in declared.iter().enumerate() {
        let text = std::fs::read_to_string(dir.join(format!("{name}.rs"))).unwrap();
        for r in siblings_named(&text, &declared) {
            let at = declared.iter().position(|m| m == r).unwrap_or(usize::MAX);
            assert!(
                at < pos,
                "src/fuse/{name}.rs names `{r}`, which does not come before it in the line {declared:?}"
            );
        }
    }
}

/// The sibling scan sees every way a file can name a sibling.
#[test]
fn sibling_references_are_found_in_every_form() {
    let order: Vec<String> = ["access", "realize", "group"].iter().map(|s| s.to_string()).collect();
    let text = "use super::{access::{flat, unravel}, group};\n/// [`x`](crate::fuse::realize::plan)\n\
                let _ = super::group::run; // not: superfuse::realize";
    let mut got = siblings_named(text, &order);
    got.sort();
    assert_eq!(got, ["access", "group", "group", "realize"]);
}
