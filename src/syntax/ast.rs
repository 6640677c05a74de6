//! The typed syntax tree of a `.nn` file.
//!
//! Every node carries the [`Span`] it was parsed from, so any later stage can
//! point back at the source. The tree is plain data: it knows nothing about
//! shapes, graphs or evaluation, and nothing in it refers to pest.

use crate::diag::Span;

/// One parsed file.
#[derive(Clone, Debug, PartialEq)]
pub struct Module {
    /// Top-level items in source order.
    pub items: Vec<Item>,
}

/// A top-level item.
#[derive(Clone, Debug, PartialEq)]
pub enum Item {
    /// `use "path.nn"`
    Use(UseItem),
    /// `model Name(params) { members and fns }`
    Model(ModelDef),
    /// `fn name(params) -> type { body }`
    Fn(FnDef),
    /// `data name { key = value ... }`
    Data(DataDef),
    /// `train Model on data { key = value ... }`
    Train(TrainDef),
}

/// A name with its place.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Ident {
    /// The identifier text.
    pub name: String,
    /// Where it was written.
    pub span: Span,
}

/// `use "path"`: load another file's items into this program.
#[derive(Clone, Debug, PartialEq)]
pub struct UseItem {
    /// The path as written, relative to the using file.
    pub path: String,
    /// The span of the path string.
    pub path_span: Span,
    /// The whole item.
    pub span: Span,
}

/// `model Name(params) { ... }`: a layer type with parameters, sub-layers and functions.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelDef {
    /// The model's name (capitalised by convention).
    pub name: Ident,
    /// Construction parameters (`in_features: int`); empty when the model takes none.
    pub params: Vec<Param>,
    /// `name = expr` members: sub-layers, `param(...)` tensors, constants.
    pub members: Vec<Member>,
    /// Functions defined in the model; `forward` is the one a call runs.
    pub fns: Vec<FnDef>,
    /// The whole definition.
    pub span: Span,
}

/// `name = expr` inside a model body.
#[derive(Clone, Debug, PartialEq)]
pub struct Member {
    /// The member's name.
    pub name: Ident,
    /// Its definition, evaluated once when the model is instantiated.
    pub value: Expr,
    /// The whole member.
    pub span: Span,
}

/// `fn name(params) -> ret { body }`
#[derive(Clone, Debug, PartialEq)]
pub struct FnDef {
    /// The function's name.
    pub name: Ident,
    /// Its parameters.
    pub params: Vec<Param>,
    /// The declared result type, if any.
    pub ret: Option<TypeExpr>,
    /// The body; its final expression is the result.
    pub body: Block,
    /// The whole definition.
    pub span: Span,
}

/// A parameter of a function or model: `name: type = default`.
#[derive(Clone, Debug, PartialEq)]
pub struct Param {
    /// The parameter's name.
    pub name: Ident,
    /// The declared type, if any.
    pub ty: Option<TypeExpr>,
    /// The default value, if any; a parameter with a default may be omitted.
    pub default: Option<Expr>,
    /// The whole parameter.
    pub span: Span,
}

/// A declared type.
#[derive(Clone, Debug, PartialEq)]
pub enum TypeExpr {
    /// A tensor with a shape pattern: `[B, 784]`, `[..., in_features]`,
    /// optionally with an element type: `int[B, T]`.
    Tensor {
        /// The element type written before the `[` (`int`, `float`), if any.
        dtype: Option<Ident>,
        /// One pattern per dimension.
        dims: Vec<DimPat>,
        /// The whole type.
        span: Span,
    },
    /// A named scalar type: `int`, `float`, `bool`, `str`.
    Named(Ident),
}

impl TypeExpr {
    /// The span of the whole type.
    pub fn span(&self) -> Span {
        match self {
            TypeExpr::Tensor { span, .. } => *span,
            TypeExpr::Named(id) => id.span,
        }
    }
}

/// One dimension in a tensor type.
#[derive(Clone, Debug, PartialEq)]
pub enum DimPat {
    /// A size: a literal, a symbolic dimension (`B`), a model parameter
    /// (`in_features`), or arithmetic over them (`H - 2`).
    Expr(Expr),
    /// `...`: any number of leading (or middle) dimensions.
    Ellipsis(Span),
}

/// `{ stmts; result }`
#[derive(Clone, Debug, PartialEq)]
pub struct Block {
    /// Statements in order.
    pub stmts: Vec<Stmt>,
    /// The final expression, whose value is the block's value.
    pub result: Option<Box<Expr>>,
    /// The braces and everything between.
    pub span: Span,
}

/// A statement in a block.
#[derive(Clone, Debug, PartialEq)]
pub enum Stmt {
    /// `let name = value`
    Let {
        /// The new variable.
        name: Ident,
        /// Its value.
        value: Expr,
        /// The whole statement.
        span: Span,
    },
    /// `name = value`, re-binding an existing variable.
    Assign {
        /// The variable.
        name: Ident,
        /// Its new value.
        value: Expr,
        /// The whole statement.
        span: Span,
    },
    /// `for var in start..end { body }`: a loop over a range known at compile
    /// time, unrolled when the graph is built.
    For {
        /// The loop variable, an `int` inside the body.
        var: Ident,
        /// First value (inclusive).
        start: Expr,
        /// Last value (exclusive).
        end: Expr,
        /// The body, run once per value.
        body: Block,
        /// The whole statement.
        span: Span,
    },
    /// An expression evaluated for its effect on nothing (kept for the REPL).
    Expr(Expr),
}

