//! Differential tests: the CPU back end against the reference interpreter
//! on every op, on thousands of random graphs (forward values and
//! gradients), and on training steps; and the determinism of its results.
//!
//! Tolerance: the JIT reorders float arithmetic in exactly three ways:
//! `matrixmultiply` blocks and vectorises its dot products, a reduction
//! vectorised along its reduced axis keeps four partial sums combined at the
//! end, and `a * b + c` becomes one fused multiply-add (one rounding instead
//! of two). Each changes a result by a few ulps of the terms it combines:
//! for sums of `n` terms of magnitude up to `M` the difference is bounded by
//! about `n · 2^-24 · M`. Graphs here sum at most a few hundred terms of
//! magnitude near 1, so differences stay below 1e-5 of the largest
//! magnitude in a tensor; gradients chain a few such sums. `RTOL = 1e-4`
//! and `ATOL = 1e-4` times the largest magnitude in the expected tensor
//! (at least 1) leave an order of magnitude of margin, while a wrong index,
//! stride or operand gives differences of order 1. Transcendental functions
//! call the same Rust functions as the interpreter and random numbers use
//! the same hash, so those match exactly (`Rand` is checked bit for bit).

mod common;

use common::training::{SMALL_CNN, SMALL_MLP, training_step};
use common::{Case, cases, constant};
use nnc::backend::Tensor;
use nnc::backend::cpu::Cpu;
use nnc::backend::{Env, EvalError, interp};
use nnc::graph::{BinaryOp, DType, Graph, NodeId, Op, ReduceOp, Shape, UnaryOp};

const RTOL: f32 = 1e-4;
const ATOL: f32 = 1e-4;

#[track_caller]
fn assert_close(name: &str, want: &Tensor, got: &Tensor) {
    if let Err(e) = close(name, want, got) {
        panic!("{e}");
    }
}

fn close(name: &str, want: &Tensor, got: &Tensor) -> Result<(), String> {
    if want.shape != got.shape {
        return Err(format!("{name}: shapes differ: {} vs {}", want.shape, got.shape));
    }
    let scale = want.data.iter().filter(|x| x.is_finite()).fold(1.0f32, |m, x| m.max(x.abs()));
    for (i, (w, g)) in want.data.iter().zip(&got.data).enumerate() {
        let ok = (w.is_nan() && g.is_nan()) || w == g || (w - g).abs() <= ATOL * scale + RTOL * w.abs();
        if !ok {
            return Err(format!("{name}[{i}]: interpreter {w}, cpu {g} (shape {})", want.shape));
        }
    }
    Ok(())
}

/// Runs one step of `g` with both back ends from `env` and compares every
/// output, parameter and state afterwards.
fn compare(g: &Graph, env: &Env, threads: usize) -> Result<(), String> {
    let mut want_env = env.clone();
    let want = interp::step(g, &mut want_env).map_err(|e| format!("interpreter: {e}"))?;
    let mut exe =
        nnc::backend::compile(&Cpu::new(threads), g).map_err(|d| format!("compile: {}", d.message))?;
    let mut got_env = env.clone();
    let got = exe.run(&mut got_env, true).map_err(|e| format!("cpu: {e}"))?;
    for (name, id) in g.outputs() {
        close(name, want.get(*id), &got[name])?;
    }
    for (name, t) in &want_env.params {
        close(name, t, &got_env.params[name])?;
    }
    for (name, t) in &want_env.states {
        close(name, t, &got_env.states[name])?;
    }
    if want_env.step != got_env.step {
        return Err("step counters differ".into());
    }
    Ok(())
}

#[track_caller]
fn check(mut c: Case, out: NodeId) {
    c.g.add_output("out", out);
    for threads in [1, 2] {
        if let Err(e) = compare(&c.g, &c.env, threads) {
            panic!("with {threads} threads: {e}");
        }
    }
}

