//! Builtin functions: the primitives the prelude and user code are written
//! in (`exp`, `sum`, `reshape`, `conv2d`, ...), initialisers for `param`,
//! and the settings constructors of data and train blocks (`idx`, `sgd`, ...).
//!
//! Composite builtins (`conv2d`, `max_pool2d`, `dropout`, `one_hot`) expand
//! into IR primitives here, so autodiff and the back ends only ever see the
//! primitive set.

use std::rc::Rc;

use super::dim::{Dim, show_shape};
use super::eval::{ArgVal, Elaborator, ParamSpec};
use super::ops::window_out;
use super::value::{Init, Record, TensorVal, Value};
use crate::diag::{Code, Diagnostic, Span};
use crate::graph::{BinaryOp, DType, Graph, NodeId, ReduceOp, Shape, SliceRange, UnaryOp};

/// The most elements one parameter may have (2^30, 4 GiB of f32).
pub const MAX_PARAM_ELEMENTS: usize = 1 << 30;

/// A builtin's signature.
#[derive(Debug)]
pub struct Builtin {
    /// Its name.
    pub name: &'static str,
    /// Parameter names in order.
    pub params: &'static [&'static str],
    /// How many leading parameters are required.
    pub required: usize,
    /// One line for `docs/LANGUAGE.md` and the REPL's `:help`.
    pub doc: &'static str,
}

macro_rules! builtins {
    ($($name:literal ($($p:literal),*) required $req:literal : $doc:literal;)*) => {
        /// Every builtin.
        pub const BUILTINS: &[Builtin] = &[$(Builtin { name: $name, params: &[$($p),*], required: $req, doc: $doc },)*];
    };
}

builtins! {
    "exp"("x") required 1: "elementwise e^x";
    "log"("x") required 1: "elementwise natural logarithm";
    "sqrt"("x") required 1: "elementwise square root";
    "tanh"("x") required 1: "elementwise hyperbolic tangent";
    "sin"("x") required 1: "elementwise sine";
    "cos"("x") required 1: "elementwise cosine";
    "maximum"("a", "b") required 2: "elementwise maximum, broadcasting";
    "minimum"("a", "b") required 2: "elementwise minimum, broadcasting";
    "where"("cond", "a", "b") required 3: "elementwise `cond != 0 ? a : b`, broadcasting";
    "sum"("x", "axis", "keepdim") required 1: "sum over `axis` (an int or list; all axes when omitted)";
    "mean"("x", "axis", "keepdim") required 1: "mean over `axis` (all axes when omitted)";
    "max"("x", "axis", "keepdim") required 1: "maximum over `axis` (all axes when omitted)";
    "min"("x", "axis", "keepdim") required 1: "minimum over `axis` (all axes when omitted)";
    "reshape"("x", "shape") required 2: "same elements, new shape; one `-1` is inferred";
    "transpose"("x", "dim0", "dim1") required 1: "swaps two axes (default the last two)";
    "permute"("x", "dims") required 2: "reorders axes: result axis i is input axis dims[i]";
    "unsqueeze"("x", "axis") required 2: "inserts a size-1 axis";
    "squeeze"("x", "axis") required 2: "removes a size-1 axis";
    "concat"("xs", "axis") required 1: "joins a list of tensors along an existing axis (default 0)";
    "stack"("xs", "axis") required 1: "joins a list of equal-shape tensors along a new axis (default 0)";
    "matmul"("a", "b") required 2: "matrix multiply, same as `a @ b`";
    "pad"("x", "pads") required 2: "zero padding: `pads` lists `[before, after]` for each axis";
    "window"("x", "kernel_size", "stride") required 2: "the `k`x`k` windows of [B, C, H, W], `stride` apart (default 1): [B, C, Ho, Wo, k*k]";
    "rand_like"("x") required 1: "uniform [0, 1) numbers of x's shape, drawn afresh each training step";
    "training"() required 0: "true while building the training step, false for evaluation";
    "assert"("cond", "message") required 2: "reports `message` as an error unless `cond` (known at compile time) holds";
    "one_hot"("labels", "n") required 2: "integer labels [...] to a 0/1 tensor [..., n]";
    "detach"("x") required 1: "the same values, but no gradient flows back through them";
    "size"("x", "axis") required 2: "the size of one axis, as an int";
    "len"("xs") required 1: "the length of a list";
    "param"("shape", "init") required 1: "a trainable parameter (model members only)";
    "zeros"("shape") required 0: "a tensor of zeros of `shape`; without a shape, the initialiser";
    "ones"("shape") required 0: "a tensor of ones of `shape`; without a shape, the initialiser";
    "full"("shape", "value") required 2: "a tensor of `shape` filled with `value`";
    "rand"("shape") required 1: "uniform [0, 1) numbers of `shape` (fixed per seed and step)";
    "constant"("value") required 1: "initialiser: every element `value`";
    "uniform"("lo", "hi") required 2: "initialiser: uniform on [lo, hi)";
    "normal"("mean", "std") required 0: "initialiser: normal (default mean 0, std 1)";
    "idx"("images", "labels") required 2: "data: an IDX image file and label file (plain or gzip)";
    "csv"("path", "label_column", "header") required 1: "data: a CSV file of `label,features...` rows";
    "npy"("images", "labels") required 2: "data: NPY arrays of inputs and labels";
    "sgd"("lr", "momentum", "nesterov", "weight_decay", "dampening") required 1: "optimizer: SGD as torch.optim.SGD";
    "adam"("lr", "beta1", "beta2", "eps", "weight_decay") required 0: "optimizer: Adam as torch.optim.Adam";
    "adamw"("lr", "beta1", "beta2", "eps", "weight_decay") required 0: "optimizer: AdamW as torch.optim.AdamW";
    "step_lr"("step_size", "gamma") required 1: "schedule: multiply the rate by gamma every step_size epochs";
    "cosine"("t_max", "eta_min") required 0: "schedule: cosine annealing over t_max epochs (default all)";
    "accuracy"() required 0: "metric: fraction of arg-max predictions equal to the label";
    "gather"("table", "indices") required 2: "rows of `table` [V, ...] picked by the integer tensor `indices` [...]: a tensor [..., ...] (embedding lookup)";
    "arange"("n") required 1: "the integers 0, 1, ..., n - 1 as an `int[n]` tensor";
    "reverse_digits"("n", "length", "seed") required 2: "data: `n` random digit sequences of `length`, each to be reversed (sequence to sequence)";
    "sort_digits"("n", "length", "seed") required 2: "data: `n` random digit sequences of `length`, each to be sorted (sequence to sequence)";
    "sequence_accuracy"() required 0: "metric: fraction of test sequences a greedy decoder reproduces exactly";
}

