//! NumPy `.npy` arrays and `.npz` archives, as written by `numpy.save` and
//! `numpy.savez`.
//!
//! An `.npy` file is the magic `\x93NUMPY`, a version (1.0, 2.0 or 3.0), the
//! header length (`u16` in version 1, `u32` after), a Python dict literal
//! such as `{'descr': '<f4', 'fortran_order': False, 'shape': (8000, 784), }`
//! and the raw elements. Every numeric dtype loads: `bool`, `int8` to
//! `int64`, `uint8` to `uint64`, `float16`, `float32` and `float64`, in
//! either byte order, in C or Fortran order; the values become `f32` in C
//! (row-major) order. Complex, object, string, date and structured dtypes
//! are E0602.
//!
//! The dict is parsed by `py_literal` and the dtype is decoded by `npyz`
//! (byte order, `float16` through `half`). nnc reads the header itself rather
//! than through `npyz::NpyHeader`, which multiplies the declared dimensions
//! without overflow checks: here the shape is checked against the bytes
//! that follow before anything is allocated.
//!
//! An `.npz` archive is a zip of `.npy` files, one per array; a path
//! `data.npz:x` names the array `x` in `data.npz`.

use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};

use npyz::{DType, Deserialize, TypeChar, TypeRead, TypeStr};
use py_literal::Value;

use super::{Dataset, MAX_DECOMPRESSED_BYTES, checked_numel, malformed, pair, read_file};
use crate::backend::Tensor;
use crate::diag::Diagnostic;
use crate::graph::Shape;

const MAGIC: &[u8] = b"\x93NUMPY";

const HELP: &str = "save it as a numeric array, e.g. `np.save(path, a.astype(np.float32))`";

/// The longest header read, in bytes: version 1's limit, and far above what
/// numpy writes for a numeric array (it refuses headers over 10000 bytes).
const MAX_HEADER_LEN: usize = 0xFFFF;

/// The deepest bracket nesting read in a header; numeric headers nest two deep.
const MAX_HEADER_DEPTH: usize = 16;

/// The dtypes that load, for messages.
const NUMERIC: &str = "bool, int8 to int64, uint8 to uint64, float16, float32 or float64";

/// Reads one `.npy` file (plain or gzip) into a tensor of its shape; a path
/// `archive.npz:name` reads the array `name` of an `.npz` archive.
///
/// Errors: E0601 if the file cannot be read; E0602 for a wrong magic, an
/// unknown version, a header that does not parse, a dtype that is not
/// numeric, data whose length disagrees with the shape, an archive that is
/// not a zip, or a name the archive does not hold.
pub fn read_npy(path: &Path) -> Result<Tensor, Diagnostic> {
    if let Some((archive, name)) = npz_member(path) {
        return read_npz(path, &archive, &name);
    }
    let bytes = read_file(path)?;
    if is_zip(&bytes) {
        return Err(npz_without_name(path, &bytes));
    }
    parse(&bytes, path)
}

/// Reads an `.npy` inputs file and, optionally, an `.npy` labels file.
///
/// The inputs keep their shape `[N, ...]`; labels must have the same first
/// dimension `N` (E0602 otherwise).
pub fn load_npy(images: &Path, labels: Option<&Path>) -> Result<Dataset, Diagnostic> {
    let x = read_npy(images)?;
    let y = match labels {
        Some(p) => Some((read_npy(p)?, p)),
        None => None,
    };
    pair(x, images, y)
}

/// Splits `dir/data.npz:x` into the archive `dir/data.npz` and the name `x`.
fn npz_member(path: &Path) -> Option<(PathBuf, String)> {
    let (file, name) = path.file_name()?.to_str()?.rsplit_once(':')?;
    file.ends_with(".npz").then(|| (path.with_file_name(file), name.to_string()))
}

/// Zip archives start with a local file header, or an end record when empty.
fn is_zip(bytes: &[u8]) -> bool {
    bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06")
}

