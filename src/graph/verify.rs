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

use std::collections::HashSet;
use std::fmt;

use super::ir::{DType, Graph, NodeId, Op};

/// A broken graph invariant.
#[derive(Clone, Debug, PartialEq)]
pub struct VerifierError {
    /// The offending node, when there is one.
    pub node: Option<NodeId>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for VerifierError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.node {
            Some(n) => write!(f, "graph invariant broken at {n}: {}", self.message),
            None => write!(f, "graph invariant broken: {}", self.message),
        }
    }
}

impl std::error::Error for VerifierError {}

/// Checks every invariant listed in the module docs.
pub fn verify(g: &Graph) -> Result<(), VerifierError> {
    let err = |node: Option<NodeId>, message: String| Err(VerifierError { node, message });
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
            _ => true,
        };
        if !dtype_ok {
            return err(Some(id), format!("{} got operands of the wrong dtype", node.op.name()));
        }
    }
    for (name, o) in g.outputs() {
        if !g.contains(*o) {
            return err(None, format!("output `{name}` refers to a removed node {o}"));
        }
    }
    let mut targets = HashSet::new();
    for &(target, value) in g.updates() {
        if !g.contains(target) || !g.contains(value) {
            return err(Some(target), "update refers to a removed node".into());
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
