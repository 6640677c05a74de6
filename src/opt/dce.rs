//! Dead-code elimination: removes every node that no output, update value
//! or update target depends on.

use crate::graph::Graph;

/// Removes dead nodes; returns how many.
pub fn run(g: &mut Graph) -> usize {
    let mut live = vec![false; g.node_ids().last().map_or(0, |n| n.0 as usize + 1)];
    let mut stack: Vec<_> = g.outputs().iter().map(|&(_, id)| id).collect();
    for &(target, value) in g.updates() {
        stack.push(target);
        stack.push(value);
    }
    while let Some(id) = stack.pop() {
        if std::mem::replace(&mut live[id.0 as usize], true) {
            continue;
        }
        stack.extend(g.operands(id));
    }
    let dead: Vec<_> = g.node_ids().into_iter().filter(|id| !live[id.0 as usize]).collect();
    for &id in &dead {
        g.remove(id);
    }
    dead.len()
}
