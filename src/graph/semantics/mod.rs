//! Scalar semantics: what each elementwise op means on one number, the
//! inline `exp` and `tanh` every back end computes with the same
//! operations ([`mathf`]), and the counter-based RNG ([`rng`]).
//!
//! This sits below every pass and back end: constant folding, fusion, the
//! interpreter and the code generators all take an op's meaning from here,
//! so they cannot disagree.

pub mod mathf;
pub mod rng;

use super::{BinaryOp, UnaryOp};

/// The value of a unary op on one element: the meaning every back end
/// implements.
pub fn unary(op: UnaryOp, x: f32) -> f32 {
    match op {
        UnaryOp::Neg => -x,
        UnaryOp::Exp => mathf::exp(x),
        UnaryOp::Log => x.ln(),
        UnaryOp::Sqrt => x.sqrt(),
        UnaryOp::Recip => 1.0 / x,
        UnaryOp::Tanh => mathf::tanh(x),
        UnaryOp::Sin => x.sin(),
        UnaryOp::Cos => x.cos(),
    }
}

/// The value of a binary op on one element (comparisons give 1.0 or 0.0;
/// `Max` and `Min` propagate NaN).
pub fn binary(op: BinaryOp, a: f32, b: f32) -> f32 {
    match op {
        BinaryOp::Add => a + b,
        BinaryOp::Sub => a - b,
        BinaryOp::Mul => a * b,
        BinaryOp::Div => a / b,
        BinaryOp::Max if a.is_nan() || b.is_nan() => f32::NAN,
        BinaryOp::Max => {
            if a >= b {
                a
            } else {
                b
            }
        }
        BinaryOp::Min if a.is_nan() || b.is_nan() => f32::NAN,
        BinaryOp::Min => {
            if a <= b {
                a
            } else {
                b
            }
        }
        BinaryOp::Pow => a.powf(b),
        BinaryOp::Lt => f32::from(u8::from(a < b)),
        BinaryOp::Eq => f32::from(u8::from(a == b)),
    }
}
