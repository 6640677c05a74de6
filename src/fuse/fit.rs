//! Third in fusion's line (`access` → `realize` → `fit` → `group` →
//! `build` → `lower`): whether one node can join a loop kernel, decided
//! from index facts alone.
//!
//! A candidate is placed where `lower` will place it (a reduction at the
//! full point, a node of the full size at the full offset, one of the
//! reduced size at the per-point offset) and its reads are followed down
//! through inlined nodes with the index functions of [`access`](super::access),
//! the ones `build` uses. No kernel expression is built: only the indices
//! of the reads are computed, and only for the candidate (and the inlined
//! members it recomputes) unless the kernel's loop variables must be
//! refined (see [`fits`]). It fits when every accumulator it reads is read
//! at the current outer point, every costly member it recomputes is read
//! at its own point, every GEMM product it reads stays within its block of
//! rows, and every index is affine once the loop variables are refined.

use std::collections::{HashMap, HashSet};

use super::access::{self, concat_parts, flat, live_conds, narrow, operand_index, pad_conds, unravel};
use super::realize::CHEAP;
use crate::graph::{Graph, NodeId, Op, Shape};
use crate::kernel::index::{Simplifier, split_fits};
use crate::kernel::ir::{Cond, IExpr, Var};

/// Rounds of variable refinement before divisions are left in indices
/// (the same limit `lower` uses).
pub const SPLIT_ROUNDS: usize = 4;

/// The loop variables of a kernel: one per axis of its full shape longer
/// than 1 (and axis 0 of a GEMM epilogue), refined as members need.
struct Space {
    extents: Vec<i64>,
    axis_ix: Vec<IExpr>,
    pinned: Option<Var>,
}

impl Space {
    /// The unrefined variables of a kernel over `full`; `keep_first` pins a
    /// variable to axis 0 (GEMM epilogues).
    fn new(full: &Shape, keep_first: bool) -> Space {
        let mut extents = Vec::new();
        let mut axis_ix = Vec::new();
        for (k, &d) in full.0.iter().enumerate() {
            if d > 1 || (k == 0 && keep_first) {
                axis_ix.push(IExpr::var(Var(extents.len() as u32)));
                extents.push(d as i64);
            } else {
                axis_ix.push(IExpr::constant(0));
            }
        }
        let pinned = keep_first.then_some(Var(0));
        Space { extents, axis_ix, pinned }
    }

    /// Applies the requested splits (for each variable, the first that
    /// divides its extent: [`split_fits`]); false when
    /// none applied.
    fn refine(&mut self, splits: &[(Var, i64)]) -> bool {
        let mut applied = HashSet::new();
        for &(v, f) in splits {
            let n = self.extents[v.0 as usize];
            if Some(v) == self.pinned || !split_fits(n, f) || !applied.insert(v) {
                continue;
            }
            let (hi, lo) = (Var(self.extents.len() as u32), Var(self.extents.len() as u32 + 1));
            self.extents.extend([n / f, f]);
            let bounds = self.bounds();
            let mut s = Simplifier::new(&bounds);
            let sub = |w: Var| (w == v).then(|| IExpr::var(hi).scale(f).add(&IExpr::var(lo)));
            self.axis_ix = self.axis_ix.iter().map(|i| i.substitute(&sub, &mut s)).collect();
        }
        !applied.is_empty()
    }

    fn bounds(&self) -> Vec<(i64, i64)> {
        self.extents.iter().map(|&e| (0, e - 1)).collect()
    }
}

/// A loop kernel that a node may join.
pub struct Target<'a> {
    /// The iteration space.
    pub full: &'a Shape,
    /// Reduced axes.
    pub axes: &'a [usize],
    /// Members so far.
    pub members: &'a [NodeId],
    /// The GEMM product an epilogue reads, and its rows per epilogue row.
    pub same_slice: Option<(NodeId, i64)>,
}

