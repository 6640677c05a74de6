//! Fourth in fusion's line (`access` → `realize` → `fit` → `group` →
//! `build` → `lower`): grouping realized nodes into kernels.
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
//! kernel as an epilogue when its first dimension divides the product's
//! first dimension and each of its rows reads only its own block of the
//! product's rows (an elementwise consumer: blocks of one row; a col2im:
//! one image's rows). Joining only the latest input kernel keeps the schedule
//! topological without any further check. Whether a node fits is decided
//! by [`fit`](super::fit) from index facts of the node alone; no group is
//! lowered here.

use std::collections::HashMap;

use super::access::reduced;
use super::fit::{self, Target};
use crate::graph::{Graph, NodeId, Op, Shape};

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
        /// Rows of the product's first dimension per epilogue row.
        rows: usize,
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
    // Per group: `None` when nothing may join it, else whether its loop
    // variables (its epilogue's, for a GEMM) need no refinement so far.
    let mut open: Vec<Option<bool>> = Vec::new();
    let mut group_of: HashMap<NodeId, usize> = HashMap::new();
    for id in g.topo_order() {
        let node = g.node(id);
        if !realized[id.0 as usize] || node.op.is_leaf_storage() {
            continue;
        }
        let kind = match node.op {
            Op::MatMul => Some(GroupKind::Gemm { mm: id, epilogue: None, rows: 1 }),
            Op::Gather => Some(GroupKind::Gather(id)),
            Op::ScatterAdd => Some(GroupKind::ScatterAdd(id)),
            // Everything else becomes (part of) a loop kernel.
            Op::Input { .. }
            | Op::Param { .. }
            | Op::State { .. }
            | Op::Const { .. }
            | Op::Iota { .. }
            | Op::Rand { .. }
            | Op::Unary(_)
            | Op::Binary(_)
            | Op::Select
            | Op::Reduce { .. }
            | Op::Reshape
            | Op::Permute { .. }
            | Op::Expand
            | Op::Slice { .. }
            | Op::Pad { .. }
            | Op::Concat { .. }
            | Op::Cast
            | Op::Detach => None,
        };
        if let Some(kind) = kind {
            group_of.insert(id, groups.len());
            let gemm = matches!(kind, GroupKind::Gemm { .. });
            groups.push(Group { kind, members: vec![] });
            open.push(gemm.then_some(true));
            continue;
        }
        let latest = realized_deps(g, realized, id).iter().filter_map(|d| group_of.get(d)).copied().max();
        if let Some(k) = latest
            && let Some(split_free) = open[k]
            && let Some((kind, split_free)) = joined(g, realized, &groups[k], split_free, id)
        {
            groups[k].kind = kind;
            open[k] = Some(split_free);
            groups[k].members.push(id);
            group_of.insert(id, k);
            continue;
        }
        let (full, axes) = match &node.op {
            Op::Reduce { axes, .. } => (g.shape(g.operands(id)[0]).clone(), axes.clone()),
            _ => (node.shape.clone(), vec![]),
        };
        // A node that alone does not make a good kernel (an index stays
        // non-affine) takes no members.
        let t = Target { full: &full, axes: &axes, members: &[], same_slice: None };
        open.push(fit::fits(g, realized, &t, id, true));
        group_of.insert(id, groups.len());
        groups.push(Group { kind: GroupKind::Loop { full, axes }, members: vec![id] });
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

/// True when, ignoring axes of size 1, the reduced axes all come after the
/// kept ones or all before them. Turning an elementwise kernel into a
/// reduction kernel puts the kept axes outside the reduced ones; with a
/// kept axis in the middle (the channels of a bias gradient) that order
/// walks the elementwise members' data with large strides, so such a
/// reduction gets a kernel of its own instead.
fn contiguous_split(full: &Shape, reduced: &[usize]) -> bool {
    let kinds: Vec<bool> =
        (0..full.rank()).filter(|&k| full.0[k] > 1).map(|k| reduced.contains(&k)).collect();
    let changes = kinds.windows(2).filter(|w| w[0] != w[1]).count();
    changes <= 1
}

/// The group's new kind if `n` can join it, and whether the group's loop
/// variables then still need no refinement.
fn joined(
    g: &Graph,
    realized: &[bool],
    group: &Group,
    split_free: bool,
    n: NodeId,
) -> Option<(GroupKind, bool)> {
    let node = g.node(n);
    match &group.kind {
        GroupKind::Loop { full, axes } => {
            let kind = match &node.op {
                Op::Reduce { axes: r, .. } => {
                    let src = g.shape(g.operands(n)[0]);
                    let elementwise = axes.is_empty()
                        && group.members.iter().all(|&m| g.shape(m) == full)
                        && contiguous_split(full, r);
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
            let t = Target { full, axes, members: &group.members, same_slice: None };
            fit::fits(g, realized, &t, n, split_free).map(|s| (kind.clone(), s))
        }
        GroupKind::Gemm { mm, epilogue, rows } => {
            if matches!(node.op, Op::Reduce { .. }) {
                return None;
            }
            // The epilogue's first axis counts blocks of `rows` rows of the
            // product's first dimension: an elementwise epilogue has blocks
            // of one; a col2im over images reads one image's rows.
            let first = g.shape(*mm).0[0];
            let (ok, rows) = match epilogue {
                Some(s) => (node.shape == *s, *rows),
                None => match node.shape.0.first() {
                    Some(&d) if d > 0 && first.is_multiple_of(d) => (true, first / d),
                    _ => (false, 1),
                },
            };
            if !ok {
                return None;
            }
            let full = node.shape.clone();
            let t = Target {
                full: &full,
                axes: &[],
                members: &group.members,
                same_slice: Some((*mm, rows as i64)),
            };
            let split_free = fit::fits(g, realized, &t, n, split_free)?;
            Some((GroupKind::Gemm { mm: *mm, epilogue: Some(full), rows }, split_free))
        }
        GroupKind::Gather(_) | GroupKind::ScatterAdd(_) => None,
    }
}
