"""What a NumPy user would write instead of the Rust core, and synthetic benchmark data.

Baselines: the tile descriptors (a lookup table and ``np.add.reduceat``), the exhaustive
top-k search (blocked float32 matrix products through NumPy's BLAS) and the KD-tree-pruned
search (SciPy's ``cKDTree`` on a PCA projection, then exact distances with NumPy). None of
them calls mosaicfast, so they stay fixed while the package changes.
"""

from __future__ import annotations

from collections.abc import Sized
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.spatial import cKDTree

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


def synthetic_descriptors(n: int, grid: int, seed: int | tuple[int, ...]) -> NDArray[np.int16]:
    """Plausible descriptors: a random base colour per tile, a gentle gradient, block noise.

    Parameters
    ----------
    n : int
        Number of descriptors.
    grid : int
        Match resolution ``g``; each descriptor has ``3*g*g`` values.
    seed : int or tuple of int
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


class SyntheticLibrary:
    """Synthetic descriptors made in chunks, so that the first ``n`` never depend on ``n``.

    Chunk ``i`` is ``synthetic_descriptors(CHUNK, grid, (seed, i))``: a larger request
    extends the library and every smaller one is a prefix of it, which keeps the working
    memory of a million descriptors small and the benchmarks' data sets nested.

    Parameters
    ----------
    grid : int
        Match resolution ``g``.
    seed : int
        Seed of the library.
    """

    CHUNK = 16384

    def __init__(self, grid: int, seed: int) -> None:
        self.grid = grid
        self.seed = seed
        self._values = np.empty((0, 3 * grid * grid), dtype=np.int16)

    def first(self, n: int) -> NDArray[np.int16]:
        """The first ``n`` descriptors, ``(n, 3*g*g)`` int16, C-contiguous."""
        if n > len(self._values):
            chunks = range(len(self._values) // self.CHUNK, -(-n // self.CHUNK))
            made = [synthetic_descriptors(self.CHUNK, self.grid, (self.seed, i)) for i in chunks]
            self._values = np.concatenate([self._values, *made])
        return self._values[:n]


def synthetic_thumbnails(n: int, side: int, seed: int) -> NDArray[np.uint8]:
    """``n`` sRGB thumbnails of ``side`` pixels: a random colour per tile plus noise.

    Returns
    -------
    ndarray of uint8, shape (n, side, side, 3)
    """
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, size=(n, 1, 1, 3), dtype=np.int16)
    noise = rng.integers(-40, 41, size=(n, side, side, 3), dtype=np.int16)
    return np.clip(base + noise, 0, 255).astype(np.uint8)


_LIN16_SCALE = 65535
_RGB_TO_XYZ = (
    (0.4124564, 0.3575761, 0.1804375),
    (0.2126729, 0.7151522, 0.0721750),
    (0.0193339, 0.1191920, 0.9503041),
)
_WHITE = (0.95047, 1.0, 1.08883)
_DELTA = 6 / 29


def _lin16_table() -> NDArray[np.uint32]:
    """16-bit linear-light value of every 8-bit sRGB value (``docs/descriptors.md``)."""
    u = np.arange(256) / 255
    linear = np.where(u <= 0.04045, u / 12.92, ((u + 0.055) / 1.055) ** 2.4)
    return np.floor(_LIN16_SCALE * linear + 0.5).astype(np.uint32)


def _lab_f(t: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.where(t > _DELTA**3, t ** (1.0 / 3.0), t / (3 * _DELTA**2) + 4 / 29)


def _block_lab(means: NDArray[np.float64]) -> NDArray[np.float64]:
    """CIELAB of linear-light RGB means, ``(..., 3)``."""
    r, g, b = means[..., 0], means[..., 1], means[..., 2]
    fx, fy, fz = (
        _lab_f((row[0] * r + row[1] * g + row[2] * b) / white)
        for row, white in zip(_RGB_TO_XYZ, _WHITE, strict=True)
    )
    return np.stack([116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)], axis=-1)


def numpy_tile_descriptors(
    thumbs: NDArray[np.uint8], grid: int, chunk: int = 1024
) -> NDArray[np.int16]:
    """Colour-grid descriptors of square thumbnails, vectorised with NumPy.

    The definition of ``docs/descriptors.md``: sRGB to 16-bit linear light by a lookup
    table, block sums by ``np.add.reduceat`` over the block edges, means converted to
    CIELAB and rounded to quarter units. Up to floating-point rounding it equals the Rust
    core's and the pure-Python reference's result.

    Parameters
    ----------
    thumbs : ndarray of uint8, shape (n, s, s, 3)
        The thumbnails, ``s >= grid``.
    grid : int
        Match resolution ``g``.
    chunk : int, optional
        Thumbnails converted at once (bounds the working memory).

    Returns
    -------
    ndarray of int16, shape (n, 3*g*g)
    """
    n, side = thumbs.shape[:2]
    edges = np.arange(grid + 1) * side // grid
    counts = np.diff(edges)[:, None] * np.diff(edges)[None, :]
    table = _lin16_table()
    out = np.empty((n, grid, grid, 3), dtype=np.int16)
    for start in range(0, n, chunk):
        linear = table[thumbs[start : start + chunk]]
        sums = np.add.reduceat(np.add.reduceat(linear, edges[:-1], axis=1), edges[:-1], axis=2)
        means = sums / counts[None, :, :, None] / _LIN16_SCALE
        out[start : start + chunk] = np.floor(4 * _block_lab(means) + 0.5)
    return out.reshape(n, 3 * grid * grid)


@dataclass(frozen=True)
class KdTreeIndex:
    """Tiles indexed for the KD-tree baseline: a PCA projection and a ``cKDTree`` on it."""

    tiles: NDArray[np.float32]
    centre: NDArray[np.float64]
    axes: NDArray[np.float64]
    tree: cKDTree


def kdtree_index(tiles: NDArray[np.integer], dims: int = 8) -> KdTreeIndex:
    """Project the tiles on their ``dims`` leading principal axes and build a KD-tree.

    The axes are the eigenvectors of the descriptors' covariance (``np.linalg.eigh``).

    Parameters
    ----------
    tiles : ndarray of int, shape (n, d)
        Tile descriptors.
    dims : int, optional
        Principal components kept.

    Returns
    -------
    KdTreeIndex
    """
    values = tiles.astype(np.float64)
    centre = values.mean(axis=0)
    centred = values - centre
    _, vectors = np.linalg.eigh(centred.T @ centred)
    axes = np.ascontiguousarray(vectors[:, ::-1][:, :dims].T)
    tree = cKDTree(centred @ axes.T, balanced_tree=True, compact_nodes=True)
    return KdTreeIndex(tiles.astype(np.float32), centre, axes, tree)


def kdtree_topk(
    index: KdTreeIndex,
    cells: NDArray[np.integer],
    k: int = 1,
    shortlist: int = 200,
    chunk_values: int = 1 << 23,
) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
    """Pruned top-k search: ``shortlist`` tiles per cell by the KD-tree, then exact distances.

    Parameters
    ----------
    index : KdTreeIndex
        The tiles, from :func:`kdtree_index`.
    cells : ndarray of int, shape (m, d)
        Cell descriptors.
    k : int, optional
        Tiles per cell, ``1 <= k <= shortlist``.
    shortlist : int, optional
        Tiles per cell whose full distance is computed (at most the number of tiles).
    chunk_values : int, optional
        Gathered descriptor values per batch of cells (bounds the working memory).

    Returns
    -------
    indices : ndarray of int64, shape (m, k)
        Per cell, the ``k`` shortlisted tiles of smallest distance, sorted by
        ``(distance, tile index)``.
    distances : ndarray of float32, shape (m, k)
        Their squared distances, in float32 (exact while below ``2**24``).
    """
    shortlist = min(shortlist, len(index.tiles))
    cells32 = cells.astype(np.float32)
    projected = (cells.astype(np.float64) - index.centre) @ index.axes.T
    _, near = index.tree.query(projected, k=shortlist, workers=-1)
    near = np.asarray(near, dtype=np.int64).reshape(len(cells), shortlist)
    indices = np.empty((len(cells), k), dtype=np.int64)
    distances = np.empty((len(cells), k), dtype=np.float32)
    step = max(1, chunk_values // (shortlist * cells.shape[1]))
    for start in range(0, len(cells), step):
        part = slice(start, start + step)
        difference = index.tiles[near[part]] - cells32[part, None, :]
        full = np.einsum("ijk,ijk->ij", difference, difference)
        indices[part], distances[part] = _sorted_smallest(near[part], full, k)
    return indices, distances


def _sorted_smallest(
    indices: NDArray[np.int64], distances: NDArray[np.float32], k: int
) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
    """Per row, the ``k`` smallest ``distances`` and their ``indices``, by (distance, index)."""
    indices, distances = _keep_smallest(indices, distances, k)
    order = np.lexsort((indices, distances), axis=1)
    return np.take_along_axis(indices, order, axis=1), np.take_along_axis(distances, order, axis=1)


def exact_squared_distances(cells: np.ndarray, tiles: np.ndarray) -> np.ndarray:
    """Exact integer squared distances of every cell to every tile, as int64.

    Uses float64 matrix products: every product and partial sum is an integer below 2**53,
    so the result is exact whatever the summation order.
    """
    a = cells.astype(np.float64)
    b = tiles.astype(np.float64)
    squared = np.einsum("ij,ij->i", a, a)[:, None] + np.einsum("ij,ij->i", b, b)[None, :]
    return (squared - 2.0 * (a @ b.T)).astype(np.int64)


def spread_sample(items: Sized, count: int) -> NDArray[np.intp]:
    """Indices of up to ``count`` of ``items`` spread evenly from the first to the last."""
    return np.linspace(0, len(items) - 1, min(count, len(items))).astype(np.intp)