/// Whether `n` fits the kernel `t`: `None` if not, else whether the
/// kernel with `n` still needs no refinement of its variables.
///
/// While a kernel needs no refinement (`split_free`; the common case),
/// placing its members never changes the loop variables, so the earlier
/// members' reads stay as they were checked and only `n` is followed. Once
/// some member asks for a split, the variables depend on every member (the
/// first split asked for each variable wins, for [`SPLIT_ROUNDS`] rounds),
/// so the members' reads are followed again with `n`'s, from the unrefined
/// variables, exactly as `lower` will refine them.
pub fn fits(g: &Graph, realized: &[bool], t: &Target, n: NodeId, split_free: bool) -> Option<bool> {
    let base = Space::new(t.full, t.same_slice.is_some());
    if split_free {
        let mut w = Walk::new(g, realized, &base, t, n);
        w.place(n);
        if w.splits.is_empty() {
            return (!w.misaligned && !w.nonaffine).then_some(true);
        }
    }
    let mut space = base;
    for round in 0.. {
        let mut w = Walk::new(g, realized, &space, t, n);
        for &m in t.members.iter().chain([&n]) {
            w.place(m);
        }
        if round + 1 < SPLIT_ROUNDS && space.refine(&w.splits) {
            continue;
        }
        return (!w.misaligned && !w.nonaffine).then_some(round == 0 && w.splits.is_empty());
    }
    unreachable!("the refinement loop returns")
}

/// Follows the reads of one candidate, as `build` will write them.
struct Walk<'a> {
    g: &'a Graph,
    realized: &'a [bool],
    /// Members and whether each is a reduction (read as an accumulator).
    members: HashMap<NodeId, bool>,
    full: &'a Shape,
    row: Shape,
    kept: Vec<bool>,
    axis_ix: Vec<IExpr>,
    row_ix: Vec<IExpr>,
    bounds: Vec<(i64, i64)>,
    tight: Vec<(i64, i64)>,
    home: (IExpr, IExpr),
    same_slice: Option<(NodeId, i64)>,
    splits: Vec<(Var, i64)>,
    misaligned: bool,
    nonaffine: bool,
}

