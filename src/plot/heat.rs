//! Heat maps: a matrix of numbers as a grid of coloured cells, with row and
//! column names, optional values written in the cells, and a colour bar.
//!
//! [`heat_map`] is the general renderer (saliency maps use it with no
//! names); [`confusion`] is a heat map of counts whose colours are shares
//! of each true class, so a rare class is as readable as a common one.
//!
//! The layout is computed in pixels from the measured text, so long names
//! widen the picture instead of running into the cells.

use plotters::coord::Shift;
use plotters::prelude::{DrawingArea, DrawingBackend, Rectangle};
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{Color, RGBColor, TextStyle};

use super::PlotError;
use super::canvas::{self, Format, Picture, drawing_error, shorten, text, text_extent, text_upwards};
use super::scale::{ColourMap, axis_range, cell_label, nice_ticks, plottable, text_colour_on, tick_label};

/// Draws `values` as a heat map: row `i` of the matrix is the `i`th row of
/// cells from the top, coloured from the smallest value (dark) to the
/// largest (bright), with a colour bar at the right.
///
/// `row_names` and `col_names` label the rows and columns; either may be
/// empty for no labels. `axis` is the description of the columns (under
/// the grid) and of the rows (left of it). With `annotate`, each cell shows
/// its value. NaN and infinite values are drawn grey.
///
/// An empty or ragged matrix, or names that do not match its shape, are
/// errors.
pub fn heat_map(
    values: &[Vec<f64>],
    row_names: &[String],
    col_names: &[String],
    title: &str,
    axis: (&str, &str),
    annotate: bool,
    format: Format,
) -> Result<Vec<u8>, PlotError> {
    let (n_rows, n_cols) = shape(values)?;
    check_names(row_names, n_rows, "row")?;
    check_names(col_names, n_cols, "column")?;
    let (lo, hi) = axis_range(values.iter().flatten().copied(), 0.0).unwrap_or((0.0, 1.0));
    let shade = values
        .iter()
        .map(|row| row.iter().map(|&v| plottable(v).then(|| (v - lo) / (hi - lo))).collect())
        .collect();
    let cells =
        annotate.then(|| values.iter().map(|row| row.iter().map(|&v| cell_label(v)).collect()).collect());
    let map = HeatMap {
        title,
        axis,
        row_names,
        col_names,
        shade,
        cells,
        colours: ColourMap::Viridis,
        bar: ColourBar { lo, hi, label: "" },
    };
    canvas::render(&map.laid_out(), format)
}

/// Draws a confusion matrix: `matrix[t][p]` counts the samples of true class
/// `t` predicted as `p`. Rows are the true classes, columns the predicted
/// ones; each cell shows its count and is coloured by its share of the row,
/// so the diagonal reads as per-class recall.
///
/// `names` are the class names (empty to number the classes from 0). An
/// empty or non-square matrix, or names that do not match it, are errors.
pub fn confusion(matrix: &[Vec<u64>], names: &[String], format: Format) -> Result<Vec<u8>, PlotError> {
    let (n_rows, n_cols) = shape(matrix)?;
    if n_rows != n_cols {
        return Err(PlotError::new(format!("a confusion matrix must be square, not {n_rows}x{n_cols}")));
    }
    check_names(names, n_rows, "class")?;
    let numbered: Vec<String>;
    let names = if names.is_empty() {
        numbered = (0..n_rows).map(|i| i.to_string()).collect();
        &numbered
    } else {
        names
    };
    let shade = matrix.iter().map(|row| row_shares(row).into_iter().map(Some).collect()).collect();
    let cells = Some(matrix.iter().map(|row| row.iter().map(u64::to_string).collect()).collect());
    let map = HeatMap {
        title: "confusion matrix",
        axis: ("predicted class", "true class"),
        row_names: names,
        col_names: names,
        shade,
        cells,
        colours: ColourMap::Blues,
        bar: ColourBar { lo: 0.0, hi: 1.0, label: "share of the true class" },
    };
    canvas::render(&map.laid_out(), format)
}

/// Each count's share of the row's total; all zero for an empty row.
fn row_shares(row: &[u64]) -> Vec<f64> {
    let total: u64 = row.iter().fold(0u64, |a, &c| a.saturating_add(c));
    row.iter().map(|&c| if total == 0 { 0.0 } else { c as f64 / total as f64 }).collect()
}

