//! The decoded module: what the parser produces and the machine executes.
//!
//! Every operand is a register index. Immediates, special registers (`%tid.x`, ...),
//! parameters and symbol addresses live in hidden registers whose initial contents
//! (`Slot`) are filled in when a block starts, so an instruction reads all its sources the
//! same way and execution does no string work and no operand-kind dispatch.

/// A register index into a thread's flat register file.
pub(crate) type Reg = u32;

/// The marker for "no register" in optional operand positions.
pub(crate) const NO_REG: Reg = u32::MAX;

/// What a register holds before the thread's first instruction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Slot {
    /// A declared register: unwritten until an instruction writes it.
    Undef,
    /// An immediate operand, already encoded for its operand width.
    Const(u64),
    /// A special register.
    Special(Sreg),
    /// The value of the kernel parameter with this index.
    Param(u32),
    /// The address of the module-scope `.global` array with this index.
    GlobalSym(u32),
}

/// The special registers of the subset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Sreg {
    /// `%tid.{x,y,z}`.
    Tid(u8),
    /// `%ntid.{x,y,z}`.
    Ntid(u8),
    /// `%ctaid.{x,y,z}`.
    Ctaid(u8),
    /// `%nctaid.{x,y,z}`.
    Nctaid(u8),
    /// `%laneid`.
    Laneid,
}

/// A kernel parameter type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamType {
    /// `.param .u32`.
    U32,
    /// `.param .s32`.
    S32,
    /// `.param .u64`.
    U64,
    /// `.param .s64`.
    S64,
    /// `.param .f32`.
    F32,
}

impl ParamType {
    /// The size in bytes.
    pub fn size(self) -> u32 {
        match self {
            ParamType::U32 | ParamType::S32 | ParamType::F32 => 4,
            ParamType::U64 | ParamType::S64 => 8,
        }
    }
}

/// A kernel parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    /// The declared name.
    pub name: String,
    /// The declared type.
    pub ty: ParamType,
}

/// A `.shared` array placed in a kernel's shared window.
#[derive(Debug, Clone)]
pub(crate) struct SharedArray {
    /// Its name (for messages).
    pub name: String,
    /// Its first address in the shared window.
    pub start: u64,
    /// Its size in bytes.
    pub size: u64,
}

/// A module-scope `.global` array.
#[derive(Debug, Clone)]
pub(crate) struct GlobalArray {
    /// Its name.
    pub name: String,
    /// Its size in bytes.
    pub size: u64,
}

/// One decoded instruction.
#[derive(Debug, Clone)]
pub(crate) struct Instr {
    /// What it does.
    pub op: Op,
    /// The guard predicate register, or `NO_REG`.
    pub guard: Reg,
    /// Whether the guard is negated (`@!%p`).
    pub guard_neg: bool,
}

/// Access width of a load or store element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Width {
    /// 4 bytes.
    W32,
    /// 8 bytes.
    W64,
}

impl Width {
    pub fn bytes(self) -> u32 {
        match self {
            Width::W32 => 4,
            Width::W64 => 8,
        }
    }
}

/// Two-operand integer and bitwise operations (`d = a op b`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IntOp {
    Add32,
    Add64,
    Sub32,
    Sub64,
    MulLo32,
    MulLo64,
    MulHiS32,
    MulHiU32,
    MulHiS64,
    MulHiU64,
    MulWideS32,
    MulWideU32,
    DivS32,
    DivU32,
    DivS64,
    DivU64,
    RemS32,
    RemU32,
    RemS64,
    RemU64,
    MinS32,
    MinU32,
    MinS64,
    MinU64,
    MaxS32,
    MaxU32,
    MaxS64,
    MaxU64,
    /// `and` on pred, b32 and b64 alike (values are kept zero-extended).
    And,
    /// `or` on any width.
    Or,
    /// `xor` on any width.
    Xor,
    Shl32,
    Shl64,
    ShrU32,
    ShrS32,
    ShrU64,
    ShrS64,
}

/// Three-operand integer operations (`d = a * b + c`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MadOp {
    Lo32,
    Lo64,
    WideS32,
    WideU32,
}

/// One-operand integer and bitwise operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IntUnOp {
    Neg32,
    Neg64,
    Abs32,
    Abs64,
    Not32,
    Not64,
    NotPred,
}

/// Two-operand f32 operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FBinOp {
    Add,
    Sub,
    Mul,
    Div,
    Min,
    Max,
    MinNaN,
    MaxNaN,
    /// `copysign.f32 d, a, b`: `b` with the sign of `a`.
    Copysign,
}

/// One-operand f32 operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FUnOp {
    Neg,
    Abs,
    Sqrt,
    Rcp,
    Ex2,
    Lg2,
    Sin,
    Cos,
}

