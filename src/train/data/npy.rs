//! NumPy `.npy` arrays, as written by `numpy.save`.
//!
//! Layout: the magic `\x93NUMPY`, a major and minor version byte, the header
//! length (little-endian `u16` in version 1, `u32` in versions 2 and 3),
//! then a Python dict literal such as
//! `{'descr': '<f4', 'fortran_order': False, 'shape': (8000, 784), }` and the
//! raw elements. Little-endian floats (`<f4`, `<f8`), integers (`i1` to
//! `<i8`, `u1` to `<u8`) and booleans (`|b1`) are read, in C order only.

use std::path::Path;

use super::{Dataset, checked_numel, malformed, pair, read_file};
use crate::backend::Tensor;
use crate::diag::Diagnostic;
use crate::graph::Shape;

const MAGIC: &[u8] = b"\x93NUMPY";

const HELP: &str = "write the array with numpy.save(path, np.ascontiguousarray(a, dtype=np.float32))";

/// An element type: its kind (`f`, `i`, `u`, `b`) and byte size.
#[derive(Clone, Copy)]
struct Elem {
    kind: u8,
    size: usize,
}

impl Elem {
    /// Parses a `descr` such as `<f4` or `|u1`; `None` if unsupported.
    fn parse(descr: &str) -> Option<Elem> {
        let b = descr.as_bytes();
        let (&order, rest) = b.split_first()?;
        let (&kind, size) = rest.split_first()?;
        let size: usize = std::str::from_utf8(size).ok()?.parse().ok()?;
        let ok = match kind {
            b'f' => matches!(size, 4 | 8),
            b'i' | b'u' => matches!(size, 1 | 2 | 4 | 8),
            b'b' => size == 1,
            _ => false,
        };
        // One-byte types carry no byte order (`|`); wider ones must be little-endian.
        let order_ok = order == b'<' || (size == 1 && order == b'|');
        (ok && order_ok).then_some(Elem { kind, size })
    }

    /// Decodes one little-endian element from exactly `self.size` bytes.
    fn decode(self, b: &[u8]) -> f32 {
        let mut w = [0u8; 8];
        w[..self.size].copy_from_slice(b);
        match (self.kind, self.size) {
            (b'f', 4) => f32::from_le_bytes([w[0], w[1], w[2], w[3]]),
            (b'f', _) => f64::from_le_bytes(w) as f32,
            (b'u' | b'b', _) => u64::from_le_bytes(w) as f32,
            // Sign-extend by shifting the value into the top bytes and back.
            (_, n) => (i64::from_le_bytes(w) << (64 - 8 * n) >> (64 - 8 * n)) as f32,
        }
    }
}

