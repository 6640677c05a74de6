//! Back ends behind one interface: a graph is compiled once into an
//! [`Executable`] and then run step after step.
//!
//! The reference interpreter is the always-available back end; faster ones
//! implement the same traits and are tested against it.

use std::collections::HashMap;

use super::Tensor;
use super::interp::{self, Env, EvalError};
use crate::diag::Diagnostic;
use crate::graph::Graph;

/// A compiled graph.
pub trait Executable {
    /// Runs the graph once on `env`'s inputs, parameters and state. With
    /// `update`, applies the graph's in-place updates to `env` afterwards and
    /// advances `env.step`. Returns every named output.
    fn run(&mut self, env: &mut Env, update: bool) -> Result<HashMap<String, Tensor>, EvalError>;

    /// What compilation produced (kernel count, memory plan), when the back
    /// end has such facts.
    fn stats(&self) -> Option<ExecStats> {
        None
    }

    /// A table of where run time went, when the back end was asked to
    /// record it (`NNC_PROFILE=1` for the CPU back end).
    fn profile(&self) -> Option<String> {
        None
    }
}

/// Facts about a compiled graph, for `nnc bench`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ExecStats {
    /// Kernels run per step.
    pub kernels: usize,
    /// Bytes of temporaries after the memory plan.
    pub peak_bytes: usize,
    /// Bytes of temporaries with one buffer each.
    pub naive_bytes: usize,
    /// Milliseconds spent simplifying the graph.
    pub simplify_ms: f64,
    /// Milliseconds spent fusing it into kernels and planning memory.
    pub fuse_ms: f64,
    /// Milliseconds spent generating machine code.
    pub codegen_ms: f64,
}

/// Compiles graphs.
pub trait Backend {
    /// A short name for messages (`interp`, `cpu`).
    fn name(&self) -> &'static str;
    /// Compiles `graph` (which has passed `graph::verify`).
    fn compile(&self, graph: &Graph) -> Result<Box<dyn Executable>, Diagnostic>;
}

/// The reference interpreter as a back end.
pub struct Interp;

struct Interpreted(Graph);

impl Executable for Interpreted {
    fn run(&mut self, env: &mut Env, update: bool) -> Result<HashMap<String, Tensor>, EvalError> {
        let g = &self.0;
        let values = if update { interp::step(g, env)? } else { interp::eval(g, env)? };
        Ok(g.outputs().iter().map(|(name, id)| (name.clone(), values.get(*id).clone())).collect())
    }
}

impl Backend for Interp {
    fn name(&self) -> &'static str {
        "interp"
    }

    fn compile(&self, graph: &Graph) -> Result<Box<dyn Executable>, Diagnostic> {
        Ok(Box::new(Interpreted(graph.clone())))
    }
}
