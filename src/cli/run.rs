//! `nnc run FILE`: train (or cross-validate) the program's train block.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use super::{Console, Outcome, load_checked, report};
use crate::backend::Backend;
use crate::diag::{Code, Diagnostic};
use crate::sema::blocks::{Optimizer, TrainConfig, check_train};
use crate::sema::{self, Program};
use crate::train::trainer::{Event, RunOptions, Session, Split};

/// Flags of `nnc run`.
#[derive(Debug, Default)]
pub struct RunFlags {
    /// Start from these weights.
    pub init: Option<PathBuf>,
    /// Write one JSON object per epoch here.
    pub log_json: Option<PathBuf>,
    /// Override the number of epochs.
    pub epochs: Option<usize>,
    /// Train on at most this many examples.
    pub limit: Option<usize>,
    /// Do not write the checkpoint.
    pub no_save: bool,
    /// Cross-validate with this many folds.
    pub folds: Option<usize>,
    /// Draw the loss and metric curves here (`.png` or `.svg`).
    pub plot: Option<PathBuf>,
}

/// Loads, checks and extracts the first train block.
pub(super) fn config(file: &Path) -> Result<(Program, TrainConfig), Outcome> {
    let (prog, diags) = load_checked(file);
    if diags.iter().any(Diagnostic::is_error) {
        return Err(Outcome { stdout: String::new(), diags, sources: prog.sources });
    }
    let Some(t) = prog.trains.first().cloned() else {
        let d = Diagnostic::error_nowhere(
            Code::MISSING_SETTING,
            format!("`{}` has no train block", file.display()),
        )
        .with_help("add `train Model on data { loss = ..., optimizer = ... }`");
        return Err(Outcome { stdout: String::new(), diags: vec![d], sources: prog.sources });
    };
    let (cfg, diags) = check_train(&prog, &t);
    match cfg {
        Some(cfg) => Ok((prog, cfg)),
        None => Err(Outcome { stdout: String::new(), diags: sema::dedup(diags), sources: prog.sources }),
    }
}

pub(super) fn base_dir(file: &Path) -> PathBuf {
    file.parent().map(Path::to_path_buf).unwrap_or_default()
}

fn describe(opt: &Optimizer) -> String {
    match opt {
        Optimizer::Sgd { lr, momentum, nesterov, weight_decay, .. } => {
            let mut s = format!("sgd lr {lr}");
            if *momentum != 0.0 {
                s += &format!(" momentum {momentum}");
            }
            if *nesterov {
                s += " nesterov";
            }
            if *weight_decay != 0.0 {
                s += &format!(" weight_decay {weight_decay}");
            }
            s
        }
        Optimizer::Adam { lr, weight_decay, decoupled, .. } => {
            let name = if *decoupled { "adamw" } else { "adam" };
            if *weight_decay != 0.0 {
                format!("{name} lr {lr} weight_decay {weight_decay}")
            } else {
                format!("{name} lr {lr}")
            }
        }
    }
}

/// Writes `bytes` to `path` atomically (a temporary file, then a rename).
pub(super) fn write_output(path: &Path, bytes: &[u8]) -> Result<(), Diagnostic> {
    crate::train::checkpoint::write_file(path, bytes).map_err(|e| {
        Diagnostic::error_nowhere(Code::WRITE, format!("cannot write `{}`: {e}", path.display()))
    })
}

/// Renders the loss and metric curves of the `--log-json` records `log`
/// into `path` (PNG or SVG by its extension).
fn plot_curves(log: &str, path: &Path) -> Result<(), Diagnostic> {
    let format = plot_format(path)?;
    let panels = crate::plot::panels_from_log(log).map_err(|e| plot_error(path, &e))?;
    let bytes = crate::plot::curves(&panels, format).map_err(|e| plot_error(path, &e))?;
    write_output(path, &bytes)
}

pub(super) fn plot_format(path: &Path) -> Result<crate::plot::Format, Diagnostic> {
    crate::plot::Format::from_path(path).ok_or_else(|| {
        Diagnostic::error_nowhere(
            Code::WRITE,
            format!("cannot tell the picture format of `{}`", path.display()),
        )
        .with_help("name the picture `.png` or `.svg`")
    })
}

