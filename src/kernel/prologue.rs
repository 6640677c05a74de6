//! GEMM prologues: a loop kernel whose only result is the operand of one
//! or more products is moved into those products and run one block at a
//! time, right before the block is multiplied. And the mirror image: a
//! product whose result only its epilogue reads is computed one block at a
//! time into scratch, right before the epilogue reads that block
//! (`blocked_results`).
//!
//! The im2col matrix of a convolution is the case this is for: 42 MB
//! written once and streamed twice (forward product, weight gradient)
//! becomes one image's block at a time, computed into scratch that stays
//! in cache.
//!
//! Conditions, for loop kernel `P` storing temporary `u` and product `G`:
//! - `P` has no reductions and exactly one store, to `u`; its first outer
//!   variable `i` has extent at least 2 and writes elements
//!   `unit * i .. unit * (i + 1)` of `u` (so blocks are independent);
//! - `u` is read only by unbatched products without a prologue, as their
//!   left or right operand, contiguous and whole, with a whole number of
//!   operand rows per block; it is neither an output nor an update value;
//! - nothing `P` reads is written between `P` and `G`, or by `G`'s epilogue
//!   (an in-place update must not be seen by later blocks).

use super::Blocking;
use super::index::range_with;
use super::ir::{BufId, BufKind, Cond, Expr, Kernel, LoopKernel, Operand, Program, Prologue};

/// Moves every qualifying producer into its products, then keeps every
/// qualifying product result in blocks (`blocked_results`), as far as the
/// target's [`Blocking`] asks. Sizes below `min_bytes` stay in cache
/// between producer and product anyway, and producing them inside the
/// product would only take the place of a larger producer.
pub fn run(p: &mut Program, b: &Blocking) {
    let min_operand = b.min_bytes / 4;
    let max_unit = b.max_block_bytes / 4;
    if b.prologues {
        producers(p, min_operand, max_unit);
    }
    if b.blocked_results {
        blocked_results(p, min_operand);
    }
}

/// Marks products whose result only their epilogue reads, block by block,
/// as [`GemmKernel::c_blocks`](super::ir::GemmKernel::c_blocks): the input
/// gradient of a convolution (its 42 MB `dcols` matrix, read by the col2im
/// epilogue one image at a time) then stays in cache.
///
/// Conditions, for product `G` with result `c`:
/// - `G` is unbatched, has an epilogue and no prologue, and `c` is a
///   temporary of at least
///   `min_operand` elements (the target's [`Blocking::min_bytes`]) that is not an output or update value;
/// - no other kernel reads `c`, and the epilogue does not write it;
/// - epilogue point `i` loads only elements `unit * i .. unit * (i + 1)` of
///   `c`, where `unit` is [`GemmKernel::rows`](super::ir::GemmKernel::rows)
///   rows of `c`.
fn blocked_results(p: &mut Program, min_operand: usize) {
    for i in 0..p.kernels.len() {
        let Kernel::Gemm(g) = &p.kernels[i] else { continue };
        let Some(e) = g.epilogue.as_deref() else { continue };
        let c = g.c;
        let unit = (g.rows * g.n) as i64;
        let buf = p.buffer(c);
        let numel = buf.numel();
        let others_read =
            p.kernels.iter().enumerate().any(|(j, k)| j != i && k.accesses().iter().any(|&(b, _)| b == c));
        let ok = g.batch.is_empty()
            && g.prologue.is_none()
            && !g.c_blocks
            && buf.kind == BufKind::Temp
            && numel >= min_operand
            && !p.outputs.iter().any(|&(_, b)| b == c)
            && !p.updates.iter().any(|&(_, v)| v == c)
            && !others_read
            && !writes(e, &[c])
            && e.outer.first().is_some_and(|&v0| e.extents[v0.0 as usize] * unit == numel as i64)
            && block_local(e, c, unit);
        if ok && let Kernel::Gemm(g) = &mut p.kernels[i] {
            g.c_blocks = true;
        }
    }
}

/// True when every load of `c` in `e` at point `i` of its first variable
/// is inside elements `unit * i .. unit * (i + 1)`.
fn block_local(e: &LoopKernel, c: BufId, unit: i64) -> bool {
    let v0 = e.outer[0];
    let bounds: Vec<(i64, i64)> = e.extents.iter().map(|&x| (0, x - 1)).collect();
    e.exprs.iter().all(|x| match x {
        Expr::Load { buf, index, guard } if *buf == c => {
            // A guarded load reads only where its guard holds: narrow each
            // variable by the guard's conditions on it alone.
            let mut bounds = bounds.clone();
            for (v, from, to) in guard.iter().filter_map(Cond::var_range) {
                let r = &mut bounds[v.0 as usize];
                *r = (r.0.max(from), r.1.min(to - 1));
            }
            if bounds.iter().any(|&(lo, hi)| lo > hi) {
                return true;
            }
            let rest = index.add(&super::index::IExpr::var(v0).scale(-unit));
            let (lo, hi) = range_with(&rest, &bounds);
            !rest.mentions_nonlinearly(v0) && rest.coefficient(v0) == 0 && lo >= 0 && hi < unit
        }
        _ => true,
    })
}

