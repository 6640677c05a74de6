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
        Some(Dim::Sym(Rc::from(format!("({self} {} {rhs})", op.symbol()))))
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
