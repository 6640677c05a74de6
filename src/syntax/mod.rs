//! The front end's first stage: `.nn` text to [`ast::Module`].
//!
//! [`parser`] owns the pest grammar (`grammar/nn.pest`); [`ast`] is the
//! typed tree it produces, the only thing later stages see; [`dump`] prints it.

pub mod ast;
pub mod parser;
pub mod dump;

pub use parser::{MAX_EXPR_DEPTH, MAX_NESTING, ReplLine, parse, parse_repl};
