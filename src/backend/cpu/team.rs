//! The threads a training step's kernels are split across.
//!
//! A step runs dozens of kernels one after another, each split into a few
//! parts, and many last only tens of microseconds. A general-purpose pool
//! lets its idle threads sleep almost at once, and waking one costs about
//! 10 µs on a virtual machine: as much as the work it is woken for. A
//! team's workers instead spin for a while after each job (up to
//! `SPIN`, 300 µs), so the next kernel's parts start within a fraction of a
//! microsecond, and only then sleep until woken. Outside steps they sleep
//! and cost nothing.
//!
//! A job is a function of the part index, `0..parts`; the calling thread
//! takes parts too, and [`Team::run`] returns when every part has
//! finished. Thread `t` of `T` first claims parts `t`, `t + T`, ..., so
//! consecutive kernels split the same way touch the same data from the
//! same core, then any part still unclaimed: a thread slowed by another
//! process leaves its share to the others. What a part computes does not
//! depend on which thread runs it.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long an idle worker spins before it sleeps.
const SPIN: Duration = Duration::from_micros(300);

/// The claim word: the job's number (16 bits), its part count (6 bits)
/// and one bit per part claimed (42 bits).
const MASK_BITS: u32 = 42;
const COUNT_BITS: u32 = 6;
/// Parts a job is claimed in; a larger job runs several parts per claim.
const MAX_PARTS: usize = MASK_BITS as usize;

/// The job being run: its function, on the caller's stack.
struct Job<'a> {
    f: &'a (dyn Fn(usize) + Sync),
}

struct Shared {
    /// `(job number << 48) | (parts << 42) | claimed parts`: a part is
    /// claimed by setting its bit while the word still names the same job.
    claim: AtomicU64,
    /// The current job; read only by a thread that has claimed one of its
    /// parts, so the caller (waiting for that part) keeps it alive.
    job: AtomicPtr<Job<'static>>,
    /// Parts of the current job finished.
    done: AtomicUsize,
    /// A part of the current job panicked.
    panicked: AtomicBool,
    /// Workers asleep or about to sleep.
    sleepers: AtomicUsize,
    lock: Mutex<()>,
    wake: Condvar,
    stop: AtomicBool,
}

fn unpack(c: u64) -> (u64, usize, u64) {
    (
        c >> (MASK_BITS + COUNT_BITS),
        ((c >> MASK_BITS) & ((1 << COUNT_BITS) - 1)) as usize,
        c & ((1 << MASK_BITS) - 1),
    )
}

impl Shared {
    /// Claims and runs parts of the current job until none is left, its
    /// own (`me` of `threads`) first; returns whether it ran any.
    fn work(&self, me: usize, threads: usize) -> bool {
        let mut ran = false;
        loop {
            let c = self.claim.load(Ordering::Acquire);
            let (_, parts, taken) = unpack(c);
            let free = |p: usize| taken & (1 << p) == 0;
            let Some(p) =
                (me..parts).step_by(threads).find(|&p| free(p)).or_else(|| (0..parts).find(|&p| free(p)))
            else {
                return ran;
            };
            if self.claim.compare_exchange_weak(c, c | (1 << p), Ordering::AcqRel, Ordering::Relaxed).is_err()
            {
                continue;
            }
            // SAFETY: part `p` of this job is claimed and not finished, so
            // the caller is still waiting in `run` and the job is alive.
            let job = unsafe { &*self.job.load(Ordering::Acquire) };
            if catch_unwind(AssertUnwindSafe(|| (job.f)(p))).is_err() {
                self.panicked.store(true, Ordering::Relaxed);
            }
            self.done.fetch_add(1, Ordering::AcqRel);
            ran = true;
        }
    }

    fn has_work(&self) -> bool {
        let (_, parts, taken) = unpack(self.claim.load(Ordering::SeqCst));
        taken.count_ones() < parts as u32
    }

    fn worker(&self, me: usize, threads: usize) {
        let mut idle_since = Instant::now();
        let mut spins = 0u32;
        loop {
            if self.work(me, threads) {
                idle_since = Instant::now();
                spins = 0;
                continue;
            }
            if self.stop.load(Ordering::Acquire) {
                return;
            }
            spins = spins.wrapping_add(1);
            if !spins.is_multiple_of(64) || idle_since.elapsed() < SPIN {
                std::hint::spin_loop();
                continue;
            }
            // Sleep until a job is published (checked under the lock the
            // publisher takes to wake sleepers, so no wake-up is lost).
            self.sleepers.fetch_add(1, Ordering::SeqCst);
            let mut guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
            while !self.has_work() && !self.stop.load(Ordering::SeqCst) {
                guard = self.wake.wait(guard).unwrap_or_else(|e| e.into_inner());
            }
            drop(guard);
            self.sleepers.fetch_sub(1, Ordering::SeqCst);
            idle_since = Instant::now();
        }
    }
}

/// A fixed set of threads that run jobs with the calling thread.
pub struct Team {
    shared: Arc<Shared>,
    workers: Vec<JoinHandle<()>>,
    /// The calling thread is inside `run` (jobs do not nest).
    busy: AtomicBool,
}

