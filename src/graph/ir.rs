//! The tensor IR: a graph of a small, closed set of primitive operations.
//!
//! Every node has a concrete [`Shape`] and a [`DType`]; the front end binds
//! symbolic dimensions (the batch size `B`, ...) before it builds a graph, so
//! a graph describes exactly one set of shapes. Edges run from operand to
//! user and carry the operand's position, so `operands(n)` is ordered.
//!
//! [`Op`] is a closed enum: adding a variant does not compile until shape
//! inference ([`Op::infer`]), the interpreter, autodiff and every back end
//! handle it. Each variant documents its shape rule and its gradient.

use std::fmt;

use petgraph::Direction;
use petgraph::stable_graph::{NodeIndex, StableGraph};
use petgraph::visit::{EdgeRef, IntoEdgeReferences, NodeIndexable};

use crate::diag::Span;

/// A node's id; displays as `%7`, exactly as the dumps print it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub u32);

impl NodeId {
    fn index(self) -> NodeIndex<u32> {
        NodeIndex::new(self.0 as usize)
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "%{}", self.0)
    }
}

/// Element type of a tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DType {
    /// 32-bit float: activations, parameters, gradients.
    F32,
    /// 32-bit signed integer: labels and token ids.
    I32,
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DType::F32 => "f32",
            DType::I32 => "i32",
        })
    }
}

/// A concrete shape, outermost dimension first; `[]` is a scalar.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct Shape(pub Vec<usize>);

impl Shape {
    /// Number of dimensions.
    pub fn rank(&self) -> usize {
        self.0.len()
    }

    /// Number of elements (1 for a scalar).
    pub fn numel(&self) -> usize {
        self.0.iter().product()
    }

    /// Row-major strides in elements.
    pub fn strides(&self) -> Vec<usize> {
        let mut strides = vec![1; self.0.len()];
        for i in (0..self.0.len().saturating_sub(1)).rev() {
            strides[i] = strides[i + 1] * self.0[i + 1];
        }
        strides
    }

    /// The dimensions.
    pub fn dims(&self) -> &[usize] {
        &self.0
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{d}")?;
        }
        f.write_str("]")
    }
}

impl From<Vec<usize>> for Shape {
    fn from(v: Vec<usize>) -> Shape {
        Shape(v)
    }
}

/// Elementwise functions of one operand.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnaryOp {
    /// `-x`; gradient `-g`.
    Neg,
    /// `e^x`; gradient `g * e^x`.
    Exp,
    /// natural log; gradient `g / x`.
    Log,
    /// square root; gradient `g / (2 sqrt x)`.
    Sqrt,
    /// `1 / x`; gradient `-g / x^2`.
    Recip,
    /// hyperbolic tangent; gradient `g * (1 - tanh^2 x)`.
    Tanh,
    /// sine; gradient `g * cos x`.
    Sin,
    /// cosine; gradient `-g * sin x`.
    Cos,
}

/// Elementwise functions of two operands of the same shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    /// `a + b`; gradients `g`, `g`.
    Add,
    /// `a - b`; gradients `g`, `-g`.
    Sub,
    /// `a * b`; gradients `g b`, `g a`.
    Mul,
    /// `a / b`; gradients `g / b`, `-g a / b^2`.
    Div,
    /// `max(a, b)`; the gradient goes to `a` where `a >= b`, else to `b`.
    Max,
    /// `min(a, b)`; the gradient goes to `a` where `a <= b`, else to `b`.
    Min,
    /// `a ^ b`; gradients `g b a^(b-1)`, `g a^b ln a`.
    Pow,
    /// `1.0` where `a < b`, else `0.0`; no gradient.
    Lt,
    /// `1.0` where `a == b`, else `0.0`; no gradient.
    Eq,
}

/// Reductions over a set of axes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReduceOp {
    /// Sum; gradient: `g` expanded back over the reduced axes.
    Sum,
    /// Maximum; gradient: `g` to the positions equal to the maximum
    /// (split evenly between ties).
    Max,
}

