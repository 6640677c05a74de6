//! A builtin's evaluated arguments, one slot per parameter, read with
//! the checks every builtin shares.

use crate::diag::{Code, Diagnostic, Span};
use crate::sema::dim::Dim;
use crate::sema::eval::{ArgVal, Elaborator};
use crate::sema::value::{TensorVal, Value};

/// Evaluated arguments, one slot per parameter.
pub(super) struct Args {
    pub(super) slots: Vec<Option<ArgVal>>,
    pub(super) span: Span,
}

impl Args {
    pub(super) fn get(&self, i: usize) -> ArgVal {
        self.slots[i].clone().unwrap_or(ArgVal { name: None, value: Value::Poison, span: self.span })
    }

    pub(super) fn present(&self, i: usize) -> bool {
        self.slots.get(i).is_some_and(Option::is_some)
    }

    pub(super) fn span_of(&self, i: usize) -> Span {
        self.slots.get(i).and_then(|s| s.as_ref()).map_or(self.span, |a| a.span)
    }

    pub(super) fn tensor(&self, el: &mut Elaborator<'_>, i: usize) -> Option<TensorVal> {
        let a = self.get(i);
        match &a.value {
            Value::Tensor(t) => Some(TensorVal { origin: a.span, ..t.clone() }),
            Value::Poison => None,
            _ => {
                type_error(el, &a, "a tensor");
                None
            }
        }
    }

    pub(super) fn int(&self, el: &mut Elaborator<'_>, i: usize) -> Option<i64> {
        let a = self.get(i);
        el.static_int(&a.value, a.span)
    }

    pub(super) fn int_or(&self, el: &mut Elaborator<'_>, i: usize, default: i64) -> Option<i64> {
        if self.present(i) { self.int(el, i) } else { Some(default) }
    }

    pub(super) fn float(&self, el: &mut Elaborator<'_>, i: usize) -> Option<f64> {
        let a = self.get(i);
        match a.value.as_f64() {
            Some(x) => Some(x),
            None if matches!(a.value, Value::Poison) => None,
            None => {
                type_error(el, &a, "a number");
                None
            }
        }
    }

    pub(super) fn float_or(&self, el: &mut Elaborator<'_>, i: usize, default: f64) -> Option<f64> {
        if self.present(i) { self.float(el, i) } else { Some(default) }
    }

    pub(super) fn bool_or(&self, el: &mut Elaborator<'_>, i: usize, default: bool) -> Option<bool> {
        if !self.present(i) {
            return Some(default);
        }
        match self.get(i).value {
            Value::Bool(b) => Some(b),
            _ => {
                type_error(el, &self.get(i), "`true` or `false`");
                None
            }
        }
    }

    /// An int or list of ints, normalised against `rank`; `None` inside when absent.
    pub(super) fn axes(&self, el: &mut Elaborator<'_>, i: usize, rank: usize) -> Option<Option<Vec<usize>>> {
        if !self.present(i) {
            return Some(None);
        }
        let a = self.get(i);
        let raw: Vec<Value> = match &a.value {
            Value::List(xs) => xs.as_ref().clone(),
            v => vec![v.clone()],
        };
        let mut axes = Vec::new();
        for v in raw {
            let n = el.static_int(&v, a.span)?;
            axes.push(el.axis(n, rank, a.span)?);
        }
        axes.sort_unstable();
        axes.dedup();
        Some(Some(axes))
    }

    /// A list of sizes (ints, possibly symbolic).
    pub(super) fn dims(&self, el: &mut Elaborator<'_>, i: usize) -> Option<Vec<Dim>> {
        let a = self.get(i);
        match &a.value {
            Value::List(xs) => {
                let mut out = Vec::new();
                for v in xs.iter() {
                    match v {
                        Value::Int(d) => out.push(d.clone()),
                        Value::Poison => return None,
                        other => {
                            let d = Diagnostic::error(
                                Code::TYPE,
                                a.span,
                                format!("a shape is a list of integers, found {}", other.describe()),
                            );
                            el.err(d);
                            return None;
                        }
                    }
                }
                Some(out)
            }
            Value::Poison => None,
            _ => {
                type_error(el, &a, "a list of sizes like `[B, 784]`");
                None
            }
        }
    }
}

pub(super) fn type_error(el: &mut Elaborator<'_>, a: &ArgVal, expected: &str) -> Value {
    if matches!(a.value, Value::Poison) {
        return Value::Poison;
    }
    let d =
        Diagnostic::error(Code::TYPE, a.span, format!("expected {expected}, found {}", a.value.describe()));
    el.err(d)
}

pub(super) fn bad_value(el: &mut Elaborator<'_>, span: Span, msg: String) -> Value {
    el.err(Diagnostic::error(Code::BAD_VALUE, span, msg))
}
