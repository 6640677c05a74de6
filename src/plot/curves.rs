//! Training curves: one line chart per metric, the epoch across, one line
//! per split (and per cross-validation fold), panels laid out in a grid.
//!
//! A series keeps its colour in every panel (the colour follows the label),
//! so "validation" is the same colour under "loss" and under "accuracy".

use std::ops::Range;

use plotters::coord::Shift;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::{
    ChartBuilder, DrawingArea, DrawingBackend, LineSeries, PathElement, SeriesLabelPosition,
};
use plotters::style::{Color, RGBColor};

use super::PlotError;
use super::canvas::{self, Format, Picture, drawing_error, text};
use super::scale::{axis_range, nice_ticks, plottable, series_colour, tick_label};

/// One line of a chart: its name in the legend and its `(x, y)` points.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// The name shown in the legend; an empty label shows no entry.
    pub label: String,
    /// The points in drawing order; NaN and infinite ones are skipped.
    pub points: Vec<(f64, f64)>,
}

/// One chart: a metric against the epoch, with one line per series.
#[derive(Clone, Debug, PartialEq)]
pub struct Panel {
    /// The metric, shown as the chart's title and on its vertical axis.
    pub title: String,
    /// The lines of the chart.
    pub series: Vec<Series>,
}

/// The size of one panel in pixels.
const PANEL_SIZE: (u32, u32) = (600, 400);

/// Panels per row of the grid.
const COLUMNS: usize = 2;

/// Series with at most this many points get a marker on every point.
const FEW_POINTS: usize = 30;

/// Draws `panels` in a grid of up to two columns, each panel a line chart
/// with the epoch across, the metric up, and a legend.
///
/// An empty list of panels, or a panel without series, is an error.
pub fn curves(panels: &[Panel], format: Format) -> Result<Vec<u8>, PlotError> {
    if panels.is_empty() {
        return Err(PlotError::new("there are no curves to draw"));
    }
    if let Some(p) = panels.iter().find(|p| p.series.is_empty()) {
        return Err(PlotError::new(format!("the panel \"{}\" has no series to draw", p.title)));
    }
    canvas::render(&Curves::new(panels), format)
}

/// The picture [`curves`] draws.
struct Curves<'a> {
    panels: &'a [Panel],
    /// Every series label in order of first appearance; a label's colour
    /// is the one of its position here.
    labels: Vec<&'a str>,
}

impl<'a> Curves<'a> {
    fn new(panels: &'a [Panel]) -> Self {
        let mut labels: Vec<&str> = Vec::new();
        for s in panels.iter().flat_map(|p| &p.series) {
            if !labels.contains(&s.label.as_str()) {
                labels.push(&s.label);
            }
        }
        Curves { panels, labels }
    }

    fn colour_of(&self, label: &str) -> RGBColor {
        series_colour(self.labels.iter().position(|l| *l == label).unwrap_or(0))
    }

    fn grid(&self) -> (usize, usize) {
        let cols = self.panels.len().clamp(1, COLUMNS);
        (self.panels.len().div_ceil(cols), cols)
    }
}

impl Picture for Curves<'_> {
    fn size(&self) -> (u32, u32) {
        let (rows, cols) = self.grid();
        let times = |side: u32, n: usize| side.saturating_mul(u32::try_from(n).unwrap_or(u32::MAX));
        (times(PANEL_SIZE.0, cols), times(PANEL_SIZE.1, rows))
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), PlotError> {
        let cells = area.split_evenly(self.grid());
        for (panel, cell) in self.panels.iter().zip(&cells) {
            draw_panel(cell, panel, |label| self.colour_of(label))?;
        }
        Ok(())
    }
}

/// A series' drawable points.
fn plottable_points(series: &Series) -> Vec<(f64, f64)> {
    series.points.iter().copied().filter(|&(x, y)| plottable(x) && plottable(y)).collect()
}

/// Draws one chart of `panel` filling `area`.
fn draw_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    panel: &Panel,
    colour_of: impl Fn(&str) -> RGBColor,
) -> Result<(), PlotError> {
    let lines: Vec<(&Series, Vec<(f64, f64)>)> =
        panel.series.iter().map(|s| (s, plottable_points(s))).collect();
    let all = || lines.iter().flat_map(|(_, pts)| pts.iter().copied());
    let x = axis_range(all().map(|p| p.0), 0.02).unwrap_or((0.0, 1.0));
    let y = axis_range(all().map(|p| p.1), 0.06).unwrap_or((0.0, 1.0));
    let integral_x = all().all(|p| p.0.fract() == 0.0);
    let x_ticks = epoch_ticks(x, integral_x);
    let y_ticks = nice_ticks(y.0, y.1, 6);
    let (x_step, y_step) = (tick_step(&x_ticks, x), tick_step(&y_ticks, y));

    let black = RGBColor(0, 0, 0);
    let mut chart = ChartBuilder::on(area)
        .caption(&panel.title, text(20.0, black))
        .margin(12)
        .margin_right(24)
        .x_label_area_size(46)
        .y_label_area_size(70)
        .build_cartesian_2d(Ticked::new(x, x_ticks), Ticked::new(y, y_ticks))
        .map_err(drawing_error)?;
    chart
        .configure_mesh()
        .x_desc("epoch")
        .y_desc(panel.title.as_str())
        .x_label_formatter(&|v| tick_label(*v, x_step))
        .y_label_formatter(&|v| tick_label(*v, y_step))
        .label_style(text(13.0, black))
        .axis_desc_style(text(15.0, black))
        .bold_line_style(RGBColor(225, 225, 225))
        .axis_style(RGBColor(90, 90, 90))
        .draw()
        .map_err(drawing_error)?;

    for (series, points) in &lines {
        let colour = colour_of(&series.label);
        let marker = if points.len() <= FEW_POINTS { 3 } else { 0 };
        let n_points = points.len();
        let drawn = chart
            .draw_series(LineSeries::new(points.iter().copied(), colour.stroke_width(2)).point_size(marker))
            .map_err(drawing_error)?;
        if !series.label.is_empty() {
            let label =
                if n_points == 0 { format!("{} (no data)", series.label) } else { series.label.clone() };
            drawn.label(label).legend(move |(lx, ly)| {
                PathElement::new(vec![(lx, ly), (lx + 22, ly)], colour.stroke_width(3))
            });
        }
    }
    if panel.series.iter().any(|s| !s.label.is_empty()) {
        chart
            .configure_series_labels()
            .position(legend_position(&lines, x, y))
            .label_font(text(13.0, black))
            .background_style(RGBColor(255, 255, 255).mix(0.85))
            .border_style(RGBColor(160, 160, 160))
            .margin(8)
            .draw()
            .map_err(drawing_error)?;
    }
    Ok(())
}

