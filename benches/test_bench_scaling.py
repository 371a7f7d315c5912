"""Scaling of the top-1 searches: in tiles at 6,144 cells, and in cells at a fixed tile count.

The exhaustive search should take a time proportional to cells x tiles; the pruned search
(``CandidateIndex`` with ``method="pca"`` at its default shortlist of ``35 * sqrt(tiles)``,
index built outside the timing) is shown beside it. Sizes come from
MOSAICFAST_BENCH_SCALING_TILES, MOSAICFAST_BENCH_SCALING_CELLS and
MOSAICFAST_BENCH_SCALING_CELLS_TILES; every data set is a prefix of the same synthetic
library, so the sweeps are nested.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

import numpy as np
import pytest
from baselines import SyntheticLibrary
from conftest import env_int
from pytest_benchmark.fixture import BenchmarkFixture

from mosaicfast.kernels.candidates import CandidateIndex

Indexes = Callable[[np.ndarray], CandidateIndex]


@pytest.fixture(scope="module")
def pruned_index() -> Indexes:
    """The PCA candidate index of given tiles, built once per tile count."""
    made: dict[int, CandidateIndex] = {}

    def index(tiles: np.ndarray) -> CandidateIndex:
        if len(tiles) not in made:
            made.clear()  # one index at a time: a million tiles take memory
            made[len(tiles)] = CandidateIndex(tiles, method="pca")
        return made[len(tiles)]

    return index


def label(
    benchmark: BenchmarkFixture, sweep: str, implementation: str, cells: int, tiles: int
) -> None:
    """Group the benchmark by sweep and record its size for the report."""
    benchmark.group = f"scaling in {sweep}"
    benchmark.extra_info.update(
        stage=f"scale-{sweep}", implementation=implementation, cells=cells, tiles=tiles
    )


def run_exhaustive(
    benchmark: BenchmarkFixture, core: ModuleType, cells: np.ndarray, tiles: np.ndarray, rounds: int
) -> None:
    """Time the exhaustive top-1 search and check its answer on one cell."""
    indices, distances = benchmark.pedantic(
        core.search_topk, args=(cells, tiles, 1), rounds=rounds, warmup_rounds=1
    )
    exact = ((tiles.astype(np.int64) - cells[-1]) ** 2).sum(axis=1)
    assert distances[-1, 0] == exact.min()
    assert indices[-1, 0] == exact.argmin()


def run_pruned(
    benchmark: BenchmarkFixture,
    index: CandidateIndex,
    cells: np.ndarray,
    tiles: np.ndarray,
    rounds: int,
) -> None:
    """Time the pruned top-1 query at its default shortlist (``35 * sqrt(tiles)``) and check
    its answer on one cell: the true distance of a tile, never below the exhaustive best."""
    benchmark.extra_info["shortlist"] = index.shortlist_size()
    indices, distances = benchmark.pedantic(
        index.query, args=(cells, 1), rounds=rounds, warmup_rounds=1
    )
    assert indices.shape == (len(cells), 1)
    exact = ((tiles.astype(np.int64) - cells[-1]) ** 2).sum(axis=1)
    assert distances[-1, 0] == exact[indices[-1, 0]] >= exact.min()


def test_tiles_exhaustive(
    benchmark: BenchmarkFixture,
    core: ModuleType,
    cells: np.ndarray,
    tile_library: Callable[[int], np.ndarray],
    sweep_tiles: int,
    rounds: int,
) -> None:
    label(benchmark, "tiles", "exhaustive", len(cells), sweep_tiles)
    run_exhaustive(benchmark, core, cells, tile_library(sweep_tiles), rounds)


def test_tiles_pruned(
    benchmark: BenchmarkFixture,
    cells: np.ndarray,
    tile_library: Callable[[int], np.ndarray],
    pruned_index: Indexes,
    sweep_tiles: int,
    rounds: int,
) -> None:
    label(benchmark, "tiles", "pruned", len(cells), sweep_tiles)
    tiles = tile_library(sweep_tiles)
    run_pruned(benchmark, pruned_index(tiles), cells, tiles, rounds)


def test_cells_exhaustive(
    benchmark: BenchmarkFixture,
    core: ModuleType,
    cell_library: SyntheticLibrary,
    tile_library: Callable[[int], np.ndarray],
    sweep_cells: int,
    rounds: int,
) -> None:
    tiles = tile_library(env_int("MOSAICFAST_BENCH_SCALING_CELLS_TILES", 2000))
    label(benchmark, "cells", "exhaustive", sweep_cells, len(tiles))
    run_exhaustive(benchmark, core, cell_library.first(sweep_cells), tiles, rounds)


def test_cells_pruned(
    benchmark: BenchmarkFixture,
    cell_library: SyntheticLibrary,
    tile_library: Callable[[int], np.ndarray],
    pruned_index: Indexes,
    sweep_cells: int,
    rounds: int,
) -> None:
    tiles = tile_library(env_int("MOSAICFAST_BENCH_SCALING_CELLS_TILES", 2000))
    label(benchmark, "cells", "pruned", sweep_cells, len(tiles))
    run_pruned(benchmark, pruned_index(tiles), cell_library.first(sweep_cells), tiles, rounds)
