//! Integer and bitwise semantics on raw register bits.
//!
//! Registers hold 32-bit values zero-extended to 64 bits, so every 32-bit result is masked
//! back to its low 32 bits. Arithmetic wraps. Shift amounts are unsigned 32-bit values and
//! clamp: shifting by the width or more gives 0 (or all sign bits for `shr.s*`). Division by
//! zero has no value here (the caller reports it); `MIN / -1` wraps to `MIN` and its
//! remainder is 0.

use std::cmp::Ordering;

use crate::ir::{Cmp, IntOp, IntUnOp, MadOp};

#[inline]
fn lo(x: u64) -> u64 {
    x & 0xFFFF_FFFF
}

#[inline]
fn s32(x: u64) -> i32 {
    x as u32 as i32
}

/// A two-operand integer operation; `None` for a division by zero.
#[inline]
pub(crate) fn binary(op: IntOp, a: u64, b: u64) -> Option<u64> {
    Some(match op {
        IntOp::Add32 => lo(a.wrapping_add(b)),
        IntOp::Add64 => a.wrapping_add(b),
        IntOp::Sub32 => lo(a.wrapping_sub(b)),
        IntOp::Sub64 => a.wrapping_sub(b),
        IntOp::MulLo32 => lo(a.wrapping_mul(b)),
        IntOp::MulLo64 => a.wrapping_mul(b),
        IntOp::MulHiS32 => lo(((s32(a) as i64 * s32(b) as i64) >> 32) as u64),
        IntOp::MulHiU32 => (a * b) >> 32,
        IntOp::MulHiS64 => ((a as i64 as i128 * b as i64 as i128) >> 64) as u64,
        IntOp::MulHiU64 => ((a as u128 * b as u128) >> 64) as u64,
        IntOp::MulWideS32 => (s32(a) as i64 * s32(b) as i64) as u64,
        IntOp::MulWideU32 => a * b,
        IntOp::DivS32 => {
            lo(s32(a).checked_div(s32(b)).or_else(|| (b != 0).then_some(i32::MIN))? as u32 as u64)
        }
        IntOp::DivU32 => a.checked_div(b)?,
        IntOp::DivS64 => (a as i64).checked_div(b as i64).or_else(|| (b != 0).then_some(i64::MIN))? as u64,
        IntOp::DivU64 => a.checked_div(b)?,
        IntOp::RemS32 => lo(s32(a).checked_rem(s32(b)).or_else(|| (b != 0).then_some(0))? as u32 as u64),
        IntOp::RemU32 => a.checked_rem(b)?,
        IntOp::RemS64 => (a as i64).checked_rem(b as i64).or_else(|| (b != 0).then_some(0))? as u64,
        IntOp::RemU64 => a.checked_rem(b)?,
        IntOp::MinS32 => s32(a).min(s32(b)) as u32 as u64,
        IntOp::MinU32 | IntOp::MinU64 => a.min(b),
        IntOp::MinS64 => (a as i64).min(b as i64) as u64,
        IntOp::MaxS32 => s32(a).max(s32(b)) as u32 as u64,
        IntOp::MaxU32 | IntOp::MaxU64 => a.max(b),
        IntOp::MaxS64 => (a as i64).max(b as i64) as u64,
        IntOp::And => a & b,
        IntOp::Or => a | b,
        IntOp::Xor => a ^ b,
        IntOp::Shl32 => {
            if b >= 32 {
                0
            } else {
                lo(a << b)
            }
        }
        IntOp::Shl64 => {
            if b >= 64 {
                0
            } else {
                a << b
            }
        }
        IntOp::ShrU32 => {
            if b >= 32 {
                0
            } else {
                a >> b
            }
        }
        IntOp::ShrS32 => (s32(a) >> b.min(31)) as u32 as u64,
        IntOp::ShrU64 => {
            if b >= 64 {
                0
            } else {
                a >> b
            }
        }
        IntOp::ShrS64 => ((a as i64) >> b.min(63)) as u64,
    })
}

