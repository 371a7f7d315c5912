"""Pure-Python references of the SSIM re-rank and the penalised greedy, for the benchmarks.

Plain loops over nested lists, no NumPy inside them, as
:mod:`mosaicfast._reference.descriptors` does for the descriptors and the search: they
time what the Rust core saves over straightforward Python, and ``test_references.py``
holds them equal to the core on small inputs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

K1, K2 = 0.01, 0.03
"""SSIM's stabilising constants (Wang et al. 2004)."""

Patch = Sequence[Sequence[float]]


def mean_ssim(x: Patch, y: Patch, win_size: int = 7, data_range: float = 255.0) -> float:
    """Mean SSIM of two square patches with a uniform window and sample covariance.

    As ``skimage.metrics.structural_similarity`` computes it for 2-D float images: the
    SSIM of every window lying wholly inside the patch (the map skimage keeps after
    cropping ``(win_size - 1) // 2`` pixels from each border), averaged.

    Parameters
    ----------
    x, y : sequence of sequence of float
        Two ``side x side`` luminance patches, ``side >= win_size``.
    win_size : int, optional
        Side of the uniform window.
    data_range : float, optional
        Range of the luminance values.

    Returns
    -------
    float
    """
    n = win_size * win_size
    norm = n / (n - 1)
    c1, c2 = (K1 * data_range) ** 2, (K2 * data_range) ** 2
    positions = len(x) - win_size + 1
    total = 0.0
    for top in range(positions):
        for left in range(positions):
            sx = sy = sxx = syy = sxy = 0.0
            for row in range(top, top + win_size):
                x_row, y_row = x[row], y[row]
                for col in range(left, left + win_size):
                    a, b = x_row[col], y_row[col]
                    sx += a
                    sy += b
                    sxx += a * a
                    syy += b * b
                    sxy += a * b
            ux, uy = sx / n, sy / n
            vx = norm * (sxx / n - ux * ux)
            vy = norm * (syy / n - uy * uy)
            vxy = norm * (sxy / n - ux * uy)
            numerator = (2 * ux * uy + c1) * (2 * vxy + c2)
            total += numerator / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
    return total / (positions * positions)


def ssim_rerank(
    cells: NDArray[np.floating],
    tiles: NDArray[np.floating],
    candidates: NDArray[np.integer],
    win_size: int = 7,
    data_range: float = 255.0,
) -> NDArray[np.float64]:
    """Mean SSIM of every cell with each of its candidate tiles, by :func:`mean_ssim`.

    Parameters
    ----------
    cells : ndarray, shape (m, side, side)
        Luminance patches of the cells.
    tiles : ndarray, shape (n, side, side)
        Luminance patches of the tiles (only the candidates are read).
    candidates : ndarray of int, shape (m, k)
        Tile indices per cell.
    win_size, data_range
        As for :func:`mean_ssim`.

    Returns
    -------
    ndarray of float64, shape (m, k)
    """
    wanted = sorted(set(candidates.ravel().tolist()))
    patches = dict(zip(wanted, tiles[wanted].astype(np.float64).tolist(), strict=True))
    scores = [
        [mean_ssim(cell, patches[tile], win_size, data_range) for tile in row]
        for cell, row in zip(cells.astype(np.float64).tolist(), candidates.tolist(), strict=True)
    ]
    return np.array(scores, dtype=np.float64).reshape(candidates.shape)


def _blocked_tiles(
    assignment: Sequence[int], cell: int, shape: tuple[int, int], min_distance: int
) -> set[int]:
    """Tiles assigned within Chebyshev distance ``min_distance`` of ``cell``."""
    rows, cols = shape
    row, col = divmod(cell, cols)
    return {
        assignment[y * cols + x]
        for y in range(max(0, row - min_distance), min(rows, row + min_distance + 1))
        for x in range(max(0, col - min_distance), min(cols, col + min_distance + 1))
        if assignment[y * cols + x] >= 0
    }


def penalised_greedy(
    cand: NDArray[np.integer],
    cost: NDArray[np.floating],
    order: NDArray[np.integer],
    n_tiles: int,
    *,
    penalty: float,
    shape: tuple[int, int],
    max_uses: int | None = None,
    min_distance: int = 0,
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """The penalised greedy of :func:`mosaicfast.kernels.assign.penalised_greedy`, in plain Python.

    Cells are visited in ``order``; each takes the candidate of least
    ``cost + penalty * uses`` (ties to the lower tile), skipping padding (``-1``), tiles
    used ``max_uses`` times and tiles assigned within ``min_distance`` (Chebyshev).

    Returns
    -------
    assignment, uses : ndarray of int64
        ``(m,)`` tile per cell (``-1`` if no candidate was allowed) and ``(n_tiles,)``
        uses per tile.
    """
    limit = math.inf if max_uses is None else max_uses
    assignment = [-1] * len(cand)
    uses = [0] * n_tiles
    cand_rows, cost_rows = cand.tolist(), cost.astype(np.float64).tolist()
    for cell in order.tolist():
        blocked = _blocked_tiles(assignment, cell, shape, min_distance) if min_distance else ()
        best: tuple[float, int] | None = None
        for tile, value in zip(cand_rows[cell], cost_rows[cell], strict=True):
            if tile < 0 or uses[tile] >= limit or tile in blocked:
                continue
            score = (value + penalty * uses[tile], tile)
            if best is None or score < best:
                best = score
        if best is not None:
            assignment[cell] = best[1]
            uses[best[1]] += 1
    return np.array(assignment, dtype=np.int64), np.array(uses, dtype=np.int64)
