//! Running a compiled graph: binding buffers, calling kernels, splitting
//! them across threads, and applying outputs and updates to the
//! environment exactly as the interpreter's `step` does.

use std::collections::HashMap;
use std::sync::Arc;

use cranelift_jit::JITModule;

use super::gemm::{self, GemmPtrs};
use super::jit::{self, Abi, Jit, KernelFn};
use super::sgemm;
use super::team::Team;
use super::{CpuOptions, Gemm};
use crate::backend::Tensor;
use crate::backend::{Env, EvalError, FeedKind};
use crate::backend::{ExecStats, Executable};
use crate::compile::Compiled;
use crate::diag::{Code, Diagnostic};
use crate::graph::NodeId;
use crate::graph::semantics::rng;
use crate::kernel::ir::{BufId, BufKind, Kernel, LoopKernel, Program};
use crate::kernel::memory::{self, MemoryPlan};

/// Work (points times expressions) below which a loop kernel runs on the
/// calling thread: splitting costs about a microsecond, and moves data
/// between cores.
const PARALLEL_WORK: f64 = 60_000.0;
/// Ranges per thread a split loop kernel is cut into: a thread slowed by
/// another process or a page fault then leaves parts to the others (the
/// team's threads take any part left), and the results do not depend on the
/// cut. Products are cut once per thread.
const CHUNKS_PER_THREAD: i64 = 4;
/// Multiply-adds below which a product runs on the calling thread.
const PARALLEL_FLOPS: f64 = 400_000.0;

/// A compiled loop kernel and how to call it.
struct LoopCall {
    f: KernelFn,
    abi: Abi,
    /// Iterations of the first outer variable (the range callers split).
    extent: i64,
    /// Estimated work, to decide whether to split.
    work: f64,
    /// Split points are multiples of this (the vector width when the first
    /// outer variable is vectorised).
    align: i64,
}

enum Step {
    Loop(LoopCall),
    /// A product, its epilogue and its prologue.
    Gemm(Box<crate::kernel::ir::GemmKernel>, Option<LoopCall>, Option<LoopCall>),
    Gather(crate::kernel::ir::GatherKernel),
    ScatterAdd(crate::kernel::ir::ScatterAddKernel),
}

/// Raw pointers handed to worker threads.
#[derive(Clone, Copy)]
struct Tables {
    bufs: *const *mut f32,
    keys: *const u64,
}

// SAFETY: the tables live on the calling thread's stack until every part of
// the kernel has finished (`Team::run` returns only then).
unsafe impl Send for Tables {}
unsafe impl Sync for Tables {}

/// A buffer address for this run.
#[derive(Clone, Copy)]
struct Ptr(*mut f32);

// SAFETY: buffers outlive the run, and kernels running at the same time
// write disjoint elements.
unsafe impl Send for Ptr {}
unsafe impl Sync for Ptr {}

/// The part of an executable worker threads see.
struct Runner {
    program: Arc<Program>,
    /// Products go to [`sgemm`] (else to `matrixmultiply`).
    fast_gemm: bool,
    steps: Vec<Step>,
    zero: Ptr,
    /// One block of scratch per thread, for prologues.
    scratch: Vec<Ptr>,
    /// Scratch for a product's packed right operand.
    packed: Ptr,
    threads: usize,
    parallel: bool,
    team: Option<Arc<Team>>,
}

/// A graph compiled for the CPU.
pub struct CpuExecutable {
    module: Option<JITModule>,
    compiled: Compiled,
    runner: Runner,
    arena: Vec<f32>,
    /// Backing memory of `Runner::scratch`.
    _scratch: Vec<Vec<f32>>,
    /// Backing memory of `Runner::packed`.
    _packed: Vec<f32>,
    /// Copies of in-place targets, used when a run must not update.
    scratch: HashMap<BufId, Vec<f32>>,
    _zero: Box<[f32; 16]>,
    /// Seconds spent in each kernel, when profiling.
    timings: Option<Vec<f64>>,
    runs: usize,
    /// Milliseconds of code generation.
    codegen_ms: f64,
    /// Each compiled function's machine code, when kept.
    code: Vec<crate::backend::CodeFile>,
}

