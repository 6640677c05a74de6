//! Operator precedence, applied without recursion.
//!
//! The grammar hands over an expression as a flat run of prefix operators,
//! operands and infix operators. [`Fold`] combines them by shunting-yard on
//! two explicit stacks, so a chain of any length costs no stack depth, and
//! [`Node`] carries each subtree's depth so that the finished tree stays
//! within [`MAX_EXPR_DEPTH`].

use super::{MAX_EXPR_DEPTH, internal};
use crate::diag::{Code, Diagnostic, Span};
use crate::syntax::ast;

/// An expression with the depth of its tree.
pub(super) struct Node {
    pub expr: ast::Expr,
    pub depth: u32,
}

impl Node {
    /// A node of the given depth; too deep is an error pointing at `at`,
    /// the operator or keyword that went one level too far.
    pub fn new(kind: ast::ExprKind, span: Span, depth: u32, at: Span) -> Result<Node, Diagnostic> {
        if depth > MAX_EXPR_DEPTH {
            return Err(too_deep(at));
        }
        Ok(Node { expr: ast::Expr { kind, span }, depth })
    }
}

/// The operator an `infix` or `dim_op` token spells.
pub(super) fn binop(symbol: &str) -> ast::BinOp {
    use ast::BinOp::*;
    match symbol {
        "||" => Or,
        "&&" => And,
        "==" => Eq,
        "!=" => Ne,
        "<" => Lt,
        "<=" => Le,
        ">" => Gt,
        ">=" => Ge,
        "+" => Add,
        "-" => Sub,
        "*" => Mul,
        "/" => Div,
        "%" => Rem,
        "@" => MatMul,
        _ => Pow,
    }
}

fn too_deep(span: Span) -> Diagnostic {
    Diagnostic::error(Code::SYNTAX, span, "expression nested too deeply")
        .with_note(format!(
            "nnc accepts expressions at most {MAX_EXPR_DEPTH} levels deep; \
             each operator in a chain adds a level"
        ))
        .with_help("name intermediate values with `let`")
}

/// Binding strength: a higher number binds tighter.
fn precedence(op: Pending) -> u8 {
    use ast::BinOp::*;
    match op {
        Pending::Prefix(..) => 6,
        Pending::Infix(op, _) => match op {
            Or => 1,
            And => 2,
            Eq | Ne | Lt | Le | Gt | Ge => 3,
            Add | Sub => 4,
            Mul | Div | Rem | MatMul => 5,
            Pow => 7,
        },
    }
}

const COMPARISON: u8 = 3;

/// An operator waiting on the stack for its right operand.
#[derive(Clone, Copy)]
enum Pending {
    Prefix(ast::UnOp, Span),
    Infix(ast::BinOp, Span),
}

/// Operator precedence by shunting-yard: operands and operators arrive in
/// source order and are combined on two stacks, so the work is iterative
/// however long the chain. Left-associative operators reduce on equal
/// precedence, `**` does not; a prefix operator sits between `* / % @` and
/// `**`, so `-x ** 2` is `-(x ** 2)` while `-x * y` is `(-x) * y`.
pub(super) struct Fold {
    operands: Vec<Node>,
    ops: Vec<Pending>,
}

impl Fold {
    pub(super) fn new() -> Fold {
        Fold { operands: Vec::new(), ops: Vec::new() }
    }

    pub(super) fn operand(&mut self, node: Node) {
        self.operands.push(node);
    }

    pub(super) fn prefix(&mut self, op: ast::UnOp, span: Span) {
        self.ops.push(Pending::Prefix(op, span));
    }

    pub(super) fn infix(&mut self, op: ast::BinOp, span: Span) -> Result<(), Diagnostic> {
        let new = Pending::Infix(op, span);
        let prec = precedence(new);
        let right_assoc = op == ast::BinOp::Pow;
        while let Some(&top) = self.ops.last() {
            let top_prec = precedence(top);
            if top_prec < prec || (right_assoc && top_prec == prec) {
                break;
            }
            if let Pending::Infix(first, first_span) = top
                && top_prec == COMPARISON
                && prec == COMPARISON
            {
                return Err(Diagnostic::error(Code::SYNTAX, span, "comparison operators cannot be chained")
                    .with_primary("second comparison")
                    .with_label(first_span, format!("after this `{}`", first.symbol()))
                    .with_help("join the comparisons with `&&`, as in `a < b && b < c`"));
            }
            self.reduce()?;
        }
        self.ops.push(new);
        Ok(())
    }

    fn reduce(&mut self) -> Result<(), Diagnostic> {
        let op = self.ops.pop().ok_or_else(|| internal("operator stack empty"))?;
        let missing = || internal("operand stack empty");
        let node = match op {
            Pending::Prefix(op, op_span) => {
                let operand = self.operands.pop().ok_or_else(missing)?;
                let span = op_span.to(operand.expr.span);
                let depth = operand.depth + 1;
                let kind = ast::ExprKind::Unary { op, operand: Box::new(operand.expr) };
                Node::new(kind, span, depth, op_span)?
            }
            Pending::Infix(op, op_span) => {
                let rhs = self.operands.pop().ok_or_else(missing)?;
                let lhs = self.operands.pop().ok_or_else(missing)?;
                let span = lhs.expr.span.to(rhs.expr.span);
                let depth = lhs.depth.max(rhs.depth) + 1;
                let kind = ast::ExprKind::Binary { op, lhs: Box::new(lhs.expr), rhs: Box::new(rhs.expr) };
                Node::new(kind, span, depth, op_span)?
            }
        };
        self.operands.push(node);
        Ok(())
    }

    pub(super) fn finish(mut self) -> Result<Node, Diagnostic> {
        while !self.ops.is_empty() {
            self.reduce()?;
        }
        match (self.operands.pop(), self.operands.is_empty()) {
            (Some(node), true) => Ok(node),
            _ => Err(internal("operands left over")),
        }
    }
}
