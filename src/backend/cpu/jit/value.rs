//! The value model of a loop body: scalars and `f32x4` vectors ([`Val`]),
//! conditions as `i8` booleans or vector masks ([`Mask`]), shared
//! constants and splats, and the arithmetic, comparisons and selects that
//! work on either form.

use cranelift_codegen::cursor::{Cursor, FuncCursor};
use cranelift_codegen::ir::condcodes::FloatCC;
use cranelift_codegen::ir::{InstBuilder, MemFlagsData, Value, types};
use cranelift_frontend::FunctionBuilder;

use super::emit::Emitter;
use crate::graph::BinaryOp;

/// A value of the current loop body: one `f32` for every lane, or a vector.
#[derive(Clone, Copy, Debug)]
pub(super) enum Val {
    S(Value),
    V(Value),
}

impl Val {
    /// The scalar (for values known to be one).
    pub(super) fn scalar(self) -> Value {
        match self {
            Val::S(x) => x,
            Val::V(_) => unreachable!("a vector where a scalar was expected"),
        }
    }
}

/// A condition: an `i8` boolean for every lane, or an `f32x4` of all-ones lanes.
#[derive(Clone, Copy, Debug)]
pub(super) enum Mask {
    S(Value),
    V(Value),
}

impl<'a> Emitter<'a> {
    /// An `f32` constant, made once before every loop (with its vector in a
    /// vectorised kernel) and shared by every later use.
    pub(super) fn constant(&mut self, c: f32) -> Val {
        if let Some(&x) = self.constants.get(&c.to_bits()) {
            return Val::S(x);
        }
        let vector = self.vec_var.is_some();
        let (x, v) = match self.frames.first() {
            // Before the outermost open loop, which precedes all later code.
            Some(f) => {
                let mut cur = FuncCursor::new(self.b.func).at_inst(f.entry);
                let x = cur.ins().f32const(c);
                (x, vector.then(|| cur.ins().splat(types::F32X4, x)))
            }
            // Not in a loop yet: here precedes every loop.
            None => {
                let x = self.b.ins().f32const(c);
                (x, vector.then(|| self.b.ins().splat(types::F32X4, x)))
            }
        };
        if let Some(v) = v {
            self.splats.insert(x, v);
        }
        self.constants.insert(c.to_bits(), x);
        Val::S(x)
    }

    pub(super) fn fma3(&mut self, x: Val, y: Val, c: Val) -> Val {
        match (x, y, c) {
            (Val::S(x), Val::S(y), Val::S(c)) => Val::S(self.b.ins().fma(x, y, c)),
            _ => {
                let (x, y, c) = (self.vector(x), self.vector(y), self.vector(c));
                Val::V(self.b.ins().fma(x, y, c))
            }
        }
    }

    pub(super) fn vector(&mut self, v: Val) -> Value {
        match v {
            Val::V(x) => x,
            Val::S(x) => match self.splats.get(&x) {
                Some(&v) => v,
                None => self.b.ins().splat(types::F32X4, x),
            },
        }
    }

    pub(super) fn map1(&mut self, x: Val, f: impl Fn(&mut FunctionBuilder<'a>, Value) -> Value) -> Val {
        match x {
            Val::S(v) => Val::S(f(&mut self.b, v)),
            Val::V(v) => Val::V(f(&mut self.b, v)),
        }
    }

    pub(super) fn arith(&mut self, op: BinaryOp, x: Val, y: Val) -> Val {
        let (x, y, vector) = match (x, y) {
            (Val::S(x), Val::S(y)) => (x, y, false),
            (x, y) => (self.vector(x), self.vector(y), true),
        };
        let r = match op {
            BinaryOp::Add => self.b.ins().fadd(x, y),
            BinaryOp::Sub => self.b.ins().fsub(x, y),
            BinaryOp::Mul => self.b.ins().fmul(x, y),
            BinaryOp::Div => self.b.ins().fdiv(x, y),
            BinaryOp::Max | BinaryOp::Min | BinaryOp::Pow | BinaryOp::Lt | BinaryOp::Eq => {
                unreachable!("arith handles the four operations")
            }
        };
        if vector { Val::V(r) } else { Val::S(r) }
    }

    pub(super) fn fcmp(&mut self, cc: FloatCC, x: Val, y: Val) -> Mask {
        match (x, y) {
            (Val::S(x), Val::S(y)) => Mask::S(self.b.ins().fcmp(cc, x, y)),
            (x, y) => {
                let (x, y) = (self.vector(x), self.vector(y));
                let m = self.b.ins().fcmp(cc, x, y);
                Mask::V(self.b.ins().bitcast(
                    types::F32X4,
                    MemFlagsData::new().with_endianness(cranelift_codegen::ir::Endianness::Little),
                    m,
                ))
            }
        }
    }

    pub(super) fn mask_vector(&mut self, m: Mask) -> Value {
        match m {
            Mask::V(x) => x,
            Mask::S(b) => {
                let ones = self.b.ins().iconst(types::I32, -1);
                let zero = self.b.ins().iconst(types::I32, 0);
                let s = self.b.ins().select(b, ones, zero);
                let v = self.b.ins().splat(types::I32X4, s);
                self.b.ins().bitcast(
                    types::F32X4,
                    MemFlagsData::new().with_endianness(cranelift_codegen::ir::Endianness::Little),
                    v,
                )
            }
        }
    }

    pub(super) fn mask_or(&mut self, a: Mask, b: Mask) -> Mask {
        match (a, b) {
            (Mask::S(a), Mask::S(b)) => Mask::S(self.b.ins().bor(a, b)),
            (a, b) => {
                let (a, b) = (self.mask_vector(a), self.mask_vector(b));
                Mask::V(self.b.ins().bor(a, b))
            }
        }
    }

    pub(super) fn select(&mut self, m: Mask, x: Val, y: Val) -> Val {
        match (m, x, y) {
            (Mask::S(c), Val::S(x), Val::S(y)) => Val::S(self.b.ins().select(c, x, y)),
            (Mask::S(c), x, y) => {
                let (x, y) = (self.vector(x), self.vector(y));
                Val::V(self.b.ins().select(c, x, y))
            }
            (Mask::V(c), x, y) => {
                let (x, y) = (self.vector(x), self.vector(y));
                Val::V(self.b.ins().bitselect(c, x, y))
            }
        }
    }

    pub(super) fn mask_value(&mut self, m: Mask) -> Val {
        match m {
            Mask::S(c) => {
                let one = self.b.ins().f32const(1.0);
                let zero = self.b.ins().f32const(0.0);
                Val::S(self.b.ins().select(c, one, zero))
            }
            Mask::V(c) => {
                let one = self.b.ins().f32const(1.0);
                let one = self.b.ins().splat(types::F32X4, one);
                Val::V(self.b.ins().band(c, one))
            }
        }
    }
}
