//! Launching a kernel: argument and configuration checks, then blocks one at a time in a
//! seeded random order, and inside a block a seeded random interleaving of its threads.
//!
//! The scheduler picks a random runnable thread and runs it for a random 1 to 16
//! instructions. A thread reaching `bar.sync` waits until every thread of the block that has
//! not exited waits at the same `bar.sync`; a thread reaching `shfl.sync` waits until every
//! lane of its membermask reaches the same `shfl.sync` (see `warp.rs`).

use crate::error::{Fault, FaultKind, SimError};
use crate::exec::{self, Ctx, Stop, Threads, Trap};
use crate::ir::{Entry, Op, ParamType, Slot, Sreg};
use crate::memory::{Device, Shared};
use crate::parse::Module;
use crate::warp;

/// A kernel argument; its variant must match the parameter's declared type.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Arg {
    /// For `.param .u32`.
    U32(u32),
    /// For `.param .s32`.
    S32(i32),
    /// For `.param .u64` (device addresses included).
    U64(u64),
    /// For `.param .s64`.
    S64(i64),
    /// For `.param .f32`.
    F32(f32),
}

impl Arg {
    fn matches(self, ty: ParamType) -> Option<u64> {
        match (self, ty) {
            (Arg::U32(v), ParamType::U32) => Some(v as u64),
            (Arg::S32(v), ParamType::S32) => Some(v as u32 as u64),
            (Arg::U64(v), ParamType::U64) => Some(v),
            (Arg::S64(v), ParamType::S64) => Some(v as u64),
            (Arg::F32(v), ParamType::F32) => Some(v.to_bits() as u64),
            _ => None,
        }
    }
}

/// How to run a launch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LaunchOptions {
    /// Seeds the block order and the thread interleaving; the same seed gives the same run.
    pub seed: u64,
    /// The most instructions the whole launch may execute before it fails with
    /// `FaultKind::Budget`.
    pub max_instructions: u64,
}

impl Default for LaunchOptions {
    /// Seed 0 and a budget of 200 million instructions.
    fn default() -> Self {
        LaunchOptions { seed: 0, max_instructions: 200_000_000 }
    }
}

/// What a finished launch did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LaunchStats {
    /// Instructions executed by all threads (a guarded-off instruction counts too).
    pub instructions: u64,
    /// Blocks run.
    pub blocks: u64,
    /// Threads per block.
    pub threads_per_block: u32,
    /// Barrier releases (one per `bar.sync` completed by a whole block).
    pub barriers: u64,
    /// Warp shuffles completed (one per group of lanes exchanging values).
    pub shuffles: u64,
}

/// A small, fast, seedable generator (SplitMix64).
pub(crate) struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x5DEE_CE66_D1CE_4E5B)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        ((self.next() as u128 * n as u128) >> 64) as usize
    }
}

/// The state of a thread in the scheduler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    Run,
    Bar,
    Shfl,
    Exit,
}

fn launch_error(kernel: &str, message: String) -> SimError {
    SimError::Launch { kernel: kernel.to_string(), message }
}

fn check_config(entry: &Entry, grid: [u32; 3], block: [u32; 3]) -> Result<(), String> {
    if grid.contains(&0) || block.contains(&0) {
        return Err("grid and block dimensions must be at least 1".to_string());
    }
    if grid[0] > i32::MAX as u32 || grid[1] > 65535 || grid[2] > 65535 {
        return Err(format!("grid {grid:?} exceeds (2^31-1, 65535, 65535)"));
    }
    let threads = block.iter().map(|&d| d as u64).product::<u64>();
    if block[0] > 1024 || block[1] > 1024 || block[2] > 64 || threads > 1024 {
        return Err(format!("block {block:?} exceeds the limits (1024, 1024, 64; 1024 threads)"));
    }
    if let Some(req) = entry.reqntid
        && req != block
    {
        return Err(format!("the kernel requires a block of {req:?} (.reqntid), got {block:?}"));
    }
    if let Some(max) = entry.maxntid {
        let limit = max.iter().map(|&d| d as u64).product::<u64>();
        if threads > limit {
            return Err(format!("{threads} threads per block exceed .maxntid {max:?}"));
        }
    }
    Ok(())
}

