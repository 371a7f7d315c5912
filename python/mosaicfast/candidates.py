"""Candidate pruning: a KD-tree on a low-dimensional projection, then exact distances.

The exhaustive search (:func:`mosaicfast.descriptors.search_topk`) compares every
cell with every tile. A :class:`CandidateIndex` instead projects the descriptors
to a few dimensions, finds each cell's ``shortlist`` nearest tiles there with a
:class:`scipy.spatial.cKDTree`, and computes the exact full-descriptor distance to
those tiles only. Two projections are offered:

``"mean"``
    The mean colour over the ``g x g`` blocks (3 dimensions): the pruning of the
    blog that inspired mosaicfast, which discards the spatial layout.
``"pca"``
    The leading principal components of the tiles' full descriptors, which keep
    the directions along which the tiles differ most, layout included.

Both projections are orthogonal, so the squared distance in the reduced space
never exceeds the full one. The result is exact when the shortlist holds the
true best tiles; ``docs/pruning.md`` measures how often it does.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.spatial import cKDTree

from . import _core
from .descriptors import descriptor_array

__all__ = ["DEFAULT_DIMS", "DEFAULT_SHORTLIST", "CandidateIndex", "Method"]

Method = Literal["mean", "pca"]

DEFAULT_DIMS = 8
"""Principal components kept by ``method="pca"``."""

DEFAULT_SHORTLIST: dict[str, int] = {"mean": 1000, "pca": 200}
"""Tiles shortlisted per cell when ``query`` is not told: the smallest measured
shortlist giving recall@1 >= 0.99 on 10,000 sample-photo tiles (``benches/recall.py``,
``docs/pruning.md``); libraries much larger need a longer one."""

_CHUNK_VALUES = 1 << 23
"""Gathered descriptor values per batch of cells, to bound the working memory."""


def _mean_colour_basis(width: int) -> NDArray[np.float64]:
    """Orthonormal rows averaging L, a and b over all blocks (shape ``(3, width)``)."""
    blocks = width // 3
    basis = np.zeros((3, width))
    for channel in range(3):
        basis[channel, channel::3] = 1.0 / np.sqrt(blocks)
    return basis


def _principal_basis(centred: NDArray[np.float64], dims: int) -> NDArray[np.float64]:
    """The ``dims`` leading principal axes as rows, each signed so its largest entry is > 0."""
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    axes = vt[:dims]
    largest = np.argmax(np.abs(axes), axis=1)
    signs = np.sign(axes[np.arange(len(axes)), largest])
    return axes * signs[:, None]


def _exact_distances(
    cells: NDArray[np.int16],
    tiles: NDArray[np.float64],
    tile_norms: NDArray[np.float64],
    candidates: NDArray[np.int64],
) -> NDArray[np.int64]:
    """Squared distances from each cell to its candidate tiles, ``(m, s)`` int64.

    Uses ``|a|^2 + |b|^2 - 2 a.b`` in float64: every term is an integer far below
    2**53, so the result is exact whatever the summation order.
    """
    cell_values = cells.astype(np.float64)
    dots = np.matmul(tiles[candidates], cell_values[:, :, None])[:, :, 0]
    cell_norms = np.einsum("ij,ij->i", cell_values, cell_values)
    return (tile_norms[candidates] + cell_norms[:, None] - 2.0 * dots).astype(np.int64)


def _best_k(
    candidates: NDArray[np.int64], distances: NDArray[np.int64], k: int, tiles: int
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """The ``k`` candidates of each row with the smallest (distance, index).

    Both are packed into one key, ``distance * tiles + index``, so a partial sort
    of the key applies the tie rule; ``_max_tiles`` keeps it below 2**63.
    """
    keys = distances * tiles + candidates
    if k < keys.shape[1]:
        keys = np.take_along_axis(keys, np.argpartition(keys, k - 1, axis=1)[:, :k], axis=1)
    keys.sort(axis=1)
    return keys % tiles, keys // tiles


def _max_tiles(width: int) -> int:
    """Most tiles for which ``_best_k``'s key cannot overflow int64 at this width."""
    largest_distance = width * (_core.VALUE_MAX - _core.VALUE_MIN) ** 2
    return (2**63 - 1) // (largest_distance + 1)


