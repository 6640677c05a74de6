//! `nnc repl`: an interactive session. Definitions (`model`, `fn`, `use`)
//! extend the program; statements and expressions are evaluated on the
//! reference interpreter and their values printed.
//!
//! Each input is checked and lowered together with every earlier accepted
//! statement (a replay), so layers keep their parameters, random numbers
//! are reproducible, and a rejected input changes nothing.

use std::fmt::Write as _;
use std::path::Path;

use super::{Console, FsLoader, Outcome};
use crate::backend::interp::Interp;
use crate::backend::{self, Env};
use crate::diag::{SourceMap, render};
use crate::sema::eval::{Elaborator, Frame};
use crate::sema::value::{Callable, TensorVal, Value};
use crate::sema::{Program, dim::show_shape};
use crate::syntax::{ReplLine, ast, parse_repl};
use crate::{backend::Tensor, train::trainer};

const HELP: &str = "\
Enter definitions (`model`, `fn`, `use \"file.nn\"`), statements (`let x = ...`) or expressions.
  let x = randn([2, 3])        a tensor; printed with its shape
  let fc = Linear(3, 4)        a layer with freshly initialised parameters
  fc(x)                        evaluate on the reference interpreter
  :shape EXPR                  the shape of EXPR without evaluating it
  :graph EXPR                  the tensor graph that computes EXPR
  :reset                       forget every statement (definitions stay)
  :quit                        leave (also Ctrl-D)
Builtins and prelude layers are listed in docs/LANGUAGE.md.";

/// The state of one REPL session.
pub struct Session {
    prog: Program,
    history: Vec<ast::Stmt>,
    n_lines: usize,
}

impl Default for Session {
    fn default() -> Session {
        Session::new()
    }
}

impl Session {
    /// A session with the prelude loaded.
    pub fn new() -> Session {
        let (prog, _) = Program::with_prelude();
        Session { prog, history: Vec::new(), n_lines: 0 }
    }

    /// Evaluates one input (which may span several lines) and returns what to print.
    pub fn eval(&mut self, input: &str) -> String {
        let text = input.trim();
        if text.is_empty() {
            return String::new();
        }
        if let Some(cmd) = text.strip_prefix(':') {
            let (name, rest) = cmd.split_once(char::is_whitespace).unwrap_or((cmd, ""));
            return match name {
                "help" | "h" => HELP.to_string(),
                "reset" => {
                    self.history.clear();
                    "forgot every statement".to_string()
                }
                "shape" | "graph" => self.inspect(name, rest),
                _ => format!("unknown command `:{name}`; `:help` lists the commands"),
            };
        }
        self.n_lines += 1;
        let name = format!("<repl:{}>", self.n_lines);
        let file = self.prog.sources.add(name.clone(), text.to_string());
        let lines = match parse_repl(file, text) {
            Ok(lines) => lines,
            Err(d) => return render::render(&self.prog.sources, &[d]),
        };
        let mut items = Vec::new();
        let mut stmts = Vec::new();
        for l in lines {
            match l {
                ReplLine::Item(i) => items.push(i),
                ReplLine::Stmt(s) => stmts.push(s),
            }
        }
        let mut out = String::new();
        if !items.is_empty() {
            out += &self.define(items, &name);
        }
        if !stmts.is_empty() {
            out += &self.run(stmts);
        }
        out
    }

