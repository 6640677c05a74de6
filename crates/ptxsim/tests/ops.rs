//! Every integer and float instruction variant, run through `tests/data/ops.ptx` on pairs of
//! inputs and compared with Rust's own integer and IEEE f32 operations.

use ptxsim::{Arg, Device, LaunchOptions, Module};

/// Runs `kernel(a, b, out, n)` with one thread per pair; returns `stride` bytes per pair.
fn run(kernel: &str, a: &[u32], b: &[u32], stride: usize) -> Vec<Vec<u8>> {
    let m = Module::parse(include_str!("data/ops.ptx")).unwrap();
    let mut dev = Device::new();
    let (da, db) = (dev.alloc_u32(a), dev.alloc_u32(b));
    let out = dev.alloc(a.len() * stride);
    let args = [Arg::U64(da), Arg::U64(db), Arg::U64(out), Arg::U32(a.len() as u32)];
    let block = (a.len() as u32).div_ceil(32) * 32;
    dev.launch(&m, kernel, [1, 1, 1], [block, 1, 1], &args, &LaunchOptions::default()).unwrap();
    let bytes = dev.read_bytes(out, a.len() * stride).unwrap();
    bytes.chunks(stride).map(<[u8]>::to_vec).collect()
}

fn u32_at(bytes: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(bytes[off..off + 4].try_into().unwrap())
}

fn u64_at(bytes: &[u8], off: usize) -> u64 {
    u64::from_le_bytes(bytes[off..off + 8].try_into().unwrap())
}

fn pseudo_random(n: usize, seed: u64) -> Vec<u32> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (s >> 32) as u32
        })
        .collect()
}

#[test]
fn integer_instructions_match_rust() {
    let mut pairs: Vec<(i32, i32)> = vec![
        (i32::MIN, -1),
        (7, -2),
        (-7, 2),
        (i32::MAX, i32::MAX),
        (-1, 1),
        (0, 33),
        (12345, 31),
        (-9, 64),
        (i32::MIN, 95),
    ];
    let (ra, rb) = (pseudo_random(40, 1), pseudo_random(40, 2));
    pairs.extend(ra.iter().zip(&rb).map(|(&a, &b)| (a as i32, (b | 1) as i32)));
    let a: Vec<u32> = pairs.iter().map(|p| p.0 as u32).collect();
    let b: Vec<u32> = pairs.iter().map(|p| p.1 as u32).collect();
    let got = run("int_ops", &a, &b, 304);
    for (&(x, y), out) in pairs.iter().zip(&got) {
        let (ux, uy) = (x as u32, y as u32);
        let s = uy & 63;
        let shl = |v: u32| if s >= 32 { 0 } else { v << s };
        let expected32: [(usize, u32); 28] = [
            (0, x.wrapping_add(y) as u32),
            (4, x.wrapping_sub(y) as u32),
            (8, x.wrapping_mul(y) as u32),
            (12, ((x as i64 * y as i64) >> 32) as u32),
            (16, ((ux as u64 * uy as u64) >> 32) as u32),
            (20, x.wrapping_div(y) as u32),
            (24, ux / uy),
            (28, x.wrapping_rem(y) as u32),
            (32, ux % uy),
            (36, x.min(y) as u32),
            (40, ux.min(uy)),
            (44, x.max(y) as u32),
            (48, ux.max(uy)),
            (52, ux & uy),
            (56, ux | uy),
            (60, ux ^ uy),
            (64, !ux),
            (68, shl(ux)),
            (72, if s >= 32 { 0 } else { ux >> s }),
            (76, (x >> s.min(31)) as u32),
            (80, x.wrapping_neg() as u32),
            (84, x.wrapping_abs() as u32),
            (88, x.wrapping_mul(y).wrapping_add(x) as u32),
            (92, (x < y) as u32),
            (96, (ux < uy) as u32),
            (100, (x >= y) as u32),
            (104, (ux >= uy) as u32),
            (108, (x != y) as u32),
        ];
        for (off, want) in expected32 {
            assert_eq!(u32_at(out, off), want, "slot {off} of ({x}, {y})");
        }
        let wx = x as i64 * y as i64;
        let wy = y as i64;
        let t = uy & 127;
        let expected64: [(usize, u64); 22] = [
            (112, wx as u64),
            (120, ux as u64 * uy as u64),
            (128, (wx + x as i64) as u64),
            (136, ux as u64),
            (144, wx.wrapping_div(wy) as u64),
            (152, wx.wrapping_rem(wy) as u64),
            (160, (wx as u64) / (wy as u64)),
            (168, (wx as u64) % (wy as u64)),
            (176, ((wx as i128 * wx as i128) >> 64) as u64),
            (184, ((wx as u64 as u128 * wy as u64 as u128) >> 64) as u64),
            (192, wx.wrapping_mul(wy) as u64),
            (200, if t >= 64 { 0 } else { (wx as u64) << t }),
            (208, (wx >> t.min(63)) as u64),
            (216, if t >= 64 { 0 } else { (wx as u64) >> t }),
            (224, wx.min(wy) as u64),
            (232, (wx as u64).max(wy as u64)),
            (240, wx.wrapping_sub(wy) as u64),
            (248, wx.wrapping_neg() as u64),
            (256, wy.wrapping_abs() as u64),
            (264, !(wx as u64)),
            (272, (wx ^ wy) as u64),
            (296, (ux as u64 * uy as u64).wrapping_add(wx as u64)),
        ];
        for (off, want) in expected64 {
            assert_eq!(u64_at(out, off), want, "slot {off} of ({x}, {y})");
        }
        assert_eq!(u32_at(out, 280), (wx > wy) as u32, "setp.gt.s64 of ({x}, {y})");
        assert_eq!(u32_at(out, 284), (wx as u64 >= wy as u64) as u32, "setp.hs.u64 of ({x}, {y})");
        assert_eq!(u32_at(out, 288), wx as u32, "cvt.u32.u64 of ({x}, {y})");
        assert_eq!(u32_at(out, 292), y as u32, "cvt.s32.s64 of ({x}, {y})");
    }
}

