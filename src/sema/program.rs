//! A program: every item from the prelude, the root file and the files it
//! `use`s, indexed by name.
//!
//! Loading is incremental — [`Program::add_source`] parses one more text and
//! adds its items — so the REPL can grow a program a line at a time. File
//! access goes through the [`Loader`] trait; only the CLI touches the disk.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use crate::diag::{Code, Diagnostic, FileId, SourceMap, Span};
use crate::syntax::{ast, parser};

/// The prelude: layers, activations and losses written in `.nn`.
pub const PRELUDE: &[(&str, &str)] = &[
    ("<prelude>/functional.nn", include_str!("../prelude/functional.nn")),
    ("<prelude>/layers.nn", include_str!("../prelude/layers.nn")),
    ("<prelude>/losses.nn", include_str!("../prelude/losses.nn")),
    ("<prelude>/sequence.nn", include_str!("../prelude/sequence.nn")),
];

/// Reads source files for `use`; the CLI's implementation reads the disk,
/// tests and the REPL supply text from memory.
pub trait Loader {
    /// The text of the file at `path`, or an error message (e.g. the OS error).
    fn load(&mut self, path: &Path) -> Result<String, String>;
}

/// A definition together with where it came from.
#[derive(Clone, Debug)]
pub struct Defined<T> {
    /// The definition.
    pub def: Rc<T>,
    /// True for prelude items, which user items may shadow.
    pub prelude: bool,
}

/// Every item of a program, by name.
#[derive(Debug, Default)]
pub struct Program {
    /// All source text, for diagnostics.
    pub sources: SourceMap,
    /// Models by name.
    pub models: HashMap<String, Defined<ast::ModelDef>>,
    /// Free functions by name.
    pub fns: HashMap<String, Defined<ast::FnDef>>,
    /// Data blocks by name.
    pub data: HashMap<String, Rc<ast::DataDef>>,
    /// Train blocks in source order.
    pub trains: Vec<Rc<ast::TrainDef>>,
    /// User (non-prelude) models and functions in source order, for checking.
    pub user_items: Vec<ast::Item>,
    /// Canonical paths of files loaded so far, so a file used twice loads once.
    loaded: Vec<PathBuf>,
}

impl Program {
    /// A program holding just the prelude.
    pub fn with_prelude() -> (Program, Vec<Diagnostic>) {
        let mut p = Program::default();
        let mut diags = Vec::new();
        for (name, text) in PRELUDE {
            let file = p.sources.add(*name, *text);
            match parser::parse(file, text) {
                Ok(module) => p.add_items(module.items, true, &mut diags),
                Err(d) => diags.push(d),
            }
        }
        (p, diags)
    }

    /// Loads `path` and, recursively, every file it uses.
    pub fn load_root(path: &Path, loader: &mut dyn Loader) -> (Program, Vec<Diagnostic>) {
        let (mut p, mut diags) = Program::with_prelude();
        match loader.load(path) {
            Ok(text) => {
                let mut stack = Vec::new();
                p.load_text(path, text, loader, &mut stack, &mut diags);
            }
            Err(e) => diags.push(
                Diagnostic::error_nowhere(
                    Code::USE_NOT_FOUND,
                    format!("cannot read `{}`: {e}", path.display()),
                )
                .with_help("check the path; it is relative to the current directory"),
            ),
        }
        (p, diags)
    }

    /// A program from one in-memory text (tests, the REPL); `use` is refused.
    pub fn from_source(name: &str, text: &str) -> (Program, Vec<Diagnostic>) {
        struct NoFiles;
        impl Loader for NoFiles {
            fn load(&mut self, _: &Path) -> Result<String, String> {
                Err("files cannot be used here".into())
            }
        }
        let (mut p, mut diags) = Program::with_prelude();
        diags.extend(p.add_source(Path::new(name), text.to_string(), &mut NoFiles));
        (p, diags)
    }

    /// Parses `text` as the contents of `path` (which need not exist, e.g.
    /// REPL input) and adds its items; `use` paths resolve relative to `path`'s
    /// directory.
    pub fn add_source(&mut self, path: &Path, text: String, loader: &mut dyn Loader) -> Vec<Diagnostic> {
        let mut diags = Vec::new();
        let mut stack = Vec::new();
        self.load_text(path, text, loader, &mut stack, &mut diags);
        diags
    }

