//! Inline maths: `exp` and `tanh` with exactly the operations of
//! [`mathf`], and the random number generator's hash.

use cranelift_codegen::ir::condcodes::FloatCC;
use cranelift_codegen::ir::{InstBuilder, MemFlagsData, Value, types};

use super::emit::Emitter;
use super::value::Val;
use crate::graph::BinaryOp;
use crate::graph::semantics::mathf;

impl Emitter<'_> {
    /// [`mathf::exp`], operation for operation (needs fused multiply-add).
    pub(super) fn exp(&mut self, x: Val) -> Val {
        let (hi, lo) = (self.constant(mathf::EXP_HI), self.constant(mathf::EXP_LO));
        let m = self.fcmp(FloatCC::GreaterThan, x, hi);
        let x = self.select(m, hi, x);
        let m = self.fcmp(FloatCC::LessThan, x, lo);
        let x = self.select(m, lo, x);
        let log2e = self.constant(mathf::LOG2E);
        let t = self.arith(BinaryOp::Mul, x, log2e);
        let k = self.map1(t, |b, v| b.ins().nearest(v));
        let nk = self.map1(k, |b, v| b.ins().fneg(v));
        let c = self.constant(mathf::LN2_HI);
        let r = self.fma3(nk, c, x);
        let c = self.constant(mathf::LN2_LO);
        let r = self.fma3(nk, c, r);
        let mut p = self.constant(mathf::EXP_POLY[0]);
        for &c in &mathf::EXP_POLY[1..] {
            let c = self.constant(c);
            p = self.fma3(p, r, c);
        }
        let one = self.constant(1.0);
        p = self.fma3(p, r, one);
        p = self.fma3(p, r, one);
        // 2^k as two normal halves.
        let vector = matches!(p, Val::V(_)) || matches!(k, Val::V(_));
        let (ity, fty) = if vector { (types::I32X4, types::F32X4) } else { (types::I32, types::F32) };
        let kf = if vector { self.vector(k) } else { k.scalar() };
        let ki = self.b.ins().fcvt_to_sint_sat(ity, kf);
        let k1 = self.b.ins().sshr_imm_s(ki, 1);
        let k2 = self.b.ins().isub(ki, k1);
        let mut scale = |e: Value| {
            let bias = self.b.ins().iconst(types::I32, 127);
            let bias = if vector { self.b.ins().splat(ity, bias) } else { bias };
            let biased = self.b.ins().iadd(e, bias);
            let bits = self.b.ins().ishl_imm_s(biased, 23);
            let flags = MemFlagsData::new().with_endianness(cranelift_codegen::ir::Endianness::Little);
            let f = self.b.ins().bitcast(fty, flags, bits);
            if vector { Val::V(f) } else { Val::S(f) }
        };
        let (s1, s2) = (scale(k1), scale(k2));
        let y = self.arith(BinaryOp::Mul, p, s1);
        self.arith(BinaryOp::Mul, y, s2)
    }

    /// [`mathf::tanh`], operation for operation.
    pub(super) fn tanh(&mut self, x: Val) -> Val {
        let x2 = self.arith(BinaryOp::Mul, x, x);
        let mut q = self.constant(mathf::TANH_POLY[0]);
        for &c in &mathf::TANH_POLY[1..] {
            let c = self.constant(c);
            q = self.fma3(q, x2, c);
        }
        let x3 = self.arith(BinaryOp::Mul, x, x2);
        let small = self.fma3(x3, q, x);
        let a = self.map1(x, |b, v| b.ins().fabs(v));
        let a2 = self.arith(BinaryOp::Add, a, a);
        let e = self.exp(a2);
        let one = self.constant(1.0);
        let two = self.constant(2.0);
        let d = self.arith(BinaryOp::Add, e, one);
        let f = self.arith(BinaryOp::Div, two, d);
        let large = self.arith(BinaryOp::Sub, one, f);
        let limit = self.constant(mathf::TANH_SMALL);
        let m = self.fcmp(FloatCC::LessThan, a, limit);
        let r = self.select(m, small, large);
        match (r, x) {
            (Val::S(r), Val::S(x)) => Val::S(self.b.ins().fcopysign(r, x)),
            (r, x) => {
                // No vector copysign on x86-64: the magnitude's bits with
                // the sign bit of x.
                let (r, x) = (self.vector(r), self.vector(x));
                let sign = self.b.ins().f32const(-0.0);
                let sign = self.b.ins().splat(types::F32X4, sign);
                let magnitude = self.b.ins().band_not(r, sign);
                let s = self.b.ins().band(x, sign);
                Val::V(self.b.ins().bor(magnitude, s))
            }
        }
    }
    /// `rng::uniform` from the stream's per-step key and an element index.
    pub(super) fn uniform(&mut self, key: Value, index: Value) -> Value {
        let x = self.b.ins().bxor(key, index);
        let mut z = self.b.ins().iadd_imm_s(x, 0x9E37_79B9_7F4A_7C15u64 as i64);
        for (shift, mul) in [(30, 0xBF58_476D_1CE4_E5B9u64), (27, 0x94D0_49BB_1331_11EBu64)] {
            let s = self.b.ins().ushr_imm_s(z, shift);
            let t = self.b.ins().bxor(z, s);
            z = self.b.ins().imul_imm_s(t, mul as i64);
        }
        let s = self.b.ins().ushr_imm_s(z, 31);
        let h = self.b.ins().bxor(z, s);
        let top = self.b.ins().ushr_imm_s(h, 40);
        let f = self.b.ins().fcvt_from_uint(types::F32, top);
        let scale = self.b.ins().f32const(1.0 / (1u32 << 24) as f32);
        self.b.ins().fmul(f, scale)
    }
}