    fn define(&mut self, items: Vec<ast::Item>, name: &str) -> String {
        let mut diags = Vec::new();
        let mut out = String::new();
        let mut plain = Vec::new();
        for item in items {
            match &item {
                ast::Item::Use(u) => {
                    let mut loader = FsLoader;
                    let path = Path::new(&u.path);
                    match std::fs::read_to_string(path) {
                        Ok(text) => diags.extend(self.prog.add_source(path, text, &mut loader)),
                        Err(e) => {
                            let _ = writeln!(out, "cannot read `{}`: {e}", u.path);
                        }
                    }
                }
                ast::Item::Model(m) => {
                    let _ = writeln!(out, "defined model {}", m.name.name);
                    plain.push(item);
                }
                ast::Item::Fn(f) => {
                    let _ = writeln!(out, "defined fn {}", f.name.name);
                    plain.push(item);
                }
                ast::Item::Data(_) | ast::Item::Train(_) => {
                    let _ = writeln!(out, "data and train blocks are for `nnc run`; ignored in {name}");
                }
            }
        }
        self.prog.add_items(plain, false, &mut diags);
        diags.extend(
            crate::sema::check(&self.prog)
                .into_iter()
                .filter(|d| d.primary_span().is_some_and(|s| self.is_latest(s.file))),
        );
        if diags.iter().any(|d| d.is_error()) {
            return render::render(&self.prog.sources, &diags);
        }
        out
    }

    fn is_latest(&self, file: crate::diag::FileId) -> bool {
        self.prog.sources.get(file).name == format!("<repl:{}>", self.n_lines)
    }

    /// Replays the history, then runs `stmts`; keeps them if they succeed.
    fn run(&mut self, stmts: Vec<ast::Stmt>) -> String {
        let mut el = Elaborator::lower(&self.prog, false);
        let mut frame = Frame::new(None);
        for s in &self.history {
            exec(&mut el, s, &mut frame);
        }
        let base = el.diags.len();
        let mut shown = Vec::new();
        let mut accepted = Vec::new();
        for s in stmts {
            let s = as_declaration(s, &frame);
            if let Some(v) = exec(&mut el, &s, &mut frame) {
                shown.push(v);
            }
            // An expression statement changes nothing later inputs can see.
            if !matches!(s, ast::Stmt::Expr(_)) {
                accepted.push(s);
            }
        }
        if el.diags.len() > base {
            return render::render(&self.prog.sources, &el.diags[base..]);
        }
        let out = show(&el, &shown);
        self.history.extend(accepted);
        out
    }

    /// `:shape EXPR` (checked, not evaluated) and `:graph EXPR`.
    fn inspect(&mut self, cmd: &str, expr: &str) -> String {
        self.n_lines += 1;
        let file = self.prog.sources.add(format!("<repl:{}>", self.n_lines), expr.to_string());
        let stmt = match parse_repl(file, expr) {
            Ok(mut lines) if lines.len() == 1 => match lines.pop() {
                Some(ReplLine::Stmt(ast::Stmt::Expr(e))) => e,
                _ => return format!("`:{cmd}` takes one expression"),
            },
            Ok(_) => return format!("`:{cmd}` takes one expression"),
            Err(d) => return render::render(&self.prog.sources, &[d]),
        };
        let mut el = Elaborator::lower(&self.prog, false);
        let mut frame = Frame::new(None);
        for s in &self.history {
            exec(&mut el, s, &mut frame);
        }
        let v = el.expr(&stmt, &mut frame);
        if el.failed() {
            return render::render(&self.prog.sources, &el.diags);
        }
        match (cmd, v) {
            ("shape", Value::Tensor(t)) => format!("{}{}\n", t.dtype, show_shape(&t.shape)),
            ("graph", Value::Tensor(t)) => {
                let Some((mut g, [root])) = el.finish([&t]) else {
                    return render::render(&self.prog.sources, &el.diags);
                };
                // Keep only what the expression depends on.
                let mut needed = std::collections::HashSet::from([root]);
                let mut stack = vec![root];
                while let Some(n) = stack.pop() {
                    for o in g.operands(n) {
                        if needed.insert(o) {
                            stack.push(o);
                        }
                    }
                }
                for n in g.node_ids() {
                    if !needed.contains(&n) {
                        g.remove(n);
                    }
                }
                g.add_output("value", root);
                crate::graph::dump::text(&g)
            }
            (_, other) => format!("{}\n", other.describe()),
        }
    }
}

