//! Parser tests: every syntactic form, precedence, spans, error messages,
//! nesting limits and a mutation-based robustness property.
//!
//! Expressions are compared through a compact S-expression printer
//! ([`sexpr`]) so an expectation reads like the tree it describes:
//! `a + b * c` is `(+ a (* b c))`. Errors go through [`check_err`], which
//! names the code, the message and the exact text the primary span covers.

use nnc::diag::{Code, Diagnostic, FileId, SourceMap, Span};
use nnc::syntax::ast::{self, DimPat, ExprKind, IndexItem, Item, Stmt, TypeExpr};
use nnc::syntax::{ReplLine, parse, parse_repl};

// ------------------------------------------------------------- helpers

fn render(text: &str, d: &Diagnostic) -> String {
    let mut sources = SourceMap::default();
    sources.add("test.nn", text);
    nnc::diag::render::render(&sources, std::slice::from_ref(d))
}

#[track_caller]
fn parse_ok(text: &str) -> ast::Module {
    match parse(FileId(0), text) {
        Ok(m) => m,
        Err(d) => panic!("expected a parse, got:\n{}", render(text, &d)),
    }
}

fn slice(text: &str, span: Span) -> &str {
    &text[span.start as usize..span.end as usize]
}

/// The body of the only function in `fn f() { <body> }`.
#[track_caller]
fn body(src: &str) -> (String, ast::Block) {
    let text = format!("fn f() {{ {src} }}");
    let m = parse_ok(&text);
    match m.items.into_iter().next() {
        Some(Item::Fn(f)) => (text, f.body),
        other => panic!("expected a function, got {other:?}"),
    }
}

/// The result expression of `fn f() { <src> }`.
#[track_caller]
fn expr(src: &str) -> (String, ast::Expr) {
    let (text, block) = body(src);
    assert!(block.stmts.is_empty(), "expected no statements");
    (text, *block.result.expect("expected a result expression"))
}

#[track_caller]
fn check_expr(src: &str, expect: &str) {
    let (_, e) = expr(src);
    assert_eq!(sexpr(&e), expect, "for `{src}`");
}

#[track_caller]
fn check_block(src: &str, expect: &str) {
    let (_, b) = body(src);
    assert_eq!(block(&b), expect, "for `{src}`");
}

/// Parses `text`, expects an error with `code` and `message` whose primary
/// span covers exactly `at`; returns the diagnostic for further checks.
#[track_caller]
fn check_err(text: &str, code: Code, message: &str, at: &str) -> Diagnostic {
    let d = match parse(FileId(0), text) {
        Ok(m) => panic!("expected an error for {text:?}, got {m:?}"),
        Err(d) => d,
    };
    assert_eq!(d.code, code, "{}", render(text, &d));
    assert_eq!(d.message, message, "{}", render(text, &d));
    let span = d.primary_span().expect("a primary span");
    assert_eq!(slice(text, span), at, "{}", render(text, &d));
    d
}

#[track_caller]
fn check_help(d: &Diagnostic, help: &str) {
    assert_eq!(d.help.as_deref(), Some(help));
}

fn sexpr(e: &ast::Expr) -> String {
    match &e.kind {
        ExprKind::Int(i) => i.to_string(),
        ExprKind::Float(f) => format!("{f:?}"),
        ExprKind::Str(s) => format!("{s:?}"),
        ExprKind::Bool(b) => b.to_string(),
        ExprKind::Name(n) => n.clone(),
        ExprKind::List(items) => format!("[{}]", join(items.iter().map(sexpr))),
        ExprKind::ListComp { elem, var, start, end } => {
            format!("[{} for {} in {}..{}]", sexpr(elem), var.name, sexpr(start), sexpr(end))
        }
        ExprKind::Unary { op, operand } => {
            let op = match op {
                ast::UnOp::Neg => "neg",
                ast::UnOp::Not => "!",
            };
            format!("({op} {})", sexpr(operand))
        }
        ExprKind::Binary { op, lhs, rhs } => {
            format!("({} {} {})", op.symbol(), sexpr(lhs), sexpr(rhs))
        }
        ExprKind::Call { callee, args } => {
            let args = args.iter().map(|a| match &a.name {
                Some(n) => format!("{}={}", n.name, sexpr(&a.value)),
                None => sexpr(&a.value),
            });
            format!("(call {} {})", sexpr(callee), join(args))
        }
        ExprKind::Index { base, items } => {
            let opt = |e: &Option<ast::Expr>| e.as_ref().map(sexpr).unwrap_or_default();
            let items = items.iter().map(|i| match i {
                IndexItem::At(e) => sexpr(e),
                IndexItem::Slice { start, end, step, .. } => match step {
                    Some(_) => format!("{}:{}:{}", opt(start), opt(end), opt(step)),
                    None => format!("{}:{}", opt(start), opt(end)),
                },
                IndexItem::Ellipsis(_) => "...".into(),
            });
            format!("(index {} {})", sexpr(base), join(items))
        }
        ExprKind::Field { base, field } => format!("(. {} {})", sexpr(base), field.name),
        ExprKind::If { cond, then, otherwise } => match otherwise {
            Some(o) => format!("(if {} {} {})", sexpr(cond), block(then), block(o)),
            None => format!("(if {} {})", sexpr(cond), block(then)),
        },
    }
}

fn block(b: &ast::Block) -> String {
    let mut parts: Vec<String> = b.stmts.iter().map(stmt).collect();
    if let Some(r) = &b.result {
        parts.push(format!("=> {}", sexpr(r)));
    }
    format!("{{{}}}", parts.join("; "))
}

