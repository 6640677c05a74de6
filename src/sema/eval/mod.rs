//! The elaborator: evaluates a program's compile-time part and walks its
//! tensor code, checking shapes and — when lowering — building the graph.
//!
//! One walk serves both purposes. In check mode symbolic dimensions stay
//! symbols (`B`) and no graph exists; in lowering mode every symbol is bound
//! to a size, so every shape is known and each tensor operation also emits
//! nodes. Shape rules are therefore written once ([`super::ops`]) and the
//! graph can never disagree with the checker.
//!
//! - `mod.rs` — the elaborator's state, its [`Mode`], and making tensor values.
//! - `frame` — local variables of one function activation.
//! - `stmt` — blocks, statements, loops and list comprehensions.
//! - `expr` — expressions, name lookup and fields.
//! - `operators` — unary and binary operators on compile-time values.
//! - `call` — calls, argument binding and user function bodies.
//! - `messages` — plurals and "did you mean" suggestions for messages.

mod call;
mod expr;
mod frame;
mod messages;
mod operators;
mod stmt;

use std::collections::HashMap;
use std::rc::Rc;

use super::dim::{Dim, show_shape};
use super::program::Program;
use super::value::{Init, TensorVal, Value};
use crate::diag::{Code, Diagnostic, Span};
use crate::graph::{DType, Graph, NodeId, Shape};
use crate::syntax::ast;
pub use frame::Frame;
pub use messages::{plural, shape_of, suggest};

/// How deep calls may nest before the checker calls it recursion.
const MAX_CALL_DEPTH: usize = 64;
/// How many iterations all `for` loops of one elaboration may unroll in total.
const MAX_UNROLL: usize = 100_000;

/// An instantiated model: its definition, its dotted path, and the values of
/// its construction parameters and members.
#[derive(Clone, Debug)]
pub struct Instance {
    /// The model.
    pub model: Rc<ast::ModelDef>,
    /// Dotted path from the root instance (`""` for the root, `fc1`, `blocks.0.attn`).
    pub path: String,
    /// Construction parameters and members by name.
    pub scope: HashMap<String, Value>,
}

/// A trainable parameter declared with `param(...)`.
#[derive(Clone, Debug)]
pub struct ParamSpec {
    /// Dotted name (`fc1.weight`), the checkpoint key.
    pub name: String,
    /// Its shape.
    pub shape: Shape,
    /// How to initialise it.
    pub init: Init,
    /// The `param(...)` expression.
    pub span: Span,
    /// Its node, when lowering.
    pub node: Option<NodeId>,
}

/// A call argument after evaluation.
#[derive(Clone, Debug)]
pub struct ArgVal {
    /// The keyword, for keyword arguments.
    pub name: Option<ast::Ident>,
    /// The value.
    pub value: Value,
    /// The argument expression.
    pub span: Span,
}

/// What an elaboration is for. The graph exists only while lowering, so
/// emitting a node while checking cannot be written without matching the mode.
#[derive(Debug)]
pub enum Mode {
    /// Checking: sizes may be known only by name and no graph is built.
    Check,
    /// Lowering: every size is bound, and each tensor operation also emits
    /// its nodes into this graph.
    Lower(Graph),
}

/// The elaborator's state for one check or one lowering.
pub struct Elaborator<'p> {
    /// The program being elaborated.
    pub prog: &'p Program,
    /// Errors found so far.
    pub diags: Vec<Diagnostic>,
    /// Checking, or lowering into a graph.
    mode: Mode,
    /// Whether dropout is active.
    pub training: bool,
    /// Every model instance created.
    pub layers: Vec<Instance>,
    /// Every parameter declared, in declaration order.
    pub params: Vec<ParamSpec>,
    /// The member path a constructor call in a model body will take.
    pub(super) naming: Option<String>,
    pub(super) next_stream: u32,
    /// Calls being evaluated, outermost first: what is called and where.
    pub(super) calls: Vec<(String, Span)>,
    /// Set while evaluating a shape pattern, where `/` is floor division.
    pub(super) dim_ctx: bool,
    pub(super) depth: usize,
    unrolled: usize,
    /// Set by a failed `assert`: the rest of the function is not evaluated.
    pub(super) halted: bool,
}

