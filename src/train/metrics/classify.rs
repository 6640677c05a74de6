//! Single-label classification: a confusion matrix and top-k hit counts,
//! accumulated over a whole split.
//!
//! Predictions are the arg-max of each score row, the first index among
//! ties (NumPy's `argmax`). Top-k ranks break ties the same way, so
//! `top_k(1)` always equals [`Classification::accuracy`]. (scikit-learn's
//! `top_k_accuracy_score` breaks exact ties towards the *higher* index; the
//! two agree whenever a row's scores are distinct.)

use super::{Average, ClassScores};

/// Accumulates a whole split's predictions (never averaged over batches).
///
/// Holds a `C×C` confusion matrix whose rows are true labels and whose
/// columns are predicted classes, and, for each `k` asked for in
/// [`Classification::new`], how many scored examples had their true class
/// among the top `k`.
#[derive(Clone, Debug, PartialEq)]
pub struct Classification {
    classes: usize,
    /// Row-major `classes × classes`: `confusion[t * classes + p]`.
    confusion: Vec<u64>,
    /// `(k, hits)` for each requested `k`, in the order requested.
    top_k: Vec<(usize, u64)>,
    /// Examples added with scores ([`Classification::add`]): the
    /// denominator of the top-k accuracies.
    scored: u64,
    /// Examples in the confusion matrix.
    total: u64,
}

/// The class index an `f32` label stands for, or `None` unless it is an
/// integer in `0..classes`.
fn class_of(label: f32, classes: usize) -> Option<usize> {
    let in_range = label >= 0.0 && label < classes as f32 && label.fract() == 0.0;
    in_range.then_some(label as usize)
}

/// The index of the largest score, the first among ties.
fn arg_max(row: &[f32]) -> usize {
    let mut best = 0;
    for (j, &s) in row.iter().enumerate().skip(1) {
        if s > row[best] {
            best = j;
        }
    }
    best
}

/// How many classes rank above class `t`: those with a larger score, and
/// those with an equal score and a smaller index.
fn rank_of(row: &[f32], t: usize) -> usize {
    let st = row[t];
    row.iter().enumerate().filter(|&(j, &s)| s > st || (s == st && j < t)).count()
}

/// `num / den`, or 0 when `den` is 0 (scikit-learn's `zero_division=0`).
fn ratio(num: u64, den: u64) -> f64 {
    if den == 0 { 0.0 } else { num as f64 / den as f64 }
}

/// Precision, recall and F1 from true positives, false positives and false
/// negatives, with `support` attached.
fn scores(tp: u64, fp: u64, fn_: u64, support: u64) -> ClassScores {
    ClassScores {
        precision: ratio(tp, tp + fp),
        recall: ratio(tp, tp + fn_),
        f1: ratio(2 * tp, 2 * tp + fp + fn_),
        support,
    }
}

impl Classification {
    /// An empty accumulator for `classes` classes that also counts top-`k`
    /// hits for every `k` in `top_k` (duplicates are kept once).
    pub fn new(classes: usize, top_k: &[usize]) -> Self {
        let mut ks: Vec<(usize, u64)> = Vec::with_capacity(top_k.len());
        for &k in top_k {
            if !ks.iter().any(|&(have, _)| have == k) {
                ks.push((k, 0));
            }
        }
        Classification { classes, confusion: vec![0; classes * classes], top_k: ks, scored: 0, total: 0 }
    }

    /// Adds a batch. `scores` holds one row of `classes` scores (logits or
    /// probabilities) per label; `labels` holds class indices stored as
    /// `f32`.
    ///
    /// The caller has checked the labels; any that is not an integer in
    /// `0..classes` is skipped, as is any label without a full score row.
    pub fn add(&mut self, scores: &[f32], labels: &[f32]) {
        if self.classes == 0 {
            return;
        }
        for (row, &label) in scores.chunks_exact(self.classes).zip(labels) {
            let Some(t) = class_of(label, self.classes) else { continue };
            self.count(t, arg_max(row));
            self.scored += 1;
            let rank = rank_of(row, t);
            for (k, hits) in &mut self.top_k {
                if rank < *k {
                    *hits += 1;
                }
            }
        }
    }

