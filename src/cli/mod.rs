//! The `nnc` command line: argument parsing, file access, printing and exit
//! codes. This is the only module that prints or exits.
//!
//! Exit codes: 0 success, 1 the input was wrong (diagnostics say why),
//! 2 nnc itself failed (an internal error; please report it).

mod check;
mod graph;

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
        /// Which stage: the syntax tree (`ast`) or the forward tensor graph (`ir`).
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
    },
}

/// Pipeline stages `nnc graph` can print.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Stage {
    /// The syntax tree of the root file.
    Ast,
    /// The forward pass as a tensor graph.
    Ir,
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

/// Runs the command line; the binary's `main` only calls this.
pub fn main() -> ExitCode {
    std::panic::set_hook(Box::new(|info| {
        eprintln!("internal error: {info}");
        eprintln!(
            "note: this is a bug in nnc, not in your program; please report it with the input that caused it"
        );
    }));
    let (code, stdout, stderr) = execute(std::env::args_os());
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
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 1 } else { 0 };
            let text = e.render().to_string();
            return if e.use_stderr() { (code, String::new(), text) } else { (code, text, String::new()) };
        }
    };
    match std::panic::catch_unwind(|| dispatch(cli)) {
        Ok(outcome) => {
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

fn dispatch(cli: Cli) -> Outcome {
    match cli.command {
        Command::Check { file } => check::run(&file),
        Command::Graph { file, stage, format, model, dims } => graph::run(&file, stage, format, model, &dims),
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
