//! Training curves: one line chart per metric, the epoch across, one line
//! per split (and per cross-validation fold), panels laid out in a grid.
//!
//! A series keeps its colour in every panel, so "validation" is the same
//! colour under "loss" and under "accuracy". The colour follows the series'
//! group: its label, or for a cross-validation series ("train fold 2",
//! "validation fold 2") its fold. When there are folds, the line's dash
//! follows the split (train solid, validation dashed, test dotted) and the
//! legend lists the folds by colour and the splits by dash, in grey, rather
//! than every series.

use std::ops::Range;

use plotters::coord::Shift;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::coord::types::RangedCoordf64;
use plotters::element::{DashedPathElement, DottedPathElement, DynElement, IntoDynElement};
use plotters::prelude::{
    Cartesian2d, ChartBuilder, ChartContext, Circle, DashedLineSeries, DottedLineSeries, DrawingArea,
    DrawingBackend, LineSeries, PathElement, SeriesLabelPosition,
};
use plotters::style::{Color, RGBColor};
use plotters_backend::BackendCoord;

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
    /// The colour groups, in colour order: a group's colour is the one of
    /// its position here. Folds come first, in numeric order; then the
    /// labels without a fold, in order of first appearance.
    groups: Vec<Group<'a>>,
}

/// What a series shares its colour with: the other splits of its fold, or
/// only itself (a label without a fold).
#[derive(Clone, Copy, Debug, PartialEq)]
enum Group<'a> {
    /// A cross-validation fold, by its number as written in the label.
    Fold(&'a str),
    /// A whole label, such as "train" or "validation".
    Label(&'a str),
}

/// How a line is stroked.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Dash {
    Solid,
    Dashed,
    Dotted,
}

impl Dash {
    /// The dash of a split when folds share colours: train solid,
    /// validation dashed, test dotted; any other name solid.
    fn of_split(split: &str) -> Dash {
        match split {
            "validation" => Dash::Dashed,
            "test" => Dash::Dotted,
            _ => Dash::Solid,
        }
    }
}

/// How a series is drawn.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Look {
    colour: RGBColor,
    dash: Dash,
}

/// One line of a legend: a swatch drawn in `look`, then `label`.
#[derive(Clone, Debug, PartialEq)]
struct Entry {
    label: String,
    look: Look,
}

/// The colour of the legend entries that show a split's dash.
const KEY_GREY: RGBColor = RGBColor(90, 90, 90);

/// The split and, for a cross-validation series, the fold a label names:
/// `"validation fold 3"` is split `"validation"`, fold `"3"`; a label
/// without a numeric ` fold N` ending is all split.
fn split_and_fold(label: &str) -> (&str, Option<&str>) {
    match label.rsplit_once(" fold ") {
        Some((split, fold)) if !split.is_empty() && fold_number(fold).is_some() => (split, Some(fold)),
        _ => (label, None),
    }
}

/// The number a fold is written as, if it is one.
fn fold_number(fold: &str) -> Option<f64> {
    fold.parse::<f64>().ok().filter(|n| n.is_finite())
}

/// The colour group of a series label.
fn group_of(label: &str) -> Group<'_> {
    match split_and_fold(label) {
        (_, Some(fold)) => Group::Fold(fold),
        (_, None) => Group::Label(label),
    }
}

impl<'a> Curves<'a> {
    fn new(panels: &'a [Panel]) -> Self {
        let mut folds: Vec<&str> = Vec::new();
        let mut labels: Vec<&str> = Vec::new();
        for s in panels.iter().flat_map(|p| &p.series) {
            let (list, name) = match group_of(&s.label) {
                Group::Fold(fold) => (&mut folds, fold),
                Group::Label(label) => (&mut labels, label),
            };
            if !list.contains(&name) {
                list.push(name);
            }
        }
        // Numerically, so that "fold 10" follows "fold 9"; a stable sort
        // keeps "1" and "1.0" in order of appearance.
        folds.sort_by(|a, b| fold_number(a).unwrap_or(0.0).total_cmp(&fold_number(b).unwrap_or(0.0)));
        let groups = folds.into_iter().map(Group::Fold).chain(labels.into_iter().map(Group::Label)).collect();
        Curves { panels, groups }
    }

