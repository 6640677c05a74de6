//! The training step: one graph holding the forward pass, the loss, the
//! backward pass and the optimizer update.
//!
//! [`build_step`] lowers the model for a concrete batch size, applies the
//! train block's loss to its output and a `target` input, differentiates
//! with [`crate::autodiff::grad`] and appends [`optim`]'s updates. Parameters
//! and optimizer state persist between steps; the step updates them in place.

use std::collections::HashMap;

use super::optim;
pub use super::optim::StateSpec;
use crate::diag::Diagnostic;
use crate::graph::{DType, Graph, NodeId, Op, Shape};
use crate::sema::blocks::TrainConfig;
use crate::sema::eval::{ArgVal, Elaborator, ParamSpec};
use crate::sema::value::Value;
use crate::sema::{self, Program};

/// Name of the labels input.
pub const TARGET: &str = "target";

/// One input the step graph is fed each step.
#[derive(Clone, Debug, PartialEq)]
pub struct StepInput {
    /// The name of `forward`'s parameter (and of the graph's `Input` node).
    pub name: String,
    /// The shape of one example (without the batch dimension).
    pub shape: Shape,
    /// `I32` for token ids (`int[B, T]`), else `F32`.
    pub dtype: DType,
}

/// An integer input used to index a table (an `Embedding`'s rows): its
/// values must lie in `0..rows`.
#[derive(Clone, Debug, PartialEq)]
pub struct TokenBound {
    /// The input's name.
    pub input: String,
    /// The number of rows of the smallest table it indexes.
    pub rows: usize,
    /// That table's parameter name (`embed.weight`), when it is a parameter.
    pub table: Option<String>,
}

/// A lowered step graph and what the runtime needs to feed it.
#[derive(Debug)]
pub struct Step {
    /// The graph: outputs `loss` and `output`; updates params and state when training.
    pub graph: Graph,
    /// Parameters in declaration order.
    pub params: Vec<ParamSpec>,
    /// Optimizer buffers (zero-initialised), when training.
    pub states: Vec<StateSpec>,
    /// The model's inputs, in `forward`'s order.
    pub inputs: Vec<StepInput>,
    /// The shape of one example's labels: `[]` for a class per example,
    /// `[T]` for a class per position (see [`crate::sema::blocks::target_shape`]),
    /// the output's shape for float targets.
    pub target: Shape,
    /// Class labels or float targets.
    pub targets: crate::sema::blocks::Targets,
    /// The batch size the graph was built for.
    pub batch: usize,
}

impl Step {
    /// The integer inputs that index tables, with the bound each must respect.
    pub fn token_bounds(&self) -> Vec<TokenBound> {
        let g = &self.graph;
        let mut out: Vec<TokenBound> = Vec::new();
        for input in self.inputs.iter().filter(|i| i.dtype == DType::I32) {
            let Some(&(start, _)) = g.inputs().iter().find(|(_, n)| *n == input.name) else {
                continue;
            };
            // Follow the ids through movement ops to the gathers they index.
            let mut stack = vec![start];
            let mut seen = std::collections::HashSet::new();
            while let Some(id) = stack.pop() {
                if !seen.insert(id) {
                    continue;
                }
                for user in g.users(id) {
                    let node = g.node(user);
                    match &node.op {
                        Op::Gather | Op::ScatterAdd if g.operands(user).get(1) == Some(&id) => {
                            let table = g.operands(user)[0];
                            let rows = match node.op {
                                Op::Gather => g.shape(table).0.first().copied().unwrap_or(0),
                                _ => node.shape.0.first().copied().unwrap_or(0),
                            };
                            let name = match &g.node(table).op {
                                Op::Param { name } => Some(name.clone()),
                                _ => None,
                            };
                            match out.iter_mut().find(|b| b.input == input.name) {
                                Some(b) if b.rows <= rows => {}
                                Some(b) => *b = TokenBound { input: input.name.clone(), rows, table: name },
                                None => out.push(TokenBound { input: input.name.clone(), rows, table: name }),
                            }
                        }
                        Op::Reshape
                        | Op::Permute { .. }
                        | Op::Expand
                        | Op::Slice { .. }
                        | Op::Concat { .. } => stack.push(user),
                        Op::Cast | Op::Detach if node.dtype == DType::I32 => stack.push(user),
                        _ => {}
                    }
                }
            }
        }
        out
    }
}

