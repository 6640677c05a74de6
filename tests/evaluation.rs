//! Evaluation end to end: metrics over whole splits, validation with
//! `keep` and `early_stop`, k-fold cross-validation, regression targets,
//! `nnc eval`, the JSON log and the pictures, on the small CSV sets in
//! `tests/data/eval` (see its README).

mod common;

use nnc::backend::cpu::Cpu;
use nnc::backend::interp::Interp;
use nnc::sema::blocks::{Average, Metric};
use nnc::train::crossval::CrossValidation;
use nnc::train::trainer::{RunOptions, Session, Split};

use common::files::{load, nnc, npy, write};

fn data(file: &str) -> String {
    format!("{}/tests/data/eval/{file}", env!("CARGO_MANIFEST_DIR"))
}

/// A classifier of the three-class CSV set with the given train settings.
fn classes_program(settings: &str) -> String {
    format!(
        "model Net {{
            fc1 = Linear(4, 16)
            fc2 = Linear(16, 3)
            fn forward(x: [B, 4]) -> [B, 3] {{ fc2(relu(fc1(x))) }}
        }}
        data points {{
            train = csv(\"{}\")
            test = csv(\"{}\")
            classes = [\"red\", \"green\", \"blue\"]
        }}
        train Net on points {{
            loss = cross_entropy
            optimizer = adam(lr = 0.02)
            batch = 7
            epochs = 4
            seed = 3
            {settings}
        }}",
        data("classes_train.csv"),
        data("classes_test.csv")
    )
}

/// A linear regression of the three-target CSV set.
fn values_program(settings: &str) -> String {
    format!(
        "model Lin {{
            fc = Linear(4, 3)
            fn forward(x: [B, 4]) -> [B, 3] {{ fc(x) }}
        }}
        data points {{
            train = csv(\"{}\", label_column = -1, targets = 3)
            test = csv(\"{}\", label_column = -1, targets = 3)
        }}
        train Lin on points {{
            loss = mse
            optimizer = adam(lr = 0.05)
            batch = 16
            epochs = 40
            seed = 1
            {settings}
        }}",
        data("values_train.csv"),
        data("values_test.csv")
    )
}

#[test]
fn metrics_cover_the_whole_split_whatever_the_batch() {
    let (dir, prog, cfg) =
        load(&classes_program("metrics = [accuracy, f1, confusion]\nsave = \"w.safetensors\""));
    let opts = RunOptions { base_dir: dir.path().to_path_buf(), ..RunOptions::default() };
    let mut s = Session::new(&prog, &cfg, &opts, &Interp).unwrap();
    s.train(&opts, &mut |_| {}).unwrap();
    // 50 test examples in batches of 7: the last batch holds 1.
    let whole = s.evaluate_split(Split::Test).unwrap().unwrap();
    assert_eq!(whole.count, 50);
    let c = whole.classes.as_ref().unwrap();
    assert_eq!(c.total(), 50);
    assert_eq!(c.confusion().iter().flatten().sum::<u64>(), 50);
    let f1 = whole.value(Metric::F1(Average::Macro)).unwrap();

    // The same weights evaluated in one batch of 50 give the same numbers.
    let mut one = cfg.clone();
    one.batch = 50;
    let init = RunOptions { init: Some(dir.path().join("w.safetensors")), ..opts.clone() };
    let mut s50 = Session::new(&prog, &one, &init, &Interp).unwrap();
    let again = s50.evaluate_split(Split::Test).unwrap().unwrap();
    assert_eq!(again.classes.as_ref().unwrap().confusion(), c.confusion());
    assert!((again.value(Metric::F1(Average::Macro)).unwrap() - f1).abs() < 1e-12);
    assert!((again.loss - whole.loss).abs() < 1e-5, "{} vs {}", again.loss, whole.loss);

    // Averaging F1 over the batches of 7 would give another number.
    let test =
        nnc::train::trainer::load_source(cfg.data.test.as_ref().unwrap(), &cfg.data, dir.path()).unwrap();
    let mut per_batch = Vec::new();
    for start in (0..50).step_by(7) {
        let idx: Vec<usize> = (start..(start + 7).min(50)).collect();
        let e = s.evaluate(&test.select(&idx)).unwrap();
        per_batch.push(e.value(Metric::F1(Average::Macro)).unwrap());
    }
    let averaged = per_batch.iter().sum::<f64>() / per_batch.len() as f64;
    assert!((averaged - f1).abs() > 1e-4, "batch-averaged F1 {averaged} equals the whole-split {f1}");
}

#[test]
fn eval_prints_the_report_and_confusion_matrix_with_class_names() {
    let (dir, _, _) = load(&classes_program("metrics = [accuracy]\nsave = \"w.safetensors\""));
    let file = dir.path().join("m.nn");
    let (code, _, err) = nnc(&["run", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let w = dir.path().join("w.safetensors");
    let (code, out, err) = nnc(&["eval", file.to_str().unwrap(), "--weights", w.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("test split: 50 examples"), "{out}");
    // Without `--metrics`, the train block's metrics are reported, then the
    // per-class report and the confusion matrix.
    let first = out.lines().nth(1).unwrap();
    assert!(first.starts_with("loss ") && first.contains("accuracy") && !first.contains("f1"), "{out}");
    assert!(out.contains("precision") && out.contains("confusion matrix"), "{out}");
    let (code, out, err) = nnc(&[
        "eval",
        file.to_str().unwrap(),
        "--weights",
        w.to_str().unwrap(),
        "--split",
        "train",
        "--metrics",
        "f1,precision_weighted,confusion,top2",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("train split: 90 examples"), "{out}");
    for needle in [
        "f1_macro",
        "precision_weighted",
        "top2",
        "red",
        "green",
        "blue",
        "macro avg",
        "weighted avg",
        "confusion matrix",
    ] {
        assert!(out.contains(needle), "no `{needle}` in:\n{out}");
    }
    // The confusion matrix rows add up to the split.
    let rows: Vec<u64> = out
        .lines()
        .skip_while(|l| !l.contains("confusion matrix"))
        .skip(2)
        .take(3)
        .map(|l| l.split_whitespace().skip(1).map(|v| v.parse::<u64>().unwrap()).sum())
        .collect();
    assert_eq!(rows.iter().sum::<u64>(), 90, "{out}");
}

#[test]
fn eval_rejects_bad_metrics_and_missing_splits() {
    let (dir, _, _) = load(&classes_program("save = \"w.safetensors\""));
    let file = dir.path().join("m.nn");
    let (code, _, err) = nnc(&["run", file.to_str().unwrap(), "--epochs", "1"]);
    assert_eq!(code, 0, "{err}");
    let w = dir.path().join("w.safetensors");
    let run = |extra: &[&str]| {
        let mut args = vec!["eval", file.to_str().unwrap(), "--weights", w.to_str().unwrap()];
        args.extend_from_slice(extra);
        nnc(&args)
    };
    let (code, _, err) = run(&["--metrics", "auc"]);
    assert_eq!(code, 1);
    assert!(err.contains("E0406") && err.contains("unknown metric `auc`"), "{err}");
    let (code, _, err) = run(&["--metrics", "top4"]);
    assert_eq!(code, 1);
    assert!(err.contains("E0406") && err.contains("more classes than the model's 3"), "{err}");
    let (code, _, err) = run(&["--metrics", "r2"]);
    assert_eq!(code, 1);
    assert!(err.contains("E0406") && err.contains("class labels"), "{err}");
    let (code, _, err) = run(&["--split", "validation"]);
    assert_eq!(code, 1);
    assert!(err.contains("has no validation split"), "{err}");
}

#[test]
fn regression_targets_train_and_report_mse_mae_r2() {
    let (dir, prog, cfg) = load(&values_program("metrics = [mse, mae, r2]"));
    let opts = RunOptions { base_dir: dir.path().to_path_buf(), no_save: true, ..RunOptions::default() };
    let cpu = Cpu::new(1);
    let mut s = Session::new(&prog, &cfg, &opts, &cpu).unwrap();
    let summary = s.train(&opts, &mut |_| {}).unwrap();
    let last = summary.epochs.last().unwrap();
    let test = last.test.as_ref().unwrap();
    // The loss is the mean squared error: the two must agree.
    let mse = test.value(Metric::Mse).unwrap();
    assert!((mse - test.loss).abs() < 1e-5 * (1.0 + mse), "{mse} vs loss {}", test.loss);
    let r2 = test.value(Metric::R2).unwrap();
    assert!(r2 > 0.95, "a linear problem should be fitted: r2 {r2}");
    let mae = test.value(Metric::Mae).unwrap();
    assert!(mae > 0.0 && mae * mae <= mse * 1.0001 + 1e-12, "mae {mae} mse {mse}");
    assert!(test.classes.is_none() && test.value(Metric::Accuracy).is_none());
}

#[test]
fn validation_split_keep_best_and_early_stop() {
    // A learning rate of zero never improves after the first epoch, so
    // early stopping must stop exactly `patience` epochs later.
    let src = classes_program(
        "validate = split(0.2)\nearly_stop = patience(2)\nkeep = best(loss)\nmetrics = [accuracy]\nepochs = 10",
    )
    .replace("epochs = 4\n", "")
    .replace("adam(lr = 0.02)", "sgd(lr = 0.0)");
    let (dir, prog, cfg) = load(&src);
    let opts = RunOptions { base_dir: dir.path().to_path_buf(), no_save: true, ..RunOptions::default() };
    let mut s = Session::new(&prog, &cfg, &opts, &Interp).unwrap();
    assert_eq!(s.split_len(Split::Validation), 18, "ceil(0.2 * 90)");
    assert_eq!(s.split_len(Split::Train), 72);
    let mut stopped = None;
    let summary = s
        .train(&opts, &mut |ev| {
            if let nnc::train::trainer::Event::EarlyStop { epoch, best_epoch } = ev {
                stopped = Some((epoch, best_epoch));
            }
        })
        .unwrap();
    assert_eq!(stopped, Some((3, 1)));
    assert_eq!(summary.epochs.len(), 3);
    assert_eq!(summary.kept.map(|k| k.0), Some(1));

    // With learning, the kept weights are the best epoch's: evaluating them
    // again gives the value the report marked best.
    let src = classes_program("validate = split(0.25)\nkeep = best(f1)\nmetrics = [f1]\nepochs = 6");
    let src = src.replace("epochs = 4\n", "");
    let (dir, prog, cfg) = load(&src);
    let opts = RunOptions { base_dir: dir.path().to_path_buf(), no_save: true, ..RunOptions::default() };
    let mut s = Session::new(&prog, &cfg, &opts, &Interp).unwrap();
    let summary = s.train(&opts, &mut |_| {}).unwrap();
    let (epoch, value) = summary.kept.unwrap();
    let best = summary
        .epochs
        .iter()
        .map(|r| r.validation.as_ref().unwrap().value(Metric::F1(Average::Macro)).unwrap())
        .fold(f64::NEG_INFINITY, f64::max);
    assert_eq!(value, best);
    assert!(summary.epochs[epoch - 1].best);
    let again = s.evaluate_split(Split::Validation).unwrap().unwrap();
    assert_eq!(again.value(Metric::F1(Average::Macro)).unwrap(), value);
}

fn cross_validate(seed: u64, k: usize) -> (CrossValidation, usize) {
    let src = classes_program(&format!("metrics = [accuracy, f1]\ncross_validate = kfold({k})"))
        .replace("seed = 3", &format!("seed = {seed}"));
    let (dir, prog, cfg) = load(&src);
    let opts = RunOptions { base_dir: dir.path().to_path_buf(), ..RunOptions::default() };
    let cpu = Cpu::new(1);
    let mut s = Session::new(&prog, &cfg, &opts, &cpu).unwrap();
    let kfold = cfg.eval.cross_validate.unwrap();
    let cv = s.cross_validate(&opts, kfold.k, kfold.stratified, Some(kfold.span), &mut |_| {}).unwrap();
    let files = std::fs::read_dir(dir.path()).unwrap().count();
    (cv, files)
}

#[test]
fn cross_validation_is_deterministic_and_validates_every_example_once() {
    let (a, files) = cross_validate(5, 4);
    assert_eq!(files, 1, "no weights are saved without `{{fold}}` in `save`");
    assert!(a.stratified);
    assert_eq!(a.folds.len(), 4);
    assert_eq!(a.folds.iter().map(|f| f.validation).sum::<usize>(), 90);
    for f in &a.folds {
        assert_eq!(f.train + f.validation, 90);
        assert!(f.validation == 22 || f.validation == 23, "fold sizes differ by at most one");
        assert_eq!(f.evaluation.count, f.validation);
        assert_eq!(f.epochs.len(), 4);
    }
    let (b, _) = cross_validate(5, 4);
    let values = |cv: &CrossValidation| -> Vec<f64> {
        cv.folds.iter().map(|f| f.evaluation.value(Metric::F1(Average::Macro)).unwrap()).collect()
    };
    assert_eq!(values(&a), values(&b), "the same seed gives the same numbers");
    let (c, _) = cross_validate(6, 4);
    assert_ne!(values(&a), values(&c));
    let (mean, sd) = a.mean_std(Metric::F1(Average::Macro)).unwrap();
    let v = values(&a);
    assert!((mean - v.iter().sum::<f64>() / 4.0).abs() < 1e-12 && sd >= 0.0);
}

#[test]
fn cross_validation_through_the_cli_saves_fold_weights_and_rejects_too_many_folds() {
    let dir = tempfile::tempdir().unwrap();
    let src =
        classes_program("cross_validate = kfold(3)\nmetrics = [accuracy]\nsave = \"w{fold}.safetensors\"");
    let file = write(dir.path(), "m.nn", &src);
    let (code, out, err) = nnc(&[
        "run",
        file.to_str().unwrap(),
        "--epochs",
        "1",
        "--log-json",
        dir.path().join("log.jsonl").to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("cross-validation: 3 folds (stratified)") && out.contains("mean ± std"), "{out}");
    for fold in 1..=3 {
        assert!(dir.path().join(format!("w{fold}.safetensors")).exists(), "{out}");
    }
    let log = std::fs::read_to_string(dir.path().join("log.jsonl")).unwrap();
    let folds: Vec<i64> = log
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["fold"].as_i64().unwrap())
        .collect();
    assert_eq!(folds, [1, 2, 3]);

    // More folds than examples: a coded error pointing at the setting.
    let (code, _, err) = nnc(&["run", file.to_str().unwrap(), "--limit", "2", "--no-save"]);
    assert_eq!(code, 1);
    assert!(err.contains("E0408") && err.contains("3 folds need at least 3 training examples"), "{err}");
    assert!(err.contains("kfold(3)"), "the error shows the setting:\n{err}");
    let (code, _, err) = nnc(&["run", file.to_str().unwrap(), "--folds", "1", "--no-save"]);
    assert_eq!(code, 1);
    assert!(err.contains("E0408"), "{err}");
}

#[test]
fn log_json_has_every_metric_and_step_records() {
    let dir = tempfile::tempdir().unwrap();
    let src =
        classes_program("metrics = [accuracy, f1(average = weighted), confusion, top_k(2)]\nlog_every = 5");
    let file = write(dir.path(), "m.nn", &src);
    let log = dir.path().join("log.jsonl");
    let (code, _, err) =
        nnc(&["run", file.to_str().unwrap(), "--log-json", log.to_str().unwrap(), "--no-save"]);
    assert_eq!(code, 0, "{err}");
    let records: Vec<serde_json::Value> =
        std::fs::read_to_string(&log).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let steps: Vec<&serde_json::Value> = records.iter().filter(|r| r["kind"] == "step").collect();
    let epochs: Vec<&serde_json::Value> = records.iter().filter(|r| r["kind"] == "epoch").collect();
    assert_eq!(epochs.len(), 4);
    // 90 examples in batches of 7: 13 steps an epoch, 52 in all; every fifth is logged.
    assert_eq!(steps.len(), 52 / 5);
    assert_eq!(steps[0]["global_step"], 5);
    for s in &steps {
        assert!(s["loss"].as_f64().unwrap().is_finite() && s["lr"].as_f64().unwrap() > 0.0);
    }
    let last = epochs.last().unwrap();
    for key in ["train_loss", "train_accuracy", "test_loss", "test_accuracy", "test_f1_weighted", "test_top2"]
    {
        assert!(last[key].as_f64().is_some(), "no {key} in {last}");
    }
    let m = last["test_confusion"].as_array().unwrap();
    assert_eq!(m.len(), 3);
    let total: u64 = m.iter().flat_map(|r| r.as_array().unwrap()).map(|v| v.as_u64().unwrap()).sum();
    assert_eq!(total, 50);
    let per_class = last["test_per_class"].as_array().unwrap();
    assert_eq!(per_class[0]["class"], "red");
}

#[test]
fn plots_are_pictures() {
    let dir = tempfile::tempdir().unwrap();
    let src = classes_program("validate = split(0.2)\nmetrics = [accuracy, f1]\nsave = \"w.safetensors\"");
    let file = write(dir.path(), "m.nn", &src);
    let curves = dir.path().join("curves.png");
    let log = dir.path().join("log.jsonl");
    let (code, out, err) = nnc(&[
        "run",
        file.to_str().unwrap(),
        "--plot",
        curves.to_str().unwrap(),
        "--log-json",
        log.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("plotted"), "{out}");
    let png = std::fs::read(&curves).unwrap();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
    let svg = dir.path().join("curves.svg");
    let (code, _, err) = nnc(&["plot", log.to_str().unwrap(), "-o", svg.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.contains("<svg") && text.contains("validation"), "{}", &text[..200.min(text.len())]);
    let cm = dir.path().join("cm.png");
    let w = dir.path().join("w.safetensors");
    let (code, _, err) = nnc(&[
        "eval",
        file.to_str().unwrap(),
        "--weights",
        w.to_str().unwrap(),
        "--plot",
        cm.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(std::fs::read(&cm).unwrap().starts_with(b"\x89PNG"));
    // A picture format nnc cannot write is refused before training.
    let (code, _, err) = nnc(&["run", file.to_str().unwrap(), "--plot", "curves.bmp", "--no-save"]);
    assert_eq!(code, 1);
    assert!(err.contains(".png") && err.contains(".svg"), "{err}");
    let (code, _, err) = nnc(&["plot", file.to_str().unwrap(), "-o", svg.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("not a training log"), "{err}");
}

/// `npy(x, targets = y)`: float targets in float64, shaped like the output,
/// train a regression; a NaN among them is refused before training.
#[test]
fn npy_float_targets_train_a_regression_and_nan_targets_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (n, w) = (64usize, [0.5f64, -2.0, 1.5]);
    let mut rng = 1u64;
    let mut next = || {
        rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (rng >> 40) as f64 / (1u64 << 24) as f64 * 2.0 - 1.0
    };
    let xs: Vec<f64> = (0..n * 3).map(|_| next()).collect();
    let ys: Vec<f64> =
        xs.chunks(3).map(|x| x.iter().zip(&w).map(|(a, b)| a * b).sum::<f64>() + 0.25).collect();
    let bytes = |v: &[f64]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
    std::fs::write(dir.path().join("x.npy"), npy("<f8", &format!("({n}, 3)"), &bytes(&xs))).unwrap();
    std::fs::write(dir.path().join("y.npy"), npy("<f8", &format!("({n}, 1)"), &bytes(&ys))).unwrap();
    let src = "model Lin { fc = Linear(3, 1)  fn forward(x: [B, 3]) -> [B, 1] { fc(x) } }
        data d { train = npy(\"x.npy\", targets = \"y.npy\") }
        train Lin on d {
            loss = mse
            optimizer = adam(lr = 0.1)
            batch = 16
            epochs = 60
            metrics = [r2, mae]
            validate = split(0.25)
        }";
    let file = write(dir.path(), "m.nn", src);
    let (code, out, err) =
        nnc(&["run", file.to_str().unwrap(), "--log-json", dir.path().join("l.jsonl").to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("val_r2"), "{out}");
    let log = std::fs::read_to_string(dir.path().join("l.jsonl")).unwrap();
    let last: serde_json::Value = serde_json::from_str(log.lines().last().unwrap()).unwrap();
    let r2 = last["validation_r2"].as_f64().unwrap();
    assert!(r2 > 0.99, "an exact linear relation should be learnt: r2 {r2}\n{out}");

    let mut bad = ys.clone();
    bad[5] = f64::NAN;
    std::fs::write(dir.path().join("y.npy"), npy("<f8", &format!("({n}, 1)"), &bytes(&bad))).unwrap();
    let (code, _, err) = nnc(&["run", file.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("E0602") && err.contains("not a finite number"), "{err}");
}

/// `classes = "names.txt"`: one name per line, checked against the model.
#[test]
fn class_names_from_a_file_name_the_report_rows() {
    let src = classes_program("metrics = [f1, confusion]\nepochs = 1")
        .replace("epochs = 4\n", "")
        .replace("classes = [\"red\", \"green\", \"blue\"]", "classes = \"names.txt\"");
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "m.nn", &src);
    write(dir.path(), "names.txt", "circle\n\nsquare\ntriangle\n");
    let (code, out, err) = nnc(&["run", file.to_str().unwrap(), "--no-save"]);
    assert_eq!(code, 0, "{err}");
    for name in ["circle", "square", "triangle"] {
        assert!(out.contains(name), "no `{name}` in:\n{out}");
    }
    write(dir.path(), "names.txt", "circle\nsquare\n");
    let (code, _, err) = nnc(&["run", file.to_str().unwrap(), "--no-save"]);
    assert_eq!(code, 1);
    assert!(err.contains("E0402") && err.contains("names 2 classes, but the model's output has 3"), "{err}");
    std::fs::remove_file(dir.path().join("names.txt")).unwrap();
    let (code, _, err) = nnc(&["run", file.to_str().unwrap(), "--no-save"]);
    assert_eq!(code, 1);
    assert!(err.contains("E0601") && err.contains("names.txt"), "{err}");
}
