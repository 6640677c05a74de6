//! The back-end boundary: a compiled step behind one interface.
//!
//! The compile driver ([`crate::compile`]) turns a graph into what a back
//! end's [`Target`] asks for: the verified graph itself for the reference
//! interpreter ([`interp`]), or a verified [`kernel::Program`] with its
//! memory plan for a code generator ([`cpu`]; [`cuda`] emits PTX for the
//! same program). A back end then only turns that into an [`Executable`]:
//! it never runs a graph pass itself, so what `nnc graph --stage fused`
//! prints is exactly what runs.
//!
//! Every back end reads and updates the same [`Env`] and is differentially
//! tested against the interpreter.
//!
//! [`kernel::Program`]: crate::kernel::Program

pub mod tensor;
pub mod env;
pub mod interp;
pub mod cpu;
pub mod cuda;

use std::collections::HashMap;

pub use env::{Env, EvalError, FeedKind};
pub use tensor::Tensor;

use crate::compile::{Compiled, Target};
use crate::diag::{Code, Diagnostic};
use crate::graph::Graph;

/// A compiled graph, ready to run step after step.
pub trait Executable {
    /// Runs the graph once on `env`'s inputs, parameters and state. With
    /// `update`, applies the graph's in-place updates and advances
    /// `env.step`. Returns every named output.
    ///
    /// A back end whose memory is not the host's (a GPU) may keep updated
    /// parameters and state on its device: `env` holds them after
    /// [`Executable::sync`]. Call it before reading them, or before another
    /// executable runs on the same `env`.
    fn run(&mut self, env: &mut Env, update: bool) -> Result<HashMap<String, Tensor>, EvalError>;

    /// Brings `env`'s parameters and state up to date with what runs with
    /// `update` left on the device. Back ends that update `env` in place
    /// have nothing to do.
    fn sync(&mut self, env: &mut Env) -> Result<(), EvalError> {
        let _ = env;
        Ok(())
    }

    /// What the compile driver produced for this executable: the graph it
    /// runs and, for a code generator, the kernel program and memory plan.
    fn compiled(&self) -> &Compiled;

    /// What compilation produced (kernel count, memory plan, phase times).
    fn stats(&self) -> ExecStats {
        ExecStats::of(self.compiled())
    }

    /// The generated code, when the back end was asked to keep it: a file
    /// name and its bytes for each piece (the CPU back end's machine code).
    fn code(&self) -> &[CodeFile] {
        &[]
    }

    /// A table of where run time went, when the back end was asked to
    /// record it (the CPU back end's `profile` option).
    fn profile(&self) -> Option<String> {
        None
    }
}

/// A piece of generated code: a file name and its bytes.
pub type CodeFile = (String, Vec<u8>);

/// Facts about a compiled graph, for `nnc bench`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ExecStats {
    /// Kernels run per step (0 when the graph is interpreted).
    pub kernels: usize,
    /// Bytes of temporaries after the memory plan.
    pub peak_bytes: usize,
    /// Bytes of temporaries with one buffer each.
    pub naive_bytes: usize,
    /// Milliseconds spent simplifying the graph.
    pub simplify_ms: f64,
    /// Milliseconds spent fusing it into kernels and planning memory.
    pub fuse_ms: f64,
    /// Milliseconds spent generating code.
    pub codegen_ms: f64,
}

impl ExecStats {
    /// The driver's share of the facts; a code generator adds its own time.
    pub fn of(c: &Compiled) -> ExecStats {
        let (kernels, peak_bytes, naive_bytes) = match &c.kernels {
            Some(k) => (k.program.kernels.len(), k.memory.peak_bytes(), k.memory.naive_bytes()),
            None => (0, 0, 0),
        };
        ExecStats {
            kernels,
            peak_bytes,
            naive_bytes,
            simplify_ms: c.timings.simplify_ms,
            fuse_ms: c.timings.fuse_ms,
            codegen_ms: 0.0,
        }
    }
}

/// A back end: says what it wants from the compile driver, and turns that
/// into an executable.
pub trait Backend {
    /// A short name for messages (`interp`, `cpu`).
    fn name(&self) -> &'static str;
    /// What the driver must produce for this back end.
    fn target(&self) -> Target;
    /// Builds an executable from the driver's output for [`Backend::target`].
    fn load(&self, compiled: Compiled) -> Result<Box<dyn Executable>, Diagnostic>;
}

/// Compiles `graph` for `backend`: the compile driver, then the back end.
/// Every caller that runs a graph (trainer, bench, REPL, tests) goes
/// through here.
pub fn compile(backend: &dyn Backend, graph: &Graph) -> Result<Box<dyn Executable>, Diagnostic> {
    let compiled = crate::compile::graph(graph, &backend.target())?;
    backend.load(compiled)
}

/// The coded diagnostic for a run of an executable that failed: a device
/// failure gets its own code and fix (E0502–E0505), anything else is the
/// back end's (E0501).
pub fn run_error(e: &EvalError) -> Diagnostic {
    match e {
        EvalError::Device(d) => cuda::backend::device_diagnostic(d),
        EvalError::Invalid(_)
        | EvalError::MissingFeed { .. }
        | EvalError::FeedShape { .. }
        | EvalError::IndexOutOfRange { .. } => {
            Diagnostic::error_nowhere(Code::BACKEND, format!("step failed: {e}"))
        }
    }
}
