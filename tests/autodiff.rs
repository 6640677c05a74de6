//! Gradient checks: `autodiff::grad`, evaluated by the reference
//! interpreter, against central finite differences of the same forward
//! graph.
//!
//! Every check has the shape `loss = sum(out * w)` for random weights `w`,
//! so every element of `out` matters with a distinct weight. The finite
//! differences evaluate only the forward graph and form the weighted sum
//! on the host in `f64`, so the only `f32` rounding in them is that of
//! `out` itself.
//!
//! Tolerances: the interpreter computes in `f32`, so a central difference
//! with step `EPS = 1e-2` carries a rounding error of about
//! `ulp(out) / EPS` (~1e-5 relative) and a truncation error of about
//! `EPS^2 * f''' / 6` (~1e-5 for inputs near 1). `RTOL = 2e-2` and
//! `ATOL = 2e-3` leave two orders of magnitude of margin while still
//! catching a wrong factor, sign or routing. Inputs are scaled near 1,
//! kept positive for log/sqrt/recip/pow, and kept `>= 0.1` away from the
//! kinks of max/min/reduce-max and from integers for casts, so no
//! perturbation crosses a kink.

use std::collections::BTreeSet;

use nnc::autodiff::{AutodiffError, grad};
use nnc::backend::Tensor;
use nnc::backend::{Env, interp::eval};
use nnc::graph::semantics::rng::Rng;
use nnc::graph::{BinaryOp, DType, Graph, NodeId, Op, ReduceOp, Shape, SliceRange, UnaryOp};
use proptest::prelude::*;
use proptest::test_runner::RngSeed;

/// Finite-difference step.
const EPS: f32 = 1e-2;
/// Relative tolerance on each gradient element.
const RTOL: f64 = 2e-2;
/// Absolute tolerance on each gradient element (scaled by the largest
/// finite difference of the tensor when that exceeds 1).
const ATOL: f64 = 2e-3;

/// A forward graph under construction, with the environment that feeds it
/// and the leaves to differentiate.
struct Case {
    g: Graph,
    env: Env,
    rng: Rng,
    wrt: Vec<NodeId>,
}

impl Case {
    fn new(seed: u64) -> Case {
        Case { g: Graph::new(), env: Env::new(seed), rng: Rng::new(seed), wrt: Vec::new() }
    }

    fn random(&mut self, n: usize, lo: f32, hi: f32) -> Vec<f32> {
        (0..n).map(|_| self.rng.uniform(lo, hi)).collect()
    }

    /// A leaf of kind `op` (input, param or state) fed with `data`.
    fn leaf_data(&mut self, op: Op, dims: &[usize], data: Vec<f32>, dtype: DType) -> NodeId {
        let shape = Shape(dims.to_vec());
        let t = Tensor::new(shape.clone(), data);
        match &op {
            Op::Input { name } => self.env.inputs.insert(name.clone(), t),
            Op::Param { name } => self.env.params.insert(name.clone(), t),
            Op::State { name } => self.env.states.insert(name.clone(), t),
            _ => panic!("not a leaf: {op:?}"),
        };
        self.g.add(op, &[], shape, dtype, None)
    }

    /// A differentiated parameter with the given values.
    fn param_data(&mut self, name: &str, dims: &[usize], data: Vec<f32>) -> NodeId {
        let op = Op::Param { name: name.into() };
        let p = self.leaf_data(op, dims, data, DType::F32);
        self.wrt.push(p);
        p
    }

    /// A differentiated parameter uniform in `[lo, hi)`.
    fn param(&mut self, name: &str, dims: &[usize], lo: f32, hi: f32) -> NodeId {
        let data = self.random(dims.iter().product(), lo, hi);
        self.param_data(name, dims, data)
    }

    /// A parameter whose elements are spaced at least 0.1 apart (a
    /// shuffled ramp), so a max over them has no near-ties.
    fn distinct_param(&mut self, name: &str, dims: &[usize]) -> NodeId {
        let n: usize = dims.iter().product();
        let mut order: Vec<usize> = (0..n).collect();
        self.rng.shuffle(&mut order);
        let data = order.iter().map(|&i| i as f32 * 0.1 - 1.0).collect();
        self.param_data(name, dims, data)
    }

    /// An input that is not differentiated.
    fn input(&mut self, name: &str, dims: &[usize], data: Vec<f32>, dtype: DType) -> NodeId {
        self.leaf_data(Op::Input { name: name.into() }, dims, data, dtype)
    }

    /// Checks the gradients of `sum(out * w)` for every `wrt` leaf, panicking
    /// with every mismatch.
    #[track_caller]
    fn check(self, out: NodeId) {
        if let Err(e) = self.compare(out) {
            panic!("{e}");
        }
    }