#[test]
fn every_unary_op() {
    for (_, c, y) in cases::every_unary_op() {
        check(c, y);
    }
}

#[test]
fn exp_and_tanh_are_the_interpreters_bit_for_bit() {
    // Generated code computes exp and tanh inline, four lanes at a time and
    // in scalar tails; every value must have the interpreter's exact bits,
    // special values and both sides of tanh's two formulas included.
    let mut data = vec![
        0.0,
        -0.0,
        f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        88.7,
        89.5,
        -87.0,
        -95.0,
        -110.0,
        1e-30,
        -1e-30,
        0.3,
        -0.3,
        0.2999,
        9.0,
        -9.0,
    ];
    let mut x = 0.37f32;
    while data.len() < 4003 {
        x = (x * 7919.3).fract();
        data.push((x - 0.5) * 40.0);
    }
    let n = data.len();
    for op in [UnaryOp::Exp, UnaryOp::Tanh] {
        let mut c = Case::new(40);
        let a = c.input_data("a", &[n], data.clone(), DType::F32);
        let y = c.g.unary(op, a);
        c.g.add_output("out", y);
        for threads in [1, 2] {
            let mut exe = nnc::backend::compile(&Cpu::new(threads), &c.g).expect("compiles");
            let got = exe.run(&mut c.env.clone(), false).expect("runs");
            for (i, (&x, &g)) in data.iter().zip(&got["out"].data).enumerate() {
                let want = match op {
                    UnaryOp::Exp => nnc::graph::semantics::mathf::exp(x),
                    _ => nnc::graph::semantics::mathf::tanh(x),
                };
                assert!(
                    g.to_bits() == want.to_bits() || (g.is_nan() && want.is_nan()),
                    "{op:?}({x}) at {i}: {g} vs {want}"
                );
            }
        }
    }
}

#[test]
fn every_binary_op() {
    for (_, c, y) in cases::every_binary_op() {
        check(c, y);
    }
}

#[test]
fn max_and_min_propagate_nan() {
    let data = vec![1.0, f32::NAN, -2.0, 0.0, f32::NAN, 3.0, -0.0, 7.0];
    let (c, y) = cases::max_and_min_with_nan(data, false);
    check(c, y);
}

#[test]
fn max_and_min_against_constants_propagate_nan() {
    // A constant operand takes a shorter path (one comparison, no NaN
    // test); NaN must still win and ties keep the interpreter's choice.
    for value in [0.0f32, -0.0, 0.5, -1.0] {
        for op in [BinaryOp::Max, BinaryOp::Min] {
            for constant_first in [false, true] {
                let mut c = Case::new(30);
                let data = vec![1.0, f32::NAN, -2.0, 0.0, f32::NAN, 3.0, -0.0, 7.0, 0.5, -1.0, f32::NAN, 2.0];
                let a = c.input_data("a", &[12], data, DType::F32);
                let k = constant(&mut c.g, value, &[12]);
                let y = if constant_first { c.g.binary(op, k, a) } else { c.g.binary(op, a, k) };
                check(c, y);
            }
        }
    }
}

#[test]
fn select_on_computed_conditions() {
    let (c, y) = cases::select_on_computed_conditions(&[4, 6], None);
    check(c, y);
}

#[test]
fn reductions_over_every_axis_set() {
    for (c, y) in cases::reductions_over_every_axis_set() {
        check(c, y);
    }
}

#[test]
fn movement_ops() {
    let (c, q) = cases::movement_ops();
    check(c, q);
}

#[test]
fn pad_slice_concat() {
    let (c, cat) = cases::pad_slice_concat(true);
    check(c, cat);
}

#[test]
fn matmuls_of_every_layout() {
    // Plain, both operands transposed, batched, and a broadcast batch operand.
    for (c, y) in cases::matmuls_of_every_layout(9, 17, 6) {
        check(c, y);
    }
}

#[test]
fn matmul_epilogues_and_reduced_products() {
    let (c, s) = cases::matmul_epilogues_and_reduced_products();
    check(c, s);
}

