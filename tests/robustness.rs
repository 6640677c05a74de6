//! Mutated and hostile programs never panic the front end: thousands of
//! random edits of the examples and the ok corpus (byte flips, truncations,
//! deleted ranges, swapped tokens, numbers replaced by extreme values) go
//! through parsing, checking and lowering, which may reject them but must
//! not crash.

use std::collections::HashMap;

use nnc::sema::{self, Program};
use proptest::prelude::*;

fn sources() -> Vec<String> {
    let mut out = Vec::new();
    for dir in ["examples", "tests/data/ok"] {
        let mut paths: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
        paths.sort();
        for p in paths {
            if p.extension().is_some_and(|e| e == "nn") {
                out.push(std::fs::read_to_string(p).unwrap());
            }
        }
    }
    out
}

const NUMBERS: &[&str] =
    &["0", "1", "-1", "3", "255", "99999", "2147483647", "9223372036854775807", "1e30", "0.0", "-0.5"];
const TOKENS: &[&str] = &[
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ",",
    "=",
    "==",
    "@",
    "*",
    "-",
    "...",
    ":",
    "x",
    "B",
    "forward",
    "fn",
    "let",
    "model",
    "Linear(",
    "relu(",
    "reshape(x, [-1])",
    "[B]",
    "for i in 0..3 {",
    "}",
    "\"",
    "axis = 5",
];

/// One random edit of `text`.
fn mutate(text: &str, kind: u8, a: usize, b: usize, pick: usize) -> String {
    let n = text.len().max(1);
    let (i, j) = ((a % n).min(b % n), (a % n).max(b % n));
    let at = |k: usize| {
        let mut k = k.min(text.len());
        while !text.is_char_boundary(k) {
            k -= 1;
        }
        k
    };
    let (i, j) = (at(i), at(j));
    match kind % 5 {
        0 => {
            let mut bytes = text.as_bytes().to_vec();
            if !bytes.is_empty() {
                let last = bytes.len() - 1;
                let pool = b" ()[]{},=+-*/@.:;\"0123456789abcBxX\n";
                bytes[i.min(last)] = pool[pick % pool.len()];
            }
            String::from_utf8_lossy(&bytes).into_owned()
        }
        1 => text[..i].to_string(),
        2 => format!("{}{}", &text[..i], &text[j..]),
        3 => {
            // Replace the number nearest to `i` by an extreme value.
            match text[i..].find(|c: char| c.is_ascii_digit()) {
                Some(off) => {
                    let s = i + off;
                    let e = s + text[s..]
                        .find(|c: char| !c.is_ascii_digit() && c != '.')
                        .unwrap_or(text.len() - s);
                    format!("{}{}{}", &text[..s], NUMBERS[pick % NUMBERS.len()], &text[e..])
                }
                None => text.to_string(),
            }
        }
        _ => format!("{}{}{}", &text[..i], TOKENS[pick % TOKENS.len()], &text[i..]),
    }
}

/// Parses, checks and, when the check passes, lowers the forward pass and
/// the training step of every model and train block.
fn compile(text: &str) {
    let (prog, diags) = Program::from_source("mutant.nn", text);
    if diags.iter().any(|d| d.is_error()) {
        return;
    }
    let diags = sema::check(&prog);
    let _ = nnc::diag::render::render(&prog.sources, &diags);
    if diags.iter().any(|d| d.is_error()) {
        return;
    }
    for t in prog.trains.clone() {
        let (cfg, _) = sema::blocks::check_train(&prog, &t);
        if let Some(cfg) = cfg {
            let _ = nnc::train::build_step(&prog, &cfg, 3, true);
        }
    }
    for item in &prog.user_items {
        if let nnc::syntax::ast::Item::Model(m) = item {
            let binding = sema::batch_binding(&prog, &sema::model_ref(m), 2);
            let _ = sema::lower_forward(&prog, &sema::model_ref(m), &binding, &HashMap::new(), true);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, failure_persistence: None, rng_seed: proptest::test_runner::RngSeed::Fixed(0x6e6e63), ..ProptestConfig::default() })]

    #[test]
    fn mutated_programs_never_panic(
        file in 0usize..64,
        edits in proptest::collection::vec((any::<u8>(), any::<usize>(), any::<usize>(), any::<usize>()), 1..4),
    ) {
        let sources = sources();
        let mut text = sources[file % sources.len()].clone();
        for (kind, a, b, pick) in edits {
            text = mutate(&text, kind, a, b, pick);
        }
        compile(&text);
    }
}

#[test]
fn hostile_sizes_are_errors_not_crashes() {
    for src in [
        "model M { l = Linear(9223372036854775807, 9223372036854775807)  fn forward(x: [B, 4]) -> [B, 4] { x } }",
        "model M { w = param([4294967296, 4294967296, 4294967296])  fn forward(x: [B, 4]) -> [B, 4] { x } }",
        "model M { fn forward(x: [B, 4]) -> [B, 4] { reshape(x, [9223372036854775807, -1]) } }",
        "model M { fn forward(x: [B, 1, 28, 28]) -> [B, 1, 1, 1] { max_pool2d(x, 0) } }",
        "model M { c = Conv2d(1, 1, 0)  fn forward(x: [B, 1, 28, 28]) -> [B, 1, 29, 29] { c(x) } }",
        "model M { c = Conv2d(1, 1, 3, stride = 0)  fn forward(x: [B, 1, 28, 28]) -> [B, 1, 26, 26] { c(x) } }",
        "model M { fn forward(x: [B, 4]) -> [B, 4] { let y = x  for i in 0..1000000000 { y = y + 1.0 }  y } }",
        "model M { fn forward(x: [B, 4]) -> [B, 4] { one_hot(x, 9223372036854775807) } }",
        "model M { fn forward(x: [B, 4]) -> [B, 4] { x[:, 9223372036854775807] } }",
        "model M { fn forward(x: [B, 4]) -> [B, 4] { x ** 9223372036854775807 } }",
        "model M { fn forward(x: [B, 4]) -> [B, 4] { x * (9223372036854775807 * 9223372036854775807) } }",
    ] {
        compile(src);
    }
    let (prog, _) = Program::from_source(
        "big.nn",
        "model M { w = param([65536, 65536])  fn forward(x: [B, 4]) -> [B, 4] { x } }",
    );
    let diags = sema::check(&prog);
    assert!(diags.iter().any(|d| d.code == nnc::diag::Code::BAD_VALUE), "{diags:?}");
}
