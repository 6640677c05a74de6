//! Differential tests: the CPU back end against the reference interpreter
//! on every op, on random graphs (forward values and gradients), and on
//! training steps.
//!
//! Tolerance: the JIT reorders float arithmetic in exactly three ways:
//! `matrixmultiply` blocks and vectorises its dot products, a reduction
//! vectorised along its reduced axis keeps four partial sums combined at the
//! end, and `a * b + c` becomes one fused multiply-add (one rounding instead
//! of two). Each changes a result by a few ulps of the terms summed, so for
//! sums of n terms of magnitude up to M the difference is bounded by about
//! `n · ε · M` with `ε = 2^-24`; with `n <= 1000` and inputs near 1 that is
//! below 1e-4. `RTOL = 1e-4` and `ATOL = 1e-5` (times the largest magnitude
//! in the tensor, when that exceeds 1) leave margin while still catching
//! any wrong index, which gives differences of order 1. Elementwise
//! operations and transcendentals call the same Rust functions as the
//! interpreter, so graphs without reductions match exactly apart from FMA.

use nnc::backend::cpu::Cpu;
use nnc::graph::{BinaryOp, DType, Graph, NodeId, Op, ReduceOp, Shape, SliceRange, UnaryOp};
use nnc::runtime::Tensor;
use nnc::runtime::exec::Backend;
use nnc::runtime::interp::{self, Env};
use nnc::runtime::rng::Rng;

const RTOL: f32 = 1e-4;
const ATOL: f32 = 1e-5;

/// A graph under construction with the environment that feeds it.
struct Case {
    g: Graph,
    env: Env,
    rng: Rng,
}

impl Case {
    fn new(seed: u64) -> Case {
        Case { g: Graph::new(), env: Env::new(seed), rng: Rng::new(seed) }
    }

    fn input(&mut self, name: &str, dims: &[usize]) -> NodeId {
        let n = dims.iter().product();
        let data = (0..n).map(|_| self.rng.uniform(-1.0, 1.0)).collect();
        self.input_data(name, dims, data, DType::F32)
    }

    fn positive(&mut self, name: &str, dims: &[usize]) -> NodeId {
        let n = dims.iter().product();
        let data = (0..n).map(|_| self.rng.uniform(0.5, 2.0)).collect();
        self.input_data(name, dims, data, DType::F32)
    }

    fn input_data(&mut self, name: &str, dims: &[usize], data: Vec<f32>, dtype: DType) -> NodeId {
        let shape = Shape(dims.to_vec());
        self.env.inputs.insert(name.into(), Tensor::new(shape.clone(), data));
        self.g.add(Op::Input { name: name.into() }, &[], shape, dtype, None)
    }

    /// Runs both back ends on output `out` and compares.
    #[track_caller]
    fn check(mut self, out: NodeId) {
        self.g.add_output("out", out);
        check_graph(&self.g, &self.env, 1);
        check_graph(&self.g, &self.env, 2);
    }
}

#[track_caller]
fn assert_close(name: &str, want: &Tensor, got: &Tensor) {
    assert_eq!(want.shape, got.shape, "{name}: shapes differ");
    let scale = want.data.iter().fold(1.0f32, |m, x| m.max(x.abs()));
    for (i, (w, g)) in want.data.iter().zip(&got.data).enumerate() {
        let ok = (w.is_nan() && g.is_nan()) || (w - g).abs() <= ATOL * scale + RTOL * w.abs();
        assert!(ok, "{name}[{i}]: interpreter {w}, cpu {g} (shape {})", want.shape);
    }
}

