"""What a NumPy user would write instead of the Rust core, and synthetic benchmark data."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

TILE_BLOCK = 8192
"""Tiles per block of the NumPy baseline: bounds the ``cells x block`` distance matrix."""


def _block_distances(
    cells: NDArray[np.float32], cell_norms: NDArray[np.float32], block: NDArray[np.float32]
) -> NDArray[np.float32]:
    """Squared distances ``|a|^2 + |b|^2 - 2 a.b`` of every cell to every tile of a block."""
    distances = cells @ block.T
    distances *= -2.0
    distances += cell_norms[:, None]
    distances += np.einsum("ij,ij->i", block, block)[None, :]
    return distances


def _columns_of_smallest(distances: NDArray[np.float32], k: int) -> NDArray[np.intp]:
    """Per row, the columns of the ``k`` smallest ``distances`` (all columns if fewer)."""
    width = distances.shape[1]
    if width <= k:
        return np.broadcast_to(np.arange(width), distances.shape)
    if k == 1:
        return np.argmin(distances, axis=1)[:, None]
    return np.argpartition(distances, k - 1, axis=1)[:, :k]


def _keep_smallest(
    indices: NDArray[np.int64], distances: NDArray[np.float32], k: int
) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
    """Per row, the ``k`` smallest ``distances`` (unordered) and their ``indices``."""
    keep = _columns_of_smallest(distances, k)
    return np.take_along_axis(indices, keep, axis=1), np.take_along_axis(distances, keep, axis=1)


def numpy_search_topk(
    cells: NDArray[np.integer], tiles: NDArray[np.integer], k: int = 1, block: int = TILE_BLOCK
) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
    """Vectorised float32 top-k search over blocks of tiles.

    The full ``cells x tiles`` distance matrix is never built: each block of tiles gives
    its own ``k`` best per cell, merged into the running ``k`` best.

    Parameters
    ----------
    cells : ndarray of int, shape (m, d)
        Cell descriptors.
    tiles : ndarray of int, shape (n, d)
        Tile descriptors.
    k : int, optional
        Number of tiles per cell, ``1 <= k <= n``.
    block : int, optional
        Number of tiles whose distances are held in memory at once.

    Returns
    -------
    indices : ndarray of int64, shape (m, k)
        Per cell, the tiles of the ``k`` smallest float32 distances, sorted by
        ``(distance, tile index)``.
    distances : ndarray of float32, shape (m, k)
        The float32 distances, which carry rounding errors of a few units.
    """
    if not 1 <= k <= len(tiles):
        raise ValueError(f"k must be between 1 and {len(tiles)}, got {k}")
    cells32 = np.ascontiguousarray(cells, dtype=np.float32)
    tiles32 = np.ascontiguousarray(tiles, dtype=np.float32)
    cell_norms = np.einsum("ij,ij->i", cells32, cells32)
    best_indices = np.empty((len(cells32), 0), dtype=np.int64)
    best_distances = np.empty((len(cells32), 0), dtype=np.float32)
    for start in range(0, len(tiles32), block):
        distances = _block_distances(cells32, cell_norms, tiles32[start : start + block])
        keep = _columns_of_smallest(distances, k)
        best_indices, best_distances = _keep_smallest(
            np.concatenate([best_indices, keep + start], axis=1),
            np.concatenate([best_distances, np.take_along_axis(distances, keep, axis=1)], axis=1),
            k,
        )
    order = np.lexsort((best_indices, best_distances), axis=1)
    return (
        np.take_along_axis(best_indices, order, axis=1),
        np.take_along_axis(best_distances, order, axis=1),
    )


def synthetic_descriptors(n: int, grid: int, seed: int) -> NDArray[np.int16]:
    """Plausible descriptors: a random base colour per tile, a gentle gradient, block noise.

    Parameters
    ----------
    n : int
        Number of descriptors.
    grid : int
        Match resolution ``g``; each descriptor has ``3*g*g`` values.
    seed : int
        Seed of the random generator: equal seeds give equal descriptors.

    Returns
    -------
    ndarray of int16, shape (n, 3*g*g)
        ``L`` in 0..400 and ``a``, ``b`` in -200..200 (quarter CIELAB units) per block.
    """
    rng = np.random.default_rng(seed)
    low = np.array([0.0, -200.0, -200.0])
    high = np.array([400.0, 200.0, 200.0])
    base = rng.uniform(low, high, size=(n, 1, 1, 3))
    base[..., 1:] *= rng.uniform(0.0, 1.0, size=(n, 1, 1, 1))  # many tiles are near-neutral
    position = np.linspace(-1.0, 1.0, grid)
    slope_y = rng.normal(0.0, 30.0, size=(n, 1, 1, 3))
    slope_x = rng.normal(0.0, 30.0, size=(n, 1, 1, 3))
    gradient = slope_y * position[None, :, None, None] + slope_x * position[None, None, :, None]
    noise = rng.normal(0.0, 8.0, size=(n, grid, grid, 3))
    lab = np.clip(base + gradient + noise, low, high)
    return np.rint(lab).astype(np.int16).reshape(n, 3 * grid * grid)
