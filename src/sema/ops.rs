//! Shape rules and graph emission for tensor operations: elementwise
//! arithmetic with broadcasting, matrix multiply, reductions, reshapes and
//! indexing. Each rule checks symbolic shapes first and reports the user's
//! error; only then, when lowering, does it emit nodes.

use std::rc::Rc;

use super::dim::{Dim, DimOp, show_shape};
use super::eval::{Elaborator, Frame};
use super::value::{TensorVal, Value};
use crate::diag::{Code, Diagnostic, Span};
use crate::graph::{BinaryOp, DType, Graph, NodeId, ReduceOp, Shape, SliceRange, UnaryOp};
use crate::syntax::ast::{BinOp, IndexItem};

/// The NumPy broadcast of two symbolic shapes, or the first dimension pair
/// (counted from the right) that does not broadcast.
pub fn broadcast(a: &[Dim], b: &[Dim]) -> Result<Vec<Dim>, (Dim, Dim)> {
    let r = a.len().max(b.len());
    let one = Dim::Known(1);
    let mut out = Vec::with_capacity(r);
    for i in 0..r {
        let da = if i + a.len() >= r { &a[i + a.len() - r] } else { &one };
        let db = if i + b.len() >= r { &b[i + b.len() - r] } else { &one };
        out.push(if da == db || *db == one {
            da.clone()
        } else if *da == one {
            db.clone()
        } else {
            return Err((da.clone(), db.clone()));
        });
    }
    Ok(out)
}

/// A canonical form of a product of dimensions: the known factor and the
/// sorted symbolic factors. Two shapes have provably equal element counts
/// when their forms are equal.
pub fn factorise(dims: &[Dim]) -> (i64, Vec<String>) {
    let mut known = 1i64;
    let mut syms = Vec::new();
    for d in dims {
        let (k, s) = d.factors();
        known = known.saturating_mul(k);
        syms.extend(s);
    }
    syms.sort();
    (known, syms)
}

