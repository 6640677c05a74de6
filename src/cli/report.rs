//! How runs and evaluations are shown: the per-epoch table, the
//! `--log-json` records, the cross-validation summary and the per-class
//! report.

use std::fmt::Write as _;

use serde_json::{Map, Value, json};

use crate::sema::blocks::{Metric, TrainConfig};
use crate::train::crossval::CrossValidation;
use crate::train::evaluate::Evaluation;
use crate::train::metrics::classification_report;
use crate::train::trainer::{EpochReport, Event};

/// The numbers shown for a split: the loss, then each scalar metric.
pub(super) fn shown(cfg: &TrainConfig) -> Vec<Metric> {
    let mut out = vec![Metric::Loss];
    out.extend(cfg.eval.metrics.iter().copied().filter(|m| m.is_scalar() && *m != Metric::Loss));
    out
}

/// A short column name: `train_loss`, `val_acc`, `test_f1_macro`.
fn column(split: &str, m: Metric) -> String {
    let split = if split == "validation" { "val" } else { split };
    let name = match m {
        Metric::Accuracy => "acc".to_string(),
        Metric::SequenceAccuracy => "seq_acc".to_string(),
        other => other.name(),
    };
    format!("{split}_{name}")
}

/// The splits an epoch report holds, with their evaluations.
fn splits(r: &EpochReport) -> Vec<(&'static str, &Evaluation)> {
    let mut out = vec![("train", &r.train)];
    out.extend(r.validation.as_ref().map(|e| ("validation", e)));
    out.extend(r.test.as_ref().map(|e| ("test", e)));
    out
}

/// The epoch table: a header, then one row per epoch; the training split
/// shows its loss and accuracy, held-out splits every metric.
pub(super) struct EpochTable {
    columns: Vec<(String, usize)>,
    header_shown: bool,
}

impl EpochTable {
    pub(super) fn new() -> EpochTable {
        EpochTable { columns: Vec::new(), header_shown: false }
    }

    /// The header (the first time) and the row of one epoch.
    pub(super) fn rows(&mut self, r: &EpochReport, epochs: usize, cfg: &TrainConfig) -> Vec<String> {
        let mut cells: Vec<(String, String)> = vec![("epoch".into(), format!("{}/{epochs}", r.epoch))];
        for (split, e) in splits(r) {
            // The training split shows its loss and accuracy only, to keep the
            // table narrow (the log has every metric of every split).
            let metrics = shown(cfg)
                .into_iter()
                .filter(|m| split != "train" || matches!(m, Metric::Loss | Metric::Accuracy));
            for m in metrics {
                // Sequence accuracy needs decoding: only held-out splits have it.
                if let Some(v) = e.value(m) {
                    cells.push((column(split, m), format!("{v:.4}")));
                }
            }
        }
        cells.push(("samples/s".into(), format!("{:.0}", r.samples_per_s)));
        cells.push(("time".into(), format!("{:.1}s", r.seconds)));
        if cfg.eval.keep.is_some() {
            cells.push(("best".into(), if r.best { "*".into() } else { String::new() }));
        }
        let mut out = Vec::new();
        if !self.header_shown {
            self.columns = cells.iter().map(|(h, v)| (h.clone(), h.len().max(v.len()).max(6))).collect();
            // The epoch column fits the last epoch's `N/N`.
            self.columns[0].1 = self.columns[0].1.max(format!("{epochs}/{epochs}").len());
            out.push(join(self.columns.iter().map(|(h, w)| (h.as_str(), *w))));
            self.header_shown = true;
        }
        let widths = self.columns.iter().map(|(_, w)| *w).chain(std::iter::repeat(6));
        out.push(join(cells.iter().map(|(_, v)| v.as_str()).zip(widths)));
        out
    }
}

fn join<'a>(cells: impl Iterator<Item = (&'a str, usize)>) -> String {
    let mut s = String::new();
    for (i, (text, w)) in cells.enumerate() {
        if i == 0 {
            let _ = write!(s, "{text:<w$}");
        } else {
            let _ = write!(s, "  {text:>w$}");
        }
    }
    s.trim_end().to_string()
}

/// The `--log-json` record of an epoch: `kind`, `epoch`, `fold`, `lr`,
/// `samples_per_s`, `seconds`, and `{split}_{metric}` for every split and
/// metric (the confusion matrix as a nested array, per-class scores as a
/// list of objects).
pub(super) fn epoch_json(r: &EpochReport, cfg: &TrainConfig, names: Option<&[String]>) -> String {
    let mut o = Map::new();
    o.insert("kind".into(), json!("epoch"));
    o.insert("epoch".into(), json!(r.epoch));
    if let Some(f) = r.fold {
        o.insert("fold".into(), json!(f));
    }
    for (split, e) in splits(r) {
        metrics_json(&mut o, split, e, cfg, names);
    }
    o.insert("best".into(), json!(r.best));
    o.insert("lr".into(), json!(r.lr));
    o.insert("samples_per_s".into(), json!(r.samples_per_s));
    o.insert("seconds".into(), json!(r.seconds));
    Value::Object(o).to_string()
}

