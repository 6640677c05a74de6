//! Matrix products: through [`sgemm`] where the CPU has AVX-512, else
//! through `matrixmultiply::sgemm`. Both take arbitrary strides for the
//! left operand, so transposed and broadcast operands are read in place;
//! the right operand is read in place when its rows are contiguous, else
//! packed once per product ([`prepare`]).
//!
//! A GEMM kernel is split along the first dimension of its result (the
//! first batch dimension, else the rows): each task multiplies its slice
//! and then runs the fused epilogue on the same slice while it is in cache.
//! A product whose right operand is packed, or larger than the left one,
//! is split by columns instead ([`column_bounds`]), the epilogue after.

use super::sgemm::{self, Right};
use crate::kernel::ir::GemmKernel;

/// Base pointers of a product's operands and result, already offset.
#[derive(Clone, Copy)]
pub struct GemmPtrs {
    /// Left operand at element zero.
    pub a: *const f32,
    /// Right operand at element zero.
    pub b: *const f32,
    /// Result.
    pub c: *mut f32,
    /// The right operand as [`sgemm`] reads it, when it does (see
    /// [`prepare`]).
    pub right: Option<Right>,
    /// Products go to [`sgemm`] (else to `matrixmultiply`).
    pub fast: bool,
}

/// The right operand's row and column strides.
fn b_strides(g: &GemmKernel) -> (isize, isize) {
    let nb = g.batch.len();
    (g.b.strides[nb] as isize, g.b.strides[nb + 1] as isize)
}

/// Whether [`sgemm`] reads the right operand packed: when its rows are not
/// contiguous, and when the product is large, since rows thousands of
/// bytes apart (a weight's) compete for the same cache sets while every
/// tile of rows goes past them. Only unbatched products pack.
fn packs(g: &GemmKernel) -> bool {
    g.batch.is_empty() && (b_strides(g).1 != 1 || (g.m >= 128 && g.n >= 256 && g.k >= 128))
}

/// Elements of packing scratch [`prepare`] needs for this product.
pub fn pack_len(g: &GemmKernel) -> usize {
    if packs(g) { sgemm::packed_len(g.k, g.n) } else { 0 }
}

/// How [`sgemm`] reads the right operand at `b`: from `buf` (which holds
/// [`pack_len`] elements) when it `packs`, once [`pack_columns`] has
/// packed it there; else in place when its rows are contiguous; `None`
/// (the product goes to `matrixmultiply`) otherwise, or when `fast` is
/// false (the CPU lacks AVX-512, or the portable path was chosen).
pub fn prepare(g: &GemmKernel, b: *const f32, buf: *mut f32, fast: bool) -> Option<Right> {
    if !fast {
        return None;
    }
    let (rsb, csb) = b_strides(g);
    if packs(g) && !buf.is_null() {
        return Some(Right::packed(buf, g.k));
    }
    (csb == 1).then(|| Right::direct(b, rsb))
}

/// Packs columns `c0..c1` (`c0` a multiple of [`sgemm::NR`]) of the right
/// operand at `b` into `buf`, where [`prepare`]'s packed `Right` reads them.
/// Each task of a product split by columns packs its own, so the packed
/// panels are in the cache of the core that multiplies them.
///
/// # Safety
/// `b` must address the operand with the kernel's strides and `buf` hold
/// [`pack_len`] elements.
pub unsafe fn pack_columns(g: &GemmKernel, b: *const f32, buf: *mut f32, c0: usize, c1: usize) {
    debug_assert!(c0.is_multiple_of(sgemm::NR));
    let (rsb, csb) = b_strides(g);
    // SAFETY: the columns are inside the operand, their panels inside `buf`.
    unsafe { sgemm::pack(g.k, c1 - c0, b.offset(c0 as isize * csb), rsb, csb, buf.add(c0 * g.k)) };
}

/// Column bounds for `parts` tasks, at multiples of [`sgemm::NR`] (whole
/// panels) when the product goes through [`sgemm`], else of 16.
pub fn column_bounds(g: &GemmKernel, parts: usize, whole_panels: bool) -> Vec<usize> {
    let unit = if whole_panels { sgemm::NR } else { 16 };
    let units = g.n.div_ceil(unit);
    let parts = parts.clamp(1, units.max(1));
    (0..=parts).map(|i| (units * i / parts * unit).min(g.n)).collect()
}

// SAFETY: the pointers address buffers that outlive the step, and tasks
// write disjoint slices of `c`.
unsafe impl Send for GemmPtrs {}
unsafe impl Sync for GemmPtrs {}

/// The extent of the dimension tasks split by rows (the first batch
/// dimension, else the rows).
pub fn split_extent(g: &GemmKernel) -> usize {
    g.batch.first().copied().unwrap_or(g.m)
}

/// True when tasks should split the columns instead: for an unbatched
/// product whose right operand is larger than its left, each task then
/// packs only its share of the right operand, which splitting rows would
/// have every task pack whole. The epilogue then runs after all tasks.
pub fn split_columns(g: &GemmKernel, tasks: usize) -> bool {
    g.batch.is_empty() && g.n > g.m && g.n >= 16 * tasks
}

