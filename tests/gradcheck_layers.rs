//! Finite-difference checks of every prelude layer and loss, lowered from
//! `.nn` source like user code: autodiff's gradients (evaluated by the
//! interpreter) against central differences of the same graph.
//!
//! The interpreter computes in f32, so the differences use a step of 1e-2 on
//! inputs of order 1 and sum the weighted outputs in f64; the tolerance
//! `|ad - fd| <= 3e-3 * max(1, |fd|max) + 3e-2 * |fd|` leaves about 100x
//! margin over the rounding and truncation error while still catching a
//! wrong factor, sign or routing.

use std::collections::HashMap;

use nnc::autodiff;
use nnc::backend::{Env, interp};
use nnc::graph::semantics::rng::Rng;
use nnc::graph::{DType, Graph, NodeId, Op, Shape};
use nnc::sema::{self, Program};
use nnc::syntax::ast;
use nnc::{backend::Tensor, train::trainer};

const EPS: f32 = 1e-2;

struct Case {
    graph: Graph,
    env: Env,
    /// Nodes (inputs and params) whose gradients are checked, with the env key.
    leaves: Vec<(NodeId, String, bool)>,
    loss: NodeId,
}

/// Lowers `model Test` from `src` with `B = batch`, feeds random inputs and
/// initialised parameters, and appends `loss = sum(output * w)` for a fixed
/// random `w` (or uses the output itself when it is a scalar).
fn case(src: &str, batch: usize, seed: u64, input: impl Fn(&mut Rng, usize) -> f32, vocab: usize) -> Case {
    let (prog, diags) = Program::from_source("test.nn", src);
    assert!(diags.is_empty(), "{diags:?}");
    let model = ast::Expr { kind: ast::ExprKind::Name("Test".into()), span: Default::default() };
    let binding = HashMap::from([("B".to_string(), batch as i64)]);
    let lowered = sema::lower_forward(&prog, &model, &binding, &HashMap::new(), true)
        .unwrap_or_else(|d| panic!("{d:?}"));
    let mut g = lowered.graph;
    let mut env = Env::new(seed);
    let mut rng = Rng::new(seed);
    let mut leaves = Vec::new();
    for (name, id) in &lowered.inputs {
        let shape = g.shape(*id).clone();
        if g.dtype(*id) == DType::I32 {
            // Token ids: integers below `vocab`, no gradient to check.
            let data = (0..shape.numel()).map(|_| (rng.next_f32() * vocab as f32).floor()).collect();
            env.inputs.insert(name.clone(), Tensor::new(shape, data));
            continue;
        }
        let data = (0..shape.numel()).map(|i| input(&mut rng, i)).collect();
        env.inputs.insert(name.clone(), Tensor::new(shape, data));
        leaves.push((*id, name.clone(), true));
    }
    for (name, t) in trainer::init_params(&lowered.params, seed) {
        // Scale initial weights up so outputs are of order 1.
        let t = Tensor::new(t.shape.clone(), t.data.iter().map(|v| v * 3.0).collect());
        env.params.insert(name, t);
    }
    for p in &lowered.params {
        leaves.push((p.node.unwrap(), p.name.clone(), false));
    }
    let out = lowered.output;
    let loss = if g.shape(out).numel() == 1 {
        g.reshape(out, Shape::default())
    } else {
        let shape = g.shape(out).clone();
        let w = g.add(Op::Input { name: "w".into() }, &[], shape.clone(), DType::F32, None);
        let data = (0..shape.numel()).map(|_| rng.uniform(-1.0, 1.0)).collect();
        env.inputs.insert("w".into(), Tensor::new(shape, data));
        let prod = g.mul(out, w);
        let all: Vec<usize> = (0..g.shape(prod).rank()).collect();
        let s = g.reduce(nnc::graph::ReduceOp::Sum, prod, &all);
        g.reshape(s, Shape::default())
    };
    Case { graph: g, env, leaves, loss }
}

