//! Data loaders and checkpoints through the public API, on real files: the
//! MNIST subset shipped in `data/mnist/`, and small IDX, CSV and NPY files
//! written (plain and gzip) to a temporary directory.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};

use flate2::{Compression, write::GzEncoder};
use nnc::backend::Tensor;
use nnc::diag::{Code, Diagnostic};
use nnc::graph::Shape;
use nnc::train::checkpoint;
use nnc::train::data::{self, Batches, CsvOptions, Dataset, LabelColumn, load_csv, load_idx, load_npy};

use common::files::npy;
use proptest::prelude::*;
use proptest::test_runner::RngSeed;

fn mnist(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist").join(name)
}

fn load_mnist(split: &str) -> Dataset {
    load_idx(
        &mnist(&format!("{split}-images-idx3-ubyte.gz")),
        Some(&mnist(&format!("{split}-labels-idx1-ubyte.gz"))),
    )
    .unwrap()
}

fn histogram(labels: &Tensor) -> Vec<usize> {
    let mut h = vec![0; 10];
    for &v in &labels.data {
        h[v as usize] += 1;
    }
    h
}

#[test]
fn shipped_mnist_train_split() {
    let d = load_mnist("train");
    assert_eq!(d.images.shape, Shape(vec![8000, 28, 28]));
    assert_eq!(d.len(), 8000);
    assert_eq!(d.sample_dims(), [28, 28]);
    let labels = d.labels.as_ref().unwrap();
    assert_eq!(labels.shape, Shape(vec![8000]));
    d.check_labels(10).unwrap();
    assert_eq!(d.n_classes_seen(), Some(10));
    assert_eq!(histogram(labels), [814, 927, 785, 844, 781, 678, 801, 847, 748, 775]);
    assert_eq!(labels.data[..10], [1., 0., 0., 5., 4., 1., 3., 6., 8., 5.]);
    // Pixel statistics, computed independently from the raw bytes.
    let sum: f64 = d.images.data.iter().map(|&v| v as f64).sum();
    assert_eq!(sum, 209_366_329.0);
    assert_eq!(d.images.data[..784].iter().sum::<f32>(), 14685.0);
    assert_eq!(d.images.data.iter().filter(|&&v| v > 0.0).count(), 1_199_596);
    assert!(d.images.data.iter().all(|&v| (0.0..=255.0).contains(&v)));
}

