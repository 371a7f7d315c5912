"""Exhaustive top-1 search of 6144 cells among N tiles on each SIMD kernel this CPU runs.

The same search as ``test_bench_search.py``, but on descriptors of real photos
(``photo_data``: the cells cut from the target photos, the tiles random crops of the other
sample photos) and once per kernel of ``_core.search_kernels()`` (``portable``, ``sse2``,
``avx2``, ``avx512-vnni``, as the CPU allows), in one process, so that the report puts the
slower paths (what a CPU without AVX-512 or without AVX2 runs) beside the best one. Each answer is
checked against exact distances on a sample of cells.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
from baselines import exact_squared_distances, spread_sample
from photo_data import bench_tiles, photo_cells
from pytest_benchmark.fixture import BenchmarkFixture

from mosaicfast import _core

CELLS = 6144
CHECKED_CELLS = 64


@functools.cache
def photo_search(tiles: int) -> tuple[np.ndarray, np.ndarray]:
    """The cells and ``tiles`` tile descriptors of real photos, made once per size."""
    return photo_cells(CELLS), bench_tiles(tiles)


@pytest.mark.parametrize("kernel", _core.search_kernels())
def test_search_kernel(benchmark: BenchmarkFixture, kernel: str, size: int, rounds: int) -> None:
    cells, tiles = photo_search(size)
    benchmark.group = f"search top-1 by kernel, {size} photo crops"
    benchmark.extra_info.update(
        stage="kernel",
        implementation=kernel,
        chosen=kernel == _core.search_kernel(),
        cells=len(cells),
        tiles=len(tiles),
        dim=cells.shape[1],
    )
    indices, distances = benchmark.pedantic(
        _core.search_topk,
        args=(cells, tiles, 1),
        kwargs={"kernel": kernel},
        rounds=rounds,
        warmup_rounds=1,
    )
    sample = spread_sample(cells, CHECKED_CELLS)
    exact = exact_squared_distances(cells[sample], tiles)
    np.testing.assert_array_equal(distances[sample, 0], exact.min(axis=1))
    np.testing.assert_array_equal(indices[sample, 0], exact.argmin(axis=1))
