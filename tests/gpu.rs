//! Checks that need an NVIDIA GPU, so they are ignored by default and
//! built only with the `cuda` feature. `bench/gpu_check.sh` runs them with
//! the rest of the GPU run:
//!
//!     cargo test --release --features cuda --test gpu -- --ignored --nocapture
//!
//! Without a GPU the simulator tests (`tests/cuda_sim.rs`) check what the
//! PTX computes; these check that a real device computes the same, and
//! how fast.

#![cfg(feature = "cuda")]
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Instant;

use common::Case;
use common::training::training_step;
use nnc::backend::cpu::Cpu;
use nnc::backend::cuda::{Arch, Cuda, DriverDevice};
use nnc::backend::{Env, Tensor};

fn cuda() -> Cuda<DriverDevice> {
    Cuda::new(Arch::Sm90, DriverDevice::open)
}

/// The largest difference of `got` from `want`, relative to
/// `max(|want|, 1)`.
fn worst(want: &Tensor, got: &Tensor) -> f32 {
    want.data.iter().zip(&got.data).map(|(w, g)| (w - g).abs() / w.abs().max(1.0)).fold(0.0, f32::max)
}

/// 20 training steps of the seed MLP and CNN on the GPU and on the CPU back
/// end from the same initial weights and batch: every loss within 1e-4
/// relative, every weight within 1e-3 after the last step.
#[test]
#[ignore = "needs an NVIDIA GPU"]
fn twenty_steps_of_the_seed_mlp_and_cnn_match_the_cpu() {
    let examples = [
        ("mnist_mlp", include_str!("../examples/mnist_mlp.nn")),
        ("mnist_cnn", include_str!("../examples/mnist_cnn.nn")),
    ];
    for (name, src) in examples {
        let (g, env) = training_step(src, 7);
        let mut cpu_env: Env = env.clone();
        let mut gpu_env = env;
        let mut cpu = nnc::backend::compile(&Cpu::new(1), &g).unwrap();
        let mut gpu = nnc::backend::compile(&cuda(), &g).unwrap_or_else(|d| panic!("{}", d.message));
        for step in 0..20 {
            let want = cpu.run(&mut cpu_env, true).unwrap()["loss"].data[0];
            let got = gpu.run(&mut gpu_env, true).unwrap()["loss"].data[0];
            let rel = (want - got).abs() / want.abs().max(1e-6);
            println!("{name} step {step}: cpu loss {want}, cuda loss {got}, relative difference {rel:.2e}");
            assert!(rel <= 1e-4, "{name} step {step}: cpu {want}, cuda {got}");
        }
        gpu.sync(&mut gpu_env).unwrap();
        for (p, t) in &cpu_env.params {
            let w = worst(t, &gpu_env.params[p]);
            println!("{name} {p}: largest weight difference {w:.2e}");
            assert!(w <= 1e-3, "{name} {p} differs by {w}");
        }
    }
}

/// Throughput of 4096 x 4096 x 4096 products: the time of a chain of nine
/// products less that of one, so transfers cancel out.
#[test]
#[ignore = "needs an NVIDIA GPU"]
fn large_product_throughput() {
    let n = 4096;
    let time_chain = |products: usize| {
        let mut c = Case::new(3);
        let x = c.input("x", &[n, n]);
        let w = c.input("w", &[n, n]);
        let mut y = x;
        for _ in 0..products {
            y = c.g.matmul(y, w);
        }
        c.g.add_output("out", y);
        let mut exe = nnc::backend::compile(&cuda(), &c.g).unwrap_or_else(|d| panic!("{}", d.message));
        let mut env = c.env.clone();
        exe.run(&mut env, false).unwrap();
        let mut times: Vec<f64> = (0..5)
            .map(|_| {
                let t0 = Instant::now();
                exe.run(&mut env, false).unwrap();
                t0.elapsed().as_secs_f64()
            })
            .collect();
        times.sort_by(f64::total_cmp);
        times[2]
    };
    let (one, nine) = (time_chain(1), time_chain(9));
    let flops = 8.0 * 2.0 * (n as f64).powi(3);
    let tflops = flops / (nine - one) / 1e12;
    println!("4096^3 product: {tflops:.1} TFLOP/s (chain of 1: {one:.4} s, chain of 9: {nine:.4} s)");
    // Eight more products must take measurably longer, or they did not run.
    assert!(nine > one, "a chain of nine products ran no slower than one ({nine} s vs {one} s)");
}
