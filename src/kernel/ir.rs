//! The kernel IR: what the fusion pass produces and every code generator
//! consumes.
//!
//! A [`Program`] is a list of [`Buffer`]s and a schedule of [`Kernel`]s run
//! in order. A loop kernel is a nest of loops over an index space: the
//! *outer* variables enumerate independent points (a back end may run them
//! in parallel, in any order), and for each point a sequence of
//! [`Stage`]s loops over the *inner* variables, accumulating reductions and
//! storing results. Every memory access is a buffer plus an [`IExpr`]
//! offset in elements; movement ops (reshape, permute, expand, slice, pad,
//! concat) exist only as those index expressions and as guards.
//! Library kernels (GEMM, gather, scatter-add) name their operands as
//! strided views.
//!
//! Nothing here knows about a CPU: a back end chooses vector widths, the
//! split of the outer loop across threads and how to evaluate each
//! expression, so the PTX emitter reads the same IR as the Cranelift JIT.

use std::fmt;

pub use super::index::{Atom, IExpr, Var};
use crate::graph::{BinaryOp, DType, NodeId, ReduceOp, Shape, UnaryOp};

/// A buffer of a [`Program`]; displays as `b3`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BufId(pub u32);

impl fmt::Display for BufId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "b{}", self.0)
    }
}

/// Where a buffer's memory comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BufKind {
    /// A step input, read only.
    Input(String),
    /// A parameter; written only by an in-place update.
    Param(String),
    /// A state tensor; written only by an in-place update.
    State(String),
    /// An intermediate result placed by the memory plan.
    Temp,
}

/// A dense row-major tensor in memory.
#[derive(Clone, Debug, PartialEq)]
pub struct Buffer {
    /// Where it lives.
    pub kind: BufKind,
    /// Its shape.
    pub shape: Shape,
    /// Logical element type (stored as `f32` either way).
    pub dtype: DType,
    /// The graph node whose value it holds.
    pub node: NodeId,
}

impl Buffer {
    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.shape.numel()
    }
}

/// An accumulator of a loop kernel; displays as `acc2`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccId(pub u32);

impl fmt::Display for AccId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "acc{}", self.0)
    }
}

/// An expression of a loop kernel; displays as `e5`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ExprId(pub u32);

impl fmt::Display for ExprId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "e{}", self.0)
    }
}

/// `lo <= index < hi`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Cond {
    /// The tested index.
    pub index: IExpr,
    /// Smallest value that passes.
    pub lo: i64,
    /// One past the largest value that passes.
    pub hi: i64,
}

impl Cond {
    /// For a condition on one variable with a positive coefficient
    /// (`a*v + k` in `[lo, hi)`), that variable and the range `[from, to)`
    /// of its values that pass.
    pub fn var_range(&self) -> Option<(Var, i64, i64)> {
        let vars = self.index.vars();
        let ([v], true) = (vars.as_slice(), self.index.is_affine()) else { return None };
        let a = self.index.coefficient(*v);
        if a <= 0 {
            return None;
        }
        let k = self.index.constant;
        let ceil = |x: i64| x.div_euclid(a) + i64::from(x.rem_euclid(a) != 0);
        Some((*v, ceil(self.lo - k), ceil(self.hi - k)))
    }
}

impl fmt::Display for Cond {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} <= {} < {}", self.lo, self.index, self.hi)
    }
}

/// A scalar `f32` computation at one point of a loop kernel. Expressions
/// live in the kernel's pool and refer to earlier ones by [`ExprId`], so a
/// shared subexpression is computed once.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Expr {
    /// A constant, as `f32` bits.
    Const(u32),
    /// `buf[index]`. When `guard` is non-empty, the load happens only where
    /// every condition holds; elsewhere the value is unused (the index may
    /// be out of bounds there), and a back end must not touch memory.
    Load {
        /// The buffer read.
        buf: BufId,
        /// Offset in elements.
        index: IExpr,
        /// Conditions under which the load is performed.
        guard: Vec<Cond>,
    },
    /// An index as a float (`iota`).
    Index(IExpr),
    /// [`crate::graph::semantics::rng::uniform`]`(seed, step, stream, index)`.
    Rand {
        /// The graph's random stream.
        stream: u32,
        /// Row-major position in the random tensor.
        index: IExpr,
    },
    /// The final value of an accumulator of an earlier stage.
    Acc(AccId),
    /// `1.0` where every condition holds, else `0.0`.
    Cond(Vec<Cond>),
    /// An elementwise function (same semantics as the interpreter's).
    Unary(UnaryOp, ExprId),
    /// An elementwise function of two values.
    Binary(BinaryOp, ExprId, ExprId),
    /// `c != 0 ? a : b`.
    Select(ExprId, ExprId, ExprId),
    /// Rounding toward zero (every computed `i32` value).
    Trunc(ExprId),
}

