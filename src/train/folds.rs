//! k-fold and hold-out splits of a data set's example indices.
//!
//! Both are deterministic functions of their seed: the examples (or, when
//! stratified, each class's examples) are shuffled with Fisher-Yates from a
//! [`Rng`] on a stream of their own, so the same seed always gives the same
//! folds and the split does not consume draws other code relies on.
//!
//! Stratification groups examples by their label, a class index stored as
//! `f32`. A label that is not a non-negative integer is not a class; all
//! such examples form one extra group after the classes, so they are
//! spread over the folds like a class rather than rejected.

use std::collections::BTreeMap;

use crate::graph::semantics::rng::Rng;

/// The [`Rng`] stream splits draw from, apart from every other host stream.
const FOLD_STREAM: u32 = 0xF01D;

/// One split of the examples `0..n` into a training and a validation part.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fold {
    /// Indices trained on, ascending.
    pub train: Vec<usize>,
    /// Indices validated on, ascending; disjoint from `train`, and together
    /// they are `0..n`.
    pub validation: Vec<usize>,
}

impl Fold {
    /// The fold whose validation part is the examples marked `true`.
    fn from_mask(in_validation: &[bool]) -> Fold {
        let (validation, train): (Vec<usize>, Vec<usize>) =
            (0..in_validation.len()).partition(|&i| in_validation[i]);
        Fold { train, validation }
    }
}

/// `k` folds over `n` examples; stratified when `labels` (class indices as
/// `f32`, one per example) is `Some`.
///
/// Every example is validated in exactly one fold, and fold sizes differ by
/// at most one. Stratified, each class's examples are shuffled, then the
/// classes are walked in order and their examples dealt round-robin to the
/// folds with one counter running across all classes: so each class's
/// count differs between any two folds by at most one, and so do the fold
/// sizes.
///
/// # Panics
/// The caller guarantees `2 <= k <= n` and, when given, one label per
/// example; anything else is an internal error.
pub fn kfold(n: usize, k: usize, seed: u64, labels: Option<&[f32]>) -> Vec<Fold> {
    assert!(2 <= k && k <= n, "internal error: kfold needs 2 <= k <= n (k = {k}, n = {n})");
    let order = shuffled_order(n, seed, labels);
    let mut fold_of = vec![0; n];
    for (position, &example) in order.iter().enumerate() {
        fold_of[example] = position % k;
    }
    (0..k).map(|f| Fold::from_mask(&fold_of.iter().map(|&g| g == f).collect::<Vec<_>>())).collect()
}

/// One hold-out split: validation gets `ceil(fraction * n)` examples (at
/// least 1, at most `n - 1`), stratified when `labels` is `Some`.
///
/// Stratified, class `c` with `m_c` examples contributes
/// `round(fraction * m_c)` of its (shuffled) examples, where `fraction` is
/// first clamped to `[0, 1]` (NaN counts as 0). If those quotas do not add
/// up to the validation size, quotas are adjusted one example at a time:
/// while too few, the class whose quota falls furthest below its exact
/// share `fraction * m_c` gains one; while too many, the class whose quota
/// exceeds its share the most loses one (ties go to the lower class). A
/// class's quota therefore stays within one example of its exact share.
///
/// # Panics
/// The caller guarantees `n >= 2` and, when given, one label per example;
/// anything else is an internal error.
pub fn holdout(n: usize, fraction: f64, seed: u64, labels: Option<&[f32]>) -> Fold {
    assert!(n >= 2, "internal error: holdout needs at least two examples (n = {n})");
    let fraction = if fraction.is_nan() { 0.0 } else { fraction.clamp(0.0, 1.0) };
    let size = ((fraction * n as f64).ceil() as usize).clamp(1, n - 1);
    let mut in_validation = vec![false; n];
    match labels {
        None => {
            for &i in &shuffled_order(n, seed, None)[..size] {
                in_validation[i] = true;
            }
        }
        Some(labels) => {
            let groups = shuffled_groups(n, seed, labels);
            let sizes: Vec<usize> = groups.iter().map(Vec::len).collect();
            for (group, quota) in groups.iter().zip(quotas(&sizes, fraction, size)) {
                for &i in &group[..quota] {
                    in_validation[i] = true;
                }
            }
        }
    }
    Fold::from_mask(&in_validation)
}

