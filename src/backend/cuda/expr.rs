//! Index expressions, guards and the scalar expressions of a loop kernel
//! as PTX: indices are `s64` (floor division and Euclidean remainder, as
//! `IExpr::eval`), values are `f32` registers.

use std::collections::HashMap;

use super::EmitError;
use super::maths;
use super::module::{Body, f32_imm};
use super::rand;
use crate::graph::{BinaryOp, UnaryOp};
use crate::kernel::ir::{AccId, Atom, Cond, Expr, ExprId, IExpr, LoopKernel, Var};

/// The registers of loop variables (`s64`) and accumulators (`f32`) in scope.
pub(crate) struct Scope {
    /// Register of each variable that has a value here.
    pub vars: Vec<Option<String>>,
    /// Register of each accumulator already defined.
    pub accs: HashMap<AccId, String>,
}

impl Scope {
    fn var(&self, v: Var) -> Result<&String, EmitError> {
        self.vars
            .get(v.0 as usize)
            .and_then(|r| r.as_ref())
            .ok_or_else(|| EmitError(format!("variable {v} is used outside its loop")))
    }
}

/// `e` as an `s64` register (a variable's own register when `e` is one;
/// callers never write to it).
pub(crate) fn iexpr(b: &mut Body, e: &IExpr, scope: &Scope) -> Result<String, EmitError> {
    let mut acc: Option<String> = None;
    for (atom, coef) in &e.terms {
        let x = atom_value(b, atom, scope)?;
        acc = Some(match (acc, *coef) {
            (None, 1) => x,
            (None, c) => {
                let d = b.rd();
                b.op(format!("mul.lo.s64 {d}, {x}, {c}"));
                d
            }
            (Some(a), 1) => {
                let d = b.rd();
                b.op(format!("add.s64 {d}, {a}, {x}"));
                d
            }
            (Some(a), c) => {
                let d = b.rd();
                b.op(format!("mad.lo.s64 {d}, {x}, {c}, {a}"));
                d
            }
        });
    }
    Ok(match acc {
        Some(a) if e.constant == 0 => a,
        Some(a) => {
            let d = b.rd();
            b.op(format!("add.s64 {d}, {a}, {}", e.constant));
            d
        }
        None => {
            let d = b.rd();
            b.op(format!("mov.s64 {d}, {}", e.constant));
            d
        }
    })
}

fn atom_value(b: &mut Body, atom: &Atom, scope: &Scope) -> Result<String, EmitError> {
    match atom {
        Atom::Var(v) => Ok(scope.var(*v)?.clone()),
        Atom::Div(e, d) => {
            let x = iexpr(b, e, scope)?;
            let (q, r, p) = (b.rd(), b.rd(), b.p());
            b.op(format!("div.s64 {q}, {x}, {d}"));
            b.op(format!("rem.s64 {r}, {x}, {d}"));
            b.op(format!("setp.lt.s64 {p}, {r}, 0"));
            b.op(format!("@{p} sub.s64 {q}, {q}, 1"));
            Ok(q)
        }
        Atom::Mod(e, d) => {
            let x = iexpr(b, e, scope)?;
            let (r, p) = (b.rd(), b.p());
            b.op(format!("rem.s64 {r}, {x}, {d}"));
            b.op(format!("setp.lt.s64 {p}, {r}, 0"));
            b.op(format!("@{p} add.s64 {r}, {r}, {d}"));
            Ok(r)
        }
    }
}

/// A predicate that holds where every condition holds (`None`: always).
pub(crate) fn conds(b: &mut Body, cs: &[Cond], scope: &Scope) -> Result<Option<String>, EmitError> {
    let mut all: Option<String> = None;
    for c in cs {
        let x = iexpr(b, &c.index, scope)?;
        let p = b.p();
        match &all {
            None => b.op(format!("setp.ge.s64 {p}, {x}, {}", c.lo)),
            Some(q) => b.op(format!("setp.ge.and.s64 {p}, {x}, {}, {q}", c.lo)),
        }
        b.op(format!("setp.lt.and.s64 {p}, {x}, {}, {p}", c.hi));
        all = Some(p);
    }
    Ok(all)
}

/// Emits every expression of `ids` (ascending, operands first) and returns
/// the register of each.
pub(crate) fn exprs(
    b: &mut Body,
    k: &LoopKernel,
    ids: &[ExprId],
    scope: &Scope,
) -> Result<HashMap<ExprId, String>, EmitError> {
    let mut vals: HashMap<ExprId, String> = HashMap::new();
    for &id in ids {
        let v = expr(b, k.expr(id), scope, &vals)?;
        vals.insert(id, v);
    }
    Ok(vals)
}

