"""Oracles of the render path for the tests: a whole mosaic from a per-tile loader, and
the target laid over a mosaic with Pillow and NumPy.

:func:`compose` paints through :class:`mosaicfast.render.Painter` from a loader of one
tile at a time (:func:`stack_loader`); :func:`overlay` is the straightforward
composite that the Rust core's band painter must equal.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from .._util.parallel import ordered_map
from ..kernels._checks import fraction
from ..kernels.resample import resize_tiles
from ..render import Painter, TileStack

__all__ = ["TileLoader", "compose", "overlay", "resize_tile", "stack_loader"]

TileLoader = Callable[[int], NDArray[np.uint8]]
"""``load(tile)`` gives the ``(size, size, 3)`` pixels of a tile at the output size."""


def resize_tile(pixels: NDArray[np.uint8], size: int) -> NDArray[np.uint8]:
    """Resample a square RGB tile to ``size x size`` with a Lanczos filter."""
    if pixels.shape[0] == size:
        return pixels
    return resize_tiles(pixels[None], size, threads=1)[0]


def stack_loader(load: TileLoader, *, workers: int = 1) -> TileStack:
    """A :data:`TileStack` calling ``load`` once per tile, from ``workers`` threads."""

    def stack(tiles: NDArray[np.int64]) -> NDArray[np.uint8]:
        return np.stack(list(ordered_map(load, tiles.tolist(), workers=workers)))

    return stack


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
    painter = Painter(assignment, tile_size, stack_loader(load, workers=workers))
    return painter.compose(progress=progress)


def overlay(mosaic: Image.Image, target: Image.Image, alpha: float) -> Image.Image:
    """Lay the target over the mosaic at opacity ``alpha``.

    The target is resized to the mosaic's size with a Lanczos filter and composited:
    every pixel becomes ``round((1 - alpha) * mosaic + alpha * target)`` in 8-bit sRGB.

    Parameters
    ----------
    mosaic : PIL.Image.Image
        The mosaic; converted to RGB.
    target : PIL.Image.Image
        The target picture, any size; converted to RGB.
    alpha : float
        Opacity of the target, from 0 (the mosaic unchanged) to 1 (the resized target).

    Returns
    -------
    PIL.Image.Image
        A new RGB image of the mosaic's size.

    Raises
    ------
    ValueError
        If ``alpha`` is not within 0 to 1.
    """
    alpha = fraction(alpha, "alpha")
    base = mosaic.convert("RGB")  # a copy, even of an RGB image
    if alpha == 0.0:
        return base
    cover = target.convert("RGB").resize(base.size, Image.Resampling.LANCZOS)
    if alpha == 1.0:
        return cover
    lower = np.asarray(base, dtype=np.float32)
    upper = np.asarray(cover, dtype=np.float32)
    mixed = np.rint(lower + np.float32(alpha) * (upper - lower))
    return Image.fromarray(np.clip(mixed, 0, 255).astype(np.uint8))