/// Builds the step graph for `batch` examples. With `training` the graph
/// includes dropout, the backward pass and the optimizer update; without,
/// it is the evaluation forward pass plus loss.
pub fn build_step(
    prog: &Program,
    cfg: &TrainConfig,
    batch: usize,
    training: bool,
) -> Result<Step, Vec<Diagnostic>> {
    let binding = sema::batch_binding(prog, &cfg.model, batch as i64);
    let mut el = Elaborator::lower(prog, training);
    let fail = |el: Elaborator<'_>| Err(sema::dedup(el.diags));
    let Some(root) = sema::root_from_expr(&mut el, &cfg.model) else { return fail(el) };
    let Some((inputs, Value::Tensor(out))) =
        sema::forward(&mut el, root, &binding, &HashMap::new(), cfg.span)
    else {
        return fail(el);
    };
    if inputs.is_empty() {
        let d = Diagnostic::error(
            crate::diag::Code::DATA_SHAPE,
            cfg.span,
            "a trained model's `forward` must take at least one input",
        );
        el.err(d);
        return fail(el);
    }
    let mut step_inputs = Vec::with_capacity(inputs.len());
    for (name, v) in &inputs {
        let Value::Tensor(x) = v else { continue };
        if x.shape.is_empty() || name == TARGET {
            let why = if name == TARGET { "is reserved for the labels" } else { "has no batch dimension" };
            let d = Diagnostic::error(
                crate::diag::Code::DATA_SHAPE,
                x.origin,
                format!("the name `{name}` of an input of a trained model's `forward` {why}"),
            )
            .with_help("inputs are batches: `[B, ...]`, named other than `target`");
            el.err(d);
            return fail(el);
        }
        let Some(full) = el.bound_shape(&x.shape, x.origin) else { return fail(el) };
        let shape = Shape(full.0[1..].to_vec());
        step_inputs.push(StepInput { name: name.clone(), shape, dtype: x.dtype });
    }
    let inputs = step_inputs;
    let (target_dims, target_dtype) = sema::blocks::target_of(cfg.data.targets, &out.shape);
    let Some(target_shape) = el.bound_shape(&target_dims, out.origin) else { return fail(el) };
    let target = Shape(target_shape.0.get(1..).unwrap_or(&[]).to_vec());
    let target_node = el.tensor(target_dims, target_dtype, cfg.span, |g| {
        Some(g.add(Op::Input { name: TARGET.into() }, &[], target_shape, target_dtype, None))
    });
    let args = vec![
        ArgVal { name: None, value: Value::Tensor(out.clone()), span: out.origin },
        ArgVal { name: None, value: target_node, span: cfg.span },
    ];
    let loss = el.call_fn(&cfg.loss, None, args, cfg.span);
    let Value::Tensor(loss) = loss else { return fail(el) };
    if el.failed() {
        return fail(el);
    }
    let Some((mut graph, [loss_node, out_node])) = el.finish([&loss, &out]) else { return fail(el) };
    graph.add_output("loss", loss_node);
    graph.add_output("output", out_node);
    let params = el.params;
    let mut states = Vec::new();
    if training {
        let wrt: Vec<NodeId> = params.iter().filter_map(|p| p.node).collect();
        let grads = match crate::autodiff::grad(&mut graph, loss_node, &wrt) {
            Ok(g) => g,
            Err(e) => {
                let d = Diagnostic::error_nowhere(
                    crate::diag::Code::BACKEND,
                    format!("cannot differentiate the model: {e}"),
                );
                return Err(vec![d]);
            }
        };
        let triples: Vec<(NodeId, String, NodeId)> = params
            .iter()
            .zip(&grads)
            .filter_map(|(p, &gr)| p.node.map(|n| (n, p.name.clone(), gr)))
            .collect();
        states = optim::append(&mut graph, &cfg.optimizer, &triples);
    }
    Ok(Step { graph, params, states, inputs, target, targets: cfg.data.targets, batch })
}
