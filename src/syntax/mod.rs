//! The front end's first stage: `.nn` text to [`ast::Module`].

pub mod ast;
pub mod parser;