/// The examples `0..n` in a seeded random order; stratified, each class's
/// examples shuffled and the classes concatenated in order.
fn shuffled_order(n: usize, seed: u64, labels: Option<&[f32]>) -> Vec<usize> {
    match labels {
        None => {
            let mut order: Vec<usize> = (0..n).collect();
            Rng::with_stream(seed, FOLD_STREAM).shuffle(&mut order);
            order
        }
        Some(labels) => shuffled_groups(n, seed, labels).concat(),
    }
}

/// The examples grouped by class, classes ascending and examples without a
/// class last, each group shuffled in turn from one generator.
fn shuffled_groups(n: usize, seed: u64, labels: &[f32]) -> Vec<Vec<usize>> {
    assert_eq!(labels.len(), n, "internal error: {} labels for {n} examples", labels.len());
    let mut by_class: BTreeMap<Option<u64>, Vec<usize>> = BTreeMap::new();
    for (i, &label) in labels.iter().enumerate() {
        by_class.entry(class_key(label)).or_default().push(i);
    }
    // `None` sorts first in a BTreeMap; examples without a class go last.
    let unlabelled = by_class.remove(&None);
    let mut groups: Vec<Vec<usize>> = by_class.into_values().chain(unlabelled).collect();
    let mut rng = Rng::with_stream(seed, FOLD_STREAM);
    for group in &mut groups {
        rng.shuffle(group);
    }
    groups
}

/// The class a label stands for: `Some` for a non-negative integer.
fn class_key(label: f32) -> Option<u64> {
    (label >= 0.0 && label.fract() == 0.0 && label.is_finite()).then_some(label as u64)
}

