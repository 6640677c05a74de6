//! nnc: a compiler for `.nn` files, which describe neural networks and
//! their training loops.
//!
//! The modules are listed in pipeline order; `docs/ARCHITECTURE.md` is the map.
#![warn(missing_docs)]

pub mod autodiff;
pub mod diag;
pub mod graph;
pub mod runtime;
pub mod syntax;
