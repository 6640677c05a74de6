//! Data-driven tests over `.nn` files: every program in `tests/data/err`
//! must fail with its snapshotted diagnostics, every program in
//! `tests/data/ok` and `examples/` must check cleanly, and their syntax
//! trees and graphs are snapshotted, down to the kernels each training step
//! is fused into (which must be deterministic).

mod common;

use std::path::{Path, PathBuf};

use common::files::nnc;

/// The path relative to the package root, so snapshots do not depend on
/// where the repository is checked out.
fn relative(path: &Path) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    path.strip_prefix(root).unwrap_or(path).to_path_buf()
}

#[test]
fn err_programs_fail_with_diagnostics() {
    insta::glob!("data/err/*.nn", |path| {
        let rel = relative(path);
        let file = rel.to_str().unwrap();
        let (code, stdout, stderr) = nnc(&["check", file]);
        assert_eq!(code, 1, "{file} should be rejected:\n{stdout}{stderr}");
        assert!(stderr.contains("error[E"), "{file}: no coded error:\n{stderr}");
        insta::assert_snapshot!(stderr);
    });
}

#[test]
fn ok_programs_check_and_dump() {
    insta::glob!("data/ok/*.nn", |path| {
        let rel = relative(path);
        let file = rel.to_str().unwrap();
        let (code, _, stderr) = nnc(&["check", file]);
        assert_eq!(code, 0, "{file} should check:\n{stderr}");
        let (_, ast, _) = nnc(&["graph", file, "--stage", "ast"]);
        let (code, ir, stderr) = nnc(&["graph", file, "--stage", "ir"]);
        assert_eq!(code, 0, "{file} should lower:\n{stderr}");
        insta::assert_snapshot!(format!("{ast}\n----- ir -----\n{ir}"));
    });
}

#[test]
fn examples_check_and_dump() {
    insta::glob!("../examples", "*.nn", |path| {
        let rel = relative(path);
        let file = rel.to_str().unwrap();
        let (code, _, stderr) = nnc(&["check", file]);
        assert_eq!(code, 0, "{file} should check:\n{stderr}");
        let (code, ir, stderr) = nnc(&["graph", file]);
        assert_eq!(code, 0, "{file} should lower:\n{stderr}");
        let (code, dot, _) = nnc(&["graph", file, "--format", "dot"]);
        assert_eq!(code, 0);
        assert!(dot.starts_with("digraph nnc {") && dot.trim_end().ends_with('}'));
        insta::assert_snapshot!(ir);
        let (code, step, stderr) = nnc(&["graph", file, "--stage", "backward"]);
        assert_eq!(code, 0, "{file} should build a training step:\n{stderr}");
        insta::assert_snapshot!("backward", step);
    });
}

#[test]
fn examples_train() {
    insta::glob!("../examples", "*.nn", |path| {
        let rel = relative(path);
        let file = rel.to_str().unwrap();
        let (code, out, err) = nnc(&["run", file, "--epochs", "1", "--limit", "256", "--no-save"]);
        assert_eq!(code, 0, "{file} should train:\n{out}{err}");
        let row = out
            .lines()
            .find(|l| l.starts_with("1/1"))
            .unwrap_or_else(|| panic!("{file}: no epoch row:\n{out}"));
        assert!(out.contains("test_acc") || out.contains("val_acc"), "{file}:\n{out}");
        assert!(!row.contains("NaN"), "{file}:\n{out}");
    });
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

/// What `nnc graph --stage fused` prints is the program the CPU back end
/// runs: the executable the trainer compiles (through
/// `nnc::backend::compile`, the call `Session` makes) exposes its kernel
/// program, and its dump is the command's output, for every example.
#[test]
fn fused_dump_is_the_program_that_runs() {
    insta::glob!("../examples", "*.nn", |path| {
        let rel = relative(path);
        let file = rel.to_str().unwrap();
        let (code, fused, stderr) = nnc(&["graph", file, "--stage", "fused"]);
        assert_eq!(code, 0, "{file} should fuse:\n{stderr}");
        let (prog, diags) = nnc::cli::load_checked(&rel);
        assert!(diags.iter().all(|d| !d.is_error()), "{file} should check");
        let train = prog.trains.first().expect("every example has a train block");
        let (cfg, _) = nnc::sema::blocks::check_train(&prog, train);
        let cfg = cfg.expect("the train block checks");
        let step = nnc::train::build_step(&prog, &cfg, cfg.batch, true).expect("the step builds");
        let exe = nnc::backend::compile(&nnc::backend::cpu::Cpu::new(1), &step.graph).expect("compiles");
        let running = exe.compiled().fused_text().expect("the CPU back end runs a kernel program");
        let (title, printed) = fused.split_once('\n').unwrap();
        assert!(title.ends_with(", fused"), "{title}");
        assert_eq!(printed, running, "{file}: the dump is not the program that runs");
        assert!(exe.stats().kernels > 0);
    });
}
