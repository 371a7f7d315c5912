//! `mosaicfast._core`: the Python-facing wrappers of the Rust core.
//!
//! Each wrapper borrows its NumPy arrays (no copy), releases the GIL, runs the
//! pure-Rust function on a cached rayon pool of the requested size and turns
//! the one error type into a Python exception. A panic is caught before it can
//! reach Python.

pub mod assign;
mod bind;
pub mod blend;
pub mod descriptors;
pub mod downsample;
pub mod error;
pub mod improve;
pub mod kernels;
pub mod optimal;
pub mod phash;
pub mod pool;
pub mod pruned;
pub mod render;
pub mod resample;
pub mod search;
pub mod ssim;
#[cfg(test)]
mod testdata;

use numpy::{
    IntoPyArray, PyArray1, PyArray2, PyArray4, PyReadonlyArray1, PyReadonlyArray2,
    PyReadonlyArray3, PyReadonlyArray4, PyReadwriteArray3, PyUntypedArrayMethods,
};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::bind::{
    array2, array4, candidate_lists, descriptor_width, greedy_options, optional_slice,
    progress_dict, require, rgb_shape, run_detached, run_observed, slice, slice_mut, topk_arrays,
    TopKArrays,
};

/// Descriptors of a stack of tiles.
///
/// Parameters
/// ----------
/// tiles : numpy.ndarray
///     ``(n, height, width, 3)`` ``uint8`` sRGB pixels, C-contiguous.
/// grid : int
///     Match resolution ``g`` (1 to 16; even for ``ylab``).
/// space : {"lab", "ylab"}
///     The descriptor space (see docs/descriptors.md).
/// threads : int, optional
///     Worker threads (default: one per core).
///
/// Returns
/// -------
/// numpy.ndarray
///     ``(n, d)`` ``int16`` descriptors: ``d = 3*g*g`` (lab) or ``3*g*g/2`` (ylab).
#[pyfunction]
#[pyo3(signature = (tiles, grid, *, space="lab", threads=None))]
fn tile_descriptors<'py>(
    py: Python<'py>,
    tiles: PyReadonlyArray4<'py, u8>,
    grid: usize,
    space: &str,
    threads: Option<i64>,
) -> PyResult<Bound<'py, PyArray2<i16>>> {
    let space = descriptors::Space::new(space, grid)?;
    let dims = rgb_shape::<3>(tiles.shape(), "tiles")?;
    let pixels = slice(&tiles, "tiles")?;
    let out = run_detached(py, threads, || {
        descriptors::tile_descriptors(pixels, dims, space)
    })?;
    Ok(array2(py, out, dims[0], space.dim())?)
}

/// How much each tile's luma varies: the standard deviation of the Rec. 601 luma
/// (0-255) over every pixel of each tile, computed exactly in integers.
///
/// Parameters
/// ----------
/// tiles : numpy.ndarray
///     ``(n, height, width, 3)`` ``uint8`` sRGB pixels, C-contiguous.
/// threads : int, optional
///     Worker threads (default: one per core).
///
/// Returns
/// -------
/// numpy.ndarray
///     ``(n,)`` ``float32``.
#[pyfunction]
#[pyo3(signature = (tiles, *, threads=None))]
fn luma_spread<'py>(
    py: Python<'py>,
    tiles: PyReadonlyArray4<'py, u8>,
    threads: Option<i64>,
) -> PyResult<Bound<'py, PyArray1<f32>>> {
    let dims = rgb_shape::<3>(tiles.shape(), "tiles")?;
    let pixels = slice(&tiles, "tiles")?;
    let spread = run_detached(py, threads, || descriptors::luma_spread(pixels, dims))?;
    Ok(spread.into_pyarray(py))
}

/// Descriptors of the ``rows x cols`` cells of an image.
///
/// Parameters
/// ----------
/// image : numpy.ndarray
///     ``(height, width, 3)`` ``uint8`` sRGB pixels, C-contiguous.
/// rows, cols : int
///     The cell grid; cells are listed row-major.
/// grid : int
///     Match resolution ``g`` (1 to 16; even for ``ylab``).
/// space : {"lab", "ylab"}
///     The descriptor space (see docs/descriptors.md).
/// threads : int, optional
///     Worker threads (default: one per core).
///
/// Returns
/// -------
/// numpy.ndarray
///     ``(rows*cols, d)`` ``int16`` descriptors.
#[pyfunction]
#[pyo3(signature = (image, rows, cols, grid, *, space="lab", threads=None))]
#[allow(clippy::too_many_arguments)]
fn cell_descriptors<'py>(
    py: Python<'py>,
    image: PyReadonlyArray3<'py, u8>,
    rows: usize,
    cols: usize,
    grid: usize,
    space: &str,
    threads: Option<i64>,
) -> PyResult<Bound<'py, PyArray2<i16>>> {
    let space = descriptors::Space::new(space, grid)?;
    let dims = rgb_shape::<2>(image.shape(), "image")?;
    let pixels = slice(&image, "image")?;
    let out = run_detached(py, threads, || {
        descriptors::cell_descriptors(pixels, dims, [rows, cols], space)
    })?;
    Ok(array2(py, out, rows * cols, space.dim())?)
}