impl Drop for CpuExecutable {
    fn drop(&mut self) {
        if let Some(m) = self.module.take() {
            // SAFETY: no kernel of this module can run any more.
            unsafe { m.free_memory() };
        }
    }
}

fn backend_error(msg: String) -> Diagnostic {
    Diagnostic::error_nowhere(Code::BACKEND, format!("the CPU back end cannot compile the graph: {msg}"))
}

impl CpuExecutable {
    /// Compiles the driver's kernel program to native code.
    pub fn new(
        compiled: Compiled,
        options: &CpuOptions,
        pool: Option<Arc<rayon::ThreadPool>>,
        team: Option<Arc<Team>>,
    ) -> Result<CpuExecutable, Diagnostic> {
        let Some(kernels) = &compiled.kernels else {
            return Err(backend_error("the driver produced no kernel program".into()));
        };
        let program = Arc::clone(&kernels.program);
        let threads = options.threads.max(1);
        let t2 = std::time::Instant::now();
        let mut jit = Jit::new().map_err(backend_error)?;
        let mut pending = Vec::with_capacity(program.kernels.len());
        for k in &program.kernels {
            fn compile<'k>(
                jit: &mut Jit,
                l: &'k LoopKernel,
                keep_first: bool,
            ) -> Result<(cranelift_module::FuncId, Abi, &'k LoopKernel, jit::LoopPlan), Diagnostic>
            {
                let abi = Abi::of(l);
                let plan = jit::plan(l, keep_first);
                let id = jit.compile(l, &abi, &plan).map_err(backend_error)?;
                Ok((id, abi, l, plan))
            }
            pending.push(match k {
                Kernel::Loop(l) => (Some(compile(&mut jit, l, false)?), k, None),
                Kernel::Gemm(gm) => {
                    let e = gm.epilogue.as_ref().map(|e| compile(&mut jit, e, true)).transpose()?;
                    let p = gm.prologue.as_ref().map(|p| compile(&mut jit, &p.kernel, true)).transpose()?;
                    (e, k, p)
                }
                Kernel::Gather(_) | Kernel::ScatterAdd(_) => (None, k, None),
            });
        }
        let (module, code) = jit.finish(pool.as_deref(), options.keep_code).map_err(backend_error)?;
        let call =
            |(id, abi, l, plan): (cranelift_module::FuncId, Abi, &LoopKernel, jit::LoopPlan)| LoopCall {
                f: jit::function(&module, id),
                extent: l.extents[plan.order[0].0 as usize],
                work: work(l),
                align: 4,
                abi,
            };
        let steps = pending
            .into_iter()
            .map(|(c, k, pro)| match k {
                Kernel::Loop(_) => Step::Loop(call(c.expect("compiled above"))),
                Kernel::Gemm(gm) => Step::Gemm(Box::new(gm.clone()), c.map(call), pro.map(call)),
                Kernel::Gather(gk) => Step::Gather(gk.clone()),
                Kernel::ScatterAdd(sk) => Step::ScatterAdd(sk.clone()),
            })
            .collect();
        let codegen_ms = t2.elapsed().as_secs_f64() * 1000.0;
        let arena = aligned(kernels.memory.arena);
        let n_kernels = program.kernels.len();
        let mut zero = Box::new([0.0f32; 16]);
        let largest = |size: &dyn Fn(&crate::kernel::ir::GemmKernel) -> usize| {
            program
                .kernels
                .iter()
                .filter_map(|k| if let Kernel::Gemm(g) = k { Some(size(g)) } else { None })
                .max()
        };
        let unit = largest(&|g| g.prologue.as_ref().map_or(0, |p| p.unit).max(gemm::result_block_len(g)))
            .unwrap_or(0);
        let mut scratch_mem: Vec<Vec<f32>> =
            (0..if unit > 0 { threads } else { 0 }).map(|_| aligned(unit)).collect();
        let scratch = scratch_mem.iter_mut().map(|v| Ptr(aligned_start(v))).collect();
        let mut packed_mem = aligned(largest(&gemm::pack_len).unwrap_or(0));
        let packed = Ptr(aligned_start(&mut packed_mem));
        let runner = Runner {
            program,
            fast_gemm: options.gemm == Gemm::Auto && sgemm::available(),
            steps,
            zero: Ptr(zero.as_mut_ptr()),
            scratch,
            packed,
            threads,
            parallel: team.is_some(),
            team,
        };
        Ok(CpuExecutable {
            module: Some(module),
            compiled,
            runner,
            arena,
            _scratch: scratch_mem,
            _packed: packed_mem,
            scratch: HashMap::new(),
            _zero: zero,
            timings: options.profile.then(|| vec![0.0; n_kernels]),
            runs: 0,
            codegen_ms,
            code,
        })
    }

