"""SSIM re-ranking of 6144 cells x top-32 candidates at 16 x 16 among N tiles.

The Rust core against the vectorised NumPy/SciPy computation a NumPy user would write
and the pure-Python reference (``references.ssim_rerank``), both timed on a subsample of
cells and extrapolated, and labelled so. Each is checked against the core on its
subsample. Tile counts come from MOSAICFAST_BENCH_SIZES, as for the search benchmarks
(``190000`` for the issue's full-size job).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import references
from baselines import spread_sample
from conftest import CELL_COLS, CELL_ROWS
from pytest_benchmark.fixture import BenchmarkFixture
from scipy.ndimage import uniform_filter

from mosaicfast.kernels.ssim import candidate_ssim

SIDE = 16
"""Side of the luminance patches compared."""
TOP_K = 32
"""Candidates re-ranked per cell."""
WIN_SIZE = 7
"""skimage's default uniform window."""
DATA_RANGE = 255.0
BASELINE_CELLS = 256
"""Cells of the subsample computed by the NumPy/SciPy baseline."""
REFERENCE_CELLS = 4
"""Cells of the subsample computed by the pure-Python reference (all their candidates)."""


def synthetic_patches(count: int, seed: int) -> np.ndarray:
    """``count`` float32 luminance patches: random gradients plus noise, in 0..255."""
    rng = np.random.default_rng(seed)
    ramp = np.linspace(-1.0, 1.0, SIDE, dtype=np.float32)
    slopes = rng.uniform(-60, 60, (count, 2, 1, 1)).astype(np.float32)
    patches = rng.uniform(60, 190, (count, 1, 1)).astype(np.float32)
    patches = patches + slopes[:, 0] * ramp[:, None] + slopes[:, 1] * ramp[None, :]
    patches += rng.normal(0, 12, (count, SIDE, SIDE)).astype(np.float32)
    return np.clip(patches, 0, 255)


@pytest.fixture(scope="module")
def ssim_cells() -> np.ndarray:
    """Luminance patches of the 96 x 64 cells of the benchmark mosaic."""
    return synthetic_patches(CELL_ROWS * CELL_COLS, 1)


@pytest.fixture(scope="module")
def patch_library() -> Callable[[int], np.ndarray]:
    """Luminance patches of ``n`` tiles, made once per size."""
    made: dict[int, np.ndarray] = {}

    def tiles(n: int) -> np.ndarray:
        if n not in made:
            made[n] = synthetic_patches(n, 2)
        return made[n]

    return tiles


@pytest.fixture
def problem(
    size: int, ssim_cells: np.ndarray, patch_library: Callable[[int], np.ndarray]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cells, ``size`` tiles and random top-32 candidates: nearly all distinct tiles, the
    worst case for the per-tile statistics the core computes once."""
    candidates = np.random.default_rng(3).integers(0, size, (len(ssim_cells), TOP_K))
    return ssim_cells, patch_library(size), candidates


def numpy_candidate_ssim(
    cells: np.ndarray, tiles: np.ndarray, candidates: np.ndarray
) -> np.ndarray:
    """Mean SSIM of every (cell, candidate) pair with SciPy's uniform filter on pair stacks.

    skimage's computation (uniform window, sample covariance), vectorised over all pairs.
    """
    x = np.repeat(cells.astype(np.float64), candidates.shape[1], axis=0)
    y = tiles[candidates.ravel()].astype(np.float64)
    size = (1, WIN_SIZE, WIN_SIZE)
    ux, uy = uniform_filter(x, size), uniform_filter(y, size)
    uxx, uyy, uxy = (
        uniform_filter(x * x, size),
        uniform_filter(y * y, size),
        uniform_filter(x * y, size),
    )
    norm = WIN_SIZE**2 / (WIN_SIZE**2 - 1)
    vx, vy, vxy = norm * (uxx - ux * ux), norm * (uyy - uy * uy), norm * (uxy - ux * uy)
    c1, c2 = (0.01 * DATA_RANGE) ** 2, (0.03 * DATA_RANGE) ** 2
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
    pad = (WIN_SIZE - 1) // 2
    return s[:, pad:-pad, pad:-pad].mean(axis=(1, 2)).reshape(candidates.shape)


def label(benchmark: BenchmarkFixture, implementation: str, cells: int, tiles: int) -> None:
    """Group the benchmark by tile count and record what it measures.

    ``report.py`` files it by ``stage`` and ``implementation`` and reads its size from
    ``cells``, ``tiles``, ``dim`` (pixels per patch) and ``k``.
    """
    benchmark.group = f"ssim re-rank top-{TOP_K}, {SIDE}x{SIDE}, {tiles} tiles"
    benchmark.extra_info.update(
        stage="ssim",
        implementation=implementation,
        cells=cells,
        tiles=tiles,
        dim=SIDE * SIDE,
        k=TOP_K,
    )


def test_rust_ssim(
    benchmark: BenchmarkFixture,
    problem: tuple[np.ndarray, np.ndarray, np.ndarray],
    rounds: int,
) -> None:
    cells, tiles, candidates = problem
    label(benchmark, "rust", len(cells), len(tiles))
    scores = benchmark.pedantic(
        candidate_ssim,
        args=(cells, tiles, candidates),
        kwargs={"data_range": DATA_RANGE, "win_size": WIN_SIZE},
        rounds=rounds,
        warmup_rounds=1,
    )
    assert scores.shape == candidates.shape
    sample = slice(0, 64)
    expected = numpy_candidate_ssim(cells[sample], tiles, candidates[sample])
    np.testing.assert_allclose(scores[sample], expected, atol=1e-5)


def test_numpy_ssim_baseline(
    benchmark: BenchmarkFixture,
    problem: tuple[np.ndarray, np.ndarray, np.ndarray],
    rounds: int,
) -> None:
    cells, tiles, candidates = problem
    label(benchmark, "baseline", len(cells), len(tiles))
    sample = spread_sample(cells, BASELINE_CELLS)
    benchmark.extra_info.update(
        subsample_cells=BASELINE_CELLS, extrapolation=len(cells) / BASELINE_CELLS
    )
    scores = benchmark.pedantic(
        numpy_candidate_ssim,
        args=(cells[sample], tiles, candidates[sample]),
        rounds=rounds,
        iterations=1,
    )
    expected = candidate_ssim(cells[sample], tiles, candidates[sample], win_size=WIN_SIZE)
    np.testing.assert_allclose(scores, expected, atol=1e-5)


def test_python_ssim_reference(
    benchmark: BenchmarkFixture,
    problem: tuple[np.ndarray, np.ndarray, np.ndarray],
    rounds: int,
) -> None:
    cells, tiles, candidates = problem
    label(benchmark, "python", len(cells), len(tiles))
    sample = spread_sample(cells, REFERENCE_CELLS)
    benchmark.extra_info.update(
        subsample_cells=REFERENCE_CELLS, extrapolation=len(cells) / REFERENCE_CELLS
    )
    scores = benchmark.pedantic(
        references.ssim_rerank,
        args=(cells[sample], tiles, candidates[sample], WIN_SIZE, DATA_RANGE),
        rounds=rounds,
    )
    expected = candidate_ssim(cells[sample], tiles, candidates[sample], win_size=WIN_SIZE)
    np.testing.assert_allclose(scores, expected, atol=2e-5)
