"""Assignment of tiles to cells: exact optimum against SciPy's dense solver, and the greedy.

Environment variables
---------------------
MOSAICFAST_BENCH_ASSIGN_SIZE
    Cells and tiles of the optimal-assignment benchmark (default ``1000``; the full
    benchmark is ``10000``: 10,000 cells x 10,000 tiles, each tile at most once).
"""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np
import pytest
from baselines import synthetic_descriptors
from pytest_benchmark.fixture import BenchmarkFixture
from scipy.optimize import linear_sum_assignment

from mosaicfast import assign
from mosaicfast.descriptors import search_topk

GREEDY_TILES = 10_000
GREEDY_K = 32
GREEDY_RADIUS = 2


def _assign_size() -> int:
    text = os.environ.get("MOSAICFAST_BENCH_ASSIGN_SIZE", "1000")
    if not text.isdigit() or int(text) < 1:
        raise pytest.UsageError(
            f"MOSAICFAST_BENCH_ASSIGN_SIZE must be a positive integer: {text!r}"
        )
    return int(text)


@pytest.fixture(scope="module")
def square() -> tuple[np.ndarray, np.ndarray]:
    """Descriptors of as many cells as tiles."""
    n = _assign_size()
    return synthetic_descriptors(n, 5, 11), synthetic_descriptors(n, 5, 12)


@pytest.fixture(scope="module")
def dense_optimum(square: tuple[np.ndarray, np.ndarray]) -> Callable[[], float]:
    """The optimum total cost by SciPy on the dense matrix, computed once on first use."""
    found: list[float] = []

    def total() -> float:
        if not found:
            cells, tiles = square
            costs = assign.squared_distance_costs(cells, tiles)(np.arange(len(cells)))
            rows, cols = linear_sum_assignment(costs)
            found.append(float(costs[rows, cols].sum()))
        return found[0]

    return total


def _label(benchmark: BenchmarkFixture, implementation: str, cells: int, tiles: int) -> None:
    benchmark.group = f"optimal assignment, {cells} cells x {tiles} tiles, capacity 1"
    benchmark.extra_info.update(implementation=implementation, cells=cells, tiles=tiles)


def test_optimal_column_generation(
    benchmark: BenchmarkFixture,
    square: tuple[np.ndarray, np.ndarray],
    dense_optimum: Callable[[], float],
    rounds: int,
) -> None:
    cells, tiles = square
    _label(benchmark, "rust sparse + column generation", len(cells), len(tiles))

    def solve() -> assign.OptimalAssignment:
        # Wider first candidates (32 per cell, 4 per tile) and 64 new pairs per cell per
        # round need fewer rounds: 3 instead of 4 sparse solves and dense scans.
        cand, cost, extra = assign.nearest_by_descriptors(cells, tiles, k=32, per_tile=4)
        costs = assign.squared_distance_costs(cells, tiles)
        return assign.optimal_dense(costs, cand, cost, len(tiles), extra_pairs=extra, per_cell=64)

    result = benchmark.pedantic(solve, rounds=rounds, iterations=1)
    benchmark.extra_info["solves"] = result.rounds
    assert np.unique(result.assignment).size == len(cells)
    assert result.total_cost == pytest.approx(dense_optimum(), rel=1e-9)


def test_optimal_scipy_dense(
    benchmark: BenchmarkFixture,
    square: tuple[np.ndarray, np.ndarray],
    dense_optimum: Callable[[], float],
    rounds: int,
) -> None:
    cells, tiles = square
    _label(benchmark, "scipy linear_sum_assignment (dense)", len(cells), len(tiles))
    costs = assign.squared_distance_costs(cells, tiles)(np.arange(len(cells)))
    rows, cols = benchmark.pedantic(linear_sum_assignment, args=(costs,), rounds=rounds)
    assert float(costs[rows, cols].sum()) == pytest.approx(dense_optimum(), rel=1e-9)


def test_penalised_greedy_min_distance(
    benchmark: BenchmarkFixture, cells: np.ndarray, tile_library, rounds: int
) -> None:
    from conftest import CELL_COLS, CELL_ROWS

    tiles = tile_library(GREEDY_TILES)
    cand, dist = search_topk(cells, tiles, GREEDY_K)
    cost = dist.astype(np.float64)
    order = assign.hardest_first(cost)
    benchmark.group = f"penalised greedy, {len(cells)} cells, k={GREEDY_K}, r={GREEDY_RADIUS}"
    benchmark.extra_info.update(implementation="rust", cells=len(cells), tiles=len(tiles))
    assignment, uses = benchmark.pedantic(
        assign.penalised_greedy,
        args=(cand, cost, order, len(tiles)),
        kwargs={
            "penalty": float(np.median(cost[:, 0])),
            "max_uses": 4,
            "min_distance": GREEDY_RADIUS,
            "grid": (CELL_ROWS, CELL_COLS),
        },
        rounds=rounds,
        iterations=1,
    )
    assert uses.max() <= 4
    board = assignment.reshape(CELL_ROWS, CELL_COLS)
    assert not np.any((board[:, 1:] == board[:, :-1]) & (board[:, 1:] >= 0))
