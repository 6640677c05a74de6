//! The kernel-IR verifier: the invariants code generators rely on.
//!
//! Checked:
//! - expressions refer only to earlier expressions, variables to declared
//!   loops, accumulators to reductions of earlier stages;
//! - every stage's expressions use only the outer variables and its own;
//! - every store, and every unguarded load, stays inside its buffer for all
//!   values of the variables;
//! - a loop kernel's store runs once per element of its buffer (its stage
//!   has as many points as the buffer has elements), so no element is left
//!   unwritten;
//! - only temporaries and in-place update targets are written, and every
//!   temporary is written by a kernel no later than any kernel reading it.

use super::index::range_with;
use super::ir::{BufId, BufKind, Expr, Kernel, LoopKernel, Program};

/// Checks the program; the error names the kernel and what is wrong.
pub fn verify(p: &Program) -> Result<(), String> {
    let n = p.buffers.len();
    let mut first_write = vec![usize::MAX; n];
    for (i, k) in p.kernels.iter().enumerate() {
        for (b, w) in k.accesses() {
            if w {
                first_write[b.0 as usize] = first_write[b.0 as usize].min(i);
            }
        }
    }
    let in_place: Vec<BufId> = p.updates.iter().filter(|(t, v)| t == v).map(|&(t, _)| t).collect();
    for (i, k) in p.kernels.iter().enumerate() {
        let err = |m: String| Err(format!("kernel {i}: {m}"));
        for (b, w) in k.accesses() {
            let buf = p.buffer(b);
            if buf.kind == BufKind::Temp {
                if first_write[b.0 as usize] > i {
                    return err(format!("{b} is read before any kernel writes it"));
                }
            } else if w && !in_place.contains(&b) {
                return err(format!("{b} is not a temporary but is written"));
            }
        }
        match k {
            Kernel::Loop(l) => {
                check_loop(p, l).or_else(&err)?;
                check_coverage(p, l).or_else(&err)?;
            }
            Kernel::Gemm(g) => {
                if g.c_blocks && (g.epilogue.is_none() || g.prologue.is_some() || !g.batch.is_empty()) {
                    return err(
                        "a result kept in blocks needs an unbatched product with an epilogue and no prologue"
                            .into(),
                    );
                }
                if let Some(e) = &g.epilogue {
                    check_loop(p, e).or_else(|m| err(format!("epilogue: {m}")))?;
                }
                if let Some(pro) = &g.prologue {
                    check_loop(p, &pro.kernel).or_else(|m| err(format!("prologue: {m}")))?;
                }
            }
            Kernel::Gather(_) | Kernel::ScatterAdd(_) => {}
        }
    }
    Ok(())
}

fn check_loop(p: &Program, k: &LoopKernel) -> Result<(), String> {
    if k.outer.is_empty() {
        return Err("no outer variable".into());
    }
    let bounds: Vec<(i64, i64)> = k.extents.iter().map(|&e| (0, e - 1)).collect();
    for (i, e) in k.exprs.iter().enumerate() {
        if e.operands().iter().any(|o| o.0 as usize >= i) {
            return Err(format!("e{i} reads a later expression"));
        }
        for ix in e.indices() {
            if ix.vars().iter().any(|v| v.0 as usize >= k.extents.len()) {
                return Err(format!("e{i} uses an undeclared variable"));
            }
        }
        if let Expr::Load { buf, index, guard } = e
            && guard.is_empty()
        {
            check_bounds(p, *buf, range_with(index, &bounds)).map_err(|m| format!("e{i}: {m}"))?;
        }
    }
    let mut defined = Vec::new();
    for (si, s) in k.stages.iter().enumerate() {
        for e in k.stage_exprs(s) {
            let ex = k.expr(e);
            if let Expr::Acc(a) = ex
                && !defined.contains(a)
            {
                return Err(format!("stage {si} reads {a} before its reduction ends"));
            }
            for ix in ex.indices() {
                if let Some(v) = ix.vars().into_iter().find(|v| !k.outer.contains(v) && !s.vars.contains(v)) {
                    return Err(format!("stage {si} uses {v} outside its loops"));
                }
            }
        }
        for st in &s.stores {
            check_bounds(p, st.buf, range_with(&st.index, &bounds))
                .map_err(|m| format!("stage {si}: {m}"))?;
        }
        defined.extend(s.reductions.iter().map(|r| r.acc));
    }
    Ok(())
}

/// Each store of a loop kernel runs at as many points as its buffer has
/// elements. Stores stay inside their buffers (checked above), so a store
/// at fewer points leaves elements unwritten, which a loop over too few
/// iterations would do silently.
fn check_coverage(p: &Program, k: &LoopKernel) -> Result<(), String> {
    for (si, s) in k.stages.iter().enumerate() {
        let points = k.outer_points() * k.stage_points(s);
        for st in &s.stores {
            let n = p.buffer(st.buf).numel() as i64;
            if points != n {
                return Err(format!(
                    "stage {si} stores {} at {points} points, but it has {n} elements",
                    st.buf
                ));
            }
        }
    }
    Ok(())
}

fn check_bounds(p: &Program, b: BufId, (lo, hi): (i64, i64)) -> Result<(), String> {
    let n = p.buffer(b).numel() as i64;
    if lo < 0 || hi >= n {
        return Err(format!("access to {b} spans {lo}..={hi}, outside 0..{n}"));
    }
    Ok(())
}