/// Reads the array `name` of the archive `archive`; `shown` (`archive:name`)
/// is the path that messages name.
fn read_npz(shown: &Path, archive: &Path, name: &str) -> Result<Tensor, Diagnostic> {
    let bytes = read_file(archive)?;
    let mut zip = open_zip(archive, &bytes)?;
    let Ok(entry) = zip.by_name(&npyz::npz::file_name_from_array_name(name)) else {
        let names = array_names(&zip);
        let file = archive.file_name().unwrap_or_default().to_string_lossy();
        let first = names.first().map_or("x", String::as_str);
        return Err(malformed(
            shown,
            format!("the NPZ archive has no array `{name}`"),
            format!("expected one of {}, found `{name}`", listing(&names)),
            format!("name an array of the archive, e.g. \"{file}:{first}\""),
        ));
    };
    let mut data = Vec::new();
    if let Err(e) = entry.take(MAX_DECOMPRESSED_BYTES + 1).read_to_end(&mut data) {
        return Err(malformed(
            shown,
            "the array's compressed data is corrupt",
            format!("expected a valid zip entry, found an error while reading it: {e}"),
            "the file may be truncated or damaged; save it again",
        ));
    }
    if data.len() as u64 > MAX_DECOMPRESSED_BYTES {
        return Err(malformed(
            shown,
            format!("the array expands to more than {MAX_DECOMPRESSED_BYTES} bytes"),
            format!("expected at most {MAX_DECOMPRESSED_BYTES} bytes after decompression, found more"),
            "split the data set into smaller files, or check that this is the intended file",
        ));
    }
    parse(&data, shown)
}

fn open_zip<'a>(archive: &Path, bytes: &'a [u8]) -> Result<zip::ZipArchive<Cursor<&'a [u8]>>, Diagnostic> {
    zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| {
        malformed(
            archive,
            "not an NPZ archive",
            format!("expected a zip archive as numpy.savez writes, found an error: {e}"),
            "save the arrays with `np.savez(path, x=x, y=y)` and name one as \"path.npz:x\"",
        )
    })
}

/// The arrays an archive holds, in archive order.
fn array_names(zip: &zip::ZipArchive<Cursor<&[u8]>>) -> Vec<String> {
    zip.file_names()
        .filter_map(|file| Some(npyz::npz::array_name_from_file_name(&file.ok()?)?.to_string()))
        .collect()
}

fn listing(names: &[String]) -> String {
    if names.is_empty() {
        return "an array (the archive holds none)".to_string();
    }
    names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
}

/// An E0602 for an `.npz` archive read without naming one of its arrays.
fn npz_without_name(path: &Path, bytes: &[u8]) -> Diagnostic {
    let names = open_zip(path, bytes).map(|z| array_names(&z)).unwrap_or_default();
    let file = path.file_name().unwrap_or_default().to_string_lossy();
    let first = names.first().map_or("x", String::as_str);
    malformed(
        path,
        "an NPZ archive holds named arrays, and none is named",
        format!("expected \"{file}:NAME\" with NAME one of {}", listing(&names)),
        format!("name the array after a colon, e.g. \"{file}:{first}\" (the archive file must end in .npz)"),
    )
}