impl<'p> Elaborator<'p> {
    /// A check-mode elaborator (no graph).
    pub fn check(prog: &'p Program) -> Elaborator<'p> {
        Elaborator {
            prog,
            diags: Vec::new(),
            mode: Mode::Check,
            training: false,
            layers: Vec::new(),
            params: Vec::new(),
            naming: None,
            next_stream: 0,
            calls: Vec::new(),
            dim_ctx: false,
            depth: 0,
            unrolled: 0,
            halted: false,
        }
    }

    /// A lowering elaborator building a graph.
    pub fn lower(prog: &'p Program, training: bool) -> Elaborator<'p> {
        Elaborator { mode: Mode::Lower(Graph::new()), training, ..Elaborator::check(prog) }
    }

    /// True while lowering (every size bound, nodes emitted).
    pub fn is_lowering(&self) -> bool {
        matches!(self.mode, Mode::Lower(_))
    }

    /// The graph built so far; `None` while checking.
    pub fn graph(&self) -> Option<&Graph> {
        match &self.mode {
            Mode::Check => None,
            Mode::Lower(g) => Some(g),
        }
    }

    /// Ends lowering: hands over the graph and the nodes of `results` (the
    /// tensors the caller makes outputs). `None` while checking, and — after
    /// reporting — for a result without a node.
    pub fn finish<const N: usize>(&mut self, results: [&TensorVal; N]) -> Option<(Graph, [NodeId; N])> {
        if !self.is_lowering() {
            return None;
        }
        if let Some(t) = results.iter().find(|t| t.node.is_none()) {
            self.unbuilt(&t.shape, t.origin);
            return None;
        }
        let nodes: [NodeId; N] = results.iter().filter_map(|t| t.node).collect::<Vec<_>>().try_into().ok()?;
        match std::mem::replace(&mut self.mode, Mode::Check) {
            Mode::Lower(g) => Some((g, nodes)),
            Mode::Check => None,
        }
    }

    /// Names the layer the next constructor call creates (the REPL binds
    /// `let fc = Linear(4, 2)` this way; model bodies name their members).
    pub fn name_next_layer(&mut self, name: Option<String>) {
        self.naming = name;
    }

    /// Records an error and returns [`Value::Poison`]. An error whose
    /// place is inside the prelude is moved to the user's call that led
    /// there, keeping the prelude location as a secondary label.
    pub fn err(&mut self, mut d: Diagnostic) -> Value {
        let in_prelude =
            |this: &Self, span: Span| this.prog.sources.get(span.file).name.starts_with("<prelude>");
        if d.primary_span().is_some_and(|s| in_prelude(self, s))
            && let Some((what, call)) = self.calls.iter().rev().find(|(_, c)| !in_prelude(self, *c))
        {
            let label = crate::diag::Label { span: *call, message: format!("in this call to {what}") };
            d.labels.insert(0, label);
        }
        self.diags.push(d);
        Value::Poison
    }

    /// True if any error has been recorded.
    pub fn failed(&self) -> bool {
        self.diags.iter().any(|d| d.is_error())
    }

    // ----- tensors -------------------------------------------------------

    /// Makes a tensor value. While lowering, `build` emits its nodes and
    /// returns the result's, or `None` when an operand has no node or a size
    /// is not known (reported here); while checking it never runs.
    pub fn tensor(
        &mut self,
        shape: Vec<Dim>,
        dtype: DType,
        origin: Span,
        build: impl FnOnce(&mut Graph) -> Option<NodeId>,
    ) -> Value {
        let node = match &mut self.mode {
            Mode::Check => None,
            Mode::Lower(g) => {
                let watermark = g.node_ids().last().map_or(0, |n| n.0 + 1);
                let Some(id) = build(g) else {
                    return self.unbuilt(&shape, origin);
                };
                // Tag every node this expression created with its source span.
                for n in g.node_ids() {
                    if n.0 >= watermark && g.node(n).origin.is_none() {
                        g.node_mut(n).origin = Some(origin);
                    }
                }
                Some(id)
            }
        };
        Value::Tensor(TensorVal { shape, dtype, node, origin })
    }

    /// Reports a tensor the graph cannot hold: one whose shape is not known
    /// while lowering, or that was never lowered.
    fn unbuilt(&mut self, shape: &[Dim], origin: Span) -> Value {
        let d = Diagnostic::error(
            Code::DATA_SHAPE,
            origin,
            format!("the shape {} is not known when the graph is built", show_shape(shape)),
        )
        .with_help("every size must be bound (from the data or the model's arguments) before lowering");
        self.err(d)
    }

    /// The concrete shape of `dims` for building a graph: `None` when a size
    /// is known only by name (never the case while lowering). A negative
    /// size, already reported, is taken as 0.
    pub fn concrete(dims: &[Dim]) -> Option<Shape> {
        dims.iter().map(|d| d.known().map(|n| n.max(0) as usize)).collect::<Option<Vec<_>>>().map(Shape)
    }

    /// [`concrete`](Self::concrete), reporting (E0404 at `span`) a size
    /// known only by name.
    pub fn bound_shape(&mut self, dims: &[Dim], span: Span) -> Option<Shape> {
        let shape = Self::concrete(dims);
        if shape.is_none() {
            self.unbuilt(dims, span);
        }
        shape
    }
}
