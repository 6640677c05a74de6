//! Fusion: turns a verified graph into a [`kernel::Program`](crate::kernel::Program).
//!
//! The files form a line and each uses only those before it (checked by
//! `fusion_flows_one_way` in `tests/layering.rs`): [`access`] (how each node reads its
//! operands, and the index arithmetic of movement ops) → [`realize`]
//! (which nodes are materialised) → [`fit`] (whether a node can join a
//! loop kernel, from index facts alone) → [`group`] (realized nodes into
//! kernels: elementwise chains, reductions with their producers and
//! consumers, matrix products with their epilogues) → [`build`] (kernel
//! expressions) → [`lower`] (each final group, once, as loops over index
//! expressions). The compile driver (the `compile` module) runs the
//! target's kernel passes and the kernel verifier afterwards.

// Fusion flows one way: each file uses only the files declared before it
// (checked by `fusion_flows_one_way` in `tests/layering.rs`).
pub mod access;
pub mod realize;
pub mod fit;
pub mod group;
pub mod build;
pub mod lower;

use crate::graph::Graph;
use crate::kernel::Program;

/// Fuses a graph that has passed `graph::verify`.
pub fn run(g: &Graph) -> Program {
    let realized = realize::plan(g);
    let groups = group::run(g, &realized);
    let p = lower::run(g, &realized, &groups);
    if cfg!(debug_assertions)
        && let Err(e) = crate::kernel::verify::verify(&p)
    {
        panic!("internal error: fusion produced an invalid program: {e}");
    }
    p
}
