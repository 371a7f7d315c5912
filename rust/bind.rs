//! What every wrapper in `lib.rs` shares: the one mapping of [`CoreError`] to
//! Python exceptions, borrowing NumPy arrays without copying them, the shape
//! checks that only the boundary can make (the pure functions take slices and
//! the dimensions they need), running work without the GIL on a cached pool
//! with panics caught, and turning results into NumPy arrays.
//!
//! Copies: none on the way in (a C-contiguous array is borrowed as a slice; any
//! other layout is refused here, the Python wrappers make it contiguous with
//! `np.ascontiguousarray`, which copies only when it is not). On the way out
//! each result `Vec` moves into its NumPy array without a copy.

use std::panic::{catch_unwind, AssertUnwindSafe};

use numpy::ndarray::{Array2, Array4, Dimension};
use numpy::{
    Element, IntoPyArray, PyArray2, PyArray4, PyReadonlyArray, PyReadonlyArray1, PyReadonlyArray2,
    PyReadwriteArray, PyUntypedArrayMethods,
};
use pyo3::exceptions::{PyKeyboardInterrupt, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::error::{CoreError, CoreResult};
use crate::{assign, optimal, pool, search};

/// The one place a [`CoreError`] becomes a Python exception.
impl From<CoreError> for PyErr {
    fn from(err: CoreError) -> PyErr {
        let message = err.to_string();
        match err {
            CoreError::Shape(_) | CoreError::Argument(_) => PyValueError::new_err(message),
            CoreError::Interrupted => PyKeyboardInterrupt::new_err(message),
            CoreError::ThreadPool { .. } | CoreError::Internal(_) => {
                PyRuntimeError::new_err(message)
            }
        }
    }
}

/// What a caught panic becomes.
fn panicked() -> CoreError {
    CoreError::Internal("a Rust panic was caught".into())
}

/// The elements of a C-contiguous array, borrowed (no copy).
pub fn slice<'a, T: Element, D: Dimension>(
    array: &'a PyReadonlyArray<'_, T, D>,
    what: &str,
) -> CoreResult<&'a [T]> {
    array
        .as_slice()
        .map_err(|_| CoreError::Shape(format!("{what} must be a C-contiguous array")))
}

/// [`slice`] of an optional array.
pub fn optional_slice<'a, T: Element, D: Dimension>(
    array: &'a Option<PyReadonlyArray<'_, T, D>>,
    what: &str,
) -> CoreResult<Option<&'a [T]>> {
    array.as_ref().map(|a| slice(a, what)).transpose()
}

/// The shape of `array`, whose last axis must hold 3 colour channels.
pub fn rgb_shape<const N: usize>(shape: &[usize], what: &str) -> CoreResult<[usize; N]> {
    let last = shape[shape.len() - 1];
    if last != 3 {
        return Err(CoreError::Shape(format!(
            "{what} must have 3 colour channels in the last axis, got {last}"
        )));
    }
    let mut dims = [0; N];
    dims.copy_from_slice(&shape[..N]);
    Ok(dims)
}

/// The values per descriptor of `cells`, which `tiles` must share.
pub fn descriptor_width(cells: &[usize], tiles: &[usize]) -> CoreResult<usize> {
    let dim = cells[1];
    if tiles[1] != dim {
        return Err(CoreError::Shape(format!(
            "cells have {dim} values per descriptor but tiles have {}",
            tiles[1]
        )));
    }
    Ok(dim)
}

/// Fails with a [`CoreError::Shape`] saying `message` unless `ok`.
pub fn require(ok: bool, message: impl FnOnce() -> String) -> CoreResult<()> {
    if ok {
        Ok(())
    } else {
        Err(CoreError::Shape(message()))
    }
}

/// `values` as a `(rows, cols)` NumPy array (moved, not copied).
pub fn array2<T: Element>(
    py: Python<'_>,
    values: Vec<T>,
    rows: usize,
    cols: usize,
) -> CoreResult<Bound<'_, PyArray2<T>>> {
    Array2::from_shape_vec((rows, cols), values)
        .map(|a| a.into_pyarray(py))
        .map_err(|e| CoreError::Internal(format!("result shape: {e}")))
}

/// `values` as a NumPy array of `shape` (moved, not copied).
pub fn array4<T: Element>(
    py: Python<'_>,
    values: Vec<T>,
    shape: [usize; 4],
) -> CoreResult<Bound<'_, PyArray4<T>>> {
    Array4::from_shape_vec(shape, values)
        .map(|a| a.into_pyarray(py))
        .map_err(|e| CoreError::Internal(format!("result shape: {e}")))
}

/// The ``(indices, distances)`` of a top-k search, both ``(m, k)`` ``int64``.
pub type TopKArrays<'py> = (Bound<'py, PyArray2<i64>>, Bound<'py, PyArray2<i64>>);

/// A top-k result as NumPy arrays.
pub fn topk_arrays(
    py: Python<'_>,
    found: search::TopK,
    m: usize,
    k: usize,
) -> CoreResult<TopKArrays<'_>> {
    Ok((
        array2(py, found.indices, m, k)?,
        array2(py, found.distances, m, k)?,
    ))
}

