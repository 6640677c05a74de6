//! A compact, deterministic text dump of the syntax tree, one item or
//! statement per line with expressions as S-expressions:
//! `(call relu (call fc1 x))`. Used by `nnc graph --stage ast`.

use std::fmt::Write as _;

use super::ast::{Block, DimPat, Expr, ExprKind, IndexItem, Item, Module, Param, Stmt, TypeExpr, UnOp};

/// Dumps a module.
pub fn module(m: &Module) -> String {
    let mut out = String::new();
    for item in &m.items {
        match item {
            Item::Use(u) => {
                let _ = writeln!(out, "use {:?}", u.path);
            }
            Item::Model(md) => {
                let _ = writeln!(out, "model {}({})", md.name.name, params(&md.params));
                for mem in &md.members {
                    let _ = writeln!(out, "  member {} = {}", mem.name.name, expr(&mem.value));
                }
                for f in &md.fns {
                    fn_def(&mut out, f, "  ");
                }
            }
            Item::Fn(f) => fn_def(&mut out, f, ""),
            Item::Data(d) => {
                let _ = writeln!(out, "data {}", d.name.name);
                for s in &d.settings {
                    let _ = writeln!(out, "  {} = {}", s.key.name, expr(&s.value));
                }
            }
            Item::Train(t) => {
                let _ = writeln!(out, "train {} on {}", expr(&t.model), t.data.name);
                for s in &t.settings {
                    let _ = writeln!(out, "  {} = {}", s.key.name, expr(&s.value));
                }
            }
        }
    }
    out
}

fn fn_def(out: &mut String, f: &super::ast::FnDef, indent: &str) {
    let ret = f.ret.as_ref().map(|t| format!(" -> {}", ty(t))).unwrap_or_default();
    let _ = writeln!(out, "{indent}fn {}({}){ret}", f.name.name, params(&f.params));
    block(out, &f.body, &format!("{indent}  "));
}

fn block(out: &mut String, b: &Block, indent: &str) {
    for s in &b.stmts {
        match s {
            Stmt::Let { name, value, .. } => {
                let _ = writeln!(out, "{indent}let {} = {}", name.name, expr(value));
            }
            Stmt::Assign { name, value, .. } => {
                let _ = writeln!(out, "{indent}set {} = {}", name.name, expr(value));
            }
            Stmt::For { var, start, end, body, .. } => {
                let _ = writeln!(out, "{indent}for {} in {}..{}", var.name, expr(start), expr(end));
                block(out, body, &format!("{indent}  "));
            }
            Stmt::Expr(e) => {
                let _ = writeln!(out, "{indent}do {}", expr(e));
            }
        }
    }
    if let Some(r) = &b.result {
        let _ = writeln!(out, "{indent}result {}", expr(r));
    }
}

fn params(ps: &[Param]) -> String {
    ps.iter()
        .map(|p| {
            let mut s = p.name.name.clone();
            if let Some(t) = &p.ty {
                s += &format!(": {}", ty(t));
            }
            if let Some(d) = &p.default {
                s += &format!(" = {}", expr(d));
            }
            s
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn ty(t: &TypeExpr) -> String {
    match t {
        TypeExpr::Named(id) => id.name.clone(),
        TypeExpr::Tensor { dtype, dims, .. } => {
            let ds: Vec<String> = dims
                .iter()
                .map(|d| match d {
                    DimPat::Ellipsis(_) => "...".to_string(),
                    DimPat::Expr(e) => expr(e),
                })
                .collect();
            let elem = dtype.as_ref().map_or("", |d| d.name.as_str());
            format!("{elem}[{}]", ds.join(", "))
        }
    }
}

/// An expression as an S-expression.
pub fn expr(e: &Expr) -> String {
    match &e.kind {
        ExprKind::Int(n) => n.to_string(),
        ExprKind::Float(x) => format!("{x:?}"),
        ExprKind::Str(s) => format!("{s:?}"),
        ExprKind::Bool(b) => b.to_string(),
        ExprKind::Name(n) => n.clone(),
        ExprKind::List(xs) => format!("[{}]", xs.iter().map(expr).collect::<Vec<_>>().join(" ")),
        ExprKind::ListComp { elem, var, start, end } => {
            format!("[{} for {} in {}..{}]", expr(elem), var.name, expr(start), expr(end))
        }
        ExprKind::Unary { op, operand } => {
            format!("({} {})", if *op == UnOp::Neg { "neg" } else { "not" }, expr(operand))
        }
        ExprKind::Binary { op, lhs, rhs } => {
            format!("({} {} {})", op.symbol(), expr(lhs), expr(rhs))
        }
        ExprKind::Call { callee, args } => {
            let mut s = format!("(call {}", expr(callee));
            for a in args {
                match &a.name {
                    Some(k) => s += &format!(" {}={}", k.name, expr(&a.value)),
                    None => s += &format!(" {}", expr(&a.value)),
                }
            }
            s + ")"
        }
        ExprKind::Index { base, items } => {
            let its: Vec<String> = items
                .iter()
                .map(|i| match i {
                    IndexItem::At(e) => expr(e),
                    IndexItem::Ellipsis(_) => "...".into(),
                    IndexItem::Slice { start, end, step, .. } => {
                        let f = |x: &Option<Expr>| x.as_ref().map(expr).unwrap_or_default();
                        format!("{}:{}:{}", f(start), f(end), f(step))
                    }
                })
                .collect();
            format!("(index {} {})", expr(base), its.join(" "))
        }
        ExprKind::Field { base, field } => format!("(. {} {})", expr(base), field.name),
        ExprKind::If { cond, then, otherwise } => {
            let mut s = format!("(if {} {{{}}}", expr(cond), inline(then));
            if let Some(o) = otherwise {
                s += &format!(" else {{{}}}", inline(o));
            }
            s + ")"
        }
    }
}

fn inline(b: &Block) -> String {
    let mut out = String::new();
    block(&mut out, b, "");
    out.trim_end().replace('\n', "; ")
}
