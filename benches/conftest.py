"""Shared data and settings of the benchmarks.

Every size comes from an environment variable whose default is small, so that the
benchmarks run once each, quickly, inside ``make test``; ``benches/report.py`` (``make
bench``) sets the full sizes.

Environment variables
---------------------
MOSAICFAST_BENCH_SIZES
    Comma-separated tile counts of the search, pruned-search and SSIM benchmarks (default
    ``2000``); the largest also runs the thread-scaling benchmark.
MOSAICFAST_BENCH_ROUNDS
    Timed rounds per benchmark (default ``3``).
MOSAICFAST_BENCH_THUMBS
    Thumbnails of the tile-descriptor benchmark (default ``200``).
MOSAICFAST_BENCH_SHORTLIST
    Tiles shortlisted per cell by the KD-tree baseline of the pruned search (default
    ``200``); mosaicfast's pruned search runs at its default shortlist.
MOSAICFAST_BENCH_PEAK_SIZE
    Side of the float32 matrix product that measures the machine's peak (default ``512``).
MOSAICFAST_BENCH_SCALING_TILES
    Tile counts of the scaling sweep in tiles, at 6,144 cells (default ``1000,2000``).
MOSAICFAST_BENCH_SCALING_CELLS
    Cell counts of the scaling sweep in cells (default ``200,400``).
MOSAICFAST_BENCH_SCALING_CELLS_TILES
    Fixed tile count of the sweep in cells (default ``2000``).
MOSAICFAST_BENCH_ASSIGN_SHAPES
    ``CELLSxTILES`` problems of the optimal-assignment benchmark, ``+bars`` for letterboxed
    targets (default ``300x300,200x2000,300x300+bars``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from types import ModuleType

import numpy as np
import pytest
from baselines import SyntheticLibrary

from mosaicfast.kernels import descriptors

CELL_ROWS, CELL_COLS = 96, 64
"""The mosaic's grid of cells: 6144 cells."""
GRID = 5
"""Match resolution: descriptors of 3 * 5 * 5 = 75 values."""
CELL_SEED = 1
TILE_SEED = 2


def env_ints(name: str, default: str) -> list[int]:
    """Positive integers from a comma-separated environment variable.

    Raises
    ------
    pytest.UsageError
        If the variable holds anything else.
    """
    text = os.environ.get(name, default)
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        values = []
    if not values or min(values) < 1:
        raise pytest.UsageError(f"{name} must be a comma list of positive integers, got {text!r}")
    return values


def env_int(name: str, default: int) -> int:
    """One positive integer from an environment variable."""
    return env_ints(name, str(default))[0]


def search_sizes() -> list[int]:
    """Tile counts of the search benchmarks (MOSAICFAST_BENCH_SIZES)."""
    return env_ints("MOSAICFAST_BENCH_SIZES", "2000")


def _parametrize(metafunc: pytest.Metafunc, name: str, values: list[int], unit: str) -> None:
    if name in metafunc.fixturenames:
        metafunc.parametrize(name, values, ids=[f"{value}{unit}" for value in values])


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run every benchmark taking ``size`` once per size of MOSAICFAST_BENCH_SIZES, and the
    scaling sweeps once per entry of their variables."""
    _parametrize(metafunc, "size", search_sizes(), "tiles")
    _parametrize(
        metafunc, "sweep_tiles", env_ints("MOSAICFAST_BENCH_SCALING_TILES", "1000,2000"), "tiles"
    )
    _parametrize(
        metafunc, "sweep_cells", env_ints("MOSAICFAST_BENCH_SCALING_CELLS", "200,400"), "cells"
    )


@pytest.fixture(scope="session")
def core() -> ModuleType:
    """``mosaicfast.kernels.descriptors``, the Rust core's wrappers."""
    return descriptors


@pytest.fixture(scope="session")
def rounds() -> int:
    """Timed rounds per benchmark, from MOSAICFAST_BENCH_ROUNDS."""
    return env_int("MOSAICFAST_BENCH_ROUNDS", 3)


@pytest.fixture(scope="session")
def shortlist() -> int:
    """Tiles shortlisted per cell by the KD-tree baseline, from MOSAICFAST_BENCH_SHORTLIST."""
    return env_int("MOSAICFAST_BENCH_SHORTLIST", 200)


@pytest.fixture(scope="session")
def cell_library() -> SyntheticLibrary:
    """Cell descriptors; every cell set of the benchmarks is a prefix of it."""
    return SyntheticLibrary(GRID, CELL_SEED)


@pytest.fixture(scope="session")
def cells(cell_library: SyntheticLibrary) -> np.ndarray:
    """Descriptors of the 96 x 64 cells of the benchmark mosaic."""
    return cell_library.first(CELL_ROWS * CELL_COLS)


@pytest.fixture(scope="session")
def tile_library() -> Callable[[int], np.ndarray]:
    """Descriptors of the first ``n`` tiles of one synthetic library, shared by all."""
    return SyntheticLibrary(GRID, TILE_SEED).first


@pytest.fixture
def tiles(size: int, tile_library: Callable[[int], np.ndarray]) -> np.ndarray:
    """Descriptors of the ``size`` tiles of the current benchmark."""
    return tile_library(size)
