//! A dense row-major host tensor: the values the interpreter computes, the
//! parameters a checkpoint holds and the batches a data loader yields.
//!
//! Elements are stored as `f32` whatever the logical dtype; `i32` labels and
//! token ids are exact in `f32` up to 2^24, far above any vocabulary here.

use crate::graph::Shape;

/// A dense tensor.
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    /// Its shape.
    pub shape: Shape,
    /// `shape.numel()` elements in row-major order.
    pub data: Vec<f32>,
}

impl Tensor {
    /// A tensor from a shape and matching data.
    ///
    /// # Panics
    /// If `data.len()` is not the shape's element count (an internal invariant).
    pub fn new(shape: impl Into<Shape>, data: Vec<f32>) -> Tensor {
        let shape = shape.into();
        assert_eq!(shape.numel(), data.len(), "internal error: tensor data does not fit shape {shape}");
        Tensor { shape, data }
    }

    /// A tensor of zeros.
    pub fn zeros(shape: impl Into<Shape>) -> Tensor {
        let shape = shape.into();
        let n = shape.numel();
        Tensor { shape, data: vec![0.0; n] }
    }

    /// A scalar.
    pub fn scalar(v: f32) -> Tensor {
        Tensor { shape: Shape::default(), data: vec![v] }
    }

    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.data.len()
    }
}
