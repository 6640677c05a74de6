//! Data sets: loading sample files from disk and cutting them into batches.
//!
//! A [`Dataset`] is two host tensors, the inputs `[N, ...]` and optional
//! labels `[N]` or `[N, ...]`, plus the paths they came from so later errors
//! (a label out of range) can name the file. Three formats are read:
//!
//! - IDX, the MNIST format ([`load_idx`], [`read_idx`]);
//! - CSV with one sample per line ([`load_csv`]);
//! - NumPy `.npy` arrays, and the arrays of `.npz` archives named as
//!   `data.npz:x` ([`load_npy`], [`read_npy`]).
//!
//! Any of them may be gzip-compressed; compression is recognised by the gzip
//! magic bytes, never by the file name. Every loader checks what a file
//! declares (sizes, counts, field widths) against what it actually holds
//! before it allocates, so a corrupt or hostile file yields a diagnostic
//! (E0601 unreadable, E0602 malformed) rather than a panic or an allocation
//! of absurd size.
//!
//! [`Batches`] turns a data set's length into index batches for one epoch,
//! shuffled deterministically from `(seed, epoch)`, and
//! [`Dataset::gather_batch`] copies those samples out.

mod batch;
mod csv;
mod idx;
mod npy;

use std::io::Read;
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;

use crate::backend::Tensor;
use crate::diag::{Code, Diagnostic};
use crate::graph::Shape;

pub use batch::Batches;
pub use csv::{CsvOptions, LabelColumn, load_csv};
pub use idx::{load_idx, read_idx};
pub use npy::{load_npy, read_npy};

/// The most bytes a gzip-compressed file may expand to (4 GiB).
///
/// A few kilobytes of gzip can claim to expand to terabytes; reading stops
/// here with a diagnostic instead of exhausting memory.
pub const MAX_DECOMPRESSED_BYTES: u64 = 4 << 30;

/// Samples loaded from disk: inputs, optional labels, and where they came from.
///
/// Invariant: when `labels` is present, its first dimension equals the first
/// dimension of `images` (every loader checks this and reports E0602).
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    /// The inputs, `[N, ...sample dims]`, as stored in the file (no scaling).
    pub images: Tensor,
    /// The targets, `[N]` (class indices) or `[N, ...]`, if the source has any.
    pub labels: Option<Tensor>,
    /// The file the inputs were read from.
    pub images_path: PathBuf,
    /// The file the labels were read from (the same file for CSV).
    pub labels_path: Option<PathBuf>,
}

impl Dataset {
    /// Number of samples `N`.
    pub fn len(&self) -> usize {
        self.images.shape.dims().first().copied().unwrap_or(0)
    }

    /// True when there are no samples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The shape of one input sample (the dims after `N`).
    pub fn sample_dims(&self) -> &[usize] {
        self.images.shape.dims().get(1..).unwrap_or(&[])
    }

    /// Multiplies every input value by `factor` (the data block's `scale = 1 / 255`).
    ///
    /// Labels are left alone.
    pub fn scale(&mut self, factor: f32) {
        for v in &mut self.images.data {
            *v *= factor;
        }
    }

    /// Gives every input sample the shape `dims` (e.g. a CSV row of 784
    /// pixels as `[1, 28, 28]`), keeping the data in row-major order.
    ///
    /// Fails with E0404 when `dims` holds a different number of elements
    /// than one sample does.
    pub fn reshape_samples(&mut self, dims: &[usize]) -> Result<(), Diagnostic> {
        let have: usize = self.sample_dims().iter().product();
        let want: usize = dims.iter().product();
        if have != want {
            let found = Shape(self.sample_dims().to_vec());
            let wanted = Shape(dims.to_vec());
            return Err(Diagnostic::error_nowhere(
                Code::DATA_SHAPE,
                format!(
                    "samples in `{}` have shape {found} ({have} values), which cannot be viewed as {wanted} ({want} values)",
                    self.images_path.display()
                ),
            )
            .with_help("check the model's input shape against the data file"));
        }
        let mut shape = vec![self.len()];
        shape.extend_from_slice(dims);
        self.images.shape = Shape(shape);
        Ok(())
    }