    /// Whether any series belongs to a cross-validation fold: then colours
    /// follow the fold and dashes the split.
    fn has_folds(&self) -> bool {
        self.groups.iter().any(|g| matches!(g, Group::Fold(_)))
    }

    fn colour_of(&self, label: &str) -> RGBColor {
        let group = group_of(label);
        series_colour(self.groups.iter().position(|g| *g == group).unwrap_or(0))
    }

    /// How the series `label` is drawn: in the colour of its group, and,
    /// when there are folds, with the dash of its split.
    fn look_of(&self, label: &str) -> Look {
        let dash = if self.has_folds() { Dash::of_split(split_and_fold(label).0) } else { Dash::Solid };
        Look { colour: self.colour_of(label), dash }
    }

    /// The legend of a panel whose series have the drawable points in
    /// `lines`. Without folds, one entry per labelled series. With folds,
    /// one entry per fold in its colour ("fold 2"), then one per other
    /// labelled series, then one per split of the folds with its dash in
    /// grey ("validation"). An entry none of whose series has a point says
    /// "(no data)".
    fn legend(&self, lines: &[(&Series, Vec<(f64, f64)>)]) -> Vec<Entry> {
        let entry = |label: &str, look: Look, has_data: bool| Entry {
            label: if has_data { label.to_string() } else { format!("{label} (no data)") },
            look,
        };
        let labelled = || lines.iter().filter(|(s, _)| !s.label.is_empty());
        if !self.has_folds() {
            return labelled()
                .map(|(s, pts)| entry(&s.label, self.look_of(&s.label), !pts.is_empty()))
                .collect();
        }
        let mut entries = Vec::new();
        for group in &self.groups {
            let Group::Fold(fold) = *group else { continue };
            let members: Vec<_> = lines.iter().filter(|(s, _)| group_of(&s.label) == *group).collect();
            if !members.is_empty() {
                let look = Look { colour: self.colour_of(&members[0].0.label), dash: Dash::Solid };
                entries.push(entry(
                    &format!("fold {fold}"),
                    look,
                    members.iter().any(|(_, p)| !p.is_empty()),
                ));
            }
        }
        for (s, pts) in labelled().filter(|(s, _)| matches!(group_of(&s.label), Group::Label(_))) {
            entries.push(entry(&s.label, self.look_of(&s.label), !pts.is_empty()));
        }
        let mut splits: Vec<&str> = Vec::new();
        for (s, _) in lines {
            if let (split, Some(_)) = split_and_fold(&s.label)
                && !splits.contains(&split)
            {
                splits.push(split);
            }
        }
        for split in splits {
            let has_data = lines.iter().any(|(s, p)| {
                matches!(split_and_fold(&s.label), (sp, Some(_)) if sp == split) && !p.is_empty()
            });
            entries.push(entry(split, Look { colour: KEY_GREY, dash: Dash::of_split(split) }, has_data));
        }
        entries
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
            self.draw_panel(cell, panel)?;
        }
        Ok(())
    }
}

/// A series' drawable points.
fn plottable_points(series: &Series) -> Vec<(f64, f64)> {
    series.points.iter().copied().filter(|&(x, y)| plottable(x) && plottable(y)).collect()
}

/// The chart of one panel, with its axes.
type Chart<'a, DB> = ChartContext<'a, DB, Cartesian2d<Ticked, Ticked>>;

impl Curves<'_> {
    /// Draws one chart of `panel` filling `area`.
    fn draw_panel<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        panel: &Panel,
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
            draw_line(&mut chart, points, self.look_of(&series.label), self.has_folds())?;
        }
        let legend = self.legend(&lines);
        if legend.is_empty() {
            return Ok(());
        }
        for Entry { label, look } in legend {
            chart
                .draw_series(std::iter::empty::<PathElement<(f64, f64)>>())
                .map_err(drawing_error)?
                .label(label)
                .legend(move |at| swatch::<DB>(look, at));
        }
        chart
            .configure_series_labels()
            .position(legend_position(&lines, x, y))
            .label_font(text(13.0, black))
            .background_style(RGBColor(255, 255, 255).mix(0.85))
            .border_style(RGBColor(160, 160, 160))
            .margin(8)
            .draw()
            .map_err(drawing_error)
    }
}

