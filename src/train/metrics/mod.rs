//! Evaluation metrics with scikit-learn's semantics, computed over a whole
//! split.
//!
//! Metrics such as macro F1 or R² are not means of per-batch values: a
//! batch that happens to lack a class, or whose targets happen to be nearly
//! constant, would weigh as much as any other. So each metric here is an
//! accumulator: [`Classification`] keeps a confusion matrix and top-k hit
//! counts, [`Regression`] keeps per-output sums, batches are added (or
//! accumulators from several workers merged) and the numbers are read off
//! at the end. Summing integers (and Chan's pairwise update for R²) makes
//! the result independent of how the split was cut into batches.
//!
//! - [`classify`]: accuracy, top-k accuracy, per-class and averaged
//!   precision, recall and F1, exactly as scikit-learn defines them with
//!   `zero_division=0`;
//! - [`regress`]: mean squared error, mean absolute error and R² (with
//!   scikit-learn's `force_finite` rule, averaged uniformly over outputs);
//! - [`report`]: the text table of `sklearn.metrics.classification_report`.
//!
//! Everything here is pure computation: no I/O, and no panics on data.
//! `tests/metrics.rs` compares every value against scikit-learn
//! (`tests/fixtures/gen_metrics.py` wrote the fixture).

pub mod classify;
pub mod regress;
pub mod report;

pub use classify::Classification;
pub use regress::Regression;
pub use report::classification_report;

/// How per-class scores are combined into one number (scikit-learn's
/// `average=`): the train block's setting, shared with the language.
pub use crate::sema::blocks::Average;

/// Precision, recall and F1 of one class or of an average, with the number
/// of examples they cover.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ClassScores {
    /// True positives over predicted positives; 0 when nothing was predicted.
    pub precision: f64,
    /// True positives over actual positives; 0 when the class never occurs.
    pub recall: f64,
    /// `2·tp / (2·tp + fp + fn)`; 0 when that denominator is 0.
    pub f1: f64,
    /// For a class, how many examples carry its label; for an average, the
    /// total number of examples.
    pub support: u64,
}
