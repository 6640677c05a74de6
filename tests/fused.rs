//! Snapshots of `nnc graph FILE --stage fused` for every example: the
//! kernels each training step is fused into and the ops each holds. The
//! dump must also be deterministic.

use std::path::{Path, PathBuf};

/// The path relative to the package root, so snapshots do not depend on
/// where the repository is checked out.
fn relative(path: &Path) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    path.strip_prefix(root).unwrap_or(path).to_path_buf()
}

fn nnc(args: &[&str]) -> (u8, String, String) {
    let mut argv = vec!["nnc"];
    argv.extend_from_slice(args);
    nnc::cli::execute(argv)
}

#[test]
fn examples_fuse() {
    insta::glob!("../examples", "*.nn", |path| {
        let rel = relative(path);
        let file = rel.to_str().unwrap();
        let (code, fused, stderr) = nnc(&["graph", file, "--stage", "fused"]);
        assert_eq!(code, 0, "{file} should fuse:\n{stderr}");
        let (_, again, _) = nnc(&["graph", file, "--stage", "fused"]);
        assert_eq!(fused, again, "{file}: the fused dump is not deterministic");
        insta::assert_snapshot!(fused);
    });
}

#[test]
fn step_stage_prints_the_simplified_training_step() {
    let (code, step, stderr) = nnc(&["graph", "examples/mnist_mlp.nn", "--stage", "step"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(step.starts_with("// Mlp training step (batch 64), simplified"), "{step}");
    assert!(step.contains("matmul") && step.contains("update"));
}
