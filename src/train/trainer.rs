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
use super::examples::{self, Examples};
use crate::backend::interp::Interp;
use crate::backend::{Backend, Env, Executable, Tensor};
use crate::diag::{Code, Diagnostic};
use crate::graph::Shape;
use crate::graph::semantics::rng::Rng;
use crate::sema::Program;
use crate::sema::blocks::{DataConfig, Source, TrainConfig};
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
}

/// The back end `RunOptions` use when none is given.
pub static DEFAULT_BACKEND: Interp = Interp;

/// Results of one epoch.
#[derive(Clone, Debug, PartialEq)]
pub struct EpochReport {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Mean training loss over the epoch's examples.
    pub train_loss: f64,
    /// Fraction of training labels predicted correctly (during the epoch;
    /// per position for sequences).
    pub train_accuracy: Option<f64>,
    /// Mean loss on the test split.
    pub test_loss: Option<f64>,
    /// Fraction of test labels predicted correctly.
    pub test_accuracy: Option<f64>,
    /// Fraction of test sequences reproduced exactly by greedy decoding
    /// (with the `sequence_accuracy` metric).
    pub test_sequence_accuracy: Option<f64>,
    /// Training examples per second.
    pub samples_per_s: f64,
    /// Wall time of the epoch's training steps and evaluation.
    pub seconds: f64,
    /// The learning rate used.
    pub lr: f64,
}

/// Progress events.
#[derive(Debug)]
pub enum Event<'a> {
    /// An epoch begins with this many steps.
    EpochStart {
        /// 1-based epoch.
        epoch: usize,
        /// Steps in the epoch.
        steps: usize,
    },
    /// A step finished.
    Step {
        /// 1-based step within the epoch.
        step: usize,
        /// Its loss.
        loss: f64,
        /// Training throughput so far this epoch.
        samples_per_s: f64,
    },
    /// An epoch finished.
    EpochEnd(&'a EpochReport),
}

/// Receives progress events.
pub type Observer<'a> = dyn FnMut(Event<'_>) + 'a;