#[test]
fn shipped_mnist_test_split_scaled_and_batched() {
    let mut d = load_mnist("t10k");
    assert_eq!(d.images.shape, Shape(vec![2000, 28, 28]));
    let labels = d.labels.as_ref().unwrap();
    assert_eq!(histogram(labels), [187, 200, 206, 188, 199, 185, 213, 223, 196, 203]);
    assert_eq!(histogram(labels).iter().sum::<usize>(), 2000);
    d.check_labels(10).unwrap();
    let e = d.check_labels(9).unwrap_err();
    assert_eq!(e.code, Code::LABEL_RANGE);
    assert!(e.message.contains("t10k-labels-idx1-ubyte.gz"), "{}", e.message);

    d.scale(1.0 / 255.0);
    assert!(d.images.data.iter().all(|&v| (0.0..=1.0).contains(&v)));
    d.reshape_samples(&[1, 28, 28]).unwrap();

    let batches = Batches::new(d.len(), 64, 42, 0, true);
    assert_eq!(batches.len(), 32); // 31 full batches and one of 16
    let mut seen = 0;
    for idx in batches.iter() {
        let (x, y) = d.gather_batch(idx);
        assert_eq!(x.shape.dims()[1..], [1, 28, 28]);
        assert_eq!(y.unwrap().shape, Shape(vec![idx.len()]));
        seen += idx.len();
    }
    assert_eq!(seen, 2000);
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

fn idx(ty: u8, dims: &[u32], body: &[u8]) -> Vec<u8> {
    let mut b = vec![0, 0, ty, dims.len() as u8];
    for d in dims {
        b.extend(d.to_be_bytes());
    }
    b.extend(body);
    b
}

/// Writes `bytes` as `name` in `dir`, and a gzip copy as `name.gz`.
fn write_both(dir: &Path, name: &str, bytes: &[u8]) -> [PathBuf; 2] {
    let plain = dir.join(name);
    let gz = dir.join(format!("{name}.gz"));
    std::fs::write(&plain, bytes).unwrap();
    std::fs::write(&gz, gzip(bytes)).unwrap();
    [plain, gz]
}

#[track_caller]
fn assert_diag(res: Result<Dataset, Diagnostic>, code: Code, file: &str, expect: &[&str]) {
    let e = res.unwrap_err();
    assert_eq!(e.code, code, "{e:?}");
    assert!(e.message.contains(file), "{:?} does not name {file}", e.message);
    assert!(e.help.is_some(), "{e:?} has no help line");
    let all = format!("{} {}", e.message, e.notes.join(" "));
    for s in expect {
        assert!(all.contains(s), "{all:?} lacks {s:?}");
    }
}

#[test]
fn tiny_idx_round_trips_plain_and_gzip() {
    let dir = tempfile::tempdir().unwrap();
    let xs =
        write_both(dir.path(), "x.idx", &idx(0x08, &[3, 2, 2], &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 255]));
    let ys = write_both(dir.path(), "y.idx", &idx(0x08, &[3], &[2, 0, 1]));
    for x in &xs {
        for y in &ys {
            let d = load_idx(x, Some(y)).unwrap();
            assert_eq!(d.images.shape, Shape(vec![3, 2, 2]));
            assert_eq!(d.images.data[11], 255.0);
            assert_eq!(d.labels.as_ref().unwrap().data, [2., 0., 1.]);
            assert_eq!(d.labels_path.as_deref(), Some(y.as_path()));
        }
    }
    let body: Vec<u8> = [0.5f32, -1.0].iter().flat_map(|v| v.to_be_bytes()).collect();
    let [f, _] = write_both(dir.path(), "f.idx", &idx(0x0D, &[2, 1], &body));
    assert_eq!(data::read_idx(&f).unwrap().data, [0.5, -1.0]);
    assert!(load_idx(&f, None).unwrap().labels.is_none());
}

#[test]
fn bad_idx_files() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let good_y = write_both(d, "y.idx", &idx(0x08, &[2], &[0, 1]))[0].clone();

    let missing = d.join("nope.idx");
    let e = load_idx(&missing, None).unwrap_err();
    assert_eq!(e.code, Code::DATA_FILE);
    assert!(e.message.contains("nope.idx") && e.message.contains("No such file"), "{}", e.message);
    let e = load_idx(&good_y, Some(&missing)).unwrap_err();
    assert!(e.message.contains("nope.idx"));

    let cases: &[(&str, Vec<u8>, &[&str])] = &[
        ("magic.idx", b"\x89PNG\r\n\x1a\n....".to_vec(), &["magic", "00 00"]),
        ("short.idx", idx(0x08, &[2, 2], &[1, 2, 3]), &["truncated", "expected 4 bytes", "found 3"]),
        ("long.idx", idx(0x08, &[2, 2], &[0; 5]), &["trailing", "found 5"]),
        ("bomb.idx", idx(0x08, &[60000, 60000, 60000], &[0; 8]), &["truncated"]),
    ];
    for (name, bytes, expect) in cases {
        for p in write_both(d, name, bytes) {
            assert_diag(load_idx(&p, None), Code::DATA_FORMAT, name, expect);
        }
    }

    let x3 = write_both(d, "x3.idx", &idx(0x08, &[3, 1], &[0; 3]));
    for x in &x3 {
        assert_diag(
            load_idx(x, Some(&good_y)),
            Code::DATA_FORMAT,
            "x3.idx",
            &["y.idx", "3 samples", "2 labels"],
        );
    }

    let gz = gzip(&idx(0x08, &[4], &[1, 2, 3, 4]));
    let p = d.join("cut.idx.gz");
    std::fs::write(&p, &gz[..gz.len() - 4]).unwrap();
    assert_diag(load_idx(&p, None), Code::DATA_FORMAT, "cut.idx.gz", &["gzip"]);
    let mut flipped = gz.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0xFF;
    std::fs::write(&p, &flipped).unwrap();
    assert_eq!(load_idx(&p, None).unwrap_err().code, Code::DATA_FORMAT);
}

