//! Training steps of small programs for the differential tests of the
//! back ends: the step graph of a train block with initial parameters,
//! zeroed optimizer state and random inputs.

use nnc::backend::{Env, Tensor};
use nnc::graph::Graph;
use nnc::graph::semantics::rng::Rng;

/// Serves one in-memory source file.
pub struct Source(pub &'static str);

impl nnc::sema::Loader for Source {
    fn load(&mut self, _: &std::path::Path) -> Result<String, String> {
        Ok(self.0.to_string())
    }
}

/// The training step of `src`'s train block at its batch size, with
/// initial parameters, zeroed state and random inputs.
pub fn training_step(src: &'static str, seed: u64) -> (Graph, Env) {
    let (prog, diags) = nnc::sema::Program::load_root(std::path::Path::new("model.nn"), &mut Source(src));
    assert!(diags.is_empty(), "{diags:?}");
    let (cfg, diags) = nnc::sema::blocks::check_train(&prog, &prog.trains[0]);
    let cfg = cfg.unwrap_or_else(|| panic!("{diags:?}"));
    let step = nnc::train::build_step(&prog, &cfg, cfg.batch, true).expect("the step builds");
    let mut env = Env::new(seed);
    env.params = nnc::train::trainer::init_params(&step.params, seed).into_iter().collect();
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

pub const SMALL_MLP: &str = r#"
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

pub const SMALL_CNN: &str = r#"
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
