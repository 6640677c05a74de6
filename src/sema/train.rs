//! Data and train blocks: their settings, checked and turned into plain
//! configuration the runtime executes.
//!
//! Settings are ordinary expressions (`lr = 0.1 / 2` works), evaluated by
//! the elaborator; this module checks each key, its type and its range, and
//! names the fix when one is wrong.

use std::collections::HashMap;
use std::rc::Rc;

use super::eval::{ArgVal, Elaborator, Frame, suggest};
use super::program::Program;
use super::value::{Callable, Record, Value};
use super::{Dim, forward, root_from_expr};
use crate::diag::{Code, Diagnostic, Span};
use crate::graph::DType;
use crate::syntax::ast;

/// Where examples come from.
#[derive(Clone, Debug, PartialEq)]
pub enum Source {
    /// An IDX image file and label file.
    Idx {
        /// Inputs.
        images: String,
        /// Labels.
        labels: String,
    },
    /// A CSV file of `label,features...` rows.
    Csv {
        /// The file.
        path: String,
        /// Which column holds the label (0 or -1 for the last).
        label_column: i64,
    },
    /// NPY arrays.
    Npy {
        /// Inputs.
        images: String,
        /// Labels.
        labels: String,
    },
    /// Generated sequence-to-sequence examples (`reverse_digits(...)`).
    Sequence(SequenceTask),
}

impl Source {
    /// The source as written in a data block, for messages.
    pub fn describe(&self) -> String {
        match self {
            Source::Idx { images, .. } | Source::Npy { images, .. } => format!("`{images}`"),
            Source::Csv { path, .. } => format!("`{path}`"),
            Source::Sequence(t) => format!("`{t}`"),
        }
    }
}

/// What a generated sequence task asks for each digit sequence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskKind {
    /// The digits in reverse order.
    Reverse,
    /// The digits in ascending order.
    Sort,
}

/// `reverse_digits(n, length, seed)` or `sort_digits(...)`: `n` sequences of
/// `length` random digits, drawn from `seed`.
///
/// Each example has two inputs and one label per position, for an
/// encoder-decoder trained with teacher forcing:
/// - `src`: the digits (tokens 0 to 9), `int[length]`;
/// - `tgt`: the answer shifted right behind the start token [`START`](Self::START), `int[length]`;
/// - labels: the answer, one digit per position.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SequenceTask {
    /// Reverse or sort.
    pub kind: TaskKind,
    /// Number of sequences.
    pub n: usize,
    /// Digits per sequence.
    pub length: usize,
    /// Seed of the generator.
    pub seed: u64,
}

impl SequenceTask {
    /// The start token that begins every decoder input; digits are 0 to 9.
    pub const START: i64 = 10;
    /// Token ids the inputs hold: the ten digits and the start token.
    pub const VOCAB: i64 = 11;
    /// The encoder input's name.
    pub const SOURCE: &'static str = "src";
    /// The decoder input's name (the answer shifted right).
    pub const TARGET: &'static str = "tgt";
    /// The most sequences one source may generate.
    pub const MAX_N: usize = 10_000_000;
    /// The longest sequence one source may generate.
    pub const MAX_LENGTH: usize = 4096;
    /// The most tokens (`n * length`) one source may generate: each of its
    /// three tensors then takes at most 256 MiB.
    pub const MAX_TOKENS: usize = 1 << 26;
}

impl std::fmt::Display for SequenceTask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match self.kind {
            TaskKind::Reverse => "reverse_digits",
            TaskKind::Sort => "sort_digits",
        };
        write!(f, "{name}(n = {}, length = {}, seed = {})", self.n, self.length, self.seed)
    }
}

/// A checked data block.
#[derive(Clone, Debug)]
pub struct DataConfig {
    /// The block's name.
    pub name: String,
    /// Training examples.
    pub train: Source,
    /// Held-out examples, evaluated after each epoch.
    pub test: Option<Source>,
    /// Inputs are multiplied by this (e.g. `1 / 255`).
    pub scale: f64,
    /// Then `(x - mean) / std` when given.
    pub normalize: Option<(f64, f64)>,
}

