//! The gradient table: one vector-Jacobian product per [`Op`].
//!
//! [`vjp`] is an exhaustive `match`, so a new `Op` does not compile until
//! it has a rule here. Each rule builds, from `gy` (the adjoint of the
//! node `y`), the adjoint contribution for each operand, using the same
//! primitives as the forward graph; the formulas are the ones documented on
//! the `Op` variants.

use crate::graph::{BinaryOp, DType, Graph, NodeId, Op, ReduceOp, Shape, SliceRange, UnaryOp};

/// The contribution of `gy`, the adjoint of `y`, to each of `y`'s operands,
/// in operand order. Operands with `needs[i] == false` get `None` (nothing
/// is built for them), as do operands no gradient flows to.
pub(super) fn vjp(g: &mut Graph, y: NodeId, gy: NodeId, needs: &[bool]) -> Vec<Option<NodeId>> {
    let xs = g.operands(y);
    let shapes: Vec<Shape> = xs.iter().map(|&x| g.shape(x).clone()).collect();
    match g.node(y).op.clone() {
        Op::Input { .. }
        | Op::Param { .. }
        | Op::State { .. }
        | Op::Const { .. }
        | Op::Iota { .. }
        | Op::Rand { .. } => vec![],
        Op::Unary(op) => vec![Some(unary(g, op, xs[0], y, gy))],
        Op::Binary(op) => binary(g, op, xs[0], xs[1], y, gy, needs),
        Op::Select => {
            let zero = zeros(g, &shapes[1]);
            vec![
                None,
                needs[1].then(|| g.select(xs[0], gy, zero)),
                needs[2].then(|| g.select(xs[0], zero, gy)),
            ]
        }
        Op::Reduce { op: ReduceOp::Sum, .. } => vec![Some(g.broadcast_to(gy, &shapes[0]))],
        Op::Reduce { op: ReduceOp::Max, axes } => {
            // The positions equal to the maximum share `gy` evenly.
            let max = g.broadcast_to(y, &shapes[0]);
            let mask = g.binary(BinaryOp::Eq, xs[0], max);
            let count = g.reduce(ReduceOp::Sum, mask, &axes);
            let share = g.binary(BinaryOp::Div, gy, count);
            let share = g.broadcast_to(share, &shapes[0]);
            vec![Some(g.binary(BinaryOp::Mul, share, mask))]
        }
        Op::Reshape => vec![Some(g.reshape(gy, shapes[0].clone()))],
        Op::Permute { perm } => {
            let mut inverse = vec![0; perm.len()];
            for (i, &p) in perm.iter().enumerate() {
                inverse[p] = i;
            }
            vec![Some(g.permute(gy, &inverse))]
        }
        Op::Expand => {
            let out = g.shape(y).clone();
            let expanded: Vec<usize> = (0..out.rank()).filter(|&i| shapes[0].0[i] != out.0[i]).collect();
            vec![Some(g.reduce(ReduceOp::Sum, gy, &expanded))]
        }
        Op::Slice { ranges } => vec![Some(unslice(g, gy, &ranges, &shapes[0]))],
        Op::Pad { pads } => {
            let ranges = pads
                .iter()
                .zip(&shapes[0].0)
                .map(|(&(lo, _), &n)| SliceRange { start: lo, end: lo + n, step: 1 })
                .collect();
            vec![Some(g.slice(gy, ranges))]
        }
        Op::Concat { axis } => {
            let mut start = 0;
            let mut res = Vec::with_capacity(xs.len());
            for (i, s) in shapes.iter().enumerate() {
                let end = start + s.0[axis];
                res.push(needs[i].then(|| g.slice_axis(gy, axis, start, end)));
                start = end;
            }
            res
        }
        Op::MatMul => {
            let (a, b) = (xs[0], xs[1]);
            vec![
                needs[0].then(|| {
                    let bt = g.transpose_last(b);
                    g.matmul(gy, bt)
                }),
                needs[1].then(|| {
                    let at = g.transpose_last(a);
                    g.matmul(at, gy)
                }),
            ]
        }
        Op::Gather => vec![needs[0].then(|| g.scatter_add(gy, xs[1], shapes[0].clone())), None],
        Op::ScatterAdd => vec![needs[0].then(|| g.gather(gy, xs[1])), None],
        // An f32 -> f32 cast is the identity; anything through i32 is
        // piecewise constant.
        Op::Detach => vec![None],
        Op::Cast => {
            let identity = g.dtype(y) == DType::F32 && g.dtype(xs[0]) == DType::F32;
            vec![identity.then_some(gy)]
        }
    }
}

/// The contribution to `x` of `y = op(x)`.
fn unary(g: &mut Graph, op: UnaryOp, x: NodeId, y: NodeId, gy: NodeId) -> NodeId {
    use BinaryOp::{Div, Mul, Sub};
    match op {
        UnaryOp::Neg => neg(g, gy),
        UnaryOp::Exp => g.binary(Mul, gy, y),
        UnaryOp::Log => g.binary(Div, gy, x),
        UnaryOp::Sqrt => {
            let two_y = g.scale(y, 2.0);
            g.binary(Div, gy, two_y)
        }
        UnaryOp::Recip => {
            let y2 = g.binary(Mul, y, y);
            let t = g.binary(Mul, gy, y2);
            neg(g, t)
        }
        UnaryOp::Tanh => {
            let y2 = g.binary(Mul, y, y);
            let shape = g.shape(y).clone();
            let one = ones(g, shape);
            let d = g.binary(Sub, one, y2);
            g.binary(Mul, gy, d)
        }
        UnaryOp::Sin => {
            let cos = g.unary(UnaryOp::Cos, x);
            g.binary(Mul, gy, cos)
        }
        UnaryOp::Cos => {
            let sin = g.unary(UnaryOp::Sin, x);
            let t = g.binary(Mul, gy, sin);
            neg(g, t)
        }
    }
}

