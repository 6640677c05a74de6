//! Reverse-mode automatic differentiation over the tensor IR.
//!
//! [`grad`] appends the backward graph of a scalar loss to the forward
//! graph, so a training step stays one graph: forward, loss, backward and
//! (added by the caller) the optimizer update.
//! The sweep visits the forward nodes in reverse topological order and
//! hands each node's adjoint to its rule in `rules.rs`, one vector-Jacobian
//! product per [`Op`](crate::graph::Op); contributions to a node used more
//! than once are summed with `add`.
//!
//! Only nodes on a path from a `wrt` node to the loss get adjoints, and
//! only through `f32` values: an `i32` value (an index, a label, a cast to
//! integers) is piecewise constant, so nothing flows through it.

mod rules;

use std::collections::{HashMap, HashSet};
use std::fmt;

use crate::graph::{BinaryOp, DType, Graph, NodeId, Shape};

/// Why a gradient could not be built.
#[derive(Clone, Debug, PartialEq)]
pub enum AutodiffError {
    /// The loss or a `wrt` node is not in the graph.
    UnknownNode(NodeId),
    /// The loss has more than one element.
    LossNotScalar {
        /// The loss node.
        loss: NodeId,
        /// Its shape.
        shape: Shape,
    },
    /// The loss is not an `f32` value.
    LossNotFloat(NodeId),
}

impl fmt::Display for AutodiffError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AutodiffError::UnknownNode(n) => write!(f, "{n} is not a node of the graph"),
            AutodiffError::LossNotScalar { loss, shape } => {
                write!(f, "loss {loss} has shape {shape}, not a scalar")
            }
            AutodiffError::LossNotFloat(n) => write!(f, "loss {n} is not an f32 value"),
        }
    }
}

impl std::error::Error for AutodiffError {}

/// Appends to `g` the gradient of `loss` (one element: shape `[]` or all
/// ones) with respect to each node of `wrt`, and returns, in order, the
/// nodes holding them. A node the loss does not depend on (through `f32`
/// values) gets a zero constant of its shape.
pub fn grad(g: &mut Graph, loss: NodeId, wrt: &[NodeId]) -> Result<Vec<NodeId>, AutodiffError> {
    if let Some(&n) = std::iter::once(&loss).chain(wrt).find(|&&n| !g.contains(n)) {
        return Err(AutodiffError::UnknownNode(n));
    }
    if g.shape(loss).numel() != 1 {
        let shape = g.shape(loss).clone();
        return Err(AutodiffError::LossNotScalar { loss, shape });
    }
    if g.dtype(loss) != DType::F32 {
        return Err(AutodiffError::LossNotFloat(loss));
    }

    let order = g.topo_order();
    // Nodes that depend on some `wrt` node: the only ones worth an adjoint.
    let mut depends: HashSet<NodeId> = wrt.iter().copied().collect();
    for &id in &order {
        if g.operands(id).iter().any(|o| depends.contains(o)) {
            depends.insert(id);
        }
    }

    let mut adjoint: HashMap<NodeId, NodeId> = HashMap::new();
    let one = g.constant(1.0, g.shape(loss).clone());
    adjoint.insert(loss, one);
    for &y in order.iter().rev() {
        let Some(&gy) = adjoint.get(&y) else {
            continue;
        };
        let operands = g.operands(y);
        let needs: Vec<bool> =
            operands.iter().map(|&x| depends.contains(&x) && g.dtype(x) == DType::F32).collect();
        if !needs.contains(&true) {
            continue;
        }
        let contributions = rules::vjp(g, y, gy, &needs);
        for (&x, gx) in operands.iter().zip(contributions) {
            let Some(gx) = gx else { continue };
            debug_assert_eq!(g.shape(gx), g.shape(x), "vjp of {y} for {x}");
            let total = match adjoint.get(&x) {
                Some(&prev) => g.binary(BinaryOp::Add, prev, gx),
                None => gx,
            };
            adjoint.insert(x, total);
        }
    }

    Ok(wrt
        .iter()
        .map(|&w| match adjoint.get(&w) {
            Some(&a) => a,
            None => g.constant(0.0, g.shape(w).clone()),
        })
        .collect())
}
