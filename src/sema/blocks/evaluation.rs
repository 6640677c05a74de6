//! A train block's evaluation settings: `metrics`, `validate`, `keep`,
//! `early_stop`, `cross_validate` and `log_every`.
//!
//! What can be checked without the model is checked here (names, ranges,
//! a `keep` without a validation source); what needs the model's output
//! (a metric that does not fit the labels, `top_k` beyond the class count)
//! is checked by [`check_fits`] once the output shape is known.

use std::collections::HashMap;

use super::config::{Average, ClassNames, EarlyStop, EvalConfig, KFold, Metric, Targets, TrainConfig};
use crate::diag::{Code, Diagnostic, Span};
use crate::sema::Dim;
use crate::sema::builtins::Builtin;
use crate::sema::eval::{Elaborator, suggest};
use crate::sema::value::{Callable, Record, Value};
use crate::syntax::ast;

const METRIC_HELP: &str = "the metrics are: loss, accuracy, top_k(k), precision, recall, f1 (each with \
     `average = macro | micro | weighted`), confusion, sequence_accuracy; for float targets mse, mae, r2";

/// Reads the evaluation settings; `has_valid_source` says whether the data
/// block names a `valid` split. `None` when any of them is wrong (reported).
pub(super) fn eval_settings(
    el: &mut Elaborator<'_>,
    s: &HashMap<String, (Value, Span)>,
    has_valid_source: bool,
    block: Span,
) -> Option<EvalConfig> {
    let mut ok = true;
    let metrics = match s.get("metrics") {
        None => Vec::new(),
        Some((Value::List(items), span)) => {
            let mut out: Vec<Metric> = Vec::new();
            for v in items.iter() {
                match metric(el, v, *span) {
                    Some(m) if !out.contains(&m) => out.push(m),
                    Some(_) => {}
                    None => ok = false,
                }
            }
            out
        }
        Some((Value::Poison, _)) => return None,
        Some((other, span)) => {
            let d = Diagnostic::error(
                Code::METRIC,
                *span,
                format!("`metrics` must be a list, found {}", other.describe()),
            )
            .with_help("write `metrics = [accuracy, f1]`");
            el.err(d);
            return None;
        }
    };
    let validate = match s.get("validate") {
        None => None,
        Some((v, span)) => {
            match record_of(el, v, *span) {
                Some(r) if r.kind == Builtin::Split => {
                    let f = r.get("fraction").and_then(Value::as_f64);
                    match f {
                        Some(f) if f > 0.0 && f < 1.0 => Some(f),
                        _ => {
                            let found = r.get("fraction").map_or("nothing".into(), Value::describe);
                            let d = Diagnostic::error(
                            Code::VALIDATION,
                            *span,
                            format!("the validation fraction must be between 0 and 1 (exclusive), found {found}"),
                        )
                        .with_help("hold out a share of the training examples, e.g. `validate = split(0.1)`");
                            el.err(d);
                            ok = false;
                            None
                        }
                    }
                }
                _ => {
                    wrong(el, "validate", v, *span, "`split(0.1)`");
                    ok = false;
                    None
                }
            }
        }
    };
    if validate.is_some() && has_valid_source {
        let span = s["validate"].1;
        let d = Diagnostic::error(Code::VALIDATION, span, "the data block already names a `valid` split")
            .with_help("remove `validate`, or remove `valid` from the data block");
        el.err(d);
        ok = false;
    }
    let keep = match s.get("keep") {
        None => None,
        Some((v, span)) => match record_of(el, v, *span) {
            Some(r) if r.kind == Builtin::Best => {
                let m = r.get("metric").and_then(|m| metric(el, m, r.span));
                ok &= m.is_some();
                m
            }
            _ => {
                wrong(el, "keep", v, *span, "`best(f1)` or `best(loss)`");
                ok = false;
                None
            }
        },
    };
    let early_stop = match s.get("early_stop") {
        None => None,
        Some((v, span)) => match record_of(el, v, *span) {
            Some(r) if r.kind == Builtin::Patience => {
                let n = match r.get("epochs") {
                    Some(Value::Int(Dim::Known(n))) if *n >= 1 => Some(*n as usize),
                    other => {
                        let found = other.map_or("nothing".into(), Value::describe);
                        let d = Diagnostic::error(
                            Code::VALIDATION,
                            r.span,
                            format!("`patience` takes a whole number of epochs of at least 1, found {found}"),
                        );
                        el.err(d);
                        None
                    }
                };
                let m = match r.get("metric") {
                    Some(m) => metric(el, m, r.span),
                    None => Some(keep.unwrap_or(Metric::Loss)),
                };
                let e = n.zip(m).map(|(patience, metric)| EarlyStop { patience, metric });
                ok &= e.is_some();
                e
            }
            _ => {
                wrong(el, "early_stop", v, *span, "`patience(3)`");
                ok = false;
                None
            }
        },
    };
    let cross_validate = match s.get("cross_validate") {
        None => None,
        Some((v, span)) => {
            let k = kfold(el, v, *span);
            ok &= k.is_some();
            k
        }
    };
    if let (Some(_), Some(_)) = (validate, &cross_validate) {
        let d = Diagnostic::error(
            Code::FOLDS,
            s["validate"].1,
            "`validate` and `cross_validate` both choose validation examples",
        )
        .with_note("with cross-validation, each fold validates on its own examples")
        .with_help("remove `validate`");
        el.err(d);
        ok = false;
    }
    if validate.is_none() && !has_valid_source && cross_validate.is_none() {
        for key in ["keep", "early_stop"] {
            if let Some((_, span)) = s.get(key) {
                let d = Diagnostic::error(
                    Code::VALIDATION,
                    *span,
                    format!("`{key}` watches a validation metric, but there is no validation split"),
                )
                .with_note("the test split is never used to choose epochs")
                .with_help(
                    "add `validate = split(0.1)` to the train block, or `valid = ...` to the data block",
                );
                el.err(d);
                ok = false;
            }
        }
    }
    for m in keep.iter().chain(early_stop.as_ref().map(|e| &e.metric)) {
        if !m.is_scalar() || *m == Metric::SequenceAccuracy {
            let d = Diagnostic::error(
                Code::METRIC,
                block,
                format!("`{}` cannot choose the best epoch", m.name()),
            )
            .with_help("watch a number such as `loss`, `accuracy` or `f1`");
            el.err(d);
            ok = false;
        }
    }
    let log_every = match s.get("log_every") {
        None => None,
        Some((Value::Int(Dim::Known(n)), _)) if *n >= 1 => Some(*n as usize),
        Some((other, span)) => {
            let d = Diagnostic::error(
                Code::SETTING,
                *span,
                format!("`log_every` must be a number of steps of at least 1, found {}", other.describe()),
            );
            el.err(d);
            ok = false;
            None
        }
    };
    ok.then_some(EvalConfig { metrics, validate, keep, early_stop, cross_validate, log_every })
}

