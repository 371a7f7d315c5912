"""Tile and cell descriptors and the exhaustive top-k search, computed by the Rust core.

Two descriptor spaces (``docs/descriptors.md``): ``ylab``, the default of the matching
(a ``g x g`` grid of Rec. 601 luma and a ``g/2 x g/2`` grid of CIELAB a*b*, colour
weighted 0.7), and ``lab`` (a ``g x g`` grid of CIELAB colours averaged in linear light,
the libraries' stored descriptors and the deduplication's).

These wrappers check arguments and normalise dtype and memory layout (the core
borrows the arrays without copying when they are already ``uint8``/``int16`` and
C-contiguous), then call :mod:`mosaicfast._core`, which releases the GIL and
runs on its own thread pool. The definitions are in ``docs/descriptors.md``;
:mod:`mosaicfast._reference.descriptors` computes the same results in plain Python.
"""

from __future__ import annotations

import functools

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .. import _core
from ._checks import count, descriptor_pair, rgb_uint8
from .orientation import orient

__all__ = [
    "DEFAULT_GRID",
    "MAX_GRID",
    "SPACES",
    "cell_descriptors",
    "descriptor_size",
    "enlarged_cell_descriptors",
    "grid_of",
    "luma_spread",
    "mirrored",
    "oriented",
    "perceptual_hashes",
    "search_topk",
    "tile_descriptors",
]

MAX_GRID: int = _core.MAX_GRID
#: Descriptor spaces: ``ylab`` (luma and a*b* grids) and ``lab`` (CIELAB grid).
SPACES = ("ylab", "lab")
#: Match resolution ``g`` of each space when none is given.
DEFAULT_GRID = {"ylab": 8, "lab": 5}


def descriptor_size(grid: int, space: str = "lab") -> int:
    """Number of values in one descriptor at match resolution ``grid`` in ``space``."""
    return 3 * grid * grid // (2 if space == "ylab" else 1)


def grid_of(dim: int, space: str = "lab") -> int:
    """The match resolution ``g`` of descriptors of ``dim`` values in ``space``."""
    return round((dim * (2 if space == "ylab" else 1) / 3) ** 0.5)


def mirrored(desc: NDArray[np.int16], grid: int, space: str = "lab") -> NDArray[np.int16]:
    """The descriptors of the left-right mirror images of the regions ``desc`` describe:
    the columns of each grid reversed (exact up to the pixel rounding of block edges)."""
    return oriented(desc, grid, space, 1)


def oriented(
    desc: NDArray[np.int16], grid: int, space: str = "lab", orientation: int = 0
) -> NDArray[np.int16]:
    """The descriptors of the regions ``desc`` describes in ``orientation``
    (:mod:`~mosaicfast.kernels.orientation`: mirrored, then quarter turns): each grid
    mirrored and turned likewise (exact up to the pixel rounding of block edges)."""
    return desc[:, _orientation_order(desc.shape[1], grid, space, orientation)]


@functools.lru_cache(maxsize=64)
def _orientation_order(dim: int, grid: int, space: str, orientation: int) -> NDArray[np.intp]:
    """Where each value of a descriptor laid in ``orientation`` comes from: the values'
    positions, oriented as their grids."""
    at = np.arange(dim)[None]
    if space == "lab":
        out = orient(at.reshape(1, grid, grid, 3), orientation).reshape(-1)
    else:
        half = grid // 2
        luma = orient(at[:, : grid * grid].reshape(1, grid, grid), orientation)
        chroma = orient(at[:, grid * grid :].reshape(1, half, half, 2), orientation)
        out = np.concatenate([luma.reshape(-1), chroma.reshape(-1)])
    out.setflags(write=False)
    return out


def tile_descriptors(
    thumbs: ArrayLike, grid: int, *, space: str = "lab", threads: int | None = None
) -> NDArray[np.int16]:
    """Descriptors of a stack of tile thumbnails.

    Parameters
    ----------
    thumbs : array_like
        ``(n, height, width, 3)`` ``uint8`` sRGB thumbnails.
    grid : int
        Match resolution ``g``: with ``lab``, each tile is described by a ``g x g``
        grid of mean colours in CIELAB; with ``ylab`` (``g`` even), by a ``g x g``
        grid of luma and a ``g/2 x g/2`` grid of a*b*.
    space : {"lab", "ylab"}, default "lab"
        The descriptor space.
    threads : int, optional
        Worker threads; default one per core.

    Returns
    -------
    numpy.ndarray
        ``(n, descriptor_size(grid, space))`` ``int16`` descriptors.
    """
    return _core.tile_descriptors(
        rgb_uint8(thumbs, 4, "thumbs"), count(grid, "grid"), space=space, threads=threads
    )


def luma_spread(thumbs: ArrayLike, *, threads: int | None = None) -> NDArray[np.float32]:
    """How much each tile's luma varies: the standard deviation of the Rec. 601 luma
    (0-255) over every pixel of each thumbnail, computed exactly in integers.

    Parameters
    ----------
    thumbs : array_like
        ``(n, height, width, 3)`` ``uint8`` sRGB thumbnails.
    threads : int, optional
        Worker threads; default one per core.

    Returns
    -------
    numpy.ndarray
        ``(n,)`` ``float32``.
    """
    return _core.luma_spread(rgb_uint8(thumbs, 4, "thumbs"), threads=threads)


