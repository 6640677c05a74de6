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

/// Writes `text` to `dir/name` and returns the path.
pub fn write(dir: &std::path::Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// Runs the `nnc` command line in-process: exit code, stdout, stderr.
pub fn nnc(args: &[&str]) -> (u8, String, String) {
    let mut argv = vec!["nnc"];
    argv.extend_from_slice(args);
    nnc::cli::execute(argv)
}

/// Writes a program to a fresh directory, loads it and checks its first
/// train block; the directory holds the program (and what a run writes).
pub fn load(src: &str) -> (tempfile::TempDir, nnc::sema::Program, nnc::sema::blocks::TrainConfig) {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "m.nn", src);
    let (prog, diags) = nnc::sema::Program::load_root(&file, &mut nnc::cli::FsLoader);
    assert!(diags.is_empty(), "{diags:?}");
    let (cfg, diags) = nnc::sema::blocks::check_train(&prog, &prog.trains[0]);
    let cfg = cfg.unwrap_or_else(|| panic!("{diags:?}"));
    (dir, prog, cfg)
}
