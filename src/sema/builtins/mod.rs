//! Builtin functions: the primitives the prelude and user code are written
//! in (`exp`, `sum`, `reshape`, ...), initialisers for `param`, and the
//! settings constructors of data and train blocks (`idx`, `sgd`, ...).
//!
//! Composite builtins (`window`, `one_hot`) expand into IR primitives here,
//! so autodiff and the back ends only ever see the primitive set.
//!
//! - `registry` — the table: one [`Builtin`] variant and one [`Spec`] each.
//! - `args` — evaluated arguments, one slot per parameter, and their checks.
//! - `primitives` — elementwise math, reductions, `matmul`, `detach`, `gather`, `arange`.
//! - `movement` — `reshape`, `transpose`, `permute`, `(un)squeeze`, `concat`, `stack`, `pad`.
//! - `composites` — `window` and `one_hot`.
//! - `init` — `param`, tensors made from a shape, random tensors, initialisers.
//! - `values` — compile-time builtins: `assert`, `size`, `len`.
//! - `settings` — settings records for data and train blocks.

mod args;
mod composites;
mod init;
mod movement;
mod primitives;
mod registry;
mod settings;
mod values;

pub use init::MAX_PARAM_ELEMENTS;
pub use registry::{BUILTINS, Builtin, Kind, Spec, find};

use super::eval::{ArgVal, Elaborator};
use super::value::Value;
use crate::diag::{Code, Diagnostic, Span};
use crate::graph::{BinaryOp, UnaryOp};
use args::Args;
use primitives::Reduction;

/// Calls builtin `b`: binds the arguments to its parameters, reports
/// missing required ones, and evaluates it.
pub fn call(el: &mut Elaborator<'_>, b: Builtin, args: Vec<ArgVal>, span: Span) -> Value {
    let spec = b.spec();
    let name = spec.name;
    let Some(slots) = el.bind_args(&format!("`{name}`"), spec.params, args, span) else {
        return Value::Poison;
    };
    for (i, p) in spec.params.iter().enumerate().take(spec.required) {
        if slots[i].is_none() {
            let d = Diagnostic::error(
                Code::MISSING_ARGUMENT,
                span,
                format!("`{name}` is missing argument `{p}`"),
            )
            .with_note(format!("`{name}({})`: {}", spec.params.join(", "), spec.doc));
            return el.err(d);
        }
    }
    let a = Args { slots, span };
    match b {
        Builtin::Exp => primitives::unary(el, &a, UnaryOp::Exp, f64::exp),
        Builtin::Log => primitives::unary(el, &a, UnaryOp::Log, f64::ln),
        Builtin::Sqrt => primitives::unary(el, &a, UnaryOp::Sqrt, f64::sqrt),
        Builtin::Tanh => primitives::unary(el, &a, UnaryOp::Tanh, f64::tanh),
        Builtin::Sin => primitives::unary(el, &a, UnaryOp::Sin, f64::sin),
        Builtin::Cos => primitives::unary(el, &a, UnaryOp::Cos, f64::cos),
        Builtin::Maximum => primitives::extremum(el, &a, BinaryOp::Max),
        Builtin::Minimum => primitives::extremum(el, &a, BinaryOp::Min),
        Builtin::Where => primitives::where_(el, &a),
        Builtin::Sum => primitives::reduction(el, &a, Reduction::Sum),
        Builtin::Mean => primitives::reduction(el, &a, Reduction::Mean),
        Builtin::Max => primitives::reduction(el, &a, Reduction::Max),
        Builtin::Min => primitives::reduction(el, &a, Reduction::Min),
        Builtin::Matmul => primitives::matmul(el, &a),
        Builtin::Detach => primitives::detach(el, &a),
        Builtin::Gather => primitives::gather(el, &a),
        Builtin::Arange => primitives::arange(el, &a),
        Builtin::Reshape => movement::reshape(el, &a),
        Builtin::Transpose => movement::transpose(el, &a),
        Builtin::Permute => movement::permute(el, &a),
        Builtin::Unsqueeze => movement::squeeze(el, &a, true),
        Builtin::Squeeze => movement::squeeze(el, &a, false),
        Builtin::Concat => movement::concat(el, &a, false),
        Builtin::Stack => movement::concat(el, &a, true),
        Builtin::Pad => movement::pad(el, &a),
        Builtin::Window => composites::window(el, &a),
        Builtin::OneHot => composites::one_hot(el, &a),
        Builtin::Training => Value::Bool(el.training),
        Builtin::Assert => values::assert(el, &a),
        Builtin::Size => values::size(el, &a),
        Builtin::Len => values::len(el, &a),
        Builtin::Param => init::param(el, &a),
        Builtin::Zeros => init::filled(el, &a, Some(0.0)),
        Builtin::Ones => init::filled(el, &a, Some(1.0)),
        Builtin::Full => init::filled(el, &a, None),
        Builtin::Rand => init::rand(el, &a),
        Builtin::RandLike => init::rand_like(el, &a),
        Builtin::Constant => init::constant(el, &a),
        Builtin::Uniform => init::uniform(el, &a),
        Builtin::Normal => init::normal(el, &a),
        Builtin::Idx
        | Builtin::Csv
        | Builtin::Npy
        | Builtin::Sgd
        | Builtin::Adam
        | Builtin::Adamw
        | Builtin::StepLr
        | Builtin::Cosine
        | Builtin::Accuracy
        | Builtin::ReverseDigits
        | Builtin::SortDigits
        | Builtin::SequenceAccuracy
        | Builtin::TopK
        | Builtin::Precision
        | Builtin::Recall
        | Builtin::F1
        | Builtin::Confusion
        | Builtin::LossMetric
        | Builtin::Mae
        | Builtin::R2
        | Builtin::Macro
        | Builtin::Micro
        | Builtin::Weighted
        | Builtin::Split
        | Builtin::Best
        | Builtin::Patience
        | Builtin::Kfold => settings::record(b, a),
    }
}