/// `mad`: `a * b + c`.
#[inline]
pub(crate) fn mad(op: MadOp, a: u64, b: u64, c: u64) -> u64 {
    match op {
        MadOp::Lo32 => lo(a.wrapping_mul(b).wrapping_add(c)),
        MadOp::Lo64 => a.wrapping_mul(b).wrapping_add(c),
        MadOp::WideS32 => ((s32(a) as i64 * s32(b) as i64) as u64).wrapping_add(c),
        MadOp::WideU32 => (a * b).wrapping_add(c),
    }
}

/// A one-operand integer operation.
#[inline]
pub(crate) fn unary(op: IntUnOp, a: u64) -> u64 {
    match op {
        IntUnOp::Neg32 => lo(a.wrapping_neg()),
        IntUnOp::Neg64 => a.wrapping_neg(),
        IntUnOp::Abs32 => s32(a).wrapping_abs() as u32 as u64,
        IntUnOp::Abs64 => (a as i64).wrapping_abs() as u64,
        IntUnOp::Not32 => lo(!a),
        IntUnOp::Not64 => !a,
        IntUnOp::NotPred => a ^ 1,
    }
}

/// An integer comparison of `setp` given the ordering of the operands.
#[inline]
pub(crate) fn compare(cmp: Cmp, ord: Ordering) -> bool {
    match cmp {
        Cmp::Eq => ord == Ordering::Equal,
        Cmp::Ne => ord != Ordering::Equal,
        Cmp::Lt => ord == Ordering::Less,
        Cmp::Le => ord != Ordering::Greater,
        Cmp::Gt => ord == Ordering::Greater,
        Cmp::Ge => ord != Ordering::Less,
        // The decoder only pairs integer types with the six relations above.
        Cmp::Equ | Cmp::Neu | Cmp::Ltu | Cmp::Leu | Cmp::Gtu | Cmp::Geu | Cmp::Num | Cmp::Nan => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shifts_clamp() {
        assert_eq!(binary(IntOp::Shl32, 1, 32), Some(0));
        assert_eq!(binary(IntOp::Shl32, 1, 31), Some(0x8000_0000));
        assert_eq!(binary(IntOp::ShrS32, 0x8000_0000, 40), Some(0xFFFF_FFFF));
        assert_eq!(binary(IntOp::ShrU32, 0x8000_0000, 40), Some(0));
        assert_eq!(binary(IntOp::ShrS64, 1 << 63, 100), Some(u64::MAX));
    }

    #[test]
    fn division_edge_cases() {
        assert_eq!(binary(IntOp::DivS32, 7, 0), None);
        assert_eq!(binary(IntOp::DivS32, 0x8000_0000, 0xFFFF_FFFF), Some(0x8000_0000));
        assert_eq!(binary(IntOp::RemS32, 0x8000_0000, 0xFFFF_FFFF), Some(0));
        assert_eq!(binary(IntOp::DivS32, (-7i32) as u32 as u64, 2), Some((-3i32) as u32 as u64));
        assert_eq!(binary(IntOp::RemS32, (-7i32) as u32 as u64, 2), Some((-1i32) as u32 as u64));
    }

    #[test]
    fn high_and_wide_products() {
        assert_eq!(binary(IntOp::MulHiU32, 0xFFFF_FFFF, 0xFFFF_FFFF), Some(0xFFFF_FFFE));
        assert_eq!(binary(IntOp::MulHiS32, 0xFFFF_FFFF, 0xFFFF_FFFF), Some(0));
        assert_eq!(binary(IntOp::MulWideS32, 0xFFFF_FFFF, 3), Some((-3i64) as u64));
        assert_eq!(mad(MadOp::WideU32, 0xFFFF_FFFF, 2, 1), 0x1_FFFF_FFFF);
    }
}
