//! Cached rayon thread pools, one per requested thread count, so repeated calls
//! with `threads=N` do not pay for spawning threads. The global rayon pool is
//! never resized.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use rayon::{ThreadPool, ThreadPoolBuilder};

use crate::error::{CoreError, CoreResult};

static POOLS: OnceLock<Mutex<HashMap<usize, Arc<ThreadPool>>>> = OnceLock::new();

/// The number of threads used when the caller does not choose.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Most threads a kernel or a job may ask for: beyond a few per core they only cost
/// time (1,024 threads make a 0.6 s build take 10 s on 2 cores), and thousands
/// exhaust the process's memory for stacks.
pub const MAX_THREADS: usize = 256;

/// The one rule for a thread count, of a kernel or of a whole job: 1 to
/// [`MAX_THREADS`]. Signed, so that a negative count is this error too (not an
/// overflow while converting it).
pub fn check_threads(threads: i64) -> CoreResult<usize> {
    usize::try_from(threads)
        .ok()
        .filter(|n| (1..=MAX_THREADS).contains(n))
        .ok_or_else(|| {
            CoreError::Argument(format!(
                "threads must be from 1 to {MAX_THREADS}, got {threads}"
            ))
        })
}

/// A pool of exactly `threads` workers (`None`: one per available core), checked
/// by [`check_threads`].
pub fn thread_pool(threads: Option<i64>) -> CoreResult<Arc<ThreadPool>> {
    let threads = match threads {
        Some(n) => check_threads(n)?,
        None => default_threads(),
    };
    let pools = POOLS.get_or_init(|| Mutex::new(HashMap::new()));
    // A poisoned lock only means another thread panicked while inserting; the
    // map itself is still a valid cache.
    let mut pools = pools
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(pool) = pools.get(&threads) {
        return Ok(Arc::clone(pool));
    }
    let pool = ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("mosaicfast-{i}"))
        .build()
        .map_err(|e| CoreError::ThreadPool {
            threads,
            reason: e.to_string(),
        })?;
    let pool = Arc::new(pool);
    pools.insert(threads, Arc::clone(&pool));
    Ok(pool)
}

/// Returns the allocator's free memory to the system (glibc on Linux; elsewhere
/// nothing). glibc gives each thread that allocates while another does an arena of
/// its own, and memory freed there stays there: the arrays the pool's workers
/// return are freed later by Python's thread, and the next step's allocations
/// on the main thread cannot use that memory. Between the matcher's large steps
/// the process then held up to 1.5x its live data (a quarter-million-cell build
/// peaked at 419-604 MB, 418 MB with a single arena); giving the free pages back
/// costs about 10 ms there.
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        extern "C" {
            fn malloc_trim(pad: usize) -> std::ffi::c_int;
        }
        // SAFETY: `malloc_trim` (glibc, declared in <malloc.h> as
        // `int malloc_trim(size_t pad)`) takes no pointer, locks each arena
        // while it trims it, and may be called from any thread at any time.
        unsafe {
            malloc_trim(0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pools_are_cached_per_size() {
        let a = thread_pool(Some(2)).unwrap();
        let b = thread_pool(Some(2)).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(a.current_num_threads(), 2);
        assert_eq!(thread_pool(Some(1)).unwrap().current_num_threads(), 1);
    }

    #[test]
    fn threads_outside_1_to_256_are_an_error() {
        for threads in [0, -1, i64::MIN, 257, i64::MAX] {
            let err = thread_pool(Some(threads)).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("threads must be from 1 to 256, got {threads}")
            );
        }
        assert_eq!(check_threads(256).unwrap(), 256);
        assert_eq!(check_threads(1).unwrap(), 1);
    }
}
