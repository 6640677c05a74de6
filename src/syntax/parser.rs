//! The parser: `.nn` text to [`ast`] nodes.
//!
//! `grammar/nn.pest` is the grammar; pest derives a recogniser from it and
//! this file walks the resulting pairs into the typed [`ast`]. Nothing outside
//! this module (and its private submodules) ever sees a pest `Pair`.
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
mod fold;
mod scan;

pub use scan::MAX_NESTING;

use pest::Parser as _;
use pest::iterators::Pair;

use super::ast;
use crate::diag::{Code, Diagnostic, FileId, Span};
use fold::{Fold, Node, binop};

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
    fn span(&self, pair: &Pair<'_, Rule>) -> Span {
        Span::new(self.file, pair.as_span().start(), tight_end(pair))
    }

    fn ident(&self, pair: &Pair<'_, Rule>) -> ast::Ident {
        ast::Ident { name: pair.as_str().to_string(), span: self.span(pair) }
    }

    // ------------------------------------------------------------ items

    fn item(&self, pair: Pair<'_, Rule>) -> Result<ast::Item, Diagnostic> {
        Ok(match pair.as_rule() {
            Rule::use_item => {
                let span = self.span(&pair);
                let path = next(&mut children(pair))?;
                ast::Item::Use(ast::UseItem { path: self.string(&path)?, path_span: self.span(&path), span })
            }
            Rule::model_def => ast::Item::Model(self.model(pair)?),
            Rule::fn_def => ast::Item::Fn(self.fn_def(pair)?),
            Rule::data_def => {
                let span = self.span(&pair);
                let mut inner = children(pair);
                let name = self.ident(&next(&mut inner)?);
                let settings = self.settings(inner)?;
                ast::Item::Data(ast::DataDef { name, settings, span })
            }
            Rule::train_def => {
                let span = self.span(&pair);
                let mut inner = children(pair);
                let model = self.train_model(next(&mut inner)?)?;
                let data = self.ident(&next(&mut inner)?);
                let settings = self.settings(inner)?;
                ast::Item::Train(ast::TrainDef { model, data, settings, span })
            }
            _ => return Err(unexpected(&pair)),
        })
    }

    fn model(&self, pair: Pair<'_, Rule>) -> Result<ast::ModelDef, Diagnostic> {
        let span = self.span(&pair);
        let mut inner = children(pair);
        let name = self.ident(&next(&mut inner)?);
        let (mut params, mut members, mut fns) = (Vec::new(), Vec::new(), Vec::new());
        for p in inner {
            match p.as_rule() {
                Rule::semi => {}
                Rule::params => params = self.params(p)?,
                Rule::fn_def => fns.push(self.fn_def(p)?),
                Rule::member => {
                    let span = self.span(&p);
                    let mut inner = children(p);
                    let name = self.ident(&next(&mut inner)?);
                    let value = self.expr(next(&mut inner)?)?.expr;
                    members.push(ast::Member { name, value, span });
                }
                _ => return Err(unexpected(&p)),
            }
        }
        Ok(ast::ModelDef { name, params, members, fns, span })
    }

    fn fn_def(&self, pair: Pair<'_, Rule>) -> Result<ast::FnDef, Diagnostic> {
        let span = self.span(&pair);
        let mut inner = children(pair);
        let name = self.ident(&next(&mut inner)?);
        let params = self.params(next(&mut inner)?)?;
        let mut ret = None;
        let mut body = None;
        for p in inner {
            match p.as_rule() {
                Rule::block => body = Some(self.block(p)?.0),
                _ => ret = Some(self.type_expr(p)?),
            }
        }
        Ok(ast::FnDef {
            name,
            params,
            ret,
            body: body.ok_or_else(|| internal("a function without a body"))?,
            span,
        })
    }

    fn params(&self, pair: Pair<'_, Rule>) -> Result<Vec<ast::Param>, Diagnostic> {
        children(pair)
            .map(|p| {
                let span = self.span(&p);
                let mut inner = children(p);
                let name = self.ident(&next(&mut inner)?);
                let (mut ty, mut default) = (None, None);
                for p in inner {
                    match p.as_rule() {
                        Rule::colon => {}
                        Rule::expr => default = Some(self.expr(p)?.expr),
                        _ => ty = Some(self.type_expr(p)?),
                    }
                }
                Ok(ast::Param { name, ty, default, span })
            })
            .collect()
    }

    fn settings<'i>(
        &self,
        pairs: impl Iterator<Item = Pair<'i, Rule>>,
    ) -> Result<Vec<ast::Setting>, Diagnostic> {
        pairs.filter(|p| p.as_rule() != Rule::semi).map(|p| self.setting(p)).collect()
    }

    fn setting(&self, pair: Pair<'_, Rule>) -> Result<ast::Setting, Diagnostic> {
        let span = self.span(&pair);
        let mut inner = children(pair);
        let key = self.ident(&next(&mut inner)?);
        let value = self.expr(next(&mut inner)?)?.expr;
        Ok(ast::Setting { key, value, span })
    }

    /// `Mlp` or `Mlp(hidden = 256)`.
    fn train_model(&self, pair: Pair<'_, Rule>) -> Result<ast::Expr, Diagnostic> {
        let mut inner = children(pair);
        let name = next(&mut inner)?;
        let span = self.span(&name);
        let base = Node::new(ast::ExprKind::Name(name.as_str().into()), span, 1, span)?;
        Ok(match inner.next() {
            Some(args) => self.postfix(base, args)?.expr,
            None => base.expr,
        })
    }

    // ------------------------------------------------------------ types

    fn type_expr(&self, pair: Pair<'_, Rule>) -> Result<ast::TypeExpr, Diagnostic> {
        let pair = next(&mut children(pair))?;
        match pair.as_rule() {
            Rule::named_type => Ok(ast::TypeExpr::Named(self.ident(&next(&mut children(pair))?))),
            Rule::tensor_type => {
                let span = self.span(&pair);
                let mut dtype = None;
                let mut dims = Vec::new();
                for p in children(pair) {
                    match p.as_rule() {
                        Rule::elem_type => dtype = Some(self.ident(&next(&mut children(p))?)),
                        Rule::ellipsis => dims.push(ast::DimPat::Ellipsis(self.span(&p))),
                        _ => dims.push(ast::DimPat::Expr(self.dim_expr(p)?.expr)),
                    }
                }
                Ok(ast::TypeExpr::Tensor { dtype, dims, span })
            }
            _ => Err(unexpected(&pair)),
        }
    }

    /// `H - 2`, `(H + 2*p - k) / s + 1`: integers and names under `+ - * / %`.
    fn dim_expr(&self, pair: Pair<'_, Rule>) -> Result<Node, Diagnostic> {
        let mut fold = Fold::new();
        for p in children(pair) {
            match p.as_rule() {
                Rule::dim_op => fold.infix(binop(p.as_str()), self.span(&p))?,
                Rule::number => fold.operand(self.number(&p)?),
                Rule::ident => {
                    let span = self.span(&p);
                    fold.operand(Node::new(ast::ExprKind::Name(p.as_str().into()), span, 1, span)?);
                }
                Rule::dim_paren => {
                    let span = self.span(&p);
                    let mut inner = self.dim_expr(next(&mut children(p))?)?;
                    inner.expr.span = span;
                    fold.operand(inner);
                }
                _ => return Err(unexpected(&p)),
            }
        }
        fold.finish()
    }

    // ------------------------------------------------------- statements

    /// A block and the depth of its deepest expression.
    fn block(&self, pair: Pair<'_, Rule>) -> Result<(ast::Block, u32), Diagnostic> {
        let span = self.span(&pair);
        let children: Vec<_> = children(pair).collect();
        let n = children.len();
        let mut stmts = Vec::new();
        let mut result = None;
        let mut depth = 0;
        for (i, p) in children.into_iter().enumerate() {
            if p.as_rule() == Rule::semi {
                continue;
            }
            let is_result = p.as_rule() == Rule::expr_stmt && i + 1 == n;
            let (stmt, d) = self.stmt(p)?;
            depth = depth.max(d);
            match stmt {
                ast::Stmt::Expr(e) if is_result => result = Some(Box::new(e)),
                stmt => stmts.push(stmt),
            }
        }
        Ok((ast::Block { stmts, result, span }, depth))
    }

    /// A statement and the depth of its deepest expression.
    fn stmt(&self, pair: Pair<'_, Rule>) -> Result<(ast::Stmt, u32), Diagnostic> {
        let span = self.span(&pair);
        let rule = pair.as_rule();
        let mut inner = children(pair);
        Ok(match rule {
            Rule::let_stmt | Rule::assign_stmt => {
                let name = self.ident(&next(&mut inner)?);
                let value = self.expr(next(&mut inner)?)?;
                let depth = value.depth;
                let value = value.expr;
                let stmt = if rule == Rule::let_stmt {
                    ast::Stmt::Let { name, value, span }
                } else {
                    ast::Stmt::Assign { name, value, span }
                };
                (stmt, depth)
            }
            Rule::for_stmt => {
                let var = self.ident(&next(&mut inner)?);
                let start = self.expr(next(&mut inner)?)?;
                let end = self.expr(next(&mut inner)?)?;
                let (body, d) = self.block(next(&mut inner)?)?;
                let depth = start.depth.max(end.depth).max(d);
                let stmt = ast::Stmt::For { var, start: start.expr, end: end.expr, body, span };
                (stmt, depth)
            }
            Rule::expr_stmt => {
                let e = self.expr(next(&mut inner)?)?;
                (ast::Stmt::Expr(e.expr), e.depth)
            }
            _ => return Err(internal(&format!("unexpected {rule:?}"))),
        })
    }

    // ------------------------------------------------------ expressions

    /// A flat `expr` pair: prefix operators, primaries with their postfix
    /// operations, and infix operators, folded by precedence.
    fn expr(&self, pair: Pair<'_, Rule>) -> Result<Node, Diagnostic> {
        let mut fold = Fold::new();
        let mut cur: Option<Node> = None;
        for p in children(pair) {
            match p.as_rule() {
                Rule::prefix => {
                    let op = if p.as_str() == "!" { ast::UnOp::Not } else { ast::UnOp::Neg };
                    fold.prefix(op, self.span(&p));
                }
                Rule::infix => {
                    if let Some(operand) = cur.take() {
                        fold.operand(operand);
                    }
                    fold.infix(binop(p.as_str()), self.span(&p))?;
                }
                Rule::call_args | Rule::index | Rule::field => {
                    let base = cur.take().ok_or_else(|| internal("postfix without base"))?;
                    cur = Some(self.postfix(base, p)?);
                }
                _ => cur = Some(self.primary(p)?),
            }
        }
        if let Some(operand) = cur {
            fold.operand(operand);
        }
        fold.finish()
    }

    fn primary(&self, pair: Pair<'_, Rule>) -> Result<Node, Diagnostic> {
        let span = self.span(&pair);
        let kind = match pair.as_rule() {
            Rule::number => return self.number(&pair),
            Rule::string => ast::ExprKind::Str(self.string(&pair)?),
            Rule::bool_lit => ast::ExprKind::Bool(pair.as_str() == "true"),
            Rule::ident => ast::ExprKind::Name(pair.as_str().into()),
            Rule::list => {
                let mut depth = 0;
                let mut items = Vec::new();
                let mut comp = None;
                for p in children(pair) {
                    if p.as_rule() == Rule::list_for {
                        let mut inner = children(p);
                        let var = self.ident(&next(&mut inner)?);
                        let start = self.expr(next(&mut inner)?)?;
                        let end = self.expr(next(&mut inner)?)?;
                        depth = depth.max(start.depth).max(end.depth);
                        comp = Some((var, start.expr, end.expr));
                        continue;
                    }
                    let e = self.expr(p)?;
                    depth = depth.max(e.depth);
                    items.push(e.expr);
                }
                let open = Span::new(self.file, span.start as usize, span.start as usize + 1);
                let kind = match (comp, items.pop()) {
                    (Some((var, start, end)), Some(elem)) => ast::ExprKind::ListComp {
                        elem: Box::new(elem),
                        var,
                        start: Box::new(start),
                        end: Box::new(end),
                    },
                    (Some(_), None) => return Err(internal("a comprehension without an element")),
                    (None, last) => {
                        items.extend(last);
                        ast::ExprKind::List(items)
                    }
                };
                return Node::new(kind, span, depth + 1, open);
            }
            Rule::paren => {
                // No node of its own: the inner expression, widened to
                // cover the parentheses.
                let mut inner = self.expr(next(&mut children(pair))?)?;
                inner.expr.span = span;
                return Ok(inner);
            }
            Rule::if_expr => return self.if_expr(pair),
            _ => return Err(unexpected(&pair)),
        };
        Node::new(kind, span, 1, span)
    }

    /// `if a { } else if b { } else { }`: the chain is folded from the
    /// right without recursion. An `else if` becomes an `else` block whose
    /// result is the inner `if`; that block's span is the inner `if`'s.
    fn if_expr(&self, pair: Pair<'_, Rule>) -> Result<Node, Diagnostic> {
        let end = tight_end(&pair);
        let mut heads = Vec::new();
        let mut otherwise: Option<(ast::Block, u32)> = None;
        for p in children(pair) {
            match p.as_rule() {
                Rule::if_head => heads.push(p),
                Rule::else_if => heads.push(next(&mut children(p))?),
                Rule::else_block => otherwise = Some(self.block(next(&mut children(p))?)?),
                _ => return Err(unexpected(&p)),
            }
        }
        let mut node = None;
        while let Some(head) = heads.pop() {
            let start = head.as_span().start();
            let span = Span::new(self.file, start, end);
            let keyword = Span::new(self.file, start, start + 2);
            let mut inner = children(head);
            let cond = self.expr(next(&mut inner)?)?;
            let (then, then_depth) = self.block(next(&mut inner)?)?;
            let else_depth = otherwise.as_ref().map_or(0, |(_, d)| *d);
            let depth = 1 + cond.depth.max(then_depth).max(else_depth);
            let n = Node::new(
                ast::ExprKind::If {
                    cond: Box::new(cond.expr),
                    then,
                    otherwise: otherwise.take().map(|(b, _)| b),
                },
                span,
                depth,
                keyword,
            )?;
            if heads.is_empty() {
                node = Some(n);
            } else {
                let block = ast::Block { stmts: Vec::new(), result: Some(Box::new(n.expr)), span };
                otherwise = Some((block, n.depth));
            }
        }
        node.ok_or_else(|| internal("`if` without a head"))
    }

    /// Applies one postfix operation (call, index, field) to `base`.
    fn postfix(&self, base: Node, pair: Pair<'_, Rule>) -> Result<Node, Diagnostic> {
        let op_span = self.span(&pair);
        let span = base.expr.span.to(op_span);
        let mut depth = base.depth;
        let base = Box::new(base.expr);
        let kind = match pair.as_rule() {
            Rule::call_args => {
                let mut args = Vec::new();
                for arg in children(pair) {
                    let arg_span = self.span(&arg);
                    let mut inner = children(arg);
                    let mut first = next(&mut inner)?;
                    let name = if first.as_rule() == Rule::ident {
                        let name = self.ident(&first);
                        first = next(&mut inner)?;
                        Some(name)
                    } else {
                        None
                    };
                    let value = self.expr(first)?;
                    depth = depth.max(value.depth);
                    args.push(ast::Arg { name, value: value.expr, span: arg_span });
                }
                ast::ExprKind::Call { callee: base, args }
            }
            Rule::index => {
                let mut items = Vec::new();
                for item in children(pair) {
                    let item_span = self.span(&item);
                    if item.as_rule() == Rule::ellipsis {
                        items.push(ast::IndexItem::Ellipsis(item_span));
                        continue;
                    }
                    // `slice_or_at`: expressions, with `colon` pairs
                    // saying which of start, end and step each one is.
                    let mut parts: [Option<ast::Expr>; 3] = [None, None, None];
                    let mut part = 0;
                    for p in children(item) {
                        if p.as_rule() == Rule::colon {
                            part += 1;
                        } else if let Some(slot) = parts.get_mut(part) {
                            let e = self.expr(p)?;
                            depth = depth.max(e.depth);
                            *slot = Some(e.expr);
                        }
                    }
                    let [start, end, step] = parts;
                    items.push(match (part, start) {
                        (0, Some(at)) => ast::IndexItem::At(at),
                        (_, start) => ast::IndexItem::Slice { start, end, step, span: item_span },
                    });
                }
                ast::ExprKind::Index { base, items }
            }
            Rule::field => ast::ExprKind::Field { base, field: self.ident(&next(&mut children(pair))?) },
            _ => return Err(unexpected(&pair)),
        };
        Node::new(kind, span, depth + 1, op_span)
    }

    // --------------------------------------------------------- literals

    /// An integer or float literal, checked: the grammar's `number` token
    /// also matches malformed numbers so they can be reported here.
    fn number(&self, pair: &Pair<'_, Rule>) -> Result<Node, Diagnostic> {
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
    fn string(&self, pair: &Pair<'_, Rule>) -> Result<String, Diagnostic> {
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
    use super::*;

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
