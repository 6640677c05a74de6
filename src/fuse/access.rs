//! First in fusion's line (`access` → `realize` → `fit` → `group` →
//! `build` → `lower`): how each node reads each of its operands, as index
//! arithmetic, and what recomputing a node costs. Everything here is a
//! cheap fact about single nodes; nothing here builds kernel expressions
//! or knows about groups.
//!
//! An elementwise op reads its operands at its own index, an expand at its
//! index with 0 on broadcast axes, a permute and a slice at a rewritten
//! index ([`operand_index`]); a reshape reads the same row-major offset
//! ([`flat`], [`unravel`]); a pad and a concat read under conditions
//! ([`pad_conds`], [`concat_parts`], [`live_conds`], [`narrow`]);
//! reductions, products and gathers are always materialised and read by
//! loads. `fit` follows these reads to decide fusion and `build` uses the
//! same functions when it writes kernel expressions, so both agree by
//! construction. [`strided_view`] follows views down to a realized node
//! for the operands of matrix products.

use crate::graph::{BinaryOp, DType, Graph, NodeId, Op, Shape, UnaryOp};
use crate::kernel::index::Simplifier;
use crate::kernel::ir::{Cond, IExpr, Var};

/// True for the ops that only move data.
pub fn is_view(op: &Op) -> bool {
    matches!(op, Op::Reshape | Op::Permute { .. } | Op::Expand | Op::Slice { .. })
}

/// The work of one evaluation of `op`, for deciding what to materialise.
pub fn own_cost(op: &Op) -> u32 {
    match op {
        Op::Input { .. } | Op::Param { .. } | Op::State { .. } => 1,
        Op::Const { .. } | Op::Iota { .. } => 0,
        Op::Rand { .. } => 10,
        Op::Reshape | Op::Permute { .. } | Op::Expand | Op::Slice { .. } => 0,
        Op::Detach => 0,
        Op::Pad { .. } | Op::Select | Op::Cast => 1,
        Op::Concat { .. } => 2,
        Op::Unary(u) => match u {
            UnaryOp::Neg => 1,
            UnaryOp::Sqrt | UnaryOp::Recip => 2,
            UnaryOp::Exp | UnaryOp::Log | UnaryOp::Tanh | UnaryOp::Sin | UnaryOp::Cos => 10,
        },
        Op::Binary(b) => match b {
            BinaryOp::Pow => 10,
            BinaryOp::Div => 2,
            BinaryOp::Add
            | BinaryOp::Sub
            | BinaryOp::Mul
            | BinaryOp::Max
            | BinaryOp::Min
            | BinaryOp::Lt
            | BinaryOp::Eq => 1,
        },
        Op::Reduce { .. } | Op::MatMul | Op::Gather | Op::ScatterAdd => 1,
    }
}

/// The work of recomputing `n` where it is read: its operations down to
/// realized nodes (counted once per path, capped).
pub fn inline_cost(g: &Graph, realized: &[bool], n: NodeId) -> u32 {
    inline_cost_at(g, realized, n, 0)
}

fn inline_cost_at(g: &Graph, realized: &[bool], n: NodeId, depth: usize) -> u32 {
    if depth > 12 {
        return 100;
    }
    // Views and constants are index arithmetic; every other op is one
    // evaluation wherever it is inlined.
    let own = if is_view(&g.node(n).op) || matches!(g.node(n).op, Op::Const { .. }) { 0 } else { 1 };
    own + g
        .operands(n)
        .iter()
        .map(|&x| if realized[x.0 as usize] { 1 } else { inline_cost_at(g, realized, x, depth + 1) })
        .sum::<u32>()
}

/// The shape with `axes` set to 1: what a reduction over `axes` of a
/// `full`-shaped value keeps.
pub fn reduced(full: &Shape, axes: &[usize]) -> Shape {
    Shape(full.0.iter().enumerate().map(|(k, &d)| if axes.contains(&k) { 1 } else { d }).collect())
}

/// Row-major offset of `ix` in `shape`.
pub fn flat(ix: &[IExpr], shape: &Shape) -> IExpr {
    let strides = shape.strides();
    let mut res = IExpr::constant(0);
    for (i, s) in ix.iter().zip(strides) {
        res = res.add(&i.scale(s as i64));
    }
    res
}

