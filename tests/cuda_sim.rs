//! The CUDA back end without a GPU: the real `Cuda` back end (emitter,
//! executable, launches, transfers, status word) over a `Device` that runs
//! the PTX in `ptxsim`, differentially tested against the reference
//! interpreter. The simulator checks every launch for races, missing
//! barriers, out-of-bounds accesses and reads of uninitialised memory or
//! registers, with a thread interleaving that varies with the seed.
//!
//! Tolerances: elementwise operations other than `log`, `sin`, `cos` and
//! `pow` are computed with the interpreter's operations in its order, so
//! they are checked bit for bit (`exp`, `tanh`, random draws, reductions);
//! those four use the GPU's approximate instructions, and products use
//! fused multiply-adds where the interpreter rounds each multiply, so
//! comparisons that involve them allow `1e-4` relative to the tensor's
//! scale. Products are also checked bit for bit against their own oracle:
//! fused multiply-adds in order of `k`.

#![allow(clippy::unwrap_used)]

mod common;

use common::training::{SMALL_CNN, SMALL_MLP, training_step};
use common::{Case, cases};
use nnc::backend::cuda::{Arch, Cuda, Device, DeviceError, DevicePtr};
use nnc::backend::{Env, EvalError, Tensor, interp};
use nnc::graph::{BinaryOp, DType, Graph, NodeId, ReduceOp, Shape, UnaryOp};
use ptxsim::{Arg, LaunchOptions, Module};

/// A `Device` over the simulator. Each launch gets its own interleaving
/// seed, derived from the device's.
struct SimDevice {
    dev: ptxsim::Device,
    module: Option<Module>,
    seed: u64,
    launches: u64,
    /// Launches every entry but products with at most this many blocks,
    /// so the grid-stride loops must cover the rest.
    max_blocks: Option<u32>,
}

impl Device for SimDevice {
    fn load(&mut self, ptx: &str) -> Result<(), DeviceError> {
        self.module = Some(Module::parse(ptx).map_err(|e| DeviceError::Other(format!("ptxsim: {e}")))?);
        Ok(())
    }

    fn alloc(&mut self, bytes: usize) -> Result<DevicePtr, DeviceError> {
        Ok(self.dev.alloc(bytes.max(4)))
    }

    fn upload(&mut self, dst: DevicePtr, data: &[f32]) -> Result<(), DeviceError> {
        self.dev.write_f32(dst, data).map_err(|e| DeviceError::Other(e.to_string()))
    }

    fn download(&mut self, src: DevicePtr, out: &mut [f32]) -> Result<(), DeviceError> {
        let v = self.dev.read_f32(src, out.len()).map_err(|e| DeviceError::Other(e.to_string()))?;
        out.copy_from_slice(&v);
        Ok(())
    }

    fn zero(&mut self, dst: DevicePtr, bytes: usize) -> Result<(), DeviceError> {
        self.dev.fill(dst, bytes, 0).map_err(|e| DeviceError::Other(e.to_string()))
    }

    fn launch(
        &mut self,
        entry: &str,
        grid: [u32; 3],
        block: [u32; 3],
        params: &[u64],
    ) -> Result<(), DeviceError> {
        let module = self.module.as_ref().ok_or_else(|| DeviceError::Other("no module".into()))?;
        let args: Vec<Arg> = params.iter().map(|&p| Arg::U64(p)).collect();
        let mut grid = grid;
        if let Some(max) = self.max_blocks.filter(|_| !entry.ends_with("_gemm")) {
            grid[0] = grid[0].min(max);
        }
        self.launches += 1;
        let opts = LaunchOptions {
            seed: self.seed.wrapping_mul(0x9E37).wrapping_add(self.launches),
            ..Default::default()
        };
        self.dev
            .launch(module, entry, grid, block, &args, &opts)
            .map(|_| ())
            .map_err(|e| DeviceError::Launch { entry: entry.to_string(), message: e.to_string() })
    }
}

/// The CUDA back end on simulated devices with interleavings from `seed`.
fn backend(seed: u64) -> Cuda<SimDevice> {
    stingy_backend(seed, None)
}

/// The same, launching at most `max_blocks` blocks per entry (products aside).
fn stingy_backend(seed: u64, max_blocks: Option<u32>) -> Cuda<SimDevice> {
    Cuda::new(Arch::Sm90, move || {
        Ok(SimDevice { dev: ptxsim::Device::new(), module: None, seed, launches: 0, max_blocks })
    })
}

