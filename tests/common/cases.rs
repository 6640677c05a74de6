//! The graphs that every back end's differential tests run against the
//! reference interpreter: each builder returns the case with its feeds and
//! the node to compare (outputs other than that node already added), so a
//! back end's test file keeps only its own comparison and tolerance.

use super::{Case, add_gradients, constant, random_graph};
use nnc::backend::{Backend, interp};
use nnc::graph::{BinaryOp, DType, Graph, NodeId, ReduceOp, Shape, SliceRange, UnaryOp};

/// Every unary op on positive inputs of `[5, 9]`, with the op applied.
pub fn every_unary_op() -> Vec<(UnaryOp, Case, NodeId)> {
    use UnaryOp::*;
    [Neg, Exp, Log, Sqrt, Recip, Tanh, Sin, Cos]
        .into_iter()
        .map(|op| {
            let mut c = Case::new(1);
            let x = c.positive("x", &[5, 9]);
            let y = c.g.unary(op, x);
            (op, c, y)
        })
        .collect()
}

/// Every binary op on positive operands of `[3, 11]` with some equal
/// elements, so `Eq` and the ties of `Max`/`Min` are exercised.
pub fn every_binary_op() -> Vec<(BinaryOp, Case, NodeId)> {
    use BinaryOp::*;
    [Add, Sub, Mul, Div, Max, Min, Pow, Lt, Eq]
        .into_iter()
        .map(|op| {
            let mut c = Case::new(2);
            let a = c.positive("a", &[3, 11]);
            let b = c.positive("b", &[3, 11]);
            let b = c.g.select(a, b, b);
            let half = constant(&mut c.g, 1.25, &[3, 11]);
            let a2 = c.g.binary(Lt, a, half);
            let b2 = c.g.select(a2, a, b);
            let y = c.g.binary(op, a, b2);
            (op, c, y)
        })
        .collect()
}

/// `max` and `min` of `data` and its reverse, and a `max` reduction of
/// `data` broadcast back: with `concat`, the three results side by side
/// (so signed zeros are seen as they are); without, their sum.
pub fn max_and_min_with_nan(data: Vec<f32>, concat: bool) -> (Case, NodeId) {
    let n = data.len();
    let mut c = Case::new(3);
    let a = c.input_data("a", &[n], data.clone(), DType::F32);
    let rev: Vec<f32> = data.iter().rev().copied().collect();
    let b = c.input_data("b", &[n], rev, DType::F32);
    let mx = c.g.binary(BinaryOp::Max, a, b);
    let mn = c.g.binary(BinaryOp::Min, a, b);
    let y = if concat {
        let s = c.g.concat(&[mx, mn], 0);
        let r = c.g.reduce(ReduceOp::Max, a, &[0]);
        let r = c.g.broadcast_to(r, &Shape(vec![2 * n]));
        c.g.concat(&[s, r], 0)
    } else {
        let s = c.g.binary(BinaryOp::Add, mx, mn);
        let r = c.g.reduce(ReduceOp::Max, a, &[0]);
        let r = c.g.broadcast_to(r, &Shape(vec![n]));
        c.g.binary(BinaryOp::Add, s, r)
    };
    (c, y)
}

/// A select of two random inputs of `dims` on a condition: `cond` as given,
/// or (with `None`) a third random input.
pub fn select_on_computed_conditions(dims: &[usize], cond: Option<Vec<f32>>) -> (Case, NodeId) {
    let mut c = Case::new(4);
    let cond = match cond {
        Some(data) => c.input_data("c", dims, data, DType::F32),
        None => c.input("c", dims),
    };
    let a = c.input("a", dims);
    let b = c.input("b", dims);
    let y = c.g.select(cond, a, b);
    (c, y)
}

/// Sums and maxima of a `[5, 7, 13]` input over every set of axes.
pub fn reductions_over_every_axis_set() -> Vec<(Case, NodeId)> {
    let mut cases = Vec::new();
    for axes in [vec![0], vec![1], vec![2], vec![0, 1], vec![0, 2], vec![1, 2], vec![0, 1, 2]] {
        for op in [ReduceOp::Sum, ReduceOp::Max] {
            let mut c = Case::new(5);
            let x = c.input("x", &[5, 7, 13]);
            let y = c.g.reduce(op, x, &axes);
            cases.push((c, y));
        }
    }
    cases
}