/// An expression with its span.
#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    /// What kind of expression.
    pub kind: ExprKind,
    /// Where it was written.
    pub span: Span,
}

/// The expression forms.
#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    /// `42`
    Int(i64),
    /// `0.05`, `1e-3`
    Float(f64),
    /// `"text"` (escapes already processed)
    Str(String),
    /// `true`, `false`
    Bool(bool),
    /// A variable, member, function, model or dimension name.
    Name(String),
    /// `[a, b, c]`
    List(Vec<Expr>),
    /// `[elem for var in start..end]`: a list with one element per value of
    /// `var`, evaluated at compile time.
    ListComp {
        /// The element, evaluated once per value of `var`.
        elem: Box<Expr>,
        /// The loop variable, an `int` inside `elem`.
        var: Ident,
        /// First value (inclusive).
        start: Box<Expr>,
        /// Last value (exclusive).
        end: Box<Expr>,
    },
    /// `-x`, `!x`
    Unary {
        /// The operator.
        op: UnOp,
        /// The operand.
        operand: Box<Expr>,
    },
    /// `a + b`, `a @ b`, `a < b`, ...
    Binary {
        /// The operator.
        op: BinOp,
        /// Left operand.
        lhs: Box<Expr>,
        /// Right operand.
        rhs: Box<Expr>,
    },
    /// `f(a, b, key = c)`
    Call {
        /// What is called: usually a name, sometimes a field or another call.
        callee: Box<Expr>,
        /// Positional arguments first, then keyword arguments (the parser
        /// keeps source order; the checker rejects positional-after-keyword).
        args: Vec<Arg>,
    },
    /// `x[:, -1]`, `x[..., 0:4]`
    Index {
        /// The indexed value.
        base: Box<Expr>,
        /// One item per indexed dimension.
        items: Vec<IndexItem>,
    },
    /// `a.b`
    Field {
        /// The value whose field is read.
        base: Box<Expr>,
        /// The field.
        field: Ident,
    },
    /// `if cond { a } else { b }` with a condition known at compile time.
    If {
        /// The condition.
        cond: Box<Expr>,
        /// Taken when true.
        then: Block,
        /// Taken when false.
        otherwise: Option<Block>,
    },
}

/// A call argument, positional or `name = value`.
#[derive(Clone, Debug, PartialEq)]
pub struct Arg {
    /// The keyword, for keyword arguments.
    pub name: Option<Ident>,
    /// The value.
    pub value: Expr,
    /// The whole argument.
    pub span: Span,
}

/// One item in an index expression.
#[derive(Clone, Debug, PartialEq)]
#[allow(clippy::large_enum_variant)] // short-lived; boxing would only add noise at every use
pub enum IndexItem {
    /// A single position; the dimension is removed.
    At(Expr),
    /// `start:end:step`, each part optional; the dimension is kept.
    Slice {
        /// First position (default 0).
        start: Option<Expr>,
        /// One past the last position (default the size).
        end: Option<Expr>,
        /// Step (default 1).
        step: Option<Expr>,
        /// The whole item.
        span: Span,
    },
    /// `...`: as many full slices as needed.
    Ellipsis(Span),
}

/// Prefix operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnOp {
    /// `-`
    Neg,
    /// `!`
    Not,
}

/// Infix operators, loosest binding first: `||`; `&&`; comparisons;
/// `+ -`; `* / % @`; `**` (right-associative, tighter than unary minus on its left).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    /// `||`
    Or,
    /// `&&`
    And,
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%`
    Rem,
    /// `@` (matrix multiply)
    MatMul,
    /// `**`
    Pow,
}

impl BinOp {
    /// The operator as written.
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Or => "||",
            BinOp::And => "&&",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Rem => "%",
            BinOp::MatMul => "@",
            BinOp::Pow => "**",
        }
    }
}

/// `data name { key = value ... }`: where examples come from.
#[derive(Clone, Debug, PartialEq)]
pub struct DataDef {
    /// The data set's name.
    pub name: Ident,
    /// Its settings (`train = idx(...)`, `scale = 1 / 255`, ...).
    pub settings: Vec<Setting>,
    /// The whole block.
    pub span: Span,
}

/// `train Model(args) on data { key = value ... }`: the training loop.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainDef {
    /// The model to train: a name or a constructor call.
    pub model: Expr,
    /// The data set to train on.
    pub data: Ident,
    /// Loss, optimizer, batch, epochs, seed, metrics, save, ...
    pub settings: Vec<Setting>,
    /// The whole block.
    pub span: Span,
}

/// `key = value` in a data or train block.
#[derive(Clone, Debug, PartialEq)]
pub struct Setting {
    /// The key.
    pub key: Ident,
    /// The value.
    pub value: Expr,
    /// The whole setting.
    pub span: Span,
}
