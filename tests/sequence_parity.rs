//! The sequence layers match PyTorch forward and backward: from the same
//! weights and inputs, nnc's outputs and the gradients of `sum(out * w)`
//! with respect to every input and parameter equal what
//! `tests/fixtures/gen_sequence.py` recorded from torch.nn (`LSTM`, `GRU`,
//! `MultiheadAttention`, `TransformerEncoderLayer`,
//! `TransformerDecoderLayer`), within 1e-4.

use std::collections::HashMap;
use std::path::Path;

use nnc::autodiff;
use nnc::backend::{Env, interp};
use nnc::graph::{DType, NodeId, Op, ReduceOp, Shape};
use nnc::sema::{self, Program};
use nnc::syntax::ast;
use nnc::{backend::Tensor, train::checkpoint};

fn fixtures() -> HashMap<String, Tensor> {
    checkpoint::load(Path::new("tests/fixtures/sequence.safetensors")).unwrap().into_iter().collect()
}

/// Lowers `model Test` from `src` for the fixture's batch size, feeds the
/// fixture's inputs and weights, and compares the output and every gradient.
#[track_caller]
fn check(case: &str, src: &str) {
    let fx = fixtures();
    let get = |key: &str| fx.get(&format!("{case}.{key}")).unwrap_or_else(|| panic!("no {case}.{key}"));
    let (prog, diags) = Program::from_source("test.nn", src);
    assert!(diags.is_empty(), "{diags:?}");
    let model = ast::Expr { kind: ast::ExprKind::Name("Test".into()), span: Default::default() };
    let batch = get("out").shape.0[0] as i64;
    let binding = HashMap::from([("B".to_string(), batch)]);
    let lowered = sema::lower_forward(&prog, &model, &binding, &HashMap::new(), false).unwrap();
    let mut g = lowered.graph;
    let mut env = Env::new(0);
    let mut wrt: Vec<(NodeId, String)> = Vec::new();
    for (name, id) in &lowered.inputs {
        env.inputs.insert(name.clone(), get(&format!("input.{name}")).clone());
        if fx.contains_key(&format!("{case}.grad.{name}")) {
            wrt.push((*id, name.clone()));
        }
    }
    for p in &lowered.params {
        env.params.insert(p.name.clone(), get(&format!("param.{}", p.name)).clone());
        wrt.push((p.node.unwrap(), p.name.clone()));
    }
    let n_params = fx.keys().filter(|k| k.starts_with(&format!("{case}.param."))).count();
    assert_eq!(lowered.params.len(), n_params, "{case}: nnc and torch have different parameters");
    // loss = sum(out * w)
    let shape = g.shape(lowered.output).clone();
    let w = g.add(Op::Input { name: "w".into() }, &[], shape.clone(), DType::F32, None);
    env.inputs.insert("w".into(), get("w").clone());
    let prod = g.mul(lowered.output, w);
    let axes: Vec<usize> = (0..shape.rank()).collect();
    let sum = g.reduce(ReduceOp::Sum, prod, &axes);
    let loss = g.reshape(sum, Shape::default());
    let ids: Vec<NodeId> = wrt.iter().map(|(id, _)| *id).collect();
    let grads = autodiff::grad(&mut g, loss, &ids).unwrap();
    let values = interp::eval(&g, &env).unwrap();
    compare(case, "out", values.get(lowered.output), get("out"));
    for ((_, name), gid) in wrt.iter().zip(&grads) {
        compare(case, &format!("d loss / d {name}"), values.get(*gid), get(&format!("grad.{name}")));
    }
}

/// Every element within 1e-4, relative to the tensor's largest magnitude
/// when that exceeds 1 (gradients summed over many positions reach tens).
#[track_caller]
fn compare(case: &str, what: &str, got: &Tensor, want: &Tensor) {
    assert_eq!(got.shape, want.shape, "{case}: {what}: shape");
    let scale = want.data.iter().fold(1.0f32, |m, v| m.max(v.abs()));
    for (i, (a, b)) in got.data.iter().zip(&want.data).enumerate() {
        assert!((a - b).abs() <= 1e-4 * scale, "{case}: {what}[{i}]: nnc {a} vs torch {b}");
    }
}

#[test]
fn lstm_two_layers() {
    check(
        "lstm",
        "model Test { lstm = LSTM(5, 6, num_layers = 2)
            fn forward(x: [B, 7, 5]) -> [B, 11, 6] {
                let r = lstm(x)
                concat([r[0], permute(r[1], [1, 0, 2]), permute(r[2], [1, 0, 2])], axis = 1)
            } }",
    );
}

#[test]
fn gru_two_layers() {
    check(
        "gru",
        "model Test { gru = GRU(5, 6, num_layers = 2)
            fn forward(x: [B, 7, 5]) -> [B, 9, 6] {
                let r = gru(x)
                concat([r[0], permute(r[1], [1, 0, 2])], axis = 1)
            } }",
    );
}

#[test]
fn multi_head_attention_cross_with_key_padding() {
    check(
        "mha_cross",
        "model Test { attn = MultiHeadAttention(8, 2)
            fn forward(q: [B, 5, 8], kv: [B, 6, 8], pad: [B, 6]) -> [B, 5, 8] {
                attn(q, kv, kv, key_padding_mask = pad)
            } }",
    );
}

#[test]
fn multi_head_attention_causal() {
    check(
        "mha_causal",
        "model Test { attn = MultiHeadAttention(8, 4)
            fn forward(x: [B, 5, 8]) -> [B, 5, 8] { attn(x, x, x, causal = true) } }",
    );
}

#[test]
fn transformer_encoder_layer_post_norm_with_padding() {
    check(
        "encoder",
        "model Test { layer = TransformerEncoderLayer(8, 2, dim_feedforward = 16, dropout = 0.0)
            fn forward(x: [B, 5, 8], pad: [B, 5]) -> [B, 5, 8] { layer(x, src_key_padding_mask = pad) } }",
    );
}

#[test]
fn transformer_encoder_layer_norm_first_causal() {
    check(
        "encoder_norm_first",
        "model Test { layer = TransformerEncoderLayer(8, 2, dim_feedforward = 16, dropout = 0.0, norm_first = true)
            fn forward(x: [B, 5, 8]) -> [B, 5, 8] { layer(x, causal = true) } }",
    );
}

#[test]
fn transformer_decoder_layer() {
    check(
        "decoder",
        "model Test { layer = TransformerDecoderLayer(8, 2, dim_feedforward = 16, dropout = 0.0)
            fn forward(tgt: [B, 5, 8], mem: [B, 6, 8], pad: [B, 6]) -> [B, 5, 8] {
                layer(tgt, mem, memory_key_padding_mask = pad, causal = true)
            } }",
    );
}