/// The contributions to `a` and `b` of `y = op(a, b)`.
fn binary(
    g: &mut Graph,
    op: BinaryOp,
    a: NodeId,
    b: NodeId,
    y: NodeId,
    gy: NodeId,
    needs: &[bool],
) -> Vec<Option<NodeId>> {
    use BinaryOp::{Div, Eq, Lt, Mul, Pow, Sub};
    let shape = g.shape(y).clone();
    match op {
        BinaryOp::Add => vec![needs[0].then_some(gy), needs[1].then_some(gy)],
        BinaryOp::Sub => vec![needs[0].then_some(gy), needs[1].then(|| neg(g, gy))],
        BinaryOp::Mul => vec![needs[0].then(|| g.binary(Mul, gy, b)), needs[1].then(|| g.binary(Mul, gy, a))],
        BinaryOp::Div => vec![
            needs[0].then(|| g.binary(Div, gy, b)),
            needs[1].then(|| {
                let ga = g.binary(Mul, gy, a);
                let b2 = g.binary(Mul, b, b);
                let t = g.binary(Div, ga, b2);
                neg(g, t)
            }),
        ],
        // Ties go to `a`: it takes `gy` unless `a < b` (max) or `b < a` (min).
        BinaryOp::Max | BinaryOp::Min => {
            let b_wins = if op == BinaryOp::Max { g.binary(Lt, a, b) } else { g.binary(Lt, b, a) };
            let zero = zeros(g, &shape);
            vec![needs[0].then(|| g.select(b_wins, zero, gy)), needs[1].then(|| g.select(b_wins, gy, zero))]
        }
        // Guarded as PyTorch does: no gradient to `a` where `b == 0` (which
        // avoids `0 * 0^-1`), none to `b` where `a == 0` and `b >= 0`
        // (where `a^b ln a` would be `0 * -inf`).
        BinaryOp::Pow => {
            let zero = zeros(g, &shape);
            vec![
                needs[0].then(|| {
                    let one = ones(g, shape.clone());
                    let bm1 = g.binary(Sub, b, one);
                    let p = g.binary(Pow, a, bm1);
                    let d = g.binary(Mul, b, p);
                    let ga = g.binary(Mul, gy, d);
                    let b_is_0 = g.binary(Eq, b, zero);
                    g.select(b_is_0, zero, ga)
                }),
                needs[1].then(|| {
                    let ln_a = g.unary(UnaryOp::Log, a);
                    let d = g.binary(Mul, y, ln_a);
                    let gb = g.binary(Mul, gy, d);
                    let a_is_0 = g.binary(Eq, a, zero);
                    let b_neg = g.binary(Lt, b, zero);
                    let guard = g.select(b_neg, zero, a_is_0);
                    g.select(guard, zero, gb)
                }),
            ]
        }
        BinaryOp::Lt | BinaryOp::Eq => vec![None, None],
    }
}

/// Scatters `gy` back into zeros of the operand's `shape` at the positions
/// `ranges` took.
///
/// A strided axis is spread first: `[.., L, ..]` is reshaped to
/// `[.., L, 1, ..]`, padded to `[.., L, step, ..]` and merged to
/// `[.., L * step, ..]`, which puts element `i` at `i * step`. Then every
/// axis is shifted by `start` with a pad and cut to the operand's size
/// (only the zeros a spread axis added past the last element are cut).
fn unslice(g: &mut Graph, gy: NodeId, ranges: &[SliceRange], shape: &Shape) -> NodeId {
    if g.shape(gy).numel() == 0 {
        return zeros(g, shape);
    }
    let mut t = gy;
    for (axis, r) in ranges.iter().enumerate() {
        if r.step == 1 {
            continue;
        }
        let dims = g.shape(t).0.clone();
        let mut split = dims.clone();
        split.insert(axis + 1, 1);
        let mut pads = vec![(0, 0); split.len()];
        pads[axis + 1] = (0, r.step - 1);
        let mut merged = dims;
        merged[axis] *= r.step;
        t = g.reshape(t, Shape(split));
        t = g.pad(t, pads);
        t = g.reshape(t, Shape(merged));
    }
    let spread = g.shape(t).0.clone();
    let kept: Vec<usize> = (0..shape.rank()).map(|i| spread[i].min(shape.0[i] - ranges[i].start)).collect();
    let cut = kept.iter().map(|&k| SliceRange { start: 0, end: k, step: 1 }).collect();
    t = g.slice(t, cut);
    let pads = (0..shape.rank()).map(|i| (ranges[i].start, shape.0[i] - ranges[i].start - kept[i])).collect();
    g.pad(t, pads)
}

fn neg(g: &mut Graph, x: NodeId) -> NodeId {
    g.unary(UnaryOp::Neg, x)
}

fn zeros(g: &mut Graph, shape: &Shape) -> NodeId {
    g.constant(0.0, shape.clone())
}

fn ones(g: &mut Graph, shape: Shape) -> NodeId {
    g.constant(1.0, shape)
}
