//! The CUDA back end: nnc's own PTX emitter for a [`Program`], and the
//! runtime that loads the text on a [`Device`] and launches it.
//!
//! [`emit`] writes one PTX module for the whole program (no CUDA C, no
//! NVRTC) and the ordered list of [`Launch`]es that runs it: each kernel of
//! the program becomes one or more entries whose launch shapes are fixed
//! from the program's concrete shapes. Every entry parameter is a `.u64`
//! ([`Param`]: a buffer address, a random stream's key, or the status word).
//!
//! - Loop kernels (`loops.rs`): the outer index space is a 1-D grid of
//!   256-thread blocks with a grid-stride loop; each thread runs every stage
//!   of its outer point with the inner loops and accumulators in registers,
//!   in the IR's loop order, so sums add in the same order as on the CPU.
//!   A kernel with few outer points and a large reduction runs a block per
//!   point instead (`reduce.rs`: a shuffle and shared-memory tree, equal
//!   to rounding rather than bit for bit).
//! - Expressions (`expr.rs`, `maths.rs`, `rand.rs`): the same correctly
//!   rounded operations as `graph::semantics` (`exp`, `tanh`, comparisons,
//!   NaN-propagating `max`/`min`, the RNG's hash), so results are bit for
//!   bit the interpreter's; `log`, `sin`, `cos` and `pow` use the GPU's
//!   approximate base-2 and trigonometric instructions (a few ulp off).
//! - Products (`gemm.rs`): a tiled shared-memory kernel; each output
//!   element adds its products in order of `k` from zero with separate
//!   multiply and add, as the interpreter does. The epilogue is a second
//!   launch.
//! - Gather and scatter-add (`gather.rs`): see that module for how indices
//!   are checked and why scatter-add is deterministic.
//!
//! `ptxsim` (a test dependency) is the oracle for all of it: the test suite
//! runs every entry in the simulator, which detects races, missing
//! barriers and reads of uninitialised memory.

pub mod backend;
pub mod device;
#[cfg(feature = "cuda")]
pub mod driver;
pub mod exec;
mod expr;
mod gather;
mod gemm;
mod loops;
mod manifest;
mod maths;
mod module;
mod reduce;
mod rand;

use std::fmt;

pub use backend::{Cuda, Loaded, target};
pub use device::{Device, DeviceError, DevicePtr};
#[cfg(feature = "cuda")]
pub use driver::{DriverDevice, driver_present};
pub use exec::CudaExecutable;
pub use manifest::manifest_json;

use crate::kernel::ir::{BufId, Kernel, Program};

/// The GPU architecture the module targets; later is newer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum Arch {
    /// Ampere (`sm_80`).
    Sm80,
    /// Hopper (`sm_90`).
    #[default]
    Sm90,
}

impl Arch {
    /// The newest architecture a GPU of compute capability `major.minor`
    /// runs, if it runs any of them.
    pub fn for_capability(major: u32, minor: u32) -> Option<Arch> {
        match (major, minor) {
            (0..=7, _) => None,
            (8, _) => Some(Arch::Sm80),
            (9.., _) => Some(Arch::Sm90),
        }
    }

    /// `sm_80` / `sm_90` (also `80`, `90`).
    pub fn parse(s: &str) -> Option<Arch> {
        match s.trim_start_matches("sm_") {
            "80" => Some(Arch::Sm80),
            "90" => Some(Arch::Sm90),
            _ => None,
        }
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Arch::Sm80 => "sm_80",
            Arch::Sm90 => "sm_90",
        })
    }
}

/// What [`emit`] is asked for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EmitOptions {
    /// The target architecture.
    pub arch: Arch,
}

/// A generated module: the PTX text and the launches that run the program.
#[derive(Clone, Debug, PartialEq)]
pub struct PtxModule {
    /// The architecture it targets.
    pub arch: Arch,
    /// The PTX text.
    pub text: String,
    /// Every launch of one run, in order.
    pub launches: Vec<Launch>,
}

/// One kernel launch.
#[derive(Clone, Debug, PartialEq)]
pub struct Launch {
    /// Index of the program kernel it belongs to.
    pub kernel: usize,
    /// The entry's name in the module.
    pub entry: String,
    /// Blocks.
    pub grid: [u32; 3],
    /// Threads per block.
    pub block: [u32; 3],
    /// Static shared memory the entry declares, in bytes.
    pub shared_bytes: u32,
    /// The entry's parameters, in order (each passed as a `u64`).
    pub params: Vec<Param>,
}

