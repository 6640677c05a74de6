//! The loop planner: which variable is vectorised, the order of the outer
//! loops, and the segments index conditions cut each loop into.

use super::{MAX_SEGMENTS, W};
use crate::kernel::index::{IExpr, Var};
use crate::kernel::ir::{Cond, Expr, LoopKernel};

/// How a loop kernel is generated: the order of its outer loops (the
/// first is the one callers split into ranges) and the vectorised variable.
#[derive(Clone, Debug, PartialEq)]
pub struct LoopPlan {
    /// Outer variables, outermost first: the kernel's own order with the
    /// vectorised outer variable, if any, moved innermost.
    pub order: Vec<Var>,
    /// The variable computed four lanes at a time.
    pub vec_var: Option<Var>,
    /// Whether `vec_var` is an inner (reduced) variable.
    pub inner: bool,
}

/// Chooses the vectorised variable: the outer or inner variable whose
/// loads and stores are most often contiguous (gathers and scatters count
/// against). With `keep_first` (GEMM epilogues, which callers split along
/// their first variable), the first outer variable stays first.
pub fn plan(k: &LoopKernel, keep_first: bool) -> LoopPlan {
    let score = |v: Var, inner_only: bool| -> i64 {
        let mut s = 0;
        let mut count = |ix: &IExpr, store: bool| {
            let c = ix.coefficient(v);
            if ix.mentions_nonlinearly(v) {
                s -= 2;
            } else if c == 1 {
                s += 2;
            } else if c != 0 {
                s -= if store { 2 } else { 1 };
            }
        };
        for st in k.stages.iter().filter(|s| !inner_only || !s.vars.is_empty()) {
            for e in k.stage_exprs(st) {
                if let Expr::Load { index, .. } = k.expr(e) {
                    count(index, false);
                }
            }
            for store in &st.stores {
                count(&store.index, true);
            }
        }
        s
    };
    let segs = segments(k);
    let long = |v: Var| segs[v.0 as usize].iter().map(|(a, z)| z - a).max().unwrap_or(0) >= W;
    let first = usize::from(keep_first);
    let best_outer = k.outer[first.min(k.outer.len())..]
        .iter()
        .copied()
        .filter(|&v| long(v))
        .map(|v| (score(v, false), v))
        .max_by_key(|&(sc, v)| (sc, std::cmp::Reverse(v)));
    let inner = k.stages.iter().find_map(|s| s.vars.last().copied()).filter(|&v| long(v));
    // Outer loops from the largest total stride to the smallest, so the
    // innermost loop walks memory in the smallest steps (the first loop,
    // which callers split, stays first with `keep_first`).
    let stride = |v: Var| -> i64 {
        let mut t = 0;
        for e in &k.exprs {
            if let Expr::Load { index, .. } = e {
                t += index.coefficient(v).abs();
            }
        }
        t + k.stages.iter().flat_map(|s| &s.stores).map(|st| st.index.coefficient(v).abs()).sum::<i64>()
    };
    let mut order = k.outer.clone();
    let pinned = order.drain(..first.min(order.len())).collect::<Vec<_>>();
    order.sort_by_key(|&v| std::cmp::Reverse(stride(v)));
    order.splice(0..0, pinned);
    let choose_outer = |order: &mut Vec<Var>, v: Var| {
        order.retain(|&w| w != v);
        order.push(v);
        LoopPlan { order: order.clone(), vec_var: Some(v), inner: false }
    };
    match (best_outer, inner) {
        (Some((so, _)), Some(vi))
            if k.extents[vi.0 as usize] >= 2 * W && score(vi, true) > 0 && score(vi, true) >= so =>
        {
            LoopPlan { order, vec_var: Some(vi), inner: true }
        }
        (Some((so, vo)), _) if so > 0 => choose_outer(&mut order, vo),
        (_, Some(vi)) if score(vi, true) > 0 => LoopPlan { order, vec_var: Some(vi), inner: true },
        // Mostly gathers and scatters: scalar code does less work.
        _ => LoopPlan { order, vec_var: None, inner: false },
    }
}

/// Loop segments of each variable: constant bounds of index conditions on
/// that variable alone cut its range, as long as the total number of
/// segments stays below [`MAX_SEGMENTS`].
pub(super) fn segments(k: &LoopKernel) -> Vec<Vec<(i64, i64)>> {
    let n = k.extents.len();
    let mut cuts: Vec<Vec<i64>> = vec![Vec::new(); n];
    let mut add = |c: &Cond| {
        if let Some((v, from, to)) = c.var_range() {
            cuts[v.0 as usize].extend([from, to]);
        }
    };
    for e in &k.exprs {
        match e {
            Expr::Load { guard, .. } => guard.iter().for_each(&mut add),
            Expr::Cond(cs) => cs.iter().for_each(&mut add),
            Expr::Const(_)
            | Expr::Index(_)
            | Expr::Rand { .. }
            | Expr::Acc(_)
            | Expr::Unary(..)
            | Expr::Binary(..)
            | Expr::Select(..)
            | Expr::Trunc(_) => {}
        }
    }
    let mut order: Vec<Var> = k.outer.clone();
    for s in &k.stages {
        for v in &s.vars {
            if !order.contains(v) {
                order.push(*v);
            }
        }
    }
    let mut segs: Vec<Vec<(i64, i64)>> = k.extents.iter().map(|&e| vec![(0, e)]).collect();
    let mut total = 1;
    for v in order {
        let e = k.extents[v.0 as usize];
        let mut c: Vec<i64> = cuts[v.0 as usize].iter().copied().filter(|&x| x > 0 && x < e).collect();
        c.sort_unstable();
        c.dedup();
        if c.is_empty() || total * (c.len() + 1) > MAX_SEGMENTS {
            continue;
        }
        total *= c.len() + 1;
        let mut bounds = vec![0];
        bounds.extend(c);
        bounds.push(e);
        segs[v.0 as usize] = bounds.windows(2).map(|w| (w[0], w[1])).collect();
    }
    segs
}
