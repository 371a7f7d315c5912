"""Assignment of tiles to cells: every mode's guarantee checked on its output."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from mosaicfast.assign import (
    InfeasibleAssignmentError,
    hardest_first,
    nearest_by_cost,
    nearest_by_descriptors,
    optimal_assignment,
    optimal_dense,
    penalised_greedy,
    squared_distance_costs,
)


def _topk(costs: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Each row's ``k`` cheapest columns and costs, by (cost, column)."""
    order = np.lexsort((np.broadcast_to(np.arange(costs.shape[1]), costs.shape), costs), axis=1)
    cand = order[:, :k].astype(np.int64)
    return cand, np.take_along_axis(costs, cand, axis=1)


def _full(costs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return _topk(costs, costs.shape[1])


def _lsa_total(costs: np.ndarray, capacity: int = 1) -> float:
    wide = np.repeat(costs, capacity, axis=1)
    rows, cols = linear_sum_assignment(wide)
    return float(wide[rows, cols].sum())


def _check_certificate(result, cand, cost, capacity: int) -> None:
    u, v = result.cell_duals, result.tile_duals
    present = cand >= 0
    reduced = cost - u[:, None] - v[np.where(present, cand, 0)]
    scale = max(1.0, np.abs(cost).max())
    assert np.all(reduced[present] >= -1e-9 * scale)
    chosen = cand == result.assignment[:, None]
    assert np.allclose(reduced[chosen], 0.0, atol=1e-9 * scale)
    uses = np.bincount(result.assignment, minlength=len(v))
    assert uses.max() <= capacity
    assert np.all(v <= 0) and np.all(uses[v < 0] == capacity)
    dual = u.sum() + capacity * v.sum()
    assert dual == pytest.approx(result.total_cost, rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("capacity", [1, 2, 3])
def test_optimal_matches_linear_sum_assignment(seed: int, capacity: int) -> None:
    rng = np.random.default_rng(seed)
    m, n = 30 + seed * 7, 12 + seed * 9
    if n * capacity < m:
        n = -(-m // capacity)
    costs = rng.integers(0, 50, (m, n)).astype(np.float64) + rng.random((m, n)) * (seed % 2)
    cand, cost = _full(costs)
    result = optimal_assignment(cand, cost, n, capacity=capacity)
    assert result.total_cost == pytest.approx(_lsa_total(costs, capacity), rel=1e-9)
    assert costs[np.arange(m), result.assignment].sum() == pytest.approx(result.total_cost)
    _check_certificate(result, cand, cost, capacity)


def test_capacity_one_uses_every_tile_once_at_most() -> None:
    rng = np.random.default_rng(1)
    costs = rng.random((40, 40))
    result = optimal_assignment(*_full(costs), 40)
    assert sorted(result.assignment.tolist()) == list(range(40))


def test_infeasible_sparse_problem_is_reported() -> None:
    cand = np.array([[0, 1], [0, 1], [1, 0], [2, -1]])
    cost = np.array([[1.0, 2.0], [1.0, 3.0], [1.0, 5.0], [0.0, 0.0]])
    with pytest.raises(InfeasibleAssignmentError, match="1 of 4 cells cannot be matched") as info:
        optimal_assignment(cand, cost, 4)
    assert len(info.value.unmatched) == 1
    assert info.value.assignment[3] == 2
    assert (info.value.assignment < 0).sum() == 1


@pytest.mark.parametrize("capacity", [1, 2])
def test_column_generation_reaches_the_dense_optimum(capacity: int) -> None:
    rng = np.random.default_rng(5)
    cells = rng.integers(-200, 400, (120, 12)).astype(np.int16)
    tiles = rng.integers(-200, 400, (150, 12)).astype(np.int16)
    rows = squared_distance_costs(cells, tiles)
    dense = rows(np.arange(len(cells)))
    cand, cost, extra = nearest_by_descriptors(cells, tiles, k=3, per_tile=1)
    result = optimal_dense(rows, cand, cost, len(tiles), capacity=capacity, extra_pairs=extra)
    assert result.total_cost == pytest.approx(_lsa_total(dense, capacity), rel=1e-9)
    assert dense[np.arange(len(cells)), result.assignment].sum() == result.total_cost
    reduced = dense - result.cell_duals[:, None] - result.tile_duals[None, :]
    assert reduced.min() >= -1e-9 * dense.max()


def test_nearest_by_cost_agrees_with_descriptor_search() -> None:
    rng = np.random.default_rng(6)
    cells = rng.integers(0, 100, (50, 6)).astype(np.int16)
    tiles = rng.integers(0, 100, (70, 6)).astype(np.int16)
    rows = squared_distance_costs(cells, tiles)
    by_cost = nearest_by_cost(rows, 50, 70, k=4, per_tile=2, block=16)
    by_search = nearest_by_descriptors(cells, tiles, k=4, per_tile=2)
    np.testing.assert_array_equal(np.sort(by_cost[1], axis=1), by_search[1])
    for triples in (by_cost[2], by_search[2]):
        assert len(triples[0]) == 140
    results = [optimal_dense(rows, c, d, 70, extra_pairs=e) for c, d, e in (by_cost, by_search)]
    assert results[0].total_cost == results[1].total_cost


def test_greedy_without_penalty_is_per_cell_best() -> None:
    rng = np.random.default_rng(2)
    costs = rng.integers(0, 5, (24, 10)).astype(np.float64)
    cand, cost = _topk(costs, 6)
    shuffled = np.ascontiguousarray(cand[:, ::-1]), np.ascontiguousarray(cost[:, ::-1])
    order = rng.permutation(24)
    assignment, uses = penalised_greedy(*shuffled, order, 10, penalty=0.0)
    np.testing.assert_array_equal(assignment, cand[:, 0])
    np.testing.assert_array_equal(uses, np.bincount(cand[:, 0], minlength=10))


def test_large_penalty_spreads_uses() -> None:
    m, n = 60, 20
    cost = np.tile(np.linspace(0.0, 1.0, n), (m, 1))
    cand = np.tile(np.arange(n), (m, 1))
    _, plain = penalised_greedy(cand, cost, np.arange(m), n, penalty=0.0)
    _, spread = penalised_greedy(cand, cost, np.arange(m), n, penalty=10.0)
    assert plain.max() == m
    assert spread.max() - spread.min() <= 1 and spread.sum() == m


def _chebyshev_repeats(assignment: np.ndarray, grid: tuple[int, int], r: int) -> int:
    rows, cols = grid
    board = assignment.reshape(rows, cols)
    repeats = 0
    for dy in range(0, r + 1):
        for dx in range(-r, r + 1):
            if (dy, dx) <= (0, 0):
                continue
            a = board[max(0, -dy) : rows - max(0, dy), max(0, -dx) : cols - max(0, dx)]
            b = board[max(0, dy) :, max(0, dx) :][: a.shape[0], : a.shape[1]]
            repeats += int(((a == b) & (a >= 0)).sum())
    return repeats


def test_greedy_respects_max_uses_and_min_distance() -> None:
    rng = np.random.default_rng(3)
    grid, n, k = (12, 16), 50, 20
    m = grid[0] * grid[1]
    costs = rng.random((m, n))
    cand, cost = _topk(costs, k)
    order = hardest_first(cost)
    assignment, uses = penalised_greedy(
        cand, cost, order, n, penalty=0.01, max_uses=6, min_distance=2, grid=grid
    )
    assert uses.max() <= 6
    assert _chebyshev_repeats(assignment, grid, 2) == 0
    assert np.array_equal(uses, np.bincount(assignment[assignment >= 0], minlength=n))
    # Cells left out are filled by a second call with wider candidates.
    if (assignment < 0).any():
        wide = _full(costs)
        again, uses2 = penalised_greedy(
            *wide, order, n, penalty=0.01, max_uses=6, min_distance=2, grid=grid, fixed=assignment
        )
        kept = assignment >= 0
        np.testing.assert_array_equal(again[kept], assignment[kept])
        assert uses2.max() <= 6 and _chebyshev_repeats(again, grid, 2) == 0


def test_greedy_reports_cells_without_allowed_candidate() -> None:
    cand = np.zeros((4, 1), dtype=np.int64)
    cost = np.ones((4, 1))
    assignment, uses = penalised_greedy(
        cand, cost, [0, 1, 2, 3], 1, penalty=0.0, min_distance=1, grid=(2, 2)
    )
    np.testing.assert_array_equal(assignment, [0, -1, -1, -1])
    assert uses.tolist() == [1]


def test_results_do_not_depend_on_threads() -> None:
    rng = np.random.default_rng(4)
    cells = rng.integers(-200, 400, (300, 12)).astype(np.int16)
    tiles = rng.integers(-200, 400, (200, 12)).astype(np.int16)
    rows = squared_distance_costs(cells, tiles)

    def solve(threads: int) -> tuple[np.ndarray, ...]:
        cand, cost, extra = nearest_by_descriptors(cells, tiles, k=6, threads=threads)
        result = optimal_dense(rows, cand, cost, 200, capacity=2, extra_pairs=extra)
        greedy = penalised_greedy(cand, cost, hardest_first(cost), 200, penalty=50.0)
        return (result.assignment, result.cell_duals, result.tile_duals, *greedy)

    expected = solve(1)
    with ThreadPoolExecutor(max_workers=3) as pool:
        runs = list(pool.map(solve, [2, 3, 1, 2]))
    for run in runs:
        for got, want in zip(run, expected, strict=True):
            np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: penalised_greedy([[0]], [[0.0]], [0], 1, penalty=-1.0), "penalty"),
        (lambda: penalised_greedy(np.zeros((2, 0)), np.zeros((2, 0)), [0], 1, penalty=0), "k >= 1"),
        (lambda: optimal_assignment([[0]], [[0.0]], 1, capacity=0), "capacity"),
        (lambda: optimal_assignment([[0], [0]], [[0.0], [0.0]], 1), "2 cells cannot be filled"),
        (lambda: optimal_assignment([[0, 5]], [[0.0, 1.0]], 3), "outside 0..3"),
        (lambda: optimal_assignment([[-2]], [[0.0]], 3), "outside 0..3"),
        (lambda: optimal_assignment([[1, 1]], [[0.0, 1.0]], 3), "twice"),
        (lambda: optimal_assignment([[0, 1]], [[0.0, np.nan]], 3), "finite"),
        (lambda: optimal_assignment([[0, 1]], [[0.0]], 3), "same shape"),
        (lambda: penalised_greedy([[0]], [[0.0]], [1], 1, penalty=0.0), "order holds cell 1"),
        (lambda: penalised_greedy([[0]], [[0.0]], [0, 0], 1, penalty=0.0), "twice"),
        (lambda: penalised_greedy([[0]], [[0.0]], [0], 1, penalty=0, max_uses=0), "max_uses"),
        (lambda: penalised_greedy([[0]], [[0.0]], [0], 1, penalty=0, min_distance=1), "grid"),
        (lambda: penalised_greedy([[0]], [[0.0]], [0], 1, penalty=0, grid=(2, 2)), "grid 2x2"),
        (
            lambda: penalised_greedy(
                [[0], [0]], [[0.0], [0.0]], [], 1, penalty=0, max_uses=1, fixed=[0, 0]
            ),
            "max_uses",
        ),
    ],
)
def test_bad_arguments_are_value_errors(call, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()
