//! The `nnc` command line: argument parsing, file access, printing and exit
//! codes. This is the only module that prints or exits.
//!
//! Exit codes: 0 success, 1 the input was wrong (diagnostics say why),
//! 2 nnc itself failed (an internal error; please report it).

mod bench;
mod check;
mod emit;
mod eval;
mod graph;
mod report;
mod run;
pub mod repl;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::diag::{Diagnostic, SourceMap, render};
use crate::sema::{Loader, Program};

/// Compile, check, inspect and train `.nn` neural-network programs.
#[derive(Parser, Debug)]
#[command(name = "nnc", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Parse and shape-check a program; print diagnostics, change nothing.
    Check {
        /// The `.nn` file.
        file: PathBuf,
    },
    /// Print a program at one stage of the pipeline (deterministic output).
    Graph {
        /// The `.nn` file.
        file: PathBuf,
        /// Which stage: the syntax tree (`ast`), the forward tensor graph (`ir`),
        /// the training step with backward pass and optimizer as built
        /// (`backward`), the simplified training step (`step`; the forward
        /// graph when there is no train block) or its fused kernels (`fused`).
        #[arg(long, value_enum, default_value_t = Stage::Ir)]
        stage: Stage,
        /// Output as indented text or as a Graphviz digraph (`dot -Tsvg`).
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// The model to lower (default: the train block's, else the last model without parameters).
        #[arg(long)]
        model: Option<String>,
        /// Bind a symbolic dimension, e.g. `--dim B=32` (repeatable). The batch
        /// dimension defaults to the train block's batch size, else 1.
        #[arg(long = "dim", value_parser = parse_binding)]
        dims: Vec<(String, i64)>,
        /// The target whose compilation `--stage step` and `--stage fused` show.
        #[arg(long, value_enum, default_value_t = TargetArg::Cpu)]
        target: TargetArg,
    },
    /// Compile and train the program's train block, evaluating after each epoch.
    Run {
        /// The `.nn` file.
        file: PathBuf,
        /// Start from these weights (a safetensors checkpoint) instead of the initialisers.
        #[arg(long)]
        init: Option<PathBuf>,
        /// Write one JSON object per epoch to this file (`kind: "epoch"`,
        /// epoch, fold, lr, samples_per_s, seconds and `{split}_{metric}` for
        /// train, validation and test), and with `log_every = N` in the train
        /// block one per N steps (`kind: "step"`: loss, lr, samples_per_s).
        #[arg(long)]
        log_json: Option<PathBuf>,
        /// Cross-validate with this many folds (stratified by class) instead
        /// of training once; overrides the train block's `cross_validate`.
        #[arg(long)]
        folds: Option<usize>,
        /// Draw the loss and metric curves per epoch (train, validation,
        /// test; each fold) into this picture (`.png` or `.svg`).
        #[arg(long)]
        plot: Option<PathBuf>,
        /// Override the train block's number of epochs.
        #[arg(long)]
        epochs: Option<usize>,
        /// Train on at most this many examples.
        #[arg(long)]
        limit: Option<usize>,
        /// Do not write the checkpoint named by `save`.
        #[arg(long)]
        no_save: bool,
        /// The back end that runs the steps.
        #[arg(long, value_enum, default_value_t = BackendArg::Cpu)]
        backend: BackendArg,
        /// Threads for the CPU back end (default: every core).
        #[arg(long)]
        threads: Option<usize>,
    },
    /// Time a training step on random data: compile time, median / p10 / p90
    /// milliseconds per step, throughput, kernels and memory.
    Bench {
        /// The `.nn` file (its first train block is measured).
        file: PathBuf,
        /// Threads for the CPU back end (default: every core).
        #[arg(long)]
        threads: Option<usize>,
        /// Measured steps, after the warm-up.
        #[arg(long, default_value_t = 100)]
        steps: usize,
        /// Unmeasured steps run first.
        #[arg(long, default_value_t = 10)]
        warmup: usize,
        /// The back end to measure.
        #[arg(long, value_enum, default_value_t = BackendArg::Cpu)]
        backend: BackendArg,
        /// Print one JSON object (compile_ms, step_ms_median, step_ms_p10,
        /// step_ms_p90, samples_per_s, peak_bytes, naive_bytes, kernels, ...).
        #[arg(long)]
        json: bool,
    },
    /// An interactive session: define models, evaluate expressions, inspect shapes and graphs.
    Repl,
    /// Draw the loss and metric curves of a `nnc run --log-json` log.
    Plot {
        /// The JSON-lines log.
        log: PathBuf,
        /// The picture to write (`.png` or `.svg`).
        #[arg(short = 'o', long = "out")]
        out: PathBuf,
    },
    /// Compile a graph for the CUDA back end and write its PTX module and a
    /// `manifest.json` of the launches (kernels, launch shapes, parameters,
    /// buffers), in launch order. Needs no GPU.
    EmitPtx {
        /// The `.nn` file.
        file: PathBuf,
        /// The forward graph (`ir`) or the training step (`step`; the forward
        /// graph when there is no train block), as `nnc graph` names them.
        #[arg(long, value_enum, default_value_t = emit::PtxStage::Step)]
        stage: emit::PtxStage,
        /// The GPU architecture the PTX targets.
        #[arg(long, value_enum, default_value_t = ArchArg::Sm90)]
        arch: ArchArg,
        /// The model to lower (default: the train block's, else the last model without parameters).
        #[arg(long)]
        model: Option<String>,
        /// Bind a symbolic dimension, e.g. `--dim B=32` (repeatable).
        #[arg(long = "dim", value_parser = parse_binding)]
        dims: Vec<(String, i64)>,
        /// The output directory (default: `FILE_STEM.ptx`).
        #[arg(short = 'o', long = "out")]
        out: Option<PathBuf>,
    },
    /// Evaluate saved weights on a split: the metrics, the per-class report
    /// and the confusion matrix.
    Eval {
        /// The `.nn` file.
        file: PathBuf,
        /// The safetensors checkpoint to evaluate.
        #[arg(long)]
        weights: PathBuf,
        /// The split (default: test, else validation, else train).
        #[arg(long, value_enum)]
        split: Option<SplitArg>,
        /// Metrics to report instead of the train block's, comma-separated:
        /// loss, accuracy, top5, precision, recall, f1 (with _macro, _micro
        /// or _weighted), confusion, mse, mae, r2.
        #[arg(long, value_delimiter = ',')]
        metrics: Vec<String>,
        /// Draw the confusion matrix as a heat map into this picture (`.png` or `.svg`).
        #[arg(long)]
        plot: Option<PathBuf>,
        /// The back end that runs the evaluation.
        #[arg(long, value_enum, default_value_t = BackendArg::Cpu)]
        backend: BackendArg,
        /// Threads for the CPU back end (default: every core).
        #[arg(long)]
        threads: Option<usize>,
    },
}

