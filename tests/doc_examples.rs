//! Every `.nn` example in `README.md` and `docs/*.md` is checked, as rustdoc
//! checks the Rust examples in doc comments.
//!
//! The info string of a fenced code block says what it is:
//!
//! - ` ```nn `: a whole `.nn` file. `nnc check` must accept it without a
//!   diagnostic, and every item in it must be one that `nnc check` actually
//!   elaborates (a model with `forward` and defaults for all its parameters,
//!   a function whose parameters are tensors or have defaults, a `train`
//!   block) or be named by one (a layer, a function, a data set it uses), so
//!   that "no error" means the example was checked, not skipped.
//! - ` ```nn,error=E0303 `: `nnc check` must fail, and every error it
//!   reports must carry that code.
//! - ` ```nn,fragment `: REPL input (items and statements in any order),
//!   evaluated in a fresh `nnc repl` session, which must print no error;
//!   for a lone expression or statement. `fragment,error=CODE` works too.
//! - anything else (untagged, `text`, `sh`, `pest`) is not `.nn` source and
//!   is not checked, except that an untagged or `text` block that looks like
//!   `.nn` source (its first line of code starts an item, or it parses as
//!   items) fails the test: it must be tagged `nn`.
//! - a `text` block whose first line is `$ nnc ARGS` is a transcript: the
//!   command is run and the rest of the block must be its standard output,
//!   line for line, where a line `...` stands for any number of lines.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use nnc::cli::repl::Session;
use nnc::diag::{Code, FileId};
use nnc::syntax::ast::{Item, TypeExpr};

/// One fenced code block.
struct Block {
    /// `docs/LANGUAGE.md:12`: where its opening fence is.
    place: String,
    /// The info string after the opening fence, trimmed.
    info: String,
    /// The contents, without the fences and the fence's indentation.
    text: String,
}

/// What an `nn` block must do.
#[derive(Debug, PartialEq)]
struct NnTag {
    /// Evaluated as REPL input instead of checked as a file.
    fragment: bool,
    /// The code every error must carry; `None`: no diagnostic at all.
    error: Option<String>,
}

/// The files whose examples are checked: `README.md` and `docs/*.md`.
fn doc_files() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    files.sort();
    files.insert(0, root.join("README.md"));
    files
}

/// The fenced blocks of a Markdown text. A fence is a line whose
/// indentation is followed by three backticks; the block ends at the next
/// fence line.
fn blocks(name: &str, markdown: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut open: Option<(usize, String, usize, Vec<&str>)> = None;
    for (i, line) in markdown.lines().enumerate() {
        let trimmed = line.trim_start();
        let is_fence = trimmed.starts_with("```");
        match (&mut open, is_fence) {
            (None, true) => {
                let indent = line.len() - trimmed.len();
                open = Some((i + 1, trimmed[3..].trim().to_string(), indent, Vec::new()));
            }
            (Some(_), true) => {
                let (at, info, _, lines) = open.take().unwrap();
                let text = lines.iter().map(|l| format!("{l}\n")).collect();
                out.push(Block { place: format!("{name}:{at}"), info, text });
            }
            (Some((_, _, indent, lines)), false) => {
                let cut = line.len() - line.trim_start().len();
                lines.push(&line[cut.min(*indent)..]);
            }
            (None, false) => {}
        }
    }
    assert!(open.is_none(), "{name}: a code block is not closed");
    out
}

/// Every block of every documentation file.
fn all_blocks() -> Vec<Block> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    doc_files()
        .iter()
        .flat_map(|path| {
            let name = path.strip_prefix(root).unwrap().display().to_string();
            blocks(&name, &std::fs::read_to_string(path).unwrap())
        })
        .collect()
}

/// The tag of an `nn` block (`None` for other languages), or why the info
/// string is malformed.
fn nn_tag(info: &str) -> Option<Result<NnTag, String>> {
    let mut parts = info.split(',').map(str::trim);
    if parts.next() != Some("nn") {
        return None;
    }
    let mut tag = NnTag { fragment: false, error: None };
    for part in parts {
        match part.strip_prefix("error=") {
            Some(code) if Code::ALL.iter().any(|(c, _)| c.to_string() == code) => {
                tag.error = Some(code.to_string());
            }
            Some(code) => return Some(Err(format!("`{code}` is not a diagnostic code"))),
            None if part == "fragment" => tag.fragment = true,
            None => {
                return Some(Err(format!(
                    "unknown attribute `{part}` (expected `fragment` or `error=CODE`)"
                )));
            }
        }
    }
    Some(Ok(tag))
}

