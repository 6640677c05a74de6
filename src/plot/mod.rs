//! Pictures of training runs: loss and metric curves per epoch, confusion
//! matrices, and heat maps in general (saliency maps reuse them).
//!
//! Every function returns the encoded file (PNG or SVG) as bytes and
//! touches no file: the caller decides where the picture goes and writes it
//! atomically. Text is drawn with the DejaVu Sans font compiled into the
//! binary, so a picture looks the same on a machine with no fonts installed.
//!
//! The pieces, from the bottom up:
//! - `canvas`: the font, the [`Format`] a picture is encoded in, and the
//!   one place that turns a drawing into PNG or SVG bytes;
//! - `bitmap`: the PNG canvas, plotters' bitmap with text placed glyph by
//!   glyph;
//! - `scale`: axis ranges, tick labels and colours, shared by every chart;
//! - `curves`: [`Series`] and [`Panel`] drawn as line charts, [`curves`];
//! - `heat`: the heat-map renderer, [`heat_map`] and [`confusion`];
//! - `log`: [`panels_from_log`], which reads the JSON lines of `--log-json`.

mod bitmap;
mod canvas;
mod curves;
mod heat;
mod log;
mod scale;

pub use canvas::Format;
pub use curves::{Panel, Series, curves};
pub use heat::{confusion, heat_map};
pub use log::panels_from_log;

use std::fmt;

/// Why a picture could not be drawn: bad input (an empty chart, a matrix
/// that is not square, a log line that is not JSON) or a drawing failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlotError(pub String);

impl fmt::Display for PlotError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PlotError {}

impl PlotError {
    /// An error with the given message.
    fn new(message: impl Into<String>) -> Self {
        PlotError(message.into())
    }
}
