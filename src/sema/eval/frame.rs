//! Local variables of one function activation, and what its signature bound.

use std::collections::HashMap;
use std::rc::Rc;

use crate::diag::Span;
use crate::sema::dim::Dim;
use crate::sema::value::{LayerId, Value};

/// Local variables of one function activation.
#[derive(Debug, Default)]
pub struct Frame {
    pub(super) scopes: Vec<HashMap<String, Value>>,
    /// The instance whose members are visible.
    pub layer: Option<LayerId>,
    /// Dimensions matched by `...` in this function's signature.
    ellipsis: Option<Rc<Vec<Dim>>>,
    /// Where each dimension name of the signature was bound.
    dim_origins: HashMap<String, Span>,
}

impl Frame {
    /// A frame with one empty scope.
    pub fn new(layer: Option<LayerId>) -> Frame {
        Frame { scopes: vec![HashMap::new()], layer, ellipsis: None, dim_origins: HashMap::new() }
    }

    /// Declares a variable in the innermost scope.
    pub fn define(&mut self, name: &str, v: Value) {
        if let Some(s) = self.scopes.last_mut() {
            s.insert(name.to_string(), v);
        }
    }

    pub(super) fn get(&self, name: &str) -> Option<&Value> {
        self.scopes.iter().rev().find_map(|s| s.get(name))
    }

    pub(super) fn assign(&mut self, name: &str, v: Value) -> bool {
        for s in self.scopes.iter_mut().rev() {
            if let Some(slot) = s.get_mut(name) {
                *slot = v;
                return true;
            }
        }
        false
    }

    /// The scopes, outermost first.
    pub(in crate::sema) fn into_scopes(self) -> Vec<HashMap<String, Value>> {
        self.scopes
    }

    /// Re-binds a visible variable; false if there is none of that name.
    pub fn set(&mut self, name: &str, v: Value) -> bool {
        self.assign(name, v)
    }

    /// True if a variable of this name is visible.
    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    pub(in crate::sema) fn bind_origin(&mut self, name: &str, span: Span) {
        self.dim_origins.insert(name.to_string(), span);
    }

    pub(in crate::sema) fn origin_of(&self, name: &str) -> Option<Span> {
        self.dim_origins.get(name).copied()
    }

    pub(in crate::sema) fn set_ellipsis(&mut self, run: Vec<Dim>) {
        self.ellipsis = Some(Rc::new(run));
    }

    pub(in crate::sema) fn ellipsis_run(&self) -> Option<&Rc<Vec<Dim>>> {
        self.ellipsis.as_ref()
    }

    /// Every visible variable name (for "did you mean").
    pub(super) fn names(&self) -> impl Iterator<Item = &String> {
        self.scopes.iter().flat_map(|s| s.keys())
    }
}
