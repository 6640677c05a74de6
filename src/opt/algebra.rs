//! Algebraic identities: `x * 1`, `x + 0`, `x - 0`, `x / 1`, `--x`,
//! a select on a constant condition, and movement ops that do nothing or
//! compose (a permute of a permute, a reshape of a reshape, an expand,
//! slice, pad or reduction that keeps the shape, a cast to the same dtype),
//! and `(a @ b)^T -> b^T @ a^T` for a product used only transposed (each
//! element is the same products summed in the same order, so the result is
//! bit-identical, and the product is then written in the layout its user
//! reads).
//!
//! Each rewrite replaces every use of a node by an equivalent node of the
//! same shape and dtype; the replaced node is left for [`super::dce`].

use super::const_value;
use crate::graph::{BinaryOp, Graph, NodeId, Op, SliceRange, UnaryOp};

/// Applies the identities once over the graph; returns how many fired.
pub fn run(g: &mut Graph) -> usize {
    let mut rewrites = 0;
    for id in g.topo_order() {
        if !g.contains(id) {
            continue;
        }
        let Some(r) = rewrite(g, id) else { continue };
        if r == id || g.shape(r) != g.shape(id) || g.dtype(r) != g.dtype(id) {
            continue;
        }
        g.replace_uses(id, r);
        rewrites += 1;
    }
    rewrites
}

/// True when `user` is the only reader of `x` (no other node, output or update).
fn only_user(g: &Graph, x: NodeId, user: NodeId) -> bool {
    g.users(x) == [user]
        && !g.outputs().iter().any(|&(_, o)| o == x)
        && !g.updates().iter().any(|&(_, v)| v == x)
}

/// An equivalent node for `id`, possibly newly built.
fn rewrite(g: &mut Graph, id: NodeId) -> Option<NodeId> {
    let xs = g.operands(id);
    let node = g.node(id);
    let is = |g: &Graph, x: NodeId, v: f32| const_value(g, x).is_some_and(|c| c == v);
    match node.op.clone() {
        Op::Binary(BinaryOp::Mul) if is(g, xs[1], 1.0) => Some(xs[0]),
        Op::Binary(BinaryOp::Mul) if is(g, xs[0], 1.0) => Some(xs[1]),
        Op::Binary(BinaryOp::Add) if is(g, xs[1], 0.0) => Some(xs[0]),
        Op::Binary(BinaryOp::Add) if is(g, xs[0], 0.0) => Some(xs[1]),
        Op::Binary(BinaryOp::Sub) if is(g, xs[1], 0.0) => Some(xs[0]),
        Op::Binary(BinaryOp::Div) if is(g, xs[1], 1.0) => Some(xs[0]),
        Op::Unary(UnaryOp::Neg) => match g.node(xs[0]).op {
            Op::Unary(UnaryOp::Neg) => Some(g.operands(xs[0])[0]),
            _ => None,
        },
        Op::Select => {
            let c = const_value(g, xs[0])?;
            Some(if c != 0.0 { xs[1] } else { xs[2] })
        }
        Op::Reshape => {
            let x = xs[0];
            if g.shape(x) == &node.shape {
                return Some(x);
            }
            match g.node(x).op {
                Op::Reshape => {
                    let (inner, shape, dtype, origin) =
                        (g.operands(x)[0], node.shape.clone(), node.dtype, node.origin);
                    if g.shape(inner) == &shape {
                        return Some(inner);
                    }
                    Some(g.add(Op::Reshape, &[inner], shape, dtype, origin))
                }
                _ => None,
            }
        }
        Op::Permute { perm } => {
            if perm.iter().enumerate().all(|(i, &p)| i == p) {
                return Some(xs[0]);
            }
            let r = perm.len();
            let swaps_last = r >= 2
                && perm[..r - 2].iter().enumerate().all(|(i, &p)| i == p)
                && perm[r - 2] == r - 1
                && perm[r - 1] == r - 2;
            if swaps_last && matches!(g.node(xs[0]).op, Op::MatMul) && only_user(g, xs[0], id) {
                let ab = g.operands(xs[0]);
                let bt = g.transpose_last(ab[1]);
                let at = g.transpose_last(ab[0]);
                return Some(g.matmul(bt, at));
            }
            let Op::Permute { perm: first } = &g.node(xs[0]).op else { return None };
            // y[i] = x[perm[i]] and x[j] = w[first[j]], so y[i] = w[first[perm[i]]].
            let composed: Vec<usize> = perm.iter().map(|&p| first[p]).collect();
            let inner = g.operands(xs[0])[0];
            if composed.iter().enumerate().all(|(i, &p)| i == p) {
                return Some(inner);
            }
            let (dtype, origin) = (node.dtype, node.origin);
            Some(g.add(Op::Permute { perm: composed }, &[inner], Default::default(), dtype, origin))
        }
        Op::Expand => (g.shape(xs[0]) == &node.shape).then_some(xs[0]),
        Op::Slice { ranges } => {
            let full = ranges.iter().zip(&g.shape(xs[0]).0).all(|(r, &n)| *r == SliceRange::full(n));
            full.then_some(xs[0])
        }
        Op::Pad { pads } => pads.iter().all(|&p| p == (0, 0)).then_some(xs[0]),
        Op::Reduce { axes, .. } => axes.iter().all(|&a| g.shape(xs[0]).0[a] == 1).then_some(xs[0]),
        Op::Cast => (g.dtype(xs[0]) == node.dtype).then_some(xs[0]),
        // Only autodiff cares about a stop-gradient; the value is the operand.
        Op::Detach => Some(xs[0]),
        Op::Input { .. }
        | Op::Param { .. }
        | Op::State { .. }
        | Op::Const { .. }
        | Op::Iota { .. }
        | Op::Rand { .. }
        | Op::Unary(_)
        | Op::Binary(_)
        | Op::Concat { .. }
        | Op::MatMul
        | Op::Gather
        | Op::ScatterAdd => None,
    }
}
