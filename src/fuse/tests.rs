//! Tests of fusion's structure.

/// The files of `src/fuse/`, in the order `mod.rs` declares them.
fn declared_order() -> Vec<String> {
    let text = include_str!("mod.rs");
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("pub mod ").and_then(|r| r.strip_suffix(';')))
        .map(str::to_string)
        .collect()
}

/// The sibling modules a file's text names: `super::x`, `crate::fuse::x`,
/// and the names inside `super::{..}` and `crate::fuse::{..}` groups.
fn referenced(text: &str, siblings: &[String]) -> Vec<String> {
    let mut found = Vec::new();
    for prefix in ["super::", "crate::fuse::", "fuse::"] {
        let mut rest = text;
        while let Some(i) = rest.find(prefix) {
            let before = &rest[..i];
            let after = &rest[i + prefix.len()..];
            rest = after;
            if prefix == "fuse::"
                && !(before.ends_with(' ') || before.ends_with('(') || before.ends_with('['))
            {
                continue;
            }
            let names: Vec<&str> = match after.strip_prefix('{') {
                Some(group) => {
                    let end = group.find('}').unwrap_or(group.len());
                    group[..end].split(',').map(|s| s.trim().split("::").next().unwrap_or("")).collect()
                }
                None => vec![ident(after)],
            };
            for name in names {
                if siblings.iter().any(|s| s == name) {
                    found.push(name.to_string());
                }
            }
        }
    }
    found
}

fn ident(s: &str) -> &str {
    let end = s.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(s.len());
    &s[..end]
}

/// Each file of `src/fuse/` names only the sibling modules declared before
/// it in `mod.rs`, so the files form a line and no circle can come back.
#[test]
fn fusion_flows_one_way() {
    let order = declared_order();
    assert!(order.len() >= 5, "mod.rs declares {order:?}");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/fuse");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        if name == "mod" || name == "tests" {
            continue;
        }
        let pos = order
            .iter()
            .position(|m| *m == name)
            .unwrap_or_else(|| panic!("{} is not declared in src/fuse/mod.rs", path.display()));
        let text = std::fs::read_to_string(&path).unwrap();
        for r in referenced(&text, &order) {
            let at = order.iter().position(|m| *m == r).unwrap();
            assert!(at < pos, "src/fuse/{name}.rs names `{r}`, which comes after it in the line {order:?}");
        }
        checked += 1;
    }
    assert_eq!(checked, order.len());
}

/// The scan sees every way a file can name a sibling.
#[test]
fn references_are_found_in_every_form() {
    let order: Vec<String> = ["access", "realize", "group"].iter().map(|s| s.to_string()).collect();
    let text = "use super::{access::flat, group};\n/// [`x`](crate::fuse::realize::plan)\nlet _ = super::group::run;";
    let mut got = referenced(text, &order);
    got.sort();
    assert_eq!(got, ["access", "group", "group", "realize"]);
}
