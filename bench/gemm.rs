//! GEMM throughput on this machine, single-threaded, for the shapes the
//! seed models use and two squares:
//! - `matrixmultiply::sgemm` called directly, with the right operand
//!   row-major (`B`) and transposed (`B^T`, as a linear layer's weight is
//!   read);
//! - nnc's AVX-512 kernel (`nnc::backend::cpu::sgemm`) on the same two
//!   layouts, packing the transposed operand on every call;
//! - nnc's CPU back end on a graph holding one `matmul` (the same sgemm
//!   plus the executable's per-step overhead);
//! - nnc's CPU back end on the same product written as broadcast multiply
//!   and sum (`sum(a[m,1,k] * b[1,n,k], axis 2)`), which the fusion pass
//!   turns into one generated Cranelift loop kernel: a vectorised FMA dot
//!   product per output element, without the register blocking and packing
//!   of a tuned GEMM.
//!
//! `cargo run --release --example gemm_bench`

use std::time::Instant;

use nnc::backend::Env;
use nnc::backend::Tensor;
use nnc::backend::cpu::{Cpu, sgemm};
use nnc::graph::{BinaryOp, DType, Graph, Op, ReduceOp, Shape};

fn best_seconds(mut f: impl FnMut(), reps: usize) -> f64 {
    f();
    (0..reps)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

fn main() {
    let shapes = [
        (64, 784, 128),
        (128, 64, 784),
        (576, 288, 64),
        (36864, 288, 64),
        (1024, 512, 1536),
        (1024, 2048, 512),
        (256, 256, 256),
        (1024, 1024, 1024),
    ];
    println!("single thread, GFLOP/s");
    println!(
        "{:>18} {:>10} {:>10} {:>10} {:>10} {:>11} {:>14}",
        "m x k x n", "mm B", "mm B^T", "nnc B", "nnc B^T", "nnc matmul", "nnc generated"
    );
    for (m, k, n) in shapes {
        let flops = 2.0 * (m * k * n) as f64;
        let a: Vec<f32> = (0..m * k).map(|i| (i % 7) as f32 * 0.1).collect();
        let b: Vec<f32> = (0..k * n).map(|i| (i % 5) as f32 * 0.1).collect();
        let mut c = vec![0.0f32; m * n];
        let reps = if flops > 1e9 { 3 } else { 20 };
        let direct = best_seconds(
            || unsafe {
                matrixmultiply::sgemm(
                    m,
                    k,
                    n,
                    1.0,
                    a.as_ptr(),
                    k as isize,
                    1,
                    b.as_ptr(),
                    n as isize,
                    1,
                    0.0,
                    c.as_mut_ptr(),
                    n as isize,
                    1,
                )
            },
            reps,
        );
        let bt: Vec<f32> = (0..k * n).map(|i| b[(i % k) * n + i / k]).collect();
        let mm_t = best_seconds(
            || unsafe {
                matrixmultiply::sgemm(
                    m,
                    k,
                    n,
                    1.0,
                    a.as_ptr(),
                    k as isize,
                    1,
                    bt.as_ptr(),
                    1,
                    k as isize,
                    0.0,
                    c.as_mut_ptr(),
                    n as isize,
                    1,
                )
            },
            reps,
        );
        let ours = |b: &[f32], rsb: isize, csb: isize, c: &mut [f32]| {
            if !sgemm::available() {
                return f64::NAN;
            }
            let mut buf = vec![0.0f32; sgemm::packed_len(k, n)];
            best_seconds(
                || unsafe {
                    let right = if csb == 1 {
                        sgemm::Right::direct(b.as_ptr(), rsb)
                    } else {
                        sgemm::pack(k, n, b.as_ptr(), rsb, csb, buf.as_mut_ptr());
                        sgemm::Right::packed(buf.as_ptr(), k)
                    };
                    sgemm::gemm(m, k, n, a.as_ptr(), k as isize, 1, right, c.as_mut_ptr(), n, false)
                },
                reps,
            )
        };
        let ours_b = ours(&b, n as isize, 1, &mut c);
        let ours_t = ours(&bt, 1, k as isize, &mut c);
        let mut env = Env::new(0);
        env.inputs.insert("a".into(), Tensor::new(vec![m, k], a.clone()));
        env.inputs.insert("b".into(), Tensor::new(vec![k, n], b.clone()));
        let mut g = Graph::new();
        let ia = g.add(Op::Input { name: "a".into() }, &[], Shape(vec![m, k]), DType::F32, None);
        let ib = g.add(Op::Input { name: "b".into() }, &[], Shape(vec![k, n]), DType::F32, None);
        let y = g.matmul(ia, ib);
        g.add_output("y", y);
        let mut exe = nnc::backend::compile(&Cpu::new(1), &g).expect("compiles");
        let via_nnc = best_seconds(|| drop(exe.run(&mut env, false).expect("runs")), reps);
        let generated = if flops <= 2e9 {
            let mut g = Graph::new();
            let ia = g.add(Op::Input { name: "a".into() }, &[], Shape(vec![m, k]), DType::F32, None);
            let ib = g.add(Op::Input { name: "b".into() }, &[], Shape(vec![k, n]), DType::F32, None);
            let a3 = g.reshape(ia, Shape(vec![m, 1, k]));
            let a3 = g.broadcast_to(a3, &Shape(vec![m, n, k]));
            let bt = g.transpose_last(ib);
            let b3 = g.reshape(bt, Shape(vec![1, n, k]));
            let b3 = g.broadcast_to(b3, &Shape(vec![m, n, k]));
            let p = g.binary(BinaryOp::Mul, a3, b3);
            let s = g.reduce(ReduceOp::Sum, p, &[2]);
            g.add_output("y", s);
            let mut exe = nnc::backend::compile(&Cpu::new(1), &g).expect("compiles");
            let t = best_seconds(|| drop(exe.run(&mut env, false).expect("runs")), reps.min(5));
            format!("{:14.1}", flops / t / 1e9)
        } else {
            format!("{:>14}", "-")
        };
        let gf = |t: f64| flops / t / 1e9;
        println!(
            "{:>18} {:10.1} {:10.1} {:10.1} {:10.1} {:11.1} {generated}",
            format!("{m}x{k}x{n}"),
            gf(direct),
            gf(mm_t),
            gf(ours_b),
            gf(ours_t),
            gf(via_nnc)
        );
    }
}
