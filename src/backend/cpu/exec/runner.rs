//! The runner: the compiled steps of a program, and running them in order
//! with their buffer and key tables, loop kernels split across the team.

use std::collections::HashMap;
use std::sync::Arc;

use super::super::jit::{Abi, KernelFn};
use super::super::team::Team;
use crate::backend::EvalError;
use crate::graph::NodeId;
use crate::kernel::ir::{BufId, LoopKernel, Program};

/// Work (points times expressions) below which a loop kernel runs on the
/// calling thread: splitting costs about a microsecond, and moves data
/// between cores.
const PARALLEL_WORK: f64 = 60_000.0;
/// Ranges per thread a split loop kernel is cut into: a thread slowed by
/// another process or a page fault then leaves parts to the others (the
/// team's threads take any part left), and the results do not depend on the
/// cut. Products are cut once per thread.
const CHUNKS_PER_THREAD: i64 = 4;

/// A compiled loop kernel and how to call it.
pub(super) struct LoopCall {
    pub(super) f: KernelFn,
    pub(super) abi: Abi,
    /// Iterations of the first outer variable (the range callers split).
    pub(super) extent: i64,
    /// Estimated work, to decide whether to split.
    pub(super) work: f64,
    /// Split points are multiples of this (the vector width when the first
    /// outer variable is vectorised).
    pub(super) align: i64,
}

pub(super) enum Step {
    Loop(LoopCall),
    /// A product, its epilogue and its prologue.
    Gemm(Box<crate::kernel::ir::GemmKernel>, Option<LoopCall>, Option<LoopCall>),
    Gather(crate::kernel::ir::GatherKernel),
    ScatterAdd(crate::kernel::ir::ScatterAddKernel),
}

/// Raw pointers handed to worker threads.
#[derive(Clone, Copy)]
pub(super) struct Tables {
    pub(super) bufs: *const *mut f32,
    pub(super) keys: *const u64,
}

// SAFETY: the tables live on the calling thread's stack until every part of
// the kernel has finished (`Team::run` returns only then).
unsafe impl Send for Tables {}
unsafe impl Sync for Tables {}

/// A buffer address for this run.
#[derive(Clone, Copy)]
pub(super) struct Ptr(pub(super) *mut f32);

// SAFETY: buffers outlive the run, and kernels running at the same time
// write disjoint elements.
unsafe impl Send for Ptr {}
unsafe impl Sync for Ptr {}

/// The part of an executable worker threads see.
pub(super) struct Runner {
    pub(super) program: Arc<Program>,
    /// Products go to [`sgemm`] (else to `matrixmultiply`).
    pub(super) fast_gemm: bool,
    pub(super) steps: Vec<Step>,
    pub(super) zero: Ptr,
    /// One block of scratch per thread, for prologues.
    pub(super) scratch: Vec<Ptr>,
    /// Scratch for a product's packed right operand.
    pub(super) packed: Ptr,
    pub(super) threads: usize,
    pub(super) parallel: bool,
    pub(super) team: Option<Arc<Team>>,
}

impl Runner {
    /// Runs `f(0..parts)` across the team.
    pub(super) fn fork(&self, parts: usize, f: &(dyn Fn(usize) + Sync)) {
        match &self.team {
            Some(team) => team.run(parts, f),
            None => (0..parts).for_each(f),
        }
    }

    pub(super) fn execute(
        &self,
        ptrs: &[Ptr],
        keys: &HashMap<u32, u64>,
        mut timings: Option<&mut Vec<f64>>,
    ) -> Result<(), EvalError> {
        let zero = self.zero;
        for (i, step) in self.steps.iter().enumerate() {
            let t0 = timings.as_ref().map(|_| std::time::Instant::now());
            match step {
                Step::Loop(c) => self.run_loop(c, ptrs, keys, zero, 0, c.extent, true, None),
                Step::Gemm(g, epi, None) => self.run_gemm(g, epi.as_ref(), ptrs, keys, zero),
                Step::Gemm(g, epi, Some(pro)) => {
                    self.run_gemm_prologue(g, epi.as_ref(), pro, ptrs, keys, zero)
                }
                Step::Gather(gk) => {
                    let (table, idx, out) =
                        (ptrs[gk.table.0 as usize].0, ptrs[gk.idx.0 as usize].0, ptrs[gk.out.0 as usize].0);
                    let n = self.program.buffer(gk.idx).numel();
                    for i in 0..n {
                        // SAFETY: buffers have the sizes the program gives them.
                        let v = unsafe { *idx.add(i) };
                        let r = check_index(gk.node, v, gk.rows)?;
                        unsafe {
                            std::ptr::copy_nonoverlapping(table.add(r * gk.row), out.add(i * gk.row), gk.row)
                        };
                    }
                }
                Step::ScatterAdd(sk) => {
                    let (src, idx, out) =
                        (ptrs[sk.src.0 as usize].0, ptrs[sk.idx.0 as usize].0, ptrs[sk.out.0 as usize].0);
                    let n = self.program.buffer(sk.idx).numel();
                    // SAFETY: buffers have the sizes the program gives them.
                    unsafe { std::ptr::write_bytes(out, 0, sk.rows * sk.row) };
                    for i in 0..n {
                        let v = unsafe { *idx.add(i) };
                        let r = check_index(sk.node, v, sk.rows)?;
                        for c in 0..sk.row {
                            unsafe { *out.add(r * sk.row + c) += *src.add(i * sk.row + c) };
                        }
                    }
                }
            }
            if let (Some(t), Some(t0)) = (timings.as_deref_mut(), t0) {
                t[i] += t0.elapsed().as_secs_f64();
            }
        }
        Ok(())
    }