    /// One more than the largest label, if labels exist and are all
    /// non-negative integers: a hint for the number of classes.
    pub fn n_classes_seen(&self) -> Option<usize> {
        let labels = self.labels.as_ref()?;
        let mut max = -1.0f32;
        for &v in &labels.data {
            if !(v.is_finite() && v >= 0.0 && v.fract() == 0.0) {
                return None;
            }
            max = max.max(v);
        }
        Some((max + 1.0) as usize)
    }

    /// Checks that every label is a class index in `0..n_classes` (E0603).
    ///
    /// A data set without labels passes.
    pub fn check_labels(&self, n_classes: usize) -> Result<(), Diagnostic> {
        match (&self.labels, &self.labels_path) {
            (Some(labels), Some(path)) => check_labels(labels, n_classes, path),
            (Some(labels), None) => check_labels(labels, n_classes, &self.images_path),
            (None, _) => Ok(()),
        }
    }

    /// Copies the samples `idx` (in that order) into a batch: inputs
    /// `[idx.len(), ...sample dims]` and, if present, labels likewise.
    ///
    /// # Panics
    /// If an index is `>= self.len()`; [`Batches`] only yields valid ones.
    pub fn gather_batch(&self, idx: &[usize]) -> (Tensor, Option<Tensor>) {
        let images = gather_rows(&self.images, idx);
        let labels = self.labels.as_ref().map(|l| gather_rows(l, idx));
        (images, labels)
    }
}

/// Copies rows `idx` of `t` along its first dimension.
fn gather_rows(t: &Tensor, idx: &[usize]) -> Tensor {
    let n = t.shape.dims().first().copied().unwrap_or(0);
    let row: usize = t.shape.dims().iter().skip(1).product();
    let mut data = Vec::with_capacity(idx.len() * row);
    for &i in idx {
        assert!(i < n, "internal error: batch index {i} out of range for {n} samples");
        data.extend_from_slice(&t.data[i * row..(i + 1) * row]);
    }
    let mut shape = vec![idx.len()];
    shape.extend_from_slice(t.shape.dims().get(1..).unwrap_or(&[]));
    Tensor::new(shape, data)
}

/// Checks that every value of `labels` is an integer class index in
/// `0..n_classes`, where `path` is the file they came from.
///
/// The first offending label is reported as E0603 with its flat index and
/// value; NaN, infinities and fractions count as non-integers.
pub fn check_labels(labels: &Tensor, n_classes: usize, path: &Path) -> Result<(), Diagnostic> {
    for (i, &v) in labels.data.iter().enumerate() {
        let problem = if !v.is_finite() || v.fract() != 0.0 {
            format!("label {v} at index {i} is not an integer class index")
        } else if v < 0.0 || v >= n_classes as f32 {
            format!("label {v} at index {i} is outside the classes 0..{n_classes}")
        } else {
            continue;
        };
        return Err(Diagnostic::error_nowhere(
            Code::LABEL_RANGE,
            format!("{problem} in `{}`", path.display()),
        )
        .with_note(format!(
            "the model predicts {n_classes} classes, so labels must be integers 0 to {}",
            n_classes.saturating_sub(1)
        ))
        .with_help("check that the labels file belongs to this data set and the model's output size"));
    }
    Ok(())
}

/// Reads a whole file, gunzipping it when it starts with the gzip magic bytes.
///
/// Errors: E0601 when the file cannot be opened or read, E0602 when the gzip
/// stream is corrupt or expands beyond [`MAX_DECOMPRESSED_BYTES`].
fn read_file(path: &Path) -> Result<Vec<u8>, Diagnostic> {
    read_file_limited(path, MAX_DECOMPRESSED_BYTES)
}