impl Expr {
    /// A constant expression.
    pub fn constant(v: f32) -> Expr {
        Expr::Const(v.to_bits())
    }

    /// The expressions this one reads.
    pub fn operands(&self) -> Vec<ExprId> {
        match self {
            Expr::Const(_)
            | Expr::Load { .. }
            | Expr::Index(_)
            | Expr::Rand { .. }
            | Expr::Acc(_)
            | Expr::Cond(_) => vec![],
            Expr::Unary(_, a) | Expr::Trunc(a) => vec![*a],
            Expr::Binary(_, a, b) => vec![*a, *b],
            Expr::Select(c, a, b) => vec![*c, *a, *b],
        }
    }

    /// Every index expression it holds directly.
    pub fn indices(&self) -> Vec<&IExpr> {
        match self {
            Expr::Load { index, guard, .. } => {
                std::iter::once(index).chain(guard.iter().map(|c| &c.index)).collect()
            }
            Expr::Index(i) | Expr::Rand { index: i, .. } => vec![i],
            Expr::Cond(cs) => cs.iter().map(|c| &c.index).collect(),
            Expr::Const(_)
            | Expr::Acc(_)
            | Expr::Unary(..)
            | Expr::Binary(..)
            | Expr::Select(..)
            | Expr::Trunc(_) => vec![],
        }
    }
}

/// A reduction of a stage: `acc = op(acc, value)` at every point of the
/// stage's loops, starting from the identity (0 or -inf).
#[derive(Clone, Debug, PartialEq)]
pub struct Reduction {
    /// The accumulator defined.
    pub acc: AccId,
    /// Sum or max (max propagates NaN).
    pub op: ReduceOp,
    /// The value accumulated.
    pub value: ExprId,
}

/// `buf[index] = value`.
#[derive(Clone, Debug, PartialEq)]
pub struct Store {
    /// The buffer written.
    pub buf: BufId,
    /// Offset in elements.
    pub index: IExpr,
    /// The value.
    pub value: ExprId,
}

/// One loop nest over the inner variables `vars` (none: once per outer
/// point). Reductions finish when the loop ends; stores happen at every
/// point. A stage may read the accumulators of earlier stages only.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Stage {
    /// Loop variables, outermost first.
    pub vars: Vec<Var>,
    /// Accumulators defined by this stage.
    pub reductions: Vec<Reduction>,
    /// Results written.
    pub stores: Vec<Store>,
}

/// A fused loop kernel.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct LoopKernel {
    /// The graph nodes computed here, in topological order.
    pub nodes: Vec<NodeId>,
    /// Number of iterations of each variable (`Var(i)` runs `0..extents[i]`).
    pub extents: Vec<i64>,
    /// The outer loop variables, outermost first; never empty. Outer points
    /// are independent: no point reads what another point writes.
    pub outer: Vec<Var>,
    /// Run in order at each outer point.
    pub stages: Vec<Stage>,
    /// The expression pool; operands come before their users.
    pub exprs: Vec<Expr>,
}

impl LoopKernel {
    /// The expression with this id.
    pub fn expr(&self, id: ExprId) -> &Expr {
        &self.exprs[id.0 as usize]
    }

    /// The number of outer points.
    pub fn outer_points(&self) -> i64 {
        self.outer.iter().map(|v| self.extents[v.0 as usize]).product()
    }

    /// Number of inner points of a stage.
    pub fn stage_points(&self, s: &Stage) -> i64 {
        s.vars.iter().map(|v| self.extents[v.0 as usize]).product()
    }

    /// Every buffer read or written, ascending, each once.
    pub fn buffers(&self) -> Vec<BufId> {
        let mut bufs: Vec<BufId> = self
            .exprs
            .iter()
            .filter_map(|e| match e {
                Expr::Load { buf, .. } => Some(*buf),
                _ => None,
            })
            .chain(self.stages.iter().flat_map(|s| s.stores.iter().map(|st| st.buf)))
            .collect();
        bufs.sort_unstable();
        bufs.dedup();
        bufs
    }