    /// Adds already-decided predictions to the confusion matrix only (top-k
    /// counts need scores). Pairs with either index out of range are
    /// skipped; extra entries of the longer slice are ignored.
    pub fn add_predictions(&mut self, predicted: &[usize], labels: &[usize]) {
        for (&p, &t) in predicted.iter().zip(labels) {
            if p < self.classes && t < self.classes {
                self.count(t, p);
            }
        }
    }

    /// Records one example with true class `t` predicted as `p`.
    fn count(&mut self, t: usize, p: usize) {
        self.confusion[t * self.classes + p] += 1;
        self.total += 1;
    }

    /// Adds another accumulator's counts to this one. Top-k counts are
    /// merged for the `k` both were asked for; if the class counts differ,
    /// only the confusion entries both matrices have are merged.
    pub fn merge(&mut self, other: &Classification) {
        let c = self.classes.min(other.classes);
        for t in 0..c {
            for p in 0..c {
                let n = other.confusion[t * other.classes + p];
                self.confusion[t * self.classes + p] += n;
                self.total += n;
            }
        }
        self.scored += other.scored;
        for (k, hits) in &mut self.top_k {
            if let Some(&(_, theirs)) = other.top_k.iter().find(|&&(ok, _)| ok == *k) {
                *hits += theirs;
            }
        }
    }

    /// The number of classes.
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// The number of examples in the confusion matrix.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// The confusion matrix: `confusion()[true][predicted]`, as
    /// scikit-learn's `confusion_matrix(labels=range(C))`.
    pub fn confusion(&self) -> Vec<Vec<u64>> {
        if self.classes == 0 {
            return Vec::new();
        }
        self.confusion.chunks_exact(self.classes).map(<[u64]>::to_vec).collect()
    }

    /// The fraction of examples predicted correctly; `None` when nothing was
    /// added.
    pub fn accuracy(&self) -> Option<f64> {
        let correct: u64 = (0..self.classes).map(|c| self.cell(c, c)).sum();
        (self.total > 0).then(|| correct as f64 / self.total as f64)
    }

    /// The fraction of scored examples whose true class is among the `k`
    /// highest scores; `None` if `k` was not requested in
    /// [`Classification::new`] or no scores were added.
    pub fn top_k(&self, k: usize) -> Option<f64> {
        let &(_, hits) = self.top_k.iter().find(|&&(have, _)| have == k)?;
        (self.scored > 0).then(|| hits as f64 / self.scored as f64)
    }

    /// Precision, recall, F1 and support of every class `0..C`, as
    /// scikit-learn's `precision_recall_fscore_support(labels=range(C),
    /// zero_division=0)`.
    pub fn per_class(&self) -> Vec<ClassScores> {
        (0..self.classes).map(|c| self.class_scores(c)).collect()
    }

    /// Scores averaged over the classes that occur among the labels or the
    /// predictions (scikit-learn's default `labels=None`), with `support`
    /// the total number of examples. All zero when nothing was added.
    pub fn average(&self, avg: Average) -> ClassScores {
        let present = self.present();
        let per: Vec<ClassScores> = present.iter().map(|&c| self.class_scores(c)).collect();
        let mut res = match avg {
            Average::Macro => Self::mean(&per, |_| 1.0),
            Average::Weighted => Self::mean(&per, |s| s.support as f64),
            Average::Micro => self.micro(&present),
        };
        res.support = self.total;
        res
    }

    /// The classes with any true or predicted example, ascending.
    pub(crate) fn present(&self) -> Vec<usize> {
        (0..self.classes).filter(|&c| self.row_sum(c) > 0 || self.column_sum(c) > 0).collect()
    }

