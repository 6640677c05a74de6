//! Hand-written PTX kernels (in `tests/data/`, each assembled by ptxas) run on the simulator
//! and checked against plain Rust computations of the same result.

use ptxsim::{Arg, Device, LaunchOptions, Module};

fn module(file: &str) -> Module {
    let path = format!("{}/tests/data/{file}", env!("CARGO_MANIFEST_DIR"));
    let src = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    Module::parse(&src).unwrap_or_else(|e| panic!("{file}: {e}"))
}

fn opts(seed: u64) -> LaunchOptions {
    LaunchOptions { seed, ..LaunchOptions::default() }
}

/// Deterministic pseudo-random numbers for inputs.
fn inputs(n: usize, seed: u64) -> Vec<f32> {
    let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((state >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

#[test]
fn vector_add_with_grid_stride_loop_and_guard() {
    let m = module("vector_add.ptx");
    for (n, grid, block) in [(1000usize, 3u32, 128u32), (37, 1, 64), (4096, 8, 256), (5, 2, 32)] {
        let a = inputs(n, 1);
        let b = inputs(n, 2);
        let mut dev = Device::new();
        let (da, db) = (dev.alloc_f32(&a), dev.alloc_f32(&b));
        let dc = dev.alloc(n * 4);
        let args = [Arg::U64(da), Arg::U64(db), Arg::U64(dc), Arg::U32(n as u32)];
        let stats =
            dev.launch(&m, "vector_add", [grid, 1, 1], [block, 1, 1], &args, &opts(n as u64)).unwrap();
        let c = dev.read_f32(dc, n).unwrap();
        let expected: Vec<f32> = a.iter().zip(&b).map(|(x, y)| x + y).collect();
        assert_eq!(c, expected, "n = {n}");
        assert_eq!(stats.blocks, grid as u64);
        assert_eq!(stats.threads_per_block, block);
        assert!(stats.instructions > 10 * n as u64, "{stats:?}");
    }
}

#[test]
fn block_reduction_with_shared_memory_barrier_and_shuffles() {
    let m = module("block_sum.ptx");
    let n = 10_000;
    // Small integers keep every partial sum exact, whatever the order of additions.
    let x: Vec<f32> = (0..n).map(|i| ((i * 7919) % 101) as f32 - 50.0).collect();
    for seed in 0..3 {
        let mut dev = Device::new();
        let dx = dev.alloc_f32(&x);
        let grid = 5;
        let dout = dev.alloc(grid * 4);
        let args = [Arg::U64(dx), Arg::U64(dout), Arg::U32(n as u32)];
        let stats =
            dev.launch(&m, "block_sum", [grid as u32, 1, 1], [256, 1, 1], &args, &opts(seed)).unwrap();
        let partial = dev.read_f32(dout, grid).unwrap();
        for (b, &p) in partial.iter().enumerate() {
            // Block b visits the indices i with (i / 256) % grid == b.
            let expected: f32 = (0..n).filter(|i| (i / 256) % grid == b).map(|i| x[i]).sum();
            assert_eq!(p, expected, "block {b}");
        }
        assert_eq!(partial.iter().sum::<f32>(), x.iter().sum::<f32>());
        assert_eq!(stats.barriers, grid as u64);
        // 8 warps x 5 butterflies, then warp 0 x 3 more, per block.
        assert_eq!(stats.shuffles, grid as u64 * (8 * 5 + 3));
    }
}

/// The naive product, accumulating with one fused multiply-add per term in k order, as the
/// kernel does (its zero padding adds exact zeros).
fn matmul(a: &[f32], b: &[f32], m: usize, n: usize, k: usize) -> Vec<f32> {
    let mut c = vec![0.0f32; m * n];
    for i in 0..m {
        for j in 0..n {
            let mut acc = 0.0f32;
            for kk in 0..k {
                acc = a[i * k + kk].mul_add(b[kk * n + j], acc);
            }
            c[i * n + j] = acc;
        }
    }
    c
}

#[test]
fn tiled_matrix_multiply_matches_naive_product_bit_for_bit() {
    let module = module("matmul_tiled.ptx");
    for (m, n, k, seed) in [(16, 16, 16, 0), (33, 17, 40, 1), (5, 70, 3, 2), (64, 48, 80, 3)] {
        let a = inputs(m * k, 10 + seed);
        let b = inputs(k * n, 20 + seed);
        let mut dev = Device::new();
        let (da, db) = (dev.alloc_f32(&a), dev.alloc_f32(&b));
        let dc = dev.alloc(m * n * 4);
        let args = [
            Arg::U64(da),
            Arg::U64(db),
            Arg::U64(dc),
            Arg::U32(m as u32),
            Arg::U32(n as u32),
            Arg::U32(k as u32),
        ];
        let grid = [n.div_ceil(16) as u32, m.div_ceil(16) as u32, 1];
        let stats = dev.launch(&module, "matmul_tiled", grid, [16, 16, 1], &args, &opts(seed)).unwrap();
        assert_eq!(dev.read_f32(dc, m * n).unwrap(), matmul(&a, &b, m, n, k), "{m}x{n}x{k}");
        let tiles = k.div_ceil(16) as u64;
        assert_eq!(stats.barriers, grid[0] as u64 * grid[1] as u64 * 2 * tiles);
    }
}

#[test]
fn same_seed_same_run_and_any_seed_same_result() {
    let module = module("matmul_tiled.ptx");
    let (m, n, k) = (20, 20, 20);
    let (a, b) = (inputs(m * k, 5), inputs(k * n, 6));
    let run = |seed| {
        let mut dev = Device::new();
        let (da, db) = (dev.alloc_f32(&a), dev.alloc_f32(&b));
        let dc = dev.alloc(m * n * 4);
        let args = [
            Arg::U64(da),
            Arg::U64(db),
            Arg::U64(dc),
            Arg::U32(m as u32),
            Arg::U32(n as u32),
            Arg::U32(k as u32),
        ];
        let stats = dev.launch(&module, "matmul_tiled", [2, 2, 1], [16, 16, 1], &args, &opts(seed)).unwrap();
        (stats, dev.read_f32(dc, m * n).unwrap())
    };
    assert_eq!(run(7), run(7));
    assert_eq!(run(7).1, run(8).1);
}

#[test]
fn shuffle_modes_follow_the_cuda_intrinsics() {
    let module = module("shuffles.ptx");
    let mut dev = Device::new();
    let threads = 64usize;
    let out = dev.alloc(threads * 48);
    let stats =
        dev.launch(&module, "shuffle_modes", [1, 1, 1], [threads as u32, 1, 1], &[Arg::U64(out)], &opts(3));
    assert_eq!(stats.unwrap().shuffles, 2 * 6);
    let got = dev.read_u32(out, threads * 12).unwrap();
    let v = |t: usize| 10 * t as u32 + 1;
    for t in 0..threads {
        let (warp, lane) = (t / 32 * 32, t % 32);
        // The documented behaviour of __shfl_down_sync / _up_ / _sync / _xor_ with a width.
        let down = |d: usize, w: usize| if lane % w + d < w { (v(t + d), 1) } else { (v(t), 0) };
        let up = |d: usize, w: usize| if lane % w >= d { (v(t - d), 1) } else { (v(t), 0) };
        let idx = |s: usize, w: usize| (v(warp + lane / w * w + s % w), 1);
        let expected = [
            down(1, 8),
            up(2, 8),
            idx(3, 8),
            (v(warp + (lane ^ 5)), 1),
            down(4, 32),
            (v(warp + 31 - lane), 1),
        ];
        let pairs: Vec<(u32, u32)> = got[t * 12..t * 12 + 12].chunks(2).map(|c| (c[0], c[1])).collect();
        assert_eq!(pairs, expected, "thread {t}");
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]

    /// A race-free kernel gives the same result for every configuration and interleaving.
    #[test]
    fn vector_add_any_configuration(n in 0usize..700, grid in 1u32..5, block in 1u32..300, seed: u64) {
        let m = module("vector_add.ptx");
        let (a, b) = (inputs(n, seed), inputs(n, seed ^ 1));
        let mut dev = Device::new();
        let (da, db) = (dev.alloc_f32(&a), dev.alloc_f32(&b));
        let dc = dev.alloc(n * 4);
        let args = [Arg::U64(da), Arg::U64(db), Arg::U64(dc), Arg::U32(n as u32)];
        dev.launch(&m, "vector_add", [grid, 1, 1], [block, 1, 1], &args, &opts(seed)).unwrap();
        let expected: Vec<f32> = a.iter().zip(&b).map(|(x, y)| x + y).collect();
        proptest::prop_assert_eq!(dev.read_f32(dc, n).unwrap(), expected);
    }

    /// The tiled product matches the naive one for any shape, padding tiles included.
    #[test]
    fn matmul_any_shape(m in 1usize..40, n in 1usize..40, k in 1usize..40, seed: u64) {
        let module = module("matmul_tiled.ptx");
        let (a, b) = (inputs(m * k, seed), inputs(k * n, seed ^ 2));
        let mut dev = Device::new();
        let (da, db) = (dev.alloc_f32(&a), dev.alloc_f32(&b));
        let dc = dev.alloc(m * n * 4);
        let args = [Arg::U64(da), Arg::U64(db), Arg::U64(dc), Arg::U32(m as u32), Arg::U32(n as u32), Arg::U32(k as u32)];
        let grid = [n.div_ceil(16) as u32, m.div_ceil(16) as u32, 1];
        dev.launch(&module, "matmul_tiled", grid, [16, 16, 1], &args, &opts(seed)).unwrap();
        proptest::prop_assert_eq!(dev.read_f32(dc, m * n).unwrap(), matmul(&a, &b, m, n, k));
    }
}
