//! From PTX text to a decoded `Module`: the module header, `.global`/`.shared` arrays,
//! entries with their parameters, register declarations, labels, guards and instructions.
//!
//! The parser reads the token stream of `lex.rs` statement by statement. Operands are first
//! read into their syntactic form (`Opnd`), then `decode.rs` turns an opcode with its operands
//! into an `ir::Op` whose operands are register indices. Anything outside the subset of
//! `README.md` is a `ParseError` naming the line and the statement.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::decode::{self, Decoded};
use crate::error::ParseError;
use crate::ir::{Entry, GlobalArray, Instr, NO_REG, Op, Param, ParamType};
use crate::lex::{Tok, TokKind, tokenize};
use crate::scope::{Class, Kind, Scope};

static NEXT_MODULE_ID: AtomicU64 = AtomicU64::new(1);

/// A parsed PTX module: its kernels, decoded and ready to launch on a `Device`.
#[derive(Debug, Clone)]
pub struct Module {
    pub(crate) id: u64,
    pub(crate) entries: Vec<Entry>,
    pub(crate) globals: Vec<GlobalArray>,
}

impl Module {
    /// Parses and decodes PTX text, rejecting anything outside the modelled subset.
    pub fn parse(src: &str) -> Result<Module, ParseError> {
        let toks = tokenize(src)?;
        let mut parser = Parser { src, toks, pos: 0 };
        let mut module = parser.module()?;
        module.id = NEXT_MODULE_ID.fetch_add(1, Ordering::Relaxed);
        Ok(module)
    }

    /// The names of the kernels (`.entry`) in source order.
    pub fn kernels(&self) -> Vec<&str> {
        self.entries.iter().map(|e| e.name.as_str()).collect()
    }

    /// The parameters of a kernel, or `None` if there is no such kernel.
    pub fn params(&self, kernel: &str) -> Option<&[Param]> {
        self.entry(kernel).map(|e| e.params.as_slice())
    }

    pub(crate) fn entry(&self, name: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.name == name)
    }
}

/// The syntactic form of an operand.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Opnd {
    /// `%r1`, `%tid.x`.
    Reg(String),
    /// `!%p1`.
    Not(String),
    /// A literal, with its sign: `-4`, `0x1F`, `0f3F800000`.
    Imm(String),
    /// A symbol or label name.
    Sym(String),
    /// `[base]`, `[base+off]`, `[base+-off]`: base is a register or a symbol.
    Addr { base: String, off: i64 },
    /// `{%f1, %f2}`.
    Vec(Vec<String>),
    /// `%p|%q` or `%r|%p`.
    Pair(String, String),
}

struct Parser<'s> {
    src: &'s str,
    toks: Vec<Tok>,
    pos: usize,
}

fn is_name(word: &str) -> bool {
    let first = word.as_bytes()[0];
    !first.is_ascii_digit() && first != b'.'
}

impl<'s> Parser<'s> {
    fn peek(&self) -> Option<&TokKind> {
        self.toks.get(self.pos).map(|t| &t.kind)
    }

    fn peek_at(&self, ahead: usize) -> Option<&TokKind> {
        self.toks.get(self.pos + ahead).map(|t| &t.kind)
    }

    fn line(&self) -> u32 {
        self.toks.get(self.pos).or(self.toks.last()).map_or(1, |t| t.line)
    }

    fn is_punct(&self, c: char) -> bool {
        self.peek() == Some(&TokKind::Punct(c))
    }

    fn is_word(&self, w: &str) -> bool {
        matches!(self.peek(), Some(TokKind::Word(x)) if x == w)
    }

    /// An error at the current token, quoting the rest of its statement.
    fn error(&self, message: impl Into<String>) -> ParseError {
        ParseError::new(self.line(), &self.statement_text(self.pos), message)
    }

    /// An error in the statement that starts at token `start`.
    fn error_at(&self, start: usize, message: impl Into<String>) -> ParseError {
        let line = self.toks.get(start).map_or(self.line(), |t| t.line);
        ParseError::new(line, &self.statement_text(start), message)
    }

