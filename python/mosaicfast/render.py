"""Compositing the chosen tiles into the output image.

Each distinct tile is produced once, at the output tile size, by a loader the
caller supplies (from the library's thumbnails, or from the source photo for
tiles larger than a thumbnail); memory stays proportional to the output image,
not to the library.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from .parallel import ordered_map
from .progress import progress_bar

__all__ = ["TileLoader", "compose", "resize_tile"]

TileLoader = Callable[[int], NDArray[np.uint8]]
"""``load(tile)`` gives the ``(size, size, 3)`` pixels of a tile at the output size."""


def compose(
    assignment: NDArray[np.int64],
    tile_size: int,
    load: TileLoader,
    *,
    workers: int = 1,
    progress: bool = False,
) -> NDArray[np.uint8]:
    """Paint the tiles of ``assignment`` (``rows x cols`` tile numbers) into one RGB array.

    Parameters
    ----------
    assignment : numpy.ndarray
        ``(rows, cols)`` tile numbers, each passed to ``load``.
    tile_size : int
        Side of one tile in the output.
    load : callable
        ``load(tile)`` returns the tile's ``(tile_size, tile_size, 3)`` ``uint8`` pixels;
        called once per distinct tile, from ``workers`` threads.
    workers : int
        Loading threads.
    progress : bool
        Show a progress bar.

    Returns
    -------
    numpy.ndarray
        ``(rows*tile_size, cols*tile_size, 3)`` ``uint8`` image.
    """
    rows, cols = assignment.shape
    out = np.zeros((rows * tile_size, cols * tile_size, 3), dtype=np.uint8)
    used, cells_of = _cells_by_tile(assignment)
    with progress_bar(len(used), "render", "tile", enabled=progress) as bar:
        for pixels, cells in zip(ordered_map(load, used, workers=workers), cells_of, strict=True):
            for cell in cells:
                r, c = divmod(int(cell), cols)
                y, x = r * tile_size, c * tile_size
                out[y : y + tile_size, x : x + tile_size] = pixels
            bar.update()
    return out


def _cells_by_tile(assignment: NDArray[np.int64]) -> tuple[list[int], list[NDArray[np.intp]]]:
    """Distinct tile numbers (ascending) and, for each, the flat indices of its cells."""
    flat = assignment.ravel()
    order = np.argsort(flat, kind="stable")
    used, starts = np.unique(flat[order], return_index=True)
    return [int(t) for t in used], np.split(order, starts[1:])


def resize_tile(pixels: NDArray[np.uint8], size: int) -> NDArray[np.uint8]:
    """Resample a square RGB tile to ``size x size`` with a Lanczos filter."""
    if pixels.shape[0] == size:
        return pixels
    image = Image.fromarray(pixels).resize((size, size), Image.Resampling.LANCZOS)
    return np.asarray(image, dtype=np.uint8)
