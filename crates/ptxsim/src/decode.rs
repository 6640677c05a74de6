//! Decoding one instruction: an opcode with its modifiers (`ld.global.nc.v4.f32`) and its
//! operands become an `ir::Op` whose operands are register indices.
//!
//! Each mnemonic accepts exactly the modifier combinations of the subset; any other
//! combination is rejected with the opcode in the message. Operand widths are checked
//! against the declared register classes here, so execution never needs to.

use crate::error::Space;
use crate::ir::{
    BoolOp, Cmp, CmpTy, CvtOp, FBinOp, FUnOp, IntOp, IntTy, IntUnOp, MadOp, NO_REG, Op, Reg, Round, ShflMode,
    TestOp, Width,
};
use crate::parse::Opnd;
use crate::scope::{Class, Kind, Scope, Symbol};

/// A decoded instruction, or a branch whose label the caller resolves.
pub(crate) enum Decoded {
    /// A complete operation.
    Op(Op),
    /// `bra LABEL`.
    Branch(String),
}

/// Which of the optional modifiers in `spec` appear in `parts`, in `spec`'s order; `None` if
/// a modifier is unknown, repeated or out of order.
fn flags<const N: usize>(parts: &[&str], spec: [&str; N]) -> Option<[bool; N]> {
    let mut out = [false; N];
    let mut next = 0;
    for part in parts {
        let i = spec[next..].iter().position(|s| s == part)? + next;
        out[i] = true;
        next = i + 1;
    }
    Some(out)
}

fn int_ty(s: &str) -> Option<IntTy> {
    match s {
        "u32" => Some(IntTy::U32),
        "s32" => Some(IntTy::S32),
        "u64" => Some(IntTy::U64),
        "s64" => Some(IntTy::S64),
        _ => None,
    }
}

impl IntTy {
    fn is64(self) -> bool {
        matches!(self, IntTy::U64 | IntTy::S64)
    }
    fn kind(self) -> Kind {
        if self.is64() { Kind::I64 } else { Kind::I32 }
    }
}

/// Picks the variant of a 32/64-bit signed/unsigned family.
fn pick(ty: IntTy, [s32, u32, s64, u64]: [IntOp; 4]) -> IntOp {
    match ty {
        IntTy::S32 => s32,
        IntTy::U32 => u32,
        IntTy::S64 => s64,
        IntTy::U64 => u64,
    }
}

/// The width and operand kind of a load/store or `mov`/`selp` type.
fn data_ty(s: &str) -> Option<(Width, Kind)> {
    match s {
        "f32" => Some((Width::W32, Kind::F32)),
        "b32" => Some((Width::W32, Kind::B32)),
        "u32" | "s32" => Some((Width::W32, Kind::I32)),
        "b64" => Some((Width::W64, Kind::B64)),
        "u64" | "s64" => Some((Width::W64, Kind::I64)),
        _ => None,
    }
}

struct Cx<'a, 'm> {
    scope: &'a mut Scope<'m>,
    ops: &'a [Opnd],
}

impl Cx<'_, '_> {
    fn count(&self, n: usize) -> Result<(), String> {
        if self.ops.len() == n {
            Ok(())
        } else {
            Err(format!("expected {n} operands, found {}", self.ops.len()))
        }
    }

    fn dst(&self, i: usize, kind: Kind) -> Result<Reg, String> {
        match &self.ops[i] {
            Opnd::Reg(name) => self.scope.dst(name, kind),
            other => Err(format!("operand {} must be a register, found {other:?}", i + 1)),
        }
    }

    fn src(&mut self, i: usize, kind: Kind) -> Result<Reg, String> {
        match &self.ops[i] {
            Opnd::Reg(name) => self.scope.src_reg(name, kind),
            Opnd::Imm(text) => self.scope.imm(text, kind),
            Opnd::Sym(name) => match kind {
                Kind::I64 | Kind::B64 => Ok(self.scope.symbol_reg(name)?.0),
                Kind::I32 | Kind::B32 => match self.scope.symbol(name)? {
                    Symbol::Shared(addr) => Ok(self.scope.const_reg(addr, Class::B32, name)),
                    Symbol::Global(_) => Err(format!("the address of global `{name}` needs 64 bits")),
                },
                _ => Err(format!("symbol `{name}` cannot be a {kind:?} operand")),
            },
            other => Err(format!("operand {} must be a register or immediate, found {other:?}", i + 1)),
        }
    }

