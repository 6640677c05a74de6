//! The kernel IR ([`ir`], with [`index`] expressions), its verifier,
//! clean-ups, the in-place update and GEMM prologue rewrites, the memory plan and the text
//! dump. Produced by fusion (the `fuse` module), consumed by the back ends.
//!
//! Which of the target-specific rewrites run, and with which thresholds,
//! is a target's choice ([`KernelPasses`]); the compile driver
//! (the `compile` module) applies them.

pub mod index;
pub mod ir;
pub mod tidy;
pub mod inplace;
pub mod prologue;
pub mod memory;
pub mod verify;
pub mod dump;

pub use ir::{BufId, Expr, ExprId, Kernel, LoopKernel, Program};

/// The kernel passes a target asks for beyond fusion and in-place updates
/// (which every target gets).
#[derive(Clone, Debug, PartialEq)]
pub struct KernelPasses {
    /// Block-by-block products ([`prologue`]), or `None` for none.
    pub blocking: Option<Blocking>,
}

/// Cache blocking of matrix products: a CPU choice, for operands too large
/// to stay in cache between the kernel producing them and the product.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Blocking {
    /// Move a loop kernel that produces a product's operand into the
    /// product, one block at a time ([`ir::Prologue`]).
    pub prologues: bool,
    /// Keep a product's result one block at a time when only its epilogue
    /// reads it ([`ir::GemmKernel::c_blocks`]).
    pub blocked_results: bool,
    /// The smallest operand or result worth blocking, in bytes: a smaller
    /// one stays in cache anyway.
    pub min_bytes: usize,
    /// The largest block, in bytes (each thread holds one in scratch).
    pub max_block_bytes: usize,
}
