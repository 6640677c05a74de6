//! Expression lowering: each kernel expression as values of the current
//! loop body, conditions as masks, and the multiplications that fold into
//! a fused multiply-add.

use cranelift_codegen::ir::condcodes::FloatCC;
use cranelift_codegen::ir::{InstBuilder, MemFlagsData, Value, types};

use super::W;
use super::emit::Emitter;
use super::value::{Mask, Val};
use crate::backend::cpu::libm::LibFn;
use crate::graph::{BinaryOp, ReduceOp, UnaryOp};
use crate::kernel::index::IExpr;
use crate::kernel::ir::{Expr, ExprId, LoopKernel};

impl Emitter<'_> {
    pub(super) fn fma_operands(&self, e: ExprId) -> Option<(ExprId, ExprId)> {
        match self.k.expr(e) {
            Expr::Binary(BinaryOp::Mul, a, b) if self.fma && self.absorbed[e.0 as usize] => Some((*a, *b)),
            _ => None,
        }
    }

    pub(super) fn emit(&mut self, e: ExprId) -> Val {
        let k = self.k;
        match k.expr(e) {
            Expr::Const(bits) => Val::S(self.b.ins().f32const(f32::from_bits(*bits))),
            Expr::Load { buf, index, guard } => self.emit_load(*buf, index, guard),
            Expr::Index(ix) => self.per_lane_if_varying(ix, &mut |em, lane| {
                let i = em.index(ix, lane);
                em.b.ins().fcvt_from_sint(types::F32, i)
            }),
            Expr::Rand { stream, index } => {
                let key = self.keys[self.key_slot[stream]];
                self.per_lane_if_varying(index, &mut |em, lane| {
                    let i = em.index(index, lane);
                    em.uniform(key, i)
                })
            }
            Expr::Acc(a) => self.accs[a.0 as usize].expect("accumulators are read after their stage"),
            Expr::Cond(_) => {
                let m = self.mask(e);
                self.mask_value(m)
            }
            Expr::Unary(u, a) => {
                let x = self.val(*a);
                match u {
                    UnaryOp::Neg => self.map1(x, |b, v| b.ins().fneg(v)),
                    UnaryOp::Sqrt => self.map1(x, |b, v| b.ins().sqrt(v)),
                    UnaryOp::Recip => {
                        let one = Val::S(self.b.ins().f32const(1.0));
                        self.arith(BinaryOp::Div, one, x)
                    }
                    UnaryOp::Exp if self.fma => self.exp(x),
                    UnaryOp::Tanh if self.fma => self.tanh(x),
                    UnaryOp::Exp => self.call(LibFn::Exp, &[x]),
                    UnaryOp::Log => self.call(LibFn::Log, &[x]),
                    UnaryOp::Tanh => self.call(LibFn::Tanh, &[x]),
                    UnaryOp::Sin => self.call(LibFn::Sin, &[x]),
                    UnaryOp::Cos => self.call(LibFn::Cos, &[x]),
                }
            }
            Expr::Binary(op, a, b) => match op {
                BinaryOp::Add | BinaryOp::Sub => {
                    let (ra, rb) = (self.resolve(*a), self.resolve(*b));
                    if let Some((x, y)) = self.fma_operands(ra) {
                        let (x, y) = (self.val(x), self.val(y));
                        let c = self.val(rb);
                        let c = if *op == BinaryOp::Sub { self.map1(c, |b, v| b.ins().fneg(v)) } else { c };
                        return self.fma3(x, y, c);
                    }
                    if let Some((x, y)) = self.fma_operands(rb) {
                        let (x, y) = (self.val(x), self.val(y));
                        let x = if *op == BinaryOp::Sub { self.map1(x, |b, v| b.ins().fneg(v)) } else { x };
                        let c = self.val(ra);
                        return self.fma3(x, y, c);
                    }
                    let (x, y) = (self.val(ra), self.val(rb));
                    self.arith(*op, x, y)
                }
                BinaryOp::Mul | BinaryOp::Div => {
                    let (x, y) = (self.val(*a), self.val(*b));
                    self.arith(*op, x, y)
                }
                BinaryOp::Max | BinaryOp::Min => {
                    // `x >= y ? x : y` (`<=` for min), NaN if either is.
                    let (ge, gt) = if *op == BinaryOp::Max {
                        (FloatCC::GreaterThanOrEqual, FloatCC::GreaterThan)
                    } else {
                        (FloatCC::LessThanOrEqual, FloatCC::LessThan)
                    };
                    let number = |e: ExprId| matches!(self.k.expr(self.resolve(e)), Expr::Const(c) if !f32::from_bits(*c).is_nan());
                    let (a_number, b_number) = (number(*a), number(*b));
                    let (x, y) = (self.val(*a), self.val(*b));
                    if a_number {
                        // A NaN `y` fails the comparison and is chosen.
                        let m = self.fcmp(ge, x, y);
                        return self.select(m, x, y);
                    }
                    if b_number {
                        // The same as `y > x ? y : x` (ties give `x`), which
                        // chooses a NaN `x`.
                        let m = self.fcmp(gt, y, x);
                        return self.select(m, y, x);
                    }
                    let m = self.fcmp(ge, x, y);
                    let r = self.select(m, x, y);
                    let nan = self.fcmp(FloatCC::Unordered, x, x);
                    self.select(nan, x, r)
                }
                BinaryOp::Pow => {
                    let (x, y) = (self.val(*a), self.val(*b));
                    self.call(LibFn::Pow, &[x, y])
                }
                BinaryOp::Lt | BinaryOp::Eq => {
                    let m = self.mask(e);
                    self.mask_value(m)
                }
            },
            Expr::Select(c, a, b) => {
                let hoisted = self.masks.get(&self.resolve(*c)).copied().filter(|_| self.lanes == W);
                let m = match hoisted {
                    Some(v) => Mask::V(v),
                    None => self.mask(*c),
                };
                let (x, y) = (self.val(*a), self.val(*b));
                self.select(m, x, y)
            }
            Expr::Trunc(a) => {
                let x = self.val(*a);
                self.map1(x, |b, v| b.ins().trunc(v))
            }
        }
    }
    /// The condition `c != 0`, computed directly from a comparison when it is one.
    pub(super) fn mask(&mut self, c: ExprId) -> Mask {
        let c = self.resolve(c);
        match self.k.expr(c) {
            Expr::Binary(BinaryOp::Lt, a, b) => {
                let (x, y) = (self.val(*a), self.val(*b));
                self.fcmp(FloatCC::LessThan, x, y)
            }
            Expr::Binary(BinaryOp::Eq, a, b) => {
                let (x, y) = (self.val(*a), self.val(*b));
                self.fcmp(FloatCC::Equal, x, y)
            }
            Expr::Cond(cs) => {
                let Some(live) = self.live_conds(cs) else {
                    let f = self.b.ins().iconst(types::I8, 0);
                    return Mask::S(f);
                };
                if self.lanes == W && self.conds_vary(&live) {
                    let lanes: Vec<Value> = (0..W).map(|l| self.conds_true(&live, l)).collect();
                    let ones = self.b.ins().iconst(types::I32, -1);
                    let zero = self.b.ins().iconst(types::I32, 0);
                    let first = self.b.ins().select(lanes[0], ones, zero);
                    let mut v = self.b.ins().splat(types::I32X4, first);
                    for (l, &b) in lanes.iter().enumerate().skip(1) {
                        let s = self.b.ins().select(b, ones, zero);
                        v = self.b.ins().insertlane(v, s, l as u8);
                    }
                    Mask::V(self.b.ins().bitcast(
                        types::F32X4,
                        MemFlagsData::new().with_endianness(cranelift_codegen::ir::Endianness::Little),
                        v,
                    ))
                } else {
                    Mask::S(self.conds_true(&live, 0))
                }
            }
            Expr::Binary(
                BinaryOp::Add
                | BinaryOp::Sub
                | BinaryOp::Mul
                | BinaryOp::Div
                | BinaryOp::Max
                | BinaryOp::Min
                | BinaryOp::Pow,
                ..,
            )
            | Expr::Const(_)
            | Expr::Load { .. }
            | Expr::Index(_)
            | Expr::Rand { .. }
            | Expr::Acc(_)
            | Expr::Unary(..)
            | Expr::Select(..)
            | Expr::Trunc(_) => {
                let x = self.val(c);
                let zero = Val::S(self.b.ins().f32const(0.0));
                self.fcmp(FloatCC::NotEqual, x, zero)
            }
        }
    }
    /// A scalar per lane when the index varies across lanes, else one scalar.
    pub(super) fn per_lane_if_varying(
        &mut self,
        ix: &IExpr,
        f: &mut dyn FnMut(&mut Self, i64) -> Value,
    ) -> Val {
        if !self.varies(ix) {
            return Val::S(f(self, 0));
        }
        let first = f(self, 0);
        let mut v = self.b.ins().splat(types::F32X4, first);
        for l in 1..W {
            let s = f(self, l);
            v = self.b.ins().insertlane(v, s, l as u8);
        }
        Val::V(v)
    }
}