#[test]
fn gather_and_scatter_add() {
    let (c, t) = cases::gather_and_scatter_add();
    check(c, t);
}

#[test]
fn gather_out_of_range_is_the_same_error() {
    let mut c = Case::new(12);
    let table = c.input("t", &[3, 2]);
    let idx = c.input_data("i", &[2], vec![0., 3.], DType::I32);
    let y = c.g.gather(table, idx);
    c.g.add_output("out", y);
    let want = interp::eval(&c.g, &c.env).unwrap_err();
    let mut exe = nnc::backend::compile(&Cpu::new(1), &c.g).unwrap();
    let got = exe.run(&mut c.env.clone(), true).unwrap_err();
    assert_eq!(want, got);
    assert!(matches!(got, EvalError::IndexOutOfRange { bound: 3, .. }));
}

#[test]
fn missing_and_misshapen_feeds_are_the_same_errors() {
    let mut c = Case::new(13);
    let w = c.g.add(Op::Param { name: "w".into() }, &[], Shape(vec![2]), DType::F32, None);
    let y = c.g.unary(UnaryOp::Neg, w);
    c.g.add_output("y", y);
    let mut exe = nnc::backend::compile(&Cpu::new(1), &c.g).unwrap();
    let mut env = c.env.clone();
    assert_eq!(exe.run(&mut env, false).unwrap_err(), interp::eval(&c.g, &env).unwrap_err());
    env.params.insert("w".into(), Tensor::zeros(vec![3]));
    assert_eq!(exe.run(&mut env, false).unwrap_err(), interp::eval(&c.g, &env).unwrap_err());
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
    for threads in [1, 2] {
        cases::check_random_draws(&Cpu::new(threads));
    }
}

#[test]
fn updates_read_old_values_and_run_without_update_changes_nothing() {
    let c = cases::updates_reading_old_values();
    for threads in [1, 2] {
        compare(&c.g, &c.env, threads).unwrap();
    }
    cases::check_updates(&c, &Cpu::new(1), true);
}

#[test]
fn softmax_and_layer_norm_rows() {
    let mut c = Case::new(18);
    let x = c.input("x", &[6, 11]);
    let y = cases::softmax_rows(&mut c.g, x);
    let mean = c.g.reduce(ReduceOp::Sum, y, &[1]);
    let mean = c.g.scale(mean, 1.0 / 11.0);
    let centred = c.g.binary_bcast(BinaryOp::Sub, y, mean);
    let sq = c.g.binary(BinaryOp::Mul, centred, centred);
    let var = c.g.reduce(ReduceOp::Sum, sq, &[1]);
    let var = c.g.scale(var, 1.0 / 11.0);
    let eps = constant(&mut c.g, 1e-5, &[6, 1]);
    let var = c.g.binary(BinaryOp::Add, var, eps);
    let sd = c.g.unary(UnaryOp::Sqrt, var);
    let n = c.g.binary_bcast(BinaryOp::Div, centred, sd);
    check(c, n);
}

#[test]
fn kernels_large_enough_to_split_across_threads() {
    // Products split by rows (with an epilogue), by columns (the right
    // operand larger than the left) and by batch, and loop kernels above
    // the parallel threshold: the same results with one and two threads.
    let mut c = Case::new(19);
    let a = c.input("a", &[256, 200]);
    let b = c.input("b", &[200, 24]);
    let bias = c.input("bias", &[24]);
    let y = c.g.matmul(a, b);
    let y = c.g.add_(y, bias);
    let y = c.g.unary(UnaryOp::Tanh, y);
    let l = c.input("l", &[16, 256]);
    let w = c.g.matmul(l, y);
    let r = c.input("r", &[16, 200]);
    let wide = c.input("wide", &[200, 320]);
    let v = c.g.matmul(r, wide);
    let x = c.input("x", &[8, 40, 50]);
    let z = c.input("z", &[8, 50, 30]);
    let bz = c.g.matmul(x, z);
    let e = c.g.unary(UnaryOp::Exp, v);
    let s = c.g.reduce(ReduceOp::Sum, e, &[1]);
    c.g.add_output("w", w);
    c.g.add_output("s", s);
    c.g.add_output("bz", bz);
    check(c, y);
}

