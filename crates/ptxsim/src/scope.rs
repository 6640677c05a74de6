//! The register file of one kernel while it is parsed: declared registers, hidden registers
//! for immediates, special registers, parameters and symbol addresses, and the rules that
//! check an operand against the width an instruction expects.

use std::collections::HashMap;

use crate::ir::{GlobalArray, Param, Reg, SharedArray, Slot, Sreg};

/// The storage class of a register, from its `.reg` type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Class {
    /// `.pred`.
    Pred,
    /// `.b32`, `.u32`, `.s32`, `.f32`.
    B32,
    /// `.b64`, `.u64`, `.s64`, `.f64`.
    B64,
}

/// What an instruction expects of an operand; decides the register class and how an
/// immediate is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A predicate: register of class `Pred`, or the immediates 0 and 1.
    Pred,
    /// A 32-bit integer: decimal or hex literals that fit in 32 bits.
    I32,
    /// A 64-bit integer.
    I64,
    /// A 32-bit bit pattern: integer literals or `0f` literals.
    B32,
    /// A 64-bit bit pattern: integer literals or `0d` literals.
    B64,
    /// An f32: `0f`, `0d` or decimal float literals (integer literals are rejected, as ptxas does).
    F32,
    /// An f64: `0d` or decimal float literals.
    F64,
}

impl Kind {
    fn class(self) -> Class {
        match self {
            Kind::Pred => Class::Pred,
            Kind::I32 | Kind::B32 | Kind::F32 => Class::B32,
            Kind::I64 | Kind::B64 | Kind::F64 => Class::B64,
        }
    }
}

/// A named memory symbol visible to the kernel.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Symbol {
    /// A shared array at this window address.
    Shared(u64),
    /// The module-scope `.global` array with this index.
    Global(u32),
}

/// The register file under construction, plus the names the kernel can refer to.
pub(crate) struct Scope<'m> {
    pub slots: Vec<Slot>,
    pub names: Vec<String>,
    ranges: HashMap<String, (Reg, u32, Class)>,
    singles: HashMap<String, (Reg, Class)>,
    consts: HashMap<(u64, Class), Reg>,
    specials: HashMap<Sreg, Reg>,
    symbol_regs: HashMap<String, Reg>,
    pub params: Vec<Param>,
    param_regs: Vec<Reg>,
    /// Module-scope shared arrays: (name, size, align), placed in this kernel when first used.
    module_shared: &'m [(String, u64, u64)],
    module_globals: &'m [GlobalArray],
    pub shared: Vec<SharedArray>,
    /// Bytes of shared memory declared (without the gaps the simulator leaves between arrays).
    shared_bytes: u64,
    shared_end: u64,
}

/// The static shared memory a kernel may declare, in bytes.
const MAX_STATIC_SHARED: u64 = 48 * 1024;

/// The gap left after each shared array, so an access running off its end hits no array.
const SHARED_GAP: u64 = 256;

impl<'m> Scope<'m> {
    pub fn new(module_shared: &'m [(String, u64, u64)], module_globals: &'m [GlobalArray]) -> Self {
        Scope {
            slots: Vec::new(),
            names: Vec::new(),
            ranges: HashMap::new(),
            singles: HashMap::new(),
            consts: HashMap::new(),
            specials: HashMap::new(),
            symbol_regs: HashMap::new(),
            params: Vec::new(),
            param_regs: Vec::new(),
            module_shared,
            module_globals,
            shared: Vec::new(),
            shared_bytes: 0,
            shared_end: 0,
        }
    }

    fn push(&mut self, slot: Slot, name: String) -> Reg {
        let reg = self.slots.len() as Reg;
        self.slots.push(slot);
        self.names.push(name);
        reg
    }

    fn name_taken(&self, name: &str) -> bool {
        self.singles.contains_key(name) || self.lookup_range(name).is_some()
    }

    /// Declares `%name<count>` (`count` registers) or, with `count == None`, the single `%name`.
    pub fn declare(&mut self, name: &str, count: Option<u32>, class: Class) -> Result<(), String> {
        match count {
            Some(count) => {
                if self.ranges.contains_key(name) {
                    return Err(format!("registers {name}<..> are declared twice"));
                }
                let base = self.slots.len() as Reg;
                for i in 0..count {
                    self.push(Slot::Undef, format!("{name}{i}"));
                }
                self.ranges.insert(name.to_string(), (base, count, class));
            }
            None => {
                if self.name_taken(name) {
                    return Err(format!("register {name} is declared twice"));
                }
                let reg = self.push(Slot::Undef, name.to_string());
                self.singles.insert(name.to_string(), (reg, class));
            }
        }
        Ok(())
    }

