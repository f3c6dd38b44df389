//! A thread pool for [`Parallel`](crate::parallel::Parallel) (std), built for the forward
//! pass's rhythm: dozens of short parallel sections per token (every matrix product, every
//! attention layer), each a few microseconds to a few hundred.
//!
//! Why not rayon (which this used before): a `rayon::scope` with one spawned job costs a
//! wake-up of a sleeping worker through the kernel (futex) on most calls, several
//! microseconds each, tens of times per token. Measured on the 2-core build VM
//! (2026-11-29, quiet, `tinygpt bench`, stories15M shape, 128 tokens): with rayon, 2 threads
//! decoded no faster than 1 (924–1,157 vs 953–1,148 tok/s); with this pool 1,647–1,695.
//! Here each worker has its own mailbox and spins on it for a while (up to [`SPIN`],
//! yielding to the OS after the first few thousand spins) before parking, so a section
//! costs about two cache-line handoffs when the pool is busy; idle workers park and cost
//! nothing. The price: on a machine with more runnable threads than cores, spinning
//! competes with the other work (measured there: 200–320 tok/s with 2 threads against
//! rayon's 460–520); pass `--threads 1` on a busy machine.
//!
//! Protocol (per worker `w`, `T` threads in all): the caller writes the job (a pointer to
//! the closure and `n`) into `w`'s mailbox, then publishes a new epoch number (release);
//! the worker, seeing the epoch change (acquire), runs items `i ≡ w + 1 (mod T)` and
//! stores the epoch into its `done` word (release). The caller runs items `i ≡ 0` itself,
//! then waits until every worker's `done` equals the epoch (acquire). A worker reads the
//! job only between the caller's publish and its own `done` store, and the caller returns
//! only after every `done`: so the closure, borrowed for the call only, is never used after
//! `for_each` returns. A panic inside a job is caught in the worker and resumed on the
//! caller after all workers are done.

use std::any::Any;
use std::boxed::Box;
use std::cell::UnsafeCell;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::*};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle, Thread};
use std::time::{Duration, Instant};
use std::vec::Vec;

use crate::parallel::Parallel;

/// How long an idle worker spins on its mailbox before parking.
const SPIN: Duration = Duration::from_millis(2);

