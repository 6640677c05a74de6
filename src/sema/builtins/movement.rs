//! Movement builtins: `reshape`, `transpose`, `permute`, `(un)squeeze`,
//! `concat`, `stack` and `pad`.

use std::rc::Rc;

use super::args::{Args, bad_value, type_error};
use crate::diag::{Code, Diagnostic};
use crate::graph::{DType, NodeId};
use crate::sema::dim::{Dim, show_shape};
use crate::sema::eval::{ArgVal, Elaborator};
use crate::sema::value::{TensorVal, Value};

pub(super) fn reshape(el: &mut Elaborator<'_>, a: &Args) -> Value {
    let Some(t) = a.tensor(el, 0) else {
        return Value::Poison;
    };
    let Some(mut dims) = a.dims(el, 1) else {
        return Value::Poison;
    };
    let holes: Vec<usize> =
        dims.iter().enumerate().filter(|(_, d)| **d == Dim::Known(-1)).map(|(i, _)| i).collect();
    if holes.len() > 1 {
        return bad_value(el, a.span_of(1), "a reshape may infer only one dimension (`-1`)".into());
    }
    if let Some(&h) = holes.first() {
        let (kin, mut sin) = crate::sema::ops::factorise(&t.shape);
        let rest: Vec<Dim> =
            dims.iter().enumerate().filter(|(i, _)| *i != h).map(|(_, d)| d.clone()).collect();
        let (kout, sout) = crate::sema::ops::factorise(&rest);
        let mut ok = kout != 0 && kin % kout == 0;
        for s in &sout {
            match sin.iter().position(|x| x == s) {
                Some(p) => {
                    sin.remove(p);
                }
                None => ok = false,
            }
        }
        if !ok {
            let d = Diagnostic::error(
                Code::RESHAPE,
                a.span,
                format!("cannot reshape {} into {}", show_shape(&t.shape), show_shape(&dims)),
            )
            .with_label(t.origin, format!("this has {} elements", Dim::product(&t.shape)))
            .with_help("the other dimensions must divide the element count");
            return el.err(d);
        }
        let mut inferred = Dim::Known(kin / kout.max(1));
        for s in sin {
            inferred = inferred
                .arith(crate::sema::dim::DimOp::Mul, &Dim::Sym(Rc::from(s.as_str())))
                .unwrap_or(inferred);
        }
        dims[h] = inferred;
    }
    if let Some(bad) = dims.iter().find(|d| d.known().is_some_and(|n| n < 0)) {
        return bad_value(el, a.span_of(1), format!("negative dimension {bad} in reshape"));
    }
    el.reshape(&t, dims, a.span)
}

/// `transpose(x, dim0, dim1)`: swaps two axes, the last two by default.
pub(super) fn transpose(el: &mut Elaborator<'_>, a: &Args) -> Value {
    let span = a.span;
    let Some(t) = a.tensor(el, 0) else {
        return Value::Poison;
    };
    let r = t.shape.len() as i64;
    let (Some(d0), Some(d1)) = (a.int_or(el, 1, -2), a.int_or(el, 2, -1)) else {
        return Value::Poison;
    };
    let (Some(d0), Some(d1)) = (el.axis(d0, r as usize, span), el.axis(d1, r as usize, span)) else {
        return Value::Poison;
    };
    let mut perm: Vec<usize> = (0..r as usize).collect();
    perm.swap(d0, d1);
    el.permute(&t, perm, span)
}

pub(super) fn permute(el: &mut Elaborator<'_>, a: &Args) -> Value {
    let Some(t) = a.tensor(el, 0) else {
        return Value::Poison;
    };
    let Some(dims) = a.dims(el, 1) else {
        return Value::Poison;
    };
    let r = t.shape.len();
    let mut perm = Vec::new();
    for d in dims {
        let Some(n) = d.known() else {
            return bad_value(el, a.span_of(1), "permute axes must be integers".into());
        };
        let Some(ax) = el.axis(n, r, a.span_of(1)) else {
            return Value::Poison;
        };
        perm.push(ax);
    }
    let mut sorted = perm.clone();
    sorted.sort_unstable();
    if sorted != (0..r).collect::<Vec<_>>() {
        return bad_value(el, a.span_of(1), format!("{perm:?} is not a permutation of the {r} axes"));
    }
    el.permute(&t, perm, a.span)
}

pub(super) fn squeeze(el: &mut Elaborator<'_>, a: &Args, insert: bool) -> Value {
    let Some(t) = a.tensor(el, 0) else {
        return Value::Poison;
    };
    let Some(ax) = a.int(el, 1) else {
        return Value::Poison;
    };
    let r = t.shape.len();
    let mut dims = t.shape.clone();
    if insert {
        let Some(ax) = el.axis(ax, r + 1, a.span_of(1)) else {
            return Value::Poison;
        };
        dims.insert(ax, Dim::Known(1));
    } else {
        let Some(ax) = el.axis(ax, r, a.span_of(1)) else {
            return Value::Poison;
        };
        if dims[ax] != Dim::Known(1) {
            return bad_value(el, a.span_of(1), format!("axis {ax} has size {}, not 1", dims[ax]));
        }
        dims.remove(ax);
    }
    el.reshape(&t, dims, a.span)
}