def cell_descriptors(
    image: ArrayLike,
    rows: int,
    cols: int,
    grid: int,
    *,
    space: str = "lab",
    threads: int | None = None,
) -> NDArray[np.int16]:
    """Descriptors of the ``rows x cols`` cells of an image.

    Parameters
    ----------
    image : array_like
        ``(height, width, 3)`` ``uint8`` sRGB target image, at least
        ``rows*grid`` by ``cols*grid`` pixels.
    rows, cols : int
        The cell grid; cells are listed row-major.
    grid : int
        Match resolution ``g``.
    space : {"lab", "ylab"}, default "lab"
        The descriptor space.
    threads : int, optional
        Worker threads; default one per core.

    Returns
    -------
    numpy.ndarray
        ``(rows*cols, descriptor_size(grid, space))`` ``int16`` descriptors.
    """
    if rows < 1 or cols < 1:
        raise ValueError(f"rows and cols must be at least 1, got {rows}x{cols}")
    return _core.cell_descriptors(
        rgb_uint8(image, 3, "image"), rows, cols, count(grid, "grid"), space=space,
        threads=threads,
    )  # fmt: skip


def search_topk(
    cells: ArrayLike,
    tiles: ArrayLike,
    k: int = 1,
    *,
    offsets: ArrayLike | None = None,
    scale: int = 1,
    threads: int | None = None,
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """The ``k`` nearest tiles of every cell, by exhaustive exact search.

    Parameters
    ----------
    cells : array_like
        ``(m, d)`` integer descriptors.
    tiles : array_like
        ``(n, d)`` integer descriptors.
    k : int, default 1
        Matches per cell, ``1 <= k <= n``.
    offsets : array_like, optional
        ``(n,)`` integers: rank the tiles by ``scale * distance + offsets[tile]``
        instead (e.g. tile prices or dual potentials: ``-v`` gives each cell its
        tiles of least reduced cost), exactly, in the same single pass.
    scale : int, default 1
        Multiplies the distance when ``offsets`` is given (``>= 1``).
    threads : int, optional
        Worker threads; default one per core. The result does not depend on it.

    Returns
    -------
    indices, distances : numpy.ndarray
        ``(m, k)`` ``int64`` arrays: per cell the tile indices of smallest squared
        Euclidean distance (or ranking value) and those values, ordered by
        (value, index), so ties go to the lowest tile index.
    """
    cell_arr, tile_arr = descriptor_pair(cells, tiles)
    n = tile_arr.shape[0]
    k = count(k, "k")  # its range, 1 to the number of tiles, is the core's rule
    if offsets is None:
        return _core.search_topk(cell_arr, tile_arr, k, threads=threads)
    offset_arr = np.ascontiguousarray(offsets, dtype=np.int64)
    if offset_arr.shape != (n,):
        raise ValueError(f"offsets must hold one value per tile ({n}), got {offset_arr.shape}")
    return _core.search_topk(
        cell_arr, tile_arr, k, offsets=offset_arr, scale=scale, threads=threads
    )


def perceptual_hashes(thumbs: ArrayLike, *, threads: int | None = None) -> NDArray[np.uint64]:
    """64-bit perceptual hashes (pHash) of square thumbnails.

    The Rec. 601 luma is area-averaged to 32 x 32 blocks (edges ``i * side // 32``; exact
    channel sums, then ``float64``), transformed by a 2-D DCT-II, and bit ``i`` of the
    hash is set when the ``i``-th of the 8 x 8 lowest frequencies (row-major) exceeds the
    median of the 63 that are not the constant term.

    Parameters
    ----------
    thumbs : array_like
        ``(n, side, side, 3)`` ``uint8`` sRGB thumbnails, ``side >= 32``.
    threads : int, optional
        Worker threads; default one per core.

    Returns
    -------
    numpy.ndarray
        ``(n,)`` ``uint64`` hashes.
    """
    return _core.perceptual_hashes(rgb_uint8(thumbs, 4, "thumbs"), threads=threads)


def enlarged_cell_descriptors(
    image: ArrayLike,
    size: tuple[int, int],
    rows: int,
    cols: int,
    grid: int,
    *,
    space: str = "lab",
    threads: int | None = None,
) -> NDArray[np.int16] | None:
    """:func:`cell_descriptors` of an image enlarged to ``size`` with Pillow's box filter
    (``Image.Resampling.BOX``), computed without enlarging it.

    Enlarging with the box filter repeats pixels (each output pixel is one input pixel
    at weight 1), so each block's sums are those of the few image pixels it covers,
    weighted by their repeats: bit for bit the same descriptors, for the cost of the
    image rather than of the enlarged one.

    Parameters
    ----------
    image : array_like
        ``(height, width, 3)`` ``uint8`` sRGB image.
    size : tuple of int
        ``(width, height)`` it is enlarged to; at least ``cols*grid`` by ``rows*grid``.
    rows, cols, grid, space, threads
        As for :func:`cell_descriptors`.

    Returns
    -------
    numpy.ndarray or None
        ``(rows*cols, descriptor_size(grid, space))`` ``int16`` descriptors; None when
        ``size`` is smaller than the image on an axis (the box filter then averages
        pixels: resize with :func:`mosaicfast.kernels.resample.resize_image` and call
        :func:`cell_descriptors`).
    """
    if rows < 1 or cols < 1:
        raise ValueError(f"rows and cols must be at least 1, got {rows}x{cols}")
    return _core.enlarged_cell_descriptors(
        rgb_uint8(image, 3, "image"), count(size[0], "width"), count(size[1], "height"), rows,
        cols, count(grid, "grid"), space=space, threads=threads,
    )  # fmt: skip