/// The names `metrics = [...]` and `best(...)` accept.
const METRIC_NAMES: &[&str] = &[
    "loss",
    "accuracy",
    "top_k",
    "precision",
    "recall",
    "f1",
    "confusion",
    "mse",
    "mae",
    "r2",
    "sequence_accuracy",
];

/// Checks the names written in `metrics = [...]` and `keep = best(...)`
/// before they are evaluated, so that `metrics = [auc]` is an unknown
/// metric (E0406, with the metric it may mean) rather than an unknown
/// name. Returns the keys whose settings must not be evaluated.
pub(super) fn precheck(el: &mut Elaborator<'_>, t: &ast::TrainDef) -> Vec<&'static str> {
    let mut skip = Vec::new();
    for (key, items) in [("metrics", setting_items(t, "metrics")), ("keep", best_items(t))] {
        let mut ok = true;
        for item in items {
            let (name, args) = match &item.kind {
                ast::ExprKind::Name(n) => (n, &[][..]),
                ast::ExprKind::Call { callee, args } => match &callee.kind {
                    ast::ExprKind::Name(n) => (n, &args[..]),
                    _ => continue,
                },
                _ => continue,
            };
            if !METRIC_NAMES.contains(&name.as_str()) {
                let mut d = Diagnostic::error(Code::METRIC, item.span, format!("unknown metric `{name}`"))
                    .with_note(METRIC_HELP);
                if let Some(s) = suggest(name, METRIC_NAMES.iter().copied()) {
                    d = d.with_help(format!("did you mean `{s}`?"));
                }
                el.err(d);
                ok = false;
                continue;
            }
            for a in args.iter().filter(|a| a.name.as_ref().is_some_and(|n| n.name == "average")) {
                if let ast::ExprKind::Name(v) = &a.value.kind
                    && !["macro", "micro", "weighted"].contains(&v.as_str())
                {
                    let d = Diagnostic::error(Code::METRIC, a.value.span, format!("unknown average `{v}`"))
                        .with_help("use `average = macro`, `micro` or `weighted`");
                    el.err(d);
                    ok = false;
                }
            }
        }
        if !ok {
            skip.push(key);
        }
    }
    skip
}

fn setting_items<'a>(t: &'a ast::TrainDef, key: &str) -> Vec<&'a ast::Expr> {
    match t.settings.iter().find(|s| s.key.name == key).map(|s| &s.value.kind) {
        Some(ast::ExprKind::List(items)) => items.iter().collect(),
        _ => Vec::new(),
    }
}

