//! The one place that turns a [`Diagnostic`] into text.
//!
//! Rendering goes through `codespan-reporting`, so every error shows the
//! code, `file:line:column`, the source line with the span underlined, the
//! secondary labels, notes and the help line. Diagnostics without a place
//! (a missing data file) render as the header and notes alone.

use codespan_reporting::diagnostic as cs;
use codespan_reporting::files::SimpleFiles;
use codespan_reporting::term;

use super::{Diagnostic, Severity, SourceMap};

/// Renders diagnostics as plain text, the format the CLI prints and tests snapshot.
pub fn render(sources: &SourceMap, diags: &[Diagnostic]) -> String {
    let mut files = SimpleFiles::new();
    for f in sources.files() {
        files.add(f.name.clone(), f.text.clone());
    }
    let config = term::Config::default();
    let mut out = String::new();
    for d in diags {
        match term::emit_into_string(&config, &files, &to_codespan(d)) {
            Ok(s) => out.push_str(&s),
            // Only a span outside its file fails to render; that is a bug in
            // whoever built the span, so keep the message rather than lose it.
            Err(_) => out.push_str(&format!("error[{}]: {}\n", d.code, d.message)),
        }
    }
    out
}

fn to_codespan(d: &Diagnostic) -> cs::Diagnostic<usize> {
    let base = match d.severity {
        Severity::Error => cs::Diagnostic::error(),
        Severity::Warning => cs::Diagnostic::warning(),
    };
    let labels = d
        .labels
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let range = l.span.start as usize..l.span.end as usize;
            let style = if i == 0 { cs::LabelStyle::Primary } else { cs::LabelStyle::Secondary };
            cs::Label::new(style, l.span.file.0 as usize, range).with_message(l.message.clone())
        })
        .collect();
    let mut notes: Vec<String> = d.notes.iter().map(|n| format!("note: {n}")).collect();
    if let Some(h) = &d.help {
        notes.push(format!("help: {h}"));
    }
    base.with_code(d.code.to_string()).with_message(d.message.clone()).with_labels(labels).with_notes(notes)
}