/// The rows and columns of a matrix that has some and all rows as long.
fn shape<T>(matrix: &[Vec<T>]) -> Result<(usize, usize), PlotError> {
    let n_cols = matrix.first().map_or(0, Vec::len);
    if n_cols == 0 {
        return Err(PlotError::new("the matrix is empty"));
    }
    if let Some(i) = matrix.iter().position(|r| r.len() != n_cols) {
        let len = matrix[i].len();
        return Err(PlotError::new(format!("row {i} of the matrix has {len} entries, row 0 has {n_cols}")));
    }
    Ok((matrix.len(), n_cols))
}

/// Names must be absent or one per row (or column).
fn check_names(names: &[String], n: usize, what: &str) -> Result<(), PlotError> {
    if names.is_empty() || names.len() == n {
        return Ok(());
    }
    Err(PlotError::new(format!("{} {what} names were given, but the matrix has {n}", names.len())))
}

/// What a heat map shows, before it is laid out.
struct HeatMap<'a> {
    title: &'a str,
    /// Descriptions of the columns and of the rows.
    axis: (&'a str, &'a str),
    row_names: &'a [String],
    col_names: &'a [String],
    /// Each cell's place on the colour map, `0..=1`; `None` draws grey.
    shade: Vec<Vec<Option<f64>>>,
    /// The text written in each cell, if any.
    cells: Option<Vec<Vec<String>>>,
    colours: ColourMap,
    bar: ColourBar<'a>,
}

/// The scale beside the grid: the values at its bottom and top, and what
/// they measure.
struct ColourBar<'a> {
    lo: f64,
    hi: f64,
    label: &'a str,
}

/// Text sizes in pixels.
const TITLE_SIZE: f64 = 19.0;
const LABEL_SIZE: f64 = 13.0;
const DESC_SIZE: f64 = 15.0;
/// Names longer than this many characters are shortened.
const MAX_NAME_CHARS: usize = 24;
/// Space around the picture and between its parts.
const MARGIN: u32 = 16;
const GAP: u32 = 8;
/// The colour bar's width.
const BAR_WIDTH: u32 = 18;
/// The grey of cells without a value.
const MISSING: RGBColor = RGBColor(190, 190, 190);
const BLACK: RGBColor = RGBColor(0, 0, 0);

/// A [`HeatMap`] with every position worked out, in pixels.
struct Laid<'a> {
    map: HeatMap<'a>,
    n_rows: usize,
    n_cols: usize,
    /// The side of a cell.
    cell: u32,
    /// The top-left corner of the grid.
    origin: (u32, u32),
    /// Names shortened to fit.
    row_labels: Vec<String>,
    col_labels: Vec<String>,
    /// Whether column names are turned to read upwards.
    upright_cols: bool,
    /// The text size of the values in the cells; `None` when cells are too
    /// small for text.
    cell_text: Option<f64>,
    bar_ticks: Vec<f64>,
    size: (u32, u32),
}

/// The widest of `labels` at `size` pixels.
fn widest(labels: &[String], size: f64) -> u32 {
    labels.iter().map(|l| text_extent(l, size).0).max().unwrap_or(0)
}

/// The height of a line of text at `size` pixels.
fn line_height(size: f64) -> u32 {
    text_extent("Ag", size).1.max(size as u32)
}

impl<'a> HeatMap<'a> {
    fn laid_out(self) -> Laid<'a> {
        let n_rows = self.shade.len();
        let n_cols = self.shade.first().map_or(0, Vec::len);
        let row_labels: Vec<String> = self.row_names.iter().map(|n| shorten(n, MAX_NAME_CHARS)).collect();
        let col_labels: Vec<String> = self.col_names.iter().map(|n| shorten(n, MAX_NAME_CHARS)).collect();
        let cell = self.cell_side(n_rows, n_cols);
        let cell_text = self.cell_text_size(cell);
        let col_w = widest(&col_labels, LABEL_SIZE);
        let upright_cols = col_w + 4 > cell;
        let label_h = line_height(LABEL_SIZE);
        let desc_h = line_height(DESC_SIZE);