    /// Autodiff against finite differences; `Err` lists the mismatches.
    fn compare(mut self, out: NodeId) -> Result<(), String> {
        let shape = self.g.shape(out).clone();
        let weights = self.random(shape.numel(), -1.0, 1.0);

        let mut full = self.g.clone();
        let w = full.add(Op::Input { name: "w".into() }, &[], shape.clone(), DType::F32, None);
        self.env.inputs.insert("w".into(), Tensor::new(shape.clone(), weights.clone()));
        let prod = full.binary(BinaryOp::Mul, out, w);
        let loss = sum_all(&mut full, prod);
        let grads = grad(&mut full, loss, &self.wrt).map_err(|e| e.to_string())?;
        let values = eval(&full, &self.env).map_err(|e| e.to_string())?;

        let weighted = |env: &Env| -> Result<f64, String> {
            let v = eval(&self.g, env).map_err(|e| e.to_string())?;
            Ok(v.get(out).data.iter().zip(&weights).map(|(&y, &w)| f64::from(y) * f64::from(w)).sum())
        };
        let mut failures = Vec::new();
        for (&leaf, &gid) in self.wrt.iter().zip(&grads) {
            let analytic = values.get(gid).data.clone();
            let mut numeric = Vec::with_capacity(analytic.len());
            for i in 0..analytic.len() {
                let x = feed_mut(&self.g, &mut self.env, leaf).data[i];
                let (hi, lo) = (x + EPS, x - EPS);
                feed_mut(&self.g, &mut self.env, leaf).data[i] = hi;
                let up = weighted(&self.env)?;
                feed_mut(&self.g, &mut self.env, leaf).data[i] = lo;
                let down = weighted(&self.env)?;
                feed_mut(&self.g, &mut self.env, leaf).data[i] = x;
                numeric.push((up - down) / f64::from(hi - lo));
            }
            let scale = numeric.iter().fold(1.0f64, |m, v| m.max(v.abs()));
            for (i, (&a, &n)) in analytic.iter().zip(&numeric).enumerate() {
                let a = f64::from(a);
                let close = (a - n).abs() <= ATOL * scale + RTOL * n.abs();
                if !close {
                    failures.push(format!(
                        "d/d {}[{i}]: autodiff {a:.6}, finite difference {n:.6}",
                        leaf_name(&self.g, leaf)
                    ));
                }
            }
        }
        if failures.is_empty() {
            Ok(())
        } else {
            Err(format!("{}\n{}", failures.join("\n"), nnc::graph::dump::text(&full)))
        }
    }
}

/// The tensor feeding leaf `id`.
fn feed_mut<'a>(g: &Graph, env: &'a mut Env, id: NodeId) -> &'a mut Tensor {
    let (map, name) = match &g.node(id).op {
        Op::Input { name } => (&mut env.inputs, name),
        Op::Param { name } => (&mut env.params, name),
        Op::State { name } => (&mut env.states, name),
        op => panic!("{id} is a {}, not a leaf", op.name()),
    };
    map.get_mut(name).expect("fed")
}

/// A leaf's name, for messages.
fn leaf_name(g: &Graph, id: NodeId) -> String {
    match &g.node(id).op {
        Op::Input { name } | Op::Param { name } | Op::State { name } => name.clone(),
        _ => id.to_string(),
    }
}

/// The sum of every element, as a scalar `[]`.
fn sum_all(g: &mut Graph, x: NodeId) -> NodeId {
    let axes: Vec<usize> = (0..g.shape(x).rank()).collect();
    let s = g.reduce(ReduceOp::Sum, x, &axes);
    g.reshape(s, Shape::default())
}

fn shape(dims: &[usize]) -> Shape {
    Shape(dims.to_vec())
}

/// Declares the op kinds: one pattern per `Op` variant and per variant of
/// the enums inside it. `_exhaustive` has no wildcard, so a new variant
/// does not compile until it is listed here, and `every_op_is_checked`
/// then fails until `every_op` has a sample of it.
macro_rules! kinds {
    ($($kind:pat),* $(,)?) => {
        /// The kind's position in the list.
        fn kind(op: &Op) -> usize {
            let mut i = 0;
            $(
                if matches!(op, $kind) {
                    return i;
                }
                i += 1;
            )*
            unreachable!("{i} kinds, none matches {op:?}")
        }

        const N_KINDS: usize = [$(stringify!($kind)),*].len();

        #[allow(dead_code)]
        fn _exhaustive(op: &Op) {
            match op {
                $($kind => {})*
            }
        }
    };
}

kinds! {
    Op::Input { .. },
    Op::Param { .. },
    Op::State { .. },
    Op::Const { .. },
    Op::Iota { .. },
    Op::Rand { .. },
    Op::Unary(UnaryOp::Neg),
    Op::Unary(UnaryOp::Exp),
    Op::Unary(UnaryOp::Log),
    Op::Unary(UnaryOp::Sqrt),
    Op::Unary(UnaryOp::Recip),
    Op::Unary(UnaryOp::Tanh),
    Op::Unary(UnaryOp::Sin),
    Op::Unary(UnaryOp::Cos),
    Op::Binary(BinaryOp::Add),
    Op::Binary(BinaryOp::Sub),
    Op::Binary(BinaryOp::Mul),
    Op::Binary(BinaryOp::Div),
    Op::Binary(BinaryOp::Max),
    Op::Binary(BinaryOp::Min),
    Op::Binary(BinaryOp::Pow),
    Op::Binary(BinaryOp::Lt),
    Op::Binary(BinaryOp::Eq),
    Op::Select,
    Op::Reduce { op: ReduceOp::Sum, .. },
    Op::Reduce { op: ReduceOp::Max, .. },
    Op::Reshape,
    Op::Permute { .. },
    Op::Expand,
    Op::Slice { .. },
    Op::Pad { .. },
    Op::Concat { .. },
    Op::MatMul,
    Op::Gather,
    Op::ScatterAdd,
    Op::Cast,
    Op::Detach,
}

