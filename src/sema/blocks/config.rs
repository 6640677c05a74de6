//! The checked configuration of data and train blocks: what the runtime executes.

use std::rc::Rc;

use crate::diag::Span;
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
        /// `Some(true)`: the first line is a header; `Some(false)`: it is
        /// data; `None`: a header when some field of it is not a number.
        header: Option<bool>,
        /// With float targets, how many columns hold them (at the label
        /// column's end of the row); `None` for one class label.
        targets: Option<usize>,
    },
    /// NPY arrays.
    Npy {
        /// Inputs.
        images: String,
        /// Class labels, or float targets when `targets` is set.
        labels: String,
        /// The labels file holds float targets shaped like the output.
        targets: bool,
    },
    /// Generated sequence-to-sequence examples (`reverse_digits(...)`).
    Sequence(SequenceTask),
}

impl Source {
    /// What the source's labels are: class indices or float targets.
    pub fn targets(&self) -> Targets {
        match self {
            Source::Csv { targets: Some(_), .. } | Source::Npy { targets: true, .. } => Targets::Values,
            _ => Targets::Classes,
        }
    }

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

/// What a data set's labels are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Targets {
    /// Class indices, one per example (or per position): classification.
    Classes,
    /// Float values shaped like the model's output: regression.
    Values,
}

/// `classes = [...]` or `classes = "names.txt"`.
#[derive(Clone, Debug, PartialEq)]
pub enum ClassNames {
    /// Written in the data block.
    Listed(Vec<String>),
    /// A text file with one name per line (blank lines skipped), read when
    /// the data is loaded; the path is relative to the `.nn` file.
    File(String),
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
    /// Validation examples (`valid = ...`), evaluated after each epoch to
    /// choose epochs; the train block's `validate = split(f)` carves them
    /// from `train` instead.
    pub valid: Option<Source>,
    /// Names of the classes, in index order, for reports and plots.
    pub classes: Option<ClassNames>,
    /// Class labels or float targets (the same for every source).
    pub targets: Targets,
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
    /// What is measured, on which examples, and how epochs are chosen.
    pub eval: EvalConfig,
    /// Shuffle the training data each epoch.
    pub shuffle: bool,
    /// Where to save the trained weights.
    pub save: Option<String>,
    /// The train block.
    pub span: Span,
}

/// How per-class scores are combined into one number (scikit-learn's `average`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Average {
    /// The unweighted mean over classes.
    Macro,
    /// From the true and false positives and negatives summed over classes.
    Micro,
    /// The mean over classes weighted by each class's number of labels.
    Weighted,
}

impl Average {
    /// Every averaging mode, in the order reports list them.
    pub const ALL: [Average; 3] = [Average::Macro, Average::Micro, Average::Weighted];

    /// Its name in `.nn` source and reports (scikit-learn's names).
    pub fn name(self) -> &'static str {
        match self {
            Average::Macro => "macro",
            Average::Micro => "micro",
            Average::Weighted => "weighted",
        }
    }
}

/// A metric of `metrics = [...]`, computed over a whole split.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Metric {
    /// The mean loss per example.
    Loss,
    /// The fraction of arg-max predictions equal to the label.
    Accuracy,
    /// The fraction of labels among the k highest scores.
    TopK(usize),
    /// Precision, averaged.
    Precision(Average),
    /// Recall, averaged.
    Recall(Average),
    /// F1, averaged.
    F1(Average),
    /// The confusion matrix (not a number; reported as a matrix).
    Confusion,
    /// Mean squared error of float targets.
    Mse,
    /// Mean absolute error of float targets.
    Mae,
    /// Coefficient of determination of float targets.
    R2,
    /// Exact sequences reproduced by greedy decoding.
    SequenceAccuracy,
}

