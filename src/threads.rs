//! A thread pool for [`Parallel`](crate::parallel::Parallel) (std): rayon's pool, sized once.

use crate::parallel::Parallel;

/// A fixed-size pool of worker threads.
pub struct Pool {
    pool: rayon::ThreadPool,
    n: usize,
}

impl Pool {
    /// A pool of `n` threads (`n` ≥ 1; 1 runs jobs on the caller).
    ///
    /// # Errors
    /// If the operating system refuses to start the threads.
    pub fn new(n: usize) -> Result<Self, rayon::ThreadPoolBuildError> {
        let n = n.max(1);
        let pool = rayon::ThreadPoolBuilder::new().num_threads(n).thread_name(|i| std::format!("tinygpt-{i}")).build()?;
        Ok(Pool { pool, n })
    }

    /// The number of threads the machine offers (at least 1).
    pub fn available() -> usize {
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
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
        self.pool.scope(|s| {
            for i in 1..n {
                s.spawn(move |_| f(i));
            }
            f(0);
        });
    }
}