const RTOL: f32 = 1e-4;
const ATOL: f32 = 1e-4;

fn close(name: &str, want: &Tensor, got: &Tensor, exact: bool) -> Result<(), String> {
    if want.shape != got.shape {
        return Err(format!("{name}: shapes differ: {} vs {}", want.shape, got.shape));
    }
    let scale = want.data.iter().filter(|x| x.is_finite()).fold(1.0f32, |m, x| m.max(x.abs()));
    for (i, (w, g)) in want.data.iter().zip(&got.data).enumerate() {
        let ok = if exact {
            w.to_bits() == g.to_bits() || (w.is_nan() && g.is_nan())
        } else {
            (w.is_nan() && g.is_nan()) || w == g || (w - g).abs() <= ATOL * scale + RTOL * w.abs()
        };
        if !ok {
            return Err(format!("{name}[{i}]: interpreter {w}, cuda {g} (shape {})", want.shape));
        }
    }
    Ok(())
}

/// Runs one step of `g` on the simulated GPU and the interpreter from
/// `env` and compares every output, parameter and state afterwards.
fn compare(g: &Graph, env: &Env, seed: u64, exact: bool) -> Result<(), String> {
    compare_on(&backend(seed), g, env, exact)
}

fn compare_on(cuda: &Cuda<SimDevice>, g: &Graph, env: &Env, exact: bool) -> Result<(), String> {
    let mut want_env = env.clone();
    let want = interp::step(g, &mut want_env).map_err(|e| format!("interpreter: {e}"))?;
    let mut exe = nnc::backend::compile(cuda, g).map_err(|d| format!("compile: {}", d.message))?;
    let mut got_env = env.clone();
    let got = exe.run(&mut got_env, true).map_err(|e| format!("cuda: {e}"))?;
    exe.sync(&mut got_env).map_err(|e| format!("cuda sync: {e}"))?;
    for (name, id) in g.outputs() {
        close(name, want.get(*id), &got[name], exact)?;
    }
    for (name, t) in &want_env.params {
        close(name, t, &got_env.params[name], exact)?;
    }
    for (name, t) in &want_env.states {
        close(name, t, &got_env.states[name], exact)?;
    }
    if want_env.step != got_env.step {
        return Err("step counters differ".into());
    }
    Ok(())
}

/// Compares `out` under three interleaving seeds.
#[track_caller]
fn check_with(mut c: Case, out: NodeId, exact: bool) {
    c.g.add_output("out", out);
    for seed in [1, 2, 3] {
        if let Err(e) = compare(&c.g, &c.env, seed, exact) {
            panic!("with seed {seed}: {e}");
        }
    }
}

#[track_caller]
fn check(c: Case, out: NodeId) {
    check_with(c, out, true);
}

#[test]
fn every_unary_op() {
    for (op, c, y) in cases::every_unary_op() {
        let approximate = matches!(op, UnaryOp::Log | UnaryOp::Sin | UnaryOp::Cos);
        check_with(c, y, !approximate);
    }
}

#[test]
fn exp_and_tanh_are_the_interpreters_bit_for_bit() {
    let mut xs: Vec<f32> = (0..=400).map(|i| -110.0 + 200.0 * i as f32 / 400.0).collect();
    xs.extend((0..=200).map(|i| -1.0 + i as f32 / 100.0));
    xs.extend([
        0.0,
        -0.0,
        0.3,
        -0.3,
        1e-30,
        -1e-30,
        89.0,
        -104.0,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
    ]);
    xs.extend([1e-40, -1e-40, 0.299_999_98, 30.0]);
    for op in [UnaryOp::Exp, UnaryOp::Tanh] {
        let mut c = Case::new(2);
        let x = c.input_data("x", &[xs.len()], xs.clone(), DType::F32);
        let y = c.g.unary(op, x);
        check(c, y);
    }
}

#[test]
fn every_binary_op() {
    for (op, c, y) in cases::every_binary_op() {
        check_with(c, y, op != BinaryOp::Pow);
    }
}