impl Device {
    /// Runs `kernel` of `module` over `grid` blocks of `block` threads.
    ///
    /// Fails before running anything if the kernel is missing or the configuration or the
    /// arguments do not fit; fails at the first fault otherwise (memory written before the
    /// fault stays written).
    pub fn launch(
        &mut self,
        module: &Module,
        kernel: &str,
        grid: [u32; 3],
        block: [u32; 3],
        args: &[Arg],
        opts: &LaunchOptions,
    ) -> Result<LaunchStats, SimError> {
        let entry = module.entry(kernel).ok_or_else(|| SimError::KernelNotFound {
            kernel: kernel.to_string(),
            available: module.kernels().into_iter().map(String::from).collect(),
        })?;
        check_config(entry, grid, block).map_err(|m| launch_error(kernel, m))?;
        if args.len() != entry.params.len() {
            return Err(launch_error(
                kernel,
                format!("the kernel takes {} arguments, {} given", entry.params.len(), args.len()),
            ));
        }
        let mut arg_bits = Vec::with_capacity(args.len());
        for (i, (arg, param)) in args.iter().zip(&entry.params).enumerate() {
            let bits = arg.matches(param.ty).ok_or_else(|| {
                launch_error(
                    kernel,
                    format!("argument {i} is {arg:?} but `{}` is {:?}", param.name, param.ty),
                )
            })?;
            arg_bits.push(bits);
        }
        let sizes: Vec<u64> = module.globals.iter().map(|g| g.size).collect();
        let global_addrs = self.module_globals(module.id, &sizes);

        // The register file every thread starts from, and the registers to patch per block
        // and per thread.
        let mut template = vec![0u64; entry.slots.len()];
        let mut template_init = vec![false; entry.slots.len()];
        let mut per_block = Vec::new();
        let mut per_thread = Vec::new();
        for (i, slot) in entry.slots.iter().enumerate() {
            template_init[i] = *slot != Slot::Undef;
            template[i] = match *slot {
                Slot::Undef => 0,
                Slot::Const(bits) => bits,
                Slot::Param(p) => arg_bits[p as usize],
                Slot::GlobalSym(g) => global_addrs[g as usize],
                Slot::Special(Sreg::Ntid(d)) => block[d as usize] as u64,
                Slot::Special(Sreg::Nctaid(d)) => grid[d as usize] as u64,
                Slot::Special(Sreg::Ctaid(d)) => {
                    per_block.push((i, d));
                    0
                }
                Slot::Special(s @ (Sreg::Tid(_) | Sreg::Laneid)) => {
                    per_thread.push((i, s));
                    0
                }
            };
        }

        let n_threads = (block[0] * block[1] * block[2]) as usize;
        let n_blocks = grid[0] as u64 * grid[1] as u64 * grid[2] as u64;
        // Every thread executes at least one instruction, so a launch with more threads than
        // the budget cannot finish; refusing it up front also bounds the block-order table.
        if n_blocks * n_threads as u64 > opts.max_instructions {
            return Err(launch_error(
                kernel,
                format!(
                    "{} threads in all exceed the instruction budget of {}",
                    n_blocks * n_threads as u64,
                    opts.max_instructions
                ),
            ));
        }
        let mut rng = Rng::new(opts.seed);
        let mut order: Vec<u64> = (0..n_blocks).collect();
        for i in (1..order.len()).rev() {
            order.swap(i, rng.below(i + 1));
        }
        let arrays = entry.shared.iter().map(|a| (a.start, a.start + a.size)).collect();
        let mut shared = Shared::new(entry.shared_end, arrays);
        let launch_first = self.begin_launch();
        let mut blocks_run: Vec<(u32, [u32; 3])> = Vec::new();
        let mut stats = LaunchStats { threads_per_block: n_threads as u32, ..LaunchStats::default() };
        let mut threads = Threads {
            n_regs: template.len(),
            regs: Vec::with_capacity(template.len() * n_threads),
            init: Vec::with_capacity(template.len() * n_threads),
            pc: vec![0; n_threads],
        };

        for &linear in &order {
            let ctaid = [
                (linear % grid[0] as u64) as u32,
                ((linear / grid[0] as u64) % grid[1] as u64) as u32,
                (linear / (grid[0] as u64 * grid[1] as u64)) as u32,
            ];
            let block_first = self.new_interval();
            blocks_run.push((block_first, ctaid));
            threads.regs.clear();
            threads.init.clear();
            for t in 0..n_threads {
                threads.regs.extend_from_slice(&template);
                threads.init.extend_from_slice(&template_init);
                let base = t * template.len();
                for &(i, d) in &per_block {
                    threads.regs[base + i] = ctaid[d as usize] as u64;
                }
                let tid =
                    [t as u32 % block[0], (t as u32 / block[0]) % block[1], t as u32 / (block[0] * block[1])];
                for &(i, s) in &per_thread {
                    threads.regs[base + i] = match s {
                        Sreg::Tid(d) => tid[d as usize] as u64,
                        _ => (t % 32) as u64,
                    };
                }
            }
            threads.pc.fill(0);
            let cx = Ctx {
                entry,
                dev: self,
                shared: &mut shared,
                interval: block_first,
                block_first,
                launch_first,
                ntid: block,
                ctaid,
                blocks: &blocks_run,
            };
            let mut run = BlockRun {
                cx,
                th: &mut threads,
                state: vec![State::Run; n_threads],
                runnable: (0..n_threads as u32).collect(),
                live: n_threads,
                at_bar: 0,
                rng: &mut rng,
                stats: &mut stats,
                budget: opts.max_instructions,
            };
            run.run()?;
            stats.blocks += 1;
        }
        Ok(stats)
    }
}