/// Reads one `.npy` file (plain or gzip) into a tensor of its shape.
///
/// Errors: E0601 if the file cannot be read; E0602 for a wrong magic, an
/// unknown version, a header that does not parse, an unsupported dtype,
/// Fortran order, or data whose length disagrees with the shape.
pub fn read_npy(path: &Path) -> Result<Tensor, Diagnostic> {
    let bytes = read_file(path)?;
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

fn parse(bytes: &[u8], path: &Path) -> Result<Tensor, Diagnostic> {
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
    let (len_bytes, start) = match major {
        1 => (2, 10),
        2 | 3 => (4, 12),
        _ => {
            return Err(malformed(
                path,
                format!("unsupported NPY version {major}.{minor}"),
                format!("expected version 1.0, 2.0 or 3.0, found {major}.{minor}"),
                HELP,
            ));
        }
    };
    let Some(len) = bytes.get(8..8 + len_bytes) else {
        return Err(truncated_header(path, bytes.len(), 8 + len_bytes));
    };
    let header_len = len.iter().rev().fold(0usize, |acc, &b| acc << 8 | b as usize);
    let end = start + header_len;
    let Some(header) = bytes.get(start..end) else {
        return Err(truncated_header(path, bytes.len(), end));
    };
    let header = String::from_utf8_lossy(header);
    let header = Header::parse(&header).map_err(|why| {
        malformed(
            path,
            "the NPY header does not parse",
            format!(
                "expected a dict with 'descr', 'fortran_order' and 'shape', found {:?} ({why})",
                header.trim_end()
            ),
            HELP,
        )
    })?;
    let Some(elem) = Elem::parse(&header.descr) else {
        return Err(malformed(
            path,
            format!("unsupported NPY dtype '{}'", header.descr),
            format!(
                "expected one of '<f4', '<f8', '|u1', '|i1', '<i2', '<i4', '<i8', '<u2', '<u4', '<u8', '|b1', found '{}'",
                header.descr
            ),
            HELP,
        ));
    };
    if header.fortran_order && header.shape.iter().filter(|&&d| d > 1).count() > 1 {
        return Err(malformed(
            path,
            "the NPY array is in Fortran (column-major) order",
            "expected fortran_order: False, found True",
            "save a C-ordered copy: numpy.save(path, np.ascontiguousarray(a))",
        ));
    }
    let shape = Shape(header.shape);
    let body = &bytes[end..];
    match checked_numel(shape.dims()).and_then(|n| n.checked_mul(elem.size)) {
        Some(want) if want == body.len() => {}
        Some(want) => {
            let what = if want > body.len() {
                format!("the NPY data is truncated (shape {shape})")
            } else {
                format!("trailing bytes after the NPY data (shape {shape})")
            };
            return Err(malformed(
                path,
                what,
                format!("expected {want} bytes of '{}' data, found {}", header.descr, body.len()),
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
    }
    let data = body.chunks_exact(elem.size).map(|b| elem.decode(b)).collect();
    Ok(Tensor { shape, data })
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
    descr: String,
    fortran_order: bool,
    shape: Vec<usize>,
}

impl Header {
    /// Parses the Python dict literal; the error says what went wrong.
    fn parse(text: &str) -> Result<Header, String> {
        let mut p = Lexer { s: text.as_bytes(), pos: 0 };
        let (mut descr, mut fortran, mut shape) = (None, None, None);
        p.expect(b'{')?;
        loop {
            if p.eat(b'}') {
                break;
            }
            let key = p.string()?;
            p.expect(b':')?;
            match key.as_str() {
                "descr" => descr = Some(p.string()?),
                "fortran_order" => fortran = Some(p.bool()?),
                "shape" => shape = Some(p.tuple()?),
                other => return Err(format!("unknown key '{other}'")),
            }
            if !p.eat(b',') {
                p.expect(b'}')?;
                break;
            }
        }
        Ok(Header {
            descr: descr.ok_or("no 'descr'")?,
            fortran_order: fortran.ok_or("no 'fortran_order'")?,
            shape: shape.ok_or("no 'shape'")?,
        })
    }
}

/// A cursor over the header text that skips whitespace between tokens.
struct Lexer<'a> {
    s: &'a [u8],
    pos: usize,
}

impl Lexer<'_> {
    fn skip_ws(&mut self) {
        while self.s.get(self.pos).is_some_and(u8::is_ascii_whitespace) {
            self.pos += 1;
        }
    }

    fn eat(&mut self, c: u8) -> bool {
        self.skip_ws();
        if self.s.get(self.pos) == Some(&c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: u8) -> Result<(), String> {
        if self.eat(c) { Ok(()) } else { Err(format!("expected '{}' at byte {}", c as char, self.pos)) }
    }

    fn string(&mut self) -> Result<String, String> {
        self.skip_ws();
        let quote = match self.s.get(self.pos) {
            Some(&q @ (b'\'' | b'"')) => q,
            _ => return Err(format!("expected a quoted string at byte {}", self.pos)),
        };
        let start = self.pos + 1;
        let len = self.s[start..].iter().position(|&c| c == quote).ok_or("unterminated string")?;
        self.pos = start + len + 1;
        Ok(String::from_utf8_lossy(&self.s[start..start + len]).into_owned())
    }

    fn bool(&mut self) -> Result<bool, String> {
        self.skip_ws();
        for (word, v) in [(&b"True"[..], true), (&b"False"[..], false)] {
            if self.s[self.pos..].starts_with(word) {
                self.pos += word.len();
                return Ok(v);
            }
        }
        Err(format!("expected True or False at byte {}", self.pos))
    }

    fn tuple(&mut self) -> Result<Vec<usize>, String> {
        self.expect(b'(')?;
        let mut dims = Vec::new();
        loop {
            if self.eat(b')') {
                return Ok(dims);
            }
            self.skip_ws();
            let start = self.pos;
            while self.s.get(self.pos).is_some_and(u8::is_ascii_digit) {
                self.pos += 1;
            }
            let digits = std::str::from_utf8(&self.s[start..self.pos]).unwrap_or("");
            let d = digits.parse::<usize>().map_err(|_| format!("expected a dimension at byte {start}"))?;
            dims.push(d);
            if !self.eat(b',') {
                self.expect(b')')?;
                return Ok(dims);
            }
        }
    }
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
    fn reads_every_supported_dtype() {
        let f4: Vec<u8> = [1.5f32, -2.0].iter().flat_map(|v| v.to_le_bytes()).collect();
        assert_eq!(ok(1, "<f4", "(2, 1)", &f4), Tensor::new(vec![2, 1], vec![1.5, -2.0]));
        let f8: Vec<u8> = [0.25f64].iter().flat_map(|v| v.to_le_bytes()).collect();
        assert_eq!(ok(2, "<f8", "(1,)", &f8).data, vec![0.25]);
        assert_eq!(ok(1, "|u1", "(3,)", &[0, 7, 255]).data, vec![0., 7., 255.]);
        assert_eq!(ok(1, "|i1", "(2,)", &[0xFF, 5]).data, vec![-1., 5.]);
        let i4: Vec<u8> = [-3i32, 9].iter().flat_map(|v| v.to_le_bytes()).collect();
        assert_eq!(ok(1, "<i4", "(2,)", &i4).data, vec![-3., 9.]);
        let i8: Vec<u8> = [-70000i64, 1 << 20].iter().flat_map(|v| v.to_le_bytes()).collect();
        assert_eq!(ok(3, "<i8", "(2,)", &i8).data, vec![-70000., (1 << 20) as f32]);
        assert_eq!(ok(1, "<i2", "(1,)", &(-5i16).to_le_bytes()).data, vec![-5.]);
        assert_eq!(ok(1, "<u2", "(1,)", &65535u16.to_le_bytes()).data, vec![65535.]);
        assert_eq!(ok(1, "|b1", "(2,)", &[1, 0]).data, vec![1., 0.]);
        // A scalar and an empty array.
        assert_eq!(ok(1, "<f4", "()", &2f32.to_le_bytes()).shape, Shape(vec![]));
        assert_eq!(ok(1, "<f4", "(0, 5)", &[]).shape, Shape(vec![0, 5]));
    }

    #[test]
    fn header_variants_parse() {
        let h = Header::parse("{\"shape\": (3,4), \"fortran_order\": True, \"descr\": \"<f8\"}").unwrap();
        assert_eq!(h, Header { descr: "<f8".into(), fortran_order: true, shape: vec![3, 4] });
        assert!(Header::parse("{'descr': '<f4', 'shape': (1,)}").is_err());
        assert!(Header::parse("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}").is_err());
        assert!(Header::parse("{'descr': '<f4', 'fortran_order': Maybe, 'shape': (1,)}").is_err());
        assert!(Header::parse("{'descr': '<f4', 'fortran_order': False, 'shape': (1,a)}").is_err());
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
        err(&npy_bytes(1, "{'descr': '<f4'", &[]), "does not parse");
        let e = err(&npy_bytes(1, &dict(">f4", "(1,)"), &[0; 4]), "'>f4'");
        assert!(e.notes[0].contains("expected one of"), "{:?}", e.notes);
        err(&npy_bytes(1, &dict("<c8", "(1,)"), &[0; 8]), "'<c8'");
        err(&npy_bytes(1, &dict("|O", "(1,)"), &[0; 8]), "'|O'");
        let fortran = "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }";
        err(&npy_bytes(1, fortran, &[0; 24]), "Fortran");
        err(&npy_bytes(1, &dict("<f4", "(2, 3)"), &[0; 23]), "truncated");
        err(&npy_bytes(1, &dict("<f4", "(2, 3)"), &[0; 25]), "trailing");
        let huge = format!("({}, {})", u64::MAX, u64::MAX);
        err(&npy_bytes(1, &dict("<f4", &huge), &[0; 8]), "impossible");
    }

    #[test]
    fn fortran_order_is_harmless_for_vectors() {
        let h = "{'descr': '|u1', 'fortran_order': True, 'shape': (3,), }";
        let t = parse(&npy_bytes(1, h, &[1, 2, 3]), Path::new("a.npy")).unwrap();
        assert_eq!(t.data, vec![1., 2., 3.]);
    }
}
