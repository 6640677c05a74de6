//! Constant folding: a node whose operands are all uniform constants
//! becomes a constant itself, computed with the interpreter's own
//! arithmetic so the folded value is bit-for-bit what evaluation gives.
//!
//! Movement ops of a constant (`expand` of a scalar, ...) fold to a
//! constant of the new shape, which later stages read without an index.

use super::const_value;
use crate::graph::semantics;
use crate::graph::{DType, Graph, NodeId, Op, ReduceOp};

/// The largest reduction folded by summing element by element.
const MAX_FOLDED_SUM: usize = 1 << 16;

/// Folds constant nodes; returns how many.
pub fn run(g: &mut Graph) -> usize {
    let mut folded = 0;
    for id in g.topo_order() {
        if matches!(g.node(id).op, Op::Const { .. }) {
            continue;
        }
        let Some(value) = fold(g, id) else { continue };
        let node = g.node(id);
        let value = if node.dtype == DType::I32 { value.trunc() } else { value };
        let (shape, dtype, origin) = (node.shape.clone(), node.dtype, node.origin);
        let c = g.add(Op::Const { value }, &[], shape, dtype, origin);
        g.replace_uses(id, c);
        g.remove(id);
        folded += 1;
    }
    folded
}

/// The uniform value of `id` when its operands are all constants.
fn fold(g: &Graph, id: NodeId) -> Option<f32> {
    let operands = g.operands(id);
    if operands.is_empty() {
        return None;
    }
    let cs: Vec<f32> = operands.iter().map(|&o| const_value(g, o)).collect::<Option<_>>()?;
    let node = g.node(id);
    match &node.op {
        Op::Unary(u) => Some(semantics::unary(*u, cs[0])),
        Op::Binary(b) => Some(semantics::binary(*b, cs[0], cs[1])),
        Op::Select => Some(if cs[0] != 0.0 { cs[1] } else { cs[2] }),
        Op::Cast | Op::Detach | Op::Reshape | Op::Permute { .. } | Op::Expand | Op::Slice { .. } => {
            Some(cs[0])
        }
        Op::Concat { .. } => cs.iter().all(|c| c.to_bits() == cs[0].to_bits()).then_some(cs[0]),
        Op::Pad { pads } => (cs[0].to_bits() == 0 || pads.iter().all(|&p| p == (0, 0))).then_some(cs[0]),
        Op::Reduce { op: ReduceOp::Max, .. } => Some(cs[0]),
        Op::Reduce { op: ReduceOp::Sum, .. } => {
            let n = g.shape(operands[0]).numel() / node.shape.numel().max(1);
            (n <= MAX_FOLDED_SUM).then(|| (0..n).fold(0.0f32, |acc, _| acc + cs[0]))
        }
        Op::Input { .. }
        | Op::Param { .. }
        | Op::State { .. }
        | Op::Const { .. }
        | Op::Iota { .. }
        | Op::Rand { .. }
        | Op::MatMul
        | Op::Gather
        | Op::ScatterAdd => None,
    }
}
