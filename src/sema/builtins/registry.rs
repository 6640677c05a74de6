//! The builtin table: one [`Builtin`] variant and one [`Spec`] per builtin,
//! generated together so a builtin cannot exist in one and not the other.

use std::fmt;

/// What calling a builtin makes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Kind {
    /// A tensor operation that lowers to one graph primitive or a few
    /// (elementwise math, reductions, movement, `matmul`, `gather`).
    Tensor,
    /// A layer of the prelude's vocabulary expanded into several primitives
    /// (`window`, `one_hot`).
    Composite,
    /// A value known at compile time (`training`, `assert`, `size`, `len`).
    CompileTime,
    /// A parameter, a tensor made from a shape, or an initialiser for `param`.
    Init,
    /// A settings record for a data or train block (`idx`, `sgd`, `cosine`, ...).
    Setting {
        /// Default values of optional fields, in parameter order (`None`: absent).
        defaults: &'static [Option<f64>],
    },
}

impl Kind {
    /// The defaults a settings record fills in; other kinds make no record.
    pub fn defaults(self) -> &'static [Option<f64>] {
        match self {
            Kind::Setting { defaults } => defaults,
            Kind::Tensor | Kind::Composite | Kind::CompileTime | Kind::Init => &[],
        }
    }
}

/// A builtin's signature and documentation.
#[derive(Debug)]
pub struct Spec {
    /// The builtin.
    pub builtin: Builtin,
    /// Its name.
    pub name: &'static str,
    /// Parameter names in order.
    pub params: &'static [&'static str],
    /// How many leading parameters are required.
    pub required: usize,
    /// What it makes.
    pub kind: Kind,
    /// One line for `docs/LANGUAGE.md` and the REPL's `:help`.
    pub doc: &'static str,
}

macro_rules! builtins {
    ($($variant:ident = $name:literal ($($p:literal),*) required $req:literal, $kind:expr, $doc:literal;)*) => {
        /// Every builtin function.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Builtin {
            $(#[doc = $doc] $variant,)*
        }

        /// Every builtin's specification, in the order of [`Builtin`]'s variants.
        pub const BUILTINS: &[Spec] = &[$(Spec {
            builtin: Builtin::$variant,
            name: $name,
            params: &[$($p),*],
            required: $req,
            kind: $kind,
            doc: $doc,
        },)*];
    };
}

const SETTING: Kind = Kind::Setting { defaults: &[] };

