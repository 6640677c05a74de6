//! Training end to end through the CLI and the session API: reproducibility,
//! checkpoints, the JSON log, and every kind of bad input a run can meet.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use nnc::backend::interp::Interp;
use nnc::cli::FsLoader;
use nnc::sema::{Program, blocks::check_train};
use nnc::train::trainer::{RunOptions, Session};

use common::files::{load, nnc, write};

fn mnist(file: &str) -> String {
    format!("{}/data/mnist/{file}", env!("CARGO_MANIFEST_DIR"))
}

/// A small MLP program over the given data block body.
fn program(data: &str, settings: &str) -> String {
    format!(
        "model Mlp {{
            fc1 = Linear(784, 32)
            fc2 = Linear(32, 10)
            fn forward(x: [B, 784]) -> [B, 10] {{ fc2(relu(fc1(x))) }}
        }}
        data digits {{ {data} }}
        train Mlp on digits {{
            loss = cross_entropy
            optimizer = sgd(lr = 0.05, momentum = 0.9)
            batch = 32
            epochs = 2
            {settings}
        }}"
    )
}

fn idx_data() -> String {
    format!(
        "train = idx(\"{}\", \"{}\")\n test = idx(\"{}\", \"{}\")\n scale = 1 / 255",
        mnist("train-images-idx3-ubyte.gz"),
        mnist("train-labels-idx1-ubyte.gz"),
        mnist("t10k-images-idx3-ubyte.gz"),
        mnist("t10k-labels-idx1-ubyte.gz")
    )
}

fn losses(src: &str, limit: usize) -> Vec<f64> {
    let (_dir, prog, cfg) = load(src);
    let opts = RunOptions { limit: Some(limit), no_save: true, ..RunOptions::default() };
    let mut s = Session::new(&prog, &cfg, &opts, &Interp).unwrap();
    s.train(&opts, &mut |_| {}).unwrap().losses
}

#[test]
fn same_seed_same_losses_different_seed_different_losses() {
    let with_dropout = |seed: u64| {
        program(&idx_data(), &format!("seed = {seed}"))
            .replace("fc2(relu(fc1(x)))", "fc2(dropout(relu(fc1(x)), 0.2))")
    };
    let a = losses(&with_dropout(7), 200);
    let b = losses(&with_dropout(7), 200);
    let c = losses(&with_dropout(8), 200);
    assert_eq!(a.len(), 14, "2 epochs of 7 batches (the last one partial)");
    assert!(a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()), "{a:?}\n{b:?}");
    assert_ne!(a, c);
}

#[test]
fn run_saves_a_checkpoint_that_eval_reproduces() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "m.nn",
        &program(&idx_data(), "save = \"w.safetensors\"\nseed = 3\nmetrics = [accuracy]"),
    );
    let log = dir.path().join("log.jsonl");
    let (code, out, err) =
        nnc(&["run", file.to_str().unwrap(), "--limit", "256", "--log-json", log.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    let weights = dir.path().join("w.safetensors");
    assert!(weights.exists(), "{out}");
    let lines: Vec<serde_json::Value> =
        std::fs::read_to_string(&log).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2);
    for key in ["epoch", "train_loss", "test_loss", "test_accuracy", "samples_per_s", "seconds"] {
        assert!(lines[1].get(key).is_some_and(|v| !v.is_null()), "{key} missing in {}", lines[1]);
    }
    let acc = lines[1]["test_accuracy"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&acc));
    let (code, out, err) = nnc(&["eval", file.to_str().unwrap(), "--weights", weights.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains(&format!("accuracy {acc:.4}")),
        "eval printed {out}, the run's last epoch had {acc:.4}"
    );
    // Starting from the checkpoint continues from the trained weights: the
    // loss over the same examples is clearly below a fresh start's (measured: 1.45 vs 2.30).
    let short_run = |init: Option<&Path>| {
        let mut args = vec!["run", file.to_str().unwrap(), "--limit", "64", "--epochs", "1", "--no-save"];
        if let Some(w) = init {
            args.extend(["--init", w.to_str().unwrap()]);
        }
        let (code, out, err) = nnc(&args);
        assert_eq!(code, 0, "{err}");
        train_loss(&out)
    };
    let (resumed, fresh) = (short_run(Some(&weights)), short_run(None));
    assert!(resumed < 0.8 * fresh, "resumed loss {resumed} should be clearly below a fresh start's {fresh}");
}