fn stmt(s: &Stmt) -> String {
    match s {
        Stmt::Let { name, value, .. } => format!("let {} = {}", name.name, sexpr(value)),
        Stmt::Assign { name, value, .. } => format!("{} = {}", name.name, sexpr(value)),
        Stmt::For { var, start, end, body, .. } => {
            format!("for {} in {}..{} {}", var.name, sexpr(start), sexpr(end), block(body))
        }
        Stmt::Expr(e) => format!("{};", sexpr(e)),
    }
}

fn join(items: impl Iterator<Item = String>) -> String {
    items.collect::<Vec<_>>().join(" ")
}

fn dim(d: &DimPat) -> String {
    match d {
        DimPat::Ellipsis(_) => "...".into(),
        DimPat::Expr(e) => sexpr(e),
    }
}

fn ty(t: &TypeExpr) -> String {
    match t {
        TypeExpr::Tensor { dtype, dims, .. } => {
            let elem = dtype.as_ref().map_or("", |d| d.name.as_str());
            format!("{elem}[{}]", dims.iter().map(dim).collect::<Vec<_>>().join(", "))
        }
        TypeExpr::Named(id) => id.name.clone(),
    }
}

// ------------------------------------------------------------- items

#[test]
fn examples_parse() {
    for entry in std::fs::read_dir("examples").unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "nn") {
            let text = std::fs::read_to_string(&path).unwrap();
            let m = parse_ok(&text);
            let count = |f: fn(&Item) -> bool| m.items.iter().filter(|i| f(i)).count();
            assert!(count(|i| matches!(i, Item::Model(_))) >= 1, "{}", path.display());
            assert_eq!(count(|i| matches!(i, Item::Data(_))), 1, "{}", path.display());
            assert_eq!(count(|i| matches!(i, Item::Train(_))), 1, "{}", path.display());
        }
    }
}

#[test]
fn mlp_example_structure() {
    let text = std::fs::read_to_string("examples/mnist_mlp.nn").unwrap();
    let m = parse_ok(&text);
    let [Item::Model(model), Item::Data(data), Item::Train(train)] = &m.items[..] else {
        panic!("unexpected items {:?}", m.items);
    };
    assert_eq!(model.name.name, "Mlp");
    assert_eq!(slice(&text, model.name.span), "Mlp");
    assert!(model.params.is_empty());
    assert_eq!(model.members.len(), 2);
    assert_eq!(slice(&text, model.members[0].span), "fc1 = Linear(784, 128)");
    let forward = &model.fns[0];
    assert_eq!(forward.name.name, "forward");
    assert_eq!(ty(forward.params[0].ty.as_ref().unwrap()), "[B, 784]");
    assert_eq!(ty(forward.ret.as_ref().unwrap()), "[B, 10]");
    assert_eq!(sexpr(forward.body.result.as_ref().unwrap()), "(call fc2 (call relu (call fc1 x)))");
    assert!(slice(&text, model.span).starts_with("model Mlp {"));
    assert!(slice(&text, model.span).ends_with('}'));

    assert_eq!(data.name.name, "mnist");
    let keys: Vec<_> = data.settings.iter().map(|s| s.key.name.as_str()).collect();
    assert_eq!(keys, ["train", "test", "scale"]);
    assert_eq!(sexpr(&data.settings[2].value), "(/ 1 255)");

    assert_eq!(sexpr(&train.model), "Mlp");
    assert_eq!(train.data.name, "mnist");
    assert_eq!(train.settings.len(), 7);
    assert_eq!(sexpr(&train.settings[1].value), "(call sgd lr=0.05 momentum=0.9)");
    assert_eq!(slice(&text, train.settings[6].span), "save      = \"mlp.safetensors\"");
    assert_eq!(sexpr(&train.settings[5].value), "[accuracy]");
}

