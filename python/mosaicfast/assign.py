"""Assignment of tiles to cells from per-cell candidate lists, computed by the Rust core.

Every function takes candidate lists: ``cand``, an ``(m, k)`` array of tile indices
(distinct per row, ``-1`` pads a short row) and ``cost``, the matching ``(m, k)``
costs (lower is better), for the ``m`` cells of a ``rows x cols`` grid listed
row-major and ``n_tiles`` tiles.

- :func:`penalised_greedy` visits the cells in a given order; each takes the
  candidate of least ``cost + penalty * uses``, optionally with a use limit and
  a minimum (Chebyshev) distance between repeats of a tile.
- :func:`optimal_assignment` finds the exact minimum total cost assignment on
  the candidate graph with each tile used at most ``capacity`` times, and dual
  potentials that certify it.
- :func:`optimal_dense` makes that optimum the optimum over *all* (cell, tile)
  pairs by column generation: it adds the pairs of negative reduced cost
  (:func:`reduced_cost_violations`) and solves again until there are none.

The certificate, for the linear program ``min sum c_ij x_ij`` subject to
``sum_j x_ij = 1`` per cell, ``sum_i x_ij <= capacity`` per tile, ``x >= 0``
(its optimum is integral: the constraint matrix is that of a network): duals
``u`` (cells) and ``v <= 0`` (tiles) with ``c_ij - u_i - v_j >= 0`` on every
pair and equality on assigned pairs, ``v_j < 0`` only for full tiles. The
solver returns such duals for the candidate pairs; if the same inequality holds
for every pair of the full ``m x n`` problem, the duals are feasible for it too
and, by complementary slackness, the sparse optimum is the dense optimum.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import _core
from .descriptors import search_topk
from .errors import MosaicfastError

__all__ = [
    "CostRows",
    "InfeasibleAssignmentError",
    "OptimalAssignment",
    "Pairs",
    "hardest_first",
    "nearest_by_cost",
    "nearest_by_descriptors",
    "optimal_assignment",
    "optimal_dense",
    "penalised_greedy",
    "reduced_cost_violations",
    "squared_distance_costs",
]

CostRows = Callable[[NDArray[np.intp]], NDArray[np.float64]]
"""Costs of the given cells to every tile: ``rows -> (len(rows), n_tiles)`` float64."""
Pairs = tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]
"""(cell, tile, cost) triples, one per (cell, tile) pair."""


class InfeasibleAssignmentError(MosaicfastError):
    """Some cells cannot all be matched within their candidate lists.

    ``unmatched`` holds those cells and ``assignment`` the best partial assignment
    (``-1`` for them): widen their candidates and solve again.
    """

    def __init__(self, unmatched: NDArray[np.int64], assignment: NDArray[np.int64]) -> None:
        self.unmatched = unmatched
        self.assignment = assignment
        super().__init__(
            f"{len(unmatched)} of {len(assignment)} cells cannot be matched within their "
            f"candidate lists (tiles used up); widen the candidates of cells "
            f"{unmatched[:10].tolist()}{'...' if len(unmatched) > 10 else ''}"
        )


@dataclass(frozen=True)
class OptimalAssignment:
    """A minimum-cost assignment and the dual potentials that certify it.

    Attributes
    ----------
    assignment : numpy.ndarray
        ``(m,)`` ``int64`` tile of every cell.
    total_cost : float
        Sum of the assigned costs.
    cell_duals, tile_duals : numpy.ndarray
        ``u`` ``(m,)`` and ``v`` ``(n_tiles,)`` ``float64``: ``c_ij - u_i - v_j >= 0``
        on every candidate pair, ``0`` on assigned pairs, ``v <= 0``, and
        ``total_cost == u.sum() + capacity * v.sum()``.
    rounds : int
        Solves it took (more than 1 only for :func:`optimal_dense`).
    """

    assignment: NDArray[np.int64]
    total_cost: float
    cell_duals: NDArray[np.float64]
    tile_duals: NDArray[np.float64]
    rounds: int = 1


def _candidates(cand: ArrayLike, cost: ArrayLike) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    cand_arr = np.asarray(cand)
    cost_arr = np.asarray(cost)
    if cand_arr.ndim != 2 or cand_arr.shape != cost_arr.shape:
        raise ValueError(
            f"cand and cost must be 2-d arrays of the same shape (m, k), "
            f"got {cand_arr.shape} and {cost_arr.shape}"
        )
    if cand_arr.shape[1] == 0:
        raise ValueError("cand and cost must have at least one candidate per cell (k >= 1)")
    if not np.issubdtype(cand_arr.dtype, np.integer):
        raise ValueError(f"cand must hold integer tile indices, got dtype {cand_arr.dtype}")
    return (
        np.ascontiguousarray(cand_arr, dtype=np.int64),
        np.ascontiguousarray(cost_arr, dtype=np.float64),
    )


def _cell_indices(values: ArrayLike, name: str) -> NDArray[np.int64]:
    arr = np.asarray(values)
    if arr.ndim != 1 or not (arr.size == 0 or np.issubdtype(arr.dtype, np.integer)):
        raise ValueError(f"{name} must be a 1-d integer array, got {arr.dtype} {arr.shape}")
    return np.ascontiguousarray(arr, dtype=np.int64)


def _check_capacity(m: int, n_tiles: int, capacity: int) -> None:
    if capacity < 1:
        raise ValueError(f"capacity must be at least 1, got {capacity}")
    if n_tiles * capacity < m:
        raise ValueError(
            f"{m} cells cannot be filled from {n_tiles} tiles used at most {capacity} times each"
        )


def hardest_first(cost: ArrayLike) -> NDArray[np.int64]:
    """Cells by descending best candidate cost (ties to the lower cell): a visiting order.

    Parameters
    ----------
    cost : array_like
        ``(m, k)`` candidate costs.

    Returns
    -------
    numpy.ndarray
        ``(m,)`` ``int64`` permutation of the cells.
    """
    best = np.asarray(cost, dtype=np.float64).min(axis=1)
    return np.argsort(-best, kind="stable").astype(np.int64)


def penalised_greedy(
    cand: ArrayLike,
    cost: ArrayLike,
    order: ArrayLike,
    n_tiles: int,
    *,
    penalty: float,
    max_uses: int | None = None,
    min_distance: int = 0,
    grid: tuple[int, int] | None = None,
    fixed: ArrayLike | None = None,
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Assign cells one by one, each to its candidate of least penalised cost.

    Cells are visited in ``order``; each takes the candidate minimising
    ``cost + penalty * uses[tile]`` (ties to the lower tile index), skipping tiles
    with ``max_uses`` uses and tiles already assigned within Chebyshev distance
    ``min_distance``. Cost ``O(m * (k + min_distance**2))``, sequential.

    Parameters
    ----------
    cand, cost : array_like
        ``(m, k)`` candidate tiles (``-1`` pads) and their costs.
    order : array_like
        Distinct cells to visit, e.g. :func:`hardest_first` or a seeded shuffle.
        Cells already assigned in ``fixed`` are skipped.
    n_tiles : int
        Number of tiles.
    penalty : float
        Cost added per earlier use of a tile, ``>= 0``; 0 gives every cell its best.
    max_uses : int, optional
        Most uses of one tile (``>= 1``); unlimited by default.
    min_distance : int, default 0
        A tile may not repeat within this Chebyshev distance (needs ``grid``).
    grid : tuple of int, optional
        ``(rows, cols)`` of the cells, ``rows * cols == m``; default one row.
    fixed : array_like, optional
        ``(m,)`` tiles already assigned (``-1`` for free cells), e.g. the result
        of an earlier call: their uses count and they block their neighbourhood.

    Returns
    -------
    assignment, uses : numpy.ndarray
        ``(m,)`` ``int64`` tile per cell, ``-1`` where no candidate was allowed
        (widen that cell's candidates and call again with ``fixed=assignment``),
        and ``(n_tiles,)`` ``int64`` uses per tile.
    """
    cand_arr, cost_arr = _candidates(cand, cost)
    m = cand_arr.shape[0]
    if penalty < 0 or not np.isfinite(penalty):
        raise ValueError(f"penalty must be a finite number >= 0, got {penalty}")
    if max_uses is not None and max_uses < 1:
        raise ValueError(f"max_uses must be at least 1, got {max_uses}")
    if min_distance < 0:
        raise ValueError(f"min_distance must be >= 0, got {min_distance}")
    if min_distance > 0 and grid is None:
        raise ValueError("min_distance needs the grid=(rows, cols) of the cells")
    rows, cols = grid if grid is not None else (1, m)
    if rows < 0 or cols < 0 or rows * cols != m:
        raise ValueError(f"grid {rows}x{cols} does not have the {m} cells of the candidates")
    fixed_arr = np.full(m, -1, dtype=np.int64) if fixed is None else _cell_indices(fixed, "fixed")
    return _core.penalised_greedy(
        cand_arr,
        cost_arr,
        _cell_indices(order, "order"),
        fixed_arr,
        n_tiles,
        penalty=float(penalty),
        grid=(rows, cols),
        max_uses=max_uses,
        min_distance=min_distance,
    )


