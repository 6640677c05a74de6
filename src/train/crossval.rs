//! k-fold cross-validation: the training examples cut into k folds
//! ([`folds::kfold`], stratified by class when asked), and for each fold a
//! fresh model trained on the other folds and validated on it.
//!
//! Fold `i` (1-based) initialises its parameters and shuffles with the seed
//! `seed + i`, so every fold starts from its own initialisation and the same
//! seed gives the same folds and the same numbers. The folds run one after
//! another through the same [`Session`], so the compiled step graphs are
//! reused: nothing is compiled again after the first fold (a fold whose last
//! batch has a new size compiles that one batch size once).

use std::path::PathBuf;

use super::checkpoint;
use super::evaluate::Evaluation;
use super::folds;
use super::trainer::{EpochReport, Event, Observer, RunOptions, Session, init_params, resolve};
use crate::diag::{Code, Diagnostic, Span};
use crate::sema::blocks::{Metric, Targets};

/// One fold's result.
#[derive(Debug)]
pub struct FoldReport {
    /// 1-based fold.
    pub fold: usize,
    /// Examples trained on.
    pub train: usize,
    /// Examples validated on.
    pub validation: usize,
    /// Every epoch of the fold.
    pub epochs: Vec<EpochReport>,
    /// The validation split at the end (at the kept epoch with `keep`).
    pub evaluation: Evaluation,
    /// With `keep = best(m)`: the epoch kept and its value.
    pub kept: Option<(usize, f64)>,
    /// Where the fold's weights were written (`save` with `{fold}`).
    pub saved: Option<PathBuf>,
}

/// All folds' results.
#[derive(Debug)]
pub struct CrossValidation {
    /// One report per fold, in order.
    pub folds: Vec<FoldReport>,
    /// Whether the folds kept each class's share.
    pub stratified: bool,
}

impl CrossValidation {
    /// The mean and the (population, `ddof = 0`) standard deviation of a
    /// metric's validation value over the folds; `None` if a fold lacks it.
    pub fn mean_std(&self, m: Metric) -> Option<(f64, f64)> {
        let xs: Option<Vec<f64>> = self.folds.iter().map(|f| f.evaluation.value(m)).collect();
        let xs = xs.filter(|x| !x.is_empty())?;
        let n = xs.len() as f64;
        let mean = xs.iter().sum::<f64>() / n;
        let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
        Some((mean, var.sqrt()))
    }
}

impl Session<'_> {
    /// Cross-validates over the training examples with `k` folds. `span` is
    /// the `cross_validate` setting, for errors found once the data is loaded.
    ///
    /// Errors: E0408 with fewer examples than folds; whatever training reports.
    pub fn cross_validate(
        &mut self,
        opts: &RunOptions,
        k: usize,
        stratified: bool,
        span: Option<Span>,
        observer: &mut Observer<'_>,
    ) -> Result<CrossValidation, Diagnostic> {
        let all = self.train_examples().clone();
        let n = all.len();
        if k < 2 || k > n {
            let msg = if k < 2 {
                format!("cross-validation needs at least 2 folds, found {k}")
            } else {
                format!("{k} folds need at least {k} training examples, but `{}` holds {n}", all.origin)
            };
            let d = match span {
                Some(s) => Diagnostic::error(Code::FOLDS, s, msg),
                None => Diagnostic::error_nowhere(Code::FOLDS, msg),
            };
            return Err(d.with_help("use fewer folds, or more examples (check `--limit`)"));
        }
        let cfg = self.config();
        let labels =
            if stratified && cfg.data.targets == Targets::Classes { all.class_labels() } else { None };
        let stratified = labels.is_some();
        let splits = folds::kfold(n, k, cfg.seed, labels);
        let mut reports = Vec::with_capacity(k);
        for (i, split) in splits.iter().enumerate() {
            let fold = i + 1;
            observer(Event::FoldStart {
                fold,
                folds: k,
                train: split.train.len(),
                validation: split.validation.len(),
            });
            let seed = cfg.seed.wrapping_add(fold as u64);
            self.set_examples(all.select(&split.train), Some(all.select(&split.validation)));
            let values = init_params(self.param_specs(), seed);
            self.restart(seed, values)?;
            let summary = self.fit(opts, Some(fold), observer)?;
            let at = summary.kept.map_or(summary.epochs.len(), |(e, _)| e);
            let at_report = at.checked_sub(1).and_then(|i| summary.epochs.get(i));
            let evaluation = match at_report.and_then(|r| r.validation.clone()) {
                Some(e) => e,
                None => self.evaluate(&all.select(&split.validation))?,
            };
            let saved = match (&cfg.save, opts.no_save) {
                (Some(p), false) if p.contains("{fold}") => {
                    let path = resolve(&opts.base_dir, &p.replace("{fold}", &fold.to_string()));
                    checkpoint::save(&path, &summary.params)?;
                    Some(path)
                }
                _ => None,
            };
            reports.push(FoldReport {
                fold,
                train: split.train.len(),
                validation: split.validation.len(),
                epochs: summary.epochs,
                evaluation,
                kept: summary.kept,
                saved,
            });
        }
        self.set_examples(all, None);
        Ok(CrossValidation { folds: reports, stratified })
    }
}
