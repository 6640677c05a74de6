//! f32 semantics of the PTX instructions: flush-to-zero, NaN results, `min`/`max`,
//! comparisons, conversions with their rounding modes, and the `.approx` functions.
//!
//! Arithmetic uses Rust's IEEE f32 operations (round to nearest even), which match PTX's
//! `.rn`. A NaN produced by arithmetic is the canonical NaN `0x7FFFFFFF`, as on NVIDIA GPUs;
//! `neg`, `abs` and `copysign` only touch the sign bit.

use crate::ir::{Cmp, CvtOp, FBinOp, FUnOp, IntTy, Round, TestOp};

/// The NaN NVIDIA GPUs produce.
pub(crate) const CANONICAL_NAN: u32 = 0x7FFF_FFFF;

/// Flushes a subnormal to zero of the same sign when `ftz` is set.
#[inline]
pub(crate) fn flush(x: f32, ftz: bool) -> f32 {
    if ftz && x.is_subnormal() { f32::from_bits(x.to_bits() & 0x8000_0000) } else { x }
}

/// The bits of an arithmetic result: NaNs canonical, subnormals flushed under `ftz`.
#[inline]
pub(crate) fn result(x: f32, ftz: bool) -> u64 {
    if x.is_nan() { CANONICAL_NAN as u64 } else { flush(x, ftz).to_bits() as u64 }
}

/// `min.f32`: a NaN operand yields the other operand (both NaN: NaN); `-0.0 < +0.0`.
fn min(a: f32, b: f32) -> f32 {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => f32::NAN,
        (true, false) => b,
        (false, true) => a,
        _ if a == b => {
            if a.is_sign_negative() {
                a
            } else {
                b
            }
        }
        _ => {
            if a < b {
                a
            } else {
                b
            }
        }
    }
}

/// `max.f32`: a NaN operand yields the other operand (both NaN: NaN); `+0.0 > -0.0`.
fn max(a: f32, b: f32) -> f32 {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => f32::NAN,
        (true, false) => b,
        (false, true) => a,
        _ if a == b => {
            if a.is_sign_positive() {
                a
            } else {
                b
            }
        }
        _ => {
            if a > b {
                a
            } else {
                b
            }
        }
    }
}

/// A two-operand f32 instruction on raw bits.
#[inline]
pub(crate) fn binary(op: FBinOp, ftz: bool, a: u64, b: u64) -> u64 {
    let (a, b) = (f32::from_bits(a as u32), f32::from_bits(b as u32));
    if op == FBinOp::Copysign {
        return (((b.to_bits() & 0x7FFF_FFFF) | (a.to_bits() & 0x8000_0000)) as u64) & 0xFFFF_FFFF;
    }
    let (a, b) = (flush(a, ftz), flush(b, ftz));
    let r = match op {
        FBinOp::Add => a + b,
        FBinOp::Sub => a - b,
        FBinOp::Mul => a * b,
        FBinOp::Div => a / b,
        FBinOp::Min => min(a, b),
        FBinOp::Max => max(a, b),
        FBinOp::MinNaN if a.is_nan() || b.is_nan() => f32::NAN,
        FBinOp::MaxNaN if a.is_nan() || b.is_nan() => f32::NAN,
        FBinOp::MinNaN => min(a, b),
        FBinOp::MaxNaN => max(a, b),
        FBinOp::Copysign => unreachable!("handled above"),
    };
    result(r, ftz)
}

/// `fma.rn.f32`: one rounding of `a * b + c`.
#[inline]
pub(crate) fn fma(ftz: bool, a: u64, b: u64, c: u64) -> u64 {
    let f = |x: u64| flush(f32::from_bits(x as u32), ftz);
    result(f(a).mul_add(f(b), f(c)), ftz)
}

/// Rounds an f64 holding an exact function value to f32.
fn approx(x: f32, f: fn(f64) -> f64) -> f32 {
    f(x as f64) as f32
}

/// A one-operand f32 instruction on raw bits.
#[inline]
pub(crate) fn unary(op: FUnOp, ftz: bool, a: u64) -> u64 {
    let a = flush(f32::from_bits(a as u32), ftz);
    let r = match op {
        FUnOp::Neg => return (a.to_bits() ^ 0x8000_0000) as u64,
        FUnOp::Abs => return (a.to_bits() & 0x7FFF_FFFF) as u64,
        FUnOp::Sqrt => a.sqrt(),
        FUnOp::Rcp => 1.0 / a,
        FUnOp::Ex2 => approx(a, f64::exp2),
        FUnOp::Lg2 => approx(a, f64::log2),
        FUnOp::Sin => approx(a, f64::sin),
        FUnOp::Cos => approx(a, f64::cos),
    };
    result(r, ftz)
}

/// An f32 comparison of `setp`; the `.ftz` flush applies to the operands.
#[inline]
pub(crate) fn compare(cmp: Cmp, ftz: bool, a: u64, b: u64) -> bool {
    let (a, b) = (flush(f32::from_bits(a as u32), ftz), flush(f32::from_bits(b as u32), ftz));
    let unordered = a.is_nan() || b.is_nan();
    match cmp {
        Cmp::Eq => a == b,
        Cmp::Ne => !unordered && a != b,
        Cmp::Lt => a < b,
        Cmp::Le => a <= b,
        Cmp::Gt => a > b,
        Cmp::Ge => a >= b,
        Cmp::Equ => unordered || a == b,
        Cmp::Neu => unordered || a != b,
        Cmp::Ltu => unordered || a < b,
        Cmp::Leu => unordered || a <= b,
        Cmp::Gtu => unordered || a > b,
        Cmp::Geu => unordered || a >= b,
        Cmp::Num => !unordered,
        Cmp::Nan => unordered,
    }
}