/// A linear axis with the ticks it is given (plotters picks its own
/// otherwise), so that labels and grid lines fall on [`nice_ticks`].
struct Ticked {
    linear: RangedCoordf64,
    ticks: Vec<f64>,
}

impl Ticked {
    fn new((lo, hi): (f64, f64), ticks: Vec<f64>) -> Self {
        Ticked { linear: (lo..hi).into(), ticks }
    }
}

impl Ranged for Ticked {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        self.linear.map(value, limit)
    }

    /// The ticks for grid lines and labels; no light lines in between.
    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() { Vec::new() } else { self.ticks.clone() }
    }

    fn range(&self) -> Range<f64> {
        self.linear.range()
    }
}

/// Tick positions for the epoch axis: round values, whole numbers only when
/// every epoch is whole.
fn epoch_ticks((lo, hi): (f64, f64), integral: bool) -> Vec<f64> {
    let ticks = nice_ticks(lo, hi, 10);
    if integral { ticks.into_iter().filter(|t| t.fract() == 0.0).collect() } else { ticks }
}

/// The distance between neighbouring ticks, or the whole range when there
/// is only one.
fn tick_step(ticks: &[f64], (lo, hi): (f64, f64)) -> f64 {
    match ticks {
        [a, b, ..] => b - a,
        _ => hi - lo,
    }
}

/// Where the legend hides the fewest points: at the bottom right when the
/// lines end high (a rising accuracy), else at the top right (a falling loss).
fn legend_position(
    lines: &[(&Series, Vec<(f64, f64)>)],
    (x_lo, x_hi): (f64, f64),
    (y_lo, y_hi): (f64, f64),
) -> SeriesLabelPosition {
    let right = x_lo + (x_hi - x_lo) * 0.6;
    let middle = (y_lo + y_hi) / 2.0;
    let (high, low) = lines
        .iter()
        .flat_map(|(_, pts)| pts.iter())
        .filter(|p| p.0 >= right)
        .fold((0, 0), |(h, l), p| if p.1 > middle { (h + 1, l) } else { (h, l + 1) });
    if high > low { SeriesLabelPosition::LowerRight } else { SeriesLabelPosition::UpperRight }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(label: &str, points: &[(f64, f64)]) -> Series {
        Series { label: label.to_string(), points: points.to_vec() }
    }

    #[test]
    fn a_label_keeps_its_colour_across_panels() {
        let panels = [
            Panel { title: "loss".into(), series: vec![series("train", &[]), series("validation", &[])] },
            Panel { title: "accuracy".into(), series: vec![series("validation", &[])] },
        ];
        let curves = Curves::new(&panels);
        assert_eq!(curves.colour_of("validation"), series_colour(1));
        assert_eq!(curves.grid(), (1, 2));
        assert_eq!(curves.size(), (1200, 400));
    }

    #[test]
    fn whole_epochs_get_whole_ticks() {
        assert_eq!(epoch_ticks((1.0, 3.0), true), [1.0, 2.0, 3.0]);
        assert_eq!(epoch_ticks((0.9, 1.1), true), [1.0]);
        assert_eq!(epoch_ticks((0.0, 1.0), false).len(), 11);
    }

    #[test]
    fn the_legend_avoids_the_ends_of_the_lines() {
        let rising = [(series("a", &[]), vec![(0.0, 0.1), (9.0, 0.9), (10.0, 0.95)])];
        let lines: Vec<_> = rising.iter().map(|(s, p)| (s, p.clone())).collect();
        assert_eq!(legend_position(&lines, (0.0, 10.0), (0.0, 1.0)), SeriesLabelPosition::LowerRight);
        let falling = [(series("a", &[]), vec![(0.0, 0.9), (10.0, 0.1)])];
        let lines: Vec<_> = falling.iter().map(|(s, p)| (s, p.clone())).collect();
        assert_eq!(legend_position(&lines, (0.0, 10.0), (0.0, 1.0)), SeriesLabelPosition::UpperRight);
    }

    #[test]
    fn empty_inputs_are_errors() {
        assert!(curves(&[], Format::Png).is_err());
        let empty = [Panel { title: "loss".into(), series: vec![] }];
        assert_eq!(curves(&empty, Format::Svg).unwrap_err().0, "the panel \"loss\" has no series to draw");
    }
}
