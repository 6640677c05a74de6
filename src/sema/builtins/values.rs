//! Compile-time builtins: `assert`, `size`, `len`.

use std::rc::Rc;

use super::args::{Args, type_error};
use crate::diag::{Code, Diagnostic};
use crate::sema::eval::Elaborator;
use crate::sema::value::Value;

/// `assert(cond, message)`: `message` as an E0311 error when `cond` is
/// false. The rest of the function is then skipped: it would only report
/// the consequences.
pub(super) fn assert(el: &mut Elaborator<'_>, a: &Args) -> Value {
    match (a.get(0).value, a.get(1).value) {
        (Value::Bool(true), _) => Value::List(Rc::new(Vec::new())),
        (Value::Bool(false), Value::Str(msg)) => {
            el.halted = true;
            let d = Diagnostic::error(Code::BAD_VALUE, a.span, msg.to_string())
                .with_primary("this assertion failed");
            el.err(d)
        }
        (Value::Poison, _) | (_, Value::Poison) => Value::Poison,
        (Value::Bool(false), _) => type_error(el, &a.get(1), "a message string"),
        _ => type_error(el, &a.get(0), "a condition known at compile time"),
    }
}

/// `size(x, axis)`: one axis's size, possibly symbolic.
pub(super) fn size(el: &mut Elaborator<'_>, a: &Args) -> Value {
    let Some(t) = a.tensor(el, 0) else {
        return Value::Poison;
    };
    let Some(ax) = a.int(el, 1) else {
        return Value::Poison;
    };
    match el.axis(ax, t.shape.len(), a.span_of(1)) {
        Some(ax) => Value::Int(t.shape[ax].clone()),
        None => Value::Poison,
    }
}

/// `len(xs)`: a list's length.
pub(super) fn len(el: &mut Elaborator<'_>, a: &Args) -> Value {
    match &a.get(0).value {
        Value::List(xs) => Value::int(xs.len() as i64),
        _ => type_error(el, &a.get(0), "a list"),
    }
}
