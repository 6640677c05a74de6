//! The parser: `.nn` text to [`ast`] nodes.
//!
//! `grammar/nn.pest` is the grammar; pest derives a recogniser from it and
//! `Lower` walks the resulting pairs into the typed [`ast`], one file per part
//! of the language: `items` (models, functions, data and train blocks),
//! `types` (tensor types and shape patterns), `stmt` (blocks and statements),
//! `expr` (expressions and postfix operations) and `literals` (numbers and
//! strings). Nothing outside this module (and its private submodules) ever
//! sees a pest `Pair`.
//!
//! Around pest:
//! - `scan` walks the raw text first. It refuses nesting deeper than
//!   [`MAX_NESTING`] brackets before pest can recurse that deep, and it finds
//!   unterminated strings and comments.
//! - The parse runs on a thread with a large stack, so the limit holds in
//!   debug builds (large frames) and on small-stack callers alike.
//! - Expressions come out of the grammar flat (`operand (infix operand)*`) and
//!   `fold` applies precedence with two explicit stacks, so no chain of
//!   operators, however long, makes anything here recurse. The tree it builds
//!   is at most [`MAX_EXPR_DEPTH`] deep, which bounds the recursion of every
//!   later stage (and of `Drop`).
//! - Literals are checked while lowering: an integer that overflows, a float
//!   without exponent digits, a bad escape are [`Code::BAD_LITERAL`].
//!
//! pest stops at the first syntax error; `errors` turns it into one
//! [`Code::SYNTAX`] diagnostic with readable expectations.

mod errors;
mod expr;
mod fold;
mod items;
mod literals;
mod scan;
mod stmt;
mod types;

pub use scan::MAX_NESTING;

use pest::Parser as _;
use pest::iterators::Pair;

use super::ast;
use crate::diag::{Code, Diagnostic, FileId, Span};

mod grammar {
    //! The recogniser pest derives from `grammar/nn.pest`.
    #![allow(missing_docs)]

    /// The `.nn` grammar; `Rule` has one variant per grammar rule.
    #[derive(pest_derive::Parser)]
    #[grammar = "../grammar/nn.pest"]
    pub struct NnParser;
}

use grammar::{NnParser, Rule};

/// The deepest expression tree the parser builds. A chain of `n` binary
/// operators is `n` levels deep, and so is a run of `n` prefix operators.
pub const MAX_EXPR_DEPTH: u32 = 1024;

/// One piece of a REPL input: an item, or a statement as in a block.
#[derive(Clone, Debug, PartialEq)]
pub enum ReplLine {
    /// `model`, `fn`, `data`, `train` or `use`.
    Item(ast::Item),
    /// `let x = ...`, `x = ...`, `for ...`, or an expression.
    Stmt(ast::Stmt),
}

/// Parses a whole `.nn` file.
///
/// Spans in the result are byte offsets into `text`, tagged with `file`.
/// The first syntax error stops the parse and is returned as a
/// [`Code::SYNTAX`] diagnostic; a malformed literal is [`Code::BAD_LITERAL`].
pub fn parse(file: FileId, text: &str) -> Result<ast::Module, Diagnostic> {
    on_parser_stack(|| parse_here(file, text))
}

fn parse_here(file: FileId, text: &str) -> Result<ast::Module, Diagnostic> {
    let root = recognise(file, text, Rule::file)?;
    let mut items = Vec::new();
    for pair in children(root) {
        if pair.as_rule() != Rule::EOI {
            items.push(Lower { file }.item(pair)?);
        }
    }
    Ok(ast::Module { items })
}

/// Parses one REPL input: any sequence of items and block statements.
///
/// `model Mlp { ... }` gives a [`ReplLine::Item`]; `let x = 3`, `x = 4`,
/// `for ...` and bare expressions give [`ReplLine::Stmt`].
pub fn parse_repl(file: FileId, text: &str) -> Result<Vec<ReplLine>, Diagnostic> {
    on_parser_stack(|| parse_repl_here(file, text))
}

fn parse_repl_here(file: FileId, text: &str) -> Result<Vec<ReplLine>, Diagnostic> {
    let root = recognise(file, text, Rule::repl)?;
    let lower = Lower { file };
    let mut lines = Vec::new();
    for pair in children(root) {
        match pair.as_rule() {
            Rule::EOI | Rule::semi => {}
            Rule::use_item | Rule::model_def | Rule::fn_def | Rule::data_def | Rule::train_def => {
                lines.push(ReplLine::Item(lower.item(pair)?));
            }
            _ => lines.push(ReplLine::Stmt(lower.stmt(pair)?.0)),
        }
    }
    Ok(lines)
}

/// The stack the parser runs on. pest recurses through about a dozen
/// frames per bracket, and unoptimised builds make each frame large: at
/// [`MAX_NESTING`] brackets a debug build needs a few MiB, more than a test
/// thread's default 2 MiB. Only the pages actually touched are committed.
const PARSER_STACK: usize = 64 << 20;