/// Splits `nnc eval` can evaluate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SplitArg {
    /// The training examples.
    Train,
    /// The validation examples (`valid` or `validate = split(f)`).
    Validation,
    /// The test examples.
    Test,
}

/// Back ends the commands that run graphs can use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum BackendArg {
    /// The reference interpreter: slow, obviously correct.
    Interp,
    /// Fused kernels compiled with Cranelift, run on a thread pool.
    Cpu,
    /// The same kernels as PTX on an NVIDIA GPU (builds with `--features cuda`).
    Cuda,
}

impl BackendArg {
    /// The back end, with `threads` threads where that applies. The CPU
    /// back end's debug knobs come from the environment: `NNC_PROFILE`
    /// (time each kernel), `NNC_DUMP_CODE` (keep the machine code, which
    /// `nnc bench` writes there), `NNC_GEMM=matrixmultiply` (products
    /// through the portable library).
    ///
    /// Errors: E0506 for `cuda` in a build without the `cuda` feature.
    pub fn make(self, threads: usize) -> Result<Box<dyn crate::backend::Backend>, Diagnostic> {
        use crate::backend::cpu::{Cpu, CpuOptions, Gemm};
        Ok(match self {
            BackendArg::Interp => Box::new(crate::backend::interp::Interp),
            BackendArg::Cuda => cuda_backend()?,
            BackendArg::Cpu => Box::new(Cpu::with_options(CpuOptions {
                threads,
                profile: std::env::var_os("NNC_PROFILE").is_some(),
                keep_code: std::env::var_os("NNC_DUMP_CODE").is_some(),
                gemm: if std::env::var("NNC_GEMM").is_ok_and(|v| v == "matrixmultiply") {
                    Gemm::Portable
                } else {
                    Gemm::Auto
                },
            })),
        })
    }
}

/// The CUDA back end over the driver; the GPU is opened when a program is
/// loaded, so a machine without one gets a coded error then.
#[cfg(feature = "cuda")]
fn cuda_backend() -> Result<Box<dyn crate::backend::Backend>, Diagnostic> {
    use crate::backend::cuda::{Arch, Cuda, DriverDevice};
    Ok(Box::new(Cuda::new(Arch::Sm90, DriverDevice::open)))
}

