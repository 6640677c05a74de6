//! The reference interpreter: evaluates a graph node by node with plain
//! index arithmetic, the oracle every back end and every gradient is
//! tested against.
//!
//! It is deliberately naive. Each node's result is a fresh row-major
//! [`Tensor`]; movement ops (reshape, permute, expand, slice) are one
//! strided read (`view`); arithmetic is `f32`; reductions visit the
//! operand in row-major order and matmul accumulates each output in `k`
//! order, so results are bit-for-bit reproducible.
//!
//! Semantics the IR leaves to the evaluator:
//! - `i32` values are stored as `f32`; every computed result of dtype `i32`
//!   is truncated toward zero, so a cast f32 -> i32 truncates and an `i32`
//!   division is an integer division.
//! - `Rand` element `i` (row-major) is [`rng::uniform`]`(seed, step, stream, i)`.
//! - Binary `Max`/`Min` and `Reduce Max` propagate NaN.
//! - A gather or scatter-add index must be an integer in `0..V`; anything
//!   else is an [`EvalError::IndexOutOfRange`], never a panic.

use std::collections::HashMap;

use super::env::{Env, EvalError, FeedKind};
use super::tensor::Tensor;
use super::{Backend, Executable};
use crate::compile::{Compiled, Target};
use crate::diag::Diagnostic;
use crate::graph::semantics::{binary, rng, unary};
use crate::graph::verify::verify;
use crate::graph::{DType, Graph, NodeId, Op, ReduceOp, Shape};

/// The value of every node of an evaluated graph.
#[derive(Clone, Debug)]
pub struct Values {
    tensors: Vec<Option<Tensor>>,
}

impl Values {
    /// The value of a node.
    ///
    /// # Panics
    /// If `id` is not a node of the evaluated graph.
    pub fn get(&self, id: NodeId) -> &Tensor {
        self.tensors
            .get(id.0 as usize)
            .and_then(Option::as_ref)
            .unwrap_or_else(|| panic!("internal error: {id} was not evaluated"))
    }

    /// The value of the graph output `name`.
    ///
    /// # Panics
    /// If `g` has no output of that name.
    pub fn output(&self, g: &Graph, name: &str) -> &Tensor {
        let id = g.output(name).unwrap_or_else(|| panic!("internal error: no output `{name}`"));
        self.get(id)
    }
}

/// Evaluates every node of `g`, after checking it with [`verify`].
pub fn eval(g: &Graph, env: &Env) -> Result<Values, EvalError> {
    verify(g)?;
    let bound = g.node_ids().last().map_or(0, |id| id.0 as usize + 1);
    let mut tensors: Vec<Option<Tensor>> = vec![None; bound];
    for id in g.topo_order() {
        let operands = g.operands(id);
        let xs: Vec<&Tensor> =
            operands.iter().map(|o| tensors[o.0 as usize].as_ref().expect("operands come first")).collect();
        let mut t = eval_node(g, id, &xs, env)?;
        let node = g.node(id);
        if node.dtype == DType::I32 && !node.op.is_leaf_storage() {
            t.data.iter_mut().for_each(|v| *v = v.trunc());
        }
        tensors[id.0 as usize] = Some(t);
    }
    Ok(Values { tensors })
}

/// Evaluates `g`, then applies its updates to `env`'s params and states and
/// advances `env.step`. Every update value is computed before any is
/// written, so updates see the values from before the step.
pub fn step(g: &Graph, env: &mut Env) -> Result<Values, EvalError> {
    let values = eval(g, env)?;
    for &(target, value) in g.updates() {
        let t = values.get(value).clone();
        match &g.node(target).op {
            Op::Param { name } => env.params.insert(name.clone(), t),
            Op::State { name } => env.states.insert(name.clone(), t),
            _ => unreachable!("verify checks update targets"),
        };
    }
    env.step += 1;
    Ok(values)
}

