//! Data and train blocks: their settings, checked and turned into plain
//! configuration the runtime executes.
//!
//! Settings are ordinary expressions (`lr = 0.1 / 2` works), evaluated by
//! the elaborator; this module checks each key, its type and its range, and
//! names the fix when one is wrong.
//!
//! - `config` — the checked configuration: `DataConfig`, `TrainConfig` and their parts.
//! - `fields` — a block's settings evaluated, and typed, range-checked record fields.
//! - `train` — a train block's settings; `data` — a data block's settings and sources;
//!   `evaluation` — metrics, validation, early stopping and cross-validation.
//! - here — `check_train`: the model, the loss and the data checked together.

mod config;
mod data;
mod evaluation;
mod fields;
mod train;

use std::collections::HashMap;

pub use config::{
    Average, ClassNames, DataConfig, EarlyStop, EvalConfig, KFold, Metric, Optimizer, Schedule, SequenceTask,
    Source, Targets, TaskKind, TrainConfig,
};
use fields::setting;
use train::train_config;

use super::eval::{ArgVal, Elaborator};
use super::program::Program;
use super::value::{TensorVal, Value};
use super::{Dim, forward, root_from_expr};
use crate::diag::{Code, Diagnostic};
use crate::graph::DType;
use crate::syntax::ast;

/// Checks a train block and everything it names: the model (instantiated,
/// forward checked with a symbolic batch), the data block and the loss
/// applied to the model's output.
pub fn check_train(prog: &Program, t: &ast::TrainDef) -> (Option<TrainConfig>, Vec<Diagnostic>) {
    let mut el = Elaborator::check(prog);
    let cfg = train_config(&mut el, t);
    if let Some(cfg) = &cfg
        && let Some(root) = root_from_expr(&mut el, &cfg.model)
        && let Some((inputs, Value::Tensor(out))) =
            forward(&mut el, root, &HashMap::new(), &HashMap::new(), t.span)
    {
        // Checking: the labels have a shape and no node.
        let (dims, dtype) = target_of(cfg.data.targets, &out.shape);
        let labels = el.tensor(dims, dtype, t.data.span, |_| None);
        let output = Value::Tensor(out.clone());
        let loss_span = setting(t, "loss").map_or(t.span, |s| s.value.span);
        let args = vec![
            ArgVal { name: None, value: output, span: out.origin },
            ArgVal { name: None, value: labels, span: t.data.span },
        ];
        let l = el.call_fn(&cfg.loss, None, args, loss_span);
        if let Value::Tensor(l) = l
            && !l.shape.is_empty()
        {
            let d = Diagnostic::error(
                Code::LOSS,
                loss_span,
                format!("the loss has shape {}, not a scalar", super::dim::show_shape(&l.shape)),
            )
            .with_help("reduce it to one number, e.g. with `mean(...)`");
            el.err(d);
        }
        check_data_fits(&mut el, t, cfg, &inputs, &out);
        let metrics_span = setting(t, "metrics").map_or(t.span, |s| s.value.span);
        let classes = if out.shape.len() >= 2 { out.shape.last().and_then(Dim::known) } else { None };
        evaluation::check_fits(&mut el, cfg, classes, metrics_span);
    }
    let ok = !el.failed();
    (cfg.filter(|_| ok), el.diags)
}

/// The class labels a model's output is trained against: one class index
/// per example for an output `[B, C]`, one per position for `[B, T, C]`
/// (the output without its last axis); an output of rank 1 is matched as
/// is. Float targets ([`Targets::Values`]) have the output's shape.
pub fn target_shape<T: Clone>(output: &[T]) -> Vec<T> {
    if output.len() >= 2 { output[..output.len() - 1].to_vec() } else { output.to_vec() }
}

/// The shape and element type of the labels for an output of shape
/// `output`: class indices ([`target_shape`], `int`) or float targets
/// shaped like the output.
pub fn target_of<T: Clone>(targets: Targets, output: &[T]) -> (Vec<T>, DType) {
    match targets {
        Targets::Classes => (target_shape(output), DType::I32),
        Targets::Values => (output.to_vec(), DType::F32),
    }
}