/// `testp`.
#[inline]
pub(crate) fn test(op: TestOp, a: u64) -> bool {
    let a = f32::from_bits(a as u32);
    match op {
        TestOp::NotANumber => a.is_nan(),
        TestOp::Number => !a.is_nan(),
        TestOp::Finite => a.is_finite(),
        TestOp::Infinite => a.is_infinite(),
    }
}

/// An integer converted to f32 with a directed rounding mode.
fn int_to_f32(x: i128, round: Round) -> f32 {
    let nearest = x as f32;
    // Integers of an f32 or beyond 2^24 are exact in i128, so the comparison is exact.
    let back = nearest as i128;
    match round {
        Round::Nearest => nearest,
        Round::Zero if back.abs() > x.abs() => {
            if x > 0 {
                nearest.next_down()
            } else {
                nearest.next_up()
            }
        }
        Round::Down if back > x => nearest.next_down(),
        Round::Up if back < x => nearest.next_up(),
        _ => nearest,
    }
}

/// An f32 rounded to an integral f32.
fn round_integral(x: f32, round: Round) -> f32 {
    match round {
        Round::Nearest => x.round_ties_even(),
        Round::Zero => x.trunc(),
        Round::Down => x.floor(),
        Round::Up => x.ceil(),
    }
}

/// Sign-extends or zero-extends a register value by its integer type.
fn int_value(ty: IntTy, a: u64) -> i128 {
    match ty {
        IntTy::U32 => a as u32 as i128,
        IntTy::S32 => a as u32 as i32 as i128,
        IntTy::U64 => a as i128,
        IntTy::S64 => a as i64 as i128,
    }
}

/// The register bits of an integer of type `ty` (32-bit values zero-extended).
fn int_bits(ty: IntTy, v: i128) -> u64 {
    match ty {
        IntTy::U32 | IntTy::S32 => v as u32 as u64,
        IntTy::U64 | IntTy::S64 => v as u64,
    }
}

/// `cvt` on raw register bits.
pub(crate) fn convert(op: CvtOp, ftz: bool, a: u64) -> u64 {
    match op {
        CvtOp::F32FromInt(ty, round) => int_to_f32(int_value(ty, a), round).to_bits() as u64,
        CvtOp::IntFromF32(ty, round) => {
            let x = round_integral(f32::from_bits(a as u32), round);
            // Rust's float-to-int `as` saturates and maps NaN to 0, exactly as PTX specifies.
            match ty {
                IntTy::U32 => (x as u32) as u64,
                IntTy::S32 => (x as i32) as u32 as u64,
                IntTy::U64 => x as u64,
                IntTy::S64 => (x as i64) as u64,
            }
        }
        CvtOp::F32Round(round) => {
            let x = flush(f32::from_bits(a as u32), ftz);
            result(round_integral(x, round), ftz)
        }
        CvtOp::IntFromInt { dst, src } => int_bits(dst, int_value(src, a)),
        CvtOp::F64FromF32 => {
            let x = flush(f32::from_bits(a as u32), ftz);
            if x.is_nan() { 0x7FFF_FFFF_FFFF_FFFF } else { (x as f64).to_bits() }
        }
        CvtOp::F32FromF64 => {
            let x = f64::from_bits(a) as f32;
            result(x, ftz)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bits(x: f32) -> u64 {
        x.to_bits() as u64
    }

    #[test]
    fn min_max_nan_and_signed_zero_rules() {
        let nan = bits(f32::NAN);
        assert_eq!(binary(FBinOp::Min, false, nan, bits(2.0)), bits(2.0));
        assert_eq!(binary(FBinOp::Max, false, bits(2.0), nan), bits(2.0));
        assert_eq!(binary(FBinOp::Min, false, nan, nan), CANONICAL_NAN as u64);
        assert_eq!(binary(FBinOp::MinNaN, false, nan, bits(2.0)), CANONICAL_NAN as u64);
        assert_eq!(binary(FBinOp::Min, false, bits(0.0), bits(-0.0)), bits(-0.0));
        assert_eq!(binary(FBinOp::Max, false, bits(-0.0), bits(0.0)), bits(0.0));
    }

    #[test]
    fn directed_int_to_float_rounding() {
        let x = (1i128 << 24) + 1; // halfway between two f32 values
        assert_eq!(int_to_f32(x, Round::Nearest), 16777216.0);
        assert_eq!(int_to_f32(x, Round::Up), 16777218.0);
        assert_eq!(int_to_f32(x, Round::Down), 16777216.0);
        assert_eq!(int_to_f32(-x, Round::Zero), -16777216.0);
        assert_eq!(int_to_f32(-x, Round::Down), -16777218.0);
        assert_eq!(int_to_f32(u64::MAX as i128, Round::Zero), 18446742974197923840.0);
    }

    #[test]
    fn ftz_flushes_inputs_and_results() {
        let tiny = f32::MIN_POSITIVE / 2.0;
        assert_eq!(binary(FBinOp::Add, true, bits(tiny), bits(0.0)), bits(0.0));
        assert_eq!(binary(FBinOp::Add, false, bits(tiny), bits(0.0)), bits(tiny));
        assert_eq!(binary(FBinOp::Mul, true, bits(-f32::MIN_POSITIVE), bits(0.5)), bits(-0.0));
        assert_eq!(copysign_of(1.0, -2.0), 2.0);
        assert_eq!(copysign_of(-0.0, 3.0), -3.0);
    }

    fn copysign_of(sign: f32, magnitude: f32) -> f32 {
        f32::from_bits(binary(FBinOp::Copysign, false, bits(sign), bits(magnitude)) as u32)
    }
}