    fn lookup_range(&self, name: &str) -> Option<(Reg, Class)> {
        let digits = name.bytes().rev().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let (prefix, num) = name.split_at(name.len() - digits);
        if num.len() > 1 && num.starts_with('0') {
            return None;
        }
        let (base, count, class) = *self.ranges.get(prefix)?;
        let idx: u32 = num.parse().ok()?;
        (idx < count).then_some((base + idx, class))
    }

    /// Declares a kernel parameter; its value lives in a hidden register.
    pub fn declare_param(&mut self, param: Param) -> Result<(), String> {
        if self.params.iter().any(|p| p.name == param.name) {
            return Err(format!("parameter {} is declared twice", param.name));
        }
        let idx = self.params.len() as u32;
        let reg = self.push(Slot::Param(idx), format!("param {}", param.name));
        self.param_regs.push(reg);
        self.params.push(param);
        Ok(())
    }

    /// The register holding parameter `name`, with its declaration.
    pub fn param(&self, name: &str) -> Option<(Reg, &Param)> {
        let idx = self.params.iter().position(|p| p.name == name)?;
        Some((self.param_regs[idx], &self.params[idx]))
    }

    /// Places a shared array in this kernel's window.
    pub fn add_shared(&mut self, name: &str, size: u64, align: u64) -> Result<u64, String> {
        if self.shared.iter().any(|a| a.name == name) {
            return Err(format!("shared array {name} is declared twice"));
        }
        let start = self.shared_end.div_ceil(align) * align;
        self.shared.push(SharedArray { name: name.to_string(), start, size });
        self.shared_end = start + size + SHARED_GAP;
        self.shared_bytes += size;
        if self.shared_bytes > MAX_STATIC_SHARED {
            return Err(format!(
                "the kernel's shared arrays take {} bytes, more than the 48 KiB of static shared memory",
                self.shared_bytes
            ));
        }
        Ok(start)
    }

    /// The end of the shared window.
    pub fn shared_end(&self) -> u64 {
        if self.shared.is_empty() { 0 } else { self.shared_end }
    }

    /// Resolves a memory symbol, placing a module-scope shared array on first use.
    pub fn symbol(&mut self, name: &str) -> Result<Symbol, String> {
        if let Some(a) = self.shared.iter().find(|a| a.name == name) {
            return Ok(Symbol::Shared(a.start));
        }
        if let Some((n, size, align)) = self.module_shared.iter().find(|(n, _, _)| n == name) {
            let start = self.add_shared(n, *size, *align)?;
            return Ok(Symbol::Shared(start));
        }
        if let Some(idx) = self.module_globals.iter().position(|g| g.name == name) {
            return Ok(Symbol::Global(idx as u32));
        }
        Err(format!("unknown symbol `{name}`"))
    }

    /// A hidden register holding the address of a symbol.
    pub fn symbol_reg(&mut self, name: &str) -> Result<(Reg, Symbol), String> {
        let sym = self.symbol(name)?;
        if let Some(&reg) = self.symbol_regs.get(name) {
            return Ok((reg, sym));
        }
        let slot = match sym {
            Symbol::Shared(addr) => Slot::Const(addr),
            Symbol::Global(idx) => Slot::GlobalSym(idx),
        };
        let reg = self.push(slot, format!("address of {name}"));
        self.symbol_regs.insert(name.to_string(), reg);
        Ok((reg, sym))
    }

    /// A declared register used as a destination of `kind`.
    pub fn dst(&self, name: &str, kind: Kind) -> Result<Reg, String> {
        let (reg, class) = self.declared(name)?;
        check_class(name, class, kind)?;
        Ok(reg)
    }

    fn declared(&self, name: &str) -> Result<(Reg, Class), String> {
        if let Some(&(reg, class)) = self.singles.get(name) {
            return Ok((reg, class));
        }
        self.lookup_range(name).ok_or_else(|| format!("register {name} is not declared"))
    }

    /// A register (declared or special) used as a source of `kind`.
    pub fn src_reg(&mut self, name: &str, kind: Kind) -> Result<Reg, String> {
        if let Some(sreg) = special(name) {
            if !matches!(kind, Kind::I32 | Kind::B32) {
                return Err(format!("special register {name} is 32-bit"));
            }
            if let Some(&reg) = self.specials.get(&sreg) {
                return Ok(reg);
            }
            let reg = self.push(Slot::Special(sreg), name.to_string());
            self.specials.insert(sreg, reg);
            return Ok(reg);
        }
        if !self.name_taken(name) && is_other_special(name) {
            return Err(format!("special register {name} is outside the subset"));
        }
        self.dst(name, kind)
    }