fn range(start: usize, end: usize, step: usize) -> SliceRange {
    SliceRange { start, end, step }
}

/// Samples of every op kind, some kinds with several attribute sets.
fn every_op() -> Vec<Op> {
    let mut ops = vec![
        Op::Input { name: "x".into() },
        Op::Param { name: "x".into() },
        Op::State { name: "x".into() },
        Op::Const { value: 0.7 },
        Op::Iota { axis: 1 },
        Op::Rand { stream: 3 },
    ];
    use BinaryOp as B;
    use UnaryOp as U;
    ops.extend([U::Neg, U::Exp, U::Log, U::Sqrt, U::Recip, U::Tanh, U::Sin, U::Cos].map(Op::Unary));
    ops.extend([B::Add, B::Sub, B::Mul, B::Div, B::Max, B::Min, B::Pow, B::Lt, B::Eq].map(Op::Binary));
    ops.extend([
        Op::Select,
        Op::Reduce { op: ReduceOp::Sum, axes: vec![0, 2] },
        Op::Reduce { op: ReduceOp::Sum, axes: vec![1] },
        Op::Reduce { op: ReduceOp::Max, axes: vec![1] },
        Op::Reduce { op: ReduceOp::Max, axes: vec![0, 1, 2] },
        Op::Reshape,
        Op::Permute { perm: vec![2, 0, 1] },
        Op::Expand,
        // Slices of a [5, 7] operand.
        Op::Slice { ranges: vec![range(1, 4, 1), range(2, 7, 1)] },
        Op::Slice { ranges: vec![range(0, 5, 2), range(1, 7, 3)] },
        Op::Slice { ranges: vec![range(1, 4, 2), range(0, 7, 7)] },
        // Pads of a [2, 3] operand.
        Op::Pad { pads: vec![(1, 0), (2, 1)] },
        Op::Concat { axis: 1 },
        Op::MatMul,
        Op::Gather,
        Op::ScatterAdd,
        Op::Cast,
        Op::Detach,
    ]);
    ops
}

