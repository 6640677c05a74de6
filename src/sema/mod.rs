//! Semantic analysis and lowering: from a [`Program`] of parsed items to
//! checked shapes and, on request, a tensor [`Graph`].
//!
//! [`check`] reports every error it can find without running anything;
//! [`lower_forward`] builds the forward graph of one model for concrete
//! sizes. Both run the same elaborator ([`eval`]), so a program that checks
//! also lowers.

pub mod builtins;
pub mod dim;
pub mod eval;
pub mod instance;
pub mod ops;
pub mod program;
pub mod sig;
pub mod blocks;
pub mod value;

use std::collections::HashMap;
use std::rc::Rc;

use crate::diag::{Code, Diagnostic, Span};
use crate::graph::{DType, Graph, NodeId, Op};
use crate::syntax::ast::{self, DimPat, ExprKind, TypeExpr};
pub use dim::Dim;
pub use eval::{ArgVal, Elaborator, Frame, ParamSpec};
pub use program::{Loader, Program};
use value::{Callable, LayerId, Value};

/// A model's forward pass lowered to a graph.
#[derive(Debug)]
pub struct Lowered {
    /// The graph; its output `output` is the forward result.
    pub graph: Graph,
    /// Parameters in declaration order.
    pub params: Vec<ParamSpec>,
    /// The forward function's inputs, by parameter name, in order.
    pub inputs: Vec<(String, NodeId)>,
    /// The forward result.
    pub output: NodeId,
    /// The model's name.
    pub model: String,
}

/// Checks every user item that can be checked on its own: models whose
/// construction parameters all have defaults, functions whose parameters
/// all have types or defaults, and train blocks. Everything else is checked
/// where it is used.
pub fn check(prog: &Program) -> Vec<Diagnostic> {
    let mut diags: Vec<Diagnostic> = Vec::new();
    for item in &prog.user_items {
        let mut el = Elaborator::check(prog);
        match item {
            // A model without `forward` may still be a useful part of
            // another (called through its other functions).
            ast::Item::Model(m)
                if m.params.iter().all(|p| p.default.is_some())
                    && m.fns.iter().any(|f| f.name.name == "forward") =>
            {
                let m = Rc::new(m.clone());
                if let Some(root) =
                    root_instance(&mut el, &Value::Func(Callable::Model(m.clone())), m.name.span)
                {
                    forward(&mut el, root, &HashMap::new(), &HashMap::new(), m.name.span);
                }
            }
            ast::Item::Fn(f) if f.params.iter().all(|p| p.default.is_some() || is_tensor(&p.ty)) => {
                let mut args = Vec::new();
                for p in &f.params {
                    if let Some(TypeExpr::Tensor { dtype, dims, .. }) = &p.ty {
                        let mut frame = Frame::new(None);
                        let Some(shape) = symbolic_shape(&mut el, dims, &HashMap::new(), &mut frame) else {
                            break;
                        };
                        let dtype = match dtype {
                            Some(id) => match el.elem_type(id) {
                                Some(d) => d,
                                None => break,
                            },
                            None => DType::F32,
                        };
                        // Checking: no graph, so nothing is built.
                        let v = el.tensor(shape, dtype, p.span, |_| None);
                        args.push(ArgVal { name: None, value: v, span: p.span });
                    }
                }
                if args.len() == f.params.iter().filter(|p| is_tensor(&p.ty)).count() {
                    el.call_fn(&Rc::new(f.clone()), None, args, f.name.span);
                }
            }
            ast::Item::Train(t) => {
                let (_, d) = blocks::check_train(prog, t);
                diags.extend(d);
            }
            _ => {}
        }
        diags.extend(el.diags);
    }
    dedup(diags)
}

/// The `forward` definition of the model a model expression names, found
/// without instantiating it.
pub fn forward_signature(prog: &Program, model: &ast::Expr) -> Option<Rc<ast::FnDef>> {
    let name = match &model.kind {
        ExprKind::Name(n) => n,
        ExprKind::Call { callee, .. } => match &callee.kind {
            ExprKind::Name(n) => n,
            _ => return None,
        },
        _ => return None,
    };
    let m = prog.models.get(name)?;
    m.def.fns.iter().find(|f| f.name.name == "forward").map(|f| Rc::new(f.clone()))
}

