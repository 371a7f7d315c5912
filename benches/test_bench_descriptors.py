"""Tile descriptors of N 64-px thumbnails at g = 5: Rust core, NumPy baseline, pure Python.

The thumbnail count comes from MOSAICFAST_BENCH_THUMBS; the pure-Python reference is
timed on a subsample and extrapolated. Each result is checked against the core's.
"""

from __future__ import annotations

from types import ModuleType

import numpy as np
import pytest
from baselines import numpy_tile_descriptors, synthetic_thumbnails
from conftest import GRID, env_int
from pytest_benchmark.fixture import BenchmarkFixture

from mosaicfast._reference import descriptors as reference

THUMB_SIDE = 64
"""Side of the thumbnails, the library's default."""
REFERENCE_THUMBS = 20
"""Thumbnails of the subsample described by the pure-Python reference."""


@pytest.fixture(scope="module")
def thumbs() -> np.ndarray:
    """``MOSAICFAST_BENCH_THUMBS`` synthetic 64-px thumbnails."""
    return synthetic_thumbnails(env_int("MOSAICFAST_BENCH_THUMBS", 200), THUMB_SIDE, 5)


@pytest.fixture(scope="module")
def expected(core: ModuleType, thumbs: np.ndarray) -> np.ndarray:
    """The core's descriptors, against which the others are checked."""
    return core.tile_descriptors(thumbs, GRID)


def label(benchmark: BenchmarkFixture, implementation: str, thumbs: int) -> None:
    """Group the benchmark and record what it measures for the report."""
    benchmark.group = f"tile descriptors, {thumbs} thumbnails"
    benchmark.extra_info.update(
        stage="descriptors", implementation=implementation, thumbs=thumbs, side=THUMB_SIDE
    )


def test_rust_descriptors(
    benchmark: BenchmarkFixture,
    core: ModuleType,
    thumbs: np.ndarray,
    expected: np.ndarray,
    rounds: int,
) -> None:
    label(benchmark, "rust", len(thumbs))
    found = benchmark.pedantic(
        core.tile_descriptors, args=(thumbs, GRID), rounds=rounds, warmup_rounds=1
    )
    np.testing.assert_array_equal(found, expected)


def test_numpy_descriptors(
    benchmark: BenchmarkFixture, thumbs: np.ndarray, expected: np.ndarray, rounds: int
) -> None:
    label(benchmark, "baseline", len(thumbs))
    found = benchmark.pedantic(numpy_tile_descriptors, args=(thumbs, GRID), rounds=rounds)
    # Floating-point rounding may move a value by one quarter unit, very rarely.
    assert np.abs(found.astype(np.int32) - expected).max() <= 1
    assert np.mean(found == expected) > 0.999


def test_python_descriptors(
    benchmark: BenchmarkFixture, thumbs: np.ndarray, expected: np.ndarray, rounds: int
) -> None:
    label(benchmark, "python", len(thumbs))
    sample = thumbs[:REFERENCE_THUMBS]
    benchmark.extra_info.update(
        subsample_thumbs=len(sample), extrapolation=len(thumbs) / len(sample)
    )
    found = benchmark.pedantic(reference.tile_descriptors, args=(sample, GRID), rounds=rounds)
    np.testing.assert_array_equal(found, expected[:REFERENCE_THUMBS])
