//! Clean-ups of a loop kernel after fusion: drop what is never used,
//! number variables and accumulators densely, and merge adjacent loops
//! that every index walks as one (`[64, 128]` contiguous becomes `[8192]`).

use std::collections::HashMap;

use super::index::{Atom, IExpr, Var};
use super::ir::{AccId, Cond, Expr, ExprId, LoopKernel};

/// Removes unused stages, reductions and expressions; renumbers
/// variables (outer first, then inner, in loop order), accumulators and
/// expressions densely.
pub fn run(k: &mut LoopKernel) {
    prune(k);
    renumber_vars(k);
}

fn prune(k: &mut LoopKernel) {
    // Accumulators needed by the stores, transitively through reductions.
    let mut needed_accs: Vec<bool> = Vec::new();
    let mut roots: Vec<ExprId> = k.stages.iter().flat_map(|s| s.stores.iter().map(|st| st.value)).collect();
    loop {
        let mut changed = false;
        for e in k.closure(roots.iter().copied()) {
            if let Expr::Acc(a) = k.expr(e) {
                let i = a.0 as usize;
                if needed_accs.len() <= i {
                    needed_accs.resize(i + 1, false);
                }
                if !needed_accs[i] {
                    needed_accs[i] = true;
                    changed = true;
                    let r = k.stages.iter().flat_map(|s| &s.reductions).find(|r| r.acc == *a);
                    roots.extend(r.map(|r| r.value));
                }
            }
        }
        if !changed {
            break;
        }
    }
    for s in &mut k.stages {
        s.reductions.retain(|r| needed_accs.get(r.acc.0 as usize).copied().unwrap_or(false));
    }
    k.stages.retain(|s| !s.reductions.is_empty() || !s.stores.is_empty());
    // Accumulators in order of definition.
    let mut acc_map: HashMap<AccId, AccId> = HashMap::new();
    for r in k.stages.iter_mut().flat_map(|s| s.reductions.iter_mut()) {
        let new = AccId(acc_map.len() as u32);
        acc_map.insert(r.acc, new);
        r.acc = new;
    }
    // Live expressions, renumbered in pool order (operands stay first).
    let roots = k
        .stages
        .iter()
        .flat_map(|s| s.reductions.iter().map(|r| r.value).chain(s.stores.iter().map(|st| st.value)));
    let live = k.closure(roots);
    let mut map = vec![ExprId(u32::MAX); k.exprs.len()];
    let mut exprs = Vec::with_capacity(live.len());
    for e in live {
        map[e.0 as usize] = ExprId(exprs.len() as u32);
        let m = |x: ExprId| map[x.0 as usize];
        exprs.push(match k.expr(e).clone() {
            Expr::Acc(a) => Expr::Acc(acc_map[&a]),
            Expr::Unary(u, a) => Expr::Unary(u, m(a)),
            Expr::Binary(b, x, y) => Expr::Binary(b, m(x), m(y)),
            Expr::Select(c, a, b) => Expr::Select(m(c), m(a), m(b)),
            Expr::Trunc(a) => Expr::Trunc(m(a)),
            other => other,
        });
    }
    k.exprs = exprs;
    for s in &mut k.stages {
        for r in &mut s.reductions {
            r.value = map[r.value.0 as usize];
        }
        for st in &mut s.stores {
            st.value = map[st.value.0 as usize];
        }
    }
}

/// Applies `f` to every index expression of the kernel.
pub fn map_indices(k: &mut LoopKernel, f: &mut dyn FnMut(&IExpr) -> IExpr) {
    let conds = |cs: &mut Vec<Cond>, f: &mut dyn FnMut(&IExpr) -> IExpr| {
        for c in cs.iter_mut() {
            c.index = f(&c.index);
        }
    };
    for e in &mut k.exprs {
        match e {
            Expr::Load { index, guard, .. } => {
                *index = f(index);
                conds(guard, f);
            }
            Expr::Index(i) | Expr::Rand { index: i, .. } => *i = f(i),
            Expr::Cond(cs) => conds(cs, f),
            Expr::Const(_)
            | Expr::Acc(_)
            | Expr::Unary(..)
            | Expr::Binary(..)
            | Expr::Select(..)
            | Expr::Trunc(_) => {}
        }
    }
    for s in &mut k.stages {
        for st in &mut s.stores {
            st.index = f(&st.index);
        }
    }
}

/// Every index expression of the kernel.
pub fn indices(k: &LoopKernel) -> Vec<&IExpr> {
    k.exprs
        .iter()
        .flat_map(|e| e.indices())
        .chain(k.stages.iter().flat_map(|s| s.stores.iter().map(|st| &st.index)))
        .collect()
}

