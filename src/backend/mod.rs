//! Back ends that compile a graph into something faster than the
//! interpreter. Each implements [`crate::runtime::exec::Backend`] and is
//! differentially tested against the reference interpreter.

pub mod cpu;
