//! IDX files, the format MNIST ships in.
//!
//! Layout: a 4-byte magic `00 00 TT ND` (element type `TT`, `ND` dimensions),
//! then `ND` big-endian `u32` sizes, then the elements in row-major order,
//! big-endian. Element types: `08` u8, `09` i8, `0B` i16, `0C` i32, `0D` f32,
//! `0E` f64. The declared size is checked against the bytes present before
//! anything is allocated, and bytes after the last element are an error.

use std::path::Path;

use super::{Dataset, checked_numel, malformed, pair, read_file};
use crate::backend::Tensor;
use crate::diag::Diagnostic;

/// An IDX element type: its byte size and its decoder.
#[derive(Clone, Copy)]
enum Elem {
    U8,
    I8,
    I16,
    I32,
    F32,
    F64,
}

impl Elem {
    fn from_code(code: u8) -> Option<Elem> {
        Some(match code {
            0x08 => Elem::U8,
            0x09 => Elem::I8,
            0x0B => Elem::I16,
            0x0C => Elem::I32,
            0x0D => Elem::F32,
            0x0E => Elem::F64,
            _ => return None,
        })
    }

    fn size(self) -> usize {
        match self {
            Elem::U8 | Elem::I8 => 1,
            Elem::I16 => 2,
            Elem::I32 | Elem::F32 => 4,
            Elem::F64 => 8,
        }
    }

    /// Decodes one big-endian element from exactly `self.size()` bytes.
    fn decode(self, b: &[u8]) -> f32 {
        match self {
            Elem::U8 => b[0] as f32,
            Elem::I8 => b[0] as i8 as f32,
            Elem::I16 => i16::from_be_bytes([b[0], b[1]]) as f32,
            Elem::I32 => i32::from_be_bytes([b[0], b[1], b[2], b[3]]) as f32,
            Elem::F32 => f32::from_be_bytes([b[0], b[1], b[2], b[3]]),
            Elem::F64 => f64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) as f32,
        }
    }
}

const HELP: &str = "IDX files start with the bytes 00 00 <type> <ndim>, e.g. 00 00 08 03 for MNIST images; check that the path points at an IDX file";

/// Reads one IDX file (plain or gzip) into a tensor of its declared shape.
///
/// Errors: E0601 if the file cannot be read; E0602 for a wrong magic, an
/// unknown element type, a truncated header or body, trailing bytes, or
/// declared dimensions whose size overflows.
pub fn read_idx(path: &Path) -> Result<Tensor, Diagnostic> {
    let bytes = read_file(path)?;
    parse(&bytes, path)
}

/// Reads an IDX inputs file and, optionally, its IDX labels file.
///
/// The inputs keep their declared shape (`[N, 28, 28]` for MNIST); labels
/// must have the same first dimension `N` (E0602 otherwise).
pub fn load_idx(images: &Path, labels: Option<&Path>) -> Result<Dataset, Diagnostic> {
    let x = read_idx(images)?;
    let y = match labels {
        Some(p) => Some((read_idx(p)?, p)),
        None => None,
    };
    pair(x, images, y)
}

