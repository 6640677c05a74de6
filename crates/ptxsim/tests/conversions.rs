//! Conversions, min/max and flush-to-zero through real kernels (`tests/data/conversions.ptx`),
//! against tables of the results the PTX ISA specifies, written out by hand.

use ptxsim::{Arg, Device, LaunchOptions, Module};

fn module() -> Module {
    let src = include_str!("data/conversions.ptx");
    Module::parse(src).unwrap()
}

/// Runs `kernel(input, out, n)` with one thread per input and returns `words` words each.
fn run(kernel: &str, input: &[u8], n: usize, words: usize) -> Vec<u32> {
    let m = module();
    let mut dev = Device::new();
    let din = dev.alloc(input.len());
    dev.write_bytes(din, input).unwrap();
    let out = dev.alloc(n * words * 4);
    let args = [Arg::U64(din), Arg::U64(out), Arg::U32(n as u32)];
    dev.launch(&m, kernel, [1, 1, 1], [32, 1, 1], &args, &LaunchOptions::default()).unwrap();
    dev.read_u32(out, n * words).unwrap()
}

/// An input and its expected cvt.{rni,rzi,rmi,rpi}.s32, cvt.{rzi,rpi}.u32, cvt.rzi.s64 and
/// cvt.{rni,rmi}.f32.f32.
type FloatToInt = (f32, [i32; 4], [u32; 2], i64, [f32; 2]);

#[test]
fn float_to_int_rounds_saturates_and_maps_nan_to_zero() {
    let (imax, imin, umax) = (i32::MAX, i32::MIN, u32::MAX);
    #[rustfmt::skip]
    let table: &[FloatToInt] = &[
        (2.5, [2, 2, 2, 3], [2, 3], 2, [2.0, 2.0]),
        (-2.5, [-2, -2, -3, -2], [0, 0], -2, [-2.0, -3.0]),
        (3.5, [4, 3, 3, 4], [3, 4], 3, [4.0, 3.0]),
        (-0.5, [0, 0, -1, 0], [0, 0], 0, [-0.0, -1.0]),
        (0.49999997, [0, 0, 0, 1], [0, 1], 0, [0.0, 0.0]),
        (f32::NAN, [0, 0, 0, 0], [0, 0], 0, [f32::NAN, f32::NAN]),
        (f32::INFINITY, [imax; 4], [umax; 2], i64::MAX, [f32::INFINITY; 2]),
        (f32::NEG_INFINITY, [imin; 4], [0, 0], i64::MIN, [f32::NEG_INFINITY; 2]),
        (3e9, [imax; 4], [3_000_000_000; 2], 3_000_000_000, [3e9, 3e9]),
        (-3e9, [imin; 4], [0, 0], -3_000_000_000, [-3e9, -3e9]),
        (1e20, [imax; 4], [umax; 2], i64::MAX, [1e20, 1e20]),
        (-0.0, [0; 4], [0, 0], 0, [-0.0, -0.0]),
        (1e-40, [0, 0, 0, 1], [0, 1], 0, [0.0, 0.0]),
        (-1e-40, [0, 0, -1, 0], [0, 0], 0, [-0.0, -1.0]),
        (2147483520.0, [2147483520; 4], [2147483520; 2], 2147483520, [2147483520.0; 2]),
    ];
    let input: Vec<u8> = table.iter().flat_map(|row| row.0.to_le_bytes()).collect();
    let got = run("float_to_int", &input, table.len(), 10);
    for (i, (x, s32, u32s, s64, f)) in table.iter().enumerate() {
        let w = &got[i * 10..i * 10 + 10];
        let got_s32: Vec<i32> = w[..4].iter().map(|&v| v as i32).collect();
        assert_eq!(got_s32, s32, "s32 of {x}");
        assert_eq!(&w[4..6], u32s, "u32 of {x}");
        assert_eq!(w[6] as u64 | (w[7] as u64) << 32, *s64 as u64, "s64 of {x}");
        for (k, want) in f.iter().enumerate() {
            let g = f32::from_bits(w[8 + k]);
            assert!(
                if want.is_nan() { g.is_nan() } else { g.to_bits() == want.to_bits() },
                "f32 {k} of {x}: {g}"
            );
        }
    }
}

#[test]
fn int_to_float_rounding_modes() {
    // y, then cvt.{rn,rz,rm,rp}.f32.s32 and cvt.{rn,rz}.f32.u32 of the same bits.
    #[rustfmt::skip]
    let table: &[(i32, [f32; 6])] = &[
        (0, [0.0; 6]),
        (1, [1.0; 6]),
        (-1, [-1.0, -1.0, -1.0, -1.0, 4294967296.0, 4294967040.0]),
        (16777217, [16777216.0, 16777216.0, 16777216.0, 16777218.0, 16777216.0, 16777216.0]),
        (-16777217, [-16777216.0, -16777216.0, -16777218.0, -16777216.0, 4278190080.0, 4278189824.0]),
        (33554435, [33554436.0, 33554432.0, 33554432.0, 33554436.0, 33554436.0, 33554432.0]),
        (i32::MAX, [2147483648.0, 2147483520.0, 2147483520.0, 2147483648.0, 2147483648.0, 2147483520.0]),
        (i32::MIN, [-2147483648.0, -2147483648.0, -2147483648.0, -2147483648.0, 2147483648.0, 2147483648.0]),
    ];
    let input: Vec<u8> = table.iter().flat_map(|row| row.0.to_le_bytes()).collect();
    let got = run("int_to_float", &input, table.len(), 6);
    for (i, (y, want)) in table.iter().enumerate() {
        let g: Vec<f32> = got[i * 6..i * 6 + 6].iter().map(|&v| f32::from_bits(v)).collect();
        assert_eq!(&g, want, "conversions of {y}");
    }
}

