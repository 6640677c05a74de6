//! A split's metrics, computed over all of its examples: the loss, and the
//! accumulators ([`Classification`], [`Regression`]) every other metric is
//! read from. Batches only add counts, so a batch size that does not divide
//! the split changes nothing (F1 averaged over batches would).

use crate::backend::Tensor;
use crate::sema::blocks::{Metric, Targets};
use crate::train::metrics::{Classification, Regression};

/// What a split's examples gave: the loss and everything the metrics need.
#[derive(Clone, Debug)]
pub struct Evaluation {
    /// Mean loss per example.
    pub loss: f64,
    /// Examples evaluated.
    pub count: usize,
    /// For class labels: the confusion matrix and top-k counts.
    pub classes: Option<Classification>,
    /// For float targets: the error sums.
    pub values: Option<Regression>,
    /// Fraction of sequences a greedy decoder reproduces exactly, when the
    /// train block asks for `sequence_accuracy` and the split can be decoded.
    pub sequence_accuracy: Option<f64>,
}

impl Evaluation {
    /// The fraction of labels predicted correctly (per position for sequences).
    pub fn accuracy(&self) -> Option<f64> {
        self.classes.as_ref()?.accuracy()
    }

    /// One metric's value; `None` for the confusion matrix (not a number)
    /// and for metrics the split cannot give.
    pub fn value(&self, m: Metric) -> Option<f64> {
        let c = self.classes.as_ref();
        let v = self.values.as_ref();
        match m {
            Metric::Loss => Some(self.loss),
            Metric::Accuracy => c?.accuracy(),
            Metric::TopK(k) => c?.top_k(k),
            Metric::Precision(a) => c.filter(|c| c.total() > 0).map(|c| c.average(a).precision),
            Metric::Recall(a) => c.filter(|c| c.total() > 0).map(|c| c.average(a).recall),
            Metric::F1(a) => c.filter(|c| c.total() > 0).map(|c| c.average(a).f1),
            Metric::Confusion => None,
            Metric::Mse => v?.mse(),
            Metric::Mae => v?.mae(),
            Metric::R2 => v?.r2(),
            Metric::SequenceAccuracy => self.sequence_accuracy,
        }
    }
}

/// Adds up a split batch by batch.
pub(crate) struct Tally {
    loss_sum: f64,
    count: usize,
    classes: Option<Classification>,
    values: Option<Regression>,
}

impl Tally {
    /// For labels of kind `targets` and a model output of shape `output`
    /// per example (class scores on its last axis); `metrics` name the
    /// top-k counts to keep.
    pub(crate) fn new(targets: Targets, output: &[usize], metrics: &[Metric]) -> Tally {
        let (classes, values) = match (targets, output.last()) {
            (Targets::Classes, Some(&c)) => {
                let ks: Vec<usize> = metrics
                    .iter()
                    .filter_map(|m| if let Metric::TopK(k) = m { Some(*k) } else { None })
                    .collect();
                (Some(Classification::new(c, &ks)), None)
            }
            (Targets::Classes, None) => (None, None),
            (Targets::Values, _) => (None, Some(Regression::new(output.iter().product::<usize>().max(1)))),
        };
        Tally { loss_sum: 0.0, count: 0, classes, values }
    }

    /// One batch of `n` examples with mean loss `loss`.
    pub(crate) fn add_loss(&mut self, loss: f64, n: usize) {
        self.loss_sum += loss * n as f64;
        self.count += n;
    }

    /// One batch's model output and labels.
    pub(crate) fn add_predictions(&mut self, out: &Tensor, labels: &Tensor) {
        if let Some(c) = &mut self.classes
            && out.shape.rank() == labels.shape.rank() + 1
            && out.numel() == labels.numel() * c.classes()
        {
            c.add(&out.data, &labels.data);
        }
        if let Some(v) = &mut self.values
            && out.numel() == labels.numel()
        {
            v.add(&out.data, &labels.data);
        }
    }

    /// The mean loss so far.
    pub(crate) fn mean_loss(&self) -> f64 {
        self.loss_sum / self.count.max(1) as f64
    }

    /// The split's evaluation.
    pub(crate) fn finish(self, sequence_accuracy: Option<f64>) -> Evaluation {
        Evaluation {
            loss: self.mean_loss(),
            count: self.count,
            classes: self.classes,
            values: self.values,
            sequence_accuracy,
        }
    }
}