        let row_desc_w = if self.axis.1.is_empty() { 0 } else { desc_h + GAP };
        let left = MARGIN + row_desc_w + widest(&row_labels, LABEL_SIZE) + GAP;
        let top = MARGIN + line_height(TITLE_SIZE) + 2 * GAP;
        let col_labels_h = if col_labels.is_empty() {
            0
        } else if upright_cols {
            col_w + GAP
        } else {
            label_h + GAP
        };
        let col_desc_h = if self.axis.0.is_empty() { 0 } else { desc_h + GAP };

        let bar_ticks = nice_ticks(self.bar.lo, self.bar.hi, 5);
        let step = bar_step(&bar_ticks, &self.bar);
        let tick_w = bar_ticks.iter().map(|t| text_extent(&tick_label(*t, step), LABEL_SIZE).0).max();
        let bar_desc_w = if self.bar.label.is_empty() { 0 } else { desc_h + GAP };
        let right = 3 * GAP + BAR_WIDTH + GAP + tick_w.unwrap_or(0) + bar_desc_w + MARGIN;

        // Saturating, so that an absurd matrix gives a picture too large to
        // draw (an error) rather than an overflow.
        let side = |n: usize| cell.saturating_mul(u32::try_from(n).unwrap_or(u32::MAX));
        let grid = (side(n_cols), side(n_rows));
        let title_w = text_extent(self.title, TITLE_SIZE).0 + 2 * MARGIN;
        let width = left.saturating_add(grid.0).saturating_add(right).max(title_w);
        let height = (top + GAP + col_labels_h + col_desc_h + MARGIN).saturating_add(grid.1);
        Laid {
            map: self,
            n_rows,
            n_cols,
            cell,
            origin: (left, top),
            row_labels,
            col_labels,
            upright_cols,
            cell_text,
            bar_ticks,
            size: (width, height),
        }
    }

    /// A cell's side: the grid about 560 pixels on its longer side, cells
    /// between 4 and 96 pixels, and wide enough for their text.
    fn cell_side(&self, n_rows: usize, n_cols: usize) -> u32 {
        let fit = (560 / n_rows.max(n_cols).max(1)) as u32;
        let needed = self
            .cells
            .as_ref()
            .map_or(0, |c| c.iter().flatten().map(|s| text_extent(s, LABEL_SIZE).0 + 10).max().unwrap_or(0));
        fit.max(needed).clamp(4, 96)
    }

    /// The text size that fits the widest cell text in a cell of `cell`
    /// pixels; `None` without cell text or when it would be unreadable.
    fn cell_text_size(&self, cell: u32) -> Option<f64> {
        let cells = self.cells.as_ref()?;
        let widest = cells.iter().flatten().map(|s| text_extent(s, LABEL_SIZE).0).max().unwrap_or(0);
        let room = cell.saturating_sub(6) as f64;
        let size = if widest as f64 <= room { LABEL_SIZE } else { LABEL_SIZE * room / widest as f64 };
        (size >= 7.0 && size * 1.3 <= cell as f64).then_some(size)
    }
}

/// The distance between colour-bar ticks.
fn bar_step(ticks: &[f64], bar: &ColourBar) -> f64 {
    match ticks {
        [a, b, ..] => b - a,
        _ => bar.hi - bar.lo,
    }
}

/// The number `k` such that labelling every `k`th of cells `cell` pixels
/// apart keeps labels `label_h` pixels high from overlapping.
fn label_stride(cell: u32, label_h: u32) -> usize {
    label_h.div_ceil(cell.max(1)).max(1) as usize
}

impl Picture for Laid<'_> {
    fn size(&self) -> (u32, u32) {
        self.size
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), PlotError> {
        self.draw_title(area)?;
        self.draw_cells(area)?;
        self.draw_row_labels(area)?;
        self.draw_col_labels(area)?;
        self.draw_colour_bar(area)
    }
}