/// The builtin with this name.
pub fn find(name: &str) -> Option<&'static Builtin> {
    BUILTINS.iter().find(|b| b.name == name)
}

/// Default values of optional record fields, in parameter order (`None`: absent).
fn record_defaults(name: &str) -> &'static [Option<f64>] {
    match name {
        "csv" => &[None, Some(0.0), None],
        "sgd" => &[None, Some(0.0), Some(0.0), Some(0.0), Some(0.0)],
        "adam" => &[Some(1e-3), Some(0.9), Some(0.999), Some(1e-8), Some(0.0)],
        "adamw" => &[Some(1e-3), Some(0.9), Some(0.999), Some(1e-8), Some(0.01)],
        "step_lr" => &[None, Some(0.1)],
        "reverse_digits" | "sort_digits" => &[None, None, Some(0.0)],
        "cosine" => &[None, Some(0.0)],
        _ => &[],
    }
}

/// Calls builtin `name`.
pub fn call(el: &mut Elaborator<'_>, name: &'static str, args: Vec<ArgVal>, span: Span) -> Value {
    let Some(b) = find(name) else {
        return Value::Poison;
    };
    let Some(slots) = el.bind_args(&format!("`{name}`"), b.params, args, span) else {
        return Value::Poison;
    };
    for (i, p) in b.params.iter().enumerate().take(b.required) {
        if slots[i].is_none() {
            let d = Diagnostic::error(
                Code::MISSING_ARGUMENT,
                span,
                format!("`{name}` is missing argument `{p}`"),
            )
            .with_note(format!("`{name}({})`: {}", b.params.join(", "), b.doc));
            return el.err(d);
        }
    }
    let a = Args { slots, span };
    match name {
        "exp" => unary(el, &a, UnaryOp::Exp, f64::exp),
        "log" => unary(el, &a, UnaryOp::Log, f64::ln),
        "sqrt" => unary(el, &a, UnaryOp::Sqrt, f64::sqrt),
        "tanh" => unary(el, &a, UnaryOp::Tanh, f64::tanh),
        "sin" => unary(el, &a, UnaryOp::Sin, f64::sin),
        "cos" => unary(el, &a, UnaryOp::Cos, f64::cos),
        "maximum" | "minimum" => {
            let (x, y) = (a.get(0), a.get(1));
            if let (Some(p), Some(q)) = (x.value.as_f64(), y.value.as_f64()) {
                return Value::Float(if name == "maximum" { p.max(q) } else { p.min(q) });
            }
            let (Some(p), Some(q)) = (el.as_tensor(&x.value, x.span), el.as_tensor(&y.value, y.span)) else {
                return type_error(el, &x, "a tensor or number");
            };
            let (p, q) = (el.as_float(p), el.as_float(q));
            let op = if name == "maximum" { BinaryOp::Max } else { BinaryOp::Min };
            el.elementwise(
                op,
                &TensorVal { origin: x.span, ..p },
                &TensorVal { origin: y.span, ..q },
                span,
                false,
            )
        }
        "where" => where_(el, &a),
        "sum" | "mean" | "max" | "min" => reduction(el, &a, name),
        "reshape" => reshape(el, &a),
        "transpose" => {
            let Some(t) = a.tensor(el, 0) else {
                return Value::Poison;
            };
            let r = t.shape.len() as i64;
            let (Some(d0), Some(d1)) = (a.int_or(el, 1, -2), a.int_or(el, 2, -1)) else {
                return Value::Poison;
            };
            let (Some(d0), Some(d1)) = (el.axis(d0, r as usize, span), el.axis(d1, r as usize, span)) else {
                return Value::Poison;
            };
            let mut perm: Vec<usize> = (0..r as usize).collect();
            perm.swap(d0, d1);
            el.permute(&t, perm, span)
        }
        "permute" => permute(el, &a),
        "unsqueeze" | "squeeze" => squeeze(el, &a, name == "unsqueeze"),
        "concat" | "stack" => concat(el, &a, name == "stack"),
        "matmul" => {
            let (Some(x), Some(y)) = (a.tensor(el, 0), a.tensor(el, 1)) else {
                return Value::Poison;
            };
            let (x, y) = (el.as_float(x), el.as_float(y));
            el.matmul(x, y, span)
        }
        "pad" => pad(el, &a),
        "window" => window(el, &a),
        "rand_like" => rand_like(el, &a),
        "training" => Value::Bool(el.training),
        "assert" => assert(el, &a),
        "one_hot" => one_hot(el, &a),
        "detach" => match a.tensor(el, 0) {
            Some(t) => {
                let x = t.node;
                el.tensor(t.shape.clone(), t.dtype, a.span, |g| Some(g.detach(x?)))
            }
            None => Value::Poison,
        },
        "size" => {
            let Some(t) = a.tensor(el, 0) else {
                return Value::Poison;
            };
            let Some(ax) = a.int(el, 1) else {
                return Value::Poison;
            };
            match el.axis(ax, t.shape.len(), a.span_of(1)) {
                Some(ax) => Value::Int(t.shape[ax].clone()),
                None => Value::Poison,
            }
        }
        "len" => match &a.get(0).value {
            Value::List(xs) => Value::int(xs.len() as i64),
            _ => type_error(el, &a.get(0), "a list"),
        },
        "param" => param(el, &a),
        "zeros" | "ones" if !a.present(0) => Value::Init(Init::Fill(if name == "ones" { 1.0 } else { 0.0 })),
        "zeros" | "ones" | "full" => {
            let value = match name {
                "zeros" => Some(0.0),
                "ones" => Some(1.0),
                _ => a.float(el, 1),
            };
            let (Some(dims), Some(value)) = (a.dims(el, 0), value) else { return Value::Poison };
            if let Some(bad) = dims.iter().find(|d| d.known().is_some_and(|n| n < 0)) {
                return bad_value(el, a.span_of(0), format!("negative dimension {bad}"));
            }
            let shape = Elaborator::concrete(&dims);
            el.tensor(dims, DType::F32, a.span, |g| Some(g.constant(value as f32, shape?)))
        }
        "rand" => {
            let Some(dims) = a.dims(el, 0) else { return Value::Poison };
            let stream = el.next_stream;
            el.next_stream += 1;
            let shape = Elaborator::concrete(&dims);
            el.tensor(dims, DType::F32, a.span, |g| Some(g.rand(stream, shape?)))
        }
        "constant" => match a.float(el, 0) {
            Some(v) => Value::Init(Init::Fill(v)),
            None => Value::Poison,
        },
        "uniform" => match (a.float(el, 0), a.float(el, 1)) {
            (Some(lo), Some(hi)) if lo <= hi => Value::Init(Init::Uniform { lo, hi }),
            (Some(lo), Some(hi)) => bad_value(el, span, format!("uniform({lo}, {hi}) has lo > hi")),
            _ => Value::Poison,
        },
        "normal" => match (a.float_or(el, 0, 0.0), a.float_or(el, 1, 1.0)) {
            (Some(mean), Some(std)) if std >= 0.0 => Value::Init(Init::Normal { mean, std }),
            (Some(_), Some(std)) => {
                bad_value(el, span, format!("normal std must be non-negative, found {std}"))
            }
            _ => Value::Poison,
        },
        "gather" => gather(el, &a),
        "arange" => arange(el, &a),
        _ => record(name, a),
    }
}

