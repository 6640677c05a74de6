//! The plot module end to end: pictures decode, have the stated size and
//! show something (colours, ink, dark text); SVG keeps its labels as text;
//! training logs turn into the expected panels; bad input is an error.
//!
//! With `NNC_PLOT_DIR` set, the example pictures are also written there, to
//! look at.

use nnc::plot::{self, Format, Panel, PlotError, Series};

/// A decoded 8-bit RGB picture.
struct Picture {
    width: u32,
    height: u32,
    rgb: Vec<u8>,
}

impl Picture {
    fn pixels(&self) -> impl Iterator<Item = [u8; 3]> + '_ {
        self.rgb.chunks_exact(3).map(|p| [p[0], p[1], p[2]])
    }
}

fn decode(png_bytes: &[u8]) -> Picture {
    let decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    let mut reader = decoder.read_info().expect("a PNG header");
    let mut rgb = vec![0; reader.output_buffer_size().expect("a buffer size")];
    let info = reader.next_frame(&mut rgb).expect("PNG pixels");
    assert_eq!(info.color_type, png::ColorType::Rgb);
    assert_eq!(info.bit_depth, png::BitDepth::Eight);
    rgb.truncate(info.buffer_size());
    Picture { width: info.width, height: info.height, rgb }
}

/// Checks that a picture is not blank: many colours, a fair share of ink,
/// and dark pixels where text is.
#[track_caller]
fn check_drawn(picture: &Picture) {
    let mut colours = std::collections::HashSet::new();
    let (mut ink, mut dark) = (0usize, 0usize);
    for p in picture.pixels() {
        colours.insert(p);
        if p != [255, 255, 255] {
            ink += 1;
        }
        let luma = 0.299 * p[0] as f64 + 0.587 * p[1] as f64 + 0.114 * p[2] as f64;
        if luma < 60.0 {
            dark += 1;
        }
    }
    let n = (picture.width * picture.height) as usize;
    assert!(colours.len() > 50, "only {} colours", colours.len());
    assert!(ink * 100 > n * 2 && ink * 100 < n * 95, "{ink} of {n} pixels are not white");
    assert!(dark > 500, "only {dark} dark pixels: is there text?");
}

/// Writes `bytes` to `$NNC_PLOT_DIR/name` when that variable is set.
fn keep(name: &str, bytes: &[u8]) {
    if let Some(dir) = std::env::var_os("NNC_PLOT_DIR") {
        std::fs::write(std::path::Path::new(&dir).join(name), bytes).unwrap();
    }
}

/// The texts of an SVG document's `<text>` elements.
fn svg_texts(svg: &str) -> Vec<&str> {
    svg.split("<text")
        .skip(1)
        .filter_map(|t| Some(t.split_once('>')?.1.split_once("</text>")?.0.trim()))
        .collect()
}

fn series(label: &str, points: &[(f64, f64)]) -> Series {
    Series { label: label.to_string(), points: points.to_vec() }
}

fn names(n: &[&str]) -> Vec<String> {
    n.iter().map(|s| s.to_string()).collect()
}

/// Two splits over twelve epochs: a falling loss and a rising accuracy.
fn training_panels() -> Vec<Panel> {
    let epochs = 1..=12;
    let loss = |e: f64, off: f64| 2.3 * (-0.25 * e).exp() + 0.1 + off;
    let acc = |e: f64, off: f64| 0.95 - 0.8 * (-0.3 * e).exp() - off;
    let points = |f: &dyn Fn(f64) -> f64| epochs.clone().map(|e| (e as f64, f(e as f64))).collect::<Vec<_>>();
    vec![
        Panel {
            title: "loss".into(),
            series: vec![
                series("train", &points(&|e| loss(e, 0.0))),
                series("validation", &points(&|e| loss(e, 0.15))),
            ],
        },
        Panel {
            title: "accuracy".into(),
            series: vec![
                series("train", &points(&|e| acc(e, 0.0))),
                series("validation", &points(&|e| acc(e, 0.04))),
            ],
        },
        Panel { title: "f1_macro".into(), series: vec![series("validation", &points(&|e| acc(e, 0.08)))] },
    ]
}

#[test]
fn curves_render_as_a_png_grid() {
    let bytes = plot::curves(&training_panels(), Format::Png).unwrap();
    keep("curves.png", &bytes);
    let picture = decode(&bytes);
    assert_eq!((picture.width, picture.height), (1200, 800));
    check_drawn(&picture);
}

#[test]
fn curves_render_as_svg_with_their_labels() {
    let bytes = plot::curves(&training_panels(), Format::Svg).unwrap();
    keep("curves.svg", &bytes);
    let svg = String::from_utf8(bytes).unwrap();
    assert!(svg.contains("<svg"), "{svg:.200}");
    let texts = svg_texts(&svg);
    for text in ["train", "validation", "loss", "accuracy", "f1_macro", "epoch"] {
        assert!(texts.contains(&text), "no text {text:?} in the SVG: {texts:?}");
    }
}

