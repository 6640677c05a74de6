//! Regression: mean squared error, mean absolute error and R², accumulated
//! over a whole split.
//!
//! R² needs each output's total sum of squares about the split's mean,
//! which is not known until the end. Rather than keeping Σy and Σy² (whose
//! difference cancels badly when the mean is large), each output keeps its
//! running mean and sum of squared deviations (Welford's update per value,
//! Chan et al.'s combination when batches or accumulators are merged).
//! A constant output then has a sum of squares of exactly 0, which
//! scikit-learn's `force_finite` rule needs.

/// One output's running sums.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Output {
    /// Mean of the targets so far.
    mean: f64,
    /// Sum of the targets' squared deviations from `mean`.
    m2: f64,
    /// Sum of squared errors.
    sse: f64,
    /// Sum of absolute errors.
    sae: f64,
}

impl Output {
    /// Adds one prediction and target as the `n`-th value (counting from 1).
    fn add(&mut self, pred: f64, target: f64, n: u64) {
        let delta = target - self.mean;
        self.mean += delta / n as f64;
        self.m2 += delta * (target - self.mean);
        let err = pred - target;
        self.sse += err * err;
        self.sae += err.abs();
    }

    /// Combines `other` (over `nb` values) into `self` (over `na` values).
    /// An empty side contributes nothing, so a constant output's mean stays
    /// exact and its sum of squares stays exactly 0.
    fn merge(&mut self, na: u64, other: &Output, nb: u64) {
        if nb == 0 {
            return;
        }
        if na == 0 {
            *self = *other;
            return;
        }
        let n = (na + nb) as f64;
        let delta = other.mean - self.mean;
        self.mean += delta * nb as f64 / n;
        self.m2 += other.m2 + delta * delta * na as f64 * nb as f64 / n;
        self.sse += other.sse;
        self.sae += other.sae;
    }

    /// `1 - SS_res / SS_tot`; for a constant target (`SS_tot == 0`), 1 if
    /// every prediction was exact and 0 otherwise (`force_finite=True`).
    fn r2(&self) -> f64 {
        if self.m2 == 0.0 { if self.sse == 0.0 { 1.0 } else { 0.0 } } else { 1.0 - self.sse / self.m2 }
    }
}

/// Regression over outputs with `outputs` values per example.
#[derive(Clone, Debug, PartialEq)]
pub struct Regression {
    per_output: Vec<Output>,
    /// Examples added.
    count: u64,
}

impl Regression {
    /// An empty accumulator for examples of `outputs` values each.
    pub fn new(outputs: usize) -> Self {
        Regression { per_output: vec![Output::default(); outputs], count: 0 }
    }

    /// Adds a batch: `pred` and `target` hold `outputs` values per example,
    /// row-major. A trailing partial row, and rows of the longer slice that
    /// the shorter lacks, are ignored.
    pub fn add(&mut self, pred: &[f32], target: &[f32]) {
        let width = self.per_output.len();
        if width == 0 {
            return;
        }
        for (p_row, t_row) in pred.chunks_exact(width).zip(target.chunks_exact(width)) {
            self.count += 1;
            for ((out, &p), &t) in self.per_output.iter_mut().zip(p_row).zip(t_row) {
                out.add(f64::from(p), f64::from(t), self.count);
            }
        }
    }

    /// Adds another accumulator's examples to this one. Accumulators with a
    /// different number of outputs are not merged.
    pub fn merge(&mut self, other: &Regression) {
        if other.per_output.len() != self.per_output.len() {
            return;
        }
        for (mine, theirs) in self.per_output.iter_mut().zip(&other.per_output) {
            mine.merge(self.count, theirs, other.count);
        }
        self.count += other.count;
    }

    /// The number of examples added.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The mean squared error over every value; `None` when nothing was
    /// added.
    pub fn mse(&self) -> Option<f64> {
        self.mean_over_values(|o| o.sse)
    }

    /// The mean absolute error over every value; `None` when nothing was
    /// added.
    pub fn mae(&self) -> Option<f64> {
        self.mean_over_values(|o| o.sae)
    }

    /// The coefficient of determination, per output then averaged uniformly
    /// (`multioutput='uniform_average'`); `None` with fewer than two
    /// examples, where scikit-learn returns NaN.
    pub fn r2(&self) -> Option<f64> {
        if self.count < 2 || self.per_output.is_empty() {
            return None;
        }
        Some(self.per_output.iter().map(Output::r2).sum::<f64>() / self.per_output.len() as f64)
    }

    /// A per-output sum divided by the number of values.
    fn mean_over_values(&self, sum: impl Fn(&Output) -> f64) -> Option<f64> {
        let values = self.count as f64 * self.per_output.len() as f64;
        (values > 0.0).then(|| self.per_output.iter().map(sum).sum::<f64>() / values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_constant_predictions_score_one_and_inexact_zero() {
        let mut r = Regression::new(2);
        r.add(&[3.0, 1.0, 3.0, 2.0], &[3.0, 5.0, 3.0, 5.0]);
        assert_eq!(r.per_output[0].r2(), 1.0);
        assert_eq!(r.per_output[1].r2(), 0.0);
        assert_eq!(r.r2(), Some(0.5));
        assert_eq!(r.mse(), Some((16.0 + 9.0) / 4.0));
        assert_eq!(r.mae(), Some(7.0 / 4.0));
    }

    #[test]
    fn too_few_examples_have_no_r2() {
        let mut r = Regression::new(1);
        assert_eq!((r.mse(), r.mae(), r.r2()), (None, None, None));
        r.add(&[1.0], &[2.0]);
        assert_eq!(r.r2(), None);
        assert_eq!(r.mse(), Some(1.0));
    }

    #[test]
    fn a_large_mean_does_not_cancel_the_spread() {
        let mut r = Regression::new(1);
        let target: Vec<f32> = (0..1000).map(|i| 1.0e6 + (i % 2) as f32).collect();
        r.add(&target, &target);
        let m2 = r.per_output[0].m2;
        assert!((m2 - 250.0).abs() < 1e-9, "{m2}");
    }

    #[test]
    fn merging_matches_one_pass() {
        let pred = [0.5, 1.5, 2.0, 4.5, 3.0, 1.0];
        let target = [1.0, 2.0, 2.5, 4.0, 2.0, 0.0];
        let mut whole = Regression::new(2);
        whole.add(&pred, &target);
        let mut a = Regression::new(2);
        let mut b = Regression::new(2);
        a.add(&pred[..2], &target[..2]);
        b.add(&pred[2..], &target[2..]);
        a.merge(&b);
        assert_eq!(a.count(), 3);
        let close = |x: Option<f64>, y: Option<f64>| (x.unwrap() - y.unwrap()).abs() < 1e-12;
        assert!(close(a.r2(), whole.r2()) && close(a.mse(), whole.mse()) && close(a.mae(), whole.mae()));
    }
}
