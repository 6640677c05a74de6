//! A data block's settings and its sources (`idx`, `csv`, `npy`, generated sequences).

use super::config::{ClassNames, DataConfig, SequenceTask, Source, Targets, TaskKind};
use super::fields::{DATA_KEYS, bool_field, int_field, settings};
use crate::diag::{Code, Diagnostic, Span};
use crate::sema::builtins::Builtin;
use crate::sema::eval::Elaborator;
use crate::sema::value::{Record, Value};
use crate::syntax::ast;

pub(super) fn data_config(el: &mut Elaborator<'_>, d: &ast::DataDef) -> Option<DataConfig> {
    let s = settings(el, &d.settings, DATA_KEYS, "data");
    let train = match s.get("train") {
        Some((v, span)) => source(el, v, *span),
        None => {
            let diag = Diagnostic::error(
                Code::MISSING_SETTING,
                d.name.span,
                format!("data block `{}` has no `train`", d.name.name),
            )
            .with_help("add `train = idx(\"images.gz\", \"labels.gz\")`");
            el.err(diag);
            None
        }
    };
    let test = match s.get("test") {
        Some((v, span)) => source(el, v, *span).map(Some),
        None => Some(None),
    };
    let valid = match s.get("valid") {
        Some((v, span)) => source(el, v, *span).map(Some),
        None => Some(None),
    };
    let classes = match s.get("classes") {
        None => Some(None),
        Some((v, span)) => class_names(el, v, *span).map(Some),
    };
    let targets = match (&train, &test, &valid) {
        (Some(train), Some(test), Some(valid)) => {
            same_targets(el, d, train, [("test", test.as_ref()), ("valid", valid.as_ref())])
        }
        _ => None,
    };
    let scale = match s.get("scale") {
        None => Some(1.0),
        Some((v, span)) => match v.as_f64() {
            Some(x) if x.is_finite() => Some(x),
            _ => {
                let diag = Diagnostic::error(
                    Code::SETTING,
                    *span,
                    format!("`scale` must be a number, found {}", v.describe()),
                );
                el.err(diag);
                None
            }
        },
    };
    let normalize = match s.get("normalize") {
        None => Some(None),
        Some((Value::List(xs), span)) => {
            match (xs.first().and_then(Value::as_f64), xs.get(1).and_then(Value::as_f64)) {
                (Some(m), Some(sd)) if xs.len() == 2 && sd > 0.0 => Some(Some((m, sd))),
                _ => {
                    let diag = Diagnostic::error(
                        Code::SETTING,
                        *span,
                        "`normalize` must be `[mean, std]` with std > 0",
                    );
                    el.err(diag);
                    None
                }
            }
        }
        Some((other, span)) => {
            let diag = Diagnostic::error(
                Code::SETTING,
                *span,
                format!("`normalize` must be `[mean, std]`, found {}", other.describe()),
            );
            el.err(diag);
            None
        }
    };
    Some(DataConfig {
        name: d.name.name.clone(),
        train: train?,
        test: test?,
        valid: valid?,
        classes: classes?,
        targets: targets?,
        scale: scale?,
        normalize: normalize?,
    })
}

/// Every source of a block must have the same kind of labels.
fn same_targets(
    el: &mut Elaborator<'_>,
    d: &ast::DataDef,
    train: &Source,
    others: [(&str, Option<&Source>); 2],
) -> Option<Targets> {
    let want = train.targets();
    for (key, src) in others {
        if let Some(src) = src
            && src.targets() != want
        {
            let what = |t: Targets| if t == Targets::Values { "float targets" } else { "class labels" };
            let span = d.settings.iter().find(|s| s.key.name == key).map_or(d.name.span, |s| s.value.span);
            let diag = Diagnostic::error(
                Code::SETTING,
                span,
                format!("`{key}` has {}, but `train` has {}", what(src.targets()), what(want)),
            )
            .with_help("give every split of a data block the same kind of labels");
            el.err(diag);
            return None;
        }
    }
    Some(want)
}

/// `classes = ["cat", "dog"]`: one non-empty name per class, each once; or
/// `classes = "names.txt"`, a file read with the data.
fn class_names(el: &mut Elaborator<'_>, v: &Value, span: Span) -> Option<ClassNames> {
    if let Value::Str(path) = v
        && !path.trim().is_empty()
    {
        return Some(ClassNames::File(path.to_string()));
    }
    let names: Option<Vec<String>> = match v {
        Value::List(items) => items
            .iter()
            .map(|i| match i {
                Value::Str(s) if !s.trim().is_empty() => Some(s.to_string()),
                _ => None,
            })
            .collect(),
        _ => None,
    };
    let Some(names) = names.filter(|n| !n.is_empty()) else {
        let diag = Diagnostic::error(
            Code::SETTING,
            span,
            format!("`classes` must be a list of class names, found {}", v.describe()),
        )
        .with_help("write `classes = [\"cat\", \"dog\"]` (one name per class in label order) or `classes = \"names.txt\"`");
        el.err(diag);
        return None;
    };
    if let Some(dup) = names.iter().enumerate().find(|(i, n)| names[..*i].contains(n)) {
        let diag = Diagnostic::error(Code::SETTING, span, format!("class name `{}` appears twice", dup.1))
            .with_help("give every class its own name");
        el.err(diag);
        return None;
    }
    Some(ClassNames::Listed(names))
}