    /// A predicate source that may be negated (`!%p`), as the `c` operand of `setp`.
    fn pred_src(&mut self, i: usize) -> Result<(Reg, bool), String> {
        match &self.ops[i] {
            Opnd::Not(name) => Ok((self.scope.src_reg(name, Kind::Pred)?, true)),
            _ => Ok((self.src(i, Kind::Pred)?, false)),
        }
    }

    /// An address operand `[base+off]` in `space`.
    fn addr(&mut self, i: usize, space: Space) -> Result<(Reg, i64), String> {
        let Opnd::Addr { base, off } = &self.ops[i] else {
            return Err(format!("operand {} must be an address `[...]`", i + 1));
        };
        if base.starts_with('%') {
            let (reg, class) = self.scope.addr_reg(base)?;
            if space == Space::Global && class != Class::B64 {
                return Err(format!("global address register {base} must be 64-bit"));
            }
            return Ok((reg, *off));
        }
        let (reg, sym) = self.scope.symbol_reg(base)?;
        match (sym, space) {
            (Symbol::Shared(_), Space::Shared) | (Symbol::Global(_), Space::Global) => Ok((reg, *off)),
            _ => Err(format!("symbol `{base}` is not in the {space} state space")),
        }
    }

    /// The registers of a scalar or vector operand: destinations when `dst`, else sources.
    fn regs(&mut self, i: usize, n: u8, kind: Kind, dst: bool) -> Result<[Reg; 4], String> {
        let mut out = [NO_REG; 4];
        match &self.ops[i] {
            Opnd::Vec(names) => {
                if names.len() != n as usize || n == 1 {
                    return Err(format!("expected a vector of {n} registers"));
                }
                for (slot, name) in out.iter_mut().zip(names) {
                    *slot = if dst { self.scope.dst(name, kind)? } else { self.scope.src_reg(name, kind)? };
                }
            }
            _ if n != 1 => return Err(format!("expected a vector of {n} registers")),
            _ => out[0] = if dst { self.dst(i, kind)? } else { self.src(i, kind)? },
        }
        Ok(out)
    }

    /// `d, a, b` of one kind.
    fn dab(&mut self, kind: Kind) -> Result<(Reg, Reg, Reg), String> {
        self.count(3)?;
        Ok((self.dst(0, kind)?, self.src(1, kind)?, self.src(2, kind)?))
    }

    /// `d, a` of one kind.
    fn da(&mut self, kind: Kind) -> Result<(Reg, Reg), String> {
        self.count(2)?;
        Ok((self.dst(0, kind)?, self.src(1, kind)?))
    }
}