    /// Every random stream drawn from, ascending, each once.
    pub fn streams(&self) -> Vec<u32> {
        let mut streams: Vec<u32> = self
            .exprs
            .iter()
            .filter_map(|e| match e {
                Expr::Rand { stream, .. } => Some(*stream),
                _ => None,
            })
            .collect();
        streams.sort_unstable();
        streams.dedup();
        streams
    }

    /// The expressions a stage needs (transitively), ascending.
    pub fn stage_exprs(&self, s: &Stage) -> Vec<ExprId> {
        let roots = s.reductions.iter().map(|r| r.value).chain(s.stores.iter().map(|st| st.value));
        self.closure(roots)
    }

    /// The expressions reachable from `roots`, ascending.
    pub fn closure(&self, roots: impl IntoIterator<Item = ExprId>) -> Vec<ExprId> {
        let mut seen = vec![false; self.exprs.len()];
        let mut stack: Vec<ExprId> = roots.into_iter().collect();
        while let Some(e) = stack.pop() {
            if std::mem::replace(&mut seen[e.0 as usize], true) {
                continue;
            }
            stack.extend(self.expr(e).operands());
        }
        (0..self.exprs.len() as u32).map(ExprId).filter(|e| seen[e.0 as usize]).collect()
    }
}

/// A strided view of a buffer: element `(i0, i1, ...)` is at
/// `offset + Σ ik · strides[k]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct View {
    /// The buffer.
    pub buf: BufId,
    /// Offset of element zero.
    pub offset: i64,
    /// Stride of each axis in elements (0 for a broadcast axis).
    pub strides: Vec<i64>,
}

impl fmt::Display for View {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s: Vec<String> = self.strides.iter().map(|s| s.to_string()).collect();
        write!(f, "{}[{} + strides {}]", self.buf, self.offset, s.join(","))
    }
}

/// Which operand of a product a [`Prologue`] produces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operand {
    /// The left operand, produced in blocks of rows (`m`).
    A,
    /// The right operand, produced in blocks of rows (`k`); the product
    /// accumulates block by block.
    B,
}

/// A loop kernel whose only result is an operand of a product, run one
/// block at a time right before the product uses that block, so the
/// operand is never materialised whole (an im2col matrix stays in cache).
///
/// The kernel's first outer variable counts blocks: point `i` writes
/// elements `unit * i .. unit * (i + 1)` of `buf`, which are rows
/// `(unit / cols) * i ..` of the operand (a contiguous `[rows, cols]`
/// matrix). A back end gives each block its own scratch memory.
#[derive(Clone, Debug, PartialEq)]
pub struct Prologue {
    /// The operand it produces.
    pub operand: Operand,
    /// The kernel.
    pub kernel: LoopKernel,
    /// The operand's buffer (only one block of it exists at a time).
    pub buf: BufId,
    /// Elements per block.
    pub unit: usize,
}

/// Batched `c[.., m, n] = Σ_k a[.., m, k] · b[.., k, n]`, then an optional
/// epilogue loop kernel whose first outer variable `i` runs over blocks of
/// [`GemmKernel::rows`] slices of the first dimension of `c` (the first
/// batch dimension, else `m`): point `i` reads only slices
/// `rows * i .. rows * (i + 1)`, so a back end may run it on each block as
/// soon as that block is done, while it is in cache.
#[derive(Clone, Debug, PartialEq)]
pub struct GemmKernel {
    /// The graph nodes computed here (the matmul, then the epilogue's).
    pub nodes: Vec<NodeId>,
    /// Batch dimensions.
    pub batch: Vec<usize>,
    /// Rows of the result.
    pub m: usize,
    /// Columns of the result.
    pub n: usize,
    /// The contracted dimension.
    pub k: usize,
    /// Left operand: strides for each batch axis, then `m`, then `k`.
    pub a: View,
    /// Right operand: strides for each batch axis, then `k`, then `n`.
    pub b: View,
    /// The result, contiguous `[batch.., m, n]`.
    pub c: BufId,
    /// Consumers fused after the product.
    pub epilogue: Option<Box<LoopKernel>>,
    /// Slices of the first dimension of `c` per epilogue row.
    pub rows: usize,
    /// The producer of an operand, run block by block (unbatched products only).
    pub prologue: Option<Box<Prologue>>,
    /// The result exists one epilogue block at a time: only the epilogue
    /// reads it, block `i` only rows `rows * i .. rows * (i + 1)`, so a back
    /// end computes each block into scratch and never materialises `c`
    /// (unbatched products only).
    pub c_blocks: bool,
}

