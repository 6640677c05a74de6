//! The values the checker and lowering compute with.
//!
//! A `.nn` program mixes compile-time values (sizes, floats, layers,
//! functions) with tensors. A [`Tensor`](Value::Tensor) carries its symbolic
//! shape, where it came from, and — when a graph is being built — its node.

use std::fmt;
use std::rc::Rc;

use super::builtins::Builtin;
use super::dim::{Dim, show_shape};
use crate::diag::Span;
use crate::graph::{DType, NodeId};
use crate::syntax::ast;

/// Index of a model instance in the evaluator's arena.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LayerId(pub u32);

/// A compile-time or tensor value.
#[derive(Clone, Debug)]
pub enum Value {
    /// An integer; sizes bound from shapes may be symbolic.
    Int(Dim),
    /// A float.
    Float(f64),
    /// A boolean.
    Bool(bool),
    /// A string.
    Str(Rc<str>),
    /// A list (of sizes, layers, tensors, ...).
    List(Rc<Vec<Value>>),
    /// A tensor.
    Tensor(TensorVal),
    /// An instantiated model, callable as a layer.
    Layer(LayerId),
    /// A function, builtin or model constructor.
    Func(Callable),
    /// A parameter initialiser (`uniform(-b, b)`).
    Init(Init),
    /// A settings record built by a builtin such as `sgd(...)` or `idx(...)`:
    /// its kind and every parameter with defaults filled in.
    Record(Rc<Record>),
    /// The result of an expression that already reported an error; every
    /// operation on it quietly yields `Poison` again, so one mistake is
    /// reported once.
    Poison,
}

/// A tensor during checking or lowering.
#[derive(Clone, Debug)]
pub struct TensorVal {
    /// Symbolic shape.
    pub shape: Vec<Dim>,
    /// Element type.
    pub dtype: DType,
    /// The graph node holding it, when lowering.
    pub node: Option<NodeId>,
    /// The expression that produced it (for "this has shape ..." labels).
    pub origin: Span,
}

/// Something that can be called.
#[derive(Clone, Debug)]
pub enum Callable {
    /// A user or prelude function; `layer` is set for functions defined
    /// inside a model, which see that instance's members.
    Fn {
        /// The definition.
        def: Rc<ast::FnDef>,
        /// The instance whose members the body sees.
        layer: Option<LayerId>,
    },
    /// A model constructor.
    Model(Rc<ast::ModelDef>),
    /// A builtin.
    Builtin(Builtin),
}

/// How a parameter is initialised.
#[derive(Clone, Debug, PartialEq)]
pub enum Init {
    /// Uniform on `[lo, hi)`.
    Uniform {
        /// Lower bound.
        lo: f64,
        /// Upper bound.
        hi: f64,
    },
    /// Normal with the given mean and standard deviation.
    Normal {
        /// Mean.
        mean: f64,
        /// Standard deviation.
        std: f64,
    },
    /// Every element equal.
    Fill(f64),
}

impl fmt::Display for Init {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Init::Uniform { lo, hi } => write!(f, "uniform({lo}, {hi})"),
            Init::Normal { mean, std } => write!(f, "normal({mean}, {std})"),
            Init::Fill(v) => write!(f, "fill({v})"),
        }
    }
}

/// A settings record such as `sgd(lr = 0.05, momentum = 0.9)`.
#[derive(Clone, Debug)]
pub struct Record {
    /// The builtin that made it (`sgd`, `idx`, ...).
    pub kind: Builtin,
    /// Every parameter, defaults filled in, in declaration order.
    pub fields: Vec<(&'static str, Value)>,
    /// Where it was written.
    pub span: Span,
}

impl Record {
    /// A field by name.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.fields.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }
}

impl Value {
    /// A known integer.
    pub fn int(n: i64) -> Value {
        Value::Int(Dim::Known(n))
    }

    /// What kind of value this is, for "expected a tensor, found a layer".
    pub fn describe(&self) -> String {
        match self {
            Value::Int(Dim::Known(n)) => format!("the integer {n}"),
            Value::Int(d) => format!("the size `{d}`"),
            Value::Float(x) => format!("the float {x}"),
            Value::Bool(b) => format!("the boolean {b}"),
            Value::Str(_) => "a string".into(),
            Value::List(items) => format!("a list of {} items", items.len()),
            Value::Tensor(t) => format!("a tensor of shape {}", show_shape(&t.shape)),
            Value::Layer(_) => "a layer".into(),
            Value::Func(Callable::Fn { def, .. }) => format!("the function `{}`", def.name.name),
            Value::Func(Callable::Model(m)) => format!("the model `{}`", m.name.name),
            Value::Func(Callable::Builtin(b)) => format!("the builtin `{b}`"),
            Value::Init(_) => "an initialiser".into(),
            Value::Record(r) => format!("a `{}` setting", r.kind),
            Value::Poison => "an erroneous value".into(),
        }
    }

    /// A float view of a numeric value.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(Dim::Known(n)) => Some(*n as f64),
            Value::Float(x) => Some(*x),
            _ => None,
        }
    }
}