/// A graph around one sample op; returns the case and the node to check.
fn op_case(op: &Op, seed: u64) -> (Case, NodeId) {
    let mut c = Case::new(seed);
    let s23 = shape(&[2, 3]);
    // Adds the op under test over `operands`.
    let apply = |c: &mut Case, operands: &[NodeId], shape: Shape, dtype: DType| {
        c.g.add(op.clone(), operands, shape, dtype, None)
    };
    let out = match op {
        Op::Input { .. } | Op::Param { .. } | Op::State { .. } => {
            let data = c.random(6, -1.0, 1.0);
            let x = c.leaf_data(op.clone(), &[2, 3], data, DType::F32);
            c.wrt.push(x);
            let p = c.param("p", &[2, 3], -1.0, 1.0);
            let xp = c.g.binary(BinaryOp::Mul, x, p);
            c.g.binary(BinaryOp::Mul, xp, x)
        }
        Op::Const { .. } | Op::Iota { .. } | Op::Rand { .. } => {
            let x = c.param("x", &[2, 3], -1.0, 1.0);
            let k = apply(&mut c, &[], s23, DType::F32);
            let xk = c.g.binary(BinaryOp::Mul, x, k);
            c.g.binary(BinaryOp::Add, xk, k)
        }
        Op::Unary(u) => {
            let (lo, hi) = match u {
                UnaryOp::Log | UnaryOp::Sqrt | UnaryOp::Recip => (0.5, 1.5),
                UnaryOp::Neg | UnaryOp::Exp | UnaryOp::Tanh | UnaryOp::Sin | UnaryOp::Cos => (-1.0, 1.0),
            };
            let x = c.param("x", &[2, 3], lo, hi);
            apply(&mut c, &[x], s23, DType::F32)
        }
        Op::Binary(b) => {
            let a_data = c.random(6, -1.0, 1.0);
            let b_data: Vec<f32> = match b {
                // `b` at least 0.2 above or below `a`.
                BinaryOp::Max | BinaryOp::Min | BinaryOp::Lt => a_data
                    .iter()
                    .map(|&a| {
                        let d = c.rng.uniform(0.2, 0.6);
                        if c.rng.next_f32() < 0.5 { a + d } else { a - d }
                    })
                    .collect(),
                // Equal to `a` in half the positions.
                BinaryOp::Eq => {
                    a_data.iter().enumerate().map(|(i, &a)| if i % 2 == 0 { a } else { a + 0.5 }).collect()
                }
                BinaryOp::Div => c.random(6, 0.5, 1.5),
                BinaryOp::Pow => c.random(6, -1.5, 1.5),
                BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul => c.random(6, -1.0, 1.0),
            };
            let a_data = if *b == BinaryOp::Pow { c.random(6, 0.5, 1.5) } else { a_data };
            let a = c.param_data("a", &[2, 3], a_data);
            let bb = c.param_data("b", &[2, 3], b_data);
            let y = apply(&mut c, &[a, bb], s23, DType::F32);
            if matches!(b, BinaryOp::Lt | BinaryOp::Eq) {
                // A comparison has no gradient; scale a differentiable
                // value by it so the check sees its forward value.
                let p = c.param("p", &[2, 3], -1.0, 1.0);
                c.g.binary(BinaryOp::Mul, y, p)
            } else {
                y
            }
        }
        Op::Select => {
            let cond = c.input("cond", &[2, 3], vec![1., 0., 0., 1., 2., 0.], DType::F32);
            let a = c.param("a", &[2, 3], -1.0, 1.0);
            let b = c.param("b", &[2, 3], -1.0, 1.0);
            apply(&mut c, &[cond, a, b], s23, DType::F32)
        }
        Op::Reduce { op: r, .. } => {
            let x = match r {
                ReduceOp::Sum => c.param("x", &[2, 3, 4], -1.0, 1.0),
                ReduceOp::Max => c.distinct_param("x", &[2, 3, 4]),
            };
            apply(&mut c, &[x], Shape::default(), DType::F32)
        }
        Op::Reshape => {
            let x = c.param("x", &[2, 6], -1.0, 1.0);
            apply(&mut c, &[x], shape(&[3, 2, 2]), DType::F32)
        }
        Op::Permute { .. } => {
            let x = c.param("x", &[2, 3, 4], -1.0, 1.0);
            apply(&mut c, &[x], Shape::default(), DType::F32)
        }
        Op::Expand => {
            let x = c.param("x", &[1, 3, 1], -1.0, 1.0);
            apply(&mut c, &[x], shape(&[2, 3, 4]), DType::F32)
        }
        Op::Slice { .. } => {
            let x = c.param("x", &[5, 7], -1.0, 1.0);
            apply(&mut c, &[x], Shape::default(), DType::F32)
        }
        Op::Pad { .. } => {
            let x = c.param("x", &[2, 3], -1.0, 1.0);
            apply(&mut c, &[x], Shape::default(), DType::F32)
        }
        Op::Concat { .. } => {
            let a = c.param("a", &[2, 1, 3], -1.0, 1.0);
            let b = c.param("b", &[2, 2, 3], -1.0, 1.0);
            let d = c.param("d", &[2, 3, 3], -1.0, 1.0);
            // `a` twice: its adjoint sums two slices.
            apply(&mut c, &[a, b, a, d], Shape::default(), DType::F32)
        }
        Op::MatMul => {
            let a = c.param("a", &[2, 3, 4], -1.0, 1.0);
            let b = c.param("b", &[2, 4, 5], -1.0, 1.0);
            apply(&mut c, &[a, b], Shape::default(), DType::F32)
        }
        Op::Gather => {
            let table = c.param("table", &[5, 3], -1.0, 1.0);
            let idx = c.input("idx", &[2, 3], vec![4., 0., 4., 1., 2., 4.], DType::I32);
            apply(&mut c, &[table, idx], Shape::default(), DType::F32)
        }
        Op::ScatterAdd => {
            let src = c.param("src", &[4, 3], -1.0, 1.0);
            let idx = c.input("idx", &[4], vec![1., 3., 1., 0.], DType::I32);
            apply(&mut c, &[src, idx], shape(&[5, 3]), DType::F32)
        }
        Op::Detach => {
            // Log-softmax with the row maximum detached: the value does not
            // depend on the detached shift, so finite differences see the
            // same gradient autodiff computes without flowing through it.
            let x = c.param("x", &[2, 3], -1.0, 1.0);
            let m = c.g.reduce(ReduceOp::Max, x, &[1]);
            let m = apply(&mut c, &[m], shape(&[2, 1]), DType::F32);
            let m = c.g.broadcast_to(m, &s23);
            let z = c.g.binary(BinaryOp::Sub, x, m);
            let e = c.g.unary(UnaryOp::Exp, z);
            let total = c.g.reduce(ReduceOp::Sum, e, &[1]);
            let total = c.g.unary(UnaryOp::Log, total);
            let total = c.g.broadcast_to(total, &s23);
            c.g.binary(BinaryOp::Sub, z, total)
        }
        Op::Cast => {
            // Values 0.1 or more away from an integer.
            let data = (0..6).map(|i| (i as f32 - 3.0) + c.rng.uniform(0.1, 0.9)).collect();
            let x = c.param_data("x", &[2, 3], data);
            let to_int = apply(&mut c, &[x], s23.clone(), DType::I32);
            let back = apply(&mut c, &[to_int], s23.clone(), DType::F32);
            let same = apply(&mut c, &[x], s23, DType::F32);
            let y = c.g.binary(BinaryOp::Mul, x, back);
            c.g.binary(BinaryOp::Add, y, same)
        }
    };
    (c, out)
}

#[test]
fn every_op_is_checked() {
    let seen: BTreeSet<usize> = every_op().iter().map(kind).collect();
    let missing: Vec<usize> = (0..N_KINDS).filter(|k| !seen.contains(k)).collect();
    assert!(missing.is_empty(), "op kinds without a sample: {missing:?}");
}

#[test]
fn gradient_of_every_op() {
    for (i, op) in every_op().iter().enumerate() {
        for seed in 0..3 {
            let (case, out) = op_case(op, 100 * i as u64 + seed);
            assert!(
                case.g.node_ids().iter().any(|&n| case.g.node(n).op == *op),
                "the {} case does not use its op",
                op.name()
            );
            if let Err(e) = case.compare(out) {
                panic!("{op:?} (seed {seed}):\n{e}");
            }
        }
    }
}

