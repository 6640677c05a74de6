//! `nnc run FILE`: train the program's train block; `nnc eval FILE --weights W`:
//! evaluate saved weights.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use super::{Console, Outcome, load_checked};
use crate::backend::Backend;
use crate::diag::{Code, Diagnostic};
use crate::sema::blocks::{Optimizer, TrainConfig, check_train};
use crate::sema::{self, Program};
use crate::train::trainer::{EpochReport, Event, RunOptions, Session};

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
}

/// Loads, checks and extracts the first train block.
fn config(file: &Path) -> Result<(Program, TrainConfig), Outcome> {
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

fn base_dir(file: &Path) -> PathBuf {
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

fn epoch_line(r: &EpochReport, epochs: usize) -> String {
    let mut s = format!("epoch {}/{epochs}  train_loss {:.4}", r.epoch, r.train_loss);
    if let Some(a) = r.train_accuracy {
        s += &format!("  train_acc {:.4}", a);
    }
    if let Some(l) = r.test_loss {
        s += &format!("  test_loss {l:.4}");
    }
    if let Some(a) = r.test_accuracy {
        s += &format!("  test_acc {a:.4}");
    }
    if let Some(a) = r.test_sequence_accuracy {
        s += &format!("  test_seq_acc {a:.4}");
    }
    s + &format!("  {:.0} samples/s  {:.1}s", r.samples_per_s, r.seconds)
}

fn epoch_json(r: &EpochReport) -> String {
    let v = serde_json::json!({
        "epoch": r.epoch,
        "train_loss": r.train_loss,
        "train_accuracy": r.train_accuracy,
        "test_loss": r.test_loss,
        "test_accuracy": r.test_accuracy,
        "test_sequence_accuracy": r.test_sequence_accuracy,
        "samples_per_s": r.samples_per_s,
        "seconds": r.seconds,
        "lr": r.lr,
    });
    v.to_string()
}

/// Trains.
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
    };
    let fail = |prog: Program, d: Diagnostic| Outcome {
        stdout: String::new(),
        diags: vec![d],
        sources: prog.sources,
    };
    let mut log = match &flags.log_json {
        Some(p) => match std::fs::File::create(p) {
            Ok(f) => Some(f),
            Err(e) => {
                let d =
                    Diagnostic::error_nowhere(Code::WRITE, format!("cannot write `{}`: {e}", p.display()));
                return fail(prog, d);
            }
        },
        None => None,
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
    let mut log_error = None;
    let result = session.train(&opts, &mut |ev| match ev {
        Event::EpochStart { epoch, steps } => console.start_bar(epoch, epochs, steps),
        Event::Step { step, loss, samples_per_s } => console.tick(step, loss, samples_per_s),
        Event::EpochEnd(r) => {
            console.finish_bar();
            console.line(&epoch_line(r, epochs));
            if let Some(f) = &mut log
                && let Err(e) = writeln!(f, "{}", epoch_json(r)).and_then(|_| f.flush())
            {
                log_error.get_or_insert(e.to_string());
            }
        }
    });
    console.finish_bar();
    let mut diags = Vec::new();
    match result {
        Ok(summary) => {
            if let Some(p) = summary.saved {
                console.line(&format!("saved {}", p.display()));
            }
        }
        Err(d) => diags.push(d),
    }
    if let (Some(e), Some(p)) = (log_error, &flags.log_json) {
        diags.push(Diagnostic::error_nowhere(Code::WRITE, format!("cannot write `{}`: {e}", p.display())));
    }
    Outcome { stdout: String::new(), diags, sources: prog.sources }
}

/// Evaluates saved weights on the test split (the training split when there is none).
pub fn eval(file: &Path, weights: &Path, backend: &dyn Backend, console: &mut Console) -> Outcome {
    let (prog, cfg) = match config(file) {
        Ok(x) => x,
        Err(o) => return o,
    };
    let opts =
        RunOptions { base_dir: base_dir(file), init: Some(weights.to_path_buf()), ..RunOptions::default() };
    let res = Session::new(&prog, &cfg, &opts, backend).and_then(|mut s| s.evaluate_default());
    match res {
        Ok(e) => {
            let mut line = format!("loss {:.4}", e.loss);
            if let Some(a) = e.accuracy {
                line += &format!("  accuracy {a:.4}");
            }
            if let Some(a) = e.sequence_accuracy {
                line += &format!("  sequence_accuracy {a:.4}");
            }
            console.line(&line);
            Outcome { stdout: String::new(), diags: Vec::new(), sources: prog.sources }
        }
        Err(d) => Outcome { stdout: String::new(), diags: vec![d], sources: prog.sources },
    }
}
