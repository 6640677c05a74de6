//! A small lexical pass over the raw text, run before pest and when an error
//! is reported.
//!
//! pest recurses once per nested bracket, so a hostile `((((...` could
//! overflow the stack; [`check`] counts bracket depth first and refuses
//! anything past [`MAX_NESTING`]. The same walk finds unterminated strings
//! and block comments, which pest would report only as a confusing failure
//! somewhere later. When pest does fail, [`brackets_open_at`] and
//! [`token_at`] tell the error reporter which brackets are open and what
//! token sits at the failure, so messages can say `found `=`` and point at
//! the unclosed `{`.
//!
//! The walk understands exactly as much of the lexical grammar in
//! `grammar/nn.pest` as it needs: `//` and `/* */` comments and one-line
//! strings with `\` escapes; everything else is opaque bytes.

use crate::diag::{Code, Diagnostic, FileId, Span};

/// The deepest bracket nesting (`(`, `[` and `{` together) the parser accepts.
pub const MAX_NESTING: usize = 256;

/// An open bracket: the byte (`(`, `[` or `{`) and its offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Open {
    pub byte: u8,
    pub pos: usize,
}

/// What the walk found wrong, with the offset it starts at.
pub(super) struct Problem {
    pub pos: usize,
    pub diag: Diagnostic,
    /// True when the problem makes running pest unsafe (too deep nesting).
    pub fatal: bool,
}

/// Walks the whole text and returns its first lexical problem, if any.
pub(super) fn check(file: FileId, text: &str) -> Option<Problem> {
    walk(file, text, text.len()).1
}

/// The brackets still open just before `pos`, innermost last.
pub(super) fn brackets_open_at(text: &str, pos: usize) -> Vec<Open> {
    walk(FileId::default(), text, pos).0
}

/// The closing byte for an opening bracket.
pub(super) fn closer(open: u8) -> u8 {
    match open {
        b'(' => b')',
        b'[' => b']',
        _ => b'}',
    }
}

fn walk(file: FileId, text: &str, stop: usize) -> (Vec<Open>, Option<Problem>) {
    let bytes = text.as_bytes();
    let stop = stop.min(bytes.len());
    let mut open: Vec<Open> = Vec::new();
    let mut i = 0;
    while i < stop {
        match bytes[i] {
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => match text[i + 2..].find("*/") {
                Some(len) => i += 2 + len + 2,
                None => {
                    let diag = Diagnostic::error(
                        Code::SYNTAX,
                        Span::new(file, i, i + 2),
                        "unterminated block comment",
                    )
                    .with_primary("the comment starts here")
                    .with_help("add `*/` to close the comment");
                    return (open, Some(problem(i, diag)));
                }
            },
            b'"' => match string_end(bytes, i) {
                Ok(end) => i = end,
                Err(line_end) => {
                    let diag = Diagnostic::error(
                        Code::SYNTAX,
                        Span::new(file, i, line_end.max(i + 1)),
                        "unterminated string",
                    )
                    .with_primary("the string starts here")
                    .with_help("add a closing `\"`; a string cannot span lines");
                    return (open, Some(problem(i, diag)));
                }
            },
            b @ (b'(' | b'[' | b'{') => {
                open.push(Open { byte: b, pos: i });
                if open.len() > MAX_NESTING {
                    let diag = Diagnostic::error(
                        Code::SYNTAX,
                        Span::new(file, i, i + 1),
                        "expression nested too deeply",
                    )
                    .with_primary(format!("this is bracket level {}", open.len()))
                    .with_note(format!("nnc accepts at most {MAX_NESTING} levels of nested brackets"))
                    .with_help("name intermediate values with `let`");
                    return (open, Some(Problem { pos: i, diag, fatal: true }));
                }
                i += 1;
            }
            b')' | b']' | b'}' => {
                open.pop();
                i += 1;
            }
            _ => i += 1,
        }
    }
    (open, None)
}

fn problem(pos: usize, diag: Diagnostic) -> Problem {
    Problem { pos, diag, fatal: false }
}

/// The offset just past the closing quote of the string starting at
/// `start`, or `Err(end of its line)` when it is not closed on that line.
fn string_end(bytes: &[u8], start: usize) -> Result<usize, usize> {
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => return Ok(i + 1),
            b'\n' => return Err(trim_cr(bytes, start, i)),
            b'\\' => i += 2,
            _ => i += 1,
        }
    }
    Err(trim_cr(bytes, start, bytes.len()))
}

fn trim_cr(bytes: &[u8], start: usize, end: usize) -> usize {
    let end = end.min(bytes.len());
    if end > start + 1 && bytes[end - 1] == b'\r' { end - 1 } else { end }
}

