//! Tensor primitives: elementwise math, reductions, `matmul`, `detach`,
//! `gather` and `arange`.

use super::args::{Args, bad_value, type_error};
use crate::diag::{Code, Diagnostic};
use crate::graph::{BinaryOp, DType, NodeId, ReduceOp, UnaryOp};
use crate::sema::dim::{Dim, show_shape};
use crate::sema::eval::{ArgVal, Elaborator};
use crate::sema::value::{TensorVal, Value};

pub(super) fn unary(el: &mut Elaborator<'_>, a: &Args, op: UnaryOp, f: fn(f64) -> f64) -> Value {
    let x = a.get(0);
    if let Some(v) = x.value.as_f64() {
        return Value::Float(f(v));
    }
    match &x.value {
        Value::Tensor(t) => el.unary_tensor(op, t.clone(), a.span),
        _ => type_error(el, &x, "a tensor or number"),
    }
}

pub(super) fn where_(el: &mut Elaborator<'_>, a: &Args) -> Value {
    let vals: Vec<ArgVal> = (0..3).map(|i| a.get(i)).collect();
    let mut ts = Vec::new();
    for v in &vals {
        match el.as_tensor(&v.value, v.span) {
            Some(t) => {
                let t = el.as_float(t);
                ts.push(TensorVal { origin: v.span, ..t });
            }
            None => return type_error(el, v, "a tensor or number"),
        }
    }
    let shape = match crate::sema::ops::broadcast(&ts[0].shape, &ts[1].shape)
        .and_then(|s| crate::sema::ops::broadcast(&s, &ts[2].shape))
    {
        Ok(s) => s,
        Err((x, y)) => {
            let d = Diagnostic::error(
                Code::BROADCAST,
                a.span,
                format!(
                    "`where` operands {}, {} and {} cannot be broadcast together",
                    show_shape(&ts[0].shape),
                    show_shape(&ts[1].shape),
                    show_shape(&ts[2].shape)
                ),
            )
            .with_note(format!("dimensions {x} and {y} differ and neither is 1"));
            return el.err(d);
        }
    };
    let nodes: Vec<Option<NodeId>> = ts.iter().map(|t| t.node).collect();
    let target = Elaborator::concrete(&shape);
    el.tensor(shape, DType::F32, a.span, |g| {
        let (target, nodes) = (target?, nodes.into_iter().collect::<Option<Vec<_>>>()?);
        let n: Vec<NodeId> = nodes.iter().map(|&n| g.broadcast_to(n, &target)).collect();
        Some(g.select(n[0], n[1], n[2]))
    })
}

/// Which reduction `sum`, `mean`, `max` or `min` asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Reduction {
    /// `sum`.
    Sum,
    /// `mean`: the sum scaled by the element count.
    Mean,
    /// `max`.
    Max,
    /// `min`: `-max(-x)`.
    Min,
}

/// `sum`, `mean`, `max` or `min` over a tensor's axes, or over a list of numbers.
pub(super) fn reduction(el: &mut Elaborator<'_>, a: &Args, which: Reduction) -> Value {
    let x = a.get(0);
    if let Value::List(xs) = &x.value {
        // max/min/sum over a list of numbers, for sizes and constants.
        let nums: Option<Vec<f64>> = xs.iter().map(Value::as_f64).collect();
        if let (Some(nums), false) = (nums, xs.is_empty()) {
            let all_int = xs.iter().all(|v| matches!(v, Value::Int(_)));
            let r = match which {
                Reduction::Sum => nums.iter().sum(),
                Reduction::Mean => nums.iter().sum::<f64>() / nums.len() as f64,
                Reduction::Max => nums.iter().cloned().fold(f64::MIN, f64::max),
                Reduction::Min => nums.iter().cloned().fold(f64::MAX, f64::min),
            };
            return if all_int && which != Reduction::Mean { Value::int(r as i64) } else { Value::Float(r) };
        }
    }
    let Some(t) = a.tensor(el, 0) else {
        return Value::Poison;
    };
    let Some(axes) = a.axes(el, 1, t.shape.len()) else {
        return Value::Poison;
    };
    let Some(keepdim) = a.bool_or(el, 2, false) else {
        return Value::Poison;
    };
    let span = a.span;
    match which {
        Reduction::Sum => el.reduce(ReduceOp::Sum, &t, axes, keepdim, span),
        Reduction::Max => el.reduce(ReduceOp::Max, &t, axes, keepdim, span),
        Reduction::Min => {
            let neg = el.unary_tensor(UnaryOp::Neg, t, span);
            let Value::Tensor(neg) = neg else {
                return Value::Poison;
            };
            let m = el.reduce(ReduceOp::Max, &neg, axes, keepdim, span);
            let Value::Tensor(m) = m else {
                return Value::Poison;
            };
            el.unary_tensor(UnaryOp::Neg, m, span)
        }
        Reduction::Mean => {
            let all: Vec<usize> = (0..t.shape.len()).collect();
            let count = Dim::product(
                &axes.as_ref().unwrap_or(&all).iter().map(|&i| t.shape[i].clone()).collect::<Vec<_>>(),
            );
            let s = el.reduce(ReduceOp::Sum, &t, axes, keepdim, span);
            let Value::Tensor(s) = s else {
                return Value::Poison;
            };
            let x = s.node;
            el.tensor(s.shape.clone(), DType::F32, span, |g| {
                let n = count.known()?.max(1) as f32;
                Some(g.scale(x?, 1.0 / n))
            })
        }
    }
}

