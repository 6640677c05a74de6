//! Single-precision matrix multiply for x86-64 CPUs with AVX-512, shaped
//! for how the CPU back end calls products.
//!
//! `C (+)= A B`, with `C` row-major. A tile of 12 rows by 32 columns of `C`
//! is accumulated in 24 vector registers: each step of the contracted
//! dimension loads one row of 32 elements of `B` (two 512-bit vectors) and
//! broadcasts 12 elements of `A`, 24 fused multiply-adds for 14 loads.
//!
//! What differs from a general BLAS is where the operands come from:
//! - `A` is never packed. Its elements are broadcast straight from memory
//!   whatever its strides, so an operand that a GEMM prologue computes
//!   block by block into scratch is multiplied where it lies.
//! - `B` is read in place when its rows are contiguous, else packed once
//!   per product into panels of 32 columns ([`pack`]) that every block
//!   and every thread then shares. The executable packs a weight once per
//!   step, not once per block of rows as a library call would.
//!
//! The contracted dimension is cut into passes of at most 320 rows (`KC`), so
//! one panel of `B` (40 KB) stays in the level-1 cache while every tile
//! of rows goes past it.
//!
//! Results are deterministic: each element of `C` is summed in order of the
//! contracted index, whatever the split of rows or columns across threads.
//! The order differs from `matrixmultiply`'s, so the two agree to rounding.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;
use std::sync::OnceLock;

/// Columns of a tile (two vectors of 16 lanes).
pub const NR: usize = 32;
/// Rows of a tile.
const MR: usize = 12;
/// The longest pass over the contracted dimension.
const KC: usize = 320;
/// Rows of `A` (and `C`) per block: the block of `A` a pass reads (120 KB)
/// stays in the level-2 cache while every panel of `B` goes past it, and
/// the tiles of `C` written meanwhile are close together.
const MC: usize = 8 * MR;

/// True when this CPU has AVX-512, so the kernels here can run.
pub fn available() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    *AVAILABLE.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        {
            std::arch::is_x86_feature_detected!("avx512f")
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            false
        }
    })
}

/// How the right operand is read: rows of `row` elements apart, panels of
/// [`NR`] columns `panel` elements apart.
#[derive(Clone, Copy, Debug)]
pub struct Right {
    ptr: *const f32,
    row: isize,
    panel: isize,
    packed: bool,
}

// SAFETY: a `Right` addresses an operand that outlives the product, and
// products only read it.
unsafe impl Send for Right {}
unsafe impl Sync for Right {}

impl Right {
    /// `B` read in place: its columns are contiguous (`csb == 1`) and rows
    /// `rsb` elements apart.
    pub fn direct(b: *const f32, rsb: isize) -> Right {
        Right { ptr: b, row: rsb, panel: NR as isize, packed: false }
    }

    /// `B` packed by [`pack`] for a contracted dimension of `k`.
    pub fn packed(buf: *const f32, k: usize) -> Right {
        Right { ptr: buf, row: NR as isize, panel: (k * NR) as isize, packed: true }
    }

    /// Whether the operand is read from a packed copy (which must be made
    /// before the product runs).
    pub fn is_packed(self) -> bool {
        self.packed
    }

    /// The operand from column `c0` on (a multiple of [`NR`] when packed)
    /// and contracted row `k0` on.
    pub fn at(self, k0: usize, c0: usize) -> Right {
        debug_assert!(!self.packed || c0.is_multiple_of(NR));
        let col = if self.packed { (c0 / NR) as isize * self.panel } else { c0 as isize };
        Right { ptr: self.ptr.wrapping_offset(k0 as isize * self.row + col), ..self }
    }
}

/// Elements [`pack`] writes for a `k x n` operand.
pub fn packed_len(k: usize, n: usize) -> usize {
    k * n.div_ceil(NR) * NR
}

