//! Everything that runs: host tensors, the reference interpreter, data
//! loaders and checkpoints.

pub mod interp;
pub mod rng;
pub mod tensor;

pub use tensor::Tensor;