#[test]
fn degenerate_curves_still_render() {
    let panels = [
        Panel { title: "one point".into(), series: vec![series("train", &[(1.0, 0.5)])] },
        Panel {
            title: "flat".into(),
            series: vec![series("train", &[(1.0, 2.0), (2.0, 2.0), (3.0, 2.0)]), series("", &[])],
        },
        Panel {
            title: "broken".into(),
            series: vec![
                series("train", &[(1.0, f64::NAN), (2.0, f64::INFINITY), (3.0, 1.0), (4.0, 0.5)]),
                series("validation", &[(1.0, f64::NAN)]),
            ],
        },
    ];
    let picture = decode(&plot::curves(&panels, Format::Png).unwrap());
    assert_eq!((picture.width, picture.height), (1200, 800));
    check_drawn(&picture);
    let one = decode(&plot::curves(&panels[..1], Format::Png).unwrap());
    assert_eq!((one.width, one.height), (600, 400));
}

#[test]
fn a_confusion_matrix_renders_with_its_counts() {
    let matrix = vec![vec![50, 2, 0, 1], vec![3, 41, 6, 0], vec![0, 9, 38, 3], vec![1, 0, 4, 2]];
    let classes = names(&["cat", "dog", "a bird with a very long name indeed", "fish"]);
    let bytes = plot::confusion(&matrix, &classes, Format::Png).unwrap();
    keep("confusion.png", &bytes);
    let picture = decode(&bytes);
    assert!(picture.width >= 400 && picture.height >= 400, "{}x{}", picture.width, picture.height);
    check_drawn(&picture);

    let svg = String::from_utf8(plot::confusion(&matrix, &classes, Format::Svg).unwrap()).unwrap();
    keep("confusion.svg", svg.as_bytes());
    let texts = svg_texts(&svg);
    for text in ["50", "41", "cat", "predicted class", "true class"] {
        assert!(texts.contains(&text), "no text {text:?} in the SVG: {texts:?}");
    }
}

#[test]
fn many_classes_and_folds_render() {
    let n = 10;
    let matrix: Vec<Vec<u64>> = (0..n)
        .map(|t| (0..n).map(|p| if t == p { 90 + t as u64 } else { ((t * 7 + p * 3) % 5) as u64 }).collect())
        .collect();
    let bytes = plot::confusion(&matrix, &[], Format::Png).unwrap();
    keep("confusion10.png", &bytes);
    check_drawn(&decode(&bytes));

    let mut log = String::new();
    for fold in 0..5 {
        for epoch in 1..=40 {
            let e = epoch as f64;
            let (train, validation) = (1.0 / e + 0.01 * fold as f64, 1.2 / e + 0.2 + 0.02 * fold as f64);
            log += &format!(
                "{{\"kind\": \"epoch\", \"fold\": {fold}, \"epoch\": {epoch}, \"train_loss\": {train}, \"validation_loss\": {validation}, \"validation_accuracy\": {}}}\n",
                1.0 - validation / 2.0
            );
        }
    }
    let panels = plot::panels_from_log(&log).unwrap();
    assert_eq!(panels.len(), 2);
    assert_eq!(panels[0].series.len(), 10);
    let bytes = plot::curves(&panels, Format::Png).unwrap();
    keep("folds.png", &bytes);
    check_drawn(&decode(&bytes));
}

/// A 5-fold log as `nnc run --folds 5 --log-json` writes it: folds from 1,
/// train and validation loss and accuracy, twelve epochs.
fn five_fold_log() -> String {
    let mut log = String::new();
    for fold in 1..=5 {
        let f = fold as f64;
        for epoch in 1..=12 {
            let e = epoch as f64;
            let train_loss = 1.6 * (-0.3 * e).exp() + 0.05 + 0.015 * f;
            let validation_loss = 1.5 * (-0.22 * e).exp() + 0.25 + 0.03 * f + 0.004 * e;
            let train_accuracy = 0.97 - 0.6 * (-0.35 * e).exp() - 0.005 * f;
            let validation_accuracy = 0.9 - 0.6 * (-0.3 * e).exp() - 0.012 * f;
            log += &format!(
                "{{\"kind\": \"epoch\", \"fold\": {fold}, \"epoch\": {epoch}, \"train_loss\": {train_loss}, \"train_accuracy\": {train_accuracy}, \"validation_loss\": {validation_loss}, \"validation_accuracy\": {validation_accuracy}}}\n"
            );
        }
    }
    log
}

#[test]
fn folds_share_colours_and_the_legend_lists_folds_and_splits() {
    let panels = plot::panels_from_log(&five_fold_log()).unwrap();
    assert_eq!(panels.len(), 2);
    assert_eq!(panels[0].series.len(), 10);
    let bytes = plot::curves(&panels, Format::Png).unwrap();
    keep("folds5.png", &bytes);
    let picture = decode(&bytes);
    assert_eq!((picture.width, picture.height), (1200, 400));
    check_drawn(&picture);

    let bytes = plot::curves(&panels, Format::Svg).unwrap();
    keep("folds5.svg", &bytes);
    let svg = String::from_utf8(bytes).unwrap();
    let texts = svg_texts(&svg);
    for text in ["fold 1", "fold 5", "train", "validation"] {
        assert_eq!(texts.iter().filter(|t| **t == text).count(), 2, "{text:?} in each legend: {texts:?}");
    }
    assert!(!texts.iter().any(|t| t.contains("train fold")), "{texts:?}");
}

