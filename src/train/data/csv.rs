//! CSV files with one sample per line: `label,f1,f2,...`.
//!
//! Fields are split by the `csv` crate: separated by commas, optionally
//! enclosed in double quotes (`"1.5"`, with `""` for a quote inside), lines
//! ending in `\n` or `\r\n`. Spaces around a field are ignored and blank
//! lines skipped. The first line is a header, and skipped, as
//! [`CsvOptions::header`] says: always, never, or (by default) when any of
//! its fields is not a number. Every data line must have as many fields as
//! the first, each a finite number; the first line that does not is reported
//! with its line number, column and text.

use std::path::Path;

use ::csv::StringRecord;

use super::{Dataset, malformed, read_file};
use crate::backend::Tensor;
use crate::diag::Diagnostic;

/// Which column of a CSV file holds the label.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum LabelColumn {
    /// The first column (`label,f1,f2,...`), as in the Kaggle MNIST CSVs.
    #[default]
    First,
    /// The last column (`f1,f2,...,label`).
    Last,
    /// No label column: every field is a feature.
    None,
}

/// How to read a CSV file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct CsvOptions {
    /// Where the label is.
    pub label_column: LabelColumn,
    /// `Some(true)`: the first line is a header; `Some(false)`: it is data;
    /// `None`: a header exactly when some field of the first line is not a number.
    pub header: Option<bool>,
    /// `Some(k)`: the label is `k` float target columns (at the label
    /// column's end of the row), read as `[N, k]`; `None`: one class label, `[N]`.
    pub targets: Option<usize>,
}

/// Reads a CSV file (plain or gzip) into inputs `[N, F]` and labels `[N]`.
///
/// Errors: E0601 if the file cannot be read; E0602 if it is not UTF-8, has
/// no data lines, no feature columns, or a line with the wrong number of
/// fields or a field that is not a finite number.
pub fn load_csv(path: &Path, opts: &CsvOptions) -> Result<Dataset, Diagnostic> {
    let bytes = read_file(path)?;
    let text = std::str::from_utf8(&bytes).map_err(|e| {
        malformed(
            path,
            "the CSV file is not UTF-8 text",
            format!("expected UTF-8 text, found an invalid byte at offset {}", e.valid_up_to()),
            "check that the path points at a CSV file, not a binary one",
        )
    })?;
    parse(text, path, opts)
}

fn parse(text: &str, path: &Path, opts: &CsvOptions) -> Result<Dataset, Diagnostic> {
    let reader = ::csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(text.as_bytes());
    let mut records = reader.into_records().filter(|r| !r.as_ref().is_ok_and(is_blank));
    let Some(first) = records.next() else {
        return Err(no_rows(path));
    };
    let mut lines = Lines { text, byte: 0, line: 1 };
    let first = first.map_err(|e| syntax_error(path, &e))?;
    let first_no = lines.of(&first);
    let width = first.len();
    let header = opts.header.unwrap_or_else(|| first.iter().any(|f| number(f).is_none()));
    let label_width = match opts.label_column {
        LabelColumn::None => 0,
        LabelColumn::First | LabelColumn::Last => opts.targets.unwrap_or(1),
    };
    let n_features = width.saturating_sub(label_width);
    if n_features == 0 {
        return Err(malformed(
            path,
            format!("line {first_no} has no feature columns"),
            format!(
                "expected {label_width} label column(s) and at least one feature, found {width} field(s)"
            ),
            "each line should read `label,f1,f2,...`",
        ));
    }

    let mut features = Vec::new();
    let mut labels = Vec::new();
    let mut row = Vec::with_capacity(width);
    let mut n = 0usize;
    let data = (!header).then_some(Ok(first)).into_iter().chain(records);
    for record in data {
        let record = record.map_err(|e| syntax_error(path, &e))?;
        let line_no = lines.of(&record);
        row.clear();
        for (col, field) in record.iter().take(width).enumerate() {
            let Some(v) = number(field) else {
                let (col, text) = (col + 1, field.trim());
                return Err(malformed(
                    path,
                    format!("line {line_no}, column {col}: `{text}` is not a number"),
                    format!("expected a finite number, found `{text}`"),
                    "every field after the header must be a plain number such as 0, 3 or 0.25",
                ));
            };
            row.push(v);
        }
        let count = record.len();
        if count != width {
            let text = record.iter().collect::<Vec<_>>().join(",");
            return Err(malformed(
                path,
                format!("line {line_no} has {count} fields, but line {first_no} has {width}"),
                format!("expected {width} comma-separated fields, found {count}: `{text}`"),
                "every line must have the same number of fields",
            ));
        }
        match opts.label_column {
            LabelColumn::First => {
                labels.extend_from_slice(&row[..label_width]);
                features.extend_from_slice(&row[label_width..]);
            }
            LabelColumn::Last => {
                labels.extend_from_slice(&row[n_features..]);
                features.extend_from_slice(&row[..n_features]);
            }
            LabelColumn::None => features.extend_from_slice(&row),
        }
        n += 1;
    }
    if n == 0 {
        return Err(no_rows(path));
    }
    let images = Tensor::new(vec![n, n_features], features);
    let (labels, labels_path) = match opts.label_column {
        LabelColumn::None => (None, None),
        _ => {
            let dims = match opts.targets {
                Some(k) => vec![n, k],
                None => vec![n],
            };
            (Some(Tensor::new(dims, labels)), Some(path.to_path_buf()))
        }
    };
    Ok(Dataset { images, labels, images_path: path.to_path_buf(), labels_path })
}

/// A field as a finite number, spaces around it ignored.
fn number(field: &str) -> Option<f32> {
    field.trim().parse::<f32>().ok().filter(|v| v.is_finite())
}