fn expr(b: &mut Body, e: &Expr, scope: &Scope, vals: &HashMap<ExprId, String>) -> Result<String, EmitError> {
    let val = |id: &ExprId| {
        vals.get(id).cloned().ok_or_else(|| EmitError(format!("expression {id} used before it")))
    };
    match e {
        Expr::Const(bits) => {
            let d = b.f();
            b.op(format!("mov.b32 {d}, 0f{bits:08X}"));
            Ok(d)
        }
        Expr::Load { buf, index, guard } => {
            let base =
                b.buffer_reg(*buf).cloned().ok_or_else(|| EmitError(format!("buffer {buf} not bound")))?;
            let p = conds(b, guard, scope)?;
            let i = iexpr(b, index, scope)?;
            let d = b.f();
            match p {
                None => {
                    let a = b.address(&base, &i);
                    b.op(format!("ld.global.f32 {d}, [{a}]"));
                }
                Some(p) => {
                    // Outside the guard the address may be out of bounds: load nothing.
                    b.op(format!("mov.b32 {d}, 0f00000000"));
                    let a = b.address(&base, &i);
                    b.op(format!("@{p} ld.global.f32 {d}, [{a}]"));
                }
            }
            Ok(d)
        }
        Expr::Index(i) => {
            let x = iexpr(b, i, scope)?;
            let d = b.f();
            b.op(format!("cvt.rn.f32.s64 {d}, {x}"));
            Ok(d)
        }
        Expr::Rand { stream, index } => {
            let key = b.key(*stream);
            let i = iexpr(b, index, scope)?;
            Ok(rand::uniform(b, &key, &i))
        }
        Expr::Acc(a) => scope
            .accs
            .get(a)
            .cloned()
            .ok_or_else(|| EmitError(format!("accumulator {a} read before its stage"))),
        Expr::Cond(cs) => {
            let d = b.f();
            match conds(b, cs, scope)? {
                None => b.op(format!("mov.b32 {d}, {}", f32_imm(1.0))),
                Some(p) => b.op(format!("selp.f32 {d}, {}, {}, {p}", f32_imm(1.0), f32_imm(0.0))),
            }
            Ok(d)
        }
        Expr::Unary(op, a) => Ok(unary(b, *op, &val(a)?)),
        Expr::Binary(op, x, y) => Ok(binary(b, *op, &val(x)?, &val(y)?)),
        Expr::Select(c, x, y) => {
            let (c, x, y) = (val(c)?, val(x)?, val(y)?);
            let (p, d) = (b.p(), b.f());
            // `c != 0`, true for NaN as in the interpreter.
            b.op(format!("setp.neu.f32 {p}, {c}, 0f00000000"));
            b.op(format!("selp.f32 {d}, {x}, {y}, {p}"));
            Ok(d)
        }
        Expr::Trunc(a) => {
            let d = b.f();
            b.op(format!("cvt.rzi.f32.f32 {d}, {}", val(a)?));
            Ok(d)
        }
    }
}

/// A unary op, as `graph::semantics::unary`.
pub(crate) fn unary(b: &mut Body, op: UnaryOp, x: &str) -> String {
    match op {
        UnaryOp::Neg => {
            let d = b.f();
            b.op(format!("neg.f32 {d}, {x}"));
            d
        }
        UnaryOp::Exp => maths::exp(b, x),
        UnaryOp::Log => maths::log(b, x),
        UnaryOp::Sqrt => {
            let d = b.f();
            b.op(format!("sqrt.rn.f32 {d}, {x}"));
            d
        }
        UnaryOp::Recip => {
            let d = b.f();
            b.op(format!("div.rn.f32 {d}, {}, {x}", f32_imm(1.0)));
            d
        }
        UnaryOp::Tanh => maths::tanh(b, x),
        UnaryOp::Sin => maths::sin_cos(b, x, "sin"),
        UnaryOp::Cos => maths::sin_cos(b, x, "cos"),
    }
}

/// A binary op, as `graph::semantics::binary`.
pub(crate) fn binary(b: &mut Body, op: BinaryOp, x: &str, y: &str) -> String {
    let d = b.f();
    let arith = |b: &mut Body, name: &str| b.op(format!("{name}.rn.f32 {d}, {x}, {y}"));
    match op {
        BinaryOp::Add => arith(b, "add"),
        BinaryOp::Sub => arith(b, "sub"),
        BinaryOp::Mul => arith(b, "mul"),
        BinaryOp::Div => arith(b, "div"),
        BinaryOp::Max => maths::max_min(b, &d, x, y, "ge"),
        BinaryOp::Min => maths::max_min(b, &d, x, y, "le"),
        BinaryOp::Pow => maths::pow(b, &d, x, y),
        BinaryOp::Lt | BinaryOp::Eq => {
            let p = b.p();
            let cmp = if op == BinaryOp::Lt { "lt" } else { "eq" };
            b.op(format!("setp.{cmp}.f32 {p}, {x}, {y}"));
            b.op(format!("selp.f32 {d}, {}, {}, {p}", f32_imm(1.0), f32_imm(0.0)));
        }
    }
    d
}