#[test]
fn tiny_csv_round_trips_and_bad_rows() {
    let dir = tempfile::tempdir().unwrap();
    let text = "label,p0,p1,p2\n3,0,128,255\n7,1,2,3\n";
    for p in write_both(dir.path(), "d.csv", text.as_bytes()) {
        let d = load_csv(&p, &CsvOptions::default()).unwrap();
        assert_eq!(d.images, Tensor::new(vec![2, 3], vec![0., 128., 255., 1., 2., 3.]));
        assert_eq!(d.labels.as_ref().unwrap().data, [3., 7.]);
    }
    let last = CsvOptions { label_column: LabelColumn::Last, header: None, targets: None };
    let [p, _] = write_both(dir.path(), "last.csv", b"1,2,0\n3,4,1\n");
    assert_eq!(load_csv(&p, &last).unwrap().labels.unwrap().data, [0., 1.]);

    let [p, gz] = write_both(dir.path(), "bad.csv", b"label,a,b\n1,2,3\n4,5,six\n");
    for p in [p, gz] {
        assert_diag(
            load_csv(&p, &CsvOptions::default()),
            Code::DATA_FORMAT,
            "bad.csv",
            &["line 3", "column 3", "`six`"],
        );
    }
    let [p, _] = write_both(dir.path(), "ragged.csv", b"1,2,3\n4,5\n");
    assert_diag(
        load_csv(&p, &CsvOptions::default()),
        Code::DATA_FORMAT,
        "ragged.csv",
        &["line 2", "2 fields", "expected 3"],
    );
    let [p, _] = write_both(dir.path(), "bin.csv", &[0xff, 0xfe, 0x00, 0x31]);
    assert_diag(load_csv(&p, &CsvOptions::default()), Code::DATA_FORMAT, "bin.csv", &["UTF-8"]);
    let e = load_csv(&dir.path().join("none.csv"), &CsvOptions::default()).unwrap_err();
    assert_eq!(e.code, Code::DATA_FILE);
}

