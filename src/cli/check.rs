//! `nnc check FILE`: parse and check, print diagnostics.

use std::path::Path;

use super::{Outcome, load_checked};

/// Runs the check.
pub fn run(file: &Path) -> Outcome {
    let (prog, diags) = load_checked(file);
    let n_errors = diags.iter().filter(|d| d.is_error()).count();
    let stdout = if n_errors == 0 { format!("{}: ok\n", file.display()) } else { String::new() };
    Outcome { stdout, diags, sources: prog.sources }
}
