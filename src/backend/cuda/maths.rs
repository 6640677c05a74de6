//! Elementwise maths as PTX.
//!
//! `exp` and `tanh` are `graph::semantics::mathf`'s exact sequences of
//! correctly rounded operations (`mul.rn`, `fma.rn`, `div.rn`,
//! `cvt.rni`, integer bit manipulation), so the GPU computes the
//! interpreter's bits. `max`/`min` follow `semantics::binary` (NaN if
//! either operand is, else `a >= b ? a : b`, so the sign of a zero depends
//! on operand order as there). `log`, `sin`, `cos` and `pow` have no
//! correctly rounded definition to copy (the interpreter calls the C
//! library): they use `lg2.approx`, `ex2.approx`, `sin.approx` and
//! `cos.approx`, a few ulp from the CPU (and `sin`/`cos` lose accuracy for
//! arguments far from zero). No instruction flushes subnormals (`.ftz`).

use super::module::{Body, f32_imm};
use crate::graph::semantics::mathf::{
    EXP_HI, EXP_LO, EXP_POLY, LN2_HI, LN2_LO, LOG2E, TANH_POLY, TANH_SMALL,
};

/// The canonical NaN the interpreter produces.
const NAN: &str = "0f7FC00000";

/// A register holding the constant `v`.
fn constant(b: &mut Body, v: f32) -> String {
    let d = b.f();
    b.op(format!("mov.b32 {d}, {}", f32_imm(v)));
    d
}

/// `e^x`, as `mathf::exp`.
pub(crate) fn exp(b: &mut Body, x: &str) -> String {
    // x.clamp(EXP_LO, EXP_HI): NaN stays NaN.
    let (p, c) = (b.p(), b.f());
    b.op(format!("setp.lt.f32 {p}, {x}, {}", f32_imm(EXP_LO)));
    b.op(format!("selp.f32 {c}, {}, {x}, {p}", f32_imm(EXP_LO)));
    b.op(format!("setp.gt.f32 {p}, {c}, {}", f32_imm(EXP_HI)));
    b.op(format!("selp.f32 {c}, {}, {c}, {p}", f32_imm(EXP_HI)));
    let (t, k, nk) = (b.f(), b.f(), b.f());
    b.op(format!("mul.rn.f32 {t}, {c}, {}", f32_imm(LOG2E)));
    b.op(format!("cvt.rni.f32.f32 {k}, {t}"));
    b.op(format!("neg.f32 {nk}, {k}"));
    let r = b.f();
    b.op(format!("fma.rn.f32 {r}, {nk}, {}, {c}", f32_imm(LN2_HI)));
    b.op(format!("fma.rn.f32 {r}, {nk}, {}, {r}", f32_imm(LN2_LO)));
    let poly = constant(b, EXP_POLY[0]);
    for &coef in &EXP_POLY[1..] {
        b.op(format!("fma.rn.f32 {poly}, {poly}, {r}, {}", f32_imm(coef)));
    }
    b.op(format!("fma.rn.f32 {poly}, {poly}, {r}, {}", f32_imm(1.0)));
    b.op(format!("fma.rn.f32 {poly}, {poly}, {r}, {}", f32_imm(1.0)));
    // 2^k in two halves.
    let (ki, k1, k2) = (b.r(), b.r(), b.r());
    b.op(format!("cvt.rzi.s32.f32 {ki}, {k}"));
    b.op(format!("shr.s32 {k1}, {ki}, 1"));
    b.op(format!("sub.s32 {k2}, {ki}, {k1}"));
    for h in [&k1, &k2] {
        b.op(format!("add.s32 {h}, {h}, 127"));
        b.op(format!("shl.b32 {h}, {h}, 23"));
    }
    let d = b.f();
    b.op(format!("mul.rn.f32 {d}, {poly}, {k1}"));
    b.op(format!("mul.rn.f32 {d}, {d}, {k2}"));
    d
}

