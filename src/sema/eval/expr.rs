//! Expressions: literals, names (locals, members, items, builtins), calls
//! as written, indexing, fields and `if`.

use std::rc::Rc;

use super::messages::suggest;
use super::{ArgVal, Elaborator, Frame};
use crate::diag::{Code, Diagnostic, Span};
use crate::sema::dim::Dim;
use crate::sema::value::{Callable, Value};
use crate::syntax::ast::{self, Expr, ExprKind};

impl Elaborator<'_> {
    /// A compile-time integer, or an error at `span`.
    pub fn static_int(&mut self, v: &Value, span: Span) -> Option<i64> {
        match v {
            Value::Int(Dim::Known(n)) => Some(*n),
            Value::Poison => None,
            Value::Int(d) => {
                let d = Diagnostic::error(Code::TYPE, span, format!("`{d}` is not known at compile time"))
                    .with_primary("expected a number known at compile time")
                    .with_help(
                        "loop bounds, indices and layer sizes must be known when the program is compiled",
                    );
                self.err(d);
                None
            }
            other => {
                let d = Diagnostic::error(
                    Code::TYPE,
                    span,
                    format!("expected an integer, found {}", other.describe()),
                );
                self.err(d);
                None
            }
        }
    }

    /// Evaluates an expression.
    pub fn expr(&mut self, e: &Expr, f: &mut Frame) -> Value {
        match &e.kind {
            ExprKind::Int(n) => Value::int(*n),
            ExprKind::Float(x) => Value::Float(*x),
            ExprKind::Bool(b) => Value::Bool(*b),
            ExprKind::Str(s) => Value::Str(Rc::from(s.as_str())),
            ExprKind::Name(n) => self.lookup(n, e.span, f),
            ExprKind::List(items) => {
                let vals: Vec<Value> = items.iter().map(|x| self.expr(x, f)).collect();
                Value::List(Rc::new(vals))
            }
            ExprKind::ListComp { elem, var, start, end } => self.list_comp(elem, var, start, end, f),
            ExprKind::Unary { op, operand } => {
                let v = self.expr(operand, f);
                self.unary(*op, v, e.span)
            }
            ExprKind::Binary { op, lhs, rhs } => {
                let a = self.expr(lhs, f);
                let b = self.expr(rhs, f);
                self.binary(*op, a, b, e.span, lhs.span, rhs.span)
            }
            ExprKind::Call { callee, args } => {
                let callee_v = self.expr(callee, f);
                let mut vals = Vec::with_capacity(args.len());
                let mut seen_keyword = false;
                for a in args {
                    if a.name.is_some() {
                        seen_keyword = true;
                    } else if seen_keyword {
                        let d = Diagnostic::error(
                            Code::SYNTAX,
                            a.span,
                            "positional argument after a keyword argument",
                        )
                        .with_help("put positional arguments first");
                        return self.err(d);
                    }
                    let v = self.expr(&a.value, f);
                    vals.push(ArgVal { name: a.name.clone(), value: v, span: a.value.span });
                }
                let is_assert = matches!(
                    callee_v,
                    Value::Func(Callable::Builtin(crate::sema::builtins::Builtin::Assert))
                );
                let n_diags = self.diags.len();
                let v = self.call(callee_v, vals, e.span, callee.span);
                if is_assert && self.diags.len() > n_diags {
                    self.explain_assertion(args, f);
                }
                v
            }
            ExprKind::Index { base, items } => {
                let b = self.expr(base, f);
                self.index(b, items, e.span, f)
            }
            ExprKind::Field { base, field } => {
                let b = self.expr(base, f);
                self.field(b, field)
            }
            ExprKind::If { cond, then, otherwise } => {
                let c = self.expr(cond, f);
                let taken = match c {
                    Value::Bool(b) => b,
                    Value::Poison => return Value::Poison,
                    other => {
                        let d = Diagnostic::error(
                            Code::TYPE,
                            cond.span,
                            format!("`if` needs a boolean known at compile time, found {}", other.describe()),
                        )
                        .with_help("to choose between tensors elementwise, use `where(cond, a, b)`");
                        return self.err(d);
                    }
                };
                let chosen = if taken { Some(then) } else { otherwise.as_ref() };
                match chosen.and_then(|b| self.block(b, f)) {
                    Some(v) => v,
                    None => Value::List(Rc::new(Vec::new())),
                }
            }
        }
    }

    pub(super) fn field(&mut self, base: Value, field: &ast::Ident) -> Value {
        match &base {
            Value::Layer(id) => {
                let inst = &self.layers[id.0 as usize];
                if let Some(v) = inst.scope.get(&field.name) {
                    return v.clone();
                }
                if let Some(def) = inst.model.fns.iter().find(|d| d.name.name == field.name) {
                    return Value::Func(Callable::Fn { def: Rc::new(def.clone()), layer: Some(*id) });
                }
                let model = inst.model.name.name.clone();
                let candidates: Vec<String> = inst.scope.keys().cloned().collect();
                let mut d = Diagnostic::error(
                    Code::UNKNOWN_NAME,
                    field.span,
                    format!("layer `{model}` has no member `{}`", field.name),
                );
                if let Some(s) = suggest(&field.name, candidates.iter().map(String::as_str)) {
                    d = d.with_help(format!("did you mean `{s}`?"));
                }
                self.err(d)
            }
            Value::Tensor(t) if field.name == "shape" => {
                Value::List(Rc::new(t.shape.iter().cloned().map(Value::Int).collect()))
            }
            Value::Record(r) => match r.get(&field.name) {
                Some(v) => v.clone(),
                None => {
                    let d = Diagnostic::error(
                        Code::UNKNOWN_NAME,
                        field.span,
                        format!("`{}` has no field `{}`", r.kind, field.name),
                    );
                    self.err(d)
                }
            },
            Value::Poison => Value::Poison,
            other => {
                let d = Diagnostic::error(
                    Code::TYPE,
                    field.span,
                    format!("{} has no field `{}`", other.describe(), field.name),
                );
                self.err(d)
            }
        }
    }

    /// Resolves a name: locals, then the current layer's members and
    /// functions, then program functions and models, then builtins.
    pub fn lookup(&mut self, name: &str, span: Span, f: &Frame) -> Value {
        if let Some(v) = f.get(name) {
            return v.clone();
        }
        if let Some(id) = f.layer {
            let inst = &self.layers[id.0 as usize];
            if let Some(v) = inst.scope.get(name) {
                return v.clone();
            }
            if let Some(def) = inst.model.fns.iter().find(|d| d.name.name == name) {
                return Value::Func(Callable::Fn { def: Rc::new(def.clone()), layer: Some(id) });
            }
        }
        if let Some(d) = self.prog.fns.get(name) {
            return Value::Func(Callable::Fn { def: d.def.clone(), layer: None });
        }
        if let Some(m) = self.prog.models.get(name) {
            return Value::Func(Callable::Model(m.def.clone()));
        }
        if let Some(b) = crate::sema::builtins::find(name) {
            return Value::Func(Callable::Builtin(b.builtin));
        }
        let mut candidates: Vec<&str> = f.names().map(String::as_str).collect();
        if let Some(id) = f.layer {
            candidates.extend(self.layers[id.0 as usize].scope.keys().map(String::as_str));
        }
        candidates.extend(self.prog.fns.keys().map(String::as_str));
        candidates.extend(self.prog.models.keys().map(String::as_str));
        candidates.extend(crate::sema::builtins::BUILTINS.iter().map(|b| b.name));
        let mut d = Diagnostic::error(Code::UNKNOWN_NAME, span, format!("unknown name `{name}`"))
            .with_primary("not found in this scope");
        if let Some(s) = suggest(name, candidates.into_iter()) {
            d = d.with_help(format!("did you mean `{s}`?"));
        }
        self.err(d)
    }
}