/// One block being run.
pub(crate) struct BlockRun<'a, 'b> {
    pub cx: Ctx<'a>,
    pub th: &'b mut Threads,
    pub state: Vec<State>,
    pub runnable: Vec<u32>,
    /// Threads that have not exited.
    pub live: usize,
    /// Threads waiting at `bar.sync`.
    pub at_bar: usize,
    pub rng: &'b mut Rng,
    pub stats: &'b mut LaunchStats,
    pub budget: u64,
}

impl BlockRun<'_, '_> {
    /// The error for a fault of thread `t` at instruction `pc`.
    pub fn fault(&self, t: usize, pc: u32, kind: FaultKind) -> SimError {
        let entry = self.cx.entry;
        SimError::Fault(Box::new(Fault {
            kernel: entry.name.clone(),
            block: self.cx.ctaid,
            thread: self.cx.tid(t as u32),
            line: entry.lines[pc as usize],
            instruction: entry.texts[pc as usize].clone(),
            kind,
        }))
    }

    fn run(&mut self) -> Result<(), SimError> {
        while !self.runnable.is_empty() {
            let i = self.rng.below(self.runnable.len());
            let t = self.runnable[i] as usize;
            let left = self.budget - self.stats.instructions;
            if left == 0 {
                let pc = self.th.pc[t];
                return Err(self.fault(t, pc, FaultKind::Budget { limit: self.budget }));
            }
            let steps = (1 + self.rng.below(16) as u64).min(left);
            let (stop, done) = match exec::run(&mut self.cx, self.th, t, steps) {
                Ok(res) => res,
                Err(Trap { pc, kind }) => return Err(self.fault(t, pc, kind)),
            };
            self.stats.instructions += done;
            match stop {
                Stop::Slice => {}
                Stop::Exit => {
                    self.runnable.swap_remove(i);
                    self.state[t] = State::Exit;
                    self.live -= 1;
                    warp::check_waiters(self, t, "exited")?;
                    if self.at_bar > 0 && self.at_bar == self.live {
                        self.release_barrier()?;
                    }
                }
                Stop::Bar => {
                    self.runnable.swap_remove(i);
                    self.state[t] = State::Bar;
                    self.at_bar += 1;
                    warp::check_waiters(self, t, "waits at bar.sync")?;
                    if self.at_bar == self.live {
                        self.release_barrier()?;
                    }
                }
                Stop::Shfl => {
                    self.runnable.swap_remove(i);
                    self.state[t] = State::Shfl;
                    warp::arrive(self, t)?;
                }
            }
        }
        if self.live > 0 {
            let waiting: Vec<String> = (0..self.state.len())
                .filter(|&t| self.state[t] != State::Exit)
                .take(4)
                .map(|t| {
                    let [x, y, z] = self.cx.tid(t as u32);
                    let line = self.cx.entry.lines[self.th.pc[t] as usize];
                    format!("thread ({x},{y},{z}) waits at line {line}")
                })
                .collect();
            let t = (0..self.state.len()).find(|&t| self.state[t] != State::Exit).unwrap_or(0);
            let message = format!("no thread can proceed: {}", waiting.join(", "));
            return Err(self.fault(t, self.th.pc[t], FaultKind::Deadlock { message }));
        }
        Ok(())
    }

    /// Every live thread waits at a barrier: check they wait at the same one, then release.
    fn release_barrier(&mut self) -> Result<(), SimError> {
        let waiting: Vec<usize> = (0..self.state.len()).filter(|&t| self.state[t] == State::Bar).collect();
        let first = waiting[0];
        let pc = self.th.pc[first];
        if let Some(&other) = waiting.iter().find(|&&t| self.th.pc[t] != pc) {
            let lines = &self.cx.entry.lines;
            let [x, y, z] = self.cx.tid(first as u32);
            let id = |pc: u32| match self.cx.entry.code[pc as usize].op {
                Op::Bar { id } => id,
                _ => unreachable!("threads in the Bar state stand on a bar.sync"),
            };
            let message = format!(
                "threads wait at different barriers: this one at bar.sync {} (line {}), thread ({x},{y},{z}) at bar.sync {} (line {})",
                id(self.th.pc[other]),
                lines[self.th.pc[other] as usize],
                id(pc),
                lines[pc as usize]
            );
            return Err(self.fault(other, self.th.pc[other], FaultKind::Barrier { message }));
        }
        self.cx.interval = self.cx.dev.new_interval();
        for &t in &waiting {
            self.th.pc[t] += 1;
            self.state[t] = State::Run;
            self.runnable.push(t as u32);
        }
        self.at_bar = 0;
        self.stats.barriers += 1;
        Ok(())
    }
}
