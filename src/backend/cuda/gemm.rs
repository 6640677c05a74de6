//! Matrix products as PTX: a tiled shared-memory kernel, then the
//! epilogue as a second launch (an ordinary loop kernel over the finished
//! result).
//!
//! A block of 16×16 threads computes a 64×64 tile of one batch slice of
//! `c`, each thread a 4×4 block in registers. The contracted dimension
//! goes in steps of 16: the block stages a 64×16 slab of `a` and a 16×64
//! slab of `b` in shared memory (zero outside the operands, so any `m`,
//! `n`, `k` and any strides work), synchronises, accumulates, and
//! synchronises again before the next slab overwrites it. Each output
//! element accumulates its `a·b` products in order of `k` from zero with
//! fused multiply-adds (`fma.rn.f32`, one rounding per product, as the CPU
//! back end's products do): one instruction per product instead of two.
//! The result differs from the interpreter's (a rounded multiply, then a
//! rounded add) only by rounding; the padding adds `0·0` and changes
//! nothing. There is no TF32 or tensor-core path, so fp32 numerics hold.

use super::module::{Body, f32_imm};
use super::{EmitError, Entry, loops};
use crate::kernel::ir::{GemmKernel, Program};

/// Rows and columns of `c` per block.
const TILE: i64 = 64;
/// Depth of one slab of the contracted dimension.
const DEPTH: i64 = 16;
/// Threads per block side (each thread computes a 4×4 block).
const SIDE: i64 = 16;

/// The product's entry and its epilogue's.
pub(crate) fn entries(program: &Program, g: &GemmKernel, kernel: usize) -> Result<Vec<Entry>, EmitError> {
    if g.prologue.is_some() || g.c_blocks {
        return Err(EmitError(format!(
            "kernel {kernel}: product prologues and blocked results are CPU cache blocking, not emitted for CUDA"
        )));
    }
    let nb = g.batch.len();
    if g.a.strides.len() != nb + 2 || g.b.strides.len() != nb + 2 {
        return Err(EmitError(format!("kernel {kernel}: operand views do not match the product's rank")));
    }
    let batch: i64 = g.batch.iter().map(|&d| d as i64).product();
    let mut out = Vec::new();
    if batch > 0 && g.m > 0 && g.n > 0 {
        if batch > 65_535 || g.m as i64 > 65_535 * TILE {
            return Err(EmitError(format!("kernel {kernel}: the product is too large for one launch")));
        }
        out.push(product(program, g, kernel, batch));
    }
    if let Some(e) = &g.epilogue {
        out.extend(loops::entries(program, e, kernel, &format!("k{kernel}_epilogue"))?);
    }
    Ok(out)
}

