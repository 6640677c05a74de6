//! `exp` and `tanh` as nnc computes them, in both back ends.
//!
//! The interpreter calls these functions; the CPU back end generates the
//! same sequence of operations inline, four lanes at a time, so the two
//! agree bit for bit while the generated code needs no call per lane
//! (calling the C library's `expf` and `tanhf` lane by lane was a quarter
//! of an LSTM training step). Only operations with one correctly rounded
//! result are used: `+`, `*`, `/`, fused multiply-add, rounding to the
//! nearest even integer, integer conversion and bit manipulation.
//!
//! Accuracy, checked against `f64` in the tests: `exp` within 2 ulp on the
//! normal range, `tanh` within 4 ulp.

/// `log2(e)`.
pub const LOG2E: f32 = std::f32::consts::LOG2_E;
/// `ln 2` split: the `f32` nearest to it, then the remainder.
pub const LN2_HI: f32 = std::f32::consts::LN_2;
/// See [`LN2_HI`].
pub const LN2_LO: f32 = -1.904_654_3e-9;
/// `exp(r)` on `|r| <= ln(2) / 2`: Taylor coefficients `1/7!` down to
/// `1/2!`, then `1` twice (Horner with fused multiply-adds).
pub const EXP_POLY: [f32; 6] = [1.0 / 5040.0, 1.0 / 720.0, 1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0, 0.5];
/// Inputs are clamped to `[EXP_LO, EXP_HI]`: beyond, the result is already
/// `0` or infinite.
pub const EXP_LO: f32 = -104.0;
/// See [`EXP_LO`].
pub const EXP_HI: f32 = 89.0;
/// Below this magnitude `tanh` is its Taylor series (to `x^11`).
pub const TANH_SMALL: f32 = 0.3;
/// `tanh(x) = x + x^3 (T3 + x^2 (T5 + ...))`: `T11` down to `T3`.
pub const TANH_POLY: [f32; 5] = [-1382.0 / 155_925.0, 62.0 / 2835.0, -17.0 / 315.0, 2.0 / 15.0, -1.0 / 3.0];

/// `e^x`.
pub fn exp(x: f32) -> f32 {
    // NaN stays NaN.
    let x = x.clamp(EXP_LO, EXP_HI);
    let k = (x * LOG2E).round_ties_even();
    let r = (-k).mul_add(LN2_HI, x);
    let r = (-k).mul_add(LN2_LO, r);
    let mut p = EXP_POLY[0];
    for &c in &EXP_POLY[1..] {
        p = p.mul_add(r, c);
    }
    p = p.mul_add(r, 1.0);
    p = p.mul_add(r, 1.0);
    // 2^k in two halves, each a normal number for every clamped input.
    let k = k as i32;
    let k1 = k >> 1;
    let k2 = k - k1;
    p * pow2(k1) * pow2(k2)
}

/// `2^k` for `-126 <= k <= 127`.
fn pow2(k: i32) -> f32 {
    f32::from_bits(((k + 127) << 23) as u32)
}

/// Hyperbolic tangent.
pub fn tanh(x: f32) -> f32 {
    let x2 = x * x;
    let mut q = TANH_POLY[0];
    for &c in &TANH_POLY[1..] {
        q = q.mul_add(x2, c);
    }
    let small = (x * x2).mul_add(q, x);
    let a = x.abs();
    let e = exp(a + a);
    let large = 1.0 - 2.0 / (e + 1.0);
    // The sign of x, for -0 too.
    (if a < TANH_SMALL { small } else { large }).copysign(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Distance in units in the last place between `got` and the correctly
    /// rounded `want`.
    fn ulps(got: f32, want: f64) -> f64 {
        let w = want as f32;
        if got == w {
            return 0.0;
        }
        let spacing = (f32::from_bits(w.abs().to_bits() + 1) - w.abs()) as f64;
        (got as f64 - want).abs() / spacing
    }

    fn sweep(lo: f32, hi: f32, n: usize) -> impl Iterator<Item = f32> {
        (0..=n).map(move |i| lo + (hi - lo) * i as f32 / n as f32)
    }

    #[test]
    fn exp_is_within_two_ulp_on_the_normal_range() {
        let mut worst = 0.0f64;
        for x in sweep(-87.0, 88.7, 400_000).chain(sweep(-1.0, 1.0, 100_000)) {
            worst = worst.max(ulps(exp(x), (x as f64).exp()));
        }
        assert!(worst <= 2.0, "worst error {worst} ulp");
    }

    #[test]
    fn exp_limits_and_special_values() {
        assert_eq!(exp(0.0), 1.0);
        assert_eq!(exp(f32::INFINITY), f32::INFINITY);
        assert_eq!(exp(89.0), f32::INFINITY);
        assert_eq!(exp(f32::NEG_INFINITY), 0.0);
        assert_eq!(exp(-200.0), 0.0);
        assert!(exp(f32::NAN).is_nan());
        // Gradual underflow: denormal results are close in absolute terms.
        assert!((exp(-95.0) as f64 - (-95.0f64).exp()).abs() < 1e-44);
    }

    #[test]
    fn tanh_is_within_four_ulp() {
        let mut worst = 0.0f64;
        for x in sweep(-10.0, 10.0, 400_000).chain(sweep(-0.5, 0.5, 100_000)) {
            worst = worst.max(ulps(tanh(x), (x as f64).tanh()));
        }
        assert!(worst <= 4.0, "worst error {worst} ulp");
    }

    #[test]
    fn tanh_special_values() {
        assert_eq!(tanh(0.0).to_bits(), 0.0f32.to_bits());
        assert_eq!(tanh(-0.0).to_bits(), (-0.0f32).to_bits());
        assert_eq!(tanh(f32::INFINITY), 1.0);
        assert_eq!(tanh(f32::NEG_INFINITY), -1.0);
        assert_eq!(tanh(30.0), 1.0);
        assert!(tanh(f32::NAN).is_nan());
        assert_eq!(tanh(1e-30), 1e-30);
    }
}