/// An optimizer with PyTorch's semantics.
#[derive(Clone, Debug, PartialEq)]
pub enum Optimizer {
    /// `torch.optim.SGD`.
    Sgd {
        /// Learning rate.
        lr: f64,
        /// Momentum factor.
        momentum: f64,
        /// Dampening for momentum.
        dampening: f64,
        /// Nesterov momentum.
        nesterov: bool,
        /// L2 penalty added to the gradient.
        weight_decay: f64,
    },
    /// `torch.optim.Adam` (`decoupled = false`) or `torch.optim.AdamW` (`true`).
    Adam {
        /// Learning rate.
        lr: f64,
        /// First-moment decay.
        beta1: f64,
        /// Second-moment decay.
        beta2: f64,
        /// Denominator epsilon.
        eps: f64,
        /// Weight decay (L2 for Adam, decoupled for AdamW).
        weight_decay: f64,
        /// AdamW's decoupled weight decay.
        decoupled: bool,
    },
}

impl Optimizer {
    /// The base learning rate.
    pub fn lr(&self) -> f64 {
        match self {
            Optimizer::Sgd { lr, .. } | Optimizer::Adam { lr, .. } => *lr,
        }
    }
}

/// A learning-rate schedule, applied per epoch.
#[derive(Clone, Debug, PartialEq)]
pub enum Schedule {
    /// Multiply by `gamma` every `step_size` epochs.
    Step {
        /// Epochs between decays.
        step_size: usize,
        /// Decay factor.
        gamma: f64,
    },
    /// Cosine annealing from the base rate to `eta_min` over `t_max` epochs.
    Cosine {
        /// Period in epochs; 0 (`cosine()` without `t_max`) means the run's epochs.
        t_max: usize,
        /// Final rate.
        eta_min: f64,
    },
}

impl Schedule {
    /// The learning rate for `epoch` (0-based) of a run of `epochs`, given the base rate.
    pub fn lr_at(&self, base: f64, epoch: usize, epochs: usize) -> f64 {
        match self {
            Schedule::Step { step_size, gamma } => base * gamma.powi((epoch / step_size.max(&1)) as i32),
            Schedule::Cosine { t_max, eta_min } => {
                let t_max = if *t_max == 0 { epochs } else { *t_max };
                let t = epoch.min(t_max) as f64 / t_max.max(1) as f64;
                eta_min + (base - eta_min) * (1.0 + (std::f64::consts::PI * t).cos()) / 2.0
            }
        }
    }
}

/// A checked train block.
#[derive(Clone, Debug)]
pub struct TrainConfig {
    /// The model expression (`Mlp`, `Mlp(hidden = 256)`).
    pub model: ast::Expr,
    /// The data block.
    pub data: DataConfig,
    /// The loss function, called as `loss(output, target)`.
    pub loss: Rc<ast::FnDef>,
    /// The optimizer.
    pub optimizer: Optimizer,
    /// The optional learning-rate schedule.
    pub schedule: Option<Schedule>,
    /// Examples per step.
    pub batch: usize,
    /// Passes over the training data.
    pub epochs: usize,
    /// Seed for initialisation, shuffling and dropout.
    pub seed: u64,
    /// Whether to report accuracy.
    pub accuracy: bool,
    /// Whether to report the exact-sequence accuracy of greedy decoding on
    /// the test split (`metrics = [sequence_accuracy]`).
    pub sequence_accuracy: bool,
    /// Shuffle the training data each epoch.
    pub shuffle: bool,
    /// Where to save the trained weights.
    pub save: Option<String>,
    /// The train block.
    pub span: Span,
}

const TRAIN_KEYS: &[&str] =
    &["loss", "optimizer", "batch", "epochs", "seed", "metrics", "save", "schedule", "shuffle"];
const DATA_KEYS: &[&str] = &["train", "test", "scale", "normalize"];

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
        let labels =
            el.tensor(target_shape(&out.shape), DType::I32, t.data.span, |_| crate::graph::NodeId(0));
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
    }
    let ok = !el.failed();
    (cfg.filter(|_| ok), el.diags)
}

/// The labels a model's output is trained against: one class index per
/// example for an output `[B, C]`, one per position for `[B, T, C]` (the
/// output without its last axis); an output of rank 1 is matched as is.
pub fn target_shape<T: Clone>(output: &[T]) -> Vec<T> {
    if output.len() >= 2 { output[..output.len() - 1].to_vec() } else { output.to_vec() }
}