/// Multiplications used only by one addition, subtraction or sum
/// reduction, which fold into a fused multiply-add there.
pub(super) fn absorbed_muls(k: &LoopKernel) -> Vec<bool> {
    let mut uses = vec![0u32; k.exprs.len()];
    for e in &k.exprs {
        for o in e.operands() {
            uses[o.0 as usize] += 1;
        }
    }
    for s in &k.stages {
        for r in &s.reductions {
            uses[r.value.0 as usize] += 1;
        }
        for st in &s.stores {
            uses[st.value.0 as usize] += 1;
        }
    }
    let is_mul = |e: ExprId| matches!(k.expr(e), Expr::Binary(BinaryOp::Mul, ..)) && uses[e.0 as usize] == 1;
    let mut absorbed = vec![false; k.exprs.len()];
    for e in &k.exprs {
        if let Expr::Binary(BinaryOp::Add | BinaryOp::Sub, a, b) = e {
            if is_mul(*a) {
                absorbed[a.0 as usize] = true;
            } else if is_mul(*b) {
                absorbed[b.0 as usize] = true;
            }
        }
    }
    for r in k.stages.iter().flat_map(|s| &s.reductions) {
        if r.op == ReduceOp::Sum && is_mul(r.value) {
            absorbed[r.value.0 as usize] = true;
        }
    }
    absorbed
}