/// Evaluated arguments, one slot per parameter.
struct Args {
    slots: Vec<Option<ArgVal>>,
    span: Span,
}

impl Args {
    fn get(&self, i: usize) -> ArgVal {
        self.slots[i].clone().unwrap_or(ArgVal { name: None, value: Value::Poison, span: self.span })
    }

    fn present(&self, i: usize) -> bool {
        self.slots.get(i).is_some_and(Option::is_some)
    }

    fn span_of(&self, i: usize) -> Span {
        self.slots.get(i).and_then(|s| s.as_ref()).map_or(self.span, |a| a.span)
    }

    fn tensor(&self, el: &mut Elaborator<'_>, i: usize) -> Option<TensorVal> {
        let a = self.get(i);
        match &a.value {
            Value::Tensor(t) => Some(TensorVal { origin: a.span, ..t.clone() }),
            Value::Poison => None,
            _ => {
                type_error(el, &a, "a tensor");
                None
            }
        }
    }

    fn int(&self, el: &mut Elaborator<'_>, i: usize) -> Option<i64> {
        let a = self.get(i);
        el.static_int(&a.value, a.span)
    }

    fn int_or(&self, el: &mut Elaborator<'_>, i: usize, default: i64) -> Option<i64> {
        if self.present(i) { self.int(el, i) } else { Some(default) }
    }

    fn float(&self, el: &mut Elaborator<'_>, i: usize) -> Option<f64> {
        let a = self.get(i);
        match a.value.as_f64() {
            Some(x) => Some(x),
            None if matches!(a.value, Value::Poison) => None,
            None => {
                type_error(el, &a, "a number");
                None
            }
        }
    }