fn source(el: &mut Elaborator<'_>, v: &Value, span: Span) -> Option<Source> {
    let str_field = |el: &mut Elaborator<'_>, r: &Record, key: &str| -> Option<String> {
        match r.get(key) {
            Some(Value::Str(s)) => Some(s.to_string()),
            other => {
                let found = other.map_or("nothing".to_string(), Value::describe);
                let d = Diagnostic::error(
                    Code::SETTING,
                    r.span,
                    format!("`{}` needs a file path string for `{key}`, found {found}", r.kind),
                );
                el.err(d);
                None
            }
        }
    };
    match v {
        Value::Record(r) if r.kind == Builtin::Idx => {
            let images = str_field(el, r, "images")?;
            let labels = str_field(el, r, "labels")?;
            Some(Source::Idx { images, labels })
        }
        Value::Record(r) if r.kind == Builtin::Npy => {
            let images = str_field(el, r, "images")?;
            let targets = match (r.get("labels"), r.get("targets")) {
                (Some(_), None) => false,
                (None, Some(_)) => true,
                (given, _) => {
                    let d = Diagnostic::error(
                        Code::SETTING,
                        r.span,
                        if given.is_some() {
                            "`npy` takes `labels` or `targets`, not both"
                        } else {
                            "`npy` needs `labels` (class indices) or `targets` (float values)"
                        },
                    )
                    .with_help(
                        "write `npy(\"x.npy\", labels = \"y.npy\")` or `npy(\"x.npy\", targets = \"y.npy\")`",
                    );
                    el.err(d);
                    return None;
                }
            };
            let labels = str_field(el, r, if targets { "targets" } else { "labels" })?;
            Some(Source::Npy { images, labels, targets })
        }
        Value::Record(r) if r.kind == Builtin::Csv => {
            let path = str_field(el, r, "path")?;
            let label_column = match r.get("label_column").and_then(Value::as_f64) {
                Some(c) if c == 0.0 || c == -1.0 => c as i64,
                _ => {
                    let d = Diagnostic::error(
                        Code::SETTING,
                        r.span,
                        "`label_column` must be 0 (first) or -1 (last)",
                    );
                    el.err(d);
                    return None;
                }
            };
            let targets = match r.get("targets") {
                None => None,
                Some(_) => Some(int_field(el, r, "targets", 1)? as usize),
            };
            let header = match r.get("header") {
                None => None,
                Some(_) => Some(bool_field(el, r, "header")?),
            };
            Some(Source::Csv { path, label_column, header, targets })
        }
        Value::Record(r) if matches!(r.kind, Builtin::ReverseDigits | Builtin::SortDigits) => {
            let kind = if r.kind == Builtin::ReverseDigits { TaskKind::Reverse } else { TaskKind::Sort };
            let n = int_field(el, r, "n", 1)?;
            let length = int_field(el, r, "length", 1)?;
            let seed = match r.get("seed") {
                Some(Value::Float(x)) if *x == 0.0 => 0,
                _ => int_field(el, r, "seed", 0)?,
            };
            for (key, v, max) in [("n", n, SequenceTask::MAX_N), ("length", length, SequenceTask::MAX_LENGTH)]
            {
                if v as usize > max {
                    let d = Diagnostic::error(
                        Code::SETTING,
                        r.span,
                        format!("`{}` setting `{key}` must be at most {max}, found {v}", r.kind),
                    );
                    el.err(d);
                    return None;
                }
            }
            if (n as usize).saturating_mul(length as usize) > SequenceTask::MAX_TOKENS {
                let d = Diagnostic::error(
                    Code::SETTING,
                    r.span,
                    format!(
                        "`{}` would generate {n} x {length} tokens, more than {}",
                        r.kind,
                        SequenceTask::MAX_TOKENS
                    ),
                )
                .with_help("generate fewer or shorter sequences");
                el.err(d);
                return None;
            }
            Some(Source::Sequence(SequenceTask {
                kind,
                n: n as usize,
                length: length as usize,
                seed: seed as u64,
            }))
        }
        Value::Poison => None,
        other => {
            let d = Diagnostic::error(
                Code::SETTING,
                span,
                format!("expected a data source, found {}", other.describe()),
            )
            .with_help(
                "use `idx(images, labels)`, `csv(path)`, `npy(images, labels)`, `reverse_digits(n, length)` or `sort_digits(n, length)`",
            );
            el.err(d);
            None
        }
    }
}
