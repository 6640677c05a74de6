//! The elaborator: evaluates a program's compile-time part and walks its
//! tensor code, checking shapes and — when lowering — building the graph.
//!
//! One walk serves both purposes. In check mode symbolic dimensions stay
//! symbols (`B`) and no graph exists; in lowering mode every symbol is bound
//! to a size, so every shape is known and each tensor operation also emits
//! nodes. Shape rules are therefore written once ([`super::ops`]) and the
//! graph can never disagree with the checker.

use std::collections::HashMap;
use std::rc::Rc;

use super::dim::{Dim, DimOp, show_shape};
use super::program::Program;
use super::value::{Callable, Init, LayerId, TensorVal, Value};
use crate::diag::{Code, Diagnostic, Span};
use crate::graph::{DType, Graph, NodeId, Shape};
use crate::syntax::ast::{self, BinOp, Expr, ExprKind, UnOp};

/// How deep calls may nest before the checker calls it recursion.
const MAX_CALL_DEPTH: usize = 64;
/// How many iterations all `for` loops of one elaboration may unroll in total.
const MAX_UNROLL: usize = 100_000;

/// An instantiated model: its definition, its dotted path, and the values of
/// its construction parameters and members.
#[derive(Clone, Debug)]
pub struct Instance {
    /// The model.
    pub model: Rc<ast::ModelDef>,
    /// Dotted path from the root instance (`""` for the root, `fc1`, `blocks.0.attn`).
    pub path: String,
    /// Construction parameters and members by name.
    pub scope: HashMap<String, Value>,
}

/// A trainable parameter declared with `param(...)`.
#[derive(Clone, Debug)]
pub struct ParamSpec {
    /// Dotted name (`fc1.weight`), the checkpoint key.
    pub name: String,
    /// Its shape.
    pub shape: Shape,
    /// How to initialise it.
    pub init: Init,
    /// The `param(...)` expression.
    pub span: Span,
    /// Its node, when lowering.
    pub node: Option<NodeId>,
}

/// A call argument after evaluation.
#[derive(Clone, Debug)]
pub struct ArgVal {
    /// The keyword, for keyword arguments.
    pub name: Option<ast::Ident>,
    /// The value.
    pub value: Value,
    /// The argument expression.
    pub span: Span,
}

/// Local variables of one function activation.
#[derive(Debug, Default)]
pub struct Frame {
    scopes: Vec<HashMap<String, Value>>,
    /// The instance whose members are visible.
    pub layer: Option<LayerId>,
    /// Dimensions matched by `...` in this function's signature.
    ellipsis: Option<Rc<Vec<Dim>>>,
    /// Where each dimension name of the signature was bound.
    dim_origins: HashMap<String, Span>,
}

impl Frame {
    /// A frame with one empty scope.
    pub fn new(layer: Option<LayerId>) -> Frame {
        Frame { scopes: vec![HashMap::new()], layer, ellipsis: None, dim_origins: HashMap::new() }
    }

    /// Declares a variable in the innermost scope.
    pub fn define(&mut self, name: &str, v: Value) {
        if let Some(s) = self.scopes.last_mut() {
            s.insert(name.to_string(), v);
        }
    }

    fn get(&self, name: &str) -> Option<&Value> {
        self.scopes.iter().rev().find_map(|s| s.get(name))
    }

    fn assign(&mut self, name: &str, v: Value) -> bool {
        for s in self.scopes.iter_mut().rev() {
            if let Some(slot) = s.get_mut(name) {
                *slot = v;
                return true;
            }
        }
        false
    }

    /// The scopes, outermost first.
    pub(super) fn into_scopes(self) -> Vec<HashMap<String, Value>> {
        self.scopes
    }

    /// Re-binds a visible variable; false if there is none of that name.
    pub fn set(&mut self, name: &str, v: Value) -> bool {
        self.assign(name, v)
    }

    /// True if a variable of this name is visible.
    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    pub(super) fn bind_origin(&mut self, name: &str, span: Span) {
        self.dim_origins.insert(name.to_string(), span);
    }

    pub(super) fn origin_of(&self, name: &str) -> Option<Span> {
        self.dim_origins.get(name).copied()
    }

    pub(super) fn set_ellipsis(&mut self, run: Vec<Dim>) {
        self.ellipsis = Some(Rc::new(run));
    }