    fn float_or(&self, el: &mut Elaborator<'_>, i: usize, default: f64) -> Option<f64> {
        if self.present(i) { self.float(el, i) } else { Some(default) }
    }

    fn bool_or(&self, el: &mut Elaborator<'_>, i: usize, default: bool) -> Option<bool> {
        if !self.present(i) {
            return Some(default);
        }
        match self.get(i).value {
            Value::Bool(b) => Some(b),
            _ => {
                type_error(el, &self.get(i), "`true` or `false`");
                None
            }
        }
    }

    /// An int or list of ints, normalised against `rank`; `None` inside when absent.
    fn axes(&self, el: &mut Elaborator<'_>, i: usize, rank: usize) -> Option<Option<Vec<usize>>> {
        if !self.present(i) {
            return Some(None);
        }
        let a = self.get(i);
        let raw: Vec<Value> = match &a.value {
            Value::List(xs) => xs.as_ref().clone(),
            v => vec![v.clone()],
        };
        let mut axes = Vec::new();
        for v in raw {
            let n = el.static_int(&v, a.span)?;
            axes.push(el.axis(n, rank, a.span)?);
        }
        axes.sort_unstable();
        axes.dedup();
        Some(Some(axes))
    }

    /// A list of sizes (ints, possibly symbolic).
    fn dims(&self, el: &mut Elaborator<'_>, i: usize) -> Option<Vec<Dim>> {
        let a = self.get(i);
        match &a.value {
            Value::List(xs) => {
                let mut out = Vec::new();
                for v in xs.iter() {
                    match v {
                        Value::Int(d) => out.push(d.clone()),
                        Value::Poison => return None,
                        other => {
                            let d = Diagnostic::error(
                                Code::TYPE,
                                a.span,
                                format!("a shape is a list of integers, found {}", other.describe()),
                            );
                            el.err(d);
                            return None;
                        }
                    }
                }
                Some(out)
            }
            Value::Poison => None,
            _ => {
                type_error(el, &a, "a list of sizes like `[B, 784]`");
                None
            }
        }
    }
}

fn type_error(el: &mut Elaborator<'_>, a: &ArgVal, expected: &str) -> Value {
    if matches!(a.value, Value::Poison) {
        return Value::Poison;
    }
    let d =
        Diagnostic::error(Code::TYPE, a.span, format!("expected {expected}, found {}", a.value.describe()));
    el.err(d)
}

fn bad_value(el: &mut Elaborator<'_>, span: Span, msg: String) -> Value {
    el.err(Diagnostic::error(Code::BAD_VALUE, span, msg))
}

fn unary(el: &mut Elaborator<'_>, a: &Args, op: UnaryOp, f: fn(f64) -> f64) -> Value {
    let x = a.get(0);
    if let Some(v) = x.value.as_f64() {
        return Value::Float(f(v));
    }
    match &x.value {
        Value::Tensor(t) => el.unary_tensor(op, t.clone(), a.span),
        _ => type_error(el, &x, "a tensor or number"),
    }
}

fn where_(el: &mut Elaborator<'_>, a: &Args) -> Value {
    let vals: Vec<ArgVal> = (0..3).map(|i| a.get(i)).collect();
    let mut ts = Vec::new();
    for v in &vals {
        match el.as_tensor(&v.value, v.span) {
            Some(t) => {
                let t = el.as_float(t);
                ts.push(TensorVal { origin: v.span, ..t });
            }
            None => return type_error(el, v, "a tensor or number"),
        }
    }
    let shape = match super::ops::broadcast(&ts[0].shape, &ts[1].shape)
        .and_then(|s| super::ops::broadcast(&s, &ts[2].shape))
    {
        Ok(s) => s,
        Err((x, y)) => {
            let d = Diagnostic::error(
                Code::BROADCAST,
                a.span,
                format!(
                    "`where` operands {}, {} and {} cannot be broadcast together",
                    show_shape(&ts[0].shape),
                    show_shape(&ts[1].shape),
                    show_shape(&ts[2].shape)
                ),
            )
            .with_note(format!("dimensions {x} and {y} differ and neither is 1"));
            return el.err(d);
        }
    };
    let nodes: Vec<Option<NodeId>> = ts.iter().map(|t| t.node).collect();
    let target = Elaborator::concrete(&shape);
    el.tensor(shape, DType::F32, a.span, |g| {
        let (target, nodes) = (target?, nodes.into_iter().collect::<Option<Vec<_>>>()?);
        let n: Vec<NodeId> = nodes.iter().map(|&n| g.broadcast_to(n, &target)).collect();
        Some(g.select(n[0], n[1], n[2]))
    })
}

