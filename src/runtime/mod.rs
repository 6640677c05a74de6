//! Everything that runs: host tensors, the counter-based RNG, the reference
//! interpreter, data loaders, checkpoints and the training loop.

pub mod tensor;
pub mod rng;
pub mod interp;
pub mod mathf;
pub mod exec;
pub mod data;
pub mod examples;
pub mod checkpoint;
pub mod trainer;

pub use tensor::Tensor;