/// One axis of a [`Op::Slice`]: positions `start, start + step, ...` below `end`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SliceRange {
    /// First position.
    pub start: usize,
    /// One past the last position that may be taken.
    pub end: usize,
    /// Distance between taken positions (at least 1).
    pub step: usize,
}

impl SliceRange {
    /// Number of positions taken.
    pub fn len(&self) -> usize {
        if self.end <= self.start { 0 } else { (self.end - self.start).div_ceil(self.step) }
    }

    /// True when no position is taken.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The whole of an axis of size `n`.
    pub fn full(n: usize) -> SliceRange {
        SliceRange { start: 0, end: n, step: 1 }
    }
}

/// A primitive operation. The result shape of each is given as a rule over
/// its operands' shapes; gradients are the vector-Jacobian products the
/// autodiff pass emits.
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    /// Data fed to the graph each step (images, labels). No operands.
    /// Shape and dtype as declared. No gradient.
    Input {
        /// The feed's name (`x`, `labels`).
        name: String,
    },
    /// A trainable tensor that persists between steps. No operands.
    /// Gradient: accumulated and handed to the optimizer.
    Param {
        /// Dotted path in the model (`fc1.weight`).
        name: String,
    },
    /// A non-trainable tensor that persists between steps (optimizer
    /// moments, the step counter). No operands. No gradient.
    State {
        /// A unique name (`fc1.weight.momentum`).
        name: String,
    },
    /// Every element equal to `value`. No operands. No gradient.
    Const {
        /// The fill value.
        value: f32,
    },
    /// Each element's index along `axis`, as a float. No operands. No gradient.
    Iota {
        /// The axis that counts.
        axis: usize,
    },
    /// Uniform random numbers in `[0, 1)`, a pure function of the run's seed,
    /// the step number, `stream` and the element's position (a counter-based
    /// generator, so every back end draws the same numbers). No operands.
    Rand {
        /// Distinguishes independent draws in one step.
        stream: u32,
    },
    /// Elementwise function of one operand; result shape = operand shape.
    Unary(UnaryOp),
    /// Elementwise function of two operands of equal shape (broadcasting is
    /// made explicit with [`Op::Expand`] first); result shape = that shape.
    Binary(BinaryOp),
    /// `cond != 0 ? a : b`, three operands of equal shape. Gradient: `g`
    /// routed to `a` or `b` by `cond`; none to `cond`.
    Select,
    /// Reduction over `axes` (sorted, distinct); reduced axes keep size 1.
    Reduce {
        /// Sum or max.
        op: ReduceOp,
        /// Axes to reduce.
        axes: Vec<usize>,
    },
    /// Same elements in row-major order, new shape (same element count).
    /// Gradient: reshape back.
    Reshape,
    /// Axis `i` of the result is axis `perm[i]` of the operand.
    /// Gradient: the inverse permutation.
    Permute {
        /// A permutation of `0..rank`.
        perm: Vec<usize>,
    },
    /// Broadcast size-1 axes to the node's shape (same rank). Gradient: sum
    /// over the expanded axes.
    Expand,
    /// A strided window of the operand, one range per axis. Gradient: the
    /// gradient scattered back into zeros (a strided pad).
    Slice {
        /// One range per axis.
        ranges: Vec<SliceRange>,
    },
    /// Zero padding, `(before, after)` per axis. Gradient: the matching slice.
    Pad {
        /// Padding per axis.
        pads: Vec<(usize, usize)>,
    },
    /// Operands joined along `axis`; all other axes equal. Gradient: slices.
    Concat {
        /// The joining axis.
        axis: usize,
    },
    /// `[..., M, K] @ [..., K, N] -> [..., M, N]`, equal batch dims.
    /// Gradients `g @ b^T`, `a^T @ g`.
    MatMul,
    /// `table[V, D...]` indexed along axis 0 by `idx[I...]` (i32):
    /// result `[I..., D...]`. Gradient: scatter-add into the table.
    Gather,
    /// Rows of `g[I..., D...]` added into zeros of `[V, D...]` at `idx[I...]`,
    /// the adjoint of [`Op::Gather`]; operands `(g, idx)`, result shape is the
    /// node's. Gradient w.r.t. `g`: a gather.
    ScatterAdd,
    /// Convert to the node's dtype (f32 -> i32 truncates toward zero). No gradient
    /// through integer results.
    Cast,
    /// The operand unchanged; gradient: none (a stop-gradient). Used where a
    /// value only stabilises a computation whose result does not depend on
    /// it, such as the row maximum subtracted inside softmax.
    Detach,
}