    fn load_text(
        &mut self,
        path: &Path,
        text: String,
        loader: &mut dyn Loader,
        stack: &mut Vec<PathBuf>,
        diags: &mut Vec<Diagnostic>,
    ) -> FileId {
        let file = self.sources.add(path.display().to_string(), text.clone());
        let key = normalise(path);
        self.loaded.push(key.clone());
        stack.push(key);
        match parser::parse(file, &text) {
            Ok(module) => {
                for item in &module.items {
                    if let ast::Item::Use(u) = item {
                        self.load_use(path, u, loader, stack, diags);
                    }
                }
                self.add_items(module.items, false, diags);
            }
            Err(d) => diags.push(d),
        }
        stack.pop();
        file
    }

    fn load_use(
        &mut self,
        from: &Path,
        u: &ast::UseItem,
        loader: &mut dyn Loader,
        stack: &mut Vec<PathBuf>,
        diags: &mut Vec<Diagnostic>,
    ) {
        let target = from.parent().unwrap_or(Path::new("")).join(&u.path);
        let key = normalise(&target);
        if let Some(pos) = stack.iter().position(|p| *p == key) {
            let cycle: Vec<String> =
                stack[pos..].iter().chain(std::iter::once(&key)).map(|p| p.display().to_string()).collect();
            diags.push(
                Diagnostic::error(Code::USE_CYCLE, u.path_span, format!("cyclic `use` of `{}`", u.path))
                    .with_primary("this file is already being loaded")
                    .with_note(format!("the cycle is {}", cycle.join(" -> ")))
                    .with_help("move the shared definitions into a third file that both use"),
            );
            return;
        }
        if self.loaded.contains(&key) {
            return;
        }
        match loader.load(&target) {
            Ok(text) => {
                self.load_text(&target, text, loader, stack, diags);
            }
            Err(e) => diags.push(
                Diagnostic::error(
                    Code::USE_NOT_FOUND,
                    u.path_span,
                    format!("cannot read `{}`", target.display()),
                )
                .with_primary(e)
                .with_help("`use` paths are relative to the directory of the file that contains them"),
            ),
        }
    }

    /// Adds parsed items, reporting names defined twice (user items may
    /// shadow prelude items).
    pub fn add_items(&mut self, items: Vec<ast::Item>, prelude: bool, diags: &mut Vec<Diagnostic>) {
        for item in items {
            match &item {
                ast::Item::Use(_) => {}
                ast::Item::Model(m) => {
                    if let Some(prev) = self.previous(&m.name.name, prelude) {
                        diags.push(duplicate(&m.name, prev));
                        continue;
                    }
                    self.fns.remove(&m.name.name);
                    self.models.insert(m.name.name.clone(), Defined { def: Rc::new(m.clone()), prelude });
                }
                ast::Item::Fn(f) => {
                    if let Some(prev) = self.previous(&f.name.name, prelude) {
                        diags.push(duplicate(&f.name, prev));
                        continue;
                    }
                    self.models.remove(&f.name.name);
                    self.fns.insert(f.name.name.clone(), Defined { def: Rc::new(f.clone()), prelude });
                }
                ast::Item::Data(d) => {
                    if let Some(prev) = self.data.get(&d.name.name) {
                        diags.push(duplicate(&d.name, prev.name.span));
                        continue;
                    }
                    self.data.insert(d.name.name.clone(), Rc::new(d.clone()));
                }
                ast::Item::Train(t) => self.trains.push(Rc::new(t.clone())),
            }
            if !prelude {
                self.user_items.push(item);
            }
        }
    }

    /// The span of an existing non-prelude definition of `name` that a new
    /// definition would clash with.
    fn previous(&self, name: &str, prelude: bool) -> Option<Span> {
        if let Some(m) = self.models.get(name)
            && (!m.prelude || prelude)
        {
            return Some(m.def.name.span);
        }
        if let Some(f) = self.fns.get(name)
            && (!f.prelude || prelude)
        {
            return Some(f.def.name.span);
        }
        None
    }
}

fn duplicate(name: &ast::Ident, prev: Span) -> Diagnostic {
    Diagnostic::error(Code::DUPLICATE_DEFINITION, name.span, format!("`{}` is defined twice", name.name))
        .with_primary("redefined here")
        .with_label(prev, "first defined here")
        .with_help("rename one of the definitions")
}

/// A path with `.` and `..` components resolved lexically, for cycle checks.
fn normalise(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    out
}