/// The width of the lines of a chart, in pixels.
const LINE_WIDTH: u32 = 2;

/// A dash and the gap after it, in pixels, on a chart.
const DASH: (i32, i32) = (10, 5);

/// The distance between the dots of a dotted line and their radius, in
/// pixels, on a chart.
const DOTS: (i32, i32) = (6, 2);

/// Draws one series on `chart` in `look`, with a marker on every point
/// when there are few of them; `crowded` (there are folds) asks for small
/// markers.
fn draw_line<DB: DrawingBackend>(
    chart: &mut Chart<'_, DB>,
    points: &[(f64, f64)],
    look: Look,
    crowded: bool,
) -> Result<(), PlotError> {
    let style = look.colour.stroke_width(LINE_WIDTH);
    let path = points.iter().copied();
    match look.dash {
        Dash::Solid => chart.draw_series(LineSeries::new(path, style)),
        Dash::Dashed => chart.draw_series(DashedLineSeries::new(path, DASH.0, DASH.1, style)),
        Dash::Dotted => {
            let dot = look.colour.filled();
            chart.draw_series(DottedLineSeries::new(path, 0, DOTS.0, move |at| Circle::new(at, DOTS.1, dot)))
        }
    }
    .map_err(drawing_error)?;
    if points.len() <= FEW_POINTS {
        // Rings on a line of its own colour; a small dot where folds
        // crowd the lines together.
        let (radius, marker) = match look.dash {
            Dash::Solid if !crowded => (3, style),
            _ => (2, look.colour.filled()),
        };
        chart.draw_series(points.iter().map(|&p| Circle::new(p, radius, marker))).map_err(drawing_error)?;
    }
    Ok(())
}

