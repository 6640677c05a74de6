//! The PTX emitter over every example: the forward graph and the training
//! step of each compile to one module that `ptxas` assembles for `sm_90`
//! and `sm_80` and that the simulator's subset parser accepts; snapshots
//! pin the text of three representative kernels.

use std::path::{Path, PathBuf};
use std::process::Command;

use nnc::backend::cuda::{self, Arch, EmitOptions, PtxModule};
use nnc::graph::Graph;

/// `ptxas`: `$NNC_PTXAS`, the pip wheel's copy, or none.
fn ptxas() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("NNC_PTXAS") {
        return Some(PathBuf::from(p));
    }
    let known =
        Path::new("/root/.pyenv/versions/3.11.7/lib/python3.11/site-packages/nvidia/cuda_nvcc/bin/ptxas");
    if known.exists() {
        return Some(known.to_path_buf());
    }
    let out = Command::new("python3")
        .args(["-c", "import nvidia.cuda_nvcc; print(list(nvidia.cuda_nvcc.__path__)[0])"])
        .output()
        .ok()?;
    let dir = String::from_utf8(out.stdout).ok()?;
    let p = Path::new(dir.trim()).join("bin/ptxas");
    p.exists().then_some(p)
}

/// Every example's forward graph and training step, with a label.
fn example_graphs() -> Vec<(String, Graph)> {
    let mut out = Vec::new();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<PathBuf> = std::fs::read_dir(root.join("examples"))
        .expect("examples/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "nn"))
        .collect();
    files.sort();
    for path in files {
        let rel = path.strip_prefix(root).unwrap().to_path_buf();
        let name = rel.display().to_string();
        let (prog, diags) = nnc::cli::load_checked(&rel);
        assert!(diags.iter().all(|d| !d.is_error()), "{name} should check");
        let train = prog.trains.first().expect("every example has a train block");
        let (cfg, _) = nnc::sema::blocks::check_train(&prog, train);
        let cfg = cfg.expect("the train block checks");
        let binding = nnc::sema::batch_binding(&prog, &cfg.model, cfg.batch as i64);
        let fwd = nnc::sema::lower_forward(&prog, &cfg.model, &binding, &Default::default(), false)
            .unwrap_or_else(|_| panic!("{name}: the forward graph lowers"));
        out.push((format!("{name} forward"), fwd.graph));
        let step = nnc::train::build_step(&prog, &cfg, cfg.batch, true).expect("the step builds");
        out.push((format!("{name} step"), step.graph));
    }
    out
}

fn emit(g: &Graph, arch: Arch) -> PtxModule {
    let compiled = nnc::compile::graph(g, &cuda::target()).expect("compiles");
    let program = &compiled.kernels.as_ref().expect("a kernel program").program;
    let module = cuda::emit(program, &EmitOptions { arch }).expect("emits");
    // The manifest is valid JSON naming every launch.
    let manifest: serde_json::Value =
        serde_json::from_str(&cuda::manifest_json(&module, program)).expect("the manifest is JSON");
    assert_eq!(manifest["launches"].as_array().map(Vec::len), Some(module.launches.len()));
    module
}

/// `ptxas`, or `None` after a skip message (a failure when `CI` is set).
fn ptxas_or_skip() -> Option<PathBuf> {
    let found = ptxas();
    if found.is_none() {
        assert!(std::env::var("CI").is_err(), "ptxas not found (set NNC_PTXAS) and CI is set");
        eprintln!("SKIPPED: ptxas not found; set NNC_PTXAS or `pip install nvidia-cuda-nvcc-cu12`");
    }
    found
}

/// Assembles `graphs` for both architectures, a few `ptxas` runs at a time.
fn assemble(ptxas: &Path, graphs: Vec<(String, Graph)>) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut jobs = Vec::new();
    for (name, g) in graphs {
        for arch in [Arch::Sm90, Arch::Sm80] {
            let file = dir.path().join(format!("m{}.ptx", jobs.len()));
            std::fs::write(&file, emit(&g, arch).text).expect("writes");
            jobs.push((format!("{name} ({arch})"), arch, file));
        }
    }
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get().min(4));
    let failures: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|w| {
                let jobs = &jobs;
                s.spawn(move || {
                    let mut failed = Vec::new();
                    for (label, arch, file) in jobs.iter().skip(w).step_by(workers) {
                        let out = Command::new(ptxas)
                            .arg(format!("-arch={arch}"))
                            .arg(file)
                            .arg("-o")
                            .arg(file.with_extension("cubin"))
                            .output()
                            .expect("ptxas runs");
                        if !out.status.success() {
                            failed.push(format!(
                                "{label}: ptxas failed:\n{}",
                                String::from_utf8_lossy(&out.stderr)
                            ));
                        }
                    }
                    failed
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().expect("a worker")).collect()
    });
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_example_assembles_with_ptxas() {
    if let Some(ptxas) = ptxas_or_skip() {
        assemble(&ptxas, example_graphs());
    }
}