/// Binds the leading dimension of each `forward` input (the batch
/// dimension by convention, `B` in `[B, 784]`) to `batch`.
pub fn batch_binding(prog: &Program, model: &ast::Expr, batch: i64) -> HashMap<String, i64> {
    let mut binding = HashMap::new();
    if let Some(def) = forward_signature(prog, model) {
        for p in &def.params {
            if let Some(TypeExpr::Tensor { dims, .. }) = &p.ty
                && let Some(DimPat::Expr(ast::Expr { kind: ExprKind::Name(n), .. })) = dims.first()
            {
                binding.insert(n.clone(), batch);
            }
        }
    }
    binding
}

fn is_tensor(ty: &Option<TypeExpr>) -> bool {
    matches!(ty, Some(TypeExpr::Tensor { .. }))
}

/// Removes repeated diagnostics (the same error reached along two paths).
pub fn dedup(diags: Vec<Diagnostic>) -> Vec<Diagnostic> {
    let mut seen = std::collections::HashSet::new();
    diags.into_iter().filter(|d| seen.insert((d.code, d.message.clone(), d.primary_span()))).collect()
}

/// Instantiates the model a train block or command line names (a model
/// name, or a constructor call) as the root instance.
pub fn root_instance(el: &mut Elaborator<'_>, v: &Value, span: Span) -> Option<LayerId> {
    el.naming = Some(String::new());
    let v = match v {
        Value::Func(Callable::Model(m)) => el.instantiate(m, Vec::new(), span),
        other => other.clone(),
    };
    el.naming = None;
    match v {
        Value::Layer(id) => Some(id),
        Value::Poison => None,
        other => {
            let d = Diagnostic::error(
                Code::TRAIN_TARGET,
                span,
                format!("expected a model, found {}", other.describe()),
            );
            el.err(d);
            None
        }
    }
}

/// The model instance's `forward` definition.
pub fn forward_def(el: &Elaborator<'_>, root: LayerId) -> Option<Rc<ast::FnDef>> {
    let inst = &el.layers[root.0 as usize];
    inst.model.fns.iter().find(|f| f.name.name == "forward").map(|f| Rc::new(f.clone()))
}

/// Evaluates a root shape pattern: names from `binding` or the layer's scope,
/// other names symbolic, `...` one symbolic dimension.
fn symbolic_shape(
    el: &mut Elaborator<'_>,
    dims: &[DimPat],
    binding: &HashMap<String, i64>,
    frame: &mut Frame,
) -> Option<Vec<Dim>> {
    let mut out = Vec::new();
    for p in dims {
        match p {
            DimPat::Ellipsis(_) => out.push(Dim::sym("N")),
            DimPat::Expr(e) => {
                if let ExprKind::Name(n) = &e.kind {
                    if let Some(&v) = binding.get(n) {
                        out.push(Dim::Known(v));
                        frame.define(n, Value::int(v));
                        continue;
                    }
                    let bound = frame.has(n)
                        || frame.layer.is_some_and(|id| el.layers[id.0 as usize].scope.contains_key(n));
                    if !bound {
                        out.push(Dim::sym(n));
                        frame.define(n, Value::Int(Dim::sym(n)));
                        continue;
                    }
                }
                match el.expr(e, frame) {
                    Value::Int(d) => out.push(d),
                    Value::Poison => return None,
                    other => {
                        let d = Diagnostic::error(
                            Code::TYPE,
                            e.span,
                            format!("a dimension must be an integer, found {}", other.describe()),
                        );
                        el.err(d);
                        return None;
                    }
                }
            }
        }
    }
    Some(out)
}

