//! The graph verifier: the invariants every stage may rely on.
//!
//! Checked, in order:
//! - the graph is acyclic;
//! - every node's shape is what [`Op::infer`] gives for its operands;
//! - gather and scatter-add indices are `i32`, every other float op sees `f32`;
//! - outputs and update values are live nodes;
//! - each update targets a `Param` or `State` node, once, with the value's shape.
//!
//! A failure is a bug in whichever pass produced the graph, never a user error.
//! The error names the offending node by the line the text dump prints for
//! it (`%7 = matmul %3, %5 : f32[4,3]`, numbered as in `nnc graph`), not by
//! its index in the graph, which no dump shows.

use std::collections::HashSet;
use std::fmt;

use super::dump;
use super::ir::{DType, Graph, NodeId, Op};

/// A broken graph invariant.
#[derive(Clone, Debug, PartialEq)]
pub struct VerifierError {
    /// The offending node's index in the graph, when there is one.
    pub node: Option<NodeId>,
    /// That node as the text dump prints it, when it is in the graph.
    pub dumped: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for VerifierError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.dumped {
            Some(line) => write!(f, "graph invariant broken at `{line}`: {}", self.message),
            None => write!(f, "graph invariant broken: {}", self.message),
        }
    }
}

impl std::error::Error for VerifierError {}

/// Checks every invariant listed in the module docs.
pub fn verify(g: &Graph) -> Result<(), VerifierError> {
    let err = |node: Option<NodeId>, message: String| {
        // Numbering needs an acyclic graph; every error about a node is
        // found after the cycle check.
        let dumped = node.filter(|&n| g.contains(n)).map(|n| dump::node_line(g, &dump::numbering(g), n));
        Err(VerifierError { node, dumped, message })
    };
    let order = g.topo_order();
    if order.len() != g.len() {
        return err(None, "the graph has a cycle".into());
    }
    for id in order {
        let node = g.node(id);
        let operands = g.operands(id);
        let shapes: Vec<_> = operands.iter().map(|&o| g.shape(o)).collect();
        match node.op.infer(&shapes, &node.shape) {
            Ok(s) if s == node.shape => {}
            Ok(s) => {
                return err(Some(id), format!("shape {} but operands give {s}", node.shape));
            }
            Err(e) => return err(Some(id), e),
        }
        let dtype_ok = match &node.op {
            Op::Gather => g.dtype(operands[1]) == DType::I32 && g.dtype(operands[0]) == DType::F32,
            Op::ScatterAdd => g.dtype(operands[1]) == DType::I32 && g.dtype(operands[0]) == DType::F32,
            Op::MatMul | Op::Unary(_) | Op::Reduce { .. } => {
                operands.iter().all(|&o| g.dtype(o) == DType::F32)
            }
            // Leaves have no operands; the rest are defined on both types
            // (integers are stored as `f32` and `Cast` converts).
            Op::Input { .. }
            | Op::Param { .. }
            | Op::State { .. }
            | Op::Const { .. }
            | Op::Iota { .. }
            | Op::Rand { .. }
            | Op::Binary(_)
            | Op::Select
            | Op::Reshape
            | Op::Permute { .. }
            | Op::Expand
            | Op::Slice { .. }
            | Op::Pad { .. }
            | Op::Concat { .. }
            | Op::Cast
            | Op::Detach => true,
        };
        if !dtype_ok {
            return err(Some(id), format!("{} got operands of the wrong dtype", node.op.name()));
        }
    }
    for (name, o) in g.outputs() {
        if !g.contains(*o) {
            return err(None, format!("output `{name}` refers to a removed node"));
        }
    }
    let mut targets = HashSet::new();
    for &(target, value) in g.updates() {
        if !g.contains(target) {
            return err(None, "an update targets a removed node".into());
        }
        if !g.contains(value) {
            return err(Some(target), "the update of this node takes a removed node's value".into());
        }
        if !matches!(g.node(target).op, Op::Param { .. } | Op::State { .. }) {
            return err(Some(target), "update target is not a param or state".into());
        }
        if !targets.insert(target) {
            return err(Some(target), "updated twice".into());
        }
        if g.shape(target) != g.shape(value) {
            return err(Some(target), format!("updated with shape {}", g.shape(value)));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::Shape;

    /// `x` and `w`, then a product that reuses the slot of a removed node,
    /// so its index in the graph (1) differs from its number in the dump (2).
    fn product() -> (Graph, NodeId) {
        let mut g = Graph::new();
        let x = g.add(Op::Input { name: "x".into() }, &[], Shape(vec![2, 3]), DType::F32, None);
        let gone = g.add(Op::Input { name: "gone".into() }, &[], Shape(vec![2, 3]), DType::F32, None);
        let w = g.add(Op::Param { name: "w".into() }, &[], Shape(vec![3, 4]), DType::F32, None);
        g.remove(gone);
        let y = g.add(Op::MatMul, &[x, w], Shape(vec![]), DType::F32, None);
        g.add_output("y", y);
        assert_eq!(y, gone, "the product should take the removed node's slot");
        (g, y)
    }

    #[test]
    fn a_wrong_shape_is_reported_at_the_dumped_node() {
        let (mut g, y) = product();
        assert_eq!(verify(&g), Ok(()));
        g.node_mut(y).shape = Shape(vec![2, 5]);
        let dumped = dump::text(&g);
        let line = "%2 = matmul %0, %1 : f32[2,5]";
        assert!(dumped.lines().any(|l| l == line), "the dump should print {line:?}:\n{dumped}");
        let e = verify(&g).unwrap_err();
        assert_eq!(e.node, Some(y));
        assert_eq!(
            e.to_string(),
            format!("graph invariant broken at `{line}`: shape [2,5] but operands give [2,4]")
        );
    }

    #[test]
    fn a_bad_update_target_is_reported_at_the_dumped_node() {
        let (mut g, y) = product();
        g.add_update(y, y);
        let e = verify(&g).unwrap_err();
        assert_eq!(
            e.to_string(),
            "graph invariant broken at `%2 = matmul %0, %1 : f32[2,4]`: update target is not a param or state"
        );
    }

    #[test]
    fn a_removed_output_names_no_node() {
        let (mut g, y) = product();
        g.remove(y);
        assert_eq!(
            verify(&g).unwrap_err().to_string(),
            "graph invariant broken: output `y` refers to a removed node"
        );
    }
}
