//! The text table of scikit-learn's `classification_report`, with four
//! decimals.
//!
//! The layout is scikit-learn's, character for character: a header of
//! right-aligned column names, one row per class that occurs among the
//! labels or the predictions (scikit-learn's default `labels=None`), a
//! blank line, then the accuracy, macro average and weighted average rows.
//! The first column is as wide as the longest row name, and at least as
//! wide as `weighted avg`.

use std::fmt::Write;

use super::{Average, ClassScores, Classification};

/// Digits after the decimal point.
const DIGITS: usize = 4;

/// The label of the widest summary row, which sets the minimum name width.
const WIDEST_SUMMARY: &str = "weighted avg";

/// The report for `c`, naming class `i` by `names[i]` when given (classes
/// beyond the end of `names` are named by their index).
pub fn classification_report(c: &Classification, names: Option<&[String]>) -> String {
    let rows: Vec<(String, ClassScores)> = {
        let per_class = c.per_class();
        c.present().into_iter().map(|i| (class_name(i, names), per_class[i])).collect()
    };
    let width = rows.iter().map(|(name, _)| name.chars().count()).fold(WIDEST_SUMMARY.len(), usize::max);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:>width$}  {:>9} {:>9} {:>9} {:>9}\n",
        "", "precision", "recall", "f1-score", "support"
    );
    for (name, scores) in &rows {
        push_row(&mut out, name, scores, width);
    }
    out.push('\n');
    let accuracy = c.accuracy().unwrap_or(0.0);
    let _ =
        writeln!(out, "{:>width$}  {:>9} {:>9} {accuracy:>9.DIGITS$} {:>9}", "accuracy", "", "", c.total());
    for avg in [Average::Macro, Average::Weighted] {
        push_row(&mut out, &format!("{} avg", avg.name()), &c.average(avg), width);
    }
    out
}

/// The row name of class `i`.
fn class_name(i: usize, names: Option<&[String]>) -> String {
    names.and_then(|n| n.get(i)).cloned().unwrap_or_else(|| i.to_string())
}

/// Appends one row: the name right-aligned in `width`, three scores and the
/// support, each right-aligned in nine columns.
fn push_row(out: &mut String, name: &str, s: &ClassScores, width: usize) {
    let _ = writeln!(
        out,
        "{name:>width$}  {:>9.DIGITS$} {:>9.DIGITS$} {:>9.DIGITS$} {:>9}",
        s.precision, s.recall, s.f1, s.support
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_layout_matches_scikit_learn() {
        // classification_report([0, 1, 2, 2, 2], [0, 0, 2, 2, 1], digits=4)
        let mut c = Classification::new(3, &[]);
        c.add_predictions(&[0, 0, 2, 2, 1], &[0, 1, 2, 2, 2]);
        let want = "              precision    recall  f1-score   support

           0     0.5000    1.0000    0.6667         1
           1     0.0000    0.0000    0.0000         1
           2     1.0000    0.6667    0.8000         3

    accuracy                         0.6000         5
   macro avg     0.5000    0.5556    0.4889         5
weighted avg     0.7000    0.6000    0.6133         5
";
        assert_eq!(classification_report(&c, None), want);
    }

    #[test]
    fn names_widen_the_first_column() {
        let mut c = Classification::new(2, &[]);
        c.add_predictions(&[0, 1], &[0, 1]);
        let names = ["a very long class".to_string()];
        let report = classification_report(&c, Some(&names));
        assert!(report.contains("\na very long class     1.0000"), "{report}");
        assert!(report.contains("\n                1     1.0000"), "{report}");
    }
}