/// Adds a split's metrics to a JSON record as `{split}_{metric}` keys.
pub(super) fn metrics_json(
    o: &mut Map<String, Value>,
    split: &str,
    e: &Evaluation,
    cfg: &TrainConfig,
    names: Option<&[String]>,
) {
    for m in shown(cfg) {
        if let Some(v) = e.value(m) {
            o.insert(format!("{split}_{}", m.name()), json!(v));
        }
    }
    let Some(c) = &e.classes else { return };
    if c.total() == 0 {
        return;
    }
    if cfg.eval.metrics.contains(&Metric::Confusion) {
        o.insert(format!("{split}_confusion"), json!(c.confusion()));
    }
    let per_class = cfg
        .eval
        .metrics
        .iter()
        .any(|m| matches!(m, Metric::Precision(_) | Metric::Recall(_) | Metric::F1(_)));
    if per_class {
        let names = class_names(names, c.classes());
        let rows: Vec<Value> = c
            .per_class()
            .iter()
            .zip(&names)
            .map(|(s, n)| {
                json!({"class": n, "precision": s.precision, "recall": s.recall, "f1": s.f1, "support": s.support})
            })
            .collect();
        o.insert(format!("{split}_per_class"), Value::Array(rows));
    }
}

/// The `--log-json` record of a step.
pub(super) fn step_json(ev: &Event<'_>, fold: Option<usize>) -> Option<String> {
    let Event::Step { epoch, step, global_step, loss, lr, samples_per_s } = ev else { return None };
    let mut o = Map::new();
    o.insert("kind".into(), json!("step"));
    o.insert("epoch".into(), json!(epoch));
    if let Some(f) = fold {
        o.insert("fold".into(), json!(f));
    }
    o.insert("step".into(), json!(step));
    o.insert("global_step".into(), json!(global_step));
    o.insert("loss".into(), json!(loss));
    o.insert("lr".into(), json!(lr));
    o.insert("samples_per_s".into(), json!(samples_per_s));
    Some(Value::Object(o).to_string())
}

/// The data block's class names, else the class indices.
pub(super) fn class_names(names: Option<&[String]>, classes: usize) -> Vec<String> {
    match names {
        Some(names) if names.len() == classes => names.to_vec(),
        _ => (0..classes).map(|c| c.to_string()).collect(),
    }
}

/// The per-class report and, with `confusion`, the matrix, for the
/// classification metrics a run asked for; empty otherwise.
pub(super) fn final_report(
    split: &str,
    e: &Evaluation,
    names: Option<&[String]>,
    metrics: &[Metric],
) -> String {
    let Some(c) = e.classes.as_ref().filter(|c| c.total() > 0) else { return String::new() };
    let names = class_names(names, c.classes());
    let mut s = String::new();
    let per_class =
        metrics.iter().any(|m| matches!(m, Metric::Precision(_) | Metric::Recall(_) | Metric::F1(_)));
    if per_class {
        let _ = writeln!(s, "{split} split, per class:");
        s += &classification_report(c, Some(&names));
    }
    if metrics.contains(&Metric::Confusion) {
        let _ = writeln!(s, "\n{split} confusion matrix (rows: true class, columns: predicted):");
        s += &confusion_text(&c.confusion(), &names);
    }
    s
}

/// A confusion matrix as an aligned text table.
pub(super) fn confusion_text(m: &[Vec<u64>], names: &[String]) -> String {
    let w = m
        .iter()
        .flatten()
        .map(|v| v.to_string().len())
        .chain(names.iter().map(String::len))
        .max()
        .unwrap_or(1);
    let name_w = names.iter().map(String::len).max().unwrap_or(1);
    let mut s = format!("{:name_w$}", "");
    for n in names {
        let _ = write!(s, "  {n:>w$}");
    }
    s.push('\n');
    for (row, n) in m.iter().zip(names) {
        let _ = write!(s, "{n:>name_w$}");
        for v in row {
            let _ = write!(s, "  {v:>w$}");
        }
        s.push('\n');
    }
    s
}

/// The cross-validation summary: one row per fold of each shown metric's
/// validation value, then the mean ± standard deviation.
pub(super) fn cv_table(cv: &CrossValidation, cfg: &TrainConfig) -> String {
    let metrics = shown(cfg);
    let names: Vec<String> = metrics.iter().map(|m| m.name()).collect();
    let w: Vec<usize> = names.iter().map(|n| n.len().max(15)).collect();
    let mut s = format!(
        "cross-validation: {} folds{}, validation metrics\n",
        cv.folds.len(),
        if cv.stratified { " (stratified)" } else { "" }
    );
    let _ = write!(s, "{:<6}  {:>6}  {:>6}", "fold", "train", "valid");
    for (n, w) in names.iter().zip(&w) {
        let _ = write!(s, "  {n:>w$}");
    }
    s.push('\n');
    for f in &cv.folds {
        let _ = write!(s, "{:<6}  {:>6}  {:>6}", f.fold, f.train, f.validation);
        for (m, w) in metrics.iter().zip(&w) {
            let v = f.evaluation.value(*m).map_or("-".to_string(), |v| format!("{v:.4}"));
            let _ = write!(s, "  {v:>w$}");
        }
        s.push('\n');
    }
    let _ = write!(s, "{:<22}", "mean ± std");
    for (m, w) in metrics.iter().zip(&w) {
        let v = cv.mean_std(*m).map_or("-".to_string(), |(mean, sd)| format!("{mean:.4} ± {sd:.4}"));
        let _ = write!(s, "  {v:>w$}");
    }
    s.push('\n');
    s
}