    pub(super) fn ellipsis_run(&self) -> Option<&Rc<Vec<Dim>>> {
        self.ellipsis.as_ref()
    }

    /// Every visible variable name (for "did you mean").
    fn names(&self) -> impl Iterator<Item = &String> {
        self.scopes.iter().flat_map(|s| s.keys())
    }
}

/// What an elaboration is for. The graph exists only while lowering, so
/// emitting a node while checking cannot be written without matching the mode.
#[derive(Debug)]
pub enum Mode {
    /// Checking: sizes may be known only by name and no graph is built.
    Check,
    /// Lowering: every size is bound, and each tensor operation also emits
    /// its nodes into this graph.
    Lower(Graph),
}

/// The elaborator's state for one check or one lowering.
pub struct Elaborator<'p> {
    /// The program being elaborated.
    pub prog: &'p Program,
    /// Errors found so far.
    pub diags: Vec<Diagnostic>,
    /// Checking, or lowering into a graph.
    mode: Mode,
    /// Whether dropout is active.
    pub training: bool,
    /// Every model instance created.
    pub layers: Vec<Instance>,
    /// Every parameter declared, in declaration order.
    pub params: Vec<ParamSpec>,
    /// The member path a constructor call in a model body will take.
    pub(super) naming: Option<String>,
    pub(super) next_stream: u32,
    /// Calls being evaluated, outermost first: what is called and where.
    pub(super) calls: Vec<(String, Span)>,
    /// Set while evaluating a shape pattern, where `/` is floor division.
    pub(super) dim_ctx: bool,
    pub(super) depth: usize,
    unrolled: usize,
    /// Set by a failed `assert`: the rest of the function is not evaluated.
    pub(super) halted: bool,
}