impl Laid<'_> {
    fn grid_size(&self) -> (i32, i32) {
        ((self.cell as usize * self.n_cols) as i32, (self.cell as usize * self.n_rows) as i32)
    }

    fn cell_corner(&self, row: usize, col: usize) -> (i32, i32) {
        let (x, y) = self.origin;
        (x as i32 + (col as u32 * self.cell) as i32, y as i32 + (row as u32 * self.cell) as i32)
    }

    fn draw_title<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), PlotError> {
        let style = text(TITLE_SIZE, BLACK).pos(Pos::new(HPos::Center, VPos::Top));
        let at = (self.size.0 as i32 / 2, MARGIN as i32);
        area.draw_text(self.map.title, &style, at).map_err(drawing_error)
    }

    fn draw_cells<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), PlotError> {
        let side = self.cell as i32;
        for (r, row) in self.map.shade.iter().enumerate() {
            for (c, shade) in row.iter().enumerate() {
                let (x, y) = self.cell_corner(r, c);
                let fill = shade.map_or(MISSING, |t| self.map.colours.colour(t));
                let rect = Rectangle::new([(x, y), (x + side, y + side)], fill.filled());
                area.draw(&rect).map_err(drawing_error)?;
                if let (Some(size), Some(cells)) = (self.cell_text, &self.map.cells) {
                    let style = centred(text(size, text_colour_on(fill)));
                    let label = cells[r][c].as_str();
                    area.draw_text(label, &style, (x + side / 2, y + side / 2)).map_err(drawing_error)?;
                }
            }
        }
        let (x, y) = self.cell_corner(0, 0);
        let (w, h) = self.grid_size();
        let frame = Rectangle::new([(x, y), (x + w, y + h)], RGBColor(80, 80, 80));
        area.draw(&frame).map_err(drawing_error)
    }

    fn draw_row_labels<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), PlotError> {
        let (x, y) = self.cell_corner(0, 0);
        let style = text(LABEL_SIZE, BLACK).pos(Pos::new(HPos::Right, VPos::Center));
        let half = self.cell as i32 / 2;
        let stride = label_stride(self.cell, line_height(LABEL_SIZE));
        for (r, label) in self.row_labels.iter().enumerate().step_by(stride) {
            let (_, cy) = self.cell_corner(r, 0);
            area.draw_text(label, &style, (x - GAP as i32, cy + half)).map_err(drawing_error)?;
        }
        let desc = self.map.axis.1;
        if desc.is_empty() {
            return Ok(());
        }
        let style = centred(text_upwards(DESC_SIZE, BLACK));
        let at = ((MARGIN + line_height(DESC_SIZE) / 2) as i32, y + self.grid_size().1 / 2);
        area.draw_text(desc, &style, at).map_err(drawing_error)
    }

    fn draw_col_labels<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), PlotError> {
        let (x, y) = self.cell_corner(0, 0);
        let (w, h) = self.grid_size();
        let top = y + h + GAP as i32;
        let half = self.cell as i32 / 2;
        let stride = label_stride(self.cell, line_height(LABEL_SIZE));
        let style = if self.upright_cols {
            text_upwards(LABEL_SIZE, BLACK).pos(Pos::new(HPos::Right, VPos::Center))
        } else {
            text(LABEL_SIZE, BLACK).pos(Pos::new(HPos::Center, VPos::Top))
        };
        for (c, label) in self.col_labels.iter().enumerate().step_by(stride) {
            let (cx, _) = self.cell_corner(0, c);
            area.draw_text(label, &style, (cx + half, top)).map_err(drawing_error)?;
        }
        let desc = self.map.axis.0;
        if desc.is_empty() {
            return Ok(());
        }
        let labels_h = match (self.col_labels.is_empty(), self.upright_cols) {
            (true, _) => 0,
            (false, true) => widest(&self.col_labels, LABEL_SIZE) + GAP,
            (false, false) => line_height(LABEL_SIZE) + GAP,
        };
        let style = text(DESC_SIZE, BLACK).pos(Pos::new(HPos::Center, VPos::Top));
        area.draw_text(desc, &style, (x + w / 2, top + labels_h as i32)).map_err(drawing_error)
    }

    fn draw_colour_bar<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), PlotError> {
        let (gx, y) = self.cell_corner(0, 0);
        let (w, h) = self.grid_size();
        let x = gx + w + 3 * GAP as i32;
        let bar = &self.map.bar;
        for py in 0..h {
            let t = 1.0 - (py as f64 + 0.5) / h as f64;
            let colour = self.map.colours.colour(t);
            let line = Rectangle::new([(x, y + py), (x + BAR_WIDTH as i32, y + py + 1)], colour.filled());
            area.draw(&line).map_err(drawing_error)?;
        }
        let frame = Rectangle::new([(x, y), (x + BAR_WIDTH as i32, y + h)], RGBColor(80, 80, 80));
        area.draw(&frame).map_err(drawing_error)?;
        let step = bar_step(&self.bar_ticks, bar);
        let style = text(LABEL_SIZE, BLACK).pos(Pos::new(HPos::Left, VPos::Center));
        let right = x + BAR_WIDTH as i32;
        for &t in &self.bar_ticks {
            let ty = y + ((1.0 - (t - bar.lo) / (bar.hi - bar.lo)) * h as f64).round() as i32;
            let tick = Rectangle::new([(right, ty), (right + 4, ty + 1)], BLACK.filled());
            area.draw(&tick).map_err(drawing_error)?;
            area.draw_text(&tick_label(t, step), &style, (right + 6, ty)).map_err(drawing_error)?;
        }
        if bar.label.is_empty() {
            return Ok(());
        }
        let tick_w = self.bar_ticks.iter().map(|t| text_extent(&tick_label(*t, step), LABEL_SIZE).0).max();
        let desc_x = right + 6 + tick_w.unwrap_or(0) as i32 + GAP as i32 + line_height(DESC_SIZE) as i32 / 2;
        let style = centred(text_upwards(DESC_SIZE, BLACK));
        area.draw_text(bar.label, &style, (desc_x, y + h / 2)).map_err(drawing_error)
    }
}