/// Descriptors of the ``rows x cols`` cells of an image resized to ``width x height``
/// with Pillow's box filter, when that resize only repeats pixels (an enlargement, or
/// the same size, on both axes): bit for bit ``cell_descriptors`` of the resized
/// image, computed from the image itself.
///
/// Parameters
/// ----------
/// image : numpy.ndarray
///     ``(h, w, 3)`` ``uint8`` sRGB pixels, C-contiguous.
/// width, height : int
///     The size the image is resized to.
/// rows, cols : int
///     The cell grid; cells are listed row-major.
/// grid : int
///     Match resolution ``g`` (1 to 16; even for ``ylab``).
/// space : {"lab", "ylab"}
///     The descriptor space (see docs/descriptors.md).
/// threads : int, optional
///     Worker threads (default: one per core).
///
/// Returns
/// -------
/// numpy.ndarray or None
///     ``(rows*cols, d)`` ``int16`` descriptors; None when the resize would shrink an
///     axis (its samples then mix pixels: resize, then ``cell_descriptors``).
#[pyfunction]
#[pyo3(signature = (image, width, height, rows, cols, grid, *, space="lab", threads=None))]
#[allow(clippy::too_many_arguments)]
fn enlarged_cell_descriptors<'py>(
    py: Python<'py>,
    image: PyReadonlyArray3<'py, u8>,
    width: usize,
    height: usize,
    rows: usize,
    cols: usize,
    grid: usize,
    space: &str,
    threads: Option<i64>,
) -> PyResult<Option<Bound<'py, PyArray2<i16>>>> {
    let space = descriptors::Space::new(space, grid)?;
    let dims = rgb_shape::<2>(image.shape(), "image")?;
    let pixels = slice(&image, "image")?;
    let box_filter = resample::Filter::Box;
    let (Some(ys), Some(xs)) = (
        resample::repeated_inputs(dims[0], height, box_filter),
        resample::repeated_inputs(dims[1], width, box_filter),
    ) else {
        return Ok(None);
    };
    let out = run_detached(py, threads, || {
        descriptors::enlarged_cell_descriptors(pixels, dims, [&ys, &xs], [rows, cols], space)
    })?;
    Ok(Some(array2(py, out, rows * cols, space.dim())?))
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
/// offsets : numpy.ndarray, optional
///     ``(n,)`` ``int64``: rank the tiles by ``scale * distance + offsets[tile]``
///     instead of the distance (exact; e.g. tile prices or dual variables).
/// scale : int, default 1
///     Multiplies the distance when ``offsets`` is given.
/// threads : int, optional
///     Worker threads (default: one per core).
/// kernel : str, optional
///     The SIMD kernel to run, one of :func:`search_kernels` (default: the one
///     :func:`search_kernel` names); for tests and benchmarks.
///
/// Returns
/// -------
/// tuple of numpy.ndarray
///     ``(indices, distances)``, both ``(m, k)`` ``int64``: per cell the tiles
///     of smallest exact squared distance (or ranking value), ordered by
///     (value, index).
#[pyfunction]
#[allow(clippy::too_many_arguments)] // the Python signature, keyword-only after `k`
#[pyo3(signature = (cells, tiles, k, *, offsets=None, scale=1, threads=None, kernel=None))]
fn search_topk<'py>(
    py: Python<'py>,
    cells: PyReadonlyArray2<'py, i16>,
    tiles: PyReadonlyArray2<'py, i16>,
    k: usize,
    offsets: Option<PyReadonlyArray1<'py, i64>>,
    scale: i64,
    threads: Option<i64>,
    kernel: Option<&str>,
) -> PyResult<TopKArrays<'py>> {
    let dim = descriptor_width(cells.shape(), tiles.shape())?;
    let (cell_values, tile_values) = (slice(&cells, "cells")?, slice(&tiles, "tiles")?);
    let offset_values = optional_slice(&offsets, "offsets")?;
    let simd = kernels::Simd::requested(kernel)?;
    let found = run_detached(py, threads, || match offset_values {
        None => search::search_topk_with(simd, cell_values, tile_values, dim, k),
        Some(values) => {
            let offsets = search::Offsets { values, scale };
            search::search_topk_offsets(simd, cell_values, tile_values, dim, k, offsets)
        }
    })?;
    Ok(topk_arrays(py, found, cells.shape()[0], k)?)
}

/// Box downsampling of a stack of images by an integer factor.
///
/// Parameters
/// ----------
/// images : numpy.ndarray
///     ``(n, height, width, channels)`` ``uint8``, C-contiguous; height and width
///     multiples of ``factor``.
/// factor : int
///     Side of the blocks averaged into one pixel.
/// threads : int, optional
///     Worker threads (default: one per core).
///
/// Returns
/// -------
/// numpy.ndarray
///     ``(n, height/factor, width/factor, channels)`` ``uint8``: per channel the
///     block mean rounded half to even (``np.rint(block.mean())``).
#[pyfunction]
#[pyo3(signature = (images, factor, *, threads=None))]
fn box_downsample<'py>(
    py: Python<'py>,
    images: PyReadonlyArray4<'py, u8>,
    factor: usize,
    threads: Option<i64>,
) -> PyResult<Bound<'py, PyArray4<u8>>> {
    let [n, height, width, channels] = [0, 1, 2, 3].map(|axis| images.shape()[axis]);
    let values = slice(&images, "images")?;
    let small = run_detached(py, threads, || {
        downsample::box_downsample(values, n, height, width, channels, factor)
    })?;
    let shape = [n, height / factor.max(1), width / factor.max(1), channels];
    Ok(array4(py, small, shape)?)
}

