//! The kernel IR ([`ir`], with [`index`] expressions), its verifier,
//! clean-ups, the in-place update and GEMM prologue rewrites, the memory plan and the text
//! dump. Produced by [`crate::fuse`], consumed by the back ends.

pub mod index;
pub mod ir;
pub mod tidy;
pub mod inplace;
pub mod prologue;
pub mod memory;
pub mod verify;
pub mod dump;

pub use ir::{BufId, Expr, ExprId, Kernel, LoopKernel, Program};
