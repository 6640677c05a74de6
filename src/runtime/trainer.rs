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

use super::Tensor;
use super::checkpoint;
use super::data::{self, Batches, CsvOptions, Dataset, LabelColumn};
use super::exec::{Backend, Executable, Interp};
use super::interp::Env;
use super::rng::Rng;
use crate::diag::{Code, Diagnostic};
use crate::graph::Shape;
use crate::sema::Program;
use crate::sema::eval::ParamSpec;
use crate::sema::train::{DataConfig, Source, TrainConfig};
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
    /// Fraction of training examples classified correctly (during the epoch).
    pub train_accuracy: Option<f64>,
    /// Mean loss on the test split.
    pub test_loss: Option<f64>,
    /// Fraction of test examples classified correctly.
    pub test_accuracy: Option<f64>,
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

/// Loads one source of a data block, scaled and normalised.
pub fn load_source(src: &Source, cfg: &DataConfig, base: &Path) -> Result<Dataset, Diagnostic> {
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
    };
    ds.scale(cfg.scale as f32);
    if let Some((mean, std)) = cfg.normalize {
        for v in &mut ds.images.data {
            *v = ((*v as f64 - mean) / std) as f32;
        }
    }
    Ok(ds)
}

/// Step graphs built and compiled on demand, one per batch size (the full
/// batch and the last partial one), for training and for evaluation.
struct Steps<'p> {
    prog: &'p Program,
    cfg: &'p TrainConfig,
    backend: &'p dyn Backend,
    cache: HashMap<(usize, bool), (Step, Box<dyn Executable>)>,
}

impl Steps<'_> {
    fn get(&mut self, batch: usize, training: bool) -> Result<&mut (Step, Box<dyn Executable>), Diagnostic> {
        if !self.cache.contains_key(&(batch, training)) {
            let step = train::build_step(self.prog, self.cfg, batch, training).map_err(first)?;
            let exe = self.backend.compile(&step.graph)?;
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
    train: Dataset,
    test: Option<Dataset>,
    n_classes: Option<usize>,
    params: Vec<ParamSpec>,
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
            truncate(&mut train, limit);
        }
        if train.is_empty() {
            return Err(Diagnostic::error_nowhere(
                Code::DATA_FORMAT,
                format!("`{}` holds no examples", train.images_path.display()),
            ));
        }
        let mut steps = Steps { prog, cfg, backend, cache: HashMap::new() };
        let batch = cfg.batch.min(train.len());
        let (step, _) = steps.get(batch, true)?;
        let (input_name, input_shape) = step.input.clone();
        let output_shape =
            step.graph.shape(step.graph.output("output").unwrap_or(crate::graph::NodeId(0))).clone();
        let n_classes = (output_shape.rank() == 2).then(|| output_shape.0[1]);
        for ds in std::iter::once(&mut train).chain(test.as_mut()) {
            fit_input(ds, &input_name, &input_shape)?;
            if let (Some(c), Some(labels)) = (n_classes, &ds.labels) {
                let path = ds.labels_path.clone().unwrap_or_else(|| ds.images_path.clone());
                data::check_labels(labels, c, &path)?;
            }
            if ds.labels.is_none() {
                return Err(Diagnostic::error_nowhere(
                    Code::DATA_FORMAT,
                    format!("`{}` has no labels to train against", ds.images_path.display()),
                ));
            }
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
        Ok(Session { steps, env, train, test, n_classes, params })
    }

    /// The current parameters in declaration order.
    pub fn params(&self) -> Vec<(String, Tensor)> {
        self.params.iter().map(|p| (p.name.clone(), self.env.params[&p.name].clone())).collect()
    }

    /// Runs the configured number of epochs.
    pub fn train(&mut self, opts: &RunOptions, observer: &mut Observer<'_>) -> Result<Summary, Diagnostic> {
        let cfg = self.steps.cfg;
        let epochs = opts.epochs.unwrap_or(cfg.epochs);
        let mut reports = Vec::new();
        let mut losses = Vec::new();
        let n = self.train.len();
        for epoch in 0..epochs {
            let lr = cfg.schedule.as_ref().map_or(cfg.optimizer.lr(), |s| s.lr_at(cfg.optimizer.lr(), epoch));
            self.env.states.insert(optim::LR.into(), Tensor::scalar(lr as f32));
            let batches = Batches::new(n, cfg.batch.min(n), cfg.seed, epoch as u64, cfg.shuffle);
            observer(Event::EpochStart { epoch: epoch + 1, steps: batches.len() });
            let start = Instant::now();
            let (mut loss_sum, mut correct, mut seen) = (0.0f64, 0usize, 0usize);
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
                let (x, y) = self.train.gather_batch(idx);
                let out = self.run(x, y.clone(), true)?;
                let loss = out.0 as f64;
                if !loss.is_finite() {
                    return Err(non_finite(epoch + 1, i + 1, lr, &cfg.data));
                }
                losses.push(loss);
                loss_sum += loss * idx.len() as f64;
                seen += idx.len();
                if let Some(y) = &y {
                    correct += count_correct(&out.1, y);
                }
                let secs = start.elapsed().as_secs_f64().max(1e-9);
                observer(Event::Step { step: i + 1, loss, samples_per_s: seen as f64 / secs });
            }
            let train_secs = start.elapsed().as_secs_f64().max(1e-9);
            let (test_loss, test_accuracy) = match self.test.take() {
                Some(test) => {
                    let r = self.evaluate(&test);
                    self.test = Some(test);
                    let (l, a) = r?;
                    (Some(l), a)
                }
                None => (None, None),
            };
            let report = EpochReport {
                epoch: epoch + 1,
                train_loss: loss_sum / seen.max(1) as f64,
                train_accuracy: self.n_classes.map(|_| correct as f64 / seen.max(1) as f64),
                test_loss,
                test_accuracy,
                samples_per_s: seen as f64 / train_secs,
                seconds: start.elapsed().as_secs_f64(),
                lr,
            };
            observer(Event::EpochEnd(&report));
            reports.push(report);
        }
        let params = self.params();
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

    /// Mean loss and accuracy (for classifiers) over a data set, without dropout.
    pub fn evaluate(&mut self, ds: &Dataset) -> Result<(f64, Option<f64>), Diagnostic> {
        let batch = self.steps.cfg.batch.min(ds.len().max(1));
        let batches = Batches::new(ds.len(), batch, 0, 0, false);
        let (mut loss_sum, mut correct) = (0.0f64, 0usize);
        for idx in batches.iter() {
            let (x, y) = ds.gather_batch(idx);
            let (loss, out) = self.run(x, y.clone(), false)?;
            loss_sum += loss as f64 * idx.len() as f64;
            if let Some(y) = &y {
                correct += count_correct(&out, y);
            }
        }
        let n = ds.len().max(1) as f64;
        Ok((loss_sum / n, self.n_classes.map(|_| correct as f64 / n)))
    }

    /// Evaluates the test split (or the training split when there is none).
    pub fn evaluate_default(&mut self) -> Result<(f64, Option<f64>), Diagnostic> {
        match self.test.take() {
            Some(test) => {
                let r = self.evaluate(&test);
                self.test = Some(test);
                r
            }
            None => {
                let train = std::mem::replace(&mut self.train, empty_dataset());
                let r = self.evaluate(&train);
                self.train = train;
                r
            }
        }
    }

    /// Runs one step graph on a batch; returns the loss and the model output.
    fn run(&mut self, x: Tensor, y: Option<Tensor>, training: bool) -> Result<(f32, Tensor), Diagnostic> {
        let b = x.shape.0[0];
        let (step, exe) = self.steps.get(b, training)?;
        let mut dims = vec![b];
        dims.extend_from_slice(&step.input.1.0);
        let x = Tensor::new(Shape(dims), x.data);
        self.env.inputs.clear();
        self.env.inputs.insert(step.input.0.clone(), x);
        if let Some(y) = y {
            self.env.inputs.insert(TARGET.into(), y);
        }
        let mut outs = exe
            .run(&mut self.env, training)
            .map_err(|e| Diagnostic::error_nowhere(Code::BACKEND, format!("step failed: {e}")))?;
        let loss = outs.get("loss").map_or(f32::NAN, |t| t.data[0]);
        let out = outs.remove("output").unwrap_or_else(|| Tensor::scalar(0.0));
        Ok((loss, out))
    }
}