/// `x = v` for a name not yet declared declares it, as in most REPLs.
fn as_declaration(s: ast::Stmt, frame: &Frame) -> ast::Stmt {
    match s {
        ast::Stmt::Assign { name, value, span } if !frame.has(&name.name) => {
            ast::Stmt::Let { name, value, span }
        }
        other => other,
    }
}

/// Executes one statement; returns the name and value to show, if any.
fn exec(el: &mut Elaborator<'_>, s: &ast::Stmt, frame: &mut Frame) -> Option<(String, Value)> {
    match s {
        ast::Stmt::Let { name, value, .. } | ast::Stmt::Assign { name, value, .. } => {
            el.name_next_layer(Some(name.name.clone()));
            let v = el.expr(value, frame);
            el.name_next_layer(None);
            if !frame.set(&name.name, v.clone()) {
                frame.define(&name.name, v.clone());
            }
            Some((name.name.clone(), v))
        }
        ast::Stmt::Expr(e) => {
            el.name_next_layer(Some("_".into()));
            let v = el.expr(e, frame);
            el.name_next_layer(None);
            Some((String::new(), v))
        }
        ast::Stmt::For { .. } => {
            el.stmt(s, frame);
            None
        }
    }
}

/// Formats shown values; tensors are computed on the interpreter, through
/// the compile driver like every other graph: each shown tensor becomes an
/// output of the session's graph.
fn show(el: &Elaborator<'_>, shown: &[(String, Value)]) -> String {
    let mut out = String::new();
    let values = el.graph().and_then(|g| {
        let mut g = g.clone();
        for (i, (_, v)) in shown.iter().enumerate() {
            if let Value::Tensor(TensorVal { node: Some(n), .. }) = v {
                g.add_output(format!("shown{i}"), *n);
            }
        }
        if g.outputs().is_empty() {
            return None;
        }
        let mut env = Env::new(0);
        env.params = trainer::init_params(&el.params, 0).into_iter().collect();
        let mut exe = backend::compile(&Interp, &g).ok()?;
        exe.run(&mut env, false).ok()
    });
    for (i, (name, v)) in shown.iter().enumerate() {
        let prefix = if name.is_empty() { String::new() } else { format!("{name} = ") };
        let text = match v {
            Value::Tensor(t) => match values.as_ref().and_then(|vals| vals.get(&format!("shown{i}"))) {
                Some(value) => format_tensor(value),
                None => format!("{}{}", t.dtype, show_shape(&t.shape)),
            },
            Value::Layer(id) => {
                let inst = &el.layers[id.0 as usize];
                let params: Vec<String> = el
                    .params
                    .iter()
                    .filter(|p| p.name.starts_with(&format!("{}.", inst.path)))
                    .map(|p| format!("{} {}", p.name, p.shape))
                    .collect();
                format!(
                    "layer {} with {}",
                    inst.model.name.name,
                    if params.is_empty() { "no parameters".into() } else { params.join(", ") }
                )
            }
            Value::Int(d) => d.to_string(),
            Value::Float(x) => format!("{x}"),
            Value::Bool(b) => b.to_string(),
            Value::Str(s) => format!("{s:?}"),
            Value::Func(Callable::Fn { def, .. }) => format!("fn {}", def.name.name),
            other => other.describe(),
        };
        let _ = writeln!(out, "{prefix}{text}");
    }
    out
}

