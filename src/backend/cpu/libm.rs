//! The transcendental functions generated code calls, one lane at a time.
//!
//! They are the interpreter's own functions (Rust's `f32` ones, and
//! [`crate::graph::semantics::mathf`] for `exp` and `tanh`, which generated code
//! computes inline when the CPU has fused multiply-add), so JIT-compiled
//! code gives bit for bit the interpreter's results.

/// `e^x`.
pub extern "C" fn nnc_expf(x: f32) -> f32 {
    crate::graph::semantics::mathf::exp(x)
}

/// Natural logarithm.
pub extern "C" fn nnc_logf(x: f32) -> f32 {
    x.ln()
}

/// Hyperbolic tangent.
pub extern "C" fn nnc_tanhf(x: f32) -> f32 {
    crate::graph::semantics::mathf::tanh(x)
}

/// Sine.
pub extern "C" fn nnc_sinf(x: f32) -> f32 {
    x.sin()
}

/// Cosine.
pub extern "C" fn nnc_cosf(x: f32) -> f32 {
    x.cos()
}

/// `a^b`.
pub extern "C" fn nnc_powf(a: f32, b: f32) -> f32 {
    a.powf(b)
}

/// Every function with its symbol name and arity.
pub const FUNCTIONS: &[(&str, usize)] =
    &[("nnc_expf", 1), ("nnc_logf", 1), ("nnc_tanhf", 1), ("nnc_sinf", 1), ("nnc_cosf", 1), ("nnc_powf", 2)];

/// The address of a function by symbol name.
pub fn address(name: &str) -> *const u8 {
    match name {
        "nnc_expf" => nnc_expf as *const u8,
        "nnc_logf" => nnc_logf as *const u8,
        "nnc_tanhf" => nnc_tanhf as *const u8,
        "nnc_sinf" => nnc_sinf as *const u8,
        "nnc_cosf" => nnc_cosf as *const u8,
        "nnc_powf" => nnc_powf as *const u8,
        _ => std::ptr::null(),
    }
}