/// One node's value from its operands' values.
fn eval_node(g: &Graph, id: NodeId, xs: &[&Tensor], env: &Env) -> Result<Tensor, EvalError> {
    let node = g.node(id);
    let shape = &node.shape;
    let data = match &node.op {
        Op::Input { name } => return env.feed(FeedKind::Input, name, shape).cloned(),
        Op::Param { name } => return env.feed(FeedKind::Param, name, shape).cloned(),
        Op::State { name } => return env.feed(FeedKind::State, name, shape).cloned(),
        Op::Const { value } => vec![*value; shape.numel()],
        Op::Iota { axis } => {
            let stride = shape.strides()[*axis];
            let n = shape.0[*axis];
            (0..shape.numel()).map(|i| ((i / stride) % n) as f32).collect()
        }
        Op::Rand { stream } => {
            (0..shape.numel()).map(|i| rng::uniform(env.seed, env.step, *stream, i as u64)).collect()
        }
        Op::Unary(u) => xs[0].data.iter().map(|&x| unary(*u, x)).collect(),
        Op::Binary(b) => xs[0].data.iter().zip(&xs[1].data).map(|(&a, &b_)| binary(*b, a, b_)).collect(),
        Op::Select => (0..shape.numel())
            .map(|i| if xs[0].data[i] != 0.0 { xs[1].data[i] } else { xs[2].data[i] })
            .collect(),
        Op::Reduce { op, axes } => reduce(*op, xs[0], axes, shape),
        Op::Reshape => xs[0].data.clone(),
        Op::Permute { perm } => {
            let in_strides = xs[0].shape.strides();
            let strides: Vec<usize> = perm.iter().map(|&p| in_strides[p]).collect();
            view(&xs[0].data, shape, 0, &strides)
        }
        Op::Expand => {
            let x = xs[0];
            let strides: Vec<usize> =
                x.shape.strides().iter().zip(&x.shape.0).map(|(&s, &d)| if d == 1 { 0 } else { s }).collect();
            view(&x.data, shape, 0, &strides)
        }
        Op::Slice { ranges } => {
            let in_strides = xs[0].shape.strides();
            let offset = ranges.iter().zip(&in_strides).map(|(r, s)| r.start * s).sum();
            let strides: Vec<usize> = ranges.iter().zip(&in_strides).map(|(r, s)| r.step * s).collect();
            view(&xs[0].data, shape, offset, &strides)
        }
        Op::Pad { pads } => {
            let x = xs[0];
            let out_strides = shape.strides();
            let base = pads.iter().zip(&out_strides).map(|(p, s)| p.0 * s).sum();
            let mut out = vec![0.0; shape.numel()];
            let mut src = x.data.iter();
            for_each_offset(&x.shape.0, &out_strides, base, |j| out[j] = *src.next().unwrap_or(&0.0));
            out
        }
        Op::Concat { axis } => {
            let out_strides = shape.strides();
            let mut out = vec![0.0; shape.numel()];
            let mut offset = 0;
            for x in xs {
                let mut src = x.data.iter();
                let base = offset * out_strides[*axis];
                for_each_offset(&x.shape.0, &out_strides, base, |j| out[j] = *src.next().unwrap_or(&0.0));
                offset += x.shape.0[*axis];
            }
            out
        }
        Op::MatMul => matmul(xs[0], xs[1]),
        Op::Gather => {
            let (table, idx) = (xs[0], xs[1]);
            let bound = table.shape.0[0];
            let row = table.numel() / bound.max(1);
            let mut out = Vec::with_capacity(shape.numel());
            for &i in &idx.data {
                let v = check_index(id, i, bound)?;
                out.extend_from_slice(&table.data[v * row..(v + 1) * row]);
            }
            out
        }
        Op::ScatterAdd => {
            let (src, idx) = (xs[0], xs[1]);
            let bound = shape.0[0];
            let row = shape.numel() / bound.max(1);
            let mut out = vec![0.0; shape.numel()];
            for (j, &i) in idx.data.iter().enumerate() {
                let v = check_index(id, i, bound)?;
                for c in 0..row {
                    out[v * row + c] += src.data[j * row + c];
                }
            }
            out
        }
        // The truncation for an i32 result happens in `eval`.
        Op::Cast | Op::Detach => xs[0].data.clone(),
    };
    Ok(Tensor::new(shape.clone(), data))
}

/// Calls `f(base + Σ c[k] * strides[k])` for every coordinate `c` of
/// `dims`, in row-major order (an odometer, so no division per element).
fn for_each_offset(dims: &[usize], strides: &[usize], base: usize, mut f: impl FnMut(usize)) {
    if dims.contains(&0) {
        return;
    }
    let Some((&inner, outer)) = dims.split_last() else {
        f(base);
        return;
    };
    let step = strides[dims.len() - 1];
    let mut coord = vec![0; outer.len()];
    let mut off = base;
    loop {
        for j in 0..inner {
            f(off + j * step);
        }
        let mut k = outer.len();
        loop {
            if k == 0 {
                return;
            }
            k -= 1;
            coord[k] += 1;
            off += strides[k];
            if coord[k] < outer[k] {
                break;
            }
            off -= strides[k] * outer[k];
            coord[k] = 0;
        }
    }
}

