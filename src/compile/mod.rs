//! The compile driver: the one place that assembles the passes between a
//! graph and a back end.
//!
//! A back end describes what it wants as a [`Target`]; [`graph`] runs the
//! passes that target asks for and returns a [`Compiled`]:
//!
//! - the reference target (the interpreter) gets the graph as built,
//!   verified, and nothing else, so the oracle sees exactly what the user's
//!   program lowered to;
//! - a kernel target gets the graph simplified ([`crate::opt::simplify`])
//!   and verified, fused ([`crate::fuse::run`]), the target's kernel passes
//!   ([`KernelPasses`]: in-place updates, then blocking if the target wants
//!   it), the kernel program verified, and its memory plan.
//!
//! `nnc graph --stage step|fused`, `nnc bench`, the trainer, the REPL and
//! every back end get their graphs and programs from here, so a dump is of
//! exactly what runs.
//!
//! The driver compiles any graph: a forward graph, a training step, a step
//! cut at the gradient boundary (the gradients as outputs of one graph,
//! the optimizer update another, for data-parallel training), or a loop
//! body compiled once. It knows nothing of where a graph came from.

use std::sync::Arc;
use std::time::Instant;

use crate::diag::{Code, Diagnostic};
use crate::graph::Graph;
use crate::kernel::memory::{self, MemoryPlan};
use crate::kernel::{self, Program};

pub use crate::kernel::{Blocking, KernelPasses};

/// What a back end asks the driver for.
#[derive(Clone, Debug, PartialEq)]
pub struct Target {
    /// The back end's name, for messages (`interp`, `cpu`, `cuda`).
    pub name: &'static str,
    /// `None`: the back end runs the graph itself (the reference
    /// interpreter), and the driver only verifies it. `Some`: the graph is
    /// simplified and fused, and these kernel passes run.
    pub kernels: Option<KernelPasses>,
}

impl Target {
    /// The reference target: the verified graph as built.
    pub fn reference() -> Target {
        Target { name: "interp", kernels: None }
    }
}

/// A kernel program and its memory plan.
#[derive(Clone, Debug)]
pub struct Kernels {
    /// The verified program, in launch order.
    pub program: Arc<Program>,
    /// Where each temporary lives.
    pub memory: MemoryPlan,
}

/// Milliseconds spent in each phase of [`graph`].
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Timings {
    /// Simplifying and verifying the graph.
    pub simplify_ms: f64,
    /// Fusing, the kernel passes, verifying and planning memory.
    pub fuse_ms: f64,
}

/// What the driver produced for a target.
#[derive(Clone, Debug)]
pub struct Compiled {
    /// The target it was compiled for.
    pub target: Target,
    /// The graph the back end runs, or that the kernels were fused from
    /// (simplified for a kernel target).
    pub graph: Graph,
    /// The kernel program, for a kernel target.
    pub kernels: Option<Kernels>,
    /// Where the time went.
    pub timings: Timings,
}

impl Compiled {
    /// The text `nnc graph --stage fused` prints for this program (none for
    /// the reference target).
    pub fn fused_text(&self) -> Option<String> {
        let k = self.kernels.as_ref()?;
        Some(kernel::dump::text(&self.graph, &k.program, &k.memory))
    }
}

/// Compiles `g` for `target`.
///
/// # Errors
/// A graph that fails verification, or a kernel program that fails
/// `kernel::verify`, is an internal error, reported as a diagnostic
/// (`E0501`) rather than a panic.
pub fn graph(g: &Graph, target: &Target) -> Result<Compiled, Diagnostic> {
    let t0 = Instant::now();
    let mut g = g.clone();
    let Some(passes) = &target.kernels else {
        crate::graph::verify::verify(&g).map_err(|e| internal(target, e.to_string()))?;
        let timings = Timings { simplify_ms: ms(t0), fuse_ms: 0.0 };
        return Ok(Compiled { target: target.clone(), graph: g, kernels: None, timings });
    };
    crate::opt::simplify(&mut g);
    crate::graph::verify::verify(&g).map_err(|e| internal(target, e.to_string()))?;
    let simplify_ms = ms(t0);
    let t1 = Instant::now();
    let program = kernels(&g, passes);
    kernel::verify::verify(&program).map_err(|e| internal(target, e))?;
    let memory = memory::plan(&program);
    let timings = Timings { simplify_ms, fuse_ms: ms(t1) };
    let kernels = Some(Kernels { program: Arc::new(program), memory });
    Ok(Compiled { target: target.clone(), graph: g, kernels, timings })
}

/// Fusion and the target's kernel passes, in order.
fn kernels(g: &Graph, passes: &KernelPasses) -> Program {
    let mut p = crate::fuse::run(g);
    kernel::inplace::run(&mut p);
    if let Some(b) = &passes.blocking {
        kernel::prologue::run(&mut p, b);
    }
    p
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}

fn internal(target: &Target, msg: String) -> Diagnostic {
    Diagnostic::error_nowhere(
        Code::BACKEND,
        format!("the {} back end cannot compile the graph: {msg}", target.name),
    )
}