#[test]
fn producers_of_product_operands_run_block_by_block() {
    // An im2col-like producer (a concat of shifted windows, in blocks of
    // one image) feeding a product as its left operand and, transposed,
    // another product as its right operand (a weight gradient that sums
    // over every block).
    let mut c = Case::new(20);
    // Large enough to be worth producing block by block (over 1 MB), and
    // for two threads to split both products.
    let x = c.input("x", &[128, 16, 64]);
    let p = c.g.pad(x, vec![(0, 0), (0, 0), (1, 1)]);
    let w0 = c.g.slice_axis(p, 2, 0, 64);
    let w1 = c.g.slice_axis(p, 2, 1, 65);
    let w2 = c.g.slice_axis(p, 2, 2, 66);
    let z = constant(&mut c.g, 0.5, &[128, 16, 64]);
    let w1 = c.g.binary(BinaryOp::Max, w1, z);
    let cat = c.g.concat(&[w0, w1, w2], 1);
    let t = c.g.permute(cat, &[0, 2, 1]);
    let rows = c.g.reshape(t, Shape(vec![8192, 48]));
    let w = c.input("w", &[48, 32]);
    let y = c.g.matmul(rows, w);
    let gy = c.input("gy", &[8192, 40]);
    let gyt = c.g.transpose_last(gy);
    let dw = c.g.matmul(gyt, rows);
    c.g.add_output("y", y);
    let mut both = c.g.clone();
    both.add_output("dw", dw);
    let program =
        (*nnc::compile::graph(&both, &nnc::backend::cpu::target()).unwrap().kernels.unwrap().program).clone();
    let prologues = program
        .kernels
        .iter()
        .filter(|k| matches!(k, nnc::kernel::Kernel::Gemm(g) if g.prologue.is_some()))
        .count();
    assert_eq!(
        prologues,
        2,
        "{}",
        nnc::kernel::dump::text(&both, &program, &nnc::kernel::memory::plan(&program))
    );
    check(c, dw);
}

#[test]
fn large_products_in_every_operand_layout() {
    // Large enough that a right operand with contiguous rows is packed, and
    // that two threads split the product by columns; with the transposed
    // right operand (a linear layer's weight), a broadcast left one, and
    // an epilogue.
    let mut c = Case::new(24);
    let a = c.input("a", &[130, 140]);
    let b = c.input("b", &[140, 270]);
    let bt = c.input("bt", &[270, 140]);
    let y = c.g.matmul(a, b);
    let btt = c.g.transpose_last(bt);
    let z = c.g.matmul(a, btt);
    let s = c.g.binary(BinaryOp::Add, y, z);
    let k = constant(&mut c.g, 0.0, &[130, 270]);
    let s = c.g.binary(BinaryOp::Max, s, k);
    let row = c.input("row", &[1, 140]);
    let rows = c.g.broadcast_to(row, &Shape(vec![130, 140]));
    let w = c.g.matmul(rows, b);
    let out = c.g.binary(BinaryOp::Add, s, w);
    check(c, out);
}

