//! Grouping realized nodes into kernels.
//!
//! Nodes are visited in topological order. Each realized node either joins
//! the latest kernel among those that compute its inputs, when it fits
//! there, or starts a kernel. It fits a loop kernel over full shape `F`
//! reducing axes `A` when it is a reduction of an `F`-shaped value over
//! `A` (softmax's max then sum), an elementwise node of shape `F` or of
//! `F` reduced (the normalisation after a row sum), and every accumulator
//! it reads is read at the current outer point. An elementwise kernel
//! without reductions turns into one with them when a reduction of its
//! shape joins (a gradient and its bias-gradient sum). It fits a GEMM
//! kernel as an epilogue when it has the product's size and first
//! dimension and reads the product only within the same slice of that
//! dimension. Joining only the latest input kernel keeps the schedule
//! topological without any further check.

use std::collections::HashMap;

use super::build::{Buffers, Builder, Role};
use crate::graph::{Graph, NodeId, Op, Shape};
use crate::kernel::ir::{AccId, IExpr, Var};

/// What a group computes.
#[derive(Clone, Debug, PartialEq)]
pub enum GroupKind {
    /// A loop kernel over `full`, reducing `axes`.
    Loop {
        /// The iteration space.
        full: Shape,
        /// Reduced axes (empty: elementwise).
        axes: Vec<usize>,
    },
    /// A matrix product; the epilogue runs over `epilogue` once it has members.
    Gemm {
        /// The matmul node.
        mm: NodeId,
        /// The epilogue's iteration space.
        epilogue: Option<Shape>,
    },
    /// A gather.
    Gather(NodeId),
    /// A scatter-add.
    ScatterAdd(NodeId),
}

/// A kernel-to-be: its kind and the realized nodes it computes.
#[derive(Clone, Debug, PartialEq)]
pub struct Group {
    /// Its kind.
    pub kind: GroupKind,
    /// Realized nodes computed, in topological order (for a GEMM, the
    /// epilogue's; the product itself is not listed).
    pub members: Vec<NodeId>,
}

/// The groups of a graph in execution order.
pub fn run(g: &Graph, realized: &[bool]) -> Vec<Group> {
    let mut groups: Vec<Group> = Vec::new();
    let mut group_of: HashMap<NodeId, usize> = HashMap::new();
    for id in g.topo_order() {
        let node = g.node(id);
        if !realized[id.0 as usize] || node.op.is_leaf_storage() {
            continue;
        }
        let kind = match node.op {
            Op::MatMul => Some(GroupKind::Gemm { mm: id, epilogue: None }),
            Op::Gather => Some(GroupKind::Gather(id)),
            Op::ScatterAdd => Some(GroupKind::ScatterAdd(id)),
            _ => None,
        };
        if let Some(kind) = kind {
            group_of.insert(id, groups.len());
            groups.push(Group { kind, members: vec![] });
            continue;
        }
        let latest = realized_deps(g, realized, id).iter().filter_map(|d| group_of.get(d)).copied().max();
        if let Some(k) = latest
            && let Some(kind) = joined(g, realized, &groups[k], id)
        {
            groups[k].kind = kind;
            groups[k].members.push(id);
            group_of.insert(id, k);
            continue;
        }
        let kind = match &node.op {
            Op::Reduce { axes, .. } => {
                GroupKind::Loop { full: g.shape(g.operands(id)[0]).clone(), axes: axes.clone() }
            }
            _ => GroupKind::Loop { full: node.shape.clone(), axes: vec![] },
        };
        group_of.insert(id, groups.len());
        groups.push(Group { kind, members: vec![id] });
    }
    groups
}

/// The realized nodes `n`'s value is computed from directly (through
/// inlined nodes only).
pub fn realized_deps(g: &Graph, realized: &[bool], n: NodeId) -> Vec<NodeId> {
    let mut out = Vec::new();
    let mut stack = g.operands(n);
    let mut seen = std::collections::HashSet::new();
    while let Some(x) = stack.pop() {
        if !seen.insert(x) {
            continue;
        }
        if realized[x.0 as usize] {
            out.push(x);
        } else {
            stack.extend(g.operands(x));
        }
    }
    out.sort_unstable();
    out
}

