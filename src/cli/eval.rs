//! `nnc eval FILE --weights W`: evaluate saved weights on a split and print
//! the metrics, and for classifiers the per-class report and the confusion
//! matrix;
//! `nnc plot LOG -o PICTURE`: draw a `--log-json` log's curves.

use std::path::{Path, PathBuf};

use super::run::{base_dir, config, plot_error, plot_format};
use super::{Console, Outcome, report};
use crate::backend::Backend;
use crate::diag::{Code, Diagnostic};
use crate::sema::blocks::{Average, Metric, Targets, TrainConfig};
use crate::train::trainer::{RunOptions, Session, Split};

/// Flags of `nnc eval`.
#[derive(Debug)]
pub struct EvalFlags {
    /// The checkpoint.
    pub weights: PathBuf,
    /// The split to evaluate (default: test, else validation, else train).
    pub split: Option<Split>,
    /// Metrics named on the command line, replacing the train block's.
    pub metrics: Vec<String>,
    /// Draw the confusion matrix here.
    pub plot: Option<PathBuf>,
}

/// The metrics `nnc eval` reports when neither the command line nor the
/// train block names any.
fn default_metrics(targets: Targets) -> Vec<Metric> {
    match targets {
        Targets::Classes => vec![
            Metric::Accuracy,
            Metric::Precision(Average::Macro),
            Metric::Recall(Average::Macro),
            Metric::F1(Average::Macro),
            Metric::Confusion,
        ],
        Targets::Values => vec![Metric::Mse, Metric::Mae, Metric::R2],
    }
}

/// Reads `--metrics` names (comma-separated or repeated).
fn parse_metrics(names: &[String], targets: Targets) -> Result<Vec<Metric>, Diagnostic> {
    let mut out = Vec::new();
    for name in names.iter().flat_map(|n| n.split(',')).map(str::trim).filter(|n| !n.is_empty()) {
        let Some(m) = Metric::parse(name) else {
            return Err(Diagnostic::error_nowhere(Code::METRIC, format!("unknown metric `{name}`"))
                .with_help(
                    "name metrics as reports do: loss, accuracy, top5 (or top_k(5)), precision, recall, f1 \
                 (optionally _macro, _micro or _weighted), confusion, mse, mae, r2",
                ));
        };
        if let Some(need) = m.needs()
            && need != targets
        {
            let what = if targets == Targets::Values { "float targets" } else { "class labels" };
            return Err(Diagnostic::error_nowhere(
                Code::METRIC,
                format!("`{name}` does not fit this data, which has {what}"),
            ));
        }
        if !out.contains(&m) {
            out.push(m);
        }
    }
    Ok(out)
}

/// Evaluates saved weights.
pub fn eval(file: &Path, flags: &EvalFlags, backend: &dyn Backend, console: &mut Console) -> Outcome {
    let (prog, mut cfg) = match config(file) {
        Ok(x) => x,
        Err(o) => return o,
    };
    let fail = |sources, d: Diagnostic| Outcome { stdout: String::new(), diags: vec![d], sources };
    match parse_metrics(&flags.metrics, cfg.data.targets) {
        Ok(m) if !m.is_empty() => cfg.eval.metrics = m,
        Ok(_) if cfg.eval.metrics.is_empty() => cfg.eval.metrics = default_metrics(cfg.data.targets),
        Ok(_) => {}
        Err(d) => return fail(prog.sources, d),
    }
    if let Some(p) = &flags.plot
        && let Err(d) = plot_format(p)
    {
        return fail(prog.sources, d);
    }
    let opts =
        RunOptions { base_dir: base_dir(file), init: Some(flags.weights.clone()), ..RunOptions::default() };
    match evaluate(&prog, &cfg, &opts, flags, backend, console) {
        Ok(()) => Outcome { stdout: String::new(), diags: Vec::new(), sources: prog.sources },
        Err(d) => fail(prog.sources, d),
    }
}

fn evaluate(
    prog: &crate::sema::Program,
    cfg: &TrainConfig,
    opts: &RunOptions,
    flags: &EvalFlags,
    backend: &dyn Backend,
    console: &mut Console,
) -> Result<(), Diagnostic> {
    let mut session = Session::new(prog, cfg, opts, backend)?;
    let split = match flags.split {
        Some(s) if session.split_len(s) == 0 => {
            return Err(Diagnostic::error_nowhere(
                Code::MISSING_SETTING,
                format!("the data block `{}` has no {} split", cfg.data.name, s.name()),
            )
            .with_help("name it in the data block (`test = ...`, `valid = ...`) or the train block (`validate = split(0.1)`)"));
        }
        Some(s) => s,
        None => [Split::Test, Split::Validation, Split::Train]
            .into_iter()
            .find(|s| session.split_len(*s) > 0)
            .unwrap_or(Split::Train),
    };
    let e = session.evaluate_split(split)?.unwrap_or_else(|| unreachable!("the split has examples"));
    if let Some(c) = &e.classes
        && let Some(k) =
            cfg.eval.metrics.iter().find_map(|m| if let Metric::TopK(k) = m { Some(*k) } else { None })
        && k > c.classes()
    {
        return Err(Diagnostic::error_nowhere(
            Code::METRIC,
            format!("`top_k({k})` asks for more classes than the model's {}", c.classes()),
        ));
    }
    console.line(&format!("{} split: {} examples", split.name(), e.count));
    let mut line = String::new();
    for m in report::shown(cfg) {
        if let Some(v) = e.value(m) {
            line += &format!("{}{} {v:.4}", if line.is_empty() { "" } else { "  " }, m.name());
        }
    }
    console.line(&line);
    // The per-class report and the confusion matrix, whatever the metrics.
    let names = session.class_names();
    let text =
        report::final_report(split.name(), &e, names, &[Metric::F1(Average::Macro), Metric::Confusion]);
    if !text.is_empty() {
        console.line(text.trim_end());
    }
    if let Some(path) = &flags.plot {
        let Some(c) = e.classes.as_ref().filter(|c| c.total() > 0) else {
            return Err(Diagnostic::error_nowhere(
                Code::METRIC,
                "`--plot` draws the confusion matrix, which needs class labels",
            ));
        };
        let names = report::class_names(names, c.classes());
        let bytes = crate::plot::confusion(&c.confusion(), &names, plot_format(path)?)
            .map_err(|e| plot_error(path, &e))?;
        super::run::write_output(path, &bytes)?;
        console.line(&format!("plotted {}", path.display()));
    }
    Ok(())
}

/// Draws the curves of a `--log-json` log.
pub fn plot(log: &Path, out: &Path) -> Outcome {
    let run = || -> Result<(), Diagnostic> {
        let format = plot_format(out)?;
        let text = std::fs::read_to_string(log).map_err(|e| {
            Diagnostic::error_nowhere(Code::DATA_FILE, format!("cannot read `{}`: {e}", log.display()))
        })?;
        let panels = crate::plot::panels_from_log(&text).map_err(|e| {
            Diagnostic::error_nowhere(
                Code::DATA_FORMAT,
                format!("`{}` is not a training log: {e}", log.display()),
            )
            .with_help("give the file `nnc run --log-json` wrote")
        })?;
        let bytes = crate::plot::curves(&panels, format).map_err(|e| plot_error(out, &e))?;
        super::run::write_output(out, &bytes)
    };
    match run() {
        Ok(()) => Outcome {
            stdout: format!("plotted {}\n", out.display()),
            diags: Vec::new(),
            sources: Default::default(),
        },
        Err(d) => Outcome::error(d),
    }
}
