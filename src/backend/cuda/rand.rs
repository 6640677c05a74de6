//! `Rand` as PTX: `mix(key ^ index)` with 64-bit integer operations, then
//! the top 24 bits times 2^-24, exactly as `graph::semantics::rng::uniform`
//! computes it from the step's stream key (a launch parameter).

use super::module::{Body, f32_imm};

/// The uniform draw at an `s64` index register, given the stream key's
/// register; an `f32` register.
pub(crate) fn uniform(b: &mut Body, key: &str, index: &str) -> String {
    let (z, t) = (b.rd(), b.rd());
    b.op(format!("xor.b64 {z}, {key}, {index}"));
    b.op(format!("add.u64 {z}, {z}, 0x9E3779B97F4A7C15"));
    for (shift, mul) in [(30, "0xBF58476D1CE4E5B9"), (27, "0x94D049BB133111EB")] {
        b.op(format!("shr.u64 {t}, {z}, {shift}"));
        b.op(format!("xor.b64 {z}, {z}, {t}"));
        b.op(format!("mul.lo.u64 {z}, {z}, {mul}"));
    }
    b.op(format!("shr.u64 {t}, {z}, 31"));
    b.op(format!("xor.b64 {z}, {z}, {t}"));
    b.op(format!("shr.u64 {z}, {z}, 40"));
    let (f, d) = (b.f(), b.f());
    b.op(format!("cvt.rn.f32.u64 {f}, {z}"));
    b.op(format!("mul.rn.f32 {d}, {f}, {}", f32_imm(1.0 / (1u32 << 24) as f32)));
    d
}
