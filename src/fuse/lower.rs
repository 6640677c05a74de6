//! Last in fusion's line (`access` → `realize` → `fit` → `group` →
//! `build` → `lower`): lowering each final group, once, to the kernel IR: loop variables, stages, stores, and
//! the refinement of variables until reshapes become plain strides.
//!
//! A loop group over full shape `F` reducing axes `A` gets one variable per
//! axis of `F` longer than 1: the kept axes are the outer variables, the
//! reduced ones the inner variables of every loop stage. Members are placed
//! by the accumulators they read: a reduction or an `F`-shaped member
//! reading accumulators of loop `L` goes in loop `L + 1`; a member of the
//! reduced shape goes in the per-point stage right after the loops it
//! reads. When a division in an index cannot be simplified, the variable
//! it divides is split in two and the group is built again (a few rounds).
//! Stores are added only for members another kernel reads, or that are
//! outputs or update values.

use std::collections::HashSet;

use super::access::{reduced, strided_view};
use super::build::{Buffers, Builder, Role};
use super::fit::SPLIT_ROUNDS;
use super::group::{Group, GroupKind};
use crate::graph::{Graph, NodeId, Op, Shape};
use crate::kernel::index::{Simplifier, split_fits};
use crate::kernel::ir::{
    AccId, Expr, ExprId, GatherKernel, GemmKernel, IExpr, Kernel, LoopKernel, Program, Reduction,
    ScatterAddKernel, Stage, Store, Var, View,
};
use crate::kernel::tidy;

/// A loop kernel before its stores are known.
struct LoopBuild {
    kernel: LoopKernel,
    /// `(member, stage, value, index)` for each member that may be stored.
    pending: Vec<(NodeId, usize, ExprId, IExpr)>,
    keep_first: bool,
}

enum Built {
    Loop(LoopBuild),
    Gemm(GemmKernel, Option<LoopBuild>),
    Done(Kernel),
}

/// Builds the program of a graph from its groups.
pub fn run(g: &Graph, realized: &[bool], groups: &[Group]) -> Program {
    let mut bufs = Buffers::new();
    let mut needs: HashSet<NodeId> = HashSet::new();
    let mut built = Vec::with_capacity(groups.len());
    for group in groups {
        let mut loaded = Vec::new();
        built.push(build_group(g, realized, &mut bufs, group, &mut loaded));
        needs.extend(loaded);
    }
    needs.extend(g.outputs().iter().map(|&(_, o)| o));
    needs.extend(g.updates().iter().map(|&(_, v)| v));
    let kernels = built
        .into_iter()
        .map(|b| match b {
            Built::Loop(lb) => Kernel::Loop(finish(g, lb, &needs, &mut bufs)),
            Built::Gemm(mut k, epi) => {
                k.epilogue = epi.map(|lb| Box::new(finish(g, lb, &needs, &mut bufs)));
                Kernel::Gemm(k)
            }
            Built::Done(k) => k,
        })
        .collect();
    let outputs = g.outputs().iter().map(|(name, o)| (name.clone(), bufs.of(g, *o))).collect();
    let updates = g.updates().iter().map(|&(t, v)| (bufs.of(g, t), bufs.of(g, v))).collect();
    Program { buffers: bufs.list, kernels, outputs, updates }
}

