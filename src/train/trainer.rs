//! The training loop: load data, initialise or restore parameters, run the
//! step graph over shuffled batches, evaluate after each epoch, save.
//!
//! The loop reports progress through an [`Observer`] so the caller decides
//! how to show it (a progress bar on a terminal, plain lines in a log); it
//! never prints itself.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use super::checkpoint;
use super::data::{self, Batches, CsvOptions, LabelColumn};
use super::evaluate::{Evaluation, Tally};
use super::examples::{self, Examples};
use super::folds;
use crate::backend::interp::Interp;
use crate::backend::{Backend, Env, Executable, Tensor};
use crate::diag::{Code, Diagnostic};
use crate::graph::Shape;
use crate::graph::semantics::rng::Rng;
use crate::sema::Program;
use crate::sema::blocks::{ClassNames, DataConfig, Metric, Source, Targets, TrainConfig};
use crate::sema::eval::ParamSpec;
use crate::sema::value::Init;
use crate::train::{self, Step, TARGET, optim};

/// Options that do not come from the train block.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Directory that relative paths in the program resolve against (the `.nn` file's).
    pub base_dir: PathBuf,
    /// Start from these weights instead of the initialisers.
    pub init: Option<PathBuf>,
    /// Override the train block's epoch count.
    pub epochs: Option<usize>,
    /// Train on at most this many examples (for quick experiments and tests).
    pub limit: Option<usize>,
    /// Skip saving the checkpoint even if the train block names one.
    pub no_save: bool,
    /// Set from another thread (Ctrl-C) to stop between steps.
    pub interrupt: Option<Arc<AtomicBool>>,
    /// Cross-validate with this many folds (overrides `cross_validate`).
    pub folds: Option<usize>,
}

/// The back end `RunOptions` use when none is given.
pub static DEFAULT_BACKEND: Interp = Interp;

/// Results of one epoch.
#[derive(Clone, Debug)]
pub struct EpochReport {
    /// 1-based epoch number.
    pub epoch: usize,
    /// The cross-validation fold (1-based), if any.
    pub fold: Option<usize>,
    /// The training examples as seen during the epoch (the loss and
    /// predictions of each step, with dropout, before the step's update).
    pub train: Evaluation,
    /// The validation split after the epoch, when there is one.
    pub validation: Option<Evaluation>,
    /// The test split after the epoch, when there is one.
    pub test: Option<Evaluation>,
    /// Whether this epoch's weights are the best so far by the `keep` metric.
    pub best: bool,
    /// Training examples per second.
    pub samples_per_s: f64,
    /// Wall time of the epoch's training steps and evaluation.
    pub seconds: f64,
    /// The learning rate used.
    pub lr: f64,
}

impl EpochReport {
    /// Mean training loss over the epoch's examples.
    pub fn train_loss(&self) -> f64 {
        self.train.loss
    }

    /// The test split's accuracy.
    pub fn test_accuracy(&self) -> Option<f64> {
        self.test.as_ref()?.accuracy()
    }
}

/// Progress events.
#[derive(Debug)]
pub enum Event<'a> {
    /// A cross-validation fold begins.
    FoldStart {
        /// 1-based fold.
        fold: usize,
        /// Number of folds.
        folds: usize,
        /// Training examples in this fold.
        train: usize,
        /// Validation examples in this fold.
        validation: usize,
    },
    /// An epoch begins with this many steps.
    EpochStart {
        /// 1-based epoch.
        epoch: usize,
        /// Steps in the epoch.
        steps: usize,
    },
    /// A step finished.
    Step {
        /// 1-based epoch.
        epoch: usize,
        /// 1-based step within the epoch.
        step: usize,
        /// 1-based step since the run (or fold) began.
        global_step: usize,
        /// Its loss.
        loss: f64,
        /// The learning rate.
        lr: f64,
        /// Training throughput so far this epoch.
        samples_per_s: f64,
    },
    /// An epoch finished.
    EpochEnd(&'a EpochReport),
    /// Training stopped early: no better validation value for `patience` epochs.
    EarlyStop {
        /// The last epoch run.
        epoch: usize,
        /// The epoch with the best value.
        best_epoch: usize,
    },
}