/// Moves every qualifying producer into its products.
fn producers(p: &mut Program, min_operand: usize, max_unit: usize) {
    let mut i = 0;
    while i < p.kernels.len() {
        match plan(p, i, min_operand, max_unit) {
            Some((u, unit, readers)) => {
                let Kernel::Loop(k) = p.kernels.remove(i) else { unreachable!("checked by plan") };
                for j in readers {
                    // `j` was after `i`, which is gone.
                    let Kernel::Gemm(g) = &mut p.kernels[j - 1] else { unreachable!("checked by plan") };
                    let operand = if g.a.buf == u { Operand::A } else { Operand::B };
                    g.prologue = Some(Box::new(Prologue { operand, kernel: k.clone(), buf: u, unit }));
                }
            }
            None => i += 1,
        }
    }
}

/// The buffer, block size and reading products when kernel `i` qualifies.
fn plan(p: &Program, i: usize, min_operand: usize, max_unit: usize) -> Option<(BufId, usize, Vec<usize>)> {
    let Kernel::Loop(k) = &p.kernels[i] else { return None };
    let stores: Vec<_> = k.stages.iter().flat_map(|s| &s.stores).collect();
    let ([store], true) = (stores.as_slice(), k.stages.iter().all(|s| s.reductions.is_empty())) else {
        return None;
    };
    let u = store.buf;
    if p.buffer(u).kind != BufKind::Temp
        || p.outputs.iter().any(|&(_, b)| b == u)
        || p.updates.iter().any(|&(_, v)| v == u)
    {
        return None;
    }
    let v0 = k.outer[0];
    let extent = k.extents[v0.0 as usize] as usize;
    let numel = p.buffer(u).numel();
    if extent < 2 || numel < min_operand || !numel.is_multiple_of(extent) || numel / extent > max_unit {
        return None;
    }
    let unit = numel / extent;
    if store.index.coefficient(v0) != unit as i64 || store.index.mentions_nonlinearly(v0) {
        return None;
    }
    let bounds: Vec<(i64, i64)> = k.extents.iter().map(|&e| (0, e - 1)).collect();
    let rest = store.index.add(&super::index::IExpr::var(v0).scale(-(unit as i64)));
    let (lo, hi) = range_with(&rest, &bounds);
    if lo < 0 || hi >= unit as i64 {
        return None;
    }
    let reads = loads(k);
    let mut readers = Vec::new();
    for (j, kn) in p.kernels.iter().enumerate().skip(i + 1) {
        let touches = kn.accesses().iter().any(|&(b, _)| b == u);
        let writes_input = kn.accesses().iter().any(|&(b, w)| w && reads.contains(&b));
        match kn {
            Kernel::Gemm(g) if touches => {
                let ok = g.batch.is_empty()
                    && g.prologue.is_none()
                    && g.epilogue.as_ref().is_none_or(|e| !loads(e).contains(&u) && !writes(e, &reads))
                    && g.c != u
                    && ((g.a.buf == u
                        && g.b.buf != u
                        && g.a.offset == 0
                        && g.a.strides == [g.k as i64, 1]
                        && g.m * g.k == numel
                        && unit.is_multiple_of(g.k))
                        || (g.b.buf == u
                            && g.a.buf != u
                            && g.b.offset == 0
                            && g.b.strides == [g.n as i64, 1]
                            && g.k * g.n == numel
                            && unit.is_multiple_of(g.n)));
                if !ok {
                    return None;
                }
                readers.push(j);
            }
            _ if touches => return None,
            _ => {}
        }
        // Later readers would see whatever this kernel writes.
        if writes_input && readers.len() < count_readers(p, u, i) {
            return None;
        }
    }
    (!readers.is_empty()).then_some((u, unit, readers))
}

fn count_readers(p: &Program, u: BufId, i: usize) -> usize {
    p.kernels.iter().skip(i + 1).filter(|kn| kn.accesses().iter().any(|&(b, _)| b == u)).count()
}

fn loads(k: &LoopKernel) -> Vec<BufId> {
    k.exprs
        .iter()
        .filter_map(|e| match e {
            Expr::Load { buf, .. } => Some(*buf),
            _ => None,
        })
        .collect()
}

fn writes(k: &LoopKernel, bufs: &[BufId]) -> bool {
    k.stages.iter().flat_map(|s| &s.stores).any(|st| bufs.contains(&st.buf))
}