/// Softmax over the last axis from primitives: `exp(x - max) / sum`.
fn softmax(g: &mut Graph, x: NodeId) -> NodeId {
    let s = g.shape(x).clone();
    let last = s.rank() - 1;
    let m = g.reduce(ReduceOp::Max, x, &[last]);
    let m = g.broadcast_to(m, &s);
    let z = g.binary(BinaryOp::Sub, x, m);
    let e = g.unary(UnaryOp::Exp, z);
    let total = g.reduce(ReduceOp::Sum, e, &[last]);
    let total = g.broadcast_to(total, &s);
    g.binary(BinaryOp::Div, e, total)
}

/// Log-softmax over the last axis: `x - max - log(sum(exp(x - max)))`.
fn log_softmax(g: &mut Graph, x: NodeId) -> NodeId {
    let s = g.shape(x).clone();
    let last = s.rank() - 1;
    let m = g.reduce(ReduceOp::Max, x, &[last]);
    let m = g.broadcast_to(m, &s);
    let z = g.binary(BinaryOp::Sub, x, m);
    let e = g.unary(UnaryOp::Exp, z);
    let total = g.reduce(ReduceOp::Sum, e, &[last]);
    let log_total = g.unary(UnaryOp::Log, total);
    let log_total = g.broadcast_to(log_total, &s);
    g.binary(BinaryOp::Sub, z, log_total)
}

#[test]
fn softmax_from_primitives() {
    let mut c = Case::new(1);
    let x = c.distinct_param("x", &[3, 5]);
    let y = softmax(&mut c.g, x);
    c.check(y);
}

#[test]
fn log_softmax_with_one_hot_nll() {
    let mut c = Case::new(2);
    let logits = c.distinct_param("logits", &[4, 5]);
    let labels = c.input("labels", &[4], vec![3., 0., 4., 3.], DType::I32);
    let lsm = log_softmax(&mut c.g, logits);
    // one_hot[i, j] = (j == labels[i])
    let labels = c.g.cast(labels, DType::F32);
    let labels = c.g.reshape(labels, shape(&[4, 1]));
    let labels = c.g.broadcast_to(labels, &shape(&[4, 5]));
    let classes = c.g.iota(1, shape(&[4, 5]));
    let one_hot = c.g.binary(BinaryOp::Eq, classes, labels);
    let picked = c.g.binary(BinaryOp::Mul, lsm, one_hot);
    let total = sum_all(&mut c.g, picked);
    let nll = c.g.scale(total, -1.0 / 4.0);
    c.check(nll);
}

#[test]
fn log_softmax_with_gathered_nll() {
    let mut c = Case::new(3);
    let logits = c.distinct_param("logits", &[4, 5]);
    // Flat positions `5 i + labels[i]` of the picked log-probabilities.
    let idx = c.input("idx", &[4], vec![3., 5., 14., 18.], DType::I32);
    let lsm = log_softmax(&mut c.g, logits);
    let flat = c.g.reshape(lsm, shape(&[20, 1]));
    let picked = c.g.gather(flat, idx);
    let total = sum_all(&mut c.g, picked);
    let nll = c.g.scale(total, -1.0 / 4.0);
    c.check(nll);
}

/// `x @ w + b` for `x[B, I]`, `w[I, O]`, `b[O]`.
fn linear(c: &mut Case, x: NodeId, name: &str, fan_in: usize, fan_out: usize) -> NodeId {
    let w = c.param(&format!("{name}.weight"), &[fan_in, fan_out], -1.0, 1.0);
    let b = c.param(&format!("{name}.bias"), &[fan_out], -1.0, 1.0);
    let xw = c.g.matmul(x, w);
    c.g.add_(xw, b)
}

#[test]
fn two_layer_mlp() {
    // Seeds whose hidden pre-activations all lie 0.1 or more from the
    // ReLU kink (the perturbations move them by well under 0.1).
    let mut checked = 0;
    for seed in 0..50 {
        let mut c = Case::new(seed);
        let data = c.random(12, -1.0, 1.0);
        let x = c.input("x", &[4, 3], data, DType::F32);
        let h = linear(&mut c, x, "fc1", 3, 5);
        let zero = c.g.constant(0.0, shape(&[4, 5]));
        let relu = c.g.binary(BinaryOp::Max, h, zero);
        let y = linear(&mut c, relu, "fc2", 5, 2);
        let pre = eval(&c.g, &c.env).unwrap().get(h).clone();
        if pre.data.iter().any(|v| v.abs() < 0.1) {
            continue;
        }
        c.check(y);
        checked += 1;
        if checked == 3 {
            return;
        }
    }
    panic!("too few seeds without near-kinks");
}