/// Adds (or, for the first block, writes) the contribution of rows
/// `u * rows .. (u + 1) * rows` of the contracted dimension to columns
/// `c0..c1` of an unbatched product, from that block of the right operand
/// (`rows x n`, contiguous, at `block`).
///
/// # Safety
/// The pointers must address buffers of the kernel's shapes.
pub unsafe fn run_k_block(
    g: &GemmKernel,
    p: GemmPtrs,
    block: *const f32,
    u: usize,
    rows: usize,
    c0: usize,
    c1: usize,
) {
    let sa = &g.a.strides;
    if p.fast {
        // SAFETY: the block and columns are inside their buffers.
        unsafe {
            sgemm::gemm(
                g.m,
                rows,
                c1 - c0,
                p.a.offset((u * rows) as isize * sa[1] as isize),
                sa[0] as isize,
                sa[1] as isize,
                Right::direct(block.add(c0), g.n as isize),
                p.c.add(c0),
                g.n,
                u > 0,
            );
        }
        return;
    }
    // SAFETY: the block and columns are inside their buffers.
    unsafe {
        matrixmultiply::sgemm(
            g.m,
            rows,
            c1 - c0,
            1.0,
            p.a.offset((u * rows) as isize * sa[1] as isize),
            sa[0] as isize,
            sa[1] as isize,
            block.add(c0),
            g.n as isize,
            1,
            if u == 0 { 0.0 } else { 1.0 },
            p.c.add(c0),
            g.n as isize,
            1,
        );
    }
}

/// Computes columns `c0..c1` of an unbatched product.
///
/// # Safety
/// The pointers must address buffers of the kernel's shapes.
pub unsafe fn run_columns(g: &GemmKernel, p: GemmPtrs, c0: usize, c1: usize) {
    let (sa, sb) = (&g.a.strides, &g.b.strides);
    if let Some(right) = p.right {
        // SAFETY: columns c0..c1 of b and c are inside their buffers.
        unsafe {
            sgemm::gemm(
                g.m,
                g.k,
                c1 - c0,
                p.a,
                sa[0] as isize,
                sa[1] as isize,
                right.at(0, c0),
                p.c.add(c0),
                g.n,
                false,
            )
        };
        return;
    }
    // SAFETY: columns c0..c1 of b and c are inside their buffers.
    unsafe {
        matrixmultiply::sgemm(
            g.m,
            g.k,
            c1 - c0,
            1.0,
            p.a,
            sa[0] as isize,
            sa[1] as isize,
            p.b.offset(c0 as isize * sb[1] as isize),
            sb[0] as isize,
            sb[1] as isize,
            0.0,
            p.c.add(c0),
            g.n as isize,
            1,
        );
    }
}

/// Epilogue units per product call: enough rows for an efficient product,
/// few enough that its block is still in cache for the epilogue.
pub fn epilogue_units(g: &GemmKernel) -> usize {
    if g.batch.is_empty() { 256usize.div_ceil(g.rows.max(1)) } else { 1 }
}

/// Elements of scratch one task needs for a product's result kept in
/// blocks ([`GemmKernel::c_blocks`]).
pub fn result_block_len(g: &GemmKernel) -> usize {
    if g.c_blocks { epilogue_units(g) * g.rows.max(1) * g.n } else { 0 }
}

/// Multiply-adds of the whole product.
pub fn flops(g: &GemmKernel) -> f64 {
    2.0 * g.batch.iter().product::<usize>() as f64 * g.m as f64 * g.n as f64 * g.k as f64
}

/// Computes slice `r0..r1` of the split dimension.
///
/// # Safety
/// The pointers must address buffers of the kernel's shapes.
pub unsafe fn run_slice(g: &GemmKernel, p: GemmPtrs, r0: usize, r1: usize) {
    let nb = g.batch.len();
    let (sa, sb) = (&g.a.strides, &g.b.strides);
    let (rsa, csa) = (sa[nb] as isize, sa[nb + 1] as isize);
    let (rsb, csb) = (sb[nb] as isize, sb[nb + 1] as isize);
    let (m, n, k) = (g.m, g.n, g.k);
    if let (0, Some(right)) = (nb, p.right) {
        // SAFETY: rows r0..r1 of a and c are inside their buffers.
        unsafe {
            sgemm::gemm(
                r1 - r0,
                k,
                n,
                p.a.offset(r0 as isize * rsa),
                rsa,
                csa,
                right,
                p.c.add(r0 * n),
                n,
                false,
            )
        };
        return;
    }
    if nb == 0 {
        // SAFETY: rows r0..r1 of a and c are inside their buffers.
        unsafe {
            matrixmultiply::sgemm(
                r1 - r0,
                k,
                n,
                1.0,
                p.a.offset(r0 as isize * rsa),
                rsa,
                csa,
                p.b,
                rsb,
                csb,
                0.0,
                p.c.add(r0 * n),
                n as isize,
                1,
            );
        }
        return;
    }
    let inner: usize = g.batch[1..].iter().product();
    for b0 in r0..r1 {
        for rest in 0..inner {
            // Unravel the batch index and offset each operand by its strides.
            let (mut oa, mut ob) = (b0 as isize * sa[0] as isize, b0 as isize * sb[0] as isize);
            let mut r = rest;
            for d in (1..nb).rev() {
                let i = r % g.batch[d];
                r /= g.batch[d];
                oa += i as isize * sa[d] as isize;
                ob += i as isize * sb[d] as isize;
            }
            let oc = (b0 * inner + rest) * m * n;
            if p.right.is_some() {
                // SAFETY: offsets stay inside the operands by the view's construction.
                unsafe {
                    let right = Right::direct(p.b.offset(ob), rsb);
                    sgemm::gemm(m, k, n, p.a.offset(oa), rsa, csa, right, p.c.add(oc), n, false);
                }
                continue;
            }
            // SAFETY: offsets stay inside the operands by the view's construction.
            unsafe {
                matrixmultiply::sgemm(
                    m,
                    k,
                    n,
                    1.0,
                    p.a.offset(oa),
                    rsa,
                    csa,
                    p.b.offset(ob),
                    rsb,
                    csb,
                    0.0,
                    p.c.add(oc),
                    n as isize,
                    1,
                );
            }
        }
    }
}