#[cfg(not(feature = "cuda"))]
fn cuda_backend() -> Result<Box<dyn crate::backend::Backend>, Diagnostic> {
    Err(Diagnostic::error_nowhere(
        crate::diag::Code::CUDA_NOT_BUILT,
        "this nnc was built without the CUDA back end",
    )
    .with_help(
        "rebuild with `cargo build --release --features cuda` (no CUDA toolkit is needed), \
         or run with `--backend cpu`; `nnc emit-ptx` writes the PTX in any build",
    ))
}

/// GPU architectures the PTX can target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ArchArg {
    /// Ampere (A100) and newer.
    #[value(name = "sm_80")]
    Sm80,
    /// Hopper (H100, H200) and newer.
    #[value(name = "sm_90")]
    Sm90,
}

impl ArchArg {
    fn arch(self) -> crate::backend::cuda::Arch {
        match self {
            ArchArg::Sm80 => crate::backend::cuda::Arch::Sm80,
            ArchArg::Sm90 => crate::backend::cuda::Arch::Sm90,
        }
    }
}

/// Targets `nnc graph` can show the compilation for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum TargetArg {
    /// The CPU back end's kernels (with its cache blocking).
    Cpu,
    /// The CUDA back end's kernels (no cache blocking).
    Cuda,
}

impl TargetArg {
    /// What the compile driver is asked for.
    pub fn target(self) -> crate::compile::Target {
        match self {
            TargetArg::Cpu => crate::backend::cpu::target(),
            TargetArg::Cuda => crate::backend::cuda::target(),
        }
    }
}

fn default_threads(threads: Option<usize>) -> usize {
    threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())).max(1)
}

/// Pipeline stages `nnc graph` can print.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Stage {
    /// The syntax tree of the root file.
    Ast,
    /// The forward pass as a tensor graph.
    Ir,
    /// The whole training step as built: forward, loss, backward and optimizer update.
    Backward,
    /// The training step after simplification (the forward graph when the
    /// program has no train block).
    Step,
    /// The kernels the training step is fused into, with the ops each holds.
    Fused,
}

/// Output formats of `nnc graph`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// One line per node.
    Text,
    /// A Graphviz digraph.
    Dot,
}

fn parse_binding(s: &str) -> Result<(String, i64), String> {
    let (name, value) = s.split_once('=').ok_or_else(|| format!("expected NAME=SIZE, found `{s}`"))?;
    let n: i64 = value.trim().parse().map_err(|_| format!("`{value}` is not a size"))?;
    if n < 1 {
        return Err(format!("size must be at least 1, found {n}"));
    }
    Ok((name.trim().to_string(), n))
}

/// What a command produced: text for stdout and diagnostics for stderr.
pub struct Outcome {
    /// Printed to standard output.
    pub stdout: String,
    /// Rendered to standard error.
    pub diags: Vec<Diagnostic>,
    /// The sources the diagnostics point into.
    pub sources: SourceMap,
}

impl Outcome {
    /// A failure before any source was read.
    fn error(d: Diagnostic) -> Outcome {
        Outcome { stdout: String::new(), diags: vec![d], sources: SourceMap::default() }
    }
}

/// Runs the command line; the binary's `main` only calls this.
pub fn main() -> ExitCode {
    std::panic::set_hook(Box::new(|info| {
        eprintln!("internal error: {info}");
        eprintln!(
            "note: this is a bug in nnc, not in your program; please report it with the input that caused it"
        );
    }));
    let (code, stdout, stderr) = execute_with(std::env::args_os(), true);
    print!("{stdout}");
    eprint!("{stderr}");
    ExitCode::from(code)
}

/// Runs a command line in-process and returns the exit code, standard
/// output and standard error (tests drive the CLI through this).
pub fn execute<I, T>(args: I) -> (u8, String, String)
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    execute_with(args, false)
}

