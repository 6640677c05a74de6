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