/// A 3x3 convolution of `x[1, C, H, W]` with `weight[O, 9 C]`, padding 1:
/// the nine shifted windows are joined along the channels (im2col as
/// views) and multiplied by the weight.
fn conv3x3(c: &mut Case, x: NodeId, out_channels: usize, stride: usize) -> NodeId {
    let dims = c.g.shape(x).0.clone();
    let (ch, h, w) = (dims[1], dims[2], dims[3]);
    let padded = c.g.pad(x, vec![(0, 0), (0, 0), (1, 1), (1, 1)]);
    let (oh, ow) = (h.div_ceil(stride), w.div_ceil(stride));
    let mut windows = Vec::new();
    for kh in 0..3 {
        for kw in 0..3 {
            let ranges = vec![
                SliceRange::full(1),
                SliceRange::full(ch),
                range(kh, kh + h, stride),
                range(kw, kw + w, stride),
            ];
            windows.push(c.g.slice(padded, ranges));
        }
    }
    let cols = c.g.concat(&windows, 1);
    let cols = c.g.reshape(cols, shape(&[9 * ch, oh * ow]));
    let weight = c.param("conv.weight", &[out_channels, 9 * ch], -1.0, 1.0);
    let y = c.g.matmul(weight, cols);
    c.g.reshape(y, shape(&[1, out_channels, oh, ow]))
}

#[test]
fn convolution_from_views_and_matmul() {
    let mut c = Case::new(4);
    let x = c.param("x", &[1, 2, 4, 4], -1.0, 1.0);
    let y = conv3x3(&mut c, x, 3, 1);
    c.check(y);
}

#[test]
fn strided_convolution_from_views_and_matmul() {
    let mut c = Case::new(5);
    let x = c.param("x", &[1, 2, 5, 4], -1.0, 1.0);
    let y = conv3x3(&mut c, x, 2, 2);
    c.check(y);
}

/// The gradient of `sum(f(x) * w)` for fixed `x` and `w`, by autodiff.
fn gradient_values(x: &[f32], w: &[f32], f: impl Fn(&mut Graph, NodeId) -> NodeId) -> Vec<f32> {
    let mut c = Case::new(0);
    let xn = c.param_data("x", &[x.len()], x.to_vec());
    let y = f(&mut c.g, xn);
    let wn = c.input("w", c.g.shape(y).clone().dims(), w.to_vec(), DType::F32);
    let prod = c.g.binary(BinaryOp::Mul, y, wn);
    let loss = sum_all(&mut c.g, prod);
    let grads = grad(&mut c.g, loss, &[xn]).unwrap();
    eval(&c.g, &c.env).unwrap().get(grads[0]).data.clone()
}

#[test]
fn reduce_max_splits_ties_evenly() {
    let g = gradient_values(&[1., 3., 3., 2., 3.], &[6.], |g, x| g.reduce(ReduceOp::Max, x, &[0]));
    assert_eq!(g, [0., 2., 2., 0., 2.]);
}

#[test]
fn binary_max_and_min_ties_go_to_the_first_operand() {
    for op in [BinaryOp::Max, BinaryOp::Min] {
        let mut c = Case::new(0);
        let a = c.param_data("a", &[3], vec![1., 2., 3.]);
        let b = c.param_data("b", &[3], vec![1., 0., 5.]);
        let y = c.g.binary(op, a, b);
        let loss = sum_all(&mut c.g, y);
        let grads = grad(&mut c.g, loss, &[a, b]).unwrap();
        let v = eval(&c.g, &c.env).unwrap();
        let (ga, gb) = (&v.get(grads[0]).data, &v.get(grads[1]).data);
        match op {
            BinaryOp::Max => {
                assert_eq!(ga, &[1., 1., 0.]);
                assert_eq!(gb, &[0., 0., 1.]);
            }
            _ => {
                assert_eq!(ga, &[1., 0., 1.]);
                assert_eq!(gb, &[0., 1., 0.]);
            }
        }
    }
}

#[test]
fn pow_gradients_are_guarded_at_zero() {
    // (a, b) = (0, 2), (0, 0), (0, -1), (2, 0). As in PyTorch, the base's
    // gradient is zero where b == 0 and the exponent's where a == 0 and
    // b >= 0; at (0, -1) both are infinite, unguarded.
    let mut c = Case::new(0);
    let a = c.param_data("a", &[4], vec![0., 0., 0., 2.]);
    let b = c.param_data("b", &[4], vec![2., 0., -1., 0.]);
    let y = c.g.binary(BinaryOp::Pow, a, b);
    let loss = sum_all(&mut c.g, y);
    let grads = grad(&mut c.g, loss, &[a, b]).unwrap();
    let v = eval(&c.g, &c.env).unwrap();
    let (ga, gb) = (&v.get(grads[0]).data, &v.get(grads[1]).data);
    assert_eq!(ga[..2], [0., 0.]);
    assert_eq!(ga[3], 0.);
    assert_eq!(gb[..2], [0., 0.]);
    assert_eq!(gb[3], 2f32.ln());
    assert!(!ga[2].is_finite() && !gb[2].is_finite());
}

#[test]
fn unrelated_and_integer_nodes_get_zero_gradients() {
    let mut c = Case::new(0);
    let x = c.param("x", &[2], -1.0, 1.0);
    let unused = c.param("unused", &[3], -1.0, 1.0);
    let labels = c.input("labels", &[2], vec![1., 0.], DType::I32);
    let lf = c.g.cast(labels, DType::F32);
    let y = c.g.binary(BinaryOp::Mul, x, lf);
    let loss = sum_all(&mut c.g, y);
    let grads = grad(&mut c.g, loss, &[x, unused, labels]).unwrap();
    let v = eval(&c.g, &c.env).unwrap();
    assert_eq!(v.get(grads[0]).data, [1., 0.]);
    assert_eq!(v.get(grads[1]).data, [0., 0., 0.]);
    assert_eq!(v.get(grads[2]).data, [0., 0.]);
}