/// Hyperbolic tangent, as `mathf::tanh`.
pub(crate) fn tanh(b: &mut Body, x: &str) -> String {
    let x2 = b.f();
    b.op(format!("mul.rn.f32 {x2}, {x}, {x}"));
    let q = constant(b, TANH_POLY[0]);
    for &coef in &TANH_POLY[1..] {
        b.op(format!("fma.rn.f32 {q}, {q}, {x2}, {}", f32_imm(coef)));
    }
    let (x3, small) = (b.f(), b.f());
    b.op(format!("mul.rn.f32 {x3}, {x}, {x2}"));
    b.op(format!("fma.rn.f32 {small}, {x3}, {q}, {x}"));
    let (a, a2) = (b.f(), b.f());
    b.op(format!("abs.f32 {a}, {x}"));
    b.op(format!("add.rn.f32 {a2}, {a}, {a}"));
    let e = exp(b, &a2);
    let (e1, q2, large) = (b.f(), b.f(), b.f());
    b.op(format!("add.rn.f32 {e1}, {e}, {}", f32_imm(1.0)));
    b.op(format!("div.rn.f32 {q2}, {}, {e1}", f32_imm(2.0)));
    b.op(format!("sub.rn.f32 {large}, {}, {q2}", f32_imm(1.0)));
    let (p, s, d) = (b.p(), b.f(), b.f());
    b.op(format!("setp.lt.f32 {p}, {a}, {}", f32_imm(TANH_SMALL)));
    b.op(format!("selp.f32 {s}, {small}, {large}, {p}"));
    // The magnitude of `s` with the sign of `x` (for -0 too).
    b.op(format!("copysign.f32 {d}, {x}, {s}"));
    d
}

/// Natural logarithm (approximate: `lg2.approx` times `ln 2`).
pub(crate) fn log(b: &mut Body, x: &str) -> String {
    let (t, d) = (b.f(), b.f());
    b.op(format!("lg2.approx.f32 {t}, {x}"));
    b.op(format!("mul.rn.f32 {d}, {t}, {}", f32_imm(std::f32::consts::LN_2)));
    d
}

/// `sin` or `cos` (approximate).
pub(crate) fn sin_cos(b: &mut Body, x: &str, name: &str) -> String {
    let d = b.f();
    b.op(format!("{name}.approx.f32 {d}, {x}"));
    d
}

/// `d = max(x, y)` (`cmp` = `ge`) or `min` (`le`): NaN if either is NaN,
/// else `x cmp y ? x : y`.
pub(crate) fn max_min(b: &mut Body, d: &str, x: &str, y: &str, cmp: &str) {
    let (p, q) = (b.p(), b.p());
    b.op(format!("setp.{cmp}.f32 {p}, {x}, {y}"));
    b.op(format!("selp.f32 {d}, {x}, {y}, {p}"));
    b.op(format!("setp.nan.f32 {q}, {x}, {y}"));
    b.op(format!("@{q} mov.b32 {d}, {NAN}"));
}

/// `d = x^y` (approximate: `2^(y log2 |x|)`, with the C library's signs
/// and special cases for a negative base, `y = 0` and `x = 1`).
pub(crate) fn pow(b: &mut Body, d: &str, x: &str, y: &str) {
    let (ax, l, t) = (b.f(), b.f(), b.f());
    b.op(format!("abs.f32 {ax}, {x}"));
    b.op(format!("lg2.approx.f32 {l}, {ax}"));
    b.op(format!("mul.rn.f32 {t}, {y}, {l}"));
    b.op(format!("ex2.approx.f32 {d}, {t}"));
    // A negative base: NaN unless y is an integer, negative if y is odd.
    let (yi, half, hi) = (b.f(), b.f(), b.f());
    let (neg, int, odd) = (b.p(), b.p(), b.p());
    b.op(format!("cvt.rzi.f32.f32 {yi}, {y}"));
    b.op(format!("setp.eq.f32 {int}, {yi}, {y}"));
    b.op(format!("mul.rn.f32 {half}, {y}, {}", f32_imm(0.5)));
    b.op(format!("cvt.rzi.f32.f32 {hi}, {half}"));
    b.op(format!("setp.neu.f32 {odd}, {hi}, {half}"));
    b.op(format!("setp.lt.f32 {neg}, {x}, 0f00000000"));
    let (p, nd) = (b.p(), b.f());
    b.op(format!("and.pred {p}, {neg}, {odd}"));
    b.op(format!("neg.f32 {nd}, {d}"));
    b.op(format!("@{p} mov.b32 {d}, {nd}"));
    b.op(format!("not.pred {int}, {int}"));
    b.op(format!("and.pred {p}, {neg}, {int}"));
    b.op(format!("@{p} mov.b32 {d}, {NAN}"));
    let one = f32_imm(1.0);
    b.op(format!("setp.eq.f32 {p}, {y}, 0f00000000"));
    b.op(format!("@{p} mov.b32 {d}, {one}"));
    b.op(format!("setp.eq.f32 {p}, {x}, {one}"));
    b.op(format!("@{p} mov.b32 {d}, {one}"));
}
