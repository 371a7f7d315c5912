"""Candidate pruning: a KD-tree on a low-dimensional projection, then exact distances.

The exhaustive search (:func:`mosaicfast.kernels.descriptors.search_topk`) compares every
cell with every tile. A :class:`CandidateIndex` instead projects the tile
descriptors to a few dimensions and partitions them with a
:class:`scipy.spatial.cKDTree` (median splits, so the leaves hold equal numbers
of tiles). A query visits, for each cell, the leaves whose bounding boxes lie
nearest the cell's projected point ("best bin first") until they hold the
``shortlist``, and computes the exact full-descriptor distance to every tile in
them; the two hot loops (ranking the boxes, scanning the leaves) run in the
Rust core. Two projections are offered:

``"mean"``
    The mean colour over the blocks (3 dimensions: L, a, b means, or with ``ylab``
    descriptors the luma, a* and b* means): the pruning of the blog that inspired
    mosaicfast, which discards the spatial layout.
``"pca"``
    The leading principal components of the tiles' full descriptors, which keep
    the directions along which the tiles differ most, layout included.

Both projections are orthogonal, so the distance to a box in the reduced space
never exceeds the full distance to any tile in it. The result is exact when the
visited leaves hold the true best tiles; ``docs/pruning.md`` measures how often
they do. Projections are computed without BLAS (``numpy.einsum``), in a fixed
summation order, so the same tiles give the same tree and the same answers
whatever the thread count; and a block of rows at a time (:data:`PROJECT_ROWS`), so
no ``float64`` copy of the whole library is made.
"""

from __future__ import annotations

from math import ceil, sqrt
from typing import TYPE_CHECKING, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .. import _core
from ._checks import descriptor_array

if TYPE_CHECKING:
    from scipy.spatial import cKDTree

__all__ = ["DEFAULT_DIMS", "DEFAULT_LEAF_SIZE", "CandidateIndex", "Method", "default_shortlist"]

Method = Literal["mean", "pca"]

DEFAULT_DIMS = 3
"""Principal components kept by ``method="pca"``: a KD-tree's leaves split few
dimensions (1,024 leaves split at most 10), so its boxes bound the distance best in
a low-dimensional space (``docs/pruning.md``)."""

DEFAULT_LEAF_SIZE = 256
"""Most tiles in one KD-tree leaf (median splits give leaves of half to all of it)."""

PCA_SAMPLE = 20_000
"""Most tiles (evenly spaced) whose scatter gives the principal axes."""

SHORTLIST_FACTOR = 35
"""Default tiles scanned per cell, per square root of the library size."""

PROJECT_ROWS = 1 << 15
"""Descriptors converted to ``float64`` and centred at a time by
:meth:`CandidateIndex.project` (25 MB for 96 values): no ``float64`` copy of a whole
library exists. Each row's coordinates are the same whatever the block."""


def default_shortlist(tiles: int) -> int:
    """Tiles scanned per cell when a query is not told: ``35 * sqrt(tiles)``.

    On crops of real photos this kept recall@1 >= 0.99 at 10,000, 50,000 and 190,000
    tiles (35%, 16% and 8% of the library; ``benches/recall.py``, ``docs/pruning.md``).
    """
    return min(tiles, ceil(SHORTLIST_FACTOR * sqrt(tiles)))


