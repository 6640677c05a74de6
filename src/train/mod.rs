//! The training step: one graph holding the forward pass, the loss, the
//! backward pass and the optimizer update.
//!
//! [`build_step`] lowers the model for a concrete batch size, applies the
//! train block's loss to its output and a `target` input, differentiates
//! with [`crate::autodiff::grad`] and appends [`optim`]'s updates. Parameters
//! and optimizer state persist between steps; the step updates them in place.

pub mod optim;

use std::collections::HashMap;

use crate::diag::Diagnostic;
use crate::graph::{DType, Graph, NodeId, Op, Shape};
use crate::sema::eval::{ArgVal, Elaborator, ParamSpec};
use crate::sema::train::TrainConfig;
use crate::sema::value::Value;
use crate::sema::{self, Program};
pub use optim::StateSpec;

/// Name of the labels input.
pub const TARGET: &str = "target";

/// A lowered step graph and what the runtime needs to feed it.
#[derive(Debug)]
pub struct Step {
    /// The graph: outputs `loss` and `output`; updates params and state when training.
    pub graph: Graph,
    /// Parameters in declaration order.
    pub params: Vec<ParamSpec>,
    /// Optimizer buffers (zero-initialised), when training.
    pub states: Vec<StateSpec>,
    /// The model input's name and per-example shape (without the batch dimension).
    pub input: (String, Shape),
    /// The batch size the graph was built for.
    pub batch: usize,
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
    let [(input_name, Value::Tensor(x))] = inputs.as_slice() else {
        let d = Diagnostic::error(
            crate::diag::Code::DATA_SHAPE,
            cfg.span,
            format!("a trained model's `forward` must take exactly one input, found {}", inputs.len()),
        );
        el.err(d);
        return fail(el);
    };
    let input = (input_name.clone(), Shape(Elaborator::concrete(&x.shape).0[1..].to_vec()));
    let target_shape = Shape(vec![batch]);
    let target = el.tensor(vec![sema::Dim::Known(batch as i64)], DType::I32, cfg.span, |g| {
        g.add(Op::Input { name: TARGET.into() }, &[], target_shape, DType::I32, None)
    });
    let args = vec![
        ArgVal { name: None, value: Value::Tensor(out.clone()), span: out.origin },
        ArgVal { name: None, value: target, span: cfg.span },
    ];
    let loss = el.call_fn(&cfg.loss, None, args, cfg.span);
    let Value::Tensor(loss) = loss else { return fail(el) };
    if el.failed() {
        return fail(el);
    }
    let mut graph = el.graph.take().unwrap_or_default();
    let (loss_node, out_node) = (loss.node.unwrap_or(NodeId(0)), out.node.unwrap_or(NodeId(0)));
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
    Ok(Step { graph, params, states, input, batch })
}