def optimal_assignment(
    cand: ArrayLike, cost: ArrayLike, n_tiles: int, *, capacity: int = 1
) -> OptimalAssignment:
    """Exact minimum total cost assignment on the candidate graph.

    Successive shortest augmenting paths with potentials (Jonker-Volgenant style)
    on the sparse graph; every cell gets one of its candidates, every tile at most
    ``capacity`` uses. Deterministic.

    Parameters
    ----------
    cand, cost : array_like
        ``(m, k)`` candidate tiles (``-1`` pads) and their finite costs.
    n_tiles : int
        Number of tiles.
    capacity : int, default 1
        Most uses of one tile; ``n_tiles * capacity >= m``.

    Returns
    -------
    OptimalAssignment
        The assignment, its cost and the duals certifying optimality.

    Raises
    ------
    InfeasibleAssignmentError
        Some cells cannot all be matched within their candidates.
    """
    cand_arr, cost_arr = _candidates(cand, cost)
    m = cand_arr.shape[0]
    _check_capacity(m, n_tiles, capacity)
    assignment, total, u, v, unmatched = _core.optimal_assignment(
        cand_arr, cost_arr, n_tiles, capacity
    )
    if unmatched:
        raise InfeasibleAssignmentError(np.flatnonzero(assignment < 0), assignment)
    return OptimalAssignment(assignment, total, u, v)


