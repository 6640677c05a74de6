//! Parameters, tensors made from a shape (`zeros`, `full`, `rand`, ...) and
//! the initialisers `param` takes.

use super::args::{Args, bad_value, type_error};
use crate::diag::{Code, Diagnostic};
use crate::graph::{DType, Shape};
use crate::sema::dim::Dim;
use crate::sema::eval::{Elaborator, ParamSpec};
use crate::sema::value::{Init, Value};

/// The most elements one parameter may have (2^30, 4 GiB of f32).
pub const MAX_PARAM_ELEMENTS: usize = 1 << 30;

pub(super) fn param(el: &mut Elaborator<'_>, a: &Args) -> Value {
    let span = a.span;
    let Some(name) = el.naming.take() else {
        let d = Diagnostic::error(Code::TYPE, span, "`param` outside a model body")
            .with_help("declare parameters as model members: `weight = param([out, in], init = ...)`");
        return el.err(d);
    };
    let Some(dims) = a.dims(el, 0) else {
        return Value::Poison;
    };
    let mut shape = Vec::with_capacity(dims.len());
    for d in &dims {
        match d.known() {
            Some(n) if n > 0 => shape.push(n as usize),
            Some(n) => {
                return bad_value(
                    el,
                    a.span_of(0),
                    format!("parameter `{name}` has a dimension of size {n}"),
                );
            }
            None => {
                let d = Diagnostic::error(
                    Code::TYPE,
                    a.span_of(0),
                    format!("parameter `{name}` has a symbolic dimension `{d}`"),
                )
                .with_help("parameter shapes must be known when the model is built");
                return el.err(d);
            }
        }
    }
    let numel = shape.iter().try_fold(1usize, |acc, &n| acc.checked_mul(n));
    if numel.is_none_or(|n| n > MAX_PARAM_ELEMENTS) {
        return bad_value(
            el,
            a.span_of(0),
            format!("parameter `{name}` would have more than {MAX_PARAM_ELEMENTS} elements"),
        );
    }
    let init = if a.present(1) {
        match a.get(1).value {
            Value::Init(i) => i,
            Value::Poison => return Value::Poison,
            _ => {
                return type_error(el, &a.get(1), "an initialiser such as `uniform(-0.1, 0.1)` or `zeros()`");
            }
        }
    } else {
        Init::Fill(0.0)
    };
    let shape = Shape(shape);
    let name_c = name.clone();
    let shape_c = shape.clone();
    let dims: Vec<Dim> = shape.0.iter().map(|&n| Dim::Known(n as i64)).collect();
    let v = el.tensor(dims, DType::F32, span, |g| {
        Some(g.add(crate::graph::Op::Param { name: name_c }, &[], shape_c, DType::F32, Some(span)))
    });
    let node = match &v {
        Value::Tensor(t) => t.node,
        _ => None,
    };
    el.params.push(ParamSpec { name, shape, init, span, node });
    v
}

pub(super) fn rand_like(el: &mut Elaborator<'_>, a: &Args) -> Value {
    let Some(x) = a.tensor(el, 0) else { return Value::Poison };
    let stream = el.next_stream;
    el.next_stream += 1;
    let shape = Elaborator::concrete(&x.shape);
    el.tensor(x.shape.clone(), DType::F32, a.span, |g| Some(g.rand(stream, shape?)))
}

/// `zeros(shape)`, `ones(shape)` (`fill` given) or `full(shape, value)`
/// (`fill` `None`). Without a shape, `zeros()` and `ones()` are initialisers.
pub(super) fn filled(el: &mut Elaborator<'_>, a: &Args, fill: Option<f64>) -> Value {
    if let (Some(v), false) = (fill, a.present(0)) {
        return Value::Init(Init::Fill(v));
    }
    let value = match fill {
        Some(v) => Some(v),
        None => a.float(el, 1),
    };
    let (Some(dims), Some(value)) = (a.dims(el, 0), value) else { return Value::Poison };
    if let Some(bad) = dims.iter().find(|d| d.known().is_some_and(|n| n < 0)) {
        return bad_value(el, a.span_of(0), format!("negative dimension {bad}"));
    }
    let shape = Elaborator::concrete(&dims);
    el.tensor(dims, DType::F32, a.span, |g| Some(g.constant(value as f32, shape?)))
}

/// `rand(shape)`: uniform numbers from a fresh stream.
pub(super) fn rand(el: &mut Elaborator<'_>, a: &Args) -> Value {
    let Some(dims) = a.dims(el, 0) else { return Value::Poison };
    let stream = el.next_stream;
    el.next_stream += 1;
    let shape = Elaborator::concrete(&dims);
    el.tensor(dims, DType::F32, a.span, |g| Some(g.rand(stream, shape?)))
}

/// `constant(value)`: the initialiser filling every element.
pub(super) fn constant(el: &mut Elaborator<'_>, a: &Args) -> Value {
    match a.float(el, 0) {
        Some(v) => Value::Init(Init::Fill(v)),
        None => Value::Poison,
    }
}

/// `uniform(lo, hi)`: the initialiser drawing from [lo, hi).
pub(super) fn uniform(el: &mut Elaborator<'_>, a: &Args) -> Value {
    match (a.float(el, 0), a.float(el, 1)) {
        (Some(lo), Some(hi)) if lo <= hi => Value::Init(Init::Uniform { lo, hi }),
        (Some(lo), Some(hi)) => bad_value(el, a.span, format!("uniform({lo}, {hi}) has lo > hi")),
        _ => Value::Poison,
    }
}

/// `normal(mean, std)`: the initialiser drawing from a normal distribution.
pub(super) fn normal(el: &mut Elaborator<'_>, a: &Args) -> Value {
    match (a.float_or(el, 0, 0.0), a.float_or(el, 1, 1.0)) {
        (Some(mean), Some(std)) if std >= 0.0 => Value::Init(Init::Normal { mean, std }),
        (Some(_), Some(std)) => {
            bad_value(el, a.span, format!("normal std must be non-negative, found {std}"))
        }
        _ => Value::Poison,
    }
}