    /// A hidden register holding the immediate `text` read as `kind`.
    pub fn imm(&mut self, text: &str, kind: Kind) -> Result<Reg, String> {
        let bits = immediate(text, kind)?;
        Ok(self.const_reg(bits, kind.class(), text))
    }

    /// A hidden register holding the constant `bits`.
    pub fn const_reg(&mut self, bits: u64, class: Class, text: &str) -> Reg {
        if let Some(&reg) = self.consts.get(&(bits, class)) {
            return reg;
        }
        let reg = self.push(Slot::Const(bits), format!("immediate {text}"));
        self.consts.insert((bits, class), reg);
        reg
    }

    /// A declared 32- or 64-bit register used as an address.
    pub fn addr_reg(&self, name: &str) -> Result<(Reg, Class), String> {
        let (reg, class) = self.declared(name)?;
        if class == Class::Pred {
            return Err(format!("predicate {name} cannot hold an address"));
        }
        Ok((reg, class))
    }
}

fn check_class(name: &str, class: Class, kind: Kind) -> Result<(), String> {
    if class == kind.class() {
        return Ok(());
    }
    let has = match class {
        Class::Pred => "a predicate",
        Class::B32 => "32-bit",
        Class::B64 => "64-bit",
    };
    let wants = match kind.class() {
        Class::Pred => "a predicate",
        Class::B32 => "a 32-bit register",
        Class::B64 => "a 64-bit register",
    };
    Err(format!("register {name} is {has} but the instruction needs {wants}"))
}

fn special(name: &str) -> Option<Sreg> {
    let dim = |s: &str| match s {
        "x" => Some(0u8),
        "y" => Some(1),
        "z" => Some(2),
        _ => None,
    };
    if name == "%laneid" {
        return Some(Sreg::Laneid);
    }
    let (base, d) = name.split_once('.')?;
    let d = dim(d)?;
    match base {
        "%tid" => Some(Sreg::Tid(d)),
        "%ntid" => Some(Sreg::Ntid(d)),
        "%ctaid" => Some(Sreg::Ctaid(d)),
        "%nctaid" => Some(Sreg::Nctaid(d)),
        _ => None,
    }
}

fn is_other_special(name: &str) -> bool {
    const OTHERS: &[&str] = &[
        "%warpid",
        "%nwarpid",
        "%smid",
        "%nsmid",
        "%gridid",
        "%clock",
        "%clock64",
        "%lanemask_eq",
        "%lanemask_le",
        "%lanemask_lt",
        "%lanemask_ge",
        "%lanemask_gt",
        "%pm0",
        "%envreg0",
        "%globaltimer",
        "%dynamic_smem_size",
        "%total_smem_size",
    ];
    OTHERS.iter().any(|o| name == *o || name.starts_with(&format!("{o}.")))
}

/// Parses an integer literal: decimal, `0x` hex or `0` octal, optionally negative, with an
/// optional `U` suffix. Returns the value as an i128 so both signed and unsigned ranges fit.
fn int_literal(text: &str) -> Option<i128> {
    let (neg, body) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let body = body.strip_suffix('U').unwrap_or(body);
    let value = if let Some(hex) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        u64::from_str_radix(hex, 16).ok()? as i128
    } else if body.len() > 1 && body.starts_with('0') {
        u64::from_str_radix(&body[1..], 8).ok()? as i128
    } else {
        body.parse::<u64>().ok()? as i128
    };
    Some(if neg { -value } else { value })
}

fn hex_float(text: &str, prefix: [&str; 2], digits: usize) -> Option<u64> {
    let hex = text.strip_prefix(prefix[0]).or_else(|| text.strip_prefix(prefix[1]))?;
    if hex.len() != digits {
        return None;
    }
    u64::from_str_radix(hex, 16).ok()
}

fn decimal_float(text: &str) -> Option<f64> {
    let body = text.strip_prefix('-').unwrap_or(text);
    let first = *body.as_bytes().first()?;
    let looks_float = first.is_ascii_digit() && (body.contains('.') || body.contains(['e', 'E']));
    if !looks_float || body.starts_with("0x") || body.starts_with("0X") {
        return None;
    }
    text.parse::<f64>().ok()
}

