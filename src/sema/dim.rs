//! Symbolic dimensions: a size that is either known (`784`) or a name (`B`),
//! or arithmetic over them (`H - 2`).
//!
//! Arithmetic on known sizes folds; anything involving a symbol stays a
//! symbolic expression compared by its normalised text. That is enough to
//! check shapes that flow from a signature like `[B, 1, 28, 28]` and to say
//! "cannot prove `H - 2` equals 26" instead of guessing.

use std::fmt;
use std::rc::Rc;

/// One dimension of a shape in the checker.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Dim {
    /// A size known at compile time.
    Known(i64),
    /// A size known only by name or as an expression over names, kept as
    /// its canonical text (`B`, `(H - 2)`).
    Sym(Rc<str>),
}

impl Dim {
    /// A symbol.
    pub fn sym(name: &str) -> Dim {
        Dim::Sym(Rc::from(name))
    }

    /// The known size, if any.
    pub fn known(&self) -> Option<i64> {
        match self {
            Dim::Known(n) => Some(*n),
            Dim::Sym(_) => None,
        }
    }

    /// Applies an integer operator, folding known operands.
    pub fn arith(&self, op: DimOp, rhs: &Dim) -> Option<Dim> {
        if let (Dim::Known(a), Dim::Known(b)) = (self, rhs) {
            let (a, b) = (*a, *b);
            return match op {
                DimOp::Add => a.checked_add(b),
                DimOp::Sub => a.checked_sub(b),
                DimOp::Mul => a.checked_mul(b),
                DimOp::Div => (b != 0).then(|| a.div_euclid(b)),
                DimOp::Rem => (b != 0).then(|| a.rem_euclid(b)),
            }
            .map(Dim::Known);
        }
        // Identities keep common shapes readable: `B * 1`, `B + 0`.
        match (op, rhs) {
            (DimOp::Mul | DimOp::Div, Dim::Known(1)) | (DimOp::Add | DimOp::Sub, Dim::Known(0)) => {
                return Some(self.clone());
            }
            _ => {}
        }
        if let (DimOp::Mul, Dim::Known(1)) | (DimOp::Add, Dim::Known(0)) = (op, self) {
            return Some(rhs.clone());
        }
        if op == DimOp::Mul {
            // Products are kept canonical (`784 * B * T`, symbols sorted) so
            // that element counts compare equal however they were formed.
            let (ka, mut sa) = self.factors();
            let (kb, sb) = rhs.factors();
            sa.extend(sb);
            return Some(Dim::from_factors(ka.checked_mul(kb)?, sa));
        }
        Some(Dim::Sym(Rc::from(format!("({self} {} {rhs})", op.symbol()))))
    }

    /// The known factor and the symbolic factors of a product.
    pub fn factors(&self) -> (i64, Vec<String>) {
        match self {
            Dim::Known(n) => (*n, Vec::new()),
            Dim::Sym(s) => {
                let mut k = 1i64;
                let mut syms = Vec::new();
                for part in split_product(s) {
                    match part.parse::<i64>() {
                        Ok(n) => k = k.saturating_mul(n),
                        Err(_) => syms.push(part.to_string()),
                    }
                }
                (k, syms)
            }
        }
    }

    /// A canonical product: `k * A * B` with the symbols sorted.
    pub fn from_factors(k: i64, mut syms: Vec<String>) -> Dim {
        if syms.is_empty() || k == 0 {
            return Dim::Known(k);
        }
        syms.sort();
        if k != 1 {
            syms.insert(0, k.to_string());
        }
        Dim::Sym(Rc::from(syms.join(" * ")))
    }

    /// The product of dimensions (1 for none).
    pub fn product(dims: &[Dim]) -> Dim {
        dims.iter().fold(Dim::Known(1), |acc, d| acc.arith(DimOp::Mul, d).unwrap_or(Dim::Known(0)))
    }
}

impl fmt::Display for Dim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Dim::Known(n) => write!(f, "{n}"),
            Dim::Sym(s) => f.write_str(s),
        }
    }
}

/// The top-level factors of `a * b * (c + 1)`: `a`, `b`, `(c + 1)`.
fn split_product(s: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0i32, 0usize);
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'(' => depth += 1,
            b')' => depth -= 1,
            b'*' if depth == 0 && i > 0 && bytes[i - 1] == b' ' && bytes.get(i + 1) == Some(&b' ') => {
                parts.push(s[start..i - 1].trim());
                start = i + 2;
            }
            _ => {}
        }
        i += 1;
    }
    parts.push(s[start..].trim());
    parts
}

/// Integer operators on dimensions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DimOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/` (floor division)
    Div,
    /// `%`
    Rem,
}

impl DimOp {
    fn symbol(self) -> &'static str {
        match self {
            DimOp::Add => "+",
            DimOp::Sub => "-",
            DimOp::Mul => "*",
            DimOp::Div => "/",
            DimOp::Rem => "%",
        }
    }
}

/// Formats a shape the way diagnostics print it: `[B, 784]`.
pub fn show_shape(dims: &[Dim]) -> String {
    let parts: Vec<String> = dims.iter().map(|d| d.to_string()).collect();
    format!("[{}]", parts.join(", "))
}
