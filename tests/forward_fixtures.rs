//! The interpreter's forward results for the prelude's layers match
//! PyTorch, from the same inputs and weights (`tests/fixtures/gen_forward.py`
//! wrote `forward.safetensors`).

use std::collections::HashMap;
use std::path::Path;

use nnc::backend::{Env, interp};
use nnc::sema::{self, Program};
use nnc::syntax::ast;
use nnc::{backend::Tensor, train::checkpoint};

fn fixtures() -> HashMap<String, Tensor> {
    checkpoint::load(Path::new("tests/fixtures/forward.safetensors")).unwrap().into_iter().collect()
}

/// Lowers `model Test` from `src`, feeds the fixture's `x` and parameters
/// (`{case}.weight` -> `layer.weight`), and compares with `{case}.out`.
#[track_caller]
fn check(case: &str, src: &str) {
    let fx = fixtures();
    let (prog, diags) = Program::from_source("test.nn", src);
    assert!(diags.is_empty(), "{diags:?}");
    let x = &fx[&format!("{case}.x")];
    let model = ast::Expr { kind: ast::ExprKind::Name("Test".into()), span: Default::default() };
    let binding = HashMap::from([("B".to_string(), x.shape.0[0] as i64)]);
    let lowered = sema::lower_forward(&prog, &model, &binding, &HashMap::new(), false).unwrap();
    let mut env = Env::new(0);
    env.inputs.insert("x".into(), x.clone());
    for p in &lowered.params {
        let key = format!("{case}.{}", p.name.rsplit('.').next().unwrap());
        env.params.insert(p.name.clone(), fx[&key].clone());
    }
    let values = interp::eval(&lowered.graph, &env).unwrap();
    let got = values.get(lowered.output);
    let want = &fx[&format!("{case}.out")];
    assert_eq!(got.shape, want.shape, "{case}: shape");
    for (i, (a, b)) in got.data.iter().zip(&want.data).enumerate() {
        assert!((a - b).abs() <= 1e-5 + 1e-5 * b.abs(), "{case}[{i}]: nnc {a} vs torch {b}");
    }
}

#[test]
fn linear() {
    check("linear", "model Test { layer = Linear(7, 5)  fn forward(x: [B, 7]) -> [B, 5] { layer(x) } }");
}

#[test]
fn linear_on_three_dimensions() {
    check(
        "linear3d",
        "model Test { layer = Linear(6, 3)  fn forward(x: [B, 4, 6]) -> [B, 4, 3] { layer(x) } }",
    );
}

#[test]
fn conv2d() {
    check(
        "conv2d",
        "model Test { layer = Conv2d(3, 4, 3)  fn forward(x: [B, 3, 9, 8]) -> [B, 4, 7, 6] { layer(x) } }",
    );
}

#[test]
fn conv2d_strided_and_padded() {
    check(
        "conv2d_strided",
        "model Test { layer = Conv2d(3, 4, 3, stride = 2, padding = 1)
                      fn forward(x: [B, 3, 9, 8]) -> [B, 4, 5, 4] { layer(x) } }",
    );
    check(
        "conv2d_padded",
        "model Test { layer = Conv2d(2, 3, 5, padding = 2)  fn forward(x: [B, 2, 7, 7]) -> [B, 3, 7, 7] { layer(x) } }",
    );
}

#[test]
fn max_pool2d() {
    check("max_pool2d", "model Test { fn forward(x: [B, 3, 8, 7]) -> [B, 3, 4, 3] { max_pool2d(x, 2) } }");
    check(
        "max_pool2d_overlap",
        "model Test { fn forward(x: [B, 2, 9, 9]) -> [B, 2, 4, 4] { max_pool2d(x, 3, stride = 2) } }",
    );
}

#[test]
fn softmax_and_log_softmax() {
    check("softmax", "model Test { fn forward(x: [B, 6]) -> [B, 6] { softmax(x, axis = 1) } }");
    check("log_softmax", "model Test { fn forward(x: [B, 6]) -> [B, 6] { log_softmax(x, axis = 1) } }");
    check("softmax_axis1", "model Test { fn forward(x: [B, 5, 3]) -> [B, 5, 3] { softmax(x, axis = 1) } }");
}

#[test]
fn layer_norm() {
    check("layer_norm", "model Test { layer = LayerNorm(6)  fn forward(x: [B, 6]) -> [B, 6] { layer(x) } }");
}