fn reduction(el: &mut Elaborator<'_>, a: &Args, name: &str) -> Value {
    let x = a.get(0);
    if let Value::List(xs) = &x.value {
        // max/min/sum over a list of numbers, for sizes and constants.
        let nums: Option<Vec<f64>> = xs.iter().map(Value::as_f64).collect();
        if let (Some(nums), false) = (nums, xs.is_empty()) {
            let all_int = xs.iter().all(|v| matches!(v, Value::Int(_)));
            let r = match name {
                "sum" => nums.iter().sum(),
                "mean" => nums.iter().sum::<f64>() / nums.len() as f64,
                "max" => nums.iter().cloned().fold(f64::MIN, f64::max),
                _ => nums.iter().cloned().fold(f64::MAX, f64::min),
            };
            return if all_int && name != "mean" { Value::int(r as i64) } else { Value::Float(r) };
        }
    }
    let Some(t) = a.tensor(el, 0) else {
        return Value::Poison;
    };
    let Some(axes) = a.axes(el, 1, t.shape.len()) else {
        return Value::Poison;
    };
    let Some(keepdim) = a.bool_or(el, 2, false) else {
        return Value::Poison;
    };
    let span = a.span;
    match name {
        "sum" => el.reduce(ReduceOp::Sum, &t, axes, keepdim, span),
        "max" => el.reduce(ReduceOp::Max, &t, axes, keepdim, span),
        "min" => {
            let neg = el.unary_tensor(UnaryOp::Neg, t, span);
            let Value::Tensor(neg) = neg else {
                return Value::Poison;
            };
            let m = el.reduce(ReduceOp::Max, &neg, axes, keepdim, span);
            let Value::Tensor(m) = m else {
                return Value::Poison;
            };
            el.unary_tensor(UnaryOp::Neg, m, span)
        }
        _ => {
            let all: Vec<usize> = (0..t.shape.len()).collect();
            let count = Dim::product(
                &axes.as_ref().unwrap_or(&all).iter().map(|&i| t.shape[i].clone()).collect::<Vec<_>>(),
            );
            let s = el.reduce(ReduceOp::Sum, &t, axes, keepdim, span);
            let Value::Tensor(s) = s else {
                return Value::Poison;
            };
            let x = s.node;
            el.tensor(s.shape.clone(), DType::F32, span, |g| {
                let n = count.known()?.max(1) as f32;
                Some(g.scale(x?, 1.0 / n))
            })
        }
    }
}

fn reshape(el: &mut Elaborator<'_>, a: &Args) -> Value {
    let Some(t) = a.tensor(el, 0) else {
        return Value::Poison;
    };
    let Some(mut dims) = a.dims(el, 1) else {
        return Value::Poison;
    };
    let holes: Vec<usize> =
        dims.iter().enumerate().filter(|(_, d)| **d == Dim::Known(-1)).map(|(i, _)| i).collect();
    if holes.len() > 1 {
        return bad_value(el, a.span_of(1), "a reshape may infer only one dimension (`-1`)".into());
    }
    if let Some(&h) = holes.first() {
        let (kin, mut sin) = super::ops::factorise(&t.shape);
        let rest: Vec<Dim> =
            dims.iter().enumerate().filter(|(i, _)| *i != h).map(|(_, d)| d.clone()).collect();
        let (kout, sout) = super::ops::factorise(&rest);
        let mut ok = kout != 0 && kin % kout == 0;
        for s in &sout {
            match sin.iter().position(|x| x == s) {
                Some(p) => {
                    sin.remove(p);
                }
                None => ok = false,
            }
        }
        if !ok {
            let d = Diagnostic::error(
                Code::RESHAPE,
                a.span,
                format!("cannot reshape {} into {}", show_shape(&t.shape), show_shape(&dims)),
            )
            .with_label(t.origin, format!("this has {} elements", Dim::product(&t.shape)))
            .with_help("the other dimensions must divide the element count");
            return el.err(d);
        }
        let mut inferred = Dim::Known(kin / kout.max(1));
        for s in sin {
            inferred =
                inferred.arith(super::dim::DimOp::Mul, &Dim::Sym(Rc::from(s.as_str()))).unwrap_or(inferred);
        }
        dims[h] = inferred;
    }
    if let Some(bad) = dims.iter().find(|d| d.known().is_some_and(|n| n < 0)) {
        return bad_value(el, a.span_of(1), format!("negative dimension {bad} in reshape"));
    }
    el.reshape(&t, dims, a.span)
}

fn permute(el: &mut Elaborator<'_>, a: &Args) -> Value {
    let Some(t) = a.tensor(el, 0) else {
        return Value::Poison;
    };
    let Some(dims) = a.dims(el, 1) else {
        return Value::Poison;
    };
    let r = t.shape.len();
    let mut perm = Vec::new();
    for d in dims {
        let Some(n) = d.known() else {
            return bad_value(el, a.span_of(1), "permute axes must be integers".into());
        };
        let Some(ax) = el.axis(n, r, a.span_of(1)) else {
            return Value::Poison;
        };
        perm.push(ax);
    }
    let mut sorted = perm.clone();
    sorted.sort_unstable();
    if sorted != (0..r).collect::<Vec<_>>() {
        return bad_value(el, a.span_of(1), format!("{perm:?} is not a permutation of the {r} axes"));
    }
    el.permute(&t, perm, a.span)
}

fn squeeze(el: &mut Elaborator<'_>, a: &Args, insert: bool) -> Value {
    let Some(t) = a.tensor(el, 0) else {
        return Value::Poison;
    };
    let Some(ax) = a.int(el, 1) else {
        return Value::Poison;
    };
    let r = t.shape.len();
    let mut dims = t.shape.clone();
    if insert {
        let Some(ax) = el.axis(ax, r + 1, a.span_of(1)) else {
            return Value::Poison;
        };
        dims.insert(ax, Dim::Known(1));
    } else {
        let Some(ax) = el.axis(ax, r, a.span_of(1)) else {
            return Value::Poison;
        };
        if dims[ax] != Dim::Known(1) {
            return bad_value(el, a.span_of(1), format!("axis {ax} has size {}, not 1", dims[ax]));
        }
        dims.remove(ax);
    }
    el.reshape(&t, dims, a.span)
}