fn loss_of(c: &Case, env: &Env) -> f64 {
    interp::eval(&c.graph, env).unwrap().get(c.loss).data[0] as f64
}

#[track_caller]
fn check(src: &str, batch: usize, input: impl Fn(&mut Rng, usize) -> f32) {
    check_with(src, batch, input, 0);
}

/// [`check`] for layers with a ReLU inside, whose kinks a difference step
/// may straddle: the step is 1e-3, and an element whose one-sided
/// differences disagree (a kink lies within the step, where finite
/// differences say nothing about the derivative) is skipped. At most a tenth
/// of each tensor's elements may be skipped, and the seeds are fixed, so
/// the check cannot pass by skipping everything or by luck that changes.
#[track_caller]
fn check_kinked(src: &str, batch: usize, input: impl Fn(&mut Rng, usize) -> f32) {
    check_eps(src, batch, input, 0, 1e-3, true);
}

/// [`check`] for models with integer inputs, fed ids below `vocab`.
#[track_caller]
fn check_with(src: &str, batch: usize, input: impl Fn(&mut Rng, usize) -> f32, vocab: usize) {
    check_eps(src, batch, input, vocab, EPS, false);
}

#[track_caller]
fn check_eps(
    src: &str,
    batch: usize,
    input: impl Fn(&mut Rng, usize) -> f32,
    vocab: usize,
    eps: f32,
    skip_kinks: bool,
) {
    for seed in [1, 2] {
        let mut c = case(src, batch, seed, &input, vocab);
        let wrt: Vec<NodeId> = c.leaves.iter().map(|l| l.0).collect();
        let grads = autodiff::grad(&mut c.graph, c.loss, &wrt).unwrap();
        let values = interp::eval(&c.graph, &c.env).unwrap();
        let centre = loss_of(&c, &c.env);
        for ((_, name, is_input), gid) in c.leaves.iter().zip(&grads) {
            if name == "target" {
                continue;
            }
            let ad = values.get(*gid).data.clone();
            let base = if *is_input { &c.env.inputs[name] } else { &c.env.params[name] };
            let n = base.numel();
            let mut fd = vec![0.0f64; n];
            let mut kinked = vec![false; n];
            for (i, slot) in fd.iter_mut().enumerate() {
                let mut env = Env { ..clone_env(&c.env) };
                let t = if *is_input {
                    env.inputs.get_mut(name).unwrap()
                } else {
                    env.params.get_mut(name).unwrap()
                };
                let orig = t.data[i];
                t.data[i] = orig + eps;
                let up = loss_of(&c, &env);
                let t = if *is_input {
                    env.inputs.get_mut(name).unwrap()
                } else {
                    env.params.get_mut(name).unwrap()
                };
                t.data[i] = orig - eps;
                let down = loss_of(&c, &env);
                *slot = (up - down) / (2.0 * eps as f64);
                let (right, left) = ((up - centre) / eps as f64, (centre - down) / eps as f64);
                kinked[i] = skip_kinks && (right - left).abs() > 0.05 * right.abs().max(left.abs()).max(1.0);
            }
            let n_kinked = kinked.iter().filter(|&&k| k).count();
            assert!(
                n_kinked * 10 <= n,
                "{src}\nseed {seed}: {n_kinked} of {n} elements of {name} sit on kinks"
            );
            let scale = fd.iter().fold(1.0f64, |m, v| m.max(v.abs()));
            for i in (0..n).filter(|&i| !kinked[i]) {
                let (a, f) = (ad[i] as f64, fd[i]);
                assert!(
                    (a - f).abs() <= 3e-3 * scale + 3e-2 * f.abs(),
                    "{src}\nseed {seed}: d loss / d {name}[{i}]: autodiff {a} vs finite differences {f}"
                );
            }
        }
    }
}