impl<'a> Walk<'a> {
    fn new(g: &'a Graph, realized: &'a [bool], space: &Space, t: &Target<'a>, n: NodeId) -> Walk<'a> {
        let members =
            t.members.iter().chain([&n]).map(|&m| (m, matches!(g.node(m).op, Op::Reduce { .. }))).collect();
        let row = access::reduced(t.full, t.axes);
        let row_ix: Vec<IExpr> = space
            .axis_ix
            .iter()
            .enumerate()
            .map(|(k, i)| if t.axes.contains(&k) { IExpr::constant(0) } else { i.clone() })
            .collect();
        let home = (flat(&space.axis_ix, t.full), flat(&row_ix, &row));
        let bounds = space.bounds();
        Walk {
            g,
            realized,
            members,
            full: t.full,
            kept: (0..t.full.rank()).map(|k| !t.axes.contains(&k)).collect(),
            axis_ix: space.axis_ix.clone(),
            row_ix,
            row,
            tight: bounds.clone(),
            bounds,
            home,
            same_slice: t.same_slice,
            splits: Vec::new(),
            misaligned: false,
            nonaffine: false,
        }
    }

    /// Places member `n` as `lower` does and follows its reads.
    fn place(&mut self, n: NodeId) {
        let g = self.g;
        let node = g.node(n);
        match &node.op {
            Op::Reduce { .. } => {
                let ix = self.axis_ix.clone();
                self.value(g.operands(n)[0], &ix);
            }
            _ if node.shape.numel() == self.full.numel() => {
                let l = flat(&self.axis_ix, self.full);
                self.compute_flat(n, &l);
            }
            _ => {
                let l = flat(&self.row_ix, &self.row);
                self.compute_flat(n, &l);
            }
        }
    }

    fn affine(&mut self, ix: &IExpr) {
        if !ix.is_affine() {
            self.nonaffine = true;
        }
    }

    fn unravel(&mut self, l: &IExpr, dims: &Shape) -> Vec<IExpr> {
        unravel(&self.tight, l, dims, &mut self.splits)
    }

    fn value(&mut self, n: NodeId, ix: &[IExpr]) {
        match self.members.get(&n) {
            Some(true) => {
                for (k, i) in ix.iter().enumerate() {
                    if self.kept.get(k).copied().unwrap_or(false) && *i != self.axis_ix[k] {
                        self.misaligned = true;
                    }
                }
                return;
            }
            Some(false) => {
                let here = flat(ix, self.g.shape(n));
                if here != self.home.0
                    && here != self.home.1
                    && access::inline_cost(self.g, self.realized, n) > CHEAP
                {
                    self.misaligned = true;
                }
                return self.compute(n, ix);
            }
            None => {}
        }
        if self.realized[n.0 as usize] {
            return self.load(n, ix);
        }
        self.compute(n, ix)
    }

    fn value_flat(&mut self, n: NodeId, l: &IExpr) {
        let g = self.g;
        if !self.members.contains_key(&n) {
            let xs = g.operands(n);
            if self.realized[n.0 as usize] {
                if self.same_slice.is_some_and(|(m, _)| m == n) {
                    let ix = self.unravel(l, g.shape(n));
                    return self.load(n, &ix);
                }
                return self.affine(l);
            }
            match &g.node(n).op {
                Op::Reshape => return self.value_flat(xs[0], l),
                Op::Unary(_) | Op::Binary(_) | Op::Select => {
                    return xs.iter().for_each(|&x| self.value_flat(x, l));
                }
                _ => {}
            }
        }
        let ix = self.unravel(l, g.shape(n));
        self.value(n, &ix)
    }

    fn load(&mut self, n: NodeId, ix: &[IExpr]) {
        if let Some((_, r)) = self.same_slice.filter(|&(m, _)| m == n) {
            let ok = match (ix.first(), self.axis_ix.first()) {
                (Some(e), Some(a)) => {
                    let rest = e.add(&a.scale(-r));
                    let (lo, hi) = Simplifier::new(&self.tight).range(&rest);
                    lo >= 0 && hi < r && a.terms.len() <= 1
                }
                _ => false,
            };
            if !ok {
                self.misaligned = true;
            }
        }
        let index = flat(ix, self.g.shape(n));
        self.affine(&index);
    }

    fn compute_flat(&mut self, n: NodeId, l: &IExpr) {
        let xs = self.g.operands(n);
        match &self.g.node(n).op {
            Op::Reshape => self.value_flat(xs[0], l),
            Op::Unary(_) | Op::Binary(_) => xs.iter().for_each(|&x| self.value_flat(x, l)),
            _ => {
                let ix = self.unravel(l, self.g.shape(n));
                self.compute(n, &ix)
            }
        }
    }

    fn compute(&mut self, n: NodeId, ix: &[IExpr]) {
        let g = self.g;
        let xs = g.operands(n);
        match &g.node(n).op {
            Op::Const { .. } => {}
            Op::Iota { axis } => self.affine(&ix[*axis]),
            Op::Rand { .. } => self.affine(&flat(ix, g.shape(n))),
            Op::Reshape => self.value_flat(xs[0], &flat(ix, g.shape(n))),
            Op::Unary(_)
            | Op::Binary(_)
            | Op::Select
            | Op::Detach
            | Op::Cast
            | Op::Permute { .. }
            | Op::Expand
            | Op::Slice { .. } => {
                for &x in &xs {
                    if let Some(inner) = operand_index(g, n, x, ix) {
                        self.value(x, &inner);
                    }
                }
            }
            Op::Pad { pads } => {
                let (conds, inner) = pad_conds(g.shape(xs[0]), pads, ix);
                self.guarded(conds, |w| w.value(xs[0], &inner));
            }
            Op::Concat { axis } => {
                for (x, cond, inner) in concat_parts(g, n, *axis, ix) {
                    self.guarded(vec![cond], |w| w.value(x, &inner));
                }
            }
            Op::Input { .. }
            | Op::Param { .. }
            | Op::State { .. }
            | Op::Reduce { .. }
            | Op::MatMul
            | Op::Gather
            | Op::ScatterAdd => self.load(n, ix),
        }
    }

    /// Follows `inner` under `conds`, as `build` guards it: not at all when
    /// a condition never holds.
    fn guarded(&mut self, conds: Vec<Cond>, inner: impl FnOnce(&mut Walk<'a>)) {
        let Some(conds) = live_conds(&self.bounds, conds) else { return };
        if conds.is_empty() {
            return inner(self);
        }
        for c in &conds {
            self.affine(&c.index);
        }
        let saved = self.tight.clone();
        narrow(&mut self.tight, &conds);
        inner(self);
        self.tight = saved;
    }
}
