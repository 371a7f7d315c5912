//! `mosaicfast._core`: the Python-facing wrappers of the Rust core.
//!
//! Each wrapper borrows its NumPy arrays (no copy), releases the GIL, runs the
//! pure-Rust function on a cached rayon pool of the requested size and turns
//! the one error type into a Python exception. A panic is caught before it can
//! reach Python.

pub mod descriptors;
pub mod error;
pub mod kernels;
pub mod pool;
pub mod search;

use std::panic::{catch_unwind, AssertUnwindSafe};

use numpy::ndarray::Array2;
use numpy::{
    IntoPyArray, PyArray2, PyReadonlyArray2, PyReadonlyArray3, PyReadonlyArray4,
    PyUntypedArrayMethods,
};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;

use crate::error::{CoreError, CoreResult};

fn to_py_err(err: CoreError) -> PyErr {
    match err {
        CoreError::ThreadPool { .. } => PyRuntimeError::new_err(err.to_string()),
        CoreError::Shape(_) | CoreError::Argument(_) => PyValueError::new_err(err.to_string()),
    }
}

/// Runs `work` without the GIL on a pool of `threads` workers.
fn run_detached<T: Send>(
    py: Python<'_>,
    threads: Option<usize>,
    work: impl FnOnce() -> CoreResult<T> + Send,
) -> PyResult<T> {
    let pool = pool::thread_pool(threads).map_err(to_py_err)?;
    let outcome = py.detach(|| catch_unwind(AssertUnwindSafe(|| pool.install(work))));
    match outcome {
        Ok(result) => result.map_err(to_py_err),
        Err(_) => Err(PyRuntimeError::new_err(
            "internal error in the mosaicfast core (a Rust panic was caught); please report it",
        )),
    }
}

fn contiguous<'a, T>(slice: Option<&'a [T]>, what: &str) -> PyResult<&'a [T]> {
    slice.ok_or_else(|| PyValueError::new_err(format!("{what} must be a C-contiguous array")))
}

fn to_array2<T>(values: Vec<T>, rows: usize, cols: usize) -> PyResult<Array2<T>> {
    Array2::from_shape_vec((rows, cols), values)
        .map_err(|e| PyRuntimeError::new_err(format!("internal shape error: {e}")))
}

/// Colour-grid descriptors of a stack of tiles.
///
/// Parameters
/// ----------
/// tiles : numpy.ndarray
///     ``(n, height, width, 3)`` ``uint8`` sRGB pixels, C-contiguous.
/// grid : int
///     Match resolution ``g`` (1 to 16).
/// threads : int, optional
///     Worker threads (default: one per core).
///
/// Returns
/// -------
/// numpy.ndarray
///     ``(n, 3*g*g)`` ``int16`` quantised CIELAB values (see docs/descriptors.md).
#[pyfunction]
#[pyo3(signature = (tiles, grid, *, threads=None))]
fn tile_descriptors<'py>(
    py: Python<'py>,
    tiles: PyReadonlyArray4<'py, u8>,
    grid: usize,
    threads: Option<usize>,
) -> PyResult<Bound<'py, PyArray2<i16>>> {
    let shape = tiles.shape();
    if shape[3] != 3 {
        return Err(PyValueError::new_err(format!(
            "tiles must have 3 colour channels in the last axis, got {}",
            shape[3]
        )));
    }
    let dims = [shape[0], shape[1], shape[2]];
    let pixels = contiguous(tiles.as_slice().ok(), "tiles")?;
    let out = run_detached(py, threads, || {
        descriptors::tile_descriptors(pixels, dims, grid)
    })?;
    Ok(to_array2(out, dims[0], 3 * grid * grid)?.into_pyarray(py))
}