/// 64-bit perceptual hashes of square thumbnails (docs/library.md, "Duplicates").
///
/// Parameters
/// ----------
/// thumbs : numpy.ndarray
///     ``(n, side, side, 3)`` ``uint8`` sRGB thumbnails, ``side >= 32``, C-contiguous.
/// threads : int, optional
///     Worker threads (default: one per core).
///
/// Returns
/// -------
/// numpy.ndarray
///     ``(n,)`` ``uint64``: bit ``i`` set when the ``i``-th of the 8 x 8 lowest DCT
///     frequencies of the luma, averaged to 32 x 32 blocks, exceeds their median.
#[pyfunction]
#[pyo3(signature = (thumbs, *, threads=None))]
fn perceptual_hashes<'py>(
    py: Python<'py>,
    thumbs: PyReadonlyArray4<'py, u8>,
    threads: Option<i64>,
) -> PyResult<Bound<'py, PyArray1<u64>>> {
    let [n, side, width] = rgb_shape(thumbs.shape(), "thumbs")?;
    require(side == width, || {
        format!("thumbnails must be square, got {side}x{width}")
    })?;
    let values = slice(&thumbs, "thumbs")?;
    let hashes = run_detached(py, threads, || phash::perceptual_hashes(values, n, side))?;
    Ok(hashes.into_pyarray(py))
}

/// Each point's nearest KD-tree leaves until they hold ``shortlist`` tiles.
///
/// Parameters
/// ----------
/// points : numpy.ndarray
///     ``(m, d)`` ``float32`` projected cell descriptors, C-contiguous.
/// lower, upper : numpy.ndarray
///     ``(leaves, d)`` ``float32`` bounding-box corners of the leaves, C-contiguous.
/// counts : numpy.ndarray
///     ``(leaves,)`` ``int64`` tiles in each leaf.
/// shortlist : int
///     Tiles wanted per point: leaves are taken nearest first until they hold at
///     least this many (or all tiles).
/// threads : int, optional
///     Worker threads (default: one per core).
///
/// Returns
/// -------
/// numpy.ndarray
///     ``(m, width)`` ``int64`` leaf numbers, nearest first (squared distance to the
///     box, ties to the lower leaf), rows padded with -1.
#[pyfunction]
#[pyo3(signature = (points, lower, upper, counts, shortlist, *, threads=None))]
fn probe_leaves<'py>(
    py: Python<'py>,
    points: PyReadonlyArray2<'py, f32>,
    lower: PyReadonlyArray2<'py, f32>,
    upper: PyReadonlyArray2<'py, f32>,
    counts: PyReadonlyArray1<'py, i64>,
    shortlist: usize,
    threads: Option<i64>,
) -> PyResult<Bound<'py, PyArray2<i64>>> {
    let dims = points.shape()[1];
    require(
        lower.shape() == upper.shape() && lower.shape()[1] == dims,
        || {
            format!(
                "boxes must be (leaves, {dims}) like the points, got {:?} and {:?}",
                lower.shape(),
                upper.shape()
            )
        },
    )?;
    let point_values = slice(&points, "points")?;
    let (lower_values, upper_values) = (slice(&lower, "lower")?, slice(&upper, "upper")?);
    let count_values = slice(&counts, "counts")?;
    let (found, width) = run_detached(py, threads, || {
        pruned::probe_leaves(
            point_values,
            lower_values,
            upper_values,
            dims,
            count_values,
            shortlist,
        )
    })?;
    Ok(array2(py, found, points.shape()[0], width)?)
}

/// Exact top-k search among the tiles of each cell's probed KD-tree leaves.
///
/// Parameters
/// ----------
/// cells : numpy.ndarray
///     ``(m, d)`` ``int16`` cell descriptors, C-contiguous.
/// tiles : numpy.ndarray
///     ``(n, d)`` ``int16`` tile descriptors in leaf order, C-contiguous.
/// starts : numpy.ndarray
///     ``(leaves + 1,)`` ``int64`` row offsets: leaf ``j`` is rows ``starts[j]:starts[j+1]``.
/// ids : numpy.ndarray
///     ``(n,)`` ``int64`` id reported for each row (ties go to the lower id).
/// probes : numpy.ndarray
///     ``(m, p)`` ``int64`` leaves searched for each cell (repeats and -1 ignored);
///     they must hold at least ``k`` tiles.
/// k : int
///     Matches per cell.
/// threads : int, optional
///     Worker threads (default: one per core).
///
/// Returns
/// -------
/// (numpy.ndarray, numpy.ndarray)
///     ``(ids, distances)``, both ``(m, k)`` ``int64``, ordered by (distance, id).
#[pyfunction]
#[pyo3(signature = (cells, tiles, starts, ids, probes, k, *, threads=None))]
#[allow(clippy::too_many_arguments)]
fn search_leaves<'py>(
    py: Python<'py>,
    cells: PyReadonlyArray2<'py, i16>,
    tiles: PyReadonlyArray2<'py, i16>,
    starts: PyReadonlyArray1<'py, i64>,
    ids: PyReadonlyArray1<'py, i64>,
    probes: PyReadonlyArray2<'py, i64>,
    k: usize,
    threads: Option<i64>,
) -> PyResult<TopKArrays<'py>> {
    let dim = descriptor_width(cells.shape(), tiles.shape())?;
    let m = cells.shape()[0];
    require(probes.shape()[0] == m, || {
        format!("probes has {} rows for {m} cells", probes.shape()[0])
    })?;
    let (cell_values, tile_values) = (slice(&cells, "cells")?, slice(&tiles, "tiles")?);
    let leaves = pruned::Leaves {
        starts: slice(&starts, "starts")?,
        ids: slice(&ids, "ids")?,
    };
    let probe_values = slice(&probes, "probes")?;
    let found = run_detached(py, threads, || {
        pruned::search_leaves(cell_values, tile_values, dim, leaves, probe_values, k)
    })?;
    Ok(topk_arrays(py, found, m, k)?)
}