#[test]
fn product_results_read_only_by_their_epilogue_stay_in_blocks() {
    // A col2im-like epilogue: each image's rows of the product, summed with
    // the same rows shifted by one (a guarded read inside the image).
    let mut c = Case::new(22);
    let a = c.input("a", &[8192, 40]);
    let b = c.input("b", &[40, 48]);
    let y = c.g.matmul(a, b);
    let y3 = c.g.reshape(y, Shape(vec![128, 64, 48]));
    let p = c.g.pad(y3, vec![(0, 0), (1, 0), (0, 0)]);
    let shifted = c.g.slice_axis(p, 1, 0, 64);
    let z = c.g.binary(BinaryOp::Add, y3, shifted);
    let k = constant(&mut c.g, 0.0, &[128, 64, 48]);
    let z = c.g.binary(BinaryOp::Max, z, k);
    let mut g = c.g.clone();
    g.add_output("out", z);
    let program =
        (*nnc::compile::graph(&g, &nnc::backend::cpu::target()).unwrap().kernels.unwrap().program).clone();
    let blocked =
        program.kernels.iter().filter(|k| matches!(k, nnc::kernel::Kernel::Gemm(g) if g.c_blocks)).count();
    assert_eq!(blocked, 1, "{}", nnc::kernel::dump::text(&g, &program, &nnc::kernel::memory::plan(&program)));
    check(c, z);
}

#[test]
fn a_product_with_a_prologue_and_a_result_only_its_epilogue_reads() {
    // Both block-by-block rewrites apply to one product: its left operand
    // is produced block by block and its result is read only by its
    // epilogue. (The result is then materialised: blocks of both kinds in
    // one product are not supported.)
    let mut c = Case::new(23);
    let x = c.input("x", &[128, 16, 64]);
    let p = c.g.pad(x, vec![(0, 0), (0, 0), (1, 1)]);
    let w0 = c.g.slice_axis(p, 2, 0, 64);
    let w2 = c.g.slice_axis(p, 2, 2, 66);
    let cat = c.g.concat(&[w0, w2], 1);
    let t = c.g.permute(cat, &[0, 2, 1]);
    let rows = c.g.reshape(t, Shape(vec![8192, 32]));
    let w = c.input("w", &[32, 32]);
    let y = c.g.matmul(rows, w);
    let k = constant(&mut c.g, 0.0, &[8192, 32]);
    let z = c.g.binary(BinaryOp::Max, y, k);
    let mut g = c.g.clone();
    g.add_output("out", z);
    let program =
        (*nnc::compile::graph(&g, &nnc::backend::cpu::target()).unwrap().kernels.unwrap().program).clone();
    let dump = nnc::kernel::dump::text(&g, &program, &nnc::kernel::memory::plan(&program));
    assert!(
        program.kernels.iter().any(|k| matches!(k, nnc::kernel::Kernel::Gemm(g) if g.prologue.is_some())),
        "{dump}"
    );
    check(c, z);
}

#[test]
fn kernels_that_differ_only_in_buffers_share_code_correctly() {
    // The same computation on three pairs of buffers (as the time steps of
    // an unrolled recurrence are), plus random draws on two streams.
    let mut c = Case::new(21);
    let mut outs = Vec::new();
    for t in 0..3 {
        let a = c.input(&format!("a{t}"), &[7, 9]);
        let b = c.input(&format!("b{t}"), &[7, 9]);
        let e = c.g.unary(UnaryOp::Tanh, a);
        let r = c.g.rand(t % 2, Shape(vec![7, 9]));
        let m = c.g.binary(BinaryOp::Mul, e, r);
        outs.push(c.g.binary(BinaryOp::Add, m, b));
    }
    c.g.add_output("o0", outs[0]);
    c.g.add_output("o1", outs[1]);
    check(c, outs[2]);
}

/// A random graph of `program`, its forward value (and, with `grads`, the
/// gradients of every parameter plus an SGD update of the first) compared
/// between the back ends.
fn random_case(seed: u64, program: &[u32], grads: bool) -> Result<(), String> {
    let c = cases::random_case(seed, program, grads);
    compare(&c.g, &c.env, 1 + (seed % 2) as usize)
        .map_err(|e| format!("{e}\n{}", nnc::graph::dump::text(&c.g)))
}

cases::random_graph_properties!(2000, 0x6a6974);

