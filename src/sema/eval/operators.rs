//! Unary and binary operators on compile-time values (sizes, floats,
//! booleans, lists); tensors go on to [`crate::sema::ops`].

use std::rc::Rc;

use super::Elaborator;
use crate::diag::{Code, Diagnostic, Span};
use crate::sema::dim::{Dim, DimOp};
use crate::sema::value::Value;
use crate::syntax::ast::{BinOp, UnOp};

impl Elaborator<'_> {
    pub(super) fn unary(&mut self, op: UnOp, v: Value, span: Span) -> Value {
        match (op, v) {
            (_, Value::Poison) => Value::Poison,
            (UnOp::Neg, Value::Int(d)) => match Dim::Known(0).arith(DimOp::Sub, &d) {
                Some(d) => Value::Int(d),
                None => self.overflow(span),
            },
            (UnOp::Neg, Value::Float(x)) => Value::Float(-x),
            (UnOp::Neg, Value::Tensor(t)) => self.unary_tensor(crate::graph::UnaryOp::Neg, t, span),
            (UnOp::Not, Value::Bool(b)) => Value::Bool(!b),
            (op, other) => {
                let sym = if op == UnOp::Neg { "-" } else { "!" };
                let d = Diagnostic::error(
                    Code::TYPE,
                    span,
                    format!("cannot apply `{sym}` to {}", other.describe()),
                );
                self.err(d)
            }
        }
    }

    pub(super) fn overflow(&mut self, span: Span) -> Value {
        let d = Diagnostic::error(Code::BAD_VALUE, span, "integer arithmetic overflows or divides by zero");
        self.err(d)
    }

    /// Applies a binary operator.
    pub fn binary(&mut self, op: BinOp, a: Value, b: Value, span: Span, la: Span, lb: Span) -> Value {
        use Value::{Bool, Float, Int, Poison, Tensor};
        match (op, a, b) {
            (_, Poison, _) | (_, _, Poison) => Poison,
            (BinOp::And, Bool(x), Bool(y)) => Bool(x && y),
            (BinOp::Or, Bool(x), Bool(y)) => Bool(x || y),
            (BinOp::Eq, Bool(x), Bool(y)) => Bool(x == y),
            (BinOp::Ne, Bool(x), Bool(y)) => Bool(x != y),
            (BinOp::Add, Value::List(x), Value::List(y)) => {
                Value::List(Rc::new(x.iter().chain(y.iter()).cloned().collect()))
            }
            (op, Int(x), Int(y)) => self.int_binary(op, x, y, span),
            (op, x @ (Int(_) | Float(_)), y @ (Int(_) | Float(_))) => match (x.as_f64(), y.as_f64()) {
                (Some(x), Some(y)) => float_binary(op, x, y),
                _ => {
                    let d = Diagnostic::error(Code::TYPE, span, "symbolic size mixed with a float")
                        .with_help("sizes known only by name can only be combined with integers");
                    self.err(d)
                }
            },
            (op, a @ Tensor(_), b) | (op, a, b @ Tensor(_)) => self.tensor_binary(op, a, b, span, la, lb),
            (op, a, b) => self.cannot_apply(op, &a, &b, span, la, lb),
        }
    }

    /// E0309 for an operator applied to operands it does not take.
    pub fn cannot_apply(&mut self, op: BinOp, a: &Value, b: &Value, span: Span, la: Span, lb: Span) -> Value {
        let d = Diagnostic::error(
            Code::TYPE,
            span,
            format!("cannot apply `{}` to {} and {}", op.symbol(), a.describe(), b.describe()),
        )
        .with_label(la, a.describe())
        .with_label(lb, b.describe());
        self.err(d)
    }

    pub(super) fn int_binary(&mut self, op: BinOp, x: Dim, y: Dim, span: Span) -> Value {
        let dim_op = match op {
            BinOp::Add => DimOp::Add,
            BinOp::Sub => DimOp::Sub,
            BinOp::Mul => DimOp::Mul,
            BinOp::Rem => DimOp::Rem,
            BinOp::Div => {
                // `/` is true division on numbers (`1 / 255` is a float) unless
                // it divides evenly; in shape patterns and on symbolic sizes it
                // is floor division, the only meaning a size can have.
                return match (&x, &y) {
                    (Dim::Known(a), Dim::Known(b)) if *b != 0 && (a % b == 0 || self.dim_ctx) => {
                        Value::int(a.div_euclid(*b))
                    }
                    (Dim::Known(a), Dim::Known(b)) if *b != 0 => Value::Float(*a as f64 / *b as f64),
                    (Dim::Known(_), Dim::Known(_)) => self.overflow(span),
                    _ => match x.arith(DimOp::Div, &y) {
                        Some(d) => Value::Int(d),
                        None => self.overflow(span),
                    },
                };
            }
            BinOp::Pow => {
                return match (x.known(), y.known()) {
                    (Some(a), Some(b)) if b >= 0 => match a.checked_pow(b.min(u32::MAX as i64) as u32) {
                        Some(p) => Value::int(p),
                        None => self.overflow(span),
                    },
                    (Some(a), Some(b)) => Value::Float((a as f64).powf(b as f64)),
                    _ => {
                        let d = Diagnostic::error(Code::TYPE, span, "`**` needs sizes known at compile time");
                        self.err(d)
                    }
                };
            }
            BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
                return match (x.known(), y.known()) {
                    (Some(a), Some(b)) => Value::Bool(match op {
                        BinOp::Eq => a == b,
                        BinOp::Ne => a != b,
                        BinOp::Lt => a < b,
                        BinOp::Le => a <= b,
                        BinOp::Gt => a > b,
                        _ => a >= b,
                    }),
                    _ if op == BinOp::Eq && x == y => Value::Bool(true),
                    // While checking, the answer depends on sizes known only by
                    // name; what depends on it is checked once they are bound.
                    _ if !self.is_lowering() => Value::Poison,
                    _ => {
                        let d = Diagnostic::error(
                            Code::TYPE,
                            span,
                            format!("cannot compare `{x}` and `{y}` at compile time"),
                        )
                        .with_help("comparisons that choose code paths need sizes known when the program is compiled");
                        self.err(d)
                    }
                };
            }
            BinOp::MatMul | BinOp::And | BinOp::Or => {
                let d = Diagnostic::error(
                    Code::TYPE,
                    span,
                    format!("cannot apply `{}` to integers", op.symbol()),
                );
                return self.err(d);
            }
        };
        match x.arith(dim_op, &y) {
            Some(d) => Value::Int(d),
            None => self.overflow(span),
        }
    }
}

fn float_binary(op: BinOp, x: f64, y: f64) -> Value {
    match op {
        BinOp::Add => Value::Float(x + y),
        BinOp::Sub => Value::Float(x - y),
        BinOp::Mul => Value::Float(x * y),
        BinOp::Div => Value::Float(x / y),
        BinOp::Rem => Value::Float(x % y),
        BinOp::Pow => Value::Float(x.powf(y)),
        BinOp::Eq => Value::Bool(x == y),
        BinOp::Ne => Value::Bool(x != y),
        BinOp::Lt => Value::Bool(x < y),
        BinOp::Le => Value::Bool(x <= y),
        BinOp::Gt => Value::Bool(x > y),
        BinOp::Ge => Value::Bool(x >= y),
        BinOp::MatMul | BinOp::And | BinOp::Or => Value::Poison,
    }
}