pub(super) fn plot_error(path: &Path, e: &crate::plot::PlotError) -> Diagnostic {
    Diagnostic::error_nowhere(Code::WRITE, format!("cannot draw `{}`: {e}", path.display()))
}

/// The JSON-lines log: a file (`--log-json`) and a copy kept for `--plot`.
struct Log {
    file: Option<(std::fs::File, PathBuf)>,
    lines: String,
    error: Option<String>,
}

impl Log {
    fn open(path: Option<&PathBuf>) -> Result<Log, Diagnostic> {
        let file = match path {
            Some(p) => match std::fs::File::create(p) {
                Ok(f) => Some((f, p.clone())),
                Err(e) => {
                    return Err(Diagnostic::error_nowhere(
                        Code::WRITE,
                        format!("cannot write `{}`: {e}", p.display()),
                    ));
                }
            },
            None => None,
        };
        Ok(Log { file, lines: String::new(), error: None })
    }

    fn record(&mut self, line: &str) {
        self.lines.push_str(line);
        self.lines.push('\n');
        if let Some((f, _)) = &mut self.file
            && let Err(e) = writeln!(f, "{line}").and_then(|_| f.flush())
        {
            self.error.get_or_insert(e.to_string());
        }
    }

    fn finish(self) -> (String, Option<Diagnostic>) {
        let d = match (self.error, self.file) {
            (Some(e), Some((_, p))) => {
                Some(Diagnostic::error_nowhere(Code::WRITE, format!("cannot write `{}`: {e}", p.display())))
            }
            _ => None,
        };
        (self.lines, d)
    }
}