impl Op {
    /// A short lowercase name used in dumps and error messages.
    pub fn name(&self) -> &'static str {
        match self {
            Op::Input { .. } => "input",
            Op::Param { .. } => "param",
            Op::State { .. } => "state",
            Op::Const { .. } => "const",
            Op::Iota { .. } => "iota",
            Op::Rand { .. } => "rand",
            Op::Unary(u) => match u {
                UnaryOp::Neg => "neg",
                UnaryOp::Exp => "exp",
                UnaryOp::Log => "log",
                UnaryOp::Sqrt => "sqrt",
                UnaryOp::Recip => "recip",
                UnaryOp::Tanh => "tanh",
                UnaryOp::Sin => "sin",
                UnaryOp::Cos => "cos",
            },
            Op::Binary(b) => match b {
                BinaryOp::Add => "add",
                BinaryOp::Sub => "sub",
                BinaryOp::Mul => "mul",
                BinaryOp::Div => "div",
                BinaryOp::Max => "max",
                BinaryOp::Min => "min",
                BinaryOp::Pow => "pow",
                BinaryOp::Lt => "lt",
                BinaryOp::Eq => "eq",
            },
            Op::Select => "select",
            Op::Reduce { op: ReduceOp::Sum, .. } => "reduce_sum",
            Op::Reduce { op: ReduceOp::Max, .. } => "reduce_max",
            Op::Reshape => "reshape",
            Op::Permute { .. } => "permute",
            Op::Expand => "expand",
            Op::Slice { .. } => "slice",
            Op::Pad { .. } => "pad",
            Op::Concat { .. } => "concat",
            Op::MatMul => "matmul",
            Op::Gather => "gather",
            Op::ScatterAdd => "scatter_add",
            Op::Cast => "cast",
            Op::Detach => "detach",
        }
    }

    /// True for operations without operands whose value lives outside the
    /// graph (inputs, parameters, state).
    pub fn is_leaf_storage(&self) -> bool {
        matches!(self, Op::Input { .. } | Op::Param { .. } | Op::State { .. })
    }

    /// The result shape for these operand shapes, or why they are invalid.
    /// `declared` is the node's own shape, used by the ops whose result shape
    /// is a parameter (sources, reshape, expand, scatter-add).
    pub fn infer(&self, operands: &[&Shape], declared: &Shape) -> Result<Shape, String> {
        let arity = |n: usize| {
            if operands.len() == n {
                Ok(())
            } else {
                Err(format!("{} takes {n} operands, got {}", self.name(), operands.len()))
            }
        };
        match self {
            Op::Input { .. } | Op::Param { .. } | Op::State { .. } | Op::Const { .. } | Op::Rand { .. } => {
                arity(0)?;
                Ok(declared.clone())
            }
            Op::Iota { axis } => {
                arity(0)?;
                if *axis >= declared.rank() {
                    return Err(format!("iota axis {axis} out of range for {declared}"));
                }
                Ok(declared.clone())
            }
            Op::Unary(_) | Op::Cast | Op::Detach => {
                arity(1)?;
                Ok(operands[0].clone())
            }
            Op::Binary(_) => {
                arity(2)?;
                same(operands)
            }
            Op::Select => {
                arity(3)?;
                same(operands)
            }
            Op::Reduce { axes, .. } => {
                arity(1)?;
                let mut dims = operands[0].0.clone();
                for w in axes.windows(2) {
                    if w[0] >= w[1] {
                        return Err(format!("reduce axes {axes:?} not sorted and distinct"));
                    }
                }
                for &a in axes {
                    *dims.get_mut(a).ok_or(format!("reduce axis {a} out of range"))? = 1;
                }
                Ok(Shape(dims))
            }
            Op::Reshape => {
                arity(1)?;
                if operands[0].numel() != declared.numel() {
                    return Err(format!("reshape {} -> {declared} changes element count", operands[0]));
                }
                Ok(declared.clone())
            }
            Op::Permute { perm } => {
                arity(1)?;
                let x = operands[0];
                let mut seen = vec![false; x.rank()];
                if perm.len() != x.rank() {
                    return Err(format!("permute {perm:?} of rank-{} tensor", x.rank()));
                }
                for &p in perm {
                    if p >= x.rank() || std::mem::replace(&mut seen[p], true) {
                        return Err(format!("{perm:?} is not a permutation"));
                    }
                }
                Ok(Shape(perm.iter().map(|&p| x.0[p]).collect()))
            }
            Op::Expand => {
                arity(1)?;
                let x = operands[0];
                if x.rank() != declared.rank() || x.0.iter().zip(&declared.0).any(|(&a, &b)| a != b && a != 1)
                {
                    return Err(format!("cannot expand {x} to {declared}"));
                }
                Ok(declared.clone())
            }
            Op::Slice { ranges } => {
                arity(1)?;
                let x = operands[0];
                if ranges.len() != x.rank() {
                    return Err(format!("slice with {} ranges of rank-{} tensor", ranges.len(), x.rank()));
                }
                let mut dims = Vec::with_capacity(x.rank());
                for (r, &n) in ranges.iter().zip(&x.0) {
                    if r.step == 0 || r.start > n || r.end > n {
                        return Err(format!("slice {r:?} out of bounds for size {n}"));
                    }
                    dims.push(r.len());
                }
                Ok(Shape(dims))
            }
            Op::Pad { pads } => {
                arity(1)?;
                let x = operands[0];
                if pads.len() != x.rank() {
                    return Err(format!("pad with {} pairs of rank-{} tensor", pads.len(), x.rank()));
                }
                Ok(Shape(x.0.iter().zip(pads).map(|(&n, &(lo, hi))| lo + n + hi).collect()))
            }
            Op::Concat { axis } => {
                let first = operands.first().ok_or("concat of nothing")?;
                if *axis >= first.rank() {
                    return Err(format!("concat axis {axis} out of range"));
                }
                let mut dims = first.0.clone();
                dims[*axis] = 0;
                for s in operands {
                    if s.rank() != first.rank() || (0..s.rank()).any(|i| i != *axis && s.0[i] != first.0[i]) {
                        return Err(format!("concat of {first} and {s} along axis {axis}"));
                    }
                    dims[*axis] += s.0[*axis];
                }
                Ok(Shape(dims))
            }
            Op::MatMul => {
                arity(2)?;
                let (a, b) = (operands[0], operands[1]);
                let r = a.rank();
                if r < 2 || b.rank() != r || a.0[..r - 2] != b.0[..r - 2] || a.0[r - 1] != b.0[r - 2] {
                    return Err(format!("matmul of {a} and {b}"));
                }
                let mut dims = a.0.clone();
                dims[r - 1] = b.0[r - 1];
                Ok(Shape(dims))
            }
            Op::Gather => {
                arity(2)?;
                let (table, idx) = (operands[0], operands[1]);
                if table.rank() == 0 {
                    return Err("gather from a scalar".into());
                }
                let mut dims = idx.0.clone();
                dims.extend_from_slice(&table.0[1..]);
                Ok(Shape(dims))
            }
            Op::ScatterAdd => {
                arity(2)?;
                let (g, idx) = (operands[0], operands[1]);
                let mut expect = idx.0.clone();
                expect.extend_from_slice(declared.0.get(1..).unwrap_or(&[]));
                if declared.rank() == 0 || g.0 != expect {
                    return Err(format!("scatter_add of {g} by {idx} into {declared}"));
                }
                Ok(declared.clone())
            }
        }
    }
}

