//! Running a compiled graph: binding buffers, calling kernels, splitting
//! them across threads, and applying outputs and updates to the
//! environment exactly as the interpreter's `step` does.
//!
//! Files: `mod.rs` compiles the program ([`CpuExecutable::new`]), binds
//! the environment's tensors and applies outputs and updates;
//! `runner.rs` holds the compiled steps and runs them, splitting loop
//! kernels across the team; `products.rs` runs matrix products with their
//! prologues and epilogues.

mod products;
mod runner;

use std::collections::HashMap;
use std::sync::Arc;

use cranelift_jit::JITModule;

use self::runner::{LoopCall, Ptr, Runner, Step, work};
use super::gemm;
use super::jit::{self, Abi, Jit};
use super::sgemm;
use super::team::Team;
use super::{CpuOptions, Gemm};
use crate::backend::Tensor;
use crate::backend::{Env, EvalError, FeedKind};
use crate::backend::{ExecStats, Executable};
use crate::compile::Compiled;
use crate::diag::{Code, Diagnostic};
use crate::graph::semantics::rng;
use crate::kernel::ir::{BufId, BufKind, Kernel, LoopKernel};
use crate::kernel::memory::{self, MemoryPlan};

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
            let (kind, name) = match &b.kind {
                BufKind::Temp => {
                    // SAFETY: offsets are inside the arena, which has ALIGN spare elements.
                    ptrs.push(Ptr(match self.memory().offsets[i] {
                        Some(off) => unsafe { base.add(off) },
                        None => std::ptr::null_mut(),
                    }));
                    continue;
                }
                BufKind::Input(n) => (FeedKind::Input, n),
                BufKind::Param(n) => (FeedKind::Param, n),
                BufKind::State(n) => (FeedKind::State, n),
            };
            let t = env.feed_mut(kind, name, &b.shape)?;
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

impl Executable for CpuExecutable {
    fn run(&mut self, env: &mut Env, update: bool) -> Result<HashMap<String, Tensor>, EvalError> {
        let ptrs = self.bind(env, update)?;
        let mut keys = HashMap::new();
        let runner = &self.runner;
        for s in runner.steps.iter().flat_map(|s| match s {
            Step::Loop(c) => c.abi.streams.clone(),
            Step::Gemm(_, e, p) => e.iter().chain(p).flat_map(|c| c.abi.streams.clone()).collect(),
            Step::Gather(_) | Step::ScatterAdd(_) => vec![],
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