/// Receives progress events.
pub type Observer<'a> = dyn FnMut(Event<'_>) + 'a;

/// What a finished run produced.
#[derive(Debug)]
pub struct Summary {
    /// One report per epoch.
    pub epochs: Vec<EpochReport>,
    /// With `keep = best(m)`: the epoch whose weights were kept, and its value of `m`.
    pub kept: Option<(usize, f64)>,
    /// Every step's loss, in order.
    pub losses: Vec<f64>,
    /// The trained parameters, in declaration order.
    pub params: Vec<(String, Tensor)>,
    /// Where the checkpoint was written, if anywhere.
    pub saved: Option<PathBuf>,
}

/// Resolves a path written in a program against the program's directory.
pub fn resolve(base: &Path, p: &str) -> PathBuf {
    let path = Path::new(p);
    if path.is_absolute() { path.to_path_buf() } else { base.join(path) }
}

/// Loads (or generates) one source of a data block; file inputs are scaled
/// and normalised as the block says.
pub fn load_source(src: &Source, cfg: &DataConfig, base: &Path) -> Result<Examples, Diagnostic> {
    let mut ds = match src {
        Source::Idx { images, labels } => {
            data::load_idx(&resolve(base, images), Some(&resolve(base, labels)))?
        }
        Source::Npy { images, labels, .. } => {
            data::load_npy(&resolve(base, images), Some(&resolve(base, labels)))?
        }
        Source::Csv { path, label_column, header, targets } => {
            let opts = CsvOptions {
                label_column: if *label_column == 0 { LabelColumn::First } else { LabelColumn::Last },
                header: *header,
                targets: *targets,
            };
            data::load_csv(&resolve(base, path), &opts)?
        }
        Source::Sequence(task) => return Ok(examples::generate(task)),
    };
    ds.scale(cfg.scale as f32);
    if let Some((mean, std)) = cfg.normalize {
        for v in &mut ds.images.data {
            *v = ((*v as f64 - mean) / std) as f32;
        }
    }
    let ex = Examples::from_dataset(ds);
    if src.targets() == Targets::Values {
        ex.finite_targets()?;
    }
    Ok(ex)
}

/// Step graphs built and compiled on demand, one per batch size (the full
/// batch and the last partial one), for training and for evaluation.
struct Steps<'p> {
    prog: &'p Program,
    cfg: &'p TrainConfig,
    backend: &'p dyn Backend,
    cache: HashMap<(usize, bool), (Step, Box<dyn Executable>)>,
    /// The executable that last updated parameters, which may still hold
    /// them on its device (see [`Executable::sync`]).
    updated_by: Option<(usize, bool)>,
}

impl Steps<'_> {
    /// Makes `env` hold the current parameters and state unless `next` is
    /// the executable that holds them.
    fn settle(&mut self, env: &mut Env, next: Option<(usize, bool)>) -> Result<(), Diagnostic> {
        if let Some(key) = self.updated_by
            && Some(key) != next
        {
            if let Some((_, exe)) = self.cache.get_mut(&key) {
                exe.sync(env).map_err(|e| crate::backend::run_error(&e))?;
            }
            self.updated_by = None;
        }
        Ok(())
    }

    fn get(&mut self, batch: usize, training: bool) -> Result<&mut (Step, Box<dyn Executable>), Diagnostic> {
        if !self.cache.contains_key(&(batch, training)) {
            let step = train::build_step(self.prog, self.cfg, batch, training).map_err(first)?;
            let exe = crate::backend::compile(self.backend, &step.graph)?;
            self.cache.insert((batch, training), (step, exe));
        }
        Ok(self.cache.get_mut(&(batch, training)).expect("inserted above"))
    }
}

fn first(mut ds: Vec<Diagnostic>) -> Diagnostic {
    if ds.is_empty() {
        Diagnostic::error_nowhere(Code::BACKEND, "the training step could not be built")
    } else {
        ds.swap_remove(0)
    }
}