impl Metric {
    /// Its name in reports and `--log-json` keys: `accuracy`, `top5`, `f1_macro`, ...
    pub fn name(self) -> String {
        match self {
            Metric::Loss => "loss".into(),
            Metric::Accuracy => "accuracy".into(),
            Metric::TopK(k) => format!("top{k}"),
            Metric::Precision(a) => format!("precision_{}", a.name()),
            Metric::Recall(a) => format!("recall_{}", a.name()),
            Metric::F1(a) => format!("f1_{}", a.name()),
            Metric::Confusion => "confusion".into(),
            Metric::Mse => "mse".into(),
            Metric::Mae => "mae".into(),
            Metric::R2 => "r2".into(),
            Metric::SequenceAccuracy => "sequence_accuracy".into(),
        }
    }

    /// A metric named as on the command line (`nnc eval --metrics`): its
    /// report name (`f1_macro`, `top5`), or a bare `precision`, `recall`,
    /// `f1` (macro) or `top_k(5)`.
    pub fn parse(name: &str) -> Option<Metric> {
        let name = name.trim();
        if let Some(k) =
            name.strip_prefix("top_k(").and_then(|r| r.strip_suffix(')')).or(name.strip_prefix("top"))
        {
            return k.trim().parse().ok().filter(|&k| k >= 1).map(Metric::TopK);
        }
        let (base, avg) = match name.rsplit_once('_') {
            Some((b, "macro")) => (b, Average::Macro),
            Some((b, "micro")) => (b, Average::Micro),
            Some((b, "weighted")) => (b, Average::Weighted),
            _ => (name, Average::Macro),
        };
        Some(match base {
            "precision" => Metric::Precision(avg),
            "recall" => Metric::Recall(avg),
            "f1" => Metric::F1(avg),
            _ if base != name => return None,
            "loss" => Metric::Loss,
            "accuracy" => Metric::Accuracy,
            "confusion" => Metric::Confusion,
            "mse" => Metric::Mse,
            "mae" => Metric::Mae,
            "r2" => Metric::R2,
            "sequence_accuracy" => Metric::SequenceAccuracy,
            _ => return None,
        })
    }

    /// True when larger values are better (accuracy, F1), false when
    /// smaller are (loss, errors).
    pub fn higher_is_better(self) -> bool {
        !matches!(self, Metric::Loss | Metric::Mse | Metric::Mae)
    }

    /// The kind of labels the metric needs, `None` when it fits any.
    pub fn needs(self) -> Option<Targets> {
        match self {
            Metric::Loss => None,
            Metric::Mse | Metric::Mae | Metric::R2 => Some(Targets::Values),
            Metric::Accuracy
            | Metric::TopK(_)
            | Metric::Precision(_)
            | Metric::Recall(_)
            | Metric::F1(_)
            | Metric::Confusion
            | Metric::SequenceAccuracy => Some(Targets::Classes),
        }
    }

    /// True for metrics that are one number per split (all but the confusion matrix).
    pub fn is_scalar(self) -> bool {
        self != Metric::Confusion
    }
}

/// A train block's evaluation settings.
#[derive(Clone, Debug, Default)]
pub struct EvalConfig {
    /// The metrics reported for every split, in the order written; the
    /// loss is always reported and comes first.
    pub metrics: Vec<Metric>,
    /// Hold out this fraction of the training examples for validation.
    pub validate: Option<f64>,
    /// Keep the weights of the epoch with the best validation value of this metric.
    pub keep: Option<Metric>,
    /// Stop after this many epochs without a better validation value.
    pub early_stop: Option<EarlyStop>,
    /// Cross-validate instead of training once.
    pub cross_validate: Option<KFold>,
    /// Report every this many steps (`--log-json` step records).
    pub log_every: Option<usize>,
}

/// `early_stop = patience(n)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EarlyStop {
    /// Epochs without improvement before stopping.
    pub patience: usize,
    /// The validation metric watched.
    pub metric: Metric,
}

/// `cross_validate = kfold(k, stratified = ...)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct KFold {
    /// Number of folds.
    pub k: usize,
    /// Keep each class's share in every fold (classification only).
    pub stratified: bool,
    /// The setting, for errors found once the data is loaded.
    pub span: Span,
}
