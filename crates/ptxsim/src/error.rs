//! The two error types: `ParseError` for text outside the modelled subset, `SimError` for
//! everything a launch or a host access can detect.

use std::fmt;

/// PTX text that is malformed or outside the modelled subset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// The 1-based line of the offending statement.
    pub line: u32,
    /// The statement (or token) as written in the source.
    pub text: String,
    /// What is wrong with it.
    pub message: String,
}

impl ParseError {
    pub(crate) fn new(line: u32, text: &str, message: impl Into<String>) -> ParseError {
        ParseError { line, text: text.to_string(), message: message.into() }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}: `{}`", self.line, self.message, self.text)
    }
}

impl std::error::Error for ParseError {}

/// A memory state space that kernels access.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Space {
    /// Device memory (`ld.global`, `st.global`).
    Global,
    /// Per-block shared memory (`ld.shared`, `st.shared`).
    Shared,
}

impl fmt::Display for Space {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Space::Global => "global",
            Space::Shared => "shared",
        })
    }
}

/// The order of the two conflicting accesses of a data race.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RaceKind {
    /// A read of a value another thread wrote in the same barrier interval (or another block).
    ReadAfterWrite,
    /// A write over a value another thread wrote in the same barrier interval (or another block).
    WriteAfterWrite,
    /// A write over a value another thread read in the same barrier interval (or another block).
    WriteAfterRead,
}

/// The other party of a data race.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OtherThread {
    /// The block of the other access.
    pub block: [u32; 3],
    /// The thread of the other access, or `None` when several threads of that block read it.
    pub thread: Option<[u32; 3]>,
}

/// What went wrong inside a running kernel.
#[derive(Debug, Clone, PartialEq)]
pub enum FaultKind {
    /// An access outside every allocation (global) or every array (shared), or crossing its end.
    OutOfBounds {
        /// The space accessed.
        space: Space,
        /// The first byte accessed.
        addr: u64,
        /// The number of bytes accessed.
        size: u32,
    },
    /// An access whose address is not a multiple of its size.
    Misaligned {
        /// The space accessed.
        space: Space,
        /// The first byte accessed.
        addr: u64,
        /// The alignment the access needs.
        align: u32,
    },
    /// A register read before any instruction wrote it.
    UninitRegister {
        /// The register's name as declared.
        register: String,
    },
    /// A read of memory never written: global memory the host never wrote and no kernel
    /// stored to, or shared memory not written by this block.
    UninitMemory {
        /// The space read.
        space: Space,
        /// The first byte of the unwritten word.
        addr: u64,
    },
    /// Two accesses to one word, at least one a write, not ordered by `bar.sync`
    /// (same block) or by the end of the launch (different blocks).
    Race {
        /// The space of the word.
        space: Space,
        /// The address of the word.
        addr: u64,
        /// Which access came second.
        kind: RaceKind,
        /// Who made the first access.
        other: OtherThread,
    },
    /// `ld.global.nc` of a word written during the launch, or a store to a word read with
    /// `ld.global.nc` during the launch: the non-coherent path requires read-only data.
    NonCoherent {
        /// The address of the word.
        addr: u64,
    },
    /// An integer `div` or `rem` by zero (PTX leaves the result unspecified; the simulator
    /// reports it).
    DivisionByZero,
    /// The launch executed `LaunchOptions::max_instructions` instructions without finishing.
    Budget {
        /// The limit that was reached.
        limit: u64,
    },
    /// Misuse of `bar.sync`: threads waiting at different barrier instructions.
    Barrier {
        /// What happened.
        message: String,
    },
    /// Misuse of `shfl.sync`: a member lane exited, does not exist, is not in its own mask,
    /// reached a different `shfl.sync`, or the source lane is not a member.
    Shuffle {
        /// What happened.
        message: String,
    },
    /// Every live thread of the block waits and none can proceed.
    Deadlock {
        /// Which threads wait for what.
        message: String,
    },
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FaultKind::OutOfBounds { space, addr, size } => {
                write!(f, "out-of-bounds {space} access of {size} bytes at {addr:#x}")
            }
            FaultKind::Misaligned { space, addr, align } => {
                write!(f, "misaligned {space} access at {addr:#x} (needs alignment {align})")
            }
            FaultKind::UninitRegister { register } => {
                write!(f, "register {register} is read before it is written")
            }
            FaultKind::UninitMemory { space, addr } => {
                write!(f, "{space} memory at {addr:#x} is read before it is written")
            }
            FaultKind::Race { space, addr, kind, other } => {
                let what = match kind {
                    RaceKind::ReadAfterWrite => "read of a value written",
                    RaceKind::WriteAfterWrite => "write over a value written",
                    RaceKind::WriteAfterRead => "write over a value read",
                };
                let [bx, by, bz] = other.block;
                match other.thread {
                    Some([tx, ty, tz]) => write!(
                        f,
                        "data race on {space} {addr:#x}: {what} by block ({bx},{by},{bz}) thread ({tx},{ty},{tz}) without a barrier between"
                    ),
                    None => write!(
                        f,
                        "data race on {space} {addr:#x}: {what} by several threads of block ({bx},{by},{bz}) without a barrier between"
                    ),
                }
            }
            FaultKind::NonCoherent { addr } => {
                write!(f, "global {addr:#x} is both written and read through ld.global.nc in one launch")
            }
            FaultKind::DivisionByZero => write!(f, "integer division by zero"),
            FaultKind::Budget { limit } => {
                write!(f, "instruction budget of {limit} exhausted (infinite loop?)")
            }
            FaultKind::Barrier { message }
            | FaultKind::Shuffle { message }
            | FaultKind::Deadlock { message } => f.write_str(message),
        }
    }
}