/// Decodes `opcode` with `ops`, allocating hidden registers in `scope` as needed.
pub(crate) fn decode(scope: &mut Scope<'_>, opcode: &str, ops: &[Opnd]) -> Result<Decoded, String> {
    let parts: Vec<&str> = opcode.split('.').collect();
    let (mnemonic, mods) = (parts[0], &parts[1..]);
    let mut cx = Cx { scope, ops };
    let outside = || format!("instruction `{opcode}` is outside the modelled subset");
    let last = mods.last().copied().unwrap_or("");
    let front = if mods.is_empty() { mods } else { &mods[..mods.len() - 1] };
    let op = match mnemonic {
        "mov" => {
            let kind = match mods {
                ["pred"] => Kind::Pred,
                [t] => data_ty(t).ok_or_else(outside)?.1,
                _ => return Err(outside()),
            };
            let (d, a) = cx.da(kind)?;
            Op::Mov { d, a }
        }
        "cvta" => {
            if mods != ["to", "global", "u64"] {
                return Err(outside());
            }
            let (d, a) = cx.da(Kind::I64)?;
            Op::Mov { d, a }
        }
        "ld" | "st" => load_store(&mut cx, mnemonic == "ld", mods).map_err(|e| e.message(outside))?,
        "add" | "sub" => {
            let add = mnemonic == "add";
            if let [t] = mods
                && let Some(ty) = int_ty(t)
            {
                let op = match (add, ty.is64()) {
                    (true, false) => IntOp::Add32,
                    (true, true) => IntOp::Add64,
                    (false, false) => IntOp::Sub32,
                    (false, true) => IntOp::Sub64,
                };
                let (d, a, b) = cx.dab(ty.kind())?;
                Op::Int { op, d, a, b }
            } else if last == "f32" {
                let [_, ftz] = flags(front, ["rn", "ftz"]).ok_or_else(outside)?;
                let (d, a, b) = cx.dab(Kind::F32)?;
                Op::Float { op: if add { FBinOp::Add } else { FBinOp::Sub }, ftz, d, a, b }
            } else {
                return Err(outside());
            }
        }
        "mul" => match mods {
            ["lo" | "hi", t] if int_ty(t).is_some() => {
                let ty = int_ty(t).ok_or_else(outside)?;
                let op = if mods[0] == "lo" {
                    if ty.is64() { IntOp::MulLo64 } else { IntOp::MulLo32 }
                } else {
                    pick(ty, [IntOp::MulHiS32, IntOp::MulHiU32, IntOp::MulHiS64, IntOp::MulHiU64])
                };
                let (d, a, b) = cx.dab(ty.kind())?;
                Op::Int { op, d, a, b }
            }
            ["wide", t @ ("s32" | "u32")] => {
                cx.count(3)?;
                let op = if *t == "s32" { IntOp::MulWideS32 } else { IntOp::MulWideU32 };
                Op::Int { op, d: cx.dst(0, Kind::I64)?, a: cx.src(1, Kind::I32)?, b: cx.src(2, Kind::I32)? }
            }
            _ if last == "f32" => {
                let [_, ftz] = flags(front, ["rn", "ftz"]).ok_or_else(outside)?;
                let (d, a, b) = cx.dab(Kind::F32)?;
                Op::Float { op: FBinOp::Mul, ftz, d, a, b }
            }
            _ => return Err(outside()),
        },
        "mad" => {
            cx.count(4)?;
            match mods {
                ["lo", t] if int_ty(t).is_some() => {
                    let ty = int_ty(t).ok_or_else(outside)?;
                    let k = ty.kind();
                    let op = if ty.is64() { MadOp::Lo64 } else { MadOp::Lo32 };
                    Op::Mad { op, d: cx.dst(0, k)?, a: cx.src(1, k)?, b: cx.src(2, k)?, c: cx.src(3, k)? }
                }
                ["wide", t @ ("s32" | "u32")] => {
                    let op = if *t == "s32" { MadOp::WideS32 } else { MadOp::WideU32 };
                    let (d, a, b) = (cx.dst(0, Kind::I64)?, cx.src(1, Kind::I32)?, cx.src(2, Kind::I32)?);
                    Op::Mad { op, d, a, b, c: cx.src(3, Kind::I64)? }
                }
                _ => return Err(outside()),
            }
        }
        "fma" => {
            let [rn, ftz] = flags(front, ["rn", "ftz"]).ok_or_else(outside)?;
            if last != "f32" || !rn {
                return Err(outside());
            }
            cx.count(4)?;
            let k = Kind::F32;
            Op::Fma { ftz, d: cx.dst(0, k)?, a: cx.src(1, k)?, b: cx.src(2, k)?, c: cx.src(3, k)? }
        }
        "div" | "rem" => {
            if let [t] = mods
                && let Some(ty) = int_ty(t)
            {
                let op = if mnemonic == "div" {
                    pick(ty, [IntOp::DivS32, IntOp::DivU32, IntOp::DivS64, IntOp::DivU64])
                } else {
                    pick(ty, [IntOp::RemS32, IntOp::RemU32, IntOp::RemS64, IntOp::RemU64])
                };
                let (d, a, b) = cx.dab(ty.kind())?;
                Op::Int { op, d, a, b }
            } else if mnemonic == "div" && last == "f32" {
                let [rn, ftz] = flags(front, ["rn", "ftz"]).ok_or_else(outside)?;
                if !rn {
                    return Err(outside());
                }
                let (d, a, b) = cx.dab(Kind::F32)?;
                Op::Float { op: FBinOp::Div, ftz, d, a, b }
            } else {
                return Err(outside());
            }
        }
        "neg" | "abs" => match mods {
            [t @ ("s32" | "s64")] => {
                let wide = *t == "s64";
                let op = match (mnemonic, wide) {
                    ("neg", false) => IntUnOp::Neg32,
                    ("neg", true) => IntUnOp::Neg64,
                    (_, false) => IntUnOp::Abs32,
                    (_, true) => IntUnOp::Abs64,
                };
                let (d, a) = cx.da(if wide { Kind::I64 } else { Kind::I32 })?;
                Op::IntUn { op, d, a }
            }
            _ if last == "f32" => {
                let [ftz] = flags(front, ["ftz"]).ok_or_else(outside)?;
                let (d, a) = cx.da(Kind::F32)?;
                Op::FloatUn { op: if mnemonic == "neg" { FUnOp::Neg } else { FUnOp::Abs }, ftz, d, a }
            }
            _ => return Err(outside()),
        },
        "min" | "max" => {
            let is_min = mnemonic == "min";
            if let [t] = mods
                && let Some(ty) = int_ty(t)
            {
                let op = if is_min {
                    pick(ty, [IntOp::MinS32, IntOp::MinU32, IntOp::MinS64, IntOp::MinU64])
                } else {
                    pick(ty, [IntOp::MaxS32, IntOp::MaxU32, IntOp::MaxS64, IntOp::MaxU64])
                };
                let (d, a, b) = cx.dab(ty.kind())?;
                Op::Int { op, d, a, b }
            } else if last == "f32" {
                let [ftz, nan] = flags(front, ["ftz", "NaN"]).ok_or_else(outside)?;
                let op = match (is_min, nan) {
                    (true, false) => FBinOp::Min,
                    (true, true) => FBinOp::MinNaN,
                    (false, false) => FBinOp::Max,
                    (false, true) => FBinOp::MaxNaN,
                };
                let (d, a, b) = cx.dab(Kind::F32)?;
                Op::Float { op, ftz, d, a, b }
            } else {
                return Err(outside());
            }
        }
        "and" | "or" | "xor" | "not" => {
            let kind = match mods {
                ["b32"] => Kind::B32,
                ["b64"] => Kind::B64,
                ["pred"] => Kind::Pred,
                _ => return Err(outside()),
            };
            if mnemonic == "not" {
                let op = match kind {
                    Kind::B32 => IntUnOp::Not32,
                    Kind::B64 => IntUnOp::Not64,
                    _ => IntUnOp::NotPred,
                };
                let (d, a) = cx.da(kind)?;
                Op::IntUn { op, d, a }
            } else {
                let op = match mnemonic {
                    "and" => IntOp::And,
                    "or" => IntOp::Or,
                    _ => IntOp::Xor,
                };
                let (d, a, b) = cx.dab(kind)?;
                Op::Int { op, d, a, b }
            }
        }
        "shl" | "shr" => {
            let (op, kind) = match (mnemonic, mods) {
                ("shl", ["b32"]) => (IntOp::Shl32, Kind::B32),
                ("shl", ["b64"]) => (IntOp::Shl64, Kind::B64),
                ("shr", ["b32" | "u32"]) => (IntOp::ShrU32, Kind::B32),
                ("shr", ["s32"]) => (IntOp::ShrS32, Kind::I32),
                ("shr", ["b64" | "u64"]) => (IntOp::ShrU64, Kind::B64),
                ("shr", ["s64"]) => (IntOp::ShrS64, Kind::I64),
                _ => return Err(outside()),
            };
            cx.count(3)?;
            Op::Int { op, d: cx.dst(0, kind)?, a: cx.src(1, kind)?, b: cx.src(2, Kind::I32)? }
        }
        "setp" => setp(&mut cx, mods).map_err(|e| e.message(outside))?,
        "selp" => {
            let [t] = mods else { return Err(outside()) };
            let kind = data_ty(t).ok_or_else(outside)?.1;
            cx.count(4)?;
            Op::Selp {
                d: cx.dst(0, kind)?,
                a: cx.src(1, kind)?,
                b: cx.src(2, kind)?,
                p: cx.src(3, Kind::Pred)?,
            }
        }
        "cvt" => cvt(&mut cx, mods).map_err(|e| e.message(outside))?,
        "sqrt" | "rcp" | "ex2" | "lg2" | "sin" | "cos" => {
            let exact = matches!(mnemonic, "sqrt" | "rcp");
            let [mode, ftz] =
                flags(front, [if exact { "rn" } else { "approx" }, "ftz"]).ok_or_else(outside)?;
            if !mode || last != "f32" {
                return Err(outside());
            }
            let op = match mnemonic {
                "sqrt" => FUnOp::Sqrt,
                "rcp" => FUnOp::Rcp,
                "ex2" => FUnOp::Ex2,
                "lg2" => FUnOp::Lg2,
                "sin" => FUnOp::Sin,
                _ => FUnOp::Cos,
            };
            let (d, a) = cx.da(Kind::F32)?;
            Op::FloatUn { op, ftz, d, a }
        }
        "testp" => {
            let op = match mods {
                ["nan", "f32"] => {
                    return Err("ptxas rejects testp.nan; the PTX spelling is testp.notanumber".to_string());
                }
                ["notanumber", "f32"] => TestOp::NotANumber,
                ["number", "f32"] => TestOp::Number,
                ["finite", "f32"] => TestOp::Finite,
                ["infinite", "f32"] => TestOp::Infinite,
                _ => return Err(outside()),
            };
            cx.count(2)?;
            Op::Testp { op, d: cx.dst(0, Kind::Pred)?, a: cx.src(1, Kind::F32)? }
        }
        "copysign" => {
            if mods != ["f32"] {
                return Err(outside());
            }
            let (d, a, b) = cx.dab(Kind::F32)?;
            Op::Float { op: FBinOp::Copysign, ftz: false, d, a, b }
        }
        "bra" => {
            if !mods.is_empty() && mods != ["uni"] {
                return Err(outside());
            }
            cx.count(1)?;
            return match &ops[0] {
                Opnd::Sym(label) => Ok(Decoded::Branch(label.clone())),
                _ => Err("bra needs a label".to_string()),
            };
        }
        "ret" | "exit" => {
            if !mods.is_empty() {
                return Err(outside());
            }
            cx.count(0)?;
            Op::Exit
        }
        "bar" => {
            if mods != ["sync"] {
                return Err(outside());
            }
            cx.count(1)?;
            let id = match &ops[0] {
                Opnd::Imm(text) => crate::scope::immediate(text, Kind::I32)?,
                _ => return Err("bar.sync needs an immediate barrier number".to_string()),
            };
            if id > 15 {
                return Err("barrier numbers are 0 to 15".to_string());
            }
            Op::Bar { id: id as u32 }
        }
        "shfl" => {
            let mode = match mods {
                ["sync", "up", "b32"] => ShflMode::Up,
                ["sync", "down", "b32"] => ShflMode::Down,
                ["sync", "bfly", "b32"] => ShflMode::Bfly,
                ["sync", "idx", "b32"] => ShflMode::Idx,
                _ => return Err(outside()),
            };
            cx.count(5)?;
            let (d, p) = match &ops[0] {
                Opnd::Reg(d) => (cx.scope.dst(d, Kind::B32)?, NO_REG),
                Opnd::Pair(d, p) => (cx.scope.dst(d, Kind::B32)?, cx.scope.dst(p, Kind::Pred)?),
                _ => return Err("shfl.sync needs a destination register".to_string()),
            };
            let a = cx.src(1, Kind::B32)?;
            let (b, c, mask) = (cx.src(2, Kind::I32)?, cx.src(3, Kind::I32)?, cx.src(4, Kind::I32)?);
            Op::Shfl { mode, d, p, a, b, c, mask }
        }
        _ => return Err(outside()),
    };
    Ok(Decoded::Op(op))
}