/// Like [`execute`]; with `live`, progress is printed as it happens (and a
/// progress bar drawn on a terminal) instead of being returned.
pub fn execute_with<I, T>(args: I, live: bool) -> (u8, String, String)
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 1 } else { 0 };
            let text = e.render().to_string();
            return if e.use_stderr() { (code, String::new(), text) } else { (code, text, String::new()) };
        }
    };
    let mut console = Console::new(live);
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| dispatch(cli, &mut console))) {
        Ok(mut outcome) => {
            outcome.stdout.insert_str(0, &console.buf);
            let stderr = if outcome.diags.is_empty() {
                String::new()
            } else {
                render::render(&outcome.sources, &outcome.diags)
            };
            let code = if outcome.diags.iter().any(Diagnostic::is_error) { 1 } else { 0 };
            (code, outcome.stdout, stderr)
        }
        Err(_) => (2, String::new(), "internal error: nnc failed; see the message above\n".into()),
    }
}

fn dispatch(cli: Cli, console: &mut Console) -> Outcome {
    match cli.command {
        Command::Check { file } => check::run(&file),
        Command::Graph { file, stage, format, model, dims, target } => {
            graph::run(&file, stage, format, target, model, &dims)
        }
        Command::Run { file, init, log_json, folds, plot, epochs, limit, no_save, backend, threads } => {
            match backend.make(default_threads(threads)) {
                Ok(backend) => {
                    let flags = run::RunFlags { init, log_json, epochs, limit, no_save, folds, plot };
                    run::run(&file, &flags, backend.as_ref(), console)
                }
                Err(d) => Outcome::error(d),
            }
        }
        Command::Repl => repl::run(console),
        Command::Eval { file, weights, split, metrics, plot, backend, threads } => {
            match backend.make(default_threads(threads)) {
                Ok(backend) => {
                    let split = split.map(|s| match s {
                        SplitArg::Train => crate::train::trainer::Split::Train,
                        SplitArg::Validation => crate::train::trainer::Split::Validation,
                        SplitArg::Test => crate::train::trainer::Split::Test,
                    });
                    let flags = eval::EvalFlags { weights, split, metrics, plot };
                    eval::eval(&file, &flags, backend.as_ref(), console)
                }
                Err(d) => Outcome::error(d),
            }
        }
        Command::Plot { log, out } => eval::plot(&log, &out),
        Command::EmitPtx { file, stage, arch, model, dims, out } => {
            emit::run(&file, &emit::EmitFlags { stage, arch: arch.arch(), model, dims, out })
        }
        Command::Bench { file, threads, steps, warmup, backend, json } => {
            let flags = bench::BenchFlags { backend, threads: default_threads(threads), steps, warmup, json };
            bench::run(&file, &flags)
        }
    }
}

/// Where commands report progress: printed at once when live, else buffered
/// into standard output. A progress bar is drawn only live on a terminal.
pub struct Console {
    live: bool,
    buf: String,
    bar: Option<indicatif::ProgressBar>,
}

impl Console {
    fn new(live: bool) -> Console {
        Console { live, buf: String::new(), bar: None }
    }

    /// One line of progress.
    fn line(&mut self, s: &str) {
        if self.live {
            match &self.bar {
                Some(bar) => bar.println(s),
                None => println!("{s}"),
            }
        } else {
            self.buf.push_str(s);
            self.buf.push('\n');
        }
    }

    fn start_bar(&mut self, epoch: usize, epochs: usize, steps: usize) {
        use std::io::IsTerminal as _;
        if !self.live || !std::io::stderr().is_terminal() {
            return;
        }
        let bar = indicatif::ProgressBar::new(steps as u64);
        let style = indicatif::ProgressStyle::with_template(
            "epoch {prefix} [{bar:30}] {pos}/{len} {msg} ({elapsed}<{eta})",
        )
        .map(|s| s.progress_chars("=> "))
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
        bar.set_style(style);
        bar.set_prefix(format!("{epoch}/{epochs}"));
        self.bar = Some(bar);
    }

    fn tick(&mut self, step: usize, loss: f64, samples_per_s: f64) {
        if let Some(bar) = &self.bar {
            bar.set_position(step as u64);
            bar.set_message(format!("loss {loss:.4} {samples_per_s:.0} samples/s"));
        }
    }

    fn finish_bar(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

/// Reads source files from disk.
pub struct FsLoader;

impl Loader for FsLoader {
    fn load(&mut self, path: &Path) -> Result<String, String> {
        std::fs::read_to_string(path).map_err(|e| e.to_string())
    }
}

/// Loads a program from disk and checks it.
pub fn load_checked(file: &Path) -> (Program, Vec<Diagnostic>) {
    let (prog, mut diags) = Program::load_root(file, &mut FsLoader);
    if diags.iter().all(|d| !d.is_error()) {
        diags.extend(crate::sema::check(&prog));
    }
    (prog, diags)
}