/// Evaluates `g` (a step, with updates) with both back ends and compares
/// outputs and updated state.
#[track_caller]
fn check_graph(g: &Graph, env: &Env, threads: usize) {
    let mut want_env = env.clone();
    let want = interp::step(g, &mut want_env).expect("the interpreter runs the graph");
    let cpu = Cpu::new(threads);
    let mut exe = cpu.compile(g).expect("the cpu back end compiles the graph");
    let mut got_env = env.clone();
    let got = exe.run(&mut got_env, true).expect("the cpu back end runs the graph");
    for (name, id) in g.outputs() {
        assert_close(name, want.get(*id), &got[name]);
    }
    for (name, t) in &want_env.params {
        assert_close(name, t, &got_env.params[name]);
    }
    for (name, t) in &want_env.states {
        assert_close(name, t, &got_env.states[name]);
    }
    assert_eq!(want_env.step, got_env.step);
}

#[test]
fn elementwise_chain() {
    let mut c = Case::new(1);
    let a = c.input("a", &[7, 13]);
    let b = c.positive("b", &[7, 13]);
    let e = c.g.unary(UnaryOp::Exp, a);
    let l = c.g.unary(UnaryOp::Log, b);
    let s = c.g.binary(BinaryOp::Mul, e, l);
    let t = c.g.binary(BinaryOp::Max, s, a);
    c.check(t);
}

#[test]
fn matmul_with_bias_and_relu() {
    let mut c = Case::new(2);
    let x = c.input("x", &[9, 17]);
    let w = c.input("w", &[5, 17]);
    let bias = c.input("b", &[5]);
    let wt = c.g.transpose_last(w);
    let y = c.g.matmul(x, wt);
    let y = c.g.add_(y, bias);
    let zero = c.g.constant(0.0, Shape(vec![]));
    let zero = c.g.broadcast_to(zero, &Shape(vec![9, 5]));
    let r = c.g.binary(BinaryOp::Max, y, zero);
    c.check(r);
}

#[test]
fn softmax_rows() {
    let mut c = Case::new(3);
    let x = c.input("x", &[6, 11]);
    let m = c.g.reduce(ReduceOp::Max, x, &[1]);
    let mb = c.g.broadcast_to(m, &Shape(vec![6, 11]));
    let s = c.g.binary(BinaryOp::Sub, x, mb);
    let e = c.g.unary(UnaryOp::Exp, s);
    let z = c.g.reduce(ReduceOp::Sum, e, &[1]);
    let zb = c.g.broadcast_to(z, &Shape(vec![6, 11]));
    let y = c.g.binary(BinaryOp::Div, e, zb);
    c.check(y);
}

#[test]
fn pad_slice_concat() {
    let mut c = Case::new(4);
    let x = c.input("x", &[2, 3, 5, 6]);
    let p = c.g.pad(x, vec![(0, 0), (0, 0), (1, 2), (2, 1)]);
    let s = c.g.slice(
        p,
        vec![
            SliceRange::full(2),
            SliceRange::full(3),
            SliceRange { start: 1, end: 8, step: 2 },
            SliceRange { start: 0, end: 9, step: 3 },
        ],
    );
    let q = c.g.slice(
        p,
        vec![
            SliceRange::full(2),
            SliceRange::full(3),
            SliceRange { start: 0, end: 4, step: 1 },
            SliceRange { start: 2, end: 5, step: 1 },
        ],
    );
    let cat = c.g.concat(&[s, q], 3);
    c.check(cat);
}