fn parse(bytes: &[u8], path: &Path) -> Result<Tensor, Diagnostic> {
    let (text, body) = split_header(bytes, path)?;
    let header = Header::parse(text).map_err(|why| {
        malformed(
            path,
            "the NPY header does not parse",
            format!(
                "expected a dict with 'descr', 'fortran_order' and 'shape', found {:?} ({why})",
                text.trim_end()
            ),
            HELP,
        )
    })?;
    let elem = Elem::new(&header.descr).map_err(|(descr, what)| {
        malformed(
            path,
            format!("unsupported NPY dtype {descr} ({what})"),
            format!("expected a numeric dtype ({NUMERIC}), found {descr} ({what})"),
            HELP,
        )
    })?;
    let shape = Shape(header.shape);
    let n = match checked_numel(shape.dims()).and_then(|n| Some((n, n.checked_mul(elem.size)?))) {
        Some((n, want)) if want == body.len() => n,
        Some((_, want)) => {
            let what = if want > body.len() {
                format!("the NPY data is truncated (shape {shape})")
            } else {
                format!("trailing bytes after the NPY data (shape {shape})")
            };
            return Err(malformed(
                path,
                what,
                format!("expected {want} bytes of {} data, found {}", elem.name(), body.len()),
                "the file may be cut short or damaged; save it again",
            ));
        }
        None => {
            return Err(malformed(
                path,
                format!("the NPY header declares an impossible shape {shape}"),
                format!(
                    "expected at most {} bytes of data, found a declared size that overflows",
                    body.len()
                ),
                HELP,
            ));
        }
    };
    let data = elem.decode(body, n).map_err(|e| {
        malformed(
            path,
            format!("the NPY data is not valid {}", elem.name()),
            format!("expected {n} {} values, found an error while decoding: {e}", elem.name()),
            HELP,
        )
    })?;
    let data = if header.fortran_order { fortran_to_c(&data, shape.dims()) } else { data };
    Ok(Tensor { shape, data })
}

/// Splits an `.npy` image into its header text and the data after it.
fn split_header<'a>(bytes: &'a [u8], path: &Path) -> Result<(&'a str, &'a [u8]), Diagnostic> {
    if !bytes.starts_with(MAGIC) || bytes.len() < 8 {
        let n = bytes.len().min(8);
        return Err(malformed(
            path,
            "not an NPY file (wrong magic)",
            format!(
                "expected the bytes \\x93NUMPY and a version, found {:?}",
                String::from_utf8_lossy(&bytes[..n])
            ),
            HELP,
        ));
    }
    let (major, minor) = (bytes[6], bytes[7]);
    let start = match (major, minor) {
        (1, 0) => 10,
        (2 | 3, 0) => 12,
        _ => {
            return Err(malformed(
                path,
                format!("unsupported NPY version {major}.{minor}"),
                format!("expected version 1.0, 2.0 or 3.0, found {major}.{minor}"),
                HELP,
            ));
        }
    };
    let Some(len) = bytes.get(8..start) else {
        return Err(truncated_header(path, bytes.len(), start));
    };
    let header_len = len.iter().rev().fold(0usize, |acc, &b| acc << 8 | b as usize);
    if header_len > MAX_HEADER_LEN {
        return Err(malformed(
            path,
            format!("the NPY header claims {header_len} bytes"),
            format!("expected a header of at most {MAX_HEADER_LEN} bytes, found {header_len}"),
            HELP,
        ));
    }
    let end = start + header_len;
    let Some(header) = bytes.get(start..end) else {
        return Err(truncated_header(path, bytes.len(), end));
    };
    let text = std::str::from_utf8(header).map_err(|e| {
        malformed(
            path,
            "the NPY header is not text",
            format!(
                "expected a UTF-8 dict literal, found an invalid byte at offset {}",
                start + e.valid_up_to()
            ),
            HELP,
        )
    })?;
    Ok((text, &bytes[end..]))
}

fn truncated_header(path: &Path, have: usize, want: usize) -> Diagnostic {
    malformed(
        path,
        "the NPY header is truncated",
        format!("expected at least {want} bytes of header, found {have}"),
        HELP,
    )
}

/// The three keys of an NPY header dict.
#[derive(Debug, PartialEq)]
struct Header {
    /// A type string such as `'<f4'`, or a list for a structured dtype.
    descr: Value,
    fortran_order: bool,
    shape: Vec<usize>,
}

