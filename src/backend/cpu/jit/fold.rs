//! Folding under the current variable ranges: index conditions decided
//! by the ranges of the loop segment being generated, selects on them
//! resolved to the chosen operand, and the loop depth where each
//! remaining expression can first be computed.

use super::emit::Emitter;
use crate::kernel::index::{IExpr, range_with};
use crate::kernel::ir::{Cond, Expr, ExprId, Stage};

impl Emitter<'_> {
    pub(super) fn cond_truth(&self, cs: &[Cond]) -> Option<bool> {
        let mut all = true;
        for c in cs {
            let (lo, hi) = range_with(&c.index, &self.ranges);
            if hi < c.lo || lo >= c.hi {
                return Some(false);
            }
            if !(lo >= c.lo && hi < c.hi) {
                all = false;
            }
        }
        all.then_some(true)
    }

    pub(super) fn live_conds(&self, cs: &[Cond]) -> Option<Vec<Cond>> {
        if self.cond_truth(cs) == Some(false) {
            return None;
        }
        Some(
            cs.iter()
                .filter(|c| {
                    let (lo, hi) = range_with(&c.index, &self.ranges);
                    !(lo >= c.lo && hi < c.hi)
                })
                .cloned()
                .collect(),
        )
    }

    pub(super) fn truth(&self, c: ExprId) -> Option<bool> {
        match self.k.expr(self.resolve(c)) {
            Expr::Const(bits) => Some(f32::from_bits(*bits) != 0.0),
            Expr::Cond(cs) => self.cond_truth(cs),
            Expr::Load { .. }
            | Expr::Index(_)
            | Expr::Rand { .. }
            | Expr::Acc(_)
            | Expr::Unary(..)
            | Expr::Binary(..)
            | Expr::Select(..)
            | Expr::Trunc(_) => None,
        }
    }

    /// `e` with selects on decided conditions replaced by the chosen operand.
    pub(super) fn resolve(&self, mut e: ExprId) -> ExprId {
        while let Expr::Select(c, a, b) = self.k.expr(e) {
            match self.truth(*c) {
                Some(true) => e = *a,
                Some(false) => e = *b,
                None => break,
            }
        }
        e
    }

    /// Operands that still matter after folding.
    pub(super) fn live_operands(&self, e: ExprId) -> Vec<ExprId> {
        match self.k.expr(e) {
            Expr::Load { .. } | Expr::Cond(_) => vec![],
            ex @ (Expr::Const(_)
            | Expr::Index(_)
            | Expr::Rand { .. }
            | Expr::Acc(_)
            | Expr::Unary(..)
            | Expr::Binary(..)
            | Expr::Select(..)
            | Expr::Trunc(_)) => ex.operands().into_iter().map(|o| self.resolve(o)).collect(),
        }
    }

    pub(super) fn index_depth(&self, ix: &IExpr) -> usize {
        ix.vars().iter().map(|v| self.var_depth[v.0 as usize]).max().unwrap_or(0)
    }

    pub(super) fn conds_depth(&self, cs: &[Cond]) -> usize {
        cs.iter().map(|c| self.index_depth(&c.index)).max().unwrap_or(0)
    }

    /// The loop depth where a resolved expression can first be computed.
    pub(super) fn depth(&mut self, e: ExprId) -> usize {
        if let Some(d) = self.depth_memo[e.0 as usize] {
            return d;
        }
        let d = match self.k.expr(e) {
            Expr::Const(_) => 0,
            Expr::Load { index, guard, .. } => match self.live_conds(guard) {
                None => 0,
                Some(live) => self.index_depth(index).max(self.conds_depth(&live)),
            },
            Expr::Index(ix) | Expr::Rand { index: ix, .. } => self.index_depth(ix),
            Expr::Acc(_) => self.k.outer.len(),
            Expr::Cond(cs) => match self.live_conds(cs) {
                None => 0,
                Some(live) => self.conds_depth(&live),
            },
            Expr::Unary(..) | Expr::Binary(..) | Expr::Select(..) | Expr::Trunc(_) => {
                let ops = self.live_operands(e);
                ops.into_iter().map(|o| self.depth(o)).max().unwrap_or(0)
            }
        };
        self.depth_memo[e.0 as usize] = Some(d);
        d
    }

    pub(super) fn context_changed(&mut self) {
        self.depth_memo.iter_mut().for_each(|d| *d = None);
    }

    /// The resolved expressions `roots` need, ascending.
    pub(super) fn needed(&self, roots: impl IntoIterator<Item = ExprId>) -> Vec<ExprId> {
        let mut seen = vec![false; self.k.exprs.len()];
        let mut stack: Vec<ExprId> = roots.into_iter().map(|r| self.resolve(r)).collect();
        while let Some(e) = stack.pop() {
            if std::mem::replace(&mut seen[e.0 as usize], true) {
                continue;
            }
            stack.extend(self.live_operands(e));
        }
        (0..seen.len() as u32).map(ExprId).filter(|e| seen[e.0 as usize]).collect()
    }

    pub(super) fn stage_roots(s: &Stage) -> Vec<ExprId> {
        s.reductions.iter().map(|r| r.value).chain(s.stores.iter().map(|st| st.value)).collect()
    }

    pub(super) fn all_roots(&self) -> Vec<ExprId> {
        self.k.stages.iter().flat_map(Self::stage_roots).collect()
    }
}
