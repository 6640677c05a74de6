//! Measures simulator throughput on the tiled matrix multiply of the test data:
//! `cargo run --release -p ptxsim --example throughput [size]`.

use std::time::Instant;

use ptxsim::{Arg, Device, LaunchOptions, Module};

fn main() {
    let size: usize = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(128);
    let src = include_str!("../tests/data/matmul_tiled.ptx");
    let module = Module::parse(src).expect("matmul_tiled.ptx parses");
    let mut dev = Device::new();
    let data: Vec<f32> = (0..size * size).map(|i| (i % 7) as f32 - 3.0).collect();
    let a = dev.alloc_f32(&data);
    let b = dev.alloc_f32(&data);
    let c = dev.alloc(size * size * 4);
    let n = size as u32;
    let args = [Arg::U64(a), Arg::U64(b), Arg::U64(c), Arg::U32(n), Arg::U32(n), Arg::U32(n)];
    let grid = [n.div_ceil(16), n.div_ceil(16), 1];
    let opts = LaunchOptions { seed: 0, max_instructions: u64::MAX };
    let start = Instant::now();
    let stats = dev.launch(&module, "matmul_tiled", grid, [16, 16, 1], &args, &opts).expect("launch");
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{size}^3 matmul: {} instructions, {} FMAs, {:.3} s, {:.1} M instructions/s",
        stats.instructions,
        size * size * size,
        secs,
        stats.instructions as f64 / secs / 1e6
    );
}
