//! The REPL, driven line by line: definitions, layers that keep their
//! parameters between inputs, evaluation on the interpreter, shape errors
//! that leave the session unchanged, and the `:shape` and `:graph` commands.

use nnc::cli::repl::Session;

#[test]
fn a_session_transcript() {
    let mut s = Session::new();
    let mut transcript = String::new();
    for input in [
        "let x = ones([2, 3])",
        "x * 2.0 + 1.0",
        "let fc = Linear(3, 4)",
        "let y = fc(x)",
        ":shape softmax(y, axis = 1)",
        "sum(softmax(y, axis = 1), axis = 1)",
        "model Twice {\n    fn forward(x: [B, 3]) -> [B, 3] { x * 2.0 }\n}",
        "let t = Twice()",
        "t(x)",
        "fc(ones([2, 5]))",
        "y",
        "let n = 3 * 4",
        "n + 1",
        ":graph x + 1.0",
        "let broken = (",
        ":nonsense",
    ] {
        transcript += &format!(">>> {input}\n{}", s.eval(input));
    }
    insta::assert_snapshot!(transcript);
}

#[test]
fn a_layer_keeps_its_parameters_across_inputs() {
    let mut s = Session::new();
    s.eval("let fc = Linear(3, 2)");
    let first = s.eval("fc(ones([1, 3]))");
    s.eval("let unrelated = randn([4])");
    let again = s.eval("fc(ones([1, 3]))");
    assert_eq!(first, again);
    assert!(first.starts_with("f32[1,2]"), "{first}");
}

#[test]
fn a_rejected_input_changes_nothing() {
    let mut s = Session::new();
    s.eval("let x = ones([2])");
    let err = s.eval("x = x @ x");
    assert!(err.contains("error[E0302]"), "{err}");
    assert_eq!(s.eval("x"), "f32[2] [1, 1]\n");
}
