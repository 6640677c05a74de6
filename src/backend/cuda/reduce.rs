//! Loop kernels with few outer points and large reductions (a loss summed
//! over a batch, a norm over a whole tensor): a block of 256 threads per
//! outer point instead of a thread.
//!
//! In each stage with loops the block's threads take the stage's inner
//! points (row-major) `tid, tid + 256, ...`, each accumulating in order;
//! the partial results then combine in a fixed tree: `shfl.sync.bfly`
//! within each warp, lane 0 of each warp writes its result to shared
//! memory, `bar.sync`, and every thread folds the warps' results in warp
//! order, so all threads hold the same value (another `bar.sync` lets the
//! next reduction reuse the shared words). Stages without loops run on
//! every thread with only thread 0 storing, and a `bar.sync` ends each
//! stage so later stages may read what earlier ones stored. A block
//! moves on to point `ctaid + nctaid` when it is done, so any grid works.
//!
//! The result is deterministic, but the sum's order differs from the
//! interpreter's, so it matches to rounding rather than bit for bit.

use std::collections::HashMap;

use super::expr::Scope;
use super::loops::{Spread, combine, outer_vars, stage};
use super::module::Body;
use super::{EmitError, Entry};
use crate::graph::ReduceOp;
use crate::kernel::ir::{LoopKernel, Program, Stage};

/// Threads per block.
const THREADS: i64 = 256;
/// At most this many outer points.
const MAX_POINTS: i64 = 1024;
/// At least this many inner points in some reducing stage.
const MIN_INNER: i64 = 2048;

/// Whether `k` is worth a block per outer point: few points, a large
/// reduction, and stores that each inner point makes to its own element
/// (every stored index is affine in every loop variable of its stage).
pub(crate) fn wanted(k: &LoopKernel) -> bool {
    let points = k.outer_points();
    let large = k.stages.iter().any(|s| !s.reductions.is_empty() && k.stage_points(s) >= MIN_INNER);
    let distinct = k.stages.iter().all(|s| {
        s.stores.iter().all(|st| st.index.is_affine() && s.vars.iter().all(|v| st.index.coefficient(*v) != 0))
    });
    points <= MAX_POINTS && large && distinct
}

/// What a block-spread stage needs: the thread's index and the shared
/// words for the warps' partial results.
pub(crate) struct Block {
    tid: String,
    lane0: String,
    warp_slot: String,
    shared: String,
    /// Holds in thread 0 only.
    pub first: String,
}

impl Block {
    /// Opens `for (q = tid; q < points; q += 256)` over the stage's inner
    /// points and binds its variables; returns the counter, its step and
    /// the loop's labels.
    pub(crate) fn inner_loop(
        &self,
        b: &mut Body,
        k: &LoopKernel,
        s: &Stage,
        scope: &mut Scope,
    ) -> (String, i64, String, String) {
        let points = k.stage_points(s);
        let (q, p) = (b.rd(), b.p());
        let (head, exit) = (b.label("inner"), b.label("inner_done"));
        b.op(format!("mov.s64 {q}, {}", self.tid));
        b.place(&head);
        b.op(format!("setp.ge.s64 {p}, {q}, {points}"));
        b.op(format!("@{p} bra {exit}"));
        let mut rest = q.clone();
        for (i, v) in s.vars.iter().enumerate().rev() {
            let ext = k.extents[v.0 as usize];
            let r = b.rd();
            if i == 0 {
                b.op(format!("mov.s64 {r}, {rest}"));
            } else {
                let d = b.rd();
                b.op(format!("rem.s64 {r}, {rest}, {ext}"));
                b.op(format!("div.s64 {d}, {rest}, {ext}"));
                rest = d;
            }
            scope.vars[v.0 as usize] = Some(r);
        }
        (q, THREADS, head, exit)
    }

    /// Combines every thread's `a` into `a` on all threads, in a fixed order.
    pub(crate) fn all_reduce(&self, b: &mut Body, op: ReduceOp, a: &str) {
        for off in [16, 8, 4, 2, 1] {
            let t = b.f();
            b.op(format!("shfl.sync.bfly.b32 {t}, {a}, {off}, 31, -1"));
            combine(b, op, a, &t);
        }
        b.op(format!("@{} st.shared.f32 [{}], {a}", self.lane0, self.warp_slot));
        b.op("bar.sync 0");
        b.op(format!("ld.shared.f32 {a}, [{}]", self.shared));
        for w in 1..THREADS / 32 {
            let t = b.f();
            b.op(format!("ld.shared.f32 {t}, [{}+{}]", self.shared, 4 * w));
            combine(b, op, a, &t);
        }
        b.op("bar.sync 0");
    }
}

/// The block-per-point entry of `k`.
pub(crate) fn entry(
    program: &Program,
    k: &LoopKernel,
    kernel: usize,
    name: &str,
) -> Result<Entry, EmitError> {
    let points = k.outer_points();
    let mut b = Body::new(name);
    for buf in k.buffers() {
        b.buffer(buf, program.buffer(buf).numel());
    }
    for s in k.streams() {
        b.key(s);
    }
    let shared = b.shared_f32(&format!("{name}_partial"), (THREADS / 32) as u32);
    let (t32, c32) = (b.r(), b.r());
    b.op(format!("mov.u32 {t32}, %tid.x"));
    b.op(format!("mov.u32 {c32}, %ctaid.x"));
    let (tid, point) = (b.rd(), b.rd());
    b.op(format!("cvt.u64.u32 {tid}, {t32}"));
    b.op(format!("cvt.u64.u32 {point}, {c32}"));
    let (lane, warp) = (b.r(), b.r());
    b.op(format!("and.b32 {lane}, {t32}, 31"));
    b.op(format!("shr.u32 {warp}, {t32}, 5"));
    let (lane0, first) = (b.p(), b.p());
    b.op(format!("setp.eq.u32 {lane0}, {lane}, 0"));
    b.op(format!("setp.eq.u32 {first}, {t32}, 0"));
    let (base, warp_slot) = (b.r(), b.r());
    b.op(format!("mov.u32 {base}, {shared}"));
    b.op(format!("shl.b32 {warp_slot}, {warp}, 2"));
    b.op(format!("add.u32 {warp_slot}, {warp_slot}, {base}"));
    let block = Block { tid, lane0, warp_slot, shared: base, first };
    let mut scope = Scope { vars: vec![None; k.extents.len()], accs: HashMap::new() };
    // for (point = ctaid; point < points; point += nctaid), uniform per block.
    let (n32, stride) = (b.r(), b.rd());
    b.op(format!("mov.u32 {n32}, %nctaid.x"));
    b.op(format!("cvt.u64.u32 {stride}, {n32}"));
    let (top, end, p) = (b.label("point"), b.label("done"), b.p());
    b.place(&top);
    b.op(format!("setp.ge.s64 {p}, {point}, {points}"));
    b.op(format!("@{p} bra.uni {end}"));
    outer_vars(&mut b, k, &point, &mut scope);
    for s in &k.stages {
        stage(&mut b, k, s, &mut scope, &Spread::Block(&block))?;
    }
    b.op(format!("add.s64 {point}, {point}, {stride}"));
    b.op(format!("bra.uni {top}"));
    b.place(&end);
    Ok(b.finish(kernel, [points as u32, 1, 1], [THREADS as u32, 1, 1]))
}
