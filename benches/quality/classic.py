"""The classic tool's rule (codebox/mosaic, ``mosaic.py``), reimplemented to compare with.

What codebox/mosaic does, with its defaults ``TILE_SIZE = 50``, ``TILE_MATCH_RES = 5``,
``ENLARGEMENT = 8`` (so ``TILE_BLOCK_SIZE = 10``):

* each tile file: the largest centred square cut out (no EXIF rotation; with integer
  division, as in its Python 2, so an odd difference of sides leaves the box one pixel
  longer), resized with Pillow's Lanczos filter (``ANTIALIAS``) to ``5 x 5`` (matching)
  and to ``50 x 50`` (rendering), both then converted to RGB;
* the target: resized with Lanczos to 8 times its size, cropped to a whole number of
  tiles (half the remainder off each side), then resized with Lanczos to a tenth of
  the enlarged size, so each cell is ``5 x 5`` pixels;
* each cell gets the tile of least summed squared difference over the 25 pixels and
  3 channels, the first such tile on ties; no constraint on uses or neighbours;
* the mosaic is the ``50 x 50`` tiles pasted untouched (the original then saves it as
  a JPEG of Pillow's default quality; it is scored here before any such encoding).

The search is exhaustive here too, but vectorised (exact: float64 products of integers
below 2**53), so its time says nothing of the original's (pure Python, minutes).
:func:`python_assignment` is the original's own search, for its time: pure Python over
lists of pixel tuples, each tile's sum abandoned as soon as it exceeds the best so far,
cells shared among ``cpu_count - 1`` worker processes (at least one), as the original does;
it gives the same tiles as :func:`classic_assignment`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PIL import Image

__all__ = [
    "MATCH_RES",
    "TILE_SIZE",
    "ClassicTiles",
    "classic_assignment",
    "classic_tiles",
    "python_assignment",
]

TILE_SIZE = 50
MATCH_RES = 5
ENLARGEMENT = 8
_BLOCK = TILE_SIZE // MATCH_RES
_CELLS_PER_BLOCK = 512


@dataclass(frozen=True)
class ClassicTiles:
    """The tiles as the classic tool prepares them: ``small`` ``(n, 5, 5, 3)`` for
    matching, ``large`` ``(n, 50, 50, 3)`` for rendering."""

    small: NDArray[np.uint8]
    large: NDArray[np.uint8]


def _square(image: Image.Image) -> Image.Image:
    width, height = image.size
    side = min(width, height)
    w_crop, h_crop = (width - side) // 2, (height - side) // 2
    return image.crop((w_crop, h_crop, width - w_crop, height - h_crop))


def classic_tiles(paths: Sequence[Path]) -> ClassicTiles:
    """Read and prepare the tile files in ``paths`` (in that order)."""
    small = np.empty((len(paths), MATCH_RES, MATCH_RES, 3), np.uint8)
    large = np.empty((len(paths), TILE_SIZE, TILE_SIZE, 3), np.uint8)
    for i, path in enumerate(paths):
        with Image.open(path) as file:
            image = _square(file)
            large[i] = np.asarray(
                image.resize((TILE_SIZE, TILE_SIZE), Image.Resampling.LANCZOS).convert("RGB")
            )
            small[i] = np.asarray(
                image.resize((MATCH_RES, MATCH_RES), Image.Resampling.LANCZOS).convert("RGB")
            )
    return ClassicTiles(small, large)


def classic_cells(target: Image.Image) -> tuple[NDArray[np.uint8], int, int]:
    """``(rows * cols, 5, 5, 3)`` cells of the target as the classic tool cuts them, and the
    grid ``rows, cols``."""
    w, h = target.width * ENLARGEMENT, target.height * ENLARGEMENT
    large = target.resize((w, h), Image.Resampling.LANCZOS)
    w_diff, h_diff = (w % TILE_SIZE) // 2, (h % TILE_SIZE) // 2
    if w_diff or h_diff:
        large = large.crop((w_diff, h_diff, w - w_diff, h - h_diff))
    # As the original: the small image's size comes from the uncropped size.
    small = large.resize((w // _BLOCK, h // _BLOCK), Image.Resampling.LANCZOS)
    small = np.asarray(small.convert("RGB"))
    cols, rows = large.width // TILE_SIZE, large.height // TILE_SIZE
    cells = small[: rows * MATCH_RES, : cols * MATCH_RES].reshape(
        rows, MATCH_RES, cols, MATCH_RES, 3
    )
    return np.ascontiguousarray(cells.transpose(0, 2, 1, 3, 4)).reshape(-1, 5, 5, 3), rows, cols


def classic_assignment(target: Image.Image, tiles: ClassicTiles) -> NDArray[np.int64]:
    """``(rows, cols)`` index of the tile the classic rule gives each cell."""
    cells, rows, cols = classic_cells(target)
    a = cells.reshape(len(cells), -1).astype(np.float64)
    b = tiles.small.reshape(len(tiles.small), -1).astype(np.float64)
    b_norms = (b * b).sum(axis=1)
    best = np.empty(len(a), np.int64)
    for start in range(0, len(a), _CELLS_PER_BLOCK):
        part = a[start : start + _CELLS_PER_BLOCK]
        # |a|^2 is the same for every tile of a cell: argmin of |b|^2 - 2ab suffices,
        # and argmin takes the first (lowest index) of equal distances, as the original.
        best[start : start + len(part)] = np.argmin(b_norms - 2.0 * (part @ b.T), axis=1)
    return best.reshape(rows, cols)


Pixels = list[tuple[int, int, int]]

#: The tiles' pixel lists in a worker process of :func:`python_assignment`.
_worker_tiles: list[Pixels] = []


def _receive_tiles(tiles: list[Pixels]) -> None:
    global _worker_tiles  # each worker process's own copy, set once
    _worker_tiles = tiles


def _best_tiles(cells: list[Pixels]) -> list[int]:
    """The original's loop: for each cell, every tile's summed squared difference, pixel by
    pixel, abandoned once above the least so far; the first tile of the least sum."""
    found = []
    for cell in cells:
        best, least = 0, sys.maxsize
        for index, tile in enumerate(_worker_tiles):
            diff = 0
            for i in range(len(cell)):
                a, b = cell[i], tile[i]
                diff += (a[0] - b[0]) ** 2 + (a[1] - b[1]) ** 2 + (a[2] - b[2]) ** 2
                if diff > least:
                    break
            if diff < least:
                best, least = index, diff
        found.append(best)
    return found


def python_assignment(target: Image.Image, tiles: ClassicTiles) -> NDArray[np.int64]:
    """:func:`classic_assignment` by the original's pure-Python search, in ``cpu_count - 1``
    worker processes (at least one) as the original, for its time."""
    cells, rows, cols = classic_cells(target)
    as_lists = [[tuple(map(int, pixel)) for pixel in cell.reshape(-1, 3)] for cell in cells]
    tile_lists = [[tuple(map(int, pixel)) for pixel in t.reshape(-1, 3)] for t in tiles.small]
    workers = max((os.cpu_count() or 1) - 1, 1)
    # Cells in blocks of 64 handed out in turn: the original feeds one cell at a time.
    blocks = [as_lists[i : i + 64] for i in range(0, len(as_lists), 64)]
    with ProcessPoolExecutor(workers, initializer=_receive_tiles, initargs=(tile_lists,)) as pool:
        best = [index for found in pool.map(_best_tiles, blocks) for index in found]
    return np.asarray(best, np.int64).reshape(rows, cols)


def paste(assignment: NDArray[np.int64], tiles: NDArray[np.uint8]) -> Image.Image:
    """The mosaic of ``tiles[assignment]``, tiles pasted untouched."""
    rows, cols = assignment.shape
    size = tiles.shape[1]
    grid = tiles[assignment.ravel()].reshape(rows, cols, size, size, 3)
    return Image.fromarray(grid.transpose(0, 2, 1, 3, 4).reshape(rows * size, cols * size, 3))