def _mean_colour_basis(width: int, space: str = "lab") -> NDArray[np.float64]:
    """Orthonormal rows averaging the three channels over all blocks (shape
    ``(3, width)``): L, a, b triples (``lab``), or ``2/3`` of the width luma then a*b*
    pairs (``ylab``)."""
    basis = np.zeros((3, width))
    if space == "ylab":
        luma = 2 * width // 3
        basis[0, :luma] = 1.0 / np.sqrt(luma)
        for channel in (1, 2):
            basis[channel, luma + channel - 1 :: 2] = 1.0 / np.sqrt((width - luma) // 2)
        return basis
    blocks = width // 3
    for channel in range(3):
        basis[channel, channel::3] = 1.0 / np.sqrt(blocks)
    return basis


def _principal_basis(centred: NDArray[np.float64], dims: int) -> NDArray[np.float64]:
    """The ``dims`` leading principal axes as rows, each signed so its largest entry is > 0.

    Eigenvectors of the ``width x width`` scatter matrix: a hundred times faster than an
    SVD of the ``n x width`` data for a large library, and as good for pruning.
    """
    scatter = centred.T @ centred
    _, vectors = np.linalg.eigh(scatter)
    axes = vectors[:, ::-1][:, :dims].T
    largest = np.argmax(np.abs(axes), axis=1)
    signs = np.sign(axes[np.arange(len(axes)), largest])
    return axes * signs[:, None]


def _leaf_starts(tree: cKDTree) -> NDArray[np.int64]:
    """Row offsets of the tree's leaves in ``tree.indices`` order, with the end appended."""
    starts = []
    stack = [tree.tree]
    while stack:
        node = stack.pop()
        if node.lesser is None:
            starts.append(node.start_idx)
        else:
            stack.extend((node.greater, node.lesser))
    return np.array([*sorted(starts), tree.n], dtype=np.int64)


class CandidateIndex:
    """Tiles indexed for pruned top-k search.

    Parameters
    ----------
    tiles : array_like
        ``(n, d)`` integer tile descriptors (see ``docs/descriptors.md``).
    method : {"pca", "mean"}, default "pca"
        The projection the KD-tree partitions: principal components of the full
        descriptors, or the mean colour over the blocks.
    dims : int, default 3
        Principal components kept by ``method="pca"`` (at most the descriptor
        width); ignored by ``method="mean"``, which always has 3.
    leaf_size : int, default 256
        Most tiles per KD-tree leaf.
    space : {"lab", "ylab"}, default "lab"
        The descriptors' space (the channel layout the ``mean`` projection averages).
    threads : int, optional
        Worker threads of the queries (default: one per core).

    Raises
    ------
    ValueError
        If there are no tiles, the descriptors are malformed, the method is
        unknown or ``dims`` or ``leaf_size`` is out of range.
    """

    def __init__(
        self,
        tiles: ArrayLike,
        *,
        method: Method = "pca",
        dims: int = DEFAULT_DIMS,
        leaf_size: int = DEFAULT_LEAF_SIZE,
        space: str = "lab",
        threads: int | None = None,
    ) -> None:
        descriptors = descriptor_array(tiles, "tiles")
        n, width = descriptors.shape
        if n == 0:
            raise ValueError("there are no tiles to index")
        if width % 3:
            raise ValueError(
                f"descriptors must hold channel triples (L, a, b or luma, a*, b*), got {width}"
            )
        if leaf_size < 1:
            raise ValueError(f"leaf_size must be at least 1, got {leaf_size}")
        self.method: Method = method
        self.threads = threads
        self.size = n
        self.width = width
        self.space = space
        self._centre = descriptors.mean(axis=0, dtype=np.float64)
        sample = descriptors[:: max(1, n // PCA_SAMPLE)].astype(np.float64)
        self.basis = self._basis(method, dims, sample)
        projected = self.project(descriptors)
        # Imported here: scipy.spatial takes ~0.3 s to import, and only pruning needs it.
        from scipy.spatial import cKDTree

        tree = cKDTree(projected, leafsize=leaf_size, balanced_tree=True, compact_nodes=True)
        self._ids = np.ascontiguousarray(tree.indices, dtype=np.int64)
        self._starts = _leaf_starts(tree)
        self._tiles = np.ascontiguousarray(descriptors[self._ids])
        in_leaf_order = projected[self._ids]
        first = self._starts[:-1]
        self._lower = np.minimum.reduceat(in_leaf_order, first).astype(np.float32)
        self._upper = np.maximum.reduceat(in_leaf_order, first).astype(np.float32)
        self._counts = np.diff(self._starts)

    def _basis(self, method: Method, dims: int, values: NDArray[np.float64]) -> NDArray[np.float64]:
        width = self.width
        if method == "mean":
            return _mean_colour_basis(width, self.space)
        if method == "pca":
            if not 1 <= dims <= width:
                raise ValueError(f"dims must be between 1 and {width}, got {dims}")
            return _principal_basis(values - self._centre, dims)
        raise ValueError(f"method must be 'mean' or 'pca', got {method!r}")

    def project(self, descriptors: ArrayLike) -> NDArray[np.float64]:
        """Coordinates of ``(m, 3*g*g)`` descriptors in the space the KD-tree partitions.

        Returns
        -------
        numpy.ndarray
            ``(m, dims)`` ``float64``; squared distances there never exceed the
            full-descriptor ones (the projection is orthogonal).
        """
        values = np.asarray(descriptors)
        projected = np.empty((len(values), self.dims))
        for start in range(0, len(values), PROJECT_ROWS):
            rows = slice(start, start + PROJECT_ROWS)
            centred = values[rows].astype(np.float64)
            centred -= self._centre
            np.einsum("nw,dw->nd", centred, self.basis, out=projected[rows])
        return projected

    @property
    def dims(self) -> int:
        """Dimensions of the space the KD-tree partitions."""
        return len(self.basis)

    @property
    def leaves(self) -> int:
        """Number of KD-tree leaves."""
        return len(self._starts) - 1

    def shortlist_size(self, k: int = 1, shortlist: int | None = None) -> int:
        """Tiles a query scans at least per cell (whole leaves, nearest first).

        Parameters
        ----------
        k : int, default 1
            Matches wanted per cell, ``1 <= k <= size``.
        shortlist : int, optional
            Requested tiles, ``>= k``; default :func:`default_shortlist`, raised to
            ``k``. Capped at the number of tiles.

        Raises
        ------
        ValueError
            If ``k`` or ``shortlist`` is out of range.
        """
        if not 1 <= k <= self.size:
            raise ValueError(f"k must be between 1 and the number of tiles ({self.size}), got {k}")
        if shortlist is None:
            shortlist = max(k, default_shortlist(self.size))
        elif shortlist < k:
            raise ValueError(f"shortlist must be at least k ({k}), got {shortlist}")
        return min(shortlist, self.size)

    def scanned_fraction(
        self, cells: ArrayLike, k: int = 1, *, shortlist: int | None = None
    ) -> float:
        """Mean share of the library whose exact distance :meth:`query` computes per cell.

        At least ``shortlist_size(k, shortlist) / size``, a little more since whole
        leaves are scanned; 1.0 means no saving over the exhaustive search.
        """
        leaves = self._probe(descriptor_array(cells, "cells"), self.shortlist_size(k, shortlist))
        counts = np.append(self._counts, 0)  # -1 pads a row: a leaf of no tiles
        return float(counts[leaves].sum(axis=1).mean() / self.size)

    def _probe(self, cells: NDArray[np.int16], shortlist: int) -> NDArray[np.int64]:
        points = self.project(cells).astype(np.float32)
        return _core.probe_leaves(
            points, self._lower, self._upper, self._counts, shortlist, threads=self.threads
        )

    def query(
        self, cells: ArrayLike, k: int = 1, *, shortlist: int | None = None
    ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """The ``k`` best tiles of every cell among the leaves it visits.

        Parameters
        ----------
        cells : array_like
            ``(m, 3*g*g)`` integer cell descriptors, as wide as the tiles'.
        k : int, default 1
            Matches per cell, ``1 <= k <= size``.
        shortlist : int, optional
            Tiles scanned per cell (whole leaves, nearest first, until they hold
            at least this many); ``>= k``. See :meth:`shortlist_size`.

        Returns
        -------
        indices, distances : numpy.ndarray
            ``(m, k)`` ``int64`` arrays: tile indices and exact squared distances,
            ordered by (distance, index) as in
            :func:`mosaicfast.kernels.descriptors.search_topk`. With ``shortlist >= size``
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
        leaves = self._probe(cell_arr, self.shortlist_size(k, shortlist))
        return _core.search_leaves(
            cell_arr, self._tiles, self._starts, self._ids, leaves, k, threads=self.threads
        )