impl Header {
    /// Parses the Python dict literal; the error says what went wrong.
    fn parse(text: &str) -> Result<Header, String> {
        // The parser recurses once per bracket: bound the nesting first.
        let mut depth = 0usize;
        for c in text.bytes() {
            match c {
                b'(' | b'[' | b'{' => depth += 1,
                b')' | b']' | b'}' => depth = depth.saturating_sub(1),
                _ => continue,
            }
            if depth > MAX_HEADER_DEPTH {
                return Err(format!("brackets nest more than {MAX_HEADER_DEPTH} deep"));
            }
        }
        let Ok(Value::Dict(items)) = text.trim_end().parse::<Value>() else {
            return Err("not a Python dict literal".to_string());
        };
        let (mut descr, mut fortran, mut shape) = (None, None, None);
        for (key, value) in items {
            match (key.as_string().map(String::as_str), value) {
                (Some("descr"), v) => descr = Some(v),
                (Some("fortran_order"), Value::Boolean(b)) => fortran = Some(b),
                (Some("shape"), Value::Tuple(dims) | Value::List(dims)) => {
                    let dims = dims.iter().map(|d| match d {
                        Value::Integer(d) => {
                            usize::try_from(d).map_err(|_| format!("dimension {d} is out of range"))
                        }
                        _ => Err(format!("dimension {d} is not an integer")),
                    });
                    shape = Some(dims.collect::<Result<Vec<_>, _>>()?);
                }
                (Some(k @ ("fortran_order" | "shape")), v) => return Err(format!("'{k}' is {v}")),
                // Other keys (numpy writes none) are ignored.
                _ => {}
            }
        }
        Ok(Header {
            descr: descr.ok_or("no 'descr'")?,
            fortran_order: fortran.ok_or("no 'fortran_order'")?,
            shape: shape.ok_or("no 'shape'")?,
        })
    }
}

/// A numeric element type and its byte size.
struct Elem {
    ty: TypeStr,
    size: usize,
}

impl Elem {
    /// Checks that `descr` is a numeric type string; otherwise the error holds
    /// the descr as written and what kind of dtype it is.
    fn new(descr: &Value) -> Result<Elem, (String, String)> {
        let Value::String(s) = descr else {
            return Err((descr.to_string(), "a structured dtype".to_string()));
        };
        let shown = format!("'{s}'");
        let ty: TypeStr = s.parse().map_err(|e| (shown.clone(), format!("not a numpy type string: {e}")))?;
        let size = ty.num_bytes().unwrap_or(0);
        let what = match (ty.type_char(), size) {
            (TypeChar::Bool, 1)
            | (TypeChar::Int | TypeChar::Uint, 1 | 2 | 4 | 8)
            | (TypeChar::Float, 2 | 4 | 8) => {
                return Ok(Elem { ty, size });
            }
            (TypeChar::Float, n) => format!("float{}", 8 * n),
            (TypeChar::Complex, n) => format!("complex{}", 8 * n),
            (TypeChar::Object, _) => "Python objects, pickled".to_string(),
            (TypeChar::ByteStr, _) => "byte strings".to_string(),
            (TypeChar::UnicodeStr, _) => "unicode strings".to_string(),
            (TypeChar::DateTime, _) => "datetime64".to_string(),
            (TypeChar::TimeDelta, _) => "timedelta64".to_string(),
            (TypeChar::RawData, _) => "raw bytes".to_string(),
            (c, n) => format!("{c:?} of {n} bytes"),
        };
        Err((shown, what))
    }

    /// The numpy name, e.g. `float32`.
    fn name(&self) -> String {
        match self.ty.type_char() {
            TypeChar::Bool => "bool".to_string(),
            TypeChar::Int => format!("int{}", 8 * self.size),
            TypeChar::Uint => format!("uint{}", 8 * self.size),
            _ => format!("float{}", 8 * self.size),
        }
    }