/// The per-axis index in `dims` of row-major offset `l`, simplified under
/// `tight`; the variable splits that would remove leftover divisions are
/// appended to `splits`.
pub fn unravel(tight: &[(i64, i64)], l: &IExpr, dims: &Shape, splits: &mut Vec<(Var, i64)>) -> Vec<IExpr> {
    let strides = dims.strides();
    let mut s = Simplifier::new(tight);
    let ix = dims
        .0
        .iter()
        .zip(&strides)
        .enumerate()
        .map(|(k, (&d, &st))| {
            if d == 1 {
                return IExpr::constant(0);
            }
            let q = s.div(l, st as i64);
            if k == 0 { q } else { s.rem(&q, d as i64) }
        })
        .collect();
    splits.append(&mut s.splits);
    ix
}

/// The index at which `n` (a permute, expand or slice, or an elementwise
/// op) reads operand `x` when `n` is read at `ix`; `None` for the other
/// ops, whose reads are not one index (reshape, pad, concat, reductions,
/// products, gathers, leaves).
pub fn operand_index(g: &Graph, n: NodeId, x: NodeId, ix: &[IExpr]) -> Option<Vec<IExpr>> {
    match &g.node(n).op {
        Op::Unary(_) | Op::Binary(_) | Op::Select | Op::Cast | Op::Detach => Some(ix.to_vec()),
        Op::Permute { perm } => {
            let mut inner = vec![IExpr::constant(0); perm.len()];
            for (i, &p) in perm.iter().enumerate() {
                inner[p] = ix[i].clone();
            }
            Some(inner)
        }
        Op::Expand => {
            let src = g.shape(x);
            Some(
                ix.iter()
                    .zip(&src.0)
                    .map(|(i, &d)| if d == 1 { IExpr::constant(0) } else { i.clone() })
                    .collect(),
            )
        }
        Op::Slice { ranges } => {
            Some(ix.iter().zip(ranges).map(|(i, r)| i.scale(r.step as i64).offset(r.start as i64)).collect())
        }
        Op::Input { .. }
        | Op::Param { .. }
        | Op::State { .. }
        | Op::Const { .. }
        | Op::Iota { .. }
        | Op::Rand { .. }
        | Op::Reshape
        | Op::Pad { .. }
        | Op::Concat { .. }
        | Op::Reduce { .. }
        | Op::MatMul
        | Op::Gather
        | Op::ScatterAdd => None,
    }
}

/// A pad's conditions at `ix` (inside the source) and the source index.
pub fn pad_conds(src: &Shape, pads: &[(usize, usize)], ix: &[IExpr]) -> (Vec<Cond>, Vec<IExpr>) {
    let conds = ix
        .iter()
        .zip(pads)
        .zip(&src.0)
        .filter(|&(_, &d)| d > 0)
        .map(|((i, &(lo, _)), &d)| Cond { index: i.clone(), lo: lo as i64, hi: (lo + d) as i64 })
        .collect();
    let inner = ix.iter().zip(pads).map(|(i, &(lo, _))| i.offset(-(lo as i64))).collect();
    (conds, inner)
}

/// A concat's parts at `ix`, last first: each non-empty operand with the
/// condition that selects it and the index it is read at.
pub fn concat_parts(g: &Graph, n: NodeId, axis: usize, ix: &[IExpr]) -> Vec<(NodeId, Cond, Vec<IExpr>)> {
    let mut parts = Vec::new();
    let mut offset = 0i64;
    for x in g.operands(n) {
        let d = g.shape(x).0[axis] as i64;
        if d > 0 {
            let cond = Cond { index: ix[axis].clone(), lo: offset, hi: offset + d };
            let mut inner = ix.to_vec();
            inner[axis] = ix[axis].offset(-offset);
            parts.push((x, cond, inner));
        }
        offset += d;
    }
    parts.reverse();
    parts
}

/// Drops the conditions that always hold under `bounds`; `None` when one
/// never holds.
pub fn live_conds(bounds: &[(i64, i64)], conds: Vec<Cond>) -> Option<Vec<Cond>> {
    let s = Simplifier::new(bounds);
    let mut out = Vec::new();
    for c in conds {
        let (lo, hi) = s.range(&c.index);
        if hi < c.lo || lo >= c.hi {
            return None;
        }
        if !(lo >= c.lo && hi < c.hi) {
            out.push(c);
        }
    }
    Some(out)
}