/// `e` with every variable renamed by `f`.
pub fn rename(e: &IExpr, f: &dyn Fn(Var) -> Var) -> IExpr {
    let mut res = IExpr::constant(e.constant);
    for (a, c) in &e.terms {
        let atom = match a {
            Atom::Var(v) => Atom::Var(f(*v)),
            Atom::Div(x, d) => Atom::Div(Box::new(rename(x, f)), *d),
            Atom::Mod(x, d) => Atom::Mod(Box::new(rename(x, f)), *d),
        };
        res = res.add(&IExpr { terms: vec![(atom, *c)], constant: 0 });
    }
    res
}

fn renumber_vars(k: &mut LoopKernel) {
    let mut order: Vec<Var> = k.outer.clone();
    for s in &k.stages {
        for v in &s.vars {
            if !order.contains(v) {
                order.push(*v);
            }
        }
    }
    let mut map: HashMap<Var, Var> = HashMap::new();
    let mut extents = Vec::with_capacity(order.len());
    for (i, v) in order.iter().enumerate() {
        map.insert(*v, Var(i as u32));
        extents.push(k.extents[v.0 as usize]);
    }
    let f = |v: Var| map.get(&v).copied().unwrap_or_else(|| panic!("internal error: {v} has no loop"));
    map_indices(k, &mut |e| rename(e, &f));
    k.outer = k.outer.iter().map(|&v| f(v)).collect();
    for s in &mut k.stages {
        s.vars = s.vars.iter().map(|&v| f(v)).collect();
    }
    k.extents = extents;
}

/// True when every index (at any depth) has `c(u) = c(w) · extent(w)`, so
/// `u` and `w` can be walked as one variable `w' = u · extent(w) + w`.
fn mergeable(k: &LoopKernel, u: Var, w: Var) -> bool {
    fn check(e: &IExpr, u: Var, w: Var, nw: i64) -> bool {
        e.coefficient(u) == e.coefficient(w) * nw
            && e.terms.iter().all(|(a, _)| match a {
                Atom::Var(_) => true,
                Atom::Div(x, _) | Atom::Mod(x, _) => check(x, u, w, nw),
            })
    }
    let nw = k.extents[w.0 as usize];
    indices(k).into_iter().all(|e| check(e, u, w, nw))
}

/// Merges adjacent variables that every index walks as one; with
/// `keep_first`, the first outer variable is left alone.
pub fn collapse(k: &mut LoopKernel) -> bool {
    collapse_with(k, false)
}

/// [`collapse`], optionally leaving the first outer variable alone.
pub fn collapse_with(k: &mut LoopKernel, keep_first: bool) -> bool {
    let mut any = false;
    // A variable of extent 1 is always 0: drop it from its indices.
    let mut ones: Vec<Var> = Vec::new();
    for (i, &v) in k.outer.iter().enumerate() {
        if k.extents[v.0 as usize] == 1 && k.outer.len() > 1 && !(i == 0 && keep_first) {
            ones.push(v);
        }
    }
    for s in &k.stages {
        ones.extend(s.vars.iter().filter(|v| k.extents[v.0 as usize] == 1));
    }
    ones.sort_unstable();
    ones.dedup();
    for &u in &ones {
        any = true;
        map_indices(k, &mut |e| drop_var(e, u));
        k.outer.retain(|&v| v != u);
        for s in &mut k.stages {
            s.vars.retain(|&v| v != u);
        }
    }
    loop {
        let mut lists: Vec<Vec<Var>> = vec![k.outer.clone()];
        for s in &k.stages {
            if !s.vars.is_empty() && !lists.contains(&s.vars) {
                lists.push(s.vars.clone());
            }
        }
        let mut found = None;
        'search: for (li, list) in lists.iter().enumerate() {
            let start = if li == 0 && keep_first { 1 } else { 0 };
            for i in (start..list.len().saturating_sub(1)).rev() {
                if mergeable(k, list[i], list[i + 1]) {
                    found = Some((list[i], list[i + 1]));
                    break 'search;
                }
            }
        }
        let Some((u, w)) = found else { break };
        any = true;
        k.extents[w.0 as usize] *= k.extents[u.0 as usize];
        map_indices(k, &mut |e| drop_var(e, u));
        k.outer.retain(|&v| v != u);
        for s in &mut k.stages {
            s.vars.retain(|&v| v != u);
        }
    }
    if any {
        renumber_vars(k);
    }
    any
}

fn drop_var(e: &IExpr, u: Var) -> IExpr {
    let mut res = IExpr::constant(e.constant);
    for (a, c) in &e.terms {
        let atom = match a {
            Atom::Var(v) if *v == u => continue,
            Atom::Var(v) => Atom::Var(*v),
            Atom::Div(x, d) => Atom::Div(Box::new(drop_var(x, u)), *d),
            Atom::Mod(x, d) => Atom::Mod(Box::new(drop_var(x, u)), *d),
        };
        res = res.add(&IExpr { terms: vec![(atom, *c)], constant: 0 });
    }
    res
}