fn build_group(
    g: &Graph,
    realized: &[bool],
    bufs: &mut Buffers,
    group: &Group,
    loaded: &mut Vec<NodeId>,
) -> Built {
    match &group.kind {
        GroupKind::Loop { full, axes } => {
            Built::Loop(build_loop(g, realized, bufs, full, axes, &group.members, None, loaded))
        }
        GroupKind::Gemm { mm, epilogue, rows } => {
            let xs = g.operands(*mm);
            let view = |bufs: &mut Buffers, x: NodeId, loaded: &mut Vec<NodeId>| {
                let (base, offset, strides) = strided_view(g, realized, x)
                    .unwrap_or_else(|| panic!("internal error: matmul operand {x} is not a strided view"));
                loaded.push(base);
                View { buf: bufs.of(g, base), offset, strides }
            };
            let a = view(bufs, xs[0], loaded);
            let b = view(bufs, xs[1], loaded);
            let shape = g.shape(*mm).clone();
            let r = shape.rank();
            let kernel = GemmKernel {
                nodes: std::iter::once(*mm).chain(group.members.iter().copied()).collect(),
                batch: shape.0[..r - 2].to_vec(),
                m: shape.0[r - 2],
                n: shape.0[r - 1],
                k: g.shape(xs[0]).0[r - 1],
                a,
                b,
                c: bufs.of(g, *mm),
                epilogue: None,
                rows: *rows,
                prologue: None,
                c_blocks: false,
            };
            let epi = epilogue.as_ref().map(|full| {
                build_loop(g, realized, bufs, full, &[], &group.members, Some((*mm, *rows as i64)), loaded)
            });
            Built::Gemm(kernel, epi)
        }
        GroupKind::Gather(n) => {
            let xs = g.operands(*n);
            loaded.extend(&xs);
            let table = g.shape(xs[0]);
            let rows = table.0[0];
            Built::Done(Kernel::Gather(GatherKernel {
                node: *n,
                table: bufs.of(g, xs[0]),
                idx: bufs.of(g, xs[1]),
                out: bufs.of(g, *n),
                rows,
                row: table.numel() / rows.max(1),
            }))
        }
        GroupKind::ScatterAdd(n) => {
            let xs = g.operands(*n);
            loaded.extend(&xs);
            let shape = g.shape(*n);
            let rows = shape.0[0];
            Built::Done(Kernel::ScatterAdd(ScatterAddKernel {
                node: *n,
                src: bufs.of(g, xs[0]),
                idx: bufs.of(g, xs[1]),
                out: bufs.of(g, *n),
                rows,
                row: shape.numel() / rows.max(1),
            }))
        }
    }
}

/// How a member of a loop group is computed.
enum Place {
    /// A reduction: accumulated in a loop stage.
    Reduce,
    /// Of the full shape: computed in a loop stage.
    Full,
    /// Of the reduced shape: computed once per outer point.
    Row,
}