#[test]
fn pow_of_negative_bases_and_special_exponents() {
    let a = vec![-2.0, -2.0, -2.0, 2.0, 0.0, 1.0, 3.0, -0.5, 4.0, -3.0];
    let b = vec![2.0, 3.0, 0.5, -1.0, 2.0, f32::NAN, 0.0, -2.0, 0.5, 1.0];
    let mut c = Case::new(3);
    let x = c.input_data("a", &[10], a, DType::F32);
    let y = c.input_data("b", &[10], b, DType::F32);
    let p = c.g.binary(BinaryOp::Pow, x, y);
    check_with(c, p, false);
}

#[test]
fn max_and_min_propagate_nan_and_keep_signed_zeros() {
    let data = vec![1.0, f32::NAN, -2.0, 0.0, f32::NAN, 3.0, -0.0, 7.0, 0.0, -0.0];
    let (c, y) = cases::max_and_min_with_nan(data, true);
    check(c, y);
}

#[test]
fn select_on_computed_conditions() {
    let cond = vec![0.0, -0.0, 1.0, f32::NAN, -3.0, 0.0];
    let (c, y) = cases::select_on_computed_conditions(&[6], Some(cond));
    check(c, y);
}

#[test]
fn reductions_over_every_axis_set() {
    for (c, y) in cases::reductions_over_every_axis_set() {
        check(c, y);
    }
}

#[test]
fn movement_ops_pad_slice_concat() {
    let (c, q) = cases::movement_ops();
    check(c, q);
    let (c, cat) = cases::pad_slice_concat(false);
    check(c, cat);
}

#[test]
fn matmuls_of_every_layout() {
    for (c, y) in cases::matmuls_of_every_layout(9, 70, 66) {
        check_with(c, y, false);
    }
}

/// Each element of a product is `fma(a[i, k], b[k, j], acc)` for `k` in
/// order from zero: the GPU result equals that oracle bit for bit, for
/// sizes that are not multiples of the tile and a transposed operand.
#[test]
fn products_are_fused_multiply_adds_in_order_of_k() {
    let (m, k, n) = (37, 45, 70);
    let mut c = Case::new(12);
    let a = c.input("a", &[m, k]);
    let bt = c.input("bt", &[n, k]);
    let b = c.g.transpose_last(bt);
    let y = c.g.matmul(a, b);
    c.g.add_output("out", y);
    let (av, btv) = (c.env.inputs["a"].data.clone(), c.env.inputs["bt"].data.clone());
    let mut want = vec![0.0f32; m * n];
    for i in 0..m {
        for j in 0..n {
            want[i * n + j] = (0..k).fold(0.0f32, |acc, l| av[i * k + l].mul_add(btv[j * k + l], acc));
        }
    }
    let mut exe = nnc::backend::compile(&backend(4), &c.g).unwrap();
    let mut env = c.env.clone();
    let got = exe.run(&mut env, true).unwrap();
    let got = &got["out"].data;
    for (idx, (w, g)) in want.iter().zip(got).enumerate() {
        assert_eq!(w.to_bits(), g.to_bits(), "out[{idx}]: fma oracle {w}, cuda {g}");
    }
}

#[test]
fn matmul_epilogues_and_reduced_products() {
    let (c, s) = cases::matmul_epilogues_and_reduced_products();
    check_with(c, s, false);
}

#[test]
fn gather_and_scatter_add() {
    let (c, t) = cases::gather_and_scatter_add();
    check(c, t);
}

#[test]
fn out_of_range_indices_are_the_interpreters_error() {
    for bad in [3.0, -1.0, 0.5, f32::NAN] {
        let mut c = Case::new(12);
        let table = c.input("t", &[3, 2]);
        let idx = c.input_data("i", &[2], vec![0., bad], DType::I32);
        let y = c.g.gather(table, idx);
        let s = c.g.scatter_add(y, idx, Shape(vec![3, 2]));
        c.g.add_output("out", s);
        let want = interp::eval(&c.g, &c.env).unwrap_err();
        let mut exe = nnc::backend::compile(&backend(1), &c.g).unwrap();
        let got = exe.run(&mut c.env.clone(), true).unwrap_err();
        match (&want, &got) {
            (
                EvalError::IndexOutOfRange { node: n1, bound: b1, index: i1 },
                EvalError::IndexOutOfRange { node: n2, bound: b2, index: i2 },
            ) => {
                assert_eq!((n1, b1), (n2, b2));
                assert_eq!(i1.to_bits(), i2.to_bits());
            }
            _ => panic!("interpreter {want:?}, cuda {got:?}"),
        }
    }
}

