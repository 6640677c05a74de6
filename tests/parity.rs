//! Training parity with PyTorch: from the same initial weights and the same
//! batches, nnc's per-step losses and final weights match what
//! `tests/fixtures/gen_parity.py` recorded from `torch.optim`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use nnc::backend::interp::Interp;
use nnc::cli::FsLoader;
use nnc::sema::{Program, blocks::check_train};
use nnc::train::trainer::{RunOptions, Session, Summary};
use nnc::{backend::Tensor, train::checkpoint};

fn train(name: &str, steps: usize) -> Summary {
    let file = PathBuf::from(format!("tests/fixtures/parity_{name}.nn"));
    let (prog, diags) = Program::load_root(&file, &mut FsLoader);
    assert!(diags.is_empty(), "{diags:?}");
    let (cfg, diags) = check_train(&prog, &prog.trains[0]);
    let cfg = cfg.unwrap_or_else(|| panic!("{diags:?}"));
    let opts = RunOptions {
        base_dir: PathBuf::from("tests/fixtures"),
        init: Some(PathBuf::from(format!("tests/fixtures/{name}_init.safetensors"))),
        limit: Some(steps * cfg.batch),
        no_save: true,
        ..RunOptions::default()
    };
    let mut session = Session::new(&prog, &cfg, &opts, &Interp).unwrap();
    session.train(&opts, &mut |_| {}).unwrap()
}

fn expected(name: &str) -> HashMap<String, Tensor> {
    let path = format!("tests/fixtures/{name}_expected.safetensors");
    checkpoint::load(Path::new(&path)).unwrap().into_iter().collect()
}

/// Checks losses (relative 1e-4) and weights (absolute 1e-4).
///
/// `outliers` allows that fraction of each tensor's elements to differ by
/// more, up to `bound`: Adam moves a weight by about `lr` per step whatever
/// the gradient's size, so where a gradient is zero up to rounding (a ReLU
/// whose input is within rounding of 0, a sum that cancels) the two
/// implementations' rounding decides the step's sign. Such elements are a
/// few per million; every other element must match to 1e-4.
#[track_caller]
fn check(name: &str, steps: usize, outliers: f64, bound: f32) {
    let summary = train(name, steps);
    let want = expected(name);
    let losses = &want["loss"].data;
    assert_eq!(summary.losses.len(), losses.len());
    for (i, (&got, &torch)) in summary.losses.iter().zip(losses).enumerate() {
        let rel = (got - torch as f64).abs() / (torch as f64).abs();
        assert!(rel <= 1e-4, "{name} step {}: loss {got} vs torch {torch} (rel {rel:e})", i + 1);
    }
    for (pname, t) in &summary.params {
        let w = &want[pname];
        assert_eq!(t.shape, w.shape, "{pname}");
        let diffs: Vec<f32> = t.data.iter().zip(&w.data).map(|(a, b)| (a - b).abs()).collect();
        let n_far = diffs.iter().filter(|&&d| d > 1e-4).count();
        let worst = diffs.iter().cloned().fold(0.0f32, f32::max);
        let allowed = (outliers * diffs.len() as f64).floor() as usize;
        assert!(
            n_far <= allowed && worst <= bound.max(1e-4),
            "{name}: {n_far} of {} elements of {pname} differ from torch by more than 1e-4 (worst {worst:e})",
            diffs.len()
        );
    }
}

#[test]
fn mlp_sgd_momentum_matches_pytorch() {
    check("mlp", 20, 0.0, 1e-4);
}

#[test]
fn cnn_adam_matches_pytorch() {
    // Measured: 10 of 1.2 million elements (6 of conv2.weight's 18,432, 4 of
    // fc1.weight's 1.18 million) differ by more than 1e-4; allow at most 1 in
    // 1,000 per tensor, each within the 5 steps' total learning rate.
    check("cnn", 5, 1e-3, 5.0 * 1e-3);
}