/// The `train_loss` of the last epoch row of the table `nnc run` printed.
fn train_loss(out: &str) -> f64 {
    let header = out
        .lines()
        .find(|l| l.starts_with("epoch") && l.contains("train_loss"))
        .unwrap_or_else(|| panic!("no epoch table in {out}"));
    let col = header.split_whitespace().position(|c| c == "train_loss").unwrap();
    let row = out
        .lines()
        .rev()
        .find(|l| l.split_whitespace().next().is_some_and(|c| c.contains('/')))
        .unwrap_or_else(|| panic!("no epoch row in {out}"));
    row.split_whitespace().nth(col).and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("bad row {row}"))
}

#[test]
fn missing_truncated_and_corrupt_idx_files_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let images = mnist("train-images-idx3-ubyte.gz");
    let labels = mnist("train-labels-idx1-ubyte.gz");
    let run = |data: String| {
        let file = write(dir.path(), "m.nn", &program(&data, ""));
        nnc(&["run", file.to_str().unwrap(), "--no-save"])
    };
    let (code, _, err) = run(format!("train = idx(\"missing.gz\", \"{labels}\")"));
    assert_eq!(code, 1);
    assert!(err.contains("E0601") && err.contains("missing.gz"), "{err}");

    let raw = std::fs::read(&images).unwrap();
    let truncated = write(dir.path(), "truncated.gz", "");
    let mut dec = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&raw[..]), &mut dec).unwrap();
    std::fs::write(&truncated, &dec[..dec.len() / 2]).unwrap();
    let (code, _, err) = run(format!("train = idx(\"{}\", \"{labels}\")", truncated.display()));
    assert_eq!(code, 1);
    assert!(err.contains("E0602") && err.contains("truncated.gz"), "{err}");

    let mut bad = dec.clone();
    bad[2] = 0x0c;
    bad[3] = 0x07;
    let magic = dir.path().join("magic.idx");
    std::fs::write(&magic, &bad).unwrap();
    let (code, _, err) = run(format!("train = idx(\"{}\", \"{labels}\")", magic.display()));
    assert_eq!(code, 1);
    assert!(err.contains("E0602") && err.contains("magic.idx"), "{err}");

    let garbage = write(dir.path(), "garbage.gz", "\u{1f}\u{8b}not really gzip");
    let (code, _, err) = run(format!("train = idx(\"{}\", \"{labels}\")", garbage.display()));
    assert_eq!(code, 1);
    assert!(err.contains("E0602"), "{err}");
}

fn csv_rows(n: usize, bad: Option<(usize, &str)>) -> String {
    let mut s = String::new();
    for i in 0..n {
        match bad {
            Some((row, text)) if row == i => s.push_str(text),
            _ => {
                s.push_str(&(i % 10).to_string());
                for j in 0..784 {
                    s.push_str(if (i + j) % 7 == 0 { ",1" } else { ",0" });
                }
            }
        }
        s.push('\n');
    }
    s
}

#[test]
fn csv_with_a_bad_row_or_label_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let run = |csv: String| {
        write(dir.path(), "d.csv", &csv);
        let file = write(dir.path(), "m.nn", &program("train = csv(\"d.csv\")", ""));
        nnc(&["run", file.to_str().unwrap(), "--no-save"])
    };
    let (code, out, err) = run(csv_rows(40, None));
    assert_eq!(code, 0, "{out}{err}");
    let (code, _, err) = run(csv_rows(40, Some((5, "3,1,0,zero"))));
    assert_eq!(code, 1);
    assert!(err.contains("E0602") && err.contains("d.csv") && err.contains('6'), "{err}");
    let mut rows = csv_rows(40, None);
    rows.replace_range(0..1, "12");
    let (code, _, err) = run(rows);
    assert_eq!(code, 1);
    assert!(err.contains("E0603") && err.contains("12"), "{err}");
}

#[test]
fn a_checkpoint_of_another_model_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let small = write(dir.path(), "small.nn", &program(&idx_data(), "save = \"small.safetensors\""));
    let (code, _, err) = nnc(&["run", small.to_str().unwrap(), "--limit", "64", "--epochs", "1"]);
    assert_eq!(code, 0, "{err}");
    let other = program(&idx_data(), "")
        .replace("Linear(784, 32)", "Linear(784, 64)")
        .replace("Linear(32, 10)", "Linear(64, 10)");
    let other = write(dir.path(), "other.nn", &other);
    let weights = dir.path().join("small.safetensors");
    let (code, _, err) = nnc(&["eval", other.to_str().unwrap(), "--weights", weights.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("E0605") && err.contains("fc1.weight") && err.contains("[64,784]"), "{err}");
}

