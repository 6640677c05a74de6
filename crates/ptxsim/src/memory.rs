//! Global and shared memory with their shadow state: which words were written, by whom and
//! in which barrier interval, and who read them, so out-of-bounds accesses, reads of unwritten
//! memory and data races are caught at the access that causes them.
//!
//! Every access of the subset is 4 or 8 bytes (or a vector of 4-byte elements) and naturally
//! aligned, so shadow state is kept per 4-byte word: no two accesses share a word unless they
//! share all of it.
//!
//! Time is measured in *intervals*: a counter the device increments when a block starts and
//! whenever a block's barrier releases. Blocks run one after another, so a block's intervals
//! are contiguous, and an access made by the current thread compares the intervals recorded
//! in a word against three marks: the first interval of the launch, the first interval of the
//! current block, and the current interval. A word written or read in this launch before the
//! current block started was touched by another block: any conflicting access is a race. A
//! word touched in the current interval by another thread of the block: a race too. Touched
//! in an earlier interval of the block: ordered by a barrier, fine.

use std::collections::HashMap;

use crate::error::{RaceKind, SimError};

/// The interval recorded for host writes: before every launch.
pub(crate) const HOST: u32 = 1;
/// The first interval a launch can use.
pub(crate) const FIRST_INTERVAL: u32 = 2;
/// The reader thread recorded when several threads read a word in one interval.
pub(crate) const MANY: u32 = u32::MAX;
/// Allocations start at this address, so that 0 and small addresses are never valid.
const BASE_ADDR: u64 = 0x1_0000_0000;
/// Alignment of allocations, as `cudaMalloc` guarantees.
const ALLOC_ALIGN: u64 = 256;
/// Unmapped bytes left after every allocation.
const GUARD_BYTES: u64 = 256;

/// The shadow of one word of global memory.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct GWord {
    /// Interval of the last write (0: never written, `HOST`: written by the host).
    w_int: u32,
    /// Thread of the last write.
    w_thr: u32,
    /// Interval of the last read (0: never read).
    r_int: u32,
    /// Thread of the last read, or `MANY`.
    r_thr: u32,
    /// The last interval in which a block before the last reader's block read the word.
    r_prev: u32,
    /// Interval of the last `ld.global.nc` read.
    nc_int: u32,
}

/// The shadow of one word of shared memory.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct SWord {
    w_int: u32,
    w_thr: u32,
    r_int: u32,
    r_thr: u32,
}

/// The thread making an access and the marks of the current launch.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Who {
    /// Linear thread index within the block.
    pub thread: u32,
    /// The current interval.
    pub interval: u32,
    /// The first interval of the current block.
    pub block_first: u32,
    /// The first interval of the launch.
    pub launch_first: u32,
}

/// What a memory access did wrong; the caller adds where it happened.
#[derive(Debug, Clone, Copy)]
pub(crate) enum MemFault {
    OutOfBounds { addr: u64, size: u32 },
    Misaligned { addr: u64, align: u32 },
    Uninit { addr: u64 },
    Race { addr: u64, kind: RaceKind, interval: u32, thread: u32 },
    NonCoherent { addr: u64 },
}

/// One `alloc`ation of device memory.
#[derive(Debug, Clone)]
pub(crate) struct Allocation {
    base: u64,
    data: Vec<u8>,
    shadow: Vec<GWord>,
}

impl Allocation {
    fn contains(&self, addr: u64, len: u64) -> bool {
        addr >= self.base
            && addr.wrapping_sub(self.base).checked_add(len).is_some_and(|e| e <= self.data.len() as u64)
    }
}

/// A simulated GPU: device memory plus the bookkeeping launches need.
#[derive(Debug, Clone)]
pub struct Device {
    allocs: Vec<Allocation>,
    next_addr: u64,
    last_alloc: usize,
    /// The next unused interval.
    pub(crate) next_interval: u32,
    /// Addresses of each module's `.global` arrays, by module id.
    pub(crate) module_globals: HashMap<u64, Vec<u64>>,
}

