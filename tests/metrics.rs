//! The whole-split metrics match scikit-learn on a fixture
//! (`tests/fixtures/gen_metrics.py` wrote `metrics.json`), however the
//! split is cut into batches.

use nnc::train::metrics::{Average, Classification, Regression, classification_report};
use serde_json::Value;

/// The k values the fixture has top-k accuracies for.
const TOP_K: [usize; 3] = [1, 2, 3];

/// Batch sizes to feed the split in: one example at a time, sizes that do
/// not divide N, and the whole split at once.
const BATCHES: [usize; 5] = [1, 7, 64, 100, usize::MAX];

fn fixture() -> Value {
    let text = std::fs::read_to_string("tests/fixtures/metrics.json").unwrap();
    serde_json::from_str(&text).unwrap()
}

fn f64s(v: &Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()
}

fn f32s(v: &Value) -> Vec<f32> {
    f64s(v).into_iter().map(|x| x as f32).collect()
}

fn u64s(v: &Value) -> Vec<u64> {
    v.as_array().unwrap().iter().map(|x| x.as_u64().unwrap()).collect()
}

#[track_caller]
fn assert_close(got: f64, want: f64, what: &str) {
    assert!((got - want).abs() <= 1e-6, "{what}: nnc {got} vs sklearn {want}");
}

/// The fixture's classification case: the class count, the flattened score
/// rows and the labels as `f32`.
fn classification_case(fx: &Value) -> (usize, Vec<f32>, Vec<f32>) {
    let case = &fx["classification"];
    let classes = case["classes"].as_u64().unwrap() as usize;
    let scores: Vec<f32> = case["scores"].as_array().unwrap().iter().flat_map(f32s).collect();
    (classes, scores, f32s(&case["labels"]))
}

/// Feeds the case in batches of `batch` examples.
fn classify_in_batches(classes: usize, scores: &[f32], labels: &[f32], batch: usize) -> Classification {
    let mut m = Classification::new(classes, &TOP_K);
    for (rows, labels) in scores.chunks(batch.saturating_mul(classes)).zip(labels.chunks(batch)) {
        m.add(rows, labels);
    }
    m
}

/// Asserts every classification metric equals scikit-learn's.
#[track_caller]
fn check_classification(m: &Classification, want: &Value, how: &str) {
    let confusion: Vec<Vec<u64>> = want["confusion"].as_array().unwrap().iter().map(u64s).collect();
    assert_eq!(m.confusion(), confusion, "{how}: confusion");
    assert_eq!(m.total(), m.confusion().iter().flatten().sum::<u64>());
    assert_close(m.accuracy().unwrap(), want["accuracy"].as_f64().unwrap(), &format!("{how}: accuracy"));
    for k in TOP_K {
        let sk = want["top_k"][k.to_string()].as_f64().unwrap();
        assert_close(m.top_k(k).unwrap(), sk, &format!("{how}: top-{k}"));
    }
    let per_class = m.per_class();
    let field = |name: &str| f64s(&want["per_class"][name]);
    let (p, r, f1) = (field("precision"), field("recall"), field("f1"));
    assert_eq!(per_class.iter().map(|s| s.support).collect::<Vec<_>>(), u64s(&want["per_class"]["support"]));
    for (c, s) in per_class.iter().enumerate() {
        assert_close(s.precision, p[c], &format!("{how}: precision of class {c}"));
        assert_close(s.recall, r[c], &format!("{how}: recall of class {c}"));
        assert_close(s.f1, f1[c], &format!("{how}: f1 of class {c}"));
    }
    for avg in Average::ALL {
        let (got, sk) = (m.average(avg), &want["average"][avg.name()]);
        assert_eq!(got.support, m.total());
        for (value, name) in [(got.precision, "precision"), (got.recall, "recall"), (got.f1, "f1")] {
            assert_close(value, sk[name].as_f64().unwrap(), &format!("{how}: {} {name}", avg.name()));
        }
    }
}

#[test]
fn fixture_covers_the_corner_cases() {
    let fx = fixture();
    let want = &fx["classification"];
    let predicted = u64s(&want["predictions"]);
    let labels = u64s(&want["labels"]);
    assert!(labels.contains(&4) && !predicted.contains(&4), "class 4: true but never predicted");
    assert!(predicted.contains(&5) && !labels.contains(&5), "class 5: predicted but never true");
    assert!(!predicted.contains(&6) && !labels.contains(&6), "class 6: in neither");
    let constant_output = &fx["regression"][1]["r2_per_output"][1];
    assert_eq!(constant_output.as_f64(), Some(0.0), "the constant output takes force_finite's branch");
}

#[test]
fn classification_matches_sklearn_in_any_batch_size() {
    let fx = fixture();
    let (classes, scores, labels) = classification_case(&fx);
    let whole = classify_in_batches(classes, &scores, &labels, usize::MAX);
    for batch in BATCHES {
        let m = classify_in_batches(classes, &scores, &labels, batch);
        check_classification(&m, &fx["classification"], &format!("batches of {batch}"));
        assert_eq!(m, whole, "batches of {batch} differ from the whole split");
    }
}