/// Builds a loop group over `full` reducing `axes` with these members;
/// `same_slice` names a GEMM product an epilogue reads and how many of its
/// rows each epilogue row covers.
#[allow(clippy::too_many_arguments)]
fn build_loop(
    g: &Graph,
    realized: &[bool],
    bufs: &mut Buffers,
    full: &Shape,
    axes: &[usize],
    members: &[NodeId],
    same_slice: Option<(NodeId, i64)>,
    loaded: &mut Vec<NodeId>,
) -> LoopBuild {
    let keep_first = same_slice.is_some();
    let mut extents: Vec<i64> = Vec::new();
    let mut axis_ix: Vec<IExpr> = Vec::new();
    let (mut outer, mut inner) = (Vec::new(), Vec::new());
    for (k, &d) in full.0.iter().enumerate() {
        if d > 1 || (k == 0 && keep_first) {
            let v = Var(extents.len() as u32);
            extents.push(d as i64);
            axis_ix.push(IExpr::var(v));
            if axes.contains(&k) { inner.push(v) } else { outer.push(v) }
        } else {
            axis_ix.push(IExpr::constant(0));
        }
    }
    if outer.is_empty() {
        outer.push(Var(extents.len() as u32));
        extents.push(1);
    }
    let pinned = keep_first.then(|| outer[0]);
    let row_shape = reduced(full, axes);
    for round in 0.. {
        let mut b = Builder::new(g, realized, bufs, &extents);
        b.same_slice.extend(same_slice);
        let mut n_accs = 0u32;
        for &m in members {
            let role = if matches!(g.node(m).op, Op::Reduce { .. }) {
                n_accs += 1;
                Role::Reduce(AccId(n_accs - 1))
            } else {
                Role::Inline
            };
            b.members.insert(m, role);
        }
        let row_ix: Vec<IExpr> = axis_ix
            .iter()
            .enumerate()
            .map(|(k, i)| if axes.contains(&k) { IExpr::constant(0) } else { i.clone() })
            .collect();
        let mut values = Vec::with_capacity(members.len());
        for &m in members {
            let node = g.node(m);
            let (place, value) = match &node.op {
                Op::Reduce { .. } => (Place::Reduce, b.value(g.operands(m)[0], &axis_ix)),
                _ if node.shape.numel() == full.numel() => {
                    let l = b.flat(&axis_ix, full);
                    (Place::Full, b.compute_flat(m, &l))
                }
                _ => {
                    let l = b.flat(&row_ix, &row_shape);
                    (Place::Row, b.compute_flat(m, &l))
                }
            };
            values.push((place, value));
        }
        let splits: Vec<(Var, i64)> = std::mem::take(&mut b.splits);
        let mut applied = HashSet::new();
        if round + 1 < SPLIT_ROUNDS {
            for (v, f) in splits {
                let n = extents[v.0 as usize];
                if Some(v) == pinned || !split_fits(n, f) || !applied.insert(v) {
                    continue;
                }
                let (hi, lo) = (Var(extents.len() as u32), Var(extents.len() as u32 + 1));
                extents.extend([n / f, f]);
                let bounds: Vec<(i64, i64)> = extents.iter().map(|&e| (0, e - 1)).collect();
                let mut s = Simplifier::new(&bounds);
                let sub = |w: Var| (w == v).then(|| IExpr::var(hi).scale(f).add(&IExpr::var(lo)));
                axis_ix = axis_ix.iter().map(|i| i.substitute(&sub, &mut s)).collect();
                for list in [&mut outer, &mut inner] {
                    if let Some(p) = list.iter().position(|&w| w == v) {
                        list.splice(p..=p, [hi, lo]);
                    }
                }
            }
        }
        if !applied.is_empty() {
            continue;
        }
        loaded.extend(b.loaded.iter().copied());
        // Stage layout: row 0, loop 0, row 1, loop 1, ...
        let n_slots = 2 * members.len() + 3;
        let mut stages: Vec<Stage> = (0..n_slots)
            .map(|i| Stage { vars: if i % 2 == 1 { inner.clone() } else { vec![] }, ..Stage::default() })
            .collect();
        let mut acc_loop = vec![0usize; n_accs as usize];
        let mut pending = Vec::new();
        let mut next_acc = 0u32;
        for (&m, (place, value)) in members.iter().zip(values) {
            let after = b.accs_used(value).iter().map(|a| acc_loop[a.0 as usize] + 1).max().unwrap_or(0);
            match place {
                Place::Reduce => {
                    let Op::Reduce { op, .. } = g.node(m).op else { unreachable!() };
                    let acc = AccId(next_acc);
                    next_acc += 1;
                    acc_loop[acc.0 as usize] = after;
                    stages[2 * after + 1].reductions.push(Reduction { acc, op, value });
                    let a = b.intern(Expr::Acc(acc));
                    pending.push((m, 2 * after + 2, a, b.flat(&row_ix, &row_shape)));
                }
                Place::Full => pending.push((m, 2 * after + 1, value, b.flat(&axis_ix, full))),
                Place::Row => pending.push((m, 2 * after, value, b.flat(&row_ix, &row_shape))),
            }
        }
        let kernel = LoopKernel { nodes: members.to_vec(), extents, outer, stages, exprs: b.exprs };
        return LoopBuild { kernel, pending, keep_first };
    }
    unreachable!("the refinement loop returns")
}

/// Adds the stores that are needed and tidies the kernel.
fn finish(g: &Graph, lb: LoopBuild, needs: &HashSet<NodeId>, bufs: &mut Buffers) -> LoopKernel {
    let mut k = lb.kernel;
    for (m, stage, value, index) in lb.pending {
        if needs.contains(&m) {
            let buf = bufs.of(g, m);
            k.stages[stage].stores.push(Store { buf, index, value });
        }
    }
    tidy::run(&mut k);
    tidy::collapse_with(&mut k, lb.keep_first);
    k
}