/// A line holding nothing but spaces.
fn is_blank(record: &StringRecord) -> bool {
    record.iter().all(|f| f.trim().is_empty()) && record.len() <= 1
}

/// Line numbers (1-based) of records, met in order.
///
/// Counted here from byte offsets: the `csv` crate's own line count passes
/// over blank lines.
struct Lines<'a> {
    text: &'a str,
    byte: usize,
    line: usize,
}

impl Lines<'_> {
    /// The line `record` starts on.
    fn of(&mut self, record: &StringRecord) -> usize {
        let bytes = self.text.as_bytes();
        let mut at = record.position().map_or(self.byte, |p| p.byte() as usize).clamp(self.byte, bytes.len());
        // The position is where reading began, before any empty lines skipped.
        while matches!(bytes.get(at), Some(b'\r' | b'\n')) {
            at += 1;
        }
        self.line += bytes[self.byte..at].iter().filter(|&&b| b == b'\n').count();
        self.byte = at;
        self.line
    }
}

fn syntax_error(path: &Path, e: &::csv::Error) -> Diagnostic {
    let at = e.position().map_or(String::new(), |p| format!("line {}: ", p.line()));
    malformed(
        path,
        format!("{at}the CSV text does not parse"),
        format!("expected comma-separated fields, found an error: {e}"),
        "check the quoting of that line: a field with commas must be enclosed in double quotes",
    )
}

fn no_rows(path: &Path) -> Diagnostic {
    malformed(
        path,
        "the CSV file has no data lines",
        "expected at least one line of numbers, found none",
        "each line should read `label,f1,f2,...`",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::Code;
    use crate::graph::Shape;

    fn ok(text: &str, opts: CsvOptions) -> Dataset {
        parse(text, Path::new("d.csv"), &opts).unwrap()
    }

    #[track_caller]
    fn err(text: &str, opts: CsvOptions, expect: &[&str]) {
        let e = parse(text, Path::new("dir/d.csv"), &opts).unwrap_err();
        assert_eq!(e.code, Code::DATA_FORMAT);
        assert!(e.message.contains("dir/d.csv"), "{}", e.message);
        assert!(e.help.is_some());
        for s in expect {
            assert!(e.message.contains(s), "{:?} lacks {s:?}", e.message);
        }
    }

    #[test]
    fn reads_labels_and_features() {
        let d = ok("1,0.5,2\r\n0, 3 ,4\n\n", CsvOptions::default());
        assert_eq!(d.images, Tensor::new(vec![2, 2], vec![0.5, 2., 3., 4.]));
        assert_eq!(d.labels, Some(Tensor::new(vec![2], vec![1., 0.])));
        assert_eq!(d.labels_path.as_deref(), Some(Path::new("d.csv")));
    }

    #[test]
    fn header_is_detected_or_forced() {
        let d = ok("label,a,b\n1,2,3\n", CsvOptions::default());
        assert_eq!(d.len(), 1);
        let d = ok("1,2,3\n4,5,6\n", CsvOptions::default());
        assert_eq!(d.len(), 2);
        let forced = CsvOptions { header: Some(true), ..CsvOptions::default() };
        assert_eq!(ok("1,2,3\n4,5,6\n", forced).len(), 1);
        let no_header = CsvOptions { header: Some(false), ..CsvOptions::default() };
        err("y,a\n1,2\n", no_header, &["line 1, column 1", "`y`"]);
    }

    #[test]
    fn quoted_fields_and_crlf() {
        let d = ok("\"label\",\"a, b\",c\r\n\"1\",\" 2.5 \",3\r\n  \r\n0,4,\"5\"\r\n", CsvOptions::default());
        assert_eq!(d.images, Tensor::new(vec![2, 2], vec![2.5, 3., 4., 5.]));
        assert_eq!(d.labels.unwrap().data, vec![1., 0.]);
        let o = CsvOptions::default();
        err("1,2,3\n1,\"2,5\",3\n", o, &["line 2, column 2", "`2,5`"]);
        // A quoted line break stays inside its field; lines count from the record's start.
        err("1,2,3\n\"4\n\",5,6\n7,8\n", o, &["line 4 has 2 fields"]);
    }

    #[test]
    fn label_column_last_and_none() {
        let last = CsvOptions { label_column: LabelColumn::Last, header: None, targets: None };
        let d = ok("a,b,y\n1,2,7\n", last);
        assert_eq!(d.images.data, vec![1., 2.]);
        assert_eq!(d.labels.unwrap().data, vec![7.]);
        let none = CsvOptions { label_column: LabelColumn::None, header: None, targets: None };
        let d = ok("1,2,7\n", none);
        assert_eq!(d.images.shape, Shape(vec![1, 3]));
        assert!(d.labels.is_none() && d.labels_path.is_none());
    }

    #[test]
    fn bad_rows_name_line_column_and_text() {
        let o = CsvOptions::default();
        err("y,a,b\n1,2,3\n1,x7,3\n", o, &["line 3, column 2", "`x7`"]);
        err("1,2,3\n\n1,2\n", o, &["line 3 has 2 fields", "line 1 has 3"]);
        err("1,2,3\n1,2,3,4\n", o, &["line 2 has 4 fields"]);
        err("1,2,3\n1,,3\n", o, &["line 2, column 2", "``"]);
        err("1,2,3\n1,NaN,3\n", o, &["line 2, column 2", "`NaN`"]);
        err("", o, &["no data lines"]);
        err("label,a\n", o, &["no data lines"]);
        err("1\n2\n", o, &["no feature columns"]);
    }
}
