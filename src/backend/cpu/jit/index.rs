//! Affine index arithmetic: the value of an index expression at a lane,
//! its parts in outer variables hoisted before the inner loop, floor
//! division and modulo, and index conditions.

use cranelift_codegen::cursor::{Cursor, FuncCursor};
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{InstBuilder, Value, types};

use super::W;
use super::emit::Emitter;
use crate::kernel::index::{Atom, IExpr, Var};
use crate::kernel::ir::Cond;

impl Emitter<'_> {
    pub(super) fn varies(&self, ix: &IExpr) -> bool {
        self.lanes == W && self.vec_var.is_some_and(|v| ix.mentions(v))
    }

    pub(super) fn conds_vary(&self, cs: &[Cond]) -> bool {
        cs.iter().any(|c| self.varies(&c.index))
    }

    /// All conditions hold at `lane` (an `i8`).
    pub(super) fn conds_true(&mut self, cs: &[Cond], lane: i64) -> Value {
        let mut acc = self.b.ins().iconst(types::I8, 1);
        for c in cs {
            let x = self.index(&c.index, lane);
            let a = self.b.ins().icmp_imm_s(IntCC::SignedGreaterThanOrEqual, x, c.lo);
            let b = self.b.ins().icmp_imm_s(IntCC::SignedLessThan, x, c.hi);
            let both = self.b.ins().band(a, b);
            acc = self.b.ins().band(acc, both);
        }
        acc
    }

    /// The loop (position in `frames`) that binds `v`.
    pub(super) fn frame_of(&self, v: Var) -> usize {
        self.frames.iter().rposition(|f| f.var == v).expect("variables are bound by their loops")
    }

    /// The constant and the terms of `ix` in variables of loops outside the
    /// innermost loop `ix` depends on (other than the vectorised variable),
    /// computed once before that loop starts rather than on every
    /// iteration; with the terms left to compute in place.
    pub(super) fn hoisted_base(&mut self, ix: &IExpr) -> (Option<Value>, Vec<(Atom, i64)>) {
        let frame = |e: &Self, a: &Atom| a.vars().into_iter().map(|v| e.frame_of(v)).max();
        let Some(inner) = ix.terms.iter().filter_map(|(a, _)| frame(self, a)).max() else {
            return (None, ix.terms.clone());
        };
        let (outer, rest): (Vec<_>, Vec<_>) = ix.terms.iter().cloned().partition(|(a, _)| match a {
            Atom::Var(v) => self.vec_var != Some(*v) && self.frame_of(*v) < inner,
            Atom::Div(..) | Atom::Mod(..) => false,
        });
        if outer.is_empty() {
            return (None, ix.terms.clone());
        }
        let base = IExpr { terms: outer, constant: ix.constant };
        if let Some(&v) = self.frames[inner].hoisted.get(&base) {
            return (Some(v), rest);
        }
        let vals: Vec<(Value, i64)> = base
            .terms
            .iter()
            .map(|(a, c)| match a {
                Atom::Var(v) => (self.vars[v.0 as usize].expect("bound by an outer loop"), *c),
                Atom::Div(..) | Atom::Mod(..) => unreachable!("only variables are hoisted"),
            })
            .collect();
        // Insert right before the jump into the inner loop, where every
        // outer variable is defined.
        let mut cur = FuncCursor::new(self.b.func).at_inst(self.frames[inner].entry);
        let mut acc = cur.ins().iconst(types::I64, base.constant);
        for (x, c) in vals {
            let t = if c == 1 { x } else { cur.ins().imul_imm_s(x, c) };
            acc = cur.ins().iadd(acc, t);
        }
        self.frames[inner].hoisted.insert(base, acc);
        (Some(acc), rest)
    }

    /// The value of an index at `lane` of the current vector (an `i64`).
    pub(super) fn index(&mut self, ix: &IExpr, lane: i64) -> Value {
        // The same index in the same loop body (loads and stores of
        // several buffers at one element) is computed once.
        if let Some(&v) = self.frames.last().and_then(|f| f.indices.get(&(ix.clone(), lane))) {
            return v;
        }
        let v = self.compute_index(ix, lane);
        if let Some(f) = self.frames.last_mut() {
            f.indices.insert((ix.clone(), lane), v);
        }
        v
    }

    pub(super) fn compute_index(&mut self, ix: &IExpr, lane: i64) -> Value {
        let (base, terms) = self.hoisted_base(ix);
        let mut acc = match base {
            Some(b) => b,
            None => self.b.ins().iconst(types::I64, ix.constant),
        };
        for (atom, c) in &terms {
            let x = match atom {
                Atom::Var(v) => {
                    let x = self.vars[v.0 as usize].expect("variables are bound by their loops");
                    if lane != 0 && self.vec_var == Some(*v) && self.lanes == W {
                        self.b.ins().iadd_imm_s(x, lane)
                    } else {
                        x
                    }
                }
                Atom::Div(inner, d) => {
                    let x = self.index(inner, lane);
                    self.floor_divmod(x, *d).0
                }
                Atom::Mod(inner, d) => {
                    let x = self.index(inner, lane);
                    self.floor_divmod(x, *d).1
                }
            };
            let t = if *c == 1 { x } else { self.b.ins().imul_imm_s(x, *c) };
            acc = self.b.ins().iadd(acc, t);
        }
        acc
    }

    pub(super) fn floor_divmod(&mut self, x: Value, d: i64) -> (Value, Value) {
        let q = self.b.ins().sdiv_imm_s(x, d);
        let r = self.b.ins().srem_imm_s(x, d);
        let neg = self.b.ins().icmp_imm_s(IntCC::SignedLessThan, r, 0);
        let q1 = self.b.ins().iadd_imm_s(q, -1);
        let r1 = self.b.ins().iadd_imm_s(r, d);
        (self.b.ins().select(neg, q1, q), self.b.ins().select(neg, r1, r))
    }

    /// The vectorised variable's coefficient when `ix` is affine in it and
    /// the lane offsets fit an immediate.
    pub(super) fn affine_stride(&self, ix: &IExpr) -> Option<i64> {
        let v = self.vec_var?;
        let c = ix.coefficient(v);
        (!ix.mentions_nonlinearly(v) && (4 * c * W).abs() < i32::MAX as i64).then_some(c)
    }
}
