//! GEMM prologues: a loop kernel whose only result is the operand of one
//! or more products is moved into those products and run one block at a
//! time, right before the block is multiplied.
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

use super::index::range_with;
use super::ir::{BufId, BufKind, Expr, Kernel, LoopKernel, Operand, Program, Prologue};

/// The largest block moved into scratch, in elements (8 MB).
const MAX_UNIT: usize = 2 << 20;
/// The smallest operand worth producing block by block, in elements
/// (1 MB): a smaller one stays in cache between its producer and the
/// product, and producing it inside the product would only take the place
/// of a larger producer.
const MIN_OPERAND: usize = 1 << 18;

/// Moves every qualifying producer into its products.
pub fn run(p: &mut Program) {
    let mut i = 0;
    while i < p.kernels.len() {
        match plan(p, i) {
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
fn plan(p: &Program, i: usize) -> Option<(BufId, usize, Vec<usize>)> {
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
    if extent < 2 || numel < MIN_OPERAND || !numel.is_multiple_of(extent) || numel / extent > MAX_UNIT {
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
