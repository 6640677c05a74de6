//! Settings records for data and train blocks (`idx(...)`, `sgd(...)`).

use std::rc::Rc;

use super::args::Args;
use super::registry::Builtin;
use crate::sema::value::{Record, Value};

/// The record a settings builtin makes: every parameter given, and the
/// defaults of the optional ones not given.
pub(super) fn record(b: Builtin, a: Args) -> Value {
    let spec = b.spec();
    let defaults = spec.kind.defaults();
    let fields = spec
        .params
        .iter()
        .enumerate()
        .filter_map(|(i, p)| {
            let v = match &a.slots[i] {
                Some(arg) => Some(arg.value.clone()),
                None => defaults.get(i).copied().flatten().map(Value::Float),
            };
            v.map(|v| (*p, v))
        })
        .collect();
    Value::Record(Rc::new(Record { kind: b, fields, span: a.span }))
}
