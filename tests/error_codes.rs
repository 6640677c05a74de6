//! Every diagnostic code is documented in `docs/ERRORS.md`, and every code
//! documented there exists.

#[test]
fn every_code_is_documented() {
    let doc = include_str!("../docs/ERRORS.md");
    for (code, title) in nnc::diag::Code::ALL {
        let heading = format!("## {code}: {title}");
        assert!(doc.contains(&heading), "docs/ERRORS.md lacks `{heading}`");
    }
    let n_headings = doc.lines().filter(|l| l.starts_with("## E")).count();
    assert_eq!(n_headings, nnc::diag::Code::ALL.len(), "docs/ERRORS.md documents codes that do not exist");
}

#[test]
fn every_builtin_is_documented() {
    let doc = include_str!("../docs/LANGUAGE.md");
    for b in nnc::sema::builtins::BUILTINS {
        assert!(doc.contains(&format!("| `{}` |", b.name)), "docs/LANGUAGE.md lacks builtin `{}`", b.name);
    }
}