def squared_distance_costs(cells: ArrayLike, tiles: ArrayLike) -> CostRows:
    """Exact squared Euclidean distances of integer descriptors, as a :data:`CostRows`.

    float64 matrix products are exact here: every product and partial sum of
    ``int16`` descriptors is an integer below ``2**53``.
    """
    a = np.asarray(cells, dtype=np.float64)
    b = np.asarray(tiles, dtype=np.float64)
    a_norms = np.einsum("ij,ij->i", a, a)
    b_norms = np.einsum("ij,ij->i", b, b)

    def rows(index: NDArray[np.intp]) -> NDArray[np.float64]:
        out = a[index] @ b.T
        out *= -2.0
        out += a_norms[index, None]
        out += b_norms[None, :]
        return out

    return rows


def _blocks(m: int, block: int) -> list[NDArray[np.intp]]:
    return [np.arange(start, min(start + block, m)) for start in range(0, m, block)]


def _smallest_per_row(values: NDArray[np.float64], count: int) -> NDArray[np.intp]:
    """Per row, the columns of the ``count`` smallest values (unordered)."""
    count = min(count, values.shape[1])
    if count == values.shape[1]:
        return np.broadcast_to(np.arange(count), (values.shape[0], count))
    return np.argpartition(values, count - 1, axis=1)[:, :count]


def reduced_cost_violations(
    cost_rows: CostRows,
    m: int,
    cell_duals: NDArray[np.float64],
    tile_duals: NDArray[np.float64],
    *,
    tol: float,
    per_cell: int = 8,
    block: int = 512,
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
    """The pairs of the full problem whose reduced cost ``c_ij - u_i - v_j`` is below ``-tol``.

    Scans all ``m x n`` pairs in blocks of ``block`` cells (memory
    ``block * n_tiles`` floats) and keeps per cell the ``per_cell`` most negative.

    Returns
    -------
    cells, tiles, costs : numpy.ndarray
        The violating pairs and their costs ``c_ij``; empty when the duals are
        feasible for the full problem, i.e. the sparse optimum is the dense one.
    """
    found: list[tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]] = []
    for rows in _blocks(m, block):
        costs = cost_rows(rows)
        reduced = costs - cell_duals[rows, None]
        reduced -= tile_duals[None, :]
        bad_rows = np.flatnonzero((reduced < -tol).any(axis=1))
        if not len(bad_rows):
            continue
        worst = _smallest_per_row(reduced[bad_rows], per_cell)
        keep = np.take_along_axis(reduced[bad_rows], worst, axis=1) < -tol
        cell_of = np.broadcast_to(rows[bad_rows, None], worst.shape)[keep]
        worst_costs = np.take_along_axis(costs[bad_rows], worst, axis=1)[keep]
        found.append((cell_of, worst[keep], worst_costs))
    if not found:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty, np.empty(0, dtype=np.float64)
    cells, tiles, costs = (np.concatenate(parts) for parts in zip(*found, strict=True))
    return cells.astype(np.int64), tiles.astype(np.int64), costs