/// The codes of the errors in rendered diagnostics, in order, each once.
fn error_codes(rendered: &str) -> Vec<String> {
    let mut codes: Vec<String> = Vec::new();
    for piece in rendered.split("error[").skip(1) {
        if let Some(code) = piece.split(']').next()
            && !codes.iter().any(|c| c == code)
        {
            codes.push(code.to_string());
        }
    }
    codes
}

/// Runs `nnc check` on `text` saved as a file; the rendered diagnostics.
fn nnc_check(text: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("example.nn");
    std::fs::write(&file, text).unwrap();
    let (code, stdout, stderr) =
        nnc::cli::execute([OsStr::new("nnc"), OsStr::new("check"), file.as_os_str()]);
    assert!(code != 2, "nnc failed internally:\n{stdout}{stderr}");
    stderr
}

/// The items of a whole-file example that `nnc check` would skip: not
/// elaborated on their own and not named by an item that is.
fn unchecked_items(text: &str) -> Vec<String> {
    let Ok(module) = nnc::syntax::parse(FileId(0), text) else { return Vec::new() };
    let source = |span: nnc::diag::Span| &text[span.start as usize..span.end as usize];
    // (kind and name, source text, elaborated on its own)
    let items: Vec<(String, String, &str, bool)> = module
        .items
        .iter()
        .filter_map(|item| match item {
            Item::Use(_) => None,
            Item::Model(m) => Some((
                "model",
                m.name.name.clone(),
                source(m.span),
                m.params.iter().all(|p| p.default.is_some())
                    && m.fns.iter().any(|f| f.name.name == "forward"),
            )),
            Item::Fn(f) => Some((
                "fn",
                f.name.name.clone(),
                source(f.span),
                f.params.iter().all(|p| p.default.is_some() || matches!(p.ty, Some(TypeExpr::Tensor { .. }))),
            )),
            Item::Data(d) => Some(("data", d.name.name.clone(), source(d.span), false)),
            Item::Train(t) => Some(("train", String::new(), source(t.span), true)),
        })
        .map(|(kind, name, src, alone)| (format!("{kind} {name}"), name, src, alone))
        .collect();
    let mut checked: Vec<bool> = items.iter().map(|i| i.3).collect();
    let words = |s: &str| -> Vec<String> {
        s.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .filter(|w| !w.is_empty())
            .map(str::to_string)
            .collect()
    };
    loop {
        let before = checked.clone();
        for (i, (_, name, _, _)) in items.iter().enumerate() {
            if !checked[i] {
                checked[i] = items
                    .iter()
                    .enumerate()
                    .any(|(j, (_, _, src, _))| j != i && before[j] && words(src).iter().any(|w| w == name));
            }
        }
        if checked == before {
            break;
        }
    }
    items.iter().zip(&checked).filter(|(_, c)| !**c).map(|(i, _)| i.0.trim().to_string()).collect()
}

/// Whether an untagged block holds `.nn` source: its first line that is not
/// blank or a comment starts an item, or the whole block parses as items.
fn looks_like_nn(text: &str) -> bool {
    let first = text.lines().map(str::trim).find(|l| !l.is_empty() && !l.starts_with("//"));
    let starts_item = first
        .is_some_and(|l| ["model ", "fn ", "data ", "train ", "use \""].iter().any(|k| l.starts_with(k)));
    let parses = nnc::syntax::parse(FileId(0), text).is_ok_and(|m| !m.items.is_empty());
    starts_item || parses
}

