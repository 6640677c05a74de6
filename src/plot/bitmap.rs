//! The bitmap backend PNG pictures are drawn on: plotters' RGB buffer, with
//! text rasterised here.
//!
//! plotters 0.3.7 draws each ab_glyph glyph at its advance position without
//! its side bearing, so narrow letters drift ("valid ation"). [`Bitmap`]
//! places every glyph where the font says (caret, kerning and bearing) and
//! centres the line in the box plotters lays out, so text measured by
//! plotters and text drawn here agree. Everything else is passed through.

use std::sync::OnceLock;

use ab_glyph::{Font, FontRef, ScaleFont, point};
use plotters::prelude::BitMapBackend;
use plotters_backend::text_anchor::{HPos, VPos};
use plotters_backend::{
    BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingBackend, DrawingErrorKind,
};

use super::canvas::FONT;

/// [`BitMapBackend`] with text drawn by [`Bitmap::draw_text`].
pub(super) struct Bitmap<'a> {
    inner: BitMapBackend<'a>,
}

impl<'a> Bitmap<'a> {
    /// A backend drawing into `rgb`, 8-bit RGB pixels of a `w`x`h` picture.
    pub(super) fn new(rgb: &'a mut [u8], size: (u32, u32)) -> Self {
        Bitmap { inner: BitMapBackend::with_buffer(rgb, size) }
    }
}

/// The embedded font, parsed once; `None` if it cannot be read.
fn font() -> Option<&'static FontRef<'static>> {
    static PARSED: OnceLock<Option<FontRef<'static>>> = OnceLock::new();
    PARSED.get_or_init(|| FontRef::try_from_slice(FONT).ok()).as_ref()
}

/// A glyph pixel: its place in the text's box and how much it covers.
type Coverage = (i32, i32, f32);

/// The pixels of `text` at `size` pixels, laid out from the left of a box
/// `box_h` high with the line centred in it.
fn rasterise(font: &FontRef<'static>, text: &str, size: f64, box_h: i32) -> Vec<Coverage> {
    let scaled = font.as_scaled(size as f32);
    let baseline = (box_h as f32 + scaled.ascent() + scaled.descent()) / 2.0;
    let mut pixels = Vec::new();
    let mut caret = 0f32;
    let mut previous = None;
    for c in text.chars() {
        let id = scaled.glyph_id(c);
        if let Some(p) = previous {
            caret += scaled.kern(p, id);
        }
        previous = Some(id);
        let glyph = id.with_scale_and_position(scaled.scale(), point(caret, baseline));
        caret += scaled.h_advance(id);
        if let Some(outline) = font.outline_glyph(glyph) {
            let corner = outline.px_bounds().min;
            let (cx, cy) = (corner.x as i32, corner.y as i32);
            outline.draw(|x, y, cover| pixels.push((cx + x as i32, cy + y as i32, cover.min(1.0))));
        }
    }
    pixels
}

impl DrawingBackend for Bitmap<'_> {
    type ErrorType = <BitMapBackend<'static> as DrawingBackend>::ErrorType;

    fn get_size(&self) -> (u32, u32) {
        self.inner.get_size()
    }

    fn ensure_prepared(&mut self) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.ensure_prepared()
    }

    fn present(&mut self) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.present()
    }

    fn draw_pixel(
        &mut self,
        at: BackendCoord,
        colour: BackendColor,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.draw_pixel(at, colour)
    }

    fn draw_line<S: BackendStyle>(
        &mut self,
        from: BackendCoord,
        to: BackendCoord,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.draw_line(from, to, style)
    }

    fn draw_rect<S: BackendStyle>(
        &mut self,
        upper_left: BackendCoord,
        bottom_right: BackendCoord,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.draw_rect(upper_left, bottom_right, style, fill)
    }

    fn draw_path<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.draw_path(path, style)
    }

    fn draw_circle<S: BackendStyle>(
        &mut self,
        center: BackendCoord,
        radius: u32,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.draw_circle(center, radius, style, fill)
    }

    fn fill_polygon<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        vertices: I,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.fill_polygon(vertices, style)
    }

    fn blit_bitmap(
        &mut self,
        pos: BackendCoord,
        size: (u32, u32),
        src: &[u8],
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.blit_bitmap(pos, size, src)
    }

    /// Draws `text` in the embedded font (whatever family `style` names:
    /// it is the only one registered), anchored and turned as `style` says.
    fn draw_text<S: BackendTextStyle>(
        &mut self,
        text: &str,
        style: &S,
        pos: BackendCoord,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        let colour = style.color();
        let Some(font) = font().filter(|_| colour.alpha > 0.0) else {
            return Ok(());
        };
        let ((x0, y0), (x1, y1)) =
            style.layout_box(text).map_err(|e| DrawingErrorKind::FontError(Box::new(e)))?;
        let (w, h) = (x1 - x0, y1 - y0);
        let anchor = style.anchor();
        let dx = match anchor.h_pos {
            HPos::Left => 0,
            HPos::Center => -w / 2,
            HPos::Right => -w,
        };
        let dy = match anchor.v_pos {
            VPos::Top => 0,
            VPos::Center => -h / 2,
            VPos::Bottom => -h,
        };
        let turn = style.transform();
        for (x, y, cover) in rasterise(font, text, style.size(), h) {
            let (tx, ty) = turn.transform(x + dx, y + dy);
            let ink = BackendColor { alpha: colour.alpha * cover as f64, rgb: colour.rgb };
            self.inner.draw_pixel((pos.0 + tx, pos.1 + ty), ink)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn narrow_letters_keep_their_place() {
        let font = font().expect("the embedded font parses");
        let pixels = rasterise(font, "ii", 20.0, 16);
        let mut columns: Vec<i32> = pixels.iter().filter(|p| p.2 > 0.5).map(|p| p.0).collect();
        columns.sort();
        columns.dedup();
        // Two stems, each with its left bearing: the first does not start
        // at the very left of the box.
        assert!(columns[0] > 0, "{columns:?}");
        let gaps = columns.windows(2).filter(|w| w[1] - w[0] > 1).count();
        assert_eq!(gaps, 1, "{columns:?}");
    }

    #[test]
    fn the_line_sits_inside_its_box() {
        let font = font().expect("the embedded font parses");
        let pixels = rasterise(font, "Hx", 20.0, 16);
        let top = pixels.iter().map(|p| p.1).min().unwrap();
        let bottom = pixels.iter().map(|p| p.1).max().unwrap();
        assert!(top >= -2 && bottom <= 18, "{top}..{bottom}");
    }
}