/// `style` anchored at its centre.
fn centred(style: TextStyle<'static>) -> TextStyle<'static> {
    style.pos(Pos::new(HPos::Center, VPos::Center))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: &[&str]) -> Vec<String> {
        n.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn bad_matrices_are_errors() {
        let err = |r: Result<Vec<u8>, PlotError>| r.unwrap_err().0;
        assert_eq!(err(confusion(&[], &[], Format::Png)), "the matrix is empty");
        assert_eq!(err(confusion(&[vec![]], &[], Format::Png)), "the matrix is empty");
        assert_eq!(
            err(confusion(&[vec![1, 2]], &[], Format::Png)),
            "a confusion matrix must be square, not 1x2"
        );
        assert_eq!(
            err(confusion(&[vec![1, 2], vec![3]], &[], Format::Png)),
            "row 1 of the matrix has 1 entries, row 0 has 2"
        );
        assert_eq!(
            err(confusion(&[vec![1]], &names(&["a", "b"]), Format::Png)),
            "2 class names were given, but the matrix has 1"
        );
        let no_names: &[String] = &[];
        assert!(
            heat_map(&[vec![1.0], vec![]], no_names, no_names, "", ("", ""), false, Format::Svg).is_err()
        );
    }

    #[test]
    fn shares_are_per_row() {
        assert_eq!(row_shares(&[1, 3]), [0.25, 0.75]);
        assert_eq!(row_shares(&[0, 0]), [0.0, 0.0]);
    }

    #[test]
    fn labels_thin_out_on_small_cells() {
        assert_eq!(label_stride(40, 15), 1);
        assert_eq!(label_stride(5, 15), 3);
    }

    /// The layout of a 2x2 map named `n` both ways.
    fn layout(n: &[String]) -> Laid<'_> {
        HeatMap {
            title: "t",
            axis: ("x", "y"),
            row_names: n,
            col_names: n,
            shade: vec![vec![Some(0.0); 2]; 2],
            cells: None,
            colours: ColourMap::Blues,
            bar: ColourBar { lo: 0.0, hi: 1.0, label: "" },
        }
        .laid_out()
    }

    #[test]
    fn long_names_widen_the_picture_and_turn_upright() {
        let short = names(&["a", "b"]);
        let long = names(&["a very long class name indeed", "b"]);
        let (a, b) = (layout(&short), layout(&long));
        assert!(b.size.0 > a.size.0 && b.size.1 > a.size.1);
        assert!(b.upright_cols && !a.upright_cols);
        assert_eq!(b.row_labels[0].chars().count(), MAX_NAME_CHARS);
    }
}
