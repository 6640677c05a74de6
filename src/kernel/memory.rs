//! The memory plan: every temporary buffer gets an offset in one arena, and
//! buffers whose lifetimes do not overlap share memory.
//!
//! A buffer lives from the first kernel that touches it to the last;
//! outputs and update values that are copied out after the run live to the
//! end. Buffers are placed largest first at the lowest offset that does not
//! collide with a placed buffer alive at the same time (the greedy-by-size
//! heuristic of TFLite's arena planner). Offsets are multiples of
//! [`ALIGN`] elements, so every buffer starts on a 64-byte boundary.

use super::ir::{BufKind, Program};

/// Alignment of every offset, in `f32` elements (64 bytes).
pub const ALIGN: usize = 16;

/// Where each temporary lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemoryPlan {
    /// Offset in elements of each buffer in the arena; `None` for storage
    /// that lives outside (inputs, parameters, state) or is never touched.
    pub offsets: Vec<Option<usize>>,
    /// Arena size in elements: the peak of the plan.
    pub arena: usize,
    /// What one buffer per temporary would take, in elements.
    pub naive: usize,
}

impl MemoryPlan {
    /// The arena size in bytes.
    pub fn peak_bytes(&self) -> usize {
        self.arena * 4
    }

    /// One buffer per temporary, in bytes.
    pub fn naive_bytes(&self) -> usize {
        self.naive * 4
    }
}

/// Plans the temporaries of a program.
pub fn plan(p: &Program) -> MemoryPlan {
    let n = p.buffers.len();
    let mut life: Vec<Option<(usize, usize)>> = vec![None; n];
    let end = p.kernels.len();
    let mut touch = |b: usize, t: usize| {
        life[b] = Some(match life[b] {
            Some((lo, hi)) => (lo.min(t), hi.max(t)),
            None => (t, t),
        });
    };
    for (t, k) in p.kernels.iter().enumerate() {
        for (b, _) in k.accesses() {
            touch(b.0 as usize, t);
        }
    }
    for &(_, b) in &p.outputs {
        touch(b.0 as usize, end);
    }
    for &(t, v) in &p.updates {
        if t != v {
            touch(v.0 as usize, end);
        }
    }
    let size = |b: usize| p.buffers[b].numel().div_ceil(ALIGN) * ALIGN;
    let mut temps: Vec<usize> =
        (0..n).filter(|&b| p.buffers[b].kind == BufKind::Temp && life[b].is_some()).collect();
    let naive = temps.iter().map(|&b| size(b)).sum();
    temps.sort_by_key(|&b| (std::cmp::Reverse(size(b)), b));
    let mut offsets = vec![None; n];
    let mut placed: Vec<(usize, usize, (usize, usize))> = Vec::new();
    let mut arena = 0;
    for b in temps {
        let (lo, hi) = life[b].expect("filtered above");
        let mut busy: Vec<(usize, usize)> = placed
            .iter()
            .filter(|(_, _, (l, h))| *l <= hi && lo <= *h)
            .map(|&(off, sz, _)| (off, off + sz))
            .collect();
        busy.sort_unstable();
        let mut off = 0;
        for (start, stop) in busy {
            if off + size(b) <= start {
                break;
            }
            off = off.max(stop);
        }
        offsets[b] = Some(off);
        placed.push((off, size(b), (lo, hi)));
        arena = arena.max(off + size(b));
    }
    MemoryPlan { offsets, arena, naive }
}
