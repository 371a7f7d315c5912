"""Compositing the chosen tiles into the output image.

Each distinct tile is decoded and resampled once, at the output tile size,
straight from its source file; memory stays proportional to the output image,
not to the library.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from .errors import ImageReadError
from .progress import progress_bar
from .tiles import TileSource

__all__ = ["compose", "enlarge"]


def compose(
    assignment: NDArray[np.int64],
    sources: Sequence[TileSource],
    tile_size: int,
    *,
    fallback: Callable[[int, int], NDArray[np.uint8]] | None = None,
    on_skip: Callable[[str, str], None] | None = None,
    workers: int | None = None,
    progress: bool = False,
) -> NDArray[np.uint8]:
    """Paint the tiles of ``assignment`` (``rows x cols`` tile ids) into one RGB array.

    Parameters
    ----------
    assignment : numpy.ndarray
        ``(rows, cols)`` tile ids indexing ``sources``.
    sources : sequence of TileSource
        Where each tile comes from.
    tile_size : int
        Side of one tile in the output.
    fallback : callable, optional
        ``fallback(tile_id, tile_size)`` gives the pixels of a tile whose source
        can no longer be read (for example its thumbnail, enlarged); without it
        such a tile raises :class:`~mosaicfast.ImageReadError`.
    on_skip : callable, optional
        Told ``(path, reason)`` for each source that could not be read.
    workers : int, optional
        Decoding threads; default one per core.
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

    def load(tile_id: int) -> NDArray[np.uint8]:
        try:
            return sources[tile_id].load(tile_size)
        except ImageReadError as err:
            if fallback is None:
                raise
            if on_skip is not None:
                on_skip(str(err.path), f"{err.reason} (its thumbnail was used instead)")
            return fallback(tile_id, tile_size)

    with (
        ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool,
        progress_bar(len(used), "render", "tile", enabled=progress) as bar,
    ):
        for pixels, cells in zip(pool.map(load, used), cells_of, strict=True):
            for cell in cells:
                r, c = divmod(int(cell), cols)
                out[r * tile_size : (r + 1) * tile_size, c * tile_size : (c + 1) * tile_size] = (
                    pixels
                )
            bar.update()
    return out


def _cells_by_tile(assignment: NDArray[np.int64]) -> tuple[list[int], list[NDArray[np.intp]]]:
    """Distinct tile ids (ascending) and, for each, the flat indices of its cells."""
    flat = assignment.ravel()
    order = np.argsort(flat, kind="stable")
    used, starts = np.unique(flat[order], return_index=True)
    return [int(t) for t in used], np.split(order, starts[1:])


def enlarge(pixels: NDArray[np.uint8], size: int) -> NDArray[np.uint8]:
    """Resample a small RGB thumbnail to ``size x size`` (used when a source is gone)."""
    image = Image.fromarray(pixels).resize((size, size), Image.Resampling.LANCZOS)
    return np.asarray(image, dtype=np.uint8)