#[test]
fn tiny_npy_round_trips_and_bad_files() {
    let dir = tempfile::tempdir().unwrap();
    let x: Vec<u8> = (0..6).flat_map(|i| (i as f32 * 0.5).to_le_bytes()).collect();
    let y: Vec<u8> = [1i64, 0, 9].iter().flat_map(|v| v.to_le_bytes()).collect();
    let xs = write_both(dir.path(), "x.npy", &npy("<f4", "(3, 2)", &x));
    let ys = write_both(dir.path(), "y.npy", &npy("<i8", "(3,)", &y));
    for (xp, yp) in xs.iter().zip(&ys) {
        let d = load_npy(xp, Some(yp)).unwrap();
        assert_eq!(d.images, Tensor::new(vec![3, 2], vec![0., 0.5, 1., 1.5, 2., 2.5]));
        assert_eq!(d.labels.as_ref().unwrap().data, [1., 0., 9.]);
        d.check_labels(10).unwrap();
    }
    let [u8s, _] = write_both(dir.path(), "u.npy", &npy("|u1", "(2, 2)", &[0, 1, 2, 255]));
    assert_eq!(data::read_npy(&u8s).unwrap().data, [0., 1., 2., 255.]);

    let f8: Vec<u8> = [0.25f64, 4.0].iter().flat_map(|v| v.to_le_bytes()).collect();
    let [p, _] = write_both(dir.path(), "f8.npy", &npy("<f8", "(2,)", &f8));
    assert_eq!(data::read_npy(&p).unwrap().data, [0.25, 4.0]);
    let [p, _] = write_both(dir.path(), "i4.npy", &npy("<i4", "(1,)", &(-4i32).to_le_bytes()));
    assert_eq!(data::read_npy(&p).unwrap().data, [-4.0]);

    let y2 = write_both(dir.path(), "y2.npy", &npy("<i8", "(2,)", &y[..16]))[0].clone();
    assert_diag(load_npy(&xs[0], Some(&y2)), Code::DATA_FORMAT, "y2.npy", &["3 samples", "2 labels"]);
    let [p, _] = write_both(dir.path(), "c.npy", &npy("<c8", "(1,)", &[0; 8]));
    assert_diag(load_npy(&p, None), Code::DATA_FORMAT, "c.npy", &["'<c8'"]);
    // The same six values, stored column by column, read back in rows.
    let mut f =
        npy("<f4", "(3, 2)", &[0, 2, 4, 1, 3, 5].map(|i| i as f32 * 0.5).map(f32::to_le_bytes).concat());
    let at = f.windows(5).position(|w| w == b"False").unwrap();
    f[at..at + 5].copy_from_slice(b"True ");
    let [p, _] = write_both(dir.path(), "fortran.npy", &f);
    assert_eq!(data::read_npy(&p).unwrap(), Tensor::new(vec![3, 2], vec![0., 0.5, 1., 1.5, 2., 2.5]));
    let [p, _] = write_both(dir.path(), "short.npy", &npy("<f4", "(3, 2)", &x[..20]));
    assert_diag(load_npy(&p, None), Code::DATA_FORMAT, "short.npy", &["truncated", "expected 24 bytes"]);
}

fn npy_fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/npy").join(name)
}

/// `tests/data/npy/expected.json`, written with the arrays by
/// `tests/fixtures/gen_npy_layouts.py`.
fn npy_manifest() -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(npy_fixture("expected.json")).unwrap()).unwrap()
}