    pub(super) fn tables(
        c: &LoopCall,
        ptrs: &[Ptr],
        keys: &HashMap<u32, u64>,
        zero: Ptr,
        over: Option<(BufId, Ptr)>,
    ) -> (Vec<*mut f32>, Vec<u64>) {
        let mut bufs: Vec<*mut f32> = c
            .abi
            .bufs
            .iter()
            .zip(&c.abi.offsets)
            .map(|(&b, &off)| {
                let base = match over {
                    Some((o, p)) if o == b => p.0,
                    _ => ptrs[b.0 as usize].0,
                };
                // The compiled code indexes from the smallest offset it uses.
                base.wrapping_offset(off as isize)
            })
            .collect();
        bufs.push(zero.0);
        let ks = c.abi.streams.iter().map(|s| keys[s]).collect();
        (bufs, ks)
    }

    /// Runs `begin..end` of a loop kernel's first variable, split across
    /// threads when it is worth it.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn run_loop(
        &self,
        c: &LoopCall,
        ptrs: &[Ptr],
        keys: &HashMap<u32, u64>,
        zero: Ptr,
        begin: i64,
        end: i64,
        may_split: bool,
        over: Option<(BufId, Ptr)>,
    ) {
        let (bufs, ks) = Self::tables(c, ptrs, keys, zero, over);
        let t = Tables { bufs: bufs.as_ptr(), keys: ks.as_ptr() };
        let n = end - begin;
        let parts = if may_split && self.parallel && c.work * (n as f64 / c.extent as f64) > PARALLEL_WORK {
            (CHUNKS_PER_THREAD * self.threads as i64).min(n)
        } else {
            1
        };
        let f = c.f;
        // SAFETY: the tables match the kernel's ABI and every pointer
        // addresses a live buffer of the size the kernel assumes.
        let call = move |t: Tables, a: i64, b: i64| unsafe { f(t.bufs, t.keys, a, b) };
        if parts <= 1 {
            call(t, begin, end);
            return;
        }
        let bounds = split(begin, end, parts, c.align);
        self.fork(bounds.len() - 1, &|i| call(t, bounds[i], bounds[i + 1]));
    }
}

/// `parts + 1` increasing bounds from `begin` to `end`; inner bounds are
/// multiples of `align` when the range allows.
pub(super) fn split(begin: i64, end: i64, parts: i64, align: i64) -> Vec<i64> {
    let n = end - begin;
    let mut bounds = vec![begin];
    for i in 1..parts {
        let mut x = begin + n * i / parts;
        if n >= parts * align * 4 {
            x -= (x - begin) % align;
        }
        bounds.push(x.max(*bounds.last().expect("non-empty")));
    }
    bounds.push(end);
    bounds
}

/// Points times expressions of a loop kernel.
pub(super) fn work(k: &LoopKernel) -> f64 {
    let points = k.outer_points() as f64;
    let inner: f64 = k.stages.iter().map(|s| k.stage_points(s) as f64).sum::<f64>().max(1.0);
    points * inner * (k.exprs.len() as f64 / 4.0 + 1.0)
}

fn check_index(node: NodeId, v: f32, bound: usize) -> Result<usize, EvalError> {
    if v >= 0.0 && v.fract() == 0.0 && (v as usize) < bound {
        Ok(v as usize)
    } else {
        Err(EvalError::IndexOutOfRange { node, index: v, bound })
    }
}