/// The shape with `axes` set to 1.
pub fn reduced(full: &Shape, axes: &[usize]) -> Shape {
    Shape(full.0.iter().enumerate().map(|(k, &d)| if axes.contains(&k) { 1 } else { d }).collect())
}

/// The group's new kind if `n` can join it.
fn joined(g: &Graph, realized: &[bool], group: &Group, n: NodeId) -> Option<GroupKind> {
    let node = g.node(n);
    match &group.kind {
        GroupKind::Loop { full, axes } => {
            let kind = match &node.op {
                Op::Reduce { axes: r, .. } => {
                    let src = g.shape(g.operands(n)[0]);
                    let elementwise = axes.is_empty() && group.members.iter().all(|&m| g.shape(m) == full);
                    if src != full || (r != axes && !elementwise) {
                        return None;
                    }
                    GroupKind::Loop { full: full.clone(), axes: r.clone() }
                }
                _ if node.shape.numel() == full.numel() => group.kind.clone(),
                _ if !axes.is_empty() && node.shape.numel() == reduced(full, axes).numel() => {
                    group.kind.clone()
                }
                _ => return None,
            };
            let GroupKind::Loop { full, axes } = &kind else { return None };
            fits(g, realized, full, axes, &group.members, n, None).then_some(kind)
        }
        GroupKind::Gemm { mm, epilogue } => {
            if matches!(node.op, Op::Reduce { .. }) {
                return None;
            }
            let mm_shape = g.shape(*mm);
            let ok = match epilogue {
                Some(s) => node.shape == *s,
                None => {
                    node.shape.rank() >= 1
                        && mm_shape.0[0] == node.shape.0[0]
                        && mm_shape.numel() == node.shape.numel()
                }
            };
            let full = node.shape.clone();
            (ok && fits(g, realized, &full, &[], &group.members, n, Some(*mm)))
                .then_some(GroupKind::Gemm { mm: *mm, epilogue: Some(full) })
        }
        GroupKind::Gather(_) | GroupKind::ScatterAdd(_) => None,
    }
}

/// Builds `n` in a loop kernel with these members and reports whether
/// every accumulator (and the product `same_slice`) is read where allowed.
fn fits(
    g: &Graph,
    realized: &[bool],
    full: &Shape,
    axes: &[usize],
    members: &[NodeId],
    n: NodeId,
    same_slice: Option<NodeId>,
) -> bool {
    let extents: Vec<i64> = full.0.iter().map(|&d| d as i64).collect();
    let mut bufs = Buffers::new();
    let mut b = Builder::new(g, realized, &mut bufs, &extents);
    b.axis_ix = (0..full.rank())
        .map(|k| if full.0[k] == 1 { IExpr::constant(0) } else { IExpr::var(Var(k as u32)) })
        .collect();
    b.kept = (0..full.rank()).map(|k| !axes.contains(&k)).collect();
    b.same_slice.extend(same_slice);
    let mut accs = 0;
    for &m in members {
        let role = if matches!(g.node(m).op, Op::Reduce { .. }) {
            accs += 1;
            Role::Reduce(AccId(accs - 1))
        } else {
            Role::Inline
        };
        b.members.insert(m, role);
    }
    let axis_ix = b.axis_ix.clone();
    match &g.node(n).op {
        Op::Reduce { .. } => {
            b.value(g.operands(n)[0], &axis_ix);
        }
        _ => {
            let row = reduced(full, axes);
            let l = if g.shape(n).numel() == full.numel() {
                b.flat(&axis_ix, full)
            } else {
                let row_ix: Vec<IExpr> = axis_ix
                    .iter()
                    .enumerate()
                    .map(|(k, i)| if axes.contains(&k) { IExpr::constant(0) } else { i.clone() })
                    .collect();
                b.flat(&row_ix, &row)
            };
            b.compute_flat(n, &l);
        }
    }
    !b.misaligned
}