fn parse(bytes: &[u8], path: &Path) -> Result<Tensor, Diagnostic> {
    let Some(magic) = bytes.get(..4) else {
        return Err(malformed(
            path,
            "the IDX header is truncated",
            format!("expected a 4-byte magic number, found {} bytes in the whole file", bytes.len()),
            HELP,
        ));
    };
    let found = format!("{:02X} {:02X} {:02X} {:02X}", magic[0], magic[1], magic[2], magic[3]);
    if magic[0] != 0 || magic[1] != 0 {
        return Err(malformed(
            path,
            "not an IDX file (wrong magic number)",
            format!("expected the magic number to start with 00 00, found {found}"),
            HELP,
        ));
    }
    let Some(elem) = Elem::from_code(magic[2]) else {
        return Err(malformed(
            path,
            format!("unknown IDX element type 0x{:02X}", magic[2]),
            format!(
                "expected type 08 (u8), 09 (i8), 0B (i16), 0C (i32), 0D (f32) or 0E (f64), found magic {found}"
            ),
            HELP,
        ));
    };
    let ndim = magic[3] as usize;
    if ndim == 0 {
        return Err(malformed(
            path,
            "the IDX file declares 0 dimensions",
            format!("expected at least one dimension, found magic {found}"),
            HELP,
        ));
    }
    let header_len = 4 + 4 * ndim;
    let Some(dim_bytes) = bytes.get(4..header_len) else {
        return Err(malformed(
            path,
            "the IDX header is truncated",
            format!("expected {header_len} header bytes for {ndim} dimensions, found {}", bytes.len()),
            HELP,
        ));
    };
    let dims: Vec<usize> =
        dim_bytes.chunks_exact(4).map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize).collect();
    let shape = crate::graph::Shape(dims);
    let body = &bytes[header_len..];
    let want = checked_numel(shape.dims()).and_then(|n| n.checked_mul(elem.size()));
    match want {
        Some(want) if want == body.len() => {}
        Some(want) if want > body.len() => {
            return Err(malformed(
                path,
                format!("the IDX data is truncated (declared shape {shape})"),
                format!("expected {want} bytes of data after the header, found {}", body.len()),
                "the file may be cut short; download or copy it again",
            ));
        }
        Some(want) => {
            return Err(malformed(
                path,
                format!("trailing bytes after the IDX data (declared shape {shape})"),
                format!("expected {want} bytes of data after the header, found {}", body.len()),
                "the header's dimensions may be wrong, or two files were concatenated",
            ));
        }
        None => {
            return Err(malformed(
                path,
                format!("the IDX header declares an impossible size {shape}"),
                format!(
                    "expected at most {} bytes of data, found a declared size that overflows",
                    body.len()
                ),
                HELP,
            ));
        }
    }
    let data = body.chunks_exact(elem.size()).map(|b| elem.decode(b)).collect();
    Ok(Tensor { shape, data })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::Code;
    use crate::graph::Shape;

    fn idx_bytes(ty: u8, dims: &[u32], body: &[u8]) -> Vec<u8> {
        let mut b = vec![0, 0, ty, dims.len() as u8];
        for d in dims {
            b.extend(d.to_be_bytes());
        }
        b.extend(body);
        b
    }

    fn parse_err(bytes: &[u8]) -> Diagnostic {
        let err = parse(bytes, Path::new("dir/bad.idx")).unwrap_err();
        assert_eq!(err.code, Code::DATA_FORMAT, "{err:?}");
        assert!(err.message.contains("dir/bad.idx"), "{}", err.message);
        assert!(err.help.is_some());
        assert!(err.notes.iter().any(|n| n.contains("expected") && n.contains("found")), "{err:?}");
        err
    }

    #[test]
    fn decodes_every_element_type() {
        let t = parse(&idx_bytes(0x08, &[2, 2], &[0, 1, 254, 255]), Path::new("a")).unwrap();
        assert_eq!(t, Tensor::new(vec![2, 2], vec![0., 1., 254., 255.]));
        let t = parse(&idx_bytes(0x09, &[2], &[0xFF, 3]), Path::new("a")).unwrap();
        assert_eq!(t.data, vec![-1., 3.]);
        let t = parse(&idx_bytes(0x0B, &[1], &(-300i16).to_be_bytes()), Path::new("a")).unwrap();
        assert_eq!(t.data, vec![-300.]);
        let t = parse(&idx_bytes(0x0C, &[1], &70000i32.to_be_bytes()), Path::new("a")).unwrap();
        assert_eq!(t.data, vec![70000.]);
        let mut body = 1.5f32.to_be_bytes().to_vec();
        body.extend((-0.25f32).to_be_bytes());
        let t = parse(&idx_bytes(0x0D, &[2, 1], &body), Path::new("a")).unwrap();
        assert_eq!(t, Tensor::new(vec![2, 1], vec![1.5, -0.25]));
        let t = parse(&idx_bytes(0x0E, &[1], &2.5f64.to_be_bytes()), Path::new("a")).unwrap();
        assert_eq!(t.data, vec![2.5]);
        let t = parse(&idx_bytes(0x08, &[0, 28, 28], &[]), Path::new("a")).unwrap();
        assert_eq!(t.shape, Shape(vec![0, 28, 28]));
    }

    #[test]
    fn rejects_malformed_headers_and_bodies() {
        parse_err(&[0, 0]);
        let e = parse_err(&[0x1f, 0x00, 8, 1, 0, 0, 0, 0]);
        assert!(e.message.contains("magic"), "{}", e.message);
        assert!(e.notes[0].contains("1F 00 08 01"), "{:?}", e.notes);
        let e = parse_err(&idx_bytes(0x07, &[1], &[0]));
        assert!(e.message.contains("0x07"));
        parse_err(&[0, 0, 8, 0]);
        parse_err(&[0, 0, 8, 3, 0, 0, 0, 1]);
        let e = parse_err(&idx_bytes(0x08, &[2, 3], &[1, 2, 3, 4, 5]));
        assert!(e.message.contains("truncated"), "{}", e.message);
        assert!(e.notes[0].contains("expected 6 bytes") && e.notes[0].contains("found 5"));
        let e = parse_err(&idx_bytes(0x08, &[2, 3], &[0; 7]));
        assert!(e.message.contains("trailing"), "{}", e.message);
        let e = parse_err(&idx_bytes(0x0D, &[2], &[0; 4]));
        assert!(e.notes[0].contains("expected 8 bytes"), "{:?}", e.notes);
    }

    #[test]
    fn huge_declared_sizes_fail_before_allocating() {
        // 2^32-1 cubed overflows usize; 2^32-1 squared does not, but far
        // exceeds the bytes present. Neither may allocate.
        let e = parse_err(&idx_bytes(0x08, &[u32::MAX; 3], &[0; 16]));
        assert!(e.message.contains("impossible"), "{}", e.message);
        let e = parse_err(&idx_bytes(0x08, &[u32::MAX, u32::MAX], &[0; 16]));
        assert!(e.message.contains("truncated"), "{}", e.message);
    }
}