/// A fault with where it happened.
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    /// The kernel's name.
    pub kernel: String,
    /// The block (`%ctaid`) of the faulting thread.
    pub block: [u32; 3],
    /// The faulting thread (`%tid`).
    pub thread: [u32; 3],
    /// The 1-based source line of the instruction.
    pub line: u32,
    /// The instruction as written in the source.
    pub instruction: String,
    /// What went wrong.
    pub kind: FaultKind,
}

/// Everything that can go wrong when the host uses a `Device`.
#[derive(Debug, Clone, PartialEq)]
pub enum SimError {
    /// `launch` named a kernel the module does not define.
    KernelNotFound {
        /// The requested name.
        kernel: String,
        /// The names the module defines.
        available: Vec<String>,
    },
    /// The launch configuration or the arguments do not fit the kernel.
    Launch {
        /// The kernel's name.
        kernel: String,
        /// What does not fit.
        message: String,
    },
    /// A host read or write outside an allocation.
    Host {
        /// What was wrong.
        message: String,
    },
    /// A thread faulted while the kernel ran.
    Fault(Box<Fault>),
}

impl SimError {
    /// The fault, when the error happened inside a kernel.
    pub fn fault(&self) -> Option<&Fault> {
        match self {
            SimError::Fault(fault) => Some(fault),
            _ => None,
        }
    }
}

impl fmt::Display for SimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SimError::KernelNotFound { kernel, available } => {
                write!(f, "no kernel named `{kernel}` (the module defines: {})", available.join(", "))
            }
            SimError::Launch { kernel, message } => write!(f, "cannot launch `{kernel}`: {message}"),
            SimError::Host { message } => write!(f, "host memory access: {message}"),
            SimError::Fault(fault) => {
                let [bx, by, bz] = fault.block;
                let [tx, ty, tz] = fault.thread;
                write!(
                    f,
                    "kernel `{}`, block ({bx},{by},{bz}), thread ({tx},{ty},{tz}), line {} `{}`: {}",
                    fault.kernel, fault.line, fault.instruction, fault.kind
                )
            }
        }
    }
}

impl std::error::Error for SimError {}
