"""Exhaustive top-1 search of 6144 cells among N tiles: Rust core, NumPy baseline, pure Python.

Each benchmark also checks its answer against a brute-force search on a sample of cells.
Here too: the machine's float32 peak (a large ``np.matmul`` through NumPy's BLAS, in the
same process as the searches) and the search's scaling from 1 to 2 threads.

Every benchmark records in ``extra_info`` the ``stage`` and ``implementation`` (``rust``,
``baseline`` or ``python``) that ``report.py`` files it under, and its problem size.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

import numpy as np
import pytest
from baselines import exact_squared_distances, numpy_search_topk, spread_sample
from conftest import env_int, search_sizes
from pytest_benchmark.fixture import BenchmarkFixture

from mosaicfast._reference import descriptors as reference

REFERENCE_CELLS = 16
"""Cells of the subsample searched by the (slow) pure-Python reference."""
REFERENCE_TILES = 1000
"""Tiles of the subsample searched by the pure-Python reference."""
CHECKED_CELLS = 64
"""Cells whose answer is checked against a brute-force search."""


PEAK_ROUNDS = 5
"""Timed float32 matrix products; the report takes the fastest."""


def label(
    benchmark: BenchmarkFixture, implementation: str, cells: int, tiles: int, dim: int
) -> None:
    """Group the benchmark by tile count and record what it measures for the report."""
    benchmark.group = f"search top-1, {tiles} tiles"
    benchmark.extra_info.update(
        stage="search", implementation=implementation, cells=cells, tiles=tiles, dim=dim
    )


def test_rust_core(
    benchmark: BenchmarkFixture,
    core: ModuleType,
    cells: np.ndarray,
    tiles: np.ndarray,
    rounds: int,
) -> None:
    label(benchmark, "rust", len(cells), len(tiles), cells.shape[1])
    indices, distances = benchmark.pedantic(
        core.search_topk, args=(cells, tiles), kwargs={"k": 1}, rounds=rounds, warmup_rounds=1
    )
    assert indices.shape == distances.shape == (len(cells), 1)
    sample = spread_sample(cells, CHECKED_CELLS)
    exact = exact_squared_distances(cells[sample], tiles)
    np.testing.assert_array_equal(indices[sample, 0], exact.argmin(axis=1))
    np.testing.assert_array_equal(distances[sample, 0], exact.min(axis=1))


def test_numpy_baseline(
    benchmark: BenchmarkFixture, cells: np.ndarray, tiles: np.ndarray, rounds: int
) -> None:
    label(benchmark, "baseline", len(cells), len(tiles), cells.shape[1])
    indices, distances = benchmark.pedantic(
        numpy_search_topk, args=(cells, tiles), kwargs={"k": 1}, rounds=rounds, iterations=1
    )
    assert indices.shape == distances.shape == (len(cells), 1)
    sample = spread_sample(cells, CHECKED_CELLS)
    exact = exact_squared_distances(cells[sample], tiles)
    chosen = exact[np.arange(len(sample)), indices[sample, 0]]
    # float32 rounding of |a|^2 + |b|^2 - 2 a.b: at most about d * eps * (|a|^2 + |b|^2).
    cell_norms = (cells[sample].astype(np.float64) ** 2).sum(axis=1)
    largest_tile_norm = (tiles.astype(np.float64) ** 2).sum(axis=1).max()
    tolerance = cells.shape[1] * np.finfo(np.float32).eps * (cell_norms + largest_tile_norm)
    assert np.all(chosen - exact.min(axis=1) <= 2 * tolerance)
    assert np.all(np.abs(distances[sample, 0] - chosen) <= tolerance)


def test_python_reference(
    benchmark: BenchmarkFixture, cells: np.ndarray, tiles: np.ndarray, rounds: int
) -> None:
    label(benchmark, "python", len(cells), len(tiles), cells.shape[1])
    sub_cells = cells[spread_sample(cells, REFERENCE_CELLS)]
    sub_tiles = tiles[:REFERENCE_TILES]
    benchmark.extra_info.update(
        subsample_cells=len(sub_cells),
        subsample_tiles=len(sub_tiles),
        extrapolation=len(cells) * len(tiles) / (len(sub_cells) * len(sub_tiles)),
    )
    indices, distances = benchmark.pedantic(
        reference.search_topk, args=(sub_cells, sub_tiles, 1), rounds=rounds, iterations=1
    )
    exact = exact_squared_distances(sub_cells, sub_tiles)
    np.testing.assert_array_equal(indices[:, 0], exact.argmin(axis=1))
    np.testing.assert_array_equal(distances[:, 0], exact.min(axis=1))


def test_float32_peak(benchmark: BenchmarkFixture) -> None:
    """The machine's float32 throughput: ``np.matmul`` of two square matrices (BLAS)."""
    size = env_int("MOSAICFAST_BENCH_PEAK_SIZE", 512)
    rng = np.random.default_rng(0)
    a = rng.standard_normal((size, size), dtype=np.float32)
    b = rng.standard_normal((size, size), dtype=np.float32)
    out = np.empty_like(a)
    benchmark.group = "float32 peak"
    benchmark.extra_info.update(
        stage="peak", implementation="numpy", size=size, operations=2 * size**3
    )
    benchmark.pedantic(
        np.matmul, args=(a, b), kwargs={"out": out}, rounds=PEAK_ROUNDS, warmup_rounds=1
    )
    np.testing.assert_allclose(out[:4, :4], a[:4] @ b[:, :4], rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("threads", [1, 2])
def test_thread_scaling(
    benchmark: BenchmarkFixture,
    core: ModuleType,
    cells: np.ndarray,
    tile_library: Callable[[int], np.ndarray],
    threads: int,
    rounds: int,
) -> None:
    """The search at the largest tile count on 1 and on 2 threads: equal answers."""
    tiles = tile_library(max(search_sizes()))
    benchmark.group = f"search top-1, {len(tiles)} tiles, by threads"
    benchmark.extra_info.update(
        stage="threads",
        implementation="rust",
        threads=threads,
        cells=len(cells),
        tiles=len(tiles),
        dim=cells.shape[1],
    )
    indices, _ = benchmark.pedantic(
        core.search_topk,
        args=(cells, tiles),
        kwargs={"k": 1, "threads": threads},
        rounds=rounds,
        warmup_rounds=1,
    )
    sample = spread_sample(cells, CHECKED_CELLS)
    exact = exact_squared_distances(cells[sample], tiles)
    np.testing.assert_array_equal(indices[sample, 0], exact.argmin(axis=1))