/// Calls the root instance's forward on fresh inputs shaped by its
/// signature; parameters with defaults keep their defaults. `binding` fixes symbolic sizes (`B = 64`); an input's element
/// type is the declared one (`int[B, T]`), f32 when none is written, unless
/// `dtypes` overrides it. Returns the inputs and the result.
pub fn forward(
    el: &mut Elaborator<'_>,
    root: LayerId,
    binding: &HashMap<String, i64>,
    dtypes: &HashMap<String, DType>,
    span: Span,
) -> Option<(Vec<(String, Value)>, Value)> {
    let Some(def) = forward_def(el, root) else {
        let m = el.layers[root.0 as usize].model.clone();
        let d = Diagnostic::error(
            Code::NO_FORWARD,
            span,
            format!("model `{}` has no `forward` function", m.name.name),
        )
        .with_label(m.name.span, "defined here")
        .with_help("add `fn forward(x: [B, ...]) -> [B, ...] { ... }` to the model");
        el.err(d);
        return None;
    };
    let mut frame = Frame::new(Some(root));
    let mut inputs = Vec::new();
    for p in &def.params {
        // A parameter with a default (a mask, a flag) is not fed: it takes its default.
        if p.default.is_some() {
            continue;
        }
        let Some(TypeExpr::Tensor { dtype: declared, dims, .. }) = &p.ty else {
            let d = Diagnostic::error(
                Code::TYPE,
                p.span,
                format!("input `{}` of `forward` needs a tensor type such as `[B, 784]`", p.name.name),
            )
            .with_help("the shapes of forward's inputs tell nnc how to feed data to the model");
            el.err(d);
            return None;
        };
        let shape = symbolic_shape(el, dims, binding, &mut frame)?;
        if el.is_lowering()
            && let Some(bad) = shape.iter().find(|d| d.known().is_none())
        {
            let d = Diagnostic::error(
                Code::DATA_SHAPE,
                p.span,
                format!("the size `{bad}` of input `{}` is not known", p.name.name),
            )
            .with_help("bind it from the data (train blocks do this for the batch dimension)");
            el.err(d);
            return None;
        }
        let dtype = match (dtypes.get(&p.name.name), declared) {
            (Some(&d), _) => d,
            (None, Some(id)) => el.elem_type(id)?,
            (None, None) => DType::F32,
        };
        let concrete = Elaborator::concrete(&shape);
        let name = p.name.name.clone();
        let v = el.tensor(shape, dtype, p.span, |g| {
            Some(g.add(Op::Input { name }, &[], concrete?, dtype, Some(p.span)))
        });
        inputs.push((p.name.name.clone(), v));
    }
    let args = inputs
        .iter()
        .map(|(n, v)| ArgVal {
            name: Some(ast::Ident { name: n.clone(), span: def.name.span }),
            value: v.clone(),
            span: def.name.span,
        })
        .collect();
    let result = el.call_fn(&def, Some(root), args, span);
    match result {
        Value::Tensor(_) => Some((inputs, result)),
        Value::Poison => None,
        other => {
            let d = Diagnostic::error(
                Code::TYPE,
                def.name.span,
                format!("`forward` returns {}, not a tensor", other.describe()),
            );
            el.err(d);
            None
        }
    }
}

/// Lowers the forward pass of the model `model` (a model name or
/// constructor call) with symbolic sizes bound by `binding`.
pub fn lower_forward(
    prog: &Program,
    model: &ast::Expr,
    binding: &HashMap<String, i64>,
    dtypes: &HashMap<String, DType>,
    training: bool,
) -> Result<Lowered, Vec<Diagnostic>> {
    let mut el = Elaborator::lower(prog, training);
    let span = model.span;
    let res = root_from_expr(&mut el, model)
        .and_then(|root| forward(&mut el, root, binding, dtypes, span).map(|r| (root, r)));
    match res {
        Some((root, (inputs, Value::Tensor(out)))) if !el.failed() => {
            let Some((mut graph, [output])) = el.finish([&out]) else {
                return Err(dedup(el.diags));
            };
            graph.add_output("output", output);
            Ok(Lowered {
                graph,
                params: el.params,
                inputs: inputs
                    .into_iter()
                    .filter_map(|(n, v)| match v {
                        Value::Tensor(t) => t.node.map(|id| (n, id)),
                        _ => None,
                    })
                    .collect(),
                output,
                model: el.layers[root.0 as usize].model.name.name.clone(),
            })
        }
        _ => Err(dedup(el.diags)),
    }
}

/// Evaluates a model name or constructor call (`Mlp`, `Mlp(hidden = 256)`)
/// as the root instance.
pub fn root_from_expr(el: &mut Elaborator<'_>, expr: &ast::Expr) -> Option<LayerId> {
    el.naming = Some(String::new());
    let v = el.expr(expr, &mut Frame::new(None));
    root_instance(el, &v, expr.span)
}

/// A name expression referring to a model, for lowering a model by name.
pub fn model_ref(m: &ast::ModelDef) -> ast::Expr {
    ast::Expr { kind: ExprKind::Name(m.name.name.clone()), span: m.name.span }
}