#[test]
fn merged_accumulators_match_sklearn() {
    let fx = fixture();
    let (classes, scores, labels) = classification_case(&fx);
    let mut merged = Classification::new(classes, &TOP_K);
    for (rows, labels) in scores.chunks(64 * classes).zip(labels.chunks(64)) {
        merged.merge(&classify_in_batches(classes, rows, labels, 7));
    }
    check_classification(&merged, &fx["classification"], "merged");
}

#[test]
fn predictions_alone_give_the_same_confusion_and_scores() {
    let fx = fixture();
    let want = &fx["classification"];
    let to_usize = |v: &Value| u64s(v).into_iter().map(|x| x as usize).collect::<Vec<_>>();
    let mut m = Classification::new(want["classes"].as_u64().unwrap() as usize, &[]);
    m.add_predictions(&to_usize(&want["predictions"]), &to_usize(&want["labels"]));
    let (classes, scores, labels) = classification_case(&fx);
    let scored = classify_in_batches(classes, &scores, &labels, 64);
    assert_eq!(m.confusion(), scored.confusion());
    assert_eq!(m.top_k(1), None);
    for avg in Average::ALL {
        assert_eq!(m.average(avg), scored.average(avg));
    }
}

#[test]
fn batch_averaged_macro_f1_would_be_wrong() {
    let fx = fixture();
    let (classes, scores, labels) = classification_case(&fx);
    let whole = classify_in_batches(classes, &scores, &labels, usize::MAX).average(Average::Macro).f1;
    let per_batch: Vec<f64> = scores
        .chunks(64 * classes)
        .zip(labels.chunks(64))
        .map(|(rows, labels)| classify_in_batches(classes, rows, labels, 64).average(Average::Macro).f1)
        .collect();
    let averaged = per_batch.iter().sum::<f64>() / per_batch.len() as f64;
    let sk = fx["classification"]["average"]["macro"]["f1"].as_f64().unwrap();
    assert_close(whole, sk, "whole-split macro F1");
    assert!(
        (averaged - sk).abs() > 1e-3,
        "batch-averaged macro F1 {averaged} happens to equal sklearn's {sk}"
    );
}

#[test]
fn report_matches_sklearn_text() {
    let fx = fixture();
    let (classes, scores, labels) = classification_case(&fx);
    let m = classify_in_batches(classes, &scores, &labels, 7);
    assert_eq!(classification_report(&m, None), fx["classification"]["report"].as_str().unwrap());
    let names: Vec<String> = (0..classes).map(|c| c.to_string()).collect();
    assert_eq!(classification_report(&m, Some(&names)), classification_report(&m, None));
}

/// Feeds a regression case in batches of `batch` examples.
fn regress_in_batches(case: &Value, batch: usize) -> Regression {
    let outputs = case["outputs"].as_u64().unwrap() as usize;
    let (pred, target) = (f32s(&case["pred"]), f32s(&case["target"]));
    let mut r = Regression::new(outputs);
    let width = batch.saturating_mul(outputs);
    for (p, t) in pred.chunks(width).zip(target.chunks(width)) {
        r.add(p, t);
    }
    r
}

#[test]
fn regression_matches_sklearn_in_any_batch_size() {
    let fx = fixture();
    for case in fx["regression"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let n = (f64s(&case["target"]).len() / case["outputs"].as_u64().unwrap() as usize) as u64;
        for batch in BATCHES {
            let r = regress_in_batches(case, batch);
            let how = format!("{name}, batches of {batch}");
            assert_eq!(r.count(), n, "{how}");
            assert_close(r.mse().unwrap(), case["mse"].as_f64().unwrap(), &format!("{how}: mse"));
            assert_close(r.mae().unwrap(), case["mae"].as_f64().unwrap(), &format!("{how}: mae"));
            assert_close(r.r2().unwrap(), case["r2"].as_f64().unwrap(), &format!("{how}: r2"));
        }
    }
}

#[test]
fn merged_regression_matches_sklearn() {
    let fx = fixture();
    for case in fx["regression"].as_array().unwrap() {
        let outputs = case["outputs"].as_u64().unwrap() as usize;
        let (pred, target) = (f32s(&case["pred"]), f32s(&case["target"]));
        let mut merged = Regression::new(outputs);
        for (p, t) in pred.chunks(50 * outputs).zip(target.chunks(50 * outputs)) {
            let mut part = Regression::new(outputs);
            part.add(p, t);
            merged.merge(&part);
        }
        assert_close(merged.r2().unwrap(), case["r2"].as_f64().unwrap(), "merged r2");
        assert_close(merged.mse().unwrap(), case["mse"].as_f64().unwrap(), "merged mse");
    }
}

#[test]
fn batch_averaged_r2_would_be_wrong() {
    let fx = fixture();
    let case = &fx["regression"][0];
    let (pred, target) = (f32s(&case["pred"]), f32s(&case["target"]));
    let per_batch: Vec<f64> = pred
        .chunks(16)
        .zip(target.chunks(16))
        .map(|(p, t)| {
            let mut r = Regression::new(1);
            r.add(p, t);
            r.r2().unwrap()
        })
        .collect();
    let averaged = per_batch.iter().sum::<f64>() / per_batch.len() as f64;
    let sk = case["r2"].as_f64().unwrap();
    assert!((averaged - sk).abs() > 1e-3, "batch-averaged r2 {averaged} happens to equal sklearn's {sk}");
}