builtins! {
    Exp = "exp"("x") required 1, Kind::Tensor, "elementwise e^x";
    Log = "log"("x") required 1, Kind::Tensor, "elementwise natural logarithm";
    Sqrt = "sqrt"("x") required 1, Kind::Tensor, "elementwise square root";
    Tanh = "tanh"("x") required 1, Kind::Tensor, "elementwise hyperbolic tangent";
    Sin = "sin"("x") required 1, Kind::Tensor, "elementwise sine";
    Cos = "cos"("x") required 1, Kind::Tensor, "elementwise cosine";
    Maximum = "maximum"("a", "b") required 2, Kind::Tensor, "elementwise maximum, broadcasting";
    Minimum = "minimum"("a", "b") required 2, Kind::Tensor, "elementwise minimum, broadcasting";
    Where = "where"("cond", "a", "b") required 3, Kind::Tensor, "elementwise `cond != 0 ? a : b`, broadcasting";
    Sum = "sum"("x", "axis", "keepdim") required 1, Kind::Tensor, "sum over `axis` (an int or list; all axes when omitted)";
    Mean = "mean"("x", "axis", "keepdim") required 1, Kind::Tensor, "mean over `axis` (all axes when omitted)";
    Max = "max"("x", "axis", "keepdim") required 1, Kind::Tensor, "maximum over `axis` (all axes when omitted)";
    Min = "min"("x", "axis", "keepdim") required 1, Kind::Tensor, "minimum over `axis` (all axes when omitted)";
    Reshape = "reshape"("x", "shape") required 2, Kind::Tensor, "same elements, new shape; one `-1` is inferred";
    Transpose = "transpose"("x", "dim0", "dim1") required 1, Kind::Tensor, "swaps two axes (default the last two)";
    Permute = "permute"("x", "dims") required 2, Kind::Tensor, "reorders axes: result axis i is input axis dims[i]";
    Unsqueeze = "unsqueeze"("x", "axis") required 2, Kind::Tensor, "inserts a size-1 axis";
    Squeeze = "squeeze"("x", "axis") required 2, Kind::Tensor, "removes a size-1 axis";
    Concat = "concat"("xs", "axis") required 1, Kind::Tensor, "joins a list of tensors along an existing axis (default 0)";
    Stack = "stack"("xs", "axis") required 1, Kind::Tensor, "joins a list of equal-shape tensors along a new axis (default 0)";
    Matmul = "matmul"("a", "b") required 2, Kind::Tensor, "matrix multiply, same as `a @ b`";
    Pad = "pad"("x", "pads") required 2, Kind::Tensor, "zero padding: `pads` lists `[before, after]` for each axis";
    Window = "window"("x", "kernel_size", "stride") required 2, Kind::Composite, "the `k`x`k` windows of [B, C, H, W], `stride` apart (default 1): [B, C, Ho, Wo, k*k]";
    RandLike = "rand_like"("x") required 1, Kind::Init, "uniform [0, 1) numbers of x's shape, drawn afresh each training step";
    Training = "training"() required 0, Kind::CompileTime, "true while building the training step, false for evaluation";
    Assert = "assert"("cond", "message") required 2, Kind::CompileTime, "reports `message` as an error unless `cond` (known at compile time) holds";
    OneHot = "one_hot"("labels", "n") required 2, Kind::Composite, "integer labels [...] to a 0/1 tensor [..., n]";
    Detach = "detach"("x") required 1, Kind::Tensor, "the same values, but no gradient flows back through them";
    Size = "size"("x", "axis") required 2, Kind::CompileTime, "the size of one axis, as an int";
    Len = "len"("xs") required 1, Kind::CompileTime, "the length of a list";
    Param = "param"("shape", "init") required 1, Kind::Init, "a trainable parameter (model members only)";
    Zeros = "zeros"("shape") required 0, Kind::Init, "a tensor of zeros of `shape`; without a shape, the initialiser";
    Ones = "ones"("shape") required 0, Kind::Init, "a tensor of ones of `shape`; without a shape, the initialiser";
    Full = "full"("shape", "value") required 2, Kind::Init, "a tensor of `shape` filled with `value`";
    Rand = "rand"("shape") required 1, Kind::Init, "uniform [0, 1) numbers of `shape` (fixed per seed and step)";
    Constant = "constant"("value") required 1, Kind::Init, "initialiser: every element `value`";
    Uniform = "uniform"("lo", "hi") required 2, Kind::Init, "initialiser: uniform on [lo, hi)";
    Normal = "normal"("mean", "std") required 0, Kind::Init, "initialiser: normal (default mean 0, std 1)";
    Idx = "idx"("images", "labels") required 2, SETTING, "data: an IDX image file and label file (plain or gzip)";
    Csv = "csv"("path", "label_column", "header", "targets") required 1, Kind::Setting { defaults: &[None, Some(0.0), None, None] }, "data: a CSV file of `label,features...` rows; `header = true` or `false` (absent: a first line with a non-number is a header); `targets = K`: K float target columns instead of a class label";
    Npy = "npy"("images", "labels", "targets") required 1, SETTING, "data: NPY arrays (any numeric dtype; `\"data.npz:x\"` is the array `x` of an NPZ archive) of inputs and class labels (`labels`) or float targets shaped like the output (`targets`)";
    Sgd = "sgd"("lr", "momentum", "nesterov", "weight_decay", "dampening") required 1, Kind::Setting { defaults: &[None, Some(0.0), Some(0.0), Some(0.0), Some(0.0)] }, "optimizer: SGD as torch.optim.SGD";
    Adam = "adam"("lr", "beta1", "beta2", "eps", "weight_decay") required 0, Kind::Setting { defaults: &[Some(1e-3), Some(0.9), Some(0.999), Some(1e-8), Some(0.0)] }, "optimizer: Adam as torch.optim.Adam";
    Adamw = "adamw"("lr", "beta1", "beta2", "eps", "weight_decay") required 0, Kind::Setting { defaults: &[Some(1e-3), Some(0.9), Some(0.999), Some(1e-8), Some(0.01)] }, "optimizer: AdamW as torch.optim.AdamW";
    StepLr = "step_lr"("step_size", "gamma") required 1, Kind::Setting { defaults: &[None, Some(0.1)] }, "schedule: multiply the rate by gamma every step_size epochs";
    Cosine = "cosine"("t_max", "eta_min") required 0, Kind::Setting { defaults: &[None, Some(0.0)] }, "schedule: cosine annealing over t_max epochs (default all)";
    Accuracy = "accuracy"() required 0, SETTING, "metric: fraction of arg-max predictions equal to the label";
    Gather = "gather"("table", "indices") required 2, Kind::Tensor, "rows of `table` [V, ...] picked by the integer tensor `indices` [...]: a tensor [..., ...] (embedding lookup)";
    Arange = "arange"("n") required 1, Kind::Tensor, "the integers 0, 1, ..., n - 1 as an `int[n]` tensor";
    ReverseDigits = "reverse_digits"("n", "length", "seed") required 2, Kind::Setting { defaults: &[None, None, Some(0.0)] }, "data: `n` random digit sequences of `length`, each to be reversed (sequence to sequence)";
    SortDigits = "sort_digits"("n", "length", "seed") required 2, Kind::Setting { defaults: &[None, None, Some(0.0)] }, "data: `n` random digit sequences of `length`, each to be sorted (sequence to sequence)";
    SequenceAccuracy = "sequence_accuracy"() required 0, SETTING, "metric: fraction of test sequences a greedy decoder reproduces exactly";
    TopK = "top_k"("k") required 1, SETTING, "metric: fraction of labels among the k highest scores";
    Precision = "precision"("average") required 0, SETTING, "metric: precision, averaged `macro` (default), `micro` or `weighted`; per class in the report";
    Recall = "recall"("average") required 0, SETTING, "metric: recall, averaged `macro` (default), `micro` or `weighted`; per class in the report";
    F1 = "f1"("average") required 0, SETTING, "metric: F1 score, averaged `macro` (default), `micro` or `weighted`; per class in the report";
    Confusion = "confusion"() required 0, SETTING, "metric: the confusion matrix (rows: true class, columns: predicted)";
    LossMetric = "loss"() required 0, SETTING, "metric: the loss over the whole split (always reported)";
    Mae = "mae"() required 0, SETTING, "metric: mean absolute error of float targets";
    R2 = "r2"() required 0, SETTING, "metric: coefficient of determination of float targets (averaged over outputs)";
    Macro = "macro"() required 0, SETTING, "average: the unweighted mean over classes";
    Micro = "micro"() required 0, SETTING, "average: from the counts summed over classes";
    Weighted = "weighted"() required 0, SETTING, "average: the mean over classes weighted by their number of labels";
    Split = "split"("fraction") required 1, SETTING, "validation: hold out this fraction of the training examples (stratified by class)";
    Best = "best"("metric") required 1, SETTING, "keep: the weights of the epoch with the best validation `metric`";
    Patience = "patience"("epochs", "metric") required 1, SETTING, "early stop: after `epochs` epochs without a better validation `metric` (default: the `keep` metric, else the loss)";
    Kfold = "kfold"("k", "stratified") required 1, SETTING, "cross-validation: `k` folds, stratified by class unless `stratified = false`";
}

