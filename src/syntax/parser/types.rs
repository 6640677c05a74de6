//! Type annotations: tensor types with their element type and shape patterns.

use pest::iterators::Pair;

use super::fold::{Fold, Node, binop};
use super::grammar::Rule;
use super::{Lower, children, next, unexpected};
use crate::diag::Diagnostic;
use crate::syntax::ast;

impl Lower {
    pub(super) fn type_expr(&self, pair: Pair<'_, Rule>) -> Result<ast::TypeExpr, Diagnostic> {
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
    pub(super) fn dim_expr(&self, pair: Pair<'_, Rule>) -> Result<Node, Diagnostic> {
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
}
