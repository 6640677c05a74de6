//! Graph simplification: passes that rewrite a [`Graph`] into a smaller one
//! that computes the same outputs and updates.
//!
//! Each pass is a module with `pub fn run(&mut Graph) -> usize` returning
//! how many rewrites it made; [`simplify`] runs them to a fixed point.
//! Every pass keeps the graph valid: in debug builds [`graph::verify`] runs
//! after each one, the way Cranelift's `enable_verifier` does.
//!
//! A pass never changes what a graph computes, with one documented
//! exception: `x + 0 -> x` turns a `-0.0` result into `-0.0` where the
//! unsimplified graph would have produced `+0.0` (the two compare equal).
//!
//! [`graph::verify`]: crate::graph::verify::verify

pub mod algebra;
pub mod cse;
pub mod dce;
pub mod fold;

use crate::graph::{Graph, NodeId, Op};

/// Runs every pass until none rewrites anything (at most a few rounds).
pub fn simplify(g: &mut Graph) {
    for _ in 0..8 {
        let mut changed = 0;
        changed += checked(g, "fold", fold::run);
        changed += checked(g, "algebra", algebra::run);
        changed += checked(g, "cse", cse::run);
        changed += checked(g, "dce", dce::run);
        if changed == 0 {
            break;
        }
    }
}

/// Runs one pass and, in debug builds, verifies the graph it leaves.
fn checked(g: &mut Graph, name: &str, pass: fn(&mut Graph) -> usize) -> usize {
    let n = pass(g);
    if cfg!(debug_assertions)
        && let Err(e) = crate::graph::verify::verify(g)
    {
        panic!("internal error: the {name} pass broke the graph: {e}");
    }
    n
}

/// The fill value when `id` is a constant, seen through movement ops
/// (a reshaped, permuted, expanded or sliced constant is still uniform).
pub fn const_value(g: &Graph, id: NodeId) -> Option<f32> {
    match &g.node(id).op {
        Op::Const { value } => Some(*value),
        Op::Reshape | Op::Permute { .. } | Op::Expand | Op::Slice { .. } => const_value(g, g.operands(id)[0]),
        _ => None,
    }
}
