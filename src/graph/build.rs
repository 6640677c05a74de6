//! Convenience constructors over [`Graph::add`]: one method per primitive,
//! plus the few compositions every client needs (broadcasting, transposes).
//!
//! The front end's lowering and the autodiff pass both build graphs through
//! these, so shape bookkeeping lives in one place.

use super::ir::{BinaryOp, DType, Graph, NodeId, Op, ReduceOp, Shape, SliceRange, UnaryOp};
use crate::diag::Span;

impl Graph {
    /// The shape of a node.
    pub fn shape(&self, id: NodeId) -> &Shape {
        &self.node(id).shape
    }

    /// The dtype of a node.
    pub fn dtype(&self, id: NodeId) -> DType {
        self.node(id).dtype
    }

    fn origin(&self, id: NodeId) -> Option<Span> {
        self.node(id).origin
    }

    /// A tensor of `shape` filled with `value`.
    pub fn constant(&mut self, value: f32, shape: Shape) -> NodeId {
        self.add(Op::Const { value }, &[], shape, DType::F32, None)
    }

    /// A tensor whose elements count along `axis`.
    pub fn iota(&mut self, axis: usize, shape: Shape) -> NodeId {
        self.add(Op::Iota { axis }, &[], shape, DType::F32, None)
    }

    /// Uniform `[0, 1)` random numbers.
    pub fn rand(&mut self, stream: u32, shape: Shape) -> NodeId {
        self.add(Op::Rand { stream }, &[], shape, DType::F32, None)
    }

    /// An elementwise unary op.
    pub fn unary(&mut self, op: UnaryOp, x: NodeId) -> NodeId {
        let (dt, o) = (self.dtype(x), self.origin(x));
        self.add(Op::Unary(op), &[x], Shape::default(), dt, o)
    }

    /// An elementwise binary op on equal shapes.
    pub fn binary(&mut self, op: BinaryOp, a: NodeId, b: NodeId) -> NodeId {
        let (dt, o) = (self.dtype(a), self.origin(a));
        let dt = if matches!(op, BinaryOp::Lt | BinaryOp::Eq) { DType::F32 } else { dt };
        self.add(Op::Binary(op), &[a, b], Shape::default(), dt, o)
    }

    /// An elementwise binary op after broadcasting both operands to a common shape.
    pub fn binary_bcast(&mut self, op: BinaryOp, a: NodeId, b: NodeId) -> NodeId {
        let target = broadcast_shapes(self.shape(a), self.shape(b)).unwrap_or_else(|| {
            panic!("internal error: {} and {} do not broadcast", self.shape(a), self.shape(b))
        });
        let a = self.broadcast_to(a, &target);
        let b = self.broadcast_to(b, &target);
        self.binary(op, a, b)
    }

    /// `a + b` (broadcasting).
    pub fn add_(&mut self, a: NodeId, b: NodeId) -> NodeId {
        self.binary_bcast(BinaryOp::Add, a, b)
    }

    /// `a * b` (broadcasting).
    pub fn mul(&mut self, a: NodeId, b: NodeId) -> NodeId {
        self.binary_bcast(BinaryOp::Mul, a, b)
    }

    /// `x * c` for a constant `c`.
    pub fn scale(&mut self, x: NodeId, c: f32) -> NodeId {
        let k = self.constant(c, Shape::default());
        self.mul(x, k)
    }

    /// `cond ? a : b` on equal shapes.
    pub fn select(&mut self, cond: NodeId, a: NodeId, b: NodeId) -> NodeId {
        let (dt, o) = (self.dtype(a), self.origin(a));
        self.add(Op::Select, &[cond, a, b], Shape::default(), dt, o)
    }

    /// Reduction keeping the reduced axes with size 1. `axes` may be unsorted.
    pub fn reduce(&mut self, op: ReduceOp, x: NodeId, axes: &[usize]) -> NodeId {
        let mut axes = axes.to_vec();
        axes.sort_unstable();
        axes.dedup();
        if axes.is_empty() {
            return x;
        }
        let (dt, o) = (self.dtype(x), self.origin(x));
        self.add(Op::Reduce { op, axes }, &[x], Shape::default(), dt, o)
    }

    /// Same elements, new shape; a no-op when the shape already matches.
    pub fn reshape(&mut self, x: NodeId, shape: Shape) -> NodeId {
        if *self.shape(x) == shape {
            return x;
        }
        let (dt, o) = (self.dtype(x), self.origin(x));
        self.add(Op::Reshape, &[x], shape, dt, o)
    }

    /// Reorders axes; a no-op for the identity.
    pub fn permute(&mut self, x: NodeId, perm: &[usize]) -> NodeId {
        if perm.iter().enumerate().all(|(i, &p)| i == p) {
            return x;
        }
        let (dt, o) = (self.dtype(x), self.origin(x));
        self.add(Op::Permute { perm: perm.to_vec() }, &[x], Shape::default(), dt, o)
    }