/// Runs `f` on a thread with a [`PARSER_STACK`]-sized stack, so that the
/// nesting limit is the same in every build and on every calling thread.
/// A panic in `f` (a bug) is resumed on the caller; if no thread can be
/// started, `f` runs on the caller's stack.
fn on_parser_stack<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    let slot = std::sync::Mutex::new(Some(f));
    // Captures only `&slot`, so it is `Copy`: one copy goes to the thread,
    // the other is the fallback.
    let run = || {
        let f = slot.lock().ok().and_then(|mut f| f.take());
        f.map(|f| f())
    };
    let res = std::thread::scope(|scope| {
        let spawned = std::thread::Builder::new()
            .name("nnc-parser".into())
            .stack_size(PARSER_STACK)
            .spawn_scoped(scope, run);
        match spawned {
            Ok(handle) => handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            Err(_) => run(),
        }
    });
    match res {
        Some(res) => res,
        // Unreachable: the closure is taken exactly once, by whichever ran.
        None => unreachable!("the parse closure ran twice"),
    }
}

/// Runs the lexical check and pest; returns the top pair of `rule`.
fn recognise(file: FileId, text: &str, rule: Rule) -> Result<Pair<'_, Rule>, Diagnostic> {
    let problem = scan::check(file, text);
    if let Some(p) = &problem
        && p.fatal
    {
        return Err(p.diag.clone());
    }
    match NnParser::parse(rule, text) {
        Ok(mut pairs) => match (problem, pairs.next()) {
            (None, Some(top)) => Ok(top),
            (Some(p), _) => Err(p.diag),
            (None, None) => Err(internal("the grammar produced no pairs")),
        },
        Err(err) => {
            let diag = errors::from_pest(file, text, &err);
            // A lexical problem at or before pest's failure is its cause.
            match problem {
                Some(p) if p.pos <= errors::position(&err) => Err(p.diag),
                _ => Err(diag),
            }
        }
    }
}

/// A broken assumption about the pairs pest produced: a bug, not user error.
fn internal(what: &str) -> Diagnostic {
    Diagnostic::error_nowhere(Code::SYNTAX, format!("internal parser error: {what}"))
}

fn unexpected(pair: &Pair<'_, Rule>) -> Diagnostic {
    internal(&format!("unexpected {:?}", pair.as_rule()))
}

/// The children of a pair that carry meaning: punctuation and keywords,
/// rules only so that errors can name them, are skipped.
fn children<'i>(pair: Pair<'i, Rule>) -> impl Iterator<Item = Pair<'i, Rule>> {
    pair.into_inner().filter(|p| {
        !matches!(
            p.as_rule(),
            Rule::lparen
                | Rule::rparen
                | Rule::lbracket
                | Rule::rbracket
                | Rule::lbrace
                | Rule::rbrace
                | Rule::comma
                | Rule::arrow
                | Rule::dotdot
                | Rule::dot
                | Rule::eq
                | Rule::kw_model
                | Rule::kw_fn
                | Rule::kw_let
                | Rule::kw_for
                | Rule::kw_in
                | Rule::kw_if
                | Rule::kw_else
                | Rule::kw_use
                | Rule::kw_data
                | Rule::kw_train
                | Rule::kw_on
        )
    })
}

/// The next pair of a rule whose shape the grammar guarantees.
fn next<'i>(pairs: &mut impl Iterator<Item = Pair<'i, Rule>>) -> Result<Pair<'i, Rule>, Diagnostic> {
    pairs.next().ok_or_else(|| internal("a pair is missing"))
}

/// Where a pair's text really ends.
///
/// In a rule ending in `x?` or `x*`, pest skips whitespace and comments
/// before trying `x`, and keeps them in the pair when `x` matches nothing:
/// `a + b  // note` would end after the comment. The true end is then the
/// end of the last child; this walks down last children while only trivia
/// lies between a child's end and its parent's.
fn tight_end(pair: &Pair<'_, Rule>) -> usize {
    let input = pair.get_input();
    let mut pair = pair.clone();
    loop {
        let end = pair.as_span().end();
        let Some(last) = pair.clone().into_inner().next_back() else {
            return end;
        };
        let last_end = last.as_span().end();
        if !scan::is_trivia(&input[last_end..end]) {
            return end;
        }
        pair = last;
    }
}

/// Pairs to AST. Holds only the file id: every method is a pure function
/// of the pairs it is given.
#[derive(Clone, Copy)]
struct Lower {
    file: FileId,
}

impl Lower {
    pub(super) fn span(&self, pair: &Pair<'_, Rule>) -> Span {
        Span::new(self.file, pair.as_span().start(), tight_end(pair))
    }

    pub(super) fn ident(&self, pair: &Pair<'_, Rule>) -> ast::Ident {
        ast::Ident { name: pair.as_str().to_string(), span: self.span(pair) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_end_before_trailing_trivia() {
        let text = "fn f(a = 1 /* c */ , b) { a + b // d\n }";
        let m = parse(FileId(0), text).unwrap();
        let ast::Item::Fn(f) = &m.items[0] else { panic!() };
        let at = |s: Span| &text[s.start as usize..s.end as usize];
        assert_eq!(at(f.params[0].span), "a = 1");
        assert_eq!(at(f.body.result.as_ref().unwrap().span), "a + b");
    }
}