/// Why a helper rejected an instruction.
enum DecodeError {
    /// The opcode and modifiers are not in the subset.
    Outside,
    /// A more specific problem.
    Msg(String),
}

impl DecodeError {
    fn message(self, outside: impl FnOnce() -> String) -> String {
        match self {
            DecodeError::Outside => outside(),
            DecodeError::Msg(m) => m,
        }
    }
}

impl From<String> for DecodeError {
    fn from(m: String) -> Self {
        DecodeError::Msg(m)
    }
}

/// `ld`/`st` in the param, global and shared spaces. `Err(DecodeError::Outside)` means "outside the subset".
fn load_store(cx: &mut Cx<'_, '_>, is_load: bool, mods: &[&str]) -> Result<Op, DecodeError> {
    let Some((&space_name, rest)) = mods.split_first() else { return Err(DecodeError::Outside) };
    let Some((&ty, rest)) = rest.split_last() else { return Err(DecodeError::Outside) };
    let (width, kind) = data_ty(ty).ok_or(DecodeError::Outside)?;
    if space_name == "param" {
        if !is_load || !rest.is_empty() {
            return Err(DecodeError::Outside);
        }
        cx.count(2)?;
        let Opnd::Addr { base, off: 0 } = &cx.ops[1] else {
            return Err(DecodeError::Msg("ld.param needs `[name]` of a parameter".to_string()));
        };
        let (a, param) = cx.scope.param(base).ok_or_else(|| format!("unknown parameter `{base}`"))?;
        if param.ty.size() != width.bytes() {
            return Err(DecodeError::Msg(format!(
                "parameter `{base}` is {} bytes, the load reads {}",
                param.ty.size(),
                width.bytes()
            )));
        }
        return Ok(Op::Mov { d: cx.dst(0, kind)?, a });
    }
    let space = match space_name {
        "global" => Space::Global,
        "shared" => Space::Shared,
        "local" | "const" | "param" | "tex" => {
            return Err(DecodeError::Msg(format!("the .{space_name} state space is outside the subset")));
        }
        _ => return Err(DecodeError::Outside),
    };
    let [nc, v2, v4] = flags(rest, ["nc", "v2", "v4"]).ok_or(DecodeError::Outside)?;
    if (nc && (space != Space::Global || !is_load)) || (v2 && v4) {
        return Err(DecodeError::Outside);
    }
    let n = if v4 {
        4
    } else if v2 {
        2
    } else {
        1
    };
    if n > 1 && width == Width::W64 {
        return Err(DecodeError::Msg("vector accesses are modelled for 32-bit elements only".to_string()));
    }
    cx.count(2)?;
    if is_load {
        let d = cx.regs(0, n, kind, true)?;
        let (addr, off) = cx.addr(1, space)?;
        Ok(Op::Ld { space, nc, width, n, d, addr, off })
    } else {
        let (addr, off) = cx.addr(0, space)?;
        let a = cx.regs(1, n, kind, false)?;
        Ok(Op::St { space, width, n, a, addr, off })
    }
}

