//! Blocks and statements.

use pest::iterators::Pair;

use super::grammar::Rule;
use super::{Lower, children, internal, next};
use crate::diag::Diagnostic;
use crate::syntax::ast;

impl Lower {
    /// A block and the depth of its deepest expression.
    pub(super) fn block(&self, pair: Pair<'_, Rule>) -> Result<(ast::Block, u32), Diagnostic> {
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
    pub(super) fn stmt(&self, pair: Pair<'_, Rule>) -> Result<(ast::Stmt, u32), Diagnostic> {
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
}
