"""Assignment of tiles to cells, computed by the Rust core.

- :func:`penalised_greedy` visits the cells in a given order; each takes the
  candidate of least ``cost + penalty * uses``, optionally with a use limit and
  a minimum (Chebyshev) distance between repeats of a tile.
- :func:`improve_assignment` lowers the greedy's total afterwards by local steps
  (moves, swaps, chains) that keep its use limit and minimum distance.
- :func:`certified_optimum` finds the least total squared colour-grid distance
  over **every** cell and tile, each tile used at most ``capacity`` times, with
  integer dual potentials that prove it (an auction priced by the exhaustive
  search kernel; see ``docs/optimal.md``).
- :func:`optimal_assignment` finds the exact minimum total cost on given
  candidate lists (successive shortest paths), e.g. re-ranked scores.

The greedy and :func:`optimal_assignment` take candidate lists: ``cand``, an
``(m, k)`` array of tile indices (distinct per row, ``-1`` pads a short row)
and ``cost``, the matching ``(m, k)`` costs (lower is better), for the ``m``
cells of a ``rows x cols`` grid listed row-major and ``n_tiles`` tiles.

The certificate, for the linear program ``min sum c_ij x_ij`` subject to
``sum_j x_ij = 1`` per cell, ``sum_i x_ij <= capacity`` per tile, ``x >= 0``
(its optimum is integral: the constraint matrix is that of a network): duals
``u`` (cells) and ``v <= 0`` (tiles) with ``c_ij - u_i - v_j >= 0`` on every
pair and equality on assigned pairs, ``v_j < 0`` only for full tiles. Then
``sum(u) + capacity * sum(v)`` is a lower bound of every assignment's total
(weak duality) equal to the assignment's total: the gap is 0.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .. import _core
from ..errors import MosaicfastError
from ._checks import candidate_lists, cell_indices, contiguous, count, descriptor_pair, number

__all__ = [
    "CERTIFIED",
    "CertifiedAssignment",
    "Improvement",
    "InfeasibleAssignmentError",
    "OptimalAssignment",
    "certified_optimum",
    "hardest_first",
    "improve_assignment",
    "nearby_squares",
    "optimal_assignment",
    "penalised_greedy",
    "rank_candidates",
]

CERTIFIED = "optimal (certified)"
"""The status of a result whose certificate holds over every cell x tile pair."""

Progress = Callable[[dict[str, Any]], None]
"""Called with the solver's progress, a dict: ``stage`` ("auction", then
"certificate"), ``phase`` and ``phases`` (the auction's epsilon-scaling phases done
and planned), ``checks`` (exhaustive checks of the certificate made), ``unassigned``
(cells without a tile), ``bids`` and ``reverse_bids``, ``repriced`` (cells searched
exhaustively again) and ``passes`` (exhaustive searches), ``pairs_added`` (pairs
the certificate found outside the solver's lists), ``improved`` (improvements the
certificate step made; 0 when the auction was exact, as expected) and ``retreats``
(phases that went back to the previous phase's epsilon in a price war)."""


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
    """

    assignment: NDArray[np.int64]
    total_cost: float
    cell_duals: NDArray[np.float64]
    tile_duals: NDArray[np.float64]


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
    shape: tuple[int, int] | None = None,
    fixed: ArrayLike | None = None,
    weights: ArrayLike | None = None,
    neighbours: tuple[ArrayLike, ArrayLike] | None = None,
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Assign cells one by one, each to its candidate of least penalised cost.

    Cells are visited in ``order``; each takes the candidate minimising
    ``cost + penalty * uses[tile] / weights[tile]`` (ties to the lower tile index),
    skipping tiles with ``weights[tile] * max_uses`` uses and tiles already assigned
    ``weights[tile]`` times within Chebyshev distance ``min_distance``. Cost
    ``O(m * (k + min_distance**2))``, sequential.

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
        A tile may not repeat within this Chebyshev distance (needs ``shape``).
    shape : tuple of int, optional
        ``(rows, cols)`` of the cells, ``rows * cols == m``; default one row.
    fixed : array_like, optional
        ``(m,)`` tiles already assigned (``-1`` for free cells), e.g. the result
        of an earlier call: their uses count and they block their neighbourhood.
    weights : array_like, optional
        ``(n_tiles,)`` integers >= 1: how many tiles each tile counts as (default 1
        each). Flat tiles, whose repeats show no clump, are given more.
    neighbours : tuple of array_like, optional
        ``(offsets, cells)``: the cells near cell ``i`` are
        ``cells[offsets[i]:offsets[i + 1]]`` (e.g. :func:`nearby_squares`: cells of
        several sizes), used instead of ``min_distance`` on ``shape``.

    Returns
    -------
    assignment, uses : numpy.ndarray
        ``(m,)`` ``int64`` tile per cell, ``-1`` where no candidate was allowed
        (widen that cell's candidates and call again with ``fixed=assignment``),
        and ``(n_tiles,)`` ``int64`` uses per tile.
    """
    cand_arr, cost_arr = candidate_lists(cand, cost)
    m = cand_arr.shape[0]
    fixed_arr = np.full(m, -1, dtype=np.int64) if fixed is None else cell_indices(fixed, "fixed")
    rules = _greedy_rules(m, n_tiles, penalty, max_uses, min_distance, shape, weights, neighbours)
    return _core.penalised_greedy(
        cand_arr, cost_arr, cell_indices(order, "order"), fixed_arr, n_tiles, **rules
    )


def _greedy_rules(
    m: int,
    n_tiles: int,
    penalty: float,
    max_uses: int | None,
    min_distance: int,
    shape: tuple[int, int] | None,
    weights: ArrayLike | None,
    neighbours: tuple[ArrayLike, ArrayLike] | None = None,
) -> dict[str, Any]:
    """The greedy's rules as the core takes them (for :func:`penalised_greedy` and
    :func:`improve_assignment`)."""
    # The ranges of penalty and max_uses and the cell count of shape are the core's
    # rules; here only their types and signs, before they become unsigned integers.
    min_distance = count(min_distance, "min_distance")
    if min_distance > 0 and shape is None:
        raise ValueError("min_distance needs the shape=(rows, cols) of the cells")
    rows, cols = shape if shape is not None else (1, m)
    return {
        "penalty": number(penalty, "penalty"),
        "shape": (count(rows, "shape"), count(cols, "shape")),
        "max_uses": None if max_uses is None else count(max_uses, "max_uses"),
        "min_distance": min_distance,
        "weights": _tile_weights(weights, n_tiles),
        "neighbours": None
        if neighbours is None
        else (cell_indices(neighbours[0], "offsets"), cell_indices(neighbours[1], "neighbours")),
    }


@dataclass(frozen=True)
class Improvement:
    """What :func:`improve_assignment` did.

    Attributes
    ----------
    total_before, total_after : float
        The greedy's objective (every cell's cost plus the penalty of the uses, as
        :func:`improve_assignment` defines it) before and after.
    moves, swaps, chains : int
        Steps applied, by kind.
    passes : int
        Passes run.
    """

    total_before: float
    total_after: float
    moves: int
    swaps: int
    chains: int
    passes: int

    def line(self) -> str:
        """One line for ``build --stats``."""
        lowered = self.total_before - self.total_after
        share = lowered / self.total_before if self.total_before else 0.0
        return (
            f"local improvement: total score {self.total_before:,.2f} -> "
            f"{self.total_after:,.2f} ({share:.1%} lower; {self.moves:,} moves, "
            f"{self.swaps:,} swaps, {self.chains:,} chains in {self.passes} passes)"
        )


def improve_assignment(
    cand: ArrayLike,
    cost: ArrayLike,
    assignment: ArrayLike,
    n_tiles: int,
    *,
    penalty: float,
    max_uses: int | None = None,
    min_distance: int = 0,
    shape: tuple[int, int] | None = None,
    weights: ArrayLike | None = None,
    neighbours: tuple[ArrayLike, ArrayLike] | None = None,
    max_passes: int = 4,
    threads: int | None = None,
) -> tuple[NDArray[np.int64], Improvement]:
    """Lower the total of a greedy assignment by local steps that keep its rules.

    The total is what :func:`penalised_greedy` ranks by, summed: every cell's cost
    plus ``penalty / w * u * (u - 1) / 2`` for a tile of weight ``w`` used ``u``
    times. A step is a move (a cell takes another candidate), a swap (two cells
    exchange tiles, each a candidate of the other) or a chain (a cell takes a second
    cell's tile, which takes its best other allowed candidate); it is taken only if
    it lowers the total and keeps the greedy's rules (``weights * max_uses`` uses,
    fewer than ``weights`` copies within ``min_distance``). Each pass proposes a step
    per cell in parallel, then applies them in a fixed order, each checked again: the
    result does not depend on ``threads``. Cost per pass ``O(m * k * (h + r**2))``,
    ``h`` the uses of a candidate tile.

    Parameters
    ----------
    cand, cost, n_tiles, penalty, max_uses, min_distance, shape, weights, neighbours
        As for :func:`penalised_greedy`.
    assignment : array_like
        ``(m,)`` tile of every cell, each among its candidates, within the rules
        (e.g. :func:`penalised_greedy`'s result with no ``-1`` left).
    max_passes : int, default 4
        Most passes; the improvement stops earlier when a pass finds no step.
    threads : int, optional
        Worker threads of the core; default one per core.

    Returns
    -------
    assignment : numpy.ndarray
        ``(m,)`` ``int64`` improved tile per cell.
    improvement : Improvement
        The totals before and after and the steps taken.
    """
    cand_arr, cost_arr = candidate_lists(cand, cost)
    rules = _greedy_rules(
        len(cand_arr), n_tiles, penalty, max_uses, min_distance, shape, weights, neighbours
    )
    improved, stats = _core.improve_assignment(
        cand_arr, cost_arr, cell_indices(assignment, "assignment"), n_tiles,
        max_passes=count(max_passes, "max_passes"), threads=threads, **rules,
    )  # fmt: skip
    return improved, Improvement(**stats)


def rank_candidates(
    entries: ArrayLike,
    scores: ArrayLike,
    distances: ArrayLike,
    n_tiles: int,
    *,
    orientations: int = 1,
    threads: int | None = None,
) -> tuple[NDArray[np.int64], NDArray[np.uint8], NDArray[np.float64], NDArray[np.int64]]:
    """Candidate lists from a search's results: every row sorted by score.

    The same arrays as ``np.lexsort((entries, scores), axis=1)`` applied to each, then,
    with several ``orientations``, every tile kept once, in the orientation that ranks
    first, and the rows cut to ``min(k, n_tiles)`` columns; in one pass over the rows,
    in parallel.

    Parameters
    ----------
    entries : array_like
        ``(m, k)`` entries found per cell, distinct per row: tile ``t`` in orientation
        ``o`` is entry ``o * n_tiles + t`` (``o`` numbers the orientations searched, not
        an :mod:`~mosaicfast.kernels.orientation` code).
    scores : array_like
        ``(m, k)`` scores, lower is better; ties go to the lower entry.
    distances : array_like
        ``(m, k)`` distances, carried along.
    n_tiles : int
        Number of tiles.
    orientations : int, default 1
        Orientations per tile in ``entries`` (1 to 255).
    threads : int, optional
        Worker threads of the core; the result does not depend on it.

    Returns
    -------
    tiles : numpy.ndarray
        ``int64`` tile per candidate; ``-1`` past a row's distinct tiles (the columns
        there hold the values of the repeated orientations).
    orientation : numpy.ndarray
        ``uint8``: the orientation ``o`` of each candidate's entry.
    scores, distances : numpy.ndarray
        The candidates' scores and distances.
    """
    entry_arr = np.asarray(entries)
    if entry_arr.ndim != 2 or not np.issubdtype(entry_arr.dtype, np.integer):
        raise ValueError(
            f"entries must be a 2-d integer array, got {entry_arr.dtype} {entry_arr.shape}"
        )
    return _core.rank_candidates(
        contiguous(entry_arr, np.int64), contiguous(scores, np.float64),
        contiguous(distances, np.int64), count(n_tiles, "n_tiles"),
        orientations=count(orientations, "orientations"), threads=threads,
    )  # fmt: skip


def nearby_squares(
    x: ArrayLike, y: ArrayLike, size: ArrayLike, gap: int
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """The squares less than ``gap`` apart, edge to edge (Chebyshev), from each square,
    itself excluded, as the ``neighbours=(offsets, cells)`` of :func:`penalised_greedy`.

    On a grid of squares of side ``t`` and ``gap = r * t`` these are the cells within
    Chebyshev distance ``r``: the grid's ``min_distance`` rule, for squares of several
    sizes. Found by a KD-tree on the centres, then checked exactly in integers.

    Parameters
    ----------
    x, y, size : array_like
        ``(m,)`` integer left, top and side of each square.
    gap : int
        Squares nearer than this are neighbours (touching squares are 0 apart).
    """
    from scipy.spatial import cKDTree  # not at the top: only adaptive cells need it

    x, y, size = (np.asarray(a, dtype=np.int64).ravel() for a in (x, y, size))
    gap = count(gap, "gap")
    centres = np.stack([2 * x + size, 2 * y + size], axis=1)  # doubled: whole numbers
    reach = 2 * gap + 2 * int(size.max(initial=0))
    pairs = cKDTree(centres).query_pairs(reach, p=np.inf, output_type="ndarray").astype(np.int64)
    a, b = pairs[:, 0], pairs[:, 1]
    span = 2 * gap + size[a] + size[b]
    near = (np.abs(centres[a] - centres[b]) < span[:, None]).all(axis=1)
    ends = np.concatenate([pairs[near], pairs[near][:, ::-1]])
    ends = ends[np.lexsort((ends[:, 1], ends[:, 0]))]
    offsets = np.zeros(len(size) + 1, np.int64)
    np.cumsum(np.bincount(ends[:, 0], minlength=len(size)), out=offsets[1:])
    return offsets, np.ascontiguousarray(ends[:, 1])


def _tile_weights(weights: ArrayLike | None, n_tiles: int) -> NDArray[np.uint32] | None:
    """``weights`` as ``uint32``, checked: one value >= 1 per tile."""
    if weights is None:
        return None
    arr = np.asarray(weights)
    if arr.shape != (n_tiles,) or not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"weights must hold one integer per tile ({n_tiles}), got {arr.shape}")
    if n_tiles and (arr.min() < 1 or arr.max() > np.iinfo(np.uint32).max):
        raise ValueError("every tile weight must be between 1 and 2**32 - 1")
    return np.ascontiguousarray(arr, dtype=np.uint32)


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
    cand_arr, cost_arr = candidate_lists(cand, cost)
    capacity = count(capacity, "capacity")
    assignment, total, u, v, unmatched = _core.optimal_assignment(
        cand_arr, cost_arr, n_tiles, capacity
    )
    if unmatched:
        raise InfeasibleAssignmentError(np.flatnonzero(assignment < 0), assignment)
    return OptimalAssignment(assignment, total, u, v)


@dataclass(frozen=True)
class CertifiedAssignment:
    """The least-total-cost assignment over every cell and tile, and its proof.

    Attributes
    ----------
    assignment : numpy.ndarray
        ``(m,)`` ``int64`` tile of every cell.
    orientation : numpy.ndarray
        ``(m,)`` ``uint8``: the orientation (block of ``tiles``) each cell uses its
        tile in, the tile's nearest for the cell (the first of equals); all 0 with one
        orientation.
    costs : numpy.ndarray
        ``(m,)`` ``int64`` cost of every cell's pair: the squared distance of the
        integer descriptors (of that orientation).
    total_cost : int
        Their sum, the least possible.
    cell_duals, tile_duals : numpy.ndarray
        ``u`` ``(m,)`` and ``v`` ``(n,)`` ``int64``: ``c_ij - u_i - v_j >= 0`` for
        every cell and tile (checked by one exhaustive search), ``0`` on assigned
        pairs, ``v <= 0``, ``v_j < 0`` only for tiles used ``capacity`` times.
    capacity : int
        Most uses of one tile.
    stats : dict
        What the solver did (see :data:`Progress`).
    status : str
        :data:`CERTIFIED`.
    """

    assignment: NDArray[np.int64]
    orientation: NDArray[np.uint8]
    costs: NDArray[np.int64]
    total_cost: int
    cell_duals: NDArray[np.int64]
    tile_duals: NDArray[np.int64]
    capacity: int
    stats: dict[str, Any] = field(default_factory=dict)
    status: str = CERTIFIED

    @property
    def dual_bound(self) -> int:
        """``sum(u) + capacity * sum(v)``: no assignment costs less (weak duality)."""
        return int(self.cell_duals.sum()) + self.capacity * int(self.tile_duals.sum())

    @property
    def gap(self) -> int:
        """``total_cost - dual_bound``: 0 for a certified optimum."""
        return self.total_cost - self.dual_bound


def certified_optimum(
    cells: ArrayLike,
    tiles: ArrayLike,
    *,
    capacity: int = 1,
    orientations: int = 1,
    progress: Progress | None = None,
    threads: int | None = None,
) -> CertifiedAssignment:
    """The least total squared distance over every cell and every tile, certified.

    Each cell gets one tile, each tile at most ``capacity`` times, and the total of
    ``|a_i - b_j|^2`` over the cells (the distance the exhaustive search ranks by,
    exact in integers) is the least possible: integer dual potentials prove it over
    all ``m x n`` pairs, checked by one pass of the exhaustive search with the tile
    duals as per-tile offsets. The ``m x n`` cost matrix is never formed; memory is
    ``O(m * 512 + n)``. An epsilon-scaling auction priced by the search kernel
    (Rust, multi-threaded where it pays; the result does not depend on ``threads``);
    see ``docs/optimal.md``.

    Parameters
    ----------
    cells : array_like
        ``(m, d)`` integer descriptors.
    tiles : array_like
        ``(orientations * n, d)`` integer descriptors: the ``n`` tiles in their first
        orientation, then in the next, in the same order (with a mirror image, quarter
        turns: ``kernels.descriptors.oriented``). A tile's orientations are one tile,
        at the least of their costs.
    capacity : int, default 1
        Most uses of one tile; ``n * capacity >= m``.
    orientations : int, default 1
        Orientations of every tile, 1 to 255 (see ``tiles``).
    progress : callable, optional
        Called now and then with the solver's progress (see :data:`Progress`); an
        exception it raises stops the solver and propagates.
    threads : int, optional
        Worker threads of the core; default one per core.

    Returns
    -------
    CertifiedAssignment

    Raises
    ------
    ValueError
        Mismatched or out-of-range descriptors, ``capacity < 1``, or too few tiles
        (``n * capacity < m``), said before any work.
    """
    cell_arr, tile_arr = descriptor_pair(cells, tiles)
    capacity = count(capacity, "capacity")
    orientations = count(orientations, "orientations")
    assignment, orientation, costs, total, u, v, stats = _core.optimal_certified(
        cell_arr, tile_arr, capacity, orientations=orientations, progress=progress,
        threads=threads,
    )  # fmt: skip
    return CertifiedAssignment(
        assignment=assignment,
        orientation=orientation,
        costs=costs,
        total_cost=int(total),
        cell_duals=u,
        tile_duals=v,
        capacity=capacity,
        stats=stats,
    )