/// The legend's picture of a line in `look`, starting at `(x, y)`.
fn swatch<DB: DrawingBackend>(look: Look, (x, y): BackendCoord) -> DynElement<'static, DB, BackendCoord> {
    const WIDTH: i32 = 24;
    let ends = vec![(x, y), (x + WIDTH, y)];
    let style = look.colour.stroke_width(3);
    match look.dash {
        Dash::Solid => PathElement::new(ends, style).into_dyn(),
        // Three dashes, exactly across.
        Dash::Dashed => DashedPathElement::new(ends, 6, 3, style).into_dyn(),
        // Five dots, the outer ones touching the ends.
        Dash::Dotted => {
            let dot = look.colour.filled();
            let inside = vec![(x + 2, y), (x + WIDTH - 2, y)];
            DottedPathElement::new(inside, 0, 5, move |at| Circle::new(at, 2, dot)).into_dyn()
        }
    }
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
        assert_eq!(curves.look_of("validation"), Look { colour: series_colour(1), dash: Dash::Solid });
        assert_eq!(curves.grid(), (1, 2));
        assert_eq!(curves.size(), (1200, 400));
    }

    #[test]
    fn labels_name_a_split_and_maybe_a_fold() {
        assert_eq!(split_and_fold("validation fold 3"), ("validation", Some("3")));
        assert_eq!(split_and_fold("train fold 12"), ("train", Some("12")));
        assert_eq!(split_and_fold("train"), ("train", None));
        assert_eq!(split_and_fold("train fold x"), ("train fold x", None));
        assert_eq!(split_and_fold("fold 2"), ("fold 2", None));
        assert_eq!(split_and_fold(" fold 2"), (" fold 2", None));
    }

    /// The panels of a cross-validation log: `folds` folds, each with a
    /// train and a validation series of three points.
    fn fold_panels(folds: &[usize]) -> Vec<Panel> {
        let pts = [(1.0, 0.9), (2.0, 0.5), (3.0, 0.4)];
        let of = |split: &'static str| folds.iter().map(move |f| series(&format!("{split} fold {f}"), &pts));
        vec![
            Panel { title: "loss".into(), series: of("train").chain(of("validation")).collect() },
            Panel { title: "accuracy".into(), series: of("validation").collect() },
        ]
    }

    fn lines(panel: &Panel) -> Vec<(&Series, Vec<(f64, f64)>)> {
        panel.series.iter().map(|s| (s, plottable_points(s))).collect()
    }

    #[test]
    fn the_splits_of_a_fold_share_its_colour() {
        let panels = fold_panels(&[1, 2, 3, 4, 5]);
        let curves = Curves::new(&panels);
        assert!(curves.has_folds());
        assert_eq!(curves.colour_of("train fold 2"), curves.colour_of("validation fold 2"));
        assert_eq!(curves.colour_of("train fold 1"), series_colour(0));
        assert_eq!(curves.colour_of("validation fold 5"), series_colour(4));
        assert_ne!(curves.colour_of("train fold 1"), curves.colour_of("train fold 2"));
        assert_eq!(curves.look_of("train fold 3").dash, Dash::Solid);
        assert_eq!(curves.look_of("validation fold 3").dash, Dash::Dashed);
        assert_eq!(curves.look_of("test fold 3").dash, Dash::Dotted);
    }

    #[test]
    fn folds_are_coloured_in_numeric_order() {
        let panels = fold_panels(&[10, 9, 2, 1]);
        let curves = Curves::new(&panels);
        let colours: Vec<_> =
            ["1", "2", "9", "10"].iter().map(|f| curves.colour_of(&format!("train fold {f}"))).collect();
        assert_eq!(colours, (0..4).map(series_colour).collect::<Vec<_>>());
        // Folds counted from zero take the first colour for the first fold.
        let panels = fold_panels(&[0, 1]);
        assert_eq!(Curves::new(&panels).colour_of("validation fold 0"), series_colour(0));
    }

    #[test]
    fn a_fold_legend_lists_folds_then_splits() {
        let panels = fold_panels(&[1, 2, 3, 4, 5]);
        let curves = Curves::new(&panels);
        let legend = curves.legend(&lines(&panels[0]));
        let labels: Vec<&str> = legend.iter().map(|e| e.label.as_str()).collect();
        assert_eq!(labels, ["fold 1", "fold 2", "fold 3", "fold 4", "fold 5", "train", "validation"]);
        assert_eq!(legend[1].look, Look { colour: series_colour(1), dash: Dash::Solid });
        assert_eq!(legend[5].look, Look { colour: KEY_GREY, dash: Dash::Solid });
        assert_eq!(legend[6].look, Look { colour: KEY_GREY, dash: Dash::Dashed });
        // A panel with one split keys only that split.
        let legend = curves.legend(&lines(&panels[1]));
        assert_eq!(legend.len(), 6);
        assert_eq!(legend[5].label, "validation");
    }

    #[test]
    fn a_legend_without_folds_lists_every_series() {
        let panels = [Panel {
            title: "loss".into(),
            series: vec![series("train", &[(1.0, 1.0)]), series("", &[(1.0, 2.0)]), series("test", &[])],
        }];
        let curves = Curves::new(&panels);
        assert!(!curves.has_folds());
        let legend = curves.legend(&lines(&panels[0]));
        let labels: Vec<&str> = legend.iter().map(|e| e.label.as_str()).collect();
        assert_eq!(labels, ["train", "test (no data)"]);
        assert!(legend.iter().all(|e| e.look.dash == Dash::Solid));
        assert_eq!(legend[1].look.colour, series_colour(2));
    }

    #[test]
    fn series_without_a_fold_among_folds_keep_a_colour_of_their_own() {
        let pts = [(1.0, 0.5)];
        let panels = [Panel {
            title: "loss".into(),
            series: vec![
                series("train", &pts),
                series("validation", &pts),
                series("validation fold 1", &pts),
                series("validation fold 2", &[(1.0, f64::NAN)]),
            ],
        }];
        let curves = Curves::new(&panels);
        assert_eq!(curves.look_of("validation"), Look { colour: series_colour(3), dash: Dash::Dashed });
        let legend = curves.legend(&lines(&panels[0]));
        let labels: Vec<&str> = legend.iter().map(|e| e.label.as_str()).collect();
        assert_eq!(labels, ["fold 1", "fold 2 (no data)", "train", "validation", "validation"]);
        assert_eq!(legend[3].look.colour, series_colour(3));
        assert_eq!(legend[4].look.colour, KEY_GREY);
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
