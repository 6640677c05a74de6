//! pest's first error, turned into one readable [`Code::SYNTAX`] diagnostic.
//!
//! pest reports the furthest position at which a rule failed and the rules
//! it tried there (`positives`). The grammar makes every token a reader
//! could be missing a rule (`rparen`, `eq`, `kw_in`, ...), so that list is
//! complete; but rule names are internal, so this module maps them onto a
//! small vocabulary ([`Expect`]): literal tokens such as `)`, keywords, and
//! categories such as "an expression" or "an operator". A category absorbs
//! the tokens it implies: `(` and `[` start an expression, and after an
//! operand, where an operator is expected, `(` `[` `.` are postfix
//! operations not worth listing.
//!
//! The found token comes from [`scan::token_at`]; the help line comes from a
//! few patterns: an unclosed bracket at the end, a mismatched closer, `=`
//! where an operator was expected, a keyword where a name was expected.

use std::collections::BTreeSet;

use pest::error::{Error, ErrorVariant, InputLocation};

use super::grammar::Rule;
use super::scan::{self, Token};
use crate::diag::{Code, Diagnostic, FileId, Span};

/// The byte offset pest failed at.
pub(super) fn position(err: &Error<Rule>) -> usize {
    match err.location {
        InputLocation::Pos(p) => p,
        InputLocation::Span((s, _)) => s,
    }
}

/// One thing the parser would have accepted, as the message names it.
/// The order is the order of the message: tokens, keywords, categories.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Expect {
    Token(String),
    Keyword(&'static str),
    Name,
    Type,
    Dimension,
    String,
    Expression,
    Operator,
    End,
}

impl Expect {
    fn describe(&self) -> String {
        match self {
            Expect::Token(t) => format!("`{t}`"),
            Expect::Keyword(k) => format!("`{k}`"),
            Expect::Name => "a name".into(),
            Expect::Type => "a type".into(),
            Expect::Dimension => "a dimension".into(),
            Expect::String => "a string".into(),
            Expect::Expression => "an expression".into(),
            Expect::Operator => "an operator".into(),
            Expect::End => "end of input".into(),
        }
    }
}

const ITEM_KEYWORDS: &[&str] = &["model", "fn", "data", "train", "use"];

/// What a rule in pest's `positives` stands for.
fn expects_of_rule(rule: Rule) -> Vec<Expect> {
    use Expect as E;
    let items = || ITEM_KEYWORDS.iter().map(|k| E::Keyword(k)).collect::<Vec<_>>();
    let tok = |t: &str| vec![E::Token(t.to_string())];
    match rule {
        Rule::EOI => vec![E::End],
        Rule::file => {
            let mut v = items();
            v.push(E::End);
            v
        }
        Rule::repl => {
            let mut v = items();
            v.extend([E::Keyword("let"), E::Keyword("for"), E::Expression, E::End]);
            v
        }
        Rule::use_item | Rule::model_def | Rule::fn_def | Rule::data_def | Rule::train_def => items(),
        Rule::ident
        | Rule::setting_key
        | Rule::member
        | Rule::param
        | Rule::setting
        | Rule::train_model
        | Rule::assign_stmt => vec![E::Name],
        Rule::type_expr | Rule::named_type | Rule::tensor_type => vec![E::Type],
        Rule::dim_expr => vec![E::Dimension],
        Rule::dim_op | Rule::infix => vec![E::Operator],
        Rule::lparen | Rule::params | Rule::call_args | Rule::dim_paren => tok("("),
        Rule::rparen => tok(")"),
        Rule::lbracket | Rule::index => tok("["),
        Rule::rbracket => tok("]"),
        Rule::lbrace | Rule::block => tok("{"),
        Rule::rbrace => tok("}"),
        Rule::comma => tok(","),
        Rule::colon => tok(":"),
        Rule::semi => tok(";"),
        Rule::eq => tok("="),
        Rule::arrow => tok("->"),
        Rule::dotdot => tok(".."),
        Rule::dot | Rule::field => tok("."),
        Rule::ellipsis => tok("..."),
        Rule::string => vec![E::String],
        Rule::expr
        | Rule::expr_stmt
        | Rule::arg
        | Rule::slice_or_at
        | Rule::number
        | Rule::bool_lit
        | Rule::list
        | Rule::paren
        | Rule::if_expr
        | Rule::if_head
        | Rule::prefix => vec![E::Expression],
        Rule::let_stmt | Rule::kw_let => vec![E::Keyword("let")],
        Rule::for_stmt | Rule::kw_for => vec![E::Keyword("for")],
        Rule::else_if | Rule::else_block | Rule::kw_else => vec![E::Keyword("else")],
        Rule::kw_model => vec![E::Keyword("model")],
        Rule::kw_fn => vec![E::Keyword("fn")],
        Rule::kw_in => vec![E::Keyword("in")],
        Rule::kw_if => vec![E::Keyword("if")],
        Rule::kw_use => vec![E::Keyword("use")],
        Rule::kw_data => vec![E::Keyword("data")],
        Rule::kw_train => vec![E::Keyword("train")],
        Rule::kw_on => vec![E::Keyword("on")],
        _ => Vec::new(),
    }
}