/// Runs `steps` training steps with both back ends from the same start and
/// compares losses and every parameter and state after each.
#[track_caller]
fn check_training(src: &'static str, steps: usize) {
    let (g, env) = training_step(src, 5);
    let mut want_env = env.clone();
    let mut got_env = env;
    let mut exe = nnc::backend::compile(&Cpu::new(2), &g).expect("compiles");
    for step in 0..steps {
        let want = interp::step(&g, &mut want_env).expect("interpreter step");
        let got = exe.run(&mut got_env, true).expect("cpu step");
        assert_close(&format!("loss at step {step}"), want.output(&g, "loss"), &got["loss"]);
        assert_close(&format!("output at step {step}"), want.output(&g, "output"), &got["output"]);
        for (name, t) in &want_env.params {
            assert_close(&format!("{name} after step {step}"), t, &got_env.params[name]);
        }
        for (name, t) in &want_env.states {
            assert_close(&format!("{name} after step {step}"), t, &got_env.states[name]);
        }
    }
}

#[test]
fn mlp_training_matches_the_interpreter() {
    check_training(SMALL_MLP, 3);
}

#[test]
fn cnn_training_matches_the_interpreter() {
    check_training(SMALL_CNN, 3);
}

const SMALL_LSTM: &str = r#"
model Tagger {
    embed = Embedding(11, 6)
    lstm  = LSTM(6, 8, num_layers = 2, dropout = 0.2)
    gru   = GRU(8, 8)
    head  = Linear(8, 10)
    fn forward(src: int[B, 5]) -> [B, 5, 10] {
        head(gru(lstm(embed(src))[0])[0])
    }
}
data d { train = sort_digits(n = 8, length = 5) }
train Tagger on d {
    loss = cross_entropy
    optimizer = adam(lr = 0.01)
    batch = 4
}
"#;

const SMALL_SEQ2SEQ: &str = r#"
model S {
    embed   = Embedding(11, 8)
    pos     = LearnedPositionalEncoding(6, 8)
    encoder = TransformerEncoderLayer(8, 2, dim_feedforward = 12, dropout = 0.1)
    decoder = TransformerDecoderLayer(8, 2, dim_feedforward = 12, dropout = 0.1, norm_first = true)
    head    = Linear(8, 10)
    fn forward(src: int[B, 6], tgt: int[B, 6]) -> [B, 6, 10] {
        let pad = full([B, 6], 0.0) + (arange(6) >= 5)
        let memory = encoder(pos(embed(src)), src_key_padding_mask = pad)
        head(decoder(pos(embed(tgt)) + sinusoidal_encoding(6, 8), memory, memory_key_padding_mask = pad))
    }
}
data d { train = reverse_digits(n = 8, length = 6) }
train S on d {
    loss = cross_entropy
    // Not Adam: the key projection's bias has a gradient of zero up to
    // rounding (softmax ignores a shift shared by a row), and Adam would
    // turn that rounding into a full step whose sign each back end decides.
    optimizer = sgd(lr = 0.05, momentum = 0.9)
    batch = 4
}
"#;

#[test]
fn recurrent_training_matches_the_interpreter() {
    check_training(SMALL_LSTM, 3);
}

#[test]
fn encoder_decoder_training_matches_the_interpreter() {
    check_training(SMALL_SEQ2SEQ, 3);
}

/// Losses and parameters of `steps` CPU steps.
fn cpu_run(src: &'static str, steps: usize, threads: usize) -> (Vec<u32>, Vec<(String, Vec<u32>)>) {
    let (g, mut env) = training_step(src, 11);
    let mut exe = nnc::backend::compile(&Cpu::new(threads), &g).expect("compiles");
    let losses =
        (0..steps).map(|_| exe.run(&mut env, true).expect("runs")["loss"].data[0].to_bits()).collect();
    let mut params: Vec<(String, Vec<u32>)> =
        env.params.iter().map(|(k, t)| (k.clone(), t.data.iter().map(|x| x.to_bits()).collect())).collect();
    params.sort();
    (losses, params)
}

