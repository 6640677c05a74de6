//! Fusion: turns a verified graph into a [`kernel::Program`](crate::kernel::Program).
//!
//! Three steps, one module each: [`realize`] decides which nodes are
//! materialised, [`group`] gathers realized nodes into kernels (elementwise
//! chains, reductions with their producers and consumers, matrix products
//! with their epilogues), and [`lower`] writes each group as loops over
//! index expressions ([`build`] folds every movement op into them).
//! The compile driver (the `compile` module) runs the target's kernel passes
//! and the kernel verifier afterwards.

// Fusion flows one way: each file uses only the files declared before it
// (checked by `tests::fusion_flows_one_way`).
pub mod access;
pub mod realize;
pub mod fit;
pub mod group;
pub mod build;
pub mod lower;

#[cfg(test)]
mod tests;

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
