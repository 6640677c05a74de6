//! Second in fusion's line (`access` → `realize` → `fit` → `group` →
//! `build` → `lower`): which nodes get a kernel of their own (are *realized*) and which are
//! recomputed inside their users' kernels.
//!
//! Realized: storage leaves, matrix products, reductions, gathers and
//! scatter-adds, outputs and update values; the operands of library kernels
//! that are not already strided views of a realized node; and elementwise
//! nodes with several users whose recomputation would cost more than
//! [`CHEAP`] (a transcendental, a random draw, a long chain). Everything
//! else (views, constants, short elementwise chains) is inlined.

use super::access::{is_view, own_cost, strided_view};
use crate::graph::{Graph, Op};

/// Inline cost up to which a node with several users is recomputed.
pub const CHEAP: u32 = 6;

/// One flag per node index: true when the node is realized.
pub fn plan(g: &Graph) -> Vec<bool> {
    let bound = g.node_ids().last().map_or(0, |n| n.0 as usize + 1);
    let mut realized = vec![false; bound];
    let mut uses = vec![0usize; bound];
    for id in g.node_ids() {
        uses[id.0 as usize] = g.users(id).len();
        let op = &g.node(id).op;
        if op.is_leaf_storage() || matches!(op, Op::MatMul | Op::Gather | Op::ScatterAdd | Op::Reduce { .. })
        {
            realized[id.0 as usize] = true;
        }
    }
    for (_, o) in g.outputs() {
        realized[o.0 as usize] = true;
        uses[o.0 as usize] += 1;
    }
    for &(_, v) in g.updates() {
        realized[v.0 as usize] = true;
        uses[v.0 as usize] += 1;
    }
    let order = g.topo_order();
    for &id in &order {
        match g.node(id).op {
            Op::Gather | Op::ScatterAdd => {
                for x in g.operands(id) {
                    realized[x.0 as usize] = true;
                }
            }
            Op::MatMul => {
                // Read the operand in place when it is a strided view of its
                // base; otherwise materialise the operand itself (in the
                // layout the product reads), with the base inlined into it.
                for x in g.operands(id) {
                    let mut base = x;
                    while !realized[base.0 as usize] && is_view(&g.node(base).op) {
                        base = g.operands(base)[0];
                    }
                    let was = realized[base.0 as usize];
                    realized[base.0 as usize] = true;
                    if strided_view(g, &realized, x).is_none() {
                        realized[base.0 as usize] = was;
                        realized[x.0 as usize] = true;
                    }
                }
            }
            _ => {}
        }
    }
    let mut cost = vec![0u32; bound];
    for &id in &order {
        let i = id.0 as usize;
        if realized[i] {
            continue;
        }
        let op = &g.node(id).op;
        let operands: u32 =
            g.operands(id).iter().map(|x| if realized[x.0 as usize] { 1 } else { cost[x.0 as usize] }).sum();
        cost[i] = own_cost(op).saturating_add(operands);
        if uses[i] > 1 && cost[i] > CHEAP {
            realized[i] = true;
        }
    }
    realized
}
