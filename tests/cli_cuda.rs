//! The command line of the CUDA back end on a machine without a GPU:
//! `nnc emit-ptx`, `nnc graph --target cuda`, and the coded errors of
//! `--backend cuda` where it cannot run.

mod common;

use std::path::Path;

use common::files::nnc;

fn example(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples").join(name).display().to_string()
}

#[test]
fn emit_ptx_writes_the_module_and_a_manifest_of_its_launches() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let (code, stdout, stderr) =
        nnc(&["emit-ptx", &example("mnist_mlp.nn"), "--arch", "sm_80", "-o", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("training step"), "{stdout}");
    let ptx = std::fs::read_to_string(out.join("mnist_mlp.ptx")).unwrap();
    assert!(ptx.contains(".version 8.0"), "{ptx}");
    assert!(ptx.contains(".target sm_80"), "{ptx}");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    let text = manifest.to_string();
    // Every entry of the module is launched, and every launch names an entry of the module.
    let entries: Vec<&str> = ptx
        .lines()
        .filter_map(|l| {
            l.trim().strip_prefix(".visible .entry ").or_else(|| l.trim().strip_prefix(".entry "))
        })
        .map(|l| l.split('(').next().unwrap().trim())
        .collect();
    assert!(!entries.is_empty());
    for e in &entries {
        assert!(text.contains(&format!("\"{e}\"")), "manifest does not launch {e}: {text}");
    }
    // Nothing but the two files is left behind (no temporary files).
    let mut names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["manifest.json", "mnist_mlp.ptx"]);
}

#[test]
fn emit_ptx_of_the_forward_graph_has_fewer_kernels_than_the_step() {
    let dir = tempfile::tempdir().unwrap();
    let count = |stage: &str| {
        let out = dir.path().join(stage);
        let (code, _, stderr) =
            nnc(&["emit-ptx", &example("mnist_cnn.nn"), "--stage", stage, "-o", out.to_str().unwrap()]);
        assert_eq!(code, 0, "{stderr}");
        let ptx = std::fs::read_to_string(out.join("mnist_cnn.ptx")).unwrap();
        assert!(ptx.contains(".target sm_90"));
        ptx.matches(".entry ").count()
    };
    let (forward, step) = (count("ir"), count("step"));
    assert!(0 < forward && forward < step, "forward {forward} kernels, step {step}");
}

#[test]
fn emit_ptx_into_an_unwritable_place_is_a_coded_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not_a_dir");
    std::fs::write(&file, "x").unwrap();
    let out = file.join("sub");
    let (code, _, stderr) = nnc(&["emit-ptx", &example("xor.nn"), "-o", out.to_str().unwrap()]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("E0607"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "x");
}

#[test]
fn graph_for_the_cuda_target_has_no_cache_blocking() {
    let fused = |target: &str| {
        let (code, stdout, stderr) =
            nnc(&["graph", &example("mnist_cnn.nn"), "--stage", "fused", "--target", target]);
        assert_eq!(code, 0, "{stderr}");
        stdout
    };
    let (cpu, cuda) = (fused("cpu"), fused("cuda"));
    assert!(cpu.contains("prologue:") && cpu.contains("one block at a time"), "{cpu}");
    assert!(!cuda.contains("prologue:") && !cuda.contains("one block at a time"), "{cuda}");
}

#[cfg(not(feature = "cuda"))]
#[test]
fn backend_cuda_in_a_build_without_the_feature_is_a_coded_error() {
    for cmd in [&["run", "--limit", "8"][..], &["bench", "--steps", "1"][..]] {
        let mut args = vec![cmd[0]];
        let ex = example("mnist_mlp.nn");
        args.push(&ex);
        args.extend_from_slice(&cmd[1..]);
        args.extend_from_slice(&["--backend", "cuda"]);
        let (code, _, stderr) = nnc(&args);
        assert_eq!(code, 1, "{stderr}");
        assert!(stderr.contains("E0506") && stderr.contains("--features cuda"), "{stderr}");
    }
}

#[cfg(feature = "cuda")]
#[test]
fn backend_cuda_without_a_driver_is_a_coded_error() {
    if nnc::backend::cuda::driver_present() {
        eprintln!("a CUDA driver is present; the no-driver error cannot be shown here");
        return;
    }
    let (code, _, stderr) = nnc(&["bench", &example("mnist_mlp.nn"), "--steps", "1", "--backend", "cuda"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("E0502"), "{stderr}");
}