/// Checks what can be known before loading anything: the inputs, labels
/// and metrics a generated sequence task asks of the model.
fn check_data_fits(
    el: &mut Elaborator<'_>,
    t: &ast::TrainDef,
    cfg: &TrainConfig,
    inputs: &[(String, Value)],
    out: &super::value::TensorVal,
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
    if cfg.sequence_accuracy {
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

fn setting<'a>(t: &'a ast::TrainDef, key: &str) -> Option<&'a ast::Setting> {
    t.settings.iter().find(|s| s.key.name == key)
}

/// Evaluates settings, reporting unknown and repeated keys.
fn settings(
    el: &mut Elaborator<'_>,
    list: &[ast::Setting],
    allowed: &[&str],
    block: &str,
) -> HashMap<String, (Value, Span)> {
    let mut out: HashMap<String, (Value, Span)> = HashMap::new();
    for s in list {
        if !allowed.contains(&s.key.name.as_str()) {
            let mut d = Diagnostic::error(
                Code::SETTING,
                s.key.span,
                format!("unknown {block} setting `{}`", s.key.name),
            )
            .with_note(format!("{block} blocks accept: {}", allowed.join(", ")));
            if let Some(sug) = suggest(&s.key.name, allowed.iter().copied()) {
                d = d.with_help(format!("did you mean `{sug}`?"));
            }
            el.err(d);
            continue;
        }
        if let Some((_, prev)) = out.get(&s.key.name) {
            let d = Diagnostic::error(Code::SETTING, s.key.span, format!("`{}` is set twice", s.key.name))
                .with_label(*prev, "first set here");
            el.err(d);
            continue;
        }
        let v = el.expr(&s.value, &mut Frame::new(None));
        out.insert(s.key.name.clone(), (v, s.value.span));
    }
    out
}

