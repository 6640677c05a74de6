//! nnc: a compiler for `.nn` files, which describe neural networks and
//! their training loops.
//!
//! The modules are listed in pipeline order; `docs/ARCHITECTURE.md` is the map.
#![warn(missing_docs)]

pub mod diag;
pub mod syntax;
pub mod sema;
pub mod graph;
pub mod autodiff;
pub mod opt;
pub mod fuse;
pub mod kernel;
pub mod compile;
pub mod backend;
pub mod train;
pub mod plot;
pub mod cli;
