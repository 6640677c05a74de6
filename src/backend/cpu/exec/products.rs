//! Products: a matrix product split across the team by rows or columns,
//! with its epilogue run block by block while the block is in cache, and
//! a product whose operand its prologue computes block by block.

use std::collections::HashMap;

use super::super::gemm::{self, GemmPtrs};
use super::super::sgemm;
use super::runner::{LoopCall, Ptr, Runner, split};

/// Multiply-adds below which a product runs on the calling thread.
const PARALLEL_FLOPS: f64 = 400_000.0;

impl Runner {
    /// Packs a product's whole right operand (at `b`) into the packing
    /// scratch when `right` reads it packed.
    pub(super) fn pack_right(
        &self,
        g: &crate::kernel::ir::GemmKernel,
        b: *const f32,
        right: Option<sgemm::Right>,
    ) {
        if right.is_some_and(sgemm::Right::is_packed) {
            // SAFETY: `prepare` chose packing, so the scratch holds
            // pack_len(g) elements and `b` addresses the operand.
            unsafe { gemm::pack_columns(g, b, self.packed.0, 0, g.n) };
        }
    }

    pub(super) fn run_gemm(
        &self,
        g: &crate::kernel::ir::GemmKernel,
        epi: Option<&LoopCall>,
        ptrs: &[Ptr],
        keys: &HashMap<u32, u64>,
        zero: Ptr,
    ) {
        // SAFETY: view offsets are inside their buffers.
        let p = unsafe {
            let b = ptrs[g.b.buf.0 as usize].0.offset(g.b.offset as isize);
            GemmPtrs {
                a: ptrs[g.a.buf.0 as usize].0.offset(g.a.offset as isize),
                b,
                c: ptrs[g.c.0 as usize].0,
                right: gemm::prepare(g, b, self.packed.0, self.fast_gemm),
                fast: self.fast_gemm,
            }
        };
        let packs = p.right.is_some_and(sgemm::Right::is_packed);
        let extent = gemm::split_extent(g);
        let rows = g.rows.max(1);
        let units = extent / rows;
        let parallel = self.parallel && gemm::flops(g) > PARALLEL_FLOPS;
        // A packed right operand is split by columns, each part packing and
        // multiplying its own panels; so is a right operand larger than
        // the left one, which every part would otherwise read whole. The
        // epilogue then runs after all parts.
        let by_columns = parallel
            && !g.c_blocks
            && if p.right.is_some() {
                packs && g.n >= 2 * sgemm::NR
            } else {
                gemm::split_columns(g, self.threads)
            };
        if by_columns {
            let bounds = gemm::column_bounds(g, self.threads, p.right.is_some());
            let columns = |c0: usize, c1: usize| {
                // SAFETY: the columns are inside the result and the
                // operands; parts pack disjoint panels.
                unsafe {
                    if packs {
                        gemm::pack_columns(g, p.b, self.packed.0, c0, c1);
                    }
                    gemm::run_columns(g, p, c0, c1);
                }
            };
            self.fork(bounds.len() - 1, &|i| columns(bounds[i], bounds[i + 1]));
            if let Some(e) = epi {
                self.run_loop(e, ptrs, keys, zero, 0, e.extent, true, None);
            }
            return;
        }
        self.pack_right(g, p.b, p.right);
        // Part `slot` computes blocks of its rows, each followed by the
        // epilogue on that block while it is in cache. A result kept in
        // blocks is computed into the part's scratch slot (there are as
        // many slots as threads, and parts), where the epilogue reads it.
        let block = gemm::epilogue_units(g);
        let unit = rows * g.n;
        let pr = &p;
        let task = |slot: usize, u0: usize, u1: usize| {
            let mut u = u0;
            while u < u1 {
                let v = (u + block).min(u1);
                let over = g.c_blocks.then(|| (g.c, Ptr(self.scratch[slot].0.wrapping_sub(u * unit))));
                let q = GemmPtrs { c: over.map_or(pr.c, |(_, base)| base.0), ..*pr };
                // SAFETY: the slices are inside the result (or the slot) and
                // the operands.
                unsafe { gemm::run_slice(g, q, u * rows, v * rows) };
                if let Some(e) = epi {
                    self.run_loop(e, ptrs, keys, zero, u as i64, v as i64, false, over);
                }
                u = v;
            }
        };
        let parts = if parallel { self.threads.min(units) } else { 1 };
        let bounds = split(0, units as i64, parts.max(1) as i64, 1);
        self.fork(bounds.len() - 1, &|i| task(i, bounds[i] as usize, bounds[i + 1] as usize));
    }