    /// Decodes `n` elements from `body` (exactly `n * size` bytes) as `f32`.
    fn decode(&self, body: &[u8], n: usize) -> Result<Vec<f32>, String> {
        let d = &DType::Plain(self.ty.clone());
        match (self.ty.type_char(), self.size) {
            (TypeChar::Bool, _) => read(d, body, n, |v: bool| f32::from(u8::from(v))),
            (TypeChar::Int, 1) => read::<i8>(d, body, n, f32::from),
            (TypeChar::Int, 2) => read::<i16>(d, body, n, f32::from),
            (TypeChar::Int, 4) => read(d, body, n, |v: i32| v as f32),
            (TypeChar::Int, _) => read(d, body, n, |v: i64| v as f32),
            (TypeChar::Uint, 1) => read::<u8>(d, body, n, f32::from),
            (TypeChar::Uint, 2) => read::<u16>(d, body, n, f32::from),
            (TypeChar::Uint, 4) => read(d, body, n, |v: u32| v as f32),
            (TypeChar::Uint, _) => read(d, body, n, |v: u64| v as f32),
            (_, 2) => read(d, body, n, npyz::half::f16::to_f32),
            (_, 4) => read(d, body, n, |v: f32| v),
            (_, _) => read(d, body, n, |v: f64| v as f32),
        }
    }
}

/// Reads `n` elements of `T` from `body` through npyz, converting each.
fn read<T: Deserialize>(
    dtype: &DType,
    mut body: &[u8],
    n: usize,
    f: impl Fn(T) -> f32,
) -> Result<Vec<f32>, String> {
    let reader = T::reader(dtype).map_err(|e| e.to_string())?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(f(reader.read_one(&mut body).map_err(|e| e.to_string())?));
    }
    Ok(out)
}

