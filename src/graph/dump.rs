//! Text and Graphviz dumps of a graph.
//!
//! Nodes are renumbered `%0, %1, ...` in topological order, so a dump does
//! not depend on the order passes created or removed nodes; the format is
//! specified in `docs/GRAPH_DUMP.md` and pinned by snapshot tests.

use std::collections::HashMap;
use std::fmt::Write as _;

use super::ir::{Graph, NodeId, Op};

/// The number each node gets in the dumps: its position in
/// [`Graph::topo_order`]. The verifier names nodes by these numbers too, so
/// its messages can be read next to a dump.
pub fn numbering(g: &Graph) -> HashMap<NodeId, usize> {
    g.topo_order().iter().enumerate().map(|(i, &n)| (n, i)).collect()
}

/// One node as the text dump prints it, without the newline:
/// `%3 = matmul %1, %2 : f32[64,128]`. `number` is [`numbering`]'s map.
pub fn node_line(g: &Graph, number: &HashMap<NodeId, usize>, id: NodeId) -> String {
    let node = g.node(id);
    let mut out = format!("%{} = {}{}", number[&id], node.op.name(), attributes(&node.op));
    let operands: Vec<String> = g.operands(id).iter().map(|o| format!("%{}", number[o])).collect();
    if !operands.is_empty() {
        let _ = write!(out, " {}", operands.join(", "));
    }
    let _ = write!(out, " : {}{}", node.dtype, node.shape);
    out
}

/// One line per node: `%3 = matmul %1, %2 : f32[64,128]`, then outputs and updates.
pub fn text(g: &Graph) -> String {
    let number = numbering(g);
    let mut out = String::new();
    for id in g.topo_order() {
        let _ = writeln!(out, "{}", node_line(g, &number, id));
    }
    for (name, o) in g.outputs() {
        let _ = writeln!(out, "output {name} = %{}", number[o]);
    }
    for (target, value) in g.updates() {
        let _ = writeln!(out, "update %{} <- %{}", number[target], number[value]);
    }
    out
}

/// A Graphviz `digraph`: one box per node labelled with op, attributes and type.
pub fn dot(g: &Graph) -> String {
    let order = g.topo_order();
    let number = numbering(g);
    let mut out = String::from("digraph nnc {\n  node [shape=box, fontname=\"monospace\"];\n");
    for &id in &order {
        let node = g.node(id);
        let label = format!(
            "%{} {}{}\\n{}{}",
            number[&id],
            node.op.name(),
            attributes(&node.op),
            node.dtype,
            node.shape
        );
        let style = match node.op {
            Op::Input { .. } => ", style=filled, fillcolor=\"#dbeafe\"",
            Op::Param { .. } => ", style=filled, fillcolor=\"#dcfce7\"",
            Op::State { .. } => ", style=filled, fillcolor=\"#fef9c3\"",
            _ => "",
        };
        let _ = writeln!(out, "  n{} [label=\"{}\"{style}];", number[&id], escape(&label));
        for (pos, o) in g.operands(id).iter().enumerate() {
            let _ = writeln!(out, "  n{} -> n{} [label=\"{pos}\"];", number[o], number[&id]);
        }
    }
    for (name, o) in g.outputs() {
        let _ = writeln!(out, "  \"out_{name}\" [label=\"{}\", shape=ellipse];", escape(name));
        let _ = writeln!(out, "  n{} -> \"out_{name}\";", number[o]);
    }
    for (target, value) in g.updates() {
        let _ =
            writeln!(out, "  n{} -> n{} [style=dashed, label=\"update\"];", number[value], number[target]);
    }
    out.push_str("}\n");
    out
}

/// The bracketed attributes of an op as the dumps print them (`[axes=1]`), or "".
pub fn attributes(op: &Op) -> String {
    match op {
        Op::Input { name } | Op::Param { name } | Op::State { name } => format!(" \"{name}\""),
        Op::Const { value } => format!("[{value:?}]"),
        Op::Iota { axis } => format!("[axis={axis}]"),
        Op::Rand { stream } => format!("[stream={stream}]"),
        Op::Reduce { axes, .. } => format!("[axes={}]", list(axes)),
        Op::Permute { perm } => format!("[{}]", list(perm)),
        Op::Slice { ranges } => {
            let parts: Vec<String> = ranges
                .iter()
                .map(|r| {
                    if r.step == 1 {
                        format!("{}:{}", r.start, r.end)
                    } else {
                        format!("{}:{}:{}", r.start, r.end, r.step)
                    }
                })
                .collect();
            format!("[{}]", parts.join(","))
        }
        Op::Pad { pads } => {
            let parts: Vec<String> = pads.iter().map(|(a, b)| format!("{a}:{b}")).collect();
            format!("[{}]", parts.join(","))
        }
        Op::Concat { axis } => format!("[axis={axis}]"),
        Op::Unary(_)
        | Op::Binary(_)
        | Op::Select
        | Op::Reshape
        | Op::Expand
        | Op::MatMul
        | Op::Gather
        | Op::ScatterAdd
        | Op::Cast
        | Op::Detach => String::new(),
    }
}

fn list(xs: &[usize]) -> String {
    xs.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(",")
}

fn escape(s: &str) -> String {
    s.replace('"', "\\\"")
}
