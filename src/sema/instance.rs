//! Model instantiation: binding construction arguments and evaluating the
//! members of a model body in order, which creates parameters and sub-layers
//! with dotted names (`fc1.weight`, `blocks.0.attn.q.bias`).

use std::rc::Rc;

use super::eval::{ArgVal, Elaborator, Frame, Instance};
use super::value::{LayerId, Value};
use crate::diag::{Code, Diagnostic, Span};
use crate::syntax::ast::{self, ExprKind};

impl Elaborator<'_> {
    /// Creates an instance of `m` with the given construction arguments.
    /// Only valid while a model body member (or the train block's root) is
    /// being evaluated, which supplies the instance's name.
    pub fn instantiate(&mut self, m: &Rc<ast::ModelDef>, args: Vec<ArgVal>, span: Span) -> Value {
        let Some(path) = self.naming.take() else {
            let d = Diagnostic::error(
                Code::TYPE,
                span,
                format!("layer `{}` created inside a function", m.name.name),
            )
            .with_primary("layers hold parameters, so they must be model members")
            .with_help(format!(
                "declare it in the model body, e.g. `layer = {}(...)`, and call `layer(x)`",
                m.name.name
            ));
            return self.err(d);
        };
        if self.depth >= 64 {
            let d =
                Diagnostic::error(Code::RECURSION, span, format!("model `{}` contains itself", m.name.name))
                    .with_label(m.name.span, "defined here")
                    .with_note(format!("instance path: {path}"));
            return self.err(d);
        }
        let what = format!("`{}`", m.name.name);
        let mut frame = Frame::new(None);
        if !self.bind_params(&format!("model {what}"), &m.params, args, span, &mut frame) {
            return Value::Poison;
        }
        let id = LayerId(self.layers.len() as u32);
        let scope = frame.into_scope();
        self.layers.push(Instance { model: m.clone(), path: path.clone(), scope });
        self.depth += 1;
        self.calls.push((what.clone(), span));
        for member in &m.members {
            let value = self.member(&path, member, id);
            self.layers[id.0 as usize].scope.insert(member.name.name.clone(), value);
            if self.halted {
                break;
            }
        }
        self.calls.pop();
        self.depth -= 1;
        if std::mem::take(&mut self.halted) {
            return Value::Poison;
        }
        Value::Layer(id)
    }

    fn member(&mut self, path: &str, member: &ast::Member, id: LayerId) -> Value {
        let name = join(path, &member.name.name);
        let mut frame = Frame::new(Some(id));
        let value = match &member.value.kind {
            // A list of layers names its elements `name.0`, `name.1`, ...
            ExprKind::List(items) => {
                let vals = items
                    .iter()
                    .enumerate()
                    .map(|(i, e)| {
                        self.naming = Some(format!("{name}.{i}"));
                        self.expr(e, &mut frame)
                    })
                    .collect();
                Value::List(Rc::new(vals))
            }
            _ => {
                self.naming = Some(name);
                self.expr(&member.value, &mut frame)
            }
        };
        self.naming = None;
        value
    }
}

/// `a.b`, or `b` at the root.
pub fn join(path: &str, name: &str) -> String {
    if path.is_empty() { name.to_string() } else { format!("{path}.{name}") }
}

impl Frame {
    /// The outermost scope's variables (construction parameters).
    pub fn into_scope(self) -> std::collections::HashMap<String, Value> {
        self.into_scopes().into_iter().next().unwrap_or_default()
    }
}
