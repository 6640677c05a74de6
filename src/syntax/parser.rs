//! Placeholder until the pest parser lands.
use crate::diag::{Code, Diagnostic, FileId, Span};
use crate::syntax::ast;
/// Parses a file.
pub fn parse(file: FileId, _text: &str) -> Result<ast::Module, Diagnostic> {
    Err(Diagnostic::error(Code::SYNTAX, Span::new(file, 0, 0), "parser missing"))
}