#[test]
fn wide_integers_to_float_and_truncation() {
    // w, then cvt.rz.f32.u64, cvt.rp.f32.u64, cvt.rm.f32.s64 (of w as s64), cvt.u32.u64.
    let two64 = 18446744073709551616.0f32;
    let below = 18446742974197923840.0f32; // 2^64 - 2^40
    #[rustfmt::skip]
    let table: &[(u64, [f32; 3], u32)] = &[
        (u64::MAX, [below, two64, -1.0], u32::MAX),
        (1 << 63, [9223372036854775808.0, 9223372036854775808.0, -9223372036854775808.0], 0),
        ((1 << 40) + 1, [1099511627776.0, 1099511758848.0, 1099511627776.0], 1),
        (12345, [12345.0; 3], 12345),
        (0xFFFF_FFFF_0000_0001, [below, two64, -4294967296.0], 1),
    ];
    let input: Vec<u8> = table.iter().flat_map(|row| row.0.to_le_bytes()).collect();
    let got = run("wide_to_float", &input, table.len(), 4);
    for (i, (w, want, trunc)) in table.iter().enumerate() {
        let g: Vec<f32> = got[i * 4..i * 4 + 3].iter().map(|&v| f32::from_bits(v)).collect();
        assert_eq!(&g, want, "conversions of {w:#x}");
        assert_eq!(got[i * 4 + 3], *trunc, "truncation of {w:#x}");
    }
}

#[test]
fn min_max_nan_rules_copysign_unordered_compare_and_ftz() {
    let nan = f32::NAN;
    let (tiny, tiny2) = (1e-40f32, 2.0 * 1e-40f32);
    // a, b, then min, max, min.NaN, max.NaN, min.ftz, copysign(a, b), setp.ltu, setp.lt,
    // add.ftz, div.rn.
    #[rustfmt::skip]
    let table: &[(f32, f32, [f32; 10])] = &[
        (nan, 1.0, [1.0, 1.0, nan, nan, 1.0, 1.0, 1.0, 0.0, nan, nan]),
        (1.0, nan, [1.0, 1.0, nan, nan, 1.0, nan, 1.0, 0.0, nan, nan]),
        (nan, nan, [nan, nan, nan, nan, nan, nan, 1.0, 0.0, nan, nan]),
        (-0.0, 0.0, [-0.0, 0.0, -0.0, 0.0, -0.0, -0.0, 0.0, 0.0, 0.0, nan]),
        (0.0, -0.0, [-0.0, 0.0, -0.0, 0.0, -0.0, 0.0, 0.0, 0.0, 0.0, nan]),
        (2.0, 3.0, [2.0, 3.0, 2.0, 3.0, 2.0, 3.0, 1.0, 1.0, 5.0, 2.0 / 3.0]),
        (f32::NEG_INFINITY, 5.0, [f32::NEG_INFINITY, 5.0, f32::NEG_INFINITY, 5.0, f32::NEG_INFINITY, -5.0, 1.0, 1.0, f32::NEG_INFINITY, f32::NEG_INFINITY]),
        (tiny, tiny2, [tiny, tiny2, tiny, tiny2, 0.0, tiny2, 1.0, 1.0, 0.0, 0.5]),
        (-tiny, 3.0, [-tiny, 3.0, -tiny, 3.0, -0.0, -3.0, 1.0, 1.0, 3.0, -tiny / 3.0]),
        (-3.0, -0.5, [-3.0, -0.5, -3.0, -0.5, -3.0, -0.5, 1.0, 1.0, -3.5, 6.0]),
    ];
    let m = module();
    let mut dev = Device::new();
    let a: Vec<f32> = table.iter().map(|r| r.0).collect();
    let b: Vec<f32> = table.iter().map(|r| r.1).collect();
    let (da, db) = (dev.alloc_f32(&a), dev.alloc_f32(&b));
    let out = dev.alloc(table.len() * 40);
    let args = [Arg::U64(da), Arg::U64(db), Arg::U64(out), Arg::U32(table.len() as u32)];
    dev.launch(&m, "min_max", [1, 1, 1], [32, 1, 1], &args, &LaunchOptions::default()).unwrap();
    let got = dev.read_f32(out, table.len() * 10).unwrap();
    for (i, (x, y, want)) in table.iter().enumerate() {
        for (k, w) in want.iter().enumerate() {
            let g = got[i * 10 + k];
            let same = if w.is_nan() { g.is_nan() } else { g.to_bits() == w.to_bits() };
            assert!(same, "result {k} of ({x}, {y}): got {g:e}, want {w:e}");
        }
    }
}
