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

/// A function generated code calls, one variant per entry of the table
/// ([`LibFn::entry`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LibFn {
    /// [`nnc_expf`].
    Exp,
    /// [`nnc_logf`].
    Log,
    /// [`nnc_tanhf`].
    Tanh,
    /// [`nnc_sinf`].
    Sin,
    /// [`nnc_cosf`].
    Cos,
    /// [`nnc_powf`].
    Pow,
}

/// A function's Rust body, whose type is its signature.
#[derive(Clone, Copy, Debug)]
pub enum Body {
    /// `f32 -> f32`.
    Unary(extern "C" fn(f32) -> f32),
    /// `(f32, f32) -> f32`.
    Binary(extern "C" fn(f32, f32) -> f32),
}

impl Body {
    /// The number of `f32` arguments (the result is one `f32`).
    pub fn arity(self) -> usize {
        match self {
            Body::Unary(_) => 1,
            Body::Binary(_) => 2,
        }
    }

    /// The function's address, for the linker.
    pub fn address(self) -> *const u8 {
        match self {
            Body::Unary(f) => f as *const u8,
            Body::Binary(f) => f as *const u8,
        }
    }
}

/// One entry of the table: the symbol generated code links against and
/// the function behind it.
#[derive(Clone, Copy, Debug)]
pub struct Entry {
    /// Symbol name.
    pub name: &'static str,
    /// Signature and address.
    pub body: Body,
}

impl LibFn {
    /// Every function, in the order modules declare them.
    pub const ALL: [LibFn; 6] = [LibFn::Exp, LibFn::Log, LibFn::Tanh, LibFn::Sin, LibFn::Cos, LibFn::Pow];

    /// The table: each function's symbol name, signature and address.
    pub fn entry(self) -> Entry {
        let (name, body) = match self {
            LibFn::Exp => ("nnc_expf", Body::Unary(nnc_expf)),
            LibFn::Log => ("nnc_logf", Body::Unary(nnc_logf)),
            LibFn::Tanh => ("nnc_tanhf", Body::Unary(nnc_tanhf)),
            LibFn::Sin => ("nnc_sinf", Body::Unary(nnc_sinf)),
            LibFn::Cos => ("nnc_cosf", Body::Unary(nnc_cosf)),
            LibFn::Pow => ("nnc_powf", Body::Binary(nnc_powf)),
        };
        Entry { name, body }
    }
}

/// A value for each [`LibFn`] (a module's declaration of each, say).
#[derive(Clone, Debug)]
pub struct PerLibFn<T>(Vec<(LibFn, T)>);

impl<T> PerLibFn<T> {
    /// `f` of every function, in [`LibFn::ALL`] order.
    pub fn new(f: impl FnMut(LibFn) -> T) -> PerLibFn<T> {
        PerLibFn(LibFn::ALL.into_iter().zip(LibFn::ALL.map(f)).collect())
    }

    /// `f` of every function, in [`LibFn::ALL`] order, stopping at the first error.
    pub fn try_new<E>(mut f: impl FnMut(LibFn) -> Result<T, E>) -> Result<PerLibFn<T>, E> {
        let mut v = Vec::with_capacity(LibFn::ALL.len());
        for g in LibFn::ALL {
            v.push((g, f(g)?));
        }
        Ok(PerLibFn(v))
    }

    /// Each function with its value, in [`LibFn::ALL`] order.
    pub fn iter(&self) -> impl Iterator<Item = (LibFn, &T)> {
        self.0.iter().map(|(g, x)| (*g, x))
    }
}

impl<T> std::ops::Index<LibFn> for PerLibFn<T> {
    type Output = T;

    fn index(&self, f: LibFn) -> &T {
        &self.0.iter().find(|(g, _)| *g == f).expect("every function has a value").1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_variant_has_its_own_symbol_and_value() {
        let names: Vec<&str> = LibFn::ALL.iter().map(|f| f.entry().name).collect();
        for (i, n) in names.iter().enumerate() {
            assert!(!names[..i].contains(n), "{n} listed twice");
        }
        let table = PerLibFn::new(|f| f);
        for f in LibFn::ALL {
            assert_eq!(table[f], f);
        }
        assert_eq!(table.iter().map(|(f, _)| f).collect::<Vec<_>>(), LibFn::ALL);
        assert_eq!(LibFn::Pow.entry().body.arity(), 2);
        assert_eq!(LibFn::Log.entry().body.arity(), 1);
    }
}
