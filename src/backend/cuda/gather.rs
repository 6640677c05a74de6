//! Gather and scatter-add as PTX entries.
//!
//! An index is valid when it is an integer in `0..rows` (the interpreter's
//! `check_index`). The main entry treats an invalid index as "no row"
//! (gather writes zeros, scatter-add skips it) so no thread faults; a
//! separate one-thread entry, `kN_check`, walks the indices and, if one is
//! invalid and the status word is still zero, writes `1 + N` there. Only
//! that thread ever writes the status word (the subset has no atomics and
//! two writers of one word in a launch would race), and an earlier failed
//! kernel keeps its report.
//!
//! Scatter-add is deterministic and in the interpreter's order: one thread
//! per column of a row zeroes that column of every output row, then adds
//! `src[i, j]` to `out[idx[i], j]` for `i` in order. Threads own disjoint
//! columns, so nothing races and every sum has the CPU's rounding.

use super::module::{Body, f32_imm, global_thread};
use super::{EmitError, Entry, Param, grid_for};
use crate::kernel::ir::{BufId, GatherKernel, Program, ScatterAddKernel};

const THREADS: i64 = 256;

/// The gather's entries: the copy, then the index check.
pub(crate) fn gather(program: &Program, g: &GatherKernel, kernel: usize) -> Result<Vec<Entry>, EmitError> {
    let n = program.buffer(g.idx).numel() as i64;
    let points = n * g.row as i64;
    let mut out = Vec::new();
    if points > 0 {
        let mut b = Body::new(&format!("k{kernel}_gather"));
        let table = b.buffer(g.table, program.buffer(g.table).numel());
        let idx = b.buffer(g.idx, n as usize);
        let dst = b.buffer(g.out, program.buffer(g.out).numel());
        let (gid, stride) = global_thread(&mut b);
        grid_loop(&mut b, &gid, &stride, points, |b| {
            let (i, j) = (b.rd(), b.rd());
            b.op(format!("div.s64 {i}, {gid}, {}", g.row));
            b.op(format!("rem.s64 {j}, {gid}, {}", g.row));
            let (row, ok) = index(b, &idx, &i, g.rows);
            let v = b.f();
            b.op(format!("mov.b32 {v}, 0f00000000"));
            let t = b.rd();
            b.op(format!("mad.lo.s64 {t}, {row}, {}, {j}", g.row));
            let a = b.address(&table, &t);
            b.op(format!("@{ok} ld.global.f32 {v}, [{a}]"));
            let a = b.address(&dst, &gid);
            b.op(format!("st.global.f32 [{a}], {v}"));
        });
        let threads = THREADS.min((points + 31) / 32 * 32) as u32;
        out.push(b.finish(kernel, grid_for(points, threads), [threads, 1, 1]));
    }
    out.push(check(program, g.idx, g.rows, kernel));
    Ok(out)
}

/// The scatter-add's entries: the sums, then the index check.
pub(crate) fn scatter_add(
    program: &Program,
    s: &ScatterAddKernel,
    kernel: usize,
) -> Result<Vec<Entry>, EmitError> {
    let n = program.buffer(s.idx).numel() as i64;
    let cols = s.row as i64;
    let mut out = Vec::new();
    if cols > 0 {
        let mut b = Body::new(&format!("k{kernel}_scatter"));
        let src = b.buffer(s.src, program.buffer(s.src).numel());
        let idx = b.buffer(s.idx, n as usize);
        let dst = b.buffer(s.out, program.buffer(s.out).numel());
        let (gid, stride) = global_thread(&mut b);
        grid_loop(&mut b, &gid, &stride, cols, |b| {
            // Zero this column of every row.
            counted(b, s.rows as i64, |b, r| {
                let t = b.rd();
                b.op(format!("mad.lo.s64 {t}, {r}, {cols}, {gid}"));
                let a = b.address(&dst, &t);
                b.op(format!("st.global.f32 [{a}], 0f00000000"));
            });
            counted(b, n, |b, i| {
                let (row, ok) = index(b, &idx, i, s.rows);
                let skip = b.label("skip");
                b.op(format!("@!{ok} bra {skip}"));
                let (t, u) = (b.rd(), b.rd());
                b.op(format!("mad.lo.s64 {t}, {i}, {cols}, {gid}"));
                b.op(format!("mad.lo.s64 {u}, {row}, {cols}, {gid}"));
                let (x, y) = (b.f(), b.f());
                let a = b.address(&src, &t);
                b.op(format!("ld.global.f32 {x}, [{a}]"));
                let a = b.address(&dst, &u);
                b.op(format!("ld.global.f32 {y}, [{a}]"));
                b.op(format!("add.rn.f32 {y}, {y}, {x}"));
                b.op(format!("st.global.f32 [{a}], {y}"));
                b.place(&skip);
            });
        });
        let threads = THREADS.min((cols + 31) / 32 * 32) as u32;
        out.push(b.finish(kernel, grid_for(cols, threads), [threads, 1, 1]));
    }
    out.push(check(program, s.idx, s.rows, kernel));
    Ok(out)
}