/// Per-group validation quotas: `round(fraction * size)` each, adjusted one
/// at a time until they sum to `total` (see [`holdout`]).
fn quotas(sizes: &[usize], fraction: f64, total: usize) -> Vec<usize> {
    let share: Vec<f64> = sizes.iter().map(|&m| fraction * m as f64).collect();
    let mut quota: Vec<usize> = share.iter().zip(sizes).map(|(&s, &m)| (s.round() as usize).min(m)).collect();
    // Signed shortfall of group `g`'s quota below its exact share.
    let deficit = |quota: &[usize], g: usize| share[g] - quota[g] as f64;
    while quota.iter().sum::<usize>() < total {
        let Some(g) = (0..sizes.len())
            .filter(|&g| quota[g] < sizes[g])
            .reduce(|a, b| if deficit(&quota, b) > deficit(&quota, a) { b } else { a })
        else {
            break;
        };
        quota[g] += 1;
    }
    while quota.iter().sum::<usize>() > total {
        let Some(g) = (0..sizes.len())
            .filter(|&g| quota[g] > 0)
            .reduce(|a, b| if deficit(&quota, b) < deficit(&quota, a) { b } else { a })
        else {
            break;
        };
        quota[g] -= 1;
    }
    quota
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Labels with uneven classes 0..4 (class 3 has a single example) and
    /// two examples that are not a class.
    fn labels(n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| match i {
                5 => 3.0,
                7 => f32::NAN,
                11 => 0.5,
                _ => [0.0, 0.0, 0.0, 1.0, 1.0, 2.0][i % 6],
            })
            .collect()
    }

    /// Asserts that `fold` is sorted, disjoint and covers `0..n`.
    #[track_caller]
    fn check_complement(fold: &Fold, n: usize) {
        assert!(fold.train.is_sorted() && fold.validation.is_sorted(), "{fold:?}");
        let mut all: Vec<usize> = fold.train.iter().chain(&fold.validation).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..n).collect::<Vec<_>>(), "train and validation are not complements");
    }

    /// Asserts that every example is validated exactly once, that the
    /// validation sets' sizes differ by at most one and that each fold's
    /// train set is the complement of its validation set.
    #[track_caller]
    fn check_folds(folds: &[Fold], n: usize, k: usize) {
        assert_eq!(folds.len(), k);
        let mut validated = vec![0; n];
        for fold in folds {
            check_complement(fold, n);
            for &i in &fold.validation {
                validated[i] += 1;
            }
        }
        assert!(validated.iter().all(|&v| v == 1), "validated counts {validated:?}");
        let sizes: Vec<usize> = folds.iter().map(|f| f.validation.len()).collect();
        assert!(sizes.iter().max().unwrap() - sizes.iter().min().unwrap() <= 1, "sizes {sizes:?}");
    }

    /// How many examples of each class key `fold`'s validation set holds.
    fn class_counts(fold: &Fold, labels: &[f32]) -> BTreeMap<Option<u64>, usize> {
        let mut counts = BTreeMap::new();
        for &i in &fold.validation {
            *counts.entry(class_key(labels[i])).or_insert(0) += 1;
        }
        counts
    }

    #[test]
    fn kfold_partitions_the_examples_into_near_equal_folds() {
        for (n, k) in [(2, 2), (10, 3), (10, 10), (101, 7), (64, 8)] {
            check_folds(&kfold(n, k, 1, None), n, k);
            check_folds(&kfold(n, k, 1, Some(&labels(n))), n, k);
        }
    }

    #[test]
    fn stratified_folds_keep_each_class_within_one_example() {
        for (n, k) in [(12, 2), (50, 3), (101, 7), (300, 10)] {
            let labels = labels(n);
            let folds = kfold(n, k, 9, Some(&labels));
            let counts: Vec<_> = folds.iter().map(|f| class_counts(f, &labels)).collect();
            let keys: Vec<Option<u64>> = labels.iter().map(|&l| class_key(l)).collect();
            for key in &keys {
                let per_fold: Vec<usize> = counts.iter().map(|c| c.get(key).copied().unwrap_or(0)).collect();
                let (lo, hi) = (per_fold.iter().min().unwrap(), per_fold.iter().max().unwrap());
                assert!(hi - lo <= 1, "n {n} k {k} class {key:?}: {per_fold:?}");
            }
        }
    }

    #[test]
    fn unstratified_folds_need_not_keep_classes() {
        // Shows stratification does work: plain shuffling of 60 examples
        // of two classes into 3 folds rarely balances every class exactly.
        let labels: Vec<f32> = (0..60).map(|i| (i % 2) as f32).collect();
        let unbalanced = (0..20)
            .any(|seed| kfold(60, 3, seed, None).iter().any(|f| class_counts(f, &labels)[&Some(0)] != 10));
        assert!(unbalanced);
        for seed in 0..20 {
            assert!(
                kfold(60, 3, seed, Some(&labels)).iter().all(|f| class_counts(f, &labels)[&Some(0)] == 10)
            );
        }
    }

    #[test]
    fn folds_repeat_for_a_seed_and_change_with_it() {
        let labels = labels(40);
        for strata in [None, Some(&labels[..])] {
            assert_eq!(kfold(40, 4, 3, strata), kfold(40, 4, 3, strata));
            assert_ne!(kfold(40, 4, 3, strata), kfold(40, 4, 4, strata));
            assert_eq!(holdout(40, 0.25, 3, strata), holdout(40, 0.25, 3, strata));
            assert_ne!(holdout(40, 0.25, 3, strata), holdout(40, 0.25, 4, strata));
        }
    }

    #[test]
    fn holdout_validates_ceil_fraction_of_the_examples_clamped() {
        let cases = [(10, 0.2, 2), (10, 0.25, 3), (7, 0.5, 4), (10, 0.0, 1), (10, 1.0, 9), (10, f64::NAN, 1)];
        for (n, fraction, want) in cases {
            for strata in [None, Some(labels(n))] {
                let fold = holdout(n, fraction, 5, strata.as_deref());
                check_complement(&fold, n);
                assert_eq!(fold.validation.len(), want, "n {n} fraction {fraction} {strata:?}");
            }
        }
    }

    #[test]
    fn stratified_holdout_keeps_class_proportions_within_one_example() {
        let n = 203;
        let labels = labels(n);
        let mut sizes: BTreeMap<Option<u64>, usize> = BTreeMap::new();
        for &l in &labels {
            *sizes.entry(class_key(l)).or_insert(0) += 1;
        }
        for fraction in [0.1, 0.2, 0.25, 1.0 / 3.0, 0.5, 0.9] {
            let fold = holdout(n, fraction, 11, Some(&labels));
            assert_eq!(fold.validation.len(), (fraction * n as f64).ceil() as usize);
            let counts = class_counts(&fold, &labels);
            for (key, &m) in &sizes {
                let got = counts.get(key).copied().unwrap_or(0) as f64;
                let share = fraction * m as f64;
                assert!((got - share).abs() < 1.0, "fraction {fraction} class {key:?}: {got} of {m}");
            }
        }
    }

    #[test]
    fn quotas_are_rounded_shares_adjusted_to_the_total() {
        assert_eq!(quotas(&[5, 5], 0.25, 3), vec![2, 1]);
        assert_eq!(quotas(&[5, 5], 0.3, 3), vec![1, 2]);
        assert_eq!(quotas(&[3, 3, 3], 0.5, 5), vec![1, 2, 2]);
        assert_eq!(quotas(&[1, 1], 0.1, 1), vec![1, 0]);
    }
}