/// Mean SSIM of every cell with each of its candidate tiles, as
/// ``skimage.metrics.structural_similarity`` computes it for 2-D float images.
///
/// Parameters
/// ----------
/// cells : numpy.ndarray
///     ``(m, side, side)`` ``float32`` luminance patches, C-contiguous, ``8 <= side <= 64``.
/// tiles : numpy.ndarray
///     ``(n, side, side)`` ``float32`` luminance patches, C-contiguous.
/// candidates : numpy.ndarray
///     ``(m, k)`` ``int64`` tile indices, C-contiguous.
/// data_range : float
///     Range of the luminance values (e.g. 255.0).
/// win_size : int, default 7
///     Side of the uniform window (odd, 3 to ``side``); unused when ``sigma`` is given.
/// sigma : float, optional
///     Use a Gaussian window of this standard deviation, truncated at 3.5 sigma.
/// sample_covariance : bool, default True
///     Normalise (co)variances by ``NP - 1`` rather than ``NP`` (``NP = win_size**2``).
/// threads : int, optional
///     Worker threads (default: one per core).
///
/// Returns
/// -------
/// numpy.ndarray
///     ``(m, k)`` ``float32`` mean SSIM values.
#[pyfunction]
#[pyo3(signature = (
    cells, tiles, candidates, *, data_range, win_size=7, sigma=None, sample_covariance=true,
    threads=None
))]
#[allow(clippy::too_many_arguments)]
fn ssim_candidates<'py>(
    py: Python<'py>,
    cells: PyReadonlyArray3<'py, f32>,
    tiles: PyReadonlyArray3<'py, f32>,
    candidates: PyReadonlyArray2<'py, i64>,
    data_range: f64,
    win_size: usize,
    sigma: Option<f64>,
    sample_covariance: bool,
    threads: Option<i64>,
) -> PyResult<Bound<'py, PyArray2<f32>>> {
    let (cell_shape, tile_shape) = (cells.shape(), tiles.shape());
    let side = cell_shape[1];
    require(
        cell_shape[2] == side && tile_shape[1..] == cell_shape[1..],
        || {
            format!(
                "cells and tiles must be square patches of one size, got {cell_shape:?} and \
             {tile_shape:?}"
            )
        },
    )?;
    let (m, k) = (candidates.shape()[0], candidates.shape()[1]);
    require(m == cell_shape[0], || {
        format!(
            "candidates must have one row per cell ({}), got {m}",
            cell_shape[0]
        )
    })?;
    let params = ssim::SsimParams {
        window: match sigma {
            Some(sigma) => ssim::Window::Gaussian { sigma },
            None => ssim::Window::Uniform { size: win_size },
        },
        data_range,
        sample_covariance,
    };
    let (cell_values, tile_values) = (slice(&cells, "cells")?, slice(&tiles, "tiles")?);
    let picks = slice(&candidates, "candidates")?;
    let out = run_detached(py, threads, || {
        ssim::ssim_candidates(cell_values, tile_values, side, picks, k, &params)
    })?;
    Ok(array2(py, out, m, k)?)
}

/// Visit cells in order, each taking its candidate of least penalised cost.
///
/// Parameters
/// ----------
/// cand : numpy.ndarray
///     ``(m, k)`` ``int64`` tile indices per cell, distinct per row; ``-1`` pads.
/// cost : numpy.ndarray
///     ``(m, k)`` ``float64`` finite costs, lower is better.
/// order : numpy.ndarray
///     ``int64`` distinct cells to visit, in order.
/// fixed : numpy.ndarray
///     ``(m,)`` ``int64`` tiles already assigned, ``-1`` for free cells.
/// n_tiles : int
///     Number of tiles.
/// penalty : float
///     Added per earlier use of a tile (>= 0).
/// shape : tuple of int
///     ``(rows, cols)`` of the cells, ``rows * cols == m``, row-major.
/// max_uses : int, optional
///     Most uses of one tile.
/// min_distance : int, default 0
///     Chebyshev radius within which a tile may not repeat.
/// weights : numpy.ndarray, optional
///     ``(n_tiles,)`` ``uint32`` >= 1: how many tiles each counts as (``w`` times
///     the max uses, ``penalty / w`` per use, up to ``w - 1`` repeats nearby).
/// neighbours : tuple of numpy.ndarray, optional
///     ``(offsets, cells)`` ``int64``: the cells near cell ``i`` are
///     ``cells[offsets[i]:offsets[i + 1]]``, instead of the grid's window
///     (``min_distance`` must then be 0).
///
/// Returns
/// -------
/// tuple of numpy.ndarray
///     ``(assignment, uses)``: ``(m,)`` tiles (``-1`` where no candidate was
///     allowed or the cell was not visited) and ``(n_tiles,)`` uses per tile.
#[pyfunction]
#[pyo3(signature = (cand, cost, order, fixed, n_tiles, *, penalty, shape, max_uses=None, min_distance=0, weights=None, neighbours=None))]
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
fn penalised_greedy<'py>(
    py: Python<'py>,
    cand: PyReadonlyArray2<'py, i64>,
    cost: PyReadonlyArray2<'py, f64>,
    order: PyReadonlyArray1<'py, i64>,
    fixed: PyReadonlyArray1<'py, i64>,
    n_tiles: usize,
    penalty: f64,
    shape: (usize, usize),
    max_uses: Option<usize>,
    min_distance: usize,
    weights: Option<PyReadonlyArray1<'py, u32>>,
    neighbours: Option<(PyReadonlyArray1<'py, i64>, PyReadonlyArray1<'py, i64>)>,
) -> PyResult<(Bound<'py, PyArray1<i64>>, Bound<'py, PyArray1<i64>>)> {
    let cand = candidate_lists(&cand, &cost, n_tiles)?;
    let (order, fixed) = (slice(&order, "order")?, slice(&fixed, "fixed")?);
    let options = greedy_options(
        penalty,
        shape,
        max_uses,
        min_distance,
        &weights,
        &neighbours,
    )?;
    let out = run_detached(py, None, || {
        assign::penalised_greedy(cand, order, fixed, options)
    })?;
    Ok((out.assignment.into_pyarray(py), out.uses.into_pyarray(py)))
}

