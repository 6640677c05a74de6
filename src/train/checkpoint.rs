//! Checkpoints: a model's parameters saved as a safetensors file.
//!
//! A checkpoint is a list of named F32 tensors (`fc1.weight`, `fc1.bias`, ...)
//! in the [safetensors](https://github.com/huggingface/safetensors) format, so
//! PyTorch, JAX and NumPy read it directly. [`save`] writes atomically: the
//! bytes go to a temporary file beside the target, are flushed to disk, and
//! only then renamed over it, so `path` always holds either the old
//! checkpoint or the complete new one, never a partial file. [`load`] reads
//! one back, and [`check_against`] compares it with the parameters a model
//! expects and reports every difference in one diagnostic.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use safetensors::{Dtype, SafeTensors, View};

use crate::backend::Tensor;
use crate::diag::{Code, Diagnostic};
use crate::graph::Shape;

/// Writes `tensors` to `path` as a safetensors file of F32 tensors, atomically.
///
/// Names are stored as given. On any failure the temporary file is removed,
/// whatever was at `path` before is left untouched, and the error is E0607
/// naming `path`.
pub fn save(path: &Path, tensors: &[(String, Tensor)]) -> Result<(), Diagnostic> {
    save_with(path, tensors, |_| Ok(()))
}

/// [`save`], calling `before_rename` on the finished temporary file just
/// before it replaces `path`; tests use it to inject a failure at the last
/// moment.
fn save_with(
    path: &Path,
    tensors: &[(String, Tensor)],
    before_rename: impl FnOnce(&Path) -> io::Result<()>,
) -> Result<(), Diagnostic> {
    let mut seen = HashSet::new();
    if let Some((name, _)) = tensors.iter().find(|(n, _)| !seen.insert(n)) {
        return Err(write_error(path, format!("the tensor name `{name}` is used twice")));
    }
    let views = tensors.iter().map(|(n, t)| (n.as_str(), F32View(t)));
    let bytes = safetensors::serialize(views, None).map_err(|e| write_error(path, e))?;
    write_atomic(path, &bytes, before_rename).map_err(|e| write_error(path, e))
}

fn write_error(path: &Path, why: impl std::fmt::Display) -> Diagnostic {
    Diagnostic::error_nowhere(Code::WRITE, format!("cannot write checkpoint `{}`: {why}", path.display()))
        .with_note("nothing was written; any earlier file at that path is unchanged")
        .with_help("check that the directory exists and is writable, and that the disk has space")
}

/// A tensor as safetensors sees it: F32, little-endian.
struct F32View<'a>(&'a Tensor);

impl View for F32View<'_> {
    fn dtype(&self) -> Dtype {
        Dtype::F32
    }

    fn shape(&self) -> &[usize] {
        self.0.shape.dims()
    }

    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Owned(self.0.data.iter().flat_map(|v| v.to_le_bytes()).collect())
    }

    fn data_len(&self) -> usize {
        self.0.data.len() * 4
    }
}

/// Distinguishes temporary files of concurrent saves within one process.
static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Writes `bytes` to `path` atomically: `path` holds either its old
/// contents or all of `bytes`, never part of them.
pub fn write_file(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_atomic(path, bytes, |_| Ok(()))
}