/// Reshapes, a permute, a broadcast, a strided slice and a pad in a chain.
pub fn movement_ops() -> (Case, NodeId) {
    let mut c = Case::new(6);
    let x = c.input("x", &[2, 3, 4]);
    let r = c.g.reshape(x, Shape(vec![4, 6]));
    let p = c.g.permute(r, &[1, 0]);
    let r2 = c.g.reshape(p, Shape(vec![2, 12]));
    let e = c.g.reshape(r2, Shape(vec![2, 1, 12]));
    let e = c.g.broadcast_to(e, &Shape(vec![2, 5, 12]));
    let s = c.g.slice(
        e,
        vec![
            SliceRange::full(2),
            SliceRange { start: 1, end: 5, step: 2 },
            SliceRange { start: 0, end: 12, step: 5 },
        ],
    );
    let q = c.g.pad(s, vec![(1, 0), (0, 2), (3, 1)]);
    (c, q)
}

/// Windows of a padded `[2, 3, 5, 6]` input concatenated along the last
/// axis: with `strided`, a strided window, a unit-step one and a window of
/// two `slice_axis` calls; without, two windows of `slice_axis` calls.
pub fn pad_slice_concat(strided: bool) -> (Case, NodeId) {
    let mut c = Case::new(7);
    let x = c.input("x", &[2, 3, 5, 6]);
    let p = c.g.pad(x, vec![(0, 0), (0, 0), (1, 2), (2, 1)]);
    let cat = if strided {
        let s = c.g.slice(
            p,
            vec![
                SliceRange::full(2),
                SliceRange::full(3),
                SliceRange { start: 1, end: 8, step: 2 },
                SliceRange { start: 0, end: 9, step: 3 },
            ],
        );
        let q = c.g.slice(
            p,
            vec![
                SliceRange::full(2),
                SliceRange::full(3),
                SliceRange { start: 0, end: 4, step: 1 },
                SliceRange { start: 2, end: 5, step: 1 },
            ],
        );
        let r = c.g.slice_axis(p, 3, 4, 9);
        let r = c.g.slice_axis(r, 2, 0, 4);
        c.g.concat(&[s, q, r], 3)
    } else {
        let r = c.g.slice_axis(p, 3, 4, 9);
        let r = c.g.slice_axis(r, 2, 0, 4);
        let q = c.g.slice_axis(p, 3, 2, 7);
        let q = c.g.slice_axis(q, 2, 1, 5);
        c.g.concat(&[q, r], 3)
    };
    (c, cat)
}

/// Products in every layout: an `[m, k] x [k, n]` product plus the same
/// shapes with both operands transposed; then a batched product with a
/// broadcast batch operand, transposed.
pub fn matmuls_of_every_layout(m: usize, k: usize, n: usize) -> Vec<(Case, NodeId)> {
    let mut c = Case::new(8);
    let a = c.input("a", &[m, k]);
    let b = c.input("b", &[k, n]);
    let y = c.g.matmul(a, b);
    let at = c.input("at", &[k, m]);
    let bt = c.input("bt", &[n, k]);
    let at_t = c.g.transpose_last(at);
    let bt_t = c.g.transpose_last(bt);
    let y2 = c.g.matmul(at_t, bt_t);
    let sum = c.g.binary(BinaryOp::Add, y, y2);
    let plain = (c, sum);

    let mut c = Case::new(9);
    let a = c.input("a", &[3, 2, 5, 7]);
    let w = c.input("w", &[7, 4]);
    let w = c.g.reshape(w, Shape(vec![1, 1, 7, 4]));
    let w = c.g.broadcast_to(w, &Shape(vec![3, 2, 7, 4]));
    let y = c.g.matmul(a, w);
    let t = c.g.transpose_last(y);
    vec![plain, (c, t)]
}