    fn memory(&self) -> &MemoryPlan {
        &self.compiled.kernels.as_ref().expect("checked by new").memory
    }

    /// The address of every buffer for this run.
    fn bind(&mut self, env: &mut Env, update: bool) -> Result<Vec<Ptr>, EvalError> {
        let base = aligned_start(&mut self.arena);
        let program = &self.runner.program;
        let in_place: Vec<BufId> = program.updates.iter().filter(|(t, v)| t == v).map(|&(t, _)| t).collect();
        let mut ptrs = Vec::with_capacity(program.buffers.len());
        for (i, b) in program.buffers.iter().enumerate() {
            let (map, kind, name) = match &b.kind {
                BufKind::Temp => {
                    // SAFETY: offsets are inside the arena, which has ALIGN spare elements.
                    ptrs.push(Ptr(match self.memory().offsets[i] {
                        Some(off) => unsafe { base.add(off) },
                        None => std::ptr::null_mut(),
                    }));
                    continue;
                }
                BufKind::Input(n) => (&mut env.inputs, FeedKind::Input, n),
                BufKind::Param(n) => (&mut env.params, FeedKind::Param, n),
                BufKind::State(n) => (&mut env.states, FeedKind::State, n),
            };
            let t = map.get_mut(name).ok_or_else(|| EvalError::MissingFeed { kind, name: name.clone() })?;
            if t.shape != b.shape {
                return Err(EvalError::FeedShape {
                    kind,
                    name: name.clone(),
                    expected: b.shape.clone(),
                    found: t.shape.clone(),
                });
            }
            let id = BufId(i as u32);
            if !update && in_place.contains(&id) {
                let copy = self.scratch.entry(id).or_default();
                copy.clear();
                copy.extend_from_slice(&t.data);
                ptrs.push(Ptr(copy.as_mut_ptr()));
            } else {
                ptrs.push(Ptr(t.data.as_mut_ptr()));
            }
        }
        Ok(ptrs)
    }
}

impl Runner {
    /// Packs a product's whole right operand (at `b`) into the packing
    /// scratch when `right` reads it packed.
    fn pack_right(&self, g: &crate::kernel::ir::GemmKernel, b: *const f32, right: Option<sgemm::Right>) {
        if right.is_some_and(sgemm::Right::is_packed) {
            // SAFETY: `prepare` chose packing, so the scratch holds
            // pack_len(g) elements and `b` addresses the operand.
            unsafe { gemm::pack_columns(g, b, self.packed.0, 0, g.n) };
        }
    }

    /// Runs `f(0..parts)` across the team.
    fn fork(&self, parts: usize, f: &(dyn Fn(usize) + Sync)) {
        match &self.team {
            Some(team) => team.run(parts, f),
            None => (0..parts).for_each(f),
        }
    }

