//! The training layer, just below `cli`: everything that turns a checked
//! program and its data into trained weights.
//!
//! - [`step`] builds the training-step graph (forward, loss, backward, the
//!   [`optim`]izer's in-place updates) for a batch size;
//! - [`data`] loads IDX, CSV and NPY files and batches them, [`examples`]
//!   fits them (or a generated sequence task) to a step's inputs;
//! - [`trainer`] runs epochs through a back end, evaluates and reports;
//!   [`evaluate`] computes a split's metrics over all of its examples,
//!   [`crossval`] runs k-fold cross-validation;
//! - [`checkpoint`] reads and atomically writes safetensors weights;
//! - [`metrics`] accumulates classification and regression metrics over a
//!   whole split, with scikit-learn's definitions;
//! - [`folds`] splits example indices into k folds or a hold-out set,
//!   stratified by class when asked.
//!
//! This layer (with `cli`) is the only one that touches the file system.
//! Nothing below it (`opt`, `fuse`, `kernel`, `compile`, `backend`)
//! imports it.

pub mod step;
pub mod optim;
pub mod data;
pub mod examples;
pub mod checkpoint;
pub mod trainer;
pub mod metrics;
pub mod folds;
pub mod evaluate;
pub mod crossval;

pub use optim::StateSpec;
pub use step::{Step, StepInput, TARGET, TokenBound, build_step};