/// Packs `B` (`k x n`, strides `rsb`, `csb`) into panels of [`NR`]
/// columns, each `k` rows of [`NR`] contiguous elements, columns past `n`
/// zero.
///
/// # Safety
/// `b` must address every element of `B` and `out` hold
/// [`packed_len`]`(k, n)` elements.
pub unsafe fn pack(k: usize, n: usize, b: *const f32, rsb: isize, csb: isize, out: *mut f32) {
    for jp in 0..n.div_ceil(NR) {
        let j0 = jp * NR;
        let cols = NR.min(n - j0);
        // SAFETY: the caller's contract covers every address formed here.
        unsafe {
            let dst = out.add(jp * k * NR);
            if cols < NR {
                std::ptr::write_bytes(dst, 0, k * NR);
            }
            if csb == 1 {
                for p in 0..k {
                    let src = b.offset(p as isize * rsb + j0 as isize);
                    std::ptr::copy_nonoverlapping(src, dst.add(p * NR), cols);
                }
            } else {
                let mut done = 0;
                if rsb == 1 && available() {
                    // Columns are contiguous: transpose 16 x 16 blocks.
                    for h in 0..cols / 16 {
                        let src = b.offset((j0 + 16 * h) as isize * csb);
                        for p0 in (0..k / 16).map(|q| 16 * q) {
                            transpose16(src.add(p0), csb, dst.add(p0 * NR + 16 * h));
                        }
                    }
                    done = k / 16 * 16;
                }
                // The rest element by element, each column along the
                // contracted dimension.
                for j in 0..cols {
                    let src = b.offset((j0 + j) as isize * csb);
                    let from = if j < cols / 16 * 16 { done } else { 0 };
                    for p in from..k {
                        *dst.add(p * NR + j) = *src.offset(p as isize * rsb);
                    }
                }
            }
        }
    }
}

/// Writes the transpose of the 16 x 16 block whose rows are 16 contiguous
/// elements `stride` apart at `src` as 16 rows of 16 elements [`NR`] apart
/// at `dst`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn transpose16(src: *const f32, stride: isize, dst: *mut f32) {
    // SAFETY: the caller's block is inside both buffers.
    let r: [__m512; 16] =
        std::array::from_fn(|j| unsafe { _mm512_loadu_ps(src.offset(j as isize * stride)) });
    // Interleave 32-bit elements of row pairs, then 64-bit pairs of pairs:
    // u[4g + q] holds columns q, q + 4, q + 8, q + 12 of rows 4g..4g + 4,
    // one 128-bit lane each.
    let mut u = [_mm512_setzero_ps(); 16];
    for g in 0..4 {
        let t = |i: usize, hi: bool| {
            let (x, y) = (r[4 * g + i], r[4 * g + i + 1]);
            _mm512_castps_pd(if hi { _mm512_unpackhi_ps(x, y) } else { _mm512_unpacklo_ps(x, y) })
        };
        let (lo01, hi01, lo23, hi23) = (t(0, false), t(0, true), t(2, false), t(2, true));
        u[4 * g] = _mm512_castpd_ps(_mm512_unpacklo_pd(lo01, lo23));
        u[4 * g + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(lo01, lo23));
        u[4 * g + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(hi01, hi23));
        u[4 * g + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(hi01, hi23));
    }
    // Gather the four groups' lanes of each column.
    for q in 0..4 {
        let v01 = _mm512_shuffle_f32x4::<0x88>(u[q], u[4 + q]);
        let w01 = _mm512_shuffle_f32x4::<0xdd>(u[q], u[4 + q]);
        let v23 = _mm512_shuffle_f32x4::<0x88>(u[8 + q], u[12 + q]);
        let w23 = _mm512_shuffle_f32x4::<0xdd>(u[8 + q], u[12 + q]);
        let cols = [
            (q, _mm512_shuffle_f32x4::<0x88>(v01, v23)),
            (q + 8, _mm512_shuffle_f32x4::<0xdd>(v01, v23)),
            (q + 4, _mm512_shuffle_f32x4::<0x88>(w01, w23)),
            (q + 12, _mm512_shuffle_f32x4::<0xdd>(w01, w23)),
        ];
        for (c, v) in cols {
            // SAFETY: as above.
            unsafe { _mm512_storeu_ps(dst.add(c * NR), v) };
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn transpose16(_: *const f32, _: isize, _: *mut f32) {
    unreachable!("only called when available() is true")
}

/// `C (+)= A B` for `A` `m x k` (strides `rsa`, `csa`), `B` `k x n` read
/// through `b`, `C` row-major with rows `ldc` apart. With `accumulate`
/// the product is added to `C`, else it replaces it.
///
/// # Safety
/// [`available`] must be true, and the pointers must address operands of
/// these shapes and strides.
#[allow(clippy::too_many_arguments)]
pub unsafe fn gemm(
    m: usize,
    k: usize,
    n: usize,
    a: *const f32,
    rsa: isize,
    csa: isize,
    b: Right,
    c: *mut f32,
    ldc: usize,
    accumulate: bool,
) {
    debug_assert!(available());
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            for i in 0..m {
                // SAFETY: row i of C holds n elements.
                unsafe { std::ptr::write_bytes(c.add(i * ldc), 0, n) };
            }
        }
        return;
    }
    let passes = k.div_ceil(KC);
    let kc = k.div_ceil(passes);
    let mut k0 = 0;
    while k0 < k {
        let kn = kc.min(k - k0);
        let acc = accumulate || k0 > 0;
        for ic in (0..m).step_by(MC) {
            let mb = MC.min(m - ic);
            for jp in 0..n.div_ceil(NR) {
                let j0 = jp * NR;
                let (m0, m1) = lane_masks(NR.min(n - j0));
                let bp = b.at(k0, j0);
                let mut i0 = ic;
                while i0 < ic + mb {
                    let rows = MR.min(ic + mb - i0);
                    let t = Tile {
                        k: kn,
                        a: a.wrapping_offset(i0 as isize * rsa + k0 as isize * csa),
                        rsa,
                        csa,
                        b: bp.ptr,
                        rsb: bp.row,
                        c: c.wrapping_add(i0 * ldc + j0),
                        ldc,
                        m0,
                        m1,
                        acc,
                    };
                    // SAFETY: the tile is inside the operands by the
                    // caller's contract, and this CPU has AVX-512.
                    unsafe { tile(rows, t) };
                    i0 += rows;
                }
            }
        }
        k0 += kn;
    }
}