type Job = *const (dyn Fn(usize) + Sync + 'static);

/// One worker's mailbox, on its own cache lines.
#[repr(align(128))]
struct Mailbox {
    /// Epoch of the last job posted (0: none yet; `u64::MAX`: shut down).
    epoch: AtomicU64,
    /// Epoch of the last job this worker finished.
    done: AtomicU64,
    /// Whether the worker is parked (or about to park) and needs an unpark.
    sleeping: AtomicBool,
    /// The job: written by the caller before publishing `epoch`, read by the worker after.
    job: UnsafeCell<(Job, usize)>,
    /// A panic payload from the last job, if any.
    panic: Mutex<Option<Box<dyn Any + Send>>>,
}

// SAFETY: `job` is written only by the (single) caller of `for_each` while the worker is
// idle (its `done` equals the last posted epoch) and read only by the worker between the
// publish (release/acquire on `epoch`) and its `done` store; the other fields are atomics
// and a mutex.
unsafe impl Sync for Mailbox {}
// SAFETY: as above; the raw job pointer is only dereferenced under that protocol.
unsafe impl Send for Mailbox {}

fn noop(_: usize) {}

/// Busy-waiting step: a pause instruction for the first spins, then a yield to the OS
/// scheduler (on a machine with more runnable threads than cores, pure spinning would keep
/// the thread being waited for off the CPU).
#[inline]
fn backoff(spins: u32) {
    if spins < 2048 {
        std::hint::spin_loop();
    } else {
        thread::yield_now();
    }
}

/// A fixed-size pool of worker threads (the caller counts as one: `n` threads start `n - 1`
/// workers).
pub struct Pool {
    n: usize,
    boxes: Vec<Arc<Mailbox>>,
    threads: Vec<Thread>,
    handles: Vec<JoinHandle<()>>,
    /// Serializes `for_each` calls from several threads (the protocol has one caller).
    caller: Mutex<u64>,
}

impl Pool {
    /// A pool of `n` threads (`n` ≥ 1; 1 runs jobs on the caller).
    ///
    /// # Errors
    /// If the operating system refuses to start the threads.
    pub fn new(n: usize) -> std::io::Result<Self> {
        let n = n.max(1);
        let mut pool = Pool { n, boxes: Vec::new(), threads: Vec::new(), handles: Vec::new(), caller: Mutex::new(0) };
        for w in 1..n {
            let mb = Arc::new(Mailbox {
                epoch: AtomicU64::new(0),
                done: AtomicU64::new(0),
                sleeping: AtomicBool::new(false),
                job: UnsafeCell::new((&noop as &(dyn Fn(usize) + Sync) as Job, 0)),
                panic: Mutex::new(None),
            });
            let mine = Arc::clone(&mb);
            // on error, the Drop of `pool` stops the workers already started
            let h = thread::Builder::new().name(std::format!("tinygpt-{w}")).spawn(move || worker(&mine, w, n))?;
            pool.threads.push(h.thread().clone());
            pool.handles.push(h);
            pool.boxes.push(mb);
        }
        Ok(pool)
    }

    /// The number of threads the machine offers (at least 1).
    pub fn available() -> usize {
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
    }

    fn post(&self, w: usize, epoch: u64) {
        let mb = &self.boxes[w];
        mb.epoch.store(epoch, SeqCst);
        if mb.sleeping.load(SeqCst) {
            self.threads[w].unpark();
        }
    }
}

fn worker(mb: &Mailbox, w: usize, n: usize) {
    let mut seen = 0u64;
    loop {
        // wait for a new epoch: spin, then park
        let start = Instant::now();
        let mut spins = 0u32;
        let epoch = loop {
            let e = mb.epoch.load(Acquire);
            if e != seen {
                break e;
            }
            spins = spins.wrapping_add(1);
            if spins.is_multiple_of(256) && start.elapsed() > SPIN {
                mb.sleeping.store(true, SeqCst);
                if mb.epoch.load(SeqCst) == seen {
                    thread::park();
                }
                mb.sleeping.store(false, SeqCst);
            } else {
                backoff(spins);
            }
        };
        if epoch == u64::MAX {
            return;
        }
        seen = epoch;
        // SAFETY: the caller wrote `job` before publishing this epoch (acquire above) and
        // keeps the closure alive until our `done` store below (see the module docs).
        let (f, count) = unsafe { *mb.job.get() };
        // SAFETY: as above: the pointer is valid for the duration of this job.
        let f = unsafe { &*f };
        let r = catch_unwind(AssertUnwindSafe(|| {
            let mut i = w;
            while i < count {
                f(i);
                i += n;
            }
        }));
        if let Err(p) = r {
            if let Ok(mut slot) = mb.panic.lock() {
                *slot = Some(p);
            }
        }
        mb.done.store(epoch, Release);
    }
}

impl Parallel for Pool {
    fn threads(&self) -> usize {
        self.n
    }

    fn for_each(&self, n: usize, f: &(dyn Fn(usize) + Sync)) {
        if self.n == 1 || n <= 1 {
            for i in 0..n {
                f(i);
            }
            return;
        }
        let mut guard = self.caller.lock().unwrap_or_else(|e| e.into_inner());
        *guard += 1;
        let epoch = *guard;
        // SAFETY: only the lifetime is erased; `for_each` does not return before every
        // worker has stored `done == epoch`, after which none touches `f` (module docs).
        let job: Job = unsafe { std::mem::transmute::<&(dyn Fn(usize) + Sync), Job>(f) };
        let used = (n - 1).min(self.boxes.len()); // workers with at least one item
        for (w, mb) in self.boxes.iter().enumerate().take(used) {
            // SAFETY: worker w is idle (its done equals the previous epoch it was given, or
            // it was never given one), so nobody reads `job` now.
            unsafe { *mb.job.get() = (job, n) };
            self.post(w, epoch);
        }
        let caught = catch_unwind(AssertUnwindSafe(|| {
            let mut i = 0;
            while i < n {
                f(i);
                i += self.n;
            }
        }));
        let mut worker_panic = None;
        for mb in self.boxes.iter().take(used) {
            let mut spins = 0u32;
            while mb.done.load(Acquire) != epoch {
                spins = spins.wrapping_add(1);
                backoff(spins);
            }
            if let Ok(mut slot) = mb.panic.lock() {
                worker_panic = worker_panic.or(slot.take());
            }
        }
        drop(guard);
        if let Err(p) = caught {
            resume_unwind(p);
        }
        if let Some(p) = worker_panic {
            resume_unwind(p);
        }
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        for w in 0..self.boxes.len() {
            self.post(w, u64::MAX);
        }
        for h in self.handles.drain(..) {
            let _ = h.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn every_index_runs_exactly_once() {
        for threads in 1..=4 {
            let pool = Pool::new(threads).unwrap();
            for round in 0..2000 {
                let n = round % 11;
                let hits: Vec<AtomicUsize> = (0..n).map(|_| AtomicUsize::new(0)).collect();
                pool.for_each(n, &|i| {
                    hits[i].fetch_add(1, SeqCst);
                });
                assert!(hits.iter().all(|h| h.load(SeqCst) == 1), "threads {threads} n {n}");
            }
        }
    }

    #[test]
    fn works_after_idle_parking_and_from_several_callers() {
        let pool = Arc::new(Pool::new(3).unwrap());
        let sum = AtomicUsize::new(0);
        pool.for_each(5, &|i| {
            sum.fetch_add(i, SeqCst);
        });
        thread::sleep(SPIN * 3); // workers park
        pool.for_each(5, &|i| {
            sum.fetch_add(i, SeqCst);
        });
        assert_eq!(sum.load(SeqCst), 20);
        let callers: Vec<_> = (0..3)
            .map(|_| {
                let p = Arc::clone(&pool);
                thread::spawn(move || {
                    let total = AtomicUsize::new(0);
                    for _ in 0..300 {
                        p.for_each(7, &|i| {
                            total.fetch_add(i, SeqCst);
                        });
                    }
                    total.load(SeqCst)
                })
            })
            .collect();
        for c in callers {
            assert_eq!(c.join().unwrap(), 300 * 21);
        }
    }

    #[test]
    fn a_panicking_job_panics_the_caller_and_the_pool_survives() {
        let pool = Pool::new(2).unwrap();
        let r = catch_unwind(AssertUnwindSafe(|| pool.for_each(4, &|i| assert!(i != 3, "job 3"))));
        assert!(r.is_err());
        let v = [AtomicUsize::new(0), AtomicUsize::new(0)];
        pool.for_each(2, &|i| {
            v[i].fetch_add(1, SeqCst);
        });
        assert_eq!(v[1].load(SeqCst), 1);
    }
}