#[test]
fn gradient_with_respect_to_an_intermediate_node() {
    let mut c = Case::new(0);
    let x = c.param_data("x", &[2], vec![1., 2.]);
    let sq = c.g.binary(BinaryOp::Mul, x, x);
    let y = c.g.binary(BinaryOp::Mul, sq, x);
    let loss = sum_all(&mut c.g, y);
    let grads = grad(&mut c.g, loss, &[sq, x, loss]).unwrap();
    let v = eval(&c.g, &c.env).unwrap();
    assert_eq!(v.get(grads[0]).data, [1., 2.]);
    assert_eq!(v.get(grads[1]).data, [3., 12.]);
    assert_eq!(v.get(grads[2]).data, [1.]);
}

#[test]
fn loss_must_be_a_scalar_f32_node() {
    let mut c = Case::new(0);
    let x = c.param("x", &[2, 1], -1.0, 1.0);
    assert_eq!(grad(&mut c.g, x, &[x]), Err(AutodiffError::LossNotScalar { loss: x, shape: shape(&[2, 1]) }));
    let s = c.param("s", &[1, 1], -1.0, 1.0);
    assert!(grad(&mut c.g, s, &[x]).is_ok());
    let i = c.input("i", &[], vec![1.], DType::I32);
    assert_eq!(grad(&mut c.g, i, &[x]), Err(AutodiffError::LossNotFloat(i)));
    let gone = c.g.constant(1.0, Shape::default());
    c.g.remove(gone);
    assert_eq!(grad(&mut c.g, s, &[gone]), Err(AutodiffError::UnknownNode(gone)));
}