fn product(program: &Program, g: &GemmKernel, kernel: usize, batch: i64) -> Entry {
    let (m, n, k) = (g.m as i64, g.n as i64, g.k as i64);
    let nb = g.batch.len();
    let mut b = Body::new(&format!("k{kernel}_gemm"));
    let a_buf = b.buffer(g.a.buf, program.buffer(g.a.buf).numel());
    let b_buf = b.buffer(g.b.buf, program.buffer(g.b.buf).numel());
    let c_buf = b.buffer(g.c, program.buffer(g.c).numel());
    let sa = b.shared_f32(&format!("k{kernel}_sa"), (DEPTH * TILE) as u32);
    let sb = b.shared_f32(&format!("k{kernel}_sb"), (DEPTH * TILE) as u32);
    let (tid, bx, by, bz) = (b.r(), b.r(), b.r(), b.r());
    b.op(format!("mov.u32 {tid}, %tid.x"));
    b.op(format!("mov.u32 {bx}, %ctaid.x"));
    b.op(format!("mov.u32 {by}, %ctaid.y"));
    b.op(format!("mov.u32 {bz}, %ctaid.z"));
    let wide = |b: &mut Body, r: &str| {
        let d = b.rd();
        b.op(format!("cvt.u64.u32 {d}, {r}"));
        d
    };
    let (t, i0, j0, z) = (wide(&mut b, &tid), wide(&mut b, &by), wide(&mut b, &bx), wide(&mut b, &bz));
    b.op(format!("mul.lo.s64 {i0}, {i0}, {TILE}"));
    b.op(format!("mul.lo.s64 {j0}, {j0}, {TILE}"));
    // Element zero of this batch slice in a and b.
    let (a0, b0) = (b.rd(), b.rd());
    b.op(format!("mov.s64 {a0}, {}", g.a.offset));
    b.op(format!("mov.s64 {b0}, {}", g.b.offset));
    let rest = b.rd();
    b.op(format!("mov.s64 {rest}, {z}"));
    for d in (0..nb).rev() {
        let (x, q) = (b.rd(), b.rd());
        b.op(format!("rem.s64 {x}, {rest}, {}", g.batch[d]));
        b.op(format!("div.s64 {q}, {rest}, {}", g.batch[d]));
        b.op(format!("mad.lo.s64 {a0}, {x}, {}, {a0}", g.a.strides[d]));
        b.op(format!("mad.lo.s64 {b0}, {x}, {}, {b0}", g.b.strides[d]));
        b.op(format!("mov.s64 {rest}, {q}"));
    }
    let (sam, sak, sbk, sbn) = (g.a.strides[nb], g.a.strides[nb + 1], g.b.strides[nb], g.b.strides[nb + 1]);
    let (tx, ty) = (b.rd(), b.rd());
    b.op(format!("rem.s64 {tx}, {t}, {SIDE}"));
    b.op(format!("div.s64 {ty}, {t}, {SIDE}"));
    let acc: Vec<String> = (0..16).map(|_| b.f()).collect();
    for a in &acc {
        b.op(format!("mov.b32 {a}, {}", f32_imm(0.0)));
    }
    let (sa_base, sb_base) = (b.r(), b.r());
    b.op(format!("mov.u32 {sa_base}, {sa}"));
    b.op(format!("mov.u32 {sb_base}, {sb}"));
    // for k0 in (0..k).step_by(DEPTH)
    let (k0, p) = (b.rd(), b.p());
    let (head, exit) = (b.label("slab"), b.label("slabs_done"));
    b.op(format!("mov.s64 {k0}, 0"));
    b.place(&head);
    b.op(format!("setp.ge.s64 {p}, {k0}, {k}"));
    b.op(format!("@{p} bra {exit}"));
    b.comment("stage a[i0.., k0..] and b[k0.., j0..] in shared memory");
    let per_thread = DEPTH * TILE / (SIDE * SIDE);
    for r in 0..per_thread {
        let e = b.rd();
        b.op(format!("add.s64 {e}, {t}, {}", r * SIDE * SIDE));
        // a: row e / DEPTH, depth e % DEPTH -> sa[depth * TILE + row].
        let (row, dep) = (b.rd(), b.rd());
        b.op(format!("div.s64 {row}, {e}, {DEPTH}"));
        b.op(format!("rem.s64 {dep}, {e}, {DEPTH}"));
        let (gi, gk) = (b.rd(), b.rd());
        b.op(format!("add.s64 {gi}, {i0}, {row}"));
        b.op(format!("add.s64 {gk}, {k0}, {dep}"));
        stage_element(&mut b, &a_buf, &a0, [(&gi, m, sam), (&gk, k, sak)], &sa_base, &dep, &row);
        // b: depth e / TILE, column e % TILE -> sb[depth * TILE + column].
        let (dep, col) = (b.rd(), b.rd());
        b.op(format!("div.s64 {dep}, {e}, {TILE}"));
        b.op(format!("rem.s64 {col}, {e}, {TILE}"));
        let (gk, gj) = (b.rd(), b.rd());
        b.op(format!("add.s64 {gk}, {k0}, {dep}"));
        b.op(format!("add.s64 {gj}, {j0}, {col}"));
        stage_element(&mut b, &b_buf, &b0, [(&gk, k, sbk), (&gj, n, sbn)], &sb_base, &dep, &col);
    }
    b.op("bar.sync 0");
    accumulate(&mut b, &acc, &sa_base, &sb_base, &tx, &ty);
    b.op("bar.sync 0");
    b.op(format!("add.s64 {k0}, {k0}, {DEPTH}"));
    b.op(format!("bra.uni {head}"));
    b.place(&exit);
    b.comment("store the 4x4 block");
    let cz = b.rd();
    b.op(format!("mul.lo.s64 {cz}, {z}, {}", m * n));
    for r in 0..4 {
        for c in 0..4 {
            let (i, j, q) = (b.rd(), b.rd(), b.p());
            b.op(format!("mad.lo.s64 {i}, {ty}, 4, {}", r));
            b.op(format!("add.s64 {i}, {i}, {i0}"));
            b.op(format!("mad.lo.s64 {j}, {tx}, 4, {}", c));
            b.op(format!("add.s64 {j}, {j}, {j0}"));
            b.op(format!("setp.lt.s64 {q}, {i}, {m}"));
            b.op(format!("setp.lt.and.s64 {q}, {j}, {n}, {q}"));
            let o = b.rd();
            b.op(format!("mad.lo.s64 {o}, {i}, {n}, {j}"));
            b.op(format!("add.s64 {o}, {o}, {cz}"));
            let addr = b.address(&c_buf, &o);
            b.op(format!("@{q} st.global.f32 [{addr}], {}", acc[r * 4 + c]));
        }
    }
    let grid = [((n + TILE - 1) / TILE) as u32, ((m + TILE - 1) / TILE) as u32, batch as u32];
    b.finish(kernel, grid, [(SIDE * SIDE) as u32, 1, 1])
}