#[test]
fn a_heat_map_renders_without_names() {
    let values: Vec<Vec<f64>> = (0..28)
        .map(|r| (0..28).map(|c| ((r as f64 - 14.0).powi(2) + (c as f64 - 14.0).powi(2)).sqrt()).collect())
        .collect();
    let bytes = plot::heat_map(&values, &[], &[], "saliency", ("", ""), false, Format::Png).unwrap();
    keep("heat.png", &bytes);
    check_drawn(&decode(&bytes));

    let small = vec![vec![0.25, f64::NAN], vec![1.5, -3.0]];
    let rows = names(&["a", "b"]);
    let bytes = plot::heat_map(&small, &rows, &[], "values", ("input", "output"), true, Format::Png).unwrap();
    check_drawn(&decode(&bytes));
    let flat = vec![vec![1.0, 1.0]];
    assert!(plot::heat_map(&flat, &[], &[], "flat", ("", ""), true, Format::Png).is_ok());
}

#[test]
fn bad_input_is_an_error() {
    let err = |r: Result<Vec<u8>, PlotError>| r.unwrap_err().to_string();
    assert_eq!(err(plot::curves(&[], Format::Png)), "there are no curves to draw");
    assert_eq!(err(plot::confusion(&[], &[], Format::Png)), "the matrix is empty");
    assert_eq!(
        err(plot::confusion(&[vec![1, 2], vec![3, 4], vec![5, 6]], &[], Format::Png)),
        "a confusion matrix must be square, not 3x2"
    );
    let classes = names(&["a", "b", "c"]);
    assert!(plot::confusion(&[vec![1, 2], vec![3, 4]], &classes, Format::Png).is_err());
    assert!(plot::heat_map(&[vec![1.0]], &[], &classes, "", ("", ""), false, Format::Svg).is_err());
}

const LOG: &str = r#"{"kind": "step", "epoch": 1, "step": 10, "train_loss": 9.0}
{"epoch": 1, "train_loss": 1.0, "train_accuracy": 0.5, "test_loss": null, "lr": 0.1, "seconds": 2.5}

{"kind": "epoch", "epoch": 2, "train_loss": 0.5, "train_accuracy": 0.75, "validation_loss": 0.6,
"#;

#[test]
fn a_log_becomes_panels() {
    let log = r#"{"kind": "step", "epoch": 1, "step": 10, "train_loss": 9.0}
{"epoch": 1, "train_loss": 1.0, "train_accuracy": 0.5, "test_loss": null, "lr": 0.1, "seconds": 2.5}

{"kind": "epoch", "epoch": 2, "train_loss": 0.5, "train_accuracy": 0.75, "validation_loss": 0.6}
{"kind": "epoch", "epoch": 1, "fold": 1, "validation_loss": 0.9, "validation_f1_macro": 0.4, "validation_confusion": [[1, 2], [3, 4]], "validation_accuracy_per_class": [0.5, 0.25]}
{"kind": "epoch", "epoch": 2, "fold": 1, "validation_loss": 0.7, "validation_f1_macro": 0.5}
{"kind": "epoch", "epoch": 1, "fold": 0, "validation_loss": 0.8, "test_note": "n/a"}
{"kind": "summary", "train_loss": 0.1}
"#;
    let panels = plot::panels_from_log(log).unwrap();
    let panel = |title: &str, series: Vec<Series>| Panel { title: title.to_string(), series };
    assert_eq!(
        panels,
        [
            panel(
                "loss",
                vec![
                    series("train", &[(1.0, 1.0), (2.0, 0.5)]),
                    series("validation", &[(2.0, 0.6)]),
                    series("validation fold 0", &[(1.0, 0.8)]),
                    series("validation fold 1", &[(1.0, 0.9), (2.0, 0.7)]),
                ]
            ),
            panel("accuracy", vec![series("train", &[(1.0, 0.5), (2.0, 0.75)])]),
            panel("f1_macro", vec![series("validation fold 1", &[(1.0, 0.4), (2.0, 0.5)])]),
        ]
    );
    let picture = decode(&plot::curves(&panels, Format::Png).unwrap());
    check_drawn(&picture);
}

#[test]
fn bad_logs_are_errors() {
    let err = |log: &str| plot::panels_from_log(log).unwrap_err().to_string();
    assert!(err(LOG).starts_with("line 4: not a JSON object"), "{}", err(LOG));
    assert_eq!(err("{\"epoch\": 1}\n[1, 2]\n"), "line 2: not a JSON object");
    assert_eq!(err(""), "the log has no epoch records");
    assert_eq!(err("{\"kind\": \"step\", \"train_loss\": 1}\n\n"), "the log has no epoch records");
    assert_eq!(
        err("{\"kind\": \"epoch\", \"epoch\": \"one\"}"),
        "line 1: an epoch record without a numeric \"epoch\""
    );
}
