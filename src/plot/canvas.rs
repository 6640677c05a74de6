//! The canvas every picture is drawn on: the embedded font, the output
//! [`Format`], and the encoding of a drawing into PNG or SVG bytes in memory.
//!
//! A picture is a [`Picture`]: it knows its size and draws itself on any
//! plotters backend, so one drawing routine serves both formats.

use std::path::Path;
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::{DrawingArea, DrawingBackend, IntoDrawingArea, SVGBackend, WHITE};
use plotters::style::{FontStyle, FontTransform, IntoFont, RGBColor, TextStyle};

use super::PlotError;
use super::bitmap::Bitmap;

/// DejaVu Sans, compiled in so that text renders on machines without fonts
/// (its licence is `assets/fonts/LICENSE-DejaVu.txt`).
pub(super) const FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

/// The family name the embedded font is registered under.
const FAMILY: &str = "sans-serif";

/// The widest and tallest picture drawn, in pixels: a guard against a
/// request that would allocate gigabytes.
const MAX_SIDE: u32 = 16_384;

/// How a picture is encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// A PNG bitmap (8-bit RGB).
    Png,
    /// An SVG document; text stays text.
    Svg,
}

impl Format {
    /// The format a file name asks for by its extension, `.png` or `.svg`
    /// in any case; `None` for any other name.
    pub fn from_path(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?;
        if ext.eq_ignore_ascii_case("png") {
            Some(Format::Png)
        } else if ext.eq_ignore_ascii_case("svg") {
            Some(Format::Svg)
        } else {
            None
        }
    }
}

/// Something that can be drawn: a size in pixels and a routine that draws
/// on a white area of that size, whatever the backend.
pub(super) trait Picture {
    /// Width and height in pixels.
    fn size(&self) -> (u32, u32);

    /// Draws the picture on `area`, which is already white.
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), PlotError>;
}

/// Draws `picture` and encodes it in `format`.
pub(super) fn render(picture: &impl Picture, format: Format) -> Result<Vec<u8>, PlotError> {
    register_font()?;
    let (w, h) = picture.size();
    if w == 0 || h == 0 || w > MAX_SIDE || h > MAX_SIDE {
        return Err(PlotError::new(format!("a {w}x{h} picture is too large or empty to draw")));
    }
    match format {
        Format::Png => render_png(picture, (w, h)),
        Format::Svg => render_svg(picture, (w, h)),
    }
}

fn render_png(picture: &impl Picture, (w, h): (u32, u32)) -> Result<Vec<u8>, PlotError> {
    let mut rgb = vec![0u8; w as usize * h as usize * 3];
    {
        let area = Bitmap::new(&mut rgb, (w, h)).into_drawing_area();
        area.fill(&WHITE).map_err(drawing_error)?;
        picture.draw(&area)?;
        area.present().map_err(drawing_error)?;
    }
    encode_png(&rgb, (w, h))
}

fn render_svg(picture: &impl Picture, size: (u32, u32)) -> Result<Vec<u8>, PlotError> {
    let mut text = String::new();
    {
        let area = SVGBackend::with_string(&mut text, size).into_drawing_area();
        area.fill(&WHITE).map_err(drawing_error)?;
        picture.draw(&area)?;
        area.present().map_err(drawing_error)?;
    }
    Ok(text.into_bytes())
}

/// Encodes 8-bit RGB pixels, row by row, as a PNG file.
fn encode_png(rgb: &[u8], (w, h): (u32, u32)) -> Result<Vec<u8>, PlotError> {
    let png_error = |e: png::EncodingError| PlotError::new(format!("encoding the PNG failed: {e}"));
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, w, h);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(png_error)?;
    writer.write_image_data(rgb).map_err(png_error)?;
    writer.finish().map_err(png_error)?;
    Ok(out)
}

/// Registers the embedded font with plotters, once per process.
fn register_font() -> Result<(), PlotError> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok =
        *REGISTERED.get_or_init(|| plotters::style::register_font(FAMILY, FontStyle::Normal, FONT).is_ok());
    if ok { Ok(()) } else { Err(PlotError::new("the embedded font could not be loaded")) }
}

/// A plotters drawing error as a [`PlotError`].
pub(super) fn drawing_error(e: impl std::fmt::Display) -> PlotError {
    PlotError::new(format!("drawing failed: {e}"))
}

/// Text in the embedded font at `size` pixels, in `colour`.
pub(super) fn text(size: f64, colour: RGBColor) -> TextStyle<'static> {
    (FAMILY, size).into_font().color(&colour)
}

/// Text like [`text`], turned to read from bottom to top.
pub(super) fn text_upwards(size: f64, colour: RGBColor) -> TextStyle<'static> {
    (FAMILY, size).into_font().transform(FontTransform::Rotate270).color(&colour)
}

/// The width and height `s` takes in text of `size` pixels.
pub(super) fn text_extent(s: &str, size: f64) -> (u32, u32) {
    if register_font().is_err() {
        return (0, 0);
    }
    (FAMILY, size).into_font().box_size(s).unwrap_or((0, 0))
}

/// `name` cut to at most `max_chars` characters, an ellipsis marking a cut.
pub(super) fn shorten(name: &str, max_chars: usize) -> String {
    if name.chars().count() <= max_chars {
        return name.to_string();
    }
    let mut short: String = name.chars().take(max_chars.saturating_sub(1)).collect();
    short.push('…');
    short
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_format_follows_the_extension_in_any_case() {
        assert_eq!(Format::from_path(Path::new("a/curves.png")), Some(Format::Png));
        assert_eq!(Format::from_path(Path::new("CM.SVG")), Some(Format::Svg));
        assert_eq!(Format::from_path(Path::new("cm.Png")), Some(Format::Png));
        assert_eq!(Format::from_path(Path::new("cm.jpg")), None);
        assert_eq!(Format::from_path(Path::new("png")), None);
    }

    #[test]
    fn the_embedded_font_measures_text() {
        let (w, h) = text_extent("epoch", 16.0);
        assert!(w > 20 && h > 5, "{w}x{h}");
        assert!(text_extent("epoch epoch", 16.0).0 > w);
    }

    #[test]
    fn long_names_are_shortened() {
        assert_eq!(shorten("cat", 5), "cat");
        assert_eq!(shorten("elephant", 5), "elep…");
    }
}