    /// Swaps the last two axes.
    pub fn transpose_last(&mut self, x: NodeId) -> NodeId {
        let r = self.shape(x).rank();
        let mut perm: Vec<usize> = (0..r).collect();
        perm.swap(r - 2, r - 1);
        self.permute(x, &perm)
    }

    /// Broadcasts to `target`: adds leading size-1 axes, then expands.
    pub fn broadcast_to(&mut self, x: NodeId, target: &Shape) -> NodeId {
        let s = self.shape(x).clone();
        if s == *target {
            return x;
        }
        let mut dims = vec![1; target.rank() - s.rank()];
        dims.extend_from_slice(&s.0);
        let x = self.reshape(x, Shape(dims));
        let (dt, o) = (self.dtype(x), self.origin(x));
        self.add(Op::Expand, &[x], target.clone(), dt, o)
    }

    /// A strided window.
    pub fn slice(&mut self, x: NodeId, ranges: Vec<SliceRange>) -> NodeId {
        let s = self.shape(x);
        if ranges.iter().zip(&s.0).all(|(r, &n)| *r == SliceRange::full(n)) {
            return x;
        }
        let (dt, o) = (self.dtype(x), self.origin(x));
        self.add(Op::Slice { ranges }, &[x], Shape::default(), dt, o)
    }

    /// `x[..., start..end, ...]` on one axis.
    pub fn slice_axis(&mut self, x: NodeId, axis: usize, start: usize, end: usize) -> NodeId {
        let mut ranges: Vec<SliceRange> = self.shape(x).0.iter().map(|&n| SliceRange::full(n)).collect();
        ranges[axis] = SliceRange { start, end, step: 1 };
        self.slice(x, ranges)
    }

    /// Zero padding; a no-op when all pads are zero.
    pub fn pad(&mut self, x: NodeId, pads: Vec<(usize, usize)>) -> NodeId {
        if pads.iter().all(|&p| p == (0, 0)) {
            return x;
        }
        let (dt, o) = (self.dtype(x), self.origin(x));
        self.add(Op::Pad { pads }, &[x], Shape::default(), dt, o)
    }

    /// Joins tensors along `axis`.
    pub fn concat(&mut self, xs: &[NodeId], axis: usize) -> NodeId {
        if xs.len() == 1 {
            return xs[0];
        }
        let (dt, o) = (self.dtype(xs[0]), self.origin(xs[0]));
        self.add(Op::Concat { axis }, xs, Shape::default(), dt, o)
    }

    /// Batched matrix multiply of equal-rank operands with equal batch dims.
    pub fn matmul(&mut self, a: NodeId, b: NodeId) -> NodeId {
        let o = self.origin(a);
        self.add(Op::MatMul, &[a, b], Shape::default(), DType::F32, o)
    }

    /// Rows of `table` picked by integer `idx`.
    pub fn gather(&mut self, table: NodeId, idx: NodeId) -> NodeId {
        let o = self.origin(idx);
        self.add(Op::Gather, &[table, idx], Shape::default(), DType::F32, o)
    }

    /// Rows of `src` added into zeros of `shape` at the rows named by
    /// integer `idx` (the adjoint of [`Graph::gather`]).
    pub fn scatter_add(&mut self, src: NodeId, idx: NodeId, shape: Shape) -> NodeId {
        let o = self.origin(src);
        self.add(Op::ScatterAdd, &[src, idx], shape, DType::F32, o)
    }

    /// The same values with no gradient flowing back.
    pub fn detach(&mut self, x: NodeId) -> NodeId {
        let (dt, o) = (self.dtype(x), self.origin(x));
        self.add(Op::Detach, &[x], Shape::default(), dt, o)
    }

    /// Conversion to `dtype`; a no-op when it already has it.
    pub fn cast(&mut self, x: NodeId, dtype: DType) -> NodeId {
        if self.dtype(x) == dtype {
            return x;
        }
        let o = self.origin(x);
        self.add(Op::Cast, &[x], Shape::default(), dtype, o)
    }
}

/// The NumPy broadcast of two shapes, or `None` when they are incompatible.
pub fn broadcast_shapes(a: &Shape, b: &Shape) -> Option<Shape> {
    let r = a.rank().max(b.rank());
    let mut dims = vec![0; r];
    for (i, d) in dims.iter_mut().enumerate() {
        let da = if i + a.rank() >= r { a.0[i + a.rank() - r] } else { 1 };
        let db = if i + b.rank() >= r { b.0[i + b.rank() - r] } else { 1 };
        *d = match (da, db) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => return None,
        };
    }
    Some(Shape(dims))
}
