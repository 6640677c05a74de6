//! The CPU back end: fused kernels compiled to native code by Cranelift,
//! matrix products by [`sgemm`] (AVX-512) or `matrixmultiply`, outer loops
//! split across a [`team::Team`] of spinning threads (compilation runs on a
//! rayon pool).
//!
//! Compiling a graph simplifies it ([`crate::opt`]), fuses it into a kernel
//! program ([`crate::fuse`]), plans its temporaries into one arena
//! ([`crate::kernel::memory`]) and JIT-compiles every loop kernel
//! ([`jit`]). Running it ([`exec`]) binds the environment's tensors in
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

use crate::diag::Diagnostic;
use crate::graph::Graph;
use crate::runtime::exec::{Backend, Executable};

/// The CPU back end with a fixed number of threads.
pub struct Cpu {
    threads: usize,
    pool: OnceLock<Option<Arc<rayon::ThreadPool>>>,
    team: OnceLock<Option<Arc<team::Team>>>,
}

impl Cpu {
    /// A back end using `threads` threads (at least one).
    pub fn new(threads: usize) -> Cpu {
        Cpu { threads: threads.max(1), pool: OnceLock::new(), team: OnceLock::new() }
    }

    /// A back end using every available core.
    pub fn all_cores() -> Cpu {
        Cpu::new(std::thread::available_parallelism().map_or(1, |n| n.get()))
    }

    /// The number of threads.
    pub fn threads(&self) -> usize {
        self.threads
    }

    fn pool(&self) -> Option<Arc<rayon::ThreadPool>> {
        self.pool
            .get_or_init(|| {
                if self.threads < 2 {
                    return None;
                }
                rayon::ThreadPoolBuilder::new()
                    .num_threads(self.threads)
                    .thread_name(|i| format!("nnc-cpu-{i}"))
                    .build()
                    .ok()
                    .map(Arc::new)
            })
            .clone()
    }

    fn team(&self) -> Option<Arc<team::Team>> {
        self.team.get_or_init(|| (self.threads >= 2).then(|| Arc::new(team::Team::new(self.threads)))).clone()
    }

    /// Compiles a graph into the concrete executable type (for tools that
    /// want its statistics or fused program).
    pub fn compile_cpu(&self, graph: &Graph) -> Result<exec::CpuExecutable, Diagnostic> {
        exec::CpuExecutable::new(graph, self.threads, self.pool(), self.team())
    }
}

impl Backend for Cpu {
    fn name(&self) -> &'static str {
        "cpu"
    }

    fn compile(&self, graph: &Graph) -> Result<Box<dyn Executable>, Diagnostic> {
        Ok(Box::new(self.compile_cpu(graph)?))
    }
}