/// Writes `bytes` to a fresh temporary file in `path`'s directory, syncs it,
/// and renames it to `path`. The temporary file never outlives a failure.
fn write_atomic(
    path: &Path,
    bytes: &[u8],
    before_rename: impl FnOnce(&Path) -> io::Result<()>,
) -> io::Result<()> {
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the path does not name a file"))?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let tmp: PathBuf = dir.join(format!(
        ".{}.tmp-{}-{}",
        name.to_string_lossy(),
        std::process::id(),
        TMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    // `create_new` refuses to follow or reuse anything already at `tmp`.
    let mut file = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
    let res = file
        .write_all(bytes)
        .and_then(|()| file.sync_all())
        .and_then(|()| {
            drop(file);
            before_rename(&tmp)
        })
        .and_then(|()| fs::rename(&tmp, path));
    if res.is_err() {
        let _ = fs::remove_file(&tmp);
        return res;
    }
    // Make the rename itself durable. Not every platform can open or sync a
    // directory, and the new file is complete either way, so this is best effort.
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Reads a safetensors checkpoint, returning its tensors sorted by name.
///
/// Errors: E0601 if the file cannot be read, E0602 if it is not a valid
/// safetensors file, E0605 if a tensor is not F32.
pub fn load(path: &Path) -> Result<Vec<(String, Tensor)>, Diagnostic> {
    let bytes = fs::read(path).map_err(|e| {
        Diagnostic::error_nowhere(
            Code::DATA_FILE,
            format!("cannot read checkpoint `{}`: {e}", path.display()),
        )
        .with_help("check the path; a checkpoint is written by a `train` block's `save` setting")
    })?;
    let st = SafeTensors::deserialize(&bytes).map_err(|e| {
        Diagnostic::error_nowhere(
            Code::DATA_FORMAT,
            format!("malformed checkpoint `{}`: {e}", path.display()),
        )
        .with_note(format!(
            "expected a safetensors file (8-byte header length, JSON header, tensor data), found {} bytes that do not parse as one",
            bytes.len()
        ))
        .with_help("the file may be truncated or not a checkpoint at all; save it again")
    })?;
    let mut out = Vec::with_capacity(st.len());
    for (name, view) in st.tensors() {
        if view.dtype() != Dtype::F32 {
            return Err(Diagnostic::error_nowhere(
                Code::CHECKPOINT,
                format!(
                    "checkpoint `{}` stores `{name}` as {:?}, but nnc reads only F32 tensors",
                    path.display(),
                    view.dtype()
                ),
            )
            .with_help("convert the parameters to float32 before saving (in PyTorch: `{k: v.float() for k, v in state_dict.items()}`)"));
        }
        let data =
            view.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
        out.push((name, Tensor::new(view.shape().to_vec(), data)));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// Checks loaded tensors against the parameters a model expects and returns
/// them in `expected`'s order.
///
/// Every missing name, unexpected name and shape mismatch is listed, one
/// note each, in a single E0605 diagnostic naming `path`.
pub fn check_against(
    loaded: Vec<(String, Tensor)>,
    expected: &[(String, Shape)],
    path: &Path,
) -> Result<Vec<(String, Tensor)>, Diagnostic> {
    let mut by_name: HashMap<String, Tensor> = loaded.into_iter().collect();
    let mut problems = Vec::new();
    let (mut n_missing, mut n_shape) = (0, 0);
    let mut out = Vec::with_capacity(expected.len());
    for (name, shape) in expected {
        match by_name.remove(name) {
            None => {
                n_missing += 1;
                problems.push(format!("missing `{name}`: the model expects shape {shape}"));
            }
            Some(t) if &t.shape != shape => {
                n_shape += 1;
                problems.push(format!(
                    "`{name}`: the model expects shape {shape}, the checkpoint has {}",
                    t.shape
                ));
            }
            Some(t) => out.push((name.clone(), t)),
        }
    }
    let mut unexpected: Vec<_> = by_name.into_iter().collect();
    unexpected.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, t) in &unexpected {
        problems.push(format!("unexpected `{name}` with shape {}: the model has no such parameter", t.shape));
    }
    if problems.is_empty() {
        return Ok(out);
    }
    let mut counts = Vec::new();
    for (n, what) in
        [(n_missing, "missing"), (unexpected.len(), "unexpected"), (n_shape, "with the wrong shape")]
    {
        if n > 0 {
            counts.push(format!("{n} {what}"));
        }
    }
    let mut d = Diagnostic::error_nowhere(
        Code::CHECKPOINT,
        format!("checkpoint `{}` does not match the model: {}", path.display(), counts.join(", ")),
    );
    for p in problems {
        d = d.with_note(p);
    }
    Err(d.with_help(
        "was this checkpoint saved from another model? Load it into the model that saved it, or train this one from scratch",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> Vec<(String, Tensor)> {
        vec![
            ("fc1.weight".into(), Tensor::new(vec![2, 3], vec![1., -2., 3.5, 0., 1e-8, -7.])),
            ("fc1.bias".into(), Tensor::new(vec![2], vec![0.5, -0.5])),
            ("step".into(), Tensor::scalar(12.0)),
        ]
    }

    fn sorted(mut v: Vec<(String, Tensor)>) -> Vec<(String, Tensor)> {
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    /// Files in `dir` other than `keep`.
    fn leftovers(dir: &Path, keep: &[&str]) -> Vec<String> {
        fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| !keep.contains(&n.as_str()))
            .collect()
    }

    #[test]
    fn round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.safetensors");
        save(&p, &params()).unwrap();
        assert_eq!(load(&p).unwrap(), sorted(params()));
        assert!(leftovers(dir.path(), &["m.safetensors"]).is_empty());
        // Overwriting replaces the whole file.
        save(&p, &params()[1..2]).unwrap();
        assert_eq!(load(&p).unwrap(), params()[1..2].to_vec());
    }

    #[test]
    fn missing_directory_fails_cleanly() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("no/such/dir/m.safetensors");
        let e = save(&p, &params()).unwrap_err();
        assert_eq!(e.code, Code::WRITE);
        assert!(e.message.contains("no/such/dir/m.safetensors"), "{}", e.message);
        assert!(leftovers(dir.path(), &[]).is_empty());
    }

    #[test]
    fn failed_save_leaves_old_checkpoint_intact() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.safetensors");
        save(&p, &params()).unwrap();
        let before = fs::read(&p).unwrap();
        let mut tmp_seen = None;
        let e = save_with(&p, &params()[..1], |tmp| {
            tmp_seen = Some(tmp.to_path_buf());
            Err(io::Error::other("disk on fire"))
        })
        .unwrap_err();
        assert_eq!(e.code, Code::WRITE);
        assert!(e.message.contains("m.safetensors") && e.message.contains("disk on fire"));
        let tmp = tmp_seen.unwrap();
        assert_eq!(tmp.parent(), Some(dir.path()));
        assert!(!tmp.exists());
        assert_eq!(fs::read(&p).unwrap(), before);
        assert!(leftovers(dir.path(), &["m.safetensors"]).is_empty());
    }

    #[test]
    fn target_that_is_a_directory_fails_cleanly() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("taken");
        fs::create_dir(&p).unwrap();
        fs::write(p.join("keep"), b"x").unwrap();
        let e = save(&p, &params()).unwrap_err();
        assert_eq!(e.code, Code::WRITE);
        assert!(leftovers(dir.path(), &["taken"]).is_empty());
        assert_eq!(fs::read(p.join("keep")).unwrap(), b"x");
    }

    #[test]
    fn duplicate_names_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.safetensors");
        let mut ps = params();
        ps.push(ps[0].clone());
        let e = save(&p, &ps).unwrap_err();
        assert_eq!(e.code, Code::WRITE);
        assert!(e.message.contains("fc1.weight"));
        assert!(!p.exists());
    }

    #[test]
    fn load_errors() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.safetensors");
        let e = load(&missing).unwrap_err();
        assert_eq!(e.code, Code::DATA_FILE);
        assert!(e.message.contains("missing.safetensors"));

        let p = dir.path().join("m.safetensors");
        save(&p, &params()).unwrap();
        let good = fs::read(&p).unwrap();
        for bad in [&good[..good.len() - 1], &good[..5], b"garbage garbage garbage"] {
            fs::write(&p, bad).unwrap();
            let e = load(&p).unwrap_err();
            assert_eq!(e.code, Code::DATA_FORMAT);
            assert!(e.message.contains("m.safetensors") && e.help.is_some());
        }

        let data = [1u8, 0, 2, 0];
        let view = safetensors::tensor::TensorView::new(Dtype::F16, vec![2], &data).unwrap();
        let bytes = safetensors::serialize([("w", view)], None).unwrap();
        fs::write(&p, bytes).unwrap();
        let e = load(&p).unwrap_err();
        assert_eq!(e.code, Code::CHECKPOINT);
        assert!(e.message.contains("`w`") && e.message.contains("F16"), "{}", e.message);
    }

    #[test]
    fn check_against_reorders_and_reports_every_problem() {
        let p = Path::new("ck/m.safetensors");
        let expected = vec![
            ("step".to_string(), Shape(vec![])),
            ("fc1.weight".to_string(), Shape(vec![2, 3])),
            ("fc1.bias".to_string(), Shape(vec![2])),
        ];
        let got = check_against(sorted(params()), &expected, p).unwrap();
        let names: Vec<_> = got.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["step", "fc1.weight", "fc1.bias"]);

        let expected = vec![
            ("fc1.weight".to_string(), Shape(vec![3, 2])),
            ("fc1.bias".to_string(), Shape(vec![2])),
            ("fc2.weight".to_string(), Shape(vec![4, 2])),
        ];
        let e = check_against(params(), &expected, p).unwrap_err();
        assert_eq!(e.code, Code::CHECKPOINT);
        assert!(e.message.contains("ck/m.safetensors"), "{}", e.message);
        assert!(e.message.contains("1 missing, 1 unexpected, 1 with the wrong shape"), "{}", e.message);
        assert_eq!(
            e.notes,
            [
                "`fc1.weight`: the model expects shape [3,2], the checkpoint has [2,3]",
                "missing `fc2.weight`: the model expects shape [4,2]",
                "unexpected `step` with shape []: the model has no such parameter",
            ]
        );
        assert!(e.help.unwrap().contains("another model"));
    }
}
