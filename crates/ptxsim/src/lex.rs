//! Tokens of PTX text, each with its line and byte range.
//!
//! Comments (`// ...` and `/* ... */`) are skipped here, so the parser never sees them.
//! A word is a run of letters, digits, `_`, `$` and `.`: directives (`.reg`), opcodes with
//! their modifiers (`ld.global.nc.v4.f32`), labels, symbol names and numbers (`0f3F800000`,
//! `8.0`) are all words. A register is `%` followed by word characters (`%rd12`, `%tid.x`).
//! Everything else of interest is a single punctuation character.

use crate::error::ParseError;

/// What a token is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TokKind {
    /// A word: directive, opcode, label, symbol or number.
    Word(String),
    /// A register name including its `%`.
    Reg(String),
    /// One punctuation character: `, ; : [ ] { } ( ) + - ! @ | < >`.
    Punct(char),
}

/// One token with where it came from.
#[derive(Debug, Clone)]
pub(crate) struct Tok {
    /// What the token is.
    pub kind: TokKind,
    /// The 1-based source line.
    pub line: u32,
    /// Byte offset of its first character.
    pub start: usize,
    /// Byte offset just past its last character.
    pub end: usize,
}

fn is_word_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || c == b'.'
}

/// Splits `src` into tokens, skipping whitespace and comments.
pub(crate) fn tokenize(src: &str) -> Result<Vec<Tok>, ParseError> {
    let bytes = src.as_bytes();
    let mut toks = Vec::new();
    let mut i = 0;
    let mut line = 1u32;
    while i < bytes.len() {
        let c = bytes[i];
        if c == b'\n' {
            line += 1;
            i += 1;
        } else if c.is_ascii_whitespace() {
            i += 1;
        } else if c == b'/' && bytes.get(i + 1) == Some(&b'/') {
            while i < bytes.len() && bytes[i] != b'\n' {
                i += 1;
            }
        } else if c == b'/' && bytes.get(i + 1) == Some(&b'*') {
            let open_line = line;
            i += 2;
            loop {
                if i + 1 >= bytes.len() {
                    return Err(ParseError::new(open_line, "/*", "unterminated block comment"));
                }
                if bytes[i] == b'*' && bytes[i + 1] == b'/' {
                    i += 2;
                    break;
                }
                if bytes[i] == b'\n' {
                    line += 1;
                }
                i += 1;
            }
        } else if c == b'%' {
            let start = i;
            i += 1;
            while i < bytes.len() && is_word_char(bytes[i]) {
                i += 1;
            }
            toks.push(Tok { kind: TokKind::Reg(src[start..i].to_string()), line, start, end: i });
        } else if is_word_char(c) {
            let start = i;
            while i < bytes.len() && is_word_char(bytes[i]) {
                i += 1;
            }
            // A decimal float literal may carry a signed exponent, as in `1.5e-3`.
            let word = &src[start..i];
            let decimal = word.as_bytes()[0].is_ascii_digit()
                && !word.starts_with("0f")
                && !word.starts_with("0F")
                && !word.starts_with("0d")
                && !word.starts_with("0D")
                && !word.starts_with("0x")
                && !word.starts_with("0X");
            if decimal
                && (word.ends_with('e') || word.ends_with('E'))
                && matches!(bytes.get(i), Some(b'+' | b'-'))
            {
                i += 1;
                while i < bytes.len() && bytes[i].is_ascii_digit() {
                    i += 1;
                }
            }
            toks.push(Tok { kind: TokKind::Word(src[start..i].to_string()), line, start, end: i });
        } else if b",;:[]{}()+-!@|<>=".contains(&c) {
            toks.push(Tok { kind: TokKind::Punct(c as char), line, start: i, end: i + 1 });
            i += 1;
        } else {
            let ch = src[i..].chars().next().unwrap_or('?');
            return Err(ParseError::new(line, &ch.to_string(), "unexpected character"));
        }
    }
    Ok(toks)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<TokKind> {
        tokenize(src).unwrap().into_iter().map(|t| t.kind).collect()
    }

    #[test]
    fn words_registers_and_punctuation() {
        use TokKind::*;
        assert_eq!(
            kinds("ld.global.nc.f32 %f1, [%rd2+-4]; // done"),
            vec![
                Word("ld.global.nc.f32".into()),
                Reg("%f1".into()),
                Punct(','),
                Punct('['),
                Reg("%rd2".into()),
                Punct('+'),
                Punct('-'),
                Word("4".into()),
                Punct(']'),
                Punct(';'),
            ]
        );
    }

    #[test]
    fn block_comments_keep_line_numbers() {
        let toks = tokenize("a /* x\ny */ b\nc 1.5e-3").unwrap();
        let lines: Vec<u32> = toks.iter().map(|t| t.line).collect();
        assert_eq!(lines, vec![1, 2, 3, 3]);
        assert_eq!(toks[3].kind, TokKind::Word("1.5e-3".into()));
    }

    #[test]
    fn unterminated_comment_is_an_error() {
        let err = tokenize("a\n/* b").unwrap_err();
        assert_eq!(err.line, 2);
    }
}
