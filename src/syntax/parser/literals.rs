//! Literals: numbers (checked for overflow and exponent digits) and strings
//! (escapes).

use pest::iterators::Pair;

use super::fold::Node;
use super::grammar::Rule;
use super::{Lower, internal};
use crate::diag::{Code, Diagnostic, Span};
use crate::syntax::ast;

impl Lower {
    /// An integer or float literal, checked: the grammar's `number` token
    /// also matches malformed numbers so they can be reported here.
    pub(super) fn number(&self, pair: &Pair<'_, Rule>) -> Result<Node, Diagnostic> {
        let text = pair.as_str();
        let span = self.span(pair);
        let bad = |msg: String| Diagnostic::error(Code::BAD_LITERAL, span, msg);
        let shape = number_shape(text);
        if shape.exponent_without_digits {
            return Err(bad(format!("malformed number `{text}`"))
                .with_primary("the exponent has no digits")
                .with_help("write digits after the `e`, as in `1e-3`"));
        }
        if shape.len < text.len() {
            return Err(bad(format!("malformed number `{text}`"))
                .with_primary("a number cannot run into letters")
                .with_help("put an operator between a number and a name, as in `2 * x`"));
        }
        let kind = if shape.is_float {
            match text.parse::<f64>() {
                Ok(f) if f.is_finite() => ast::ExprKind::Float(f),
                _ => {
                    return Err(bad(format!("float literal `{text}` is out of range"))
                        .with_primary("too large for a 64-bit float"));
                }
            }
        } else {
            match text.parse::<i64>() {
                Ok(i) => ast::ExprKind::Int(i),
                Err(_) => {
                    return Err(bad(format!("integer literal `{text}` is too large"))
                        .with_primary("does not fit in 64 bits")
                        .with_note(format!("the largest integer is {}", i64::MAX)));
                }
            }
        };
        Node::new(kind, span, 1, span)
    }

    /// A string literal's value, escapes processed.
    pub(super) fn string(&self, pair: &Pair<'_, Rule>) -> Result<String, Diagnostic> {
        let text = pair.as_str();
        let start = pair.as_span().start();
        let body = text
            .strip_prefix('"')
            .and_then(|t| t.strip_suffix('"'))
            .ok_or_else(|| internal("a string without quotes"))?;
        let mut out = String::with_capacity(body.len());
        let mut chars = body.char_indices();
        while let Some((_, c)) = chars.next() {
            if c != '\\' {
                out.push(c);
                continue;
            }
            match chars.next() {
                Some((_, '"')) => out.push('"'),
                Some((_, '\\')) => out.push('\\'),
                Some((_, 'n')) => out.push('\n'),
                Some((_, 't')) => out.push('\t'),
                Some((i, other)) => {
                    // `i` indexes `body`, which starts one byte into `text`.
                    let at = start + 1 + i;
                    let span = Span::new(self.file, at - 1, at + other.len_utf8());
                    return Err(Diagnostic::error(
                        Code::BAD_LITERAL,
                        span,
                        format!("unknown escape `\\{}` in string", other.escape_debug()),
                    )
                    .with_primary("unknown escape")
                    .with_help(r#"the escapes are `\"`, `\\`, `\n` and `\t`"#));
                }
                None => return Err(internal("a string ending in `\\`")),
            }
        }
        Ok(out)
    }
}

/// What a `number` token looks like.
struct NumberShape {
    /// Length of the longest prefix that is a well-formed number.
    len: usize,
    /// Whether that prefix has a fraction or an exponent.
    is_float: bool,
    /// `1e`, `1e+`: an exponent marker with no digits after it.
    exponent_without_digits: bool,
}

fn number_shape(text: &str) -> NumberShape {
    let b = text.as_bytes();
    let digits = |mut i: usize| {
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        i
    };
    let mut i = digits(0);
    let mut is_float = false;
    if b.get(i) == Some(&b'.') && b.get(i + 1).is_some_and(u8::is_ascii_digit) {
        i = digits(i + 1);
        is_float = true;
    }
    let mut exponent_without_digits = false;
    if matches!(b.get(i), Some(b'e' | b'E')) {
        let mut j = i + 1;
        if matches!(b.get(j), Some(b'+' | b'-')) {
            j += 1;
        }
        let k = digits(j);
        if k > j {
            i = k;
            is_float = true;
        } else {
            exponent_without_digits = true;
        }
    }
    NumberShape { len: i, is_float, exponent_without_digits }
}

#[cfg(test)]
mod tests {
    use super::number_shape;

    #[test]
    fn number_shapes() {
        let shape = |t| {
            let s = number_shape(t);
            (s.len, s.is_float, s.exponent_without_digits)
        };
        assert_eq!(shape("42"), (2, false, false));
        assert_eq!(shape("0.05"), (4, true, false));
        assert_eq!(shape("1e-3"), (4, true, false));
        assert_eq!(shape("2.5E+4"), (6, true, false));
        assert_eq!(shape("1e"), (1, false, true));
        assert_eq!(shape("1e+"), (1, false, true));
        assert_eq!(shape("2x"), (1, false, false));
        assert_eq!(shape("1e5x"), (3, true, false));
    }
}
