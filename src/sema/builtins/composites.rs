//! Composite builtins, expanded into several primitives: the windows of a
//! convolution or pooling (`window`) and `one_hot`.

use super::args::{Args, bad_value, type_error};
use crate::diag::{Code, Diagnostic, Span};
use crate::graph::{BinaryOp, DType, Graph, NodeId, Shape, SliceRange};
use crate::sema::dim::{Dim, show_shape};
use crate::sema::eval::Elaborator;
use crate::sema::ops::window_out;
use crate::sema::value::{TensorVal, Value};

/// Output height and width of `k`x`k` windows `stride` apart, or an E0307 error.
fn window_dims(
    el: &mut Elaborator<'_>,
    x: &TensorVal,
    k: i64,
    stride: i64,
    span: Span,
) -> Option<(Dim, Dim)> {
    let ho = window_out(&x.shape[2], k, stride, 0)?;
    let wo = window_out(&x.shape[3], k, stride, 0)?;
    for (out, input) in [(&ho, &x.shape[2]), (&wo, &x.shape[3])] {
        if out.known().is_some_and(|n| n < 1) {
            let d = Diagnostic::error(
                Code::WINDOW,
                span,
                format!("a window of size {k} does not fit an input of size {input} (padding included)"),
            )
            .with_label(x.origin, format!("this has shape {}", show_shape(&x.shape)))
            .with_help("use a smaller kernel, more padding, or a larger input");
            el.err(d);
            return None;
        }
    }
    Some((ho, wo))
}

/// The windows a convolution or pooling sees, as a view:
/// `[B, C, H, W] -> [B, C, Ho, Wo, k*k]`, window offsets in row-major order.
pub(super) fn window(el: &mut Elaborator<'_>, a: &Args) -> Value {
    let span = a.span;
    let Some(x) = a.tensor(el, 0) else { return Value::Poison };
    let (Some(k), Some(s)) = (a.int(el, 1), a.int_or(el, 2, 1)) else { return Value::Poison };
    if x.shape.len() != 4 {
        let d = Diagnostic::error(
            Code::ARG_SHAPE,
            x.origin,
            format!(
                "windows need a [batch, channels, height, width] input, found shape {}",
                show_shape(&x.shape)
            ),
        );
        return el.err(d);
    }
    if k < 1 || s < 1 {
        return bad_value(el, span, format!("windows need kernel_size >= 1 and stride >= 1 (got {k}, {s})"));
    }
    let Some((ho, wo)) = window_dims(el, &x, k, s, span) else { return Value::Poison };
    let shape = vec![x.shape[0].clone(), x.shape[1].clone(), ho.clone(), wo.clone(), Dim::Known(k * k)];
    let (nx, sx) = (x.node, Elaborator::concrete(&x.shape));
    el.tensor(shape, x.dtype, span, |g| {
        let (sx, ho, wo) = (sx?, ho.known()? as usize, wo.known()? as usize);
        Some(window_nodes(g, nx?, &sx, (ho, wo), k as usize, s as usize))
    })
}

/// Emits the windows of `x` (shape `sx`, `[B, C, H, W]`): `ho` x `wo` windows
/// of `k` x `k`, `s` apart.
fn window_nodes(
    g: &mut Graph,
    x: NodeId,
    sx: &Shape,
    (ho, wo): (usize, usize),
    k: usize,
    s: usize,
) -> NodeId {
    let (b, c) = (sx.0[0], sx.0[1]);
    if s == k {
        // Non-overlapping: crop, split each spatial axis in two, bring the offsets last.
        let rows = SliceRange { start: 0, end: ho * k, step: 1 };
        let cols = SliceRange { start: 0, end: wo * k, step: 1 };
        let crop = g.slice(x, vec![SliceRange::full(b), SliceRange::full(c), rows, cols]);
        let split = g.reshape(crop, Shape(vec![b, c, ho, k, wo, k]));
        let offsets_last = g.permute(split, &[0, 1, 2, 4, 3, 5]);
        return g.reshape(offsets_last, Shape(vec![b, c, ho, wo, k * k]));
    }
    let mut wins = Vec::with_capacity(k * k);
    for i in 0..k {
        for j in 0..k {
            let w = g.slice(
                x,
                vec![
                    SliceRange::full(b),
                    SliceRange::full(c),
                    SliceRange { start: i, end: i + s * (ho - 1) + 1, step: s },
                    SliceRange { start: j, end: j + s * (wo - 1) + 1, step: s },
                ],
            );
            wins.push(g.reshape(w, Shape(vec![b, c, ho, wo, 1])));
        }
    }
    g.concat(&wins, 4)
}

pub(super) fn one_hot(el: &mut Elaborator<'_>, a: &Args) -> Value {
    let Some(t) = a.tensor(el, 0) else {
        return Value::Poison;
    };
    let n = a.get(1);
    let n_dim = match &n.value {
        Value::Int(d) => d.clone(),
        _ => return type_error(el, &n, "an integer"),
    };
    if n_dim.known().is_some_and(|k| k < 1) {
        return bad_value(el, n.span, format!("one_hot needs at least 1 class, found {n_dim}"));
    }
    let mut shape = t.shape.clone();
    shape.push(n_dim);
    let nx = t.node;
    let src = Elaborator::concrete(&t.shape);
    let out = Elaborator::concrete(&shape);
    el.tensor(shape, DType::F32, a.span, |g| {
        let (src, out) = (src?, out?);
        let f = g.cast(nx?, DType::F32);
        let mut col = src.0;
        col.push(1);
        let f = g.reshape(f, Shape(col));
        let f = g.broadcast_to(f, &out);
        let classes = g.iota(out.rank() - 1, out.clone());
        Some(g.binary(BinaryOp::Eq, f, classes))
    })
}