    /// The source text from token `start` to the end of its statement (`;`, `{` or `}`),
    /// cut at the end of its first line.
    fn statement_text(&self, start: usize) -> String {
        let Some(first) = self.toks.get(start) else { return "<end of input>".to_string() };
        let line_end = self.line_end(first.start);
        let mut end = first.end;
        for t in &self.toks[start..] {
            if t.start >= line_end {
                break;
            }
            end = t.end;
            if matches!(t.kind, TokKind::Punct(';' | '{' | '}')) {
                break;
            }
        }
        self.src[first.start..end].trim().to_string()
    }

    fn line_end(&self, from: usize) -> usize {
        self.src[from..].find('\n').map_or(self.src.len(), |i| from + i)
    }

    fn bump(&mut self) -> Option<TokKind> {
        let tok = self.toks.get(self.pos).map(|t| t.kind.clone());
        self.pos += 1;
        tok
    }

    fn expect_punct(&mut self, c: char) -> Result<(), ParseError> {
        if self.is_punct(c) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.error(format!("expected `{c}`")))
        }
    }

    fn expect_word(&mut self, what: &str) -> Result<String, ParseError> {
        match self.peek() {
            Some(TokKind::Word(w)) => {
                let w = w.clone();
                self.pos += 1;
                Ok(w)
            }
            _ => Err(self.error(format!("expected {what}"))),
        }
    }

    fn expect_u64(&mut self, what: &str) -> Result<u64, ParseError> {
        let w = self.expect_word(what)?;
        let parsed = match w.strip_prefix("0x") {
            Some(hex) => u64::from_str_radix(hex, 16),
            None => w.parse(),
        };
        parsed.map_err(|_| {
            self.pos -= 1;
            self.error(format!("expected {what}"))
        })
    }

    fn module(&mut self) -> Result<Module, ParseError> {
        let mut module = Module { id: 0, entries: Vec::new(), globals: Vec::new() };
        let mut module_shared: Vec<(String, u64, u64)> = Vec::new();
        let (mut version, mut target, mut address_size) = (false, false, false);
        while let Some(kind) = self.peek() {
            let TokKind::Word(word) = kind else {
                return Err(self.error("expected a directive"));
            };
            if !version && word != ".version" {
                return Err(self.error("the module must start with .version"));
            }
            match word.as_str() {
                ".version" => {
                    self.pos += 1;
                    self.expect_word("a version number")?;
                    version = true;
                }
                ".target" => {
                    self.pos += 1;
                    let arch = self.expect_word("a target")?;
                    let sm = arch.strip_prefix("sm_").map(|s| s.trim_end_matches('a'));
                    if sm.and_then(|s| s.parse::<u32>().ok()).is_none_or(|n| n < 70) {
                        self.pos -= 1;
                        return Err(self.error("the target must be sm_70 or newer"));
                    }
                    if self.is_punct(',') {
                        return Err(self.error("target options are outside the subset"));
                    }
                    target = true;
                }
                ".address_size" => {
                    self.pos += 1;
                    if self.expect_u64("an address size")? != 64 {
                        self.pos -= 1;
                        return Err(self.error("only .address_size 64 is modelled"));
                    }
                    address_size = true;
                }
                ".visible" => {
                    self.pos += 1;
                    if !self.is_word(".entry") && !self.is_word(".global") {
                        return Err(self.error(".visible must be followed by .entry or .global"));
                    }
                }
                ".entry" => {
                    if !target || !address_size {
                        return Err(self.error(".target and .address_size must come before entries"));
                    }
                    let entry = self.entry(&module_shared, &module.globals)?;
                    if module.entries.iter().any(|e| e.name == entry.name) {
                        return Err(ParseError::new(
                            self.line(),
                            &entry.name,
                            "an entry of this name is already defined",
                        ));
                    }
                    module.entries.push(entry);
                }
                ".global" | ".shared" => {
                    let is_global = word == ".global";
                    let start = self.pos;
                    let (name, size, align) = self.array_decl()?;
                    let taken = module.globals.iter().any(|g| g.name == name)
                        || module_shared.iter().any(|s| s.0 == name);
                    if taken {
                        return Err(self.error_at(start, "a symbol of this name is already declared"));
                    }
                    if is_global {
                        module.globals.push(GlobalArray { name, size });
                    } else {
                        module_shared.push((name, size, align));
                    }
                }
                _ => return Err(self.error("directive outside the modelled subset")),
            }
        }
        if !version || !target || !address_size {
            return Err(ParseError::new(
                self.line(),
                "",
                "the module needs .version, .target and .address_size",
            ));
        }
        Ok(module)
    }

    /// `.global`/`.shared [.align A] .TYPE NAME[N];` returning name, size and alignment.
    fn array_decl(&mut self) -> Result<(String, u64, u64), ParseError> {
        let start = self.pos;
        self.pos += 1;
        let mut align = None;
        if self.is_word(".align") {
            self.pos += 1;
            let a = self.expect_u64("an alignment")?;
            if !a.is_power_of_two() {
                return Err(self.error_at(start, "alignment must be a power of two"));
            }
            align = Some(a);
        }
        let ty = self.expect_word("a type")?;
        let elem = match ty.as_str() {
            ".b8" | ".u8" | ".s8" => 1,
            ".b16" | ".u16" | ".s16" | ".f16" => 2,
            ".b32" | ".u32" | ".s32" | ".f32" => 4,
            ".b64" | ".u64" | ".s64" | ".f64" => 8,
            _ => {
                return Err(self.error_at(start, "unsupported array element type"));
            }
        };
        let name = self.expect_word("a name")?;
        if !is_name(&name) {
            return Err(self.error_at(start, "expected a name"));
        }
        let mut size = elem;
        if self.is_punct('[') {
            self.pos += 1;
            if self.is_punct(']') {
                return Err(self.error_at(
                    start,
                    "arrays without a size (dynamic shared memory) are outside the subset",
                ));
            }
            size = elem * self.expect_u64("an array length")?;
            self.expect_punct(']')?;
            if self.is_punct('[') {
                return Err(self.error_at(start, "multi-dimensional arrays are outside the subset"));
            }
        }
        if self.is_punct('=') {
            return Err(self.error_at(start, "initialisers are outside the subset"));
        }
        self.expect_punct(';')?;
        Ok((name, size, align.unwrap_or(elem)))
    }

    fn entry(
        &mut self,
        module_shared: &[(String, u64, u64)],
        module_globals: &[GlobalArray],
    ) -> Result<Entry, ParseError> {
        self.pos += 1;
        let name = self.expect_word("a kernel name")?;
        let mut scope = Scope::new(module_shared, module_globals);
        self.expect_punct('(')?;
        while !self.is_punct(')') {
            if !scope.params.is_empty() {
                self.expect_punct(',')?;
            }
            let start = self.pos;
            if !self.is_word(".param") {
                return Err(self.error("expected .param"));
            }
            self.pos += 1;
            let ty = match self.expect_word("a parameter type")?.as_str() {
                ".u32" => ParamType::U32,
                ".s32" => ParamType::S32,
                ".u64" => ParamType::U64,
                ".s64" => ParamType::S64,
                ".f32" => ParamType::F32,
                _ => {
                    self.pos -= 1;
                    return Err(self.error("parameter type outside the subset (u32, s32, u64, s64, f32)"));
                }
            };
            let pname = self.expect_word("a parameter name")?;
            if !is_name(&pname) {
                return Err(
                    self.error_at(start, "parameter attributes (.ptr, .align, ...) are outside the subset")
                );
            }
            if self.is_punct('[') {
                return Err(self.error("array parameters are outside the subset"));
            }
            scope.declare_param(Param { name: pname, ty }).map_err(|m| self.error_at(start, m))?;
        }
        self.pos += 1;
        let (mut maxntid, mut reqntid) = (None, None);
        while !self.is_punct('{') {
            let which = self.expect_word("`{` or a performance directive")?;
            let slot = match which.as_str() {
                ".maxntid" => &mut maxntid,
                ".reqntid" => &mut reqntid,
                _ => {
                    self.pos -= 1;
                    return Err(self.error("directive outside the modelled subset"));
                }
            };
            let mut dims = [1u32; 3];
            for (i, dim) in dims.iter_mut().enumerate() {
                if i > 0 && !self.is_punct(',') {
                    break;
                }
                if i > 0 {
                    self.pos += 1;
                }
                *dim = self.expect_u64("a thread count")? as u32;
            }
            *slot = Some(dims);
        }
        self.pos += 1;
        let mut body = Body::default();
        self.body(&mut scope, &mut body)?;
        body.code.push(Instr { op: Op::Exit, guard: NO_REG, guard_neg: false });
        body.lines.push(self.toks[self.pos - 1].line);
        body.texts.push("}".to_string());
        for fix in &body.fixups {
            let Some(&target) = body.labels.get(&fix.label) else {
                return Err(ParseError::new(fix.line, &fix.text, format!("unknown label `{}`", fix.label)));
            };
            body.code[fix.index].op = Op::Bra { target };
        }
        let shared_end = scope.shared_end();
        Ok(Entry {
            name,
            params: scope.params,
            maxntid,
            reqntid,
            code: body.code,
            lines: body.lines,
            texts: body.texts,
            slots: scope.slots,
            reg_names: scope.names,
            shared: scope.shared,
            shared_end,
        })
    }

    fn body(&mut self, scope: &mut Scope<'_>, body: &mut Body) -> Result<(), ParseError> {
        loop {
            let Some(kind) = self.peek() else {
                return Err(self.error("unexpected end of input inside an entry"));
            };
            let start = self.pos;
            match kind {
                TokKind::Punct('}') => {
                    self.pos += 1;
                    return Ok(());
                }
                TokKind::Punct('{') => return Err(self.error("nested blocks are outside the subset")),
                TokKind::Word(w) if w == ".reg" => self.reg_decl(scope)?,
                TokKind::Word(w) if w == ".shared" => {
                    let (name, size, align) = self.array_decl()?;
                    scope.add_shared(&name, size, align).map_err(|m| self.error_at(start, m))?;
                }
                TokKind::Word(w) if w.starts_with('.') => {
                    return Err(self.error("directive outside the modelled subset"));
                }
                TokKind::Word(w) if self.peek_at(1) == Some(&TokKind::Punct(':')) => {
                    let label = w.clone();
                    if !is_name(&label) {
                        return Err(self.error("invalid label name"));
                    }
                    if body.labels.insert(label, body.code.len() as u32).is_some() {
                        return Err(self.error("label defined twice"));
                    }
                    self.pos += 2;
                }
                TokKind::Word(_) | TokKind::Punct('@') => self.instruction(scope, body)?,
                _ => return Err(self.error("expected a statement")),
            }
        }
    }

    fn reg_decl(&mut self, scope: &mut Scope<'_>) -> Result<(), ParseError> {
        let start = self.pos;
        self.pos += 1;
        let class = match self.expect_word("a register type")?.as_str() {
            ".pred" => Class::Pred,
            ".b32" | ".u32" | ".s32" | ".f32" => Class::B32,
            ".b64" | ".u64" | ".s64" | ".f64" => Class::B64,
            _ => {
                return Err(self.error_at(start, "register type outside the subset"));
            }
        };
        loop {
            let Some(TokKind::Reg(name)) = self.bump() else {
                return Err(self.error_at(start, "expected a register name"));
            };
            let mut count = None;
            if self.is_punct('<') {
                self.pos += 1;
                count = Some(self.expect_u64("a register count")? as u32);
                self.expect_punct('>')?;
            }
            scope.declare(&name, count, class).map_err(|m| self.error_at(start, m))?;
            if self.is_punct(',') {
                self.pos += 1;
            } else {
                return self.expect_punct(';');
            }
        }
    }

    fn instruction(&mut self, scope: &mut Scope<'_>, body: &mut Body) -> Result<(), ParseError> {
        let start = self.pos;
        let line = self.toks[start].line;
        let mut guard = (None, false);
        if self.is_punct('@') {
            self.pos += 1;
            if self.is_punct('!') {
                self.pos += 1;
                guard.1 = true;
            }
            match self.bump() {
                Some(TokKind::Reg(r)) => guard.0 = Some(r),
                _ => {
                    self.pos -= 1;
                    return Err(self.error("expected a predicate register after `@`"));
                }
            }
        }
        let opcode = self.expect_word("an instruction")?;
        let mut operands = Vec::new();
        while !self.is_punct(';') {
            if !operands.is_empty() {
                self.expect_punct(',')?;
            }
            operands.push(self.operand()?);
        }
        let text = self.src[self.toks[start].start..self.toks[self.pos].end].to_string();
        self.pos += 1;
        let err = |m: String| ParseError::new(line, &text, m);
        let guard_reg = match &guard.0 {
            Some(r) => scope.src_reg(r, Kind::Pred).map_err(err)?,
            None => NO_REG,
        };
        let op = match decode::decode(scope, &opcode, &operands).map_err(err)? {
            Decoded::Op(op) => op,
            Decoded::Branch(label) => {
                body.fixups.push(Fixup { index: body.code.len(), label, line, text: text.clone() });
                Op::Exit
            }
        };
        body.code.push(Instr { op, guard: guard_reg, guard_neg: guard.1 });
        body.lines.push(line);
        body.texts.push(text);
        Ok(())
    }

    fn operand(&mut self) -> Result<Opnd, ParseError> {
        match self.bump() {
            Some(TokKind::Reg(r)) => {
                if self.is_punct('|') {
                    self.pos += 1;
                    match self.bump() {
                        Some(TokKind::Reg(q)) => Ok(Opnd::Pair(r, q)),
                        _ => {
                            self.pos -= 1;
                            Err(self.error("expected a register after `|`"))
                        }
                    }
                } else {
                    Ok(Opnd::Reg(r))
                }
            }
            Some(TokKind::Punct('!')) => match self.bump() {
                Some(TokKind::Reg(r)) => Ok(Opnd::Not(r)),
                _ => {
                    self.pos -= 1;
                    Err(self.error("expected a predicate after `!`"))
                }
            },
            Some(TokKind::Punct('-')) => {
                let w = self.expect_word("a number")?;
                Ok(Opnd::Imm(format!("-{w}")))
            }
            Some(TokKind::Word(w)) => {
                if w.as_bytes()[0].is_ascii_digit() {
                    Ok(Opnd::Imm(w))
                } else if self.is_punct('+') {
                    Err(self.error("symbol offsets are outside the subset"))
                } else {
                    Ok(Opnd::Sym(w))
                }
            }
            Some(TokKind::Punct('{')) => {
                let mut regs = Vec::new();
                loop {
                    match self.bump() {
                        Some(TokKind::Reg(r)) => regs.push(r),
                        _ => {
                            self.pos -= 1;
                            return Err(self.error("expected a register in a vector"));
                        }
                    }
                    if self.is_punct('}') {
                        self.pos += 1;
                        return Ok(Opnd::Vec(regs));
                    }
                    self.expect_punct(',')?;
                }
            }
            Some(TokKind::Punct('[')) => {
                let base = match self.bump() {
                    Some(TokKind::Reg(r)) => r,
                    Some(TokKind::Word(w)) if is_name(&w) => w,
                    _ => {
                        self.pos -= 1;
                        return Err(self.error("expected a register or symbol in an address"));
                    }
                };
                let mut off = 0i64;
                if self.is_punct('+') || self.is_punct('-') {
                    let mut neg = self.is_punct('-');
                    self.pos += 1;
                    if self.is_punct('-') {
                        neg = !neg;
                        self.pos += 1;
                    }
                    let w = self.expect_word("an offset")?;
                    let value = crate::scope::immediate(&w, Kind::I64).map_err(|m| {
                        self.pos -= 1;
                        self.error(m)
                    })? as i64;
                    off = if neg { value.wrapping_neg() } else { value };
                }
                self.expect_punct(']')?;
                Ok(Opnd::Addr { base, off })
            }
            _ => {
                self.pos -= 1;
                Err(self.error("expected an operand"))
            }
        }
    }
}

/// A branch whose label is resolved once the whole body is read.
struct Fixup {
    index: usize,
    label: String,
    line: u32,
    text: String,
}

#[derive(Default)]
struct Body {
    code: Vec<Instr>,
    lines: Vec<u32>,
    texts: Vec<String>,
    labels: HashMap<String, u32>,
    fixups: Vec<Fixup>,
}