/// `f32[2,3] [[...], [...]]`, eliding the middle of long dimensions.
pub fn format_tensor(t: &Tensor) -> String {
    fn rec(out: &mut String, t: &Tensor, dim: usize, offset: usize) {
        let dims = &t.shape.0;
        if dim == dims.len() {
            let _ = write!(out, "{}", fmt_num(t.data[offset]));
            return;
        }
        let n = dims[dim];
        let stride: usize = dims[dim + 1..].iter().product();
        out.push('[');
        let shown: Vec<usize> = if n > 6 { (0..3).chain(n - 3..n).collect() } else { (0..n).collect() };
        for (k, &i) in shown.iter().enumerate() {
            if k > 0 {
                out.push_str(if dim + 1 == dims.len() { ", " } else { ",\n " });
                if dim + 1 < dims.len() {
                    out.push_str(&" ".repeat(dim));
                }
            }
            if n > 6 && k == 3 {
                out.push_str(if dim + 1 == dims.len() { "..., " } else { "...,\n " });
            }
            rec(out, t, dim + 1, offset + i * stride);
        }
        out.push(']');
    }
    let mut out = format!("f32{} ", t.shape);
    rec(&mut out, t, 0, 0);
    out
}

fn fmt_num(x: f32) -> String {
    if x == x.trunc() && x.abs() < 1e6 {
        format!("{x:.0}")
    } else if x.abs() >= 1e-3 && x.abs() < 1e4 {
        format!("{x:.4}")
    } else {
        format!("{x:.3e}")
    }
}

/// True while brackets opened in `text` are not yet closed (more lines to read).
fn incomplete(text: &str) -> bool {
    let mut depth = 0i32;
    let mut in_str = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => in_str = !in_str,
            '\\' if in_str => {
                chars.next();
            }
            '/' if !in_str && chars.peek() == Some(&'/') => while chars.next().is_some_and(|c| c != '\n') {},
            '(' | '[' | '{' if !in_str => depth += 1,
            ')' | ']' | '}' if !in_str => depth -= 1,
            _ => {}
        }
    }
    depth > 0
}

/// Runs the interactive loop on the terminal, or over standard input's lines.
pub fn run(console: &mut Console) -> Outcome {
    let mut session = Session::new();
    let mut pending = String::new();
    let mut out = String::new();
    let emit = |text: &str, out: &mut String| {
        if text.is_empty() {
            return;
        }
        if console.live {
            print!("{text}");
            if !text.ends_with('\n') {
                println!();
            }
        } else {
            out.push_str(text);
            if !text.ends_with('\n') {
                out.push('\n');
            }
        }
    };
    use std::io::IsTerminal as _;
    if console.live && std::io::stdin().is_terminal() {
        let mut rl = match rustyline::DefaultEditor::new() {
            Ok(rl) => rl,
            Err(e) => {
                let d = crate::diag::Diagnostic::error_nowhere(
                    crate::diag::Code::BACKEND,
                    format!("cannot start the line editor: {e}"),
                );
                return Outcome { stdout: String::new(), diags: vec![d], sources: SourceMap::default() };
            }
        };
        println!("nnc repl — `:help` for help, Ctrl-D to leave");
        loop {
            let prompt = if pending.is_empty() { "nn> " } else { "..> " };
            match rl.readline(prompt) {
                Ok(line) => {
                    pending.push_str(&line);
                    pending.push('\n');
                    if incomplete(&pending) {
                        continue;
                    }
                    let _ = rl.add_history_entry(pending.trim_end());
                    if matches!(pending.trim(), ":quit" | ":q") {
                        break;
                    }
                    let text = session.eval(&pending);
                    emit(&text, &mut out);
                    pending.clear();
                }
                Err(rustyline::error::ReadlineError::Interrupted) => pending.clear(),
                Err(_) => break,
            }
        }
    } else {
        let mut input = String::new();
        let _ = std::io::Read::read_to_string(&mut std::io::stdin(), &mut input);
        for line in input.lines() {
            pending.push_str(line);
            pending.push('\n');
            if incomplete(&pending) {
                continue;
            }
            if matches!(pending.trim(), ":quit" | ":q") {
                break;
            }
            let text = session.eval(&pending);
            emit(&text, &mut out);
            pending.clear();
        }
    }
    Outcome { stdout: out, diags: Vec::new(), sources: SourceMap::default() }
}
