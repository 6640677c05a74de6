//! Expressions: operands folded by precedence, primaries, `if`, and
//! postfix calls, indexing and fields.

use pest::iterators::Pair;

use super::fold::{Fold, Node, binop};
use super::grammar::Rule;
use super::{Lower, children, internal, next, tight_end, unexpected};
use crate::diag::{Diagnostic, Span};
use crate::syntax::ast;

impl Lower {
    /// A flat `expr` pair: prefix operators, primaries with their postfix
    /// operations, and infix operators, folded by precedence.
    pub(super) fn expr(&self, pair: Pair<'_, Rule>) -> Result<Node, Diagnostic> {
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

    pub(super) fn primary(&self, pair: Pair<'_, Rule>) -> Result<Node, Diagnostic> {
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
    pub(super) fn if_expr(&self, pair: Pair<'_, Rule>) -> Result<Node, Diagnostic> {
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
    pub(super) fn postfix(&self, base: Node, pair: Pair<'_, Rule>) -> Result<Node, Diagnostic> {
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
}