fn clone_env(e: &Env) -> Env {
    let mut env = Env::new(e.seed);
    env.inputs = e.inputs.clone();
    env.params = e.params.clone();
    env.states = e.states.clone();
    env.step = e.step;
    env
}

fn normal(r: &mut Rng, _: usize) -> f32 {
    r.normal()
}

/// Values spread far enough apart that max-pooling and ReLU see no ties or kinks.
fn spread(r: &mut Rng, i: usize) -> f32 {
    let sign = if r.next_f32() < 0.5 { -1.0 } else { 1.0 };
    sign * (0.2 + 0.05 * (i % 37) as f32) + 0.001 * r.next_f32()
}

#[test]
fn linear() {
    check("model Test { l = Linear(5, 3)  fn forward(x: [B, 5]) -> [B, 3] { l(x) } }", 2, normal);
    check("model Test { l = Linear(4, 2)  fn forward(x: [B, 3, 4]) -> [B, 3, 2] { l(x) } }", 2, normal);
}

#[test]
fn conv2d() {
    check(
        "model Test { c = Conv2d(2, 3, 3)  fn forward(x: [B, 2, 5, 4]) -> [B, 3, 3, 2] { c(x) } }",
        2,
        normal,
    );
    check(
        "model Test { c = Conv2d(2, 2, 3, stride = 2, padding = 1)
                      fn forward(x: [B, 2, 5, 5]) -> [B, 2, 3, 3] { c(x) } }",
        1,
        normal,
    );
}

#[test]
fn layer_norm() {
    check("model Test { n = LayerNorm(5)  fn forward(x: [B, 5]) -> [B, 5] { n(x) } }", 3, normal);
}

#[test]
fn pooling_and_activations() {
    check("model Test { fn forward(x: [B, 2, 4, 6]) -> [B, 2, 2, 3] { max_pool2d(x, 2) } }", 2, spread);
    check(
        "model Test { fn forward(x: [B, 1, 5, 5]) -> [B, 1, 2, 2] { max_pool2d(x, 3, stride = 2) } }",
        2,
        spread,
    );
    check("model Test { fn forward(x: [B, 1, 4, 4]) -> [B, 1, 2, 2] { avg_pool2d(x, 2) } }", 2, normal);
    check(
        "model Test { fn forward(x: [B, 6]) -> [B, 6] { relu(x) + sigmoid(x) + tanh(x) + silu(x) } }",
        3,
        spread,
    );
    check("model Test { fn forward(x: [B, 6]) -> [B, 6] { softmax(x) } }", 3, normal);
    check("model Test { fn forward(x: [B, 6]) -> [B, 6] { log_softmax(x, axis = 1) } }", 3, normal);
    check("model Test { fn forward(x: [B, 2, 3]) -> [B, 6] { flatten(x) * 2.0 } }", 2, normal);
}

#[test]
fn dropout_uses_a_fixed_mask_per_step() {
    check(
        "model Test { l = Linear(8, 8)  fn forward(x: [B, 8]) -> [B, 8] { dropout(l(x), 0.5) } }",
        4,
        normal,
    );
}

#[test]
fn losses() {
    // Labels are computed from `x` so they are constant (`one_hot` has no gradient).
    check(
        "model Test { l = Linear(3, 4)  fn forward(x: [B, 3]) -> [] { mse(l(x), x[:, 0:1] * 0.5) } }",
        3,
        normal,
    );
    check(
        "model Test { l = Linear(3, 4)
            fn forward(x: [B, 3]) -> [] { nll(log_softmax(l(x), axis = 1), one_hot_labels(x)) } }
         fn one_hot_labels(x: [B, 3]) -> [B] { sum(x * 0.0, axis = 1) + 2.0 }",
        3,
        normal,
    );
    check(
        "model Test { l = Linear(3, 4)
            fn forward(x: [B, 3]) -> [] { cross_entropy(l(x), sum(x * 0.0, axis = 1) + 1.0) } }",
        3,
        normal,
    );
}

// ------------------------------------------------------------ sequence layers

