//! Loop kernels as PTX entries.
//!
//! The outer index space (row-major over the outer variables) is spread
//! over a 1-D grid, one point per thread, with a grid-stride loop when the
//! points outnumber the grid. Each thread runs every stage of its point in
//! order: the inner loops in the IR's order (outermost first), the
//! accumulators in registers, stores as they come. So every output element
//! is computed by one thread with the interpreter's order of operations,
//! and no two threads touch the same word (outer points are independent).

use std::collections::HashMap;

use super::expr::{self, Scope};
use super::module::{Body, f32_imm, global_thread};
use super::{EmitError, Entry, grid_for};
use crate::graph::ReduceOp;
use crate::kernel::ir::{LoopKernel, Program, Stage};

/// Threads per block of a loop kernel.
const THREADS: i64 = 256;

/// The entry of a loop kernel (none when it has no points).
pub(crate) fn entries(
    program: &Program,
    k: &LoopKernel,
    kernel: usize,
    name: &str,
) -> Result<Vec<Entry>, EmitError> {
    let points = k.outer_points();
    if points <= 0 {
        return Ok(vec![]);
    }
    if super::reduce::wanted(k) {
        return Ok(vec![super::reduce::entry(program, k, kernel, name)?]);
    }
    let mut b = Body::new(name);
    for buf in k.buffers() {
        b.buffer(buf, program.buffer(buf).numel());
    }
    for s in k.streams() {
        b.key(s);
    }
    let (gid, stride) = global_thread(&mut b);
    let (top, end) = (b.label("point"), b.label("done"));
    b.place(&top);
    let p = b.p();
    b.op(format!("setp.ge.s64 {p}, {gid}, {points}"));
    b.op(format!("@{p} bra {end}"));
    let mut scope = Scope { vars: vec![None; k.extents.len()], accs: HashMap::new() };
    outer_vars(&mut b, k, &gid, &mut scope);
    for s in &k.stages {
        stage(&mut b, k, s, &mut scope, &Spread::Thread)?;
    }
    b.op(format!("add.s64 {gid}, {gid}, {stride}"));
    b.op(format!("bra.uni {top}"));
    b.place(&end);
    let threads = THREADS.min((points + 31) / 32 * 32) as u32;
    Ok(vec![b.finish(kernel, grid_for(points, threads), [threads, 1, 1])])
}

/// Splits the linear point index into the outer variables (the last
/// varies fastest).
pub(crate) fn outer_vars(b: &mut Body, k: &LoopKernel, point: &str, scope: &mut Scope) {
    let mut rest = point.to_string();
    for (i, v) in k.outer.iter().enumerate().rev() {
        let ext = k.extents[v.0 as usize];
        let r = b.rd();
        if i == 0 {
            b.op(format!("mov.s64 {r}, {rest}"));
        } else {
            let q = b.rd();
            b.op(format!("rem.s64 {r}, {rest}, {ext}"));
            b.op(format!("div.s64 {q}, {rest}, {ext}"));
            rest = q;
        }
        scope.vars[v.0 as usize] = Some(r);
    }
}

/// How a stage's inner points are spread: all by this thread, or over
/// the threads of a block ([`super::reduce`]).
pub(crate) enum Spread<'a> {
    /// One thread runs every inner point in order.
    Thread,
    /// The block's threads take inner points `tid, tid + threads, ...`;
    /// only thread 0 stores in a stage without loops.
    Block(&'a super::reduce::Block),
}

/// `acc = op(acc, v)`, as the interpreter accumulates.
pub(crate) fn combine(b: &mut Body, op: ReduceOp, a: &str, v: &str) {
    match op {
        ReduceOp::Sum => b.op(format!("add.rn.f32 {a}, {a}, {v}")),
        ReduceOp::Max => {
            // acc = v > acc || v is NaN ? v : acc.
            let p = b.p();
            b.op(format!("setp.gt.f32 {p}, {v}, {a}"));
            b.op(format!("setp.nan.or.f32 {p}, {v}, {v}, {p}"));
            b.op(format!("@{p} mov.b32 {a}, {v}"));
        }
    }
}

/// One stage: its accumulators, loop nest, reductions and stores.
pub(crate) fn stage(
    b: &mut Body,
    k: &LoopKernel,
    s: &Stage,
    scope: &mut Scope,
    spread: &Spread,
) -> Result<(), EmitError> {
    let mut accs = Vec::new();
    for r in &s.reductions {
        let a = b.f();
        let init = match r.op {
            ReduceOp::Sum => 0.0,
            ReduceOp::Max => f32::NEG_INFINITY,
        };
        b.op(format!("mov.b32 {a}, {}", f32_imm(init)));
        accs.push(a);
    }
    let mut loops = Vec::new();
    let mut store_guard = None;
    match spread {
        Spread::Block(block) if !s.vars.is_empty() => {
            loops.push(block.inner_loop(b, k, s, scope));
        }
        Spread::Block(block) => store_guard = Some(block.first.clone()),
        Spread::Thread => {
            for v in &s.vars {
                let ext = k.extents[v.0 as usize];
                let (r, p) = (b.rd(), b.p());
                let (head, exit) = (b.label("loop"), b.label("end"));
                b.op(format!("mov.s64 {r}, 0"));
                b.place(&head);
                b.op(format!("setp.ge.s64 {p}, {r}, {ext}"));
                b.op(format!("@{p} bra {exit}"));
                scope.vars[v.0 as usize] = Some(r.clone());
                loops.push((r, 1, head, exit));
            }
        }
    }
    let vals = expr::exprs(b, k, &k.stage_exprs(s), scope)?;
    let val = |id| vals.get(&id).cloned().ok_or_else(|| EmitError(format!("expression {id} not emitted")));
    for (r, a) in s.reductions.iter().zip(&accs) {
        combine(b, r.op, a, &val(r.value)?);
    }
    for st in &s.stores {
        let v = val(st.value)?;
        let base =
            b.buffer_reg(st.buf).cloned().ok_or_else(|| EmitError(format!("buffer {} not bound", st.buf)))?;
        let i = expr::iexpr(b, &st.index, scope)?;
        let addr = b.address(&base, &i);
        match &store_guard {
            None => b.op(format!("st.global.f32 [{addr}], {v}")),
            Some(p) => b.op(format!("@{p} st.global.f32 [{addr}], {v}")),
        }
    }
    for (r, step, head, exit) in loops.into_iter().rev() {
        b.op(format!("add.s64 {r}, {r}, {step}"));
        b.op(format!("bra.uni {head}"));
        b.place(&exit);
    }
    for v in &s.vars {
        scope.vars[v.0 as usize] = None;
    }
    if let Spread::Block(block) = spread {
        for (r, a) in s.reductions.iter().zip(&accs) {
            block.all_reduce(b, r.op, a);
        }
        // Later stages may read what this one stored, from other threads.
        b.op("bar.sync 0");
    }
    for (r, a) in s.reductions.iter().zip(accs) {
        scope.accs.insert(r.acc, a);
    }
    Ok(())
}