/// Rounding of a conversion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Round {
    /// To nearest, ties to even (`.rn`, `.rni`).
    Nearest,
    /// Toward zero (`.rz`, `.rzi`).
    Zero,
    /// Toward minus infinity (`.rm`, `.rmi`).
    Down,
    /// Toward plus infinity (`.rp`, `.rpi`).
    Up,
}

/// Integer types of conversions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IntTy {
    U32,
    S32,
    U64,
    S64,
}

/// The conversions of the subset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CvtOp {
    /// Integer to f32 with a rounding mode.
    F32FromInt(IntTy, Round),
    /// f32 to integer, rounding to an integral value first, saturating, NaN to zero.
    IntFromF32(IntTy, Round),
    /// f32 rounded to an integral f32.
    F32Round(Round),
    /// Integer to integer: widening (sign- or zero-extension by the source type) or truncation.
    IntFromInt { dst: IntTy, src: IntTy },
    /// f32 to f64 (exact).
    F64FromF32,
    /// f64 to f32, rounding to nearest.
    F32FromF64,
}

/// The comparison of `setp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Equ,
    Neu,
    Ltu,
    Leu,
    Gtu,
    Geu,
    Num,
    Nan,
}

/// The operand type of `setp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CmpTy {
    S32,
    U32,
    S64,
    U64,
    F32,
}

/// How `setp` combines its comparison with a third predicate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BoolOp {
    None,
    And,
    Or,
}

/// The property `testp` tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TestOp {
    NotANumber,
    Number,
    Finite,
    Infinite,
}

/// The lane selection of `shfl.sync`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ShflMode {
    Up,
    Down,
    Bfly,
    Idx,
}

/// A decoded operation. All register operands are indices into the thread's register file.
#[derive(Debug, Clone)]
pub(crate) enum Op {
    /// Copy a register (any width; immediates and special registers included).
    Mov { d: Reg, a: Reg },
    /// Load `n` elements of `width` from `[addr + off]` into `d[..n]`.
    Ld { space: crate::Space, nc: bool, width: Width, n: u8, d: [Reg; 4], addr: Reg, off: i64 },
    /// Store `n` elements of `width` from `a[..n]` to `[addr + off]`.
    St { space: crate::Space, width: Width, n: u8, a: [Reg; 4], addr: Reg, off: i64 },
    /// Two-operand integer or bitwise operation.
    Int { op: IntOp, d: Reg, a: Reg, b: Reg },
    /// `mad`.
    Mad { op: MadOp, d: Reg, a: Reg, b: Reg, c: Reg },
    /// One-operand integer or bitwise operation.
    IntUn { op: IntUnOp, d: Reg, a: Reg },
    /// Two-operand f32 operation.
    Float { op: FBinOp, ftz: bool, d: Reg, a: Reg, b: Reg },
    /// `fma.rn.f32`.
    Fma { ftz: bool, d: Reg, a: Reg, b: Reg, c: Reg },
    /// One-operand f32 operation.
    FloatUn { op: FUnOp, ftz: bool, d: Reg, a: Reg },
    /// `setp`: `p = (a cmp b) bop c`, `q = !(a cmp b) bop c` when `q` is present.
    Setp { cmp: Cmp, ty: CmpTy, ftz: bool, bop: BoolOp, p: Reg, q: Reg, a: Reg, b: Reg, c: Reg, c_neg: bool },
    /// `selp`: `d = p ? a : b`.
    Selp { d: Reg, a: Reg, b: Reg, p: Reg },
    /// `cvt`.
    Cvt { op: CvtOp, ftz: bool, d: Reg, a: Reg },
    /// `testp`.
    Testp { op: TestOp, d: Reg, a: Reg },
    /// Jump to an instruction index.
    Bra { target: u32 },
    /// `ret` or `exit` (and the end of the body).
    Exit,
    /// `bar.sync id`.
    Bar { id: u32 },
    /// `shfl.sync.mode.b32 d|p, a, b, c, mask`.
    Shfl { mode: ShflMode, d: Reg, p: Reg, a: Reg, b: Reg, c: Reg, mask: Reg },
}

/// One decoded `.entry`.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    /// The kernel's name.
    pub name: String,
    /// Its parameters in order.
    pub params: Vec<Param>,
    /// `.maxntid`, if given.
    pub maxntid: Option<[u32; 3]>,
    /// `.reqntid`, if given.
    pub reqntid: Option<[u32; 3]>,
    /// The instructions; the last one is always an `Exit`.
    pub code: Vec<Instr>,
    /// Source line of each instruction.
    pub lines: Vec<u32>,
    /// Source text of each instruction.
    pub texts: Vec<String>,
    /// Initial contents of each register; its length is the register-file size.
    pub slots: Vec<Slot>,
    /// Name of each register for messages.
    pub reg_names: Vec<String>,
    /// The shared arrays this kernel uses, in address order.
    pub shared: Vec<SharedArray>,
    /// The end of the shared window (0 when the kernel uses no shared memory).
    pub shared_end: u64,
}
