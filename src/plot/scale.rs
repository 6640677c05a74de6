//! Numbers to pictures: axis ranges that stay sane on degenerate data, tick
//! positions and labels, series colours and the colour maps of heat maps.

use plotters::style::RGBColor;

/// Whether `v` can be drawn: finite and far enough from the limits of
/// `f64` that an axis around it has a finite length.
pub(super) fn plottable(v: f64) -> bool {
    v.is_finite() && v.abs() <= 1e300
}

/// The range an axis shows for `values`, ignoring values that are not
/// [`plottable`] and widened by `pad` (a fraction of the span) on each
/// side. A single value or all-equal values give a small range around
/// them; no plottable value gives `None`.
pub(super) fn axis_range(values: impl IntoIterator<Item = f64>, pad: f64) -> Option<(f64, f64)> {
    let (lo, hi) =
        values.into_iter().filter(|v| plottable(*v)).fold(None, |acc: Option<(f64, f64)>, v| match acc {
            None => Some((v, v)),
            Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
        })?;
    let span = hi - lo;
    if span <= f64::EPSILON * lo.abs().max(hi.abs()).max(1.0) {
        let half = if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
        return Some((lo - half, hi + half));
    }
    Some((lo - span * pad, hi + span * pad))
}

/// At most about `max_n` evenly spaced "round" values (steps of 1, 2 or 5
/// times a power of ten) inside `lo..=hi`.
pub(super) fn nice_ticks(lo: f64, hi: f64, max_n: usize) -> Vec<f64> {
    let span = hi - lo;
    if !(span.is_finite() && span > 0.0) || max_n == 0 {
        return vec![lo];
    }
    let step = nice_step(span / max_n as f64);
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    (first..=last).map(|k| k as f64 * step).collect()
}

/// The smallest step of 1, 2 or 5 times a power of ten at least `raw`.
fn nice_step(raw: f64) -> f64 {
    let base = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * base).find(|s| *s >= raw * (1.0 - 1e-9)).unwrap_or(10.0 * base)
}

/// A tick label for `v` on an axis whose ticks are `step` apart: as many
/// decimals as the step needs, scientific notation for very large or very
/// small magnitudes.
pub(super) fn tick_label(v: f64, step: f64) -> String {
    let v = if v.abs() < step.abs() * 1e-9 { 0.0 } else { v };
    let magnitude = v.abs().max(step.abs());
    if magnitude != 0.0 && !(1e-4..1e6).contains(&magnitude) {
        return format!("{v:.2e}");
    }
    let decimals = if step > 0.0 { (-step.log10().floor()).clamp(0.0, 6.0) as usize } else { 2 };
    format!("{v:.decimals$}")
}

/// A value written in a heat-map cell: integers as integers, others with
/// three significant digits.
pub(super) fn cell_label(v: f64) -> String {
    if !v.is_finite() {
        return String::new();
    }
    if v.fract() == 0.0 && v.abs() < 1e9 {
        return format!("{v:.0}");
    }
    let magnitude = v.abs();
    if !(1e-3..1e5).contains(&magnitude) {
        return format!("{v:.1e}");
    }
    let decimals = (2 - magnitude.log10().floor() as i32).clamp(0, 4) as usize;
    format!("{v:.decimals$}")
}

/// Ten colours that stay apart from one another (the Tableau palette).
const SERIES_COLOURS: [(u8, u8, u8); 10] = [
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
];

/// The colour of the `i`th series; after ten the colours repeat.
pub(super) fn series_colour(i: usize) -> RGBColor {
    let (r, g, b) = SERIES_COLOURS[i % SERIES_COLOURS.len()];
    RGBColor(r, g, b)
}

/// How a heat map turns a value in `0..=1` into a colour.
#[derive(Clone, Copy, Debug)]
pub(super) enum ColourMap {
    /// Dark purple through blue and green to yellow; even in lightness, so
    /// it reads in grey too. For values in general.
    Viridis,
    /// White to dark blue. For counts, where zero should look empty.
    Blues,
}

