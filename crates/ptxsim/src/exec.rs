//! The interpreter of one thread: runs decoded instructions until its slice ends, it reaches
//! `bar.sync` or `shfl.sync` (which the scheduler completes), or it exits.
//!
//! Registers of all threads of a block live in one flat `Vec<u64>` (`n_regs` per thread),
//! with a parallel vector of "written" flags so a read of an unwritten register is caught.

use crate::error::{FaultKind, OtherThread, Space};
use crate::float;
use crate::int;
use crate::ir::{BoolOp, CmpTy, Entry, NO_REG, Op, Reg};
use crate::memory::{Device, MANY, MemFault, Shared, Who};

/// The registers and program counters of a block's threads.
pub(crate) struct Threads {
    pub n_regs: usize,
    pub regs: Vec<u64>,
    pub init: Vec<bool>,
    pub pc: Vec<u32>,
}

impl Threads {
    /// Reads register `reg` of thread `t`, or reports it unwritten.
    pub fn get(&self, entry: &Entry, t: usize, reg: Reg) -> Result<u64, FaultKind> {
        let i = t * self.n_regs + reg as usize;
        if self.init[i] {
            Ok(self.regs[i])
        } else {
            Err(FaultKind::UninitRegister { register: entry.reg_names[reg as usize].clone() })
        }
    }

    /// Writes register `reg` of thread `t`.
    pub fn set(&mut self, t: usize, reg: Reg, value: u64) {
        let i = t * self.n_regs + reg as usize;
        self.regs[i] = value;
        self.init[i] = true;
    }
}

/// Why a thread stopped running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    /// Its slice of instructions is used up.
    Slice,
    /// It reached `bar.sync` (its pc stays on it).
    Bar,
    /// It reached `shfl.sync` (its pc stays on it).
    Shfl,
    /// It executed `ret`/`exit`.
    Exit,
}

/// A fault at an instruction of the running thread.
pub(crate) struct Trap {
    pub pc: u32,
    pub kind: FaultKind,
}

/// What the running block shares with its threads.
pub(crate) struct Ctx<'a> {
    pub entry: &'a Entry,
    pub dev: &'a mut Device,
    pub shared: &'a mut Shared,
    /// The current interval and the block's and launch's first ones.
    pub interval: u32,
    pub block_first: u32,
    pub launch_first: u32,
    /// The block's `%ntid`.
    pub ntid: [u32; 3],
    /// The block's `%ctaid`.
    pub ctaid: [u32; 3],
    /// `(first interval, %ctaid)` of each block run so far in this launch, in order.
    pub blocks: &'a [(u32, [u32; 3])],
}

impl Ctx<'_> {
    /// `%tid` of a linear thread index.
    pub fn tid(&self, t: u32) -> [u32; 3] {
        let [nx, ny, _] = self.ntid;
        [t % nx, (t / nx) % ny, t / (nx * ny)]
    }

    /// The fault for a memory access that went wrong.
    fn mem_fault(&self, space: Space, fault: MemFault) -> FaultKind {
        match fault {
            MemFault::OutOfBounds { addr, size } => FaultKind::OutOfBounds { space, addr, size },
            MemFault::Misaligned { addr, align } => FaultKind::Misaligned { space, addr, align },
            MemFault::Uninit { addr } => FaultKind::UninitMemory { space, addr },
            MemFault::NonCoherent { addr } => FaultKind::NonCoherent { addr },
            MemFault::Race { addr, kind, interval, thread } => {
                let idx = self.blocks.partition_point(|&(first, _)| first <= interval);
                let block = if idx == 0 { self.ctaid } else { self.blocks[idx - 1].1 };
                let thread = (thread != MANY).then(|| self.tid(thread));
                FaultKind::Race { space, addr, kind, other: OtherThread { block, thread } }
            }
        }
    }
}

