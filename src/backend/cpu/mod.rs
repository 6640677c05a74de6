//! The CPU back end: fused kernels compiled to native code by Cranelift,
//! matrix products by [`sgemm`] (AVX-512) or `matrixmultiply`, outer loops
//! split across a [`team::Team`] of spinning threads (compilation runs on a
//! rayon pool).
//!
//! The compile driver hands it a verified kernel program and memory plan
//! (with the CPU's cache blocking, [`kernel_passes`]); it JIT-compiles every
//! loop kernel ([`jit`]). Running it ([`exec`]) binds the environment's tensors in
//! place, so parameters and optimizer state stay where the trainer keeps
//! them and in-place updates write straight into them.
//!
//! Results do not depend on scheduling: every output element is computed by
//! one thread, with a fixed order of operations, whatever the split.

pub mod exec;
pub mod gemm;
pub mod jit;
pub mod libm;
pub mod sgemm;
pub mod team;

use std::sync::{Arc, OnceLock};

use crate::backend::{Backend, Executable};
use crate::compile::{Blocking, Compiled, KernelPasses, Target};
use crate::diag::Diagnostic;

/// Which matrix-multiply kernel products use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Gemm {
    /// nnc's AVX-512 kernel ([`sgemm`]) when the CPU has AVX-512, else
    /// `matrixmultiply`.
    #[default]
    Auto,
    /// `matrixmultiply` always (to compare the two).
    Portable,
}

/// The CPU target's choices, set by `cli`.
#[derive(Clone, Debug, PartialEq)]
pub struct CpuOptions {
    /// Threads kernels are split across (at least one).
    pub threads: usize,
    /// Record the time spent in each kernel ([`Executable::profile`]).
    pub profile: bool,
    /// Keep each compiled function's machine code ([`Executable::code`]).
    pub keep_code: bool,
    /// The matrix-multiply kernel.
    pub gemm: Gemm,
}

impl CpuOptions {
    /// Defaults with `threads` threads.
    pub fn with_threads(threads: usize) -> CpuOptions {
        CpuOptions { threads: threads.max(1), profile: false, keep_code: false, gemm: Gemm::Auto }
    }
}

/// The CPU's kernel passes: products over operands of 1 MB or more are
/// cache-blocked, in blocks of at most 8 MB (one per thread, in scratch).
pub fn kernel_passes() -> KernelPasses {
    KernelPasses {
        blocking: Some(Blocking {
            prologues: true,
            blocked_results: true,
            min_bytes: 1 << 20,
            max_block_bytes: 8 << 20,
        }),
    }
}

/// The CPU target, as the compile driver sees it.
pub fn target() -> Target {
    Target { name: "cpu", kernels: Some(kernel_passes()) }
}

/// The CPU back end.
pub struct Cpu {
    options: CpuOptions,
    pool: OnceLock<Option<Arc<rayon::ThreadPool>>>,
    team: OnceLock<Option<Arc<team::Team>>>,
}

impl Cpu {
    /// A back end using `threads` threads (at least one) and default options.
    pub fn new(threads: usize) -> Cpu {
        Cpu::with_options(CpuOptions::with_threads(threads))
    }

    /// A back end with the given options.
    pub fn with_options(options: CpuOptions) -> Cpu {
        let options = CpuOptions { threads: options.threads.max(1), ..options };
        Cpu { options, pool: OnceLock::new(), team: OnceLock::new() }
    }

    /// A back end using every available core.
    pub fn all_cores() -> Cpu {
        Cpu::new(std::thread::available_parallelism().map_or(1, |n| n.get()))
    }

    /// The number of threads.
    pub fn threads(&self) -> usize {
        self.options.threads
    }

    fn pool(&self) -> Option<Arc<rayon::ThreadPool>> {
        self.pool
            .get_or_init(|| {
                if self.options.threads < 2 {
                    return None;
                }
                rayon::ThreadPoolBuilder::new()
                    .num_threads(self.options.threads)
                    .thread_name(|i| format!("nnc-cpu-{i}"))
                    .build()
                    .ok()
                    .map(Arc::new)
            })
            .clone()
    }

    fn team(&self) -> Option<Arc<team::Team>> {
        self.team
            .get_or_init(|| {
                (self.options.threads >= 2).then(|| Arc::new(team::Team::new(self.options.threads)))
            })
            .clone()
    }

    /// Compiles the driver's output into the concrete executable type (for
    /// tools that want its machine code).
    pub fn load_cpu(&self, compiled: Compiled) -> Result<exec::CpuExecutable, Diagnostic> {
        exec::CpuExecutable::new(compiled, &self.options, self.pool(), self.team())
    }
}

impl Backend for Cpu {
    fn name(&self) -> &'static str {
        "cpu"
    }

    fn target(&self) -> Target {
        target()
    }

    fn load(&self, compiled: Compiled) -> Result<Box<dyn Executable>, Diagnostic> {
        Ok(Box::new(self.load_cpu(compiled)?))
    }
}