/// True if `s` is only whitespace and comments.
pub(super) fn is_trivia(s: &str) -> bool {
    let mut rest = s;
    loop {
        rest = rest.trim_start_matches([' ', '\t', '\r', '\n', '\u{feff}']);
        if rest.is_empty() {
            return true;
        }
        if let Some(r) = rest.strip_prefix("//") {
            match r.find('\n') {
                Some(i) => rest = &r[i..],
                None => return true,
            }
        } else if let Some(r) = rest.strip_prefix("/*") {
            match r.find("*/") {
                Some(i) => rest = &r[i + 2..],
                None => return false,
            }
        } else {
            return false;
        }
    }
}

/// The token at a position, as the error reporter shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Token {
    /// Past the last character.
    End,
    /// A keyword such as `model`.
    Keyword(String),
    /// A name.
    Name(String),
    /// Any other token (punctuation, a number, a string): its text.
    Other(String),
}

impl Token {
    /// How the token reads after "found".
    pub fn describe(&self) -> String {
        match self {
            Token::End => "end of input".to_string(),
            Token::Keyword(k) => format!("keyword `{k}`"),
            Token::Name(n) => format!("`{n}`"),
            Token::Other(t) => format!("`{t}`"),
        }
    }

    /// The token's text (empty at the end of input).
    pub fn text(&self) -> &str {
        match self {
            Token::End => "",
            Token::Keyword(t) | Token::Name(t) | Token::Other(t) => t,
        }
    }
}

/// The language's keywords.
pub(super) const KEYWORDS: &[&str] =
    &["model", "fn", "let", "for", "in", "if", "else", "use", "data", "train", "on", "true", "false"];

const MULTI_CHAR_OPS: &[&str] = &["...", "..", "->", "**", "==", "!=", "<=", ">=", "&&", "||", "//", "/*"];

/// The longest text shown for a token in a message.
const SHOWN: usize = 24;

/// The token starting at `pos` and its byte range (at least one character
/// wide unless the text is empty; at the end it covers the last character
/// that is not whitespace).
pub(super) fn token_at(text: &str, pos: usize) -> (Token, std::ops::Range<usize>) {
    let pos = floor_char(text, pos.min(text.len()));
    let rest = &text[pos..];
    let Some(first) = rest.chars().next() else {
        // Point at the last visible character, so the caret lands on the
        // last line of code rather than past a trailing newline.
        let trimmed = text.trim_end();
        let last = match trimmed.char_indices().next_back() {
            Some((i, c)) => i..i + c.len_utf8(),
            None => text.char_indices().next_back().map_or(pos..pos, |(i, c)| i..i + c.len_utf8()),
        };
        return (Token::End, last);
    };
    let len = if first.is_ascii_alphanumeric() || first == '_' {
        rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(rest.len())
    } else if first == '"' {
        match string_end(rest.as_bytes(), 0) {
            Ok(end) => end,
            Err(end) => end.max(1),
        }
    } else if let Some(op) = MULTI_CHAR_OPS.iter().find(|op| rest.starts_with(*op)) {
        op.len()
    } else {
        first.len_utf8()
    };
    let len = ceil_char(rest, len);
    let word = &rest[..len];
    let shown = if word.len() > SHOWN {
        format!("{}...", &word[..floor_char(word, SHOWN)])
    } else {
        word.to_string()
    };
    let token = if first.is_ascii_alphabetic() || first == '_' {
        if KEYWORDS.contains(&word) { Token::Keyword(shown) } else { Token::Name(shown) }
    } else {
        Token::Other(shown)
    };
    (token, pos..pos + len)
}

fn floor_char(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn ceil_char(s: &str, mut i: usize) -> usize {
    while i < s.len() && !s.is_char_boundary(i) {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens() {
        assert_eq!(token_at("a == b", 2), (Token::Other("==".into()), 2..4));
        assert_eq!(token_at("let x", 0), (Token::Keyword("let".into()), 0..3));
        assert_eq!(token_at("x", 1), (Token::End, 0..1));
        assert_eq!(token_at("ab \n\n", 5), (Token::End, 1..2));
        assert_eq!(token_at(" \n", 2), (Token::End, 1..2));
        assert_eq!(token_at("", 0), (Token::End, 0..0));
        assert_eq!(token_at("é", 0), (Token::Other("é".into()), 0..2));
        assert_eq!(token_at("\"ab\" x", 0).1, 0..4);
    }

    #[test]
    fn brackets() {
        let open = brackets_open_at("f(a, [b, \"(\" // (\n", 18);
        assert_eq!(open, vec![Open { byte: b'(', pos: 1 }, Open { byte: b'[', pos: 5 }]);
    }
}