/// Runs thread `t` for at most `steps` instructions. Returns why it stopped and how many
/// instructions it executed.
pub(crate) fn run(cx: &mut Ctx<'_>, th: &mut Threads, t: usize, steps: u64) -> Result<(Stop, u64), Trap> {
    let n = th.n_regs;
    let code = &cx.entry.code[..];
    let regs = &mut th.regs[t * n..(t + 1) * n];
    let init = &mut th.init[t * n..(t + 1) * n];
    let who = Who {
        thread: t as u32,
        interval: cx.interval,
        block_first: cx.block_first,
        launch_first: cx.launch_first,
    };
    let mut pc = th.pc[t] as usize;
    let mut done = 0u64;

    macro_rules! trap {
        ($kind:expr) => {{
            th.pc[t] = pc as u32;
            return Err(Trap { pc: pc as u32, kind: $kind });
        }};
    }
    macro_rules! get {
        ($r:expr) => {{
            let r = $r as usize;
            if !init[r] {
                trap!(FaultKind::UninitRegister { register: cx.entry.reg_names[r].clone() });
            }
            regs[r]
        }};
    }
    macro_rules! set {
        ($r:expr, $v:expr) => {{
            let r = $r as usize;
            regs[r] = $v;
            init[r] = true;
        }};
    }

    let stop = loop {
        if done == steps {
            break Stop::Slice;
        }
        let ins = &code[pc];
        done += 1;
        if ins.guard != NO_REG && (get!(ins.guard) != 0) == ins.guard_neg {
            pc += 1;
            continue;
        }
        match ins.op {
            Op::Mov { d, a } => set!(d, get!(a)),
            Op::Int { op, d, a, b } => {
                let (x, y) = (get!(a), get!(b));
                match int::binary(op, x, y) {
                    Some(v) => set!(d, v),
                    None => trap!(FaultKind::DivisionByZero),
                }
            }
            Op::Float { op, ftz, d, a, b } => {
                let v = float::binary(op, ftz, get!(a), get!(b));
                set!(d, v)
            }
            Op::Fma { ftz, d, a, b, c } => {
                let v = float::fma(ftz, get!(a), get!(b), get!(c));
                set!(d, v)
            }
            Op::Mad { op, d, a, b, c } => {
                let v = int::mad(op, get!(a), get!(b), get!(c));
                set!(d, v)
            }
            Op::IntUn { op, d, a } => set!(d, int::unary(op, get!(a))),
            Op::FloatUn { op, ftz, d, a } => set!(d, float::unary(op, ftz, get!(a))),
            Op::Setp { cmp, ty, ftz, bop, p, q, a, b, c, c_neg } => {
                let (x, y) = (get!(a), get!(b));
                let r = match ty {
                    CmpTy::F32 => float::compare(cmp, ftz, x, y),
                    CmpTy::S32 => int::compare(cmp, (x as u32 as i32).cmp(&(y as u32 as i32))),
                    CmpTy::U32 => int::compare(cmp, (x as u32).cmp(&(y as u32))),
                    CmpTy::S64 => int::compare(cmp, (x as i64).cmp(&(y as i64))),
                    CmpTy::U64 => int::compare(cmp, x.cmp(&y)),
                };
                let (pv, qv) = match bop {
                    BoolOp::None => (r, !r),
                    BoolOp::And => {
                        let cv = (get!(c) != 0) != c_neg;
                        (r && cv, !r && cv)
                    }
                    BoolOp::Or => {
                        let cv = (get!(c) != 0) != c_neg;
                        (r || cv, !r || cv)
                    }
                };
                set!(p, pv as u64);
                if q != NO_REG {
                    set!(q, qv as u64);
                }
            }
            Op::Selp { d, a, b, p } => {
                let v = if get!(p) != 0 { get!(a) } else { get!(b) };
                set!(d, v)
            }
            Op::Cvt { op, ftz, d, a } => set!(d, float::convert(op, ftz, get!(a))),
            Op::Testp { op, d, a } => set!(d, float::test(op, get!(a)) as u64),
            Op::Ld { space, nc, width, n, d, addr, off } => {
                let at = get!(addr).wrapping_add(off as u64);
                let mut vals = [0u64; 4];
                let res = match space {
                    Space::Global => cx.dev.load(at, width.bytes(), n as u32, nc, &who, &mut vals),
                    Space::Shared => cx.shared.load(at, width.bytes(), n as u32, &who, &mut vals),
                };
                if let Err(f) = res {
                    trap!(cx.mem_fault(space, f));
                }
                for (reg, v) in d.iter().zip(vals).take(n as usize) {
                    set!(*reg, v);
                }
            }
            Op::St { space, width, n, a, addr, off } => {
                let at = get!(addr).wrapping_add(off as u64);
                let mut vals = [0u64; 4];
                for (v, reg) in vals.iter_mut().zip(a).take(n as usize) {
                    *v = get!(reg);
                }
                let res = match space {
                    Space::Global => cx.dev.store(at, width.bytes(), n as u32, &who, &vals),
                    Space::Shared => cx.shared.store(at, width.bytes(), n as u32, &who, &vals),
                };
                if let Err(f) = res {
                    trap!(cx.mem_fault(space, f));
                }
            }
            Op::Bra { target } => {
                pc = target as usize;
                continue;
            }
            Op::Exit => break Stop::Exit,
            Op::Bar { .. } => break Stop::Bar,
            Op::Shfl { .. } => break Stop::Shfl,
        }
        pc += 1;
    };
    th.pc[t] = pc as u32;
    Ok((stop, done))
}
