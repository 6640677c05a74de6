//! A train block's settings: loss, optimizer, schedule, batch, epochs, seed,
//! metrics, shuffling and the save path.

use super::config::{Optimizer, Schedule, TrainConfig};
use super::data::data_config;
use super::evaluation::{eval_settings, precheck};
use super::fields::{TRAIN_KEYS, bool_field, int_field, int_setting, num_field, settings};
use crate::diag::{Code, Diagnostic};
use crate::sema::builtins::Builtin;
use crate::sema::eval::{Elaborator, suggest};
use crate::sema::value::{Callable, Record, Value};
use crate::syntax::ast;

pub(super) fn train_config(el: &mut Elaborator<'_>, t: &ast::TrainDef) -> Option<TrainConfig> {
    let data = match el.prog.data.get(&t.data.name) {
        Some(d) => data_config(el, d),
        None => {
            let mut d = Diagnostic::error(
                Code::TRAIN_TARGET,
                t.data.span,
                format!("unknown data set `{}`", t.data.name),
            );
            let names: Vec<&str> = el.prog.data.keys().map(String::as_str).collect();
            d = match suggest(&t.data.name, names.iter().copied()) {
                Some(s) => d.with_help(format!("did you mean `{s}`?")),
                None => d.with_help("define it with `data NAME { train = idx(...) }`"),
            };
            el.err(d);
            None
        }
    };
    let skip = precheck(el, t);
    let listed: Vec<ast::Setting> =
        t.settings.iter().filter(|s| !skip.contains(&s.key.name.as_str())).cloned().collect();
    let s = settings(el, &listed, TRAIN_KEYS, "train");
    let missing = |el: &mut Elaborator<'_>, key: &str, example: &str| {
        let d = Diagnostic::error(Code::MISSING_SETTING, t.span, format!("train block has no `{key}`"))
            .with_help(format!("add `{key} = {example}`"));
        el.err(d);
    };
    let loss = match s.get("loss") {
        Some((Value::Func(Callable::Fn { def, .. }), _)) => Some(def.clone()),
        Some((Value::Poison, _)) => None,
        Some((other, span)) => {
            let d = Diagnostic::error(
                Code::SETTING,
                *span,
                format!("`loss` must be a function, found {}", other.describe()),
            )
            .with_help("use `cross_entropy`, `nll`, `mse` or a function `fn(output, target) -> []`");
            el.err(d);
            None
        }
        None => {
            missing(el, "loss", "cross_entropy");
            None
        }
    };
    let optimizer = match s.get("optimizer") {
        Some((Value::Record(r), _)) if matches!(r.kind, Builtin::Sgd | Builtin::Adam | Builtin::Adamw) => {
            optimizer(el, r)
        }
        Some((Value::Func(Callable::Builtin(b @ (Builtin::Adam | Builtin::Adamw))), span)) => {
            let v = crate::sema::builtins::call(el, *b, Vec::new(), *span);
            match v {
                Value::Record(r) => optimizer(el, &r),
                _ => None,
            }
        }
        Some((Value::Poison, _)) => None,
        Some((other, span)) => {
            let d = Diagnostic::error(
                Code::SETTING,
                *span,
                format!(
                    "`optimizer` must be `sgd(...)`, `adam(...)` or `adamw(...)`, found {}",
                    other.describe()
                ),
            );
            el.err(d);
            None
        }
        None => {
            missing(el, "optimizer", "sgd(lr = 0.05, momentum = 0.9)");
            None
        }
    };
    let schedule = match s.get("schedule") {
        None => Some(None),
        Some((Value::Record(r), _)) if r.kind == Builtin::StepLr => {
            let step = int_field(el, r, "step_size", 1);
            let gamma = num_field(el, r, "gamma", 0.0, f64::MAX);
            step.zip(gamma).map(|(s, g)| Some(Schedule::Step { step_size: s as usize, gamma: g }))
        }
        Some((Value::Record(r), _)) if r.kind == Builtin::Cosine => {
            let t_max = match r.get("t_max") {
                Some(_) => int_field(el, r, "t_max", 1).map(|n| n as usize),
                None => Some(0),
            };
            let eta = num_field(el, r, "eta_min", 0.0, f64::MAX);
            t_max.zip(eta).map(|(t, e)| Some(Schedule::Cosine { t_max: t, eta_min: e }))
        }
        Some((other, span)) => {
            let d = Diagnostic::error(
                Code::SETTING,
                *span,
                format!("`schedule` must be `step_lr(...)` or `cosine(...)`, found {}", other.describe()),
            );
            el.err(d);
            None
        }
    };
    let batch = int_setting(el, &s, "batch", 32, 1)?;
    let epochs = int_setting(el, &s, "epochs", 1, 0)?;
    let seed = int_setting(el, &s, "seed", 0, 0)?;
    let has_valid = data.as_ref().is_some_and(|d| d.valid.is_some());
    let eval = eval_settings(el, &s, has_valid, t.span).filter(|_| skip.is_empty());
    let shuffle = match s.get("shuffle") {
        None => true,
        Some((Value::Bool(b), _)) => *b,
        Some((other, span)) => {
            let d = Diagnostic::error(
                Code::SETTING,
                *span,
                format!("`shuffle` must be true or false, found {}", other.describe()),
            );
            el.err(d);
            true
        }
    };
    let save = match s.get("save") {
        None => None,
        Some((Value::Str(p), _)) => Some(p.to_string()),
        Some((other, span)) => {
            let d = Diagnostic::error(
                Code::SETTING,
                *span,
                format!("`save` must be a file path string, found {}", other.describe()),
            );
            el.err(d);
            None
        }
    };
    let eval = eval?;
    Some(TrainConfig {
        model: t.model.clone(),
        data: data?,
        loss: loss?,
        optimizer: optimizer?,
        schedule: schedule?,
        batch: batch as usize,
        epochs: epochs as usize,
        seed: seed as u64,
        eval,
        shuffle,
        save,
        span: t.span,
    })
}

fn optimizer(el: &mut Elaborator<'_>, r: &Record) -> Option<Optimizer> {
    let lr = num_field(el, r, "lr", 0.0, f64::MAX);
    if r.kind == Builtin::Sgd {
        let momentum = num_field(el, r, "momentum", 0.0, 1.0);
        let dampening = num_field(el, r, "dampening", 0.0, 1.0);
        let nesterov = bool_field(el, r, "nesterov");
        let wd = num_field(el, r, "weight_decay", 0.0, f64::MAX);
        let opt = Optimizer::Sgd {
            lr: lr?,
            momentum: momentum?,
            dampening: dampening?,
            nesterov: nesterov?,
            weight_decay: wd?,
        };
        if let Optimizer::Sgd { nesterov: true, momentum, dampening, .. } = opt
            && (momentum <= 0.0 || dampening != 0.0)
        {
            let d = Diagnostic::error(
                Code::SETTING,
                r.span,
                "nesterov momentum needs momentum > 0 and dampening 0",
            );
            el.err(d);
            return None;
        }
        return Some(opt);
    }
    let beta1 = num_field(el, r, "beta1", 0.0, 0.999_999_9);
    let beta2 = num_field(el, r, "beta2", 0.0, 0.999_999_9);
    let eps = num_field(el, r, "eps", 0.0, f64::MAX);
    let wd = num_field(el, r, "weight_decay", 0.0, f64::MAX);
    Some(Optimizer::Adam {
        lr: lr?,
        beta1: beta1?,
        beta2: beta2?,
        eps: eps?,
        weight_decay: wd?,
        decoupled: r.kind == Builtin::Adamw,
    })
}
