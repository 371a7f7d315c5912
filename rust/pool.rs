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

/// A pool of exactly `threads` workers (`None`: one per available core).
pub fn thread_pool(threads: Option<usize>) -> CoreResult<Arc<ThreadPool>> {
    let threads = threads.unwrap_or_else(default_threads);
    if threads == 0 {
        return Err(CoreError::Argument("threads must be at least 1".into()));
    }
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
    fn zero_threads_is_an_error() {
        assert!(matches!(thread_pool(Some(0)), Err(CoreError::Argument(_))));
    }
}