/// `max.f32` as the ISA words it: a NaN operand yields the other, and `+0.0 > -0.0`.
fn ptx_max(a: f32, b: f32) -> f32 {
    if a.is_nan() {
        b
    } else if b.is_nan() {
        a
    } else if a == b {
        if a.is_sign_positive() { a } else { b }
    } else {
        a.max(b)
    }
}

fn flush(x: f32) -> f32 {
    if x.is_subnormal() { 0.0f32.copysign(x) } else { x }
}

/// Whether `got` is `want` exactly (any NaN matching any NaN).
fn same(got: f32, want: f32) -> bool {
    if want.is_nan() { got.is_nan() } else { got.to_bits() == want.to_bits() }
}

#[test]
fn float_instructions_match_rust() {
    let specials = [
        0.0f32,
        -0.0,
        1.0,
        -1.5,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
        1e-40,
        -3e-39,
        f32::MIN_POSITIVE,
        f32::MAX,
        0.1,
        100.25,
    ];
    let mut a = Vec::new();
    let mut b = Vec::new();
    for &x in &specials {
        for &y in &specials {
            a.push(x);
            b.push(y);
        }
    }
    let r = pseudo_random(128, 3);
    for pair in r.chunks(2) {
        // Random bit patterns cover every exponent, subnormals and NaNs included.
        a.push(f32::from_bits(pair[0]));
        b.push(f32::from_bits(pair[1]));
    }
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<u32>>();
    let got = run("float_ops", &bits(&a), &bits(&b), 160);
    for ((&x, &y), out) in a.iter().zip(&b).zip(&got) {
        let f = |off: usize| f32::from_bits(u32_at(out, off));
        let wide = f64::from_bits(u64_at(out, 0));
        let wide_ok = if x.is_nan() { wide.is_nan() } else { wide.to_bits() == (x as f64).to_bits() };
        assert!(wide_ok, "cvt.f64.f32 of {x:e} = {wide:e}");
        let (fx, fy) = (flush(x), flush(y));
        let exact: [(usize, f32, &str); 14] = [
            (8, x + y, "add"),
            (12, x - y, "sub"),
            (16, x * y, "mul"),
            (20, flush(fx * fy), "mul.ftz"),
            (24, x / y, "div"),
            (28, x.mul_add(y, y), "fma"),
            (32, flush(fx.mul_add(fy, fy)), "fma.ftz"),
            (44, x.sqrt(), "sqrt"),
            (48, 1.0 / x, "rcp"),
            (68, ptx_max(fx, fy), "max.ftz"),
            (72, x.trunc(), "cvt.rzi.f32.f32"),
            (76, x.ceil(), "cvt.rpi.f32.f32"),
            (80, x, "cvt.rn.f32.f64 of cvt.f64.f32"),
            (84, flush(fx - fy), "sub.ftz"),
        ];
        for (off, want, what) in exact {
            assert!(same(f(off), want), "{what}({x:e}, {y:e}) = {:e}, want {want:e}", f(off));
        }
        assert_eq!(u32_at(out, 36), x.to_bits() ^ 0x8000_0000, "neg of {x:e}");
        assert_eq!(u32_at(out, 40), x.to_bits() & 0x7FFF_FFFF, "abs of {x:e}");
        let approx: [(usize, f64, &str); 4] = [
            (52, (x as f64).exp2(), "ex2"),
            (56, (x as f64).log2(), "lg2"),
            (60, (x as f64).sin(), "sin"),
            (64, (flush(x) as f64).cos(), "cos.ftz"),
        ];
        for (off, want, what) in approx {
            let g = f(off) as f64;
            let ok = if want.is_nan() {
                g.is_nan()
            } else if want.is_infinite() || want == 0.0 || (want as f32).is_infinite() {
                g == want as f32 as f64
            } else {
                (g - want).abs() <= want.abs() * 2f64.powi(-22) + 1e-45
            };
            assert!(ok, "{what}({x:e}) = {g:e}, want {want:e}");
        }
        let (nan_x, nan_any) = (x.is_nan(), x.is_nan() || y.is_nan());
        let flags: [(usize, bool, &str); 15] = [
            (88, nan_x, "testp.notanumber"),
            (92, !nan_x, "testp.number"),
            (96, x.is_finite(), "testp.finite"),
            (100, x.is_infinite(), "testp.infinite"),
            (104, nan_any, "setp.nan"),
            (108, !nan_any, "setp.num"),
            (112, nan_any || x == y, "setp.equ"),
            (116, nan_any || x != y, "setp.neu"),
            (120, !nan_any && x != y, "setp.ne"),
            (124, nan_any || x >= y, "setp.geu"),
            (128, x <= y, "setp.le"),
            (132, nan_any || x > y, "setp.gtu"),
            (136, fx == fy, "setp.eq.ftz"),
            (140, x < y || x > 0.0, "setp.lt.or"),
            (144, x > y && x > 0.0, "setp.gt.and"),
        ];
        for (off, want, what) in flags {
            assert_eq!(u32_at(out, off), want as u32, "{what}({x:e}, {y:e})");
        }
    }
}