#[test]
fn training_is_bit_for_bit_reproducible() {
    let first = cpu_run(SMALL_CNN, 4, 2);
    assert_eq!(first, cpu_run(SMALL_CNN, 4, 2), "two runs with 2 threads differ");
    // Work is split by ranges of independent points, so the thread count
    // does not change any result either.
    assert_eq!(first, cpu_run(SMALL_CNN, 4, 1), "1 and 2 threads differ");
}

/// A guard narrows a variable's bounds (inside `pad[1:1]` of 20 values,
/// `i` spans 18), and a reshape under it asked to split the variable by 3:
/// the split must divide the loop's own 20 iterations, not the 18.
#[test]
fn splits_divide_the_loop_not_the_guarded_range() {
    let mut c = Case::new(1);
    let p0 = c.param("p0", &[3, 3]);
    let n = c.g.unary(UnaryOp::Neg, p0);
    let cat = c.g.concat(&[p0, n], 0);
    let r = c.g.reshape(cat, Shape(vec![18]));
    let p = c.g.pad(r, vec![(1, 1)]);
    check(c, p);
}

/// The same under a concat's guard, without a pad: the second part spans
/// 24 of the 32 values, and unravelling its reshape asked to split the
/// loop by 12 (for the iota along axis 0) or 4 (along axis 1).
#[test]
fn splits_under_a_concat_guard_divide_the_loop() {
    for axis in [0, 1] {
        let mut c = Case::new(2);
        let a = c.input("a", &[8]);
        let x = c.param("x", &[2, 3, 4]);
        let iota = c.g.iota(axis, Shape(vec![2, 3, 4]));
        let y = c.g.binary(BinaryOp::Add, x, iota);
        let r = c.g.reshape(y, Shape(vec![24]));
        let n = c.g.unary(UnaryOp::Neg, r);
        let cat = c.g.concat(&[a, n], 0);
        check(c, cat);
    }
}

/// A pad of a reshaped elementwise value: the guard's range divides by a
/// stride that the padded extent does not.
#[test]
fn splits_under_pad_guards_divide_the_loop() {
    let mut c = Case::new(3);
    let x = c.param("x", &[2, 2, 2]);
    let iota = c.g.iota(2, Shape(vec![2, 2, 2]));
    let y = c.g.binary(BinaryOp::Add, x, iota);
    let r = c.g.reshape(y, Shape(vec![8]));
    let p = c.g.pad(r, vec![(1, 1)]);
    check(c, p);
}

/// Pads of reshapes read by matrix products (product prologues).
#[test]
fn splits_under_pad_guards_of_product_operands_divide_the_loop() {
    let mut c = Case::new(4);
    let w = c.input("w", &[2, 2]);
    let r = c.g.reshape(w, Shape(vec![2, 2, 1]));
    let p = c.g.pad(r, vec![(0, 0), (0, 0), (0, 1)]);
    let r = c.g.reshape(p, Shape(vec![2, 4]));
    let p = c.g.pad(r, vec![(3, 3), (0, 1)]);
    let a = c.param("a", &[1, 5]);
    let at = c.g.permute(a, &[1, 0]);
    let b = c.param("b", &[1, 4]);
    let nb = c.g.unary(UnaryOp::Neg, b);
    let b = c.g.concat(&[b, nb], 1);
    let left = c.g.matmul(p, at);
    let right = c.g.matmul(b, p);
    c.g.add_output("right", right);
    let lt = c.g.permute(left, &[1, 0]);
    let l0 = c.g.slice_axis(lt, 1, 0, 4);
    let l1 = c.g.slice_axis(lt, 1, 4, 8);
    let l1 = c.g.unary(UnaryOp::Neg, l1);
    let sum = c.g.binary(BinaryOp::Add, l0, l1);
    check(c, sum);
}