/// Draws initial parameter values from the seed, in declaration order.
pub fn init_params(params: &[ParamSpec], seed: u64) -> Vec<(String, Tensor)> {
    let mut rng = Rng::new(seed);
    params
        .iter()
        .map(|p| {
            let n = p.shape.numel();
            let data: Vec<f32> = match p.init {
                Init::Uniform { lo, hi } => (0..n).map(|_| rng.uniform(lo as f32, hi as f32)).collect(),
                Init::Normal { mean, std } => {
                    (0..n).map(|_| (mean + std * rng.normal() as f64) as f32).collect()
                }
                Init::Fill(v) => vec![v as f32; n],
            };
            (p.name.clone(), Tensor::new(p.shape.clone(), data))
        })
        .collect()
}

/// A loaded model ready to evaluate or train: its data and its parameters.
pub struct Session<'p> {
    steps: Steps<'p>,
    env: Env,
    train: Examples,
    valid: Option<Examples>,
    test: Option<Examples>,
    params: Vec<ParamSpec>,
    states: Vec<optim::StateSpec>,
    /// Seeds initialisation and shuffling (a fold's own seed in cross-validation).
    seed: u64,
    /// The data block's class names (read from their file when given one).
    class_names: Option<Vec<String>>,
    /// The shape of the model's output for one example.
    output: Vec<usize>,
}

/// Which split to evaluate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Split {
    /// The training examples (after any validation split is carved out).
    Train,
    /// The validation examples.
    Validation,
    /// The test examples.
    Test,
}

impl Split {
    /// Its name in reports and `--log-json` keys.
    pub fn name(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Validation => "validation",
            Split::Test => "test",
        }
    }
}

