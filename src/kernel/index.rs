//! Integer index expressions over loop variables, kept in a canonical
//! affine form so that movement ops fold into addresses.
//!
//! An [`IExpr`] is `Σ coefficient · atom + constant`, where an atom is a
//! loop variable or a floor division / remainder of another expression by
//! a positive constant. Division and remainder simplify away whenever the
//! bounds of the variables allow it (`(26·h + w) / 26 = h` when `w < 26`);
//! when they do not, [`Simplifier`] records which variable, split into two,
//! would make them vanish, so the fusion pass can refine its loops and try
//! again (a reshape that merges axes then becomes plain strides).

use std::fmt;

/// A loop variable of a kernel; displays as `i3`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Var(pub u32);

impl fmt::Display for Var {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "i{}", self.0)
    }
}

/// One non-constant part of an [`IExpr`].
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Atom {
    /// A loop variable.
    Var(Var),
    /// `floor(e / d)` for a positive `d`.
    Div(Box<IExpr>, i64),
    /// `e mod d` (in `0..d`) for a positive `d`.
    Mod(Box<IExpr>, i64),
}

impl Atom {
    /// Every variable the atom mentions.
    pub fn vars(&self) -> Vec<Var> {
        match self {
            Atom::Var(v) => vec![*v],
            Atom::Div(e, _) | Atom::Mod(e, _) => e.vars(),
        }
    }
}

/// `Σ coefficient · atom + constant`, terms sorted by atom, no zero
/// coefficients, no atom twice: two equal expressions are structurally equal.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IExpr {
    /// `(atom, coefficient)` pairs.
    pub terms: Vec<(Atom, i64)>,
    /// The constant part.
    pub constant: i64,
}

impl IExpr {
    /// The constant `c`.
    pub fn constant(c: i64) -> IExpr {
        IExpr { terms: Vec::new(), constant: c }
    }

    /// The variable `v`.
    pub fn var(v: Var) -> IExpr {
        IExpr { terms: vec![(Atom::Var(v), 1)], constant: 0 }
    }

    /// The constant value, when there are no terms.
    pub fn as_constant(&self) -> Option<i64> {
        self.terms.is_empty().then_some(self.constant)
    }

    /// `self + other`.
    pub fn add(&self, other: &IExpr) -> IExpr {
        let mut terms = self.terms.clone();
        terms.extend(other.terms.iter().cloned());
        IExpr::normalized(terms, self.constant + other.constant)
    }

    /// `self + c`.
    pub fn offset(&self, c: i64) -> IExpr {
        IExpr { terms: self.terms.clone(), constant: self.constant + c }
    }

    /// `self · k`.
    pub fn scale(&self, k: i64) -> IExpr {
        if k == 0 {
            return IExpr::constant(0);
        }
        IExpr {
            terms: self.terms.iter().map(|(a, c)| (a.clone(), c * k)).collect(),
            constant: self.constant * k,
        }
    }

    /// The coefficient of `v` as a top-level term (0 when absent).
    pub fn coefficient(&self, v: Var) -> i64 {
        self.terms.iter().find(|(a, _)| *a == Atom::Var(v)).map_or(0, |(_, c)| *c)
    }

    /// True when `v` occurs anywhere, including inside a division.
    pub fn mentions(&self, v: Var) -> bool {
        self.terms.iter().any(|(a, _)| match a {
            Atom::Var(w) => *w == v,
            Atom::Div(e, _) | Atom::Mod(e, _) => e.mentions(v),
        })
    }

    /// True when `v` occurs inside a division or remainder.
    pub fn mentions_nonlinearly(&self, v: Var) -> bool {
        self.terms.iter().any(|(a, _)| match a {
            Atom::Var(_) => false,
            Atom::Div(e, _) | Atom::Mod(e, _) => e.mentions(v),
        })
    }

    /// True when the expression has no division or remainder.
    pub fn is_affine(&self) -> bool {
        self.terms.iter().all(|(a, _)| matches!(a, Atom::Var(_)))
    }

    /// Every variable mentioned, each once, ascending.
    pub fn vars(&self) -> Vec<Var> {
        let mut out = Vec::new();
        self.collect_vars(&mut out);
        out.sort_unstable();
        out.dedup();
        out
    }

    fn collect_vars(&self, out: &mut Vec<Var>) {
        for (a, _) in &self.terms {
            match a {
                Atom::Var(v) => out.push(*v),
                Atom::Div(e, _) | Atom::Mod(e, _) => e.collect_vars(out),
            }
        }
    }

    /// Replaces each variable by an expression (`sub(v)`; `None` keeps it),
    /// re-simplifying divisions with `s`.
    pub fn substitute(&self, sub: &dyn Fn(Var) -> Option<IExpr>, s: &mut Simplifier<'_>) -> IExpr {
        let mut res = IExpr::constant(self.constant);
        for (a, c) in &self.terms {
            let t = match a {
                Atom::Var(v) => sub(*v).unwrap_or_else(|| IExpr::var(*v)),
                Atom::Div(e, d) => {
                    let e = e.substitute(sub, s);
                    s.div(&e, *d)
                }
                Atom::Mod(e, d) => {
                    let e = e.substitute(sub, s);
                    s.rem(&e, *d)
                }
            };
            res = res.add(&t.scale(*c));
        }
        res
    }