/// Whether `output` matches `pattern` line for line, a pattern line `...`
/// matching any number of output lines.
fn matches_elided(pattern: &[&str], output: &[&str]) -> bool {
    // ok[j]: the pattern lines so far match the first j output lines.
    let mut ok = vec![false; output.len() + 1];
    ok[0] = true;
    for p in pattern {
        let mut next = vec![false; output.len() + 1];
        for j in 0..=output.len() {
            next[j] = if *p == "..." {
                ok[j] || (j > 0 && next[j - 1])
            } else {
                j > 0 && ok[j - 1] && output[j - 1] == *p
            };
        }
        ok = next;
    }
    ok[output.len()]
}

/// What is wrong with one block, if anything.
fn problem(block: &Block) -> Option<String> {
    let tag = match nn_tag(&block.info) {
        None if block.info.is_empty() || block.info == "text" => {
            if let Some(command) = block.text.lines().next().and_then(|l| l.strip_prefix("$ nnc ")) {
                return transcript_problem(command, &block.text);
            }
            return looks_like_nn(&block.text).then(|| "`.nn` source in a block not tagged `nn`".to_string());
        }
        None => return None,
        Some(Err(why)) => return Some(why),
        Some(Ok(tag)) => tag,
    };
    let rendered = if tag.fragment { Session::new().eval(&block.text) } else { nnc_check(&block.text) };
    let codes = error_codes(&rendered);
    match &tag.error {
        None if tag.fragment && !codes.is_empty() => Some(format!("the REPL reports errors:\n{rendered}")),
        None if !tag.fragment && !rendered.is_empty() => Some(format!("`nnc check` reports:\n{rendered}")),
        None if !tag.fragment => {
            let skipped = unchecked_items(&block.text);
            (!skipped.is_empty()).then(|| {
                format!(
                    "`nnc check` skips {}: it elaborates models with `forward` whose parameters \
                     all have defaults, functions whose parameters are tensors or have defaults, \
                     train blocks, and what those use",
                    skipped.join(", ")
                )
            })
        }
        None => None,
        Some(code) if codes != [code.clone()] => {
            Some(format!("expected only error {code}, got {codes:?}:\n{rendered}"))
        }
        Some(_) => None,
    }
}

/// What is wrong with a transcript block, if anything.
fn transcript_problem(command: &str, text: &str) -> Option<String> {
    let args = std::iter::once("nnc").chain(command.split_whitespace());
    let (code, stdout, stderr) = nnc::cli::execute(args);
    if code != 0 {
        return Some(format!("`nnc {command}` failed:\n{stderr}"));
    }
    let pattern: Vec<&str> = text.lines().skip(1).collect();
    let output: Vec<&str> = stdout.lines().collect();
    (!matches_elided(&pattern, &output)).then(|| format!("`nnc {command}` prints something else:\n{stdout}"))
}

#[test]
fn every_nn_example_in_the_docs_checks() {
    let blocks = all_blocks();
    let problems: Vec<String> =
        blocks.iter().filter_map(|b| problem(b).map(|p| format!("{} ({}): {p}", b.place, b.info))).collect();
    assert!(
        problems.is_empty(),
        "{} documentation examples are wrong:\n\n{}",
        problems.len(),
        problems.join("\n\n")
    );
    let nn = blocks.iter().filter(|b| nn_tag(&b.info).is_some()).count();
    assert!(nn >= 15, "only {nn} `nn` blocks found; is the fence scanner broken?");
}

#[test]
fn every_error_example_demonstrates_its_code() {
    // The examples in docs/ERRORS.md that reproduce an error sit under the
    // heading of the code they demonstrate.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(root.join("docs/ERRORS.md")).unwrap();
    let mut heading = String::new();
    let mut examples = 0;
    for line in doc.lines() {
        if let Some(h) = line.strip_prefix("## ") {
            heading = h.split(':').next().unwrap().to_string();
        } else if let Some(info) = line.strip_prefix("```")
            && let Some(Ok(tag)) = nn_tag(info.trim())
        {
            assert_eq!(
                tag.error.as_deref(),
                Some(heading.as_str()),
                "an example under {heading} is tagged {info}"
            );
            examples += 1;
        }
    }
    assert!(examples >= 4, "only {examples} error examples in docs/ERRORS.md");
}