/// What the parser expected, deduplicated and in message order.
fn expected(err: &Error<Rule>) -> BTreeSet<Expect> {
    let mut set = BTreeSet::new();
    if let ErrorVariant::ParsingError { positives, .. } = &err.variant {
        for r in positives {
            set.extend(expects_of_rule(*r));
        }
    }
    let token = |t: &str| Expect::Token(t.to_string());
    let mut implied = Vec::new();
    if set.contains(&Expect::Expression) {
        // Names, strings, `(`, `[`, `if`, `true` all start an expression.
        implied.extend([Expect::Name, Expect::String, token("("), token("[")]);
        implied.extend([Expect::Keyword("if"), Expect::Keyword("true")]);
        implied.push(Expect::Keyword("false"));
    }
    if set.contains(&Expect::Operator) {
        // After an operand: calls, indexing and fields.
        implied.extend([token("("), token("["), token(".")]);
    }
    if set.contains(&Expect::Type) {
        implied.extend([Expect::Name, token("[")]);
    }
    if set.contains(&Expect::Dimension) {
        implied.extend([Expect::Name, token("(")]);
    }
    for e in &implied {
        set.remove(e);
    }
    set
}

fn list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [a, b] => format!("{a} or {b}"),
        [init @ .., last] => format!("one of {} or {last}", init.join(", ")),
    }
}

/// Turns pest's error on `text` into a diagnostic.
pub(super) fn from_pest(file: FileId, text: &str, err: &Error<Rule>) -> Diagnostic {
    let pos = position(err).min(text.len());
    let (found, range) = scan::token_at(text, pos);
    let span = Span::new(file, range.start, range.end);
    if let ErrorVariant::CustomError { message } = &err.variant {
        // pest's own guard against deep recursion ("stack limit reached").
        return Diagnostic::error(Code::SYNTAX, span, "expression nested too deeply")
            .with_note(format!("the parser stopped: {message}"))
            .with_help("name intermediate values with `let`");
    }
    let expected = expected(err);
    let names: Vec<String> = expected.iter().map(Expect::describe).collect();
    let message = if names.is_empty() {
        format!("unexpected {}", found.describe())
    } else {
        format!("expected {}, found {}", list(&names), found.describe())
    };
    let label = match found {
        Token::End => "the input ends after this".to_string(),
        _ => format!("unexpected {}", found.describe()),
    };
    let diag = Diagnostic::error(Code::SYNTAX, span, message).with_primary(label);
    add_help(diag, file, text, pos, &found, &expected)
}

fn add_help(
    diag: Diagnostic,
    file: FileId,
    text: &str,
    pos: usize,
    found: &Token,
    expected: &BTreeSet<Expect>,
) -> Diagnostic {
    let open = scan::brackets_open_at(text, pos);
    let at = |p: usize| Span::new(file, p, p + 1);
    let text_found = found.text();
    let closer_found = matches!(text_found, ")" | "]" | "}");

    if *found == Token::End
        && let Some(o) = open.last()
    {
        let (o_ch, c_ch) = (o.byte as char, scan::closer(o.byte) as char);
        return diag
            .with_label(at(o.pos), format!("unclosed `{o_ch}`"))
            .with_help(format!("add `{c_ch}` to close the `{o_ch}`"));
    }
    if text_found == "=" && expected.contains(&Expect::Operator) {
        return diag.with_help("to compare two values, write `==`");
    }
    if let Token::Keyword(k) = found
        && (expected.contains(&Expect::Name)
            || (expected.contains(&Expect::Expression) && !matches!(k.as_str(), "if" | "true" | "false")))
    {
        return diag
            .with_help(format!("`{k}` is a keyword and cannot be used as a name; rename it, e.g. `{k}_`"));
    }
    let before = text[..pos].trim_end();
    if expected.contains(&Expect::Name)
        && before.ends_with('.')
        && before[..before.len() - 1].ends_with(|c: char| c.is_ascii_digit())
    {
        return diag.with_help("a float needs digits after the `.`, as in `3.0`");
    }
    if closer_found {
        let wanted = match text_found {
            ")" => b'(',
            "]" => b'[',
            _ => b'{',
        };
        match open.last() {
            Some(o) if o.byte == wanted => {}
            Some(o) if open.iter().any(|o| o.byte == wanted) => {
                let (o_ch, c_ch) = (o.byte as char, scan::closer(o.byte) as char);
                return diag
                    .with_label(at(o.pos), format!("this `{o_ch}` is still open"))
                    .with_help(format!("close the `{o_ch}` with `{c_ch}` before `{text_found}`"));
            }
            _ => {
                let w = wanted as char;
                return diag.with_help(format!("this `{text_found}` has no matching `{w}`; remove it"));
            }
        }
    }
    if text_found.starts_with('\'') {
        return diag.with_help("strings are written in double quotes: \"...\"");
    }
    if expected.contains(&Expect::Token(",".into()))
        && matches!(found, Token::Name(_) | Token::Other(_))
        && text_found.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '"' || c == '_')
    {
        return diag.with_help("if these are separate items, put a `,` between them");
    }
    diag
}