/// Local improvement of a greedy assignment: moves, swaps and chains that lower
/// the greedy's objective and keep its rules (see ``rust/improve.rs``).
///
/// Parameters
/// ----------
/// cand, cost, n_tiles, penalty, shape, max_uses, min_distance, weights
///     As for :func:`penalised_greedy`.
/// assignment : numpy.ndarray
///     ``(m,)`` ``int64`` tile of every cell, each among its candidates, within
///     the rules (e.g. the greedy's result).
/// max_passes : int
///     Most passes (each proposes a step per cell, then applies them in order).
/// threads : int, optional
///     Worker threads (default: one per core); the result does not depend on it.
///
/// Returns
/// -------
/// tuple
///     ``(assignment, stats)``: the ``(m,)`` ``int64`` improved tiles and a dict
///     with ``total_before``, ``total_after`` (the objective), ``moves``,
///     ``swaps``, ``chains`` (steps applied) and ``passes``.
#[pyfunction]
#[pyo3(signature = (cand, cost, assignment, n_tiles, *, penalty, shape, max_uses=None, min_distance=0, weights=None, neighbours=None, max_passes, threads=None))]
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
fn improve_assignment<'py>(
    py: Python<'py>,
    cand: PyReadonlyArray2<'py, i64>,
    cost: PyReadonlyArray2<'py, f64>,
    assignment: PyReadonlyArray1<'py, i64>,
    n_tiles: usize,
    penalty: f64,
    shape: (usize, usize),
    max_uses: Option<usize>,
    min_distance: usize,
    weights: Option<PyReadonlyArray1<'py, u32>>,
    neighbours: Option<(PyReadonlyArray1<'py, i64>, PyReadonlyArray1<'py, i64>)>,
    max_passes: usize,
    threads: Option<i64>,
) -> PyResult<(Bound<'py, PyArray1<i64>>, Bound<'py, PyDict>)> {
    let cand = candidate_lists(&cand, &cost, n_tiles)?;
    let assignment = slice(&assignment, "assignment")?;
    let options = greedy_options(
        penalty,
        shape,
        max_uses,
        min_distance,
        &weights,
        &neighbours,
    )?;
    let out = run_detached(py, threads, || {
        improve::improve_assignment(cand, assignment, options, max_passes)
    })?;
    let stats = PyDict::new(py);
    stats.set_item("total_before", out.total_before)?;
    stats.set_item("total_after", out.total_after)?;
    stats.set_item("moves", out.moves)?;
    stats.set_item("swaps", out.swaps)?;
    stats.set_item("chains", out.chains)?;
    stats.set_item("passes", out.passes)?;
    Ok((out.assignment.into_pyarray(py), stats))
}

/// Candidate lists from a search's results: each row sorted by score.
///
/// Parameters
/// ----------
/// entries : numpy.ndarray
///     ``(m, k)`` ``int64`` entries found per cell, distinct per row: tile ``t``
///     in orientation ``o`` is entry ``o * n_tiles + t``.
/// scores, distances : numpy.ndarray
///     ``(m, k)`` ``float64`` scores (lower is better) and ``int64`` distances.
/// n_tiles : int
///     Number of tiles.
/// orientations : int
///     Orientations per tile (1 to 255): with more than one a row keeps each
///     tile once (its best-ranked orientation) and is cut to ``min(k, n_tiles)``.
/// threads : int, optional
///     Worker threads; the result does not depend on it.
///
/// Returns
/// -------
/// tuple of numpy.ndarray
///     ``(tiles, orientation, scores, distances)``, rows sorted by score (ties to
///     the lower entry): tiles (``-1`` past a row's distinct tiles, each followed
///     by the repeats' values), ``uint8`` orientations, scores and distances.
#[pyfunction]
#[pyo3(signature = (entries, scores, distances, n_tiles, *, orientations, threads=None))]
#[allow(clippy::type_complexity)]
fn rank_candidates<'py>(
    py: Python<'py>,
    entries: PyReadonlyArray2<'py, i64>,
    scores: PyReadonlyArray2<'py, f64>,
    distances: PyReadonlyArray2<'py, i64>,
    n_tiles: usize,
    orientations: usize,
    threads: Option<i64>,
) -> PyResult<(
    Bound<'py, PyArray2<i64>>,
    Bound<'py, PyArray2<u8>>,
    Bound<'py, PyArray2<f64>>,
    Bound<'py, PyArray2<i64>>,
)> {
    let (m, k) = (entries.shape()[0], entries.shape()[1]);
    require(
        scores.shape() == [m, k] && distances.shape() == [m, k],
        || {
            format!(
                "entries, scores and distances must have the same shape, got {:?}, {:?} and {:?}",
                entries.shape(),
                scores.shape(),
                distances.shape()
            )
        },
    )?;
    let (e, s, d) = (
        slice(&entries, "entries")?,
        slice(&scores, "scores")?,
        slice(&distances, "distances")?,
    );
    let out = run_detached(py, threads, || {
        assign::rank_candidates(e, s, d, k, n_tiles, orientations)
    })?;
    let w = out.width;
    Ok((
        array2(py, out.tiles, m, w)?,
        array2(py, out.orientation, m, w)?,
        array2(py, out.scores, m, w)?,
        array2(py, out.distances, m, w)?,
    ))
}

