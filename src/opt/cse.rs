//! Common-subexpression elimination: nodes with the same operation,
//! attributes, operands, shape and dtype are merged into the first one.
//!
//! Leaves that name storage (inputs, parameters, state) are left alone:
//! they are distinct by name already, and an update target must stay one
//! node.

use std::collections::HashMap;

use crate::graph::dump::attributes;
use crate::graph::{DType, Graph, NodeId, Shape};

#[derive(PartialEq, Eq, Hash)]
struct Key {
    op: &'static str,
    attrs: String,
    operands: Vec<NodeId>,
    shape: Shape,
    dtype: DType,
}

/// Merges duplicate nodes; returns how many were removed.
pub fn run(g: &mut Graph) -> usize {
    let mut seen: HashMap<Key, NodeId> = HashMap::new();
    let mut merged = 0;
    for id in g.topo_order() {
        let node = g.node(id);
        if node.op.is_leaf_storage() {
            continue;
        }
        let key = Key {
            op: node.op.name(),
            attrs: attributes(&node.op),
            operands: g.operands(id),
            shape: node.shape.clone(),
            dtype: node.dtype,
        };
        match seen.get(&key) {
            Some(&first) => {
                g.replace_uses(id, first);
                g.remove(id);
                merged += 1;
            }
            None => {
                seen.insert(key, id);
            }
        }
    }
    merged
}