/// Serves one in-memory source file.
struct Source(&'static str);

impl nnc::sema::Loader for Source {
    fn load(&mut self, _: &std::path::Path) -> Result<String, String> {
        Ok(self.0.to_string())
    }
}

/// The training step of `src`'s train block at its batch size, with
/// initial parameters, zeroed state and random inputs.
fn training_step(src: &'static str, seed: u64) -> (Graph, Env) {
    let (prog, diags) = nnc::sema::Program::load_root(std::path::Path::new("model.nn"), &mut Source(src));
    assert!(diags.is_empty(), "{diags:?}");
    let (cfg, diags) = nnc::sema::train::check_train(&prog, &prog.trains[0]);
    let cfg = cfg.unwrap_or_else(|| panic!("{diags:?}"));
    let step = nnc::train::build_step(&prog, &cfg, cfg.batch, true).expect("the step builds");
    let mut env = Env::new(seed);
    env.params = nnc::runtime::trainer::init_params(&step.params, seed).into_iter().collect();
    for s in &step.states {
        env.states.insert(s.name.clone(), Tensor::zeros(s.shape.clone()));
    }
    env.states.insert(nnc::train::optim::STEP.into(), Tensor::scalar(0.0));
    env.states.insert(nnc::train::optim::LR.into(), Tensor::scalar(cfg.optimizer.lr() as f32));
    let mut rng = Rng::new(seed ^ 99);
    let bounds = step.token_bounds();
    for input in &step.inputs {
        let mut dims = vec![cfg.batch];
        dims.extend_from_slice(&input.shape.0);
        let n: usize = dims.iter().product();
        let data = match bounds.iter().find(|b| b.input == input.name) {
            Some(b) => (0..n).map(|_| rng.below(b.rows) as f32).collect(),
            None => (0..n).map(|_| rng.next_f32()).collect(),
        };
        env.inputs.insert(input.name.clone(), Tensor::new(dims, data));
    }
    let mut dims = vec![cfg.batch];
    dims.extend_from_slice(&step.target.0);
    let labels = (0..dims.iter().product::<usize>()).map(|_| rng.below(10) as f32).collect();
    env.inputs.insert(nnc::train::TARGET.into(), Tensor::new(dims, labels));
    (step.graph, env)
}

/// Runs `steps` training steps with both back ends from the same start and
/// compares losses and every parameter and state after each.
#[track_caller]
fn check_training(src: &'static str, steps: usize) {
    let (g, env) = training_step(src, 5);
    let mut want_env = env.clone();
    let mut got_env = env;
    let mut exe = Cpu::new(2).compile(&g).expect("compiles");
    for step in 0..steps {
        let want = interp::step(&g, &mut want_env).expect("interpreter step");
        let got = exe.run(&mut got_env, true).expect("cpu step");
        assert_close(&format!("loss at step {step}"), want.output(&g, "loss"), &got["loss"]);
        assert_close(&format!("output at step {step}"), want.output(&g, "output"), &got["output"]);
        for (name, t) in &want_env.params {
            assert_close(&format!("{name} after step {step}"), t, &got_env.params[name]);
        }
        for (name, t) in &want_env.states {
            assert_close(&format!("{name} after step {step}"), t, &got_env.states[name]);
        }
    }
}

const SMALL_MLP: &str = r#"
model Mlp {
    fc1 = Linear(20, 16)
    fc2 = Linear(16, 10)
    fn forward(x: [B, 20]) -> [B, 10] {
        fc2(relu(fc1(x)))
    }
}
data d { train = idx("none-images", "none-labels") }
train Mlp on d {
    loss = cross_entropy
    optimizer = adam(lr = 0.01)
    batch = 8
    epochs = 1
}
"#;

const SMALL_CNN: &str = r#"
model Cnn {
    conv1 = Conv2d(1, 4, 3)
    conv2 = Conv2d(4, 6, 3, padding = 1)
    fc1   = Linear(54, 16)
    fc2   = Linear(16, 10)
    fn forward(x: [B, 1, 8, 8]) -> [B, 10] {
        let h = relu(conv1(x))
        h = relu(conv2(h))
        h = max_pool2d(h, 2)
        h = dropout(h, 0.25)
        h = flatten(h)
        h = relu(fc1(h))
        h = dropout(h, 0.5)
        log_softmax(fc2(h), axis = 1)
    }
}
data d { train = idx("none-images", "none-labels") }
train Cnn on d {
    loss = nll
    optimizer = sgd(lr = 0.05, momentum = 0.9)
    batch = 4
    epochs = 1
}
"#;

#[test]
fn mlp_training_matches_the_interpreter() {
    check_training(SMALL_MLP, 3);
}

#[test]
fn cnn_training_matches_the_interpreter() {
    check_training(SMALL_CNN, 3);
}