/// Minimum total cost assignment on the sparse candidate graph, with duals.
///
/// Parameters
/// ----------
/// cand : numpy.ndarray
///     ``(m, k)`` ``int64`` tile indices per cell, distinct per row; ``-1`` pads.
/// cost : numpy.ndarray
///     ``(m, k)`` ``float64`` finite costs.
/// n_tiles : int
///     Number of tiles.
/// capacity : int
///     Most uses of one tile (>= 1, ``n_tiles * capacity >= m``).
///
/// Returns
/// -------
/// tuple
///     ``(assignment, total_cost, cell_duals, tile_duals, unmatched)``:
///     ``(m,)`` ``int64`` tiles (``-1`` for cells that cannot be matched),
///     the total cost, ``(m,)`` and ``(n_tiles,)`` ``float64`` dual potentials
///     and the number of unmatched cells.
#[pyfunction]
#[pyo3(signature = (cand, cost, n_tiles, capacity))]
#[allow(clippy::type_complexity)]
fn optimal_assignment<'py>(
    py: Python<'py>,
    cand: PyReadonlyArray2<'py, i64>,
    cost: PyReadonlyArray2<'py, f64>,
    n_tiles: usize,
    capacity: usize,
) -> PyResult<(
    Bound<'py, PyArray1<i64>>,
    f64,
    Bound<'py, PyArray1<f64>>,
    Bound<'py, PyArray1<f64>>,
    usize,
)> {
    let cand = candidate_lists(&cand, &cost, n_tiles)?;
    let out = run_detached(py, None, || assign::optimal_assignment(cand, capacity))?;
    Ok((
        out.assignment.into_pyarray(py),
        out.total_cost,
        out.cell_duals.into_pyarray(py),
        out.tile_duals.into_pyarray(py),
        out.unmatched,
    ))
}

/// The certified minimum-cost assignment over every cell and tile.
///
/// Parameters
/// ----------
/// cells : numpy.ndarray
///     ``(m, d)`` ``int16`` cell descriptors, C-contiguous.
/// tiles : numpy.ndarray
///     ``(orientations * n, d)`` ``int16`` tile descriptors, C-contiguous: every
///     tile in its first orientation, then every tile in the next, in the same
///     order.
/// capacity : int
///     Most uses of one tile (``n * capacity >= m``).
/// orientations : int, default 1
///     Orientations of every tile (1 to 255): a tile is one tile, at the least
///     of its orientations' costs.
/// progress : callable, optional
///     Called with a dict of the solver's progress (``stage``, ``phase``,
///     ``phases``, ``checks``, ``unassigned``, ``bids``, ``reverse_bids``,
///     ``repriced``, ``passes``, ``pairs_added``, ``improved``, ``retreats``) now
///     and then; an
///     exception it raises stops the solver and propagates.
/// threads : int, optional
///     Worker threads (default: one per core); the result does not depend on it.
///
/// Returns
/// -------
/// tuple
///     ``(assignment, orientation, costs, total_cost, cell_duals, tile_duals, stats)``:
///     ``(m,)`` ``int64`` tiles, ``(m,)`` ``uint8`` orientations (each cell's
///     tile's nearest, the first of equals), ``(m,)`` ``int64`` costs
///     ``|a_i - b_j|^2``, their ``int`` sum, ``(m,)`` and ``(n,)`` ``int64``
///     duals (see ``mosaicfast.assign.CertifiedAssignment``) and the final
///     progress dict.
#[pyfunction]
#[pyo3(signature = (cells, tiles, capacity, *, orientations=1, progress=None, threads=None))]
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
fn optimal_certified<'py>(
    py: Python<'py>,
    cells: PyReadonlyArray2<'py, i16>,
    tiles: PyReadonlyArray2<'py, i16>,
    capacity: usize,
    orientations: usize,
    progress: Option<Bound<'py, PyAny>>,
    threads: Option<i64>,
) -> PyResult<(
    Bound<'py, PyArray1<i64>>,
    Bound<'py, PyArray1<u8>>,
    Bound<'py, PyArray1<i64>>,
    i64,
    Bound<'py, PyArray1<i64>>,
    Bound<'py, PyArray1<i64>>,
    Bound<'py, PyDict>,
)> {
    let problem = optimal::Problem {
        dim: descriptor_width(cells.shape(), tiles.shape())?,
        cells: slice(&cells, "cells")?,
        tiles: slice(&tiles, "tiles")?,
        orientations,
        capacity,
    };
    let out = run_observed(py, threads, progress.as_ref(), |observer| {
        optimal::solve(problem, observer)
    })?;
    Ok((
        out.assignment.into_pyarray(py),
        out.orientation.into_pyarray(py),
        out.costs.into_pyarray(py),
        out.total_cost,
        out.cell_duals.into_pyarray(py),
        out.tile_duals.into_pyarray(py),
        progress_dict(py, &out.progress)?,
    ))
}