/// A strided read: `out[c] = x[offset + Σ c[k] * strides[k]]` for every
/// coordinate `c` of `shape`, in row-major order.
fn view(x: &[f32], shape: &Shape, offset: usize, strides: &[usize]) -> Vec<f32> {
    let mut out = Vec::with_capacity(shape.numel());
    for_each_offset(&shape.0, strides, offset, |i| out.push(x[i]));
    out
}

/// Sum or max over `axes`; each output element visits its inputs in
/// row-major order.
fn reduce(op: ReduceOp, x: &Tensor, axes: &[usize], out_shape: &Shape) -> Vec<f32> {
    let init = match op {
        ReduceOp::Sum => 0.0,
        ReduceOp::Max => f32::NEG_INFINITY,
    };
    let mut out = vec![init; out_shape.numel()];
    // Input position -> output position: reduced axes do not move the output.
    let strides: Vec<usize> =
        out_shape.strides().iter().enumerate().map(|(k, &s)| if axes.contains(&k) { 0 } else { s }).collect();
    let mut src = x.data.iter();
    for_each_offset(&x.shape.0, &strides, 0, |j| {
        let v = *src.next().unwrap_or(&0.0);
        let acc = &mut out[j];
        match op {
            ReduceOp::Sum => *acc += v,
            ReduceOp::Max => {
                if v > *acc || v.is_nan() {
                    *acc = v;
                }
            }
        }
    });
    out
}

/// Batched `[.., M, K] @ [.., K, N]`; each output accumulates over `k` in
/// order from zero (the i-k-j loop keeps that order and reads rows).
fn matmul(a: &Tensor, b: &Tensor) -> Vec<f32> {
    let r = a.shape.rank();
    let (m, k, n) = (a.shape.0[r - 2], a.shape.0[r - 1], b.shape.0[r - 1]);
    let batch: usize = a.shape.0[..r - 2].iter().product();
    let mut out = vec![0.0; batch * m * n];
    for bi in 0..batch {
        let a = &a.data[bi * m * k..(bi + 1) * m * k];
        let b = &b.data[bi * k * n..(bi + 1) * k * n];
        let c = &mut out[bi * m * n..(bi + 1) * m * n];
        for i in 0..m {
            for p in 0..k {
                let aip = a[i * k + p];
                for j in 0..n {
                    c[i * n + j] += aip * b[p * n + j];
                }
            }
        }
    }
    out
}

fn check_index(node: NodeId, index: f32, bound: usize) -> Result<usize, EvalError> {
    if index >= 0.0 && index.fract() == 0.0 && (index as usize) < bound {
        Ok(index as usize)
    } else {
        Err(EvalError::IndexOutOfRange { node, index, bound })
    }
}

/// The reference interpreter as a back end: it runs the verified graph as
/// built, with [`step`] and [`eval`].
pub struct Interp;

struct Interpreted(Compiled);

impl Executable for Interpreted {
    fn run(&mut self, env: &mut Env, update: bool) -> Result<HashMap<String, Tensor>, EvalError> {
        let g = &self.0.graph;
        let values = if update { step(g, env)? } else { eval(g, env)? };
        Ok(g.outputs().iter().map(|(name, id)| (name.clone(), values.get(*id).clone())).collect())
    }

    fn compiled(&self) -> &Compiled {
        &self.0
    }
}

