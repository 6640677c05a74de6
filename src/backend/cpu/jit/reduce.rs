//! Reductions: accumulator variables, their identities, how a value is
//! combined into them (a fused multiply-add for a sum of products), and
//! the fixed-order combination of vector lanes of partial sums.

use cranelift_codegen::ir::condcodes::FloatCC;
use cranelift_codegen::ir::{InstBuilder, Value, types};
use cranelift_frontend::Variable;

use super::W;
use super::emit::Emitter;
use super::value::Val;
use crate::graph::{BinaryOp, ReduceOp};
use crate::kernel::ir::{ExprId, Stage};

/// Accumulator variables of one reduction in one stage instance.
pub(super) struct AccVars {
    /// The reduction.
    pub(super) op: ReduceOp,
    /// Scalar accumulator, or the vector one when lanes are points.
    pub(super) main: Variable,
    /// Partial sums of the vectorised inner loop.
    pub(super) partial: Option<Variable>,
}

impl Emitter<'_> {
    /// Declares the accumulators of stage `s`'s reductions, each set to its
    /// identity (and its vector of partial sums when an inner variable is
    /// vectorised).
    pub(super) fn open_accumulators(&mut self, s: &Stage) -> Vec<AccVars> {
        let mut vars = Vec::new();
        for r in &s.reductions {
            let init = self.identity(r.op);
            let main = if self.lanes == W {
                let var = self.b.declare_var(types::F32X4);
                let x = self.vector(init);
                self.b.def_var(var, x);
                var
            } else {
                let var = self.b.declare_var(types::F32);
                let Val::S(x) = init else { unreachable!("identities are scalars") };
                self.b.def_var(var, x);
                var
            };
            let partial = (self.inner_mode && self.vec_var.is_some()).then(|| {
                let var = self.b.declare_var(types::F32X4);
                let x = self.vector(init);
                self.b.def_var(var, x);
                var
            });
            vars.push(AccVars { op: r.op, main, partial });
        }
        vars
    }

    /// Reads stage `s`'s accumulators after its loops, combining the
    /// partial sums' lanes in a fixed order.
    pub(super) fn close_accumulators(&mut self, s: &Stage, vars: &[AccVars]) {
        for (r, av) in s.reductions.iter().zip(vars) {
            let main = self.b.use_var(av.main);
            let mut res = if self.lanes == W { Val::V(main) } else { Val::S(main) };
            if let Some(p) = av.partial {
                let p = self.b.use_var(p);
                let h = self.horizontal(av.op, p);
                res = self.combine(av.op, Val::S(h), res);
            }
            self.accs[r.acc.0 as usize] = Some(res);
        }
    }

    pub(super) fn emit_accumulate(&mut self, value: ExprId, av: &AccVars) {
        let target = match (av.partial, self.lanes) {
            (Some(p), W) => p,
            _ => av.main,
        };
        let acc = self.b.use_var(target);
        let vector = self.lanes == W;
        let value = self.resolve(value);
        let new = match (av.op, self.fma_operands(value)) {
            (ReduceOp::Sum, Some((x, y))) => {
                let (x, y) = (self.val(x), self.val(y));
                if vector {
                    let (x, y) = (self.vector(x), self.vector(y));
                    self.b.ins().fma(x, y, acc)
                } else {
                    let (Val::S(x), Val::S(y)) = (x, y) else { unreachable!("scalar body") };
                    self.b.ins().fma(x, y, acc)
                }
            }
            (ReduceOp::Sum, None) | (ReduceOp::Max, _) => {
                let v = self.val(value);
                let a = if vector { Val::V(acc) } else { Val::S(acc) };
                match self.combine(av.op, a, v) {
                    Val::S(x) | Val::V(x) => x,
                }
            }
        };
        self.b.def_var(target, new);
    }

    pub(super) fn identity(&mut self, op: ReduceOp) -> Val {
        let v = match op {
            ReduceOp::Sum => 0.0,
            ReduceOp::Max => f32::NEG_INFINITY,
        };
        Val::S(self.b.ins().f32const(v))
    }

    pub(super) fn combine(&mut self, op: ReduceOp, acc: Val, v: Val) -> Val {
        match op {
            ReduceOp::Sum => self.arith(BinaryOp::Add, acc, v),
            ReduceOp::Max => {
                // acc = v > acc || v is NaN ? v : acc, as the interpreter does.
                let gt = self.fcmp(FloatCC::GreaterThan, v, acc);
                let nan = self.fcmp(FloatCC::Unordered, v, v);
                let m = self.mask_or(gt, nan);
                self.select(m, v, acc)
            }
        }
    }

    pub(super) fn horizontal(&mut self, op: ReduceOp, v: Value) -> Value {
        let lanes: Vec<Value> = (0..W as u8).map(|l| self.b.ins().extractlane(v, l)).collect();
        match op {
            ReduceOp::Sum => {
                let a = self.b.ins().fadd(lanes[0], lanes[1]);
                let b = self.b.ins().fadd(lanes[2], lanes[3]);
                self.b.ins().fadd(a, b)
            }
            ReduceOp::Max => {
                let mut acc = Val::S(lanes[0]);
                for &l in &lanes[1..] {
                    acc = self.combine(op, acc, Val::S(l));
                }
                let Val::S(x) = acc else { unreachable!("scalar lanes") };
                x
            }
        }
    }
}