/// Colour-grid descriptors of the ``rows x cols`` cells of an image.
///
/// Parameters
/// ----------
/// image : numpy.ndarray
///     ``(height, width, 3)`` ``uint8`` sRGB pixels, C-contiguous.
/// rows, cols : int
///     The cell grid; cells are listed row-major.
/// grid : int
///     Match resolution ``g`` (1 to 16).
/// threads : int, optional
///     Worker threads (default: one per core).
///
/// Returns
/// -------
/// numpy.ndarray
///     ``(rows*cols, 3*g*g)`` ``int16`` descriptors.
#[pyfunction]
#[pyo3(signature = (image, rows, cols, grid, *, threads=None))]
fn cell_descriptors<'py>(
    py: Python<'py>,
    image: PyReadonlyArray3<'py, u8>,
    rows: usize,
    cols: usize,
    grid: usize,
    threads: Option<usize>,
) -> PyResult<Bound<'py, PyArray2<i16>>> {
    let shape = image.shape();
    if shape[2] != 3 {
        return Err(PyValueError::new_err(format!(
            "image must have 3 colour channels in the last axis, got {}",
            shape[2]
        )));
    }
    let dims = [shape[0], shape[1]];
    let pixels = contiguous(image.as_slice().ok(), "image")?;
    let out = run_detached(py, threads, || {
        descriptors::cell_descriptors(pixels, dims, [rows, cols], grid)
    })?;
    Ok(to_array2(out, rows * cols, 3 * grid * grid)?.into_pyarray(py))
}

/// Exhaustive top-k search of every cell descriptor against every tile.
///
/// Parameters
/// ----------
/// cells : numpy.ndarray
///     ``(m, d)`` ``int16`` descriptors, C-contiguous.
/// tiles : numpy.ndarray
///     ``(n, d)`` ``int16`` descriptors, C-contiguous.
/// k : int
///     Matches per cell, ``1 <= k <= n``.
/// threads : int, optional
///     Worker threads (default: one per core).
///
/// Returns
/// -------
/// tuple of numpy.ndarray
///     ``(indices, distances)``, both ``(m, k)`` ``int64``: per cell the tiles
///     of smallest exact squared distance, ordered by (distance, index).
#[pyfunction]
#[pyo3(signature = (cells, tiles, k, *, threads=None))]
#[allow(clippy::type_complexity)]
fn search_topk<'py>(
    py: Python<'py>,
    cells: PyReadonlyArray2<'py, i16>,
    tiles: PyReadonlyArray2<'py, i16>,
    k: usize,
    threads: Option<usize>,
) -> PyResult<(Bound<'py, PyArray2<i64>>, Bound<'py, PyArray2<i64>>)> {
    let dim = cells.shape()[1];
    if tiles.shape()[1] != dim {
        return Err(PyValueError::new_err(format!(
            "cells have {dim} values per descriptor but tiles have {}",
            tiles.shape()[1]
        )));
    }
    let m = cells.shape()[0];
    let cell_values = contiguous(cells.as_slice().ok(), "cells")?;
    let tile_values = contiguous(tiles.as_slice().ok(), "tiles")?;
    let found = run_detached(py, threads, || {
        search::search_topk(cell_values, tile_values, dim, k)
    })?;
    Ok((
        to_array2(found.indices, m, k)?.into_pyarray(py),
        to_array2(found.distances, m, k)?.into_pyarray(py),
    ))
}

/// Number of worker threads used when ``threads`` is not given.
#[pyfunction]
fn default_threads() -> usize {
    pool::default_threads()
}

/// Name of the SIMD kernel the search uses on this CPU
/// (``"avx512-vnni"``, ``"avx2"`` or ``"portable"``).
#[pyfunction]
fn search_kernel() -> &'static str {
    kernels::Simd::detect().name()
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(tile_descriptors, m)?)?;
    m.add_function(wrap_pyfunction!(cell_descriptors, m)?)?;
    m.add_function(wrap_pyfunction!(search_topk, m)?)?;
    m.add_function(wrap_pyfunction!(default_threads, m)?)?;
    m.add_function(wrap_pyfunction!(search_kernel, m)?)?;
    m.add("MAX_GRID", descriptors::MAX_GRID)?;
    m.add("VALUE_MIN", search::VALUE_RANGE.0)?;
    m.add("VALUE_MAX", search::VALUE_RANGE.1)?;
    Ok(())
}
