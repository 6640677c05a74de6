//! The front end's first stage: `.nn` text to [`ast::Module`].

pub mod ast;
pub mod dump;
pub mod parser;