/// Blend tiles toward the colour statistics of the target regions they cover.
///
/// Parameters
/// ----------
/// tiles : numpy.ndarray
///     ``(n, height, width, 3)`` ``uint8`` sRGB pixels, C-contiguous.
/// targets : numpy.ndarray
///     ``(n, th, tw, 3)`` ``uint8``, C-contiguous: ``targets[i]`` is the region of
///     the target image that tile ``i`` covers, at the tiles' size or another of
///     the same aspect (``th * width == tw * height``).
/// alpha : float
///     Strength, 0 (tiles unchanged) to 1 (the target's CIELAB mean and spread).
/// threads : int, optional
///     Worker threads (default: one per core).
///
/// Returns
/// -------
/// numpy.ndarray
///     The blended tiles, ``uint8``, shaped like ``tiles``.
#[pyfunction]
#[pyo3(signature = (tiles, targets, alpha, *, threads=None))]
fn blend_tiles<'py>(
    py: Python<'py>,
    tiles: PyReadonlyArray4<'py, u8>,
    targets: PyReadonlyArray4<'py, u8>,
    alpha: f32,
    threads: Option<i64>,
) -> PyResult<Bound<'py, PyArray4<u8>>> {
    let dims = rgb_shape::<3>(tiles.shape(), "tiles")?;
    let target_dims = rgb_shape::<3>(targets.shape(), "targets")?;
    require(target_dims[0] == dims[0], || {
        format!(
            "tiles and targets must be (n, height, width, 3) stacks of the same n, got {:?} \
             and {:?}",
            tiles.shape(),
            targets.shape()
        )
    })?;
    let (tile_pixels, target_pixels) = (slice(&tiles, "tiles")?, slice(&targets, "targets")?);
    let out = run_detached(py, threads, || {
        let size = [target_dims[1], target_dims[2]];
        blend::blend_tiles_toward(tile_pixels, target_pixels, dims, size, alpha)
    })?;
    Ok(array4(py, out, [dims[0], dims[1], dims[2], 3])?)
}

/// Paint a band of cell rows of a mosaic into ``out``, blending and overlaying
/// the target cell by cell.
///
/// Parameters
/// ----------
/// tiles : numpy.ndarray
///     ``(n, t, t, 3)`` ``uint8`` pixels of the distinct tiles, C-contiguous.
/// index : numpy.ndarray
///     ``(rows, cols)`` ``int64``: ``tiles[index[r, c]]`` fills cell ``(r, c)``.
/// out : numpy.ndarray
///     ``(rows*t, cols*t, 3)`` ``uint8``, C-contiguous, written in place.
/// orientation : numpy.ndarray, optional
///     ``(rows, cols)`` ``uint8`` codes 0-7 (default all 0): each cell's tile is
///     mirrored left to right if bit 0 is set, then turned ``code >> 1`` quarter
///     turns counter-clockwise (``np.rot90``).
/// under : numpy.ndarray, optional
///     ``(rows*s, cols*s, 3)`` ``uint8`` target pixels under the band, ``s`` per cell
///     side (``s = t`` with ``overlay``); needed when ``blend`` or ``overlay`` is
///     above 0.
/// blend : float, default 0
///     Move each cell's tile toward the Lab mean and spread of the target's
///     ``s x s`` pixels under it by this much (as ``blend_tiles``).
/// overlay : float, default 0
///     Then lay the target over the cell at this opacity (``round_half_even`` of the
///     ``float32`` mix).
/// threads : int, optional
///     Worker threads (default: one per core).
#[pyfunction]
#[pyo3(signature = (
    tiles, index, out, *, orientation=None, under=None, blend=0.0, overlay=0.0, threads=None
))]
#[allow(clippy::too_many_arguments)]
fn paint_band<'py>(
    py: Python<'py>,
    tiles: PyReadonlyArray4<'py, u8>,
    index: PyReadonlyArray2<'py, i64>,
    mut out: PyReadwriteArray3<'py, u8>,
    orientation: Option<PyReadonlyArray2<'py, u8>>,
    under: Option<PyReadonlyArray3<'py, u8>>,
    blend: f32,
    overlay: f32,
    threads: Option<i64>,
) -> PyResult<()> {
    let (t, cols) = (tiles.shape()[1], index.shape()[1]);
    require(tiles.shape()[2] == t && tiles.shape()[3] == 3, || {
        format!(
            "tiles must have shape (n, t, t, 3), got {:?}",
            tiles.shape()
        )
    })?;
    let band_shape = [index.shape()[0] * t, cols * t, 3];
    require(out.shape() == band_shape, || {
        format!(
            "out must have shape {band_shape:?} for a {:?} index of {t}-px tiles, got {:?}",
            index.shape(),
            out.shape()
        )
    })?;
    require(
        orientation
            .as_ref()
            .is_none_or(|f| f.shape() == index.shape()),
        || "orientation must have the shape of index".into(),
    )?;
    let rows = index.shape()[0];
    let side = match &under {
        Some(u) if rows > 0 => u.shape()[0] / rows,
        _ => t,
    };
    require(
        under
            .as_ref()
            .is_none_or(|u| u.shape() == [rows * side, cols * side, 3]),
        || format!("under must have shape (rows*s, cols*s, 3) for a {rows}x{cols} index"),
    )?;
    let band = render::Band {
        tiles: slice(&tiles, "tiles")?,
        tile: t,
        index: slice(&index, "index")?,
        orientation: optional_slice(&orientation, "orientation")?,
        cols,
        under: optional_slice(&under, "under")?,
        under_side: side,
        blend,
        overlay,
    };
    let out = slice_mut(&mut out, "out")?;
    Ok(run_detached(py, threads, || {
        render::paint_band(&band, out)
    })?)
}