    /// Evaluates with `value(v)` for each variable (floor division, Euclidean remainder).
    pub fn eval(&self, value: &dyn Fn(Var) -> i64) -> i64 {
        let mut r = self.constant;
        for (a, c) in &self.terms {
            let x = match a {
                Atom::Var(v) => value(*v),
                Atom::Div(e, d) => e.eval(value).div_euclid(*d),
                Atom::Mod(e, d) => e.eval(value).rem_euclid(*d),
            };
            r += c * x;
        }
        r
    }

    fn normalized(mut terms: Vec<(Atom, i64)>, constant: i64) -> IExpr {
        terms.sort_by(|a, b| a.0.cmp(&b.0));
        let mut out: Vec<(Atom, i64)> = Vec::with_capacity(terms.len());
        for (a, c) in terms {
            match out.last_mut() {
                Some((b, d)) if *b == a => *d += c,
                _ => out.push((a, c)),
            }
        }
        out.retain(|(_, c)| *c != 0);
        IExpr { terms: out, constant }
    }
}

impl fmt::Display for IExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for (a, c) in &self.terms {
            let sign = if *c < 0 { "-" } else { "+" };
            if !first {
                write!(f, " {sign} ")?;
            } else if *c < 0 {
                f.write_str("-")?;
            }
            first = false;
            if c.abs() != 1 {
                write!(f, "{}*", c.abs())?;
            }
            match a {
                Atom::Var(v) => write!(f, "{v}")?,
                Atom::Div(e, d) => write!(f, "({e})/{d}")?,
                Atom::Mod(e, d) => write!(f, "({e})%{d}")?,
            }
        }
        if first {
            write!(f, "{}", self.constant)
        } else if self.constant != 0 {
            let sign = if self.constant < 0 { "-" } else { "+" };
            write!(f, " {sign} {}", self.constant.abs())
        } else {
            Ok(())
        }
    }
}

/// Simplifies divisions under known variable bounds and records the
/// variable splits that would remove the divisions it could not.
pub struct Simplifier<'a> {
    /// Inclusive `(min, max)` of each variable, indexed by `Var.0`.
    bounds: &'a [(i64, i64)],
    /// `(variable, factor)`: splitting the variable as `factor · hi + lo`
    /// would let an irreducible division simplify.
    pub splits: Vec<(Var, i64)>,
}