pub(super) fn gather(el: &mut Elaborator<'_>, a: &Args) -> Value {
    let (Some(table), Some(idx)) = (a.tensor(el, 0), a.tensor(el, 1)) else {
        return Value::Poison;
    };
    let table = el.as_float(table);
    if table.shape.is_empty() {
        let d = Diagnostic::error(
            Code::ARG_SHAPE,
            table.origin,
            "`gather` needs a table with at least one dimension",
        )
        .with_primary("this is a scalar");
        return el.err(d);
    }
    if idx.dtype != DType::I32 {
        let d = Diagnostic::error(
            Code::DTYPE,
            idx.origin,
            format!("`gather` needs integer indices, found {}", crate::sema::sig::dtype_phrase(idx.dtype)),
        )
        .with_primary(format!("this has shape {} and holds floats", show_shape(&idx.shape)))
        .with_help("declare the input as `int[...]` (e.g. `tokens: int[B, T]`), or use `arange`");
        return el.err(d);
    }
    let mut shape = idx.shape.clone();
    shape.extend_from_slice(&table.shape[1..]);
    let (nt, ni) = (table.node, idx.node);
    el.tensor(shape, DType::F32, a.span, |g| Some(g.gather(nt?, ni?)))
}

pub(super) fn arange(el: &mut Elaborator<'_>, a: &Args) -> Value {
    let n = a.get(0);
    let d = match &n.value {
        Value::Int(d) => d.clone(),
        _ => return type_error(el, &n, "an integer"),
    };
    if d.known().is_some_and(|k| k < 1) {
        return bad_value(el, n.span, format!("`arange` needs a positive length, found {d}"));
    }
    let shape = Elaborator::concrete(std::slice::from_ref(&d));
    el.tensor(vec![d], DType::I32, a.span, |g| {
        let i = g.iota(0, shape?);
        Some(g.cast(i, DType::I32))
    })
}

/// `maximum(a, b)` or `minimum(a, b)`: on numbers at compile time, on
/// tensors elementwise with broadcasting.
pub(super) fn extremum(el: &mut Elaborator<'_>, a: &Args, op: BinaryOp) -> Value {
    let (x, y) = (a.get(0), a.get(1));
    if let (Some(p), Some(q)) = (x.value.as_f64(), y.value.as_f64()) {
        return Value::Float(if op == BinaryOp::Max { p.max(q) } else { p.min(q) });
    }
    let (Some(p), Some(q)) = (el.as_tensor(&x.value, x.span), el.as_tensor(&y.value, y.span)) else {
        return type_error(el, &x, "a tensor or number");
    };
    let (p, q) = (el.as_float(p), el.as_float(q));
    el.elementwise(op, &TensorVal { origin: x.span, ..p }, &TensorVal { origin: y.span, ..q }, a.span, false)
}

/// `matmul(a, b)`, as `a @ b`.
pub(super) fn matmul(el: &mut Elaborator<'_>, a: &Args) -> Value {
    let (Some(x), Some(y)) = (a.tensor(el, 0), a.tensor(el, 1)) else {
        return Value::Poison;
    };
    let (x, y) = (el.as_float(x), el.as_float(y));
    el.matmul(x, y, a.span)
}

/// `detach(x)`: the same values, cut off from the gradient.
pub(super) fn detach(el: &mut Elaborator<'_>, a: &Args) -> Value {
    match a.tensor(el, 0) {
        Some(t) => {
            let x = t.node;
            el.tensor(t.shape.clone(), t.dtype, a.span, |g| Some(g.detach(x?)))
        }
        None => Value::Poison,
    }
}