/// Resize RGB images exactly as Pillow's ``Image.resize(size, Image.Resampling.LANCZOS)``
/// (or ``BOX``), optionally computing only some output rows.
///
/// Parameters
/// ----------
/// images : numpy.ndarray
///     ``(n, height, width, 3)`` ``uint8``, C-contiguous.
/// width, height : int
///     Output size.
/// filter : {"lanczos", "box"}, default "lanczos"
///     Pillow's resampling filter of that name.
/// row_start, row_stop : int
///     Output rows to compute (default: all); the rows equal those of the whole
///     resized image.
/// pillow13 : bool, default True
///     Follow Pillow 13's pass order (vertical first when the height shrinks by
///     more than twice as many pixels as the width); else horizontal first, as
///     every earlier Pillow.
/// threads : int, optional
///     Worker threads (default: one per core).
///
/// Returns
/// -------
/// numpy.ndarray
///     ``(n, row_stop - row_start, width, 3)`` ``uint8``.
#[pyfunction]
#[pyo3(signature = (
    images, width, height, *, filter="lanczos", row_start=0, row_stop=None, pillow13=true,
    threads=None
))]
#[allow(clippy::too_many_arguments)]
fn resize<'py>(
    py: Python<'py>,
    images: PyReadonlyArray4<'py, u8>,
    width: usize,
    height: usize,
    filter: &str,
    row_start: usize,
    row_stop: Option<usize>,
    pillow13: bool,
    threads: Option<i64>,
) -> PyResult<Bound<'py, PyArray4<u8>>> {
    let dims = rgb_shape::<3>(images.shape(), "images")?;
    let filter = resample::Filter::named(filter)?;
    let order = if pillow13 {
        resample::PassOrder::Pillow13
    } else {
        resample::PassOrder::HorizontalFirst
    };
    let rows = row_start..row_stop.unwrap_or(height);
    let count = rows.len();
    let pixels = slice(&images, "images")?;
    let out = run_detached(py, threads, || {
        resample::resize(pixels, dims, [height, width], rows, order, filter)
    })?;
    Ok(array4(py, out, [dims[0], count, width, 3])?)
}

/// Number of worker threads used when ``threads`` is not given.
#[pyfunction]
fn default_threads() -> usize {
    pool::default_threads()
}

/// Check a thread count by the core's one rule (1 to ``MAX_THREADS``), the rule
/// every kernel's ``threads=`` follows, for jobs that run Python workers too.
///
/// Raises
/// ------
/// ValueError
///     If ``threads`` is below 1 or above ``MAX_THREADS``.
#[pyfunction]
fn check_threads(threads: i64) -> PyResult<()> {
    pool::check_threads(threads)?;
    Ok(())
}

/// Name of the SIMD kernel the searches run on (``"avx512-vnni"``, ``"avx2"``,
/// ``"sse2"`` or ``"portable"``): the fastest this CPU supports, or the one the
/// environment variable ``MOSAICFAST_KERNEL`` names (read once per process).
///
/// Raises
/// ------
/// ValueError
///     If ``MOSAICFAST_KERNEL`` names no kernel, or one this CPU cannot run.
#[pyfunction]
fn search_kernel() -> PyResult<&'static str> {
    Ok(kernels::Simd::chosen().map(kernels::Simd::name)?)
}

/// Names of the SIMD kernels this CPU can run, slowest first.
#[pyfunction]
fn search_kernels() -> Vec<&'static str> {
    kernels::Simd::available()
        .into_iter()
        .map(kernels::Simd::name)
        .collect()
}

/// Gives the memory the allocator holds free back to the system (glibc's
/// ``malloc_trim``; a no-op elsewhere), without the GIL: call it between large
/// steps, whose temporaries the core's worker threads allocated.
#[pyfunction]
fn release_free_memory(py: Python<'_>) {
    py.detach(pool::release_free_memory);
}

/// The Cargo profile this core was built with, as ``--version`` reports it.
const BUILD_PROFILE: &str = if cfg!(debug_assertions) {
    "debug"
} else {
    "release"
};

/// The extension module: the wrappers above, and constants the Python side reads.
#[pymodule(gil_used = false)]
mod _core {
    #[pymodule_export]
    use super::{
        blend_tiles, box_downsample, cell_descriptors, check_threads, default_threads,
        enlarged_cell_descriptors, improve_assignment, luma_spread, optimal_assignment,
        optimal_certified, paint_band, penalised_greedy, perceptual_hashes, probe_leaves,
        rank_candidates, release_free_memory, resize, search_kernel, search_kernels, search_leaves,
        search_topk, ssim_candidates, tile_descriptors,
    };
    use pyo3::prelude::*;

    #[pymodule_init]
    fn constants(m: &Bound<'_, PyModule>) -> PyResult<()> {
        m.add("KERNEL_VAR", crate::kernels::KERNEL_VAR)?;
        m.add("BUILD_PROFILE", super::BUILD_PROFILE)?;
        m.add("VERSION", env!("CARGO_PKG_VERSION"))?;
        m.add("MAX_GRID", crate::descriptors::MAX_GRID)?;
        m.add("MAX_THREADS", crate::pool::MAX_THREADS)?;
        m.add("VALUE_MIN", crate::search::VALUE_RANGE.0)?;
        m.add("VALUE_MAX", crate::search::VALUE_RANGE.1)?;
        Ok(())
    }
}