impl<'p> Session<'p> {
    /// Loads the data, builds the first step graph, and initialises (or restores) parameters.
    pub fn new(
        prog: &'p Program,
        cfg: &'p TrainConfig,
        opts: &RunOptions,
        backend: &'p dyn Backend,
    ) -> Result<Session<'p>, Diagnostic> {
        let mut train = load_source(&cfg.data.train, &cfg.data, &opts.base_dir)?;
        let load = |src: &Option<Source>| match src {
            Some(src) => load_source(src, &cfg.data, &opts.base_dir).map(Some),
            None => Ok(None),
        };
        let mut test = load(&cfg.data.test)?;
        let mut valid = load(&cfg.data.valid)?;
        if let Some(limit) = opts.limit {
            train.truncate(limit);
        }
        if train.is_empty() {
            return Err(Diagnostic::error_nowhere(
                Code::DATA_FORMAT,
                format!("`{}` holds no examples", train.origin),
            ));
        }
        if let Some(fraction) = cfg.eval.validate {
            if train.len() < 2 {
                return Err(Diagnostic::error(
                    Code::VALIDATION,
                    cfg.span,
                    format!("`{}` holds {} example, too few to hold some out", train.origin, train.len()),
                )
                .with_help("train on more examples, or remove `validate`"));
            }
            // Float targets are not classes: only class labels stratify.
            let strata = train.class_labels().filter(|_| cfg.data.targets == Targets::Classes);
            let split = folds::holdout(train.len(), fraction, cfg.seed, strata);
            valid = Some(train.select(&split.validation));
            train = train.select(&split.train);
        }
        let mut steps = Steps { prog, cfg, backend, cache: HashMap::new(), updated_by: None };
        let batch = cfg.batch.min(train.len());
        let (step, _) = steps.get(batch, true)?;
        for ex in std::iter::once(&mut train).chain(valid.as_mut()).chain(test.as_mut()) {
            ex.bind(step)?;
        }
        let params = step.params.clone();
        let states = step.states.clone();
        let output: Vec<usize> =
            step.graph.output("output").map_or(Vec::new(), |o| step.graph.shape(o).0[1..].to_vec());
        let classes = output.last().copied().filter(|_| cfg.data.targets == Targets::Classes);
        let class_names = match &cfg.data.classes {
            Some(names) => Some(class_names(names, &opts.base_dir, classes)?),
            None => None,
        };
        let mut session = Session {
            steps,
            env: Env::new(cfg.seed),
            train,
            valid,
            test,
            params,
            states,
            seed: cfg.seed,
            class_names,
            output,
        };
        let values = match &opts.init {
            Some(path) => {
                let loaded = checkpoint::load(path)?;
                let expected: Vec<(String, Shape)> =
                    session.params.iter().map(|p| (p.name.clone(), p.shape.clone())).collect();
                checkpoint::check_against(loaded, &expected, path)?
            }
            None => init_params(&session.params, cfg.seed),
        };
        session.restart(cfg.seed, values)?;
        Ok(session)
    }

    /// Starts training afresh from `values` with `seed`: the optimizer's
    /// state, step count and learning rate are reset.
    pub(super) fn restart(&mut self, seed: u64, values: Vec<(String, Tensor)>) -> Result<(), Diagnostic> {
        self.steps.settle(&mut self.env, None)?;
        let cfg = self.steps.cfg;
        self.seed = seed;
        self.env = Env::new(seed);
        self.env.params = values.into_iter().collect();
        for s in &self.states {
            self.env.states.insert(s.name.clone(), Tensor::zeros(s.shape.clone()));
        }
        self.env.states.insert(optim::STEP.into(), Tensor::scalar(0.0));
        self.env.states.insert(optim::LR.into(), Tensor::scalar(cfg.optimizer.lr() as f32));
        Ok(())
    }

    /// The current parameters in declaration order.
    ///
    /// Errors: a device failure while fetching them from a GPU.
    pub fn params(&mut self) -> Result<Vec<(String, Tensor)>, Diagnostic> {
        self.steps.settle(&mut self.env, None)?;
        Ok(self.params.iter().map(|p| (p.name.clone(), self.env.params[&p.name].clone())).collect())
    }

    /// Replaces the parameters (e.g. with the best epoch's).
    fn set_params(&mut self, values: &[(String, Tensor)]) -> Result<(), Diagnostic> {
        self.steps.settle(&mut self.env, None)?;
        for (name, t) in values {
            self.env.params.insert(name.clone(), t.clone());
        }
        Ok(())
    }

    /// The parameters' names, shapes and initialisers, in declaration order.
    pub fn param_specs(&self) -> &[ParamSpec] {
        &self.params
    }

    /// The class names, in label order, when the data block gives them.
    pub fn class_names(&self) -> Option<&[String]> {
        self.class_names.as_deref()
    }

    /// The checked train block the session runs.
    pub fn config(&self) -> &'p TrainConfig {
        self.steps.cfg
    }

    /// The training examples.
    pub fn train_examples(&self) -> &Examples {
        &self.train
    }

    /// Replaces the training and validation examples (already bound to the
    /// step's inputs: a subset of the session's own).
    pub(super) fn set_examples(&mut self, train: Examples, valid: Option<Examples>) {
        self.train = train;
        self.valid = valid;
    }

    /// The number of parameter values.
    pub fn param_count(&self) -> usize {
        self.params.iter().map(|p| p.shape.numel()).sum()
    }

    /// The number of examples in a split (0 when there is no such split).
    pub fn split_len(&self, split: Split) -> usize {
        self.examples(split).map_or(0, Examples::len)
    }

    fn examples(&self, split: Split) -> Option<&Examples> {
        match split {
            Split::Train => Some(&self.train),
            Split::Validation => self.valid.as_ref(),
            Split::Test => self.test.as_ref(),
        }
    }

    /// Runs the configured number of epochs (or cross-validates, see
    /// [`crossval`](super::crossval)), then saves the checkpoint the train
    /// block names.
    pub fn train(&mut self, opts: &RunOptions, observer: &mut Observer<'_>) -> Result<Summary, Diagnostic> {
        let cfg = self.steps.cfg;
        let mut summary = self.fit(opts, None, observer)?;
        if let (Some(p), false) = (&cfg.save, opts.no_save) {
            let path = resolve(&opts.base_dir, &p.replace("{fold}", "all"));
            checkpoint::save(&path, &summary.params)?;
            summary.saved = Some(path);
        }
        Ok(summary)
    }

    /// Trains for the configured epochs without saving: evaluates the
    /// validation and test splits after each epoch, keeps the best epoch's
    /// weights and stops early as the train block says.
    pub(super) fn fit(
        &mut self,
        opts: &RunOptions,
        fold: Option<usize>,
        observer: &mut Observer<'_>,
    ) -> Result<Summary, Diagnostic> {
        let cfg = self.steps.cfg;
        let epochs = opts.epochs.unwrap_or(cfg.epochs);
        let mut reports: Vec<EpochReport> = Vec::new();
        let mut losses = Vec::new();
        // `keep`'s best epoch and its weights; `early_stop`'s best epoch.
        let mut kept = cfg.eval.keep.map(BestSoFar::new);
        let mut kept_weights: Option<Weights> = None;
        let mut watched = cfg.eval.early_stop.map(|e| BestSoFar::new(e.metric));
        for epoch in 0..epochs {
            let start = Instant::now();
            let (train, lr, rate) = self.epoch(opts, epoch, epochs, &mut losses, observer)?;
            let validation = self.evaluate_split(Split::Validation)?;
            let test = self.evaluate_split(Split::Test)?;
            let mut report = EpochReport {
                epoch: epoch + 1,
                fold,
                train,
                validation,
                test,
                best: false,
                samples_per_s: rate,
                seconds: 0.0,
                lr,
            };
            if let Some(k) = &mut kept
                && k.offer(epoch + 1, report.validation.as_ref())
            {
                report.best = true;
                kept_weights = Some(self.params()?);
            }
            let stop = match (cfg.eval.early_stop, &mut watched) {
                (Some(es), Some(w)) => {
                    w.offer(epoch + 1, report.validation.as_ref());
                    w.best.is_some_and(|(e, _)| epoch + 1 - e >= es.patience)
                }
                _ => false,
            };
            report.seconds = start.elapsed().as_secs_f64();
            observer(Event::EpochEnd(&report));
            reports.push(report);
            if stop {
                let best_epoch = watched.and_then(|w| w.best).map_or(epoch + 1, |(e, _)| e);
                observer(Event::EarlyStop { epoch: epoch + 1, best_epoch });
                break;
            }
        }
        if let Some(weights) = &kept_weights {
            self.set_params(weights)?;
        }
        let kept = kept.and_then(|k| k.best);
        let params = self.params()?;
        Ok(Summary { epochs: reports, kept, losses, params, saved: None })
    }

    /// One pass over the training examples: returns their evaluation, the
    /// learning rate and the examples per second.
    fn epoch(
        &mut self,
        opts: &RunOptions,
        epoch: usize,
        epochs: usize,
        losses: &mut Vec<f64>,
        observer: &mut Observer<'_>,
    ) -> Result<(Evaluation, f64, f64), Diagnostic> {
        let cfg = self.steps.cfg;
        let n = self.train.len();
        let lr =
            cfg.schedule.as_ref().map_or(cfg.optimizer.lr(), |s| s.lr_at(cfg.optimizer.lr(), epoch, epochs));
        self.env.states.insert(optim::LR.into(), Tensor::scalar(lr as f32));
        let batches = Batches::new(n, cfg.batch.min(n), self.seed, epoch as u64, cfg.shuffle);
        observer(Event::EpochStart { epoch: epoch + 1, steps: batches.len() });
        let start = Instant::now();
        let mut tally = self.tally();
        let mut seen = 0usize;
        for (i, idx) in batches.iter().enumerate() {
            if opts.interrupt.as_ref().is_some_and(|f| f.load(Ordering::Relaxed)) {
                return Err(Diagnostic::error_nowhere(
                    Code::INTERRUPTED,
                    "interrupted; no checkpoint was written",
                )
                .with_note(format!("stopped in epoch {} at step {}", epoch + 1, i + 1)));
            }
            let (xs, y) = self.train.gather(idx);
            let (loss, out) = self.run(xs, y.clone(), true)?;
            let loss = loss as f64;
            if !loss.is_finite() {
                return Err(non_finite(epoch + 1, i + 1, lr, &cfg.data));
            }
            losses.push(loss);
            seen += idx.len();
            tally.add_loss(loss, idx.len());
            if let Some(y) = &y {
                tally.add_predictions(&out, y);
            }
            let secs = start.elapsed().as_secs_f64().max(1e-9);
            observer(Event::Step {
                epoch: epoch + 1,
                step: i + 1,
                global_step: losses.len(),
                loss,
                lr,
                samples_per_s: seen as f64 / secs,
            });
        }
        let train_secs = start.elapsed().as_secs_f64().max(1e-9);
        Ok((tally.finish(None), lr, seen as f64 / train_secs))
    }

    /// An empty tally for the model's output and the train block's metrics.
    fn tally(&self) -> Tally {
        let cfg = self.steps.cfg;
        Tally::new(cfg.data.targets, &self.output, &cfg.eval.metrics)
    }

    /// Evaluates a split if the session has it.
    pub fn evaluate_split(&mut self, split: Split) -> Result<Option<Evaluation>, Diagnostic> {
        let Some(ex) = self.examples(split).cloned() else { return Ok(None) };
        self.evaluate(&ex).map(Some)
    }

    /// The loss and metrics over all of `ex`, without dropout; with the
    /// `sequence_accuracy` metric, also greedy decoding.
    pub fn evaluate(&mut self, ex: &Examples) -> Result<Evaluation, Diagnostic> {
        let cfg = self.steps.cfg;
        let batch = cfg.batch.min(ex.len().max(1));
        let batches = Batches::new(ex.len(), batch, 0, 0, false);
        let mut tally = self.tally();
        let mut exact = 0usize;
        let decode = cfg.eval.metrics.contains(&Metric::SequenceAccuracy) && ex.decoder.is_some();
        for idx in batches.iter() {
            let (xs, y) = ex.gather(idx);
            let (loss, out) = self.run(xs.clone(), y.clone(), false)?;
            if let Some(y) = &y {
                tally.add_loss(loss as f64, idx.len());
                tally.add_predictions(&out, y);
                if let (true, Some(dec)) = (decode, &ex.decoder) {
                    exact += self.decode_exact(ex, dec, xs, y)?;
                }
            }
        }
        let n = ex.len().max(1) as f64;
        let seq = decode.then(|| exact as f64 / n);
        Ok(tally.finish(seq))
    }

    /// Greedy decoding of one batch: the decoder input starts as the start
    /// token, and after each run the prediction at position `t` becomes the
    /// input at `t + 1` (a causal decoder's output at `t` does not depend on
    /// later inputs, so the placeholders there do not matter). Returns how
    /// many sequences come out exactly equal to their labels.
    fn decode_exact(
        &mut self,
        ex: &Examples,
        dec: &examples::Decoder,
        mut xs: Vec<Tensor>,
        labels: &Tensor,
    ) -> Result<usize, Diagnostic> {
        let Some(k) = ex.fields.iter().position(|f| f.name.as_deref() == Some(dec.field.as_str())) else {
            return Ok(0);
        };
        let (b, len) = (labels.shape.0[0], labels.numel() / labels.shape.0[0].max(1));
        xs[k].data.iter_mut().for_each(|v| *v = dec.start);
        let mut predicted = vec![0.0f32; b * len];
        for t in 0..len {
            let (_, out) = self.run(xs.clone(), None, false)?;
            let classes = out.shape.0.last().copied().unwrap_or(1).max(1);
            if out.numel() != b * len * classes {
                return Err(Diagnostic::error_nowhere(
                    Code::DATA_SHAPE,
                    format!(
                        "greedy decoding needs an output of one score row per position [{b}, {len}, C], found {}",
                        out.shape
                    ),
                ));
            }
            for i in 0..b {
                let row = &out.data[(i * len + t) * classes..(i * len + t + 1) * classes];
                let best = argmax(row) as f32;
                predicted[i * len + t] = best;
                if t + 1 < len {
                    xs[k].data[i * len + t + 1] = best;
                }
            }
        }
        Ok((0..b)
            .filter(|&i| predicted[i * len..(i + 1) * len] == labels.data[i * len..(i + 1) * len])
            .count())
    }

    /// Runs one step graph on a batch (one tensor per input, in the step's
    /// order); returns the loss (NaN without labels) and the model output.
    fn run(
        &mut self,
        xs: Vec<Tensor>,
        y: Option<Tensor>,
        training: bool,
    ) -> Result<(f32, Tensor), Diagnostic> {
        let b = xs.first().map_or(0, |x| x.shape.0[0]);
        self.steps.settle(&mut self.env, Some((b, training)))?;
        if training {
            self.steps.updated_by = Some((b, training));
        }
        let (step, exe) = self.steps.get(b, training)?;
        self.env.inputs.clear();
        for (x, input) in xs.into_iter().zip(&step.inputs) {
            let mut dims = vec![b];
            dims.extend_from_slice(&input.shape.0);
            self.env.inputs.insert(input.name.clone(), Tensor::new(Shape(dims), x.data));
        }
        let y = y.unwrap_or_else(|| {
            let mut dims = vec![b];
            dims.extend_from_slice(&step.target.0);
            Tensor::zeros(Shape(dims))
        });
        self.env.inputs.insert(TARGET.into(), y);
        let mut outs = exe.run(&mut self.env, training).map_err(|e| crate::backend::run_error(&e))?;
        let loss = outs.get("loss").map_or(f32::NAN, |t| t.data[0]);
        let out = outs.remove("output").unwrap_or_else(|| Tensor::scalar(0.0));
        Ok((loss, out))
    }
}