impl Backend for Interp {
    fn name(&self) -> &'static str {
        "interp"
    }

    fn target(&self) -> Target {
        Target::reference()
    }

    fn load(&self, compiled: Compiled) -> Result<Box<dyn Executable>, Diagnostic> {
        Ok(Box::new(Interpreted(compiled)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::verify::VerifierError;
    use crate::graph::{BinaryOp, SliceRange, UnaryOp};

    /// A graph builder with an environment alongside: `input` adds an
    /// `Input` leaf and feeds it.
    struct T {
        g: Graph,
        env: Env,
    }

    impl T {
        fn new() -> T {
            T { g: Graph::new(), env: Env::new(5) }
        }

        fn input(&mut self, name: &str, dims: &[usize], data: &[f32]) -> NodeId {
            self.typed_input(name, dims, data, DType::F32)
        }

        fn typed_input(&mut self, name: &str, dims: &[usize], data: &[f32], dt: DType) -> NodeId {
            let shape = Shape(dims.to_vec());
            self.env.inputs.insert(name.into(), Tensor::new(shape.clone(), data.to_vec()));
            let op = Op::Input { name: name.into() };
            self.g.add(op, &[], shape, dt, None)
        }

        #[track_caller]
        fn check(&self, id: NodeId, dims: &[usize], expect: &[f32]) {
            let values = eval(&self.g, &self.env).unwrap();
            let t = values.get(id);
            assert_eq!(t.shape.0, dims);
            assert_eq!(t.data, expect);
        }
    }

    fn seq(n: usize) -> Vec<f32> {
        (0..n).map(|i| i as f32).collect()
    }

    #[test]
    fn matmul_batched() {
        let mut t = T::new();
        // [[1,2],[3,4]] @ [[5,6],[7,8]] and [[1,0],[0,1]] @ [[1,2],[3,4]].
        let a = t.input("a", &[2, 2, 2], &[1., 2., 3., 4., 1., 0., 0., 1.]);
        let b = t.input("b", &[2, 2, 2], &[5., 6., 7., 8., 1., 2., 3., 4.]);
        let c = t.g.matmul(a, b);
        t.check(c, &[2, 2, 2], &[19., 22., 43., 50., 1., 2., 3., 4.]);
    }

    #[test]
    fn matmul_rectangular() {
        let mut t = T::new();
        let a = t.input("a", &[2, 3], &seq(6));
        let b = t.input("b", &[3, 1], &[1., 1., 1.]);
        let c = t.g.matmul(a, b);
        t.check(c, &[2, 1], &[3., 12.]);
    }

    #[test]
    fn permute_moves_axes() {
        let mut t = T::new();
        let x = t.input("x", &[2, 3], &seq(6));
        let y = t.g.permute(x, &[1, 0]);
        t.check(y, &[3, 2], &[0., 3., 1., 4., 2., 5.]);
        let z = t.input("z", &[2, 1, 3], &seq(6));
        let w = t.g.permute(z, &[2, 0, 1]);
        t.check(w, &[3, 2, 1], &[0., 3., 1., 4., 2., 5.]);
    }

    #[test]
    fn slice_with_steps() {
        let mut t = T::new();
        let x = t.input("x", &[3, 5], &seq(15));
        let ranges = vec![SliceRange { start: 0, end: 3, step: 2 }, SliceRange { start: 1, end: 5, step: 3 }];
        let y = t.g.slice(x, ranges);
        t.check(y, &[2, 2], &[1., 4., 11., 14.]);
        let z = t.g.slice_axis(x, 1, 2, 4);
        t.check(z, &[3, 2], &[2., 3., 7., 8., 12., 13.]);
    }

    #[test]
    fn pad_places_zeros() {
        let mut t = T::new();
        let x = t.input("x", &[2, 2], &[1., 2., 3., 4.]);
        let y = t.g.pad(x, vec![(1, 0), (0, 1)]);
        t.check(y, &[3, 3], &[0., 0., 0., 1., 2., 0., 3., 4., 0.]);
    }

    #[test]
    fn concat_joins_along_an_axis() {
        let mut t = T::new();
        let a = t.input("a", &[2, 1], &[1., 2.]);
        let b = t.input("b", &[2, 2], &[3., 4., 5., 6.]);
        let c = t.g.concat(&[a, b], 1);
        t.check(c, &[2, 3], &[1., 3., 4., 2., 5., 6.]);
        let d = t.g.concat(&[b, b], 0);
        t.check(d, &[4, 2], &[3., 4., 5., 6., 3., 4., 5., 6.]);
    }

    #[test]
    fn gather_and_scatter_add() {
        let mut t = T::new();
        let table = t.input("t", &[3, 2], &seq(6));
        let idx = t.typed_input("i", &[2, 2], &[2., 0., 2., 1.], DType::I32);
        let y = t.g.gather(table, idx);
        t.check(y, &[2, 2, 2], &[4., 5., 0., 1., 4., 5., 2., 3.]);
        let s = t.g.scatter_add(y, idx, Shape(vec![3, 2]));
        t.check(s, &[3, 2], &[0., 1., 2., 3., 8., 10.]);
    }

    #[test]
    fn gather_out_of_range_is_an_error() {
        for bad in [3.0, -1.0, 0.5] {
            let mut t = T::new();
            let table = t.input("t", &[3, 2], &seq(6));
            let idx = t.typed_input("i", &[2], &[0., bad], DType::I32);
            let y = t.g.gather(table, idx);
            let err = eval(&t.g, &t.env).unwrap_err();
            assert_eq!(err, EvalError::IndexOutOfRange { node: y, index: bad, bound: 3 });
            assert!(err.to_string().contains("out of range 0..3"));
        }
    }

    #[test]
    fn reduce_sum_and_max_with_ties() {
        let mut t = T::new();
        let x = t.input("x", &[2, 3], &[1., 5., 5., -2., -1., -3.]);
        let s = t.g.reduce(ReduceOp::Sum, x, &[1]);
        t.check(s, &[2, 1], &[11., -6.]);
        let m = t.g.reduce(ReduceOp::Max, x, &[1]);
        t.check(m, &[2, 1], &[5., -1.]);
        let all = t.g.reduce(ReduceOp::Max, x, &[0, 1]);
        t.check(all, &[1, 1], &[5.]);
        let cols = t.g.reduce(ReduceOp::Sum, x, &[0]);
        t.check(cols, &[1, 3], &[-1., 4., 2.]);
    }

    #[test]
    fn expand_broadcasts_size_one_axes() {
        let mut t = T::new();
        let x = t.input("x", &[2, 1], &[1., 2.]);
        let y = t.g.broadcast_to(x, &Shape(vec![2, 3]));
        t.check(y, &[2, 3], &[1., 1., 1., 2., 2., 2.]);
        let r = t.input("r", &[3], &[1., 2., 3.]);
        let z = t.g.broadcast_to(r, &Shape(vec![2, 3]));
        t.check(z, &[2, 3], &[1., 2., 3., 1., 2., 3.]);
    }

    #[test]
    fn select_by_condition() {
        let mut t = T::new();
        let c = t.input("c", &[4], &[1., 0., 2., 0.]);
        let a = t.input("a", &[4], &[1., 2., 3., 4.]);
        let b = t.input("b", &[4], &[5., 6., 7., 8.]);
        let y = t.g.select(c, a, b);
        t.check(y, &[4], &[1., 6., 3., 8.]);
    }

    #[test]
    fn iota_counts_along_its_axis() {
        let mut t = T::new();
        let a = t.g.iota(1, Shape(vec![2, 3]));
        t.check(a, &[2, 3], &[0., 1., 2., 0., 1., 2.]);
        let b = t.g.iota(0, Shape(vec![2, 3]));
        t.check(b, &[2, 3], &[0., 0., 0., 1., 1., 1.]);
    }

    #[test]
    fn rand_is_deterministic_and_in_range() {
        let mut t = T::new();
        let a = t.g.rand(0, Shape(vec![8, 8]));
        let b = t.g.rand(1, Shape(vec![8, 8]));
        let first = eval(&t.g, &t.env).unwrap();
        let again = eval(&t.g, &t.env).unwrap();
        assert_eq!(first.get(a), again.get(a));
        assert!(first.get(a).data.iter().all(|u| (0.0..1.0).contains(u)));
        assert_ne!(first.get(a), first.get(b));
        assert_eq!(first.get(a).data[9], rng::uniform(5, 0, 0, 9));
        t.env.step = 1;
        let next = eval(&t.g, &t.env).unwrap();
        assert_ne!(first.get(a), next.get(a));
    }

    #[test]
    fn elementwise_ops() {
        let mut t = T::new();
        let a = t.input("a", &[3], &[1., 4., -2.]);
        let b = t.input("b", &[3], &[2., 4., 3.]);
        let cases = [
            (BinaryOp::Add, [3., 8., 1.]),
            (BinaryOp::Sub, [-1., 0., -5.]),
            (BinaryOp::Mul, [2., 16., -6.]),
            (BinaryOp::Div, [0.5, 1., -2. / 3.]),
            (BinaryOp::Max, [2., 4., 3.]),
            (BinaryOp::Min, [1., 4., -2.]),
            (BinaryOp::Pow, [1., 256., -8.]),
            (BinaryOp::Lt, [1., 0., 1.]),
            (BinaryOp::Eq, [0., 1., 0.]),
        ];
        for (op, expect) in cases {
            let y = t.g.binary(op, a, b);
            t.check(y, &[3], &expect);
        }
        let x = t.input("x", &[2], &[4., 0.25]);
        let y = t.g.unary(UnaryOp::Sqrt, x);
        t.check(y, &[2], &[2., 0.5]);
        let y = t.g.unary(UnaryOp::Recip, x);
        t.check(y, &[2], &[0.25, 4.]);
        let y = t.g.unary(UnaryOp::Neg, x);
        t.check(y, &[2], &[-4., -0.25]);
        let z = t.input("z", &[1], &[0.]);
        for (op, v) in [(UnaryOp::Exp, 1.), (UnaryOp::Tanh, 0.), (UnaryOp::Sin, 0.), (UnaryOp::Cos, 1.)] {
            let y = t.g.unary(op, z);
            t.check(y, &[1], &[v]);
        }
        let one = t.input("one", &[1], &[1.]);
        let y = t.g.unary(UnaryOp::Log, one);
        t.check(y, &[1], &[0.]);
    }

    #[test]
    fn cast_truncates_toward_zero() {
        let mut t = T::new();
        let x = t.input("x", &[4], &[1.7, -1.7, 2.0, -0.2]);
        let i = t.g.cast(x, DType::I32);
        t.check(i, &[4], &[1., -1., 2., 0.]);
        let q = t.typed_input("q", &[2], &[7., -7.], DType::I32);
        let d = t.typed_input("d", &[2], &[2., 2.], DType::I32);
        let y = t.g.binary(BinaryOp::Div, q, d);
        t.check(y, &[2], &[3., -3.]);
    }

    #[test]
    fn reshape_keeps_row_major_order() {
        let mut t = T::new();
        let x = t.input("x", &[2, 3], &seq(6));
        let y = t.g.reshape(x, Shape(vec![3, 2]));
        t.check(y, &[3, 2], &seq(6));
    }

    #[test]
    fn missing_and_misshapen_feeds_are_errors() {
        let mut t = T::new();
        let w = t.g.add(Op::Param { name: "w".into() }, &[], Shape(vec![2]), DType::F32, None);
        t.g.add_output("w", w);
        let err = eval(&t.g, &t.env).unwrap_err();
        assert_eq!(err.to_string(), "no value for param `w`");
        t.env.params.insert("w".into(), Tensor::zeros(vec![3]));
        let err = eval(&t.g, &t.env).unwrap_err();
        assert_eq!(err.to_string(), "param `w` has shape [3], expected [2]");
    }

    #[test]
    fn invalid_graph_is_an_error() {
        let mut t = T::new();
        let x = t.input("x", &[2], &[1., 2.]);
        t.g.node_mut(x).shape = Shape(vec![3]);
        let y = t.g.unary(UnaryOp::Neg, x);
        t.g.node_mut(y).shape = Shape(vec![2]);
        assert!(matches!(eval(&t.g, &t.env), Err(EvalError::Invalid(VerifierError { node: Some(_), .. }))));
    }

    #[test]
    fn step_applies_updates_from_old_values() {
        let mut t = T::new();
        let leaf = |g: &mut Graph, op: Op| g.add(op, &[], Shape(vec![1]), DType::F32, None);
        let a = leaf(&mut t.g, Op::Param { name: "a".into() });
        let b = leaf(&mut t.g, Op::State { name: "b".into() });
        // a <- b, b <- a + b: both read the values from before the step.
        let sum = t.g.binary(BinaryOp::Add, a, b);
        t.g.add_update(a, b);
        t.g.add_update(b, sum);
        t.env.params.insert("a".into(), Tensor::new(vec![1], vec![1.]));
        t.env.states.insert("b".into(), Tensor::new(vec![1], vec![2.]));
        step(&t.g, &mut t.env).unwrap();
        assert_eq!(t.env.params["a"].data, [2.]);
        assert_eq!(t.env.states["b"].data, [3.]);
        assert_eq!(t.env.step, 1);
        step(&t.g, &mut t.env).unwrap();
        assert_eq!(t.env.params["a"].data, [3.]);
        assert_eq!(t.env.states["b"].data, [5.]);
    }
}