fn train_config(el: &mut Elaborator<'_>, t: &ast::TrainDef) -> Option<TrainConfig> {
    let data = match el.prog.data.get(&t.data.name) {
        Some(d) => data_config(el, d),
        None => {
            let mut d = Diagnostic::error(
                Code::TRAIN_TARGET,
                t.data.span,
                format!("unknown data set `{}`", t.data.name),
            );
            let names: Vec<&str> = el.prog.data.keys().map(String::as_str).collect();
            d = match suggest(&t.data.name, names.iter().copied()) {
                Some(s) => d.with_help(format!("did you mean `{s}`?")),
                None => d.with_help("define it with `data NAME { train = idx(...) }`"),
            };
            el.err(d);
            None
        }
    };
    let s = settings(el, &t.settings, TRAIN_KEYS, "train");
    let missing = |el: &mut Elaborator<'_>, key: &str, example: &str| {
        let d = Diagnostic::error(Code::MISSING_SETTING, t.span, format!("train block has no `{key}`"))
            .with_help(format!("add `{key} = {example}`"));
        el.err(d);
    };
    let loss = match s.get("loss") {
        Some((Value::Func(Callable::Fn { def, .. }), _)) => Some(def.clone()),
        Some((Value::Poison, _)) => None,
        Some((other, span)) => {
            let d = Diagnostic::error(
                Code::SETTING,
                *span,
                format!("`loss` must be a function, found {}", other.describe()),
            )
            .with_help("use `cross_entropy`, `nll`, `mse` or a function `fn(output, target) -> []`");
            el.err(d);
            None
        }
        None => {
            missing(el, "loss", "cross_entropy");
            None
        }
    };
    let optimizer = match s.get("optimizer") {
        Some((Value::Record(r), _)) if matches!(r.kind, "sgd" | "adam" | "adamw") => optimizer(el, r),
        Some((Value::Func(Callable::Builtin(b @ ("adam" | "adamw"))), span)) => {
            let v = super::builtins::call(el, b, Vec::new(), *span);
            match v {
                Value::Record(r) => optimizer(el, &r),
                _ => None,
            }
        }
        Some((Value::Poison, _)) => None,
        Some((other, span)) => {
            let d = Diagnostic::error(
                Code::SETTING,
                *span,
                format!(
                    "`optimizer` must be `sgd(...)`, `adam(...)` or `adamw(...)`, found {}",
                    other.describe()
                ),
            );
            el.err(d);
            None
        }
        None => {
            missing(el, "optimizer", "sgd(lr = 0.05, momentum = 0.9)");
            None
        }
    };
    let schedule = match s.get("schedule") {
        None => Some(None),
        Some((Value::Record(r), _)) if r.kind == "step_lr" => {
            let step = int_field(el, r, "step_size", 1);
            let gamma = num_field(el, r, "gamma", 0.0, f64::MAX);
            step.zip(gamma).map(|(s, g)| Some(Schedule::Step { step_size: s as usize, gamma: g }))
        }
        Some((Value::Record(r), _)) if r.kind == "cosine" => {
            let t_max = match r.get("t_max") {
                Some(_) => int_field(el, r, "t_max", 1).map(|n| n as usize),
                None => Some(0),
            };
            let eta = num_field(el, r, "eta_min", 0.0, f64::MAX);
            t_max.zip(eta).map(|(t, e)| Some(Schedule::Cosine { t_max: t, eta_min: e }))
        }
        Some((other, span)) => {
            let d = Diagnostic::error(
                Code::SETTING,
                *span,
                format!("`schedule` must be `step_lr(...)` or `cosine(...)`, found {}", other.describe()),
            );
            el.err(d);
            None
        }
    };
    let batch = int_setting(el, &s, "batch", 32, 1)?;
    let epochs = int_setting(el, &s, "epochs", 1, 0)?;
    let seed = int_setting(el, &s, "seed", 0, 0)?;
    let mut sequence_accuracy = false;
    let accuracy = match s.get("metrics") {
        None => false,
        Some((Value::List(items), span)) => {
            let mut acc = false;
            for v in items.iter() {
                match v {
                    Value::Func(Callable::Builtin("accuracy")) => acc = true,
                    Value::Record(r) if r.kind == "accuracy" => acc = true,
                    Value::Func(Callable::Builtin("sequence_accuracy")) => sequence_accuracy = true,
                    Value::Record(r) if r.kind == "sequence_accuracy" => sequence_accuracy = true,
                    Value::Poison => {}
                    other => {
                        let d = Diagnostic::error(
                            Code::SETTING,
                            *span,
                            format!("unknown metric {}", other.describe()),
                        )
                        .with_help(
                            "the metrics are: accuracy, sequence_accuracy (the loss is always reported)",
                        );
                        el.err(d);
                    }
                }
            }
            acc
        }
        Some((other, span)) => {
            let d = Diagnostic::error(
                Code::SETTING,
                *span,
                format!("`metrics` must be a list, found {}", other.describe()),
            )
            .with_help("write `metrics = [accuracy]`");
            el.err(d);
            false
        }
    };
    let shuffle = match s.get("shuffle") {
        None => true,
        Some((Value::Bool(b), _)) => *b,
        Some((other, span)) => {
            let d = Diagnostic::error(
                Code::SETTING,
                *span,
                format!("`shuffle` must be true or false, found {}", other.describe()),
            );
            el.err(d);
            true
        }
    };
    let save = match s.get("save") {
        None => None,
        Some((Value::Str(p), _)) => Some(p.to_string()),
        Some((other, span)) => {
            let d = Diagnostic::error(
                Code::SETTING,
                *span,
                format!("`save` must be a file path string, found {}", other.describe()),
            );
            el.err(d);
            None
        }
    };
    Some(TrainConfig {
        model: t.model.clone(),
        data: data?,
        loss: loss?,
        optimizer: optimizer?,
        schedule: schedule?,
        batch: batch as usize,
        epochs: epochs as usize,
        seed: seed as u64,
        accuracy,
        sequence_accuracy,
        shuffle,
        save,
        span: t.span,
    })
}

fn int_setting(
    el: &mut Elaborator<'_>,
    s: &HashMap<String, (Value, Span)>,
    key: &str,
    default: i64,
    min: i64,
) -> Option<i64> {
    match s.get(key) {
        None => Some(default),
        Some((Value::Int(Dim::Known(n)), _)) if *n >= min => Some(*n),
        Some((Value::Poison, _)) => None,
        Some((other, span)) => {
            let d = Diagnostic::error(
                Code::SETTING,
                *span,
                format!("`{key}` must be an integer of at least {min}, found {}", other.describe()),
            );
            el.err(d);
            None
        }
    }
}

