"""KD-tree-pruned top-1 search of 6144 cells among N tiles: mosaicfast against SciPy + NumPy.

mosaicfast's ``CandidateIndex(tiles).query(cells, 1)`` (PCA, default shortlist: whole
leaves nearest first, exact distances in Rust) against the pruning a SciPy user writes:
the ``shortlist`` nearest tiles of a ``cKDTree`` on 8 principal components, then exact
distances with NumPy (``baselines.kdtree_index`` and ``baselines.kdtree_topk``). Index
building and querying are timed separately; each query records its recall@1, the share of
cells given the exhaustive search's best tile. Tiles and cells come from real photos
(``photo_data``): synthetic descriptors make pruning unrealistically easy.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

import numpy as np
import pytest
from baselines import KdTreeIndex, kdtree_index, kdtree_topk
from photo_data import bench_tiles, photo_cells
from pytest_benchmark.fixture import BenchmarkFixture

from mosaicfast.kernels.candidates import CandidateIndex

BASELINE_DIMS = 8
"""Principal components of the baseline's KD-tree."""


@pytest.fixture(scope="module")
def cells() -> np.ndarray:
    """6144 cells of real photos (overrides the synthetic cells of ``conftest``)."""
    return photo_cells(6144)


@pytest.fixture
def tiles(size: int) -> np.ndarray:
    """``size`` tiles cropped from real photos (overrides the synthetic tiles)."""
    return bench_tiles(size)


Exhaustive = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


@pytest.fixture(scope="module")
def exhaustive(core: ModuleType, cells: np.ndarray) -> Exhaustive:
    """The exhaustive top-1 of the benchmark cells among given tiles, computed once per size."""
    found: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def best(tiles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if len(tiles) not in found:
            indices, distances = core.search_topk(cells, tiles, 1)
            found[len(tiles)] = indices[:, 0], distances[:, 0]
        return found[len(tiles)]

    return best


def label(
    benchmark: BenchmarkFixture, stage: str, implementation: str, cells: int, tiles: int
) -> None:
    """Group the benchmark and record what it measures for the report."""
    what = "index build" if stage == "pruned-build" else "query top-1"
    benchmark.group = f"pruned search (pca), {what}, {tiles} tiles"
    benchmark.extra_info.update(
        stage=stage, implementation=implementation, cells=cells, tiles=tiles
    )


def check_and_record(
    benchmark: BenchmarkFixture,
    tiles: np.ndarray,
    cells: np.ndarray,
    found: tuple[np.ndarray, np.ndarray],
    exhaustive: Exhaustive,
) -> None:
    """Record recall@1 and check the answers: real distances, never below the best."""
    indices, distances = found[0][:, 0], found[1][:, 0]
    best, best_distance = exhaustive(tiles)
    exact = ((tiles[indices].astype(np.int64) - cells) ** 2).sum(axis=1)
    np.testing.assert_array_equal(distances, exact)
    assert np.all(exact >= best_distance)
    benchmark.extra_info["recall"] = float(np.mean(indices == best))


def test_index_build(benchmark: BenchmarkFixture, tiles: np.ndarray, rounds: int) -> None:
    label(benchmark, "pruned-build", "rust", 0, len(tiles))
    index = benchmark.pedantic(CandidateIndex, args=(tiles,), rounds=rounds)
    assert index.size == len(tiles)


def test_index_build_baseline(benchmark: BenchmarkFixture, tiles: np.ndarray, rounds: int) -> None:
    label(benchmark, "pruned-build", "baseline", 0, len(tiles))
    index = benchmark.pedantic(kdtree_index, args=(tiles, BASELINE_DIMS), rounds=rounds)
    assert index.tree.n == len(tiles)


def test_query(
    benchmark: BenchmarkFixture,
    cells: np.ndarray,
    tiles: np.ndarray,
    exhaustive: Exhaustive,
    rounds: int,
) -> None:
    label(benchmark, "pruned", "rust", len(cells), len(tiles))
    index = CandidateIndex(tiles)
    benchmark.extra_info["shortlist"] = index.shortlist_size()
    benchmark.extra_info["scanned"] = index.scanned_fraction(cells)
    found = benchmark.pedantic(index.query, args=(cells, 1), rounds=rounds)
    check_and_record(benchmark, tiles, cells, found, exhaustive)


def test_query_baseline(
    benchmark: BenchmarkFixture,
    cells: np.ndarray,
    tiles: np.ndarray,
    exhaustive: Exhaustive,
    shortlist: int,
    rounds: int,
) -> None:
    label(benchmark, "pruned", "baseline", len(cells), len(tiles))
    benchmark.extra_info["shortlist"] = shortlist
    index: KdTreeIndex = kdtree_index(tiles, BASELINE_DIMS)
    found = benchmark.pedantic(kdtree_topk, args=(index, cells, 1, shortlist), rounds=rounds)
    check_and_record(benchmark, tiles, cells, found, exhaustive)
