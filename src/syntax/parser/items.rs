//! Items: models, functions, parameters, and the settings of data and train blocks.

use pest::iterators::Pair;

use super::fold::Node;
use super::grammar::Rule;
use super::{Lower, children, internal, next, unexpected};
use crate::diag::Diagnostic;
use crate::syntax::ast;

impl Lower {
    pub(super) fn item(&self, pair: Pair<'_, Rule>) -> Result<ast::Item, Diagnostic> {
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

    pub(super) fn model(&self, pair: Pair<'_, Rule>) -> Result<ast::ModelDef, Diagnostic> {
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

    pub(super) fn fn_def(&self, pair: Pair<'_, Rule>) -> Result<ast::FnDef, Diagnostic> {
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

    pub(super) fn params(&self, pair: Pair<'_, Rule>) -> Result<Vec<ast::Param>, Diagnostic> {
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

    pub(super) fn settings<'i>(
        &self,
        pairs: impl Iterator<Item = Pair<'i, Rule>>,
    ) -> Result<Vec<ast::Setting>, Diagnostic> {
        pairs.filter(|p| p.as_rule() != Rule::semi).map(|p| self.setting(p)).collect()
    }

    pub(super) fn setting(&self, pair: Pair<'_, Rule>) -> Result<ast::Setting, Diagnostic> {
        let span = self.span(&pair);
        let mut inner = children(pair);
        let key = self.ident(&next(&mut inner)?);
        let value = self.expr(next(&mut inner)?)?.expr;
        Ok(ast::Setting { key, value, span })
    }

    /// `Mlp` or `Mlp(hidden = 256)`.
    pub(super) fn train_model(&self, pair: Pair<'_, Rule>) -> Result<ast::Expr, Diagnostic> {
        let mut inner = children(pair);
        let name = next(&mut inner)?;
        let span = self.span(&name);
        let base = Node::new(ast::ExprKind::Name(name.as_str().into()), span, 1, span)?;
        Ok(match inner.next() {
            Some(args) => self.postfix(base, args)?.expr,
            None => base.expr,
        })
    }
}