/// Encodes the immediate `text` as the bits of an operand of `kind`.
pub(crate) fn immediate(text: &str, kind: Kind) -> Result<u64, String> {
    let bad = || format!("`{text}` is not a valid immediate for this operand");
    let f32_of = |t: &str| -> Option<u64> {
        if let Some(bits) = hex_float(t, ["0f", "0F"], 8) {
            return Some(bits);
        }
        if let Some(bits) = hex_float(t, ["0d", "0D"], 16) {
            return Some((f64::from_bits(bits) as f32).to_bits() as u64);
        }
        decimal_float(t).map(|v| (v as f32).to_bits() as u64)
    };
    let f64_of = |t: &str| -> Option<u64> {
        if let Some(bits) = hex_float(t, ["0d", "0D"], 16) {
            return Some(bits);
        }
        decimal_float(t).map(f64::to_bits)
    };
    let int32 = |t: &str| -> Option<u64> {
        let v = int_literal(t)?;
        (i32::MIN as i128..=u32::MAX as i128).contains(&v).then_some(v as u32 as u64)
    };
    let int64 = |t: &str| -> Option<u64> {
        let v = int_literal(t)?;
        (i64::MIN as i128..=u64::MAX as i128).contains(&v).then_some(v as u64)
    };
    let hex_float_text = |t: &str| {
        let t = t.strip_prefix('-').unwrap_or(t);
        t.starts_with("0f") || t.starts_with("0F") || t.starts_with("0d") || t.starts_with("0D")
    };
    let res = match kind {
        Kind::Pred => match int_literal(text) {
            Some(0) => Some(0),
            Some(1) => Some(1),
            _ => None,
        },
        Kind::I32 => int32(text),
        Kind::I64 => int64(text),
        Kind::B32 if hex_float_text(text) => hex_float(text, ["0f", "0F"], 8),
        Kind::B32 => int32(text),
        Kind::B64 if hex_float_text(text) => hex_float(text, ["0d", "0D"], 16),
        Kind::B64 => int64(text),
        Kind::F32 if text.starts_with('-') && hex_float_text(text) => None,
        Kind::F32 => f32_of(text),
        Kind::F64 if text.starts_with('-') && hex_float_text(text) => None,
        Kind::F64 => f64_of(text),
    };
    res.ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn immediates_are_encoded_per_operand_kind() {
        assert_eq!(immediate("-1", Kind::I32), Ok(0xFFFF_FFFF));
        assert_eq!(immediate("0x1F", Kind::I32), Ok(31));
        assert_eq!(immediate("4294967295", Kind::I32), Ok(0xFFFF_FFFF));
        assert!(immediate("4294967296", Kind::I32).is_err());
        assert_eq!(immediate("-1", Kind::I64), Ok(u64::MAX));
        assert_eq!(immediate("0f3F800000", Kind::F32), Ok(0x3F80_0000));
        assert_eq!(immediate("0d3FF0000000000000", Kind::F32), Ok(0x3F80_0000));
        assert_eq!(immediate("1.5", Kind::F32), Ok(1.5f32.to_bits() as u64));
        assert!(immediate("1", Kind::F32).is_err());
        assert_eq!(immediate("0f3F800000", Kind::B32), Ok(0x3F80_0000));
        assert_eq!(immediate("1", Kind::Pred), Ok(1));
        assert!(immediate("2", Kind::Pred).is_err());
        assert_eq!(immediate("7U", Kind::I32), Ok(7));
    }

    #[test]
    fn ranges_and_singles_resolve_with_width_checks() {
        let mut scope = Scope::new(&[], &[]);
        scope.declare("%r", Some(4), Class::B32).unwrap();
        scope.declare("%rd", Some(2), Class::B64).unwrap();
        scope.declare("%acc", None, Class::B32).unwrap();
        assert_eq!(scope.dst("%r3", Kind::I32), Ok(3));
        assert_eq!(scope.dst("%rd1", Kind::I64), Ok(5));
        assert_eq!(scope.dst("%acc", Kind::F32), Ok(6));
        assert!(scope.dst("%r4", Kind::I32).is_err());
        assert!(scope.dst("%r01", Kind::I32).is_err());
        assert!(scope.dst("%rd0", Kind::I32).unwrap_err().contains("64-bit"));
        assert!(scope.src_reg("%tid.x", Kind::I64).is_err());
        assert!(scope.src_reg("%smid", Kind::I32).unwrap_err().contains("outside the subset"));
    }
}