fn same(operands: &[&Shape]) -> Result<Shape, String> {
    let first = operands[0];
    for s in &operands[1..] {
        if *s != first {
            return Err(format!("operand shapes differ: {first} vs {s}"));
        }
    }
    Ok(first.clone())
}

/// A node: an operation with its result type and the source it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// What it computes.
    pub op: Op,
    /// Result shape.
    pub shape: Shape,
    /// Result element type.
    pub dtype: DType,
    /// The `.nn` expression it was lowered from, when there is one.
    pub origin: Option<Span>,
}

/// A tensor graph: nodes, named outputs, and in-place updates of persistent
/// tensors (parameters and state) applied after a step.
#[derive(Clone, Debug, Default)]
pub struct Graph {
    g: StableGraph<Node, u32>,
    outputs: Vec<(String, NodeId)>,
    updates: Vec<(NodeId, NodeId)>,
}

impl Graph {
    /// An empty graph.
    pub fn new() -> Graph {
        Graph::default()
    }

    /// Adds a node after checking its operands' shapes. `shape` is used by
    /// ops whose result shape is a parameter and ignored by the others.
    ///
    /// # Panics
    /// On operands whose shapes the op rejects: callers check user input
    /// first, so this is an internal invariant.
    pub fn add(
        &mut self,
        op: Op,
        operands: &[NodeId],
        shape: Shape,
        dtype: DType,
        origin: Option<Span>,
    ) -> NodeId {
        let shapes: Vec<&Shape> = operands.iter().map(|&o| &self.node(o).shape).collect();
        let shape = match op.infer(&shapes, &shape) {
            Ok(s) => s,
            Err(e) => panic!("internal error: invalid {} node: {e}", op.name()),
        };
        let idx = self.g.add_node(Node { op, shape, dtype, origin });
        for (pos, &o) in operands.iter().enumerate() {
            self.g.add_edge(o.index(), idx, pos as u32);
        }
        NodeId(idx.index() as u32)
    }