/// A batched product with a bias, reshaped, through `tanh` and summed over
/// the batch.
pub fn matmul_epilogues_and_reduced_products() -> (Case, NodeId) {
    let mut c = Case::new(10);
    let x = c.input("x", &[4, 8, 12]);
    let w = c.input("w", &[4, 12, 16]);
    let bias = c.input("b", &[16]);
    let y = c.g.matmul(x, w);
    let y = c.g.add_(y, bias);
    let z = c.g.reshape(y, Shape(vec![4, 8, 4, 4]));
    let e = c.g.unary(UnaryOp::Tanh, z);
    let s = c.g.reduce(ReduceOp::Sum, e, &[0]);
    (c, s)
}

/// Rows gathered with repeated indices, scattered back and exponentiated.
pub fn gather_and_scatter_add() -> (Case, NodeId) {
    let mut c = Case::new(11);
    let table = c.input("t", &[5, 3]);
    let idx = c.input_data("i", &[2, 3], vec![4., 0., 2., 2., 1., 4.], DType::I32);
    let y = c.g.gather(table, idx);
    let s = c.g.scatter_add(y, idx, Shape(vec![5, 3]));
    let t = c.g.unary(UnaryOp::Exp, s);
    (c, t)
}

/// Casts to integers (truncating), integer division, and back.
pub fn casts_truncate_and_integer_division() -> (Case, NodeId) {
    let mut c = Case::new(14);
    let x = c.input_data("x", &[6], vec![1.7, -1.7, 2.0, -0.2, 7.5, -7.5], DType::F32);
    let i = c.g.cast(x, DType::I32);
    let d = c.input_data("d", &[6], vec![2., 2., 3., 1., 2., 2.], DType::I32);
    let q = c.g.binary(BinaryOp::Div, i, d);
    let f = c.g.cast(q, DType::F32);
    (c, f)
}

/// An iota times a constant, with the constant and a parameter as outputs
/// `k` and `p`.
pub fn iota_constants_and_leaves_as_outputs() -> (Case, NodeId) {
    let mut c = Case::new(15);
    let a = c.g.iota(1, Shape(vec![3, 5]));
    let k = constant(&mut c.g, 2.5, &[3, 5]);
    let s = c.g.binary(BinaryOp::Mul, a, k);
    let p = c.param("p", &[3, 5]);
    c.g.add_output("k", k);
    c.g.add_output("p", p);
    (c, s)
}

/// Random draws of two streams at step 7, as outputs `r` and `pt` (the
/// second permuted).
pub fn random_draws() -> Case {
    let mut c = Case::new(16);
    c.env.step = 7;
    let r = c.g.rand(3, Shape(vec![5, 37]));
    let q = c.g.rand(4, Shape(vec![5, 37]));
    let pt = c.g.permute(q, &[1, 0]);
    c.g.add_output("r", r);
    c.g.add_output("pt", pt);
    c
}

/// Updates that read each other's old values (`a <- b`, `b <- a + b`) and
/// one that doubles a parameter, with `a + b` as output `sum`.
pub fn updates_reading_old_values() -> Case {
    let mut c = Case::new(17);
    let a = c.param("a", &[4]);
    let b = c.state("b", &[4], vec![1., 2., 3., 4.]);
    // a <- b, b <- a + b (swap-like: both read the values from before).
    let sum = c.g.binary(BinaryOp::Add, a, b);
    c.g.add_update(a, b);
    c.g.add_update(b, sum);
    let m = c.param("m", &[4]);
    let two = constant(&mut c.g, 2.0, &[4]);
    let m2 = c.g.binary(BinaryOp::Mul, m, two);
    c.g.add_update(m, m2);
    c.g.add_output("sum", sum);
    c
}

/// A random graph of `program` with seed `seed` and its value as output
/// `out`; with `grads`, the gradients of every parameter plus an SGD
/// update of the first.
pub fn random_case(seed: u64, program: &[u32], grads: bool) -> Case {
    let mut c = Case::new(seed);
    let out = random_graph(&mut c, program);
    c.g.add_output("out", out);
    if grads {
        let gs = add_gradients(&mut c, out);
        let p0 = c.params[0];
        let dims = c.g.shape(p0).0.clone();
        let lr = constant(&mut c.g, 0.1, &dims);
        let step = c.g.binary(BinaryOp::Mul, gs[0], lr);
        let new = c.g.binary(BinaryOp::Sub, p0, step);
        c.g.add_update(p0, new);
    }
    c
}