impl Builtin {
    /// Its entry in [`BUILTINS`].
    pub fn spec(self) -> &'static Spec {
        &BUILTINS[self as usize]
    }

    /// Its name in `.nn` source.
    pub fn name(self) -> &'static str {
        self.spec().name
    }
}

impl fmt::Display for Builtin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The builtin with this name.
pub fn find(name: &str) -> Option<&'static Spec> {
    BUILTINS.iter().find(|b| b.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_resolves_to_its_own_entry() {
        for (i, spec) in BUILTINS.iter().enumerate() {
            assert_eq!(spec.builtin as usize, i, "`{}` is out of order", spec.name);
            assert!(std::ptr::eq(spec.builtin.spec(), spec));
            let found = find(spec.name).map(|s| s.builtin);
            assert_eq!(found, Some(spec.builtin), "`{}` does not resolve to itself", spec.name);
            assert!(spec.required <= spec.params.len(), "`{}` requires more than it takes", spec.name);
            assert!(spec.kind.defaults().len() <= spec.params.len(), "`{}` has extra defaults", spec.name);
        }
    }

    #[test]
    fn every_builtin_name_resolves_to_its_builtin_in_a_program() {
        use crate::sema::eval::{Elaborator, Frame};
        use crate::sema::program::Program;
        use crate::sema::value::{Callable, Value};

        let (prog, diags) = Program::with_prelude();
        assert!(diags.is_empty(), "{diags:?}");
        let mut el = Elaborator::check(&prog);
        let span = crate::diag::Span::new(crate::diag::FileId(0), 0, 0);
        for spec in BUILTINS {
            let v = el.lookup(spec.name, span, &Frame::new(None));
            let resolved = matches!(v, Value::Func(Callable::Builtin(b)) if b == spec.builtin);
            assert!(resolved, "`{}` resolves to {}", spec.name, v.describe());
        }
    }

    #[test]
    fn every_builtin_is_in_the_language_reference() {
        let doc = include_str!("../../../docs/LANGUAGE.md");
        for spec in BUILTINS {
            let row = format!("| `{}` |", spec.name);
            assert!(doc.contains(&row), "docs/LANGUAGE.md's builtin table lacks `{}`", spec.name);
        }
    }
}