/// The argument of `keep = best(...)`.
fn best_items(t: &ast::TrainDef) -> Vec<&ast::Expr> {
    match t.settings.iter().find(|s| s.key.name == "keep").map(|s| &s.value.kind) {
        Some(ast::ExprKind::Call { callee, args }) if matches!(&callee.kind, ast::ExprKind::Name(n) if n == "best") => {
            args.iter().map(|a| &a.value).collect()
        }
        _ => Vec::new(),
    }
}

/// A settings value as its record: `accuracy` written bare is `accuracy()`.
fn record_of(el: &mut Elaborator<'_>, v: &Value, span: Span) -> Option<std::rc::Rc<Record>> {
    match v {
        Value::Record(r) => Some(r.clone()),
        Value::Func(Callable::Builtin(b))
            if matches!(b.spec().kind, crate::sema::builtins::Kind::Setting { .. }) =>
        {
            match crate::sema::builtins::call(el, *b, Vec::new(), span) {
                Value::Record(r) => Some(r),
                _ => None,
            }
        }
        _ => None,
    }
}

fn wrong(el: &mut Elaborator<'_>, key: &str, v: &Value, span: Span, example: &str) {
    if matches!(v, Value::Poison) {
        return;
    }
    let code = if key == "cross_validate" { Code::FOLDS } else { Code::VALIDATION };
    let d = Diagnostic::error(code, span, format!("`{key}` cannot be {}", v.describe()))
        .with_help(format!("write `{key} = {example}`"));
    el.err(d);
}

/// One entry of `metrics = [...]` (or the argument of `best(...)`).
fn metric(el: &mut Elaborator<'_>, v: &Value, span: Span) -> Option<Metric> {
    if let Value::Func(Callable::Fn { def, .. }) = v
        && def.name.name == "mse"
    {
        return Some(Metric::Mse);
    }
    if matches!(v, Value::Poison) {
        return None;
    }
    let unknown = |el: &mut Elaborator<'_>, v: &Value| {
        let d = Diagnostic::error(Code::METRIC, span, format!("unknown metric {}", v.describe()))
            .with_help(METRIC_HELP);
        el.err(d);
        None
    };
    let Some(r) = record_of(el, v, span) else { return unknown(el, v) };
    let average = |el: &mut Elaborator<'_>| average(el, &r);
    Some(match r.kind {
        Builtin::LossMetric => Metric::Loss,
        Builtin::Accuracy => Metric::Accuracy,
        Builtin::SequenceAccuracy => Metric::SequenceAccuracy,
        Builtin::Confusion => Metric::Confusion,
        Builtin::Mae => Metric::Mae,
        Builtin::R2 => Metric::R2,
        Builtin::Precision => Metric::Precision(average(el)?),
        Builtin::Recall => Metric::Recall(average(el)?),
        Builtin::F1 => Metric::F1(average(el)?),
        Builtin::TopK => match r.get("k") {
            Some(Value::Int(Dim::Known(k))) if *k >= 1 => Metric::TopK(*k as usize),
            other => {
                let found = other.map_or("nothing".into(), Value::describe);
                let d = Diagnostic::error(
                    Code::METRIC,
                    r.span,
                    format!("`top_k` takes a whole number k of at least 1, found {found}"),
                );
                el.err(d);
                return None;
            }
        },
        _ => return unknown(el, v),
    })
}