/// `out[i, ..] = table[idx[i], ..]` for rows of `row` elements.
#[derive(Clone, Debug, PartialEq)]
pub struct GatherKernel {
    /// The gather node (for error messages).
    pub node: NodeId,
    /// `[rows, ..]` table.
    pub table: BufId,
    /// Integer indices.
    pub idx: BufId,
    /// Result.
    pub out: BufId,
    /// Number of table rows (valid indices are `0..rows`).
    pub rows: usize,
    /// Elements per row.
    pub row: usize,
}

/// `out = 0; out[idx[i], ..] += src[i, ..]`, in order of `i`.
#[derive(Clone, Debug, PartialEq)]
pub struct ScatterAddKernel {
    /// The scatter-add node (for error messages).
    pub node: NodeId,
    /// Rows to add.
    pub src: BufId,
    /// Integer indices.
    pub idx: BufId,
    /// Result.
    pub out: BufId,
    /// Number of result rows.
    pub rows: usize,
    /// Elements per row.
    pub row: usize,
}

/// One scheduled unit of work.
#[derive(Clone, Debug, PartialEq)]
pub enum Kernel {
    /// A generated loop nest.
    Loop(LoopKernel),
    /// A matrix product, with a generated epilogue.
    Gemm(GemmKernel),
    /// A row gather.
    Gather(GatherKernel),
    /// A row scatter-add.
    ScatterAdd(ScatterAddKernel),
}

impl Kernel {
    /// The graph nodes it computes.
    pub fn nodes(&self) -> Vec<NodeId> {
        match self {
            Kernel::Loop(k) => k.nodes.clone(),
            Kernel::Gemm(k) => {
                let mut nodes = k.prologue.as_ref().map_or(vec![], |p| p.kernel.nodes.clone());
                nodes.extend(&k.nodes);
                nodes
            }
            Kernel::Gather(k) => vec![k.node],
            Kernel::ScatterAdd(k) => vec![k.node],
        }
    }

    /// Buffers read (`false`) and written (`true`).
    pub fn accesses(&self) -> Vec<(BufId, bool)> {
        fn loop_accesses(k: &LoopKernel, out: &mut Vec<(BufId, bool)>) {
            for e in &k.exprs {
                if let Expr::Load { buf, .. } = e {
                    out.push((*buf, false));
                }
            }
            for s in &k.stages {
                out.extend(s.stores.iter().map(|st| (st.buf, true)));
            }
        }
        let mut out = Vec::new();
        match self {
            Kernel::Loop(k) => loop_accesses(k, &mut out),
            Kernel::Gemm(g) => {
                if !g.c_blocks {
                    out.push((g.c, true));
                }
                for v in [&g.a, &g.b] {
                    if g.prologue.as_ref().is_none_or(|p| p.buf != v.buf) {
                        out.push((v.buf, false));
                    }
                }
                if let Some(p) = &g.prologue {
                    // Its stores go to scratch, not to the buffer.
                    let mut inner = Vec::new();
                    loop_accesses(&p.kernel, &mut inner);
                    out.extend(inner.into_iter().filter(|&(b, _)| b != p.buf));
                }
                if let Some(e) = &g.epilogue {
                    let mut inner = Vec::new();
                    loop_accesses(e, &mut inner);
                    // Blocks of the result are read from scratch.
                    out.extend(inner.into_iter().filter(|&(b, _)| !g.c_blocks || b != g.c));
                }
            }
            Kernel::Gather(g) => out.extend([(g.table, false), (g.idx, false), (g.out, true)]),
            Kernel::ScatterAdd(s) => out.extend([(s.src, false), (s.idx, false), (s.out, true)]),
        }
        out.sort_unstable();
        out.dedup();
        out
    }
}

/// A fused graph: buffers, kernels in execution order, and where the
/// graph's outputs and updated values end up.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Program {
    /// Every buffer, indexed by [`BufId`].
    pub buffers: Vec<Buffer>,
    /// Kernels in execution order.
    pub kernels: Vec<Kernel>,
    /// Named outputs and the buffers that hold them after the run.
    pub outputs: Vec<(String, BufId)>,
    /// `(target, value)`: after the run, the param or state buffer `target`
    /// takes the contents of `value`. When the two are the same buffer the
    /// update was done in place by the kernel that computed it.
    pub updates: Vec<(BufId, BufId)>,
}

impl Program {
    /// The buffer with this id.
    pub fn buffer(&self, id: BufId) -> &Buffer {
        &self.buffers[id.0 as usize]
    }
}
