//! Optional parallelism for the forward pass, behind a tiny trait so the core stays
//! `no_std`: the std shell plugs in a thread pool (`threads::Pool`), firmware runs
//! serially. Work is split by output rows (decode) or by tokens (prefill) for the matrix
//! products, and by heads for attention; every split computes exactly what the serial code
//! computes, so results do not depend on the thread count.

// Panic-free core: see "Panics" in the crate docs (src/lib.rs).
/// Runs independent jobs, possibly concurrently.
pub trait Parallel: Sync {
    /// How many jobs may run at once (1 = serial).
    fn threads(&self) -> usize;
    /// Calls `f(i)` once for every `i < n`, possibly concurrently; returns when all are done.
    fn for_each(&self, n: usize, f: &(dyn Fn(usize) + Sync));
}

/// Runs everything on the calling thread.
#[derive(Debug, Clone, Copy, Default)]
pub struct Serial;

impl Parallel for Serial {
    fn threads(&self) -> usize {
        1
    }
    fn for_each(&self, n: usize, f: &(dyn Fn(usize) + Sync)) {
        for i in 0..n {
            f(i);
        }
    }
}

/// A raw mutable slice that parallel jobs write disjoint parts of.
#[derive(Clone, Copy)]
pub(crate) struct SharedMut<T> {
    ptr: *mut T,
    len: usize,
}

// SAFETY: SharedMut only hands out sub-slices through `slice`, whose callers guarantee that
// concurrent jobs use disjoint ranges; T itself is Send (f32/i8 here).
unsafe impl<T: Send> Send for SharedMut<T> {}
// SAFETY: as above: shared access is only ever to disjoint ranges.
unsafe impl<T: Send> Sync for SharedMut<T> {}

impl<T> SharedMut<T> {
    pub(crate) fn new(s: &mut [T]) -> Self {
        SharedMut { ptr: s.as_mut_ptr(), len: s.len() }
    }

    /// The sub-slice `lo..hi`.
    ///
    /// # Safety
    /// `lo <= hi <= len`, the original slice must outlive the use, and no two concurrent
    /// callers may use overlapping ranges.
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn slice(&self, lo: usize, hi: usize) -> &mut [T] {
        assert!(lo <= hi && hi <= self.len);
        // SAFETY: in bounds (asserted); exclusivity and lifetime are the caller's contract.
        unsafe { core::slice::from_raw_parts_mut(self.ptr.add(lo), hi - lo) }
    }
}
