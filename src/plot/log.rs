//! Training curves read back from a training log: the JSON lines that
//! `nnc run --log-json` writes, one object per line.
//!
//! An epoch record (`"kind": "epoch"`, or for older logs no `"kind"` but an
//! `"epoch"`) gives points at `x = epoch`. Each numeric entry named
//! `{split}_{metric}`, with split `train`, `validation` or `test`, is a point
//! of the series `{split}` (`{split} fold {n}` in a record with a numeric
//! `"fold"`) in the panel `{metric}`. Arrays, strings and nulls are skipped,
//! as are records of any other kind (`"step"` records among them).

use serde_json::{Map, Value};

use super::PlotError;
use super::curves::{Panel, Series};

/// The splits a metric can be reported on, in the order their series are
/// listed in a panel.
const SPLITS: [&str; 3] = ["train", "validation", "test"];

/// The panels of the epoch records in `jsonl`: "loss" first, then the other
/// metrics in order of first appearance (within one record, in the order
/// of their names). In a panel, series are ordered by split, then by fold.
///
/// A line that is not a JSON object, an epoch record without a numeric
/// `"epoch"`, and a log without epoch records are errors.
pub fn panels_from_log(jsonl: &str) -> Result<Vec<Panel>, PlotError> {
    let mut curves = Collected::default();
    let mut n_epochs = 0usize;
    for (i, line) in jsonl.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let record = parse_record(line, i + 1)?;
        if !is_epoch_record(&record) {
            continue;
        }
        let Some(epoch) = record.get("epoch").and_then(Value::as_f64) else {
            return Err(PlotError::new(format!(
                "line {}: an epoch record without a numeric \"epoch\"",
                i + 1
            )));
        };
        n_epochs += 1;
        let fold = record.get("fold").and_then(Value::as_f64);
        for (key, value) in &record {
            if let (Some((split, metric)), Some(y)) = (split_key(key), value.as_f64()) {
                curves.add(metric, SeriesKey { split, fold }, (epoch, y));
            }
        }
    }
    if n_epochs == 0 {
        return Err(PlotError::new("the log has no epoch records"));
    }
    Ok(curves.into_panels())
}

/// Line `line_no` of the log as a JSON object.
fn parse_record(line: &str, line_no: usize) -> Result<Map<String, Value>, PlotError> {
    match serde_json::from_str::<Value>(line) {
        Ok(Value::Object(record)) => Ok(record),
        Ok(_) => Err(PlotError::new(format!("line {line_no}: not a JSON object"))),
        Err(e) => Err(PlotError::new(format!("line {line_no}: not a JSON object ({e})"))),
    }
}

/// Whether a record reports an epoch: its kind says so, or, in logs from
/// before records had kinds, it has an epoch number.
fn is_epoch_record(record: &Map<String, Value>) -> bool {
    match record.get("kind") {
        Some(kind) => kind.as_str() == Some("epoch"),
        None => record.contains_key("epoch"),
    }
}

/// The split (as its index in [`SPLITS`]) and metric a key names:
/// `validation_f1_macro` is split 1, metric `f1_macro`.
fn split_key(key: &str) -> Option<(usize, &str)> {
    SPLITS.iter().enumerate().find_map(|(i, split)| {
        let metric = key.strip_prefix(split)?.strip_prefix('_')?;
        (!metric.is_empty()).then_some((i, metric))
    })
}

/// Which series of a panel a point belongs to.
#[derive(Clone, Copy, PartialEq)]
struct SeriesKey {
    split: usize,
    fold: Option<f64>,
}

impl SeriesKey {
    fn label(self) -> String {
        let split = SPLITS[self.split];
        match self.fold {
            Some(f) => format!("{split} fold {f}"),
            None => split.to_string(),
        }
    }
}

/// The points of each series of one metric, in order of first appearance.
type MetricSeries = Vec<(SeriesKey, Vec<(f64, f64)>)>;

/// The points gathered so far: per metric, in order of first appearance,
/// the points of each series.
#[derive(Default)]
struct Collected {
    metrics: Vec<(String, MetricSeries)>,
}

impl Collected {
    fn add(&mut self, metric: &str, key: SeriesKey, point: (f64, f64)) {
        let at = match self.metrics.iter().position(|(m, _)| m == metric) {
            Some(at) => at,
            None => {
                self.metrics.push((metric.to_string(), Vec::new()));
                self.metrics.len() - 1
            }
        };
        let series = &mut self.metrics[at].1;
        match series.iter_mut().find(|(k, _)| *k == key) {
            Some((_, points)) => points.push(point),
            None => series.push((key, vec![point])),
        }
    }

    fn into_panels(mut self) -> Vec<Panel> {
        // A stable sort: "loss" moves to the front, the rest keep their order.
        self.metrics.sort_by_key(|(m, _)| m != "loss");
        self.metrics.into_iter().map(|(metric, series)| panel(metric, series)).collect()
    }
}

/// The panel of one metric, its series ordered by split, then by fold.
fn panel(metric: String, mut series: MetricSeries) -> Panel {
    series.sort_by(|(a, _), (b, _)| {
        let fold = |k: &SeriesKey| k.fold.unwrap_or(f64::NEG_INFINITY);
        a.split.cmp(&b.split).then(fold(a).total_cmp(&fold(b)))
    });
    let series = series.into_iter().map(|(key, points)| Series { label: key.label(), points }).collect();
    Panel { title: metric, series }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_name_a_split_and_a_metric() {
        assert_eq!(split_key("train_loss"), Some((0, "loss")));
        assert_eq!(split_key("validation_f1_macro"), Some((1, "f1_macro")));
        assert_eq!(split_key("test_sequence_accuracy"), Some((2, "sequence_accuracy")));
        assert_eq!(split_key("train_"), None);
        assert_eq!(split_key("trainloss"), None);
        assert_eq!(split_key("samples_per_s"), None);
    }

    #[test]
    fn fold_labels_are_whole_numbers() {
        assert_eq!(SeriesKey { split: 1, fold: Some(2.0) }.label(), "validation fold 2");
        assert_eq!(SeriesKey { split: 0, fold: None }.label(), "train");
    }

    #[test]
    fn only_epoch_records_count() {
        let record = |s: &str| parse_record(s, 1).unwrap();
        assert!(is_epoch_record(&record(r#"{"kind": "epoch", "epoch": 1}"#)));
        assert!(is_epoch_record(&record(r#"{"epoch": 1, "train_loss": 0.5}"#)));
        assert!(!is_epoch_record(&record(r#"{"kind": "step", "epoch": 1}"#)));
        assert!(!is_epoch_record(&record(r#"{"train_loss": 0.5}"#)));
    }
}
