//! Fifth in fusion's line (`access` → `realize` → `fit` → `group` →
//! `build` → `lower`): building kernel expressions from graph nodes, with
//! the index arithmetic of [`access`](super::access) for movement ops.
//!
//! [`Builder::value`] gives the value of a node at an index (one
//! [`IExpr`] per axis of the node's shape) as an [`Expr`] in the kernel's
//! pool. Nodes that are materialised elsewhere become loads; nodes that
//! belong to the kernel being built become accumulators or are inlined
//! (`fit` has checked that these reads are aligned and affine);
//! everything else is inlined, with reshapes, permutes, expands and slices
//! rewriting the index, and pads and concats adding conditions.

use std::collections::HashMap;

use super::access::{self, concat_parts, operand_index, pad_conds};
use crate::graph::semantics;
use crate::graph::{DType, Graph, NodeId, Op, Shape};
use crate::kernel::ir::{AccId, BufId, BufKind, Buffer, Cond, Expr, ExprId, IExpr, Var};

/// Which nodes are materialised, and the buffers given to them so far.
pub struct Buffers {
    /// Buffers in creation order.
    pub list: Vec<Buffer>,
    by_node: HashMap<NodeId, BufId>,
}

impl Default for Buffers {
    fn default() -> Buffers {
        Buffers::new()
    }
}

impl Buffers {
    /// No buffers yet.
    pub fn new() -> Buffers {
        Buffers { list: Vec::new(), by_node: HashMap::new() }
    }

    /// The buffer of a materialised node, created on first use.
    pub fn of(&mut self, g: &Graph, n: NodeId) -> BufId {
        if let Some(&b) = self.by_node.get(&n) {
            return b;
        }
        let node = g.node(n);
        let kind = match &node.op {
            Op::Input { name } => BufKind::Input(name.clone()),
            Op::Param { name } => BufKind::Param(name.clone()),
            Op::State { name } => BufKind::State(name.clone()),
            _ => BufKind::Temp,
        };
        let id = BufId(self.list.len() as u32);
        self.list.push(Buffer { kind, shape: node.shape.clone(), dtype: node.dtype, node: n });
        self.by_node.insert(n, id);
        id
    }

    /// The buffer of a node, if it has one.
    pub fn get(&self, n: NodeId) -> Option<BufId> {
        self.by_node.get(&n).copied()
    }
}

/// How a node that belongs to the kernel under construction is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// A reduction of this kernel: read as its accumulator, only at the
    /// current outer point.
    Reduce(AccId),
    /// Recomputed wherever it is read.
    Inline,
}

/// Builds the expressions of one kernel.
pub struct Builder<'a> {
    g: &'a Graph,
    realized: &'a [bool],
    /// Buffers of materialised nodes.
    pub bufs: &'a mut Buffers,
    /// Members of the kernel and how they are read.
    pub members: HashMap<NodeId, Role>,
    /// Inclusive bounds of each variable.
    pub bounds: Vec<(i64, i64)>,
    /// The bounds narrowed by the conditions of the guards being built
    /// under: inside `pad`'s guard `2 <= i < 26`, `i - 2` is in `0..24`.
    /// Indices built there are only used there, so they may be simplified
    /// with these; whether a guard holds is decided with `bounds`.
    tight: Vec<(i64, i64)>,
    /// The expression pool.
    pub exprs: Vec<Expr>,
    interned: HashMap<Expr, ExprId>,
    guard: Vec<Cond>,
    /// Requested variable splits.
    pub splits: Vec<(Var, i64)>,
    /// `(node, r)`: a GEMM product its epilogue reads, `r` of its rows per
    /// epilogue row; it is loaded per axis (never at a bare offset) so the
    /// product can be kept one block of rows at a time. `fit` admitted
    /// only readers that stay within their block.
    pub same_slice: Vec<(NodeId, i64)>,
    /// Materialised nodes loaded.
    pub loaded: Vec<NodeId>,
}