/// What the runtime passes for one entry parameter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Param {
    /// The address of element `offset` of a buffer.
    Buffer {
        /// The buffer.
        buf: BufId,
        /// Offset in elements.
        offset: usize,
        /// Bytes the entry may access from there.
        bytes: usize,
    },
    /// `rng::stream_key(seed, step, stream)` of the run.
    StreamKey {
        /// The random stream.
        stream: u32,
    },
    /// The address of the 4-byte status word (zero before each run; an
    /// entry that finds an index out of range writes `1 + kernel index`).
    Status,
}

/// Why a program cannot be emitted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmitError(pub String);

impl fmt::Display for EmitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for EmitError {}

impl EmitError {
    /// The coded diagnostic (E0501) for a program the emitter cannot compile.
    pub fn diagnostic(&self) -> crate::diag::Diagnostic {
        crate::diag::Diagnostic::error_nowhere(
            crate::diag::Code::BACKEND,
            format!("the CUDA back end cannot compile the graph: {self}"),
        )
    }
}

/// The most `.u64` parameters an entry takes (PTX allows 4 KiB of them).
const MAX_PARAMS: usize = 500;

/// One entry of the module: its text and its launch.
pub(crate) struct Entry {
    text: String,
    launch: Launch,
}

/// Emits `program` as one PTX module.
pub fn emit(program: &Program, options: &EmitOptions) -> Result<PtxModule, EmitError> {
    let mut text = format!(
        "//\n// Generated by nnc: {} kernels\n//\n\n.version 8.0\n.target {}\n.address_size 64\n",
        program.kernels.len(),
        options.arch
    );
    let mut launches = Vec::new();
    for (i, k) in program.kernels.iter().enumerate() {
        let entries = match k {
            Kernel::Loop(l) => loops::entries(program, l, i, &format!("k{i}_loop"))?,
            Kernel::Gemm(g) => gemm::entries(program, g, i)?,
            Kernel::Gather(g) => gather::gather(program, g, i)?,
            Kernel::ScatterAdd(s) => gather::scatter_add(program, s, i)?,
        };
        for e in entries {
            if e.launch.params.len() > MAX_PARAMS {
                return Err(EmitError(format!(
                    "kernel {i} touches {} buffers and streams; an entry takes at most {MAX_PARAMS}",
                    e.launch.params.len()
                )));
            }
            text.push('\n');
            text.push_str(&e.text);
            launches.push(e.launch);
        }
    }
    Ok(PtxModule { arch: options.arch, text, launches })
}

/// The launch grid for `points` independent points at `threads` per
/// block: enough blocks for one point a thread, capped (the entry loops
/// with a grid stride beyond).
pub(crate) fn grid_for(points: i64, threads: u32) -> [u32; 3] {
    const MAX_BLOCKS: i64 = 65_535;
    let blocks = (points + i64::from(threads) - 1) / i64::from(threads);
    [blocks.clamp(1, MAX_BLOCKS) as u32, 1, 1]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::ir::{GemmKernel, Kernel, View};

    #[test]
    fn architectures_parse_and_display() {
        assert_eq!(Arch::parse("sm_80"), Some(Arch::Sm80));
        assert_eq!(Arch::parse("90"), Some(Arch::Sm90));
        assert_eq!(Arch::parse("sm_75"), None);
        assert_eq!(Arch::default().to_string(), "sm_90");
        assert_eq!(Arch::Sm80.to_string(), "sm_80");
    }

    #[test]
    fn cpu_cache_blocking_is_an_error_not_a_panic() {
        let view = |buf| View { buf: BufId(buf), offset: 0, strides: vec![1, 1] };
        let g = GemmKernel {
            nodes: vec![],
            batch: vec![],
            m: 1,
            n: 1,
            k: 1,
            a: view(0),
            b: view(0),
            c: BufId(0),
            epilogue: None,
            rows: 1,
            prologue: None,
            c_blocks: true,
        };
        let program = Program { kernels: vec![Kernel::Gemm(g)], ..Program::default() };
        let e = emit(&program, &EmitOptions::default()).unwrap_err();
        assert!(e.to_string().contains("blocked results"), "{e}");
    }
}