class CandidateIndex:
    """Tiles indexed for pruned top-k search.

    Parameters
    ----------
    tiles : array_like
        ``(n, 3*g*g)`` integer tile descriptors (see ``docs/descriptors.md``).
    method : {"pca", "mean"}, default "pca"
        The projection searched by the KD-tree: principal components of the
        full descriptors, or the mean colour over the blocks.
    dims : int, default 8
        Principal components kept by ``method="pca"`` (at most the descriptor
        width); ignored by ``method="mean"``, which always has 3.
    workers : int, default -1
        Threads of the KD-tree queries; -1 uses every core.

    Raises
    ------
    ValueError
        If there are no tiles, the descriptors are malformed, the method is
        unknown or ``dims`` is out of range.
    """

    def __init__(
        self,
        tiles: ArrayLike,
        *,
        method: Method = "pca",
        dims: int = DEFAULT_DIMS,
        workers: int = -1,
    ) -> None:
        descriptors = descriptor_array(tiles, "tiles")
        n, width = descriptors.shape
        if n == 0:
            raise ValueError("there are no tiles to index")
        if width % 3:
            raise ValueError(f"descriptors must hold L, a, b triples, got width {width}")
        if n > _max_tiles(width):
            raise ValueError(f"at most {_max_tiles(width)} tiles of width {width}, got {n}")
        self.method: Method = method
        self.workers = workers
        self._tiles = descriptors.astype(np.float64)
        self._tile_norms = np.einsum("ij,ij->i", self._tiles, self._tiles)
        self._centre = self._tiles.mean(axis=0)
        self.basis = self._basis(method, dims)
        self._tree = cKDTree(self.project(descriptors), balanced_tree=True, compact_nodes=True)

    def _basis(self, method: Method, dims: int) -> NDArray[np.float64]:
        width = self.width
        if method == "mean":
            return _mean_colour_basis(width)
        if method == "pca":
            if not 1 <= dims <= width:
                raise ValueError(f"dims must be between 1 and {width}, got {dims}")
            return _principal_basis(self._tiles - self._centre, dims)
        raise ValueError(f"method must be 'mean' or 'pca', got {method!r}")

    def project(self, descriptors: ArrayLike) -> NDArray[np.float64]:
        """Coordinates of ``(m, 3*g*g)`` descriptors in the space the KD-tree searches.

        Returns
        -------
        numpy.ndarray
            ``(m, dims)`` ``float64``; squared distances there never exceed the
            full-descriptor ones (the projection is orthogonal).
        """
        return (np.asarray(descriptors, dtype=np.float64) - self._centre) @ self.basis.T

    @property
    def size(self) -> int:
        """Number of tiles indexed."""
        return len(self._tiles)

    @property
    def width(self) -> int:
        """Values per descriptor, ``3*g*g``."""
        return self._tiles.shape[1]

    @property
    def dims(self) -> int:
        """Dimensions of the space the KD-tree searches."""
        return len(self.basis)

    def shortlist_size(self, k: int = 1, shortlist: int | None = None) -> int:
        """Tiles whose full distance ``query`` computes per cell.

        Parameters
        ----------
        k : int, default 1
            Matches wanted per cell, ``1 <= k <= size``.
        shortlist : int, optional
            Requested shortlist, ``>= k``; default ``DEFAULT_SHORTLIST[method]``
            raised to ``k``. Capped at the number of tiles.

        Raises
        ------
        ValueError
            If ``k`` or ``shortlist`` is out of range.
        """
        if not 1 <= k <= self.size:
            raise ValueError(f"k must be between 1 and the number of tiles ({self.size}), got {k}")
        if shortlist is None:
            shortlist = max(k, DEFAULT_SHORTLIST[self.method])
        elif shortlist < k:
            raise ValueError(f"shortlist must be at least k ({k}), got {shortlist}")
        return min(shortlist, self.size)

    def full_distance_fraction(self, k: int = 1, shortlist: int | None = None) -> float:
        """Full-descriptor distances computed per cell relative to exhaustive search.

        ``shortlist_size(k, shortlist) / size``: 1.0 means no saving.
        """
        return self.shortlist_size(k, shortlist) / self.size

    def query(
        self, cells: ArrayLike, k: int = 1, *, shortlist: int | None = None
    ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """The ``k`` best tiles of every cell among its shortlist.

        Parameters
        ----------
        cells : array_like
            ``(m, 3*g*g)`` integer cell descriptors, as wide as the tiles'.
        k : int, default 1
            Matches per cell, ``1 <= k <= size``.
        shortlist : int, optional
            Tiles per cell kept by the KD-tree in the reduced space, whose exact
            distance is then computed; ``>= k``. See :meth:`shortlist_size`.

        Returns
        -------
        indices, distances : numpy.ndarray
            ``(m, k)`` ``int64`` arrays: tile indices and exact squared distances,
            ordered by (distance, index) as in
            :func:`mosaicfast.descriptors.search_topk`. With ``shortlist >= size``
            they equal its result.

        Raises
        ------
        ValueError
            If the cells are malformed or narrower/wider than the tiles, or ``k``
            or ``shortlist`` is out of range.
        """
        cell_arr = descriptor_array(cells, "cells")
        if cell_arr.shape[1] != self.width:
            raise ValueError(
                f"cells have {cell_arr.shape[1]} values per descriptor but tiles have {self.width}"
            )
        size = self.shortlist_size(k, shortlist)
        indices = np.empty((len(cell_arr), k), dtype=np.int64)
        distances = np.empty((len(cell_arr), k), dtype=np.int64)
        step = max(1, _CHUNK_VALUES // (size * self.width))
        for start in range(0, len(cell_arr), step):
            batch = slice(start, start + step)
            indices[batch], distances[batch] = self._query_batch(cell_arr[batch], k, size)
        return indices, distances

    def _query_batch(
        self, cells: NDArray[np.int16], k: int, size: int
    ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        _, near = self._tree.query(self.project(cells), k=size, workers=self.workers)
        candidates = np.asarray(near, dtype=np.int64).reshape(len(cells), size)
        distances = _exact_distances(cells, self._tiles, self._tile_norms, candidates)
        return _best_k(candidates, distances, k, self.size)