/// [`read_file`] with the decompression limit as a parameter.
fn read_file_limited(path: &Path, limit: u64) -> Result<Vec<u8>, Diagnostic> {
    let raw = std::fs::read(path).map_err(|e| {
        Diagnostic::error_nowhere(Code::DATA_FILE, format!("cannot read data file `{}`: {e}", path.display()))
            .with_help(
                "check the path in the data block; relative paths are resolved from the directory of the .nn file",
            )
    })?;
    if !raw.starts_with(&[0x1f, 0x8b]) {
        return Ok(raw);
    }
    let mut out = Vec::new();
    let mut reader = MultiGzDecoder::new(&raw[..]).take(limit + 1);
    if let Err(e) = reader.read_to_end(&mut out) {
        return Err(malformed(
            path,
            "the gzip stream is corrupt",
            format!("expected a valid gzip stream, found an error while decompressing: {e}"),
            "the file may be truncated or damaged; download or copy it again",
        ));
    }
    if out.len() as u64 > limit {
        return Err(malformed(
            path,
            format!("the gzip stream expands to more than {limit} bytes"),
            format!("expected at most {limit} bytes after decompression, found more"),
            "split the data set into smaller files, or check that this is the intended file",
        ));
    }
    Ok(out)
}

/// An E0602 diagnostic: `path` is malformed because of `what`, with an
/// `expected ..., found ...` note and a help line.
fn malformed(
    path: &Path,
    what: impl std::fmt::Display,
    expected_found: impl Into<String>,
    help: impl Into<String>,
) -> Diagnostic {
    Diagnostic::error_nowhere(Code::DATA_FORMAT, format!("malformed data file `{}`: {what}", path.display()))
        .with_note(expected_found)
        .with_help(help)
}

/// Pairs inputs with labels, checking that both hold the same number of samples.
fn pair(images: Tensor, images_path: &Path, labels: Option<(Tensor, &Path)>) -> Result<Dataset, Diagnostic> {
    if images.shape.rank() == 0 {
        return Err(malformed(
            images_path,
            "the inputs are a single scalar",
            "expected an array with one row per sample, found a 0-dimensional array",
            "store the inputs as an array of shape [N, ...]",
        ));
    }
    let n = images.shape.dims()[0];
    let (labels, labels_path) = match labels {
        None => (None, None),
        Some((labels, path)) => {
            let m = labels.shape.dims().first().copied();
            if m != Some(n) {
                let found = m.map_or("a scalar".to_string(), |m| format!("{m} labels"));
                return Err(Diagnostic::error_nowhere(
                    Code::DATA_FORMAT,
                    format!(
                        "`{}` holds {n} samples but `{}` holds {found}",
                        images_path.display(),
                        path.display()
                    ),
                )
                .with_note(format!("expected {n} labels, found {found}"))
                .with_help("the inputs and labels files must come from the same split (train or test)"));
            }
            (Some(labels), Some(path.to_path_buf()))
        }
    };
    Ok(Dataset { images, labels, images_path: images_path.to_path_buf(), labels_path })
}