/// `setp.CMP[.BOOLOP][.ftz].TYPE`.
fn setp(cx: &mut Cx<'_, '_>, mods: &[&str]) -> Result<Op, DecodeError> {
    let Some((&cmp_name, rest)) = mods.split_first() else { return Err(DecodeError::Outside) };
    let Some((&ty_name, rest)) = rest.split_last() else { return Err(DecodeError::Outside) };
    let [and, or, ftz] = flags(rest, ["and", "or", "ftz"]).ok_or(DecodeError::Outside)?;
    if and && or {
        return Err(DecodeError::Outside);
    }
    let bop = if and {
        BoolOp::And
    } else if or {
        BoolOp::Or
    } else {
        BoolOp::None
    };
    let (ty, kind) = match ty_name {
        "s32" => (CmpTy::S32, Kind::I32),
        "u32" => (CmpTy::U32, Kind::I32),
        "b32" => (CmpTy::U32, Kind::B32),
        "s64" => (CmpTy::S64, Kind::I64),
        "u64" => (CmpTy::U64, Kind::I64),
        "b64" => (CmpTy::U64, Kind::B64),
        "f32" => (CmpTy::F32, Kind::F32),
        _ => return Err(DecodeError::Outside),
    };
    let float = ty == CmpTy::F32;
    let unsigned = matches!(ty_name, "u32" | "u64");
    let bits = matches!(ty_name, "b32" | "b64");
    let cmp = match cmp_name {
        "eq" => Cmp::Eq,
        "ne" => Cmp::Ne,
        "lt" if !bits => Cmp::Lt,
        "le" if !bits => Cmp::Le,
        "gt" if !bits => Cmp::Gt,
        "ge" if !bits => Cmp::Ge,
        "lo" if unsigned => Cmp::Lt,
        "ls" if unsigned => Cmp::Le,
        "hi" if unsigned => Cmp::Gt,
        "hs" if unsigned => Cmp::Ge,
        "equ" if float => Cmp::Equ,
        "neu" if float => Cmp::Neu,
        "ltu" if float => Cmp::Ltu,
        "leu" if float => Cmp::Leu,
        "gtu" if float => Cmp::Gtu,
        "geu" if float => Cmp::Geu,
        "num" if float => Cmp::Num,
        "nan" if float => Cmp::Nan,
        _ => return Err(DecodeError::Outside),
    };
    if ftz && !float {
        return Err(DecodeError::Outside);
    }
    cx.count(if bop == BoolOp::None { 3 } else { 4 })?;
    let (p, q) = match &cx.ops[0] {
        Opnd::Reg(p) => (cx.scope.dst(p, Kind::Pred)?, NO_REG),
        Opnd::Pair(p, q) => (cx.scope.dst(p, Kind::Pred)?, cx.scope.dst(q, Kind::Pred)?),
        _ => return Err(DecodeError::Msg("setp needs a predicate destination".to_string())),
    };
    let (a, b) = (cx.src(1, kind)?, cx.src(2, kind)?);
    let (c, c_neg) = if bop == BoolOp::None { (NO_REG, false) } else { cx.pred_src(3)? };
    Ok(Op::Setp { cmp, ty, ftz, bop, p, q, a, b, c, c_neg })
}