    /// The node with this id.
    pub fn node(&self, id: NodeId) -> &Node {
        &self.g[id.index()]
    }

    /// Mutable access to a node (for passes that rewrite in place).
    pub fn node_mut(&mut self, id: NodeId) -> &mut Node {
        &mut self.g[id.index()]
    }

    /// True if the id names a live node.
    pub fn contains(&self, id: NodeId) -> bool {
        self.g.contains_node(id.index())
    }

    /// Operands of a node, in position order.
    pub fn operands(&self, id: NodeId) -> Vec<NodeId> {
        let mut edges: Vec<(u32, NodeId)> = self
            .g
            .edges_directed(id.index(), Direction::Incoming)
            .map(|e| (*e.weight(), NodeId(e.source().index() as u32)))
            .collect();
        edges.sort_unstable();
        edges.into_iter().map(|(_, n)| n).collect()
    }

    /// Nodes that use this node (each once, in id order).
    pub fn users(&self, id: NodeId) -> Vec<NodeId> {
        let mut users: Vec<NodeId> = self
            .g
            .neighbors_directed(id.index(), Direction::Outgoing)
            .map(|n| NodeId(n.index() as u32))
            .collect();
        users.sort_unstable();
        users.dedup();
        users
    }

    /// Every live node id, ascending.
    pub fn node_ids(&self) -> Vec<NodeId> {
        self.g.node_indices().map(|n| NodeId(n.index() as u32)).collect()
    }

    /// Number of live nodes.
    pub fn len(&self) -> usize {
        self.g.node_count()
    }

    /// True for a graph without nodes.
    pub fn is_empty(&self) -> bool {
        self.g.node_count() == 0
    }