impl Team {
    /// A team of `threads` threads in all: the caller and `threads - 1`
    /// workers.
    pub fn new(threads: usize) -> Team {
        let shared = Arc::new(Shared {
            claim: AtomicU64::new(0),
            job: AtomicPtr::new(std::ptr::null_mut()),
            done: AtomicUsize::new(0),
            panicked: AtomicBool::new(false),
            sleepers: AtomicUsize::new(0),
            lock: Mutex::new(()),
            wake: Condvar::new(),
            stop: AtomicBool::new(false),
        });
        let threads = threads.max(1);
        let workers = (1..threads)
            .filter_map(|i| {
                let s = Arc::clone(&shared);
                std::thread::Builder::new()
                    .name(format!("nnc-cpu-{i}"))
                    .spawn(move || s.worker(i, threads))
                    .ok()
            })
            .collect();
        Team { shared, workers, busy: AtomicBool::new(false) }
    }

    /// Threads in the team, the caller included.
    pub fn threads(&self) -> usize {
        self.workers.len() + 1
    }

    /// Runs `f(0)`, ..., `f(parts - 1)` across the team and returns when
    /// all have finished. A job started from inside another (or from two
    /// threads at once) runs on the calling thread alone.
    ///
    /// # Panics
    /// When a part panicked, after every part has finished.
    pub fn run(&self, parts: usize, f: &(dyn Fn(usize) + Sync)) {
        if parts > MAX_PARTS {
            // Claim q runs parts q, q + MAX_PARTS, ...
            return self.run(MAX_PARTS, &|q| (q..parts).step_by(MAX_PARTS).for_each(f));
        }
        if parts <= 1 || self.workers.is_empty() || self.busy.swap(true, Ordering::Acquire) {
            (0..parts).for_each(f);
            return;
        }
        let s = &*self.shared;
        let job = Job { f };
        // SAFETY: only the lifetime is erased; the job outlives every use,
        // since workers touch it only while one of its parts is unfinished
        // and this function waits for all of them.
        let ptr = unsafe { std::mem::transmute::<*const Job<'_>, *mut Job<'static>>(&job) };
        s.job.store(ptr, Ordering::Release);
        s.done.store(0, Ordering::Release);
        let (number, _, _) = unpack(s.claim.load(Ordering::Relaxed));
        let number = (number + 1) & ((1 << (64 - MASK_BITS - COUNT_BITS)) - 1);
        s.claim.store((number << (MASK_BITS + COUNT_BITS)) | ((parts as u64) << MASK_BITS), Ordering::SeqCst);
        if s.sleepers.load(Ordering::SeqCst) > 0 {
            let _guard = s.lock.lock().unwrap_or_else(|e| e.into_inner());
            s.wake.notify_all();
        }
        s.work(0, self.threads());
        while s.done.load(Ordering::Acquire) < parts {
            std::hint::spin_loop();
        }
        self.busy.store(false, Ordering::Release);
        if s.panicked.swap(false, Ordering::Relaxed) {
            panic!("a part of a parallel kernel panicked");
        }
    }
}

impl Drop for Team {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        {
            let _guard = self.shared.lock.lock().unwrap_or_else(|e| e.into_inner());
            self.shared.wake.notify_all();
        }
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_part_runs_once_across_many_jobs() {
        let team = Team::new(3);
        for parts in [0, 1, 2, 3, 7, 42, 43, 100] {
            for round in 0..200 {
                let hits: Vec<AtomicUsize> = (0..parts).map(|_| AtomicUsize::new(0)).collect();
                team.run(parts, &|i| {
                    hits[i].fetch_add(1, Ordering::Relaxed);
                });
                assert!(hits.iter().all(|h| h.load(Ordering::Relaxed) == 1), "parts {parts}, round {round}");
            }
        }
    }

    #[test]
    fn sleeping_workers_wake_for_the_next_job() {
        let team = Team::new(2);
        std::thread::sleep(SPIN * 4);
        let hits = AtomicUsize::new(0);
        team.run(4, &|_| {
            hits.fetch_add(1, Ordering::Relaxed);
        });
        assert_eq!(hits.load(Ordering::Relaxed), 4);
    }

    #[test]
    fn nested_jobs_run_on_the_caller() {
        let team = Team::new(2);
        let hits = AtomicUsize::new(0);
        team.run(2, &|_| {
            team.run(3, &|_| {
                hits.fetch_add(1, Ordering::Relaxed);
            });
        });
        assert_eq!(hits.load(Ordering::Relaxed), 6);
    }

    #[test]
    fn a_panicking_part_is_reported_after_the_others_finish() {
        let team = Team::new(2);
        let hits = AtomicUsize::new(0);
        let r = catch_unwind(AssertUnwindSafe(|| {
            team.run(8, &|i| {
                hits.fetch_add(1, Ordering::Relaxed);
                assert!(i != 5, "part five fails");
            })
        }));
        assert!(r.is_err());
        assert_eq!(hits.load(Ordering::Relaxed), 8);
        // The team still works.
        team.run(2, &|_| {
            hits.fetch_add(1, Ordering::Relaxed);
        });
        assert_eq!(hits.load(Ordering::Relaxed), 10);
    }
}