#[test]
fn use_item() {
    let text = r#"use "lib/layers.nn""#;
    let m = parse_ok(text);
    let Item::Use(u) = &m.items[0] else { panic!() };
    assert_eq!(u.path, "lib/layers.nn");
    assert_eq!(slice(text, u.path_span), r#""lib/layers.nn""#);
    assert_eq!(slice(text, u.span), text);
}

#[test]
fn model_with_params_members_and_fns() {
    let text = "model Block(p: int, q: float = 0.5, r = 3,) {\n  a = Linear(p, 3);\n  fn forward(x) { a(x) }\n  b = 2\n}";
    let m = parse_ok(text);
    let Item::Model(model) = &m.items[0] else { panic!() };
    let params: Vec<_> = model
        .params
        .iter()
        .map(|p| {
            (p.name.name.as_str(), p.ty.as_ref().map(ty), p.default.as_ref().map(sexpr), slice(text, p.span))
        })
        .collect();
    assert_eq!(
        params,
        [
            ("p", Some("int".into()), None, "p: int"),
            ("q", Some("float".into()), Some("0.5".into()), "q: float = 0.5"),
            ("r", None, Some("3".into()), "r = 3"),
        ]
    );
    let members: Vec<_> = model.members.iter().map(|m| m.name.name.as_str()).collect();
    assert_eq!(members, ["a", "b"]);
    assert_eq!(model.fns.len(), 1);
    assert_eq!(slice(text, model.fns[0].span), "fn forward(x) { a(x) }");
    assert_eq!(slice(text, model.members[0].span), "a = Linear(p, 3)");
}

#[test]
fn fn_params_and_types() {
    let text = "fn conv(x: [B, C, H, W], k: int = 3, y, z: [...], w: [..., in_features, 2]) -> [B, C, H - 2, (H + 2*p - k) / s + 1] { x }";
    let m = parse_ok(text);
    let Item::Fn(f) = &m.items[0] else { panic!() };
    let params: Vec<_> = f
        .params
        .iter()
        .map(|p| format!("{}:{}", p.name.name, p.ty.as_ref().map(ty).unwrap_or_default()))
        .collect();
    assert_eq!(params, ["x:[B, C, H, W]", "k:int", "y:", "z:[...]", "w:[..., in_features, 2]"]);
    assert_eq!(sexpr(f.params[1].default.as_ref().unwrap()), "3");
    let ret = f.ret.as_ref().unwrap();
    assert_eq!(ty(ret), "[B, C, (- H 2), (+ (/ (- (+ H (* 2 p)) k) s) 1)]");
    assert_eq!(slice(text, ret.span()), "[B, C, H - 2, (H + 2*p - k) / s + 1]");
    let TypeExpr::Tensor { dims, .. } = ret else { panic!() };
    let DimPat::Expr(last) = &dims[3] else { panic!() };
    assert_eq!(slice(text, last.span), "(H + 2*p - k) / s + 1");
    let TypeExpr::Tensor { dims, .. } = f.params[3].ty.as_ref().unwrap() else { panic!() };
    let DimPat::Ellipsis(span) = dims[0] else { panic!() };
    assert_eq!(slice(text, span), "...");
    // Any name is accepted as a type here; the checker decides.
    let m = parse_ok("fn f(x: Foo) {}");
    let Item::Fn(f) = &m.items[0] else { panic!() };
    assert_eq!(ty(f.params[0].ty.as_ref().unwrap()), "Foo");
    assert_eq!(block(&f.body), "{}");
}

#[test]
fn element_types_on_tensor_types() {
    let text = "fn f(tokens: int[B, T], x: float[..., D], n: int, m: [B]) -> float[B, T, D] { x }";
    let m = parse_ok(text);
    let Item::Fn(f) = &m.items[0] else { panic!() };
    let params: Vec<_> = f.params.iter().map(|p| ty(p.ty.as_ref().unwrap())).collect();
    assert_eq!(params, ["int[B, T]", "float[..., D]", "int", "[B]"]);
    let TypeExpr::Tensor { dtype, span, .. } = f.params[0].ty.as_ref().unwrap() else { panic!() };
    assert_eq!(slice(text, dtype.as_ref().unwrap().span), "int");
    assert_eq!(slice(text, *span), "int[B, T]");
    assert_eq!(ty(f.ret.as_ref().unwrap()), "float[B, T, D]");
    check_err("fn f(x: int[B) {}", Code::SYNTAX, "expected one of `,`, `]` or an operator, found `)`", ")");
}

#[test]
fn list_comprehensions() {
    check_expr("[f(i) for i in 0..n]", "[(call f i) for i in 0..n]");
    check_expr("[i * 2 for i in a + 1..2 * b][0]", "(index [(* i 2) for i in (+ a 1)..(* 2 b)] 0)");
    check_expr("[[j for j in 0..i] for i in 0..3]", "[[j for j in 0..i] for i in 0..3]");
    let (text, e) = expr("[x  for i in 0..4]");
    assert_eq!(slice(&text, e.span), "[x  for i in 0..4]");
    let ExprKind::ListComp { var, .. } = &e.kind else { panic!() };
    assert_eq!(slice(&text, var.span), "i");
    check_err("fn f() { [x for i in 0..3, 4] }", Code::SYNTAX, "expected `]` or an operator, found `,`", ",");
    check_err(
        "fn f() { [x, y for i in 0..3] }",
        Code::SYNTAX,
        "expected one of `,`, `]` or an operator, found keyword `for`",
        "for",
    );
}

#[test]
fn data_and_train_blocks() {
    let text = "data d { train = idx(\"a\", \"b\"); scale = 1 / 255 }\n\
                train Mlp(hidden = 256) on d { loss = nll; epochs = 2 }\n\
                train Cnn on d {}";
    let m = parse_ok(text);
    let [Item::Data(d), Item::Train(t), Item::Train(t2)] = &m.items[..] else { panic!() };
    assert_eq!(d.settings[0].key.name, "train");
    assert_eq!(sexpr(&d.settings[0].value), r#"(call idx "a" "b")"#);
    assert_eq!(sexpr(&t.model), "(call Mlp hidden=256)");
    assert_eq!(slice(text, t.model.span), "Mlp(hidden = 256)");
    assert_eq!(t.data.name, "d");
    assert_eq!(t.settings.len(), 2);
    assert_eq!(slice(text, t.settings[0].span), "loss = nll");
    assert_eq!(sexpr(&t2.model), "Cnn");
    assert!(t2.settings.is_empty());
}

#[test]
fn items_in_any_order_and_empty_file() {
    assert!(parse_ok("").items.is_empty());
    assert!(parse_ok("  // only a comment\n /* and another */ ").items.is_empty());
    let m = parse_ok("train M on d {} data d {} fn f() {} model M {} use \"x.nn\"");
    assert_eq!(m.items.len(), 5);
}

// ------------------------------------------------------------- blocks

#[test]
fn block_results_and_statements() {
    check_block("x", "{=> x}");
    check_block("x;", "{x;}");
    check_block("let a = 1", "{let a = 1}");
    check_block("let a = 1;", "{let a = 1}");
    check_block("a = 1", "{a = 1}");
    check_block("1; 2", "{1;; => 2}");
    check_block("let a = 1 a = a + 1 a", "{let a = 1; a = (+ a 1); => a}");
    check_block("for i in 0..n { x = x + i } x", "{for i in 0..n {x = (+ x i)}; => x}");
    check_block("for i in 1 + 1..f(n) { }", "{for i in (+ 1 1)..(call f n) {}}");
    check_block("", "{}");
    check_block("a == b", "{=> (== a b)}");
}

#[test]
fn statement_spans_exclude_semicolons() {
    let (text, b) = body("let h = relu(x);  h = h * 2 ;\n x");
    let spans: Vec<_> = b
        .stmts
        .iter()
        .map(|s| match s {
            Stmt::Let { span, name, .. } | Stmt::Assign { span, name, .. } => {
                (slice(&text, *span), slice(&text, name.span))
            }
            _ => panic!(),
        })
        .collect();
    assert_eq!(spans, [("let h = relu(x)", "h"), ("h = h * 2", "h")]);
    assert_eq!(slice(&text, b.span), "{ let h = relu(x);  h = h * 2 ;\n x }");
    let (text, b) = body("for i in 0..3 { i }");
    let Stmt::For { span, body, .. } = &b.stmts[0] else { panic!() };
    assert_eq!(slice(&text, *span), "for i in 0..3 { i }");
    assert_eq!(slice(&text, body.span), "{ i }");
}

#[test]
fn expressions_continue_across_lines() {
    // Newlines are whitespace: a line starting with `-`, `(` or `[`
    // continues the expression before it.
    check_block("let a = b\n-c", "{let a = (- b c)}");
    check_block("let a = f\n(x)", "{let a = (call f x)}");
    check_block("let a = x\n[0]", "{let a = (index x 0)}");
    check_block("let a = b\nc", "{let a = b; => c}");
}

// ---------------------------------------------------------- expressions

#[test]
fn literals() {
    check_expr("42", "42");
    check_expr("0.05", "0.05");
    check_expr("1e-3", "0.001");
    check_expr("2.5E+4", "25000.0");
    check_expr("1e3", "1000.0");
    check_expr("9223372036854775807", "9223372036854775807");
    check_expr(r#""a\"b\\c\nd\te""#, r#""a\"b\\c\nd\te""#);
    check_expr(r#""""#, r#""""#);
    check_expr("true", "true");
    check_expr("false", "false");
    check_expr("[1, 2.5, \"s\",]", "[1 2.5 \"s\"]");
    check_expr("[]", "[]");
    // Names that start with a keyword are names.
    check_expr("iffy + model2 + in_features + true_", "(+ (+ (+ iffy model2) in_features) true_)");
}

#[test]
fn precedence_table() {
    check_expr("a || b && c", "(|| a (&& b c))");
    check_expr("a && b || c", "(|| (&& a b) c)");
    check_expr("a && b == c", "(&& a (== b c))");
    check_expr("a == b + c", "(== a (+ b c))");
    check_expr("a < b + c * d", "(< a (+ b (* c d)))");
    check_expr("a + b * c", "(+ a (* b c))");
    check_expr("a * b + c", "(+ (* a b) c)");
    check_expr("a @ b + c", "(+ (@ a b) c)");
    check_expr("a % b * c / d", "(/ (* (% a b) c) d)");
    check_expr("-a * b", "(* (neg a) b)");
    check_expr("a * -b", "(* a (neg b))");
    check_expr("-x ** 2", "(neg (** x 2))");
    check_expr("2 ** -1", "(** 2 (neg 1))");
    check_expr("a ** -b ** c", "(** a (neg (** b c)))");
    check_expr("a ** b * c", "(* (** a b) c)");
    check_expr("!a && b", "(&& (! a) b)");
    check_expr("!a == b", "(== (! a) b)");
    check_expr("- -a", "(neg (neg a))");
    check_expr("-x[0]", "(neg (index x 0))");
    check_expr("-f(x) ** 2", "(neg (** (call f x) 2))");
    check_expr("(a + b) * c", "(* (+ a b) c)");
    check_expr("a != b", "(!= a b)");
    check_expr("a <= b", "(<= a b)");
    check_expr("a >= b", "(>= a b)");
    check_expr("a > b", "(> a b)");
    check_expr("(a < b) == c", "(== (< a b) c)");
    check_expr("a < b && b < c", "(&& (< a b) (< b c))");
}

#[test]
fn left_associativity() {
    check_expr("a - b - c", "(- (- a b) c)");
    check_expr("a / b / c", "(/ (/ a b) c)");
    check_expr("a @ b @ c", "(@ (@ a b) c)");
    check_expr("a || b || c", "(|| (|| a b) c)");
    check_expr("a && b && c", "(&& (&& a b) c)");
    check_expr("a ** b ** c", "(** a (** b c))");
}

#[test]
fn postfix_operations() {
    check_expr("f(a)(b)", "(call (call f a) b)");
    check_expr("a.b.c(d)", "(call (. (. a b) c) d)");
    check_expr("f()", "(call f )");
    check_expr("f(a, k = 2, b, j = c == d,)", "(call f a k=2 b j=(== c d))");
    check_expr("f(a == b)", "(call f (== a b))");
    check_expr("x[i, 1:3, ::2, :, ..., -1]", "(index x i 1:3 ::2 : ... (neg 1))");
    check_expr("x[:n, 1:, 1::2, :5:, a:b:c]", "(index x :n 1: 1::2 :5 a:b:c)");
    check_expr("m.fc1(x)[0].shape", "(. (index (call (. m fc1) x) 0) shape)");
    check_expr("[1, 2][0]", "(index [1 2] 0)");
    check_expr("(a)(b)", "(call a b)");
}

#[test]
fn if_expressions() {
    check_expr("if a { 1 } else { 2 }", "(if a {=> 1} {=> 2})");
    check_expr("if a { 1 }", "(if a {=> 1})");
    check_expr(
        "if a { 1 } else if b { 2 } else if c { 3 } else { 4 }",
        "(if a {=> 1} {=> (if b {=> 2} {=> (if c {=> 3} {=> 4})})})",
    );
    check_expr("if a < b { let c = 1 c } else { }", "(if (< a b) {let c = 1; => c} {})");
    check_expr("1 + if a { 1 } else { 2 } * 3", "(+ 1 (* (if a {=> 1} {=> 2}) 3))");
    let (text, e) = expr("if a { 1 } else if b { 2 }");
    assert_eq!(slice(&text, e.span), "if a { 1 } else if b { 2 }");
    let ExprKind::If { otherwise, .. } = &e.kind else { panic!() };
    let inner = otherwise.as_ref().unwrap();
    assert_eq!(slice(&text, inner.span), "if b { 2 }");
    assert_eq!(slice(&text, inner.result.as_ref().unwrap().span), "if b { 2 }");
}

#[test]
fn comments_and_whitespace() {
    check_expr("a /* c */ + // d\n b", "(+ a b)");
    check_expr("a/*no nesting /* here */*b", "(* a b)");
    check_expr("f(\n  a,\n  b,\n)", "(call f a b)");
    let (text, e) = expr("a + b  // trailing\n");
    assert_eq!(slice(&text, e.span), "a + b");
}

#[test]
fn expression_spans() {
    let (text, e) = expr("f(x, k = y) + a.b[1:2] * -c");
    assert_eq!(slice(&text, e.span), "f(x, k = y) + a.b[1:2] * -c");
    let ExprKind::Binary { lhs, rhs, .. } = &e.kind else { panic!() };
    assert_eq!(slice(&text, lhs.span), "f(x, k = y)");
    let ExprKind::Call { callee, args } = &lhs.kind else { panic!() };
    assert_eq!(slice(&text, callee.span), "f");
    assert_eq!(slice(&text, args[1].span), "k = y");
    assert_eq!(slice(&text, args[1].name.as_ref().unwrap().span), "k");
    assert_eq!(slice(&text, args[1].value.span), "y");
    assert_eq!(slice(&text, rhs.span), "a.b[1:2] * -c");
    let ExprKind::Binary { lhs: idx, rhs: neg, .. } = &rhs.kind else { panic!() };
    assert_eq!(slice(&text, idx.span), "a.b[1:2]");
    assert_eq!(slice(&text, neg.span), "-c");
    let ExprKind::Index { base, items } = &idx.kind else { panic!() };
    assert_eq!(slice(&text, base.span), "a.b");
    let IndexItem::Slice { span, .. } = &items[0] else { panic!() };
    assert_eq!(slice(&text, *span), "1:2");
    let ExprKind::Field { field, .. } = &base.kind else { panic!() };
    assert_eq!(slice(&text, field.span), "b");

    // A parenthesised expression's span includes the parentheses.
    let (text, e) = expr("(a + b) * c");
    let ExprKind::Binary { lhs, .. } = &e.kind else { panic!() };
    assert_eq!(slice(&text, lhs.span), "(a + b)");
    assert_eq!(slice(&text, e.span), "(a + b) * c");

    let (text, e) = expr("[1,\n 2 ]");
    assert_eq!(slice(&text, e.span), "[1,\n 2 ]");
    let (text, e) = expr("\"s\"");
    assert_eq!(slice(&text, e.span), "\"s\"");
    assert_eq!(e.span.file, FileId(0));
    let m = parse(FileId(7), "fn f() { x }").unwrap();
    let Item::Fn(f) = &m.items[0] else { panic!() };
    assert_eq!(f.body.result.as_ref().unwrap().span.file, FileId(7));
    assert_eq!(f.name.span.file, FileId(7));
}

// ---------------------------------------------------------------- REPL

#[test]
fn repl_lines() {
    let lines =
        parse_repl(FileId(1), "let x = 3\nx = x + 1; model M { a = 1 }\nf(x)\nfor i in 0..2 { }").unwrap();
    let kinds: Vec<_> = lines
        .iter()
        .map(|l| match l {
            ReplLine::Item(Item::Model(m)) => format!("model {}", m.name.name),
            ReplLine::Item(_) => "item".into(),
            ReplLine::Stmt(s) => stmt(s),
        })
        .collect();
    assert_eq!(kinds, ["let x = 3", "x = (+ x 1)", "model M", "(call f x);", "for i in 0..2 {}"]);
    assert!(parse_repl(FileId(1), "").unwrap().is_empty());
    assert!(matches!(parse_repl(FileId(1), "use \"a.nn\"").unwrap()[..], [ReplLine::Item(Item::Use(_))]));
    let d = parse_repl(FileId(1), "let = 3").unwrap_err();
    assert_eq!(d.code, Code::SYNTAX);
    assert_eq!(d.message, "expected a name, found `=`");
}

// --------------------------------------------------------------- errors

#[test]
fn error_unexpected_token_in_call() {
    check_err("fn f() { g(a, =) }", Code::SYNTAX, "expected `)` or an expression, found `=`", "=");
    let d = check_err(
        "fn f() { g(a b) }",
        Code::SYNTAX,
        "expected one of `)`, `,`, `=` or an operator, found `b`",
        "b",
    );
    check_help(&d, "if these are separate items, put a `,` between them");
}

#[test]
fn error_assignment_for_comparison() {
    let d =
        check_err("fn f() { if x = 3 { 1 } }", Code::SYNTAX, "expected `{` or an operator, found `=`", "=");
    check_help(&d, "to compare two values, write `==`");
}

#[test]
fn error_unclosed_brace_points_at_the_end() {
    let text = "model M {\n  a = 1\n";
    let d = check_err(
        text,
        Code::SYNTAX,
        "expected one of `;`, `}`, `fn`, a name or an operator, found end of input",
        "1",
    );
    check_help(&d, "add `}` to close the `{`");
    assert_eq!(slice(text, d.labels[1].span), "{");
    assert_eq!(d.labels[1].message, "unclosed `{`");
    let d = check_err("fn f(", Code::SYNTAX, "expected `)` or a name, found end of input", "(");
    check_help(&d, "add `)` to close the `(`");
}

#[test]
fn error_mismatched_and_unmatched_brackets() {
    let text = "fn f() { x = (a + b }";
    let d = check_err(text, Code::SYNTAX, "expected `)` or an operator, found `}`", "}");
    check_help(&d, "close the `(` with `)` before `}`");
    assert_eq!(slice(text, d.labels[1].span), "(");
    let d = check_err(
        "fn f() { x = a + b) }",
        Code::SYNTAX,
        "expected one of `;`, `}`, `for`, `let`, an expression or an operator, found `)`",
        ")",
    );
    check_help(&d, "this `)` has no matching `(`; remove it");
    let d = check_err(
        "model M {} }",
        Code::SYNTAX,
        "expected one of `data`, `fn`, `model`, `train`, `use` or end of input, found `}`",
        "}",
    );
    check_help(&d, "this `}` has no matching `{`; remove it");
}

#[test]
fn error_keyword_as_name() {
    let d = check_err(
        "fn f() { let model = 3 }",
        Code::SYNTAX,
        "expected a name, found keyword `model`",
        "model",
    );
    check_help(&d, "`model` is a keyword and cannot be used as a name; rename it, e.g. `model_`");
    let d = check_err(
        "fn f(data: int) { }",
        Code::SYNTAX,
        "expected `)` or a name, found keyword `data`",
        "data",
    );
    assert!(d.help.unwrap().starts_with("`data` is a keyword"));
    check_err("fn f() { x = in }", Code::SYNTAX, "expected an expression, found keyword `in`", "in");
}

#[test]
fn error_chained_comparison() {
    let text = "fn f() { a < b <= c }";
    let d = check_err(text, Code::SYNTAX, "comparison operators cannot be chained", "<=");
    assert_eq!(slice(text, d.labels[1].span), "<");
    check_help(&d, "join the comparisons with `&&`, as in `a < b && b < c`");
}

#[test]
fn error_items_and_types() {
    check_err(
        "blah",
        Code::SYNTAX,
        "expected one of `data`, `fn`, `model`, `train`, `use` or end of input, found `blah`",
        "blah",
    );
    check_err("use foo", Code::SYNTAX, "expected a string, found `foo`", "foo");
    check_err("fn f(x: ) {}", Code::SYNTAX, "expected a type, found `)`", ")");
    check_err("fn f(x: [B, ) {}", Code::SYNTAX, "expected one of `...`, `]` or a dimension, found `)`", ")");
    check_err("train Mlp mnist {}", Code::SYNTAX, "expected `(` or `on`, found `mnist`", "mnist");
    check_err("fn f() x", Code::SYNTAX, "expected `->` or `{`, found `x`", "x");
    check_err("model M { fn }", Code::SYNTAX, "expected a name, found `}`", "}");
}

#[test]
fn error_float_without_fraction_digits() {
    let d = check_err("fn f() { x = 3. }", Code::SYNTAX, "expected a name, found `}`", "}");
    check_help(&d, "a float needs digits after the `.`, as in `3.0`");
}

#[test]
fn error_non_ascii_and_quotes() {
    check_err(
        "fn f() { é }",
        Code::SYNTAX,
        "expected one of `}`, `for`, `let` or an expression, found `é`",
        "é",
    );
    let d = check_err("fn f() { x = 'a' }", Code::SYNTAX, "expected an expression, found `'`", "'");
    check_help(&d, "strings are written in double quotes: \"...\"");
}

#[test]
fn error_unterminated_string_and_comment() {
    let d = check_err("fn f() { x = \"abc\n }", Code::SYNTAX, "unterminated string", "\"abc");
    check_help(&d, "add a closing `\"`; a string cannot span lines");
    check_err("use \"abc", Code::SYNTAX, "unterminated string", "\"abc");
    let d = check_err("fn f() { x /* y }", Code::SYNTAX, "unterminated block comment", "/*");
    check_help(&d, "add `*/` to close the comment");
    // An earlier syntax error wins over a later unterminated string.
    check_err("fn f() { x = = 1 } use \"a", Code::SYNTAX, "expected an expression, found `=`", "=");
}

#[test]
fn error_bad_literals() {
    let d = check_err(
        "fn f() { 99999999999999999999 }",
        Code::BAD_LITERAL,
        "integer literal `99999999999999999999` is too large",
        "99999999999999999999",
    );
    assert_eq!(d.notes, ["the largest integer is 9223372036854775807"]);
    let d = check_err("fn f() { 1e }", Code::BAD_LITERAL, "malformed number `1e`", "1e");
    check_help(&d, "write digits after the `e`, as in `1e-3`");
    check_err("fn f() { 2.5e+ }", Code::BAD_LITERAL, "malformed number `2.5e+`", "2.5e+");
    let d = check_err("fn f() { 2x }", Code::BAD_LITERAL, "malformed number `2x`", "2x");
    check_help(&d, "put an operator between a number and a name, as in `2 * x`");
    check_err("fn f() { 1e999 }", Code::BAD_LITERAL, "float literal `1e999` is out of range", "1e999");
    let d = check_err(r#"fn f() { "a\qb" }"#, Code::BAD_LITERAL, r"unknown escape `\q` in string", r"\q");
    check_help(&d, r#"the escapes are `\"`, `\\`, `\n` and `\t`"#);
    check_err("use \"é\\é\"", Code::BAD_LITERAL, "unknown escape `\\é` in string", "\\é");
    check_err("fn f(x: [1e]) {}", Code::BAD_LITERAL, "malformed number `1e`", "1e");
}

// -------------------------------------------------------------- nesting

fn nested(depth: usize) -> String {
    // The function body's `{` is one level.
    format!("fn f() {{ {}x{} }}", "(".repeat(depth - 1), ")".repeat(depth - 1))
}

#[test]
fn nesting_up_to_the_limit_parses() {
    let max = nnc::syntax::MAX_NESTING;
    let (text, e) = {
        let text = nested(max);
        let m = parse_ok(&text);
        let Some(Item::Fn(f)) = m.items.into_iter().next() else { panic!() };
        (text, *f.body.result.unwrap())
    };
    assert_eq!(sexpr(&e), "x");
    assert_eq!(e.span.end as usize, text.len() - 2);
    for text in [
        format!("fn f() {{ {}x{} }}", "f(".repeat(max - 1), ")".repeat(max - 1)),
        format!("fn f() {{ {}{} }}", "[".repeat(max - 1), "]".repeat(max - 1)),
        format!("fn f() {{ {}1{} }}", "if a { ".repeat(max - 1), " }".repeat(max - 1)),
        format!("fn f() {{ {}x{} }}", "x[".repeat(max - 1), "]".repeat(max - 1)),
    ] {
        parse_ok(&text);
    }
}

#[test]
fn nesting_past_the_limit_is_an_error() {
    let max = nnc::syntax::MAX_NESTING;
    for depth in [max + 1, 100_000] {
        let text = nested(depth);
        let d = check_err(&text, Code::SYNTAX, "expression nested too deeply", "(");
        assert_eq!(d.primary_span().unwrap().start as usize, 9 + max - 1);
    }
    // Unbalanced openers alone count too, and nothing overflows.
    let text = "[".repeat(1_000_000);
    check_err(&text, Code::SYNTAX, "expression nested too deeply", "[");
    let text = format!("fn f() {{ {} }}", "{".repeat(10_000));
    check_err(&text, Code::SYNTAX, "expression nested too deeply", "{");
}

#[test]
fn long_chains_are_bounded() {
    let depth = nnc::syntax::MAX_EXPR_DEPTH as usize;
    // Within the limit: a long sum is fine.
    parse_ok(&format!("fn f() {{ {}a }}", "a + ".repeat(depth - 1)));
    for (unit, at) in [("a + ", "+"), ("-", "-"), ("!", "!"), ("a ** ", "**")] {
        let text = format!("fn f() {{ {}a }}", unit.repeat(5_000));
        check_err(&text, Code::SYNTAX, "expression nested too deeply", at);
    }
    let text = format!("fn f() {{ {}{{ a }} }}", "if a { 1 } else ".repeat(5_000));
    check_err(&text, Code::SYNTAX, "expression nested too deeply", "if");
    let text = format!("fn f() {{ a{} }}", "()".repeat(5_000));
    check_err(&text, Code::SYNTAX, "expression nested too deeply", "()");
    let text = format!("fn f() {{ a{} }}", ".b".repeat(5_000));
    check_err(&text, Code::SYNTAX, "expression nested too deeply", ".b");
    let text = format!("fn f(x: [{}1]) {{ }}", "B + ".repeat(5_000));
    check_err(&text, Code::SYNTAX, "expression nested too deeply", "+");
}

// ---------------------------------------------------------- robustness

mod robustness {
    use super::*;
    use proptest::prelude::*;

    const EXAMPLES: [&str; 2] =
        [include_str!("../examples/mnist_mlp.nn"), include_str!("../examples/mnist_cnn.nn")];

    /// Tokens worth splicing into a file: every kind of bracket, operator,
    /// keyword and literal, including broken ones.
    const TOKENS: &[&str] = &[
        "(",
        ")",
        "[",
        "]",
        "{",
        "}",
        ",",
        ";",
        ":",
        "=",
        "==",
        "!=",
        "<",
        "<=",
        "&&",
        "||",
        "+",
        "-",
        "*",
        "**",
        "/",
        "%",
        "@",
        "!",
        ".",
        "..",
        "...",
        "->",
        "fn",
        "model",
        "let",
        "for",
        "in",
        "if",
        "else",
        "use",
        "data",
        "train",
        "on",
        "true",
        "x",
        "0",
        "1.5",
        "1e",
        "1e-3",
        "99999999999999999999",
        "\"",
        "\"a\\qb\"",
        "\"ok\"",
        "//",
        "/*",
        "*/",
        "\n",
        " ",
        "é",
        "\u{0}",
        "'",
    ];

    #[derive(Clone, Debug)]
    enum Mutation {
        /// Overwrite the byte at a position.
        Flip(usize, u8),
        /// Cut the text at a position.
        Truncate(usize),
        /// Delete a range.
        Delete(usize, usize),
        /// Copy a range to another position.
        Duplicate(usize, usize, usize),
        /// Swap two whitespace-separated words.
        SwapWords(usize, usize),
        /// Insert a token at a position.
        Insert(usize, usize),
    }

    fn mutation() -> impl Strategy<Value = Mutation> {
        let pos = || 0usize..4096;
        prop_oneof![
            (pos(), any::<u8>()).prop_map(|(p, b)| Mutation::Flip(p, b)),
            (pos(), prop::sample::select(b"(){}[],;:=+-*/.\"\\ \nae09_!<>".to_vec()))
                .prop_map(|(p, b)| Mutation::Flip(p, b)),
            pos().prop_map(Mutation::Truncate),
            (pos(), 0usize..64).prop_map(|(p, n)| Mutation::Delete(p, n)),
            (pos(), 0usize..64, pos()).prop_map(|(a, n, b)| Mutation::Duplicate(a, n, b)),
            (pos(), pos()).prop_map(|(a, b)| Mutation::SwapWords(a, b)),
            (pos(), 0..TOKENS.len()).prop_map(|(p, t)| Mutation::Insert(p, t)),
        ]
    }

    fn apply(text: &mut Vec<u8>, m: &Mutation) {
        let len = text.len();
        let at = |p: usize| if len == 0 { 0 } else { p % (len + 1) };
        match *m {
            Mutation::Flip(p, b) if len > 0 => text[p % len] = b,
            Mutation::Flip(..) => {}
            Mutation::Truncate(p) => text.truncate(at(p)),
            Mutation::Delete(p, n) => {
                let start = at(p);
                let end = (start + n).min(len);
                text.drain(start..end);
            }
            Mutation::Duplicate(p, n, q) => {
                let start = at(p);
                let end = (start + n).min(len);
                let piece = text[start..end].to_vec();
                let dst = at(q);
                text.splice(dst..dst, piece);
            }
            Mutation::SwapWords(a, b) => {
                let s = String::from_utf8_lossy(text).into_owned();
                let mut words: Vec<&str> = s.split(' ').collect();
                let n = words.len();
                words.swap(a % n, b % n);
                *text = words.join(" ").into_bytes();
            }
            Mutation::Insert(p, t) => {
                let dst = at(p);
                text.splice(dst..dst, TOKENS[t].bytes());
            }
        }
    }

    /// Every span in a successful parse lies inside the text.
    fn check_spans(text: &str, m: &ast::Module) {
        let ok = |s: Span| {
            let (a, b) = (s.start as usize, s.end as usize);
            assert!(a <= b && b <= text.len(), "span {a}..{b} outside 0..{}", text.len());
            assert!(text.is_char_boundary(a) && text.is_char_boundary(b));
        };
        // The Debug output lists every span; checking them through it
        // keeps this independent of the AST's shape.
        let dbg = format!("{m:?}");
        for part in dbg.split("Span { file: FileId(0), start: ").skip(1) {
            let start: usize = part.split(',').next().unwrap().parse().unwrap();
            let end: usize = part.split("end: ").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();
            ok(Span::new(FileId(0), start, end));
        }
    }

    fn check_error(text: &str, d: &Diagnostic) {
        assert!(d.code == Code::SYNTAX || d.code == Code::BAD_LITERAL, "{d:?}");
        for label in &d.labels {
            let (a, b) = (label.span.start as usize, label.span.end as usize);
            assert!(a <= b && b <= text.len(), "label {a}..{b} outside 0..{}: {d:?}", text.len());
            assert!(text.is_char_boundary(a) && text.is_char_boundary(b));
        }
        let primary = d.primary_span().expect("a primary span");
        if !text.is_empty() {
            assert!(primary.end > primary.start, "empty primary span: {d:?}");
        }
        // Rule names never leak into messages.
        let expected = d.message.split(", found").next().unwrap();
        for word in expected.split(|c: char| !(c.is_alphanumeric() || c == '_')) {
            assert!(
                !["ident", "expr", "infix", "call_args", "slice_or_at", "EOI", "Rule"].contains(&word)
                    && !word.starts_with("kw_"),
                "rule name in {:?}",
                d.message
            );
        }
        assert!(render(text, d).contains(&d.code.to_string()));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2500))]

        #[test]
        fn mutated_examples_never_panic(
            which in 0..EXAMPLES.len(),
            mutations in prop::collection::vec(mutation(), 1..6),
        ) {
            let mut bytes = EXAMPLES[which].as_bytes().to_vec();
            for m in &mutations {
                apply(&mut bytes, m);
            }
            let text = String::from_utf8_lossy(&bytes).into_owned();
            match parse(FileId(0), &text) {
                Ok(m) => check_spans(&text, &m),
                Err(d) => check_error(&text, &d),
            }
            if let Err(d) = parse_repl(FileId(0), &text) {
                check_error(&text, &d);
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]

        /// Random token soup reaches parser states the examples do not.
        #[test]
        fn token_soup_never_panics(
            tokens in prop::collection::vec(0..TOKENS.len(), 0..120),
            spaced in any::<bool>(),
        ) {
            let sep = if spaced { " " } else { "" };
            let text: String = tokens.iter().map(|&t| TOKENS[t]).collect::<Vec<_>>().join(sep);
            for wrapped in [text.clone(), format!("fn f() {{ {text} }}")] {
                match parse(FileId(0), &wrapped) {
                    Ok(m) => check_spans(&wrapped, &m),
                    Err(d) => check_error(&wrapped, &d),
                }
                if let Err(d) = parse_repl(FileId(0), &wrapped) {
                    check_error(&wrapped, &d);
                }
            }
        }
    }
}

// ------------------------------------------------------------------ docs

/// The fenced blocks of one language in `docs/LANGUAGE.md`.
fn doc_blocks(lang: &str) -> Vec<String> {
    let doc = std::fs::read_to_string("docs/LANGUAGE.md").unwrap();
    let fence = format!("```{lang}\n");
    doc.split(&fence).skip(1).map(|rest| rest.split("```").next().unwrap().to_string()).collect()
}

#[test]
fn docs_quote_the_grammar() {
    let grammar = std::fs::read_to_string("grammar/nn.pest").unwrap();
    let lines: Vec<&str> = grammar.lines().collect();
    let blocks = doc_blocks("pest");
    assert!(blocks.len() > 10);
    for block in blocks {
        for line in block.lines().filter(|l| !l.trim().is_empty()) {
            assert!(lines.contains(&line), "not in grammar/nn.pest: {line:?}");
        }
    }
}

#[test]
fn docs_examples_parse() {
    let blocks = doc_blocks("nn");
    assert!(blocks.len() >= 6);
    for block in blocks {
        parse_ok(&block);
    }
}

#[test]
fn docs_error_examples_render_as_shown() {
    for (text, shown) in [
        ("model M {\n  fn f() {\n    if x = 3 { 1 }\n  }\n}\n", "expected `{` or an operator, found `=`"),
        ("model M {\n  a = 1\n", "expected one of `;`, `}`, `fn`, a name or an operator, found end of input"),
    ] {
        let d = parse(FileId(0), text).unwrap_err();
        assert_eq!(d.message, shown);
        let doc = std::fs::read_to_string("docs/LANGUAGE.md").unwrap();
        assert!(doc.contains(&format!("error[E0101]: {shown}")));
        println!("{}", render(text, &d));
    }
}
