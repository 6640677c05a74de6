//! `shfl.sync`: a rendezvous of the lanes named in the membermask, then the exchange.
//!
//! A warp is 32 consecutive linear thread indices. A lane reaching `shfl.sync` waits until
//! every lane of its membermask waits at the same instruction with the same mask, then all of
//! them read their source lane's `a` at once. It is an error for the executing lane to be
//! outside its own mask, for the mask to name a lane that does not exist, has exited, waits at
//! `bar.sync` or at another `shfl.sync`, and for a lane to read from a lane outside the mask
//! (the ISA leaves that value undefined).
//!
//! Lane selection follows the ISA's pseudocode, with `c` holding the clamp value in bits 0-4
//! and the segment mask in bits 8-12:
//! `maxLane = (lane & segmask) | (clamp & !segmask)`, `minLane = lane & segmask`;
//! up: `j = lane - b`, in range if `j >= maxLane`; down: `j = lane + b`, in range if
//! `j <= maxLane`; bfly: `j = lane ^ b`, in range if `j <= maxLane`; idx:
//! `j = minLane | (b & !segmask)`, in range if `j <= maxLane`. Out of range, a lane reads its
//! own value; the optional predicate destination receives "in range".

use crate::error::{FaultKind, SimError};
use crate::ir::{NO_REG, Op, ShflMode};
use crate::launch::{BlockRun, State};

fn lanes(mask: u32) -> impl Iterator<Item = usize> {
    (0..32).filter(move |l| mask & (1 << l) != 0)
}

/// The membermask thread `t` waits with (its `shfl.sync` is at its pc).
fn mask_of(b: &BlockRun<'_, '_>, t: usize) -> Result<u32, SimError> {
    let pc = b.th.pc[t];
    let Op::Shfl { mask, .. } = b.cx.entry.code[pc as usize].op else {
        unreachable!("a thread in the Shfl state stands on a shfl.sync")
    };
    b.th.get(b.cx.entry, t, mask).map(|m| m as u32).map_err(|k| b.fault(t, pc, k))
}

fn shuffle_error(b: &BlockRun<'_, '_>, t: usize, message: String) -> SimError {
    b.fault(t, b.th.pc[t], FaultKind::Shuffle { message })
}

/// Thread `t` just exited or reached `bar.sync`: a lane of its warp waiting at `shfl.sync`
/// for it can never continue.
pub(crate) fn check_waiters(b: &BlockRun<'_, '_>, t: usize, what: &str) -> Result<(), SimError> {
    let lane = t % 32;
    let base = t - lane;
    let end = (base + 32).min(b.state.len());
    for u in base..end {
        if b.state[u] == State::Shfl && mask_of(b, u)? & (1 << lane) != 0 {
            let line = b.cx.entry.lines[b.th.pc[t] as usize];
            let message = format!(
                "lane {lane} of the membermask {what} (line {line}) instead of reaching this shfl.sync"
            );
            return Err(if what == "exited" {
                shuffle_error(b, u, message)
            } else {
                b.fault(u, b.th.pc[u], FaultKind::Deadlock { message })
            });
        }
    }
    Ok(())
}

/// Thread `t` reached `shfl.sync`: check its mask, and exchange if every member is there.
pub(crate) fn arrive(b: &mut BlockRun<'_, '_>, t: usize) -> Result<(), SimError> {
    let pc = b.th.pc[t];
    let mask = mask_of(b, t)?;
    let lane = t % 32;
    let base = t - lane;
    if mask & (1 << lane) == 0 {
        return Err(shuffle_error(b, t, format!("lane {lane} is not in its own membermask {mask:#010x}")));
    }
    let mut all_here = true;
    for l in lanes(mask) {
        let u = base + l;
        if u >= b.state.len() {
            let message =
                format!("membermask {mask:#010x} names lane {l}, which does not exist in this block");
            return Err(shuffle_error(b, t, message));
        }
        match b.state[u] {
            State::Exit => {
                return Err(shuffle_error(
                    b,
                    t,
                    format!("membermask {mask:#010x} names lane {l}, which has exited"),
                ));
            }
            State::Bar => {
                let line = b.cx.entry.lines[b.th.pc[u] as usize];
                let message = format!("lane {l} of the membermask waits at bar.sync (line {line})");
                return Err(b.fault(t, pc, FaultKind::Deadlock { message }));
            }
            State::Run => all_here = false,
            State::Shfl => {
                if b.th.pc[u] != pc {
                    let line = b.cx.entry.lines[b.th.pc[u] as usize];
                    let message =
                        format!("lane {l} of the membermask waits at another shfl.sync (line {line})");
                    return Err(shuffle_error(b, t, message));
                }
                let other = mask_of(b, u)?;
                if other != mask {
                    let message = format!("lane {l} uses membermask {other:#010x}, this lane {mask:#010x}");
                    return Err(shuffle_error(b, t, message));
                }
            }
        }
    }
    if all_here { exchange(b, base, mask, pc) } else { Ok(()) }
}

/// Every member waits at the `shfl.sync` at `pc`: compute all results, then write them.
fn exchange(b: &mut BlockRun<'_, '_>, base: usize, mask: u32, pc: u32) -> Result<(), SimError> {
    let entry = b.cx.entry;
    let Op::Shfl { mode, d, p, a, b: b_reg, c, .. } = entry.code[pc as usize].op else {
        unreachable!("exchange runs on a shfl.sync")
    };
    let mut results = [(0usize, 0u64, false); 32];
    let mut n = 0;
    for l in lanes(mask) {
        let u = base + l;
        let get = |reg| b.th.get(entry, u, reg).map_err(|k| b.fault(u, pc, k));
        let bval = get(b_reg)? as u32 & 0x1F;
        let cval = get(c)? as u32;
        let segmask = (cval >> 8) & 0x1F;
        let max_lane = ((l as u32 & segmask) | (cval & 0x1F & !segmask)) as i64;
        let min_lane = l as u32 & segmask;
        let (j, in_range) = match mode {
            ShflMode::Up => {
                let j = l as i64 - bval as i64;
                (j, j >= max_lane)
            }
            ShflMode::Down => {
                let j = l as i64 + bval as i64;
                (j, j <= max_lane)
            }
            ShflMode::Bfly => {
                let j = (l as u32 ^ bval) as i64;
                (j, j <= max_lane)
            }
            ShflMode::Idx => {
                let j = (min_lane | (bval & !segmask)) as i64;
                (j, j <= max_lane)
            }
        };
        let src = if in_range { j as usize } else { l };
        if mask & (1 << src) == 0 {
            let message = format!("lane {l} reads lane {src}, which is not in the membermask {mask:#010x}");
            return Err(b.fault(u, pc, FaultKind::Shuffle { message }));
        }
        let value = b.th.get(entry, base + src, a).map_err(|k| b.fault(base + src, pc, k))?;
        results[n] = (u, value, in_range);
        n += 1;
    }
    for &(u, value, in_range) in &results[..n] {
        b.th.set(u, d, value);
        if p != NO_REG {
            b.th.set(u, p, in_range as u64);
        }
        b.th.pc[u] += 1;
        b.state[u] = State::Run;
        b.runnable.push(u as u32);
    }
    b.stats.shuffles += 1;
    Ok(())
}