#[test]
fn embedding_accumulates_repeated_ids() {
    // 12 ids drawn from 5 rows: some rows are picked several times.
    check_with(
        "model Test { e = Embedding(5, 3)  fn forward(ids: int[B, 4]) -> [B, 4, 3] { e(ids) } }",
        3,
        normal,
        5,
    );
}

#[test]
fn lstm_two_layers_outputs_and_final_state() {
    check(
        "model Test { l = LSTM(3, 4, num_layers = 2)
            fn forward(x: [B, 5, 3]) -> [B, 9, 4] {
                let r = l(x)
                concat([r[0], permute(r[1], [1, 0, 2]), permute(r[2], [1, 0, 2])], axis = 1)
            } }",
        2,
        normal,
    );
}

#[test]
fn gru_two_layers_outputs_and_final_state() {
    check(
        "model Test { g = GRU(3, 4, num_layers = 2)
            fn forward(x: [B, 4, 3]) -> [B, 6, 4] {
                let r = g(x)
                concat([r[0], permute(r[1], [1, 0, 2])], axis = 1)
            } }",
        2,
        normal,
    );
}

#[test]
fn lstm_and_gru_layers_from_an_initial_state() {
    check(
        "model Test { l = LSTMLayer(3, 2)  g = GRULayer(3, 2)
            fn forward(x: [B, 3, 3]) -> [B, 3, 2] {
                let h = x[:, 0, 0:2]
                let r = l(x, h, h * 0.5)
                r[0] + g(x, h)[0]
            } }",
        2,
        normal,
    );
}

#[test]
fn multi_head_attention_self_with_masks() {
    // The last key of every sequence is padding; `causal` hides later keys.
    check(
        "model Test { a = MultiHeadAttention(6, 2)
            fn forward(x: [B, 4, 6]) -> [B, 4, 6] {
                let pad = full([B, 4], 0.0) + (arange(4) >= 3)
                a(x, x, x, key_padding_mask = pad, causal = true)
            } }",
        2,
        normal,
    );
}

#[test]
fn multi_head_attention_cross() {
    check(
        "model Test { a = MultiHeadAttention(4, 2)
            fn forward(q: [B, 3, 4], m: [B, 5, 4]) -> [B, 3, 4] { a(q, m, m * 0.5) } }",
        2,
        normal,
    );
}

#[test]
fn transformer_encoder_layer_post_and_pre_norm() {
    for norm_first in ["false", "true"] {
        check_kinked(
            &format!(
                "model Test {{ t = TransformerEncoderLayer(4, 2, dim_feedforward = 6, dropout = 0.1, norm_first = {norm_first})
                    fn forward(x: [B, 3, 4]) -> [B, 3, 4] {{ t(x) }} }}"
            ),
            2,
            spread,
        );
    }
}

#[test]
fn transformer_decoder_layer_post_and_pre_norm() {
    for norm_first in ["false", "true"] {
        check_kinked(
            &format!(
                "model Test {{ t = TransformerDecoderLayer(8, 2, dim_feedforward = 8, dropout = 0.0, norm_first = {norm_first})
                    fn forward(x: [B, 3, 8], m: [B, 2, 8]) -> [B, 3, 8] {{ t(x, m) }} }}"
            ),
            2,
            spread,
        );
    }
}

#[test]
fn positional_encodings() {
    check(
        "model Test { p = SinusoidalPositionalEncoding(4)  q = LearnedPositionalEncoding(5, 4)
            fn forward(x: [B, 3, 4]) -> [B, 3, 4] { q(p(x)) * x } }",
        2,
        normal,
    );
}

#[test]
fn per_position_cross_entropy() {
    check_with(
        "model Test { e = Embedding(5, 3)  l = Linear(3, 5)
            fn forward(ids: int[B, 4]) -> [] { cross_entropy(l(e(ids)), ids) } }",
        3,
        normal,
        5,
    );
}