/// Reads the index at `i` of `idx`; returns the row (`s64`, 0 when
/// invalid) and a predicate that holds when it is valid.
fn index(b: &mut Body, idx: &str, i: &str, rows: usize) -> (String, String) {
    let (v, t) = (b.f(), b.f());
    let a = b.address(idx, i);
    b.op(format!("ld.global.f32 {v}, [{a}]"));
    let ok = b.p();
    // v >= 0 && fract(v) == 0 && v < rows (false for NaN and infinities).
    b.op(format!("cvt.rzi.f32.f32 {t}, {v}"));
    b.op(format!("setp.ge.f32 {ok}, {v}, 0f00000000"));
    b.op(format!("setp.eq.and.f32 {ok}, {t}, {v}, {ok}"));
    b.op(format!("setp.lt.and.f32 {ok}, {v}, {}, {ok}", f32_imm(rows as f32)));
    let row = b.rd();
    b.op(format!("cvt.rzi.s64.f32 {row}, {v}"));
    b.op(format!("@!{ok} mov.s64 {row}, 0"));
    (row, ok)
}

/// A one-thread entry that reports the first invalid index in the status
/// word, unless an earlier kernel already did.
fn check(program: &Program, idx_buf: BufId, rows: usize, kernel: usize) -> Entry {
    let n = program.buffer(idx_buf).numel() as i64;
    let mut b = Body::new(&format!("k{kernel}_check"));
    let idx = b.buffer(idx_buf, n as usize);
    let status = b.param(Param::Status);
    b.op(format!("cvta.to.global.u64 {status}, {status}"));
    let bad = b.p();
    b.op(format!("mov.pred {bad}, 0"));
    counted(&mut b, n, |b, i| {
        let (_, ok) = index(b, &idx, i, rows);
        b.op(format!("@!{ok} mov.pred {bad}, 1"));
    });
    let s = b.r();
    b.op(format!("ld.global.u32 {s}, [{status}]"));
    b.op(format!("setp.eq.and.u32 {bad}, {s}, 0, {bad}"));
    b.op(format!("@{bad} st.global.u32 [{status}], {}", kernel + 1));
    b.finish(kernel, [1, 1, 1], [1, 1, 1])
}

/// `for (x = gid; x < points; x += stride) body`.
fn grid_loop(b: &mut Body, gid: &str, stride: &str, points: i64, body: impl FnOnce(&mut Body)) {
    let (top, end, p) = (b.label("point"), b.label("done"), b.p());
    b.place(&top);
    b.op(format!("setp.ge.s64 {p}, {gid}, {points}"));
    b.op(format!("@{p} bra {end}"));
    body(b);
    b.op(format!("add.s64 {gid}, {gid}, {stride}"));
    b.op(format!("bra.uni {top}"));
    b.place(&end);
}

/// `for (i = 0; i < n; i++) body(i)` with an `s64` counter.
pub(crate) fn counted(b: &mut Body, n: i64, mut body: impl FnMut(&mut Body, &str)) {
    let (i, p) = (b.rd(), b.p());
    let (head, exit) = (b.label("loop"), b.label("end"));
    b.op(format!("mov.s64 {i}, 0"));
    b.place(&head);
    b.op(format!("setp.ge.s64 {p}, {i}, {n}"));
    b.op(format!("@{p} bra {exit}"));
    body(b, &i);
    b.op(format!("add.s64 {i}, {i}, 1"));
    b.op(format!("bra.uni {head}"));
    b.place(&exit);
}
