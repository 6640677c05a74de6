//! The text of one PTX entry: virtual registers by type, labels, the
//! parameter list and the body, assembled into
//! `.visible .entry NAME(.param .u64 ...) { ... }`.
//!
//! Registers are never reused: every value gets a fresh one and `ptxas`
//! allocates physical registers, so the emitter needs no liveness.

use std::collections::HashMap;
use std::fmt::Write;

use super::{Entry, Launch, Param};
use crate::kernel::ir::BufId;

/// The register classes an entry declares.
#[derive(Clone, Copy)]
enum Class {
    Pred,
    B32,
    F32,
    B64,
    F64,
}

const CLASSES: [(Class, &str, &str); 5] = [
    (Class::Pred, "pred", "%p"),
    (Class::B32, "b32", "%r"),
    (Class::F32, "f32", "%f"),
    (Class::B64, "b64", "%rd"),
    (Class::F64, "f64", "%fd"),
];

/// An entry under construction.
pub(crate) struct Body {
    name: String,
    code: String,
    counts: [u32; 5],
    labels: u32,
    params: Vec<Param>,
    buffers: HashMap<BufId, String>,
    keys: HashMap<u32, String>,
    shared: Vec<String>,
    shared_bytes: u32,
}

impl Body {
    /// An empty entry called `name`.
    pub fn new(name: &str) -> Body {
        Body {
            name: name.to_string(),
            code: String::new(),
            counts: [0; 5],
            labels: 0,
            params: Vec::new(),
            buffers: HashMap::new(),
            keys: HashMap::new(),
            shared: Vec::new(),
            shared_bytes: 0,
        }
    }

    fn reg(&mut self, c: Class) -> String {
        let i = c as usize;
        self.counts[i] += 1;
        format!("{}{}", CLASSES[i].2, self.counts[i] - 1)
    }

    /// A fresh predicate.
    pub fn p(&mut self) -> String {
        self.reg(Class::Pred)
    }

    /// A fresh 32-bit integer register.
    pub fn r(&mut self) -> String {
        self.reg(Class::B32)
    }

    /// A fresh `f32` register.
    pub fn f(&mut self) -> String {
        self.reg(Class::F32)
    }

    /// A fresh 64-bit integer register.
    pub fn rd(&mut self) -> String {
        self.reg(Class::B64)
    }

    /// Appends one instruction (without the `;`).
    pub fn op(&mut self, s: impl AsRef<str>) {
        let _ = writeln!(self.code, "\t{};", s.as_ref());
    }

    /// Appends a comment line.
    pub fn comment(&mut self, s: impl AsRef<str>) {
        let _ = writeln!(self.code, "\t// {}", s.as_ref());
    }

    /// A fresh label name.
    pub fn label(&mut self, hint: &str) -> String {
        self.labels += 1;
        format!("$L_{hint}_{}", self.labels - 1)
    }

    /// Places a label here.
    pub fn place(&mut self, label: &str) {
        let _ = writeln!(self.code, "{label}:");
    }

    /// Declares a parameter and loads it into a 64-bit register here.
    pub fn param(&mut self, p: Param) -> String {
        let d = self.rd();
        let i = self.params.len();
        self.op(format!("ld.param.u64 {d}, [{}_param_{i}]", self.name));
        self.params.push(p);
        d
    }

    /// The register holding a buffer's address (a parameter, declared on
    /// first use; call this before any branch).
    pub fn buffer(&mut self, buf: BufId, numel: usize) -> String {
        if let Some(r) = self.buffers.get(&buf) {
            return r.clone();
        }
        let r = self.param(Param::Buffer { buf, offset: 0, bytes: 4 * numel });
        self.op(format!("cvta.to.global.u64 {r}, {r}"));
        self.buffers.insert(buf, r.clone());
        r
    }

    /// The register holding a random stream's key (a parameter).
    pub fn key(&mut self, stream: u32) -> String {
        if let Some(r) = self.keys.get(&stream) {
            return r.clone();
        }
        let r = self.param(Param::StreamKey { stream });
        self.keys.insert(stream, r.clone());
        r
    }

    /// The buffer register, which must have been declared.
    pub fn buffer_reg(&self, buf: BufId) -> Option<&String> {
        self.buffers.get(&buf)
    }

    /// Declares a shared `f32` array of `len` elements; returns its name.
    pub fn shared_f32(&mut self, name: &str, len: u32) -> String {
        self.shared.push(format!("\t.shared .align 16 .f32 {name}[{len}];"));
        self.shared_bytes += 4 * len;
        name.to_string()
    }

    /// The address of `buf[index]` for an `s64` element index register.
    pub fn address(&mut self, base: &str, index: &str) -> String {
        let a = self.rd();
        self.op(format!("shl.b64 {a}, {index}, 2"));
        self.op(format!("add.s64 {a}, {base}, {a}"));
        a
    }

    /// The finished entry with its launch.
    pub fn finish(self, kernel: usize, grid: [u32; 3], block: [u32; 3]) -> Entry {
        let mut t = format!(".visible .entry {}(", self.name);
        for i in 0..self.params.len() {
            let sep = if i + 1 < self.params.len() { "," } else { "" };
            let _ = write!(t, "\n\t.param .u64 {}_param_{i}{sep}", self.name);
        }
        let threads = block[0] * block[1] * block[2];
        let _ = write!(t, "\n)\n.maxntid {threads}, 1, 1\n{{\n");
        for (i, (_, ty, prefix)) in CLASSES.iter().enumerate() {
            if self.counts[i] > 0 {
                let _ = writeln!(t, "\t.reg .{ty} {prefix}<{}>;", self.counts[i]);
            }
        }
        for s in &self.shared {
            let _ = writeln!(t, "{s}");
        }
        t.push('\n');
        t.push_str(&self.code);
        t.push_str("\tret;\n}\n");
        let launch = Launch {
            kernel,
            entry: self.name,
            grid,
            block,
            shared_bytes: self.shared_bytes,
            params: self.params,
        };
        Entry { text: t, launch }
    }
}

/// An `f32` immediate (`0fXXXXXXXX`).
pub(crate) fn f32_imm(v: f32) -> String {
    format!("0f{:08X}", v.to_bits())
}

/// The linear global thread index and the grid stride, as `s64` registers.
pub(crate) fn global_thread(b: &mut Body) -> (String, String) {
    let (tid, ntid, ctaid, nctaid) = (b.r(), b.r(), b.r(), b.r());
    b.op(format!("mov.u32 {tid}, %tid.x"));
    b.op(format!("mov.u32 {ntid}, %ntid.x"));
    b.op(format!("mov.u32 {ctaid}, %ctaid.x"));
    b.op(format!("mov.u32 {nctaid}, %nctaid.x"));
    let (gid, stride) = (b.rd(), b.rd());
    b.op(format!("mul.wide.u32 {gid}, {ctaid}, {ntid}"));
    let t = b.rd();
    b.op(format!("cvt.u64.u32 {t}, {tid}"));
    b.op(format!("add.s64 {gid}, {gid}, {t}"));
    b.op(format!("mul.wide.u32 {stride}, {nctaid}, {ntid}"));
    (gid, stride)
}