impl<'a> Simplifier<'a> {
    /// A simplifier for variables with these inclusive bounds.
    pub fn new(bounds: &'a [(i64, i64)]) -> Simplifier<'a> {
        Simplifier { bounds, splits: Vec::new() }
    }

    /// Inclusive bounds of an expression.
    pub fn range(&self, e: &IExpr) -> (i64, i64) {
        range_with(e, self.bounds)
    }

    /// `floor(e / d)`, simplified.
    pub fn div(&mut self, e: &IExpr, d: i64) -> IExpr {
        assert!(d > 0, "internal error: division by {d}");
        if d == 1 {
            return e.clone();
        }
        let (lo, hi) = self.range(e);
        if lo.div_euclid(d) == hi.div_euclid(d) {
            return IExpr::constant(lo.div_euclid(d));
        }
        let (quot, rest) = split_multiples(e, d);
        let (rlo, rhi) = self.range(&rest);
        if rlo.div_euclid(d) == rhi.div_euclid(d) {
            return quot.offset(rlo.div_euclid(d));
        }
        self.request_split(&rest, d);
        quot.add(&IExpr { terms: vec![(Atom::Div(Box::new(rest), d), 1)], constant: 0 })
    }

    /// `e mod d` in `0..d`, simplified.
    pub fn rem(&mut self, e: &IExpr, d: i64) -> IExpr {
        assert!(d > 0, "internal error: remainder by {d}");
        if d == 1 {
            return IExpr::constant(0);
        }
        let (lo, hi) = self.range(e);
        if lo >= 0 && hi < d {
            return e.clone();
        }
        let (_, rest) = split_multiples(e, d);
        let (rlo, rhi) = self.range(&rest);
        if rlo.div_euclid(d) == rhi.div_euclid(d) {
            return rest.offset(-rlo.div_euclid(d) * d);
        }
        self.request_split(&rest, d);
        IExpr { terms: vec![(Atom::Mod(Box::new(rest), d), 1)], constant: 0 }
    }

    /// For each variable term of an irreducible `rest / d`, the split
    /// `v = f · hi + lo` with `f = d / gcd(c, d)` makes `c · f · hi` a
    /// multiple of `d`.
    fn request_split(&mut self, rest: &IExpr, d: i64) {
        for (a, c) in &rest.terms {
            if let Atom::Var(v) = a {
                let f = d / gcd(c.abs(), d);
                let extent = self.bounds.get(v.0 as usize).map_or(0, |b| b.1 - b.0 + 1);
                if split_fits(extent, f) {
                    self.splits.push((*v, f));
                }
            }
        }
    }
}

/// Whether a loop variable of `extent` iterations splits exactly as
/// `factor · hi + lo` with `hi` in `0..extent / factor` and `lo` in
/// `0..factor`. A [`Simplifier`] requests splits under bounds that a guard
/// may have narrowed (inside a pad's `1 <= i < 19`, `i` spans 18 values of
/// a loop of 20), so whoever applies a split checks it again against the
/// loop's own extent: a split that does not divide it would drop the last
/// `extent % factor` iterations.
pub fn split_fits(extent: i64, factor: i64) -> bool {
    factor > 1 && factor < extent && extent % factor == 0
}

/// Inclusive bounds of `e` given inclusive variable bounds.
pub fn range_with(e: &IExpr, bounds: &[(i64, i64)]) -> (i64, i64) {
    let (mut lo, mut hi) = (e.constant, e.constant);
    for (a, c) in &e.terms {
        let (alo, ahi) = match a {
            Atom::Var(v) => bounds.get(v.0 as usize).copied().unwrap_or((0, 0)),
            Atom::Div(x, d) => {
                let (xlo, xhi) = range_with(x, bounds);
                (xlo.div_euclid(*d), xhi.div_euclid(*d))
            }
            Atom::Mod(x, d) => {
                let (xlo, xhi) = range_with(x, bounds);
                if xlo.div_euclid(*d) == xhi.div_euclid(*d) {
                    (xlo.rem_euclid(*d), xhi.rem_euclid(*d))
                } else {
                    (0, d - 1)
                }
            }
        };
        if *c >= 0 {
            lo += c * alo;
            hi += c * ahi;
        } else {
            lo += c * ahi;
            hi += c * alo;
        }
    }
    (lo, hi)
}

/// Splits `e` into `d · quot + rest`: `quot` takes the terms whose
/// coefficients are multiples of `d` and the constant's multiple of `d`;
/// `rest` keeps the other terms and the constant's remainder.
fn split_multiples(e: &IExpr, d: i64) -> (IExpr, IExpr) {
    let mut quot = IExpr::constant(e.constant.div_euclid(d));
    let mut rest = IExpr::constant(e.constant.rem_euclid(d));
    for (a, c) in &e.terms {
        let t = IExpr { terms: vec![(a.clone(), 1)], constant: 0 };
        if c % d == 0 {
            quot = quot.add(&t.scale(c / d));
        } else {
            rest = rest.add(&t.scale(*c));
        }
    }
    (quot, rest)
}

fn gcd(a: i64, b: i64) -> i64 {
    if b == 0 { a.max(1) } else { gcd(b, a % b) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(i: u32) -> IExpr {
        IExpr::var(Var(i))
    }

    #[test]
    fn unravel_of_split_variables_vanishes() {
        // i0 in 0..26, i1 in 0..26: (26*i0 + i1) / 26 = i0, % 26 = i1.
        let bounds = [(0, 25), (0, 25)];
        let mut s = Simplifier::new(&bounds);
        let l = v(0).scale(26).add(&v(1));
        assert_eq!(s.div(&l, 26), v(0));
        assert_eq!(s.rem(&l, 26), v(1));
        assert!(s.splits.is_empty());
    }

    #[test]
    fn irreducible_division_requests_a_split() {
        let bounds = [(0, 675)];
        let mut s = Simplifier::new(&bounds);
        let q = s.div(&v(0), 26);
        assert!(!q.is_affine());
        assert_eq!(q.to_string(), "(i0)/26");
        assert_eq!(s.splits, vec![(Var(0), 26)]);
        let r = s.rem(&v(0).offset(3), 26);
        assert_eq!(r.to_string(), "(i0 + 3)%26");
    }

    #[test]
    fn constant_offsets_and_bounds() {
        let bounds = [(0, 9)];
        let mut s = Simplifier::new(&bounds);
        assert_eq!(s.div(&v(0).offset(100), 1000), IExpr::constant(0));
        assert_eq!(s.div(&v(0).scale(10).offset(3), 10), v(0));
        assert_eq!(s.rem(&v(0).scale(10).offset(3), 10), IExpr::constant(3));
        assert_eq!(range_with(&v(0).scale(-2).offset(5), &bounds), (-13, 5));
        let e = v(0).scale(3).add(&v(0).scale(-3));
        assert_eq!(e, IExpr::constant(0));
    }

    #[test]
    fn eval_matches_simplification() {
        let bounds = [(0, 5), (0, 7)];
        let e = v(0).scale(8).add(&v(1)).offset(-4);
        let mut s = Simplifier::new(&bounds);
        let q = s.div(&e, 4);
        let r = s.rem(&e, 4);
        for a in 0..6 {
            for b in 0..8 {
                let val = |x: Var| if x.0 == 0 { a } else { b };
                let x = e.eval(&val);
                assert_eq!(q.eval(&val), x.div_euclid(4));
                assert_eq!(r.eval(&val), x.rem_euclid(4));
            }
        }
    }
}