/// The class names a data block gives, read from their file if it names
/// one; `classes` is the model's number of classes, which they must match.
///
/// Errors: E0601 if the file cannot be read; E0402 for a file with a
/// repeated name or a count other than the model's.
pub fn class_names(
    names: &ClassNames,
    base: &Path,
    classes: Option<usize>,
) -> Result<Vec<String>, Diagnostic> {
    let (names, origin) = match names {
        ClassNames::Listed(names) => return Ok(names.clone()),
        ClassNames::File(p) => {
            let path = resolve(base, p);
            let text = std::fs::read_to_string(&path).map_err(|e| {
                Diagnostic::error_nowhere(Code::DATA_FILE, format!("cannot read `{}`: {e}", path.display()))
                    .with_help("`classes` names a text file with one class name per line")
            })?;
            let names: Vec<String> =
                text.lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from).collect();
            (names, path)
        }
    };
    let bad = |msg: String| {
        Diagnostic::error_nowhere(Code::SETTING, msg)
            .with_help("write one class name per line, in label order, one line per output class")
    };
    if let Some(dup) = names.iter().enumerate().find(|(i, n)| names[..*i].contains(n)) {
        return Err(bad(format!("class name `{}` appears twice in `{}`", dup.1, origin.display())));
    }
    if let Some(c) = classes
        && names.len() != c
    {
        return Err(bad(format!(
            "`{}` names {} classes, but the model's output has {c}",
            origin.display(),
            names.len()
        )));
    }
    Ok(names)
}