fn concat(el: &mut Elaborator<'_>, a: &Args, stack: bool) -> Value {
    let xs = a.get(0);
    let Value::List(items) = &xs.value else {
        return type_error(el, &xs, "a list of tensors");
    };
    if items.is_empty() {
        return bad_value(el, xs.span, "cannot join an empty list".into());
    }
    let mut ts = Vec::new();
    for v in items.iter() {
        match v {
            Value::Tensor(t) => ts.push(t.clone()),
            Value::Poison => return Value::Poison,
            other => {
                return type_error(el, &ArgVal { value: other.clone(), ..xs.clone() }, "a list of tensors");
            }
        }
    }
    let rank = ts[0].shape.len() + usize::from(stack);
    let Some(ax) = a.int_or(el, 1, 0) else {
        return Value::Poison;
    };
    let Some(ax) = el.axis(ax, rank, a.span_of(1)) else {
        return Value::Poison;
    };
    let ts: Vec<TensorVal> = ts.into_iter().map(|t| el.as_float(t)).collect();
    for t in &ts[1..] {
        let same = if stack {
            t.shape == ts[0].shape
        } else {
            t.shape.len() == ts[0].shape.len()
                && t.shape.iter().zip(&ts[0].shape).enumerate().all(|(i, (p, q))| i == ax || p == q)
        };
        if !same {
            let d = Diagnostic::error(
                Code::BROADCAST,
                a.span,
                format!(
                    "cannot {} tensors of shapes {} and {} along axis {ax}",
                    if stack { "stack" } else { "concatenate" },
                    show_shape(&ts[0].shape),
                    show_shape(&t.shape)
                ),
            )
            .with_label(t.origin, format!("this has shape {}", show_shape(&t.shape)));
            return el.err(d);
        }
    }
    let parts: Vec<(Option<NodeId>, Vec<Dim>)> = ts
        .iter()
        .map(|t| {
            let mut s = t.shape.clone();
            if stack {
                s.insert(ax, Dim::Known(1));
            }
            (t.node, s)
        })
        .collect();
    let mut shape = parts[0].1.clone();
    shape[ax] = Dim::product(&[Dim::Known(1)]);
    let total = parts
        .iter()
        .fold(Dim::Known(0), |acc, (_, s)| acc.arith(super::dim::DimOp::Add, &s[ax]).unwrap_or(acc));
    shape[ax] = total;
    el.tensor(shape, DType::F32, a.span, |g| {
        let mut nodes = Vec::with_capacity(parts.len());
        for (n, s) in &parts {
            nodes.push(g.reshape((*n)?, Elaborator::concrete(s)?));
        }
        Some(g.concat(&nodes, ax))
    })
}

/// Output height and width of `k`x`k` windows `stride` apart, or an E0307 error.
fn window_dims(
    el: &mut Elaborator<'_>,
    x: &TensorVal,
    k: i64,
    stride: i64,
    span: Span,
) -> Option<(Dim, Dim)> {
    let ho = window_out(&x.shape[2], k, stride, 0)?;
    let wo = window_out(&x.shape[3], k, stride, 0)?;
    for (out, input) in [(&ho, &x.shape[2]), (&wo, &x.shape[3])] {
        if out.known().is_some_and(|n| n < 1) {
            let d = Diagnostic::error(
                Code::WINDOW,
                span,
                format!("a window of size {k} does not fit an input of size {input} (padding included)"),
            )
            .with_label(x.origin, format!("this has shape {}", show_shape(&x.shape)))
            .with_help("use a smaller kernel, more padding, or a larger input");
            el.err(d);
            return None;
        }
    }
    Some((ho, wo))
}

fn pad(el: &mut Elaborator<'_>, a: &Args) -> Value {
    let Some(t) = a.tensor(el, 0) else { return Value::Poison };
    let pads_arg = a.get(1);
    let bad = |el: &mut Elaborator<'_>| {
        bad_value(
            el,
            pads_arg.span,
            format!(
                "`pad` needs one `[before, after]` pair of non-negative integers per axis ({} axes)",
                t.shape.len()
            ),
        )
    };
    let Value::List(rows) = &pads_arg.value else { return bad(el) };
    if rows.len() != t.shape.len() {
        return bad(el);
    }
    let mut pads = Vec::new();
    for r in rows.iter() {
        match r {
            Value::List(pair) => match (pair.first(), pair.get(1), pair.len()) {
                (Some(Value::Int(Dim::Known(lo))), Some(Value::Int(Dim::Known(hi))), 2)
                    if *lo >= 0 && *hi >= 0 =>
                {
                    pads.push((*lo, *hi))
                }
                _ => return bad(el),
            },
            _ => return bad(el),
        }
    }
    let shape: Vec<Dim> = t
        .shape
        .iter()
        .zip(&pads)
        .map(|(d, &(lo, hi))| d.arith(super::dim::DimOp::Add, &Dim::Known(lo + hi)).unwrap_or(Dim::Known(0)))
        .collect();
    let x = t.node;
    let pads: Vec<(usize, usize)> = pads.iter().map(|&(lo, hi)| (lo as usize, hi as usize)).collect();
    el.tensor(shape, t.dtype, a.span, |g| Some(g.pad(x?, pads)))
}