def _with_pairs(
    cand: NDArray[np.int64],
    cost: NDArray[np.float64],
    cells: NDArray[np.int64],
    tiles: NDArray[np.int64],
    costs: NDArray[np.float64],
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """The candidate lists with the given pairs added (duplicates dropped), ``-1`` padded."""
    m = cand.shape[0]
    present = cand >= 0
    all_cells = np.concatenate([np.nonzero(present)[0], cells])
    all_tiles = np.concatenate([cand[present], tiles])
    all_costs = np.concatenate([cost[present], costs])
    order = np.lexsort((all_tiles, all_cells))
    all_cells, all_tiles, all_costs = all_cells[order], all_tiles[order], all_costs[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = (all_cells[1:] != all_cells[:-1]) | (all_tiles[1:] != all_tiles[:-1])
    all_cells, all_tiles, all_costs = all_cells[first], all_tiles[first], all_costs[first]
    counts = np.bincount(all_cells, minlength=m)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    slot = np.arange(len(all_cells)) - starts[all_cells]
    width = int(counts.max())
    new_cand = np.full((m, width), -1, dtype=np.int64)
    new_cost = np.zeros((m, width), dtype=np.float64)
    new_cand[all_cells, slot] = all_tiles
    new_cost[all_cells, slot] = all_costs
    return new_cand, new_cost


def nearest_by_cost(
    cost_rows: CostRows, m: int, n_tiles: int, *, k: int = 16, per_tile: int = 2, block: int = 512
) -> tuple[NDArray[np.int64], NDArray[np.float64], Pairs]:
    """Each cell's ``k`` cheapest tiles and each tile's ``per_tile`` cheapest cells, by a full scan.

    Returns
    -------
    cand, cost, tile_pairs
        ``(m, k)`` tiles and costs, and the ``(cells, tiles, costs)`` pairs of
        every tile's cheapest cells, as :func:`optimal_dense` takes them.
    """
    row_cand, row_cost, col_cells, col_costs = [], [], [], []
    for rows in _blocks(m, block):
        costs = cost_rows(rows)
        best = _smallest_per_row(costs, k)
        row_cand.append(best)
        row_cost.append(np.take_along_axis(costs, best, axis=1))
        take = min(per_tile, len(rows))
        best_cells = np.argpartition(costs, take - 1, axis=0)[:take]
        col_cells.append(rows[best_cells])
        col_costs.append(np.take_along_axis(costs, best_cells, axis=0))
    cells, cell_costs = np.concatenate(col_cells), np.concatenate(col_costs)
    best = np.argpartition(cell_costs, min(per_tile, len(cells)) - 1, axis=0)[:per_tile]
    tiles = np.broadcast_to(np.arange(n_tiles), best.shape).ravel()
    pairs = (
        np.take_along_axis(cells, best, axis=0).ravel().astype(np.int64),
        tiles.astype(np.int64),
        np.take_along_axis(cell_costs, best, axis=0).ravel(),
    )
    return np.concatenate(row_cand).astype(np.int64), np.concatenate(row_cost), pairs


def nearest_by_descriptors(
    cells: ArrayLike,
    tiles: ArrayLike,
    *,
    k: int = 16,
    per_tile: int = 2,
    threads: int | None = None,
) -> tuple[NDArray[np.int64], NDArray[np.float64], Pairs]:
    """:func:`nearest_by_cost` for squared distances of descriptors, by the core's exact search.

    Costs are those of :func:`squared_distance_costs`; two top-k searches (cells
    against tiles and tiles against cells) replace the full scan.
    """
    cand, dist = search_topk(cells, tiles, k, threads=threads)
    best_cells, cell_dist = search_topk(tiles, cells, per_tile, threads=threads)
    pairs = (
        best_cells.ravel(),
        np.repeat(np.arange(len(best_cells), dtype=np.int64), best_cells.shape[1]),
        cell_dist.ravel().astype(np.float64),
    )
    return cand, dist.astype(np.float64), pairs


def _free_tile_pairs(
    cost_rows: CostRows,
    error: InfeasibleAssignmentError,
    n_tiles: int,
    capacity: int,
    per_cell: int,
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
    """For every unmatched cell, its ``per_cell`` cheapest tiles with spare capacity."""
    matched = error.assignment[error.assignment >= 0]
    spare = np.flatnonzero(np.bincount(matched, minlength=n_tiles) < capacity)
    costs = cost_rows(error.unmatched)[:, spare]
    best = _smallest_per_row(costs, per_cell)
    cells = np.broadcast_to(error.unmatched[:, None], best.shape).ravel()
    return cells.astype(np.int64), spare[best].ravel(), np.take_along_axis(costs, best, 1).ravel()


def _subset_rows(cost_rows: CostRows, cells: NDArray[np.intp]) -> CostRows:
    """The cost rows of ``cells``, indexed ``0..len(cells)``."""
    return lambda rows: cost_rows(cells[rows])


def optimal_dense(
    cost_rows: CostRows,
    nearest: ArrayLike,
    nearest_costs: ArrayLike,
    n_tiles: int,
    *,
    capacity: int = 1,
    extra_pairs: Pairs | None = None,
    per_cell: int = 8,
    rtol: float = 1e-9,
    max_rounds: int = 50,
    block: int = 512,
) -> OptimalAssignment:
    """The minimum-cost assignment over all ``m x n_tiles`` pairs, by column generation.

    Solves exactly on the candidate pairs (:func:`optimal_assignment`), then
    looks for pairs of negative reduced cost ``c_ij - u_i - v_j`` under the
    returned duals; violating pairs (``per_cell`` per cell) are added and the
    problem solved again, until none is left: the duals are then feasible for the
    full problem, which certifies the optimum (see the module notes). Cells that
    cannot be matched get their cheapest tiles with spare capacity added.

    Only some cells need the scan: ``nearest`` holds each cell's cheapest tiles,
    so every other pair costs at least the row's largest ``nearest_costs``
    ``b_i``, and as ``v <= 0`` its reduced cost is at least ``b_i - u_i``. Cells
    with ``u_i <= b_i`` are certified without looking at their other pairs.

    Parameters
    ----------
    cost_rows : CostRows
        Costs of given cells to every tile, e.g. :func:`squared_distance_costs`.
    nearest, nearest_costs : array_like
        ``(m, k)`` each cell's ``k`` cheapest tiles and their costs (ties broken
        any way), e.g. from :func:`nearest_by_descriptors` or :func:`nearest_by_cost`.
    n_tiles : int
        Number of tiles.
    capacity : int, default 1
        Most uses of one tile.
    extra_pairs : Pairs, optional
        More candidate ``(cells, tiles, costs)``, e.g. each tile's cheapest cells,
        which keep tiles that are nobody's favourite reachable.
    per_cell : int, default 8
        Pairs added per cell and round.
    rtol : float, default 1e-9
        Reduced costs above ``-rtol * max(1, max |cost|)`` count as non-negative
        (rounding in the duals).
    max_rounds : int, default 50
        Give up (``MosaicfastError``) after this many solves.
    block : int, default 512
        Cells per block of the scans (memory ``block * n_tiles`` floats).

    Returns
    -------
    OptimalAssignment
        The certified optimum; ``rounds`` says how many solves it took.
    """
    cand, cost = _candidates(nearest, nearest_costs)
    m = cand.shape[0]
    _check_capacity(m, n_tiles, capacity)
    if min(per_cell, max_rounds, block) < 1:
        raise ValueError("per_cell, max_rounds and block must be at least 1")
    bound = cost.max(axis=1)
    if extra_pairs is not None:
        cand, cost = _with_pairs(cand, cost, *extra_pairs)
    tol = rtol * max(1.0, float(np.abs(cost).max()))
    for rounds in range(1, max_rounds + 1):
        try:
            result = optimal_assignment(cand, cost, n_tiles, capacity=capacity)
        except InfeasibleAssignmentError as error:
            cand, cost = _with_pairs(
                cand, cost, *_free_tile_pairs(cost_rows, error, n_tiles, capacity, per_cell)
            )
            continue
        suspects = np.flatnonzero(result.cell_duals > bound + tol)
        cells, tiles, costs = reduced_cost_violations(
            _subset_rows(cost_rows, suspects),
            len(suspects),
            result.cell_duals[suspects],
            result.tile_duals,
            tol=tol,
            per_cell=per_cell,
            block=block,
        )
        if not len(cells):
            return OptimalAssignment(
                result.assignment, result.total_cost, result.cell_duals, result.tile_duals, rounds
            )
        cand, cost = _with_pairs(cand, cost, suspects[cells], tiles, costs)
    raise MosaicfastError(f"no certified optimum after {max_rounds} rounds of column generation")
