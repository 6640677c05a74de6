//! The tensor IR ([`ir`]), its builders ([`build`]), the invariant checker
//! ([`verify`]) and the text and Graphviz dumps ([`dump`]).

pub mod build;
pub mod dump;
pub mod ir;
pub mod verify;
pub mod semantics;

pub use ir::{BinaryOp, DType, Graph, Node, NodeId, Op, ReduceOp, Shape, SliceRange, UnaryOp};