/// `cvt[.rnd][.ftz].DTYPE.STYPE`.
fn cvt(cx: &mut Cx<'_, '_>, mods: &[&str]) -> Result<Op, DecodeError> {
    if mods.len() < 2 {
        return Err(DecodeError::Outside);
    }
    let (front, types) = mods.split_at(mods.len() - 2);
    let (dst, src) = (types[0], types[1]);
    let [rn, rz, rm, rp, rni, rzi, rmi, rpi, ftz] =
        flags(front, ["rn", "rz", "rm", "rp", "rni", "rzi", "rmi", "rpi", "ftz"])
            .ok_or(DecodeError::Outside)?;
    let float_round = [(rn, Round::Nearest), (rz, Round::Zero), (rm, Round::Down), (rp, Round::Up)];
    let int_round = [(rni, Round::Nearest), (rzi, Round::Zero), (rmi, Round::Down), (rpi, Round::Up)];
    let pick_round = |set: &[(bool, Round)]| -> Option<Round> {
        let chosen: Vec<Round> = set.iter().filter(|(on, _)| *on).map(|(_, r)| *r).collect();
        (chosen.len() == 1).then(|| chosen[0])
    };
    let n_float = float_round.iter().filter(|(on, _)| *on).count();
    let n_int = int_round.iter().filter(|(on, _)| *on).count();
    let (op, dkind, skind) = match (dst, src) {
        ("f32", s) if int_ty(s).is_some() => {
            let ty = int_ty(s).ok_or(DecodeError::Outside)?;
            if n_int > 0 || ftz {
                return Err(DecodeError::Outside);
            }
            let round = pick_round(&float_round).ok_or(DecodeError::Outside)?;
            (CvtOp::F32FromInt(ty, round), Kind::F32, ty.kind())
        }
        (d, "f32") if int_ty(d).is_some() => {
            let ty = int_ty(d).ok_or(DecodeError::Outside)?;
            if n_float > 0 {
                return Err(DecodeError::Outside);
            }
            let round = pick_round(&int_round).ok_or(DecodeError::Outside)?;
            (CvtOp::IntFromF32(ty, round), ty.kind(), Kind::F32)
        }
        ("f32", "f32") => {
            if n_float > 0 {
                return Err(DecodeError::Outside);
            }
            let round = pick_round(&int_round).ok_or(DecodeError::Outside)?;
            (CvtOp::F32Round(round), Kind::F32, Kind::F32)
        }
        ("f64", "f32") => {
            if n_float + n_int > 0 {
                return Err(DecodeError::Outside);
            }
            (CvtOp::F64FromF32, Kind::F64, Kind::F32)
        }
        ("f32", "f64") => {
            if n_int > 0 || !rn || n_float != 1 {
                return Err(DecodeError::Outside);
            }
            (CvtOp::F32FromF64, Kind::F32, Kind::F64)
        }
        (d, s) => {
            let (Some(dt), Some(st)) = (int_ty(d), int_ty(s)) else { return Err(DecodeError::Outside) };
            if n_float + n_int > 0 || ftz || dt == st {
                return Err(DecodeError::Outside);
            }
            (CvtOp::IntFromInt { dst: dt, src: st }, dt.kind(), st.kind())
        }
    };
    cx.count(2)?;
    Ok(Op::Cvt { op, ftz, d: cx.dst(0, dkind)?, a: cx.src(1, skind)? })
}