/// Copies `buf[base + x·sx + y·sy]` (0 when `x` or `y` is out of its
/// bound) to `shared[depth · TILE + at]`.
fn stage_element(
    b: &mut Body,
    buf: &str,
    base: &str,
    [(x, xn, sx), (y, yn, sy)]: [(&String, i64, i64); 2],
    shared: &str,
    depth: &str,
    at: &str,
) {
    let (p, v) = (b.p(), b.f());
    b.op(format!("setp.lt.s64 {p}, {x}, {xn}"));
    b.op(format!("setp.lt.and.s64 {p}, {y}, {yn}, {p}"));
    let o = b.rd();
    b.op(format!("mad.lo.s64 {o}, {x}, {sx}, {base}"));
    b.op(format!("mad.lo.s64 {o}, {y}, {sy}, {o}"));
    b.op(format!("mov.b32 {v}, {}", f32_imm(0.0)));
    let addr = b.address(buf, &o);
    b.op(format!("@{p} ld.global.f32 {v}, [{addr}]"));
    let (s, w) = (b.rd(), b.r());
    b.op(format!("mad.lo.s64 {s}, {depth}, {TILE}, {at}"));
    b.op(format!("cvt.u32.u64 {w}, {s}"));
    b.op(format!("shl.b32 {w}, {w}, 2"));
    b.op(format!("add.u32 {w}, {w}, {shared}"));
    b.op(format!("st.shared.f32 [{w}], {v}"));
}

/// `acc[r][c] += sa[d][4ty + r] · sb[d][4tx + c]` for every depth `d` of
/// the slab, in order.
fn accumulate(b: &mut Body, acc: &[String], sa: &str, sb: &str, tx: &str, ty: &str) {
    let (ra, rb) = (b.r(), b.r());
    for (reg, base, idx) in [(&ra, sa, ty), (&rb, sb, tx)] {
        let w = b.r();
        b.op(format!("cvt.u32.u64 {w}, {idx}"));
        b.op(format!("shl.b32 {w}, {w}, 4"));
        b.op(format!("add.u32 {reg}, {base}, {w}"));
    }
    for d in 0..DEPTH {
        let av: Vec<String> = (0..4).map(|_| b.f()).collect();
        let bv: Vec<String> = (0..4).map(|_| b.f()).collect();
        let off = 4 * d * TILE;
        b.op(format!("ld.shared.v4.f32 {{{}}}, [{ra}+{off}]", av.join(", ")));
        b.op(format!("ld.shared.v4.f32 {{{}}}, [{rb}+{off}]", bv.join(", ")));
        for r in 0..4 {
            for c in 0..4 {
                let a = &acc[r * 4 + c];
                b.op(format!("fma.rn.f32 {a}, {}, {}, {a}", av[r], bv[c]));
            }
        }
    }
}