    /// The `weight`-weighted mean of each score; 0 when the weights sum to 0.
    fn mean(classes: &[ClassScores], weight: impl Fn(&ClassScores) -> f64) -> ClassScores {
        let total: f64 = classes.iter().map(&weight).sum();
        if total == 0.0 {
            return ClassScores::default();
        }
        let avg = |f: fn(&ClassScores) -> f64| classes.iter().map(|s| weight(s) * f(s)).sum::<f64>() / total;
        ClassScores {
            precision: avg(|s| s.precision),
            recall: avg(|s| s.recall),
            f1: avg(|s| s.f1),
            support: 0,
        }
    }

    /// Scores of the true positives, false positives and false negatives
    /// summed over the `present` classes.
    fn micro(&self, present: &[usize]) -> ClassScores {
        let (mut tp, mut fp, mut fn_) = (0, 0, 0);
        for &c in present {
            let hit = self.cell(c, c);
            tp += hit;
            fp += self.column_sum(c) - hit;
            fn_ += self.row_sum(c) - hit;
        }
        scores(tp, fp, fn_, 0)
    }

    /// The scores of class `c`.
    fn class_scores(&self, c: usize) -> ClassScores {
        let tp = self.cell(c, c);
        let support = self.row_sum(c);
        scores(tp, self.column_sum(c) - tp, support - tp, support)
    }

    /// Examples of true class `t` predicted as `p`.
    fn cell(&self, t: usize, p: usize) -> u64 {
        self.confusion[t * self.classes + p]
    }

    /// Examples whose true class is `c` (its support).
    fn row_sum(&self, c: usize) -> u64 {
        (0..self.classes).map(|p| self.cell(c, p)).sum()
    }

    /// Examples predicted as `c`.
    fn column_sum(&self, c: usize) -> u64 {
        (0..self.classes).map(|t| self.cell(t, c)).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ties_go_to_the_first_class_for_accuracy_and_top_k() {
        let mut m = Classification::new(3, &[1, 2]);
        // All tied: predicted 0; class 2 ranks third.
        m.add(&[1.0, 1.0, 1.0, 1.0, 1.0, 1.0], &[0.0, 2.0]);
        assert_eq!(m.accuracy(), Some(0.5));
        assert_eq!(m.top_k(1), m.accuracy());
        assert_eq!(m.top_k(2), Some(0.5));
        assert_eq!(m.top_k(3), None);
    }

    #[test]
    fn bad_labels_and_short_rows_are_skipped() {
        let mut m = Classification::new(2, &[1]);
        m.add(&[0.0, 1.0, 1.0, 0.0, 5.0], &[1.0, 0.5, -1.0, f32::NAN, 2.0]);
        assert_eq!(m.total(), 1);
        m.add_predictions(&[0, 7, 1], &[0, 0, 9]);
        assert_eq!(m.total(), 2);
        assert_eq!(m.confusion(), vec![vec![1, 0], vec![0, 1]]);
        // Top-k counts only scored examples.
        assert_eq!(m.top_k(1), Some(1.0));
    }

    #[test]
    fn empty_accumulators_report_nothing() {
        let m = Classification::new(3, &[1]);
        assert_eq!(m.accuracy(), None);
        assert_eq!(m.top_k(1), None);
        assert_eq!(m.average(Average::Macro), ClassScores::default());
        let none = Classification::new(0, &[1]);
        assert!(none.confusion().is_empty());
        assert!(none.per_class().is_empty());
    }

    #[test]
    fn merging_equals_adding_everything_at_once() {
        let scores = [0.1, 0.9, 0.8, 0.2, 0.3, 0.7, 0.6, 0.4];
        let labels = [1.0, 0.0, 0.0, 0.0];
        let mut whole = Classification::new(2, &[1, 2]);
        whole.add(&scores, &labels);
        let mut a = Classification::new(2, &[1, 2]);
        let mut b = Classification::new(2, &[1, 2]);
        a.add(&scores[..2], &labels[..1]);
        b.add(&scores[2..], &labels[1..]);
        a.merge(&b);
        assert_eq!(a, whole);
    }
}
