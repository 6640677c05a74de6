//! Tests of fusion's structure.

/// The files of `src/fuse/`, in the order `mod.rs` declares them.
fn declared_order() -> Vec<String> {
    let text = include_str!("mod.rs");
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("pub mod ").and_then(|r| r.strip_suffix(';')))
        .map(str::to_string)
        .collect()
}

/// The sibling modules a file's text names (in code, doc links and
/// comments alike): `super::x`, `crate::fuse::x`, `fuse::x`, and the first
/// name of each item of `super::{..}` and `crate::fuse::{..}` groups.
fn referenced(text: &str, siblings: &[String]) -> Vec<String> {
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
                None => vec![ident(after)],
            };
            found.extend(names.into_iter().filter(|n| siblings.iter().any(|s| s == n)).map(str::to_string));
        }
    }
    found
}

/// The first name of each item of a `{..}` group (its text after `{`).
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
                names.push(ident(&group[j..]));
                start = false;
            }
            _ => {}
        }
    }
    names
}

fn ident(s: &str) -> &str {
    let end = s.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(s.len());
    &s[..end]
}

/// The source of every file of `src/fuse/` but `mod.rs` and this one
/// (compiled in, since fusion may not touch the file system).
const FILES: &[(&str, &str)] = &[
    ("access", include_str!("access.rs")),
    ("realize", include_str!("realize.rs")),
    ("fit", include_str!("fit.rs")),
    ("group", include_str!("group.rs")),
    ("build", include_str!("build.rs")),
    ("lower", include_str!("lower.rs")),
];

/// Each file of `src/fuse/` names only the sibling modules declared before
/// it in `mod.rs`, so the files form a line and no circle can come back.
#[test]
fn fusion_flows_one_way() {
    let order = declared_order();
    let listed: Vec<&str> = FILES.iter().map(|&(name, _)| name).collect();
    assert_eq!(order, listed, "src/fuse/tests.rs must list every module mod.rs declares, in its order");
    for (pos, &(name, text)) in FILES.iter().enumerate() {
        for r in referenced(text, &order) {
            let at = order.iter().position(|m| *m == r).unwrap_or(usize::MAX);
            assert!(
                at < pos,
                "src/fuse/{name}.rs names `{r}`, which does not come before it in the line {order:?}"
            );
        }
    }
}

/// The scan sees every way a file can name a sibling.
#[test]
fn references_are_found_in_every_form() {
    let order: Vec<String> = ["access", "realize", "group"].iter().map(|s| s.to_string()).collect();
    let text = "use super::{access::{flat, unravel}, group};\n/// [`x`](crate::fuse::realize::plan)\n\
                let _ = super::group::run; // not: superfuse::realize";
    let mut got = referenced(text, &order);
    got.sort();
    assert_eq!(got, ["access", "group", "group", "realize"]);
}
