//! `ptxsim`: an interpreter for the subset of PTX that nnc's CUDA back end emits, used as
//! the oracle for what that PTX computes on machines without a GPU.
//!
//! It reads `.ptx` text exactly as `ptxas` would receive it and knows nothing of nnc. The
//! subset it models is documented in the crate's `README.md`; anything outside it is a
//! `ParseError` naming the line and the statement, never silently ignored.
//!
//! # API
//!
//! - `Module::parse(&str) -> Result<Module, ParseError>` decodes a module;
//!   `Module::kernels()` and `Module::params(name)` describe it.
//! - `Device::new()` is an empty GPU. `Device::alloc(bytes) -> u64` returns a 256-aligned
//!   device address (`alloc_f32`, `alloc_u32` allocate and fill; `free` releases).
//!   Host access: `write_bytes`/`read_bytes`, `write_f32`/`read_f32`, `write_u32`/`read_u32`,
//!   `write_i32`/`read_i32`, `write_u64`/`read_u64`, `fill`; each returns
//!   `Result<_, SimError>` and fails outside an allocation.
//! - `Device::launch(&mut self, &Module, kernel, grid: [u32; 3], block: [u32; 3], &[Arg],
//!   &LaunchOptions) -> Result<LaunchStats, SimError>` runs a kernel. Each `Arg`
//!   (`U32`, `S32`, `U64`, `S64`, `F32`) must match its parameter's declared type.
//! - `LaunchOptions { seed, max_instructions }` (default: seed 0, 200 million instructions)
//!   seeds the block order and thread interleaving and bounds the work of a launch.
//! - `LaunchStats { instructions, blocks, threads_per_block, barriers, shuffles }`.
//! - `SimError` is `KernelNotFound`, `Launch` (configuration or arguments), `Host`
//!   (host access) or `Fault(Box<Fault>)`: a fault names the kernel, block, thread, source
//!   line and instruction, and its `FaultKind`: out-of-bounds or misaligned access,
//!   unwritten register or memory, data race, `ld.global.nc` of written data, integer
//!   division by zero, exhausted budget, barrier, shuffle or deadlock misuse.
//!
//! # Example
//!
//! ```
//! use ptxsim::{Arg, Device, LaunchOptions, Module};
//!
//! let ptx = "
//! .version 8.0
//! .target sm_90
//! .address_size 64
//! .visible .entry double_it(.param .u64 p)
//! {
//!     .reg .b32 %r<2>;
//!     .reg .f32 %f<3>;
//!     .reg .b64 %rd<4>;
//!     ld.param.u64 %rd1, [p];
//!     cvta.to.global.u64 %rd2, %rd1;
//!     mov.u32 %r1, %tid.x;
//!     mul.wide.u32 %rd3, %r1, 4;
//!     add.s64 %rd2, %rd2, %rd3;
//!     ld.global.f32 %f1, [%rd2];
//!     add.f32 %f2, %f1, %f1;
//!     st.global.f32 [%rd2], %f2;
//!     ret;
//! }";
//! let module = Module::parse(ptx).unwrap();
//! let mut dev = Device::new();
//! let buf = dev.alloc_f32(&[1.0, 2.0, 3.0]);
//! dev.launch(&module, "double_it", [1, 1, 1], [3, 1, 1], &[Arg::U64(buf)], &LaunchOptions::default())
//!     .unwrap();
//! assert_eq!(dev.read_f32(buf, 3).unwrap(), vec![2.0, 4.0, 6.0]);
//! ```
//!
//! # Layout
//!
//! In reading order: `lex` (tokens), `parse` (module structure, statements, operands),
//! `scope` (register file and operand checks), `decode` (opcodes to `ir::Op`), `ir` (the
//! decoded form), `int` and `float` (instruction semantics), `memory` (device and shared
//! memory with race shadows), `exec` (one thread), `launch` (blocks and scheduling), `warp`
//! (`shfl.sync`), `error`.

#![warn(missing_docs)]

mod decode;
mod error;
mod exec;
mod float;
mod int;
mod ir;
mod launch;
mod lex;
mod memory;
mod parse;
mod scope;
mod warp;

pub use error::{Fault, FaultKind, OtherThread, ParseError, RaceKind, SimError, Space};
pub use ir::{Param, ParamType};
pub use launch::{Arg, LaunchOptions, LaunchStats};
pub use memory::Device;
pub use parse::Module;
