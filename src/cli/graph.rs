//! `nnc graph FILE --stage ast|ir|backward|step|fused --format text|dot --target cpu`: print a
//! pipeline stage; `step` and `fused` are what the compile driver produces for the target.

use std::collections::HashMap;
use std::path::Path;

use super::{Format, Outcome, Stage, TargetArg, load_checked};
use crate::diag::{Code, Diagnostic};
use crate::graph::dump;
use crate::sema::{self, Program};
use crate::syntax::{ast, parser};

/// Runs the dump.
pub fn run(
    file: &Path,
    stage: Stage,
    format: Format,
    target: TargetArg,
    model: Option<String>,
    dims: &[(String, i64)],
) -> Outcome {
    let (prog, mut diags) = load_checked(file);
    let mut stdout = String::new();
    if diags.iter().any(Diagnostic::is_error) {
        return Outcome { stdout, diags, sources: prog.sources };
    }
    match stage {
        Stage::Ast => {
            // The root file is the first one after the prelude.
            let root =
                prog.sources.files().iter().enumerate().find(|(_, f)| !f.name.starts_with("<prelude>"));
            if let Some((i, f)) = root
                && let Ok(m) = parser::parse(crate::diag::FileId(i as u32), &f.text)
            {
                stdout = crate::syntax::dump::module(&m);
            }
        }
        Stage::Backward | Stage::Step | Stage::Fused => match step_graph(&prog, model.as_deref(), dims) {
            Err(ds) => diags.extend(ds),
            Ok((title, graph)) if stage == Stage::Backward => {
                stdout = match format {
                    Format::Text => format!("// {title}\n{}", dump::text(&graph)),
                    Format::Dot => dump::dot(&graph),
                };
            }
            // What the compile driver makes of the step for the target: the
            // same call every back end's compilation goes through.
            Ok((title, graph)) => match crate::compile::graph(&graph, &target.target()) {
                Err(d) => diags.push(d),
                Ok(compiled) => {
                    stdout = match (stage, format, compiled.fused_text()) {
                        (Stage::Fused, _, Some(text)) => format!("// {title}, fused\n{text}"),
                        (Stage::Fused | Stage::Step, Format::Text, _) => {
                            format!("// {title}, simplified\n{}", dump::text(&compiled.graph))
                        }
                        (_, _, _) => dump::dot(&compiled.graph),
                    };
                }
            },
        },
        Stage::Ir => match forward_graph(&prog, model.as_deref(), dims) {
            Ok((title, graph)) => {
                stdout = match format {
                    Format::Text => format!("// {title}\n{}", dump::text(&graph)),
                    Format::Dot => dump::dot(&graph),
                };
            }
            Err(ds) => diags.extend(ds),
        },
    }
    Outcome { stdout, diags, sources: prog.sources }
}

/// The forward graph of `--stage ir`, with a title naming the model and
/// the dimension bindings.
pub(super) fn forward_graph(
    prog: &Program,
    model: Option<&str>,
    dims: &[(String, i64)],
) -> Result<(String, crate::graph::Graph), Vec<Diagnostic>> {
    let (expr, batch) = select_model(prog, model).map_err(|d| vec![d])?;
    let mut binding = sema::batch_binding(prog, &expr, batch);
    binding.extend(dims.iter().cloned());
    let lowered = sema::lower_forward(prog, &expr, &binding, &HashMap::new(), false)?;
    let mut bound: Vec<String> = binding.iter().map(|(k, v)| format!("{k}={v}")).collect();
    bound.sort();
    Ok((format!("{} forward ({})", lowered.model, bound.join(", ")), lowered.graph))
}

/// The graph `--stage step` and `--stage fused` start from: the first train
/// block's training step (at its batch size), else the forward graph.
pub(super) fn step_graph(
    prog: &Program,
    model: Option<&str>,
    dims: &[(String, i64)],
) -> Result<(String, crate::graph::Graph), Vec<Diagnostic>> {
    if model.is_none()
        && let Some(t) = prog.trains.first()
    {
        let (cfg, diags) = crate::sema::blocks::check_train(prog, t);
        let Some(cfg) = cfg else { return Err(diags) };
        let step = crate::train::build_step(prog, &cfg, cfg.batch, true)?;
        let title = format!("{} training step (batch {})", crate::syntax::dump::expr(&cfg.model), cfg.batch);
        return Ok((title, step.graph));
    }
    forward_graph(prog, model, dims)
}

/// The model to lower and its batch size: `--model NAME`, else the first
/// train block's model, else the last user model without required parameters.
fn select_model(prog: &Program, name: Option<&str>) -> Result<(ast::Expr, i64), Diagnostic> {
    let batch_of = |t: &ast::TrainDef| {
        t.settings
            .iter()
            .find(|s| s.key.name == "batch")
            .and_then(|s| match s.value.kind {
                ast::ExprKind::Int(n) => Some(n),
                _ => None,
            })
            .unwrap_or(1)
    };
    if let Some(name) = name {
        return match prog.models.get(name) {
            Some(m) => {
                let batch = prog
                    .trains
                    .iter()
                    .find(|t| matches!(&t.model.kind, ast::ExprKind::Name(n) if n == name))
                    .map_or(1, |t| batch_of(t));
                Ok((sema::model_ref(&m.def), batch))
            }
            None => Err(Diagnostic::error_nowhere(Code::UNKNOWN_NAME, format!("no model named `{name}`"))
                .with_help("`nnc graph FILE --stage ast` lists the models")),
        };
    }
    if let Some(t) = prog.trains.first() {
        return Ok((t.model.clone(), batch_of(t)));
    }
    prog.user_items
        .iter()
        .rev()
        .find_map(|i| match i {
            ast::Item::Model(m) if m.params.iter().all(|p| p.default.is_some()) => {
                Some((sema::model_ref(m), 1))
            }
            _ => None,
        })
        .ok_or_else(|| {
            Diagnostic::error_nowhere(Code::UNKNOWN_NAME, "the program has no model to lower")
                .with_help("define a model with a `forward` function, or name one with `--model`")
        })
}