pub(super) fn concat(el: &mut Elaborator<'_>, a: &Args, stack: bool) -> Value {
    let xs = a.get(0);
    let Value::List(items) = &xs.value else {
        return type_error(el, &xs, "a list of tensors");
    };
    if items.is_empty() {
        return bad_value(el, xs.span, "cannot join an empty list".into());
    }
    let mut ts = Vec::new();
    for v in items.iter() {
        match v {
            Value::Tensor(t) => ts.push(t.clone()),
            Value::Poison => return Value::Poison,
            other => {
                return type_error(el, &ArgVal { value: other.clone(), ..xs.clone() }, "a list of tensors");
            }
        }
    }
    let rank = ts[0].shape.len() + usize::from(stack);
    let Some(ax) = a.int_or(el, 1, 0) else {
        return Value::Poison;
    };
    let Some(ax) = el.axis(ax, rank, a.span_of(1)) else {
        return Value::Poison;
    };
    let ts: Vec<TensorVal> = ts.into_iter().map(|t| el.as_float(t)).collect();
    for t in &ts[1..] {
        let same = if stack {
            t.shape == ts[0].shape
        } else {
            t.shape.len() == ts[0].shape.len()
                && t.shape.iter().zip(&ts[0].shape).enumerate().all(|(i, (p, q))| i == ax || p == q)
        };
        if !same {
            let d = Diagnostic::error(
                Code::BROADCAST,
                a.span,
                format!(
                    "cannot {} tensors of shapes {} and {} along axis {ax}",
                    if stack { "stack" } else { "concatenate" },
                    show_shape(&ts[0].shape),
                    show_shape(&t.shape)
                ),
            )
            .with_label(t.origin, format!("this has shape {}", show_shape(&t.shape)));
            return el.err(d);
        }
    }
    let parts: Vec<(Option<NodeId>, Vec<Dim>)> = ts
        .iter()
        .map(|t| {
            let mut s = t.shape.clone();
            if stack {
                s.insert(ax, Dim::Known(1));
            }
            (t.node, s)
        })
        .collect();
    let mut shape = parts[0].1.clone();
    shape[ax] = Dim::product(&[Dim::Known(1)]);
    let total = parts
        .iter()
        .fold(Dim::Known(0), |acc, (_, s)| acc.arith(crate::sema::dim::DimOp::Add, &s[ax]).unwrap_or(acc));
    shape[ax] = total;
    el.tensor(shape, DType::F32, a.span, |g| {
        let mut nodes = Vec::with_capacity(parts.len());
        for (n, s) in &parts {
            nodes.push(g.reshape((*n)?, Elaborator::concrete(s)?));
        }
        Some(g.concat(&nodes, ax))
    })
}

pub(super) fn pad(el: &mut Elaborator<'_>, a: &Args) -> Value {
    let Some(t) = a.tensor(el, 0) else { return Value::Poison };
    let pads_arg = a.get(1);
    let bad = |el: &mut Elaborator<'_>| {
        bad_value(
            el,
            pads_arg.span,
            format!(
                "`pad` needs one `[before, after]` pair of non-negative integers per axis ({} axes)",
                t.shape.len()
            ),
        )
    };
    let Value::List(rows) = &pads_arg.value else { return bad(el) };
    if rows.len() != t.shape.len() {
        return bad(el);
    }
    let mut pads = Vec::new();
    for r in rows.iter() {
        match r {
            Value::List(pair) => match (pair.first(), pair.get(1), pair.len()) {
                (Some(Value::Int(Dim::Known(lo))), Some(Value::Int(Dim::Known(hi))), 2)
                    if *lo >= 0 && *hi >= 0 =>
                {
                    pads.push((*lo, *hi))
                }
                _ => return bad(el),
            },
            _ => return bad(el),
        }
    }
    let shape: Vec<Dim> = t
        .shape
        .iter()
        .zip(&pads)
        .map(|(d, &(lo, hi))| {
            d.arith(crate::sema::dim::DimOp::Add, &Dim::Known(lo + hi)).unwrap_or(Dim::Known(0))
        })
        .collect();
    let x = t.node;
    let pads: Vec<(usize, usize)> = pads.iter().map(|&(lo, hi)| (lo as usize, hi as usize)).collect();
    el.tensor(shape, t.dtype, a.span, |g| Some(g.pad(x?, pads)))
}