/// Parameter values by name, in declaration order.
type Weights = Vec<(String, Tensor)>;

/// The best validation value of a metric so far (for `keep` and
/// `early_stop`), with its epoch.
struct BestSoFar {
    metric: Metric,
    best: Option<(usize, f64)>,
}

impl BestSoFar {
    fn new(metric: Metric) -> BestSoFar {
        BestSoFar { metric, best: None }
    }

    /// Takes an epoch's validation result; true when it is strictly better
    /// than every earlier one (lower for losses and errors, higher otherwise).
    fn offer(&mut self, epoch: usize, validation: Option<&Evaluation>) -> bool {
        let Some(v) = validation.and_then(|e| e.value(self.metric)) else { return false };
        let better = match self.best {
            None => true,
            Some((_, b)) if self.metric.higher_is_better() => v > b,
            Some((_, b)) => v < b,
        };
        if better {
            self.best = Some((epoch, v));
        }
        better
    }
}

/// The index of the largest value (the first of ties).
fn argmax(row: &[f32]) -> usize {
    row.iter().enumerate().fold((0, f32::NEG_INFINITY), |b, (i, &v)| if v > b.1 { (i, v) } else { b }).0
}

fn non_finite(epoch: usize, step: usize, lr: f64, data: &DataConfig) -> Diagnostic {
    let mut d = Diagnostic::error_nowhere(
        Code::NON_FINITE,
        format!("the loss became NaN or infinite in epoch {epoch} at step {step}"),
    )
    .with_note(format!("the learning rate was {lr}"));
    d = if data.scale == 1.0 && data.normalize.is_none() {
        d.with_help("inputs are not scaled: add `scale = 1 / 255` (or `normalize`) to the data block, or lower the learning rate")
    } else {
        d.with_help("lower the learning rate, e.g. to a tenth of its value")
    };
    d
}
