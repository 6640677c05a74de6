//! Everything that runs: host tensors, the reference interpreter, data
//! loaders and checkpoints.

pub mod checkpoint;
pub mod data;
pub mod tensor;

pub use tensor::Tensor;