fn average(el: &mut Elaborator<'_>, r: &Record) -> Option<Average> {
    let v = match r.get("average") {
        None => return Some(Average::Macro),
        Some(v) => v,
    };
    let by_name = |s: &str| match s {
        "macro" => Some(Average::Macro),
        "micro" => Some(Average::Micro),
        "weighted" => Some(Average::Weighted),
        _ => None,
    };
    let found = match v {
        Value::Str(s) => by_name(s),
        Value::Func(Callable::Builtin(b)) => by_name(b.name()),
        Value::Record(a) => by_name(a.kind.name()),
        _ => None,
    };
    if found.is_none() {
        let d = Diagnostic::error(
            Code::METRIC,
            r.span,
            format!("`{}` cannot average by {}", r.kind, v.describe()),
        )
        .with_help("use `average = macro`, `micro` or `weighted`");
        el.err(d);
    }
    found
}

fn kfold(el: &mut Elaborator<'_>, v: &Value, span: Span) -> Option<KFold> {
    let Some(r) = record_of(el, v, span).filter(|r| r.kind == Builtin::Kfold) else {
        wrong(el, "cross_validate", v, span, "kfold(5)");
        return None;
    };
    let k = match r.get("k") {
        Some(Value::Int(Dim::Known(k))) if *k >= 2 => *k as usize,
        other => {
            let found = other.map_or("nothing".into(), Value::describe);
            let d = Diagnostic::error(
                Code::FOLDS,
                span,
                format!("cross-validation needs at least 2 folds, found {found}"),
            )
            .with_note("each fold trains on the other folds and validates on itself")
            .with_help("use `kfold(5)` (or `validate = split(0.2)` for one held-out split)");
            el.err(d);
            return None;
        }
    };
    let stratified = match r.get("stratified") {
        None => true,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            let d = Diagnostic::error(
                Code::FOLDS,
                r.span,
                format!("`stratified` must be true or false, found {}", other.describe()),
            );
            el.err(d);
            return None;
        }
    };
    Some(KFold { k, stratified, span })
}

/// Checks the metrics against the labels and the model's output: a class
/// metric on float targets (or the reverse), `top_k` beyond the classes.
pub(super) fn check_fits(
    el: &mut Elaborator<'_>,
    cfg: &TrainConfig,
    classes: Option<i64>,
    metrics_span: Span,
) {
    let targets = cfg.data.targets;
    let watched = cfg.eval.keep.iter().chain(cfg.eval.early_stop.as_ref().map(|e| &e.metric));
    for m in cfg.eval.metrics.iter().chain(watched) {
        if let Some(need) = m.needs()
            && need != targets
        {
            let d = if targets == Targets::Values {
                Diagnostic::error(
                    Code::METRIC,
                    metrics_span,
                    format!("`{}` is a classification metric, but the data has float targets", m.name()),
                )
                .with_note("the labels come from `targets = ...`: a regression")
                .with_help("use `mse`, `mae` or `r2` for float targets")
            } else {
                Diagnostic::error(
                    Code::METRIC,
                    metrics_span,
                    format!("`{}` is a regression metric, but the data has class labels", m.name()),
                )
                .with_help(
                    "use `accuracy`, `f1`, `precision`, `recall`, `top_k(k)` or `confusion` for classes",
                )
            };
            el.err(d);
        }
        if let (Metric::TopK(k), Some(c)) = (m, classes)
            && *k as i64 > c
        {
            let d = Diagnostic::error(
                Code::METRIC,
                metrics_span,
                format!("`top_k({k})` asks for more classes than the model's {c}"),
            )
            .with_help(format!("use k of at most {c}"));
            el.err(d);
        }
    }
    if let (Some(ClassNames::Listed(names)), Some(c)) = (&cfg.data.classes, classes)
        && names.len() as i64 != c
    {
        let span = el
            .prog
            .data
            .get(&cfg.data.name)
            .and_then(|d| d.settings.iter().find(|s| s.key.name == "classes"))
            .map_or(cfg.span, |s| s.value.span);
        let d = Diagnostic::error(
            Code::SETTING,
            span,
            format!("`classes` names {} classes, but the model's output has {c}", names.len()),
        )
        .with_help("give one name per output class, in label order");
        el.err(d);
    }
}