    /// Nodes in a topological order (operands before users), ties broken by id
    /// so the order is deterministic.
    pub fn topo_order(&self) -> Vec<NodeId> {
        let n = NodeIndexable::node_bound(&self.g);
        let mut indegree = vec![0usize; n];
        for e in IntoEdgeReferences::edge_references(&self.g) {
            indegree[e.target().index()] += 1;
        }
        let mut ready: std::collections::BinaryHeap<std::cmp::Reverse<u32>> = self
            .g
            .node_indices()
            .filter(|i| indegree[i.index()] == 0)
            .map(|i| std::cmp::Reverse(i.index() as u32))
            .collect();
        let mut order = Vec::with_capacity(self.g.node_count());
        while let Some(std::cmp::Reverse(i)) = ready.pop() {
            order.push(NodeId(i));
            for e in self.g.edges_directed(NodeIndex::new(i as usize), Direction::Outgoing) {
                let t = e.target().index();
                indegree[t] -= 1;
                if indegree[t] == 0 {
                    ready.push(std::cmp::Reverse(t as u32));
                }
            }
        }
        order
    }

    /// Marks a node as a named result of the graph.
    pub fn add_output(&mut self, name: impl Into<String>, id: NodeId) {
        self.outputs.push((name.into(), id));
    }

    /// Named results, in the order added.
    pub fn outputs(&self) -> &[(String, NodeId)] {
        &self.outputs
    }

    /// The output with this name.
    pub fn output(&self, name: &str) -> Option<NodeId> {
        self.outputs.iter().find(|(n, _)| n == name).map(|&(_, id)| id)
    }

    /// Records that after a step, persistent `target` (a param or state
    /// node) takes the value of `value`.
    pub fn add_update(&mut self, target: NodeId, value: NodeId) {
        self.updates.push((target, value));
    }

    /// In-place updates `(target, new value)`, in the order added.
    pub fn updates(&self) -> &[(NodeId, NodeId)] {
        &self.updates
    }

    /// Replaces every use of `old` (as operand, output or update value) by `new`.
    pub fn replace_uses(&mut self, old: NodeId, new: NodeId) {
        let edges: Vec<(NodeIndex<u32>, u32)> = self
            .g
            .edges_directed(old.index(), Direction::Outgoing)
            .map(|e| (e.target(), *e.weight()))
            .collect();
        for (target, pos) in edges {
            if let Some(e) = self.g.find_edge(old.index(), target) {
                self.g.remove_edge(e);
            }
            self.g.add_edge(new.index(), target, pos);
        }
        for (_, o) in &mut self.outputs {
            if *o == old {
                *o = new;
            }
        }
        for (_, v) in &mut self.updates {
            if *v == old {
                *v = new;
            }
        }
    }

    /// Removes a node and its edges.
    pub fn remove(&mut self, id: NodeId) {
        self.g.remove_node(id.index());
    }

    /// Every node that is a `Param`, with its name, in id order.
    pub fn params(&self) -> Vec<(NodeId, &str)> {
        self.named_leaves(|op| match op {
            Op::Param { name } => Some(name),
            _ => None,
        })
    }

    /// Every node that is an `Input`, with its name, in id order.
    pub fn inputs(&self) -> Vec<(NodeId, &str)> {
        self.named_leaves(|op| match op {
            Op::Input { name } => Some(name),
            _ => None,
        })
    }

    /// Every node that is a `State`, with its name, in id order.
    pub fn states(&self) -> Vec<(NodeId, &str)> {
        self.named_leaves(|op| match op {
            Op::State { name } => Some(name),
            _ => None,
        })
    }

    fn named_leaves<'a>(&'a self, f: impl Fn(&'a Op) -> Option<&'a String>) -> Vec<(NodeId, &'a str)> {
        self.g
            .node_indices()
            .filter_map(|i| f(&self.g[i].op).map(|n| (NodeId(i.index() as u32), n.as_str())))
            .collect()
    }
}