#[test]
fn casts_truncate_and_integer_division() {
    let (c, f) = cases::casts_truncate_and_integer_division();
    check(c, f);
}

#[test]
fn iota_constants_and_leaves_as_outputs() {
    let (c, s) = cases::iota_constants_and_leaves_as_outputs();
    check(c, s);
}

#[test]
fn random_draws_are_bit_identical() {
    cases::check_random_draws(&backend(1));
}

#[test]
fn updates_read_old_values_and_run_without_update_changes_nothing() {
    let c = cases::updates_reading_old_values();
    compare(&c.g, &c.env, 1, true).unwrap();
    cases::check_updates(&c, &backend(2), false);
}

/// Few outer points and large reductions run a block per point with a
/// tree reduction (`reduce.rs`): deterministic, equal to rounding.
#[test]
fn large_reductions_over_few_points() {
    let mut c = Case::new(18);
    let x = c.input("x", &[3000, 4]);
    let e = c.g.unary(UnaryOp::Exp, x);
    let s = c.g.reduce(ReduceOp::Sum, e, &[0, 1]);
    check_with(c, s, false);

    // Softmax over long rows: a max, a sum of exponentials, then stores.
    let mut c = Case::new(19);
    let x = c.input("x", &[3, 2500]);
    let y = cases::softmax_rows(&mut c.g, x);
    check_with(c, y, false);

    // A max with a NaN in it, and one over signed zeros only.
    for v in [f32::NAN, 0.0] {
        let mut c = Case::new(20);
        let mut data: Vec<f32> = (0..4100).map(|i| if i % 2 == 0 { 0.0 } else { -0.0 }).collect();
        data[1234] = v;
        let x = c.input_data("x", &[2, 2050], data, DType::F32);
        let m = c.g.reduce(ReduceOp::Max, x, &[1]);
        check(c, m);
    }
}

/// Entries cover their whole index space whatever the grid: every launch
/// but products gets a single block here.
#[test]
fn grid_stride_loops_cover_every_point() {
    let mut c = Case::new(21);
    let x = c.input("x", &[40, 30]);
    let idx = c.input_data("i", &[700], (0..700).map(|i| (i % 40) as f32).collect(), DType::I32);
    let rows = c.g.gather(x, idx);
    let s = c.g.scatter_add(rows, idx, Shape(vec![40, 30]));
    let e = c.g.unary(UnaryOp::Exp, s);
    let m = c.g.reduce(ReduceOp::Sum, e, &[1]);
    let m = c.g.reshape(m, Shape(vec![40, 1]));
    let m = c.g.broadcast_to(m, &Shape(vec![40, 30]));
    let y = c.g.binary(BinaryOp::Div, e, m);
    c.g.add_output("out", y);
    let big = c.input("big", &[5, 3000]);
    let t = c.g.reduce(ReduceOp::Sum, big, &[1]);
    c.g.add_output("rows", t);
    for seed in [1, 2] {
        compare_on(&stingy_backend(seed, Some(1)), &c.g, &c.env, false).unwrap_or_else(|e| panic!("{e}"));
    }
}

fn random_case(seed: u64, program: &[u32], grads: bool) -> Result<(), String> {
    let c = cases::random_case(seed, program, grads);
    compare(&c.g, &c.env, seed, false).map_err(|e| format!("{e}\n{}", nnc::graph::dump::text(&c.g)))
}

cases::random_graph_properties!(1000, 0x637564);