/// The lanes of a tile's two column vectors inside `cols` columns.
fn lane_masks(cols: usize) -> (u16, u16) {
    let mask = |n: usize| if n >= 16 { 0xffff } else { ((1u32 << n) - 1) as u16 };
    (mask(cols), mask(cols.saturating_sub(16)))
}

/// One tile of `rows <= MR` rows.
#[cfg(target_arch = "x86_64")]
unsafe fn tile(rows: usize, t: Tile) {
    macro_rules! dispatch {
        ($($r:literal)*) => {
            match (rows, t.rsa == 1) {
                $(($r, true) => unsafe { micro::<$r, true>(t) },
                  ($r, false) => unsafe { micro::<$r, false>(t) },)*
                _ => unreachable!("tiles have 1 to {MR} rows"),
            }
        };
    }
    dispatch!(1 2 3 4 5 6 7 8 9 10 11 12)
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn tile(_: usize, _: Tile) {
    unreachable!("gemm is only called when available() is true")
}

/// The arguments of a micro-kernel call.
#[derive(Clone, Copy)]
struct Tile {
    k: usize,
    a: *const f32,
    rsa: isize,
    csa: isize,
    b: *const f32,
    rsb: isize,
    c: *mut f32,
    ldc: usize,
    /// Lanes of the two column vectors inside `C`.
    m0: u16,
    m1: u16,
    acc: bool,
}

/// `R` rows of `A` against two vectors of `B`; `UNIT` when `A`'s rows are
/// adjacent (`rsa == 1`), so their offsets are constants.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn micro<const R: usize, const UNIT: bool>(t: Tile) {
    let rsa = if UNIT { 1 } else { t.rsa };
    let mut acc = [[_mm512_setzero_ps(); 2]; R];
    let (mut a, mut b) = (t.a, t.b);
    for _ in 0..t.k {
        // SAFETY: masked-off lanes are not read; the rest are inside B.
        let (b0, b1) = unsafe { (_mm512_maskz_loadu_ps(t.m0, b), _mm512_maskz_loadu_ps(t.m1, b.add(16))) };
        for (i, row) in acc.iter_mut().enumerate() {
            // SAFETY: row i of this tile of A.
            let av = _mm512_set1_ps(unsafe { *a.offset(i as isize * rsa) });
            row[0] = _mm512_fmadd_ps(av, b0, row[0]);
            row[1] = _mm512_fmadd_ps(av, b1, row[1]);
        }
        a = a.wrapping_offset(t.csa);
        b = b.wrapping_offset(t.rsb);
    }
    for (i, row) in acc.iter().enumerate() {
        // SAFETY: the masked lanes of row i of the tile are inside C.
        unsafe {
            let out = t.c.add(i * t.ldc);
            let (mut v0, mut v1) = (row[0], row[1]);
            if t.acc {
                v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(t.m0, out));
                v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(t.m1, out.add(16)));
            }
            _mm512_mask_storeu_ps(out, t.m0, v0);
            _mm512_mask_storeu_ps(out.add(16), t.m1, v1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `C` by the definition, in f64.
    #[allow(clippy::too_many_arguments)]
    fn reference(
        m: usize,
        k: usize,
        n: usize,
        a: &[f32],
        (rsa, csa): (usize, usize),
        b: &[f32],
        (rsb, csb): (usize, usize),
    ) -> Vec<f32> {
        let mut c = vec![0.0f32; m * n];
        for i in 0..m {
            for j in 0..n {
                let s: f64 = (0..k).map(|p| a[i * rsa + p * csa] as f64 * b[p * rsb + j * csb] as f64).sum();
                c[i * n + j] = s as f32;
            }
        }
        c
    }

    fn data(len: usize, seed: u64) -> Vec<f32> {
        let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 40) as f32 / (1u64 << 24) as f32 - 0.5
            })
            .collect()
    }

    #[test]
    fn products_match_the_definition_for_every_layout_and_edge() {
        if !available() {
            return;
        }
        // Edges: partial row tiles, partial column panels of under and over
        // 16 columns, several passes and row blocks.
        let shapes = [
            (1, 1, 1),
            (5, 3, 7),
            (12, 320, 32),
            (13, 321, 33),
            (25, 700, 70),
            (64, 64, 10),
            (3, 17, 100),
            (7, 9, 20),
            (101, 330, 130),
        ];
        for (s, &(m, k, n)) in shapes.iter().enumerate() {
            let a = data(m * k, s as u64);
            let b = data(k * n, 100 + s as u64);
            for a_rows in [true, false] {
                for b_rows in [true, false] {
                    let (rsa, csa) = if a_rows { (k, 1) } else { (1, m) };
                    let (rsb, csb) = if b_rows { (n, 1) } else { (1, k) };
                    let want = reference(m, k, n, &a, (rsa, csa), &b, (rsb, csb));
                    let mut buf = vec![0.0f32; packed_len(k, n)];
                    // SAFETY: the buffers have the shapes given.
                    unsafe { pack(k, n, b.as_ptr(), rsb as isize, csb as isize, buf.as_mut_ptr()) };
                    let mut rights = vec![Right::packed(buf.as_ptr(), k)];
                    if b_rows {
                        rights.push(Right::direct(b.as_ptr(), rsb as isize));
                    }
                    for right in rights {
                        for accumulate in [false, true] {
                            let mut c = vec![if accumulate { 1.0 } else { f32::NAN }; m * n];
                            // SAFETY: as above.
                            unsafe {
                                gemm(
                                    m,
                                    k,
                                    n,
                                    a.as_ptr(),
                                    rsa as isize,
                                    csa as isize,
                                    right,
                                    c.as_mut_ptr(),
                                    n,
                                    accumulate,
                                )
                            };
                            for (x, y) in c.iter().zip(&want) {
                                let y = y + if accumulate { 1.0 } else { 0.0 };
                                assert!(
                                    (x - y).abs() <= 1e-5 * (k as f32).sqrt() * 4.0,
                                    "{m}x{k}x{n}: {x} vs {y}"
                                );
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn column_and_row_blocks_give_the_whole_product() {
        if !available() {
            return;
        }
        let (m, k, n) = (30, 50, 100);
        let a = data(m * k, 1);
        let b = data(k * n, 2);
        let mut buf = vec![0.0f32; packed_len(k, n)];
        // SAFETY: the buffers have the shapes given.
        unsafe { pack(k, n, b.as_ptr(), n as isize, 1, buf.as_mut_ptr()) };
        let right = Right::packed(buf.as_ptr(), k);
        let mut whole = vec![0.0f32; m * n];
        let mut parts = vec![0.0f32; m * n];
        // SAFETY: every block is inside the operands.
        unsafe {
            gemm(m, k, n, a.as_ptr(), k as isize, 1, right, whole.as_mut_ptr(), n, false);
            for (r0, r1) in [(0, 7), (7, 30)] {
                for (c0, c1) in [(0, 64), (64, 100)] {
                    // Contracted rows in two passes, the second accumulating.
                    for (k0, k1) in [(0, 20), (20, 50)] {
                        gemm(
                            r1 - r0,
                            k1 - k0,
                            c1 - c0,
                            a.as_ptr().add(r0 * k + k0),
                            k as isize,
                            1,
                            right.at(k0, c0),
                            parts.as_mut_ptr().add(r0 * n + c0),
                            n,
                            k0 > 0,
                        );
                    }
                }
            }
        }
        for (x, y) in whole.iter().zip(&parts) {
            assert!((x - y).abs() <= 1e-5, "{x} vs {y}");
        }
    }
}
