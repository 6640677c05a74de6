//! Cranelift code generation for loop kernels.
//!
//! Each [`LoopKernel`](crate::kernel::ir::LoopKernel) becomes one native function
//! `fn(bufs: *const *mut f32, keys: *const u64, begin: i64, end: i64)` that
//! runs the outer points whose first outer variable lies in `begin..end`, so
//! the caller can split a kernel across threads by ranges. `bufs` holds the
//! base address of each buffer the kernel touches (in [`Abi::bufs`] order)
//! followed by a zeroed 64-byte block; `keys` holds the per-step random key
//! of each stream in [`Abi::streams`].
//!
//! Code shape:
//! - One variable is vectorised 4-wide (`f32x4`): either the innermost
//!   outer variable (lanes are independent points, accumulators are
//!   vectors) or the innermost inner variable (lanes are partial sums,
//!   combined in a fixed order when the loop ends). The vector loop is
//!   followed by a scalar tail; both compute each lane with the same
//!   instructions, so results do not depend on where a range starts.
//!   Contiguous accesses are vector loads and stores; others gather lane by
//!   lane.
//! - Index conditions (pad and concat) whose bounds are constants split the
//!   loop of their variable into segments, and each segment is generated
//!   with the conditions folded away, so an im2col concat reads one input
//!   per element instead of every input under a select.
//! - Each expression is emitted once per loop body, in the outermost loop
//!   whose variables it uses: a per-row `log` of a sum runs once per row.
//! - `a * b + c` becomes a fused multiply-add when the CPU has FMA.
//! - `exp`, `log`, `tanh`, `sin`, `cos` and `pow` call the Rust functions in
//!   [`super::libm`] ([`LibFn`](super::libm::LibFn)), one lane at a time, so
//!   they match the interpreter; with FMA, `exp` and `tanh` are inline.
//!
//! Files:
//! - `abi.rs`: the kernel's signature, buffer and stream tables, canonical
//!   form, and the loads of its arguments;
//! - `module.rs`: the JIT module ([`Jit`]): declare, build, generate, link;
//! - `plan.rs`: the planner ([`plan`]): vectorised variable, loop order,
//!   loop segments;
//! - `emit.rs`: the emitter's state, scopes and values hoisted before every loop;
//! - `fold.rs`: conditions decided by the current ranges, and loop depths;
//! - `value.rs`: scalars, vectors and masks, and the operations on them;
//! - `loops.rs`: loop nests (outer loops, stages, inner loops);
//! - `reduce.rs`: accumulators and reductions;
//! - `index.rs`: affine index arithmetic and index conditions;
//! - `expr.rs`: expression lowering, and the multiplications fused into adds;
//! - `memory.rs`: loads and stores;
//! - `maths.rs`: inline `exp`, `tanh` and the random hash;
//! - `libcall.rs`: calls of library functions.

mod abi;
mod emit;
mod expr;
mod fold;
mod index;
mod libcall;
mod loops;
mod maths;
mod memory;
mod module;
mod plan;
mod reduce;
mod value;

pub use abi::{Abi, KernelFn};
pub use module::{Jit, function};
pub use plan::{LoopPlan, plan};

/// Lanes of a vector.
const W: i64 = 4;
/// The most loop segments (over all variables) generated for one kernel.
const MAX_SEGMENTS: usize = 64;