/// Stops of viridis, evenly spaced.
const VIRIDIS: [(u8, u8, u8); 9] = [
    (68, 1, 84),
    (71, 45, 123),
    (59, 82, 139),
    (44, 114, 142),
    (33, 145, 140),
    (40, 174, 128),
    (94, 201, 98),
    (173, 220, 48),
    (253, 231, 37),
];

/// Stops of the sequential blues, evenly spaced.
const BLUES: [(u8, u8, u8); 9] = [
    (247, 251, 255),
    (222, 235, 247),
    (198, 219, 239),
    (158, 202, 225),
    (107, 174, 214),
    (66, 146, 198),
    (33, 113, 181),
    (8, 81, 156),
    (8, 48, 107),
];

impl ColourMap {
    /// The colour of `t`, clamped to `0..=1`.
    pub(super) fn colour(self, t: f64) -> RGBColor {
        let stops = match self {
            ColourMap::Viridis => &VIRIDIS,
            ColourMap::Blues => &BLUES,
        };
        let t = if t.is_finite() { t.clamp(0.0, 1.0) } else { 0.0 };
        let pos = t * (stops.len() - 1) as f64;
        let i = (pos.floor() as usize).min(stops.len() - 2);
        let f = pos - i as f64;
        let mix = |a: u8, b: u8| (a as f64 + (b as f64 - a as f64) * f).round() as u8;
        let (a, b) = (stops[i], stops[i + 1]);
        RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
    }
}

/// Black or white, whichever reads better on `background`.
pub(super) fn text_colour_on(background: RGBColor) -> RGBColor {
    let RGBColor(r, g, b) = background;
    let luma = 0.299 * r as f64 + 0.587 * g as f64 + 0.114 * b as f64;
    if luma > 140.0 { RGBColor(0, 0, 0) } else { RGBColor(255, 255, 255) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_of_degenerate_data_are_not_empty() {
        let (lo, hi) = axis_range([2.0], 0.05).unwrap();
        assert!((lo - 1.8).abs() < 1e-12 && (hi - 2.2).abs() < 1e-12);
        assert_eq!(axis_range([0.0, 0.0], 0.05), Some((-1.0, 1.0)));
        assert_eq!(axis_range([f64::NAN, f64::INFINITY], 0.05), None);
        let (lo, hi) = axis_range([1.0, f64::NAN, 3.0], 0.0).unwrap();
        assert_eq!((lo, hi), (1.0, 3.0));
        let (lo, hi) = axis_range([-1e300, 1e300, f64::MAX], 0.05).unwrap();
        assert!(lo < hi && (hi - lo).is_finite());
    }

    #[test]
    fn ticks_are_round_and_inside() {
        assert_eq!(nice_ticks(0.0, 1.0, 5), [0.0, 0.2, 0.4, 0.6000000000000001, 0.8, 1.0]);
        assert_eq!(nice_ticks(3.0, 17.0, 3), [5.0, 10.0, 15.0]);
        assert_eq!(nice_ticks(1.0, 1.0, 5), [1.0]);
    }

    #[test]
    fn labels_have_the_decimals_the_step_needs() {
        assert_eq!(tick_label(0.6000000000000001, 0.2), "0.6");
        assert_eq!(tick_label(15.0, 5.0), "15");
        assert_eq!(tick_label(1e-17, 0.5), "0.0");
        assert_eq!(tick_label(2e7, 1e7), "2.00e7");
        assert_eq!(cell_label(42.0), "42");
        assert_eq!(cell_label(0.12345), "0.123");
        assert_eq!(cell_label(12.345), "12.3");
        assert_eq!(cell_label(f64::NAN), "");
    }

    #[test]
    fn colour_maps_run_from_end_to_end() {
        assert_eq!(ColourMap::Blues.colour(0.0), RGBColor(247, 251, 255));
        assert_eq!(ColourMap::Blues.colour(1.0), RGBColor(8, 48, 107));
        assert_eq!(ColourMap::Viridis.colour(f64::NAN), RGBColor(68, 1, 84));
        assert_eq!(text_colour_on(RGBColor(8, 48, 107)), RGBColor(255, 255, 255));
        assert_eq!(text_colour_on(RGBColor(247, 251, 255)), RGBColor(0, 0, 0));
    }
}