    fn execute(
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

    fn tables(
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
    fn run_loop(
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

    fn run_gemm(
        &self,
        g: &crate::kernel::ir::GemmKernel,
        epi: Option<&LoopCall>,
        ptrs: &[Ptr],
        keys: &HashMap<u32, u64>,
        zero: Ptr,
    ) {
        // SAFETY: view offsets are inside their buffers.
        let p = unsafe {
            let b = ptrs[g.b.buf.0 as usize].0.offset(g.b.offset as isize);
            GemmPtrs {
                a: ptrs[g.a.buf.0 as usize].0.offset(g.a.offset as isize),
                b,
                c: ptrs[g.c.0 as usize].0,
                right: gemm::prepare(g, b, self.packed.0, self.fast_gemm),
                fast: self.fast_gemm,
            }
        };
        let packs = p.right.is_some_and(sgemm::Right::is_packed);
        let extent = gemm::split_extent(g);
        let rows = g.rows.max(1);
        let units = extent / rows;
        let parallel = self.parallel && gemm::flops(g) > PARALLEL_FLOPS;
        // A packed right operand is split by columns, each part packing and
        // multiplying its own panels; so is a right operand larger than
        // the left one, which every part would otherwise read whole. The
        // epilogue then runs after all parts.
        let by_columns = parallel
            && !g.c_blocks
            && if p.right.is_some() {
                packs && g.n >= 2 * sgemm::NR
            } else {
                gemm::split_columns(g, self.threads)
            };
        if by_columns {
            let bounds = gemm::column_bounds(g, self.threads, p.right.is_some());
            let columns = |c0: usize, c1: usize| {
                // SAFETY: the columns are inside the result and the
                // operands; parts pack disjoint panels.
                unsafe {
                    if packs {
                        gemm::pack_columns(g, p.b, self.packed.0, c0, c1);
                    }
                    gemm::run_columns(g, p, c0, c1);
                }
            };
            self.fork(bounds.len() - 1, &|i| columns(bounds[i], bounds[i + 1]));
            if let Some(e) = epi {
                self.run_loop(e, ptrs, keys, zero, 0, e.extent, true, None);
            }
            return;
        }
        self.pack_right(g, p.b, p.right);
        // Part `slot` computes blocks of its rows, each followed by the
        // epilogue on that block while it is in cache. A result kept in
        // blocks is computed into the part's scratch slot (there are as
        // many slots as threads, and parts), where the epilogue reads it.
        let block = gemm::epilogue_units(g);
        let unit = rows * g.n;
        let pr = &p;
        let task = |slot: usize, u0: usize, u1: usize| {
            let mut u = u0;
            while u < u1 {
                let v = (u + block).min(u1);
                let over = g.c_blocks.then(|| (g.c, Ptr(self.scratch[slot].0.wrapping_sub(u * unit))));
                let q = GemmPtrs { c: over.map_or(pr.c, |(_, base)| base.0), ..*pr };
                // SAFETY: the slices are inside the result (or the slot) and
                // the operands.
                unsafe { gemm::run_slice(g, q, u * rows, v * rows) };
                if let Some(e) = epi {
                    self.run_loop(e, ptrs, keys, zero, u as i64, v as i64, false, over);
                }
                u = v;
            }
        };
        let parts = if parallel { self.threads.min(units) } else { 1 };
        let bounds = split(0, units as i64, parts.max(1) as i64, 1);
        self.fork(bounds.len() - 1, &|i| task(i, bounds[i] as usize, bounds[i + 1] as usize));
    }
}

impl Runner {
    /// A product whose operand is computed block by block by its prologue,
    /// each block into the running thread's scratch.
    #[allow(clippy::too_many_arguments)]
    fn run_gemm_prologue(
        &self,
        g: &crate::kernel::ir::GemmKernel,
        epi: Option<&LoopCall>,
        pc: &LoopCall,
        ptrs: &[Ptr],
        keys: &HashMap<u32, u64>,
        zero: Ptr,
    ) {
        let pro = g.prologue.as_ref().expect("a prologue");
        let view = |v: &crate::kernel::ir::View| {
            if v.buf == pro.buf {
                std::ptr::null_mut()
            } else {
                // SAFETY: view offsets are inside their buffers.
                unsafe { ptrs[v.buf.0 as usize].0.offset(v.offset as isize) }
            }
        };
        let b = view(&g.b);
        let right = match pro.operand {
            crate::kernel::ir::Operand::A => {
                let right = gemm::prepare(g, b, self.packed.0, self.fast_gemm);
                self.pack_right(g, b, right);
                right
            }
            // Each block is read where the prologue wrote it.
            crate::kernel::ir::Operand::B => None,
        };
        let ptrs_ab = GemmPtrs { a: view(&g.a), b, c: ptrs[g.c.0 as usize].0, right, fast: self.fast_gemm };
        let p = &ptrs_ab;
        let parallel = self.parallel && gemm::flops(g) > PARALLEL_FLOPS;
        // Runs the prologue for block `u` into scratch `slot`; returns the
        // address the operand's element 0 would have.
        let produce = |slot: usize, u: usize| -> Ptr {
            let base = Ptr(self.scratch[slot].0.wrapping_sub(u * pro.unit));
            self.run_loop(pc, ptrs, keys, zero, u as i64, u as i64 + 1, false, Some((pro.buf, base)));
            base
        };
        let rows_per_epilogue_row = g.rows.max(1);
        match pro.operand {
            crate::kernel::ir::Operand::A => {
                let r = pro.unit / g.k;
                let units = g.m / r;
                let per_block = epi.is_some() && r.is_multiple_of(rows_per_epilogue_row);
                let task = |slot: usize, u0: usize, u1: usize| {
                    for u in u0..u1 {
                        let base = produce(slot, u);
                        let q = GemmPtrs { a: base.0, ..*p };
                        // SAFETY: the block's rows of a are in scratch, of c in c.
                        unsafe { gemm::run_slice(g, q, u * r, (u + 1) * r) };
                        if let (Some(e), true) = (epi, per_block) {
                            let (e0, e1) =
                                (u * r / rows_per_epilogue_row, (u + 1) * r / rows_per_epilogue_row);
                            self.run_loop(e, ptrs, keys, zero, e0 as i64, e1 as i64, false, None);
                        }
                    }
                };
                let parts = if parallel { self.threads.min(units) } else { 1 };
                if parts <= 1 {
                    task(0, 0, units);
                } else {
                    let bounds = split(0, units as i64, parts as i64, 1);
                    // Part i uses scratch slot i: there are as many slots
                    // as threads, and parts.
                    self.fork(bounds.len() - 1, &|i| task(i, bounds[i] as usize, bounds[i + 1] as usize));
                }
                if let (Some(e), false) = (epi, per_block) {
                    self.run_loop(e, ptrs, keys, zero, 0, e.extent, true, None);
                }
            }
            crate::kernel::ir::Operand::B => {
                let r = pro.unit / g.n;
                let units = g.k / r;
                // Columns across threads; each thread produces every block
                // (the product accumulates over blocks in order).
                let task = |slot: usize, c0: usize, c1: usize| {
                    for u in 0..units {
                        let base = produce(slot, u);
                        // SAFETY: the block is in scratch at `base + u * unit`.
                        unsafe {
                            let block = base.0.add(u * pro.unit);
                            gemm::run_k_block(g, *p, block, u, r, c0, c1);
                        }
                    }
                };
                let parts = if parallel && g.n >= 16 * self.threads { self.threads } else { 1 };
                if parts <= 1 {
                    task(0, 0, g.n);
                } else {
                    let bounds = split(0, g.n as i64, parts as i64, 16);
                    // Part i uses scratch slot i: there are as many slots
                    // as threads, and parts.
                    self.fork(bounds.len() - 1, &|i| task(i, bounds[i] as usize, bounds[i + 1] as usize));
                }
                if let Some(e) = epi {
                    self.run_loop(e, ptrs, keys, zero, 0, e.extent, true, None);
                }
            }
        }
    }
}

/// Zeroed memory for `len` elements starting at a multiple of
/// [`memory::ALIGN`] elements (see [`aligned_start`]).
fn aligned(len: usize) -> Vec<f32> {
    vec![0.0; len + memory::ALIGN]
}

/// The aligned start of memory made by [`aligned`].
fn aligned_start(v: &mut [f32]) -> *mut f32 {
    let skew = (v.as_ptr() as usize / 4).wrapping_neg() % memory::ALIGN;
    // SAFETY: `aligned` leaves ALIGN spare elements.
    unsafe { v.as_mut_ptr().add(skew) }
}

/// `parts + 1` increasing bounds from `begin` to `end`; inner bounds are
/// multiples of `align` when the range allows.
fn split(begin: i64, end: i64, parts: i64, align: i64) -> Vec<i64> {
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
fn work(k: &LoopKernel) -> f64 {
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

impl Executable for CpuExecutable {
    fn run(&mut self, env: &mut Env, update: bool) -> Result<HashMap<String, Tensor>, EvalError> {
        let ptrs = self.bind(env, update)?;
        let mut keys = HashMap::new();
        let runner = &self.runner;
        for s in runner.steps.iter().flat_map(|s| match s {
            Step::Loop(c) => c.abi.streams.clone(),
            Step::Gemm(_, e, p) => e.iter().chain(p).flat_map(|c| c.abi.streams.clone()).collect(),
            _ => vec![],
        }) {
            keys.insert(s, rng::stream_key(env.seed, env.step, s));
        }
        let timings = self.timings.as_mut();
        runner.execute(&ptrs, &keys, timings)?;
        self.runs += 1;
        let program = &runner.program;
        let read = |b: BufId| {
            let buf = program.buffer(b);
            // SAFETY: the buffer holds `numel` elements after the run.
            let data = unsafe { std::slice::from_raw_parts(ptrs[b.0 as usize].0, buf.numel()) }.to_vec();
            Tensor::new(buf.shape.clone(), data)
        };
        let outputs: HashMap<String, Tensor> =
            program.outputs.iter().map(|(name, b)| (name.clone(), read(*b))).collect();
        if update {
            // Values that are themselves parameters or state are read before
            // any target is written, as the interpreter does.
            let held: Vec<(BufId, Tensor)> = program
                .updates
                .iter()
                .filter(|&&(t, v)| t != v && program.buffer(v).kind != BufKind::Temp)
                .map(|&(t, v)| (t, read(v)))
                .collect();
            for &(t, v) in &program.updates {
                if t == v {
                    continue;
                }
                let held = held.iter().find(|(h, _)| *h == t).map(|(_, x)| x.data.as_slice());
                let (map, name) = match &program.buffer(t).kind {
                    BufKind::Param(n) => (&mut env.params, n),
                    BufKind::State(n) => (&mut env.states, n),
                    BufKind::Input(_) | BufKind::Temp => unreachable!("updates target params and state"),
                };
                if let Some(slot) = map.get_mut(name) {
                    let n = slot.data.len();
                    match held {
                        Some(data) => slot.data.copy_from_slice(data),
                        // SAFETY: temporaries are not touched by the copies.
                        None => slot
                            .data
                            .copy_from_slice(unsafe { std::slice::from_raw_parts(ptrs[v.0 as usize].0, n) }),
                    }
                }
            }
            env.step += 1;
        }
        Ok(outputs)
    }

    fn profile(&self) -> Option<String> {
        let t = self.timings.as_ref()?;
        let total: f64 = t.iter().sum();
        let runs = self.runs.max(1) as f64;
        let mut order: Vec<usize> = (0..t.len()).collect();
        order.sort_by(|&a, &b| t[b].total_cmp(&t[a]));
        let number = crate::graph::dump::numbering(&self.compiled.graph);
        let mut out = format!("kernel  ms/step      %  nodes ({} runs)\n", self.runs);
        for i in order {
            let k = &self.runner.program.kernels[i];
            let kind = match k {
                Kernel::Loop(_) => "loop",
                Kernel::Gemm(_) => "gemm",
                Kernel::Gather(_) => "gather",
                Kernel::ScatterAdd(_) => "scatter",
            };
            let nodes: Vec<String> = k
                .nodes()
                .iter()
                .take(6)
                .map(|n| format!("%{} {}", number[n], self.compiled.graph.node(*n).op.name()))
                .collect();
            out += &format!(
                "{i:>6} {:>8.4} {:>6.1}  {kind}: {}\n",
                t[i] * 1000.0 / runs,
                100.0 * t[i] / total.max(1e-12),
                nodes.join(", ")
            );
        }
        Some(out)
    }

    fn compiled(&self) -> &Compiled {
        &self.compiled
    }

    fn code(&self) -> &[crate::backend::CodeFile] {
        &self.code
    }

    fn stats(&self) -> ExecStats {
        ExecStats { codegen_ms: self.codegen_ms, ..ExecStats::of(&self.compiled) }
    }
}