#[test]
fn a_diverging_loss_names_the_step() {
    let dir = tempfile::tempdir().unwrap();
    let data = idx_data().replace("scale = 1 / 255", "");
    let src = program(&data, "").replace("lr = 0.05", "lr = 1e30");
    let file = write(dir.path(), "m.nn", &src);
    let (code, _, err) = nnc(&["run", file.to_str().unwrap(), "--no-save", "--limit", "640"]);
    assert_eq!(code, 1);
    assert!(err.contains("E0606") && err.contains("epoch 1 at step"), "{err}");
    assert!(err.contains("scale"), "the hint should mention scaling inputs: {err}");
}

#[test]
fn an_interrupted_run_writes_no_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "m.nn", &program(&idx_data(), "save = \"w.safetensors\""));
    let (prog, _) = Program::load_root(&file, &mut FsLoader);
    let (cfg, _) = check_train(&prog, &prog.trains[0]);
    let cfg = cfg.unwrap();
    let flag = Arc::new(AtomicBool::new(false));
    let opts = RunOptions {
        base_dir: dir.path().to_path_buf(),
        limit: Some(256),
        interrupt: Some(flag.clone()),
        ..RunOptions::default()
    };
    let mut s = Session::new(&prog, &cfg, &opts, &Interp).unwrap();
    let mut steps = 0;
    let res = s.train(&opts, &mut |ev| {
        if let nnc::train::trainer::Event::Step { .. } = ev {
            steps += 1;
            if steps == 3 {
                flag.store(true, std::sync::atomic::Ordering::Relaxed);
            }
        }
    });
    let err = res.unwrap_err();
    assert_eq!(err.code, nnc::diag::Code::INTERRUPTED);
    assert_eq!(steps, 3);
    assert!(!dir.path().join("w.safetensors").exists());
    let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(leftovers.len(), 1, "only the program itself: {leftovers:?}");
}

#[test]
fn data_that_does_not_fit_the_input_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let src = program(&idx_data(), "")
        .replace("[B, 784]", "[B, 100]")
        .replace("Linear(784, 32)", "Linear(100, 32)");
    let file = write(dir.path(), "m.nn", &src);
    let (code, _, err) = nnc(&["run", file.to_str().unwrap(), "--no-save"]);
    assert_eq!(code, 1);
    assert!(err.contains("E0404"), "{err}");
}

#[test]
fn cosine_without_t_max_decays_over_the_run() {
    // torch.optim.lr_scheduler.CosineAnnealingLR(T_max = 3) gives, per
    // epoch: 0.1, 0.1 * (1 + cos(pi / 3)) / 2, 0.1 * (1 + cos(2 pi / 3)) / 2.
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "m.nn", &program(&idx_data(), "schedule = cosine()"));
    let log = dir.path().join("log.jsonl");
    let args = ["--epochs", "3", "--limit", "64", "--no-save", "--log-json", log.to_str().unwrap()];
    let (code, out, err) = nnc(&[&["run", file.to_str().unwrap()][..], &args].concat());
    assert_eq!(code, 0, "{out}{err}");
    let lrs: Vec<f64> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["lr"].as_f64().unwrap())
        .collect();
    let want = [0.05, 0.05 * 0.75, 0.05 * 0.25];
    assert_eq!(lrs.len(), 3);
    for (got, want) in lrs.iter().zip(want) {
        assert!((got - want).abs() < 1e-9, "learning rates {lrs:?}, expected {want:?}");
    }
}

/// `nnc run FILE --epochs 1 --limit N --no-save` as a separate process,
/// with `NNC_GEMM` set as given: the exit code and the last train loss.
fn run_with_gemm(file: &str, limit: &str, gemm: Option<&str>) -> (i32, f64) {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_nnc"));
    cmd.args(["run", file, "--epochs", "1", "--limit", limit, "--no-save"])
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    match gemm {
        Some(g) => cmd.env("NNC_GEMM", g),
        None => cmd.env_remove("NNC_GEMM"),
    };
    let out = cmd.output().expect("nnc runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), train_loss(&text))
}

#[test]
fn the_portable_gemm_trains_like_the_avx512_kernel() {
    // Products through matrixmultiply (the path of CPUs without AVX-512)
    // and through nnc's own kernel sum in different orders: the losses
    // agree to rounding. The CNN covers prologues, blocked results and
    // packed operands on both paths.
    for file in ["examples/mnist_cnn.nn", "examples/mnist_mlp.nn"] {
        let (code, native) = run_with_gemm(file, "512", None);
        let (code_mm, portable) = run_with_gemm(file, "512", Some("matrixmultiply"));
        assert_eq!((code, code_mm), (0, 0), "{file}");
        assert!((native - portable).abs() <= 1e-3 * native.abs(), "{file}: {native} vs {portable}");
    }
}