#[test]
fn a_large_reduction_runs_a_block_per_point_and_assembles() {
    use nnc::graph::{ReduceOp, UnaryOp};
    let mut g = Graph::new();
    let x = input(&mut g, "x", &[3000, 4]);
    let e = g.unary(UnaryOp::Exp, x);
    let s = g.reduce(ReduceOp::Sum, e, &[0, 1]);
    g.add_output("out", s);
    let module = emit(&g, Arch::Sm90);
    assert!(module.text.contains("shfl.sync.bfly.b32"), "no tree reduction:\n{}", module.text);
    assert_eq!(module.launches[0].block, [256, 1, 1]);
    ptxsim::Module::parse(&module.text).expect("in the subset");
    if let Some(ptxas) = ptxas_or_skip() {
        assemble(&ptxas, vec![("large reduction".into(), g)]);
    }
}

#[test]
fn every_example_is_in_the_simulated_subset() {
    for (name, g) in example_graphs() {
        let module = emit(&g, Arch::Sm90);
        if let Err(e) = ptxsim::Module::parse(&module.text) {
            panic!("{name}: outside the ptxsim subset: {e}");
        }
        for l in &module.launches {
            assert!(module.text.contains(&format!(".entry {}(", l.entry)), "{name}: {} missing", l.entry);
        }
    }
}

/// The module of a small graph with one output.
fn module_of(build: impl FnOnce(&mut Graph) -> nnc::graph::NodeId) -> String {
    let mut g = Graph::new();
    let out = build(&mut g);
    g.add_output("out", out);
    emit(&g, Arch::Sm90).text
}

fn input(g: &mut Graph, name: &str, dims: &[usize]) -> nnc::graph::NodeId {
    use nnc::graph::{DType, Op, Shape};
    g.add(Op::Input { name: name.into() }, &[], Shape(dims.to_vec()), DType::F32, None)
}

#[test]
fn snapshot_of_an_elementwise_chain() {
    use nnc::graph::{BinaryOp, UnaryOp};
    insta::assert_snapshot!(module_of(|g| {
        let x = input(g, "x", &[4, 5]);
        let y = input(g, "y", &[4, 5]);
        let e = g.unary(UnaryOp::Exp, x);
        let m = g.binary(BinaryOp::Mul, e, y);
        g.unary(UnaryOp::Tanh, m)
    }));
}

#[test]
fn snapshot_of_a_reduction() {
    use nnc::graph::{BinaryOp, ReduceOp};
    insta::assert_snapshot!(module_of(|g| {
        let x = input(g, "x", &[6, 11]);
        let m = g.reduce(ReduceOp::Max, x, &[1]);
        let s = g.binary_bcast(BinaryOp::Sub, x, m);
        g.reduce(ReduceOp::Sum, s, &[1])
    }));
}

#[test]
fn snapshot_of_a_product_with_an_epilogue() {
    use nnc::graph::{BinaryOp, UnaryOp};
    insta::assert_snapshot!(module_of(|g| {
        let x = input(g, "x", &[8, 12]);
        let w = input(g, "w", &[12, 16]);
        let b = input(g, "b", &[16]);
        let y = g.matmul(x, w);
        let y = g.add_(y, b);
        let z = g.unary(UnaryOp::Neg, y);
        g.binary(BinaryOp::Max, y, z)
    }));
}