fn empty_dataset() -> Dataset {
    Dataset {
        images: Tensor::zeros(Shape(vec![0])),
        labels: None,
        images_path: PathBuf::new(),
        labels_path: None,
    }
}

fn truncate(ds: &mut Dataset, limit: usize) {
    let n = ds.len().min(limit);
    let per: usize = ds.sample_dims().iter().product();
    ds.images.data.truncate(n * per);
    ds.images.shape.0[0] = n;
    if let Some(l) = &mut ds.labels {
        let per_l: usize = l.shape.0[1..].iter().product();
        l.data.truncate(n * per_l);
        l.shape.0[0] = n;
    }
}

/// Reshapes a data set's examples to the model's per-example input shape, or explains why not.
fn fit_input(ds: &mut Dataset, input: &str, shape: &Shape) -> Result<(), Diagnostic> {
    if ds.sample_dims() == shape.0.as_slice() {
        return Ok(());
    }
    ds.reshape_samples(&shape.0)
        .map_err(|d| d.with_note(format!("the model's input `{input}` takes examples of shape {shape}")))
}

fn count_correct(out: &Tensor, labels: &Tensor) -> usize {
    if out.shape.rank() != 2 {
        return 0;
    }
    let c = out.shape.0[1];
    out.data
        .chunks(c)
        .zip(&labels.data)
        .filter(|&(row, &y)| {
            let best = row
                .iter()
                .enumerate()
                .fold((0, f32::NEG_INFINITY), |b, (i, &v)| if v > b.1 { (i, v) } else { b });
            best.0 as f32 == y
        })
        .count()
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
