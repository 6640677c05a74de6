//! Data files written byte by byte, as numpy writes them.

/// An `.npy` file (format 1.0) with header `descr` and `shape` (Python
/// syntax, e.g. `'<f4'` and `(3, 2)`) around the raw little-endian `body`.
pub fn npy(descr: &str, shape: &str, body: &[u8]) -> Vec<u8> {
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    while !(10 + header.len() + 1).is_multiple_of(64) {
        header.push(' ');
    }
    header.push('\n');
    let mut b = b"\x93NUMPY\x01\x00".to_vec();
    b.extend((header.len() as u16).to_le_bytes());
    b.extend(header.as_bytes());
    b.extend(body);
    b
}
