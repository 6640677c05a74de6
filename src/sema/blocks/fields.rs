//! Reading settings: evaluating a block's `key = value` list, and the typed,
//! range-checked fields of settings records (`sgd(lr = ...)`).

use std::collections::HashMap;

use crate::diag::{Code, Diagnostic, Span};
use crate::sema::Dim;
use crate::sema::eval::{Elaborator, Frame, suggest};
use crate::sema::value::{Record, Value};
use crate::syntax::ast;

pub(super) const TRAIN_KEYS: &[&str] = &[
    "loss",
    "optimizer",
    "batch",
    "epochs",
    "seed",
    "metrics",
    "save",
    "schedule",
    "shuffle",
    "validate",
    "keep",
    "early_stop",
    "cross_validate",
    "log_every",
];
pub(super) const DATA_KEYS: &[&str] = &["train", "test", "valid", "scale", "normalize", "classes"];

pub(super) fn setting<'a>(t: &'a ast::TrainDef, key: &str) -> Option<&'a ast::Setting> {
    t.settings.iter().find(|s| s.key.name == key)
}

/// Evaluates settings, reporting unknown and repeated keys.
pub(super) fn settings(
    el: &mut Elaborator<'_>,
    list: &[ast::Setting],
    allowed: &[&str],
    block: &str,
) -> HashMap<String, (Value, Span)> {
    let mut out: HashMap<String, (Value, Span)> = HashMap::new();
    for s in list {
        if !allowed.contains(&s.key.name.as_str()) {
            let mut d = Diagnostic::error(
                Code::SETTING,
                s.key.span,
                format!("unknown {block} setting `{}`", s.key.name),
            )
            .with_note(format!("{block} blocks accept: {}", allowed.join(", ")));
            if let Some(sug) = suggest(&s.key.name, allowed.iter().copied()) {
                d = d.with_help(format!("did you mean `{sug}`?"));
            }
            el.err(d);
            continue;
        }
        if let Some((_, prev)) = out.get(&s.key.name) {
            let d = Diagnostic::error(Code::SETTING, s.key.span, format!("`{}` is set twice", s.key.name))
                .with_label(*prev, "first set here");
            el.err(d);
            continue;
        }
        let v = el.expr(&s.value, &mut Frame::new(None));
        out.insert(s.key.name.clone(), (v, s.value.span));
    }
    out
}
pub(super) fn int_setting(
    el: &mut Elaborator<'_>,
    s: &HashMap<String, (Value, Span)>,
    key: &str,
    default: i64,
    min: i64,
) -> Option<i64> {
    match s.get(key) {
        None => Some(default),
        Some((Value::Int(Dim::Known(n)), _)) if *n >= min => Some(*n),
        Some((Value::Poison, _)) => None,
        Some((other, span)) => {
            let d = Diagnostic::error(
                Code::SETTING,
                *span,
                format!("`{key}` must be an integer of at least {min}, found {}", other.describe()),
            );
            el.err(d);
            None
        }
    }
}

pub(super) fn num_field(el: &mut Elaborator<'_>, r: &Record, key: &str, min: f64, max: f64) -> Option<f64> {
    match r.get(key) {
        Some(v) => match v.as_f64() {
            Some(x) if x >= min && x <= max && x.is_finite() => Some(x),
            _ => {
                let range =
                    if max == f64::MAX { format!("at least {min}") } else { format!("in [{min}, {max}]") };
                let d = Diagnostic::error(
                    Code::SETTING,
                    r.span,
                    format!("`{}` setting `{key}` must be a number {range}, found {}", r.kind, v.describe()),
                );
                el.err(d);
                None
            }
        },
        None => {
            let d = Diagnostic::error(Code::MISSING_SETTING, r.span, format!("`{}` needs `{key}`", r.kind));
            el.err(d);
            None
        }
    }
}

pub(super) fn int_field(el: &mut Elaborator<'_>, r: &Record, key: &str, min: i64) -> Option<i64> {
    match r.get(key) {
        Some(Value::Int(Dim::Known(n))) if *n >= min => Some(*n),
        other => {
            let found = other.map_or("nothing".to_string(), Value::describe);
            let d = Diagnostic::error(
                Code::SETTING,
                r.span,
                format!("`{}` setting `{key}` must be an integer of at least {min}, found {found}", r.kind),
            );
            el.err(d);
            None
        }
    }
}

pub(super) fn bool_field(el: &mut Elaborator<'_>, r: &Record, key: &str) -> Option<bool> {
    match r.get(key) {
        Some(Value::Bool(b)) => Some(*b),
        Some(v) if v.as_f64() == Some(0.0) => Some(false),
        other => {
            let found = other.map_or("nothing".to_string(), Value::describe);
            let d = Diagnostic::error(
                Code::SETTING,
                r.span,
                format!("`{}` setting `{key}` must be true or false, found {found}", r.kind),
            );
            el.err(d);
            None
        }
    }
}
