//! Declared types: matching a value against `int`, `float`, or a tensor
//! shape pattern such as `[B, in_features]` or `[..., 784]`.
//!
//! A single name in a pattern that is not yet bound binds to the actual
//! size and is then visible in the function body (`B`, `C`); anything else
//! is evaluated and compared. `...` matches any run of dimensions, the same
//! run everywhere in one signature.

use std::rc::Rc;

use super::dim::{Dim, show_shape};
use super::eval::{Elaborator, Frame};
use super::value::Value;
use crate::diag::{Code, Diagnostic, Span};
use crate::graph::DType;
use crate::syntax::ast::{DimPat, ExprKind, TypeExpr};

impl Elaborator<'_> {
    /// Checks `v` against `ty`, binding pattern names into `f`. Reports a
    /// diagnostic (whose message `msg(got, want)` builds) and returns false on mismatch.
    pub fn check_type(
        &mut self,
        ty: &TypeExpr,
        v: &Value,
        span: Span,
        f: &mut Frame,
        msg: &dyn Fn(&str, &str) -> String,
    ) -> bool {
        self.check_type_as(Code::ARG_SHAPE, ty, v, span, f, msg)
    }

    /// [`Self::check_type`] reporting shape mismatches with `code`.
    pub fn check_type_as(
        &mut self,
        code: Code,
        ty: &TypeExpr,
        v: &Value,
        span: Span,
        f: &mut Frame,
        msg: &dyn Fn(&str, &str) -> String,
    ) -> bool {
        match ty {
            TypeExpr::Named(id) => {
                let ok = match (id.name.as_str(), v) {
                    (_, Value::Poison) => true,
                    ("int", Value::Int(_)) => true,
                    ("float", Value::Int(_) | Value::Float(_)) => true,
                    ("bool", Value::Bool(_)) => true,
                    ("str", Value::Str(_)) => true,
                    ("int" | "float" | "bool" | "str", _) => false,
                    (other, _) => {
                        let d = Diagnostic::error(Code::TYPE, id.span, format!("unknown type `{other}`"))
                            .with_help(
                                "types are `int`, `float`, `bool`, `str` or a tensor shape like `[B, 784]`",
                            );
                        self.err(d);
                        return false;
                    }
                };
                if !ok {
                    let d =
                        Diagnostic::error(Code::TYPE, span, msg(&v.describe(), &format!("`{}`", id.name)))
                            .with_primary(v.describe())
                            .with_label(id.span, "declared here");
                    self.err(d);
                }
                ok
            }
            TypeExpr::Tensor { dtype, dims, span: ty_span } => {
                let want_dtype = match dtype {
                    None => None,
                    Some(id) => match self.elem_type(id) {
                        Some(d) => Some(d),
                        None => return false,
                    },
                };
                let t = match v {
                    Value::Tensor(t) => t.clone(),
                    Value::Poison => return true,
                    other => {
                        let d = Diagnostic::error(
                            Code::TYPE,
                            span,
                            msg(
                                &other.describe(),
                                &format!("a tensor `{}`", self.prog.sources.snippet(*ty_span)),
                            ),
                        )
                        .with_label(*ty_span, "declared here");
                        self.err(d);
                        return false;
                    }
                };
                if let Some(want) = want_dtype
                    && want != t.dtype
                {
                    let got = format!("{} of shape {}", dtype_phrase(t.dtype), show_shape(&t.shape));
                    let pattern = self.prog.sources.snippet(*ty_span).to_string();
                    let mut d = Diagnostic::error(Code::DTYPE, span, msg(&got, &format!("`{pattern}`")))
                        .with_primary(format!("this is {}", dtype_phrase(t.dtype)))
                        .with_label(*ty_span, format!("expected {}", dtype_phrase(want)));
                    d = if want == DType::I32 {
                        d.with_help("integer tensors come from `int[...]` inputs and `arange`; arithmetic on them gives floats")
                    } else {
                        d.with_help("integer tensors become floats in arithmetic, e.g. `x * 1.0`")
                    };
                    self.err(d);
                    return false;
                }
                match self.match_dims(dims, &t.shape, span, f) {
                    Ok(()) => true,
                    Err(mismatch) => {
                        let pattern = self.prog.sources.snippet(*ty_span).to_string();
                        let got = format!("a tensor of shape {}", show_shape(&t.shape));
                        let want = format!("`{pattern}`");
                        let mut d = Diagnostic::error(
                            if mismatch.conflict.is_some() { Code::DIM_CONFLICT } else { code },
                            span,
                            msg(&got, &want),
                        )
                        .with_primary(format!("this has shape {}", show_shape(&t.shape)));
                        if t.origin != span && t.origin.end > 0 {
                            d = d.with_label(
                                t.origin,
                                format!("shape {} comes from here", show_shape(&t.shape)),
                            );
                        }
                        d = d.with_label(*ty_span, format!("expected {}", mismatch.expected));
                        if let Some((name, prev)) = &mismatch.conflict {
                            d = d.with_label(*prev, format!("`{name}` was bound here"));
                        }
                        d = d.with_note(mismatch.detail);
                        self.err(d);
                        false
                    }
                }
            }
        }
    }

    /// The element type a name stands for in `int[...]` / `float[...]`.
    pub fn elem_type(&mut self, id: &crate::syntax::ast::Ident) -> Option<DType> {
        match id.name.as_str() {
            "int" => Some(DType::I32),
            "float" => Some(DType::F32),
            other => {
                let d = Diagnostic::error(Code::TYPE, id.span, format!("unknown element type `{other}`"))
                    .with_help("tensor element types are `int` (as in `int[B, T]`) and `float`");
                self.err(d);
                None
            }
        }
    }

    fn match_dims(
        &mut self,
        pats: &[DimPat],
        actual: &[Dim],
        span: Span,
        f: &mut Frame,
    ) -> Result<(), Mismatch> {
        let n_ell = pats.iter().filter(|p| matches!(p, DimPat::Ellipsis(_))).count();
        let n_fixed = pats.len() - n_ell;
        let expected = |this: &mut Self, f: &mut Frame| this.describe_pattern(pats, f);
        if n_ell > 1 {
            let d = Diagnostic::error(Code::TYPE, span, "a shape pattern may contain `...` only once");
            self.err(d);
            return Ok(());
        }
        if (n_ell == 0 && actual.len() != n_fixed) || actual.len() < n_fixed {
            let exp = expected(self, f);
            return Err(Mismatch {
                expected: exp,
                detail: format!(
                    "expected {}{} dimension{}, found {}",
                    if n_ell > 0 { "at least " } else { "" },
                    n_fixed,
                    super::eval::plural(n_fixed),
                    actual.len()
                ),
                conflict: None,
            });
        }
        let ell_len = actual.len() - n_fixed;
        let mut i = 0;
        for p in pats {
            match p {
                DimPat::Ellipsis(_) => {
                    let run = actual[i..i + ell_len].to_vec();
                    match &f.ellipsis_dims() {
                        Some(prev) if **prev != run => {
                            let exp = expected(self, f);
                            return Err(Mismatch {
                                expected: exp,
                                detail: format!(
                                    "`...` matched {} earlier in this signature but {} here",
                                    show_shape(prev),
                                    show_shape(&run)
                                ),
                                conflict: None,
                            });
                        }
                        Some(_) => {}
                        None => f.set_ellipsis(run),
                    }
                    i += ell_len;
                }
                DimPat::Expr(e) => {
                    let got = &actual[i];
                    if let ExprKind::Name(n) = &e.kind
                        && !self.is_bound(n, f)
                    {
                        f.define(n, Value::Int(got.clone()));
                        f.bind_origin(n, span);
                        i += 1;
                        continue;
                    }
                    let want = self.eval_dim(e, f);
                    match want {
                        Some(w) if w == *got => {}
                        Some(w) => {
                            let exp = expected(self, f);
                            let text = self.prog.sources.snippet(e.span).to_string();
                            let conflict = match &e.kind {
                                ExprKind::Name(n) => f.origin_of(n).map(|s| (n.clone(), s)),
                                _ => None,
                            };
                            let what = if text == w.to_string() {
                                format!("{w}")
                            } else {
                                format!("`{text}` = {w}")
                            };
                            return Err(Mismatch {
                                expected: exp,
                                detail: format!("dimension {i} is {got}, expected {what}"),
                                conflict,
                            });
                        }
                        None => {}
                    }
                    i += 1;
                }
            }
        }
        Ok(())
    }

    fn is_bound(&self, name: &str, f: &Frame) -> bool {
        f.has(name) || f.layer.is_some_and(|id| self.layers[id.0 as usize].scope.contains_key(name))
    }

    /// Evaluates a dimension expression; `None` after reporting an error.
    fn eval_dim(&mut self, e: &crate::syntax::ast::Expr, f: &mut Frame) -> Option<Dim> {
        let saved = std::mem::replace(&mut self.dim_ctx, true);
        let v = self.expr(e, f);
        self.dim_ctx = saved;
        match v {
            Value::Int(d) => Some(d),
            Value::Poison => None,
            other => {
                let d = Diagnostic::error(
                    Code::TYPE,
                    e.span,
                    format!("a dimension must be an integer, found {}", other.describe()),
                );
                self.err(d);
                None
            }
        }
    }

    /// The pattern with every bound name replaced by its size: `[..., 784]`.
    fn describe_pattern(&mut self, pats: &[DimPat], f: &mut Frame) -> String {
        let mut parts = Vec::new();
        for p in pats {
            match p {
                DimPat::Ellipsis(_) => match f.ellipsis_dims() {
                    Some(run) => parts.extend(run.iter().map(|d| d.to_string())),
                    None => parts.push("...".into()),
                },
                DimPat::Expr(e) => {
                    let bound = match &e.kind {
                        ExprKind::Name(n) => self.is_bound(n, f),
                        _ => true,
                    };
                    let n_diags = self.diags.len();
                    let v = if bound {
                        let saved = std::mem::replace(&mut self.dim_ctx, true);
                        let v = self.expr(e, f);
                        self.dim_ctx = saved;
                        v
                    } else {
                        Value::Poison
                    };
                    self.diags.truncate(n_diags);
                    match v {
                        Value::Int(d) => parts.push(d.to_string()),
                        _ => parts.push(self.prog.sources.snippet(e.span).to_string()),
                    }
                }
            }
        }
        format!("[{}]", parts.join(", "))
    }
}

/// "an `int` tensor" or "a `float` tensor", for messages.
pub fn dtype_phrase(d: DType) -> &'static str {
    match d {
        DType::I32 => "an `int` tensor",
        DType::F32 => "a `float` tensor",
    }
}

struct Mismatch {
    expected: String,
    detail: String,
    conflict: Option<(String, Span)>,
}

impl Frame {
    fn ellipsis_dims(&self) -> Option<Rc<Vec<Dim>>> {
        self.ellipsis_run().cloned()
    }
}