impl<'p> Elaborator<'p> {
    /// A check-mode elaborator (no graph).
    pub fn check(prog: &'p Program) -> Elaborator<'p> {
        Elaborator {
            prog,
            diags: Vec::new(),
            mode: Mode::Check,
            training: false,
            layers: Vec::new(),
            params: Vec::new(),
            naming: None,
            next_stream: 0,
            calls: Vec::new(),
            dim_ctx: false,
            depth: 0,
            unrolled: 0,
            halted: false,
        }
    }

    /// A lowering elaborator building a graph.
    pub fn lower(prog: &'p Program, training: bool) -> Elaborator<'p> {
        Elaborator { mode: Mode::Lower(Graph::new()), training, ..Elaborator::check(prog) }
    }

    /// True while lowering (every size bound, nodes emitted).
    pub fn is_lowering(&self) -> bool {
        matches!(self.mode, Mode::Lower(_))
    }

    /// The graph built so far; `None` while checking.
    pub fn graph(&self) -> Option<&Graph> {
        match &self.mode {
            Mode::Check => None,
            Mode::Lower(g) => Some(g),
        }
    }

    /// Ends lowering: hands over the graph and the nodes of `results` (the
    /// tensors the caller makes outputs). `None` while checking, and — after
    /// reporting — for a result without a node.
    pub fn finish<const N: usize>(&mut self, results: [&TensorVal; N]) -> Option<(Graph, [NodeId; N])> {
        if !self.is_lowering() {
            return None;
        }
        if let Some(t) = results.iter().find(|t| t.node.is_none()) {
            self.unbuilt(&t.shape, t.origin);
            return None;
        }
        let nodes: [NodeId; N] = results.iter().filter_map(|t| t.node).collect::<Vec<_>>().try_into().ok()?;
        match std::mem::replace(&mut self.mode, Mode::Check) {
            Mode::Lower(g) => Some((g, nodes)),
            Mode::Check => None,
        }
    }

    /// Names the layer the next constructor call creates (the REPL binds
    /// `let fc = Linear(4, 2)` this way; model bodies name their members).
    pub fn name_next_layer(&mut self, name: Option<String>) {
        self.naming = name;
    }

    /// Records an error and returns [`Value::Poison`]. An error whose
    /// place is inside the prelude is moved to the user's call that led
    /// there, keeping the prelude location as a secondary label.
    pub fn err(&mut self, mut d: Diagnostic) -> Value {
        let in_prelude =
            |this: &Self, span: Span| this.prog.sources.get(span.file).name.starts_with("<prelude>");
        if d.primary_span().is_some_and(|s| in_prelude(self, s))
            && let Some((what, call)) = self.calls.iter().rev().find(|(_, c)| !in_prelude(self, *c))
        {
            let label = crate::diag::Label { span: *call, message: format!("in this call to {what}") };
            d.labels.insert(0, label);
        }
        self.diags.push(d);
        Value::Poison
    }

    /// True if any error has been recorded.
    pub fn failed(&self) -> bool {
        self.diags.iter().any(|d| d.is_error())
    }

    // ----- tensors -------------------------------------------------------

    /// Makes a tensor value. While lowering, `build` emits its nodes and
    /// returns the result's, or `None` when an operand has no node or a size
    /// is not known (reported here); while checking it never runs.
    pub fn tensor(
        &mut self,
        shape: Vec<Dim>,
        dtype: DType,
        origin: Span,
        build: impl FnOnce(&mut Graph) -> Option<NodeId>,
    ) -> Value {
        let node = match &mut self.mode {
            Mode::Check => None,
            Mode::Lower(g) => {
                let watermark = g.node_ids().last().map_or(0, |n| n.0 + 1);
                let Some(id) = build(g) else {
                    return self.unbuilt(&shape, origin);
                };
                // Tag every node this expression created with its source span.
                for n in g.node_ids() {
                    if n.0 >= watermark && g.node(n).origin.is_none() {
                        g.node_mut(n).origin = Some(origin);
                    }
                }
                Some(id)
            }
        };
        Value::Tensor(TensorVal { shape, dtype, node, origin })
    }

    /// Reports a tensor the graph cannot hold: one whose shape is not known
    /// while lowering, or that was never lowered.
    fn unbuilt(&mut self, shape: &[Dim], origin: Span) -> Value {
        let d = Diagnostic::error(
            Code::DATA_SHAPE,
            origin,
            format!("the shape {} is not known when the graph is built", show_shape(shape)),
        )
        .with_help("every size must be bound (from the data or the model's arguments) before lowering");
        self.err(d)
    }

    /// The concrete shape of `dims` for building a graph: `None` when a size
    /// is known only by name (never the case while lowering). A negative
    /// size, already reported, is taken as 0.
    pub fn concrete(dims: &[Dim]) -> Option<Shape> {
        dims.iter().map(|d| d.known().map(|n| n.max(0) as usize)).collect::<Option<Vec<_>>>().map(Shape)
    }

    /// [`concrete`](Self::concrete), reporting (E0404 at `span`) a size
    /// known only by name.
    pub fn bound_shape(&mut self, dims: &[Dim], span: Span) -> Option<Shape> {
        let shape = Self::concrete(dims);
        if shape.is_none() {
            self.unbuilt(dims, span);
        }
        shape
    }

    // ----- statements and expressions ------------------------------------

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
    fn explain_assertion(&mut self, args: &[ast::Arg], f: &Frame) {
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
    fn count_iteration(&mut self, span: Span) -> bool {
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
    fn symbolic_loop(&mut self, var: &ast::Ident, lo: &Value, body: &ast::Block, f: &mut Frame) {
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
    fn list_comp(&mut self, elem: &Expr, var: &ast::Ident, start: &Expr, end: &Expr, f: &mut Frame) -> Value {
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
                let is_assert =
                    matches!(callee_v, Value::Func(Callable::Builtin(super::builtins::Builtin::Assert)));
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

    fn field(&mut self, base: Value, field: &ast::Ident) -> Value {
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
        if let Some(b) = super::builtins::find(name) {
            return Value::Func(Callable::Builtin(b.builtin));
        }
        let mut candidates: Vec<&str> = f.names().map(String::as_str).collect();
        if let Some(id) = f.layer {
            candidates.extend(self.layers[id.0 as usize].scope.keys().map(String::as_str));
        }
        candidates.extend(self.prog.fns.keys().map(String::as_str));
        candidates.extend(self.prog.models.keys().map(String::as_str));
        candidates.extend(super::builtins::BUILTINS.iter().map(|b| b.name));
        let mut d = Diagnostic::error(Code::UNKNOWN_NAME, span, format!("unknown name `{name}`"))
            .with_primary("not found in this scope");
        if let Some(s) = suggest(name, candidates.into_iter()) {
            d = d.with_help(format!("did you mean `{s}`?"));
        }
        self.err(d)
    }

    // ----- operators -----------------------------------------------------

    fn unary(&mut self, op: UnOp, v: Value, span: Span) -> Value {
        match (op, v) {
            (_, Value::Poison) => Value::Poison,
            (UnOp::Neg, Value::Int(d)) => match Dim::Known(0).arith(DimOp::Sub, &d) {
                Some(d) => Value::Int(d),
                None => self.overflow(span),
            },
            (UnOp::Neg, Value::Float(x)) => Value::Float(-x),
            (UnOp::Neg, Value::Tensor(t)) => self.unary_tensor(crate::graph::UnaryOp::Neg, t, span),
            (UnOp::Not, Value::Bool(b)) => Value::Bool(!b),
            (op, other) => {
                let sym = if op == UnOp::Neg { "-" } else { "!" };
                let d = Diagnostic::error(
                    Code::TYPE,
                    span,
                    format!("cannot apply `{sym}` to {}", other.describe()),
                );
                self.err(d)
            }
        }
    }

    fn overflow(&mut self, span: Span) -> Value {
        let d = Diagnostic::error(Code::BAD_VALUE, span, "integer arithmetic overflows or divides by zero");
        self.err(d)
    }

    /// Applies a binary operator.
    pub fn binary(&mut self, op: BinOp, a: Value, b: Value, span: Span, la: Span, lb: Span) -> Value {
        use Value::{Bool, Float, Int, Poison, Tensor};
        match (op, a, b) {
            (_, Poison, _) | (_, _, Poison) => Poison,
            (BinOp::And, Bool(x), Bool(y)) => Bool(x && y),
            (BinOp::Or, Bool(x), Bool(y)) => Bool(x || y),
            (BinOp::Eq, Bool(x), Bool(y)) => Bool(x == y),
            (BinOp::Ne, Bool(x), Bool(y)) => Bool(x != y),
            (BinOp::Add, Value::List(x), Value::List(y)) => {
                Value::List(Rc::new(x.iter().chain(y.iter()).cloned().collect()))
            }
            (op, Int(x), Int(y)) => self.int_binary(op, x, y, span),
            (op, x @ (Int(_) | Float(_)), y @ (Int(_) | Float(_))) => match (x.as_f64(), y.as_f64()) {
                (Some(x), Some(y)) => float_binary(op, x, y),
                _ => {
                    let d = Diagnostic::error(Code::TYPE, span, "symbolic size mixed with a float")
                        .with_help("sizes known only by name can only be combined with integers");
                    self.err(d)
                }
            },
            (op, a @ Tensor(_), b) | (op, a, b @ Tensor(_)) => self.tensor_binary(op, a, b, span, la, lb),
            (op, a, b) => self.cannot_apply(op, &a, &b, span, la, lb),
        }
    }

    /// E0309 for an operator applied to operands it does not take.
    pub fn cannot_apply(&mut self, op: BinOp, a: &Value, b: &Value, span: Span, la: Span, lb: Span) -> Value {
        let d = Diagnostic::error(
            Code::TYPE,
            span,
            format!("cannot apply `{}` to {} and {}", op.symbol(), a.describe(), b.describe()),
        )
        .with_label(la, a.describe())
        .with_label(lb, b.describe());
        self.err(d)
    }

    fn int_binary(&mut self, op: BinOp, x: Dim, y: Dim, span: Span) -> Value {
        let dim_op = match op {
            BinOp::Add => DimOp::Add,
            BinOp::Sub => DimOp::Sub,
            BinOp::Mul => DimOp::Mul,
            BinOp::Rem => DimOp::Rem,
            BinOp::Div => {
                // `/` is true division on numbers (`1 / 255` is a float) unless
                // it divides evenly; in shape patterns and on symbolic sizes it
                // is floor division, the only meaning a size can have.
                return match (&x, &y) {
                    (Dim::Known(a), Dim::Known(b)) if *b != 0 && (a % b == 0 || self.dim_ctx) => {
                        Value::int(a.div_euclid(*b))
                    }
                    (Dim::Known(a), Dim::Known(b)) if *b != 0 => Value::Float(*a as f64 / *b as f64),
                    (Dim::Known(_), Dim::Known(_)) => self.overflow(span),
                    _ => match x.arith(DimOp::Div, &y) {
                        Some(d) => Value::Int(d),
                        None => self.overflow(span),
                    },
                };
            }
            BinOp::Pow => {
                return match (x.known(), y.known()) {
                    (Some(a), Some(b)) if b >= 0 => match a.checked_pow(b.min(u32::MAX as i64) as u32) {
                        Some(p) => Value::int(p),
                        None => self.overflow(span),
                    },
                    (Some(a), Some(b)) => Value::Float((a as f64).powf(b as f64)),
                    _ => {
                        let d = Diagnostic::error(Code::TYPE, span, "`**` needs sizes known at compile time");
                        self.err(d)
                    }
                };
            }
            BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
                return match (x.known(), y.known()) {
                    (Some(a), Some(b)) => Value::Bool(match op {
                        BinOp::Eq => a == b,
                        BinOp::Ne => a != b,
                        BinOp::Lt => a < b,
                        BinOp::Le => a <= b,
                        BinOp::Gt => a > b,
                        _ => a >= b,
                    }),
                    _ if op == BinOp::Eq && x == y => Value::Bool(true),
                    // While checking, the answer depends on sizes known only by
                    // name; what depends on it is checked once they are bound.
                    _ if !self.is_lowering() => Value::Poison,
                    _ => {
                        let d = Diagnostic::error(
                            Code::TYPE,
                            span,
                            format!("cannot compare `{x}` and `{y}` at compile time"),
                        )
                        .with_help("comparisons that choose code paths need sizes known when the program is compiled");
                        self.err(d)
                    }
                };
            }
            BinOp::MatMul | BinOp::And | BinOp::Or => {
                let d = Diagnostic::error(
                    Code::TYPE,
                    span,
                    format!("cannot apply `{}` to integers", op.symbol()),
                );
                return self.err(d);
            }
        };
        match x.arith(dim_op, &y) {
            Some(d) => Value::Int(d),
            None => self.overflow(span),
        }
    }

    // ----- calls -----------------------------------------------------------

    /// Calls a value with evaluated arguments.
    pub fn call(&mut self, callee: Value, args: Vec<ArgVal>, span: Span, callee_span: Span) -> Value {
        if args.iter().any(|a| matches!(a.value, Value::Poison)) {
            return Value::Poison;
        }
        match callee {
            Value::Poison => Value::Poison,
            Value::Func(Callable::Fn { def, layer }) => self.call_fn(&def, layer, args, span),
            Value::Func(Callable::Model(m)) => self.instantiate(&m, args, span),
            Value::Func(Callable::Builtin(name)) => super::builtins::call(self, name, args, span),
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

fn result_span(b: &ast::Block) -> Span {
    b.result.as_ref().map_or(b.span, |e| e.span)
}

fn float_binary(op: BinOp, x: f64, y: f64) -> Value {
    match op {
        BinOp::Add => Value::Float(x + y),
        BinOp::Sub => Value::Float(x - y),
        BinOp::Mul => Value::Float(x * y),
        BinOp::Div => Value::Float(x / y),
        BinOp::Rem => Value::Float(x % y),
        BinOp::Pow => Value::Float(x.powf(y)),
        BinOp::Eq => Value::Bool(x == y),
        BinOp::Ne => Value::Bool(x != y),
        BinOp::Lt => Value::Bool(x < y),
        BinOp::Le => Value::Bool(x <= y),
        BinOp::Gt => Value::Bool(x > y),
        BinOp::Ge => Value::Bool(x >= y),
        BinOp::MatMul | BinOp::And | BinOp::Or => Value::Poison,
    }
}

/// `s` for counts other than one.
pub fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// The closest candidate by edit distance, if close enough to be a likely typo.
pub fn suggest<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> Option<String> {
    let limit = (name.len() / 3).max(1);
    candidates
        .filter(|c| *c != name && !c.starts_with('<'))
        .map(|c| (levenshtein(name, c), c))
        .filter(|(d, _)| *d <= limit)
        .min()
        .map(|(_, c)| c.to_string())
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, &cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != cb)).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Formats a tensor shape for messages.
pub fn shape_of(v: &Value) -> String {
    match v {
        Value::Tensor(t) => show_shape(&t.shape),
        other => other.describe(),
    }
}