impl Elaborator<'_> {
    /// Converts a number to a scalar tensor; tensors pass through; `None` for anything else.
    pub fn as_tensor(&mut self, v: &Value, span: Span) -> Option<TensorVal> {
        let value = match v {
            Value::Tensor(t) => return Some(t.clone()),
            // A size known only by name has no value to build (checking only).
            Value::Int(d) => d.known().map(|n| n as f32),
            Value::Float(x) => Some(*x as f32),
            _ => return None,
        };
        match self.tensor(Vec::new(), DType::F32, span, |g| Some(g.constant(value?, Shape::default()))) {
            Value::Tensor(t) => Some(t),
            _ => None,
        }
    }

    /// The tensor, cast to f32 when it holds integers.
    pub fn as_float(&mut self, t: TensorVal) -> TensorVal {
        if t.dtype == DType::F32 {
            return t;
        }
        let node = t.node;
        match self.tensor(t.shape.clone(), DType::F32, t.origin, |g| Some(g.cast(node?, DType::F32))) {
            Value::Tensor(c) => c,
            _ => t,
        }
    }

    /// An elementwise unary op on a tensor.
    pub fn unary_tensor(&mut self, op: UnaryOp, t: TensorVal, span: Span) -> Value {
        let t = self.as_float(t);
        let x = t.node;
        self.tensor(t.shape.clone(), DType::F32, span, |g| Some(g.unary(op, x?)))
    }

    /// A binary operator with at least one tensor operand.
    pub fn tensor_binary(&mut self, op: BinOp, a: Value, b: Value, span: Span, la: Span, lb: Span) -> Value {
        let (Some(ta), Some(tb)) = (self.as_tensor(&a, la), self.as_tensor(&b, lb)) else {
            return self.cannot_apply(op, &a, &b, span, la, lb);
        };
        let (ta, tb) = (self.as_float(ta), self.as_float(tb));
        let (ta, tb) = (TensorVal { origin: la, ..ta }, TensorVal { origin: lb, ..tb });
        let prim = match op {
            BinOp::MatMul => return self.matmul(ta, tb, span),
            BinOp::Add => BinaryOp::Add,
            BinOp::Sub => BinaryOp::Sub,
            BinOp::Mul => BinaryOp::Mul,
            BinOp::Div => BinaryOp::Div,
            BinOp::Pow => {
                if matches!(b, Value::Int(Dim::Known(2))) || matches!(b, Value::Float(x) if x == 2.0) {
                    return self.elementwise(BinaryOp::Mul, &ta, &ta.clone(), span, false);
                }
                BinaryOp::Pow
            }
            BinOp::Lt => BinaryOp::Lt,
            BinOp::Gt => return self.elementwise(BinaryOp::Lt, &tb, &ta, span, false),
            BinOp::Le => return self.elementwise(BinaryOp::Lt, &tb, &ta, span, true),
            BinOp::Ge => return self.elementwise(BinaryOp::Lt, &ta, &tb, span, true),
            BinOp::Eq => BinaryOp::Eq,
            BinOp::Ne => return self.elementwise(BinaryOp::Eq, &ta, &tb, span, true),
            BinOp::Rem | BinOp::And | BinOp::Or => {
                let d = Diagnostic::error(
                    Code::TYPE,
                    span,
                    format!("`{}` is not defined on tensors", op.symbol()),
                )
                .with_help("use `where(cond, a, b)` to combine masks, or `*` and `+` on 0/1 tensors");
                return self.err(d);
            }
        };
        self.elementwise(prim, &ta, &tb, span, false)
    }

    /// `a op b` with broadcasting; `negate` gives `1 - (a op b)` (for `>=`, `!=`).
    pub fn elementwise(
        &mut self,
        op: BinaryOp,
        a: &TensorVal,
        b: &TensorVal,
        span: Span,
        negate: bool,
    ) -> Value {
        let shape = match broadcast(&a.shape, &b.shape) {
            Ok(s) => s,
            Err((da, db)) => return self.broadcast_error(a, b, span, da, db),
        };
        let (na, nb) = (a.node, b.node);
        let target = Self::concrete(&shape);
        self.tensor(shape, DType::F32, span, |g| {
            let target = target?;
            let x = g.broadcast_to(na?, &target);
            let y = g.broadcast_to(nb?, &target);
            let r = g.binary(op, x, y);
            Some(if negate {
                let one = g.constant(1.0, target.clone());
                g.binary(BinaryOp::Sub, one, r)
            } else {
                r
            })
        })
    }

    fn broadcast_error(&mut self, a: &TensorVal, b: &TensorVal, span: Span, da: Dim, db: Dim) -> Value {
        let d = Diagnostic::error(
            Code::BROADCAST,
            span,
            format!(
                "shapes {} and {} cannot be broadcast together",
                show_shape(&a.shape),
                show_shape(&b.shape)
            ),
        )
        .with_label(a.origin, format!("this has shape {}", show_shape(&a.shape)))
        .with_label(b.origin, format!("this has shape {}", show_shape(&b.shape)))
        .with_note(format!("dimensions {da} and {db} differ and neither is 1"))
        .with_help(
            "broadcasting aligns shapes from the right; reshape or transpose one operand so the sizes agree",
        );
        self.err(d)
    }

    /// Matrix multiply: `[..., M, K] @ [..., K, N]`, batch dimensions broadcast.
    pub fn matmul(&mut self, a: TensorVal, b: TensorVal, span: Span) -> Value {
        if a.shape.len() < 2 || b.shape.len() < 2 {
            let (which, t) = if a.shape.len() < 2 { ("left", &a) } else { ("right", &b) };
            let d = Diagnostic::error(
                Code::MATMUL,
                span,
                format!(
                    "the {which} operand of `@` has shape {}, which has fewer than 2 dimensions",
                    show_shape(&t.shape)
                ),
            )
            .with_label(t.origin, format!("this has shape {}", show_shape(&t.shape)))
            .with_help("reshape vectors to matrices first, e.g. `reshape(v, [1, n])`");
            return self.err(d);
        }
        let (ra, rb) = (a.shape.len(), b.shape.len());
        let (m, k1) = (&a.shape[ra - 2], &a.shape[ra - 1]);
        let (k2, n) = (&b.shape[rb - 2], &b.shape[rb - 1]);
        if k1 != k2 {
            let d = Diagnostic::error(
                Code::MATMUL,
                span,
                format!(
                    "cannot multiply {} by {}: inner dimensions {k1} and {k2} differ",
                    show_shape(&a.shape),
                    show_shape(&b.shape)
                ),
            )
            .with_label(a.origin, format!("this has shape {} ({k1} columns)", show_shape(&a.shape)))
            .with_label(b.origin, format!("this has shape {} ({k2} rows)", show_shape(&b.shape)))
            .with_help("the last dimension of the left operand must equal the second-to-last of the right");
            return self.err(d);
        }
        let batch = match broadcast(&a.shape[..ra - 2], &b.shape[..rb - 2]) {
            Ok(s) => s,
            Err((da, db)) => return self.broadcast_error(&a, &b, span, da, db),
        };
        let mut shape = batch.clone();
        shape.push(m.clone());
        shape.push(n.clone());
        let (na, nb) = (a.node, b.node);
        let (sa, sb, sbatch, sout) = (
            Self::concrete(&a.shape),
            Self::concrete(&b.shape),
            Self::concrete(&batch),
            Self::concrete(&shape),
        );
        self.tensor(shape, DType::F32, span, |g| {
            Some(matmul_nodes(g, na?, nb?, &sa?, &sb?, &sbatch?, &sout?))
        })
    }

    /// Normalises an axis (negative counts from the end) for a rank, or reports E0308.
    pub fn axis(&mut self, axis: i64, rank: usize, span: Span) -> Option<usize> {
        let r = rank as i64;
        if axis >= r || axis < -r {
            let d = Diagnostic::error(
                Code::AXIS,
                span,
                format!(
                    "axis {axis} is out of range for a tensor with {rank} dimension{}",
                    super::eval::plural(rank)
                ),
            )
            .with_help(format!("valid axes are {} to {}", -r, r - 1));
            self.err(d);
            return None;
        }
        Some(axis.rem_euclid(r.max(1)) as usize)
    }

    /// Sum or max over `axes` (all when `None`), keeping or dropping them.
    pub fn reduce(
        &mut self,
        op: ReduceOp,
        t: &TensorVal,
        axes: Option<Vec<usize>>,
        keepdim: bool,
        span: Span,
    ) -> Value {
        let t = self.as_float(t.clone());
        let axes = axes.unwrap_or_else(|| (0..t.shape.len()).collect());
        let kept: Vec<Dim> = t
            .shape
            .iter()
            .enumerate()
            .map(|(i, d)| if axes.contains(&i) { Dim::Known(1) } else { d.clone() })
            .collect();
        let shape: Vec<Dim> = if keepdim {
            kept.clone()
        } else {
            t.shape.iter().enumerate().filter(|(i, _)| !axes.contains(i)).map(|(_, d)| d.clone()).collect()
        };
        let (x, out) = (t.node, Self::concrete(&shape));
        self.tensor(shape, DType::F32, span, |g| {
            let r = g.reduce(op, x?, &axes);
            Some(g.reshape(r, out?))
        })
    }

    /// Reshapes, checking the element count symbolically.
    pub fn reshape(&mut self, t: &TensorVal, shape: Vec<Dim>, span: Span) -> Value {
        if factorise(&t.shape) != factorise(&shape) {
            let d = Diagnostic::error(
                Code::RESHAPE,
                span,
                format!("cannot reshape {} into {}", show_shape(&t.shape), show_shape(&shape)),
            )
            .with_label(t.origin, format!("this has {} elements", Dim::product(&t.shape)))
            .with_note(format!("{} has {} elements", show_shape(&shape), Dim::product(&shape)))
            .with_help("a reshape must keep the number of elements; `-1` infers one dimension");
            return self.err(d);
        }
        let (x, out) = (t.node, Self::concrete(&shape));
        self.tensor(shape, t.dtype, span, |g| Some(g.reshape(x?, out?)))
    }

    /// Reorders axes.
    pub fn permute(&mut self, t: &TensorVal, perm: Vec<usize>, span: Span) -> Value {
        let shape: Vec<Dim> = perm.iter().map(|&p| t.shape[p].clone()).collect();
        let x = t.node;
        self.tensor(shape, t.dtype, span, |g| Some(g.permute(x?, &perm)))
    }

    /// Indexing and slicing of tensors and lists.
    pub fn index(&mut self, base: Value, items: &[IndexItem], span: Span, f: &mut Frame) -> Value {
        match base {
            Value::Poison => Value::Poison,
            Value::List(list) => self.index_list(&list, items, span, f),
            Value::Tensor(t) => self.index_tensor(t, items, span, f),
            other => {
                let d = Diagnostic::error(Code::TYPE, span, format!("cannot index {}", other.describe()));
                self.err(d)
            }
        }
    }

    fn index_list(&mut self, list: &Rc<Vec<Value>>, items: &[IndexItem], span: Span, f: &mut Frame) -> Value {
        let [item] = items else {
            let d = Diagnostic::error(Code::INDEX, span, "a list takes exactly one index");
            return self.err(d);
        };
        let n = list.len() as i64;
        match item {
            IndexItem::At(e) => {
                let v = self.expr(e, f);
                let Some(i) = self.static_int(&v, e.span) else {
                    return Value::Poison;
                };
                let j = if i < 0 { i + n } else { i };
                if !(0..n).contains(&j) {
                    let d = Diagnostic::error(
                        Code::INDEX,
                        e.span,
                        format!("index {i} is out of range for a list of {n} items"),
                    );
                    return self.err(d);
                }
                list[j as usize].clone()
            }
            IndexItem::Slice { start, end, step, span } => {
                let Some((lo, hi, st)) = self.slice_bounds(start, end, step, Some(n), *span, f) else {
                    return Value::Poison;
                };
                let picked = (lo..hi).step_by(st as usize).map(|i| list[i as usize].clone()).collect();
                Value::List(Rc::new(picked))
            }
            IndexItem::Ellipsis(_) => Value::List(list.clone()),
        }
    }

    /// While checking, the length of a slice `:n` or `0:n` whose end `n`
    /// is a size known only by name: `n` (lowering binds every size, and
    /// checks the bound then).
    fn symbolic_prefix(
        &mut self,
        start: &Option<crate::syntax::ast::Expr>,
        end: &Option<crate::syntax::ast::Expr>,
        step: &Option<crate::syntax::ast::Expr>,
        f: &mut Frame,
    ) -> Option<Dim> {
        let simple_start =
            start.as_ref().is_none_or(|e| matches!(e.kind, crate::syntax::ast::ExprKind::Int(0)));
        if self.is_lowering() || !simple_start || step.is_some() {
            return None;
        }
        let e = end.as_ref()?;
        let n_diags = self.diags.len();
        let v = self.expr(e, f);
        self.diags.truncate(n_diags);
        match v {
            Value::Int(d) if d.known().is_none() => Some(d),
            _ => None,
        }
    }

    /// Resolves `start:end:step` against a size (Python semantics: negative
    /// counts from the end, out-of-range bounds clamp).
    fn slice_bounds(
        &mut self,
        start: &Option<crate::syntax::ast::Expr>,
        end: &Option<crate::syntax::ast::Expr>,
        step: &Option<crate::syntax::ast::Expr>,
        n: Option<i64>,
        span: Span,
        f: &mut Frame,
    ) -> Option<(i64, i64, i64)> {
        let mut get = |this: &mut Self, e: &Option<crate::syntax::ast::Expr>| -> Option<Option<i64>> {
            match e {
                None => Some(None),
                Some(e) => {
                    let v = this.expr(e, f);
                    this.static_int(&v, e.span).map(Some)
                }
            }
        };
        let st = get(self, step)?.unwrap_or(1);
        if st <= 0 {
            let d = Diagnostic::error(Code::INDEX, span, format!("slice step must be positive, found {st}"));
            self.err(d);
            return None;
        }
        let lo = get(self, start)?;
        let hi = get(self, end)?;
        let Some(n) = n else {
            // Unknown size: only what the bounds themselves say.
            return Some((lo.unwrap_or(0), hi.unwrap_or(i64::MAX), st));
        };
        let clamp = |i: i64| if i < 0 { (i + n).max(0) } else { i.min(n) };
        let lo = lo.map_or(0, clamp);
        let hi = hi.map_or(n, clamp);
        Some((lo, hi.max(lo), st))
    }

    fn index_tensor(&mut self, t: TensorVal, items: &[IndexItem], span: Span, f: &mut Frame) -> Value {
        let rank = t.shape.len();
        let n_ell = items.iter().filter(|i| matches!(i, IndexItem::Ellipsis(_))).count();
        let n_real = items.len() - n_ell;
        if n_ell > 1 || n_real > rank {
            let d = Diagnostic::error(
                Code::INDEX,
                span,
                format!("too many indices for a tensor of shape {}", show_shape(&t.shape)),
            )
            .with_label(t.origin, format!("this has {rank} dimension{}", super::eval::plural(rank)));
            return self.err(d);
        }
        // `None` for a range over a size known only by name (checking only).
        let mut ranges: Vec<Option<SliceRange>> = Vec::with_capacity(rank);
        let mut out: Vec<Dim> = Vec::new();
        let mut dim = 0;
        for item in items {
            match item {
                IndexItem::Ellipsis(_) => {
                    for _ in 0..rank - n_real {
                        let d = t.shape[dim].clone();
                        ranges.push(full_range(&d));
                        out.push(d);
                        dim += 1;
                    }
                }
                IndexItem::At(e) => {
                    let v = self.expr(e, f);
                    let Some(i) = self.static_int(&v, e.span) else {
                        return Value::Poison;
                    };
                    let size = t.shape[dim].known();
                    let j = match size {
                        Some(n) if i < -n || i >= n => {
                            let d = Diagnostic::error(
                                Code::INDEX,
                                e.span,
                                format!("index {i} is out of range for dimension {dim} of size {n}"),
                            )
                            .with_label(t.origin, format!("this has shape {}", show_shape(&t.shape)));
                            return self.err(d);
                        }
                        Some(n) => i.rem_euclid(n.max(1)),
                        None => i.max(0),
                    };
                    ranges.push(Some(SliceRange { start: j as usize, end: j as usize + 1, step: 1 }));
                    dim += 1;
                }
                IndexItem::Slice { start, end, step, span: s } => {
                    if let Some(len) = self.symbolic_prefix(start, end, step, f) {
                        // `x[:n]` with `n` known only by name, while checking.
                        ranges.push(None);
                        out.push(len);
                        dim += 1;
                        continue;
                    }
                    let size = t.shape[dim].known();
                    let Some((lo, hi, st)) = self.slice_bounds(start, end, step, size, *s, f) else {
                        return Value::Poison;
                    };
                    let len = match size {
                        Some(_) => Dim::Known((hi - lo + st - 1).max(0) / st),
                        None if start.is_none() && end.is_none() && st == 1 => t.shape[dim].clone(),
                        None if end.is_some() && hi >= 0 && lo >= 0 => {
                            Dim::Known((hi - lo + st - 1).max(0) / st)
                        }
                        None if end.is_none() && st == 1 && lo >= 0 => {
                            t.shape[dim].arith(DimOp::Sub, &Dim::Known(lo)).unwrap_or(Dim::Known(0))
                        }
                        None => Dim::sym(&format!("len({}[{lo}:{hi}:{st}])", t.shape[dim])),
                    };
                    ranges.push(Some(SliceRange {
                        start: lo as usize,
                        end: hi.max(lo) as usize,
                        step: st as usize,
                    }));
                    out.push(len);
                    dim += 1;
                }
            }
        }
        while dim < rank {
            let d = t.shape[dim].clone();
            ranges.push(full_range(&d));
            out.push(d);
            dim += 1;
        }
        let (x, shape) = (t.node, Self::concrete(&out));
        self.tensor(out, t.dtype, span, |g| {
            let ranges = ranges.into_iter().collect::<Option<Vec<_>>>()?;
            let s = g.slice(x?, ranges);
            Some(g.reshape(s, shape?))
        })
    }
}

