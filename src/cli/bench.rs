//! `nnc bench FILE`: compile time and steady-state time per training step
//! on random data of the model's input shape (no data files are read).

use std::path::Path;
use std::time::Instant;

use super::{BackendArg, Outcome, load_checked};
use crate::backend::{Backend, Env, Tensor};
use crate::diag::{Code, Diagnostic};
use crate::graph::semantics::rng::Rng;
use crate::sema::blocks::check_train;
use crate::train::trainer::init_params;
use crate::train::{self, TARGET, optim};

/// Flags of `nnc bench`.
#[derive(Debug)]
pub struct BenchFlags {
    /// Back end to measure.
    pub backend: BackendArg,
    /// Threads for the CPU back end.
    pub threads: usize,
    /// Measured steps (after warm-up).
    pub steps: usize,
    /// Unmeasured steps first.
    pub warmup: usize,
    /// Print one JSON object instead of text.
    pub json: bool,
}

/// What a benchmark measured.
struct Report {
    compile_ms: f64,
    /// Front end (parse, check, build the step), then the back end's phases.
    phases: Option<[f64; 4]>,
    times_ms: Vec<f64>,
    batch: usize,
    kernels: Option<usize>,
    peak_bytes: Option<usize>,
    naive_bytes: Option<usize>,
    final_loss: f32,
    profile: Option<String>,
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let pos = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

/// Runs the benchmark.
pub fn run(file: &Path, flags: &BenchFlags) -> Outcome {
    let start = Instant::now();
    let (prog, diags) = load_checked(file);
    let fail = |prog: crate::sema::Program, diags: Vec<Diagnostic>| Outcome {
        stdout: String::new(),
        diags,
        sources: prog.sources,
    };
    if diags.iter().any(Diagnostic::is_error) {
        return fail(prog, diags);
    }
    let Some(t) = prog.trains.first().cloned() else {
        let d = Diagnostic::error_nowhere(
            Code::MISSING_SETTING,
            format!("`{}` has no train block", file.display()),
        )
        .with_help("nnc bench times a training step; add `train Model on data { ... }`");
        return fail(prog, vec![d]);
    };
    let (cfg, diags) = check_train(&prog, &t);
    let Some(cfg) = cfg else { return fail(prog, diags) };
    let backend = match flags.backend.make(flags.threads) {
        Ok(b) => b,
        Err(d) => return fail(prog, vec![d]),
    };
    let result = measure(&prog, &cfg, backend.as_ref(), flags, start);
    let report = match result {
        Ok(r) => r,
        Err(d) => return fail(prog, vec![d]),
    };
    let mut sorted = report.times_ms.clone();
    sorted.sort_by(f64::total_cmp);
    let (median, p10, p90) = (quantile(&sorted, 0.5), quantile(&sorted, 0.1), quantile(&sorted, 0.9));
    let samples_per_s = report.batch as f64 / (median / 1000.0);
    let stdout = if flags.json {
        let v = serde_json::json!({
            "file": file.display().to_string(),
            "backend": backend.name(),
            "threads": flags.threads,
            "batch": report.batch,
            "steps": report.times_ms.len(),
            "compile_ms": report.compile_ms,
            "step_ms_median": median,
            "step_ms_p10": p10,
            "step_ms_p90": p90,
            "samples_per_s": samples_per_s,
            "peak_bytes": report.peak_bytes,
            "naive_bytes": report.naive_bytes,
            "kernels": report.kernels,
            "compile_phases_ms": report.phases.map(|[f, si, fu, cg]| serde_json::json!({
                "front_end": f, "simplify": si, "fuse": fu, "codegen": cg
            })),
            "final_loss": report.final_loss,
        });
        format!("{v}\n")
    } else {
        let mut s = format!(
            "bench {}: {} back end, {} thread(s), batch {}\n",
            file.display(),
            backend.name(),
            flags.threads,
            report.batch
        );
        s += &format!("compile     {:.1} ms (source to ready step)\n", report.compile_ms);
        if let Some([f, si, fu, cg]) = report.phases {
            s += &format!(
                "            front end {f:.1}, simplify {si:.1}, fuse and plan {fu:.1}, code generation {cg:.1}\n"
            );
        }
        s += &format!(
            "step        {median:.3} ms median (p10 {p10:.3}, p90 {p90:.3}) over {} steps\n",
            report.times_ms.len()
        );
        s += &format!("throughput  {samples_per_s:.0} samples/s\n");
        if let Some(k) = report.kernels {
            s += &format!("kernels     {k}\n");
        }
        if let (Some(p), Some(n)) = (report.peak_bytes, report.naive_bytes) {
            s += &format!("memory      {p} bytes of temporaries planned ({n} bytes unplanned)\n");
        }
        if let Some(p) = &report.profile {
            s += p;
        }
        s
    };
    Outcome { stdout, diags: Vec::new(), sources: prog.sources }
}

fn measure(
    prog: &crate::sema::Program,
    cfg: &crate::sema::blocks::TrainConfig,
    backend: &dyn Backend,
    flags: &BenchFlags,
    start: Instant,
) -> Result<Report, Diagnostic> {
    let batch = cfg.batch;
    let step = train::build_step(prog, cfg, batch, true)
        .map_err(|mut ds| ds.pop().unwrap_or_else(|| Diagnostic::error_nowhere(Code::BACKEND, "no step")))?;
    let front_ms = start.elapsed().as_secs_f64() * 1000.0;
    let mut exe = crate::backend::compile(backend, &step.graph)?;
    let compile_ms = start.elapsed().as_secs_f64() * 1000.0;
    // `NNC_DUMP_CODE=DIR`: each compiled function's machine code, as
    // `DIR/kernelN.bin` (`objdump -D -b binary -m i386:x86-64`).
    if let Some(dir) = std::env::var_os("NNC_DUMP_CODE").map(std::path::PathBuf::from) {
        for (name, bytes) in exe.code() {
            std::fs::write(dir.join(name), bytes).map_err(|e| {
                Diagnostic::error_nowhere(
                    Code::WRITE,
                    format!("cannot write `{}`: {e}", dir.join(name).display()),
                )
            })?;
        }
    }
    let mut env = Env::new(cfg.seed);
    env.params = init_params(&step.params, cfg.seed).into_iter().collect();
    for s in &step.states {
        env.states.insert(s.name.clone(), Tensor::zeros(s.shape.clone()));
    }
    env.states.insert(optim::STEP.into(), Tensor::scalar(0.0));
    env.states.insert(optim::LR.into(), Tensor::scalar(cfg.optimizer.lr() as f32));
    let mut rng = Rng::with_stream(cfg.seed, 7);
    // Random inputs: uniform [0, 1) values, or token ids within the tables they index.
    let bounds = step.token_bounds();
    for input in &step.inputs {
        let mut dims = vec![batch];
        dims.extend_from_slice(&input.shape.0);
        let n: usize = dims.iter().product();
        let rows = bounds.iter().find(|b| b.input == input.name).map(|b| b.rows.max(1));
        let data = match rows {
            Some(rows) => (0..n).map(|_| rng.below(rows) as f32).collect(),
            None => (0..n).map(|_| rng.next_f32()).collect(),
        };
        env.inputs.insert(input.name.clone(), Tensor::new(dims, data));
    }
    let out = step.graph.output("output").map(|o| step.graph.shape(o).clone());
    let classes = out.filter(|s| s.rank() >= 2).map_or(1, |s| s.0[s.rank() - 1]);
    let mut dims = vec![batch];
    dims.extend_from_slice(&step.target.0);
    let n: usize = dims.iter().product();
    let target: Vec<f32> = (0..n).map(|_| rng.below(classes) as f32).collect();
    env.inputs.insert(TARGET.into(), Tensor::new(dims, target));
    let mut times_ms = Vec::with_capacity(flags.steps);
    let mut final_loss = f32::NAN;
    for i in 0..flags.warmup + flags.steps {
        let t0 = Instant::now();
        let outs = exe.run(&mut env, true).map_err(|e| crate::backend::run_error(&e))?;
        let dt = t0.elapsed().as_secs_f64() * 1000.0;
        if i >= flags.warmup {
            times_ms.push(dt);
        }
        final_loss = outs.get("loss").map_or(f32::NAN, |t| t.data[0]);
    }
    let stats = exe.compiled().kernels.is_some().then(|| exe.stats());
    Ok(Report {
        compile_ms,
        phases: stats.map(|s| [front_ms, s.simplify_ms, s.fuse_ms, s.codegen_ms]),
        times_ms,
        batch,
        kernels: stats.map(|s| s.kernels),
        peak_bytes: stats.map(|s| s.peak_bytes),
        naive_bytes: stats.map(|s| s.naive_bytes),
        final_loss,
        profile: exe.profile(),
    })
}