/// The windows a convolution or pooling sees, as a view:
/// `[B, C, H, W] -> [B, C, Ho, Wo, k*k]`, window offsets in row-major order.
fn window(el: &mut Elaborator<'_>, a: &Args) -> Value {
    let span = a.span;
    let Some(x) = a.tensor(el, 0) else { return Value::Poison };
    let (Some(k), Some(s)) = (a.int(el, 1), a.int_or(el, 2, 1)) else { return Value::Poison };
    if x.shape.len() != 4 {
        let d = Diagnostic::error(
            Code::ARG_SHAPE,
            x.origin,
            format!(
                "windows need a [batch, channels, height, width] input, found shape {}",
                show_shape(&x.shape)
            ),
        );
        return el.err(d);
    }
    if k < 1 || s < 1 {
        return bad_value(el, span, format!("windows need kernel_size >= 1 and stride >= 1 (got {k}, {s})"));
    }
    let Some((ho, wo)) = window_dims(el, &x, k, s, span) else { return Value::Poison };
    let shape = vec![x.shape[0].clone(), x.shape[1].clone(), ho.clone(), wo.clone(), Dim::Known(k * k)];
    let (nx, sx) = (x.node, Elaborator::concrete(&x.shape));
    el.tensor(shape, x.dtype, span, |g| {
        let (sx, ho, wo) = (sx?, ho.known()? as usize, wo.known()? as usize);
        Some(window_nodes(g, nx?, &sx, (ho, wo), k as usize, s as usize))
    })
}

/// Emits the windows of `x` (shape `sx`, `[B, C, H, W]`): `ho` x `wo` windows
/// of `k` x `k`, `s` apart.
fn window_nodes(g: &mut Graph, x: NodeId, sx: &Shape, (ho, wo): (usize, usize), k: usize, s: usize) -> NodeId {
    let (b, c) = (sx.0[0], sx.0[1]);
    if s == k {
        // Non-overlapping: crop, split each spatial axis in two, bring the offsets last.
        let rows = SliceRange { start: 0, end: ho * k, step: 1 };
        let cols = SliceRange { start: 0, end: wo * k, step: 1 };
        let crop = g.slice(x, vec![SliceRange::full(b), SliceRange::full(c), rows, cols]);
        let split = g.reshape(crop, Shape(vec![b, c, ho, k, wo, k]));
        let offsets_last = g.permute(split, &[0, 1, 2, 4, 3, 5]);
        return g.reshape(offsets_last, Shape(vec![b, c, ho, wo, k * k]));
    }
    let mut wins = Vec::with_capacity(k * k);
    for i in 0..k {
        for j in 0..k {
            let w = g.slice(
                x,
                vec![
                    SliceRange::full(b),
                    SliceRange::full(c),
                    SliceRange { start: i, end: i + s * (ho - 1) + 1, step: s },
                    SliceRange { start: j, end: j + s * (wo - 1) + 1, step: s },
                ],
            );
            wins.push(g.reshape(w, Shape(vec![b, c, ho, wo, 1])));
        }
    }
    g.concat(&wins, 4)
}

fn rand_like(el: &mut Elaborator<'_>, a: &Args) -> Value {
    let Some(x) = a.tensor(el, 0) else { return Value::Poison };
    let stream = el.next_stream;
    el.next_stream += 1;
    let shape = Elaborator::concrete(&x.shape);
    el.tensor(x.shape.clone(), DType::F32, a.span, |g| Some(g.rand(stream, shape?)))
}

fn one_hot(el: &mut Elaborator<'_>, a: &Args) -> Value {
    let Some(t) = a.tensor(el, 0) else {
        return Value::Poison;
    };
    let n = a.get(1);
    let n_dim = match &n.value {
        Value::Int(d) => d.clone(),
        _ => return type_error(el, &n, "an integer"),
    };
    if n_dim.known().is_some_and(|k| k < 1) {
        return bad_value(el, n.span, format!("one_hot needs at least 1 class, found {n_dim}"));
    }
    let mut shape = t.shape.clone();
    shape.push(n_dim);
    let nx = t.node;
    let src = Elaborator::concrete(&t.shape);
    let out = Elaborator::concrete(&shape);
    el.tensor(shape, DType::F32, a.span, |g| {
        let (src, out) = (src?, out?);
        let f = g.cast(nx?, DType::F32);
        let mut col = src.0;
        col.push(1);
        let f = g.reshape(f, Shape(col));
        let f = g.broadcast_to(f, &out);
        let classes = g.iota(out.rank() - 1, out.clone());
        Some(g.binary(BinaryOp::Eq, f, classes))
    })
}