    /// A product whose operand is computed block by block by its prologue,
    /// each block into the running thread's scratch.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn run_gemm_prologue(
        &self,
        g: &crate::kernel::ir::GemmKernel,
        epi: Option<&LoopCall>,
        pc: &LoopCall,
        ptrs: &[Ptr],
        keys: &HashMap<u32, u64>,
        zero: Ptr,
    ) {
        let pro = g.prologue.as_ref().expect("a prologue");
        let view = |v: &crate::kernel::ir::View| {
            if v.buf == pro.buf {
                std::ptr::null_mut()
            } else {
                // SAFETY: view offsets are inside their buffers.
                unsafe { ptrs[v.buf.0 as usize].0.offset(v.offset as isize) }
            }
        };
        let b = view(&g.b);
        let right = match pro.operand {
            crate::kernel::ir::Operand::A => {
                let right = gemm::prepare(g, b, self.packed.0, self.fast_gemm);
                self.pack_right(g, b, right);
                right
            }
            // Each block is read where the prologue wrote it.
            crate::kernel::ir::Operand::B => None,
        };
        let ptrs_ab = GemmPtrs { a: view(&g.a), b, c: ptrs[g.c.0 as usize].0, right, fast: self.fast_gemm };
        let p = &ptrs_ab;
        let parallel = self.parallel && gemm::flops(g) > PARALLEL_FLOPS;
        // Runs the prologue for block `u` into scratch `slot`; returns the
        // address the operand's element 0 would have.
        let produce = |slot: usize, u: usize| -> Ptr {
            let base = Ptr(self.scratch[slot].0.wrapping_sub(u * pro.unit));
            self.run_loop(pc, ptrs, keys, zero, u as i64, u as i64 + 1, false, Some((pro.buf, base)));
            base
        };
        let rows_per_epilogue_row = g.rows.max(1);
        match pro.operand {
            crate::kernel::ir::Operand::A => {
                let r = pro.unit / g.k;
                let units = g.m / r;
                let per_block = epi.is_some() && r.is_multiple_of(rows_per_epilogue_row);
                let task = |slot: usize, u0: usize, u1: usize| {
                    for u in u0..u1 {
                        let base = produce(slot, u);
                        let q = GemmPtrs { a: base.0, ..*p };
                        // SAFETY: the block's rows of a are in scratch, of c in c.
                        unsafe { gemm::run_slice(g, q, u * r, (u + 1) * r) };
                        if let (Some(e), true) = (epi, per_block) {
                            let (e0, e1) =
                                (u * r / rows_per_epilogue_row, (u + 1) * r / rows_per_epilogue_row);
                            self.run_loop(e, ptrs, keys, zero, e0 as i64, e1 as i64, false, None);
                        }
                    }
                };
                let parts = if parallel { self.threads.min(units) } else { 1 };
                if parts <= 1 {
                    task(0, 0, units);
                } else {
                    let bounds = split(0, units as i64, parts as i64, 1);
                    // Part i uses scratch slot i: there are as many slots
                    // as threads, and parts.
                    self.fork(bounds.len() - 1, &|i| task(i, bounds[i] as usize, bounds[i + 1] as usize));
                }
                if let (Some(e), false) = (epi, per_block) {
                    self.run_loop(e, ptrs, keys, zero, 0, e.extent, true, None);
                }
            }
            crate::kernel::ir::Operand::B => {
                let r = pro.unit / g.n;
                let units = g.k / r;
                // Columns across threads; each thread produces every block
                // (the product accumulates over blocks in order).
                let task = |slot: usize, c0: usize, c1: usize| {
                    for u in 0..units {
                        let base = produce(slot, u);
                        // SAFETY: the block is in scratch at `base + u * unit`.
                        unsafe {
                            let block = base.0.add(u * pro.unit);
                            gemm::run_k_block(g, *p, block, u, r, c0, c1);
                        }
                    }
                };
                let parts = if parallel && g.n >= 16 * self.threads { self.threads } else { 1 };
                if parts <= 1 {
                    task(0, 0, g.n);
                } else {
                    let bounds = split(0, g.n as i64, parts as i64, 16);
                    // Part i uses scratch slot i: there are as many slots
                    // as threads, and parts.
                    self.fork(bounds.len() - 1, &|i| task(i, bounds[i] as usize, bounds[i + 1] as usize));
                }
                if let Some(e) = epi {
                    self.run_loop(e, ptrs, keys, zero, 0, e.extent, true, None);
                }
            }
        }
    }
}