#[test]
fn every_numpy_layout_loads_in_row_major_order() {
    let manifest = npy_manifest();
    let loads = manifest["loads"].as_object().unwrap();
    assert!(loads.len() >= 39, "{} layouts", loads.len());
    let dir = tempfile::tempdir().unwrap();
    for (name, want) in loads {
        let dims: Vec<usize> =
            want["shape"].as_array().unwrap().iter().map(|d| d.as_u64().unwrap() as usize).collect();
        let values: Vec<f32> =
            want["values"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect();
        let want = Tensor { shape: Shape(dims), data: values };
        let got = data::read_npy(&npy_fixture(name)).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        assert_eq!(got, want, "{name}");
        if !name.contains(".npz") {
            let gz = dir.path().join(format!("{name}.gz"));
            std::fs::write(&gz, gzip(&std::fs::read(npy_fixture(name)).unwrap())).unwrap();
            assert_eq!(data::read_npy(&gz).unwrap(), want, "{name}.gz");
        }
    }
}

#[test]
fn non_numeric_numpy_dtypes_are_e0602_naming_the_dtype() {
    let manifest = npy_manifest();
    let unsupported = manifest["unsupported"].as_object().unwrap();
    assert_eq!(unsupported.len(), 5);
    for (name, why) in unsupported {
        let res = load_npy(&npy_fixture(name), None);
        assert_diag(res, Code::DATA_FORMAT, name, &["unsupported NPY dtype", why.as_str().unwrap()]);
        let help = data::read_npy(&npy_fixture(name)).unwrap_err().help.unwrap();
        assert!(help.contains("a.astype(np.float32)"), "{help}");
    }
}

#[test]
fn npz_arrays_are_named_after_a_colon() {
    for archive in ["arrays.npz", "arrays_compressed.npz"] {
        let (x, y) = (npy_fixture(&format!("{archive}:x")), npy_fixture(&format!("{archive}:y")));
        let d = load_npy(&x, Some(&y)).unwrap();
        assert_eq!(d.images.shape, Shape(vec![3, 4]));
        assert_eq!(d.labels.unwrap().data, [2., 0., 1.]);
        assert_diag(
            load_npy(&npy_fixture(archive), None),
            Code::DATA_FORMAT,
            archive,
            &["`x`, `y`", ":NAME"],
        );
        let z = npy_fixture(&format!("{archive}:z"));
        assert_diag(
            load_npy(&z, None),
            Code::DATA_FORMAT,
            &format!("{archive}:z"),
            &["no array `z`", "`x`, `y`"],
        );
    }
    let e = data::read_npy(&npy_fixture("missing.npz:x")).unwrap_err();
    assert_eq!(e.code, Code::DATA_FILE);
    assert!(e.message.contains("missing.npz"), "{}", e.message);
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("fake.npz");
    std::fs::write(&fake, b"PK\x03\x04 but no zip").unwrap();
    assert_diag(
        load_npy(&dir.path().join("fake.npz:x"), None),
        Code::DATA_FORMAT,
        "fake.npz",
        &["not an NPZ archive"],
    );
}

#[test]
fn csv_quoting_crlf_and_header_setting() {
    let dir = tempfile::tempdir().unwrap();
    let quoted = "\"label\",\"width, cm\",\"height \"\"cm\"\"\"\r\n\"1\",\"0.5\",2\r\n0,\" 3 \",4\r\n";
    let [p, gz] = write_both(dir.path(), "quoted.csv", quoted.as_bytes());
    for p in [p, gz] {
        let d = load_csv(&p, &CsvOptions::default()).unwrap();
        assert_eq!(d.images, Tensor::new(vec![2, 2], vec![0.5, 2., 3., 4.]));
        assert_eq!(d.labels.unwrap().data, [1., 0.]);
    }
    let [p, _] = write_both(dir.path(), "comma.csv", b"1,2,3\r\n4,\"5,5\",6\r\n");
    assert_diag(
        load_csv(&p, &CsvOptions::default()),
        Code::DATA_FORMAT,
        "comma.csv",
        &["line 2, column 2", "`5,5`"],
    );

    // A numeric-looking first line is data unless `header = true` says otherwise.
    let [p, _] = write_both(dir.path(), "numeric.csv", b"7,8,9\n1,2,3\n");
    let opts = |header| CsvOptions { header, ..CsvOptions::default() };
    assert_eq!(load_csv(&p, &opts(None)).unwrap().len(), 2);
    assert_eq!(load_csv(&p, &opts(Some(false))).unwrap().len(), 2);
    let d = load_csv(&p, &opts(Some(true))).unwrap();
    assert_eq!(d.images.data, [2., 3.]);
    let [p, _] = write_both(dir.path(), "named.csv", b"y,a\n1,2\n");
    assert_eq!(load_csv(&p, &opts(Some(true))).unwrap().len(), 1);
    assert_diag(
        load_csv(&p, &opts(Some(false))),
        Code::DATA_FORMAT,
        "named.csv",
        &["line 1, column 1", "`y`"],
    );
}

/// Any byte, or one that keeps a header a Python literal more often than not.
fn npy_byte() -> impl Strategy<Value = u8> {
    prop_oneof![any::<u8>(), prop::sample::select(b"()[]{}'\",:0123456789-e TrueFalse<>|fiubcOU".to_vec())]
}

#[test]
fn csv_header_setting_reaches_the_loader() {
    let program = |header: &str| {
        format!(
            "model M {{
                fc = Linear(2, 3)
                fn forward(x: [B, 2]) -> [B, 3] {{ fc(x) }}
            }}
            data d {{ train = csv(\"d.csv\"{header}) }}
            train M on d {{
                loss = cross_entropy
                optimizer = sgd(lr = 0.1)
            }}"
        )
    };
    for (header, want, n) in
        [("", None, 3), (", header = false", Some(false), 3), (", header = true", Some(true), 2)]
    {
        let (dir, _, cfg) = common::files::load(&program(header));
        match &cfg.data.train {
            nnc::sema::blocks::Source::Csv { header, .. } => assert_eq!(*header, want),
            other => panic!("{other:?}"),
        }
        common::files::write(dir.path(), "d.csv", "1,0.5,0.25\n2,1,2\n0,3,4\n");
        let ex = nnc::train::trainer::load_source(&cfg.data.train, &cfg.data, dir.path()).unwrap();
        assert_eq!(ex.len(), n, "{header}");
    }

    let dir = tempfile::tempdir().unwrap();
    let file = common::files::write(dir.path(), "m.nn", &program(", header = \"yes\""));
    let (prog, diags) = nnc::sema::Program::load_root(&file, &mut nnc::cli::FsLoader);
    let (cfg, check) = nnc::sema::blocks::check_train(&prog, &prog.trains[0]);
    assert!(cfg.is_none());
    let all: Vec<_> = diags.iter().chain(&check).map(|d| d.message.clone()).collect();
    assert!(all.iter().any(|m| m.contains("`header` must be true or false")), "{all:?}");
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 300,
        rng_seed: RngSeed::Fixed(0x6e7079),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// A real file with bytes overwritten (mostly in the header) and perhaps
    /// cut short loads or fails with E0602, never panics.
    #[test]
    fn mutated_npy_files_never_panic(
        which in 0..3usize,
        edits in prop::collection::vec((0.0..1.0f64, npy_byte(), any::<bool>()), 1..8),
        keep in 0.5..1.5f64,
    ) {
        let name = ["f8_be_fortran.npy", "i2_be_fortran_3d.npy", "scalar_f8_le.npy"][which];
        let mut bytes = std::fs::read(npy_fixture(name)).unwrap();
        for (at, byte, in_header) in edits {
            let span = if in_header { bytes.len().min(128) } else { bytes.len() };
            let i = ((at * span as f64) as usize).min(bytes.len() - 1);
            bytes[i] = byte;
        }
        bytes.truncate((keep * bytes.len() as f64) as usize);
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.npy");
        std::fs::write(&p, &bytes).unwrap();
        match data::read_npy(&p) {
            Ok(t) => prop_assert_eq!(t.data.len(), t.shape.dims().iter().product::<usize>()),
            Err(e) => {
                prop_assert_eq!(e.code, Code::DATA_FORMAT, "{:?}", e);
                prop_assert!(e.message.contains("m.npy") && e.help.is_some(), "{:?}", e);
            }
        }
    }
}

#[test]
fn checkpoint_round_trip_and_mismatch() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("mlp.safetensors");
    let params = vec![
        ("fc1.weight".to_string(), Tensor::new(vec![2, 2], vec![0.1, 0.2, 0.3, 0.4])),
        ("fc1.bias".to_string(), Tensor::new(vec![2], vec![-1.0, 1.0])),
    ];
    checkpoint::save(&p, &params).unwrap();
    let loaded = checkpoint::load(&p).unwrap();
    let expected: Vec<(String, Shape)> = params.iter().map(|(n, t)| (n.clone(), t.shape.clone())).collect();
    assert_eq!(checkpoint::check_against(loaded.clone(), &expected, &p).unwrap(), params);

    let other = vec![("fc1.weight".to_string(), Shape(vec![3, 2]))];
    let e = checkpoint::check_against(loaded, &other, &p).unwrap_err();
    assert_eq!(e.code, Code::CHECKPOINT);
    assert!(e.message.contains("mlp.safetensors"));
    assert_eq!(e.notes.len(), 2, "{:?}", e.notes);

    let nowhere = dir.path().join("missing_dir/mlp.safetensors");
    assert_eq!(checkpoint::save(&nowhere, &params).unwrap_err().code, Code::WRITE);
    assert!(!dir.path().join("missing_dir").exists());
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, ["mlp.safetensors"]);
}