/// Reorders column-major `data` of shape `dims` into row-major order.
fn fortran_to_c(data: &[f32], dims: &[usize]) -> Vec<f32> {
    if dims.iter().filter(|&&d| d > 1).count() < 2 {
        return data.to_vec();
    }
    // Row-major strides; walk the file in column-major order (axis 0 fastest).
    let mut strides = vec![1; dims.len()];
    for i in (0..dims.len() - 1).rev() {
        strides[i] = strides[i + 1] * dims[i + 1];
    }
    let mut out = vec![0.0; data.len()];
    let mut idx = vec![0; dims.len()];
    let mut at = 0;
    for &v in data {
        out[at] = v;
        for axis in 0..dims.len() {
            idx[axis] += 1;
            at += strides[axis];
            if idx[axis] < dims[axis] {
                break;
            }
            at -= strides[axis] * dims[axis];
            idx[axis] = 0;
        }
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::diag::Code;

    /// Builds an `.npy` image the way numpy does: header padded with spaces
    /// and a newline so the data starts at a multiple of 64.
    pub(crate) fn npy_bytes(major: u8, dict: &str, body: &[u8]) -> Vec<u8> {
        let start = if major == 1 { 10 } else { 12 };
        let mut header = dict.to_string();
        while !(start + header.len() + 1).is_multiple_of(64) {
            header.push(' ');
        }
        header.push('\n');
        let mut b = MAGIC.to_vec();
        b.extend([major, 0]);
        if major == 1 {
            b.extend((header.len() as u16).to_le_bytes());
        } else {
            b.extend((header.len() as u32).to_le_bytes());
        }
        b.extend(header.as_bytes());
        b.extend(body);
        b
    }

    fn dict(descr: &str, shape: &str) -> String {
        format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}")
    }

    fn ok(major: u8, descr: &str, shape: &str, body: &[u8]) -> Tensor {
        parse(&npy_bytes(major, &dict(descr, shape), body), Path::new("a.npy")).unwrap()
    }

    #[track_caller]
    fn err(bytes: &[u8], expect: &str) -> Diagnostic {
        let e = parse(bytes, Path::new("dir/a.npy")).unwrap_err();
        assert_eq!(e.code, Code::DATA_FORMAT);
        assert!(e.message.contains("dir/a.npy"), "{}", e.message);
        assert!(
            e.message.contains(expect) || e.notes.iter().any(|n| n.contains(expect)),
            "{e:?} lacks {expect:?}"
        );
        assert!(e.help.is_some());
        e
    }

    #[test]
    fn reads_every_numeric_dtype() {
        let f4: Vec<u8> = [1.5f32, -2.0].iter().flat_map(|v| v.to_le_bytes()).collect();
        assert_eq!(ok(1, "<f4", "(2, 1)", &f4), Tensor::new(vec![2, 1], vec![1.5, -2.0]));
        let f4be: Vec<u8> = [1.5f32, -2.0].iter().flat_map(|v| v.to_be_bytes()).collect();
        assert_eq!(ok(1, ">f4", "(2,)", &f4be).data, vec![1.5, -2.0]);
        let f8: Vec<u8> = [0.25f64].iter().flat_map(|v| v.to_le_bytes()).collect();
        assert_eq!(ok(2, "<f8", "(1,)", &f8).data, vec![0.25]);
        assert_eq!(ok(1, "<f2", "(1,)", &npyz::half::f16::from_f32(-0.5).to_le_bytes()).data, vec![-0.5]);
        assert_eq!(ok(1, "|u1", "(3,)", &[0, 7, 255]).data, vec![0., 7., 255.]);
        assert_eq!(ok(1, "|i1", "(2,)", &[0xFF, 5]).data, vec![-1., 5.]);
        let i4: Vec<u8> = [-3i32, 9].iter().flat_map(|v| v.to_le_bytes()).collect();
        assert_eq!(ok(1, "<i4", "(2,)", &i4).data, vec![-3., 9.]);
        let i8: Vec<u8> = [-70000i64, 1 << 20].iter().flat_map(|v| v.to_be_bytes()).collect();
        assert_eq!(ok(3, ">i8", "(2,)", &i8).data, vec![-70000., (1 << 20) as f32]);
        assert_eq!(ok(1, "<i2", "(1,)", &(-5i16).to_le_bytes()).data, vec![-5.]);
        assert_eq!(ok(1, ">u2", "(1,)", &65535u16.to_be_bytes()).data, vec![65535.]);
        assert_eq!(ok(1, "|b1", "(2,)", &[1, 0]).data, vec![1., 0.]);
        // A scalar and an empty array.
        assert_eq!(ok(1, "<f4", "()", &2f32.to_le_bytes()).shape, Shape(vec![]));
        assert_eq!(ok(1, "<f4", "(0, 5)", &[]).shape, Shape(vec![0, 5]));
    }

    #[test]
    fn header_variants_parse() {
        let h = Header::parse("{\"shape\": [3,4], \"fortran_order\": True, \"descr\": \"<f8\"}").unwrap();
        assert_eq!(h, Header { descr: Value::String("<f8".into()), fortran_order: true, shape: vec![3, 4] });
        assert!(Header::parse("{'descr': '<f4', 'shape': (1,)}").is_err());
        assert!(Header::parse("{'descr': '<f4', 'fortran_order': Maybe, 'shape': (1,)}").is_err());
        assert!(Header::parse("{'descr': '<f4', 'fortran_order': False, 'shape': (1,a)}").is_err());
        assert!(Header::parse("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,)}").is_err());
        assert!(Header::parse("{'descr': '<f4', 'fortran_order': 1, 'shape': (1,)}").is_err());
        let deep = format!("{{'descr': {}0{}}}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(Header::parse(&deep).unwrap_err().contains("nest"));
    }

    #[test]
    fn rejects_malformed_files() {
        err(b"PK\x03\x04 this is a zip", "wrong magic");
        err(b"\x93NUMP", "wrong magic");
        err(&npy_bytes(1, &dict("<f4", "(1,)"), &[0; 4])[..9], "truncated");
        let mut v9 = npy_bytes(1, &dict("<f4", "(1,)"), &[0; 4]);
        v9[6] = 9;
        err(&v9, "version 9.0");
        let mut cut = npy_bytes(1, &dict("<f4", "(1,)"), &[]);
        cut.truncate(30);
        err(&cut, "header is truncated");
        let mut long = npy_bytes(2, &dict("<f4", "(1,)"), &[0; 4]);
        long[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
        err(&long, "at most 65535 bytes");
        err(&npy_bytes(1, "{'descr': '<f4'", &[]), "does not parse");
        let e = err(&npy_bytes(1, &dict("<c8", "(1,)"), &[0; 8]), "'<c8' (complex64)");
        assert!(e.notes[0].contains("expected a numeric dtype"), "{:?}", e.notes);
        err(&npy_bytes(1, &dict("|O", "(1,)"), &[0; 8]), "'|O' (Python objects");
        err(&npy_bytes(1, &dict("<U3", "(1,)"), &[0; 12]), "unicode strings");
        err(&npy_bytes(1, &dict("<f16", "(1,)"), &[0; 16]), "float128");
        err(&npy_bytes(1, &dict("<x4", "(1,)"), &[0; 4]), "not a numpy type string");
        let rec = "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }";
        err(&npy_bytes(1, rec, &[0; 4]), "structured");
        err(&npy_bytes(1, &dict("|b1", "(1,)"), &[2]), "not valid bool");
        err(&npy_bytes(1, &dict("<f4", "(2, 3)"), &[0; 23]), "truncated");
        err(&npy_bytes(1, &dict("<f4", "(2, 3)"), &[0; 25]), "trailing");
        let huge = format!("({}, {})", u64::MAX, u64::MAX);
        err(&npy_bytes(1, &dict("<f4", &huge), &[0; 8]), "impossible");
        err(&npy_bytes(1, &dict("<f4", "(1000000, 1000000)"), &[0; 8]), "truncated");
    }

    #[test]
    fn fortran_order_is_read_as_rows() {
        let h = "{'descr': '|u1', 'fortran_order': True, 'shape': (3,), }";
        let t = parse(&npy_bytes(1, h, &[1, 2, 3]), Path::new("a.npy")).unwrap();
        assert_eq!(t.data, vec![1., 2., 3.]);
        // [[0, 1, 2], [3, 4, 5]] stored column by column.
        let h = "{'descr': '|u1', 'fortran_order': True, 'shape': (2, 3), }";
        let t = parse(&npy_bytes(1, h, &[0, 3, 1, 4, 2, 5]), Path::new("a.npy")).unwrap();
        assert_eq!(t, Tensor::new(vec![2, 3], vec![0., 1., 2., 3., 4., 5.]));
        // A [2, 3, 2] array: element (i, j, k) holds 100i + 10j + k.
        let dims = [2, 3, 2];
        let mut col_major = Vec::new();
        for k in 0..2 {
            for j in 0..3 {
                for i in 0..2 {
                    col_major.push((100 * i + 10 * j + k) as f32);
                }
            }
        }
        let rows = fortran_to_c(&col_major, &dims);
        let want: Vec<f32> = (0..2)
            .flat_map(|i| (0..3).flat_map(move |j| (0..2).map(move |k| (100 * i + 10 * j + k) as f32)))
            .collect();
        assert_eq!(rows, want);
    }

    #[test]
    fn npz_member_names() {
        let split = |p: &str| npz_member(Path::new(p));
        assert_eq!(split("d/data.npz:x"), Some((PathBuf::from("d/data.npz"), "x".to_string())));
        assert_eq!(split("C:/d/data.npz:train_x"), Some((PathBuf::from("C:/d/data.npz"), "train_x".into())));
        assert_eq!(split("C:/d/data.npz"), None);
        assert_eq!(split("d/x.npy"), None);
        assert_eq!(split("d/a:b.npy"), None);
    }
}