/// Builds a random graph from `program`: each word picks an op and its
/// attributes, applied to nodes already built (params of random shapes up
/// to rank 3, broadcasts, permutes, reductions, matmuls, movement ops).
/// Kinked ops (max, min, reduce-max) are left to the per-op checks, where
/// inputs can be kept away from their kinks.
fn random_graph(seed: u64, program: &[u32]) -> (Case, NodeId) {
    const MAX_NUMEL: usize = 48;
    let mut c = Case::new(seed);
    let mut n_params = 0;
    let mut new_param = |c: &mut Case, dims: &[usize]| {
        n_params += 1;
        c.param(&format!("p{n_params}"), dims, -1.0, 1.0)
    };
    let random_dims =
        |c: &mut Case, rank: usize| -> Vec<usize> { (0..rank).map(|_| 1 + c.rng.below(4)).collect() };
    let first = random_dims(&mut c, 1 + (seed % 3) as usize);
    let mut pool = vec![new_param(&mut c, &first)];
    for &word in program {
        let pick = (word >> 8) as usize % pool.len();
        let x = pool[pick];
        let dims = c.g.shape(x).0.clone();
        let rank = dims.len();
        let numel: usize = dims.iter().product();
        let y = match word % 12 {
            0 => {
                use UnaryOp::*;
                let op = [Neg, Exp, Log, Sqrt, Recip, Tanh, Sin, Cos][(word >> 4) as usize % 8];
                match op {
                    // exp of a bounded value; log, sqrt and recip of 1.5 + tanh.
                    Exp => {
                        let t = c.g.unary(Tanh, x);
                        c.g.unary(Exp, t)
                    }
                    Log | Sqrt | Recip => {
                        let t = c.g.unary(Tanh, x);
                        let k = c.g.constant(1.5, shape(&dims));
                        let pos = c.g.binary(BinaryOp::Add, t, k);
                        c.g.unary(op, pos)
                    }
                    _ => c.g.unary(op, x),
                }
            }
            1 | 2 => {
                // Broadcasting binary op with another pool node or a new
                // param of a shape that broadcasts against `x`.
                let other = pool[(word >> 16) as usize % pool.len()];
                let b = match nnc::graph::build::broadcast_shapes(&shape(&dims), c.g.shape(other)) {
                    Some(s) if s.numel() <= MAX_NUMEL => other,
                    _ => {
                        let skip = c.rng.below(rank + 1);
                        let bdims: Vec<usize> = dims[skip..]
                            .iter()
                            .map(|&d| if c.rng.next_f32() < 0.3 { 1 } else { d })
                            .collect();
                        new_param(&mut c, &bdims)
                    }
                };
                use BinaryOp::*;
                match [Add, Sub, Mul, Div, Pow][(word >> 4) as usize % 5] {
                    Div => {
                        let t = c.g.unary(UnaryOp::Tanh, b);
                        let k = c.g.constant(1.5, c.g.shape(t).clone());
                        let den = c.g.binary(Add, t, k);
                        c.g.binary_bcast(Div, x, den)
                    }
                    Pow => {
                        let t = c.g.unary(UnaryOp::Tanh, x);
                        let k = c.g.constant(1.5, shape(&dims));
                        let base = c.g.binary(Add, t, k);
                        let e = c.g.unary(UnaryOp::Tanh, b);
                        c.g.binary_bcast(Pow, base, e)
                    }
                    op => c.g.binary_bcast(op, x, b),
                }
            }
            3 if rank > 0 => {
                let axes: Vec<usize> = (0..rank).filter(|_| c.rng.next_f32() < 0.5).collect();
                let r = c.g.reduce(ReduceOp::Sum, x, &axes);
                if word & 16 != 0 {
                    let kept: Vec<usize> = (0..rank).filter(|a| !axes.contains(a)).map(|a| dims[a]).collect();
                    c.g.reshape(r, Shape(kept))
                } else {
                    r
                }
            }
            4 if rank > 1 => {
                let mut perm: Vec<usize> = (0..rank).collect();
                c.rng.shuffle(&mut perm);
                c.g.permute(x, &perm)
            }
            5 | 6 if rank >= 2 => {
                let (m, k) = (dims[rank - 2], dims[rank - 1]);
                let n = 1 + c.rng.below(4);
                let batch: usize = dims[..rank - 2].iter().product();
                if batch * m * n > MAX_NUMEL {
                    continue;
                }
                if word & 16 != 0 {
                    let mut wdims = dims[..rank - 2].to_vec();
                    wdims.extend([k, n]);
                    let w = new_param(&mut c, &wdims);
                    c.g.matmul(x, w)
                } else {
                    // w[.., n, m] @ x[.., m, k]
                    let mut wdims = dims[..rank - 2].to_vec();
                    wdims.extend([n, m]);
                    let w = new_param(&mut c, &wdims);
                    c.g.matmul(w, x)
                }
            }
            7 => {
                let target = match (word >> 4) % 3 {
                    0 => vec![numel],
                    1 => dims.iter().rev().copied().collect(),
                    _ => {
                        let mut d = dims.clone();
                        d.insert(c.rng.below(rank + 1), 1);
                        d
                    }
                };
                c.g.reshape(x, Shape(target))
            }
            8 if rank > 0 => {
                let ranges = dims
                    .iter()
                    .map(|&n| {
                        let start = c.rng.below(n);
                        let end = start + 1 + c.rng.below(n - start);
                        range(start, end, 1 + c.rng.below(3))
                    })
                    .collect();
                c.g.slice(x, ranges)
            }
            9 if rank > 0 => {
                let pads: Vec<(usize, usize)> =
                    dims.iter().map(|_| (c.rng.below(2), c.rng.below(2))).collect();
                let padded: usize = dims.iter().zip(&pads).map(|(d, p)| d + p.0 + p.1).product();
                if padded > MAX_NUMEL {
                    continue;
                }
                c.g.pad(x, pads)
            }
            10 if rank > 0 && 2 * numel <= MAX_NUMEL => {
                let axis = c.rng.below(rank);
                let mut odims = dims.clone();
                odims[axis] = 1 + c.rng.below(3);
                let other = new_param(&mut c, &odims);
                c.g.concat(&[x, other, x], axis)
            }
            11 if rank > 0 => {
                if word & 16 != 0 {
                    // Expand a size-1 axis (a new leading one if none).
                    let x1 = match dims.iter().position(|&d| d == 1) {
                        Some(_) => x,
                        None => {
                            let mut d = vec![1];
                            d.extend(&dims);
                            c.g.reshape(x, Shape(d))
                        }
                    };
                    let mut target = c.g.shape(x1).0.clone();
                    let axis = target.iter().position(|&d| d == 1).unwrap();
                    target[axis] = 2 + c.rng.below(2);
                    if target.iter().product::<usize>() > MAX_NUMEL {
                        continue;
                    }
                    c.g.broadcast_to(x1, &Shape(target))
                } else {
                    // Gather rows, some of them repeatedly.
                    let n_idx = 1 + c.rng.below(4);
                    if n_idx * numel / dims[0] > MAX_NUMEL {
                        continue;
                    }
                    let idx = (0..n_idx).map(|_| c.rng.below(dims[0]) as f32).collect();
                    let name = format!("idx{}", c.g.len());
                    let idx = c.input(&name, &[n_idx], idx, DType::I32);
                    c.g.gather(x, idx)
                }
            }
            _ => continue,
        };
        pool.push(y);
    }
    let out = *pool.last().unwrap();
    (c, out)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 500,
        rng_seed: RngSeed::Fixed(0x6e6e63),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_graphs_match_finite_differences(
        seed in any::<u64>(),
        program in proptest::collection::vec(any::<u32>(), 1..12),
    ) {
        let (case, out) = random_graph(seed, &program);
        if let Err(e) = case.compare(out) {
            prop_assert!(false, "{}", e);
        }
    }
}

#[test]
fn detach_stops_the_gradient() {
    let mut g = Graph::new();
    let x = g.add(Op::Param { name: "x".into() }, &[], Shape(vec![3]), DType::F32, None);
    let d = g.detach(x);
    let y = g.binary(BinaryOp::Mul, x, d);
    let loss = g.reduce(ReduceOp::Sum, y, &[0]);
    let loss = g.reshape(loss, Shape::default());
    let grads = nnc::autodiff::grad(&mut g, loss, &[x]).unwrap();
    let mut env = nnc::backend::Env::new(0);
    env.params.insert("x".into(), nnc::backend::Tensor::new(vec![3], vec![1.0, -2.0, 3.0]));
    let values = nnc::backend::interp::eval(&g, &env).unwrap();
    // d/dx sum(x * detach(x)) = detach(x) = x, not 2x.
    assert_eq!(values.get(grads[0]).data, vec![1.0, -2.0, 3.0]);
}
