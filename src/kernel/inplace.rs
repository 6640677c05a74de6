//! In-place updates: when the kernel that computes a parameter's (or
//! state's) new value is the last to read the old one, and reads it only
//! at the element it writes, the new value is stored straight into the
//! parameter's buffer instead of a temporary that is copied afterwards.
//!
//! Conditions, for update `target <- value` with `value` stored once, by
//! loop kernel `K`, in stage `s`:
//! - no kernel after `K` reads `target`, and `target` is neither an output
//!   nor another update's value (those are read after the run);
//! - in `K`, `target` is read only at the index `value` is stored at, and
//!   only by stages up to `s` (each point reads before it writes);
//! - no gather or scatter-add runs at or after `K` (they can fail on a bad
//!   index, and a failed step must leave the parameters untouched).
//!
//! `K` may be a GEMM whose epilogue stores `value`, when the product itself
//! does not read `target`: each slice's epilogue then reads and writes only
//! its own slice.

use super::ir::{BufId, BufKind, Expr, Kernel, LoopKernel, Program};

/// Turns every update that qualifies into an in-place one.
pub fn run(p: &mut Program) {
    for u in 0..p.updates.len() {
        let (target, value) = p.updates[u];
        if target == value || p.buffer(value).kind != BufKind::Temp {
            continue;
        }
        if qualifies(p, target, value) {
            rename(p, value, target);
        }
    }
}

fn qualifies(p: &Program, target: BufId, value: BufId) -> bool {
    if p.outputs.iter().any(|&(_, b)| b == target || b == value)
        || p.updates.iter().any(|&(t, v)| v == target && t != target)
    {
        return false;
    }
    let writers: Vec<usize> = (0..p.kernels.len())
        .filter(|&i| p.kernels[i].accesses().iter().any(|&(b, w)| b == value && w))
        .collect();
    let [k] = writers.as_slice() else { return false };
    let kernel = match &p.kernels[*k] {
        Kernel::Loop(l) => l,
        // An epilogue runs slice by slice after its product; the product
        // itself must not read the target.
        Kernel::Gemm(g) if g.a.buf != target && g.b.buf != target && g.c != value => match &g.epilogue {
            Some(e) => e,
            None => return false,
        },
        _ => return false,
    };
    let later = &p.kernels[k + 1..];
    if later.iter().any(|kn| kn.accesses().iter().any(|&(b, _)| b == target)) {
        return false;
    }
    if p.kernels[*k..].iter().any(|kn| matches!(kn, Kernel::Gather(_) | Kernel::ScatterAdd(_))) {
        return false;
    }
    reads_only_where_written(kernel, target, value)
}

fn reads_only_where_written(k: &LoopKernel, target: BufId, value: BufId) -> bool {
    let stores: Vec<(usize, &super::ir::Store)> = k
        .stages
        .iter()
        .enumerate()
        .flat_map(|(i, s)| s.stores.iter().map(move |st| (i, st)))
        .filter(|(_, st)| st.buf == value)
        .collect();
    let [(stage, store)] = stores.as_slice() else { return false };
    for (i, s) in k.stages.iter().enumerate() {
        for e in k.stage_exprs(s) {
            if let Expr::Load { buf, index, .. } = k.expr(e)
                && *buf == target
                && (i > *stage || *index != store.index)
            {
                return false;
            }
        }
    }
    true
}

fn rename(p: &mut Program, from: BufId, to: BufId) {
    let fix = |b: &mut BufId| {
        if *b == from {
            *b = to;
        }
    };
    fn fix_loop(k: &mut LoopKernel, fix: &dyn Fn(&mut BufId)) {
        for e in &mut k.exprs {
            if let Expr::Load { buf, .. } = e {
                fix(buf);
            }
        }
        for s in &mut k.stages {
            for st in &mut s.stores {
                fix(&mut st.buf);
            }
        }
    }
    for kn in &mut p.kernels {
        match kn {
            Kernel::Loop(k) => fix_loop(k, &fix),
            Kernel::Gemm(g) => {
                fix(&mut g.a.buf);
                fix(&mut g.b.buf);
                fix(&mut g.c);
                if let Some(e) = &mut g.epilogue {
                    fix_loop(e, &fix);
                }
            }
            Kernel::Gather(g) => {
                fix(&mut g.table);
                fix(&mut g.idx);
                fix(&mut g.out);
            }
            Kernel::ScatterAdd(s) => {
                fix(&mut s.src);
                fix(&mut s.idx);
                fix(&mut s.out);
            }
        }
    }
    for (_, b) in &mut p.outputs {
        fix(b);
    }
    for (_, v) in &mut p.updates {
        fix(v);
    }
}
