//! `nnc emit-ptx FILE [--stage ir|step] [--arch sm_80|sm_90] [-o DIR]`:
//! compile a graph for the CUDA target and write its PTX module and a
//! manifest of the launches, without a GPU.
//!
//! The graph is the one `nnc graph` shows for the same stage: the forward
//! pass (`ir`) or the simplified training step (`step`). Both files are
//! written to a temporary name and renamed, so a failed run leaves nothing
//! half-written.

use std::path::{Path, PathBuf};

use super::{Outcome, load_checked};
use crate::backend::cuda::{self, Arch, EmitOptions};
use crate::diag::{Code, Diagnostic};

/// What `emit-ptx` was asked for.
pub struct EmitFlags {
    /// The forward graph (`ir`) or the training step (`step`).
    pub stage: PtxStage,
    /// The PTX target.
    pub arch: Arch,
    /// The model to lower, as for `nnc graph --model`.
    pub model: Option<String>,
    /// Bindings of symbolic dimensions.
    pub dims: Vec<(String, i64)>,
    /// The output directory (default: `<file stem>.ptx` beside the working directory).
    pub out: Option<PathBuf>,
}

/// The graphs `emit-ptx` compiles, named as `nnc graph` names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum PtxStage {
    /// The forward pass.
    Ir,
    /// The training step (the forward pass when there is no train block).
    Step,
}

/// Runs the command.
pub fn run(file: &Path, flags: &EmitFlags) -> Outcome {
    let (prog, mut diags) = load_checked(file);
    let mut stdout = String::new();
    if !diags.iter().any(Diagnostic::is_error) {
        let graph = match flags.stage {
            PtxStage::Ir => super::graph::forward_graph(&prog, flags.model.as_deref(), &flags.dims),
            PtxStage::Step => super::graph::step_graph(&prog, flags.model.as_deref(), &flags.dims),
        };
        match graph.and_then(|(title, g)| emit(file, &g, flags).map_err(|d| vec![d]).map(|s| (title, s))) {
            Ok((title, summary)) => stdout = format!("// {title}\n{summary}"),
            Err(ds) => diags.extend(ds),
        }
    }
    Outcome { stdout, diags, sources: prog.sources }
}

/// Compiles `graph` for the CUDA target and writes the module and manifest.
fn emit(file: &Path, graph: &crate::graph::Graph, flags: &EmitFlags) -> Result<String, Diagnostic> {
    let compiled = crate::compile::graph(graph, &cuda::target())?;
    let Some(kernels) = &compiled.kernels else {
        return Err(Diagnostic::error_nowhere(Code::BACKEND, "the CUDA target produced no kernel program"));
    };
    let module =
        cuda::emit(&kernels.program, &EmitOptions { arch: flags.arch }).map_err(|e| e.diagnostic())?;
    let stem = file.file_stem().map_or_else(|| "module".into(), |s| s.to_string_lossy().into_owned());
    let dir = flags.out.clone().unwrap_or_else(|| PathBuf::from(format!("{stem}.ptx")));
    let write_error = |path: &Path, e: std::io::Error| {
        Diagnostic::error_nowhere(Code::WRITE, format!("cannot write `{}`: {e}", path.display()))
            .with_help("choose another directory with `-o DIR`")
    };
    std::fs::create_dir_all(&dir).map_err(|e| write_error(&dir, e))?;
    let ptx_path = dir.join(format!("{stem}.ptx"));
    let manifest_path = dir.join("manifest.json");
    crate::train::checkpoint::write_file(&ptx_path, module.text.as_bytes())
        .map_err(|e| write_error(&ptx_path, e))?;
    let manifest = cuda::manifest_json(&module, &kernels.program);
    crate::train::checkpoint::write_file(&manifest_path, manifest.as_bytes())
        .map_err(|e| write_error(&manifest_path, e))?;
    Ok(format!(
        "{} kernels, {} launches for {}\nwrote {}\nwrote {}\n",
        kernels.program.kernels.len(),
        module.launches.len(),
        flags.arch,
        ptx_path.display(),
        manifest_path.display()
    ))
}
