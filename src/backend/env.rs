//! The environment a graph runs in: the tensors its leaves are fed from
//! and the coordinates of its random draws, and the errors running it can
//! raise. Every back end takes the same [`Env`] and updates it the same way.

use std::collections::HashMap;
use std::fmt;

use super::tensor::Tensor;
use crate::graph::verify::VerifierError;
use crate::graph::{NodeId, Shape};

/// Everything a graph reads from outside: feeds for its leaves and the
/// coordinates of its random draws.
///
/// Leaves are looked up by name in the map of their kind: `Input` nodes in
/// `inputs`, `Param` nodes in `params`, `State` nodes in `states`.
#[derive(Clone, Debug, Default)]
pub struct Env {
    /// Per-step data (images, labels), by input name.
    pub inputs: HashMap<String, Tensor>,
    /// Trainable parameters, by dotted path.
    pub params: HashMap<String, Tensor>,
    /// Non-trainable persistent tensors (optimizer moments, counters).
    pub states: HashMap<String, Tensor>,
    /// The run's seed, for `Rand`.
    pub seed: u64,
    /// The step number, for `Rand`; [`step`] advances it.
    pub step: u64,
}

impl Env {
    /// An environment without feeds.
    pub fn new(seed: u64) -> Env {
        Env { seed, ..Env::default() }
    }

    /// The tensor fed to the leaf `name` of `kind`, which must have `shape`.
    ///
    /// Errors: [`EvalError::MissingFeed`] or [`EvalError::FeedShape`].
    pub fn feed(&self, kind: FeedKind, name: &str, shape: &Shape) -> Result<&Tensor, EvalError> {
        let map = match kind {
            FeedKind::Input => &self.inputs,
            FeedKind::Param => &self.params,
            FeedKind::State => &self.states,
        };
        checked(map.get(name), kind, name, shape)
    }

    /// [`Env::feed`], for writing.
    pub fn feed_mut(&mut self, kind: FeedKind, name: &str, shape: &Shape) -> Result<&mut Tensor, EvalError> {
        let map = match kind {
            FeedKind::Input => &mut self.inputs,
            FeedKind::Param => &mut self.params,
            FeedKind::State => &mut self.states,
        };
        checked(map.get_mut(name), kind, name, shape)
    }
}

/// A looked-up feed, or the error for its absence or shape.
fn checked<T: std::ops::Deref<Target = Tensor>>(
    t: Option<T>,
    kind: FeedKind,
    name: &str,
    shape: &Shape,
) -> Result<T, EvalError> {
    let t = t.ok_or_else(|| EvalError::MissingFeed { kind, name: name.to_string() })?;
    if t.shape != *shape {
        return Err(EvalError::FeedShape {
            kind,
            name: name.to_string(),
            expected: shape.clone(),
            found: t.shape.clone(),
        });
    }
    Ok(t)
}

/// Which map of an [`Env`] a leaf is fed from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FeedKind {
    /// [`Env::inputs`].
    Input,
    /// [`Env::params`].
    Param,
    /// [`Env::states`].
    State,
}

impl fmt::Display for FeedKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FeedKind::Input => "input",
            FeedKind::Param => "param",
            FeedKind::State => "state",
        })
    }
}

/// Why a graph could not be evaluated.
#[derive(Clone, Debug, PartialEq)]
pub enum EvalError {
    /// The graph failed [`verify`].
    Invalid(VerifierError),
    /// A leaf has no tensor in the environment.
    MissingFeed {
        /// The map it was looked up in.
        kind: FeedKind,
        /// Its name.
        name: String,
    },
    /// A leaf's tensor has another shape than the node.
    FeedShape {
        /// The map it was looked up in.
        kind: FeedKind,
        /// Its name.
        name: String,
        /// The node's shape.
        expected: Shape,
        /// The fed tensor's shape.
        found: Shape,
    },
    /// A gather or scatter-add index is not an integer in `0..bound`.
    IndexOutOfRange {
        /// The gather or scatter-add node.
        node: NodeId,
        /// The offending index.
        index: f32,
        /// The table's first dimension.
        bound: usize,
    },
    /// The device failed (a GPU back end's driver or memory).
    Device(super::cuda::DeviceError),
}

impl fmt::Display for EvalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EvalError::Invalid(e) => write!(f, "{e}"),
            EvalError::MissingFeed { kind, name } => write!(f, "no value for {kind} `{name}`"),
            EvalError::FeedShape { kind, name, expected, found } => {
                write!(f, "{kind} `{name}` has shape {found}, expected {expected}")
            }
            EvalError::IndexOutOfRange { node, index, bound } => {
                write!(f, "index {index} out of range 0..{bound} at {node}")
            }
            EvalError::Device(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for EvalError {}

impl From<VerifierError> for EvalError {
    fn from(e: VerifierError) -> EvalError {
        EvalError::Invalid(e)
    }
}