impl Default for Device {
    fn default() -> Self {
        Device::new()
    }
}

fn host_err(message: String) -> SimError {
    SimError::Host { message }
}

impl Device {
    /// A device with empty memory.
    pub fn new() -> Device {
        Device {
            allocs: Vec::new(),
            next_addr: BASE_ADDR,
            last_alloc: 0,
            next_interval: FIRST_INTERVAL,
            module_globals: HashMap::new(),
        }
    }

    /// Allocates `bytes` bytes of device memory, aligned to 256, and returns its address.
    /// The memory counts as unwritten until the host or a kernel writes it.
    pub fn alloc(&mut self, bytes: usize) -> u64 {
        let base = self.next_addr;
        let words = bytes.div_ceil(4);
        self.allocs.push(Allocation { base, data: vec![0; bytes], shadow: vec![GWord::default(); words] });
        self.next_addr = (base + bytes as u64 + GUARD_BYTES).div_ceil(ALLOC_ALIGN) * ALLOC_ALIGN;
        base
    }

    /// Allocates device memory holding `data`.
    pub fn alloc_f32(&mut self, data: &[f32]) -> u64 {
        let addr = self.alloc(data.len() * 4);
        self.write_f32(addr, data).expect("a fresh allocation holds its data");
        addr
    }

    /// Allocates device memory holding `data`.
    pub fn alloc_u32(&mut self, data: &[u32]) -> u64 {
        let addr = self.alloc(data.len() * 4);
        self.write_u32(addr, data).expect("a fresh allocation holds its data");
        addr
    }

    /// Frees the allocation starting at `addr`; later accesses to it are out of bounds.
    pub fn free(&mut self, addr: u64) -> Result<(), SimError> {
        let idx = self
            .allocs
            .iter()
            .position(|a| a.base == addr)
            .ok_or_else(|| host_err(format!("{addr:#x} is not the start of an allocation")))?;
        self.allocs.remove(idx);
        self.last_alloc = 0;
        Ok(())
    }

    fn find(&self, addr: u64, len: u64) -> Option<usize> {
        if let Some(a) = self.allocs.get(self.last_alloc)
            && a.contains(addr, len)
        {
            return Some(self.last_alloc);
        }
        let i = self.allocs.partition_point(|a| a.base <= addr);
        (i > 0 && self.allocs[i - 1].contains(addr, len)).then(|| i - 1)
    }

    fn host_range(&self, addr: u64, len: usize) -> Result<(usize, usize), SimError> {
        let idx = self
            .find(addr, len as u64)
            .ok_or_else(|| host_err(format!("{len} bytes at {addr:#x} are not inside one allocation")))?;
        Ok((idx, (addr - self.allocs[idx].base) as usize))
    }

    /// Writes bytes; the words they touch count as written (by the host).
    pub fn write_bytes(&mut self, addr: u64, data: &[u8]) -> Result<(), SimError> {
        let (idx, off) = self.host_range(addr, data.len())?;
        let a = &mut self.allocs[idx];
        a.data[off..off + data.len()].copy_from_slice(data);
        if !data.is_empty() {
            for w in &mut a.shadow[off / 4..=(off + data.len() - 1) / 4] {
                w.w_int = HOST;
                w.w_thr = 0;
            }
        }
        Ok(())
    }

    /// Reads bytes (unwritten memory reads as zero).
    pub fn read_bytes(&self, addr: u64, len: usize) -> Result<Vec<u8>, SimError> {
        let (idx, off) = self.host_range(addr, len)?;
        Ok(self.allocs[idx].data[off..off + len].to_vec())
    }

    /// Sets `len` bytes to `byte` (like `cudaMemset`); they count as written.
    pub fn fill(&mut self, addr: u64, len: usize, byte: u8) -> Result<(), SimError> {
        self.write_bytes(addr, &vec![byte; len])
    }

    /// Writes f32 values (little-endian, as on the GPU).
    pub fn write_f32(&mut self, addr: u64, data: &[f32]) -> Result<(), SimError> {
        let bytes: Vec<u8> = data.iter().flat_map(|x| x.to_le_bytes()).collect();
        self.write_bytes(addr, &bytes)
    }