/// The whole of an axis of size `d`; `None` for a size known only by name.
fn full_range(d: &Dim) -> Option<SliceRange> {
    d.known().map(|n| SliceRange::full(n.max(0) as usize))
}

/// Emits a matrix multiply with broadcast batch dimensions. A rank-2 right
/// operand is multiplied against the flattened left operand in one GEMM.
pub fn matmul_nodes(
    g: &mut Graph,
    a: NodeId,
    b: NodeId,
    sa: &Shape,
    sb: &Shape,
    batch: &Shape,
    out: &Shape,
) -> NodeId {
    let (ra, rb) = (sa.rank(), sb.rank());
    if rb == 2 && ra > 2 {
        let rows: usize = sa.0[..ra - 1].iter().product();
        let a2 = g.reshape(a, Shape(vec![rows, sa.0[ra - 1]]));
        let r = g.matmul(a2, b);
        return g.reshape(r, out.clone());
    }
    let mut ta = batch.0.clone();
    ta.extend_from_slice(&sa.0[ra - 2..]);
    let mut tb = batch.0.clone();
    tb.extend_from_slice(&sb.0[rb - 2..]);
    let a = g.broadcast_to(a, &Shape(ta));
    let b = g.broadcast_to(b, &Shape(tb));
    g.matmul(a, b)
}

/// `(n + 2 * padding - kernel) / stride + 1`, the output size of a window op.
pub fn window_out(n: &Dim, kernel: i64, stride: i64, padding: i64) -> Option<Dim> {
    n.arith(DimOp::Add, &Dim::Known(2 * padding))?
        .arith(DimOp::Sub, &Dim::Known(kernel))?
        .arith(DimOp::Div, &Dim::Known(stride))?
        .arith(DimOp::Add, &Dim::Known(1))
}