fn param(el: &mut Elaborator<'_>, a: &Args) -> Value {
    let span = a.span;
    let Some(name) = el.naming.take() else {
        let d = Diagnostic::error(Code::TYPE, span, "`param` outside a model body")
            .with_help("declare parameters as model members: `weight = param([out, in], init = ...)`");
        return el.err(d);
    };
    let Some(dims) = a.dims(el, 0) else {
        return Value::Poison;
    };
    let mut shape = Vec::with_capacity(dims.len());
    for d in &dims {
        match d.known() {
            Some(n) if n > 0 => shape.push(n as usize),
            Some(n) => {
                return bad_value(
                    el,
                    a.span_of(0),
                    format!("parameter `{name}` has a dimension of size {n}"),
                );
            }
            None => {
                let d = Diagnostic::error(
                    Code::TYPE,
                    a.span_of(0),
                    format!("parameter `{name}` has a symbolic dimension `{d}`"),
                )
                .with_help("parameter shapes must be known when the model is built");
                return el.err(d);
            }
        }
    }
    let numel = shape.iter().try_fold(1usize, |acc, &n| acc.checked_mul(n));
    if numel.is_none_or(|n| n > MAX_PARAM_ELEMENTS) {
        return bad_value(
            el,
            a.span_of(0),
            format!("parameter `{name}` would have more than {MAX_PARAM_ELEMENTS} elements"),
        );
    }
    let init = if a.present(1) {
        match a.get(1).value {
            Value::Init(i) => i,
            Value::Poison => return Value::Poison,
            _ => {
                return type_error(el, &a.get(1), "an initialiser such as `uniform(-0.1, 0.1)` or `zeros()`");
            }
        }
    } else {
        Init::Fill(0.0)
    };
    let shape = Shape(shape);
    let name_c = name.clone();
    let shape_c = shape.clone();
    let dims: Vec<Dim> = shape.0.iter().map(|&n| Dim::Known(n as i64)).collect();
    let v = el.tensor(dims, DType::F32, span, |g| {
        Some(g.add(crate::graph::Op::Param { name: name_c }, &[], shape_c, DType::F32, Some(span)))
    });
    let node = match &v {
        Value::Tensor(t) => t.node,
        _ => None,
    };
    el.params.push(ParamSpec { name, shape, init, span, node });
    v
}

fn gather(el: &mut Elaborator<'_>, a: &Args) -> Value {
    let (Some(table), Some(idx)) = (a.tensor(el, 0), a.tensor(el, 1)) else {
        return Value::Poison;
    };
    let table = el.as_float(table);
    if table.shape.is_empty() {
        let d = Diagnostic::error(
            Code::ARG_SHAPE,
            table.origin,
            "`gather` needs a table with at least one dimension",
        )
        .with_primary("this is a scalar");
        return el.err(d);
    }
    if idx.dtype != DType::I32 {
        let d = Diagnostic::error(
            Code::DTYPE,
            idx.origin,
            format!("`gather` needs integer indices, found {}", super::sig::dtype_phrase(idx.dtype)),
        )
        .with_primary(format!("this has shape {} and holds floats", show_shape(&idx.shape)))
        .with_help("declare the input as `int[...]` (e.g. `tokens: int[B, T]`), or use `arange`");
        return el.err(d);
    }
    let mut shape = idx.shape.clone();
    shape.extend_from_slice(&table.shape[1..]);
    let (nt, ni) = (table.node, idx.node);
    el.tensor(shape, DType::F32, a.span, |g| Some(g.gather(nt?, ni?)))
}

fn arange(el: &mut Elaborator<'_>, a: &Args) -> Value {
    let n = a.get(0);
    let d = match &n.value {
        Value::Int(d) => d.clone(),
        _ => return type_error(el, &n, "an integer"),
    };
    if d.known().is_some_and(|k| k < 1) {
        return bad_value(el, n.span, format!("`arange` needs a positive length, found {d}"));
    }
    let shape = Elaborator::concrete(std::slice::from_ref(&d));
    el.tensor(vec![d], DType::I32, a.span, |g| {
        let i = g.iota(0, shape?);
        Some(g.cast(i, DType::I32))
    })
}

/// `assert(cond, message)`: `message` as an E0311 error when `cond` is
/// false. The rest of the function is then skipped: it would only report
/// the consequences.
fn assert(el: &mut Elaborator<'_>, a: &Args) -> Value {
    match (a.get(0).value, a.get(1).value) {
        (Value::Bool(true), _) => Value::List(Rc::new(Vec::new())),
        (Value::Bool(false), Value::Str(msg)) => {
            el.halted = true;
            let d = Diagnostic::error(Code::BAD_VALUE, a.span, msg.to_string())
                .with_primary("this assertion failed");
            el.err(d)
        }
        (Value::Poison, _) | (_, Value::Poison) => Value::Poison,
        (Value::Bool(false), _) => type_error(el, &a.get(1), "a message string"),
        _ => type_error(el, &a.get(0), "a condition known at compile time"),
    }
}

fn record(name: &'static str, a: Args) -> Value {
    let b = find(name).map_or(&[][..], |b| b.params);
    let defaults = record_defaults(name);
    let fields = b
        .iter()
        .enumerate()
        .filter_map(|(i, p)| {
            let v = match &a.slots[i] {
                Some(arg) => Some(arg.value.clone()),
                None => defaults.get(i).copied().flatten().map(Value::Float),
            };
            v.map(|v| (*p, v))
        })
        .collect();
    Value::Record(Rc::new(Record { kind: name, fields, span: a.span }))
}
