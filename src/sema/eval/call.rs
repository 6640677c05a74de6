//! Calls: what a value does when called, arguments bound to parameters
//! (positional, keyword, defaults, declared types), and user function bodies
//! with their declared results.

use std::rc::Rc;

use super::messages::{plural, suggest};
use super::{ArgVal, Elaborator, Frame, MAX_CALL_DEPTH};
use crate::diag::{Code, Diagnostic, Span};
use crate::sema::value::{Callable, LayerId, TensorVal, Value};
use crate::syntax::ast;

impl Elaborator<'_> {
    /// Calls a value with evaluated arguments.
    pub fn call(&mut self, callee: Value, args: Vec<ArgVal>, span: Span, callee_span: Span) -> Value {
        if args.iter().any(|a| matches!(a.value, Value::Poison)) {
            return Value::Poison;
        }
        match callee {
            Value::Poison => Value::Poison,
            Value::Func(Callable::Fn { def, layer }) => self.call_fn(&def, layer, args, span),
            Value::Func(Callable::Model(m)) => self.instantiate(&m, args, span),
            Value::Func(Callable::Builtin(name)) => crate::sema::builtins::call(self, name, args, span),
            Value::Layer(id) => {
                let model = self.layers[id.0 as usize].model.clone();
                match model.fns.iter().find(|d| d.name.name == "forward") {
                    Some(fwd) => self.call_fn(&Rc::new(fwd.clone()), Some(id), args, span),
                    None => {
                        let d = Diagnostic::error(
                            Code::NO_FORWARD,
                            callee_span,
                            format!("model `{}` has no `forward` function", model.name.name),
                        )
                        .with_label(model.name.span, "defined here")
                        .with_help("add `fn forward(x: [...]) -> [...] { ... }` to the model");
                        self.err(d)
                    }
                }
            }
            other => {
                let d = Diagnostic::error(
                    Code::NOT_CALLABLE,
                    callee_span,
                    format!("{} is not callable", other.describe()),
                );
                self.err(d)
            }
        }
    }

    /// Matches arguments to parameters by position, then by keyword.
    /// Returns one slot per parameter (`None` where omitted).
    pub fn bind_args(
        &mut self,
        what: &str,
        params: &[&str],
        args: Vec<ArgVal>,
        span: Span,
    ) -> Option<Vec<Option<ArgVal>>> {
        let mut slots: Vec<Option<ArgVal>> = vec![None; params.len()];
        let n_positional = args.iter().filter(|a| a.name.is_none()).count();
        if n_positional > params.len() {
            let extra = &args[params.len()];
            let d = Diagnostic::error(
                Code::ARITY,
                extra.span,
                format!(
                    "{what} takes {} argument{} but {n_positional} were given",
                    params.len(),
                    plural(params.len())
                ),
            )
            .with_primary("unexpected argument")
            .with_label(span, "in this call")
            .with_note(format!("the parameters are ({})", params.join(", ")));
            self.err(d);
            return None;
        }
        for (i, a) in args.into_iter().enumerate() {
            let pos = match &a.name {
                None => i,
                Some(k) => match params.iter().position(|p| *p == k.name) {
                    Some(p) => p,
                    None => {
                        let mut d = Diagnostic::error(
                            Code::UNKNOWN_KEYWORD,
                            k.span,
                            format!("{what} has no parameter `{}`", k.name),
                        )
                        .with_note(format!("the parameters are ({})", params.join(", ")));
                        if let Some(s) = suggest(&k.name, params.iter().copied()) {
                            d = d.with_help(format!("did you mean `{s}`?"));
                        }
                        self.err(d);
                        return None;
                    }
                },
            };
            if let Some(prev) = &slots[pos] {
                let d = Diagnostic::error(
                    Code::DUPLICATE_ARGUMENT,
                    a.span,
                    format!("argument `{}` of {what} is given twice", params[pos]),
                )
                .with_label(prev.span, "first given here");
                self.err(d);
                return None;
            }
            slots[pos] = Some(a);
        }
        Some(slots)
    }

    /// Binds call arguments to declared parameters in `frame`: positional
    /// and keyword matching, defaults (evaluated in `frame`, so they may use
    /// earlier parameters), and declared types. False after reporting an error.
    pub fn bind_params(
        &mut self,
        what: &str,
        params: &[ast::Param],
        args: Vec<ArgVal>,
        span: Span,
        frame: &mut Frame,
    ) -> bool {
        let names: Vec<&str> = params.iter().map(|p| p.name.name.as_str()).collect();
        let Some(slots) = self.bind_args(what, &names, args, span) else {
            return false;
        };
        for (p, slot) in params.iter().zip(slots) {
            let (value, arg_span) = match slot {
                Some(a) => (a.value, a.span),
                None => match &p.default {
                    Some(e) => (self.expr(e, frame), e.span),
                    None => {
                        let d = Diagnostic::error(
                            Code::MISSING_ARGUMENT,
                            span,
                            format!("{what} is missing argument `{}`", p.name.name),
                        )
                        .with_label(p.span, "declared here");
                        self.err(d);
                        return false;
                    }
                },
            };
            if let Some(ty) = &p.ty {
                let ok = self.check_type(ty, &value, arg_span, frame, &|got, want| {
                    format!("argument `{}` of {what} is {got}, expected {want}", p.name.name)
                });
                if !ok {
                    return false;
                }
            }
            frame.define(&p.name.name, value);
        }
        true
    }

    /// Calls a user function (or a model's function when `layer` is set).
    pub fn call_fn(
        &mut self,
        def: &Rc<ast::FnDef>,
        layer: Option<LayerId>,
        args: Vec<ArgVal>,
        span: Span,
    ) -> Value {
        let what = match layer {
            Some(id) => format!("`{}.{}`", self.layers[id.0 as usize].model.name.name, def.name.name),
            None => format!("`{}`", def.name.name),
        };
        if self.depth >= MAX_CALL_DEPTH {
            let d = Diagnostic::error(Code::RECURSION, span, format!("calls nest too deeply in {what}"))
                .with_note(format!(
                    "calls may nest at most {MAX_CALL_DEPTH} deep; a function or model probably calls itself"
                ))
                .with_label(def.name.span, "called recursively");
            return self.err(d);
        }
        let mut frame = Frame::new(layer);
        if !self.bind_params(&what, &def.params, args, span, &mut frame) {
            return Value::Poison;
        }
        self.depth += 1;
        self.calls.push((what.clone(), span));
        let result = self.block(&def.body, &mut frame);
        self.calls.pop();
        self.depth -= 1;
        if std::mem::take(&mut self.halted) {
            return Value::Poison;
        }
        let result = match result {
            Some(v) => v,
            None => {
                if def.ret.is_some() {
                    let d = Diagnostic::error(
                        Code::RESULT_SHAPE,
                        def.body.span,
                        format!("{what} returns nothing"),
                    )
                    .with_help("end the body with the expression to return (no `;` after it)");
                    return self.err(d);
                }
                Value::List(Rc::new(Vec::new()))
            }
        };
        if let (Some(ty), Value::Tensor(_)) = (&def.ret, &result) {
            let origin = result_span(&def.body);
            self.calls.push((what.clone(), span));
            let ok = self.check_type_as(Code::RESULT_SHAPE, ty, &result, origin, &mut frame, &|got, want| {
                format!("{what} returns {got}, but its declared result is {want}")
            });
            self.calls.pop();
            if !ok {
                return Value::Poison;
            }
        }
        // The result's shape is explained by this call, not by the callee's insides.
        match result {
            Value::Tensor(t) => Value::Tensor(TensorVal { origin: span, ..t }),
            other => other,
        }
    }
}

fn result_span(b: &ast::Block) -> Span {
    b.result.as_ref().map_or(b.span, |e| e.span)
}
