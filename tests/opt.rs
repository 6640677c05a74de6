//! The simplification passes: each rewrite fires where it should, and on
//! thousands of random graphs (with their gradients and an update) the
//! simplified graph evaluates, through the interpreter, to exactly the
//! original's outputs and updates (`-0.0` and `0.0` compare equal: `x + 0`
//! is the one rewrite that can turn one into the other).

mod common;

use common::{Case, add_gradients, constant, random_graph, same};
use nnc::backend::{Env, interp};
use nnc::graph::verify::verify;
use nnc::graph::{BinaryOp, Graph, Op, ReduceOp, Shape, UnaryOp};
use nnc::opt::{self, algebra, cse, dce, fold};
use proptest::prelude::*;
use proptest::test_runner::RngSeed;

fn count(g: &Graph, name: &str) -> usize {
    g.node_ids().iter().filter(|&&n| g.node(n).op.name() == name).count()
}

/// Runs a step of the original and of the simplified graph; outputs and
/// updated tensors must be identical.
fn equivalent(g: &Graph, env: &Env) -> Result<(), String> {
    let mut simple = g.clone();
    opt::simplify(&mut simple);
    verify(&simple).map_err(|e| e.to_string())?;
    let (mut e1, mut e2) = (env.clone(), env.clone());
    let v1 = interp::step(g, &mut e1).map_err(|e| e.to_string())?;
    let v2 = interp::step(&simple, &mut e2).map_err(|e| e.to_string())?;
    for (name, _) in g.outputs() {
        if !same(v1.output(g, name), v2.output(&simple, name)) {
            return Err(format!(
                "output {name} changed:\n{:?}\n{:?}",
                v1.output(g, name),
                v2.output(&simple, name)
            ));
        }
    }
    for (name, t) in &e1.params {
        if !same(t, &e2.params[name]) {
            return Err(format!("param {name} changed"));
        }
    }
    // Views cost nothing (a transposed product gains two permutes); other
    // nodes may only disappear.
    let work = |g: &Graph| {
        g.node_ids()
            .iter()
            .filter(|&&n| !matches!(g.node(n).op, Op::Permute { .. } | Op::Reshape | Op::Expand))
            .count()
    };
    if work(&simple) > work(g) {
        return Err(format!("the graph grew from {} to {} nodes", g.len(), simple.len()));
    }
    Ok(())
}

#[test]
fn cse_merges_equal_nodes() {
    let mut c = Case::new(1);
    let x = c.input("x", &[3]);
    let a = c.g.unary(UnaryOp::Exp, x);
    let b = c.g.unary(UnaryOp::Exp, x);
    let s = c.g.binary(BinaryOp::Add, a, b);
    c.g.add_output("s", s);
    assert_eq!(cse::run(&mut c.g), 1);
    assert_eq!(count(&c.g, "exp"), 1);
    assert_eq!(c.g.operands(s)[0], c.g.operands(s)[1]);
}

#[test]
fn dce_keeps_outputs_updates_and_targets() {
    let mut c = Case::new(2);
    let x = c.input("x", &[3]);
    let p = c.param("p", &[3]);
    let _dead = c.g.unary(UnaryOp::Exp, x);
    let n = c.g.unary(UnaryOp::Neg, x);
    c.g.add_update(p, n);
    assert_eq!(dce::run(&mut c.g), 1);
    assert!(c.g.contains(p) && c.g.contains(n));
    verify(&c.g).unwrap();
}

#[test]
fn fold_computes_constants_like_the_interpreter() {
    let mut c = Case::new(3);
    let a = constant(&mut c.g, 2.0, &[]);
    let b = constant(&mut c.g, 3.0, &[]);
    let p = c.g.binary(BinaryOp::Pow, a, b);
    let e = c.g.broadcast_to(p, &Shape(vec![4]));
    let s = c.g.reduce(ReduceOp::Sum, e, &[0]);
    c.g.add_output("s", s);
    opt::simplify(&mut c.g);
    assert_eq!(c.g.len(), 1);
    let out = c.g.output("s").unwrap();
    assert_eq!(c.g.node(out).op, Op::Const { value: 32.0 });
}

#[test]
fn algebra_removes_identities() {
    let mut c = Case::new(4);
    let x = c.input("x", &[2, 3]);
    let one = constant(&mut c.g, 1.0, &[]);
    let m = c.g.mul(x, one);
    let zero = constant(&mut c.g, 0.0, &[2, 3]);
    let a = c.g.binary(BinaryOp::Add, m, zero);
    let p = c.g.permute(a, &[1, 0]);
    let q = c.g.permute(p, &[1, 0]);
    let r = c.g.reshape(q, Shape(vec![6]));
    let r = c.g.reshape(r, Shape(vec![3, 2]));
    let r = c.g.reshape(r, Shape(vec![2, 3]));
    let n = c.g.unary(UnaryOp::Neg, r);
    let n = c.g.unary(UnaryOp::Neg, n);
    c.g.add_output("y", n);
    let before = c.g.clone();
    opt::simplify(&mut c.g);
    assert_eq!(c.g.output("y"), Some(x), "{}", nnc::graph::dump::text(&c.g));
    equivalent(&before, &c.env).unwrap();
}

#[test]
fn transposed_products_swap_operands() {
    let mut c = Case::new(5);
    let a = c.input("a", &[4, 5]);
    let b = c.input("b", &[5, 3]);
    let y = c.g.matmul(a, b);
    let t = c.g.transpose_last(y);
    c.g.add_output("t", t);
    let before = c.g.clone();
    assert!(algebra::run(&mut c.g) >= 1);
    opt::simplify(&mut c.g);
    assert_eq!(count(&c.g, "matmul"), 1);
    let mm = c.g.output("t").unwrap();
    assert_eq!(c.g.node(mm).op, Op::MatMul, "{}", nnc::graph::dump::text(&c.g));
    // Bit-identical, not just close.
    equivalent(&before, &c.env).unwrap();
    assert_eq!(fold::run(&mut c.g), 0);
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 1500,
        rng_seed: RngSeed::Fixed(0x6f7074),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn simplification_preserves_values(seed in 0u64..1 << 32, program in proptest::collection::vec(any::<u32>(), 1..14)) {
        let mut c = Case::new(seed);
        let out = random_graph(&mut c, &program);
        c.g.add_output("out", out);
        if seed % 2 == 0 {
            add_gradients(&mut c, out);
        }
        if let Err(e) = equivalent(&c.g, &c.env) {
            return Err(TestCaseError::fail(format!("{e}\n{}", nnc::graph::dump::text(&c.g))));
        }
    }
}
