//! Blocks and statements: scopes, `let` and assignment, `for` loops
//! (unrolled, or checked once over a symbolic length) and list comprehensions.

use std::collections::HashMap;
use std::rc::Rc;

use super::{Elaborator, Frame, MAX_UNROLL};
use crate::diag::{Code, Diagnostic, Span};
use crate::sema::dim::Dim;
use crate::sema::value::Value;
use crate::syntax::ast::{self, Expr, ExprKind};

impl Elaborator<'_> {
    /// Evaluates a block in a new scope and returns its value (`None` when it has no result).
    pub fn block(&mut self, b: &ast::Block, f: &mut Frame) -> Option<Value> {
        f.scopes.push(HashMap::new());
        for s in &b.stmts {
            self.stmt(s, f);
            if self.halted {
                f.scopes.pop();
                return Some(Value::Poison);
            }
        }
        let res = b.result.as_ref().map(|e| self.expr(e, f));
        f.scopes.pop();
        res
    }

    /// Executes one statement.
    pub fn stmt(&mut self, s: &ast::Stmt, f: &mut Frame) {
        match s {
            ast::Stmt::Let { name, value, .. } => {
                let v = self.expr(value, f);
                f.define(&name.name, v);
            }
            ast::Stmt::Assign { name, value, .. } => {
                let v = self.expr(value, f);
                if !f.assign(&name.name, v) {
                    let d = Diagnostic::error(
                        Code::ASSIGN_UNDECLARED,
                        name.span,
                        format!("assignment to undeclared variable `{}`", name.name),
                    )
                    .with_primary("not declared in this function")
                    .with_help(format!("declare it first: `let {} = ...`", name.name));
                    self.err(d);
                    f.define(&name.name, Value::Poison);
                }
            }
            ast::Stmt::For { var, start, end, body, .. } => {
                let lo = self.expr(start, f);
                let hi = self.expr(end, f);
                if !self.is_lowering() && (is_symbolic(&lo) || is_symbolic(&hi)) {
                    self.symbolic_loop(var, &lo, body, f);
                    return;
                }
                let (Some(lo), Some(hi)) = (self.static_int(&lo, start.span), self.static_int(&hi, end.span))
                else {
                    return;
                };
                for i in lo..hi.max(lo) {
                    if !self.count_iteration(end.span) {
                        return;
                    }
                    f.scopes.push(HashMap::from([(var.name.clone(), Value::int(i))]));
                    let n_diags = self.diags.len();
                    self.block(body, f);
                    f.scopes.pop();
                    // Later iterations would repeat the same mistake.
                    if self.diags.len() > n_diags {
                        return;
                    }
                }
            }
            ast::Stmt::Expr(e) => {
                self.expr(e, f);
            }
        }
    }

    /// Adds the values of the sizes an assertion's condition names
    /// (`T = 12, max_len = 10`) to the error it just reported.
    pub(super) fn explain_assertion(&mut self, args: &[ast::Arg], f: &Frame) {
        fn names<'e>(e: &'e Expr, out: &mut Vec<&'e str>) {
            match &e.kind {
                ExprKind::Name(n) if !out.contains(&n.as_str()) => out.push(n),
                ExprKind::Binary { lhs, rhs, .. } => {
                    names(lhs, out);
                    names(rhs, out);
                }
                ExprKind::Unary { operand, .. } => names(operand, out),
                _ => {}
            }
        }
        let Some(cond) = args.first() else { return };
        let mut found = Vec::new();
        names(&cond.value, &mut found);
        let layer = f.layer.map(|id| &self.layers[id.0 as usize].scope);
        let values: Vec<String> = found
            .iter()
            .filter_map(|n| match f.get(n).or_else(|| layer.and_then(|s| s.get(*n))) {
                Some(Value::Int(d)) => Some(format!("{n} = {d}")),
                Some(Value::Float(x)) => Some(format!("{n} = {x}")),
                _ => None,
            })
            .collect();
        if let (false, Some(d)) = (values.is_empty(), self.diags.last_mut())
            && d.code == Code::BAD_VALUE
        {
            d.notes.push(format!("here {}", values.join(", ")));
        }
    }

    /// Counts one unrolled iteration; false (after reporting) past [`MAX_UNROLL`].
    pub(super) fn count_iteration(&mut self, span: Span) -> bool {
        self.unrolled += 1;
        if self.unrolled > MAX_UNROLL {
            let d = Diagnostic::error(Code::BAD_VALUE, span, "loop unrolls too many times")
                .with_note(format!("all loops together may unroll at most {MAX_UNROLL} iterations"));
            self.err(d);
            return false;
        }
        true
    }

    /// A loop whose length is a symbolic size, met while checking (lowering
    /// binds every size, so there it is unrolled). The body is checked once,
    /// for the first value of the loop variable (a symbol when the start is
    /// symbolic too). A variable the body changes in a way that depends on
    /// the number of iterations — a list that grows, a tensor whose shape
    /// changes, a number that counts — is unknown after the loop and
    /// becomes [`Value::Poison`], so nothing that follows reports errors
    /// the real sizes would not have.
    pub(super) fn symbolic_loop(&mut self, var: &ast::Ident, lo: &Value, body: &ast::Block, f: &mut Frame) {
        if !self.count_iteration(var.span) {
            return;
        }
        let first = match lo {
            Value::Int(d) => Value::Int(d.clone()),
            _ => Value::Int(Dim::sym(&var.name)),
        };
        let before = f.scopes.clone();
        f.scopes.push(HashMap::from([(var.name.clone(), first)]));
        self.block(body, f);
        f.scopes.pop();
        for (scope, old) in f.scopes.iter_mut().zip(&before) {
            for (name, v) in scope.iter_mut() {
                if old.get(name).is_some_and(|o| !same_each_iteration(o, v)) {
                    *v = Value::Poison;
                }
            }
        }
    }

    /// `[elem for var in start..end]`. Inside a model member, element `i`
    /// of a list of layers is named `member.i`.
    pub(super) fn list_comp(
        &mut self,
        elem: &Expr,
        var: &ast::Ident,
        start: &Expr,
        end: &Expr,
        f: &mut Frame,
    ) -> Value {
        let naming = self.naming.take();
        let lo = self.expr(start, f);
        let hi = self.expr(end, f);
        if !self.is_lowering() && (is_symbolic(&lo) || is_symbolic(&hi)) {
            // A list of symbolic length: check one element, and leave the
            // list unknown (see `symbolic_loop`).
            let first = if is_symbolic(&lo) { Value::Int(Dim::sym(&var.name)) } else { lo };
            f.scopes.push(HashMap::from([(var.name.clone(), first)]));
            self.expr(elem, f);
            f.scopes.pop();
            return Value::Poison;
        }
        let (Some(lo), Some(hi)) = (self.static_int(&lo, start.span), self.static_int(&hi, end.span)) else {
            return Value::Poison;
        };
        let mut items = Vec::new();
        for i in lo..hi.max(lo) {
            if !self.count_iteration(end.span) {
                return Value::Poison;
            }
            self.naming = naming.as_ref().map(|n| format!("{n}.{}", i - lo));
            f.scopes.push(HashMap::from([(var.name.clone(), Value::int(i))]));
            let v = self.expr(elem, f);
            f.scopes.pop();
            self.naming = None;
            if matches!(v, Value::Poison) {
                return Value::Poison;
            }
            items.push(v);
        }
        Value::List(Rc::new(items))
    }
}

/// True for an integer known only by name.
fn is_symbolic(v: &Value) -> bool {
    matches!(v, Value::Int(d) if d.known().is_none())
}

/// True when a variable holding `before` at the start of a loop body and
/// `after` at its end would hold the same shapes and numbers after any
/// number of iterations.
fn same_each_iteration(before: &Value, after: &Value) -> bool {
    match (before, after) {
        (Value::Tensor(a), Value::Tensor(b)) => a.shape == b.shape && a.dtype == b.dtype,
        (Value::List(a), Value::List(b)) => {
            a.len() == b.len() && a.iter().zip(b.iter()).all(|(x, y)| same_each_iteration(x, y))
        }
        (Value::Int(a), Value::Int(b)) => a == b,
        (Value::Float(a), Value::Float(b)) => a.to_bits() == b.to_bits(),
        (Value::Bool(a), Value::Bool(b)) => a == b,
        (Value::Str(a), Value::Str(b)) => a == b,
        (Value::Layer(a), Value::Layer(b)) => a == b,
        (Value::Poison, Value::Poison) => true,
        _ => false,
    }
}