/// Runs `work` without the GIL on a pool of `threads` workers; a panic becomes
/// [`CoreError::Internal`].
pub fn run_detached<T: Send>(
    py: Python<'_>,
    threads: Option<i64>,
    work: impl FnOnce() -> CoreResult<T> + Send,
) -> CoreResult<T> {
    let pool = pool::thread_pool(threads)?;
    py.detach(|| catch_unwind(AssertUnwindSafe(|| pool.install(work))))
        .unwrap_or_else(|_| Err(panicked()))
}

/// [`run_detached`] for work that reports progress: the work runs on the pool
/// while this thread, which holds no rayon worker, passes each report to the
/// Python `callback` (with the GIL). An exception raised by the callback (e.g.
/// `KeyboardInterrupt` from a signal check) stops the work and is re-raised.
pub fn run_observed<T: Send>(
    py: Python<'_>,
    threads: Option<i64>,
    callback: Option<&Bound<'_, PyAny>>,
    work: impl FnOnce(&mut dyn optimal::Observer) -> CoreResult<T> + Send,
) -> PyResult<T> {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::mpsc;

    let pool = pool::thread_pool(threads)?;
    let callback: Option<Py<PyAny>> = callback.map(|c| c.clone().unbind());
    let stop = AtomicBool::new(false);
    let (sender, receiver) = mpsc::sync_channel::<optimal::Progress>(1);
    let (outcome, raised) = py.detach(move || {
        std::thread::scope(|scope| {
            let worker = scope.spawn(|| {
                let mut observer = |progress: &optimal::Progress| {
                    // A closed channel means nobody listens any more: go on.
                    let _ = sender.send(progress.clone());
                    !stop.load(Ordering::Relaxed)
                };
                let result =
                    catch_unwind(AssertUnwindSafe(|| pool.install(|| work(&mut observer))));
                drop(sender);
                result
            });
            let mut raised: Option<PyErr> = None;
            for progress in receiver.iter() {
                let Some(callback) = callback.as_ref().filter(|_| raised.is_none()) else {
                    continue;
                };
                Python::attach(|py| {
                    let report = progress_dict(py, &progress)
                        .and_then(|dict| callback.bind(py).call1((dict,)).map(drop))
                        .and_then(|()| py.check_signals());
                    if let Err(err) = report {
                        stop.store(true, Ordering::Relaxed);
                        raised = Some(err);
                    }
                });
            }
            (worker.join(), raised)
        })
    });
    if let Some(err) = raised {
        return Err(err);
    }
    match outcome {
        Ok(Ok(result)) => Ok(result?),
        _ => Err(panicked().into()),
    }
}

/// A progress report as a Python dict.
pub fn progress_dict<'py>(
    py: Python<'py>,
    progress: &optimal::Progress,
) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    dict.set_item("stage", progress.stage)?;
    dict.set_item("phase", progress.phase)?;
    dict.set_item("phases", progress.phases)?;
    dict.set_item("checks", progress.checks)?;
    dict.set_item("unassigned", progress.unassigned)?;
    dict.set_item("bids", progress.bids)?;
    dict.set_item("reverse_bids", progress.reverse_bids)?;
    dict.set_item("repriced", progress.repriced)?;
    dict.set_item("passes", progress.passes)?;
    dict.set_item("pairs_added", progress.pairs_added)?;
    dict.set_item("improved", progress.improved)?;
    dict.set_item("retreats", progress.retreats)?;
    Ok(dict)
}

/// The elements of a writable C-contiguous array, borrowed (no copy).
pub fn slice_mut<'a, T: Element, D: Dimension>(
    array: &'a mut PyReadwriteArray<'_, T, D>,
    what: &str,
) -> CoreResult<&'a mut [T]> {
    array
        .as_slice_mut()
        .map_err(|_| CoreError::Shape(format!("{what} must be a C-contiguous array")))
}

/// Borrows ``cand``/``cost`` as candidate lists of ``n_tiles`` tiles.
pub fn candidate_lists<'a>(
    cand: &'a PyReadonlyArray2<'_, i64>,
    cost: &'a PyReadonlyArray2<'_, f64>,
    n_tiles: usize,
) -> CoreResult<assign::Candidates<'a>> {
    require(cand.shape() == cost.shape(), || {
        format!(
            "cand and cost must have the same shape, got {:?} and {:?}",
            cand.shape(),
            cost.shape()
        )
    })?;
    Ok(assign::Candidates {
        tiles: slice(cand, "cand")?,
        costs: slice(cost, "cost")?,
        k: cand.shape()[1],
        n_tiles,
    })
}

/// The greedy's rules (which the local improvement keeps) from its arguments.
pub fn greedy_options<'a>(
    penalty: f64,
    grid: (usize, usize),
    max_uses: Option<usize>,
    min_distance: usize,
    weights: &'a Option<PyReadonlyArray1<'_, u32>>,
    neighbours: &'a Option<(PyReadonlyArray1<'_, i64>, PyReadonlyArray1<'_, i64>)>,
) -> CoreResult<assign::GreedyOptions<'a>> {
    let neighbours = match neighbours {
        Some((offsets, cells)) => Some(assign::Neighbours {
            offsets: slice(offsets, "neighbour offsets")?,
            cells: slice(cells, "neighbours")?,
        }),
        None => None,
    };
    Ok(assign::GreedyOptions {
        penalty,
        max_uses,
        min_distance,
        grid,
        weights: optional_slice(weights, "weights")?.unwrap_or(&[]),
        neighbours,
    })
}