    /// Reads `n` f32 values.
    pub fn read_f32(&self, addr: u64, n: usize) -> Result<Vec<f32>, SimError> {
        let bytes = self.read_bytes(addr, n * 4)?;
        Ok(bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
    }

    /// Writes u32 values.
    pub fn write_u32(&mut self, addr: u64, data: &[u32]) -> Result<(), SimError> {
        let bytes: Vec<u8> = data.iter().flat_map(|x| x.to_le_bytes()).collect();
        self.write_bytes(addr, &bytes)
    }

    /// Reads `n` u32 values.
    pub fn read_u32(&self, addr: u64, n: usize) -> Result<Vec<u32>, SimError> {
        let bytes = self.read_bytes(addr, n * 4)?;
        Ok(bytes.chunks_exact(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
    }

    /// Writes i32 values.
    pub fn write_i32(&mut self, addr: u64, data: &[i32]) -> Result<(), SimError> {
        let bytes: Vec<u8> = data.iter().flat_map(|x| x.to_le_bytes()).collect();
        self.write_bytes(addr, &bytes)
    }

    /// Reads `n` i32 values.
    pub fn read_i32(&self, addr: u64, n: usize) -> Result<Vec<i32>, SimError> {
        Ok(self.read_u32(addr, n)?.into_iter().map(|x| x as i32).collect())
    }

    /// Writes u64 values.
    pub fn write_u64(&mut self, addr: u64, data: &[u64]) -> Result<(), SimError> {
        let bytes: Vec<u8> = data.iter().flat_map(|x| x.to_le_bytes()).collect();
        self.write_bytes(addr, &bytes)
    }

    /// Reads `n` u64 values.
    pub fn read_u64(&self, addr: u64, n: usize) -> Result<Vec<u64>, SimError> {
        let bytes = self.read_bytes(addr, n * 8)?;
        Ok(bytes.chunks_exact(8).map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes"))).collect())
    }

    /// Allocates zeroed, written memory for a module's `.global` arrays on its first launch.
    pub(crate) fn module_globals(&mut self, module_id: u64, sizes: &[u64]) -> Vec<u64> {
        if let Some(addrs) = self.module_globals.get(&module_id) {
            return addrs.clone();
        }
        let addrs: Vec<u64> = sizes
            .iter()
            .map(|&size| {
                let addr = self.alloc(size as usize);
                self.fill(addr, size as usize, 0).expect("a fresh allocation");
                addr
            })
            .collect();
        self.module_globals.insert(module_id, addrs.clone());
        addrs
    }

    /// Starts a launch: returns its first interval, forgetting old intervals if the counter
    /// would come near its end.
    pub(crate) fn begin_launch(&mut self) -> u32 {
        if self.next_interval > u32::MAX / 2 {
            for a in &mut self.allocs {
                for w in &mut a.shadow {
                    let written = w.w_int != 0;
                    *w = GWord::default();
                    if written {
                        w.w_int = HOST;
                    }
                }
            }
            self.next_interval = FIRST_INTERVAL;
        }
        self.next_interval
    }

    /// Takes the next interval.
    pub(crate) fn new_interval(&mut self) -> u32 {
        let i = self.next_interval;
        self.next_interval += 1;
        i
    }

    /// A kernel load of `n` elements of `width` bytes at `addr` into `out`.
    pub(crate) fn load(
        &mut self,
        addr: u64,
        width: u32,
        n: u32,
        nc: bool,
        who: &Who,
        out: &mut [u64; 4],
    ) -> Result<(), MemFault> {
        let total = width * n;
        if !addr.is_multiple_of(total as u64) {
            return Err(MemFault::Misaligned { addr, align: total });
        }
        let idx = self.find(addr, total as u64).ok_or(MemFault::OutOfBounds { addr, size: total })?;
        self.last_alloc = idx;
        let a = &mut self.allocs[idx];
        let off = (addr - a.base) as usize;
        for (k, w) in a.shadow[off / 4..(off + total as usize) / 4].iter_mut().enumerate() {
            read_global(w, addr + 4 * k as u64, nc, who)?;
        }
        for (e, slot) in out.iter_mut().enumerate().take(n as usize) {
            let at = off + e * width as usize;
            *slot = if width == 4 {
                u32::from_le_bytes(a.data[at..at + 4].try_into().expect("4 bytes")) as u64
            } else {
                u64::from_le_bytes(a.data[at..at + 8].try_into().expect("8 bytes"))
            };
        }
        Ok(())
    }

    /// A kernel store of `n` elements of `width` bytes from `vals` to `addr`.
    pub(crate) fn store(
        &mut self,
        addr: u64,
        width: u32,
        n: u32,
        who: &Who,
        vals: &[u64; 4],
    ) -> Result<(), MemFault> {
        let total = width * n;
        if !addr.is_multiple_of(total as u64) {
            return Err(MemFault::Misaligned { addr, align: total });
        }
        let idx = self.find(addr, total as u64).ok_or(MemFault::OutOfBounds { addr, size: total })?;
        self.last_alloc = idx;
        let a = &mut self.allocs[idx];
        let off = (addr - a.base) as usize;
        for (k, w) in a.shadow[off / 4..(off + total as usize) / 4].iter_mut().enumerate() {
            write_global(w, addr + 4 * k as u64, who)?;
        }
        for (e, v) in vals.iter().enumerate().take(n as usize) {
            let at = off + e * width as usize;
            if width == 4 {
                a.data[at..at + 4].copy_from_slice(&(*v as u32).to_le_bytes());
            } else {
                a.data[at..at + 8].copy_from_slice(&v.to_le_bytes());
            }
        }
        Ok(())
    }
}

/// Whether an access recorded at (`int`, `thr`) conflicts with one by `who`.
#[inline]
fn conflicts(int: u32, thr: u32, who: &Who) -> bool {
    int >= who.launch_first && (int < who.block_first || (int == who.interval && thr != who.thread))
}

#[inline]
fn read_global(w: &mut GWord, addr: u64, nc: bool, who: &Who) -> Result<(), MemFault> {
    if w.w_int == 0 {
        return Err(MemFault::Uninit { addr });
    }
    if conflicts(w.w_int, w.w_thr, who) {
        return Err(MemFault::Race {
            addr,
            kind: RaceKind::ReadAfterWrite,
            interval: w.w_int,
            thread: w.w_thr,
        });
    }
    if nc && w.w_int >= who.launch_first {
        return Err(MemFault::NonCoherent { addr });
    }
    if w.r_int == who.interval {
        if w.r_thr != who.thread {
            w.r_thr = MANY;
        }
    } else {
        if w.r_int < who.block_first {
            w.r_prev = w.r_int;
        }
        w.r_int = who.interval;
        w.r_thr = who.thread;
    }
    if nc {
        w.nc_int = who.interval;
    }
    Ok(())
}

#[inline]
fn write_global(w: &mut GWord, addr: u64, who: &Who) -> Result<(), MemFault> {
    if conflicts(w.w_int, w.w_thr, who) {
        return Err(MemFault::Race {
            addr,
            kind: RaceKind::WriteAfterWrite,
            interval: w.w_int,
            thread: w.w_thr,
        });
    }
    if conflicts(w.r_int, w.r_thr, who) {
        return Err(MemFault::Race {
            addr,
            kind: RaceKind::WriteAfterRead,
            interval: w.r_int,
            thread: w.r_thr,
        });
    }
    if w.r_prev >= who.launch_first {
        return Err(MemFault::Race {
            addr,
            kind: RaceKind::WriteAfterRead,
            interval: w.r_prev,
            thread: MANY,
        });
    }
    if w.nc_int >= who.launch_first {
        return Err(MemFault::NonCoherent { addr });
    }
    w.w_int = who.interval;
    w.w_thr = who.thread;
    Ok(())
}

/// The shared memory of the running block. Its contents survive from block to block (as
/// stale data would on hardware) but count as unwritten in each new block.
pub(crate) struct Shared {
    data: Vec<u8>,
    shadow: Vec<SWord>,
    /// `(start, end)` of each array.
    arrays: Vec<(u64, u64)>,
}

impl Shared {
    /// Shared memory for a kernel whose window ends at `end` with these arrays.
    pub fn new(end: u64, arrays: Vec<(u64, u64)>) -> Shared {
        Shared {
            data: vec![0; end as usize],
            shadow: vec![SWord::default(); end.div_ceil(4) as usize],
            arrays,
        }
    }

    fn check(&self, addr: u64, total: u32) -> Result<usize, MemFault> {
        if !addr.is_multiple_of(total as u64) {
            return Err(MemFault::Misaligned { addr, align: total });
        }
        let end = addr.checked_add(total as u64);
        let inside = self.arrays.iter().any(|&(s, e)| addr >= s && end.is_some_and(|x| x <= e));
        if !inside {
            return Err(MemFault::OutOfBounds { addr, size: total });
        }
        Ok(addr as usize)
    }

    /// A load of `n` elements of `width` bytes at `addr`.
    pub fn load(
        &mut self,
        addr: u64,
        width: u32,
        n: u32,
        who: &Who,
        out: &mut [u64; 4],
    ) -> Result<(), MemFault> {
        let total = width * n;
        let off = self.check(addr, total)?;
        for (k, w) in self.shadow[off / 4..(off + total as usize) / 4].iter_mut().enumerate() {
            let at = addr + 4 * k as u64;
            if w.w_int < who.block_first {
                return Err(MemFault::Uninit { addr: at });
            }
            if w.w_int == who.interval && w.w_thr != who.thread {
                return Err(MemFault::Race {
                    addr: at,
                    kind: RaceKind::ReadAfterWrite,
                    interval: w.w_int,
                    thread: w.w_thr,
                });
            }
            if w.r_int == who.interval {
                if w.r_thr != who.thread {
                    w.r_thr = MANY;
                }
            } else {
                w.r_int = who.interval;
                w.r_thr = who.thread;
            }
        }
        for (e, slot) in out.iter_mut().enumerate().take(n as usize) {
            let at = off + e * width as usize;
            *slot = if width == 4 {
                u32::from_le_bytes(self.data[at..at + 4].try_into().expect("4 bytes")) as u64
            } else {
                u64::from_le_bytes(self.data[at..at + 8].try_into().expect("8 bytes"))
            };
        }
        Ok(())
    }

    /// A store of `n` elements of `width` bytes to `addr`.
    pub fn store(
        &mut self,
        addr: u64,
        width: u32,
        n: u32,
        who: &Who,
        vals: &[u64; 4],
    ) -> Result<(), MemFault> {
        let total = width * n;
        let off = self.check(addr, total)?;
        for (k, w) in self.shadow[off / 4..(off + total as usize) / 4].iter_mut().enumerate() {
            let at = addr + 4 * k as u64;
            if w.w_int == who.interval && w.w_thr != who.thread {
                return Err(MemFault::Race {
                    addr: at,
                    kind: RaceKind::WriteAfterWrite,
                    interval: w.w_int,
                    thread: w.w_thr,
                });
            }
            if w.r_int == who.interval && w.r_thr != who.thread {
                return Err(MemFault::Race {
                    addr: at,
                    kind: RaceKind::WriteAfterRead,
                    interval: w.r_int,
                    thread: w.r_thr,
                });
            }
            w.w_int = who.interval;
            w.w_thr = who.thread;
        }
        for (e, v) in vals.iter().enumerate().take(n as usize) {
            let at = off + e * width as usize;
            if width == 4 {
                self.data[at..at + 4].copy_from_slice(&(*v as u32).to_le_bytes());
            } else {
                self.data[at..at + 8].copy_from_slice(&v.to_le_bytes());
            }
        }
        Ok(())
    }
}