/// Checks `backend` on the case of [`updates_reading_old_values`] (already
/// compared over one step): a run without update leaves parameters and
/// states (and, with `same_step`, the step counter) as they were, and two
/// runs with updates end where two interpreter steps do.
#[track_caller]
pub fn check_updates(c: &Case, backend: &dyn Backend, same_step: bool) {
    let env = &c.env;
    let mut exe = nnc::backend::compile(backend, &c.g).unwrap();
    let mut e = env.clone();
    exe.run(&mut e, false).unwrap();
    assert_eq!(e.params, env.params);
    assert_eq!(e.states, env.states);
    if same_step {
        assert_eq!(e.step, env.step);
    }
    exe.run(&mut e, true).unwrap();
    exe.run(&mut e, true).unwrap();
    exe.sync(&mut e).unwrap();
    let mut w = env.clone();
    interp::step(&c.g, &mut w).unwrap();
    interp::step(&c.g, &mut w).unwrap();
    assert_eq!(e.params, w.params);
    assert_eq!(e.states, w.states);
}

/// A softmax over the last axis of a rank-2 `x`: its maximum subtracted,
/// exponentials, divided by their sum.
pub fn softmax_rows(g: &mut Graph, x: NodeId) -> NodeId {
    let m = g.reduce(ReduceOp::Max, x, &[1]);
    let s = g.binary_bcast(BinaryOp::Sub, x, m);
    let e = g.unary(UnaryOp::Exp, s);
    let z = g.reduce(ReduceOp::Sum, e, &[1]);
    g.binary_bcast(BinaryOp::Div, e, z)
}

/// Checks that `backend` draws the case of [`random_draws`] bit for bit as
/// the interpreter does.
#[track_caller]
pub fn check_random_draws(backend: &dyn Backend) {
    let c = random_draws();
    let want = interp::eval(&c.g, &c.env).unwrap();
    let mut exe = nnc::backend::compile(backend, &c.g).unwrap();
    let got = exe.run(&mut c.env.clone(), false).unwrap();
    assert_eq!(want.output(&c.g, "r").data, got["r"].data);
    assert_eq!(want.output(&c.g, "pt").data, got["pt"].data);
}

/// Defines the two random-graph properties, `random_graphs_match_the_interpreter`
/// (forward values of programs of up to 13 words) and
/// `random_gradients_match_the_interpreter` (gradients and an SGD update,
/// up to 9 words), over `$cases` cases from the fixed seed `$seed`; each case
/// is the calling file's `random_case(seed, &program, grads) -> Result<(), String>`.
#[allow(unused_macros)]
macro_rules! random_graph_properties {
    ($cases:expr, $seed:expr) => {
        proptest::proptest! {
            #![proptest_config(proptest::test_runner::Config {
                cases: $cases,
                rng_seed: proptest::test_runner::RngSeed::Fixed($seed),
                failure_persistence: None,
                ..proptest::test_runner::Config::default()
            })]

            #[test]
            fn random_graphs_match_the_interpreter(seed in 0u64..1 << 32, program in proptest::collection::vec(proptest::arbitrary::any::<u32>(), 1..14)) {
                if let Err(e) = random_case(seed, &program, false) {
                    return Err(proptest::test_runner::TestCaseError::fail(e));
                }
            }

            #[test]
            fn random_gradients_match_the_interpreter(seed in 0u64..1 << 32, program in proptest::collection::vec(proptest::arbitrary::any::<u32>(), 1..10)) {
                if let Err(e) = random_case(seed, &program, true) {
                    return Err(proptest::test_runner::TestCaseError::fail(e));
                }
            }
        }
    };
}
#[allow(unused_imports)]
pub(crate) use random_graph_properties;