#[test]
fn tags_are_read_strictly() {
    assert_eq!(nn_tag("rust"), None);
    assert_eq!(nn_tag("nn").unwrap(), Ok(NnTag { fragment: false, error: None }));
    assert_eq!(
        nn_tag("nn,fragment,error=E0303").unwrap(),
        Ok(NnTag { fragment: true, error: Some("E0303".into()) })
    );
    assert!(nn_tag("nn,error=E9999").unwrap().is_err());
    assert!(nn_tag("nn,eror=E0303").unwrap().is_err());
}

#[test]
fn a_fence_inside_a_list_keeps_its_code_and_drops_its_indentation() {
    let md = "text\n\n  ```nn,fragment\n  let a = 1\n    a + 1\n  ```\n\n```\nplain\n```\n";
    let bs = blocks("x.md", md);
    assert_eq!(bs.len(), 2);
    assert_eq!((bs[0].place.as_str(), bs[0].info.as_str()), ("x.md:3", "nn,fragment"));
    assert_eq!(bs[0].text, "let a = 1\n  a + 1\n");
    assert_eq!((bs[1].info.as_str(), bs[1].text.as_str()), ("", "plain\n"));
}

#[test]
fn an_unknown_function_in_a_checked_example_is_found() {
    let block = Block {
        place: "x.md:1".into(),
        info: "nn".into(),
        text: "fn act(x: [B, D]) -> [B, D] { gelu(x) }\n".into(),
    };
    let p = problem(&block).expect("gelu does not exist");
    assert!(p.contains("E0201") && p.contains("gelu"), "{p}");
}

#[test]
fn a_fragment_is_evaluated_in_the_repl() {
    let block =
        |info: &str, text: &str| Block { place: "x.md:1".into(), info: info.into(), text: text.into() };
    assert_eq!(problem(&block("nn,fragment", "let x = ones([2, 3])\nrelu(x - 0.5)\n")), None);
    let p = problem(&block("nn,fragment", "let x = ones([2, 3])\ngelu(x)\n")).expect("gelu does not exist");
    assert!(p.contains("E0201"), "{p}");
    assert_eq!(problem(&block("nn,fragment,error=E0201", "gelu(ones([2]))\n")), None);
    let p = problem(&block("nn,fragment,error=E0303", "gelu(ones([2]))\n")).expect("the wrong code");
    assert!(p.contains("expected only error E0303"), "{p}");
}

#[test]
fn an_example_nnc_check_would_skip_is_flagged() {
    // `kind` has neither a tensor type nor a default, so `nnc check` never
    // elaborates `act` and would not notice that `gelu` does not exist.
    let text = "fn act(x, kind: str) {\n    if kind == \"gelu\" { gelu(x) } else { x }\n}\n";
    assert_eq!(nnc_check(text), "");
    assert_eq!(unchecked_items(text), ["fn act"]);
    // Used from a checked model, a layer with required parameters is checked.
    let used = "model Block(n: int) {\n    fc = Linear(n, n)\n    fn forward(x: [B, n]) -> [B, n] { fc(x) }\n}\n\
                model Net {\n    b = Block(4)\n    fn forward(x: [B, 4]) -> [B, 4] { b(x) }\n}\n";
    assert_eq!(unchecked_items(used), Vec::<String>::new());
}

#[test]
fn an_untagged_nn_block_is_flagged_and_shell_text_is_not() {
    assert!(looks_like_nn("// broken on purpose\nfn f(x) {\n    let y = = x\n"));
    assert!(looks_like_nn("model M { fn forward(x: [B, 2]) -> [B, 2] { x } }\n"));
    assert!(!looks_like_nn("cargo run --release -- run examples/xor.nn\n"));
    assert!(!looks_like_nn("error[E0201]: unknown name `fc3`\n"));
    assert!(!looks_like_nn("source ─syntax→ ast::Module\n"));
}

#[test]
fn elided_lines_match_any_run_of_output() {
    let out = ["a", "b", "c", "d"];
    assert!(matches_elided(&["a", "...", "d"], &out));
    assert!(matches_elided(&["...", "b", "...", "d"], &out));
    assert!(matches_elided(&["a", "b", "...", "c", "d"], &out));
    assert!(!matches_elided(&["a", "c", "d"], &out));
    assert!(!matches_elided(&["a", "...", "c"], &out));
    assert!(!matches_elided(&["...", "e"], &out));
}