/// Checks what can be known before loading anything: the inputs, labels
/// and metrics a generated sequence task asks of the model.
fn check_data_fits(
    el: &mut Elaborator<'_>,
    t: &ast::TrainDef,
    cfg: &TrainConfig,
    inputs: &[(String, Value)],
    out: &TensorVal,
) {
    let data_def = el.prog.data.get(&t.data.name).cloned();
    let source_span = |key: &str| {
        data_def
            .as_ref()
            .and_then(|d| d.settings.iter().find(|s| s.key.name == key))
            .map_or(t.data.span, |s| s.value.span)
    };
    let metrics_span = setting(t, "metrics").map_or(t.span, |s| s.value.span);
    let splits = [("train", Some(&cfg.data.train)), ("test", cfg.data.test.as_ref())];
    for (key, src) in splits {
        let Some(Source::Sequence(task)) = src else {
            continue;
        };
        let at = source_span(key);
        for (name, v) in inputs {
            let Value::Tensor(x) = v else { continue };
            if name != SequenceTask::SOURCE && name != SequenceTask::TARGET {
                let d = Diagnostic::error(
                    Code::DATA_SHAPE,
                    x.origin,
                    format!("input `{name}` of `forward` has no matching field in `{task}`"),
                )
                .with_label(at, "the examples come from here")
                .with_note(format!(
                    "it generates `{}` (the digits) and `{}` (the answer shifted right behind the start token {})",
                    SequenceTask::SOURCE,
                    SequenceTask::TARGET,
                    SequenceTask::START
                ))
                .with_help("name the model's inputs after the fields they take");
                el.err(d);
                continue;
            }
            let fits = x.shape.len() == 2 && x.shape[1].known().is_none_or(|n| n == task.length as i64);
            if !fits {
                let d = Diagnostic::error(
                    Code::DATA_SHAPE,
                    x.origin,
                    format!(
                        "input `{name}` takes examples of shape {}, but `{task}` generates sequences of length {}",
                        super::dim::show_shape(x.shape.get(1..).unwrap_or(&[])),
                        task.length
                    ),
                )
                .with_primary(format!("declared with shape {}", super::dim::show_shape(&x.shape)))
                .with_label(at, format!("this generates examples of shape [{}]", task.length))
                .with_help("make the declared sequence length match the data block's `length`");
                el.err(d);
            }
        }
        let classes = out.shape.last().and_then(Dim::known);
        let per_position =
            out.shape.len() == 3 && out.shape[1].known().is_none_or(|n| n == task.length as i64);
        if !per_position || classes.is_some_and(|c| c < 10) {
            let d = Diagnostic::error(
                Code::DATA_SHAPE,
                out.origin,
                format!(
                    "the model's output has shape {}, but `{task}` has one label per position: digits 0 to 9 for each of {} positions",
                    super::dim::show_shape(&out.shape),
                    task.length
                ),
            )
            .with_label(at, "the labels come from here")
            .with_help(format!(
                "return scores of shape [B, {}, C] with at least 10 classes C",
                task.length
            ));
            el.err(d);
        }
    }
    if cfg.eval.metrics.contains(&Metric::SequenceAccuracy) {
        let decodable = matches!(cfg.data.test, Some(Source::Sequence(_)))
            && inputs.iter().any(|(n, _)| n == SequenceTask::TARGET);
        if !decodable {
            let d = Diagnostic::error(
                Code::SETTING,
                metrics_span,
                "`sequence_accuracy` needs a generated sequence task as the test split and a decoder input `tgt`",
            )
            .with_note(
                "greedy decoding starts each answer with the start token and feeds the model's own predictions back through `tgt`",
            )
            .with_help("use `test = reverse_digits(...)` (or `sort_digits`) and a `forward(src, tgt)`");
            el.err(d);
        }
    }
}