fn num_field(el: &mut Elaborator<'_>, r: &Record, key: &str, min: f64, max: f64) -> Option<f64> {
    match r.get(key) {
        Some(v) => match v.as_f64() {
            Some(x) if x >= min && x <= max && x.is_finite() => Some(x),
            _ => {
                let range =
                    if max == f64::MAX { format!("at least {min}") } else { format!("in [{min}, {max}]") };
                let d = Diagnostic::error(
                    Code::SETTING,
                    r.span,
                    format!("`{}` setting `{key}` must be a number {range}, found {}", r.kind, v.describe()),
                );
                el.err(d);
                None
            }
        },
        None => {
            let d = Diagnostic::error(Code::MISSING_SETTING, r.span, format!("`{}` needs `{key}`", r.kind));
            el.err(d);
            None
        }
    }
}

fn int_field(el: &mut Elaborator<'_>, r: &Record, key: &str, min: i64) -> Option<i64> {
    match r.get(key) {
        Some(Value::Int(Dim::Known(n))) if *n >= min => Some(*n),
        other => {
            let found = other.map_or("nothing".to_string(), Value::describe);
            let d = Diagnostic::error(
                Code::SETTING,
                r.span,
                format!("`{}` setting `{key}` must be an integer of at least {min}, found {found}", r.kind),
            );
            el.err(d);
            None
        }
    }
}

fn bool_field(el: &mut Elaborator<'_>, r: &Record, key: &str) -> Option<bool> {
    match r.get(key) {
        Some(Value::Bool(b)) => Some(*b),
        Some(v) if v.as_f64() == Some(0.0) => Some(false),
        other => {
            let found = other.map_or("nothing".to_string(), Value::describe);
            let d = Diagnostic::error(
                Code::SETTING,
                r.span,
                format!("`{}` setting `{key}` must be true or false, found {found}", r.kind),
            );
            el.err(d);
            None
        }
    }
}

fn optimizer(el: &mut Elaborator<'_>, r: &Record) -> Option<Optimizer> {
    let lr = num_field(el, r, "lr", 0.0, f64::MAX);
    if r.kind == "sgd" {
        let momentum = num_field(el, r, "momentum", 0.0, 1.0);
        let dampening = num_field(el, r, "dampening", 0.0, 1.0);
        let nesterov = bool_field(el, r, "nesterov");
        let wd = num_field(el, r, "weight_decay", 0.0, f64::MAX);
        let opt = Optimizer::Sgd {
            lr: lr?,
            momentum: momentum?,
            dampening: dampening?,
            nesterov: nesterov?,
            weight_decay: wd?,
        };
        if let Optimizer::Sgd { nesterov: true, momentum, dampening, .. } = opt
            && (momentum <= 0.0 || dampening != 0.0)
        {
            let d = Diagnostic::error(
                Code::SETTING,
                r.span,
                "nesterov momentum needs momentum > 0 and dampening 0",
            );
            el.err(d);
            return None;
        }
        return Some(opt);
    }
    let beta1 = num_field(el, r, "beta1", 0.0, 0.999_999_9);
    let beta2 = num_field(el, r, "beta2", 0.0, 0.999_999_9);
    let eps = num_field(el, r, "eps", 0.0, f64::MAX);
    let wd = num_field(el, r, "weight_decay", 0.0, f64::MAX);
    Some(Optimizer::Adam {
        lr: lr?,
        beta1: beta1?,
        beta2: beta2?,
        eps: eps?,
        weight_decay: wd?,
        decoupled: r.kind == "adamw",
    })
}

fn data_config(el: &mut Elaborator<'_>, d: &ast::DataDef) -> Option<DataConfig> {
    let s = settings(el, &d.settings, DATA_KEYS, "data");
    let train = match s.get("train") {
        Some((v, span)) => source(el, v, *span),
        None => {
            let diag = Diagnostic::error(
                Code::MISSING_SETTING,
                d.name.span,
                format!("data block `{}` has no `train`", d.name.name),
            )
            .with_help("add `train = idx(\"images.gz\", \"labels.gz\")`");
            el.err(diag);
            None
        }
    };
    let test = match s.get("test") {
        Some((v, span)) => source(el, v, *span).map(Some),
        None => Some(None),
    };
    let scale = match s.get("scale") {
        None => Some(1.0),
        Some((v, span)) => match v.as_f64() {
            Some(x) if x.is_finite() => Some(x),
            _ => {
                let diag = Diagnostic::error(
                    Code::SETTING,
                    *span,
                    format!("`scale` must be a number, found {}", v.describe()),
                );
                el.err(diag);
                None
            }
        },
    };
    let normalize = match s.get("normalize") {
        None => Some(None),
        Some((Value::List(xs), span)) => {
            match (xs.first().and_then(Value::as_f64), xs.get(1).and_then(Value::as_f64)) {
                (Some(m), Some(sd)) if xs.len() == 2 && sd > 0.0 => Some(Some((m, sd))),
                _ => {
                    let diag = Diagnostic::error(
                        Code::SETTING,
                        *span,
                        "`normalize` must be `[mean, std]` with std > 0",
                    );
                    el.err(diag);
                    None
                }
            }
        }
        Some((other, span)) => {
            let diag = Diagnostic::error(
                Code::SETTING,
                *span,
                format!("`normalize` must be `[mean, std]`, found {}", other.describe()),
            );
            el.err(diag);
            None
        }
    };
    Some(DataConfig {
        name: d.name.name.clone(),
        train: train?,
        test: test?,
        scale: scale?,
        normalize: normalize?,
    })
}