impl<'a> Builder<'a> {
    /// A builder over variables with these extents.
    pub fn new(g: &'a Graph, realized: &'a [bool], bufs: &'a mut Buffers, extents: &[i64]) -> Builder<'a> {
        Builder {
            g,
            realized,
            bufs,
            members: HashMap::new(),
            bounds: extents.iter().map(|&e| (0, e - 1)).collect(),
            tight: extents.iter().map(|&e| (0, e - 1)).collect(),
            exprs: Vec::new(),
            interned: HashMap::new(),
            guard: Vec::new(),
            splits: Vec::new(),
            same_slice: Vec::new(),
            loaded: Vec::new(),
        }
    }

    /// Adds an expression (or finds the equal one), folding constants.
    pub fn intern(&mut self, e: Expr) -> ExprId {
        let e = self.fold(e);
        if let Some(&id) = self.interned.get(&e) {
            return id;
        }
        let id = ExprId(self.exprs.len() as u32);
        self.exprs.push(e.clone());
        self.interned.insert(e, id);
        id
    }

    fn constant_of(&self, id: ExprId) -> Option<f32> {
        match self.exprs[id.0 as usize] {
            Expr::Const(bits) => Some(f32::from_bits(bits)),
            _ => None,
        }
    }

    fn fold(&self, e: Expr) -> Expr {
        match &e {
            Expr::Unary(u, a) => match self.constant_of(*a) {
                Some(x) => Expr::constant(semantics::unary(*u, x)),
                None => e,
            },
            Expr::Binary(b, x, y) => match (self.constant_of(*x), self.constant_of(*y)) {
                (Some(x), Some(y)) => Expr::constant(semantics::binary(*b, x, y)),
                _ => e,
            },
            Expr::Select(c, a, b) => match self.constant_of(*c) {
                Some(c) => self.exprs[if c != 0.0 { a.0 } else { b.0 } as usize].clone(),
                None if a == b => self.exprs[a.0 as usize].clone(),
                None => e,
            },
            Expr::Trunc(a) => match self.constant_of(*a) {
                Some(x) => Expr::constant(x.trunc()),
                None => e,
            },
            Expr::Cond(cs) if cs.is_empty() => Expr::constant(1.0),
            _ => e,
        }
    }

    /// Row-major offset of `ix` in `shape`.
    pub fn flat(&self, ix: &[IExpr], shape: &Shape) -> IExpr {
        access::flat(ix, shape)
    }

    /// The per-axis index in `dims` of row-major offset `l`.
    fn unravel(&mut self, l: &IExpr, dims: &Shape) -> Vec<IExpr> {
        access::unravel(&self.tight, l, dims, &mut self.splits)
    }

    /// Drops the conditions that always hold; `None` when one never holds.
    fn live_conds(&self, conds: Vec<Cond>) -> Option<Vec<Cond>> {
        access::live_conds(&self.bounds, conds)
    }

    /// The value of node `n` at index `ix`.
    pub fn value(&mut self, n: NodeId, ix: &[IExpr]) -> ExprId {
        match self.members.get(&n) {
            // `fit` admitted the member only where it is read at the current
            // outer point (an accumulator) or cheaply recomputed.
            Some(Role::Reduce(acc)) => {
                let acc = *acc;
                return self.intern(Expr::Acc(acc));
            }
            Some(Role::Inline) => return self.compute(n, ix),
            None => {}
        }
        if self.realized[n.0 as usize] {
            return self.load(n, ix);
        }
        self.compute(n, ix)
    }

    /// The value of node `n` at row-major offset `l`. Reshapes and
    /// elementwise ops keep offsets, so a chain of them down to a
    /// materialised node is a load at `l` itself, with no unravelling.
    pub fn value_flat(&mut self, n: NodeId, l: &IExpr) -> ExprId {
        let g = self.g;
        let node = g.node(n);
        if !self.members.contains_key(&n) {
            let xs = g.operands(n);
            if self.realized[n.0 as usize] {
                if self.same_slice.iter().any(|&(m, _)| m == n) {
                    let ix = self.unravel(l, &node.shape);
                    return self.load(n, &ix);
                }
                self.loaded.push(n);
                let buf = self.bufs.of(g, n);
                let guard = self.live_conds(self.guard.clone()).unwrap_or_default();
                return self.intern(Expr::Load { buf, index: l.clone(), guard });
            }
            match &node.op {
                Op::Reshape => return self.value_flat(xs[0], l),
                Op::Unary(u) => {
                    let a = self.value_flat(xs[0], l);
                    let e = self.intern(Expr::Unary(*u, a));
                    return self.trunc_if_int(n, e);
                }
                Op::Binary(b) => {
                    let x = self.value_flat(xs[0], l);
                    let y = self.value_flat(xs[1], l);
                    let e = self.intern(Expr::Binary(*b, x, y));
                    return self.trunc_if_int(n, e);
                }
                Op::Select => {
                    let c = self.value_flat(xs[0], l);
                    let a = self.value_flat(xs[1], l);
                    let b = self.value_flat(xs[2], l);
                    return self.intern(Expr::Select(c, a, b));
                }
                _ => {}
            }
        }
        let ix = self.unravel(l, &node.shape);
        self.value(n, &ix)
    }

    /// A load of materialised node `n` at `ix`, under the current guard.
    pub fn load(&mut self, n: NodeId, ix: &[IExpr]) -> ExprId {
        self.loaded.push(n);
        let buf = self.bufs.of(self.g, n);
        let index = self.flat(ix, &self.g.node(n).shape);
        let guard = self.live_conds(self.guard.clone()).unwrap_or_default();
        self.intern(Expr::Load { buf, index, guard })
    }

    fn trunc_if_int(&mut self, n: NodeId, e: ExprId) -> ExprId {
        if self.g.dtype(n) == DType::I32 { self.intern(Expr::Trunc(e)) } else { e }
    }

    /// The definition of node `n` at row-major offset `l`.
    pub fn compute_flat(&mut self, n: NodeId, l: &IExpr) -> ExprId {
        let xs = self.g.operands(n);
        match &self.g.node(n).op {
            Op::Reshape => self.value_flat(xs[0], l),
            Op::Unary(u) => {
                let a = self.value_flat(xs[0], l);
                let e = self.intern(Expr::Unary(*u, a));
                self.trunc_if_int(n, e)
            }
            Op::Binary(b) => {
                let x = self.value_flat(xs[0], l);
                let y = self.value_flat(xs[1], l);
                let e = self.intern(Expr::Binary(*b, x, y));
                self.trunc_if_int(n, e)
            }
            _ => {
                let ix = self.unravel(l, &self.g.node(n).shape.clone());
                self.compute(n, &ix)
            }
        }
    }

    /// The definition of node `n` at `ix`, in terms of its operands.
    pub fn compute(&mut self, n: NodeId, ix: &[IExpr]) -> ExprId {
        let g = self.g;
        let node = g.node(n);
        let xs = g.operands(n);
        match &node.op {
            Op::Const { value } => {
                let v = if node.dtype == DType::I32 { value.trunc() } else { *value };
                self.intern(Expr::constant(v))
            }
            Op::Iota { axis } => self.intern(Expr::Index(ix[*axis].clone())),
            Op::Rand { stream } => {
                let index = self.flat(ix, &node.shape);
                self.intern(Expr::Rand { stream: *stream, index })
            }
            Op::Unary(u) => {
                let a = self.value(xs[0], ix);
                let e = self.intern(Expr::Unary(*u, a));
                self.trunc_if_int(n, e)
            }
            Op::Binary(b) => {
                let x = self.value(xs[0], ix);
                let y = self.value(xs[1], ix);
                let e = self.intern(Expr::Binary(*b, x, y));
                self.trunc_if_int(n, e)
            }
            Op::Select => {
                let c = self.value(xs[0], ix);
                let a = self.value(xs[1], ix);
                let b = self.value(xs[2], ix);
                self.intern(Expr::Select(c, a, b))
            }
            Op::Detach => self.value(xs[0], ix),
            Op::Cast => {
                let a = self.value(xs[0], ix);
                if node.dtype == DType::I32 && g.dtype(xs[0]) == DType::F32 {
                    self.intern(Expr::Trunc(a))
                } else {
                    a
                }
            }
            Op::Reshape => {
                let l = self.flat(ix, &node.shape);
                self.value_flat(xs[0], &l)
            }
            Op::Permute { .. } | Op::Expand | Op::Slice { .. } => {
                let inner = operand_index(g, n, xs[0], ix)
                    .unwrap_or_else(|| panic!("internal error: {n} reads no single index"));
                self.value(xs[0], &inner)
            }
            Op::Pad { pads } => {
                let (conds, inner) = pad_conds(g.shape(xs[0]), pads, ix);
                self.guarded(conds, |b| b.value(xs[0], &inner))
            }
            Op::Concat { axis } => {
                let mut res = self.intern(Expr::constant(0.0));
                for (x, cond, inner) in concat_parts(g, n, *axis, ix) {
                    let else_ = res;
                    res = self.guarded_else(vec![cond], else_, |b| b.value(x, &inner));
                }
                res
            }
            Op::Input { .. }
            | Op::Param { .. }
            | Op::State { .. }
            | Op::Reduce { .. }
            | Op::MatMul
            | Op::Gather
            | Op::ScatterAdd => self.load(n, ix),
        }
    }

    /// `conds ? inner : 0`, with `inner`'s loads guarded by `conds`.
    fn guarded(&mut self, conds: Vec<Cond>, inner: impl FnOnce(&mut Builder<'a>) -> ExprId) -> ExprId {
        let zero = self.intern(Expr::constant(0.0));
        self.guarded_else(conds, zero, inner)
    }

    /// `conds ? inner : else_`, with `inner`'s loads guarded by `conds`.
    fn guarded_else(
        &mut self,
        conds: Vec<Cond>,
        else_: ExprId,
        inner: impl FnOnce(&mut Builder<'a>) -> ExprId,
    ) -> ExprId {
        let Some(conds) = self.live_conds(conds) else { return else_ };
        if conds.is_empty() {
            return inner(self);
        }
        let depth = self.guard.len();
        self.guard.extend(conds.iter().cloned());
        let saved = self.tight.clone();
        access::narrow(&mut self.tight, &conds);
        let v = inner(self);
        self.tight = saved;
        self.guard.truncate(depth);
        let c = self.intern(Expr::Cond(conds));
        self.intern(Expr::Select(c, v, else_))
    }

    /// The accumulators an expression reads, transitively.
    pub fn accs_used(&self, root: ExprId) -> Vec<AccId> {
        let mut seen = vec![false; self.exprs.len()];
        let mut stack = vec![root];
        let mut out = Vec::new();
        while let Some(e) = stack.pop() {
            if std::mem::replace(&mut seen[e.0 as usize], true) {
                continue;
            }
            let ex = &self.exprs[e.0 as usize];
            if let Expr::Acc(a) = ex {
                out.push(*a);
            }
            stack.extend(ex.operands());
        }
        out
    }
}
