"""Shared data and settings of the search benchmarks.

Environment variables
---------------------
MOSAICFAST_BENCH_SIZES
    Comma-separated tile counts to benchmark (default ``2000``: a quick smoke run).
MOSAICFAST_BENCH_ROUNDS
    Timed rounds per benchmark (default ``3``).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from types import ModuleType

import numpy as np
import pytest
from baselines import synthetic_descriptors

CELL_ROWS, CELL_COLS = 96, 64
"""The mosaic's grid of cells: 6144 cells."""
GRID = 5
"""Match resolution: descriptors of 3 * 5 * 5 = 75 values."""
CELL_SEED = 1
TILE_SEED = 2


def _env_int_list(name: str, default: str) -> list[int]:
    """Positive integers from a comma-separated environment variable."""
    text = os.environ.get(name, default)
    values = [int(part) for part in text.split(",") if part.strip()]
    if not values or min(values) < 1:
        raise pytest.UsageError(f"{name} must be a comma list of positive integers, got {text!r}")
    return values


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run every benchmark that takes ``size`` once per size of MOSAICFAST_BENCH_SIZES."""
    if "size" in metafunc.fixturenames:
        sizes = _env_int_list("MOSAICFAST_BENCH_SIZES", "2000")
        metafunc.parametrize("size", sizes, ids=[f"{n}tiles" for n in sizes])


@pytest.fixture(scope="session")
def core() -> ModuleType:
    """``mosaicfast.descriptors``, the Rust core's wrappers; skips if the core is not built."""
    pytest.importorskip("mosaicfast._core")
    return importlib.import_module("mosaicfast.descriptors")


@pytest.fixture(scope="session")
def rounds() -> int:
    """Timed rounds per benchmark, from MOSAICFAST_BENCH_ROUNDS."""
    return _env_int_list("MOSAICFAST_BENCH_ROUNDS", "3")[0]


@pytest.fixture(scope="session")
def cells() -> np.ndarray:
    """Descriptors of the 96 x 64 cells of the benchmark mosaic."""
    return synthetic_descriptors(CELL_ROWS * CELL_COLS, GRID, CELL_SEED)


@pytest.fixture(scope="session")
def tile_library() -> Callable[[int], np.ndarray]:
    """Descriptors of ``n`` tiles, made once per size and shared by the benchmarks."""
    made: dict[int, np.ndarray] = {}

    def tiles(n: int) -> np.ndarray:
        if n not in made:
            made[n] = synthetic_descriptors(n, GRID, TILE_SEED)
        return made[n]

    return tiles


@pytest.fixture
def tiles(size: int, tile_library: Callable[[int], np.ndarray]) -> np.ndarray:
    """Descriptors of the ``size`` tiles of the current benchmark."""
    return tile_library(size)