/// Trains (or cross-validates).
pub fn run(file: &Path, flags: &RunFlags, backend: &dyn Backend, console: &mut Console) -> Outcome {
    let (prog, cfg) = match config(file) {
        Ok(x) => x,
        Err(o) => return o,
    };
    let interrupt = Arc::new(AtomicBool::new(false));
    if console.live {
        let flag = interrupt.clone();
        // A second handler cannot be installed (e.g. in tests); Ctrl-C then kills as usual.
        let _ = ctrlc::set_handler(move || flag.store(true, std::sync::atomic::Ordering::Relaxed));
    }
    let opts = RunOptions {
        base_dir: base_dir(file),
        init: flags.init.clone(),
        epochs: flags.epochs,
        limit: flags.limit,
        no_save: flags.no_save,
        interrupt: Some(interrupt),
        folds: flags.folds,
    };
    let fail = |prog: Program, d: Diagnostic| Outcome {
        stdout: String::new(),
        diags: vec![d],
        sources: prog.sources,
    };
    if let Some(p) = &flags.plot
        && let Err(d) = plot_format(p)
    {
        return fail(prog, d);
    }
    if flags.folds.is_some() && cfg.eval.validate.is_some() {
        let span = prog.trains.first().and_then(|t| t.settings.iter().find(|s| s.key.name == "validate"));
        let d = Diagnostic::error(
            Code::FOLDS,
            span.map_or(cfg.span, |s| s.value.span),
            "`--folds` and `validate` both choose validation examples",
        )
        .with_note("with cross-validation, each fold validates on its own examples")
        .with_help("remove `validate`, or run without `--folds`");
        return fail(prog, d);
    }
    let mut log = match Log::open(flags.log_json.as_ref()) {
        Ok(l) => l,
        Err(d) => return fail(prog, d),
    };
    let mut session = match Session::new(&prog, &cfg, &opts, backend) {
        Ok(s) => s,
        Err(d) => return fail(prog, d),
    };
    let n_params = session.param_count();
    let epochs = flags.epochs.unwrap_or(cfg.epochs);
    console.line(&format!(
        "training {} on {}: {n_params} parameters, {}, batch {}, {epochs} epochs, seed {}",
        prog.sources.snippet(cfg.model.span),
        cfg.data.name,
        describe(&cfg.optimizer),
        cfg.batch,
        cfg.seed
    ));
    let valid = session.split_len(Split::Validation);
    if valid > 0 && cfg.eval.cross_validate.is_none() && flags.folds.is_none() {
        let from = if cfg.eval.validate.is_some() { "held out of the training examples" } else { "`valid`" };
        console.line(&format!(
            "validating on {valid} examples ({from}), training on {}",
            session.split_len(Split::Train)
        ));
    }
    let folds = flags
        .folds
        .map(|k| (k, true, None))
        .or(cfg.eval.cross_validate.map(|k| (k.k, k.stratified, Some(k.span))));
    let names: Option<Vec<String>> = session.class_names().map(<[String]>::to_vec);
    let mut table = report::EpochTable::new();
    let mut fold = None;
    let log_every = cfg.eval.log_every;
    let mut observer = |ev: Event<'_>| {
        if let Some(every) = log_every
            && let Event::Step { global_step, .. } = ev
            && global_step % every == 0
            && let Some(line) = report::step_json(&ev, fold)
        {
            log.record(&line);
        }
        match ev {
            Event::FoldStart { fold: f, folds, train, validation } => {
                fold = Some(f);
                table = report::EpochTable::new();
                console.line(&format!(
                    "fold {f}/{folds}: training on {train} examples, validating on {validation}"
                ));
            }
            Event::EpochStart { epoch, steps } => console.start_bar(epoch, epochs, steps),
            Event::Step { step, loss, samples_per_s, .. } => console.tick(step, loss, samples_per_s),
            Event::EpochEnd(r) => {
                console.finish_bar();
                for line in table.rows(r, epochs, &cfg) {
                    console.line(&line);
                }
                log.record(&report::epoch_json(r, &cfg, names.as_deref()));
            }
            Event::EarlyStop { epoch, best_epoch } => console.line(&format!(
                "stopping early after epoch {epoch}: no better validation value since epoch {best_epoch}"
            )),
        }
    };
    let mut diags = Vec::new();
    match folds {
        Some((k, stratified, span)) => {
            match session.cross_validate(&opts, k, stratified, span, &mut observer) {
                Ok(cv) => {
                    console.finish_bar();
                    console.line(&report::cv_table(&cv, &cfg));
                    let saved: Vec<String> = cv
                        .folds
                        .iter()
                        .filter_map(|f| f.saved.as_ref())
                        .map(|p| p.display().to_string())
                        .collect();
                    if saved.is_empty() {
                        console.line("no weights saved (cross-validation saves each fold's weights when `save` names a pattern with `{fold}`)");
                    } else {
                        console.line(&format!("saved {}", saved.join(", ")));
                    }
                }
                Err(d) => diags.push(d),
            }
        }
        None => {
            let result = session.train(&opts, &mut observer);
            console.finish_bar();
            match result {
                Ok(summary) => {
                    if let Some((epoch, v)) = summary.kept
                        && let Some(m) = cfg.eval.keep
                    {
                        console.line(&format!(
                            "kept the weights of epoch {epoch} (validation {} {v:.4})",
                            m.name()
                        ));
                    }
                    if let Some(last) = summary.epochs.last() {
                        let held = last
                            .test
                            .as_ref()
                            .map(|e| ("test", e))
                            .or(last.validation.as_ref().map(|e| ("validation", e)));
                        if let Some((split, e)) = held {
                            let text = report::final_report(split, e, names.as_deref(), &cfg.eval.metrics);
                            if !text.is_empty() {
                                console.line(text.trim_end());
                            }
                        }
                    }
                    if let Some(p) = summary.saved {
                        console.line(&format!("saved {}", p.display()));
                    }
                }
                Err(d) => diags.push(d),
            }
        }
    }
    let (lines, log_error) = log.finish();
    diags.extend(log_error);
    if let Some(p) = &flags.plot
        && diags.is_empty()
    {
        match plot_curves(&lines, p) {
            Ok(()) => console.line(&format!("plotted {}", p.display())),
            Err(d) => diags.push(d),
        }
    }
    Outcome { stdout: String::new(), diags, sources: prog.sources }
}
