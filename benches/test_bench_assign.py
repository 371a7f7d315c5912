"""Assignment of tiles to cells: exact optimum against SciPy's dense solver, and the greedy
against its pure-Python reference (``references.penalised_greedy``).

SciPy's dense solve runs first and once (half a minute at full size); its optimum is what
the core's result is checked against.

Environment variables
---------------------
MOSAICFAST_BENCH_ASSIGN_SIZE
    Cells and tiles of the optimal-assignment benchmark (default ``1000``; the full
    benchmark is ``10000``: 10,000 cells x 10,000 tiles, each tile at most once).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import references
from baselines import synthetic_descriptors
from conftest import CELL_COLS, CELL_ROWS, env_int
from pytest_benchmark.fixture import BenchmarkFixture
from scipy.optimize import linear_sum_assignment

from mosaicfast import assign
from mosaicfast.descriptors import search_topk

GREEDY_TILES = 10_000
GREEDY_K = 32
GREEDY_RADIUS = 2
GREEDY_MAX_USES = 4

GreedyProblem = tuple[tuple[Any, ...], dict[str, Any]]
"""Positional and keyword arguments of ``penalised_greedy``."""


@pytest.fixture(scope="module")
def square() -> tuple[np.ndarray, np.ndarray]:
    """Descriptors of as many cells as tiles."""
    n = env_int("MOSAICFAST_BENCH_ASSIGN_SIZE", 1000)
    return synthetic_descriptors(n, 5, 11), synthetic_descriptors(n, 5, 12)


class DenseOptimum:
    """The optimum total cost by SciPy on the dense matrix: recorded by the SciPy benchmark,
    or computed on first use if that did not run."""

    def __init__(self, square: tuple[np.ndarray, np.ndarray]) -> None:
        self.square = square
        self.total: float | None = None

    def record(self, costs: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> float:
        """Keep the total of an optimal ``(rows, cols)`` assignment of ``costs``."""
        self.total = float(costs[rows, cols].sum())
        return self.total

    def __call__(self) -> float:
        if self.total is None:
            cells, tiles = self.square
            costs = assign.squared_distance_costs(cells, tiles)(np.arange(len(cells)))
            self.record(costs, *linear_sum_assignment(costs))
        assert self.total is not None
        return self.total


@pytest.fixture(scope="module")
def dense_optimum(square: tuple[np.ndarray, np.ndarray]) -> DenseOptimum:
    """The SciPy optimum, shared by the module's benchmarks."""
    return DenseOptimum(square)


def _label(benchmark: BenchmarkFixture, implementation: str, cells: int, tiles: int) -> None:
    benchmark.group = f"optimal assignment, {cells} cells x {tiles} tiles, capacity 1"
    benchmark.extra_info.update(
        stage="optimal", implementation=implementation, cells=cells, tiles=tiles
    )


def test_optimal_scipy_dense(
    benchmark: BenchmarkFixture,
    square: tuple[np.ndarray, np.ndarray],
    dense_optimum: DenseOptimum,
) -> None:
    cells, tiles = square
    _label(benchmark, "baseline", len(cells), len(tiles))
    costs = assign.squared_distance_costs(cells, tiles)(np.arange(len(cells)))
    rows, cols = benchmark.pedantic(linear_sum_assignment, args=(costs,), rounds=1)
    assert np.unique(cols).size == len(cells)
    dense_optimum.record(costs, rows, cols)


def test_optimal_column_generation(
    benchmark: BenchmarkFixture,
    square: tuple[np.ndarray, np.ndarray],
    dense_optimum: DenseOptimum,
    rounds: int,
) -> None:
    cells, tiles = square
    _label(benchmark, "rust", len(cells), len(tiles))

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


@pytest.fixture(scope="module")
def greedy_problem(cells: np.ndarray, tile_library: Callable[[int], np.ndarray]) -> GreedyProblem:
    """The greedy's arguments: the 32 nearest of 10,000 tiles per cell, hardest cell first."""
    cand, dist = search_topk(cells, tile_library(GREEDY_TILES), GREEDY_K)
    cost = dist.astype(np.float64)
    options = {
        "penalty": float(np.median(cost[:, 0])),
        "max_uses": GREEDY_MAX_USES,
        "min_distance": GREEDY_RADIUS,
        "grid": (CELL_ROWS, CELL_COLS),
    }
    return (cand, cost, assign.hardest_first(cost), GREEDY_TILES), options


def _label_greedy(benchmark: BenchmarkFixture, implementation: str, cells: int) -> None:
    benchmark.group = f"penalised greedy, {cells} cells, k={GREEDY_K}, r={GREEDY_RADIUS}"
    benchmark.extra_info.update(
        stage="greedy",
        implementation=implementation,
        cells=cells,
        tiles=GREEDY_TILES,
        k=GREEDY_K,
        radius=GREEDY_RADIUS,
        max_uses=GREEDY_MAX_USES,
    )


def test_penalised_greedy_min_distance(
    benchmark: BenchmarkFixture,
    greedy_problem: GreedyProblem,
    rounds: int,
) -> None:
    args, options = greedy_problem
    _label_greedy(benchmark, "rust", len(args[0]))
    assignment, uses = benchmark.pedantic(
        assign.penalised_greedy, args=args, kwargs=options, rounds=rounds, warmup_rounds=1
    )
    assert uses.max() <= GREEDY_MAX_USES
    board = assignment.reshape(CELL_ROWS, CELL_COLS)
    assert not np.any((board[:, 1:] == board[:, :-1]) & (board[:, 1:] >= 0))


def test_penalised_greedy_python_reference(
    benchmark: BenchmarkFixture,
    greedy_problem: GreedyProblem,
    rounds: int,
) -> None:
    args, options = greedy_problem
    _label_greedy(benchmark, "python", len(args[0]))
    found = benchmark.pedantic(
        references.penalised_greedy, args=args, kwargs=options, rounds=rounds
    )
    expected = assign.penalised_greedy(*args, **options)
    np.testing.assert_array_equal(found[0], expected[0])