/// Runs `steps` training steps on the simulated GPU and the interpreter
/// from the same start and compares losses and every parameter and state
/// after each, with the tolerance `exact` selects.
fn check_training(src: &'static str, steps: usize, exact: bool) {
    let (g, env) = training_step(src, 5);
    let mut want_env = env.clone();
    let mut got_env = env;
    let mut exe = nnc::backend::compile(&backend(4), &g).expect("compiles");
    for step in 0..steps {
        let want = interp::step(&g, &mut want_env).expect("interpreter step");
        let got = exe.run(&mut got_env, true).expect("cuda step");
        exe.sync(&mut got_env).expect("cuda sync");
        let res = close(&format!("loss at step {step}"), want.output(&g, "loss"), &got["loss"], exact)
            .and_then(|()| {
                close(&format!("output at step {step}"), want.output(&g, "output"), &got["output"], exact)
            });
        res.unwrap_or_else(|e| panic!("{e}"));
        for (name, t) in &want_env.params {
            close(&format!("{name} after step {step}"), t, &got_env.params[name], exact)
                .unwrap_or_else(|e| panic!("{e}"));
        }
        for (name, t) in &want_env.states {
            close(&format!("{name} after step {step}"), t, &got_env.states[name], exact)
                .unwrap_or_else(|e| panic!("{e}"));
        }
    }
}

/// The MLP step uses `log` (cross-entropy) and `pow`/`sqrt` (Adam), so it
/// is compared with the tolerance; everything else in it is exact.
#[test]
fn mlp_training_matches_the_interpreter() {
    check_training(SMALL_MLP, 3, false);
}

#[test]
fn cnn_training_matches_the_interpreter() {
    check_training(SMALL_CNN, 3, false);
}

/// Training steps leave updated parameters on the device: the host copies
/// change only at `sync`, which brings them to where the interpreter's
/// steps end; a run without updates in between fetches them first.
#[test]
fn updated_parameters_stay_on_the_device_until_sync() {
    let (g, env) = training_step(SMALL_MLP, 6);
    let mut exe = nnc::backend::compile(&backend(5), &g).unwrap();
    let mut got = env.clone();
    exe.run(&mut got, true).unwrap();
    exe.run(&mut got, true).unwrap();
    assert_eq!(got.params, env.params, "parameters were downloaded before sync");
    assert_eq!(got.step, env.step + 2);
    exe.sync(&mut got).unwrap();
    let mut want = env.clone();
    for _ in 0..2 {
        interp::step(&g, &mut want).unwrap();
    }
    for (name, t) in &want.params {
        close(name, t, &got.params[name], false).unwrap();
    }
    // A second sync has nothing new to bring.
    let synced = got.params.clone();
    exe.sync(&mut got).unwrap();
    assert_eq!(got.params, synced);

    exe.run(&mut got, true).unwrap();
    let before = got.params.clone();
    exe.run(&mut got, false).unwrap();
    assert_ne!(got.params, before, "a run without updates fetches the parameters first");
    interp::step(&g, &mut want).unwrap();
    for (name, t) in &want.params {
        close(name, t, &got.params[name], false).unwrap();
    }
}

/// The trainer on the simulated GPU: `examples/xor.nn` (an evaluation
/// after every epoch runs another executable on the same parameters)
/// trains like the CPU back end, step losses and final parameters alike.
#[test]
fn the_trainer_fetches_parameters_before_evaluating_and_at_the_end() {
    use nnc::train::trainer::{RunOptions, Session};
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/xor.nn");
    let (prog, diags) = nnc::cli::load_checked(&file);
    assert!(diags.is_empty(), "{diags:?}");
    let (cfg, diags) = nnc::sema::blocks::check_train(&prog, &prog.trains[0]);
    let cfg = cfg.unwrap_or_else(|| panic!("{diags:?}"));
    let opts = RunOptions {
        base_dir: file.parent().unwrap().to_path_buf(),
        epochs: Some(3),
        no_save: true,
        ..RunOptions::default()
    };
    let train = |backend: &dyn nnc::backend::Backend| {
        let mut session = Session::new(&prog, &cfg, &opts, backend).unwrap();
        session.train(&opts, &mut |_| {}).unwrap()
    };
    let cpu = train(&nnc::backend::cpu::Cpu::new(1));
    let gpu = train(&backend(8));
    assert_eq!(cpu.losses.len(), gpu.losses.len());
    for (i, (c, g)) in cpu.losses.iter().zip(&gpu.losses).enumerate() {
        assert!((c - g).abs() <= 1e-5 * c.abs().max(1.0), "step {i}: cpu {c}, cuda {g}");
    }
    for ((name, c), (_, g)) in cpu.params.iter().zip(&gpu.params) {
        close(name, c, g, false).unwrap();
    }
    for (c, g) in cpu.epochs.iter().zip(&gpu.epochs) {
        assert_eq!(c.test_accuracy(), g.test_accuracy());
    }
}