fn source(el: &mut Elaborator<'_>, v: &Value, span: Span) -> Option<Source> {
    let str_field = |el: &mut Elaborator<'_>, r: &Record, key: &str| -> Option<String> {
        match r.get(key) {
            Some(Value::Str(s)) => Some(s.to_string()),
            other => {
                let found = other.map_or("nothing".to_string(), Value::describe);
                let d = Diagnostic::error(
                    Code::SETTING,
                    r.span,
                    format!("`{}` needs a file path string for `{key}`, found {found}", r.kind),
                );
                el.err(d);
                None
            }
        }
    };
    match v {
        Value::Record(r) if r.kind == "idx" || r.kind == "npy" => {
            let images = str_field(el, r, "images")?;
            let labels = str_field(el, r, "labels")?;
            Some(if r.kind == "idx" {
                Source::Idx { images, labels }
            } else {
                Source::Npy { images, labels }
            })
        }
        Value::Record(r) if r.kind == "csv" => {
            let path = str_field(el, r, "path")?;
            let label_column = match r.get("label_column").and_then(Value::as_f64) {
                Some(c) if c == 0.0 || c == -1.0 => c as i64,
                _ => {
                    let d = Diagnostic::error(
                        Code::SETTING,
                        r.span,
                        "`label_column` must be 0 (first) or -1 (last)",
                    );
                    el.err(d);
                    return None;
                }
            };
            Some(Source::Csv { path, label_column })
        }
        Value::Record(r) if r.kind == "reverse_digits" || r.kind == "sort_digits" => {
            let kind = if r.kind == "reverse_digits" { TaskKind::Reverse } else { TaskKind::Sort };
            let n = int_field(el, r, "n", 1)?;
            let length = int_field(el, r, "length", 1)?;
            let seed = match r.get("seed") {
                Some(Value::Float(x)) if *x == 0.0 => 0,
                _ => int_field(el, r, "seed", 0)?,
            };
            for (key, v, max) in [("n", n, SequenceTask::MAX_N), ("length", length, SequenceTask::MAX_LENGTH)]
            {
                if v as usize > max {
                    let d = Diagnostic::error(
                        Code::SETTING,
                        r.span,
                        format!("`{}` setting `{key}` must be at most {max}, found {v}", r.kind),
                    );
                    el.err(d);
                    return None;
                }
            }
            if (n as usize).saturating_mul(length as usize) > SequenceTask::MAX_TOKENS {
                let d = Diagnostic::error(
                    Code::SETTING,
                    r.span,
                    format!(
                        "`{}` would generate {n} x {length} tokens, more than {}",
                        r.kind,
                        SequenceTask::MAX_TOKENS
                    ),
                )
                .with_help("generate fewer or shorter sequences");
                el.err(d);
                return None;
            }
            Some(Source::Sequence(SequenceTask {
                kind,
                n: n as usize,
                length: length as usize,
                seed: seed as u64,
            }))
        }
        Value::Poison => None,
        other => {
            let d = Diagnostic::error(
                Code::SETTING,
                span,
                format!("expected a data source, found {}", other.describe()),
            )
            .with_help(
                "use `idx(images, labels)`, `csv(path)`, `npy(images, labels)`, `reverse_digits(n, length)` or `sort_digits(n, length)`",
            );
            el.err(d);
            None
        }
    }
}