/// Total element count of `dims`, or `None` when the product overflows.
fn checked_numel(dims: &[usize]) -> Option<usize> {
    dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ds(images: Tensor, labels: Option<Tensor>) -> Dataset {
        pair(images, Path::new("x.idx"), labels.map(|l| (l, Path::new("y.idx")))).unwrap()
    }

    #[test]
    fn gather_batch_copies_rows_in_order() {
        let images = Tensor::new(vec![3, 2], vec![0., 1., 10., 11., 20., 21.]);
        let labels = Tensor::new(vec![3], vec![5., 6., 7.]);
        let d = ds(images, Some(labels));
        let (x, y) = d.gather_batch(&[2, 0]);
        assert_eq!(x, Tensor::new(vec![2, 2], vec![20., 21., 0., 1.]));
        assert_eq!(y, Some(Tensor::new(vec![2], vec![7., 5.])));
        let (x, y) = d.gather_batch(&[]);
        assert_eq!(x.shape, Shape(vec![0, 2]));
        assert_eq!(y.unwrap().shape, Shape(vec![0]));
    }

    #[test]
    fn scale_and_reshape() {
        let mut d = ds(Tensor::new(vec![2, 4], vec![255.0; 8]), None);
        d.scale(1.0 / 255.0);
        assert!(d.images.data.iter().all(|&v| (v - 1.0).abs() < 1e-6));
        d.reshape_samples(&[1, 2, 2]).unwrap();
        assert_eq!(d.images.shape, Shape(vec![2, 1, 2, 2]));
        let err = d.reshape_samples(&[3]).unwrap_err();
        assert_eq!(err.code, Code::DATA_SHAPE);
        assert!(err.message.contains("x.idx"), "{}", err.message);
    }

    #[test]
    fn count_mismatch_is_e0602_naming_both_files() {
        let err = pair(
            Tensor::zeros(vec![3, 2]),
            Path::new("a.idx"),
            Some((Tensor::zeros(vec![2]), Path::new("b.idx"))),
        )
        .unwrap_err();
        assert_eq!(err.code, Code::DATA_FORMAT);
        assert!(err.message.contains("a.idx") && err.message.contains("b.idx"));
        assert!(err.message.contains("3 samples") && err.message.contains("2 labels"));
    }

    #[test]
    fn check_labels_reports_first_bad_index() {
        let p = Path::new("labels.idx");
        let ok = Tensor::new(vec![3], vec![0., 9., 3.]);
        assert!(check_labels(&ok, 10, p).is_ok());

        let high = Tensor::new(vec![4], vec![0., 1., 10., 12.]);
        let err = check_labels(&high, 10, p).unwrap_err();
        assert_eq!(err.code, Code::LABEL_RANGE);
        assert!(err.message.contains("index 2"), "{}", err.message);
        assert!(err.message.contains("label 10 "), "{}", err.message);
        assert!(err.message.contains("labels.idx"));

        for bad in [-1.0, 2.5, f32::NAN] {
            let t = Tensor::new(vec![2], vec![1., bad]);
            let err = check_labels(&t, 10, p).unwrap_err();
            assert_eq!(err.code, Code::LABEL_RANGE);
            assert!(err.message.contains("index 1"), "{}", err.message);
        }
    }

    #[test]
    fn n_classes_hint() {
        let d = ds(Tensor::zeros(vec![3, 1]), Some(Tensor::new(vec![3], vec![0., 4., 2.])));
        assert_eq!(d.n_classes_seen(), Some(5));
        assert!(d.check_labels(5).is_ok());
        assert_eq!(d.check_labels(4).unwrap_err().code, Code::LABEL_RANGE);
        let d = ds(Tensor::zeros(vec![1, 1]), Some(Tensor::new(vec![1], vec![0.5])));
        assert_eq!(d.n_classes_seen(), None);
    }

    #[test]
    fn gzip_is_detected_by_magic_and_corruption_is_e0602() {
        use flate2::{Compression, write::GzEncoder};
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let mut enc = GzEncoder::new(Vec::new(), Compression::default());
        enc.write_all(b"hello world").unwrap();
        let gz = enc.finish().unwrap();
        // The name says nothing about compression; the content does.
        let p = dir.path().join("plain.txt");
        std::fs::write(&p, &gz).unwrap();
        assert_eq!(read_file(&p).unwrap(), b"hello world");
        let p = dir.path().join("looks.gz");
        std::fs::write(&p, b"not compressed").unwrap();
        assert_eq!(read_file(&p).unwrap(), b"not compressed");

        let p = dir.path().join("cut.gz");
        std::fs::write(&p, &gz[..gz.len() - 6]).unwrap();
        let err = read_file(&p).unwrap_err();
        assert_eq!(err.code, Code::DATA_FORMAT);
        assert!(err.message.contains("cut.gz") && err.help.is_some());

        // A small file that expands past the limit stops at the limit.
        let mut enc = GzEncoder::new(Vec::new(), Compression::best());
        enc.write_all(&vec![0u8; 1 << 20]).unwrap();
        let p = dir.path().join("bomb.gz");
        std::fs::write(&p, enc.finish().unwrap()).unwrap();
        assert_eq!(read_file_limited(&p, 1 << 20).unwrap().len(), 1 << 20);
        let err = read_file_limited(&p, 1000).unwrap_err();
        assert_eq!(err.code, Code::DATA_FORMAT);
        assert!(err.message.contains("more than 1000 bytes"), "{}", err.message);

        let missing = dir.path().join("missing.idx");
        let err = read_file(&missing).unwrap_err();
        assert_eq!(err.code, Code::DATA_FILE);
        assert!(err.message.contains("missing.idx"), "{}", err.message);
    }
}
