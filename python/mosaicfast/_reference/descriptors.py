"""Pure-Python reference of the descriptors (``lab`` and ``ylab``) and the exhaustive
top-k search.

This module is a plain, line-by-line statement of ``docs/descriptors.md``. The Rust core
(``mosaicfast._core``) implements the same definition and the tests hold the two to
bit-identical results, so the floating-point operations here are written in exactly the
order the document gives them (left to right, ``**`` for powers, ``floor(x + 0.5)`` for
rounding). It is slow on purpose: no NumPy is used inside any loop; arrays are converted
to nested lists once on the way in and back to arrays once on the way out.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "LIN16",
    "MAX_GRID",
    "SPACES",
    "block_edges",
    "cell_descriptors",
    "descriptor_size",
    "linear_rgb_to_lab",
    "quantise",
    "region_descriptor",
    "search_topk",
    "srgb_to_linear",
    "tile_descriptors",
]

MAX_GRID = 16
"""Largest match resolution ``g`` (blocks per side of a tile)."""

_LIN16_SCALE = 65535

_XN = 0.95047
_YN = 1.0
_ZN = 1.08883

_DELTA = 6 / 29

SPACES = ("lab", "ylab")
"""The descriptor spaces (see ``docs/descriptors.md``)."""

_LUMA_SCALE = 400 / 255
_CHROMA_SCALE = 5.6

Pixels = Sequence[Sequence[Sequence[int]]]
"""An sRGB image as nested lists ``[row][col][channel]`` of ints in 0..255."""


def srgb_to_linear(u: float) -> float:
    """Inverse sRGB transfer function (IEC 61966-2-1).

    Parameters
    ----------
    u : float
        Encoded sRGB value in ``[0, 1]``.

    Returns
    -------
    float
        Linear-light value in ``[0, 1]``.
    """
    if u <= 0.04045:
        return u / 12.92
    return ((u + 0.055) / 1.055) ** 2.4


def _lin16_entry(v: int) -> int:
    """``floor(65535 * lin(v/255) + 0.5)``: the 16-bit linear value of the 8-bit value ``v``."""
    return math.floor(_LIN16_SCALE * srgb_to_linear(v / 255) + 0.5)


LIN16: tuple[int, ...] = tuple(_lin16_entry(v) for v in range(256))
"""16-bit linear-light value of each 8-bit sRGB channel value."""


def _lab_f(t: float) -> float:
    """The CIELAB companding function ``f``."""
    if t > _DELTA**3:
        return t ** (1.0 / 3.0)
    return t / (3 * _DELTA**2) + 4 / 29


def linear_rgb_to_lab(r: float, g: float, b: float) -> tuple[float, float, float]:
    """Convert linear-light sRGB to CIELAB under D65.

    Parameters
    ----------
    r, g, b : float
        Linear-light red, green and blue in ``[0, 1]``.

    Returns
    -------
    tuple of float
        ``(L, a, b)`` in CIELAB units.
    """
    x = 0.4124564 * r + 0.3575761 * g + 0.1804375 * b
    y = 0.2126729 * r + 0.7151522 * g + 0.0721750 * b
    z = 0.0193339 * r + 0.1191920 * g + 0.9503041 * b
    fx = _lab_f(x / _XN)
    fy = _lab_f(y / _YN)
    fz = _lab_f(z / _ZN)
    return 116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)


def quantise(v: float, scale: float = 4.0) -> int:
    """Round a value to descriptor units: ``floor(scale*v + 0.5)``.

    Parameters
    ----------
    v : float
        A CIELAB ``L``, ``a`` or ``b`` value (or a luma value).
    scale : float, default 4
        Descriptor units per unit of ``v`` (4: quarter CIELAB units).

    Returns
    -------
    int
        The value in descriptor units, rounded half up.
    """
    return math.floor(scale * v + 0.5)


def block_edges(length: int, count: int) -> list[int]:
    """Boundaries of ``count`` blocks along a side of ``length`` pixels.

    Block ``i`` covers ``edges[i] .. edges[i + 1]`` (end exclusive), with
    ``edges[i] = floor(i * length / count)``.

    Parameters
    ----------
    length : int
        Number of pixels along the side.
    count : int
        Number of blocks along the side, ``1 <= count <= length``.

    Returns
    -------
    list of int
        The ``count + 1`` edges, from 0 to ``length``.
    """
    if not 1 <= count <= length:
        raise ValueError(f"cannot cut {length} pixels into {count} non-empty blocks")
    return [i * length // count for i in range(count + 1)]


_IDENTITY = tuple(range(256))


def _block_sums(
    pixels: Pixels, rows: range, cols: range, table: Sequence[int] = _IDENTITY
) -> list[int]:
    """Integer sums of ``table[v]`` over the 8-bit values ``v`` of one block of pixels,
    per channel (the values themselves by default)."""
    sums = [0, 0, 0]
    for y in rows:
        row = pixels[y]
        for x in cols:
            pixel = row[x]
            sums[0] += table[pixel[0]]
            sums[1] += table[pixel[1]]
            sums[2] += table[pixel[2]]
    return sums


def _block_lab(pixels: Pixels, rows: range, cols: range) -> list[int]:
    """Quantised ``L, a, b`` of the mean linear colour of one block of pixels."""
    sums = _block_sums(pixels, rows, cols, LIN16)
    count = len(rows) * len(cols)
    r, g, b = (s / count / _LIN16_SCALE for s in sums)
    return [quantise(v) for v in linear_rgb_to_lab(r, g, b)]


def _ylab_descriptor(
    pixels: Pixels, row_edges: Sequence[int], col_edges: Sequence[int]
) -> list[int]:
    """``g*g`` quantised luma values of the blocks between the edges, then an ``a*, b*``
    pair for each ``2 x 2`` group of those blocks (both row-major)."""
    g = len(row_edges) - 1
    sums: list[list[int]] = []
    counts: list[int] = []
    luma: list[int] = []
    for top, bottom in itertools.pairwise(row_edges):
        for left, right in itertools.pairwise(col_edges):
            block = _block_sums(pixels, range(top, bottom), range(left, right))
            count = (bottom - top) * (right - left)
            r, gr, b = (s / count for s in block)
            luma.append(quantise(0.299 * r + 0.587 * gr + 0.114 * b, _LUMA_SCALE))
            sums.append(block)
            counts.append(count)
    chroma: list[int] = []
    for row in range(0, g, 2):
        for col in range(0, g, 2):
            members = [y * g + x for y in (row, row + 1) for x in (col, col + 1)]
            total = [sum(sums[i][c] for i in members) for c in range(3)]
            count = sum(counts[i] for i in members)
            r, gr, b = (srgb_to_linear(s / count / 255) for s in total)
            _, a_star, b_star = linear_rgb_to_lab(r, gr, b)
            chroma += [quantise(a_star, _CHROMA_SCALE), quantise(b_star, _CHROMA_SCALE)]
    return luma + chroma


def _grid_descriptor(
    pixels: Pixels, row_edges: Sequence[int], col_edges: Sequence[int], space: str = "lab"
) -> list[int]:
    """The descriptor in ``space`` of the blocks between the given edges: for ``lab``,
    the concatenated ``L, a, b`` of the blocks, row-major."""
    if space == "ylab":
        return _ylab_descriptor(pixels, row_edges, col_edges)
    descriptor: list[int] = []
    for top, bottom in itertools.pairwise(row_edges):
        for left, right in itertools.pairwise(col_edges):
            descriptor += _block_lab(pixels, range(top, bottom), range(left, right))
    return descriptor


def _check_grid(grid: int, space: str = "lab") -> None:
    if not 1 <= grid <= MAX_GRID:
        raise ValueError(f"grid must be between 1 and {MAX_GRID}, got {grid}")
    if space not in SPACES:
        raise ValueError(f"descriptor space must be lab or ylab, got {space!r}")
    if space == "ylab" and grid % 2:
        raise ValueError(f"the ylab descriptor needs an even grid, got {grid}")


def descriptor_size(grid: int, space: str = "lab") -> int:
    """Values in one descriptor: ``3*g*g`` (lab) or ``3*g*g/2`` (ylab)."""
    return 3 * grid * grid // (2 if space == "ylab" else 1)


def region_descriptor(
    pixels: Pixels, top: int, left: int, height: int, width: int, grid: int, space: str = "lab"
) -> list[int]:
    """Descriptor of one rectangular region of an image.

    Parameters
    ----------
    pixels : sequence of sequence of sequence of int
        The image as nested lists ``[row][col][channel]`` of ints in 0..255.
    top, left : int
        Position of the region's first pixel.
    height, width : int
        Size of the region in pixels, each at least ``grid``.
    grid : int
        Match resolution ``g``: the region is cut into ``g x g`` blocks.
    space : {"lab", "ylab"}, default "lab"
        The descriptor space.

    Returns
    -------
    list of int
        For ``lab``, the ``3*g*g`` quantised values ``L, a, b`` of each block, blocks
        row-major; for ``ylab``, ``g*g`` luma values then ``(g/2)**2`` ``a*, b*`` pairs.
    """
    _check_grid(grid, space)
    if top < 0 or left < 0 or top + height > len(pixels) or left + width > len(pixels[0]):
        raise ValueError(
            f"region {height}x{width} at ({top}, {left}) does not fit in the "
            f"{len(pixels)}x{len(pixels[0])} image"
        )
    row_edges = [top + e for e in block_edges(height, grid)]
    col_edges = [left + e for e in block_edges(width, grid)]
    return _grid_descriptor(pixels, row_edges, col_edges, space)


def _as_uint8(array: ArrayLike, ndim: int, what: str) -> NDArray[np.uint8]:
    """``array`` as a uint8 array of ``ndim`` dimensions with 3 channels last."""
    arr = np.asarray(array)
    if arr.dtype != np.uint8:
        raise ValueError(f"{what} must be uint8, got {arr.dtype}")
    if arr.ndim != ndim or arr.shape[-1] != 3:
        raise ValueError(
            f"{what} must have {ndim} dimensions with 3 channels last, got {arr.shape}"
        )
    return arr


def tile_descriptors(thumbs: ArrayLike, grid: int, space: str = "lab") -> NDArray[np.int16]:
    """Descriptors of a stack of square tile thumbnails.

    Parameters
    ----------
    thumbs : array_like of uint8, shape (n, s, s, 3)
        The sRGB thumbnails, ``s >= grid``.
    grid : int
        Match resolution ``g``, 1 to 16 (even for ``ylab``).
    space : {"lab", "ylab"}, default "lab"
        The descriptor space.

    Returns
    -------
    ndarray of int16, shape (n, d)
        One descriptor per tile (``d``: :func:`descriptor_size`).
    """
    arr = _as_uint8(thumbs, 4, "thumbs")
    _check_grid(grid, space)
    n, s, s2, _ = arr.shape
    if s != s2:
        raise ValueError(f"thumbs must be square, got {s}x{s2}")
    if s < grid:
        raise ValueError(f"thumbs of {s} pixels are too small for grid {grid}")
    rows = [region_descriptor(tile, 0, 0, s, s, grid, space) for tile in arr.tolist()]
    return np.array(rows, dtype=np.int16).reshape(n, descriptor_size(grid, space))


def cell_descriptors(
    image: ArrayLike, rows: int, cols: int, grid: int, space: str = "lab"
) -> NDArray[np.int16]:
    """Descriptors of the ``rows x cols`` cells of a target image.

    The whole image is cut into ``(rows*grid) x (cols*grid)`` blocks; cell ``(r, c)`` is
    made of blocks ``r*grid .. r*grid+grid`` by ``c*grid .. c*grid+grid``. Note that the
    block edges come from the whole image, not from each cell on its own.

    Parameters
    ----------
    image : array_like of uint8, shape (H, W, 3)
        The sRGB target, ``H >= rows*grid`` and ``W >= cols*grid``.
    rows, cols : int
        Number of cells down and across, each at least 1.
    grid : int
        Match resolution ``g``, 1 to 16 (even for ``ylab``).
    space : {"lab", "ylab"}, default "lab"
        The descriptor space.

    Returns
    -------
    ndarray of int16, shape (rows*cols, d)
        One descriptor per cell, cells row-major.
    """
    arr = _as_uint8(image, 3, "image")
    _check_grid(grid, space)
    if rows < 1 or cols < 1:
        raise ValueError(f"rows and cols must be at least 1, got {rows}x{cols}")
    height, width, _ = arr.shape
    if height < rows * grid or width < cols * grid:
        raise ValueError(
            f"image of {height}x{width} pixels is too small for {rows}x{cols} cells of "
            f"{grid}x{grid} blocks"
        )
    row_edges = block_edges(height, rows * grid)
    col_edges = block_edges(width, cols * grid)
    pixels = arr.tolist()
    descriptors = [
        _grid_descriptor(
            pixels,
            row_edges[r * grid : r * grid + grid + 1],
            col_edges[c * grid : c * grid + grid + 1],
            space,
        )
        for r in range(rows)
        for c in range(cols)
    ]
    return np.array(descriptors, dtype=np.int16).reshape(rows * cols, descriptor_size(grid, space))


def _as_descriptors(array: ArrayLike, what: str) -> NDArray[np.integer]:
    """``array`` as a 2-D integer array of descriptors."""
    arr = np.asarray(array)
    if arr.ndim != 2 or not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{what} must be a 2-D integer array, got {arr.dtype} {arr.shape}")
    return arr


def _squared_distance(a: Sequence[int], b: Sequence[int]) -> int:
    """Exact integer squared Euclidean distance."""
    return sum((x - y) ** 2 for x, y in zip(a, b, strict=True))


def search_topk(
    cells: ArrayLike, tiles: ArrayLike, k: int
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Exhaustive search of the ``k`` nearest tiles of each cell.

    Parameters
    ----------
    cells : array_like of int, shape (m, d)
        Cell descriptors.
    tiles : array_like of int, shape (n, d)
        Tile descriptors.
    k : int
        Number of tiles to return per cell, ``1 <= k <= n``.

    Returns
    -------
    indices : ndarray of int64, shape (m, k)
        Per cell, the tiles of the ``k`` smallest distances, sorted by
        ``(distance, tile index)``.
    distances : ndarray of int64, shape (m, k)
        The matching exact integer squared Euclidean distances.
    """
    cell_arr = _as_descriptors(cells, "cells")
    tile_arr = _as_descriptors(tiles, "tiles")
    if cell_arr.shape[1] != tile_arr.shape[1]:
        raise ValueError(
            f"cells have {cell_arr.shape[1]} values and tiles {tile_arr.shape[1]}; "
            "they must be of the same length"
        )
    n = tile_arr.shape[0]
    if not 1 <= k <= n:
        raise ValueError(f"k must be between 1 and the number of tiles ({n}), got {k}")
    tile_list = tile_arr.tolist()
    indices: list[list[int]] = []
    distances: list[list[int]] = []
    for cell in cell_arr.tolist():
        nearest = heapq.nsmallest(
            k, ((_squared_distance(cell, tile), j) for j, tile in enumerate(tile_list))
        )
        indices.append([j for _, j in nearest])
        distances.append([dist for dist, _ in nearest])
    m = cell_arr.shape[0]
    return (
        np.array(indices, dtype=np.int64).reshape(m, k),
        np.array(distances, dtype=np.int64).reshape(m, k),
    )