/// Narrows `tight` by the conditions on one variable each: inside a pad's
/// guard `2 <= i < 26`, `i - 2` is in `0..24`.
pub fn narrow(tight: &mut [(i64, i64)], conds: &[Cond]) {
    for c in conds {
        let vars = c.index.vars();
        let [v] = vars.as_slice() else { continue };
        let a = c.index.coefficient(*v);
        if a <= 0 || !c.index.is_affine() {
            continue;
        }
        let k = c.index.constant;
        let ceil = |x: i64| x.div_euclid(a) + i64::from(x.rem_euclid(a) != 0);
        let (lo, hi) = (ceil(c.lo - k), ceil(c.hi - k) - 1);
        let t = &mut tight[v.0 as usize];
        *t = (t.0.max(lo), t.1.min(hi));
    }
}

/// When node `x` is a strided view of a realized node: that node and the
/// view's `(offset, strides)` over `x`'s shape. Follows exactly the reads
/// that `build` folds into a single load.
pub fn strided_view(g: &Graph, realized: &[bool], x: NodeId) -> Option<(NodeId, i64, Vec<i64>)> {
    let shape = g.shape(x).clone();
    let bounds: Vec<(i64, i64)> = shape.0.iter().map(|&d| (0, d as i64 - 1)).collect();
    let ix: Vec<IExpr> = (0..shape.rank()).map(|k| IExpr::var(Var(k as u32))).collect();
    let (node, index) = view_load(g, realized, &bounds, x, &ix)?;
    if !index.is_affine() {
        return None;
    }
    let strides = (0..shape.rank())
        .map(|k| if shape.0[k] == 1 { 0 } else { index.coefficient(Var(k as u32)) })
        .collect();
    Some((node, index.constant, strides))
}

/// The realized node and offset that reading `n` at `ix` loads, when that
/// read is a single unguarded load.
fn view_load(
    g: &Graph,
    realized: &[bool],
    bounds: &[(i64, i64)],
    n: NodeId,
    ix: &[IExpr],
) -> Option<(NodeId, IExpr)> {
    let shape = g.shape(n);
    if realized[n.0 as usize] {
        return Some((n, flat(ix, shape)));
    }
    let xs = g.operands(n);
    match &g.node(n).op {
        Op::Reshape => view_load_flat(g, realized, bounds, xs[0], &flat(ix, shape)),
        Op::Permute { .. } | Op::Expand | Op::Slice { .. } | Op::Detach => {
            view_load(g, realized, bounds, xs[0], &operand_index(g, n, xs[0], ix)?)
        }
        Op::Cast if !(g.dtype(n) == DType::I32 && g.dtype(xs[0]) == DType::F32) => {
            view_load(g, realized, bounds, xs[0], ix)
        }
        Op::Pad { pads } => {
            let (conds, inner) = pad_conds(g.shape(xs[0]), pads, ix);
            live_conds(bounds, conds)?.is_empty().then_some(())?;
            view_load(g, realized, bounds, xs[0], &inner)
        }
        Op::Input { .. }
        | Op::Param { .. }
        | Op::State { .. }
        | Op::Const { .. }
        | Op::Iota { .. }
        | Op::Rand { .. }
        | Op::Cast
        | Op::Unary(_)
        | Op::Binary(_)
        | Op::Select
        | Op::Concat { .. }
        | Op::Reduce { .. }
        | Op::MatMul
        | Op::Gather
        | Op::ScatterAdd => None,
    }
}

fn view_load_flat(
    g: &Graph,
    realized: &[bool],
    bounds: &[(i64, i64)],
    n: NodeId,
    l: &IExpr,
) -> Option<(NodeId, IExpr)> {
    if realized[n.0 as usize] {
        return Some((n, l.clone()));
    }
    match &g.node(n).op {
        Op::Reshape => view_load_flat(g, realized, bounds, g.operands(n)[0], l),
        Op::Unary(_) | Op::Binary(_) | Op::Select => None,
        _ => {
            let ix = unravel(bounds, l, g.shape(n), &mut Vec::new());
            view_load(g, realized, bounds, n, &ix)
        }
    }
}