/// What a finished run produced.
#[derive(Debug)]
pub struct Summary {
    /// One report per epoch.
    pub epochs: Vec<EpochReport>,
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
        Source::Npy { images, labels } => {
            data::load_npy(&resolve(base, images), Some(&resolve(base, labels)))?
        }
        Source::Csv { path, label_column } => {
            let opts = CsvOptions {
                label_column: if *label_column == 0 { LabelColumn::First } else { LabelColumn::Last },
                ..CsvOptions::default()
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
    Ok(Examples::from_dataset(ds))
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
    test: Option<Examples>,
    params: Vec<ParamSpec>,
}

/// The result of evaluating a model on a split.
#[derive(Clone, Debug, PartialEq)]
pub struct Evaluation {
    /// Mean loss per example.
    pub loss: f64,
    /// Fraction of labels predicted correctly (per position for sequences),
    /// with the true inputs fed (teacher forcing).
    pub accuracy: Option<f64>,
    /// Fraction of sequences a greedy decoder reproduces exactly, when the
    /// train block asks for `sequence_accuracy`.
    pub sequence_accuracy: Option<f64>,
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
        let mut test = match &cfg.data.test {
            Some(src) => Some(load_source(src, &cfg.data, &opts.base_dir)?),
            None => None,
        };
        if let Some(limit) = opts.limit {
            train.truncate(limit);
        }
        if train.is_empty() {
            return Err(Diagnostic::error_nowhere(
                Code::DATA_FORMAT,
                format!("`{}` holds no examples", train.origin),
            ));
        }
        let mut steps = Steps { prog, cfg, backend, cache: HashMap::new(), updated_by: None };
        let batch = cfg.batch.min(train.len());
        let (step, _) = steps.get(batch, true)?;
        for ex in std::iter::once(&mut train).chain(test.as_mut()) {
            ex.bind(step)?;
        }
        let params = step.params.clone();
        let states = step.states.clone();
        let values = match &opts.init {
            Some(path) => {
                let loaded = checkpoint::load(path)?;
                let expected: Vec<(String, Shape)> =
                    params.iter().map(|p| (p.name.clone(), p.shape.clone())).collect();
                checkpoint::check_against(loaded, &expected, path)?
            }
            None => init_params(&params, cfg.seed),
        };
        let mut env = Env::new(cfg.seed);
        env.params = values.into_iter().collect();
        for s in &states {
            env.states.insert(s.name.clone(), Tensor::zeros(s.shape.clone()));
        }
        env.states.insert(optim::STEP.into(), Tensor::scalar(0.0));
        env.states.insert(optim::LR.into(), Tensor::scalar(cfg.optimizer.lr() as f32));
        Ok(Session { steps, env, train, test, params })
    }

    /// The current parameters in declaration order.
    ///
    /// Errors: a device failure while fetching them from a GPU.
    pub fn params(&mut self) -> Result<Vec<(String, Tensor)>, Diagnostic> {
        self.steps.settle(&mut self.env, None)?;
        Ok(self.params.iter().map(|p| (p.name.clone(), self.env.params[&p.name].clone())).collect())
    }

    /// The number of parameter values.
    pub fn param_count(&self) -> usize {
        self.params.iter().map(|p| p.shape.numel()).sum()
    }

    /// Runs the configured number of epochs.
    pub fn train(&mut self, opts: &RunOptions, observer: &mut Observer<'_>) -> Result<Summary, Diagnostic> {
        let cfg = self.steps.cfg;
        let epochs = opts.epochs.unwrap_or(cfg.epochs);
        let mut reports = Vec::new();
        let mut losses = Vec::new();
        let n = self.train.len();
        for epoch in 0..epochs {
            let lr = cfg
                .schedule
                .as_ref()
                .map_or(cfg.optimizer.lr(), |s| s.lr_at(cfg.optimizer.lr(), epoch, epochs));
            self.env.states.insert(optim::LR.into(), Tensor::scalar(lr as f32));
            let batches = Batches::new(n, cfg.batch.min(n), cfg.seed, epoch as u64, cfg.shuffle);
            observer(Event::EpochStart { epoch: epoch + 1, steps: batches.len() });
            let start = Instant::now();
            let (mut loss_sum, mut seen) = (0.0f64, 0usize);
            let mut hits = Hits::default();
            for (i, idx) in batches.iter().enumerate() {
                if opts.interrupt.as_ref().is_some_and(|f| f.load(Ordering::Relaxed)) {
                    return Err(Diagnostic::error_nowhere(
                        Code::INTERRUPTED,
                        "interrupted; no checkpoint was written",
                    )
                    .with_note(format!(
                        "stopped in epoch {} at step {}",
                        epoch + 1,
                        i + 1
                    )));
                }
                let (xs, y) = self.train.gather(idx);
                let (loss, out) = self.run(xs, y.clone(), true)?;
                let loss = loss as f64;
                if !loss.is_finite() {
                    return Err(non_finite(epoch + 1, i + 1, lr, &cfg.data));
                }
                losses.push(loss);
                loss_sum += loss * idx.len() as f64;
                seen += idx.len();
                if let Some(y) = &y {
                    hits.add(&out, y);
                }
                let secs = start.elapsed().as_secs_f64().max(1e-9);
                observer(Event::Step { step: i + 1, loss, samples_per_s: seen as f64 / secs });
            }
            let train_secs = start.elapsed().as_secs_f64().max(1e-9);
            let test = match self.test.take() {
                Some(test) => {
                    let r = self.evaluate(&test);
                    self.test = Some(test);
                    Some(r?)
                }
                None => None,
            };
            let report = EpochReport {
                epoch: epoch + 1,
                train_loss: loss_sum / seen.max(1) as f64,
                train_accuracy: hits.fraction(),
                test_loss: test.as_ref().map(|t| t.loss),
                test_accuracy: test.as_ref().and_then(|t| t.accuracy),
                test_sequence_accuracy: test.as_ref().and_then(|t| t.sequence_accuracy),
                samples_per_s: seen as f64 / train_secs,
                seconds: start.elapsed().as_secs_f64(),
                lr,
            };
            observer(Event::EpochEnd(&report));
            reports.push(report);
        }
        let params = self.params()?;
        let saved = match (&cfg.save, opts.no_save) {
            (Some(p), false) => {
                let path = resolve(&opts.base_dir, p);
                checkpoint::save(&path, &params)?;
                Some(path)
            }
            _ => None,
        };
        Ok(Summary { epochs: reports, losses, params, saved })
    }

    /// Mean loss and accuracy (for classifiers) over examples, without
    /// dropout; with the `sequence_accuracy` metric, also greedy decoding.
    pub fn evaluate(&mut self, ex: &Examples) -> Result<Evaluation, Diagnostic> {
        let batch = self.steps.cfg.batch.min(ex.len().max(1));
        let batches = Batches::new(ex.len(), batch, 0, 0, false);
        let mut loss_sum = 0.0f64;
        let mut hits = Hits::default();
        let mut exact = 0usize;
        let decode = self.steps.cfg.sequence_accuracy && ex.decoder.is_some();
        for idx in batches.iter() {
            let (xs, y) = ex.gather(idx);
            let (loss, out) = self.run(xs.clone(), y.clone(), false)?;
            loss_sum += loss as f64 * idx.len() as f64;
            if let Some(y) = &y {
                hits.add(&out, y);
                if let (true, Some(dec)) = (decode, &ex.decoder) {
                    exact += self.decode_exact(ex, dec, xs, y)?;
                }
            }
        }
        let n = ex.len().max(1) as f64;
        Ok(Evaluation {
            loss: loss_sum / n,
            accuracy: hits.fraction(),
            sequence_accuracy: decode.then(|| exact as f64 / n),
        })
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

    /// Evaluates the test split (or the training split when there is none).
    pub fn evaluate_default(&mut self) -> Result<Evaluation, Diagnostic> {
        let ex = match &self.test {
            Some(test) => test.clone(),
            None => self.train.clone(),
        };
        self.evaluate(&ex)
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

/// Counts arg-max predictions equal to their labels: one per example for
/// an output `[B, C]` and labels `[B]`, one per position for `[B, T, C]`
/// and `[B, T]`.
#[derive(Default)]
struct Hits {
    correct: usize,
    total: usize,
}

impl Hits {
    fn add(&mut self, out: &Tensor, labels: &Tensor) {
        if out.shape.rank() < 2 || out.shape.rank() != labels.shape.rank() + 1 {
            return;
        }
        let c = out.shape.0[out.shape.rank() - 1].max(1);
        self.correct +=
            out.data.chunks(c).zip(&labels.data).filter(|&(row, &y)| argmax(row) as f32 == y).count();
        self.total += labels.numel();
    }

    fn fraction(&self) -> Option<f64> {
        (self.total > 0).then(|| self.correct as f64 / self.total as f64)
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
